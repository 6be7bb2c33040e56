//! The POSIX face: [`poll`] and [`ppoll`], faithful to the OpenBSD `poll(2)` manual.
//!
//! | rule | behaviour |
//! |---|---|
//! | `fd < 0` | ignored, its `revents` set to 0 |
//! | closed fd | `POLLNVAL`, counted, the call returns at once even with an infinite timeout |
//! | `revents` | reset on every call; only requested bits plus `ERR`, `HUP`, `NVAL` |
//! | return | the number of entries with non-zero `revents`; 0 on timeout |
//! | timeout | 0 returns at once, [`INFTIM`] (-1) blocks, any other negative value is `EINVAL` |
//! | `nfds` | above `RLIMIT_NOFILE` is `EINVAL`, before anything is allocated |
//! | empty slice | a plain sleep |
//! | `EINTR` | returned, never restarted; `revents` as the kernel left them |
//! | `ppoll` mask | swapped atomically by the kernel (`ppoll`, `epoll_pwait`) |
//! | end of file | normalized: `HUP` never with `OUT`; `IN` with `HUP` when `IN` was asked ([`EofMode`]) |
//!
//! ```
//! use waitset::{poll, PollFd, PollFlags};
//! let (r, w) = rustix::pipe::pipe().unwrap();
//! rustix::io::write(&w, b"x").unwrap();
//! let mut fds = [PollFd::new(&r, PollFlags::IN), PollFd::ignored()];
//! assert_eq!(poll(&mut fds, 1000).unwrap(), 1);
//! assert!(fds[0].revents().contains(PollFlags::IN));
//! ```

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

use bitflags::bitflags;

use crate::fdrules;
use crate::sys::BackendKind;
use crate::{Error, Result};

/// The infinite timeout of [`poll`].
///
/// ```
/// use waitset::{poll, Error, PollFd, PollFlags, INFTIM};
/// let (r, w) = rustix::pipe::pipe().unwrap();
/// rustix::io::write(&w, b"x").unwrap();
/// let mut fds = [PollFd::new(&r, PollFlags::IN)];
/// assert_eq!(poll(&mut fds, INFTIM).unwrap(), 1); // blocks only until something is ready
/// // Any other negative timeout is EINVAL.
/// assert!(matches!(poll(&mut fds, -2), Err(Error::InvalidArgument(_))));
/// ```
pub const INFTIM: i32 = -1;

bitflags! {
    /// The `events` / `revents` bits of a [`PollFd`], with the values of `<poll.h>`.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use waitset::{poll, PollFd, PollFlags};
    /// assert_eq!(PollFlags::IN.bits(), libc::POLLIN); // the values of <poll.h>
    /// let both = PollFlags::from_bits_retain(libc::POLLIN | libc::POLLOUT);
    /// assert_eq!(both, PollFlags::IN | PollFlags::OUT);
    /// // HUP is reported without being asked for (and, normalized, never with OUT).
    /// let (a, b) = UnixStream::pair().unwrap();
    /// drop(b);
    /// let mut fds = [PollFd::new(&a, PollFlags::OUT)];
    /// assert_eq!(poll(&mut fds, 0).unwrap(), 1);
    /// assert_eq!(fds[0].revents(), PollFlags::HUP);
    /// ```
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct PollFlags: i16 {
        /// Data other than high-priority data may be read without blocking.
        const IN = libc::POLLIN;
        /// Normal data may be read without blocking.
        const RDNORM = libc::POLLRDNORM;
        /// Priority data may be read without blocking.
        const RDBAND = libc::POLLRDBAND;
        /// High-priority data may be read without blocking.
        const PRI = libc::POLLPRI;
        /// Normal data may be written without blocking.
        const OUT = libc::POLLOUT;
        /// Same as `OUT`.
        const WRNORM = libc::POLLWRNORM;
        /// Priority data may be written.
        const WRBAND = libc::POLLWRBAND;
        /// An error has occurred (output only).
        const ERR = libc::POLLERR;
        /// The device or peer has hung up (output only).
        const HUP = libc::POLLHUP;
        /// The fd is not open (output only).
        const NVAL = libc::POLLNVAL;
    }
}

