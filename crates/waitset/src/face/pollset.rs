//! [`PollSet`]: the library-wrapper face, in the style of the classic systems libraries' poll
//! wrappers: build a set, count it, iterate it in insertion order, then poll — many times.
//!
//! The set borrows its descriptors for its lifetime (`PollSet<'fd>`), so on a backend that keeps
//! interest in the kernel (epoll) it registers each descriptor once, at [`PollSet::push`], and a
//! poll costs in proportion to what is ready, not to how much is watched. On the poll(2) backend
//! a poll is one `poll(2)` over the entries. The results are the same as [`poll`](crate::poll)'s
//! for the same entries either way: the same bits, the same EOF rule, the same count.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use rustix::io::Errno;

use super::poll::{finish, PollFd, PollFlags, PollOptions};
use crate::fdrules::{self, Bits};
use crate::sys::{AddError, Backend, BackendKind, Sys, Trigger, KERNEL_BATCH};
use crate::{Deadline, Error, Result, Timeout};

/// The outcome of [`PollSet::poll`].
///
/// ```
/// use waitset::{PollFlags, PollOutcome, PollSet, Timeout};
/// let (r, w) = rustix::pipe::pipe().unwrap();
/// let mut set = PollSet::new();
/// set.push(&r, PollFlags::IN).unwrap();
/// let timed_out = PollOutcome { ready: 0, interrupted: false };
/// assert_eq!(set.poll(Timeout::ZERO, true).unwrap(), timed_out);
/// rustix::io::write(&w, b"x").unwrap();
/// assert_eq!(set.poll(Timeout::ZERO, true).unwrap().ready, 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PollOutcome {
    /// Entries with non-zero `revents` (0 on timeout).
    pub ready: usize,
    /// Whether a signal handler interrupted the wait at least once.
    pub interrupted: bool,
}

/// An ordered set of (fd, events) entries, polled as many times as the caller likes.
///
/// It borrows its descriptors (`'fd`), so they stay open while they are in the set and their
/// interest can stay registered in the kernel between polls.
///
/// ```
/// use waitset::{PollFlags, PollSet, Timeout};
/// let (r, w) = rustix::pipe::pipe().unwrap();
/// let mut set = PollSet::new();
/// set.push(&r, PollFlags::IN).unwrap();
/// set.push(&w, PollFlags::OUT).unwrap();
/// assert_eq!(set.len(), 2);
/// let out = set.poll(Timeout::from_sec_usec(1, 0), true).unwrap();
/// assert_eq!(out.ready, 1); // the write end
/// assert!(set.iter().nth(1).unwrap().revents().contains(PollFlags::OUT));
/// ```
///
/// A descriptor cannot be closed while the set borrows it:
///
/// ```compile_fail
/// use waitset::{PollFlags, PollSet};
/// let (r, _w) = rustix::pipe::pipe().unwrap();
/// let mut set = PollSet::new();
/// set.push(&r, PollFlags::IN).unwrap();
/// drop(r); // error: `r` is borrowed by `set`
/// set.poll(waitset::Timeout::ZERO, false).unwrap();
/// ```
pub struct PollSet<'fd> {
    entries: Vec<PollFd>,
    options: PollOptions,
    /// Interest kept in the kernel (epoll); `None` on the poll(2) backend, or before the first
    /// entry.
    kept: Option<KeptInterest>,
    _fds: PhantomData<BorrowedFd<'fd>>,
}

/// A descriptor registered in the kernel on behalf of the entries that name it.
struct FdInterest {
    fd: RawFd,
    /// First entry naming this descriptor (then `next_same_fd`).
    head: u32,
    interest: Bits,
    /// The kernel refused it (a regular file): always ready, as `poll(2)` reports it.
    refused: bool,
    /// The last poll in which the kernel reported it (to stop reading when reports repeat).
    seen: u64,
}

/// The kernel side of a set whose backend keeps interest.
struct KeptInterest {
    sys: Sys,
    fds: Vec<FdInterest>,
    by_fd: HashMap<RawFd, u32, foldhash::fast::RandomState>,
    /// Per entry: the next entry naming the same descriptor (`NIL` at the end).
    next_same_fd: Vec<u32>,
    /// Entries whose `revents` the last poll set: reset in O(ready) by the next one.
    shown: Vec<u32>,
    /// Descriptors the kernel refused (always ready).
    refused: Vec<u32>,
    polls: u64,
}

