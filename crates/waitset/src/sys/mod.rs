//! The kernel interfaces behind the engine: one internal [`Backend`] trait, one file per kernel
//! interface. The persistent faces ([`WaitSet`](crate::WaitSet), [`PollSet`](crate::PollSet))
//! reach a kernel readiness API only through a [`Sys`], which dispatches statically to the
//! chosen backend; every `epoll_ctl` / `epoll_wait` of the crate is in `epoll.rs`.
//!
//! Interest and reports are kernel bits ([`Bits`](crate::fdrules::Bits), `poll(2)` values).
//! Tokens are opaque `u64`s chosen by the caller. A descriptor the kernel's readiness API
//! refuses to watch is reported back as [`AddError::Refused`]; the caller decides what that
//! means (the engine's one rule: always ready, see [`fdrules`](crate::fdrules)).

use std::os::fd::BorrowedFd;
use std::time::Duration;

use rustix::io::Errno;

use crate::fdrules::Bits;

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) mod epoll;
#[cfg(loom)]
pub(crate) mod model;
pub(crate) mod poll;
#[cfg(not(loom))]
pub(crate) mod wake;
#[cfg(loom)]
pub(crate) mod wake {
    //! Under loom the wake channel is the model's.
    pub(crate) use super::model::ModelChannel as WakeChannel;
}

/// The token a set registers its wake channel under (never a registration token: those carry
/// a slab index below `u32::MAX`).
pub(crate) const WAKE_TOKEN: u64 = u64::MAX;

/// How many kernel reports one kernel wait takes in at most (the stack buffer of a wait). A
/// wait that filled a batch may have left ready descriptors for the next one; with up to this
/// many ready at once, the fairness bound of [`WaitSet::wait`](crate::WaitSet::wait) holds.
///
/// ```
/// assert_eq!(waitset::KERNEL_BATCH, 256);
/// ```
pub const KERNEL_BATCH: usize = 256;

/// Which kernel interface a set or a call uses.
///
/// ```
/// use waitset::BackendKind;
/// let k = BackendKind::from_env().unwrap_or_default();
/// assert!(matches!(k, BackendKind::Epoll | BackendKind::Poll));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// Linux `epoll(7)`: interest is kept in the kernel, a wait costs in proportion to what is ready.
    Epoll,
    /// The portable `poll(2)` backend: every wait hands the whole interest list to the kernel.
    Poll,
}

impl Default for BackendKind {
    /// `WAITSET_BACKEND` when it is set to a known name, else epoll where it exists, else poll.
    ///
    /// ```
    /// use waitset::BackendKind;
    /// std::env::set_var("WAITSET_BACKEND", "poll");
    /// assert_eq!(BackendKind::default(), BackendKind::Poll);
    /// std::env::set_var("WAITSET_BACKEND", "no-such-backend"); // unknown names are ignored
    /// let epoll_exists = cfg!(any(target_os = "linux", target_os = "android"));
    /// let native = if epoll_exists { BackendKind::Epoll } else { BackendKind::Poll };
    /// assert_eq!(BackendKind::default(), native);
    /// ```
    fn default() -> Self {
        if let Some(k) = BackendKind::from_env() {
            return k;
        }
        if cfg!(any(target_os = "linux", target_os = "android")) {
            BackendKind::Epoll
        } else {
            BackendKind::Poll
        }
    }
}

impl BackendKind {
    /// The backend named by the `WAITSET_BACKEND` environment variable (`epoll` or `poll`), if any.
    /// `epoll` on a system without epoll yields `None`.
    ///
    /// ```
    /// use waitset::BackendKind;
    /// std::env::set_var("WAITSET_BACKEND", "poll");
    /// assert_eq!(BackendKind::from_env(), Some(BackendKind::Poll));
    /// std::env::set_var("WAITSET_BACKEND", "kqueue");
    /// assert_eq!(BackendKind::from_env(), None);
    /// std::env::remove_var("WAITSET_BACKEND");
    /// assert_eq!(BackendKind::from_env(), None);
    /// ```
    pub fn from_env() -> Option<BackendKind> {
        match std::env::var("WAITSET_BACKEND").ok()?.as_str() {
            "epoll" if cfg!(any(target_os = "linux", target_os = "android")) => {
                Some(BackendKind::Epoll)
            }
            "poll" => Some(BackendKind::Poll),
            _ => None,
        }
    }

    /// The trigger modes this backend supports natively for file descriptors.
    ///
    /// ```
    /// use waitset::BackendKind;
    /// assert!(BackendKind::Poll.capabilities().level);
    /// assert!(!BackendKind::Poll.capabilities().edge);
    /// ```
    pub const fn capabilities(self) -> Capabilities {
        match self {
            BackendKind::Epoll => Capabilities {
                level: true,
                edge: true,
                oneshot: true,
                pollable: true,
            },
            BackendKind::Poll => Capabilities {
                level: true,
                edge: false,
                oneshot: true,
                pollable: false,
            },
        }
    }