/// One entry of a [`poll`] array, laid out exactly like C's `struct pollfd`.
///
/// ```
/// use waitset::{PollFd, PollFlags};
/// let p = PollFd::from_raw(-1, PollFlags::IN);
/// assert_eq!(p.fd(), -1);
/// assert!(p.revents().is_empty());
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollFd {
    pub(crate) fd: RawFd,
    pub(crate) events: PollFlags,
    pub(crate) revents: PollFlags,
}

const _: () = {
    assert!(std::mem::size_of::<PollFd>() == std::mem::size_of::<libc::pollfd>());
    assert!(std::mem::align_of::<PollFd>() == std::mem::align_of::<libc::pollfd>());
    assert!(std::mem::offset_of!(PollFd, events) == std::mem::offset_of!(libc::pollfd, events));
    assert!(std::mem::offset_of!(PollFd, revents) == std::mem::offset_of!(libc::pollfd, revents));
};

impl PollFd {
    /// An entry watching `fd` for `events`. The caller keeps `fd` open for the duration of the call
    /// (if it does not, the entry reports `NVAL`, as the C interface does).
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use waitset::{poll, PollFd, PollFlags};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// let mut fds = [PollFd::new(&r, PollFlags::IN)];
    /// assert_eq!((fds[0].fd(), fds[0].events()), (r.as_raw_fd(), PollFlags::IN));
    /// assert_eq!(poll(&mut fds, 0).unwrap(), 0);
    /// rustix::io::write(&w, b"x").unwrap();
    /// assert_eq!(poll(&mut fds, 0).unwrap(), 1);
    /// ```
    pub fn new(fd: &impl AsFd, events: PollFlags) -> PollFd {
        PollFd {
            fd: fd.as_fd().as_raw_fd(),
            events,
            revents: PollFlags::empty(),
        }
    }
    /// An entry for a raw fd number; negative numbers are ignored by [`poll`].
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use waitset::{poll, PollFd, PollFlags, INFTIM};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// rustix::io::write(&w, b"x").unwrap();
    /// let mut fds = [
    ///     PollFd::from_raw(-1, PollFlags::IN),            // ignored
    ///     PollFd::from_raw(r.as_raw_fd(), PollFlags::IN), // ready
    ///     PollFd::from_raw(i32::MAX, PollFlags::IN),      // never an open fd: NVAL
    /// ];
    /// assert_eq!(poll(&mut fds, INFTIM).unwrap(), 2);
    /// assert!(fds[0].revents().is_empty());
    /// assert_eq!(fds[1].revents(), PollFlags::IN);
    /// assert_eq!(fds[2].revents(), PollFlags::NVAL);
    /// ```
    pub const fn from_raw(fd: RawFd, events: PollFlags) -> PollFd {
        PollFd {
            fd,
            events,
            revents: PollFlags::empty(),
        }
    }
    /// An ignored entry (fd -1).
    ///
    /// ```
    /// use waitset::{poll, PollFd, PollFlags};
    /// let mut fds = [PollFd::ignored()];
    /// assert_eq!(fds[0].fd(), -1);
    /// fds[0].set_revents(PollFlags::IN); // stale bits
    /// assert_eq!(poll(&mut fds, 0).unwrap(), 0);
    /// assert!(fds[0].revents().is_empty()); // cleared, as for any fd < 0
    /// ```
    pub const fn ignored() -> PollFd {
        PollFd::from_raw(-1, PollFlags::empty())
    }
    /// The fd number.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use waitset::{PollFd, PollFlags};
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// assert_eq!(PollFd::new(&r, PollFlags::IN).fd(), r.as_raw_fd());
    /// assert_eq!(PollFd::ignored().fd(), -1);
    /// ```
    pub const fn fd(&self) -> RawFd {
        self.fd
    }
    /// The requested events.
    ///
    /// ```
    /// use waitset::{poll, PollFd, PollFlags};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// drop(w);
    /// let mut fds = [PollFd::new(&r, PollFlags::IN)];
    /// poll(&mut fds, 0).unwrap();
    /// assert_eq!(fds[0].revents(), PollFlags::IN | PollFlags::HUP);
    /// assert_eq!(fds[0].events(), PollFlags::IN); // a call never changes the request
    /// ```
    pub const fn events(&self) -> PollFlags {
        self.events
    }
    /// The returned events of the last call.
    ///
    /// ```
    /// use waitset::{poll, PollFd, PollFlags};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// rustix::io::write(&w, b"x").unwrap();
    /// let mut fds = [PollFd::new(&r, PollFlags::IN)];
    /// assert_eq!(poll(&mut fds, 0).unwrap(), 1);
    /// assert_eq!(fds[0].revents(), PollFlags::IN);
    /// rustix::io::read(&r, &mut [0u8; 1]).unwrap();
    /// assert_eq!(poll(&mut fds, 0).unwrap(), 0);
    /// assert!(fds[0].revents().is_empty()); // reset by every call
    /// ```
    pub const fn revents(&self) -> PollFlags {
        self.revents
    }
    /// Change the fd number (a negative one makes the entry ignored).
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use waitset::{poll, PollFd, PollFlags};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// rustix::io::write(&w, b"x").unwrap();
    /// let mut fds = [PollFd::new(&r, PollFlags::IN)];
    /// fds[0].set_fd(-1); // ignored from now on
    /// assert_eq!(poll(&mut fds, 0).unwrap(), 0);
    /// fds[0].set_fd(r.as_raw_fd());
    /// assert_eq!(poll(&mut fds, 0).unwrap(), 1);
    /// ```
    pub fn set_fd(&mut self, fd: RawFd) {
        self.fd = fd;
    }
    /// Change the requested events.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use waitset::{poll, PollFd, PollFlags};
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let mut fds = [PollFd::new(&a, PollFlags::IN)];
    /// assert_eq!(poll(&mut fds, 0).unwrap(), 0); // nothing to read
    /// fds[0].set_events(PollFlags::OUT);
    /// assert_eq!(poll(&mut fds, 0).unwrap(), 1); // but room to write
    /// assert_eq!(fds[0].revents(), PollFlags::OUT);
    /// ```
    pub fn set_events(&mut self, events: PollFlags) {
        self.events = events;
    }
    /// Set the returned events, e.g. to clear them before a call of your own.
    ///
    /// ```
    /// use waitset::{poll, PollFd, PollFlags};
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let mut fds = [PollFd::new(&r, PollFlags::IN)];
    /// fds[0].set_revents(PollFlags::ERR);
    /// assert_eq!(fds[0].revents(), PollFlags::ERR);
    /// fds[0].set_revents(PollFlags::empty());
    /// assert!(fds[0].revents().is_empty());
    /// // poll itself always resets revents first.
    /// fds[0].set_revents(PollFlags::ERR);
    /// assert_eq!(poll(&mut fds, 0).unwrap(), 0);
    /// assert!(fds[0].revents().is_empty());
    /// ```
    pub fn set_revents(&mut self, revents: PollFlags) {
        self.revents = revents;
    }
}

