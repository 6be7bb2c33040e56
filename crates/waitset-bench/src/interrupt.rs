//! Ctrl-C during a run: the first SIGINT asks the run to stop after the sample in progress, so
//! that what was measured can be written; the second one (the handler resets itself) ends the
//! process as usual.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    // Async-signal-safe: one atomic store.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Whether SIGINT arrived since the run started.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// SIGINT caught for the duration of a run; the previous disposition comes back on drop.
pub(crate) struct CatchSigint {
    old: libc::sigaction,
}

impl CatchSigint {
    /// Catch SIGINT (once: `SA_RESETHAND`) until dropped, and forget an earlier one.
    pub(crate) fn install() -> std::io::Result<CatchSigint> {
        INTERRUPTED.store(false, Ordering::SeqCst);
        // SAFETY: an all-zero sigaction is a valid value of the C struct; every field that
        // matters is set below.
        let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
        new.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        new.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
        // SAFETY: `new.sa_mask` is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&mut new.sa_mask) };
        // SAFETY: as above.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live sigaction structs; the handler only stores to an
        // atomic, which is async-signal-safe.
        if unsafe { libc::sigaction(libc::SIGINT, &new, &mut old) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(CatchSigint { old })
    }
}

impl Drop for CatchSigint {
    fn drop(&mut self) {
        // SAFETY: `self.old` is the disposition sigaction returned; restoring it is always valid.
        unsafe { libc::sigaction(libc::SIGINT, &self.old, std::ptr::null_mut()) };
    }
}
