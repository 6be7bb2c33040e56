//! The wake channel of a set: how a thread that changes the set wakes threads blocked in the
//! kernel on its behalf.
//!
//! An eventfd (a pipe where there is no eventfd) registered in the set's backend under a reserved
//! token, used one of two ways (`set::delivery::WakeMode`): on epoll, registered edge-triggered,
//! one write is one edge and nobody reads it; on poll(2), a semaphore eventfd (or pipe) holds
//! tokens that woken waiters consume. The accounting is `set::delivery::WakeLedger`, kept under
//! the set's lock; no syscall is made when nobody is blocked.
//!
//! On io_uring the channel is a message to the ring instead
//! ([`RingWake`](super::uring::RingWake)): one message is one edge, taken by the waiter that
//! reaps it, and there is no descriptor.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The wake channel.
pub(crate) struct WakeChannel {
    read: Option<OwnedFd>,
    #[cfg(target_os = "linux")]
    ring: Option<super::uring::RingWake>,
    /// Edges (epoll, io_uring): one write or message per wake-up, never read. (Always false
    /// where there is no epoll, and unread there.)
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
    edge: bool,
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    write: OwnedFd,
}

impl WakeChannel {
    /// The channel of a set on the io_uring backend.
    #[cfg(target_os = "linux")]
    pub(crate) fn ring(ring: super::uring::RingWake) -> WakeChannel {
        WakeChannel {
            read: None,
            ring: Some(ring),
            edge: true,
        }
    }

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
            Ok(WakeChannel {
                read: Some(fd),
                #[cfg(target_os = "linux")]
                ring: None,
                edge,
            })
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
            Ok(WakeChannel {
                read: Some(read),
                write,
                edge,
            })
        }
    }

    /// The fd to watch for readability (a channel made by [`WakeChannel::new`]).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_ref().expect("a descriptor channel").as_fd()
    }

    /// Post `tokens` wake-ups (0: nothing, no syscall).
    pub(crate) fn post(&self, tokens: usize) {
        if tokens == 0 {
            return;
        }
        #[cfg(target_os = "linux")]
        if let Some(ring) = &self.ring {
            return ring.post();
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let n = if self.edge { 1u64 } else { tokens as u64 };
            if let Err(rustix::io::Errno::AGAIN) = rustix::io::write(self.fd(), &n.to_ne_bytes()) {
                // The counter is full (after 2^64 - 2 edges): reset it, then write the edge.
                let _ = rustix::io::read(self.fd(), &mut [0u8; 8]);
                let _ = rustix::io::write(self.fd(), &n.to_ne_bytes());
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
        #[cfg(target_os = "linux")]
        if self.ring.is_some() {
            return false; // edges: there is never a token to take
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let mut b = [0u8; 8];
            rustix::io::read(self.fd(), &mut b).is_ok()
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let mut b = [0u8; 1];
            matches!(rustix::io::read(self.fd(), &mut b), Ok(1))
        }
    }
}