/// A set of signals for [`ppoll`]'s atomic mask.
///
/// ```
/// use waitset::SigSet;
/// let mut s = SigSet::empty();
/// s.add(libc::SIGUSR1).unwrap();
/// assert!(s.contains(libc::SIGUSR1));
/// assert!(s.add(100_000).is_err());
/// ```
#[derive(Clone, Copy)]
pub struct SigSet(libc::sigset_t);

impl SigSet {
    /// The empty set.
    ///
    /// ```
    /// use waitset::SigSet;
    /// let s = SigSet::empty();
    /// assert!(!s.contains(libc::SIGINT) && !s.contains(libc::SIGUSR1));
    /// assert_eq!(format!("{s:?}"), "{}");
    /// ```
    pub fn empty() -> SigSet {
        let mut s = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the whole set it is given.
        unsafe {
            libc::sigemptyset(s.as_mut_ptr());
            SigSet(s.assume_init())
        }
    }
    /// The set of all signals.
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::{ppoll, PollFd, PollFlags, SigSet};
    /// let all = SigSet::full();
    /// assert!(all.contains(libc::SIGINT) && all.contains(libc::SIGUSR1));
    /// // Wait with every signal blocked: no signal handler runs during this wait.
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let mut fds = [PollFd::new(&r, PollFlags::IN)];
    /// assert_eq!(ppoll(&mut fds, Some(Duration::from_millis(1)), Some(&all)).unwrap(), 0);
    /// ```
    pub fn full() -> SigSet {
        let mut s = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigfillset initialises the whole set it is given.
        unsafe {
            libc::sigfillset(s.as_mut_ptr());
            SigSet(s.assume_init())
        }
    }
    /// The calling thread's current signal mask.
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::{ppoll, PollFd, PollFlags, SigSet};
    /// let before = SigSet::current().unwrap();
    /// // Wait with SIGUSR1 blocked on top of the current mask...
    /// let mut mask = before;
    /// mask.add(libc::SIGUSR1).unwrap();
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let mut fds = [PollFd::new(&r, PollFlags::IN)];
    /// ppoll(&mut fds, Some(Duration::from_millis(1)), Some(&mask)).unwrap();
    /// // ...and the kernel has put the thread's own mask back when the wait ends.
    /// assert_eq!(format!("{:?}", SigSet::current().unwrap()), format!("{before:?}"));
    /// ```
    pub fn current() -> Result<SigSet> {
        let mut s = SigSet::empty();
        // SAFETY: a null new-set pointer only reads the mask into `s`, a valid sigset_t.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut s.0) };
        if r != 0 {
            return Err(Error::Io(std::io::Error::from_raw_os_error(r)));
        }
        Ok(s)
    }
    /// Add `signal`; an invalid signal number is [`Error::InvalidArgument`].
    ///
    /// ```
    /// use waitset::{Error, SigSet};
    /// let mut s = SigSet::empty();
    /// s.add(libc::SIGUSR1).unwrap();
    /// s.add(libc::SIGUSR1).unwrap(); // adding twice is harmless
    /// assert!(s.contains(libc::SIGUSR1));
    /// assert!(matches!(s.add(0), Err(Error::InvalidArgument(_))));
    /// assert_eq!(format!("{s:?}"), format!("{{{}}}", libc::SIGUSR1)); // unchanged by the error
    /// ```
    pub fn add(&mut self, signal: i32) -> Result<()> {
        // SAFETY: self.0 is an initialised sigset_t; sigaddset validates the number.
        if unsafe { libc::sigaddset(&mut self.0, signal) } != 0 {
            return Err(Error::InvalidArgument("signal number"));
        }
        Ok(())
    }
    /// Remove `signal`; an invalid signal number is [`Error::InvalidArgument`].
    ///
    /// ```
    /// use waitset::{Error, SigSet};
    /// let mut s = SigSet::full();
    /// s.remove(libc::SIGUSR1).unwrap();
    /// assert!(!s.contains(libc::SIGUSR1));
    /// assert!(s.contains(libc::SIGUSR2));
    /// assert!(matches!(s.remove(-1), Err(Error::InvalidArgument(_))));
    /// ```
    pub fn remove(&mut self, signal: i32) -> Result<()> {
        // SAFETY: self.0 is an initialised sigset_t; sigdelset validates the number.
        if unsafe { libc::sigdelset(&mut self.0, signal) } != 0 {
            return Err(Error::InvalidArgument("signal number"));
        }
        Ok(())
    }
    /// Whether `signal` is in the set (false for an invalid number).
    ///
    /// ```
    /// use waitset::SigSet;
    /// let full = SigSet::full();
    /// assert!(full.contains(libc::SIGTERM));
    /// assert!(!SigSet::empty().contains(libc::SIGTERM));
    /// assert!(!full.contains(0) && !full.contains(100_000)); // invalid numbers: false
    /// ```
    pub fn contains(&self, signal: i32) -> bool {
        // SAFETY: self.0 is an initialised sigset_t; sigismember validates the number.
        unsafe { libc::sigismember(&self.0, signal) == 1 }
    }
    pub(crate) fn raw(&self) -> &libc::sigset_t {
        &self.0
    }