const NIL: u32 = u32::MAX;

impl Default for PollSet<'_> {
    fn default() -> Self {
        PollSet::new()
    }
}

impl std::fmt::Debug for PollSet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollSet")
            .field("entries", &self.entries)
            .field("options", &self.options)
            .field("kernel_interest", &self.kept.is_some())
            .finish()
    }
}

impl<'fd> PollSet<'fd> {
    /// An empty set with default [`PollOptions`].
    ///
    /// ```
    /// use waitset::{PollSet, Timeout};
    /// let mut set = PollSet::new();
    /// assert!(set.is_empty());
    /// // Polling an empty set is a plain sleep.
    /// assert_eq!(set.poll(Timeout::from_millis(1), false).unwrap().ready, 0);
    /// ```
    pub fn new() -> PollSet<'fd> {
        PollSet::with_options(PollOptions::new())
    }

    /// An empty set served with `options` (its backend, its EOF rule).
    ///
    /// ```
    /// use waitset::{BackendKind, EofMode, PollFlags, PollOptions, PollSet, Timeout};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// drop(w);
    /// let opts = PollOptions::new().backend(BackendKind::Poll).eof(EofMode::Raw);
    /// let mut set = PollSet::with_options(opts);
    /// set.push(&r, PollFlags::IN).unwrap();
    /// assert_eq!(set.poll(Timeout::ZERO, false).unwrap().ready, 1);
    /// let got = set.iter().next().unwrap().revents();
    /// if cfg!(target_os = "linux") {
    ///     assert_eq!(got, PollFlags::HUP); // raw: the kernel's bits, not normalized to IN | HUP
    /// }
    /// ```
    pub fn with_options(options: PollOptions) -> PollSet<'fd> {
        PollSet {
            entries: Vec::new(),
            options,
            kept: None,
            _fds: PhantomData,
        }
    }

    /// Append an entry. An empty `events` is [`Error::InvalidArgument`] (it could never be
    /// satisfied but by an error); the set is unchanged on error.
    ///
    /// ```
    /// use waitset::{Error, PollFlags, PollSet};
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&r, PollFlags::IN).unwrap();
    /// assert!(matches!(set.push(&r, PollFlags::empty()), Err(Error::InvalidArgument(_))));
    /// assert_eq!(set.len(), 1); // unchanged by the error
    /// ```
    pub fn push(&mut self, fd: &'fd impl AsFd, events: PollFlags) -> Result<()> {
        self.push_fd(fd.as_fd(), events)
    }

    /// Append an entry by raw fd number; a negative fd or empty `events` is
    /// [`Error::InvalidArgument`].
    ///
    /// # Safety
    ///
    /// `fd` must stay open, and name the same file, for as long as it is in the set (until the
    /// set is [cleared](Self::clear) or dropped): the set may keep the number registered in
    /// the kernel. This is what C callers of a poll-set object promise.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use waitset::{Error, PollFlags, PollSet};
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// // SAFETY: `r` outlives `set`.
    /// unsafe { set.push_raw(r.as_raw_fd(), PollFlags::IN).unwrap() };
    /// let e = unsafe { set.push_raw(-1, PollFlags::IN) }.unwrap_err();
    /// assert!(matches!(e, Error::InvalidArgument(_)));
    /// assert_eq!(set.len(), 1);
    /// ```
    pub unsafe fn push_raw(&mut self, fd: RawFd, events: PollFlags) -> Result<()> {
        if fd < 0 {
            return Err(Error::InvalidArgument("negative fd").traced("pollset_push"));
        }
        // SAFETY: the caller promises `fd` stays open while it is in the set.
        self.push_fd(unsafe { BorrowedFd::borrow_raw(fd) }, events)
    }

    fn push_fd(&mut self, fd: BorrowedFd<'_>, events: PollFlags) -> Result<()> {
        if events.is_empty() {
            return Err(Error::InvalidArgument("empty events").traced("pollset_push"));
        }
        if u32::try_from(self.entries.len()).is_err() {
            return Err(Error::InvalidArgument("too many entries").traced("pollset_push"));
        }
        if self.kept.is_none() && self.options.backend_kind() != BackendKind::Poll {
            // Check the descriptor first: the backend's own instance, created now, would take
            // the lowest free number, which may be the caller's closed one (then EINVAL for
            // adding an instance to itself instead of BadHandle).
            rustix::io::fcntl_getfd(fd).map_err(|e| Error::sys(e).traced("pollset_push"))?;
            self.kept = Some(KeptInterest::new(self.options.backend_kind())?);
        }
        match &mut self.kept {
            Some(k) => k
                .add(fd, self.entries.len() as u32, events)
                .map_err(|e| e.traced("pollset_push"))?,
            // The same answer as a backend that registers it: a descriptor that is not open
            // cannot join the set.
            None => {
                rustix::io::fcntl_getfd(fd).map_err(|e| Error::sys(e).traced("pollset_push"))?;
            }
        }
        self.entries.push(PollFd::from_raw(fd.as_raw_fd(), events));
        Ok(())
    }

    /// The number of entries.
    ///
    /// ```
    /// use waitset::{PollFlags, PollSet};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&r, PollFlags::IN).unwrap();
    /// set.push(&w, PollFlags::OUT).unwrap();
    /// set.push(&r, PollFlags::PRI).unwrap(); // the same fd again is another entry
    /// assert_eq!(set.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set is empty.
    ///
    /// ```
    /// use waitset::{PollFlags, PollSet};
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// assert!(set.is_empty());
    /// set.push(&r, PollFlags::IN).unwrap();
    /// assert!(!set.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in insertion order, with the `revents` of the last poll.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use waitset::{PollFlags, PollSet, Timeout};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&w, PollFlags::OUT).unwrap();
    /// set.push(&r, PollFlags::IN).unwrap();
    /// set.poll(Timeout::ZERO, false).unwrap();
    /// let seen: Vec<_> = set.iter().map(|p| (p.fd(), p.revents())).collect();
    /// assert_eq!(seen, [(w.as_raw_fd(), PollFlags::OUT), (r.as_raw_fd(), PollFlags::empty())]);
    /// assert_eq!((&set).into_iter().count(), 2); // `for p in &set` works too
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, PollFd> {
        self.entries.iter()
    }

    /// The entries that were ready at the last poll, in insertion order.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use waitset::{PollFlags, PollSet, Timeout};
    /// let (r1, _w1) = rustix::pipe::pipe().unwrap();
    /// let (r2, w2) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&r1, PollFlags::IN).unwrap();
    /// set.push(&r2, PollFlags::IN).unwrap();
    /// rustix::io::write(&w2, b"x").unwrap();
    /// assert_eq!(set.poll(Timeout::ZERO, false).unwrap().ready, 1);
    /// let ready: Vec<_> = set.ready().map(|p| p.fd()).collect();
    /// assert_eq!(ready, [r2.as_raw_fd()]); // r1, not ready, is skipped
    /// ```
    pub fn ready(&self) -> impl Iterator<Item = &PollFd> + '_ {
        // With kernel interest, O(ready): the entries the last poll set, kept sorted.
        let (shown, all) = match &self.kept {
            Some(k) => (Some(k.shown.iter()), None),
            None => (None, Some(self.entries.iter())),
        };
        let shown = shown
            .into_iter()
            .flatten()
            .map(|&i| &self.entries[i as usize]);
        let all = all
            .into_iter()
            .flatten()
            .filter(|p| !p.revents().is_empty());
        shown.chain(all)
    }

    /// Remove every entry (and its kernel interest).
    ///
    /// ```
    /// use waitset::{PollFlags, PollSet, Timeout};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// rustix::io::write(&w, b"x").unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&r, PollFlags::IN).unwrap();
    /// set.clear();
    /// assert!(set.is_empty());
    /// assert_eq!(set.poll(Timeout::ZERO, false).unwrap().ready, 0); // `r` is no longer watched
    /// ```
    pub fn clear(&mut self) {
        self.entries.clear();
        if let Some(k) = &mut self.kept {
            k.clear();
        }
    }

    /// Poll every entry for up to `timeout`.
    ///
    /// With `retry`, an interruption by a signal handler resumes the wait with the time *left*
    /// against the deadline fixed at the start of the call (never the full timeout again), and
    /// `interrupted` reports that it happened. Without `retry`, the interruption is returned as
    /// [`Error::Interrupted`]. Every error is also emitted as a `tracing` event.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use waitset::{Error, PollFlags, PollSet, Timeout};
    ///
    /// extern "C" fn on_usr1(_: libc::c_int) {}
    /// let handler = on_usr1 as extern "C" fn(libc::c_int) as libc::sighandler_t;
    /// // SAFETY: the handler does nothing.
    /// unsafe { libc::signal(libc::SIGUSR1, handler) };
    /// // A thread that keeps interrupting this one with SIGUSR1 until told to stop.
    /// let me = unsafe { libc::pthread_self() } as usize;
    /// let stop = Arc::new(AtomicBool::new(false));
    /// let kicker = std::thread::spawn({
    ///     let stop = stop.clone();
    ///     move || {
    ///         while !stop.load(Ordering::Relaxed) {
    ///             unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR1) };
    ///             std::thread::sleep(Duration::from_millis(1));
    ///         }
    ///     }
    /// });
    ///
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&r, PollFlags::IN).unwrap();
    /// // Without retry, the first interruption is an error...
    /// let e = set.poll(Timeout::from_millis(10_000), false).unwrap_err();
    /// assert!(matches!(e, Error::Interrupted));
    /// // ...with retry, the wait resumes with the time left, ends at the original deadline
    /// // (restarting the full 100 ms after each signal would never end), and reports the
    /// // interruption.
    /// let out = set.poll(Timeout::from_millis(100), true).unwrap();
    /// assert_eq!((out.ready, out.interrupted), (0, true));
    /// stop.store(true, Ordering::Relaxed);
    /// kicker.join().unwrap();
    /// ```
    pub fn poll(&mut self, timeout: Timeout, retry: bool) -> Result<PollOutcome> {
        let deadline = timeout.deadline();
        let mut interrupted = false;
        loop {
            let left = deadline.remaining();
            let r = match &mut self.kept {
                Some(k) => k.poll(&mut self.entries, left, self.options.eof),
                None => self.options.ppoll(&mut self.entries, left, None),
            };
            match r {
                Ok(ready) => return Ok(PollOutcome { ready, interrupted }),
                Err(Error::Interrupted) => {
                    interrupted = true;
                    if !retry {
                        return Err(Error::Interrupted.traced("pollset_poll"));
                    }
                    if deadline != Deadline::INFINITE
                        && deadline.remaining() == Some(Duration::ZERO)
                    {
                        for p in self.entries.iter_mut() {
                            p.set_revents(PollFlags::empty());
                        }
                        return Ok(PollOutcome {
                            ready: 0,
                            interrupted,
                        });
                    }
                }
                Err(e) => return Err(e.traced("pollset_poll")),
            }
        }
    }
}

