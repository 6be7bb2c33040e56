//! The engine's one error type.

use std::io;

/// Everything that can go wrong in any face of the engine.
///
/// Each variant maps to the errno a C caller would see ([`Error::errno`]), and an
/// [`std::io::Error`] converts into the closest variant.
///
/// ```
/// use waitset::Error;
/// assert_eq!(Error::InvalidArgument("negative timeout").errno(), rustix::io::Errno::INVAL);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument is out of range or malformed (EINVAL); the message names it.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The wait was interrupted by a signal handler (EINTR).
    #[error("interrupted by a signal")]
    Interrupted,
    /// The deadline passed with nothing to report (ETIMEDOUT).
    #[error("timed out")]
    TimedOut,
    /// The set was closed while (or before) waiting (ECANCELED).
    #[error("the set was closed")]
    Canceled,
    /// An entry with this cookie already exists (EEXIST).
    #[error("cookie {0:#x} is already in the set")]
    AlreadyExists(u64),
    /// No entry has this cookie (ENOENT).
    #[error("cookie {0:#x} is not in the set")]
    NotFound(u64),
    /// The handle or file descriptor is not open, or was closed (EBADF).
    #[error("bad handle")]
    BadHandle,
    /// The handle can never assert a signal that was asked for, e.g. READABLE on a write-only
    /// descriptor (EACCES).
    #[error("the handle can never assert {0:?}")]
    AccessDenied(crate::Signals),
    /// The operation is not supported, e.g. adding a set to itself (ENOTSUP).
    #[error("not supported: {0}")]
    NotSupported(&'static str),
    /// A caller-provided buffer lies outside addressable memory (EFAULT).
    #[error("bad address")]
    Fault,
    /// Any other failure reported by the kernel.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// The errno a C caller of the same operation would see.
    ///
    /// ```
    /// use rustix::io::Errno;
    /// use waitset::{Error, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// assert_eq!(set.remove(42).unwrap_err().errno(), Errno::NOENT);
    /// assert_eq!(Error::TimedOut.errno(), Errno::TIMEDOUT);
    /// // A kernel error keeps its errno; one without an errno is EIO.
    /// let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
    /// assert_eq!(Error::Io(emfile).errno(), Errno::MFILE);
    /// assert_eq!(Error::Io(std::io::Error::other("no errno")).errno(), Errno::IO);
    /// ```
    pub fn errno(&self) -> rustix::io::Errno {
        use rustix::io::Errno;
        match self {
            Error::InvalidArgument(_) => Errno::INVAL,
            Error::Interrupted => Errno::INTR,
            Error::TimedOut => Errno::TIMEDOUT,
            Error::Canceled => Errno::CANCELED,
            Error::AlreadyExists(_) => Errno::EXIST,
            Error::NotFound(_) => Errno::NOENT,
            Error::BadHandle => Errno::BADF,
            Error::AccessDenied(_) => Errno::ACCESS,
            Error::NotSupported(_) => Errno::NOTSUP,
            Error::Fault => Errno::FAULT,
            Error::Io(e) => e
                .raw_os_error()
                .map(Errno::from_raw_os_error)
                .unwrap_or(Errno::IO),
        }
    }

    /// The error for a kernel errno, choosing the typed variant where one fits.
    ///
    /// ```
    /// use rustix::io::Errno;
    /// use waitset::Error;
    /// assert!(matches!(Error::from_errno(Errno::INTR), Error::Interrupted));
    /// assert!(matches!(Error::from_errno(Errno::BADF), Error::BadHandle));
    /// assert!(matches!(Error::from_errno(Errno::TIMEDOUT), Error::TimedOut));
    /// // No typed variant: an I/O error that keeps the errno.
    /// let e = Error::from_errno(Errno::AGAIN);
    /// assert!(matches!(e, Error::Io(_)));
    /// assert_eq!(e.errno(), Errno::AGAIN);
    /// ```
    pub fn from_errno(e: rustix::io::Errno) -> Error {
        use rustix::io::Errno;
        match e {
            Errno::INTR => Error::Interrupted,
            Errno::BADF => Error::BadHandle,
            Errno::FAULT => Error::Fault,
            Errno::TIMEDOUT => Error::TimedOut,
            Errno::CANCELED => Error::Canceled,
            other => Error::Io(io::Error::from_raw_os_error(other.raw_os_error())),
        }
    }

    /// Emit this error as a `tracing` event (at warn level for kernel failures, debug otherwise)
    /// and return it, so a call site can write `return Err(e.traced("op"))`.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::sync::{Arc, Mutex};
    /// use waitset::Error;
    /// // A log sink for the example.
    /// #[derive(Clone, Default)]
    /// struct Log(Arc<Mutex<Vec<u8>>>);
    /// impl Write for Log {
    ///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
    ///         self.0.lock().unwrap().extend_from_slice(b);
    ///         Ok(b.len())
    ///     }
    ///     fn flush(&mut self) -> std::io::Result<()> {
    ///         Ok(())
    ///     }
    /// }
    /// let log = Log::default();
    /// let subscriber = tracing_subscriber::fmt()
    ///     .with_max_level(tracing::Level::DEBUG)
    ///     .with_ansi(false)
    ///     .with_writer({
    ///         let log = log.clone();
    ///         move || log.clone()
    ///     })
    ///     .finish();
    /// let e = tracing::subscriber::with_default(subscriber, || {
    ///     Error::NotFound(7).traced("my_op")
    /// });
    /// assert!(matches!(e, Error::NotFound(7))); // returned unchanged
    /// let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    /// assert!(text.contains("DEBUG") && text.contains("my_op") && text.contains("errno=2"));
    /// ```
    pub fn traced(self, op: &'static str) -> Error {
        match &self {
            Error::Io(_) => {
                tracing::warn!(op, error = %self, errno = self.errno().raw_os_error(), "waitset error")
            }
            _ => {
                tracing::debug!(op, error = %self, errno = self.errno().raw_os_error(), "waitset error")
            }
        }
        self
    }
}

/// The same conversion as [`Error::from_errno`], so that `?` turns a kernel errno into the
/// typed variant where one fits.
///
/// ```
/// use std::os::fd::AsFd;
/// use waitset::Error;
/// fn read_byte(fd: impl AsFd) -> waitset::Result<usize> {
///     Ok(rustix::io::read(fd, &mut [0u8; 1])?) // an Errno converts with `?`
/// }
/// let (_r, w) = rustix::pipe::pipe().unwrap();
/// // Reading a pipe's write end fails with EBADF, which becomes the typed BadHandle.
/// assert!(matches!(read_byte(&w), Err(Error::BadHandle)));
/// ```
impl From<rustix::io::Errno> for Error {
    fn from(e: rustix::io::Errno) -> Error {
        Error::from_errno(e)
    }
}

/// The engine's result type.
///
/// ```
/// use waitset::{Deadline, Error, Event, Signals, Source, WaitResult, WaitSet};
/// fn ready_now(set: &WaitSet) -> waitset::Result<Vec<u64>> {
///     let mut out = [WaitResult::default(); 8];
///     let n = set.wait(Deadline::now(), &mut out)?;
///     Ok(out[..n].iter().map(|r| r.cookie).collect())
/// }
/// let set = WaitSet::new().unwrap();
/// let ev = Event::new();
/// set.add(5, Source::from(&ev), Signals::USER_0).unwrap();
/// assert!(matches!(ready_now(&set), Err(Error::TimedOut)));
/// ev.signal(Signals::empty(), Signals::USER_0).unwrap();
/// assert_eq!(ready_now(&set).unwrap(), [5]);
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