    /// The set a C `sigset_t` holds, all of it (including signals a C library reserves for
    /// itself, which the per-signal calls refuse): for callers that receive a mask from C.
    ///
    /// ```
    /// use waitset::SigSet;
    /// let mut raw = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    /// // SAFETY: sigfillset initialises the whole set.
    /// let raw = unsafe {
    ///     libc::sigfillset(raw.as_mut_ptr());
    ///     raw.assume_init()
    /// };
    /// let s = SigSet::from_libc(raw);
    /// assert!(s.contains(libc::SIGUSR1));
    /// ```
    pub fn from_libc(set: libc::sigset_t) -> SigSet {
        SigSet(set)
    }
}

/// Formats the set as the signal numbers (1 to 64) it contains, in ascending order.
///
/// ```
/// let mut s = waitset::SigSet::empty();
/// s.add(libc::SIGUSR2).unwrap();
/// s.add(libc::SIGUSR1).unwrap();
/// assert_eq!(format!("{s:?}"), format!("{{{}, {}}}", libc::SIGUSR1, libc::SIGUSR2));
/// ```
impl std::fmt::Debug for SigSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries((1..65).filter(|&s| self.contains(s)))
            .finish()
    }
}

/// How end of file and hang-up are reported.
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use waitset::{EofMode, PollFd, PollFlags, PollOptions};
/// let (a, b) = UnixStream::pair().unwrap();
/// drop(b); // the peer hangs up
/// let ask = PollFlags::IN | PollFlags::OUT;
/// let mut norm = [PollFd::new(&a, ask)];
/// PollOptions::new().eof(EofMode::Normalized).poll(&mut norm, 0).unwrap();
/// assert_eq!(norm[0].revents(), PollFlags::IN | PollFlags::HUP); // never HUP with OUT
/// let mut raw = [PollFd::new(&a, ask)];
/// PollOptions::new().eof(EofMode::Raw).poll(&mut raw, 0).unwrap();
/// if cfg!(target_os = "linux") {
///     assert_eq!(raw[0].revents(), PollFlags::IN | PollFlags::OUT | PollFlags::HUP);
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EofMode {
    /// Kernels disagree on EOF bits; this mode makes them agree: when `HUP` is set, `OUT`,
    /// `WRNORM` and `WRBAND` are cleared, and `IN` / `RDNORM` are set if they were requested
    /// (a read will not block: it returns 0).
    #[default]
    Normalized,
    /// The kernel's bits, unchanged.
    Raw,
}

