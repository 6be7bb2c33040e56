//! The wake channel of a set: how a thread that changes the set wakes threads blocked in the
//! kernel on its behalf.
//!
//! An eventfd (a pipe where there is no eventfd) registered in the set's backend under a reserved
//! token, used one of two ways (`set::delivery::WakeMode`): on epoll, registered edge-triggered,
//! one write is one edge and nobody reads it; on poll(2), a semaphore eventfd (or pipe) holds
//! tokens that woken waiters consume. The accounting is `set::delivery::WakeLedger`, kept under
//! the set's lock; no syscall is made when nobody is blocked.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The wake channel.
pub(crate) struct WakeChannel {
    read: OwnedFd,
    /// Edges (epoll): one write per wake-up, never read.
    edge: bool,
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    write: OwnedFd,
}

impl WakeChannel {
    pub(crate) fn new(edge: bool) -> crate::Result<WakeChannel> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use rustix::event::{eventfd, EventfdFlags};
            let flags = EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK;
            let flags = if edge {
                flags
            } else {
                flags | EventfdFlags::SEMAPHORE
            };
            let fd = eventfd(0, flags).map_err(crate::Error::sys)?;
            Ok(WakeChannel { read: fd, edge })
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            // `pipe2` is not on every unix (Apple's lack it): set the flags afterwards; the
            // descriptors are private to this process until then.
            use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
            use rustix::io::{fcntl_setfd, FdFlags};
            let (read, write) = rustix::pipe::pipe().map_err(crate::Error::sys)?;
            for fd in [&read, &write] {
                fcntl_setfd(fd, FdFlags::CLOEXEC).map_err(crate::Error::sys)?;
                let fl = fcntl_getfl(fd).map_err(crate::Error::sys)?;
                fcntl_setfl(fd, fl | OFlags::NONBLOCK).map_err(crate::Error::sys)?;
            }
            Ok(WakeChannel { read, write, edge })
        }
    }

    /// The fd to watch for readability.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Post `tokens` wake-ups (0: nothing, no syscall).
    pub(crate) fn post(&self, tokens: usize) {
        if tokens == 0 {
            return;
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let n = if self.edge { 1u64 } else { tokens as u64 };
            if let Err(rustix::io::Errno::AGAIN) = rustix::io::write(&self.read, &n.to_ne_bytes()) {
                // The counter is full (after 2^64 - 2 edges): reset it, then write the edge.
                let _ = rustix::io::read(&self.read, &mut [0u8; 8]);
                let _ = rustix::io::write(&self.read, &n.to_ne_bytes());
            }
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let buf = [0u8; 64];
            let mut left = tokens;
            while left > 0 {
                match rustix::io::write(&self.write, &buf[..left.min(64)]) {
                    Ok(n) => left -= n,
                    Err(_) => break,
                }
            }
        }
    }

    /// Consume one token (non-blocking). False when there was none to consume: its poster has
    /// decided the wake-up but not written it yet (see `WakeLedger::token_not_yet_posted`).
    pub(crate) fn take_one(&self) -> bool {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let mut b = [0u8; 8];
            rustix::io::read(&self.read, &mut b).is_ok()
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let mut b = [0u8; 1];
            matches!(rustix::io::read(&self.read, &mut b), Ok(1))
        }
    }
}
