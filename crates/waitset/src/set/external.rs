//! External readiness: making a set's own descriptor (the epoll instance) tell an outer event
//! loop — tokio, async-io, calloop, another epoll — that [`WaitSet::wait`] would report
//! something now, including readiness that lives in user space.
//!
//! Descriptors make the epoll instance readable by themselves. Two more registrations, made only
//! once a [`Pollable`] exists, cover the rest:
//!
//! * a **flag** eventfd, readable exactly while the ready ring holds an entry that is ready in
//!   user space (an asserted Event, a fired Timer, an always-ready file, a canceled handle, a
//!   pending edge): raised when the ring gains its first such entry, cleared by the wait that
//!   finds none left;
//! * a **timerfd** armed at the earliest timer of the set's wheel (absolute, monotonic), so a
//!   due timer makes the instance readable; the wait that fires it reads it.
//!
//! A closed set raises the flag for good: its next wait fails at once with
//! [`Error::Canceled`], which an outer loop must get to see.
//!
//! The flag may be readable for a moment after the last such entry left the ring by another path
//! (an Event cleared): the next wait, which the outer loop makes because the instance is
//! readable, clears it. An outer loop therefore sees at most one spurious wake-up per clear,
//! never a lost one.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::state::State;
use super::{Deadline, WaitResult, WaitSet};
use crate::sys::{AddError, Backend, Sys, Trigger};
use crate::{fdrules, Error, Result};

/// The token of the flag's registration.
pub(super) const FLAG_TOKEN: u64 = u64::MAX - 1;
/// The token of the timerfd's registration.
pub(super) const TIMERFD_TOKEN: u64 = u64::MAX - 2;

/// The two extra registrations of a set that an outer loop watches.
pub(super) struct External {
    flag: OwnedFd,
    flag_raised: bool,
    timerfd: OwnedFd,
    /// The deadline the timerfd is armed at (`u64::MAX`: disarmed).
    timer_at: u64,
}

impl External {
    fn new(sys: &Sys) -> Result<External> {
        let flag = kernel::flag().map_err(Error::sys)?;
        let timerfd = kernel::timer().map_err(Error::sys)?;
        for (fd, token) in [(flag.as_fd(), FLAG_TOKEN), (timerfd.as_fd(), TIMERFD_TOKEN)] {
            match sys.add(fd, token, fdrules::IN, Trigger::Level) {
                Ok(()) => {}
                Err(AddError::Sys(e)) => return Err(Error::sys(e)),
                Err(AddError::Refused) => return Err(Error::NotSupported("eventfd not pollable")),
            }
        }
        Ok(External {
            flag,
            flag_raised: false,
            timerfd,
            timer_at: u64::MAX,
        })
    }

    /// Raise the flag (the ring gained readiness that lives in user space).
    #[inline]
    pub(super) fn raise(&mut self) {
        if !self.flag_raised {
            self.flag_raised = true;
            let _ = rustix::io::write(&self.flag, &1u64.to_ne_bytes());
        }
    }

    /// After a wait: keep the flag and the timerfd in line with the ring and the wheel.
    pub(super) fn settle(&mut self, user_space_ready: bool, next_timer: Option<u64>) {
        if user_space_ready {
            self.raise();
        } else if self.flag_raised {
            self.flag_raised = false;
            let _ = rustix::io::read(&self.flag, &mut [0u8; 8]);
        }
        self.arm_timer(next_timer);
    }

    /// Arm the timerfd at `at` (absolute, monotonic ns), or disarm it.
    pub(super) fn arm_timer(&mut self, at: Option<u64>) {
        let at = at.unwrap_or(u64::MAX);
        if at == self.timer_at {
            return;
        }
        if kernel::arm(self.timerfd.as_fd(), at).is_ok() {
            self.timer_at = at;
        }
    }

    /// The timerfd fired (it was reported): read it, so it is no longer readable.
    pub(super) fn timer_fired(&mut self) {
        let _ = rustix::io::read(&self.timerfd, &mut [0u8; 8]);
        self.timer_at = u64::MAX;
    }
}

/// The kernel objects behind the flag and the timer: Linux's eventfd and timerfd. Only epoll
/// offers a pollable descriptor, so elsewhere [`WaitSet::pollable`] fails before it gets here;
/// these stand-ins keep the poll(2)-only build free of Linux-only calls.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod kernel {
    use std::os::fd::{BorrowedFd, OwnedFd};

    use rustix::event::{eventfd, EventfdFlags};
    use rustix::io::Errno;
    use rustix::time::{
        timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags,
        TimerfdTimerFlags, Timespec,
    };

    /// A non-blocking eventfd.
    pub(super) fn flag() -> Result<OwnedFd, Errno> {
        eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
    }

    /// A non-blocking, disarmed monotonic timerfd.
    pub(super) fn timer() -> Result<OwnedFd, Errno> {
        timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK,
        )
    }

    /// Arm `fd` at `at` (absolute, monotonic ns; `u64::MAX` disarms it).
    pub(super) fn arm(fd: BorrowedFd<'_>, at: u64) -> Result<(), Errno> {
        let value = if at == u64::MAX {
            Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }
        } else {
            // A zero value would disarm it: a deadline at 0 (long past) is 1 ns.
            let at = at.max(1);
            Timespec {
                tv_sec: (at / 1_000_000_000) as i64,
                tv_nsec: (at % 1_000_000_000) as i64,
            }
        };
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        timerfd_settime(fd, TimerfdTimerFlags::ABSTIME, &spec).map(drop)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod kernel {
    use std::os::fd::{BorrowedFd, OwnedFd};

    use rustix::io::Errno;

    pub(super) fn flag() -> Result<OwnedFd, Errno> {
        Err(Errno::NOTSUP)
    }
    pub(super) fn timer() -> Result<OwnedFd, Errno> {
        Err(Errno::NOTSUP)
    }
    pub(super) fn arm(_: BorrowedFd<'_>, _: u64) -> Result<(), Errno> {
        Err(Errno::NOTSUP)
    }
}