/// Options of the POSIX face: how EOF is reported, and which backend a [`PollSet`](crate::PollSet)
/// built with them keeps its interest in. [`poll`] and [`ppoll`] themselves are always the
/// kernel's `poll(2)` / `ppoll(2)`, whatever the backend.
///
/// ```
/// use waitset::{BackendKind, EofMode, PollOptions};
/// let opts = PollOptions::new().backend(BackendKind::Poll).eof(EofMode::Raw);
/// let mut none: [waitset::PollFd; 0] = [];
/// assert_eq!(opts.poll(&mut none, 0).unwrap(), 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PollOptions {
    backend: Option<BackendKind>,
    pub(crate) eof: EofMode,
}

impl PollOptions {
    /// The defaults: the backend of [`BackendKind::default`], normalized EOF.
    ///
    /// ```
    /// use waitset::{BackendKind, EofMode, PollOptions};
    /// let opts = PollOptions::new();
    /// assert_eq!(opts, PollOptions::default());
    /// assert_eq!(opts, PollOptions::new().eof(EofMode::Normalized));
    /// assert_eq!(opts.backend_kind(), BackendKind::default());
    /// ```
    pub const fn new() -> PollOptions {
        PollOptions {
            backend: None,
            eof: EofMode::Normalized,
        }
    }
    /// Keep a [`PollSet`](crate::PollSet)'s interest in this backend (a stateless `poll` call
    /// is served by `poll(2)` on every backend).
    ///
    /// ```
    /// use waitset::{BackendKind, PollFd, PollFlags, PollOptions};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// rustix::io::write(&w, b"x").unwrap();
    /// // The same call served by each backend gives the same answer.
    /// for kind in [BackendKind::default(), BackendKind::Poll] {
    ///     let opts = PollOptions::new().backend(kind);
    ///     assert_eq!(opts.backend_kind(), kind);
    ///     let mut fds = [PollFd::new(&r, PollFlags::IN)];
    ///     assert_eq!(opts.poll(&mut fds, 0).unwrap(), 1);
    /// }
    /// ```
    pub const fn backend(mut self, kind: BackendKind) -> PollOptions {
        self.backend = Some(kind);
        self
    }
    /// Report EOF this way.
    ///
    /// ```
    /// use waitset::{EofMode, PollFd, PollFlags, PollOptions};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// drop(w); // end of file on `r`
    /// let mut fds = [PollFd::new(&r, PollFlags::IN)];
    /// PollOptions::new().eof(EofMode::Raw).poll(&mut fds, 0).unwrap();
    /// if cfg!(target_os = "linux") {
    ///     assert_eq!(fds[0].revents(), PollFlags::HUP); // Linux's own bits: no IN
    /// }
    /// PollOptions::new().eof(EofMode::Normalized).poll(&mut fds, 0).unwrap();
    /// assert_eq!(fds[0].revents(), PollFlags::IN | PollFlags::HUP);
    /// assert_eq!(rustix::io::read(&r, &mut [0u8; 1]).unwrap(), 0); // a read does not block
    /// ```
    pub const fn eof(mut self, mode: EofMode) -> PollOptions {
        self.eof = mode;
        self
    }
    /// The backend these options use.
    ///
    /// ```
    /// use waitset::{BackendKind, PollOptions};
    /// // Unless chosen, the process default (WAITSET_BACKEND, else epoll where it exists).
    /// assert_eq!(PollOptions::new().backend_kind(), BackendKind::default());
    /// assert_eq!(PollOptions::new().backend(BackendKind::Poll).backend_kind(), BackendKind::Poll);
    /// ```
    pub fn backend_kind(&self) -> BackendKind {
        self.backend.unwrap_or_else(default_backend)
    }

