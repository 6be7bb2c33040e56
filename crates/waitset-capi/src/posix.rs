//! The POSIX face: [`ws_poll`] and [`ws_ppoll`], with the C signatures of poll(2) and ppoll(2)
//! and their errno conventions, served by the engine's `poll` / `ppoll`.

use std::time::Duration;

use waitset::{PollFd, PollOptions, SigSet};

use crate::guard;
use crate::status::errno_of;

/// The engine options every call here uses: the defaults (the kernel's poll(2) on every
/// backend, which reports a bad `fds` pointer as EFAULT before anything reads the array).
fn options() -> PollOptions {
    PollOptions::new()
}

/// RLIMIT_NOFILE, the kernel's bound on `nfds`.
// `rlim_t` and `nfds_t` differ between platforms, so the casts to u64 are not the same everywhere.
#[allow(clippy::unnecessary_cast)]
fn nofile_limit() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `struct rlimit` to a valid, exclusively borrowed location.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0 {
        r.rlim_cur as u64
    } else {
        u64::MAX
    }
}

/// The caller's array as the engine's slice.
///
/// # Safety
/// `fds` is NULL or points to `nfds` `struct pollfd` that nothing else accesses during the call
/// (the contract of poll(2)).
#[allow(clippy::unnecessary_cast)] // nfds_t is not u64 everywhere
unsafe fn fds_arg<'a>(fds: *mut libc::pollfd, nfds: libc::nfds_t) -> Result<&'a mut [PollFd], i32> {
    if nfds == 0 {
        return Ok(&mut []);
    }
    if nfds as u64 > (isize::MAX as u64) / std::mem::size_of::<PollFd>() as u64 {
        return Err(libc::EINVAL);
    }
    if fds.is_null() || !fds.is_aligned() {
        // The kernel checks nfds before it reads the array; so do we, on this path only.
        return Err(if nfds as u64 > nofile_limit() {
            libc::EINVAL
        } else {
            libc::EFAULT
        });
    }
    // SAFETY: `PollFd` is repr(C) with the size, alignment and field offsets of `struct pollfd`
    // (asserted by the engine); the pointer is non-NULL and aligned, and the caller guarantees
    // it points to `nfds` entries that nothing else accesses during the call. The engine hands
    // the array to the kernel first, which reports memory outside the address space as EFAULT.
    Ok(unsafe { std::slice::from_raw_parts_mut(fds.cast::<PollFd>(), nfds as usize) })
}

/// poll(2): wait for one of `fds` to become ready, for up to `timeout` milliseconds (-1 blocks).
///
/// Returns the number of entries with a non-zero `revents`, 0 on timeout, or -1 with `errno`:
/// `EFAULT` (`fds` NULL or misaligned while `nfds > 0`, or outside the address space),
/// `EINVAL` (`nfds` above `RLIMIT_NOFILE`; `timeout` negative other than -1, as OpenBSD has
/// it), `EINTR` (a signal handler ran; never restarted), `ENOMEM`.
///
/// The rules of the OpenBSD manual hold: `fd < 0` is ignored with `revents` cleared, a closed fd
/// gets `POLLNVAL`, and end of file is normalized (`POLLHUP` with `POLLIN` if `POLLIN` was
/// asked, never with `POLLOUT`).
///
/// # Safety
/// As for poll(2): `fds` points to `nfds` `struct pollfd` (or is NULL with `nfds == 0`).
#[no_mangle]
pub unsafe extern "C" fn ws_poll(
    fds: *mut libc::pollfd,
    nfds: libc::nfds_t,
    timeout: libc::c_int,
) -> libc::c_int {
    guard::errno(|| {
        // SAFETY: the contract of poll(2), passed on by the caller.
        let fds = unsafe { fds_arg(fds, nfds) }?;
        let n = options().poll(fds, timeout).map_err(|e| errno_of(&e))?;
        Ok(n as libc::c_int)
    })
}

/// ppoll(2): [`ws_poll`] with a `struct timespec` timeout (NULL blocks) and a signal mask that
/// is installed atomically for the duration of the wait (NULL keeps the current mask).
///
/// Errors as for [`ws_poll`], and `EINVAL` for a timeout with a negative `tv_sec` or a
/// `tv_nsec` outside 0..999999999; `EFAULT` for a misaligned `tmo_p` or `sigmask`.
///
/// # Safety
/// As for ppoll(2): `fds` points to `nfds` `struct pollfd`; `tmo_p` and `sigmask` are NULL or
/// point to a readable value of their type.
#[no_mangle]
pub unsafe extern "C" fn ws_ppoll(
    fds: *mut libc::pollfd,
    nfds: libc::nfds_t,
    tmo_p: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> libc::c_int {
    guard::errno(|| {
        let timeout = if tmo_p.is_null() {
            None
        } else {
            if !tmo_p.is_aligned() {
                return Err(libc::EFAULT);
            }
            // SAFETY: non-NULL and aligned; readable by the contract of ppoll(2).
            let ts = unsafe { tmo_p.read() };
            if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
                return Err(libc::EINVAL);
            }
            Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
        };
        let mask = if sigmask.is_null() {
            None
        } else {
            if !sigmask.is_aligned() {
                return Err(libc::EFAULT);
            }
            // SAFETY: non-NULL and aligned; readable by the contract of ppoll(2).
            Some(unsafe { sigset_arg(sigmask) })
        };
        // SAFETY: the contract of ppoll(2), passed on by the caller.
        let fds = unsafe { fds_arg(fds, nfds) }?;
        let n = options()
            .ppoll(fds, timeout, mask.as_ref())
            .map_err(|e| errno_of(&e))?;
        Ok(n as libc::c_int)
    })
}

/// The caller's signal mask as the engine's [`SigSet`], all of it (also the signals a C library
/// reserves for itself, which the kernel's ppoll honours like any other).
///
/// # Safety
/// `mask` points to a readable, initialised `sigset_t`.
unsafe fn sigset_arg(mask: *const libc::sigset_t) -> SigSet {
    // SAFETY: `mask` is readable and initialised (the caller's contract); sigset_t is plain
    // data, copied by value.
    SigSet::from_libc(unsafe { mask.read() })
}
