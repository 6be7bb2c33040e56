//! The engine's one error type and its one errno mapping.
//!
//! Every conversion between kernel errors and [`Error`] goes through [`Error::from_errno`] and
//! [`Error::errno`]: an `io::Error` and a raw errno with the same number become the same variant.

use std::io;

/// Everything that can go wrong in any face of the engine.
///
/// Each variant maps to the errno a C caller would see ([`Error::errno`]), and an
/// [`std::io::Error`] converts into the closest variant, and back with `?` in `io::Result` code.
///
/// ```
/// use waitset::Error;
/// assert_eq!(Error::InvalidArgument("negative timeout").errno(), libc::EINVAL);
/// fn in_io_code() -> std::io::Result<()> {
///     Err(Error::TimedOut)?; // From<Error> for io::Error
///     Ok(())
/// }
/// assert_eq!(in_io_code().unwrap_err().kind(), std::io::ErrorKind::TimedOut);
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
    /// The operation is not supported, e.g. edge triggering on the poll(2) backend (ENOTSUP).
    #[error("not supported: {0}")]
    NotSupported(&'static str),
    /// A caller-provided buffer lies outside addressable memory (EFAULT).
    #[error("bad address")]
    Fault,
    /// Any other failure reported by the kernel.
    #[error(transparent)]
    Io(io::Error),
}

impl Error {
    /// The errno a C caller of the same operation would see (a positive `errno` value).
    ///
    /// ```
    /// use waitset::{Error, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// assert_eq!(set.remove(42).unwrap_err().errno(), libc::ENOENT);
    /// assert_eq!(Error::TimedOut.errno(), libc::ETIMEDOUT);
    /// // A kernel error keeps its errno; one without an errno is EIO.
    /// let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
    /// assert_eq!(Error::from(emfile).errno(), libc::EMFILE);
    /// assert_eq!(Error::Io(std::io::Error::other("no errno")).errno(), libc::EIO);
    /// ```
    pub fn errno(&self) -> i32 {
        match self {
            Error::InvalidArgument(_) => libc::EINVAL,
            Error::Interrupted => libc::EINTR,
            Error::TimedOut => libc::ETIMEDOUT,
            Error::Canceled => libc::ECANCELED,
            Error::AlreadyExists(_) => libc::EEXIST,
            Error::NotFound(_) => libc::ENOENT,
            Error::BadHandle => libc::EBADF,
            Error::AccessDenied(_) => libc::EACCES,
            Error::NotSupported(_) => libc::ENOTSUP,
            Error::Fault => libc::EFAULT,
            Error::Io(e) => e.raw_os_error().unwrap_or(libc::EIO),
        }
    }

    /// The error for a kernel errno, choosing the typed variant where one fits.
    ///
    /// ```
    /// use waitset::Error;
    /// assert!(matches!(Error::from_errno(libc::EINTR), Error::Interrupted));
    /// assert!(matches!(Error::from_errno(libc::EBADF), Error::BadHandle));
    /// assert!(matches!(Error::from_errno(libc::ETIMEDOUT), Error::TimedOut));
    /// assert!(matches!(Error::from_errno(libc::EINVAL), Error::InvalidArgument(_)));
    /// // No typed variant: an I/O error that keeps the errno.
    /// let e = Error::from_errno(libc::EAGAIN);
    /// assert!(matches!(e, Error::Io(_)));
    /// assert_eq!(e.errno(), libc::EAGAIN);
    /// ```
    pub fn from_errno(errno: i32) -> Error {
        match errno {
            libc::EINTR => Error::Interrupted,
            libc::EINVAL => Error::InvalidArgument("rejected by the kernel (EINVAL)"),
            libc::EBADF => Error::BadHandle,
            libc::EFAULT => Error::Fault,
            libc::ETIMEDOUT => Error::TimedOut,
            libc::ECANCELED => Error::Canceled,
            other => Error::Io(io::Error::from_raw_os_error(other)),
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
                tracing::warn!(op, error = %self, errno = self.errno(), "waitset error")
            }
            _ => {
                tracing::debug!(op, error = %self, errno = self.errno(), "waitset error")
            }
        }
        self
    }
}

impl Error {
    /// A kernel error from rustix, through the one mapping (kept out of the public API so that
    /// rustix stays an implementation detail).
    #[inline]
    pub(crate) fn sys(e: rustix::io::Errno) -> Error {
        Error::from_errno(e.raw_os_error())
    }
}

/// The same conversion as [`Error::from_errno`] for an error that carries an errno; any other
/// `io::Error` is kept as [`Error::Io`].
///
/// ```
/// use waitset::Error;
/// let e: Error = std::io::Error::from_raw_os_error(libc::EBADF).into();
/// assert!(matches!(e, Error::BadHandle)); // the same variant as from_errno(EBADF)
/// let e: Error = std::io::Error::other("no errno").into();
/// assert!(matches!(e, Error::Io(_)));
/// ```
impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        match e.raw_os_error() {
            Some(n) => Error::from_errno(n),
            None => Error::Io(e),
        }
    }
}

/// An [`Error`] as an `io::Error` with the same errno (the original `io::Error` for
/// [`Error::Io`]), so `?` works in `io::Result` code.
///
/// ```
/// use waitset::{Error, WaitSet};
/// fn remove_it(set: &WaitSet) -> std::io::Result<()> {
///     set.remove(5)?;
///     Ok(())
/// }
/// let e = remove_it(&WaitSet::new().unwrap()).unwrap_err();
/// assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
/// assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
/// ```
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            other => io::Error::from_raw_os_error(other.errno()),
        }
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
