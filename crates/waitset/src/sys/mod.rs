//! The kernel interfaces behind the engine: one internal [`Backend`] trait, one file per kernel
//! interface. The faces never talk to a kernel readiness API directly; they go through a
//! [`Sys`], which dispatches statically to the chosen backend.
//!
//! Tokens are opaque `u64`s chosen by the caller (the WaitSet packs an index and a generation
//! into them). Regular files and other descriptors that the kernel's readiness API refuses are
//! reported back as [`AddError::NotPollable`], so the caller can treat them as always ready.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use crate::Signals;

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) mod epoll;
pub(crate) mod poll;

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
            },
            BackendKind::Poll => Capabilities {
                level: true,
                edge: false,
                oneshot: true,
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
/// use waitset::{BackendKind, Error, Event, Signals, Source, Trigger, WaitSet};
/// let set = WaitSet::builder().backend(BackendKind::Poll).build().unwrap();
/// let caps = set.backend().capabilities();
/// assert!(caps.level && caps.oneshot && !caps.edge);
/// let (r, _w) = rustix::pipe::pipe().unwrap();
/// let e = set.add_with(1, Source::fd(&r), Signals::READABLE, Trigger::Edge).unwrap_err();
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

/// One readiness report from a backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ready {
    pub token: u64,
    pub signals: Signals,
    /// The kernel said the descriptor hung up or failed for writing (HUP or ERR).
    pub hup: bool,
}

/// Why a registration failed.
#[derive(Debug)]
pub(crate) enum AddError {
    /// The kernel readiness API does not support this kind of file (regular files, /dev/null).
    NotPollable,
    /// Any other failure.
    Io(io::Error),
}

/// The internal interface every backend implements.
pub(crate) trait Backend: Send + Sync {
    /// Start watching `fd` for `interest` under `token`.
    fn add(
        &self,
        fd: RawFd,
        token: u64,
        interest: Signals,
        trigger: Trigger,
    ) -> Result<(), AddError>;
    /// Change the interest, token or trigger of a watched fd (also re-arms a fired one-shot).
    fn modify(&self, fd: RawFd, token: u64, interest: Signals, trigger: Trigger) -> io::Result<()>;
    /// Stop watching `fd`.
    fn delete(&self, fd: RawFd) -> io::Result<()>;
    /// Wait up to `timeout` (`None`: forever) for at most `max` reports, then hand them to `f`
    /// straight from the kernel's buffer, with no backend lock held (so `f` may lock the set).
    fn wait<R>(
        &self,
        max: usize,
        timeout: Option<Duration>,
        f: impl FnOnce(&mut dyn Iterator<Item = Ready>) -> R,
    ) -> io::Result<R>;
    /// Whether a thread blocked in [`Backend::wait`] must be woken to see a registration change.
    fn change_needs_wake(&self) -> bool;
}

/// The backend of one set, dispatched statically.
pub(crate) enum Sys {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Epoll(epoll::Epoll),
    Poll(poll::PollBackend),
}

impl Sys {
    pub(crate) fn new(kind: BackendKind) -> io::Result<Sys> {
        match kind {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            BackendKind::Epoll => Ok(Sys::Epoll(epoll::Epoll::new()?)),
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            BackendKind::Epoll => Err(io::Error::from(io::ErrorKind::Unsupported)),
            BackendKind::Poll => Ok(Sys::Poll(poll::PollBackend::new())),
        }
    }

    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Sys::Epoll(_) => BackendKind::Epoll,
            Sys::Poll(_) => BackendKind::Poll,
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $b:ident => $e:expr) => {
        match $self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Sys::Epoll($b) => $e,
            Sys::Poll($b) => $e,
        }
    };
}

impl Backend for Sys {
    #[inline]
    fn add(
        &self,
        fd: RawFd,
        token: u64,
        interest: Signals,
        trigger: Trigger,
    ) -> Result<(), AddError> {
        dispatch!(self, b => b.add(fd, token, interest, trigger))
    }
    #[inline]
    fn modify(&self, fd: RawFd, token: u64, interest: Signals, trigger: Trigger) -> io::Result<()> {
        dispatch!(self, b => b.modify(fd, token, interest, trigger))
    }
    #[inline]
    fn delete(&self, fd: RawFd) -> io::Result<()> {
        dispatch!(self, b => b.delete(fd))
    }
    #[inline]
    fn wait<R>(
        &self,
        max: usize,
        timeout: Option<Duration>,
        f: impl FnOnce(&mut dyn Iterator<Item = Ready>) -> R,
    ) -> io::Result<R> {
        dispatch!(self, b => b.wait(max, timeout, f))
    }
    #[inline]
    fn change_needs_wake(&self) -> bool {
        dispatch!(self, b => b.change_needs_wake())
    }
}

/// Borrow a raw fd for the duration of one syscall.
///
/// The engine stores raw fds of registrations; callers promise (documented on `WaitSet::add`) to
/// remove an entry before closing its fd, and a closed fd only makes the syscall fail with EBADF.
#[inline]
pub(crate) fn borrow(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: the fd is only used for the duration of a syscall that reports EBADF if it has been
    // closed; it is never closed through this borrow and never outlives that syscall.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}
