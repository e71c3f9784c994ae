//! Fitting the connection limit to the process's open-file limit. Every client connection holds
//! a file descriptor; the usual soft limit (1024) is no more than the default connection limit,
//! so without raising it a busy server fails to accept (`EMFILE`) before the limit it was given
//! is reached, and then cannot open its decision log or reach AWS either. The soft limit is
//! raised as far as the hard limit allows, and the connection limit kept below it.

use std::io;

/// Descriptors kept free of client connections: standard streams, the decision log, the
/// runtime's own, connections to AWS.
pub const RESERVED_DESCRIPTORS: usize = 64;

/// The connection limit that fits the open-file limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionBudget {
    /// The soft open-file limit after raising it.
    pub open_files: u64,
    /// The connection limit to use: the one asked for, or lower if that did not fit.
    pub max_connections: usize,
    /// Whether the one asked for was lowered.
    pub lowered: bool,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, and fits `wanted` connections below it
/// (leaving [`RESERVED_DESCRIPTORS`]). Fails only if the limit cannot be read.
pub fn fit_connections(wanted: usize) -> io::Result<ConnectionBudget> {
    let open_files = raise_soft_limit()?;
    Ok(budget(open_files, wanted))
}

/// The connection limit for `wanted` connections under a soft limit of `open_files`.
fn budget(open_files: u64, wanted: usize) -> ConnectionBudget {
    let room = usize::try_from(open_files)
        .unwrap_or(usize::MAX)
        .saturating_sub(RESERVED_DESCRIPTORS)
        .max(1);
    ConnectionBudget {
        open_files,
        max_connections: wanted.min(room),
        lowered: wanted > room,
    }
}

/// Sets the soft open-file limit to the hard one (if it is lower) and returns the soft limit
/// now in force; if raising it is refused, the current one.
fn raise_soft_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass, which lives for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    Ok(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_limit_stays_below_the_open_file_limit() {
        assert_eq!(
            budget(1024, 1024),
            ConnectionBudget {
                open_files: 1024,
                max_connections: 960,
                lowered: true,
            }
        );
        assert_eq!(budget(1_048_576, 1024).max_connections, 1024);
        assert!(!budget(1_048_576, 1024).lowered);
        assert_eq!(budget(10, 5).max_connections, 1, "always room for one");
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_limit() {
        let budget = fit_connections(1024).expect("limits readable");
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as in raise_soft_limit.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!(limit.rlim_cur, limit.rlim_max);
        assert_eq!(budget.open_files, limit.rlim_cur);
    }
}
