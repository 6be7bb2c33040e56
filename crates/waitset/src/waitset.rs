//! [`WaitSet`]: the persistent face, in the style of the Magenta/Zircon wait set.
//!
//! Entries are keyed by a caller-chosen 64-bit cookie; each waits for a mask of [`Signals`] on a
//! [`Source`]. [`WaitSet::wait`] fills a results buffer with one [`WaitResult`] per reported
//! entry: the cookie, a [`Status`] and the signals observed.
//!
//! # How it works
//!
//! * File descriptors are registered with the backend once, at [`WaitSet::add`]; the kernel keeps
//!   the interest. Several entries may watch one fd: they share one kernel registration whose
//!   interest is the union of theirs. An fd with no armed entry is removed from the kernel, so a
//!   disabled entry never wakes anybody.
//! * User sources ([`Event`], [`Timer`], always-ready files, canceled handles) are tracked in user
//!   space: when one becomes ready its entry joins the set's *ready queue* and a blocked waiter is
//!   woken through the set's wake channel.
//! * Timers live in the set's own timer wheel: any number of timers costs one kernel timeout per
//!   wait, and O(1) to set or cancel.
//! * A wait takes the lock, fires due timers, computes one kernel timeout, **releases the lock**,
//!   makes one kernel wait into a stack buffer, then takes the lock again to turn readiness into
//!   results. Kernel reports join the same ready queue, which is served round-robin: with more
//!   ready entries than the buffer holds, every ready entry is reported within
//!   `ceil(ready / capacity)` consecutive waits. Nothing on this path allocates.
//!
//! # Semantics
//!
//! * Level-triggered by default: an asserted signal is reported on every wait. [`Trigger::Edge`]
//!   reports once per assertion; [`Trigger::Oneshot`] reports once and disarms the entry until
//!   [`WaitSet::modify`]. At most one result per entry per wait.
//! * [`Status::Unsatisfiable`]: the watched signals can never become true again — `WRITABLE`
//!   after the peer hung up (or the descriptor failed), user signals of an [`Event`] whose last
//!   handle was dropped.
//! * [`Status::Canceled`]: the [`Handle`] was closed through waitset; reported once, after which
//!   the entry is gone (its cookie can be reused).
//! * End of file: `READABLE` is reported together with `PEER_CLOSED` (a read returns 0 at once);
//!   `WRITABLE` is never reported together with a hang-up.
//! * Several threads may wait at once. [`Delivery::Broadcast`] (default): every waiter sees the
//!   level-triggered ready entries. [`Delivery::Exclusive`]: each result goes to exactly one
//!   waiter, and one readiness wakes one waiter (no thundering herd); the entry is handed out
//!   again only after that waiter calls `wait` again (or the entry is modified).

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::ThreadId;

use crate::deadline::monotonic_ns;
use crate::event::EventShared;
use crate::handle::HandleShared;
use crate::notify::{Notifier, WakeBook};
use crate::sys::{AddError, Backend, BackendKind, Ready, Sys, Trigger};
use crate::timer::TimerShared;
use crate::timer_wheel::{TimerKey, TimerWheel};
use crate::{Deadline, Error, Event, Handle, Result, Signals, Timer};

/// Lock a mutex, ignoring poisoning (no invariant of ours spans a panic).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

const WAKE_TOKEN: u64 = u64::MAX;
const NIL: u32 = u32::MAX;
/// Kernel reports taken per wait at most (the stack buffer).
const KBUF: usize = 256;

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
/// set.add(2, Source::fd(&a), Signals::WRITABLE).unwrap();
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
    /// The watched signals can never become asserted again.
    Unsatisfiable,
    /// The handle was closed through waitset; the entry has been removed.
    Canceled,
}

/// One result of [`WaitSet::wait`].
///
/// ```
/// use waitset::{Deadline, Error, Signals, Source, Status, WaitResult, WaitSet};
/// let set = WaitSet::new().unwrap();
/// let (r, w) = rustix::pipe::pipe().unwrap();
/// set.add(9, Source::fd(&r), Signals::READABLE).unwrap();
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
    /// Each result goes to exactly one waiter; one readiness wakes one waiter.
    Exclusive,
}

