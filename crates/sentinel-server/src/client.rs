//! Who a connection comes from, for the per-client limits: an IPv4 address as it is, an IPv6
//! address by its /64 (one customer's network, which can hand out more addresses than there
//! are connections to open), and an IPv4 address mapped into IPv6 as the IPv4 address it is.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

/// The network a client address counts as: the address itself for IPv4, its /64 for IPv6.
pub(crate) fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                IpAddr::V4(v4)
            } else {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        }
    }
}

/// How many connections each client network has open, each no more than a limit.
#[derive(Debug)]
pub(crate) struct OpenPerClient {
    most: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl OpenPerClient {
    /// At most `most` connections (at least 1) per client network.
    pub(crate) fn new(most: usize) -> Arc<OpenPerClient> {
        Arc::new(OpenPerClient {
            most: most.max(1),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more connection from `ip`, held until dropped; `None` if that client
    /// network has its limit open already.
    pub(crate) fn open(self: &Arc<Self>, ip: IpAddr) -> Option<ClientSlot> {
        let client = network(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(client).or_insert(0);
        if *count >= self.most {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            counts: Arc::clone(self),
            client,
        })
    }

    /// How many client networks have a connection open.
    #[cfg(test)]
    fn clients(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// One open connection of a client network; gives its place back when dropped.
#[derive(Debug)]
pub(crate) struct ClientSlot {
    counts: Arc<OpenPerClient>,
    client: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self
            .counts
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                // A client with nothing open takes no memory.
                open.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(network(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            network(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            ip("2001:db8:1:2::")
        );
        assert_ne!(network(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(network(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(network(ip("192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn each_client_network_gets_its_limit_and_a_closed_slot_is_free_again() {
        let counts = OpenPerClient::new(2);
        let first = counts.open(ip("2001:db8::1")).expect("first");
        let second = counts.open(ip("2001:db8::ffff")).expect("same /64, second");
        assert!(
            counts.open(ip("2001:db8::2")).is_none(),
            "a third of the same /64"
        );
        let other = counts.open(ip("2001:db8:0:1::1")).expect("another /64");
        drop(first);
        let again = counts.open(ip("2001:db8::3")).expect("a place came free");
        drop((second, other, again));
        assert_eq!(counts.clients(), 0, "nothing open, nothing remembered");
    }
}
