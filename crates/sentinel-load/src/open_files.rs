//! The open-file limit. A load generator holds a socket per worker, and the default soft limit
//! (often 1024) would turn a large `workers` into thousands of `connect` errors; the soft limit
//! may be raised to the hard limit without privileges, so it is. (A server holds one per
//! connection, and raises it the same way.)

/// Raises the soft `RLIMIT_NOFILE` to the hard limit where it is lower, and returns the limit
/// in force afterwards (`u64::MAX` where the platform has none to report).
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn raise_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit we pass and keeps no pointer to it.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return u64::MAX;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the rlimit we pass and keeps no pointer to it.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    to_u64(limit.rlim_cur)
}

/// `rlim_t` is `u64` on Linux but not on every Unix.
#[cfg(unix)]
#[allow(clippy::useless_conversion)]
fn to_u64(value: libc::rlim_t) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// Where there is no `RLIMIT_NOFILE`, nothing is raised and nothing refused.
#[cfg(not(unix))]
pub fn raise_limit() -> u64 {
    u64::MAX
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let limit = raise_limit();
        let mut now = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut now) }, 0);
        assert_eq!(now.rlim_cur, now.rlim_max);
        assert_eq!(to_u64(now.rlim_cur), limit);
    }
}