impl KeptInterest {
    fn new(kind: BackendKind) -> Result<KeptInterest> {
        Ok(KeptInterest {
            sys: Sys::new(kind)?,
            fds: Vec::new(),
            by_fd: HashMap::default(),
            next_same_fd: Vec::new(),
            shown: Vec::new(),
            refused: Vec::new(),
            polls: 0,
        })
    }

    /// Register entry `idx` (the next one) for `events` on `fd`.
    fn add(&mut self, fd: BorrowedFd<'_>, idx: u32, events: PollFlags) -> Result<()> {
        let bits = events.bits() as u16 as Bits;
        let raw = fd.as_raw_fd();
        if self
            .sys
            .pollable_fd()
            .is_some_and(|own| own.as_raw_fd() == raw)
        {
            // The number of the set's own instance: not the caller's descriptor.
            return Err(Error::BadHandle);
        }
        self.next_same_fd.reserve(1);
        self.shown.reserve(1);
        match self.by_fd.get(&raw) {
            Some(&f) => {
                let fi = &mut self.fds[f as usize];
                let want = fi.interest | bits;
                if !fi.refused && want != fi.interest {
                    self.sys
                        .modify(fd, u64::from(f), want, Trigger::Level)
                        .map_err(Error::sys)?;
                }
                fi.interest = want;
                self.next_same_fd.push(fi.head);
                fi.head = idx;
            }
            None => {
                let f = self.fds.len() as u32;
                let refused = match self.sys.add(fd, u64::from(f), bits, Trigger::Level) {
                    Ok(()) => false,
                    Err(AddError::Refused) => true,
                    Err(AddError::Sys(e)) => return Err(Error::sys(e)),
                };
                self.fds.push(FdInterest {
                    fd: raw,
                    head: idx,
                    interest: bits,
                    refused,
                    seen: 0,
                });
                if refused {
                    self.refused.push(f);
                }
                self.by_fd.insert(raw, f);
                self.next_same_fd.push(NIL);
            }
        }
        Ok(())
    }