impl State {
    /// Settle the external registrations after a wait (no-op unless a `Pollable` exists).
    #[inline]
    pub(super) fn settle_external(&mut self) {
        if self.external.is_some() {
            // A closed set has something to report at once (`Error::Canceled`): keep the flag
            // raised, or an outer loop would never hear of the close.
            let user_space = self.ring.user_space() > 0 || self.closed;
            let next = self.timers.next_expiry();
            if let Some(x) = &mut self.external {
                x.settle(user_space, next);
            }
        }
    }
}

/// A [`WaitSet`] whose own descriptor an outer event loop can watch: it is readable when
/// [`wait`](WaitSet::wait) with [`Deadline::now`] would report something — descriptors, and also
/// Events, Timers, always-ready files and canceled handles, which live in user space — or would
/// fail at once with [`Error::Canceled`] because the set was [closed](WaitSet::close).
///
/// Only a backend with one descriptor for the whole set has one to offer: epoll
/// ([`Capabilities::pollable`](crate::Capabilities::pollable)). On the poll(2) backend,
/// [`WaitSet::pollable`] fails with [`Error::NotSupported`] rather than return a descriptor that
/// would lie. It dereferences to the set, so every method is at hand.
///
/// ```
/// use std::os::fd::AsFd;
/// use waitset::{BackendKind, Deadline, Event, Signals, Source, WaitResult, WaitSet};
/// let set = WaitSet::builder().backend(BackendKind::Epoll).build().unwrap();
/// let ev = Event::new();
/// set.add(1, Source::from(&ev), Signals::USER_0).unwrap();
/// let pollable = set.pollable().unwrap();
/// let readable = |p: &waitset::Pollable| {
///     let mut fds = [waitset::PollFd::new(&p.as_fd(), waitset::PollFlags::IN)];
///     waitset::poll(&mut fds, 0).unwrap() == 1
/// };
/// assert!(!readable(&pollable));
/// ev.signal(Signals::empty(), Signals::USER_0).unwrap(); // user space only...
/// assert!(readable(&pollable)); // ...yet the set's descriptor says so
/// let mut out = [WaitResult::default(); 1];
/// assert_eq!(pollable.wait(Deadline::now(), &mut out).unwrap(), 1);
/// ev.signal(Signals::USER_0, Signals::empty()).unwrap();
/// let _ = pollable.wait(Deadline::now(), &mut out); // finds nothing: clears the flag
/// assert!(!readable(&pollable));
/// ```
#[derive(Clone, Debug)]
pub struct Pollable {
    set: WaitSet,
}

impl WaitSet {
    /// This set, with a descriptor an outer event loop can watch (see [`Pollable`]).
    /// [`Error::NotSupported`] on a backend without one descriptor for the set (poll(2)).
    ///
    /// ```
    /// use waitset::{BackendKind, Error, WaitSet};
    /// let on_poll = WaitSet::builder().backend(BackendKind::Poll).build().unwrap();
    /// assert!(!on_poll.backend().capabilities().pollable);
    /// assert!(matches!(on_poll.pollable(), Err(Error::NotSupported(_))));
    /// ```
    pub fn pollable(&self) -> Result<Pollable> {
        if !self.backend().capabilities().pollable {
            return Err(
                Error::NotSupported("no single pollable descriptor on this backend")
                    .traced("waitset_pollable"),
            );
        }
        let inner = &self.inner;
        let mut st = inner.state.lock();
        if st.external.is_none() {
            let mut x = External::new(&inner.sys)?;
            x.settle(
                st.ring.user_space() > 0 || st.closed,
                st.timers.next_expiry(),
            );
            st.external = Some(x);
        }
        drop(st);
        Ok(Pollable { set: self.clone() })
    }
}

impl std::ops::Deref for Pollable {
    type Target = WaitSet;
    fn deref(&self) -> &WaitSet {
        &self.set
    }
}

impl AsFd for Pollable {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.set
            .inner
            .sys
            .pollable_fd()
            .expect("a Pollable exists only on a backend with a pollable descriptor")
    }
}

impl std::os::fd::AsRawFd for Pollable {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl Pollable {
    /// The set.
    ///
    /// ```
    /// use waitset::WaitSet;
    /// let set = WaitSet::new().unwrap();
    /// if let Ok(p) = set.pollable() {
    ///     assert_eq!(p.set().backend(), set.backend());
    /// }
    /// ```
    pub fn set(&self) -> &WaitSet {
        &self.set
    }

    /// Take what is ready now without blocking: `Ok(0)` when nothing is, as an outer loop that
    /// was told the descriptor is readable wants it (it may have been a spurious wake-up).
    ///
    /// ```
    /// use waitset::{WaitResult, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// if let Ok(p) = set.pollable() {
    ///     assert_eq!(p.try_wait(&mut [WaitResult::default(); 4]).unwrap(), 0);
    /// }
    /// ```
    pub fn try_wait(&self, results: &mut [WaitResult]) -> Result<usize> {
        self.set.wait_or_zero(Deadline::now(), results)
    }
}
