//! A sub-millisecond timer for pacing, on Linux: a `timerfd` registered with Tokio's reactor.
//!
//! Tokio's own timer wakes on 1 ms ticks, which would show as up to a millisecond of schedule
//! lag at every rate where requests wait for their due time. A timerfd fires within
//! microseconds and costs two system calls per wait and no busy CPU. Where it cannot be created
//! the pacer falls back to Tokio's timer.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// The pacer's timer.
#[derive(Debug)]
pub(crate) struct PreciseTimer {
    fd: AsyncFd<OwnedFd>,
}

impl PreciseTimer {
    /// A disarmed timer on the monotonic clock (the clock `Instant` reads).
    #[allow(unsafe_code)]
    pub fn new() -> io::Result<Self> {
        // SAFETY: timerfd_create takes no pointers; a non-negative result is a new descriptor
        // that nothing else owns.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a valid descriptor owned by no one else (checked above).
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the OwnedFd keeps the descriptor open, and always the same one, for as long
        // as the AsyncFd that owns it.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
        Ok(Self { fd })
    }

    /// Waits about `after` (it may return early, e.g. on an expiry left from an abandoned wait:
    /// callers re-check the clock).
    #[allow(unsafe_code)]
    pub async fn wait(&self, after: Duration) -> io::Result<()> {
        // A zero it_value would disarm the timer instead of firing at once.
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs().try_into().unwrap_or(libc::time_t::MAX),
                tv_nsec: after.subsec_nanos().into(),
            },
        };
        // SAFETY: the descriptor is a timerfd we own; `spec` is a valid itimerspec and the old
        // value is not asked for (null).
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            let mut guard = self.fd.readable().await?;
            let read = guard.try_io(|fd| {
                let mut expirations = [0u8; 8];
                // SAFETY: reading 8 bytes into an 8-byte buffer from a descriptor we own.
                let n = unsafe {
                    libc::read(
                        fd.as_raw_fd(),
                        expirations.as_mut_ptr().cast(),
                        expirations.len(),
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
            match read {
                Ok(result) => {
                    // A read takes every expiration and the timer is one-shot, so nothing is
                    // left to read: clear the readiness now instead of learning it from a
                    // wasted `EAGAIN` read at the start of the next wait.
                    guard.clear_ready();
                    return result;
                }
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[tokio::test]
    async fn fires_after_the_requested_time_and_well_within_a_millisecond_tick() {
        let timer = PreciseTimer::new().unwrap();
        let mut early = 0;
        for _ in 0..20 {
            let began = Instant::now();
            timer.wait(Duration::from_micros(300)).await.unwrap();
            let took = began.elapsed();
            if took < Duration::from_micros(300) {
                early += 1;
            }
            assert!(took < Duration::from_millis(50), "took {took:?}");
        }
        assert_eq!(early, 0);
    }
}
