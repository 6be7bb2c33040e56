//! The SysPoll face: an fd set in the style of the Ulm Oberon library's SysPoll module, served
//! by the engine's `PollSet`. Build it, count it, iterate it in insertion order, then
//! `poll(timeout, retry)`, which resumes after a signal against the original deadline and
//! reports that it was interrupted.
//!
//! Functions return 0 (or a count) on success and -1 with `errno` on failure, as the system
//! calls underneath do.

use std::sync::{Mutex, MutexGuard};

use waitset::{Error, PollFlags, PollSet, Timeout};

use crate::guard;
use crate::status::errno_of;

/// An fd set (opaque). Calls on one set from several threads are serialized: one that comes
/// while another thread polls the set waits until that poll returns.
#[allow(non_camel_case_types)]
pub struct ws_pollset_t {
    /// `'static`: the descriptors are raw numbers that the C caller promises to keep open while
    /// they are in the set (see [`ws_pollset_include`]).
    set: Mutex<PollSet<'static>>,
}

/// What [`ws_pollset_poll`] saw.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct ws_pollset_outcome_t {
    /// Entries with a non-zero `revents` (0 on timeout).
    pub ready: usize,
    /// Whether a signal handler interrupted the wait at least once.
    pub interrupted: bool,
}

/// The set behind a C pointer, locked.
///
/// # Safety
/// `set` is NULL or a pointer returned by [`ws_pollset_create`] and not yet destroyed.
unsafe fn locked<'a>(set: *const ws_pollset_t) -> Result<MutexGuard<'a, PollSet<'static>>, i32> {
    if set.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: non-NULL, and by the caller's contract a live set from ws_pollset_create (a Box
    // that stays allocated until ws_pollset_destroy).
    let s = unsafe { &*set };
    Ok(s.set.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Create an empty fd set; NULL with `errno` set on failure. Free it with
/// [`ws_pollset_destroy`].
#[no_mangle]
pub extern "C" fn ws_pollset_create() -> *mut ws_pollset_t {
    let p = guard::value(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(ws_pollset_t {
            set: Mutex::new(PollSet::new()),
        }))
    });
    if p.is_null() {
        errno::set_errno(errno::Errno(guard::PANIC_ERRNO));
    }
    p
}

/// Free an fd set (NULL is ignored). The descriptors in it are not closed.
///
/// # Safety
/// `set` is NULL or a pointer returned by [`ws_pollset_create`], not yet destroyed and not in
/// use by another thread.
#[no_mangle]
pub unsafe extern "C" fn ws_pollset_destroy(set: *mut ws_pollset_t) {
    guard::value((), || {
        if !set.is_null() {
            // SAFETY: by the caller's contract `set` came from Box::into_raw in
            // ws_pollset_create, and nothing uses it anymore.
            drop(unsafe { Box::from_raw(set) });
        }
    })
}

/// Include `fd`, polled for `events` (`POLLIN`, `POLLOUT`, ...), after the entries already in
/// the set. The descriptor is not owned, and the set keeps it registered in the kernel (so a
/// poll costs in proportion to what is ready, not to the size of the set): keep it open, and do
/// not reuse its number, until the set is cleared or destroyed.
///
/// Returns 0, or -1 with `errno`: `EFAULT` (`set` NULL), `EINVAL` (`fd` negative or `events`
/// 0), `EBADF` (`fd` is not open).
///
/// # Safety
/// `set` is NULL or a live set from [`ws_pollset_create`]; `fd` stays open while in the set.
#[no_mangle]
pub unsafe extern "C" fn ws_pollset_include(
    set: *mut ws_pollset_t,
    fd: libc::c_int,
    events: libc::c_short,
) -> libc::c_int {
    guard::errno(|| {
        // SAFETY: the caller's contract.
        let mut s = unsafe { locked(set) }?;
        // A number that is not open is EBADF on every backend. (Checked here because the
        // engine's set creates its epoll instance at the first include, and that instance takes
        // the lowest free number, which can be this very `fd`: the kernel then says EINVAL.)
        // SAFETY: F_GETFD only reads the descriptor's flags; any number is a valid argument.
        if fd >= 0 && unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            return Err(libc::EBADF);
        }
        // SAFETY: the contract of this function: `fd` stays open, naming the same file, while it
        // is in the set (until the set is cleared or destroyed), which is what push_raw needs
        // to keep it registered in the kernel.
        unsafe { s.push_raw(fd, PollFlags::from_bits_retain(events)) }.map_err(|e| errno_of(&e))?;
        Ok(0)
    })
}

