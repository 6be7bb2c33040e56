//! [`Handle`]: an owned file descriptor whose close goes through the engine, so that every set
//! watching it learns of it.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{RwLock, RwLockReadGuard};

use super::{Change, ObserverList};
use crate::sync::{Arc, Mutex, Rank};
use crate::{fdrules, Error, Result, Signals};

/// The state of a handle shared with the sets that watch it.
pub(crate) struct HandleCore {
    /// The descriptor until closed. Its lock is not in the engine's lock table: the engine takes
    /// it (to close) holding no other lock, and callers hold it (through [`HandleFd`]) at will.
    fd: RwLock<Option<OwnedFd>>,
    /// The descriptor's number, valid while `observers.closed` is false: `close` marks the list
    /// closed (under its lock) before it closes the descriptor.
    raw: RawFd,
    /// The bits of the signals the descriptor's access mode allows, learned by the first `add`
    /// (0: not yet; the set is never empty). The access mode of an open file description never
    /// changes, so one `fcntl` serves every later `add` of this handle. A plain cache of an
    /// immutable value: relaxed ordering, and a race only makes two threads both ask.
    possible: std::sync::atomic::AtomicU32,
    pub(crate) observers: Mutex<ObserverList>,
}

impl HandleCore {
    /// The descriptor, for a caller holding `observers` and having checked it is not closed.
    pub(crate) fn fd_while_open(&self, observers: &ObserverList) -> BorrowedFd<'_> {
        debug_assert!(!observers.closed);
        // SAFETY: the caller holds this handle's observer lock and saw `closed` false; `close`
        // sets `closed` under that lock before it takes and closes the descriptor, so the number
        // stays open (and names this handle's file) for as long as the borrow is used under
        // the lock.
        unsafe { BorrowedFd::borrow_raw(self.raw) }
    }

    /// [`fdrules::possible_signals`] of this handle's descriptor, asked of the kernel once.
    pub(crate) fn possible_signals(&self, fd: BorrowedFd<'_>) -> Result<Signals> {
        use std::sync::atomic::Ordering::Relaxed;
        let known = self.possible.load(Relaxed);
        if known != 0 {
            return Ok(Signals::from_bits_retain(known));
        }
        let possible = fdrules::possible_signals(fd)?;
        self.possible.store(possible.bits(), Relaxed);
        Ok(possible)
    }
}

/// An owned fd that sets can watch and that reports [`Status::Canceled`](crate::Status::Canceled)
/// when closed.
///
/// Closing a handle (with [`Handle::close`] or by dropping it) removes its kernel registration
/// from every set that watches it, reports `Canceled` once to each of those entries, wakes
/// threads blocked in those sets, removes the entries, and only then closes the descriptor, so a
/// descriptor number reused later can never be confused with it.
///
/// ```
/// use waitset::{Deadline, Handle, Signals, Source, Status, WaitResult, WaitSet};
/// let (r, _w) = rustix::pipe::pipe().unwrap();
/// let h = Handle::new(r);
/// let set = WaitSet::new().unwrap();
/// set.add(1, Source::from(&h), Signals::READABLE).unwrap();
/// h.close().unwrap();
/// let mut out = [WaitResult::default(); 1];
/// assert_eq!(set.wait(Deadline::now(), &mut out).unwrap(), 1);
/// assert_eq!(out[0].status, Status::Canceled);
/// assert!(set.remove(1).is_err()); // already gone
/// ```
pub struct Handle {
    core: Arc<HandleCore>,
}

/// A borrow of a [`Handle`]'s fd; the handle cannot be closed while it is held.
///
/// ```
/// use waitset::Handle;
/// let (r, w) = rustix::pipe::pipe().unwrap();
/// let h = Handle::new(w);
/// rustix::io::write(h.fd().unwrap(), b"hi").unwrap(); // a HandleFd is AsFd
/// let mut buf = [0u8; 2];
/// assert_eq!(rustix::io::read(&r, &mut buf).unwrap(), 2);
/// ```
pub struct HandleFd<'a>(RwLockReadGuard<'a, Option<OwnedFd>>);