    /// The lower-case name used by `WAITSET_BACKEND`.
    ///
    /// ```
    /// use waitset::BackendKind;
    /// assert_eq!(BackendKind::Epoll.name(), "epoll");
    /// // The name round-trips through WAITSET_BACKEND.
    /// std::env::set_var("WAITSET_BACKEND", BackendKind::Poll.name());
    /// assert_eq!(BackendKind::from_env(), Some(BackendKind::Poll));
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            BackendKind::Epoll => "epoll",
            BackendKind::Poll => "poll",
        }
    }
}

/// Which trigger modes a backend supports for file descriptors.
///
/// Edge triggering cannot be emulated over `poll(2)` without spinning, so the poll backend says
/// so instead of pretending; adding an edge-triggered fd entry there fails with
/// [`Error::NotSupported`](crate::Error::NotSupported). User events and timers support every mode
/// on every backend.
///
/// ```
/// use waitset::{BackendKind, Error, Event, Handle, Signals, Source, Trigger, WaitSet};
/// let set = WaitSet::builder().backend(BackendKind::Poll).build().unwrap();
/// let caps = set.backend().capabilities();
/// assert!(caps.level && caps.oneshot && !caps.edge);
/// let (r, _w) = rustix::pipe::pipe().unwrap();
/// let r = Handle::new(r);
/// let e = set.add_with(1, Source::from(&r), Signals::READABLE, Trigger::Edge).unwrap_err();
/// assert!(matches!(e, Error::NotSupported(_)));
/// // User events support every mode on every backend.
/// let ev = Event::new();
/// set.add_with(2, Source::from(&ev), Signals::USER_0, Trigger::Edge).unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Level-triggered: an asserted signal is reported on every wait.
    pub level: bool,
    /// Edge-triggered: reported once per change.
    pub edge: bool,
    /// One-shot: reported once, then disarmed until modified.
    pub oneshot: bool,
    /// One descriptor stands for the whole set, so an outer event loop can watch it
    /// ([`WaitSet::pollable`](crate::WaitSet::pollable)).
    pub pollable: bool,
}

/// How an entry is reported.
///
/// ```
/// use waitset::{Deadline, Event, Signals, Source, Trigger, WaitResult, WaitSet};
/// let set = WaitSet::new().unwrap();
/// let ev = Event::new();
/// set.add_with(1, Source::from(&ev), Signals::USER_0, Trigger::Level).unwrap();
/// set.add_with(2, Source::from(&ev), Signals::USER_0, Trigger::Edge).unwrap();
/// ev.signal(Signals::empty(), Signals::USER_0).unwrap();
/// let mut out = [WaitResult::default(); 2];
/// assert_eq!(set.wait(Deadline::now(), &mut out).unwrap(), 2); // the rise: both
/// let n = set.wait(Deadline::now(), &mut out).unwrap();
/// assert_eq!((n, out[0].cookie), (1, 1)); // still asserted: only the level entry
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Trigger {
    /// Reported on every wait while asserted (the default).
    #[default]
    Level,
    /// Reported once each time the watched signals become asserted.
    Edge,
    /// Reported once, then disarmed until the entry is modified.
    Oneshot,
}

/// One readiness report from a backend: the registration's token and the kernel's bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    pub token: u64,
    pub bits: Bits,
}

/// The reports of one kernel wait, straight from the backend's buffer (an enum rather than a
/// `dyn Iterator`: the wait path pays no indirect call per report).
pub(crate) enum Reports<'a> {
    /// epoll's own buffer.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Epoll(std::slice::Iter<'a, rustix::event::epoll::Event>),
    /// A list the backend built (poll(2), the model).
    List(std::slice::Iter<'a, Report>),
}

impl Iterator for Reports<'_> {
    type Item = Report;
    #[inline]
    fn next(&mut self) -> Option<Report> {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Reports::Epoll(it) => it.next().map(|ev| {
                let (data, flags) = (ev.data, ev.flags); // copies out of the packed struct
                Report {
                    token: data.u64(),
                    bits: flags.bits(),
                }
            }),
            Reports::List(it) => it.next().copied(),
        }
    }
}

/// Why a registration failed.
#[derive(Debug)]
pub(crate) enum AddError {
    /// The kernel readiness API refuses to watch this kind of file (epoll: regular files,
    /// directories, `/dev/null`). Only epoll refuses; poll(2) watches every file.
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
    Refused,
    /// Any other failure.
    Sys(Errno),
}

