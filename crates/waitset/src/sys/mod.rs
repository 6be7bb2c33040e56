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
#[cfg(all(target_os = "linux", not(loom)))]
pub(crate) mod uring;
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

/// The default backend on Linux (where it cannot run, the default falls back to epoll). epoll,
/// not io_uring: measured in `docs/BENCHMARKS.md` (issue 10), io_uring is ahead only for
/// edge-triggered and one-shot entries, a level-triggered wait that blocks costs it three calls
/// against epoll's one, and it has no pollable set descriptor, which `WaitSet::pollable` and the
/// async adapters need. Pick io_uring per set, or with `WAITSET_BACKEND=uring`.
const PREFERRED_ON_LINUX: BackendKind = BackendKind::Epoll;

/// Which kernel interface a set or a call uses.
///
/// ```
/// use waitset::BackendKind;
/// let k = BackendKind::from_env().unwrap_or_default();
/// assert!(matches!(k, BackendKind::Uring | BackendKind::Epoll | BackendKind::Poll));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// Linux `epoll(7)`: interest is kept in the kernel, a wait costs in proportion to what is ready.
    Epoll,
    /// The portable `poll(2)` backend: every wait hands the whole interest list to the kernel.
    Poll,
    /// Linux `io_uring(7)` (opt-in): poll requests in a ring; a wait reaps completions from
    /// memory shared with the kernel and enters it only to submit changes or to block.
    /// Edge-triggered entries cost no system call per event, one-shot re-arms ride in the next
    /// wait's submission, wake-ups are messages to the ring; level-triggered entries run on an
    /// epoll instance the ring watches (epoll's rules and cost). Where its answers differ from
    /// epoll's, and why: `docs/SEMANTICS.md`; when it pays: `docs/BENCHMARKS.md`.
    Uring,
}

impl Default for BackendKind {
    /// `WAITSET_BACKEND` when it is set to a known name; else epoll where it exists (Linux,
    /// Android), poll(2) elsewhere. io_uring is chosen explicitly: with
    /// [`WaitSetBuilder::backend`](crate::WaitSetBuilder::backend),
    /// [`PollOptions::backend`](crate::PollOptions::backend) or `WAITSET_BACKEND=uring` (see
    /// `docs/BENCHMARKS.md` for when it pays).
    ///
    /// ```
    /// use waitset::BackendKind;
    /// std::env::set_var("WAITSET_BACKEND", "poll");
    /// assert_eq!(BackendKind::default(), BackendKind::Poll);
    /// std::env::set_var("WAITSET_BACKEND", "no-such-backend"); // unknown names are ignored
    /// let k = BackendKind::default();
    /// if cfg!(target_os = "linux") {
    ///     assert_eq!(k, BackendKind::Epoll);
    /// }
    /// ```
    fn default() -> Self {
        if let Some(k) = BackendKind::from_env() {
            return k;
        }
        BackendKind::native()
    }
}

