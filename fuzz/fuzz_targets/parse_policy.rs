//! Any bytes given to the policy parser yield a policy or diagnostics, never a panic, and a
//! policy that parses can be evaluated.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sentinel_policy::{Policy, Request};

fuzz_target!(|data: &[u8]| {
    match Policy::from_yaml_bytes(data) {
        Ok(policy) => {
            let at = jiff::Timestamp::UNIX_EPOCH;
            let _ = policy.evaluate(&Request::new("alice", "production", at));
        }
        Err(problems) => assert!(!problems.is_empty()),
    }
});