    /// [`poll`] with these options.
    ///
    /// ```
    /// use waitset::{BackendKind, Error, PollFd, PollFlags, PollOptions, INFTIM};
    /// let opts = PollOptions::new().backend(BackendKind::Poll);
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// let mut fds = [PollFd::new(&r, PollFlags::IN)];
    /// assert_eq!(opts.poll(&mut fds, 0).unwrap(), 0); // 0 returns at once
    /// assert!(matches!(opts.poll(&mut fds, -7), Err(Error::InvalidArgument(_))));
    /// rustix::io::write(&w, b"x").unwrap();
    /// assert_eq!(opts.poll(&mut fds, INFTIM).unwrap(), 1);
    /// ```
    pub fn poll(&self, fds: &mut [PollFd], timeout_ms: i32) -> Result<usize> {
        let timeout = match timeout_ms {
            INFTIM => None,
            t if t < 0 => {
                return Err(
                    Error::InvalidArgument("negative timeout other than INFTIM").traced("poll")
                )
            }
            t => Some(Duration::from_millis(t as u64)),
        };
        self.run(fds, timeout, None)
    }

    /// [`ppoll`] with these options.
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::{PollFd, PollFlags, PollOptions, SigSet};
    /// let opts = PollOptions::new();
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// let mut fds = [PollFd::new(&r, PollFlags::IN)];
    /// // A 100 µs timeout (ppoll takes a Duration, not milliseconds); nothing arrives.
    /// assert_eq!(opts.ppoll(&mut fds, Some(Duration::from_micros(100)), None).unwrap(), 0);
    /// rustix::io::write(&w, b"x").unwrap();
    /// // No timeout: blocks until ready, with every signal blocked meanwhile.
    /// assert_eq!(opts.ppoll(&mut fds, None, Some(&SigSet::full())).unwrap(), 1);
    /// ```
    pub fn ppoll(
        &self,
        fds: &mut [PollFd],
        timeout: Option<Duration>,
        sigmask: Option<&SigSet>,
    ) -> Result<usize> {
        self.run(fds, timeout, sigmask)
    }

