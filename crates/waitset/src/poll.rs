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

use std::cell::RefCell;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use bitflags::bitflags;

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
    fd: RawFd,
    events: PollFlags,
    revents: PollFlags,
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

/// Options of the POSIX face: which backend serves the call and how EOF is reported.
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
    eof: EofMode,
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
    /// Serve calls with this backend.
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
        let r = match self.backend_kind() {
            BackendKind::Poll => poll_direct(fds, timeout, sigmask),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            BackendKind::Epoll => epoll_path::poll(fds, timeout, sigmask),
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            BackendKind::Epoll => Err(Error::NotSupported("epoll")),
        };
        match r {
            Ok(_) => {
                let mut n = 0;
                for p in fds.iter_mut() {
                    if self.eof == EofMode::Normalized {
                        normalize(p);
                    }
                    n += usize::from(!p.revents.is_empty());
                }
                Ok(n)
            }
            Err(e) => Err(e.traced("poll")),
        }
    }
}

fn default_backend() -> BackendKind {
    static KIND: std::sync::OnceLock<BackendKind> = std::sync::OnceLock::new();
    *KIND.get_or_init(BackendKind::default)
}

/// Normalize EOF bits (see [`EofMode::Normalized`]).
fn normalize(p: &mut PollFd) {
    if p.revents.contains(PollFlags::HUP) {
        p.revents
            .remove(PollFlags::OUT | PollFlags::WRNORM | PollFlags::WRBAND);
        p.revents |= p.events & (PollFlags::IN | PollFlags::RDNORM);
    }
}

/// Wait for readiness on `fds` for up to `timeout_ms` milliseconds ([`INFTIM`] blocks).
///
/// Returns the number of entries with non-zero `revents`, following every rule of the OpenBSD
/// `poll(2)` manual (`fd < 0` ignored, `NVAL` for a closed fd, `revents` reset on every call, 0 on
/// timeout, `EINTR` returned and never restarted); the backend is [`BackendKind::default`]
/// (`WAITSET_BACKEND` overrides it).
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

fn rlimit_nofile() -> u64 {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX)
}

fn as_raw(fds: &mut [PollFd]) -> &mut [libc::pollfd] {
    // SAFETY: PollFd is repr(C) with the exact size, alignment and field offsets of
    // libc::pollfd (checked at compile time above), and PollFlags is repr(transparent) over i16.
    unsafe { std::slice::from_raw_parts_mut(fds.as_mut_ptr().cast::<libc::pollfd>(), fds.len()) }
}

/// The poll(2) backend: the caller's array goes to the kernel as it is (the kernel checks nfds
/// against RLIMIT_NOFILE before it allocates).
fn poll_direct(
    fds: &mut [PollFd],
    timeout: Option<Duration>,
    sigmask: Option<&SigSet>,
) -> Result<usize> {
    crate::sys::poll::raw_poll(as_raw(fds), timeout, sigmask.map(SigSet::raw)).map_err(io_to_error)
}

