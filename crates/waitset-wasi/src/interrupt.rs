//! Termination requests: SIGINT / SIGTERM end a run, even one blocked in `poll_oneoff` or in a
//! blocking read, and even a guest spinning in pure computation.
//!
//! An [`Interrupt`] is a one-way latch: the first [`Interrupt::raise`] records the signal, makes
//! an eventfd readable (every wait of the host also watches it, so a blocked guest wakes), and
//! runs the registered hooks (the CLI bumps the wasmtime epoch, so compiled guest code traps at
//! its next epoch check). Host functions check [`Interrupt::pending`] first, before they wait —
//! a signal that arrived while the guest was computing is acted on at the next host call, as the
//! original `poll_oneoff` does with pending signals.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

type Hook = Box<dyn Fn() + Send + Sync>;

struct Inner {
    signal: AtomicI32,
    fd: OwnedFd,
    hooks: Mutex<Vec<Hook>>,
}

/// A termination latch shared by the signal thread and a guest's host functions.
///
/// ```
/// let i = waitset_wasi::Interrupt::new().unwrap();
/// assert_eq!(i.pending(), None);
/// i.raise(15);
/// i.raise(2); // the first signal wins
/// assert_eq!(i.pending(), Some(15));
/// ```
#[derive(Clone)]
pub struct Interrupt {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupt")
            .field("pending", &self.pending())
            .finish()
    }
}

impl Interrupt {
    /// A latch that has not been raised.
    pub fn new() -> io::Result<Interrupt> {
        use rustix::event::{eventfd, EventfdFlags};
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Interrupt {
            inner: Arc::new(Inner {
                signal: AtomicI32::new(0),
                fd,
                hooks: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Record `signal` (the first one wins), wake every wait that watches [`Interrupt::fd`], and
    /// run the hooks.
    pub fn raise(&self, signal: i32) {
        if self
            .inner
            .signal
            .compare_exchange(0, signal, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let _ = rustix::io::write(&self.inner.fd, &1u64.to_ne_bytes());
        for hook in self
            .inner
            .hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            hook();
        }
    }

    /// The signal that was raised, if any.
    pub fn pending(&self) -> Option<i32> {
        match self.inner.signal.load(Ordering::Acquire) {
            0 => None,
            s => Some(s),
        }
    }

    /// Readable once raised (and forever after).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.as_fd()
    }

    /// Run `hook` when the latch is raised (at once if it already is).
    pub fn on_raise(&self, hook: impl Fn() + Send + Sync + 'static) {
        if self.pending().is_some() {
            hook();
        }
        self.inner
            .hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(hook));
    }

    /// Block `signals` in the calling thread (call it before any other thread starts, so every
    /// thread inherits the mask) and start a thread that waits for them and raises the latch.
    pub fn watch_signals(&self, signals: &[i32]) -> io::Result<()> {
        let raw = sigset(signals)?;
        // SAFETY: `raw` is an initialised sigset_t; a null old-set pointer is allowed.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &raw, std::ptr::null_mut()) };
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        let me = self.clone();
        std::thread::Builder::new()
            .name("waitset-signals".into())
            .spawn(move || loop {
                let mut sig = 0;
                // SAFETY: `raw` is a valid sigset_t and `sig` a valid out pointer; the signals
                // are blocked in this thread (inherited), as sigwait requires.
                if unsafe { libc::sigwait(&raw, &mut sig) } == 0 {
                    me.raise(sig);
                }
            })?;
        Ok(())
    }
}

fn sigset(signals: &[i32]) -> io::Result<libc::sigset_t> {
    let mut raw = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given.
    let mut raw = unsafe {
        libc::sigemptyset(raw.as_mut_ptr());
        raw.assume_init()
    };
    for &s in signals {
        // SAFETY: `raw` is initialised; sigaddset validates the signal number.
        if unsafe { libc::sigaddset(&mut raw, s) } != 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
    }
    Ok(raw)
}
