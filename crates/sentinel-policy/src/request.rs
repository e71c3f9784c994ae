//! What a policy is asked to decide.

use jiff::Timestamp;

/// One request for a policy to decide: who asks, for which profile, and when. Built with
/// [`Request::new`], so that what a request carries can grow without changing its callers.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Request<'a> {
    /// The user asking, as the broker established it.
    pub user: &'a str,
    /// The profile asked for.
    pub profile: &'a str,
    /// The instant of the request, which time conditions are checked against.
    pub at: Timestamp,
    /// Whether the request breaks the glass (carries a reason); only such a request can match
    /// a break-glass rule.
    pub break_glass: bool,
}

impl<'a> Request<'a> {
    /// A request by `user` for `profile` at instant `at`.
    pub fn new(user: &'a str, profile: &'a str, at: Timestamp) -> Request<'a> {
        Request {
            user,
            profile,
            at,
            break_glass: false,
        }
    }

    /// The same request, breaking the glass or not.
    pub fn breaking_glass(self, break_glass: bool) -> Request<'a> {
        Request {
            break_glass,
            ..self
        }
    }
}