    fn clear(&mut self) {
        for fi in &self.fds {
            if !fi.refused {
                // SAFETY: every descriptor in the set is open while it is in the set (borrowed
                // for 'fd, or promised by the caller of `push_raw`); it leaves the set here.
                let _ = self.sys.delete(unsafe { BorrowedFd::borrow_raw(fi.fd) });
            }
        }
        self.fds.clear();
        self.by_fd.clear();
        self.next_same_fd.clear();
        self.shown.clear();
        self.refused.clear();
    }

    /// One poll: the kernel reports what is ready among the registered descriptors.
    fn poll(
        &mut self,
        entries: &mut [PollFd],
        timeout: Option<Duration>,
        eof: super::poll::EofMode,
    ) -> Result<usize> {
        for &i in &self.shown {
            entries[i as usize].revents = PollFlags::empty();
        }
        self.shown.clear();
        self.polls += 1;
        let poll_no = self.polls;
        // Always-ready descriptors are ready now: the kernel is only asked what else is.
        for &f in &self.refused {
            let fi = &self.fds[f as usize];
            show(
                entries,
                &self.next_same_fd,
                &mut self.shown,
                fi.head,
                fdrules::ALWAYS_READY_BITS,
            );
        }
        let mut timeout = if self.shown.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        let max = self.fds.len().clamp(1, KERNEL_BATCH);
        let KeptInterest {
            sys,
            fds,
            next_same_fd,
            shown,
            ..
        } = self;
        loop {
            // With more than KERNEL_BATCH descriptors ready, ask again: the kernel hands out the
            // ones not reported yet first, so a repeat means every ready one has been seen.
            let (n, repeat) = sys
                .wait(max, timeout, |reports| {
                    let (mut n, mut repeat) = (0, false);
                    for r in reports {
                        n += 1;
                        let fi = &mut fds[r.token as usize];
                        if fi.seen == poll_no {
                            repeat = true;
                            continue;
                        }
                        fi.seen = poll_no;
                        show(entries, next_same_fd, shown, fi.head, r.bits);
                    }
                    (n, repeat)
                })
                .map_err(|e| match e {
                    Errno::INTR => Error::Interrupted,
                    e => Error::sys(e),
                })?;
            if n < max || repeat {
                break;
            }
            timeout = Some(Duration::ZERO);
        }
        shown.sort_unstable();
        let mut ready = 0;
        for &i in shown.iter() {
            ready += finish(std::slice::from_mut(&mut entries[i as usize]), eof);
        }
        Ok(ready)
    }
}

/// Set the `revents` of every entry on one descriptor from the kernel's bits (each entry sees
/// what it asked for, plus `ERR` and `HUP`), noting the entries it set.
fn show(entries: &mut [PollFd], next: &[u32], shown: &mut Vec<u32>, head: u32, bits: Bits) {
    let mut cur = head;
    while cur != NIL {
        let p = &mut entries[cur as usize];
        let always = (fdrules::ERR | fdrules::HUP) as u16 as i16;
        let r = (bits as u16 as i16) & (p.events.bits() | always);
        if r != 0 {
            p.revents = PollFlags::from_bits_retain(r);
            shown.push(cur);
        }
        cur = next[cur as usize];
    }
}

impl<'a, 'fd> IntoIterator for &'a PollSet<'fd> {
    type Item = &'a PollFd;
    type IntoIter = std::slice::Iter<'a, PollFd>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}
