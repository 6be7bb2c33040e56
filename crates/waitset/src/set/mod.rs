//! [`WaitSet`]: the persistent face, in the style of the Magenta/Zircon wait set.
//!
//! Entries are keyed by a caller-chosen 64-bit cookie; each waits for a mask of [`Signals`] on a
//! [`Source`]. [`WaitSet::wait`] fills a results buffer with one [`WaitResult`] per reported
//! entry: the cookie, a [`Status`] and the signals observed.
//!
//! The set is built from parts with one concern each (see `docs/ARCHITECTURE.md`):
//!
//! | module | owns |
//! |---|---|
//! | `registry` | the entry slab, cookies, descriptor registrations shared by entries on one fd, and the one comparison of "wanted" with "in the kernel" |
//! | `ready` | the ready ring (fairness) and the one evaluation of what an entry reports |
//! | `delivery` | waking waiters (the wake ledger) and exclusive holds |
//! | `external` | making the set's own descriptor readable for an outer event loop (`Pollable`) |
//! | `state` | the operations every path shares: becoming ready, leaving a registration, removal, release, timers |
//! | `observe` | how a source's change becomes readiness |
//! | `wait` | the wait loop |
//! | this file | the public API, thin |
//!
//! # Semantics
//!
//! * Level-triggered by default: an asserted signal is reported on every wait. [`Trigger::Edge`]
//!   reports once per assertion; [`Trigger::Oneshot`] reports once and disarms the entry until
//!   [`WaitSet::modify`]. At most one result per entry per wait.
//! * Fairness: with `R` entries ready and room for `C` results, every one of them is reported at
//!   least once in every window of `ceil(R / C)` consecutive waits — descriptors, events,
//!   timers and always-ready files alike, from the first wait on.
//! * [`Status::Unsatisfiable`]: the watched signals can never become true again — `WRITABLE`
//!   after the peer hung up (or the descriptor failed), signals of a source whose last handle was
//!   dropped and that are not asserted. Reported once per arming: the entry is then disarmed
//!   until [`WaitSet::modify`], so a caller that ignores it does not spin.
//! * [`Status::Canceled`]: the [`Handle`] was closed; reported once, after which the entry is
//!   gone (its cookie can be reused).
//! * End of file: `READABLE` is reported together with `PEER_CLOSED` (a read returns 0 at once);
//!   `WRITABLE` is never reported together with a hang-up or error.
//! * Several threads may wait at once; see [`Delivery`].

mod delivery;
mod external;
mod observe;
mod ready;
mod registry;
mod state;
mod wait;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

pub use self::external::Pollable;
use self::ready::LazyNow;
use self::registry::{Kind, SyncError};
pub(crate) use self::state::Inner;
use self::state::State;
use crate::fdrules::{self, FileId};
use crate::source::Observer;
use crate::sync::{Arc, Mutex, PostWakeups, Rank, Weak};
use crate::sys::{Backend, BackendKind, Sys, Trigger};
use crate::{Deadline, Error, Event, Handle, Result, Signals, Timer};

/// How an entry's wait ended.
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use waitset::{Deadline, Event, Handle, Signals, Source, Status, WaitResult, WaitSet};
/// let set = WaitSet::new().unwrap();
/// let ev = Event::new();
/// set.add(1, Source::from(&ev), Signals::USER_0).unwrap();
/// ev.signal(Signals::empty(), Signals::USER_0).unwrap();
/// let (a, b) = UnixStream::pair().unwrap();
/// let a = Handle::new(a.into());
/// set.add(2, Source::from(&a), Signals::WRITABLE).unwrap();
/// drop(b); // `a` can never be written again
/// let (r, _w) = rustix::pipe::pipe().unwrap();
/// let h = Handle::new(r);
/// set.add(3, Source::from(&h), Signals::READABLE).unwrap();
/// h.close().unwrap();
/// let mut out = [WaitResult::default(); 3];
/// let n = set.wait(Deadline::now(), &mut out).unwrap();
/// let mut got: Vec<_> = out[..n].iter().map(|r| (r.cookie, r.status)).collect();
/// got.sort_by_key(|&(cookie, _)| cookie);
/// let want = [(1, Status::Satisfied), (2, Status::Unsatisfiable), (3, Status::Canceled)];
/// assert_eq!(got, want);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Status {
    /// At least one watched signal is asserted.
    #[default]
    Satisfied,
    /// The watched signals can never become asserted again (reported once per arming).
    Unsatisfiable,
    /// The handle was closed; the entry has been removed.
    Canceled,
}