impl AsFd for HandleFd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_ref().expect("checked open when borrowed").as_fd()
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Handle {
    /// Take ownership of `fd`.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// use waitset::{Deadline, Handle, Signals, Source, WaitResult, WaitSet};
    /// let (a, mut b) = UnixStream::pair().unwrap();
    /// let h = Handle::new(a.into()); // any OwnedFd
    /// let set = WaitSet::new().unwrap();
    /// set.add(1, Source::from(&h), Signals::READABLE).unwrap();
    /// b.write_all(b"ping").unwrap();
    /// let mut out = [WaitResult::default(); 1];
    /// assert_eq!(set.wait(Deadline::now(), &mut out).unwrap(), 1);
    /// assert_eq!(out[0].observed, Signals::READABLE);
    /// ```
    pub fn new(fd: OwnedFd) -> Handle {
        Handle {
            core: Arc::new(HandleCore {
                raw: fd.as_raw_fd(),
                fd: RwLock::new(Some(fd)),
                possible: std::sync::atomic::AtomicU32::new(0),
                observers: Mutex::new(Rank::Source, ObserverList::default()),
            }),
        }
    }

    /// The shared state the sets watch.
    pub(crate) fn core(&self) -> &Arc<HandleCore> {
        &self.core
    }

    /// Borrow the fd for I/O, or `None` once closed. Closing waits until the borrow ends.
    ///
    /// ```
    /// use waitset::Handle;
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let h = Handle::new(r);
    /// {
    ///     let fd = h.fd().expect("open");
    ///     assert!(rustix::io::fcntl_getfd(&fd).is_ok()); // a live descriptor
    /// } // the borrow ends here; a close would have waited for it
    /// h.close().unwrap();
    /// assert!(h.fd().is_none());
    /// ```
    pub fn fd(&self) -> Option<HandleFd<'_>> {
        let g = self.core.fd.read().unwrap_or_else(|e| e.into_inner());
        g.is_some().then(|| HandleFd(g))
    }

    /// Whether the handle has been closed.
    ///
    /// ```
    /// use waitset::Handle;
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let h = Handle::new(r);
    /// assert!(!h.is_closed());
    /// h.close().unwrap();
    /// assert!(h.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.core
            .fd
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// Close the fd, canceling every entry that watches it. A second close is
    /// [`Error::BadHandle`].
    ///
    /// ```
    /// use std::io::Read;
    /// use std::os::unix::net::UnixStream;
    /// use waitset::{Error, Handle};
    /// let (a, mut b) = UnixStream::pair().unwrap();
    /// let h = Handle::new(a.into());
    /// h.close().unwrap();
    /// let mut buf = [0u8; 1];
    /// assert_eq!(b.read(&mut buf).unwrap(), 0); // really closed: the peer reads end of file
    /// assert!(matches!(h.close(), Err(Error::BadHandle)));
    /// ```
    pub fn close(&self) -> Result<()> {
        let deferred = {
            let mut observers = self.core.observers.lock();
            if observers.closed {
                return Err(Error::BadHandle.traced("handle_close"));
            }
            observers.closed = true;
            // Cancel while the descriptor is still open, so that kernel registrations are
            // removed by it.
            observers.notify_last(Change::Closed)
        };
        deferred.run();
        // Last, with no lock of the engine held: wait for borrows to end, then close.
        drop(
            self.core
                .fd
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        Ok(())
    }
}

/// Dropping a handle closes it as [`Handle::close`] does: each entry that watches it is reported
/// [`Status::Canceled`](crate::Status::Canceled) once, then removed.
///
/// ```
/// use waitset::{Deadline, Handle, Signals, Source, Status, WaitResult, WaitSet};
/// let (r, _w) = rustix::pipe::pipe().unwrap();
/// let h = Handle::new(r);
/// let set = WaitSet::new().unwrap();
/// set.add(1, Source::from(&h), Signals::READABLE).unwrap();
/// drop(h);
/// let mut out = [WaitResult::default(); 1];
/// assert_eq!(set.wait(Deadline::now(), &mut out).unwrap(), 1);
/// assert_eq!(out[0].status, Status::Canceled);
/// assert!(!set.contains(1));
/// ```
impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
