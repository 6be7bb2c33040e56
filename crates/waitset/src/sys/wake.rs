//! The wake channel of a set: how a thread that changes the set wakes threads blocked in the
//! kernel on its behalf.
//!
//! A semaphore eventfd (a pipe where there is no eventfd) registered level-triggered in the set's
//! backend under a reserved token. Wake-ups are *tokens*: each is consumed by exactly one waiter,
//! so the channel is readable exactly until every woken waiter has seen it, and no waiter spins
//! on a token meant for another. The accounting of who must consume a token is
//! `set::delivery::WakeLedger`, kept under the set's lock; no syscall is made when nobody is
//! blocked.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The wake channel.
pub(crate) struct WakeChannel {
    read: OwnedFd,
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    write: OwnedFd,
}

impl WakeChannel {
    pub(crate) fn new() -> crate::Result<WakeChannel> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use rustix::event::{eventfd, EventfdFlags};
            let fd = eventfd(
                0,
                EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK | EventfdFlags::SEMAPHORE,
            )
            .map_err(crate::Error::sys)?;
            Ok(WakeChannel { read: fd })
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
            Ok(WakeChannel { read, write })
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
            let _ = rustix::io::write(&self.read, &(tokens as u64).to_ne_bytes());
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