/// The number of entries in the set (0 for NULL).
///
/// # Safety
/// `set` is NULL or a live set from [`ws_pollset_create`].
#[no_mangle]
pub unsafe extern "C" fn ws_pollset_count(set: *const ws_pollset_t) -> usize {
    guard::value(0, || {
        // SAFETY: the caller's contract.
        unsafe { locked(set) }.map_or(0, |s| s.len())
    })
}

/// Entry `index` (in insertion order) as a `struct pollfd`: its fd, its events, and the
/// `revents` of the last poll.
///
/// Returns 0, or -1 with `errno`: `EFAULT` (`set` or `out` NULL), `EINVAL` (`index` not below
/// the count).
///
/// # Safety
/// `set` is NULL or a live set from [`ws_pollset_create`]; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ws_pollset_get(
    set: *const ws_pollset_t,
    index: usize,
    out: *mut libc::pollfd,
) -> libc::c_int {
    guard::errno(|| {
        // SAFETY: the caller's contract.
        let s = unsafe { locked(set) }?;
        if out.is_null() || !out.is_aligned() {
            return Err(libc::EFAULT);
        }
        let p = s.iter().nth(index).ok_or(libc::EINVAL)?;
        let pfd = libc::pollfd {
            fd: p.fd(),
            events: p.events().bits(),
            revents: p.revents().bits(),
        };
        // SAFETY: non-NULL and aligned; writable by the caller's contract.
        unsafe { out.write(pfd) };
        Ok(0)
    })
}

/// Remove every entry.
///
/// Returns 0, or -1 with `errno` `EFAULT` (`set` NULL).
///
/// # Safety
/// `set` is NULL or a live set from [`ws_pollset_create`].
#[no_mangle]
pub unsafe extern "C" fn ws_pollset_clear(set: *mut ws_pollset_t) -> libc::c_int {
    guard::errno(|| {
        // SAFETY: the caller's contract.
        unsafe { locked(set) }?.clear();
        Ok(0)
    })
}

/// Poll every entry for up to `timeout` (NULL blocks; a partial millisecond rounds up, and a
/// huge value saturates rather than wraps). With `retry`, a wait interrupted by a signal
/// handler resumes with the time left against the deadline fixed at the start (never the full
/// timeout again); without it, the call returns at the first interruption. Either way
/// `out->interrupted` tells whether one happened. `out` may be NULL.
///
/// Returns the number of entries with a non-zero `revents` (0 on timeout or interruption), or
/// -1 with `errno`: `EFAULT` (`set` NULL, `timeout` or `out` misaligned), `EINVAL` (a negative
/// `tv_sec` or `tv_usec`, or `tv_usec` above 999999), `ENOMEM`.
///
/// # Safety
/// `set` is NULL or a live set from [`ws_pollset_create`]; `timeout` is NULL or readable; `out`
/// is NULL or writable. Every descriptor in the set is open.
#[no_mangle]
pub unsafe extern "C" fn ws_pollset_poll(
    set: *mut ws_pollset_t,
    timeout: *const libc::timeval,
    retry: bool,
    out: *mut ws_pollset_outcome_t,
) -> libc::c_int {
    guard::errno(|| {
        if !timeout.is_aligned() || !out.is_aligned() {
            return Err(libc::EFAULT);
        }
        let timeout = if timeout.is_null() {
            Timeout::INFINITE
        } else {
            // SAFETY: non-NULL and aligned; readable by the caller's contract.
            let tv = unsafe { timeout.read() };
            if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
                return Err(libc::EINVAL);
            }
            Timeout::from_sec_usec(tv.tv_sec as u64, tv.tv_usec as u64)
        };
        // SAFETY: the caller's contract.
        let mut s = unsafe { locked(set) }?;
        let outcome = match s.poll(timeout, retry) {
            Ok(o) => ws_pollset_outcome_t {
                ready: o.ready,
                interrupted: o.interrupted,
            },
            Err(Error::Interrupted) => ws_pollset_outcome_t {
                ready: s.ready().count(),
                interrupted: true,
            },
            Err(e) => return Err(errno_of(&e)),
        };
        if !out.is_null() {
            // SAFETY: non-NULL and aligned; writable by the caller's contract.
            unsafe { out.write(outcome) };
        }
        Ok(outcome.ready.min(libc::c_int::MAX as usize) as libc::c_int)
    })
}