impl BackendKind {
    /// The backend named by the `WAITSET_BACKEND` environment variable (`uring`, `epoll` or
    /// `poll`), if any. The name of a backend this system does not have yields `None`.
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
            "uring" if cfg!(target_os = "linux") => Some(BackendKind::Uring),
            "poll" => Some(BackendKind::Poll),
            _ => None,
        }
    }

    /// The system's first choice, before asking whether it can run.
    pub(crate) const fn preferred() -> BackendKind {
        if cfg!(target_os = "linux") {
            PREFERRED_ON_LINUX
        } else if cfg!(target_os = "android") {
            BackendKind::Epoll
        } else {
            BackendKind::Poll
        }
    }

    /// The backend a set made with the default gets here: the first choice if it can run, else
    /// epoll (asked once per process; with epoll as the first choice, epoll).
    fn native() -> BackendKind {
        static NATIVE: std::sync::OnceLock<BackendKind> = std::sync::OnceLock::new();
        let first = BackendKind::preferred();
        if first != BackendKind::Uring {
            return first; // epoll and poll(2) cannot be refused: nothing to ask
        }
        *NATIVE.get_or_init(|| match Sys::new(first) {
            Ok(_) => first,
            Err(_) if cfg!(any(target_os = "linux", target_os = "android")) => BackendKind::Epoll,
            Err(_) => BackendKind::Poll,
        })
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
            BackendKind::Uring => Capabilities {
                level: true,
                edge: true,
                oneshot: true,
                pollable: false,
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
    /// assert_eq!(BackendKind::Uring.name(), "uring");
    /// // The name round-trips through WAITSET_BACKEND.
    /// std::env::set_var("WAITSET_BACKEND", BackendKind::Poll.name());
    /// assert_eq!(BackendKind::from_env(), Some(BackendKind::Poll));
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            BackendKind::Epoll => "epoll",
            BackendKind::Poll => "poll",
            BackendKind::Uring => "uring",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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
    #[cfg(all(target_os = "linux", not(loom)))]
    Uring(uring::Uring),
    Poll(poll::PollBackend),
    #[cfg(loom)]
    Model(model::ModelBackend),
}

impl Sys {
    /// The backend `requested` (`None`: the default, [`BackendKind::default`]) with a wake
    /// channel for its set: edge-triggered on epoll, messages to the ring on io_uring (edges
    /// too), level-triggered tokens on poll(2) (under loom, the model backend and its channel,
    /// which behaves as the kind's would).
    ///
    /// An explicit request (an argument, or `WAITSET_BACKEND`) for a backend that cannot run
    /// here fails with [`Error::Unavailable`](crate::Error::Unavailable); the default falls back
    /// from io_uring to epoll, and the set's `backend()` tells which one runs.
    pub(crate) fn with_wake_channel(
        requested: Option<BackendKind>,
    ) -> crate::Result<(Sys, wake::WakeChannel)> {
        #[cfg(loom)]
        let (sys, channel) = {
            let edge = requested.unwrap_or_default() != BackendKind::Poll;
            let (b, c) = model::ModelBackend::new(edge);
            (Sys::Model(b), c)
        };
        #[cfg(not(loom))]
        let (sys, channel) = {
            let sys = Sys::resolve(requested)?;
            #[cfg(target_os = "linux")]
            if let Sys::Uring(u) = &sys {
                let channel = wake::WakeChannel::ring(u.wake_channel());
                return Ok((sys, channel));
            }
            let edge = sys.kind() == BackendKind::Epoll;
            let channel = wake::WakeChannel::new(edge)?;
            (sys, channel)
        };
        // epoll has edges: the channel is written, never read; poll(2) has none: tokens.
        let mode = if sys.kind() == BackendKind::Epoll {
            Trigger::Edge
        } else {
            Trigger::Level
        };
        match sys.add(channel.fd(), WAKE_TOKEN, crate::fdrules::IN, mode) {
            Ok(()) => Ok((sys, channel)),
            Err(AddError::Sys(e)) => Err(crate::Error::sys(e)),
            Err(AddError::Refused) => Err(crate::Error::NotSupported("wake channel not pollable")),
        }
    }

    /// The backend `requested`, or the default one with its fallback (see
    /// [`Sys::with_wake_channel`]).
    #[cfg_attr(loom, allow(dead_code))] // loom models build sets with a chosen wake channel
    pub(crate) fn resolve(requested: Option<BackendKind>) -> crate::Result<Sys> {
        match requested.or_else(BackendKind::from_env) {
            Some(kind) => Sys::new(kind),
            None => match Sys::new(BackendKind::preferred()) {
                Err(crate::Error::Unavailable { .. }) => Sys::new(BackendKind::Epoll),
                r => r,
            },
        }
    }

    pub(crate) fn new(kind: BackendKind) -> crate::Result<Sys> {
        match kind {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            BackendKind::Epoll => Ok(Sys::Epoll(epoll::Epoll::new()?)),
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            BackendKind::Epoll => Err(crate::Error::Unavailable {
                backend: kind,
                reason: crate::UnavailableReason::NotImplemented,
            }),
            #[cfg(all(target_os = "linux", not(loom)))]
            BackendKind::Uring => Ok(Sys::Uring(uring::Uring::new()?)),
            #[cfg(not(all(target_os = "linux", not(loom))))]
            BackendKind::Uring => Err(crate::Error::Unavailable {
                backend: kind,
                reason: crate::UnavailableReason::NotImplemented,
            }),
            BackendKind::Poll => Ok(Sys::Poll(poll::PollBackend::new())),
        }
    }

    /// Whether `fd` is one of the backend's own descriptors (the epoll instance; io_uring's ring
    /// and its epoll instance), which are never a caller's.
    pub(crate) fn owns_fd(&self, fd: std::os::fd::RawFd) -> bool {
        use std::os::fd::AsRawFd;
        match self {
            #[cfg(all(target_os = "linux", not(loom)))]
            Sys::Uring(u) => u.owns_fd(fd),
            _ => self.pollable_fd().is_some_and(|own| own.as_raw_fd() == fd),
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
            #[cfg(all(target_os = "linux", not(loom)))]
            Sys::Uring(_) => BackendKind::Uring,
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
            #[cfg(all(target_os = "linux", not(loom)))]
            Sys::Uring($b) => $e,
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
