//! Fitting the connection limit to the process's open-file limit. Every client connection holds
//! a file descriptor; the usual soft limit (1024) is no more than the default connection limit,
//! so a busy server would fail to accept (`EMFILE`) before the limit it was given is reached,
//! and then could not open its decision log or reach AWS either. Whoever starts a server raises
//! the soft limit as far as the hard one allows, and keeps the connection limit below it.

/// Descriptors kept free of client connections: standard streams, the decision log, the
/// runtime's own, connections to AWS.
pub const RESERVED_DESCRIPTORS: usize = 64;

/// The connection limit that fits the open-file limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionBudget {
    /// The soft open-file limit.
    pub open_files: u64,
    /// The connection limit to use: the one asked for, or lower if that did not fit.
    pub max_connections: usize,
    /// Whether the one asked for was lowered.
    pub lowered: bool,
}

/// The connection limit for `wanted` connections under a soft open-file limit of `open_files`,
/// leaving [`RESERVED_DESCRIPTORS`] for everything else.
pub fn fit_connections(open_files: u64, wanted: usize) -> ConnectionBudget {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_limit_stays_below_the_open_file_limit() {
        assert_eq!(
            fit_connections(1024, 1024),
            ConnectionBudget {
                open_files: 1024,
                max_connections: 960,
                lowered: true,
            }
        );
        assert_eq!(fit_connections(1_048_576, 1024).max_connections, 1024);
        assert!(!fit_connections(1_048_576, 1024).lowered);
        assert_eq!(
            fit_connections(10, 5).max_connections,
            1,
            "always room for one"
        );
    }
}
