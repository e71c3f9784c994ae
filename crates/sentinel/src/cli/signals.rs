//! Passing signals on to the command `exec --server` runs. Sentinel stays in front of the
//! command (it serves its credentials), so a signal meant for the job (a supervisor's SIGTERM,
//! a SIGHUP to reload, SIGUSR1) reaches Sentinel; it is passed on, and the command decides what
//! it means.
//!
//! A terminal's Ctrl-C and Ctrl-\ go to its whole foreground process group, the command
//! included, so SIGINT and SIGQUIT are passed on only when the command did not get them that
//! way: when Sentinel and the command are not that foreground group.

use std::fs::File;
use std::os::fd::AsRawFd;

use anyhow::{Context, Result};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// A signal Sentinel passes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relayed {
    /// Its number.
    pub number: libc::c_int,
    /// Its name, for messages.
    pub name: &'static str,
    /// Whether its default action ends a process (so the command is expected to exit).
    pub ends: bool,
    /// Whether a terminal sends it to its foreground process group from the keyboard.
    keyboard: bool,
}

/// Every signal passed on.
const RELAYED: [Relayed; 6] = [
    relayed(libc::SIGINT, "SIGINT", true, true),
    relayed(libc::SIGTERM, "SIGTERM", true, false),
    relayed(libc::SIGHUP, "SIGHUP", true, false),
    relayed(libc::SIGQUIT, "SIGQUIT", true, true),
    relayed(libc::SIGUSR1, "SIGUSR1", false, false),
    relayed(libc::SIGUSR2, "SIGUSR2", false, false),
];

const fn relayed(number: libc::c_int, name: &'static str, ends: bool, keyboard: bool) -> Relayed {
    Relayed {
        number,
        name,
        ends,
        keyboard,
    }
}

/// Starts watching every relayed signal (so none of them ends Sentinel any more) and returns
/// the stream of those received. Call it before the command starts.
pub fn watch() -> Result<mpsc::UnboundedReceiver<Relayed>> {
    let (sender, receiver) = mpsc::unbounded_channel();
    for relayed in RELAYED {
        let mut stream = signal(SignalKind::from_raw(relayed.number))
            .with_context(|| format!("cannot watch {}", relayed.name))?;
        let sender = sender.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if sender.send(relayed).is_err() {
                    break;
                }
            }
        });
    }
    Ok(receiver)
}

/// Passes `relayed` on to the process `pid` (a child not yet waited for, so the ID cannot have
/// been reused), unless the terminal already delivered it there.
#[allow(unsafe_code)]
pub fn pass_on(relayed: Relayed, pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if relayed.keyboard && terminal_reached(pid) {
        return;
    }
    // SAFETY: kill(2) has no memory effects; `pid` is our unreaped child.
    unsafe { libc::kill(pid, relayed.number) };
}

/// Whether a keyboard signal from the controlling terminal reached `pid` as well as Sentinel:
/// both are in the terminal's foreground process group.
#[allow(unsafe_code)]
fn terminal_reached(pid: libc::pid_t) -> bool {
    // SAFETY: getpgrp and getpgid only read process state.
    let (ours, its) = unsafe { (libc::getpgrp(), libc::getpgid(pid)) };
    if its != ours {
        return false;
    }
    match File::open("/dev/tty") {
        Ok(tty) => {
            // SAFETY: tcgetpgrp reads the terminal's state through a descriptor we hold.
            let foreground = unsafe { libc::tcgetpgrp(tty.as_raw_fd()) };
            foreground == ours
        }
        // No controlling terminal: no keyboard signal came from one.
        Err(_) => false,
    }
}