/// One result of [`WaitSet::wait`].
///
/// ```
/// use waitset::{Deadline, Error, Handle, Signals, Source, Status, WaitResult, WaitSet};
/// let set = WaitSet::new().unwrap();
/// let (r, w) = rustix::pipe::pipe().unwrap();
/// let r = Handle::new(r);
/// set.add(9, Source::from(&r), Signals::READABLE).unwrap();
/// let mut out = [WaitResult::default(); 2];
/// assert!(matches!(set.wait(Deadline::now(), &mut out), Err(Error::TimedOut)));
/// assert_eq!(out, [WaitResult::default(); 2]); // nothing written on an error
/// drop(w);
/// assert_eq!(set.wait(Deadline::now(), &mut out).unwrap(), 1);
/// // A descriptor also reports PEER_CLOSED, watched or not.
/// let observed = Signals::READABLE | Signals::PEER_CLOSED;
/// assert_eq!(out[0], WaitResult { cookie: 9, status: Status::Satisfied, observed });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct WaitResult {
    /// The entry's cookie.
    pub cookie: u64,
    /// Why it was reported.
    pub status: Status,
    /// The signals observed (watched ones, plus `ERROR` and `PEER_CLOSED` for descriptors).
    pub observed: Signals,
}

/// How results are shared among threads waiting on one set at the same time.
///
/// In [`Exclusive`](Delivery::Exclusive) delivery an entry that was reported is *held* by the
/// thread that received it: no other waiter receives it until that thread calls
/// [`wait`](WaitSet::wait) on the set again, or exits, or the entry is
/// [modified](WaitSet::modify) or removed. Nothing is lost while an entry is held: an edge
/// that happens meanwhile is reported after the release, and a level entry still asserted is
/// reported again.
///
/// ```
/// use waitset::{Deadline, Delivery, Event, Signals, Source, WaitResult, WaitSet};
/// let modes = [(Delivery::Broadcast, true), (Delivery::Exclusive, false)];
/// for (delivery, other_thread_sees_it) in modes {
///     let set = WaitSet::builder().delivery(delivery).build().unwrap();
///     let ev = Event::new();
///     set.add(1, Source::from(&ev), Signals::USER_0).unwrap();
///     ev.signal(Signals::empty(), Signals::USER_0).unwrap();
///     let mut out = [WaitResult::default(); 1];
///     assert_eq!(set.wait(Deadline::now(), &mut out).unwrap(), 1); // this thread takes it
///     let other = set.clone();
///     let seen = std::thread::spawn(move || {
///         other.wait(Deadline::now(), &mut [WaitResult::default(); 1]).is_ok()
///     });
///     assert_eq!(seen.join().unwrap(), other_thread_sees_it);
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Delivery {
    /// Every waiter sees the level-triggered ready entries.
    #[default]
    Broadcast,
    /// Each result goes to exactly one waiter, which holds the entry until it waits again (or
    /// exits); one readiness wakes one waiter.
    Exclusive,
}

/// What an entry waits on: a [`Handle`], an [`Event`], a [`Timer`], or (with the `unsafe`
/// [`Source::fd`]) any descriptor by number. A wait set cannot be a source.
///
/// ```
/// use waitset::{Event, Handle, Source, Timer};
/// let (r, _w) = rustix::pipe::pipe().unwrap();
/// let h = Handle::new(r);
/// let _ = Source::from(&h);
/// let ev = Event::new();
/// let _ = Source::from(&ev);
/// let t = Timer::new();
/// let _ = Source::from(&t);
/// ```
///
/// Nesting sets is rejected at compile time:
///
/// ```compile_fail
/// use waitset::{Source, WaitSet};
/// let inner = WaitSet::new().unwrap();
/// let _ = Source::from(&inner);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    kind: SourceKind<'a>,
}