    fn run(
        &self,
        fds: &mut [PollFd],
        timeout: Option<Duration>,
        sigmask: Option<&SigSet>,
    ) -> Result<usize> {
        // Always the kernel's poll(2)/ppoll(2): the caller's array goes to the kernel as it is
        // (the kernel checks nfds against RLIMIT_NOFILE before it allocates), whatever backend
        // the options name: a stateless call gains nothing from epoll, and needs no fd of its
        // own.
        crate::sys::poll::raw_poll(as_raw(fds), timeout, sigmask.map(SigSet::raw))
            .map_err(|e| Error::sys(e).traced("poll"))?;
        Ok(finish(fds, self.eof))
    }
}

/// Apply the EOF rule to every entry (unless raw) and count the entries with non-zero
/// `revents`: the return value of `poll`.
pub(crate) fn finish(fds: &mut [PollFd], eof: EofMode) -> usize {
    let mut n = 0;
    for p in fds.iter_mut() {
        if eof == EofMode::Normalized && !p.revents.is_empty() {
            p.revents = PollFlags::from_bits_retain(fdrules::normalize_eof(
                p.events.bits() as u16 as u32,
                p.revents.bits() as u16 as u32,
            ) as u16 as i16);
        }
        n += usize::from(!p.revents.is_empty());
    }
    n
}

fn default_backend() -> BackendKind {
    static KIND: std::sync::OnceLock<BackendKind> = std::sync::OnceLock::new();
    *KIND.get_or_init(BackendKind::default)
}

/// Wait for readiness on `fds` for up to `timeout_ms` milliseconds ([`INFTIM`] blocks).
///
/// Returns the number of entries with non-zero `revents`, following every rule of the OpenBSD
/// `poll(2)` manual (`fd < 0` ignored, `NVAL` for a closed fd, `revents` reset on every call, 0 on
/// timeout, `EINTR` returned and never restarted). Served by the kernel's `poll(2)` on every
/// backend: it needs no descriptor of its own and keeps no state between calls.
///
/// ```
/// use waitset::{poll, Error, PollFd, PollFlags};
/// let (r, w) = rustix::pipe::pipe().unwrap();
/// let mut fds = [PollFd::new(&r, PollFlags::IN), PollFd::new(&w, PollFlags::OUT)];
/// assert_eq!(poll(&mut fds, 10).unwrap(), 1); // only the write end is ready
/// assert_eq!(fds[1].revents(), PollFlags::OUT);
/// assert!(matches!(poll(&mut fds, -5), Err(Error::InvalidArgument(_))));
/// assert_eq!(poll(&mut [], 1).unwrap(), 0); // an empty slice is a 1 ms sleep
/// ```
pub fn poll(fds: &mut [PollFd], timeout_ms: i32) -> Result<usize> {
    PollOptions::new().poll(fds, timeout_ms)
}

/// Like [`poll`], with a nanosecond timeout (`None` blocks) and a signal mask that the kernel
/// installs atomically for the duration of the wait.
///
/// ```
/// use std::time::Duration;
/// let mut none: [waitset::PollFd; 0] = [];
/// // An empty set is a plain sleep.
/// assert_eq!(waitset::ppoll(&mut none, Some(Duration::from_millis(1)), None).unwrap(), 0);
/// ```
pub fn ppoll(
    fds: &mut [PollFd],
    timeout: Option<Duration>,
    sigmask: Option<&SigSet>,
) -> Result<usize> {
    PollOptions::new().ppoll(fds, timeout, sigmask)
}

/// The caller's array as the kernel's `struct pollfd` array.
pub(crate) fn as_raw(fds: &mut [PollFd]) -> &mut [libc::pollfd] {
    // SAFETY: PollFd is repr(C) with the exact size, alignment and field offsets of
    // libc::pollfd (checked at compile time above), and PollFlags is repr(transparent) over i16.
    unsafe { std::slice::from_raw_parts_mut(fds.as_mut_ptr().cast::<libc::pollfd>(), fds.len()) }
}
