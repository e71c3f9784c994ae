//! Where the server may listen and which `Host` it answers to. A credential server on a
//! non-loopback address hands credentials to the network, so that takes an explicit opt-in. And
//! a web page can make a browser send requests to `127.0.0.1` under its own name (DNS
//! rebinding); such requests carry the page's host name, so only the address the client
//! connected to, or `localhost`, is answered.

use std::net::SocketAddr;

/// Why the server refuses a listen address.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to listen on {0}: it is not a loopback address, so anyone on the network could ask \
     for credentials; pass --allow-remote if that is really intended"
)]
pub struct RemoteRefused(pub SocketAddr);

/// Refuses a non-loopback `addr` unless `allow_remote`.
pub fn check_listen(addr: SocketAddr, allow_remote: bool) -> Result<(), RemoteRefused> {
    if addr.ip().is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(RemoteRefused(addr))
    }
}

/// Whether a request's `Host` value names `local` (the address the client connected to) or
/// `localhost`, with `local`'s port (which may be left out only when it is 80).
pub fn host_allowed(host: &[u8], local: SocketAddr) -> bool {
    let Ok(host) = std::str::from_utf8(host) else {
        return false;
    };
    let Some((name, port)) = split_port(host) else {
        return false;
    };
    let port_ok = match port {
        Some(port) => port.parse::<u16>() == Ok(local.port()),
        None => local.port() == 80,
    };
    if !port_ok {
        return false;
    }
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let name = name
        .strip_prefix('[')
        .and_then(|name| name.strip_suffix(']'))
        .unwrap_or(name);
    name.parse::<std::net::IpAddr>() == Ok(local.ip())
}

/// Splits `host[:port]` (an IPv6 address in brackets) into the name and the port text; `None`
/// when it is neither form.
fn split_port(host: &str) -> Option<(&str, Option<&str>)> {
    if host.starts_with('[') {
        let close = host.find(']')?;
        let (name, rest) = host.split_at(close + 1);
        return match rest {
            "" => Some((name, None)),
            _ => Some((name, Some(rest.strip_prefix(':')?))),
        };
    }
    match host.split_once(':') {
        None => Some((host, None)),
        Some((_, port)) if port.contains(':') => None,
        Some((name, port)) => Some((name, Some(port))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("socket address")
    }

    #[test]
    fn loopback_is_allowed_and_anything_else_needs_the_opt_in() {
        assert!(check_listen(addr("127.0.0.1:0"), false).is_ok());
        assert!(check_listen(addr("[::1]:8080"), false).is_ok());
        let refused = check_listen(addr("0.0.0.0:8080"), false).expect_err("wildcard");
        assert!(refused.to_string().contains("--allow-remote"));
        assert!(check_listen(addr("192.168.1.2:8080"), false).is_err());
        assert!(check_listen(addr("0.0.0.0:8080"), true).is_ok());
    }

    #[test]
    fn answers_the_connected_address_and_localhost_on_its_port() {
        let local = addr("127.0.0.1:4567");
        for good in ["127.0.0.1:4567", "localhost:4567", "LocalHost:4567"] {
            assert!(host_allowed(good.as_bytes(), local), "{good}");
        }
        for bad in [
            "evil.example:4567",
            "127.0.0.1:4568",
            "127.0.0.1",
            "localhost",
            "127.0.0.2:4567",
            "127.0.0.1:4567:4567",
            "",
            "localhost.evil.example:4567",
        ] {
            assert!(!host_allowed(bad.as_bytes(), local), "{bad}");
        }
        assert!(!host_allowed(b"\xff:4567", local));
    }

    #[test]
    fn handles_ipv6_and_the_default_port() {
        let local = addr("[::1]:4567");
        assert!(host_allowed(b"[::1]:4567", local));
        assert!(host_allowed(b"localhost:4567", local));
        assert!(!host_allowed(b"[::1]", local));
        assert!(!host_allowed(b"::1", local));
        let port_80 = addr("127.0.0.1:80");
        assert!(host_allowed(b"127.0.0.1", port_80));
        assert!(host_allowed(b"localhost", port_80));
    }
}
