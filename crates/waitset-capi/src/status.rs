//! Status codes of the Magenta face, and the one mapping from the engine's [`waitset::Error`].
//!
//! The values are Zircon's (`ZX_OK`, `ZX_ERR_*`): zero for success, a negative number for each
//! error, so a C caller can write `if (st < 0)`.

// The errors are written `0 - N` because cbindgen turns that into `(0 - N)` in the header,
// where a bare `-N` macro would misparse after a minus sign (`x-WS_ERR_NO_MEMORY`).

use std::ffi::{c_char, CStr};

use waitset::Error;

/// A status: [`WS_OK`] (0) or one of the negative `WS_ERR_*` codes.
#[allow(non_camel_case_types)]
pub type ws_status_t = i32;

/// Success.
pub const WS_OK: ws_status_t = 0;
/// Internal error: a bug in the library (a panic caught at the boundary), or a kernel failure
/// that has no code of its own.
pub const WS_ERR_INTERNAL: ws_status_t = 0 - 1;
/// The operation is not supported, e.g. adding a wait set to a wait set.
pub const WS_ERR_NOT_SUPPORTED: ws_status_t = 0 - 2;
/// Out of memory, or the handle table is full.
pub const WS_ERR_NO_MEMORY: ws_status_t = 0 - 4;
/// A required pointer is NULL (or misaligned), or an argument is out of range: unknown option,
/// signal or right bits, the reserved cookie.
pub const WS_ERR_INVALID_ARGS: ws_status_t = 0 - 10;
/// Not a valid handle, or a handle that was already closed.
pub const WS_ERR_BAD_HANDLE: ws_status_t = 0 - 11;
/// A valid handle of the wrong type, e.g. an event handle where a wait set is required.
pub const WS_ERR_WRONG_TYPE: ws_status_t = 0 - 12;
/// Result status only: the watched signals can never become asserted again (the peer hung up).
pub const WS_ERR_BAD_STATE: ws_status_t = 0 - 20;
/// The deadline passed with nothing to report.
pub const WS_ERR_TIMED_OUT: ws_status_t = 0 - 21;
/// As a return value: the wait set was closed while (or before) waiting. As a result status:
/// the handle the entry was added with was closed; the entry is gone.
pub const WS_ERR_CANCELED: ws_status_t = 0 - 23;
/// No entry has this cookie.
pub const WS_ERR_NOT_FOUND: ws_status_t = 0 - 25;
/// An entry with this cookie is already in the set.
pub const WS_ERR_ALREADY_EXISTS: ws_status_t = 0 - 26;
/// The handle lacks the right the operation needs (READ to be watched or waited on, WRITE to be
/// changed, DUPLICATE to be duplicated), or the object can never assert a watched signal
/// (READABLE on a write-only descriptor, TIMER on a descriptor).
pub const WS_ERR_ACCESS_DENIED: ws_status_t = 0 - 30;
/// An I/O error from the kernel.
pub const WS_ERR_IO: ws_status_t = 0 - 40;

/// The status for an engine error. Every engine error is mapped here and nowhere else.
pub(crate) fn from_error(e: &Error) -> ws_status_t {
    match e {
        Error::InvalidArgument(_) | Error::Fault => WS_ERR_INVALID_ARGS,
        Error::TimedOut => WS_ERR_TIMED_OUT,
        Error::Canceled => WS_ERR_CANCELED,
        Error::AlreadyExists(_) => WS_ERR_ALREADY_EXISTS,
        Error::NotFound(_) => WS_ERR_NOT_FOUND,
        Error::BadHandle => WS_ERR_BAD_HANDLE,
        Error::AccessDenied(_) => WS_ERR_ACCESS_DENIED,
        Error::NotSupported(_) => WS_ERR_NOT_SUPPORTED,
        // `wait` retries an interruption itself; should one surface, it is not the caller's.
        Error::Interrupted => WS_ERR_INTERNAL,
        Error::Io(io) if io.raw_os_error() == Some(libc::ENOMEM) => WS_ERR_NO_MEMORY,
        Error::Io(_) => WS_ERR_IO,
        _ => WS_ERR_INTERNAL,
    }
}

/// The errno an engine error stands for (the POSIX and SysPoll faces).
pub(crate) fn errno_of(e: &Error) -> i32 {
    e.errno()
}

/// The name of a status, such as `"WS_ERR_BAD_HANDLE"`; `"(unknown)"` for a value that is not
/// one. The string is static: never free it.
#[no_mangle]
pub extern "C" fn ws_status_string(status: ws_status_t) -> *const c_char {
    // guard: none needed (a match on constants cannot panic).
    let s: &'static CStr = match status {
        WS_OK => c"WS_OK",
        WS_ERR_INTERNAL => c"WS_ERR_INTERNAL",
        WS_ERR_NOT_SUPPORTED => c"WS_ERR_NOT_SUPPORTED",
        WS_ERR_NO_MEMORY => c"WS_ERR_NO_MEMORY",
        WS_ERR_INVALID_ARGS => c"WS_ERR_INVALID_ARGS",
        WS_ERR_BAD_HANDLE => c"WS_ERR_BAD_HANDLE",
        WS_ERR_WRONG_TYPE => c"WS_ERR_WRONG_TYPE",
        WS_ERR_BAD_STATE => c"WS_ERR_BAD_STATE",
        WS_ERR_TIMED_OUT => c"WS_ERR_TIMED_OUT",
        WS_ERR_CANCELED => c"WS_ERR_CANCELED",
        WS_ERR_NOT_FOUND => c"WS_ERR_NOT_FOUND",
        WS_ERR_ALREADY_EXISTS => c"WS_ERR_ALREADY_EXISTS",
        WS_ERR_ACCESS_DENIED => c"WS_ERR_ACCESS_DENIED",
        WS_ERR_IO => c"WS_ERR_IO",
        _ => c"(unknown)",
    };
    s.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_error_has_a_status() {
        use waitset::Signals;
        let cases = [
            (Error::InvalidArgument("x"), WS_ERR_INVALID_ARGS),
            (Error::TimedOut, WS_ERR_TIMED_OUT),
            (Error::Canceled, WS_ERR_CANCELED),
            (Error::AlreadyExists(1), WS_ERR_ALREADY_EXISTS),
            (Error::NotFound(1), WS_ERR_NOT_FOUND),
            (Error::BadHandle, WS_ERR_BAD_HANDLE),
            (Error::AccessDenied(Signals::READABLE), WS_ERR_ACCESS_DENIED),
            (Error::NotSupported("x"), WS_ERR_NOT_SUPPORTED),
            (
                Error::Io(std::io::Error::from_raw_os_error(libc::ENOMEM)),
                WS_ERR_NO_MEMORY,
            ),
            (
                Error::Io(std::io::Error::from_raw_os_error(libc::EIO)),
                WS_ERR_IO,
            ),
        ];
        for (e, want) in cases {
            assert_eq!(from_error(&e), want, "{e:?}");
        }
    }

    #[test]
    fn names_match_values() {
        for (v, name) in [
            (WS_OK, "WS_OK"),
            (WS_ERR_BAD_HANDLE, "WS_ERR_BAD_HANDLE"),
            (WS_ERR_CANCELED, "WS_ERR_CANCELED"),
            (12345, "(unknown)"),
        ] {
            // SAFETY: ws_status_string returns a pointer to a static NUL-terminated string.
            let s = unsafe { CStr::from_ptr(ws_status_string(v)) };
            assert_eq!(s.to_str().unwrap(), name);
        }
    }
}
