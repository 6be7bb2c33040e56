//! The wake-up channel of a set: how a thread that changes the set wakes threads blocked in the
//! kernel on its behalf.
//!
//! A semaphore eventfd (a pipe where there is no eventfd) registered level-triggered in the
//! set's backend under a reserved token. Wake-ups are counted in *units*: each unit is consumed by
//! exactly one waiter, so the channel is readable exactly until every woken waiter has seen it,
//! and no waiter spins on a unit meant for another. The accounting lives in the set's state
//! (`WakeBook`), always under the set's lock; no syscall is made when nobody is blocked.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The wake channel.
pub(crate) struct Notifier {
    read: OwnedFd,
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    write: OwnedFd,
}

impl Notifier {
    pub(crate) fn new() -> io::Result<Notifier> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use rustix::event::{eventfd, EventfdFlags};
            let fd = eventfd(
                0,
                EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK | EventfdFlags::SEMAPHORE,
            )?;
            Ok(Notifier { read: fd })
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            use rustix::pipe::{pipe_with, PipeFlags};
            let (read, write) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
            Ok(Notifier { read, write })
        }
    }

    /// The fd to watch for readability.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Post `units` wake-ups.
    pub(crate) fn post(&self, units: usize) {
        if units == 0 {
            return;
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let _ = rustix::io::write(&self.read, &(units as u64).to_ne_bytes());
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let buf = [0u8; 64];
            let mut left = units;
            while left > 0 {
                match rustix::io::write(&self.write, &buf[..left.min(64)]) {
                    Ok(n) => left -= n,
                    Err(_) => break,
                }
            }
        }
    }

    /// Consume one unit (non-blocking). Returns false when there was none to consume: its
    /// poster has decided the wake-up but not written it yet (see [`WakeBook::missed`]).
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

/// The accounting of blocked waiters and posted units, kept under the set's lock.
///
/// * `wake_all` wakes every waiter blocked *now*: it posts one unit per such waiter and starts a
///   new epoch; a waiter that returns and finds the epoch changed consumes exactly one unit.
/// * `wake_one` posts one *loose* unit; the first blocked waiter that returns having seen the
///   channel readable consumes it. Used in exclusive delivery, so one readiness wakes one thread.
#[derive(Default)]
pub(crate) struct WakeBook {
    epoch: u64,
    blocked_now: usize,
    loose: usize,
    /// Waiters currently inside the kernel wait (any epoch).
    pub(crate) blocked_total: usize,
    /// Units a waiter had to consume but found not yet posted (wakers post after releasing
    /// the set's lock); the next blocked waiter that sees the channel consumes them.
    owed: usize,
}

/// What a waiter remembers about its own blocking.
#[derive(Clone, Copy)]
pub(crate) struct Ticket {
    epoch: u64,
}

impl WakeBook {
    /// Record that the caller is about to block.
    pub(crate) fn block(&mut self) -> Ticket {
        self.blocked_now += 1;
        self.blocked_total += 1;
        Ticket { epoch: self.epoch }
    }

    /// Record that the caller returned from blocking; returns whether it must consume a unit.
    pub(crate) fn unblock(&mut self, t: Ticket, saw_channel: bool) -> bool {
        self.blocked_total -= 1;
        if t.epoch != self.epoch {
            return true;
        }
        self.blocked_now -= 1;
        if saw_channel && self.loose > 0 {
            self.loose -= 1;
            return true;
        }
        if saw_channel && self.owed > 0 {
            self.owed -= 1;
            return true;
        }
        false
    }

    /// A unit that had to be consumed was not there yet: it will be, so the next waiter that
    /// sees the channel consumes it (no unit is ever left behind to spin waiters).
    pub(crate) fn missed(&mut self) {
        self.owed += 1;
    }

    /// Wake every waiter blocked now. Returns the units to post.
    pub(crate) fn wake_all(&mut self) -> usize {
        let n = self.blocked_now;
        if n > 0 {
            self.epoch += 1;
            self.blocked_now = 0;
        }
        n
    }

    /// Wake one blocked waiter, if any and if none is already on its way. Returns units to post.
    pub(crate) fn wake_one(&mut self) -> usize {
        if self.blocked_now > self.loose {
            self.loose += 1;
            1
        } else {
            0
        }
    }
}
