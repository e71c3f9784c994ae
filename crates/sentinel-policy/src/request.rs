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
}

impl<'a> Request<'a> {
    /// A request by `user` for `profile` at instant `at`.
    pub fn new(user: &'a str, profile: &'a str, at: Timestamp) -> Request<'a> {
        Request { user, profile, at }
    }
}