/// What an entry waits on.
///
/// ```
/// use waitset::{Event, Source, Timer};
/// let (r, _w) = rustix::pipe::pipe().unwrap();
/// let _ = Source::fd(&r);
/// let ev = Event::new();
/// let _ = Source::from(&ev);
/// let t = Timer::new();
/// let _ = Source::from(&t);
/// ```
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// Any file descriptor: sockets, pipes, ptys, eventfds, regular files and `/dev/null`
    /// (always ready). The caller must [`remove`](WaitSet::remove) the entry before closing the
    /// descriptor; use a [`Handle`] to have closing cancel the entry instead.
    Fd(BorrowedFd<'a>),
    /// An owned descriptor whose close reports [`Status::Canceled`].
    Handle(&'a Handle),
    /// A user event (user signals only).
    Event(&'a Event),
    /// A timer ([`Signals::TIMER`] only).
    Timer(&'a Timer),
    /// A wait set. Nesting is not supported: always [`Error::NotSupported`].
    Set(&'a WaitSet),
}

impl<'a> Source<'a> {
    /// A descriptor source.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use waitset::{Deadline, Signals, Source, WaitResult, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").unwrap();
    /// let (sock, _peer) = UnixStream::pair().unwrap();
    /// set.add(1, Source::fd(&null), Signals::READABLE | Signals::WRITABLE).unwrap();
    /// set.add(2, Source::fd(&sock), Signals::READABLE).unwrap();
    /// let mut out = [WaitResult::default(); 2];
    /// // /dev/null is always ready; the socket has nothing to read.
    /// assert_eq!(set.wait(Deadline::now(), &mut out).unwrap(), 1);
    /// assert_eq!(out[0].cookie, 1);
    /// set.remove(1).unwrap(); // remove the entry, then close the descriptor
    /// drop(null);
    /// ```
    pub fn fd(fd: &'a impl AsFd) -> Source<'a> {
        Source::Fd(fd.as_fd())
    }
}

impl<'a> From<&'a Event> for Source<'a> {
    fn from(e: &'a Event) -> Source<'a> {
        Source::Event(e)
    }
}
impl<'a> From<&'a Timer> for Source<'a> {
    fn from(t: &'a Timer) -> Source<'a> {
        Source::Timer(t)
    }
}
impl<'a> From<&'a Handle> for Source<'a> {
    fn from(h: &'a Handle) -> Source<'a> {
        Source::Handle(h)
    }
}
/// Nesting sets is not supported: adding a [`Source::Set`] always fails with
/// [`Error::NotSupported`].
///
/// ```
/// use waitset::{Error, Signals, Source, WaitSet};
/// let outer = WaitSet::new().unwrap();
/// let inner = WaitSet::new().unwrap();
/// let e = outer.add(1, Source::from(&inner), Signals::READABLE).unwrap_err();
/// assert!(matches!(e, Error::NotSupported(_)));
/// let e = outer.add(2, Source::from(&outer), Signals::READABLE).unwrap_err();
/// assert!(matches!(e, Error::NotSupported(_)));
/// assert!(outer.is_empty());
/// ```
impl<'a> From<&'a WaitSet> for Source<'a> {
    fn from(s: &'a WaitSet) -> Source<'a> {
        Source::Set(s)
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
        let kind = self.backend.unwrap_or_default();
        let sys = Sys::new(kind)?;
        let notifier = Notifier::new()?;
        if let Err(e) = sys.add(
            notifier.fd().as_raw_fd(),
            WAKE_TOKEN,
            Signals::READABLE,
            Trigger::Level,
        ) {
            return Err(match e {
                AddError::Io(e) => Error::Io(e),
                AddError::NotPollable => Error::NotSupported("wake channel not pollable"),
            });
        }
        let mut st = State::default();
        st.entries.reserve(self.capacity);
        st.cookies.reserve(self.capacity);
        st.ready.reserve(self.capacity);
        st.timers.reserve(self.capacity);
        Ok(WaitSet {
            inner: Arc::new(Inner {
                sys,
                notifier,
                delivery: self.delivery,
                state: Mutex::new(st),
            }),
        })
    }
}

/// A persistent set of entries that threads wait on. `Send + Sync`; every method takes `&self`;
/// cloning yields another handle to the same set.
///
/// ```
/// use waitset::{Deadline, Signals, Source, Status, WaitResult, WaitSet};
/// let (r, w) = rustix::pipe::pipe().unwrap();
/// let set = WaitSet::new().unwrap();
/// set.add(0xfeed, Source::fd(&r), Signals::READABLE).unwrap();
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
        let st = self.inner.lock();
        f.debug_struct("WaitSet")
            .field("backend", &self.backend())
            .field("delivery", &self.inner.delivery)
            .field("entries", &st.cookies.len())
            .field("armed_timers", &st.timers.len())
            .field("closed", &st.closed)
            .finish()
    }
}

struct Inner {
    sys: Sys,
    notifier: Notifier,
    delivery: Delivery,
    state: Mutex<State>,
}

enum Kind {
    Free,
    Fd {
        reg: u32,
    },
    Handle {
        reg: u32,
        handle: Arc<HandleShared>,
    },
    Event(Arc<EventShared>),
    Timer {
        timer: Arc<TimerShared>,
        key: Option<TimerKey>,
    },
}

struct Entry {
    cookie: u64,
    gen: u32,
    kind: Kind,
    watched: Signals,
    trigger: Trigger,
    /// False once a one-shot entry has been reported.
    armed: bool,
    /// In the ready queue.
    queued: bool,
    /// Descriptors: the kernel's last report. Events (edge): the signals that rose.
    observed: Signals,
    /// Descriptors: the kernel reported HUP or ERR.
    hup: bool,
    /// The handle was closed: report Canceled once, then remove.
    canceled: bool,
    /// Next entry on the same descriptor registration.
    next_on_reg: u32,
    /// Exclusive delivery: the thread holding this entry's last result.
    claimed: Option<ThreadId>,
}

impl Entry {
    fn free(gen: u32) -> Entry {
        Entry {
            cookie: 0,
            gen,
            kind: Kind::Free,
            watched: Signals::empty(),
            trigger: Trigger::Level,
            armed: false,
            queued: false,
            observed: Signals::empty(),
            hup: false,
            canceled: false,
            next_on_reg: NIL,
            claimed: None,
        }
    }
    /// The descriptor registration, if the entry has one (a canceled handle no longer has).
    fn reg(&self) -> Option<u32> {
        match self.kind {
            Kind::Fd { reg } | Kind::Handle { reg, .. } if reg != NIL => Some(reg),
            _ => None,
        }
    }
}

/// One kernel registration, shared by every entry on that descriptor.
struct Reg {
    fd: RawFd,
    gen: u32,
    head: u32,
    /// Not pollable (regular file, /dev/null): always ready, never in the kernel.
    always: bool,
    /// For `always`: the signals the descriptor's access mode allows.
    access: Signals,
    registered: bool,
    kernel_interest: Signals,
    kernel_trigger: Trigger,
    /// False after a one-shot kernel registration fired, until re-armed.
    kernel_armed: bool,
}

#[derive(Default)]
struct State {
    entries: Vec<Entry>,
    free: Vec<u32>,
    cookies: HashMap<u64, u32>,
    regs: Vec<Reg>,
    free_regs: Vec<u32>,
    reg_by_fd: HashMap<RawFd, u32>,
    ready: VecDeque<u32>,
    timers: TimerWheel<(u32, u32)>,
    wake: WakeBook,
    closed: bool,
    claims: Vec<(ThreadId, u32, u32)>,
    /// One-shot registrations reported by the kernel in the current wait (capacity is kept).
    fired_oneshot: Vec<u32>,
}

/// Wake-ups decided under a source's lock, posted after it is released. Also keeps the
/// upgraded sets alive until then, so that a set's last handle is never dropped (and its
/// `Drop`, which takes source locks) while a source lock is held.
#[derive(Default)]
pub(crate) struct Posts {
    first: Option<(Arc<Inner>, usize)>,
    rest: Vec<(Arc<Inner>, usize)>,
}

impl Posts {
    fn push(&mut self, set: Arc<Inner>, units: usize) {
        if self.first.is_none() {
            self.first = Some((set, units));
        } else {
            self.rest.push((set, units));
        }
    }
    /// Post the wake-ups (call with no lock held).
    pub(crate) fn post(self) {
        if let Some((set, units)) = self.first {
            set.post(units);
        }
        for (set, units) in self.rest {
            set.post(units);
        }
    }
}

/// The sets that watch one user source.
#[derive(Default)]
pub(crate) struct Watchers {
    list: Vec<Watcher>,
    /// Handles: closed.
    pub(crate) orphaned: bool,
}

struct Watcher {
    set: Weak<Inner>,
    idx: u32,
    gen: u32,
}

impl Watchers {
    fn push(&mut self, set: &Arc<Inner>, idx: u32, gen: u32) {
        self.list.push(Watcher {
            set: Arc::downgrade(set),
            idx,
            gen,
        });
    }
    fn remove(&mut self, set: *const Inner, idx: u32, gen: u32) {
        self.list
            .retain(|w| !(w.idx == idx && w.gen == gen && std::ptr::eq(w.set.as_ptr(), set)));
    }
    /// An event's signals changed from `old` to `new` (or it was orphaned, `old == new`).
    ///
    /// Returns the wake-ups to post once the caller has released the source's lock: a waiter
    /// woken while that lock is held would block on it at once (two sleeps per wake-up).
    pub(crate) fn notify(&self, old: Signals, new: Signals) -> Posts {
        let mut posts = Posts::default();
        for w in &self.list {
            if let Some(set) = w.set.upgrade() {
                let units = set.user_changed(w.idx, w.gen, old, new);
                posts.push(set, units);
            }
        }
        posts
    }
    /// A timer's deadline changed. Returns the wake-ups to post once the caller has released
    /// the timer's lock.
    pub(crate) fn timer_changed(&self) -> Posts {
        let mut posts = Posts::default();
        for w in &self.list {
            if let Some(set) = w.set.upgrade() {
                let units = set.timer_changed(w.idx, w.gen);
                posts.push(set, units);
            }
        }
        posts
    }
    /// A handle is being closed: cancel every entry on it.
    pub(crate) fn cancel_all(&mut self) {
        for w in self.list.drain(..) {
            if let Some(set) = w.set.upgrade() {
                set.cancel_entry(w.idx, w.gen);
            }
        }
    }
}

fn token(idx: u32, gen: u32) -> u64 {
    (u64::from(gen) << 32) | u64::from(idx)
}

/// The signals a descriptor's access mode can ever assert (BadHandle when it is not open).
fn access_of(fd: BorrowedFd<'_>) -> Result<Signals> {
    use rustix::fs::OFlags;
    let fl = rustix::fs::fcntl_getfl(fd).map_err(|_| Error::BadHandle)?;
    let io = Signals::ERROR | Signals::PEER_CLOSED;
    Ok(match fl & OFlags::RWMODE {
        m if m == OFlags::RDONLY => io | Signals::READABLE | Signals::PRIORITY,
        m if m == OFlags::WRONLY => io | Signals::WRITABLE,
        _ => Signals::FD_ALL,
    })
}

/// The result for a descriptor entry from the kernel's report.
fn fd_result(watched: Signals, observed: Signals, hup: bool) -> Option<(Status, Signals)> {
    let mut obs = observed;
    if hup {
        obs.remove(Signals::WRITABLE);
    }
    if obs.contains(Signals::PEER_CLOSED) && watched.contains(Signals::READABLE) {
        obs |= Signals::READABLE;
    }
    let shown = obs & (watched | Signals::ERROR | Signals::PEER_CLOSED);
    if obs.intersects(watched) {
        Some((Status::Satisfied, shown))
    } else if hup && !watched.is_empty() {
        // The kernel said hang-up or error and none of the watched signals is asserted: none
        // ever will be (WRITABLE after the peer left, anything on a failed or closed fd).
        Some((Status::Unsatisfiable, shown))
    } else {
        None
    }
}

impl State {
    fn entry(&mut self, idx: u32, gen: u32) -> Option<&mut Entry> {
        self.entries
            .get_mut(idx as usize)
            .filter(|e| e.gen == gen && !matches!(e.kind, Kind::Free))
    }

    fn alloc_entry(&mut self) -> u32 {
        match self.free.pop() {
            Some(i) => i,
            None => {
                self.entries.push(Entry::free(0));
                (self.entries.len() - 1) as u32
            }
        }
    }

    fn free_entry(&mut self, idx: u32) {
        let e = &mut self.entries[idx as usize];
        let gen = e.gen.wrapping_add(1);
        *e = Entry::free(gen);
        self.free.push(idx);
    }

    fn queue(&mut self, idx: u32) -> bool {
        let e = &mut self.entries[idx as usize];
        if e.queued {
            return false;
        }
        e.queued = true;
        self.ready.push_back(idx);
        true
    }

    fn unlink_from_reg(&mut self, reg: u32, idx: u32) {
        let next = self.entries[idx as usize].next_on_reg;
        let r = &mut self.regs[reg as usize];
        if r.head == idx {
            r.head = next;
        } else {
            let mut cur = r.head;
            while cur != NIL {
                let n = self.entries[cur as usize].next_on_reg;
                if n == idx {
                    self.entries[cur as usize].next_on_reg = next;
                    break;
                }
                cur = n;
            }
        }
        self.entries[idx as usize].next_on_reg = NIL;
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Post `units` wake-ups (0: nothing, no syscall).
    fn post(&self, units: usize) {
        self.notifier.post(units);
    }

    /// Wake waiters because `newly_ready` entries joined the queue.
    fn wake_for_ready(&self, st: &mut State) {
        let units = match self.delivery {
            Delivery::Broadcast => st.wake.wake_all(),
            Delivery::Exclusive => st.wake.wake_one(),
        };
        self.post(units);
    }

    /// Bring the kernel registration of `reg` in line with its entries.
    fn sync_reg(&self, st: &mut State, reg: u32) -> std::result::Result<(), AddError> {
        let r = &st.regs[reg as usize];
        if r.always {
            return Ok(());
        }
        let mut want = Signals::empty();
        let mut trigger = Trigger::Level;
        let mut cur = r.head;
        while cur != NIL {
            let e = &st.entries[cur as usize];
            if e.armed && e.claimed.is_none() && !e.canceled {
                want |= e.watched;
            }
            trigger = e.trigger;
            cur = e.next_on_reg;
        }
        let want = want & Signals::FD_ALL;
        let ktrig = match (self.delivery, trigger) {
            (Delivery::Exclusive, Trigger::Level) => Trigger::Oneshot,
            (_, t) => t,
        };
        let (fd, gen) = (r.fd, r.gen);
        let r = &mut st.regs[reg as usize];
        if want.is_empty() {
            if r.registered {
                r.registered = false;
                self.sys.delete(fd).map_err(AddError::Io)?;
            }
            return Ok(());
        }
        if !r.registered {
            self.sys.add(fd, token(reg, gen), want, ktrig)?;
            r.registered = true;
        } else if want != r.kernel_interest || ktrig != r.kernel_trigger || !r.kernel_armed {
            match self.sys.modify(fd, token(reg, gen), want, ktrig) {
                Ok(()) => {}
                // The kernel dropped the registration: the fd was closed without removing its
                // entries and the number reused. Register the file that has the number now.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    self.sys.add(fd, token(reg, gen), want, ktrig)?
                }
                Err(e) => return Err(AddError::Io(e)),
            }
        } else {
            return Ok(());
        }
        r.kernel_interest = want;
        r.kernel_trigger = ktrig;
        r.kernel_armed = true;
        Ok(())
    }

    /// Take entry `idx` off registration `reg`: the last entry frees the registration (and
    /// removes the fd from the kernel while it is still open); otherwise the kernel interest
    /// shrinks to what the remaining entries watch.
    fn leave_reg(&self, st: &mut State, reg: u32, idx: u32) {
        st.unlink_from_reg(reg, idx);
        if st.regs[reg as usize].head != NIL {
            let _ = self.sys_sync_after_change(st, reg);
            return;
        }
        let r = &mut st.regs[reg as usize];
        if r.registered {
            let _ = self.sys.delete(r.fd);
        }
        let fd = r.fd;
        r.gen = r.gen.wrapping_add(1);
        r.registered = false;
        st.reg_by_fd.remove(&fd);
        st.free_regs.push(reg);
    }

    /// Detach entry `idx` from everything in the set and free it; returns its kind so the caller
    /// can unwatch the source after dropping the lock.
    fn detach(&self, st: &mut State, idx: u32) -> Kind {
        let e = &mut st.entries[idx as usize];
        let kind = std::mem::replace(&mut e.kind, Kind::Free);
        let cookie = e.cookie;
        if st.cookies.get(&cookie) == Some(&idx) {
            st.cookies.remove(&cookie);
        }
        match &kind {
            Kind::Fd { reg } | Kind::Handle { reg, .. } if *reg != NIL => {
                self.leave_reg(st, *reg, idx);
            }
            Kind::Timer { key: Some(k), .. } => {
                st.timers.remove(*k);
            }
            _ => {}
        }
        if st.entries[idx as usize].claimed.is_some() {
            st.claims.retain(|&(_, i, _)| i != idx);
        }
        if st.entries[idx as usize].queued {
            st.ready.retain(|&i| i != idx);
        }
        st.free_entry(idx);
        kind
    }

    fn sys_sync_after_change(&self, st: &mut State, reg: u32) -> std::result::Result<(), AddError> {
        let r = self.sync_reg(st, reg);
        if self.sys.change_needs_wake() {
            let units = st.wake.wake_all();
            self.post(units);
        }
        r
    }

    /// An event's signals changed.
    /// Returns the wake-up units to post after every lock is released.
    fn user_changed(&self, idx: u32, gen: u32, old: Signals, new: Signals) -> usize {
        let mut st = self.lock();
        let Some(e) = st.entry(idx, gen) else {
            return 0;
        };
        if !e.armed || e.canceled {
            return 0;
        }
        let Kind::Event(ev) = &e.kind else { return 0 };
        let orphaned = ev.orphaned.load(std::sync::atomic::Ordering::Acquire);
        let level = new & e.watched;
        let rising = level - (old & e.watched);
        let wanted = match e.trigger {
            Trigger::Level | Trigger::Oneshot => !level.is_empty(),
            Trigger::Edge => {
                e.observed |= rising;
                !rising.is_empty()
            }
        } || (orphaned && level.is_empty() && !e.watched.is_empty());
        if wanted && e.claimed.is_none() && st.queue(idx) {
            match self.delivery {
                Delivery::Broadcast => st.wake.wake_all(),
                Delivery::Exclusive => st.wake.wake_one(),
            }
        } else {
            0
        }
    }

    /// A timer's deadline changed: move its wheel entry. Returns the wake-up units to post
    /// after every lock is released.
    fn timer_changed(&self, idx: u32, gen: u32) -> usize {
        let mut st = self.lock();
        let Some(e) = st.entry(idx, gen) else {
            return 0;
        };
        let Kind::Timer { timer, key } = &mut e.kind else {
            return 0;
        };
        let old = key.take();
        let at = timer.wake_at();
        if let Some(k) = old {
            st.timers.remove(k);
        }
        self.arm_timer(&mut st, idx, gen, at)
    }

    /// Put an entry's timer in the wheel; returns the wake-up units to post (after unlocking)
    /// when it became the earliest, since blocked waiters computed their timeout without it.
    fn arm_timer(&self, st: &mut State, idx: u32, gen: u32, at: Option<u64>) -> usize {
        let Some(at) = at else { return 0 };
        let earliest = st.timers.next_expiry();
        let k = st.timers.insert(at, (idx, gen));
        if let Kind::Timer { key, .. } = &mut st.entries[idx as usize].kind {
            *key = Some(k);
        }
        if earliest.is_none_or(|e| at < e) {
            st.wake.wake_all()
        } else {
            0
        }
    }

    /// A handle is being closed (its fd still open): cancel the entry.
    fn cancel_entry(&self, idx: u32, gen: u32) {
        let mut st = self.lock();
        let Some(e) = st.entry(idx, gen) else { return };
        e.canceled = true;
        e.claimed = None;
        if let Some(reg) = e.reg() {
            // Keep the entry reachable (for its Canceled result) but off the registration.
            self.leave_reg(&mut st, reg, idx);
            if let Kind::Handle { reg: r, .. } = &mut st.entries[idx as usize].kind {
                *r = NIL;
            }
        }
        st.claims.retain(|&(_, i, _)| i != idx);
        st.queue(idx);
        let units = st.wake.wake_all();
        self.post(units);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let me = self as *const Inner;
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        for (i, e) in st.entries.iter().enumerate() {
            let (i, gen) = (i as u32, e.gen);
            match &e.kind {
                Kind::Event(ev) => lock(&ev.watchers).remove(me, i, gen),
                Kind::Timer { timer, .. } => lock(&timer.watchers).remove(me, i, gen),
                Kind::Handle { handle, .. } => lock(&handle.watchers).remove(me, i, gen),
                _ => {}
            }
        }
    }
}

/// What to do with an entry popped from the ready queue.
struct Popped {
    report: Option<(Status, Signals)>,
    requeue: bool,
    remove: bool,
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
    /// use waitset::{Signals, Source, Trigger, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// // Pick a trigger mode the backend serving this set supports natively.
    /// let edge = set.backend().capabilities().edge;
    /// let trigger = if edge { Trigger::Edge } else { Trigger::Level };
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// set.add_with(1, Source::fd(&r), Signals::READABLE, trigger).unwrap();
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
    /// use waitset::{Deadline, Handle, Signals, Source, WaitResult, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// set.add(1, Source::fd(&w), Signals::WRITABLE).unwrap();
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
        self.inner.lock().cookies.len()
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
        self.inner.lock().cookies.contains_key(&cookie)
    }

    /// Add a level-triggered entry waiting for `signals` on `source`.
    ///
    /// Errors: [`Error::AlreadyExists`] (cookie in use), [`Error::BadHandle`] (fd not open, handle
    /// closed), [`Error::AccessDenied`] (a signal the source can never assert: `READABLE` on a
    /// write-only fd, `TIMER` on an fd, a non-user signal on an event), [`Error::NotSupported`]
    /// (a set, or edge triggering where the backend cannot), [`Error::Canceled`] (set closed).
    /// On error the set is unchanged.
    ///
    /// ```
    /// use waitset::{Error, Signals, Source, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// set.add(1, Source::fd(&r), Signals::READABLE).unwrap();
    /// // The cookie is in use:
    /// let e = set.add(1, Source::fd(&w), Signals::WRITABLE).unwrap_err();
    /// assert!(matches!(e, Error::AlreadyExists(1)));
    /// // A pipe's write end is never readable, and no descriptor asserts TIMER:
    /// let e = set.add(2, Source::fd(&w), Signals::READABLE).unwrap_err();
    /// assert!(matches!(e, Error::AccessDenied(s) if s == Signals::READABLE));
    /// let e = set.add(3, Source::fd(&r), Signals::TIMER).unwrap_err();
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

    fn add_inner(
        &self,
        cookie: u64,
        source: Source<'_>,
        signals: Signals,
        trigger: Trigger,
    ) -> Result<()> {
        let inner = &self.inner;
        match source {
            Source::Set(s) => {
                if Arc::ptr_eq(&s.inner, inner) {
                    Err(Error::NotSupported("a set cannot wait on itself"))
                } else {
                    Err(Error::NotSupported("nested wait sets"))
                }
            }
            Source::Fd(fd) => {
                let access = access_of(fd)?;
                let mut st = inner.lock();
                self.insert_fd(
                    &mut st,
                    cookie,
                    fd.as_raw_fd(),
                    access,
                    signals,
                    trigger,
                    None,
                )
                .map(|_| ())
            }
            Source::Handle(h) => {
                let mut w = lock(&h.shared.watchers);
                let g = h.shared.fd.read().unwrap_or_else(|e| e.into_inner());
                let Some(fd) = g.as_ref() else {
                    return Err(Error::BadHandle);
                };
                if w.orphaned {
                    return Err(Error::BadHandle);
                }
                let access = access_of(fd.as_fd())?;
                let mut st = inner.lock();
                let (idx, gen) = self.insert_fd(
                    &mut st,
                    cookie,
                    fd.as_raw_fd(),
                    access,
                    signals,
                    trigger,
                    Some(h.shared.clone()),
                )?;
                w.push(inner, idx, gen);
                Ok(())
            }
            Source::Event(ev) => {
                let denied = signals - Signals::USER_ALL;
                if !denied.is_empty() {
                    return Err(Error::AccessDenied(denied));
                }
                let w = &mut *lock(&ev.shared.watchers);
                let mut st = inner.lock();
                let (idx, gen) = self.insert_entry(
                    &mut st,
                    cookie,
                    Kind::Event(ev.shared.clone()),
                    signals,
                    trigger,
                )?;
                w.push(inner, idx, gen);
                let now = ev.shared.signals();
                let e = &mut st.entries[idx as usize];
                let level = now & signals;
                let orphaned = ev
                    .shared
                    .orphaned
                    .load(std::sync::atomic::Ordering::Acquire);
                if trigger == Trigger::Edge {
                    // The state at add time counts as an edge, like epoll's EPOLLET.
                    e.observed = level;
                }
                if (!level.is_empty() || (orphaned && !signals.is_empty())) && st.queue(idx) {
                    inner.wake_for_ready(&mut st);
                }
                Ok(())
            }
            Source::Timer(t) => {
                let denied = signals - Signals::TIMER;
                if !denied.is_empty() {
                    return Err(Error::AccessDenied(denied));
                }
                let units = {
                    let w = &mut *lock(&t.shared.watchers);
                    let mut st = inner.lock();
                    let kind = Kind::Timer {
                        timer: t.shared.clone(),
                        key: None,
                    };
                    let (idx, gen) = self.insert_entry(&mut st, cookie, kind, signals, trigger)?;
                    w.push(inner, idx, gen);
                    inner.arm_timer(&mut st, idx, gen, t.shared.wake_at())
                };
                inner.post(units);
                Ok(())
            }
        }
    }

    fn insert_entry(
        &self,
        st: &mut State,
        cookie: u64,
        kind: Kind,
        signals: Signals,
        trigger: Trigger,
    ) -> Result<(u32, u32)> {
        if st.closed {
            return Err(Error::Canceled);
        }
        if st.cookies.contains_key(&cookie) {
            return Err(Error::AlreadyExists(cookie));
        }
        let idx = st.alloc_entry();
        let e = &mut st.entries[idx as usize];
        e.cookie = cookie;
        e.kind = kind;
        e.watched = signals;
        e.trigger = trigger;
        e.armed = true;
        let gen = e.gen;
        st.cookies.insert(cookie, idx);
        Ok((idx, gen))
    }

    #[allow(clippy::too_many_arguments)]
    fn insert_fd(
        &self,
        st: &mut State,
        cookie: u64,
        fd: RawFd,
        access: Signals,
        signals: Signals,
        trigger: Trigger,
        handle: Option<Arc<HandleShared>>,
    ) -> Result<(u32, u32)> {
        let inner = &self.inner;
        let denied = signals - access;
        if !denied.is_empty() {
            return Err(Error::AccessDenied(denied));
        }
        if trigger == Trigger::Edge && !inner.sys.kind().capabilities().edge {
            return Err(Error::NotSupported(
                "edge-triggered descriptors on this backend",
            ));
        }
        if st.closed {
            return Err(Error::Canceled);
        }
        if st.cookies.contains_key(&cookie) {
            return Err(Error::AlreadyExists(cookie));
        }
        let (reg, new_reg) = match st.reg_by_fd.get(&fd) {
            Some(&r) => {
                let head = st.regs[r as usize].head;
                if head != NIL && st.entries[head as usize].trigger != trigger {
                    return Err(Error::NotSupported(
                        "entries with different triggers on one descriptor",
                    ));
                }
                // Re-state the registration to the kernel (one syscall, on add only): if the fd
                // number was closed and reused without its entries being removed, the kernel no
                // longer knows it, and the modify falls back to registering the new file.
                st.regs[r as usize].kernel_armed = false;
                (r, false)
            }
            None => {
                let r = Reg {
                    fd,
                    gen: 0,
                    head: NIL,
                    always: false,
                    access,
                    registered: false,
                    kernel_interest: Signals::empty(),
                    kernel_trigger: Trigger::Level,
                    kernel_armed: false,
                };
                let idx = match st.free_regs.pop() {
                    Some(i) => {
                        let gen = st.regs[i as usize].gen;
                        st.regs[i as usize] = Reg { gen, ..r };
                        i
                    }
                    None => {
                        st.regs.push(r);
                        (st.regs.len() - 1) as u32
                    }
                };
                st.reg_by_fd.insert(fd, idx);
                (idx, true)
            }
        };
        let kind = match handle {
            Some(handle) => Kind::Handle { reg, handle },
            None => Kind::Fd { reg },
        };
        let (idx, gen) = self.insert_entry(st, cookie, kind, signals, trigger)?;
        let head = st.regs[reg as usize].head;
        st.entries[idx as usize].next_on_reg = head;
        st.regs[reg as usize].head = idx;
        match inner.sys_sync_after_change(st, reg) {
            Ok(()) => {}
            Err(AddError::NotPollable) => st.regs[reg as usize].always = true,
            Err(AddError::Io(err)) => {
                // Undo: the set must be exactly as before.
                st.regs[reg as usize].head = st.entries[idx as usize].next_on_reg;
                st.entries[idx as usize].next_on_reg = NIL;
                st.entries[idx as usize].kind = Kind::Free;
                st.cookies.remove(&cookie);
                st.free_entry(idx);
                if new_reg {
                    let r = &mut st.regs[reg as usize];
                    r.gen = r.gen.wrapping_add(1);
                    st.reg_by_fd.remove(&fd);
                    st.free_regs.push(reg);
                }
                return Err(match err.raw_os_error() {
                    Some(libc::EBADF) => Error::BadHandle,
                    Some(libc::EEXIST) => {
                        Error::NotSupported("descriptor already registered elsewhere in this set")
                    }
                    _ if err.kind() == std::io::ErrorKind::Unsupported => {
                        Error::NotSupported("edge-triggered descriptors on this backend")
                    }
                    _ => Error::Io(err),
                });
            }
        }
        if st.regs[reg as usize].always && st.queue(idx) {
            inner.wake_for_ready(st);
        }
        Ok((idx, gen))
    }

    /// Change the signals an entry waits for; this also re-arms a one-shot entry that fired.
    /// Errors as for [`add`](Self::add), plus [`Error::NotFound`]; on error nothing changes.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use waitset::{Deadline, Error, Signals, Source, WaitResult, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// set.add(1, Source::fd(&a), Signals::READABLE).unwrap();
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
        let inner = &self.inner;
        let mut st = inner.lock();
        if st.closed {
            return Err(Error::Canceled);
        }
        let Some(&idx) = st.cookies.get(&cookie) else {
            return Err(Error::NotFound(cookie));
        };
        let e = &st.entries[idx as usize];
        if e.canceled {
            return Err(Error::NotFound(cookie));
        }
        let allowed = match &e.kind {
            Kind::Event(_) => Signals::USER_ALL,
            Kind::Timer { .. } => Signals::TIMER,
            Kind::Fd { reg } | Kind::Handle { reg, .. } => st.regs[*reg as usize].access,
            Kind::Free => return Err(Error::NotFound(cookie)),
        };
        let denied = signals - allowed;
        if !denied.is_empty() {
            return Err(Error::AccessDenied(denied));
        }
        if e.watched == signals && e.armed {
            return Ok(());
        }
        let (old_watched, old_armed) = (e.watched, e.armed);
        let reg = e.reg();
        {
            let e = &mut st.entries[idx as usize];
            e.watched = signals;
            e.armed = true;
        }
        if let Some(reg) = reg {
            if let Err(err) = inner.sys_sync_after_change(&mut st, reg) {
                let e = &mut st.entries[idx as usize];
                e.watched = old_watched;
                e.armed = old_armed;
                return Err(match err {
                    AddError::Io(e) if e.raw_os_error() == Some(libc::EBADF) => Error::BadHandle,
                    AddError::Io(e) => Error::Io(e),
                    AddError::NotPollable => Error::NotSupported("descriptor not pollable"),
                });
            }
            if st.regs[reg as usize].always && st.queue(idx) {
                inner.wake_for_ready(&mut st);
            }
            return Ok(());
        }
        // User sources: re-evaluate now.
        let now = monotonic_ns();
        let e = &mut st.entries[idx as usize];
        let ready = match &e.kind {
            Kind::Event(ev) => {
                let level = ev.signals() & signals;
                if e.trigger == Trigger::Edge {
                    e.observed = level;
                }
                !level.is_empty()
            }
            Kind::Timer { timer, .. } => timer.fired_at(now) && !signals.is_empty(),
            _ => false,
        };
        if ready && st.queue(idx) {
            inner.wake_for_ready(&mut st);
        }
        Ok(())
    }

    /// Remove an entry; [`Error::NotFound`] if no entry has this cookie.
    ///
    /// ```
    /// use waitset::{Deadline, Error, Signals, Source, WaitResult, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// rustix::io::write(&w, b"x").unwrap();
    /// set.add(1, Source::fd(&r), Signals::READABLE).unwrap();
    /// set.remove(1).unwrap();
    /// assert!(matches!(set.remove(1), Err(Error::NotFound(1))));
    /// // No longer reported, though `r` is still open and readable.
    /// let mut out = [WaitResult::default(); 1];
    /// assert!(matches!(set.wait(Deadline::now(), &mut out), Err(Error::TimedOut)));
    /// ```
    pub fn remove(&self, cookie: u64) -> Result<()> {
        let me = Arc::as_ptr(&self.inner);
        let (idx, gen, kind) = {
            let mut st = self.inner.lock();
            let Some(&idx) = st.cookies.get(&cookie) else {
                return Err(Error::NotFound(cookie).traced("waitset_remove"));
            };
            let gen = st.entries[idx as usize].gen;
            let kind = self.inner.detach(&mut st, idx);
            (idx, gen, kind)
        };
        // Unwatch the source outside the set's lock (lock order: source, then set).
        match kind {
            Kind::Event(ev) => lock(&ev.watchers).remove(me, idx, gen),
            Kind::Timer { timer, .. } => lock(&timer.watchers).remove(me, idx, gen),
            Kind::Handle { handle, .. } => lock(&handle.watchers).remove(me, idx, gen),
            _ => {}
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
        let mut st = self.inner.lock();
        st.closed = true;
        let units = st.wake.wake_all();
        self.inner.post(units);
    }

    /// Wait until at least one entry can be reported or `deadline` passes, and write the results
    /// into `results`.
    ///
    /// Returns `Ok(n)` with `results[..n]` written (nothing is written on an error);
    /// [`Error::TimedOut`] when the deadline passes with nothing to report (with
    /// [`Deadline::now`], at once); [`Error::Canceled`] when the set is closed;
    /// [`Error::InvalidArgument`] for an empty buffer. Interruption by a signal handler is retried
    /// internally against the same deadline. A sub-millisecond remainder is rounded up, so a wait
    /// never turns into a busy loop.
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
        if results.is_empty() {
            return Err(Error::InvalidArgument("empty results buffer").traced("waitset_wait"));
        }
        let span = tracing::trace_span!(
            "wait",
            timeout_ms = tracing::field::Empty,
            entries = tracing::field::Empty,
            seen = tracing::field::Empty
        );
        let _enter = span.enter();
        let inner = &*self.inner;
        let me = (inner.delivery == Delivery::Exclusive).then(|| std::thread::current().id());
        let mut first = true;
        loop {
            let mut st = inner.lock();
            if st.closed {
                return Err(Error::Canceled);
            }
            if let Some(me) = me {
                self.release_claims(&mut st, me);
            }
            // The clock is read only when something depends on it: an armed timer or a finite
            // deadline. An infinite wait with no timer reads no clock at all.
            let mut wake_at = deadline.as_monotonic_nanos();
            let now = if st.timers.is_empty() && deadline.is_infinite() {
                0
            } else {
                let now = monotonic_ns();
                self.fire_timers(&mut st, now);
                if let Some(t) = st.timers.next_expiry() {
                    wake_at = wake_at.min(t);
                }
                now
            };
            if !st.ready.is_empty() {
                Self::prune_cleared_events(&mut st);
            }
            let timeout = if !st.ready.is_empty() || wake_at <= now {
                Some(std::time::Duration::ZERO)
            } else {
                Deadline::from_monotonic_nanos(wake_at).remaining_from(now)
            };
            if first && !span.is_disabled() {
                span.record(
                    "timeout_ms",
                    deadline
                        .remaining_from(now)
                        .map_or(-1, |d| crate::deadline::ceil_millis(d) as i64),
                );
                span.record("entries", st.cookies.len());
                first = false;
            }
            let blocking = timeout != Some(std::time::Duration::ZERO);
            let ticket = blocking.then(|| st.wake.block());
            let want = results.len().clamp(1, KBUF);
            drop(st);

            // The kernel wait, with no lock held; its reports are absorbed under the lock taken
            // right after, straight from the backend's buffer.
            let res = inner.sys.wait(want, timeout, |reports| {
                let mut st = inner.lock();
                // Nothing queued ahead (and no claims to make): results may be written directly.
                let direct = (st.ready.is_empty() && me.is_none()).then_some(&mut *results);
                let (saw_channel, n_direct) = self.absorb(&mut st, reports, direct);
                (st, saw_channel, n_direct)
            });
            let mut n_direct = 0;
            let mut st = match res {
                Ok((st, saw_channel, nd)) => {
                    n_direct = nd;
                    let mut st = st;
                    if let Some(t) = ticket {
                        if st.wake.unblock(t, saw_channel) && !inner.notifier.take_one() {
                            st.wake.missed();
                        }
                    }
                    st
                }
                Err(e) => {
                    let mut st = inner.lock();
                    if let Some(t) = ticket {
                        if st.wake.unblock(t, false) && !inner.notifier.take_one() {
                            st.wake.missed();
                        }
                    }
                    if e.raw_os_error() != Some(libc::EINTR) {
                        return Err(Error::Io(e).traced("waitset_wait"));
                    }
                    st
                }
            };
            let n = n_direct + self.pop_results(&mut st, &mut results[n_direct..], me);
            if !st.fired_oneshot.is_empty() {
                self.rearm_fired(&mut st);
            }
            if n > 0 {
                span.record("seen", n);
                return Ok(n);
            }
            if st.closed {
                return Err(Error::Canceled);
            }
            if deadline.passed_at(monotonic_ns()) {
                span.record("seen", 0);
                return Err(Error::TimedOut);
            }
        }
    }

    /// Fire the timers that are due.
    fn fire_timers(&self, st: &mut State, now: u64) {
        if st.timers.is_empty() {
            return;
        }
        let State {
            timers,
            entries,
            ready,
            ..
        } = st;
        timers.poll_expired(now, |_key, _when, (idx, gen)| {
            if let Some(e) = entries.get_mut(idx as usize).filter(|e| e.gen == gen) {
                if let Kind::Timer { key, .. } = &mut e.kind {
                    *key = None;
                    if !e.queued && e.armed && e.claimed.is_none() {
                        e.queued = true;
                        ready.push_back(idx);
                    }
                }
            }
        });
    }

    /// Turn kernel reports into queued entries; returns whether the wake channel was among them
    /// and how many results were written to `direct`.
    ///
    /// With `direct` (the ready queue was empty, so nothing is owed a turn first), a report for
    /// a lone level-triggered entry becomes its result at once, skipping the queue: the order is
    /// the kernel's, exactly what the queue would have produced. Anything else is queued.
    fn absorb(
        &self,
        st: &mut State,
        reports: &mut dyn Iterator<Item = Ready>,
        mut direct: Option<&mut [WaitResult]>,
    ) -> (bool, usize) {
        let mut saw_channel = false;
        let mut n = 0;
        for r in reports {
            if r.token == WAKE_TOKEN {
                saw_channel = true;
                continue;
            }
            let (reg, gen) = ((r.token & 0xffff_ffff) as u32, (r.token >> 32) as u32);
            let Some(rg) = st.regs.get_mut(reg as usize) else {
                continue;
            };
            if rg.gen != gen || rg.head == NIL {
                continue; // a stale report for a registration removed meanwhile
            }
            if rg.kernel_trigger == Trigger::Oneshot {
                rg.kernel_armed = false;
                st.fired_oneshot.push(reg);
            }
            let mut cur = rg.head;
            if let Some(out) = direct.as_deref_mut().filter(|out| n < out.len()) {
                let e = &st.entries[cur as usize];
                if e.next_on_reg == NIL
                    && e.trigger == Trigger::Level
                    && e.armed
                    && !e.queued
                    && !e.canceled
                {
                    if let Some((status, observed)) = fd_result(e.watched, r.signals, r.hup) {
                        out[n] = WaitResult {
                            cookie: e.cookie,
                            status,
                            observed,
                        };
                        n += 1;
                    }
                    continue;
                }
            }
            while cur != NIL {
                let e = &mut st.entries[cur as usize];
                let next = e.next_on_reg;
                if e.armed && e.claimed.is_none() && !e.canceled {
                    e.observed = r.signals;
                    e.hup = r.hup;
                    if !e.queued {
                        e.queued = true;
                        st.ready.push_back(cur);
                    }
                }
                cur = next;
            }
        }
        (saw_channel, n)
    }

    /// Drop queued level-triggered events whose signals were cleared since they were queued (the
    /// usual "handle it, clear it" pattern), so that the next wait can block at once instead of
    /// first polling the kernel with a zero timeout for nothing.
    fn prune_cleared_events(st: &mut State) {
        let State { ready, entries, .. } = st;
        ready.retain(|&idx| {
            let e = &mut entries[idx as usize];
            let cleared = match &e.kind {
                Kind::Event(ev) if e.trigger != Trigger::Edge && !e.canceled => {
                    (ev.signals() & e.watched).is_empty()
                        && !ev.orphaned.load(std::sync::atomic::Ordering::Acquire)
                }
                _ => false,
            };
            if cleared {
                e.queued = false;
            }
            !cleared
        });
    }

    /// One-shot kernel registrations that fired this wait: once the results have been handed out
    /// (and, in exclusive delivery, claimed), re-arm those that still have armed, unclaimed
    /// entries. Re-arming before the claims would let another waiter take the same readiness.
    fn rearm_fired(&self, st: &mut State) {
        while let Some(reg) = st.fired_oneshot.pop() {
            let r = &st.regs[reg as usize];
            if r.head != NIL && !r.kernel_armed {
                let _ = self.inner.sync_reg(st, reg);
            }
        }
    }

    /// Pop up to `results.len()` reportable entries from the ready queue, round-robin.
    fn pop_results(
        &self,
        st: &mut State,
        results: &mut [WaitResult],
        me: Option<ThreadId>,
    ) -> usize {
        let inner = &*self.inner;
        let mut now = 0u64; // read lazily, only for timer entries
        let mut n = 0;
        let mut budget = st.ready.len();
        while n < results.len() && budget > 0 {
            budget -= 1;
            let Some(idx) = st.ready.pop_front() else {
                break;
            };
            let e = &mut st.entries[idx as usize];
            e.queued = false;
            if e.claimed.is_some() && !e.canceled {
                continue; // handed to another waiter; requeued on release
            }
            let p = Self::evaluate(st, idx, &mut now);
            let e = &mut st.entries[idx as usize];
            let Some((status, observed)) = p.report else {
                continue;
            };
            results[n] = WaitResult {
                cookie: e.cookie,
                status,
                observed,
            };
            n += 1;
            if p.remove {
                // Only a canceled handle is removed on report, and its close already drained
                // the handle's watcher list: nothing to unwatch.
                inner.detach(st, idx);
                continue;
            }
            if e.trigger == Trigger::Oneshot {
                e.armed = false;
                if let Some(reg) = e.reg() {
                    let _ = inner.sync_reg(st, reg);
                }
                continue;
            }
            if let Some(me) = me {
                e.claimed = Some(me);
                let gen = e.gen;
                st.claims.push((me, idx, gen));
                continue;
            }
            if p.requeue {
                st.queue(idx);
            }
        }
        n
    }

    /// Decide what an entry popped from the ready queue reports.
    fn evaluate(st: &mut State, idx: u32, now: &mut u64) -> Popped {
        let none = Popped {
            report: None,
            requeue: false,
            remove: false,
        };
        let e = &mut st.entries[idx as usize];
        if e.canceled {
            return Popped {
                report: Some((Status::Canceled, Signals::empty())),
                requeue: false,
                remove: true,
            };
        }
        if !e.armed || e.watched.is_empty() {
            return none;
        }
        let level_trig = e.trigger == Trigger::Level;
        match &e.kind {
            Kind::Free => none,
            Kind::Fd { reg } | Kind::Handle { reg, .. } => {
                let r = &st.regs[*reg as usize];
                if r.always {
                    let obs = r.access & e.watched & (Signals::READABLE | Signals::WRITABLE);
                    if obs.is_empty() {
                        return none;
                    }
                    return Popped {
                        report: Some((Status::Satisfied, obs)),
                        requeue: level_trig,
                        remove: false,
                    };
                }
                let (obs, hup) = (e.observed, e.hup);
                e.observed = Signals::empty();
                e.hup = false;
                Popped {
                    report: fd_result(e.watched, obs, hup),
                    requeue: false,
                    remove: false,
                }
            }
            Kind::Event(ev) => {
                let level = ev.signals() & e.watched;
                let orphaned = ev.orphaned.load(std::sync::atomic::Ordering::Acquire);
                if e.trigger == Trigger::Edge {
                    let rose = std::mem::take(&mut e.observed);
                    if !rose.is_empty() {
                        return Popped {
                            report: Some((Status::Satisfied, rose)),
                            requeue: false,
                            remove: false,
                        };
                    }
                }
                if !level.is_empty() {
                    let report = (e.trigger != Trigger::Edge).then_some((Status::Satisfied, level));
                    Popped {
                        report,
                        requeue: level_trig,
                        remove: false,
                    }
                } else if orphaned {
                    Popped {
                        report: Some((Status::Unsatisfiable, Signals::empty())),
                        requeue: false,
                        remove: false,
                    }
                } else {
                    none
                }
            }
            Kind::Timer { timer, .. } => {
                if *now == 0 {
                    *now = monotonic_ns();
                }
                if timer.fired_at(*now) {
                    Popped {
                        report: Some((Status::Satisfied, Signals::TIMER)),
                        requeue: level_trig,
                        remove: false,
                    }
                } else {
                    none
                }
            }
        }
    }

    /// Exclusive delivery: the calling thread is done with what it was handed last time.
    fn release_claims(&self, st: &mut State, me: ThreadId) {
        if st.claims.is_empty() {
            return;
        }
        let mut i = 0;
        while i < st.claims.len() {
            let (t, idx, gen) = st.claims[i];
            if t != me {
                i += 1;
                continue;
            }
            st.claims.swap_remove(i);
            let Some(e) = st.entry(idx, gen) else {
                continue;
            };
            e.claimed = None;
            match e.reg() {
                Some(reg) => {
                    let _ = self.inner.sync_reg(st, reg);
                }
                None => {
                    // User sources: still ready? Back in the queue.
                    let requeue = match &e.kind {
                        Kind::Event(ev) => !(ev.signals() & e.watched).is_empty(),
                        Kind::Timer { timer, .. } => timer.fired_at(monotonic_ns()),
                        _ => false,
                    };
                    if requeue && e.trigger == Trigger::Level && st.queue(idx) {
                        self.inner.wake_for_ready(st);
                    }
                }
            }
            if let Some(reg) = st.entries[idx as usize].reg() {
                if st.regs[reg as usize].always && st.queue(idx) {
                    self.inner.wake_for_ready(st);
                }
            }
        }
    }
}