/// The internal interface every backend implements.
pub(crate) trait Backend: Send + Sync {
    /// Start watching `fd` for `interest` under `token`.
    fn add(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Bits,
        mode: Trigger,
    ) -> Result<(), AddError>;
    /// Change the interest, token or mode of a watched fd (also re-arms a fired one-shot).
    /// `Err(NOENT)` when the registration is gone: the file it watched was closed (its number
    /// may since name another file, which this never starts watching).
    fn modify(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Bits,
        mode: Trigger,
    ) -> Result<(), Errno>;
    /// Stop watching `fd`.
    fn delete(&self, fd: BorrowedFd<'_>) -> Result<(), Errno>;
    /// Whether the registration of `fd`'s number still watches the file `fd` names now (false:
    /// the watched file was closed and the number reused or closed). Changes nothing: in
    /// particular an edge-triggered registration is not re-armed.
    fn still_registered(&self, fd: BorrowedFd<'_>) -> bool;
    /// Wait up to `timeout` (`None`: forever) for at most `max` reports, then hand them to `f`
    /// straight from the kernel's buffer, with no backend lock held (so `f` may lock the set).
    fn wait<R>(
        &self,
        max: usize,
        timeout: Option<Duration>,
        f: impl FnOnce(&mut Reports<'_>) -> R,
    ) -> Result<R, Errno>;
    /// Whether a thread blocked in [`Backend::wait`] must be woken to see a registration change.
    fn change_needs_wake(&self) -> bool;
}

/// The backend of one set, dispatched statically.
pub(crate) enum Sys {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Epoll(epoll::Epoll),
    Poll(poll::PollBackend),
    #[cfg(loom)]
    Model(model::ModelBackend),
}

impl Sys {
    /// A backend of `kind` with a wake channel registered in it under [`WAKE_TOKEN`]: edge-
    /// triggered on epoll, level-triggered tokens on poll(2) (under loom, the model backend and
    /// its channel, which behaves as the kind's would).
    pub(crate) fn with_wake_channel(kind: BackendKind) -> crate::Result<(Sys, wake::WakeChannel)> {
        // epoll has edges: the channel is written, never read; poll(2) has none: tokens.
        let edge = kind == BackendKind::Epoll;
        #[cfg(loom)]
        let (sys, channel) = {
            let (b, c) = model::ModelBackend::new(edge);
            (Sys::Model(b), c)
        };
        #[cfg(not(loom))]
        let (sys, channel) = (Sys::new(kind)?, wake::WakeChannel::new(edge)?);
        let mode = if edge { Trigger::Edge } else { Trigger::Level };
        match sys.add(channel.fd(), WAKE_TOKEN, crate::fdrules::IN, mode) {
            Ok(()) => Ok((sys, channel)),
            Err(AddError::Sys(e)) => Err(crate::Error::sys(e)),
            Err(AddError::Refused) => Err(crate::Error::NotSupported("wake channel not pollable")),
        }
    }

    pub(crate) fn new(kind: BackendKind) -> crate::Result<Sys> {
        match kind {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            BackendKind::Epoll => Ok(Sys::Epoll(epoll::Epoll::new()?)),
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            BackendKind::Epoll => Err(crate::Error::NotSupported("epoll on this system")),
            BackendKind::Poll => Ok(Sys::Poll(poll::PollBackend::new())),
        }
    }

    /// The one descriptor that stands for the whole set, where there is one (epoll).
    pub(crate) fn pollable_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Sys::Epoll(e) => Some(e.fd()),
            _ => None,
        }
    }

    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Sys::Epoll(_) => BackendKind::Epoll,
            Sys::Poll(_) => BackendKind::Poll,
            #[cfg(loom)]
            Sys::Model(m) => m.kind(),
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $b:ident => $e:expr) => {
        match $self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Sys::Epoll($b) => $e,
            Sys::Poll($b) => $e,
            #[cfg(loom)]
            Sys::Model($b) => $e,
        }
    };
}

impl Backend for Sys {
    #[inline]
    fn add(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Bits,
        mode: Trigger,
    ) -> Result<(), AddError> {
        dispatch!(self, b => b.add(fd, token, interest, mode))
    }
    #[inline]
    fn modify(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Bits,
        mode: Trigger,
    ) -> Result<(), Errno> {
        dispatch!(self, b => b.modify(fd, token, interest, mode))
    }
    #[inline]
    fn delete(&self, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        dispatch!(self, b => b.delete(fd))
    }
    #[inline]
    fn still_registered(&self, fd: BorrowedFd<'_>) -> bool {
        dispatch!(self, b => b.still_registered(fd))
    }
    #[inline]
    fn wait<R>(
        &self,
        max: usize,
        timeout: Option<Duration>,
        f: impl FnOnce(&mut Reports<'_>) -> R,
    ) -> Result<R, Errno> {
        dispatch!(self, b => b.wait(max, timeout, f))
    }
    #[inline]
    fn change_needs_wake(&self) -> bool {
        dispatch!(self, b => b.change_needs_wake())
    }
}
