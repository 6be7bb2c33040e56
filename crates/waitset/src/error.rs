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

impl From<rustix::io::Errno> for Error {
    fn from(e: rustix::io::Errno) -> Error {
        Error::from_errno(e)
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
