//! What one request did on the wire, as its request function reports it: the status it got,
//! the bytes it moved, how long opening a connection took if it opened one, and when the first
//! byte of the answer came.
//!
//! The runner measures every request's latency itself; these figures are the ones only the
//! request function can see. A request function with nothing to say returns `()`, which is an
//! empty exchange; a failed request carries its exchange in its [`RequestError`], so a `503`
//! still counts in the status distribution and its bytes still count.
//!
//! [`RequestError`]: crate::RequestError

use std::time::{Duration, Instant};

/// The wire-level figures of one request; every field is optional or zero by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exchange {
    /// The status code of the answer, if one came (HTTP's, or any protocol's code).
    pub status: Option<u16>,
    /// Bytes the request wrote.
    pub bytes_sent: u64,
    /// Bytes the request read.
    pub bytes_received: u64,
    /// How long opening a connection took, if this request had to open one (TCP, and TLS when
    /// there is TLS).
    pub connect: Option<Duration>,
    /// When the first byte of the answer arrived.
    pub first_byte: Option<Instant>,
}

/// A request that reports nothing beyond its outcome.
impl From<()> for Exchange {
    fn from((): ()) -> Self {
        Self::default()
    }
}