#[derive(Clone, Copy, Debug)]
enum SourceKind<'a> {
    Fd(BorrowedFd<'a>),
    Handle(&'a Handle),
    Event(&'a Event),
    Timer(&'a Timer),
}

impl<'a> Source<'a> {
    /// Any descriptor, registered by number: sockets, pipes, ptys, eventfds, and files the
    /// kernel refuses to watch (regular files, directories, `/dev/null`), which are always
    /// ready for what their access mode allows.
    ///
    /// # Safety
    ///
    /// The set keeps the descriptor's *number* after this borrow ends. The caller must
    /// [`remove`](WaitSet::remove) every entry made with it (or drop every handle of the set)
    /// before closing the descriptor, as with `epoll_ctl` itself. Breaking this is not undefined
    /// behaviour in the memory sense, but it breaks I/O safety: the set would operate on a
    /// number that may name another file. The engine still never reports the old entry for the
    /// new file: a number found closed or reused makes its entries report
    /// [`Status::Unsatisfiable`] with `ERROR`. Use a [`Handle`] to have closing cancel the
    /// entries instead.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use waitset::{Deadline, Signals, Source, WaitResult, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").unwrap();
    /// let (sock, _peer) = UnixStream::pair().unwrap();
    /// // SAFETY: both entries are removed before the descriptors are closed.
    /// unsafe {
    ///     set.add(1, Source::fd(&null), Signals::READABLE | Signals::WRITABLE).unwrap();
    ///     set.add(2, Source::fd(&sock), Signals::READABLE).unwrap();
    /// }
    /// let mut out = [WaitResult::default(); 2];
    /// // /dev/null is always ready; the socket has nothing to read.
    /// assert_eq!(set.wait(Deadline::now(), &mut out).unwrap(), 1);
    /// assert_eq!(out[0].cookie, 1);
    /// set.remove(1).unwrap();
    /// set.remove(2).unwrap();
    /// ```
    pub unsafe fn fd(fd: &'a impl AsFd) -> Source<'a> {
        Source {
            kind: SourceKind::Fd(fd.as_fd()),
        }
    }
}

impl<'a> From<&'a Event> for Source<'a> {
    fn from(e: &'a Event) -> Source<'a> {
        Source {
            kind: SourceKind::Event(e),
        }
    }
}
impl<'a> From<&'a Timer> for Source<'a> {
    fn from(t: &'a Timer) -> Source<'a> {
        Source {
            kind: SourceKind::Timer(t),
        }
    }
}
impl<'a> From<&'a Handle> for Source<'a> {
    fn from(h: &'a Handle) -> Source<'a> {
        Source {
            kind: SourceKind::Handle(h),
        }
    }
}

/// Builds a [`WaitSet`].
///
/// ```
/// use waitset::{BackendKind, Delivery, WaitSet};
/// let set = WaitSet::builder().backend(BackendKind::Poll).delivery(Delivery::Exclusive).build().unwrap();
/// assert_eq!(set.backend(), BackendKind::Poll);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct WaitSetBuilder {
    backend: Option<BackendKind>,
    delivery: Delivery,
    capacity: usize,
}

impl WaitSetBuilder {
    /// Use this backend (default: [`BackendKind::default`], which honours `WAITSET_BACKEND`).
    ///
    /// ```
    /// use waitset::{BackendKind, WaitSet};
    /// let set = WaitSet::builder().backend(BackendKind::Poll).build().unwrap();
    /// assert_eq!(set.backend(), BackendKind::Poll);
    /// assert_eq!(WaitSet::builder().build().unwrap().backend(), BackendKind::default());
    /// ```
    pub fn backend(mut self, kind: BackendKind) -> Self {
        self.backend = Some(kind);
        self
    }
    /// Share results among concurrent waiters this way.
    ///
    /// ```
    /// use waitset::{Delivery, WaitSet};
    /// assert_eq!(WaitSet::builder().build().unwrap().delivery(), Delivery::Broadcast);
    /// let set = WaitSet::builder().delivery(Delivery::Exclusive).build().unwrap();
    /// assert_eq!(set.delivery(), Delivery::Exclusive);
    /// ```
    pub fn delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }
    /// Reserve room for this many entries up front.
    ///
    /// ```
    /// use waitset::{Event, Signals, Source, WaitSet};
    /// let set = WaitSet::builder().capacity(2).build().unwrap();
    /// let events: Vec<Event> = (0..3).map(|_| Event::new()).collect();
    /// for (cookie, ev) in (0..).zip(&events) {
    ///     // Adding may grow the set past the reserved capacity.
    ///     set.add(cookie, Source::from(ev), Signals::USER_0).unwrap();
    /// }
    /// assert_eq!(set.len(), 3);
    /// ```
    pub fn capacity(mut self, entries: usize) -> Self {
        self.capacity = entries;
        self
    }
    /// Create the set.
    ///
    /// ```
    /// use waitset::{Deadline, Error, WaitResult, WaitSet};
    /// let set = WaitSet::builder().build().unwrap();
    /// assert!(set.is_empty());
    /// let mut out = [WaitResult::default(); 1];
    /// assert!(matches!(set.wait(Deadline::now(), &mut out), Err(Error::TimedOut)));
    /// ```
    pub fn build(self) -> Result<WaitSet> {
        let (sys, channel) = Sys::with_wake_channel(self.backend)?;
        // epoll and io_uring wake with edges (nothing to read); poll(2) with tokens.
        let mode = if sys.kind() == BackendKind::Poll {
            delivery::WakeMode::Tokens
        } else {
            delivery::WakeMode::Edge
        };
        let mut st = State {
            ledger: delivery::WakeLedger::new(mode),
            ..State::default()
        };
        st.reg.reserve(self.capacity);
        st.timers.reserve(self.capacity);
        Ok(WaitSet {
            inner: Arc::new(Inner {
                sys,
                channel,
                delivery: self.delivery,
                state: Mutex::new(Rank::Set, st),
            }),
        })
    }
}

/// A persistent set of entries that threads wait on. `Send + Sync`; every method takes `&self`;
/// cloning yields another handle to the same set.
///
/// ```
/// use waitset::{Deadline, Handle, Signals, Source, Status, WaitResult, WaitSet};
/// let (r, w) = rustix::pipe::pipe().unwrap();
/// let r = Handle::new(r);
/// let set = WaitSet::new().unwrap();
/// set.add(0xfeed, Source::from(&r), Signals::READABLE).unwrap();
/// rustix::io::write(&w, b"hi").unwrap();
/// let mut out = [WaitResult::default(); 8];
/// let n = set.wait(Deadline::INFINITE, &mut out).unwrap();
/// assert_eq!(&out[..n], &[WaitResult { cookie: 0xfeed, status: Status::Satisfied, observed: Signals::READABLE }]);
/// set.remove(0xfeed).unwrap();
/// ```
#[derive(Clone)]
pub struct WaitSet {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WaitSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.inner.state.lock();
        f.debug_struct("WaitSet")
            .field("backend", &self.backend())
            .field("delivery", &self.inner.delivery)
            .field("entries", &st.reg.len())
            .field("ready", &st.ring.len())
            .field("armed_timers", &st.timers.len())
            .field("closed", &st.closed)
            .finish()
    }
}

impl WaitSet {
    /// A set with the default backend and broadcast delivery.
    ///
    /// ```
    /// use waitset::{BackendKind, Delivery, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// assert_eq!(set.backend(), BackendKind::default());
    /// assert_eq!(set.delivery(), Delivery::Broadcast);
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> Result<WaitSet> {
        WaitSet::builder().build()
    }

    /// A builder for a set with non-default options.
    ///
    /// ```
    /// use waitset::{BackendKind, Delivery, WaitSet};
    /// let set = WaitSet::builder()
    ///     .backend(BackendKind::Poll)
    ///     .delivery(Delivery::Exclusive)
    ///     .capacity(64)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!((set.backend(), set.delivery()), (BackendKind::Poll, Delivery::Exclusive));
    /// ```
    pub fn builder() -> WaitSetBuilder {
        WaitSetBuilder::default()
    }

    /// The backend serving this set.
    ///
    /// ```
    /// use waitset::{Handle, Signals, Source, Trigger, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// // Pick a trigger mode the backend serving this set supports natively.
    /// let edge = set.backend().capabilities().edge;
    /// let trigger = if edge { Trigger::Edge } else { Trigger::Level };
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let r = Handle::new(r);
    /// set.add_with(1, Source::from(&r), Signals::READABLE, trigger).unwrap();
    /// ```
    pub fn backend(&self) -> BackendKind {
        self.inner.sys.kind()
    }

    /// The delivery mode of this set.
    ///
    /// ```
    /// use waitset::{Delivery, WaitSet};
    /// let set = WaitSet::builder().delivery(Delivery::Exclusive).build().unwrap();
    /// assert_eq!(set.delivery(), Delivery::Exclusive);
    /// assert_eq!(set.clone().delivery(), Delivery::Exclusive); // a clone is the same set
    /// ```
    pub fn delivery(&self) -> Delivery {
        self.inner.delivery
    }

    /// The number of entries.
    ///
    /// ```
    /// use waitset::{Deadline, Event, Handle, Signals, Source, WaitResult, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let ev = Event::new();
    /// set.add(1, Source::from(&ev), Signals::USER_0).unwrap();
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let h = Handle::new(r);
    /// set.add(2, Source::from(&h), Signals::READABLE).unwrap();
    /// assert_eq!(set.len(), 2);
    /// set.remove(1).unwrap();
    /// assert_eq!(set.len(), 1);
    /// // A closed handle's entry is gone once its cancellation has been reported.
    /// h.close().unwrap();
    /// let mut out = [WaitResult::default(); 1];
    /// set.wait(Deadline::now(), &mut out).unwrap();
    /// assert_eq!(set.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.state.lock().reg.len()
    }

    /// Whether the set has no entries.
    ///
    /// ```
    /// use waitset::{Event, Signals, Source, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// assert!(set.is_empty());
    /// let ev = Event::new();
    /// set.add(1, Source::from(&ev), Signals::USER_0).unwrap();
    /// assert!(!set.is_empty());
    /// set.remove(1).unwrap();
    /// assert!(set.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether an entry has this cookie.
    ///
    /// ```
    /// use waitset::{Signals, Source, Timer, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let t = Timer::new();
    /// set.add(0xabc, Source::from(&t), Signals::TIMER).unwrap();
    /// assert!(set.contains(0xabc) && !set.contains(0xabd));
    /// set.remove(0xabc).unwrap();
    /// assert!(!set.contains(0xabc));
    /// ```
    pub fn contains(&self, cookie: u64) -> bool {
        self.inner.state.lock().reg.contains(cookie)
    }

    /// Add a level-triggered entry waiting for `signals` on `source`.
    ///
    /// Errors: [`Error::AlreadyExists`] (cookie in use), [`Error::BadHandle`] (fd not open, handle
    /// closed), [`Error::AccessDenied`] (a signal the source can never assert: `READABLE` on a
    /// write-only fd, `TIMER` on an fd, a non-user signal on an event), [`Error::NotSupported`]
    /// (edge triggering where the backend cannot), [`Error::Canceled`] (set closed).
    /// On error the set is unchanged.
    ///
    /// ```
    /// use waitset::{Error, Handle, Signals, Source, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// let (r, w) = (Handle::new(r), Handle::new(w));
    /// set.add(1, Source::from(&r), Signals::READABLE).unwrap();
    /// // The cookie is in use:
    /// let e = set.add(1, Source::from(&w), Signals::WRITABLE).unwrap_err();
    /// assert!(matches!(e, Error::AlreadyExists(1)));
    /// // A pipe's write end is never readable, and no descriptor asserts TIMER:
    /// let e = set.add(2, Source::from(&w), Signals::READABLE).unwrap_err();
    /// assert!(matches!(e, Error::AccessDenied(s) if s == Signals::READABLE));
    /// let e = set.add(3, Source::from(&r), Signals::TIMER).unwrap_err();
    /// assert!(matches!(e, Error::AccessDenied(s) if s == Signals::TIMER));
    /// assert_eq!(set.len(), 1); // the failed calls changed nothing
    /// ```
    pub fn add(&self, cookie: u64, source: Source<'_>, signals: Signals) -> Result<()> {
        self.add_with(cookie, source, signals, Trigger::Level)
    }

    /// [`add`](Self::add) with a trigger mode.
    ///
    /// ```
    /// use waitset::{Deadline, Event, Signals, Source, Trigger, WaitResult, WaitSet, Error};
    /// let set = WaitSet::new().unwrap();
    /// let ev = Event::new();
    /// set.add_with(1, Source::from(&ev), Signals::USER_0, Trigger::Oneshot).unwrap();
    /// ev.signal(Signals::empty(), Signals::USER_0).unwrap();
    /// let mut out = [WaitResult::default(); 1];
    /// assert_eq!(set.wait(Deadline::now(), &mut out).unwrap(), 1);
    /// assert!(matches!(set.wait(Deadline::now(), &mut out), Err(Error::TimedOut))); // disarmed
    /// set.modify(1, Signals::USER_0).unwrap(); // re-armed
    /// assert_eq!(set.wait(Deadline::now(), &mut out).unwrap(), 1);
    /// ```
    pub fn add_with(
        &self,
        cookie: u64,
        source: Source<'_>,
        signals: Signals,
        trigger: Trigger,
    ) -> Result<()> {
        self.add_inner(cookie, source, signals, trigger)
            .map_err(|e| e.traced("waitset_add"))
    }

    fn observer(&self) -> Weak<dyn Observer> {
        Arc::downgrade(&self.inner) as Weak<dyn Observer>
    }

    fn add_inner(
        &self,
        cookie: u64,
        source: Source<'_>,
        signals: Signals,
        trigger: Trigger,
    ) -> Result<()> {
        let inner = &*self.inner;
        match source.kind {
            SourceKind::Fd(fd) => {
                let possible = fdrules::possible_signals(fd)?;
                let mut st = inner.state.lock();
                let (_, tokens) =
                    self.insert_fd(&mut st, cookie, fd, possible, signals, trigger, None)?;
                drop(st);
                inner.post_wakeups(tokens);
            }
            SourceKind::Handle(h) => {
                let core = h.core();
                let mut observers = core.observers.lock();
                if observers.closed {
                    return Err(Error::BadHandle);
                }
                let fd = core.fd_while_open(&observers);
                let possible = core.possible_signals(fd)?;
                let mut st = inner.state.lock();
                let (key, tokens) = self.insert_fd(
                    &mut st,
                    cookie,
                    fd,
                    possible,
                    signals,
                    trigger,
                    Some(core.clone()),
                )?;
                drop(st);
                observers.push(self.observer(), key);
                drop(observers);
                inner.post_wakeups(tokens);
            }
            SourceKind::Event(ev) => {
                let core = ev.core();
                let kind = Kind::Event(core.clone());
                self.add_user_space(
                    cookie,
                    &core.observers,
                    Signals::USER_ALL,
                    kind,
                    signals,
                    trigger,
                )?;
            }
            SourceKind::Timer(t) => {
                let core = t.core();
                let kind = Kind::Timer {
                    core: core.clone(),
                    key: None,
                };
                self.add_user_space(
                    cookie,
                    &core.observers,
                    Signals::TIMER,
                    kind,
                    signals,
                    trigger,
                )?;
            }
        }
        Ok(())
    }

    /// Add an entry on a user-space source (an Event or a Timer): `signals` must lie within
    /// `allowed`; the source's observer lock is taken before the set's (the lock order), the
    /// entry's edge is armed at its first state, a Timer's deadline joins the set's wheel, and
    /// the set becomes one of the source's observers.
    fn add_user_space(
        &self,
        cookie: u64,
        observers: &Mutex<crate::source::ObserverList>,
        allowed: Signals,
        kind: Kind,
        signals: Signals,
        trigger: Trigger,
    ) -> Result<()> {
        let denied = signals - allowed;
        if !denied.is_empty() {
            return Err(Error::AccessDenied(denied));
        }
        let inner = &*self.inner;
        let mut observers = observers.lock();
        let mut st = inner.state.lock();
        check_insert(&st, cookie)?;
        let is_timer = matches!(kind, Kind::Timer { .. });
        let key = st.reg.insert(cookie, kind, signals, trigger);
        let mut now = LazyNow::new();
        st.reg.entries[key.0 as usize].arm_edge(now.get());
        let mut tokens = if is_timer { st.arm_timer(key.0) } else { 0 };
        tokens += st.reevaluate(inner.delivery, key.0, &mut now);
        drop(st);
        observers.push(self.observer(), key);
        drop(observers);
        inner.post_wakeups(tokens);
        Ok(())
    }

    /// Add a descriptor entry; returns its key and the tokens to post.
    #[allow(clippy::too_many_arguments)]
    fn insert_fd(
        &self,
        st: &mut State,
        cookie: u64,
        fd: BorrowedFd<'_>,
        possible: Signals,
        signals: Signals,
        trigger: Trigger,
        handle: Option<Arc<crate::source::handle::HandleCore>>,
    ) -> Result<((u32, u32), usize)> {
        let inner = &*self.inner;
        let (sys, d) = (&inner.sys, inner.delivery);
        let denied = signals - possible;
        if !denied.is_empty() {
            return Err(Error::AccessDenied(denied));
        }
        if trigger == Trigger::Edge && !sys.kind().capabilities().edge {
            return Err(Error::NotSupported(
                "edge-triggered descriptors on this backend",
            ));
        }
        check_insert(st, cookie)?;
        let raw = fd.as_raw_fd();
        let mut tokens = 0;
        // A registration of this number already: the same file, or a number reused after a
        // close that skipped `remove`? Where the kernel does not hold the registration, the
        // file's identity tells; where it does, re-stating it to the kernel below does (NOENT
        // when the file it watched was closed), which retires it.
        if let Some(reg) = st.reg.reg_of(raw) {
            let r = &st.reg.regs[reg as usize];
            let same = if r.refused || !r.in_kernel {
                r.file.is_none_or(|f| FileId::of(fd) == Some(f))
            } else {
                // Asked without re-arming anything (a re-statement would be a new edge for
                // every edge-triggered entry on the descriptor).
                sys.still_registered(fd)
            };
            if !same {
                tokens += st.retire_reg(sys, d, reg);
            }
        }
        let kind = |reg| match &handle {
            Some(core) => Kind::Handle {
                reg,
                core: core.clone(),
            },
            None => Kind::Fd { reg },
        };
        let (reg, new_reg) = match st.reg.reg_of(raw) {
            Some(reg) => {
                let head = st.reg.regs[reg as usize].head;
                if head != registry::NIL && st.reg.entries[head as usize].trigger != trigger {
                    return Err(Error::NotSupported(
                        "entries with different triggers on one descriptor",
                    ));
                }
                (reg, false)
            }
            None => (st.reg.new_reg(raw, possible), true),
        };
        let (idx, gen) = st.reg.insert(cookie, kind(reg), signals, trigger);
        st.reg.join_reg(reg, idx);
        let edge_now = trigger == Trigger::Edge && st.reg.edge_already_armed(reg, idx);
        let (t, mut r) = st.sync_reg(sys, d, reg);
        tokens += t;
        let mut reg = reg;
        let mut new_reg = new_reg;
        if st.reg.entries[idx as usize].fd_gone {
            // The old registration was gone and was retired with everything on it, this entry
            // included: the number names a new file, which gets a registration of its own.
            let e = &mut st.reg.entries[idx as usize];
            e.fd_gone = false;
            st.ring.unlink(&mut st.reg.entries, idx);
            reg = st.reg.new_reg(raw, possible);
            new_reg = true;
            st.reg.entries[idx as usize].kind = kind(reg);
            st.reg.join_reg(reg, idx);
            let (t, r2) = st.sync_reg(sys, d, reg);
            tokens += t;
            r = r2;
        }
        match r {
            Ok(()) => {}
            Err(SyncError::Refused) => st.reg.mark_refused(reg),
            Err(SyncError::Gone) => unreachable!("sync_reg retires a gone registration"),
            Err(SyncError::Sys(errno)) => {
                // Undo: the set must be exactly as before.
                if st.reg.unlink_from_reg(reg, idx) && new_reg {
                    st.reg.drop_reg(sys, reg);
                }
                st.reg.free_entry(idx);
                return Err(match errno {
                    rustix::io::Errno::BADF => Error::BadHandle,
                    rustix::io::Errno::EXIST => {
                        Error::NotSupported("descriptor already registered elsewhere in this set")
                    }
                    rustix::io::Errno::NOTSUP => {
                        Error::NotSupported("edge-triggered descriptors on this backend")
                    }
                    e => Error::sys(e),
                });
            }
        }
        if st.reg.regs[reg as usize].refused {
            // Always ready: an edge entry's arming is its one rise.
            st.reg.entries[idx as usize].kernel_bits = fdrules::ALWAYS_READY_BITS;
            tokens += st.make_ready(d, idx);
        } else if edge_now {
            // The registration was armed already: the state now is this entry's arming edge.
            st.reg.arm_edge_now(reg, idx);
            if st.reg.entries[idx as usize].kernel_bits != 0 {
                tokens += st.make_ready(d, idx);
            }
        }
        Ok(((idx, gen), tokens))
    }

    /// Change the signals an entry waits for. This also re-arms it (a one-shot entry that
    /// fired, an unsatisfiable entry that was reported) and releases it if a waiter holds it
    /// (exclusive delivery), even when the signals are the same. Errors as for
    /// [`add`](Self::add), plus [`Error::NotFound`]; on error nothing changes.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use waitset::{Deadline, Error, Handle, Signals, Source, WaitResult, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let a = Handle::new(a.into());
    /// set.add(1, Source::from(&a), Signals::READABLE).unwrap();
    /// let mut out = [WaitResult::default(); 1];
    /// // Nothing to read:
    /// assert!(matches!(set.wait(Deadline::now(), &mut out), Err(Error::TimedOut)));
    /// set.modify(1, Signals::WRITABLE).unwrap();
    /// assert_eq!(set.wait(Deadline::now(), &mut out).unwrap(), 1);
    /// assert_eq!(out[0].observed, Signals::WRITABLE);
    /// assert!(matches!(set.modify(2, Signals::WRITABLE), Err(Error::NotFound(2))));
    /// ```
    pub fn modify(&self, cookie: u64, signals: Signals) -> Result<()> {
        self.modify_inner(cookie, signals)
            .map_err(|e| e.traced("waitset_modify"))
    }

    fn modify_inner(&self, cookie: u64, signals: Signals) -> Result<()> {
        let inner = &*self.inner;
        let (sys, d) = (&inner.sys, inner.delivery);
        let mut guard = inner.state.lock();
        let st = &mut *guard;
        if st.closed {
            return Err(Error::Canceled);
        }
        let idx = st.reg.lookup(cookie).ok_or(Error::NotFound(cookie))?;
        let e = &st.reg.entries[idx as usize];
        if e.canceled {
            return Err(Error::NotFound(cookie));
        }
        let allowed = match &e.kind {
            Kind::Event(_) => Signals::USER_ALL,
            Kind::Timer { .. } => Signals::TIMER,
            Kind::Fd { .. } | Kind::Handle { .. } => match e.reg() {
                Some(reg) => st.reg.regs[reg as usize].possible,
                None => Signals::FD_ALL, // the descriptor is gone: it reports that again
            },
            Kind::Free => return Err(Error::NotFound(cookie)),
        };
        let denied = signals - allowed;
        if !denied.is_empty() {
            return Err(Error::AccessDenied(denied));
        }
        let reg = e.reg();
        let saved = (e.watched, e.armed, e.held, e.kernel_bits, e.risen);
        let e = &mut st.reg.entries[idx as usize];
        e.watched = signals;
        e.armed = true;
        e.held = false;
        e.hold_seq = e.hold_seq.wrapping_add(1);
        let mut tokens = 0;
        match reg {
            Some(reg) => {
                // The kernel reports the new interest afresh, under a new token (a report of
                // an earlier arming is dropped) — except an edge-triggered registration armed
                // for other entries, which is left alone (a re-statement would be a new edge
                // for all of them): this entry's arming edge is the state now.
                e.kernel_bits = 0;
                let edge = e.trigger == Trigger::Edge;
                st.ring.unlink(&mut st.reg.entries, idx);
                let edge_now = edge && st.reg.edge_already_armed(reg, idx);
                if !edge_now {
                    st.reg.regs[reg as usize].kernel_armed = false;
                }
                let (t, mut r) = st.sync_reg(sys, d, reg);
                tokens += t;
                if let Err(SyncError::Refused) = r {
                    // First registered now (it was added with nothing to watch): a file the
                    // kernel refuses is always ready, whenever that is found out.
                    st.reg.mark_refused(reg);
                    r = Ok(());
                }
                if let Err(err) = r {
                    let e = &mut st.reg.entries[idx as usize];
                    (e.watched, e.armed, e.held, e.kernel_bits, e.risen) = saved;
                    return Err(match err {
                        SyncError::Sys(rustix::io::Errno::BADF) => Error::BadHandle,
                        SyncError::Sys(e) => Error::sys(e),
                        SyncError::Refused | SyncError::Gone => {
                            Error::NotSupported("descriptor not pollable")
                        }
                    });
                }
                if st.reg.regs.get(reg as usize).is_some_and(|r| r.refused) {
                    st.reg.entries[idx as usize].kernel_bits = fdrules::ALWAYS_READY_BITS;
                    tokens += st.make_ready(d, idx);
                } else if edge_now && st.reg.entries[idx as usize].reg() == Some(reg) {
                    st.reg.arm_edge_now(reg, idx);
                    if st.reg.entries[idx as usize].kernel_bits != 0 {
                        tokens += st.make_ready(d, idx);
                    }
                }
            }
            None => {
                let mut now = LazyNow::new();
                e.arm_edge(now.get()); // a re-arm counts as an edge
                tokens += st.reevaluate(d, idx, &mut now);
            }
        }
        drop(guard);
        inner.post_wakeups(tokens);
        Ok(())
    }

    /// Remove an entry; [`Error::NotFound`] if no entry has this cookie. O(1), also for an entry
    /// that is queued as ready.
    ///
    /// ```
    /// use waitset::{Deadline, Error, Handle, Signals, Source, WaitResult, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// let r = Handle::new(r);
    /// rustix::io::write(&w, b"x").unwrap();
    /// set.add(1, Source::from(&r), Signals::READABLE).unwrap();
    /// set.remove(1).unwrap();
    /// assert!(matches!(set.remove(1), Err(Error::NotFound(1))));
    /// // No longer reported, though `r` is still open and readable.
    /// let mut out = [WaitResult::default(); 1];
    /// assert!(matches!(set.wait(Deadline::now(), &mut out), Err(Error::TimedOut)));
    /// ```
    pub fn remove(&self, cookie: u64) -> Result<()> {
        let inner = &*self.inner;
        let (idx, gen, kind) = {
            let mut st = inner.state.lock();
            let Some(idx) = st.reg.lookup(cookie) else {
                return Err(Error::NotFound(cookie).traced("waitset_remove"));
            };
            let gen = st.reg.entries[idx as usize].gen;
            let (kind, tokens) = st.detach(&inner.sys, inner.delivery, idx);
            drop(st);
            inner.post_wakeups(tokens);
            (idx, gen, kind)
        };
        // Unwatch the source outside the set's lock (lock order: source, then set).
        let me = Arc::as_ptr(&self.inner) as *const ();
        match &kind {
            Kind::Event(core) => core.observers.lock().remove(me, (idx, gen)),
            Kind::Timer { core, .. } => core.observers.lock().remove(me, (idx, gen)),
            Kind::Handle { core, .. } => core.observers.lock().remove(me, (idx, gen)),
            Kind::Fd { .. } | Kind::Free => {}
        }
        Ok(())
    }

    /// Close the set: every thread blocked in [`wait`](Self::wait) returns [`Error::Canceled`],
    /// and so does every later call.
    ///
    /// ```
    /// use waitset::{Deadline, Error, Event, Signals, Source, WaitResult, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let waiter = std::thread::spawn({
    ///     let set = set.clone();
    ///     move || set.wait(Deadline::INFINITE, &mut [WaitResult::default(); 1])
    /// });
    /// set.close(); // wakes the blocked waiter (or turns it away if it has not started yet)
    /// assert!(matches!(waiter.join().unwrap(), Err(Error::Canceled)));
    /// let ev = Event::new();
    /// let e = set.add(1, Source::from(&ev), Signals::USER_0).unwrap_err();
    /// assert!(matches!(e, Error::Canceled));
    /// ```
    pub fn close(&self) {
        let tokens = {
            let mut st = self.inner.state.lock();
            st.closed = true;
            // An outer loop watching the set's descriptor must see the close too.
            if let Some(x) = &mut st.external {
                x.raise();
            }
            st.ledger.wake_all()
        };
        self.inner.post_wakeups(tokens);
    }

    /// Wait until at least one entry can be reported or `deadline` passes, and write the results
    /// into `results`.
    ///
    /// Returns `Ok(n)` with `results[..n]` written (nothing is written on an error);
    /// [`Error::TimedOut`] when the deadline passes with nothing to report (with
    /// [`Deadline::now`], at once) — the seed's `ERR_TIMED_OUT`: a timeout is an outcome the
    /// caller must tell apart from results, and an empty `Ok` would be easy to mistake for
    /// one; see [`wait_or_zero`](Self::wait_or_zero) for the `Ok(0)` form; [`Error::Canceled`]
    /// when the set is closed; [`Error::InvalidArgument`] for an empty buffer. Interruption by
    /// a signal handler is retried internally against the same deadline. A sub-millisecond
    /// remainder is never turned into a busy loop.
    ///
    /// ```
    /// use std::collections::BTreeSet;
    /// use waitset::{Deadline, Error, Event, Signals, Source, WaitResult, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let ev = Event::new();
    /// for cookie in 1..=3 {
    ///     set.add(cookie, Source::from(&ev), Signals::USER_0).unwrap();
    /// }
    /// let mut out = [WaitResult::default(); 2];
    /// assert!(matches!(set.wait(Deadline::now(), &mut out), Err(Error::TimedOut)));
    /// assert!(matches!(set.wait(Deadline::now(), &mut []), Err(Error::InvalidArgument(_))));
    /// ev.signal(Signals::empty(), Signals::USER_0).unwrap();
    /// // Three ready entries, room for two: each is reported within ceil(3 / 2) = 2 waits,
    /// // and at most once per wait.
    /// let mut seen = BTreeSet::new();
    /// for _ in 0..2 {
    ///     let n = set.wait(Deadline::now(), &mut out).unwrap();
    ///     assert_eq!(n, 2);
    ///     assert_ne!(out[0].cookie, out[1].cookie);
    ///     seen.extend(out[..n].iter().map(|r| r.cookie));
    /// }
    /// assert_eq!(seen, BTreeSet::from([1, 2, 3]));
    /// ```
    pub fn wait(&self, deadline: Deadline, results: &mut [WaitResult]) -> Result<usize> {
        self.inner.wait(deadline, results)
    }

    /// [`wait`](Self::wait), with a timeout reported as `Ok(0)` instead of
    /// [`Error::TimedOut`], for callers that treat "nothing yet" as an ordinary answer.
    ///
    /// ```
    /// use waitset::{Deadline, WaitResult, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let mut out = [WaitResult::default(); 4];
    /// assert_eq!(set.wait_or_zero(Deadline::now(), &mut out).unwrap(), 0);
    /// ```
    pub fn wait_or_zero(&self, deadline: Deadline, results: &mut [WaitResult]) -> Result<usize> {
        match self.wait(deadline, results) {
            Err(Error::TimedOut) => Ok(0),
            r => r,
        }
    }
}

/// The checks every insertion makes: the set is open and the cookie is free.
fn check_insert(st: &State, cookie: u64) -> Result<()> {
    if st.closed {
        return Err(Error::Canceled);
    }
    if st.reg.contains(cookie) {
        return Err(Error::AlreadyExists(cookie));
    }
    Ok(())
}