fn io_to_error(e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EINTR) => Error::Interrupted,
        Some(libc::EINVAL) => Error::InvalidArgument("nfds exceeds RLIMIT_NOFILE or bad timeout"),
        Some(libc::EFAULT) => Error::Fault,
        _ => Error::Io(e),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod epoll_path {
    //! poll() served by epoll: a thread-local epoll instance; each call registers the entries,
    //! waits once, and deregisters them. Costs two `epoll_ctl` per fd per call, which is why the
    //! persistent [`WaitSet`](crate::WaitSet) exists.

    use super::*;
    use rustix::event::epoll::{self, EventData, EventFlags};
    use rustix::io::Errno;

    const NONE: u32 = u32::MAX;
    const ALWAYS: u32 = u32::MAX - 1;

    #[derive(Default)]
    struct Scratch {
        ep: Option<OwnedFd>,
        /// The fork generation `ep` was created in. A child after fork() inherits the fd, which
        /// still names the parent's epoll instance: sharing it, each process's cleanup would
        /// delete the other's registrations, so the child makes its own.
        fork_gen: u64,
        /// Per entry: NONE (not registered), ALWAYS (not pollable: always ready), or the index of
        /// the entry that holds the registration for this fd (itself for the first one).
        owner: Vec<u32>,
        /// Per entry: the union of interests registered for this fd, when it is the owner.
        interest: Vec<u32>,
        /// Per entry: the raw kernel bits for this fd, when it is the owner.
        raw: Vec<u32>,
        events: Vec<epoll::Event>,
    }

    static FORK_GEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

    extern "C" fn on_fork_child() {
        FORK_GEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many times this process image has been forked into (0 in the original process):
    /// an atomic load, where getpid() would be a syscall on every call.
    fn fork_generation() -> u64 {
        static REGISTER: std::sync::Once = std::sync::Once::new();
        REGISTER.call_once(|| {
            // SAFETY: the handler only increments an atomic, which is async-signal-safe as a
            // post-fork child handler must be; registration happens once per process.
            unsafe { libc::pthread_atfork(None, None, Some(on_fork_child)) };
        });
        FORK_GEN.load(std::sync::atomic::Ordering::Relaxed)
    }

    thread_local! {
        static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    }

    pub(super) fn poll(
        fds: &mut [PollFd],
        timeout: Option<Duration>,
        sigmask: Option<&SigSet>,
    ) -> Result<usize> {
        if fds.len() as u64 > rlimit_nofile() {
            return Err(Error::InvalidArgument("nfds exceeds RLIMIT_NOFILE"));
        }
        if fds.is_empty() {
            return super::poll_direct(fds, timeout, sigmask);
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => run(&mut s, fds, timeout, sigmask).map(|()| 0),
            // Re-entered (from a signal handler): use a private instance.
            Err(_) => run(&mut Scratch::default(), fds, timeout, sigmask).map(|()| 0),
        })
    }

    fn run(
        s: &mut Scratch,
        fds: &mut [PollFd],
        timeout: Option<Duration>,
        sigmask: Option<&SigSet>,
    ) -> Result<()> {
        let gen = fork_generation();
        if s.ep.is_none() || s.fork_gen != gen {
            s.ep = Some(epoll::create(epoll::CreateFlags::CLOEXEC)?);
            s.fork_gen = gen;
        }
        let Scratch {
            ep,
            fork_gen: _,
            owner,
            interest,
            raw,
            events,
        } = s;
        let ep = ep.as_ref().expect("created above");
        owner.clear();
        interest.clear();
        raw.clear();
        owner.resize(fds.len(), NONE);
        interest.resize(fds.len(), 0);
        raw.resize(fds.len(), 0);
        let mut registered = 0usize;
        let mut immediate = false;
        let mut result = Ok(());
        for i in 0..fds.len() {
            fds[i].revents = PollFlags::empty();
            let fd = fds[i].fd;
            if fd < 0 {
                continue;
            }
            let want = fds[i].events.bits() as u16 as u32;
            let flags = EventFlags::from_bits_retain(want);
            match epoll::add(
                ep,
                crate::sys::borrow(fd),
                EventData::new_u64(i as u64),
                flags,
            ) {
                Ok(()) => {
                    owner[i] = i as u32;
                    interest[i] = want;
                    registered += 1;
                }
                Err(Errno::BADF) => {
                    fds[i].revents = PollFlags::NVAL;
                    immediate = true;
                }
                Err(Errno::PERM) => {
                    // Regular files and the like: poll(2) reports them always ready.
                    owner[i] = ALWAYS;
                    immediate = true;
                }
                Err(Errno::EXIST) => {
                    match (0..i).find(|&j| fds[j].fd == fd && owner[j] != NONE) {
                        Some(j) => {
                            let o = owner[j];
                            owner[i] = o;
                            if o != ALWAYS {
                                let o = o as usize;
                                interest[o] |= want;
                                let f = EventFlags::from_bits_retain(interest[o]);
                                if let Err(e) = epoll::modify(
                                    ep,
                                    crate::sys::borrow(fd),
                                    EventData::new_u64(o as u64),
                                    f,
                                ) {
                                    result = Err(e.into());
                                    break;
                                }
                            }
                        }
                        None => {
                            // A registration left over from an interrupted earlier call: reuse it.
                            if let Err(e) = epoll::modify(
                                ep,
                                crate::sys::borrow(fd),
                                EventData::new_u64(i as u64),
                                flags,
                            ) {
                                result = Err(e.into());
                                break;
                            }
                            owner[i] = i as u32;
                            interest[i] = want;
                            registered += 1;
                        }
                    }
                }
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
        }
        if result.is_ok() {
            let t = if immediate {
                Some(Duration::ZERO)
            } else {
                timeout
            };
            events.clear();
            events.reserve(registered.max(1));
            result = wait(ep, events, registered.max(1), t, sigmask);
            if let Ok(()) = result {
                for ev in events.iter() {
                    let i = ev.data.u64() as usize;
                    if let Some(r) = raw.get_mut(i) {
                        let f = ev.flags;
                        *r = f.bits();
                    }
                }
            }
        }
        // Deregister everything this call registered, whatever happened.
        for i in 0..fds.len() {
            if owner[i] == i as u32 {
                let _ = epoll::delete(ep, crate::sys::borrow(fds[i].fd));
            }
        }
        result?;
        for i in 0..fds.len() {
            let o = owner[i];
            let bits = match o {
                NONE => continue,
                ALWAYS => (fds[i].events
                    & (PollFlags::IN | PollFlags::RDNORM | PollFlags::OUT | PollFlags::WRNORM))
                    .bits(),
                o => {
                    let r = raw[o as usize] as u16 as i16;
                    r & (fds[i].events | PollFlags::ERR | PollFlags::HUP).bits()
                }
            };
            fds[i].revents = PollFlags::from_bits_retain(bits);
        }
        Ok(())
    }

    fn wait(
        ep: &OwnedFd,
        events: &mut Vec<epoll::Event>,
        max: usize,
        timeout: Option<Duration>,
        sigmask: Option<&SigSet>,
    ) -> Result<()> {
        match sigmask {
            None => {
                let ts = timeout.map(|d| rustix::time::Timespec {
                    tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
                    tv_nsec: d.subsec_nanos().into(),
                });
                epoll::wait(ep, crate::buffer::spare(events, max), ts.as_ref())?;
                Ok(())
            }
            Some(mask) => {
                let ms = match timeout {
                    None => -1,
                    Some(d) => crate::deadline::ceil_millis(d).min(i32::MAX as u64) as libc::c_int,
                };
                let max = max.min(i32::MAX as usize);
                events.reserve(max);
                let spare = events.spare_capacity_mut();
                // SAFETY: rustix's epoll::Event is documented to have the layout of the kernel's
                // `struct epoll_event` (repr(C), packed on x86_64 like libc's); `spare` has room
                // for at least `max` events; the mask pointer is valid for the call.
                let n = unsafe {
                    libc::epoll_pwait(
                        ep.as_raw_fd(),
                        spare.as_mut_ptr().cast::<libc::epoll_event>(),
                        max as libc::c_int,
                        ms,
                        mask.raw(),
                    )
                };
                if n < 0 {
                    return Err(io_to_error(std::io::Error::last_os_error()));
                }
                // SAFETY: the kernel initialised the first `n` (<= max) events.
                unsafe { events.set_len(n as usize) };
                Ok(())
            }
        }
    }
}
