//! The Magenta face: integer handles with rights naming wait sets, events, timers and wrapped
//! descriptors, and the `waitset_wait` of the Magenta kernel over them.
//!
//! Each handle is its own capability, as in Magenta: an entry added to a set through a handle
//! belongs to that handle, and closing that handle (not a duplicate of it) cancels the entry,
//! which the set then reports once with the result status [`WS_ERR_CANCELED`].
//!
//! Lock order (each lock is only ever taken after the ones above it):
//! 1. a handle's `entries`;
//! 2. a set's `pending`;
//! 3. the engine's own locks (a source's watchers, then the set's state).
//!
//! No lock of this module is held across a blocking wait.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use waitset::{
    Deadline, Delivery, Error, Event, Handle, Signals, Source, Status, Timer, WaitResult, WaitSet,
};

use crate::guard;
use crate::status::*;
use crate::table::{self, ws_handle_t, WS_HANDLE_INVALID};

/// A set of rights, the `WS_RIGHT_*` bits.
#[allow(non_camel_case_types)]
pub type ws_rights_t = u32;
/// No rights.
pub const WS_RIGHT_NONE: ws_rights_t = 0;
/// The handle may be duplicated ([`ws_handle_duplicate`]).
pub const WS_RIGHT_DUPLICATE: ws_rights_t = 1 << 0;
/// The object's signals may be read and waited on: required of a handle given to
/// [`ws_waitset_add`], of a wait set given to [`ws_waitset_wait`], and by [`ws_event_get`].
pub const WS_RIGHT_READ: ws_rights_t = 1 << 2;
/// The object may be changed: required by [`ws_waitset_add`] and [`ws_waitset_remove`] (of the
/// set), [`ws_event_signal`], [`ws_timer_set`] and [`ws_timer_cancel`].
pub const WS_RIGHT_WRITE: ws_rights_t = 1 << 3;
/// For [`ws_handle_duplicate`]: the same rights as the original handle.
pub const WS_RIGHT_SAME_RIGHTS: ws_rights_t = 1u32 << 31;
const RIGHTS_ALL: ws_rights_t = WS_RIGHT_DUPLICATE | WS_RIGHT_READ | WS_RIGHT_WRITE;

/// A set of signals, the `WS_SIGNAL_*` bits.
#[allow(non_camel_case_types)]
pub type ws_signals_t = u32;
/// No signal.
pub const WS_SIGNAL_NONE: ws_signals_t = 0;
/// A descriptor can be read without blocking (or a read returns end of file at once).
pub const WS_SIGNAL_READABLE: ws_signals_t = 1 << 0;
/// A descriptor can be written without blocking.
pub const WS_SIGNAL_WRITABLE: ws_signals_t = 1 << 1;
/// A descriptor has priority (out-of-band) data.
pub const WS_SIGNAL_PRIORITY: ws_signals_t = 1 << 2;
/// A descriptor has an error pending (reported whether watched or not).
pub const WS_SIGNAL_ERROR: ws_signals_t = 1 << 3;
/// A descriptor's peer hung up (reported whether watched or not).
pub const WS_SIGNAL_PEER_CLOSED: ws_signals_t = 1 << 4;
/// A timer reached its deadline.
pub const WS_SIGNAL_TIMER: ws_signals_t = 1 << 5;
/// User signal 0 of an event.
pub const WS_SIGNAL_USER_0: ws_signals_t = 1 << 24;
/// User signal 1 of an event.
pub const WS_SIGNAL_USER_1: ws_signals_t = 1 << 25;
/// User signal 2 of an event.
pub const WS_SIGNAL_USER_2: ws_signals_t = 1 << 26;
/// User signal 3 of an event.
pub const WS_SIGNAL_USER_3: ws_signals_t = 1 << 27;
/// User signal 4 of an event.
pub const WS_SIGNAL_USER_4: ws_signals_t = 1 << 28;
/// User signal 5 of an event.
pub const WS_SIGNAL_USER_5: ws_signals_t = 1 << 29;
/// User signal 6 of an event.
pub const WS_SIGNAL_USER_6: ws_signals_t = 1 << 30;
/// User signal 7 of an event.
pub const WS_SIGNAL_USER_7: ws_signals_t = 1u32 << 31;
/// All eight user signals.
pub const WS_SIGNAL_USER_ALL: ws_signals_t = 0xffu32 << 24;

// The C values are the engine's bits, so signals cross the boundary unconverted.
const _: () = {
    assert!(WS_SIGNAL_READABLE == Signals::READABLE.bits());
    assert!(WS_SIGNAL_WRITABLE == Signals::WRITABLE.bits());
    assert!(WS_SIGNAL_PRIORITY == Signals::PRIORITY.bits());
    assert!(WS_SIGNAL_ERROR == Signals::ERROR.bits());
    assert!(WS_SIGNAL_PEER_CLOSED == Signals::PEER_CLOSED.bits());
    assert!(WS_SIGNAL_TIMER == Signals::TIMER.bits());
    assert!(WS_SIGNAL_USER_0 == Signals::USER_0.bits());
    assert!(WS_SIGNAL_USER_7 == Signals::USER_7.bits());
    assert!(WS_SIGNAL_USER_ALL == Signals::USER_ALL.bits());
};

/// A point in time: nanoseconds on `CLOCK_MONOTONIC`, or [`WS_TIME_INFINITE`].
#[allow(non_camel_case_types)]
pub type ws_time_t = u64;
/// A span of time in nanoseconds.
#[allow(non_camel_case_types)]
pub type ws_duration_t = u64;
/// A deadline that never passes.
pub const WS_TIME_INFINITE: ws_time_t = u64::MAX;

/// The type of the object behind a handle ([`ws_handle_info`]).
#[allow(non_camel_case_types)]
pub type ws_obj_type_t = u32;
/// A wait set ([`ws_waitset_create`]).
pub const WS_OBJ_TYPE_WAITSET: ws_obj_type_t = 1;
/// An event ([`ws_event_create`]).
pub const WS_OBJ_TYPE_EVENT: ws_obj_type_t = 2;
/// A timer ([`ws_timer_create`]).
pub const WS_OBJ_TYPE_TIMER: ws_obj_type_t = 3;
/// A wrapped file descriptor ([`ws_fd_wrap`]).
pub const WS_OBJ_TYPE_FD: ws_obj_type_t = 4;

/// [`ws_waitset_create`] option: each result goes to exactly one of the threads waiting on the
/// set (by default every waiter sees every ready entry).
pub const WS_WAITSET_EXCLUSIVE: u32 = 1 << 0;

/// The one cookie a caller may not use: the set's own wake-up entry has it.
pub const WS_COOKIE_RESERVED: u64 = u64::MAX;

/// The most results one [`ws_waitset_wait`] writes, whatever `*count` says.
pub const WS_WAIT_MAX_RESULTS: u32 = 1024;

/// One result of [`ws_waitset_wait`]: 16 bytes, aligned to 8.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct ws_waitset_result_t {
    /// The cookie the entry was added with.
    pub cookie: u64,
    /// [`WS_OK`]: a watched signal is asserted; [`WS_ERR_BAD_STATE`]: the watched signals can
    /// never be asserted again; [`WS_ERR_CANCELED`]: the handle the entry was added with was
    /// closed, and the entry is gone.
    pub status: ws_status_t,
    /// The signals observed: the watched ones that are asserted, plus `WS_SIGNAL_ERROR` and
    /// `WS_SIGNAL_PEER_CLOSED` for a descriptor; 0 for a canceled entry.
    pub observed: ws_signals_t,
}

const _: () = {
    assert!(std::mem::size_of::<ws_waitset_result_t>() == 16);
    assert!(std::mem::align_of::<ws_waitset_result_t>() == 8);
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these locks are held; were it to, the data is still consistent
    // (each update is completed before anything that could fail).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a handle names.
pub(crate) enum Object {
    Set(Arc<CSet>),
    Event(Event),
    Timer(Timer),
    Fd(Handle),
}

impl Object {
    fn type_code(&self) -> ws_obj_type_t {
        match self {
            Object::Set(_) => WS_OBJ_TYPE_WAITSET,
            Object::Event(_) => WS_OBJ_TYPE_EVENT,
            Object::Timer(_) => WS_OBJ_TYPE_TIMER,
            Object::Fd(_) => WS_OBJ_TYPE_FD,
        }
    }
}

/// Entries added to sets through one handle: entry serial -> (set, cookie).
type HandleEntries = HashMap<u64, (Weak<CSet>, u64)>;

/// One handle: the object, the rights this handle grants, and the entries added through it.
pub(crate) struct HandleRef {
    object: Arc<Object>,
    rights: ws_rights_t,
    /// `None` once the handle is closed, so that no entry can be added through it anymore.
    entries: Mutex<Option<HandleEntries>>,
}

impl HandleRef {
    fn new(object: Arc<Object>, rights: ws_rights_t) -> HandleRef {
        HandleRef {
            object,
            rights,
            entries: Mutex::new(Some(HashMap::new())),
        }
    }

    fn require(&self, right: ws_rights_t) -> Result<(), ws_status_t> {
        if self.rights & right == right {
            Ok(())
        } else {
            Err(WS_ERR_ACCESS_DENIED)
        }
    }
}

/// Look up a handle to a wait set and check a right.
fn get_set(h: ws_handle_t, right: ws_rights_t) -> Result<Arc<CSet>, ws_status_t> {
    let r = table::get(h)?;
    let Object::Set(set) = &*r.object else {
        return Err(WS_ERR_WRONG_TYPE);
    };
    r.require(right)?;
    Ok(set.clone())
}

/// Entry serials: an entry's identity, so that a cookie that was removed and added again is
/// never confused with its earlier entry.
static SERIAL: AtomicU64 = AtomicU64::new(1);

/// Whom an entry belongs to.
struct Owner {
    handle: Weak<HandleRef>,
    serial: u64,
}

#[derive(Default)]
struct Pending {
    closed: bool,
    /// Every live entry, by cookie.
    owners: HashMap<u64, Owner>,
    /// Results owed to the next wait: entries canceled by a handle close, and results a
    /// `*count == 0` wait took from the engine without reporting them. At most one per cookie.
    stash: VecDeque<WaitResult>,
}

/// A wait set as C sees it: the engine's set, plus the per-handle bookkeeping of Magenta.
///
/// Results that do not come from the engine (the stash) are announced through an internal
/// [`Event`] added under [`WS_COOKIE_RESERVED`], so a thread blocked in the engine's wait wakes
/// for them like for any other result.
pub(crate) struct CSet {
    ws: WaitSet,
    wake: Event,
    exclusive: bool,
    pending: Mutex<Pending>,
}

impl CSet {
    fn new(exclusive: bool) -> Result<CSet, ws_status_t> {
        let delivery = if exclusive {
            Delivery::Exclusive
        } else {
            Delivery::Broadcast
        };
        let ws = WaitSet::builder()
            .delivery(delivery)
            .build()
            .map_err(|e| from_error(&e))?;
        let wake = Event::new();
        ws.add(WS_COOKIE_RESERVED, Source::from(&wake), Signals::USER_0)
            .map_err(|e| from_error(&e))?;
        Ok(CSet {
            ws,
            wake,
            exclusive,
            pending: Mutex::new(Pending::default()),
        })
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        lock(&self.pending)
    }

    /// Owe `r` to the next wait, replacing any older result for the same cookie.
    fn stash_push(&self, p: &mut Pending, r: WaitResult) {
        p.stash.retain(|s| s.cookie != r.cookie);
        p.stash.push_back(r);
        let _ = self.wake.signal(Signals::empty(), Signals::USER_0);
    }

    /// Forget any owed result for `cookie`; whether there was one.
    fn stash_forget(&self, p: &mut Pending, cookie: u64) -> bool {
        let before = p.stash.len();
        p.stash.retain(|s| s.cookie != cookie);
        if p.stash.is_empty() {
            let _ = self.wake.signal(Signals::USER_0, Signals::empty());
        }
        p.stash.len() != before
    }

    /// Move owed results into `buf[k..]`, skipping cookies already in `buf[..k]` (they stay
    /// owed: at most one result per entry per wait); returns the new length.
    fn stash_take(&self, p: &mut Pending, buf: &mut [WaitResult], mut k: usize) -> usize {
        let fresh = k;
        let mut i = 0;
        while k < buf.len() && i < p.stash.len() {
            let cookie = p.stash[i].cookie;
            if buf[..fresh].iter().any(|r| r.cookie == cookie) {
                i += 1;
                continue;
            }
            buf[k] = p.stash.remove(i).expect("index checked");
            k += 1;
        }
        if p.stash.is_empty() {
            let _ = self.wake.signal(Signals::USER_0, Signals::empty());
        }
        k
    }

    fn add(
        self: &Arc<CSet>,
        cookie: u64,
        via: &Arc<HandleRef>,
        signals: Signals,
    ) -> Result<(), ws_status_t> {
        let source = match &*via.object {
            Object::Set(_) => return Err(WS_ERR_NOT_SUPPORTED),
            Object::Event(e) => Source::from(e),
            Object::Timer(t) => Source::from(t),
            Object::Fd(h) => Source::from(h),
        };
        let mut held = lock(&via.entries);
        // `None`: closed meanwhile by another thread.
        let entries = held.as_mut().ok_or(WS_ERR_BAD_HANDLE)?;
        let mut p = self.pending();
        if p.closed {
            return Err(WS_ERR_CANCELED);
        }
        if p.stash.iter().any(|r| r.cookie == cookie) {
            // Canceled, but not yet reported: the cookie is still taken.
            return Err(WS_ERR_ALREADY_EXISTS);
        }
        if entries.try_reserve(1).is_err() || p.owners.try_reserve(1).is_err() {
            return Err(WS_ERR_NO_MEMORY);
        }
        self.ws
            .add(cookie, source, signals)
            .map_err(|e| from_error(&e))?;
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        p.owners.insert(
            cookie,
            Owner {
                handle: Arc::downgrade(via),
                serial,
            },
        );
        entries.insert(serial, (Arc::downgrade(self), cookie));
        Ok(())
    }

    fn remove(&self, cookie: u64) -> Result<(), ws_status_t> {
        let owner = {
            let mut p = self.pending();
            if p.closed {
                return Err(WS_ERR_CANCELED);
            }
            let owed = self.stash_forget(&mut p, cookie);
            if !p.owners.contains_key(&cookie) {
                return if owed { Ok(()) } else { Err(WS_ERR_NOT_FOUND) };
            }
            self.ws.remove(cookie).map_err(|e| from_error(&e))?;
            p.owners.remove(&cookie).expect("checked above")
        };
        if let Some(h) = owner.handle.upgrade() {
            if let Some(m) = lock(&h.entries).as_mut() {
                m.remove(&owner.serial);
            }
        }
        Ok(())
    }

    /// The handle entry `serial` was added through is being closed: remove the entry and owe
    /// its cancellation to the next wait.
    fn cancel(&self, cookie: u64, serial: u64) {
        let mut p = self.pending();
        if p.closed || p.owners.get(&cookie).map(|o| o.serial) != Some(serial) {
            return;
        }
        p.owners.remove(&cookie);
        let _ = self.ws.remove(cookie);
        let r = WaitResult {
            cookie,
            status: Status::Canceled,
            observed: Signals::empty(),
        };
        self.stash_push(&mut p, r);
    }

    /// The set's handle is closed: waiters return [`WS_ERR_CANCELED`], and the handles forget
    /// their entries here.
    fn close(&self) {
        let owners = {
            let mut p = self.pending();
            p.closed = true;
            p.stash.clear();
            std::mem::take(&mut p.owners)
        };
        self.ws.close();
        for o in owners.into_values() {
            if let Some(h) = o.handle.upgrade() {
                if let Some(m) = lock(&h.entries).as_mut() {
                    m.remove(&o.serial);
                }
            }
        }
    }

    /// Wait for results into `buf`; an empty `buf` waits for a result without taking it.
    fn wait(&self, deadline: Deadline, buf: &mut [WaitResult]) -> Result<usize, ws_status_t> {
        let peek = buf.is_empty();
        let mut one = [WaitResult::default(); 1];
        loop {
            let owed = !self.pending().stash.is_empty();
            if owed && peek {
                return Ok(0);
            }
            // With results owed, the engine is still asked (without blocking): the call then
            // counts as a wait for the engine too (it releases what an exclusive set handed
            // this thread last time), and fresh results share the room.
            let kbuf: &mut [WaitResult] = if peek { &mut one } else { &mut *buf };
            let until = if owed { Deadline::now() } else { deadline };
            let n = match self.ws.wait(until, kbuf) {
                Ok(n) => n,
                Err(Error::TimedOut) if owed => 0,
                Err(e) => return Err(from_error(&e)),
            };
            // Take the wake-up entry's result out, keeping the others in order.
            let mut k = 0;
            let mut woken = false;
            for i in 0..n {
                if kbuf[i].cookie == WS_COOKIE_RESERVED {
                    woken = true;
                } else {
                    kbuf[k] = kbuf[i];
                    k += 1;
                }
            }
            if peek {
                let mut p = self.pending();
                if k == 1 {
                    // Owe the result to the next wait unless the engine will simply report it
                    // again: a satisfied entry of a broadcast set (level-triggered). Exclusive
                    // delivery and a canceled entry report once; keep the others too.
                    if self.exclusive || one[0].status != Status::Satisfied {
                        self.stash_push(&mut p, one[0]);
                    }
                    return Ok(0);
                }
                if !p.stash.is_empty() {
                    return Ok(0);
                }
                continue;
            }
            if (woken || owed) && k < buf.len() {
                let mut p = self.pending();
                k = self.stash_take(&mut p, buf, k);
            }
            if k > 0 {
                return Ok(k);
            }
            // Woken for results another waiter took first: wait again, to the same deadline.
        }
    }
}

/// Fail with [`WS_ERR_INVALID_ARGS`] unless `p` is non-NULL and aligned for `T`.
fn check_ptr<T>(p: *const T) -> Result<(), ws_status_t> {
    if p.is_null() || !p.is_aligned() {
        Err(WS_ERR_INVALID_ARGS)
    } else {
        Ok(())
    }
}

fn signals_arg(bits: ws_signals_t) -> Result<Signals, ws_status_t> {
    Signals::from_bits(bits).ok_or(WS_ERR_INVALID_ARGS)
}

/// A new handle with `rights` for the object that `object` builds (only once a slot is free).
fn new_handle(
    rights: ws_rights_t,
    object: impl FnOnce() -> Object,
) -> Result<ws_handle_t, ws_status_t> {
    table::insert(|| HandleRef::new(Arc::new(object()), rights))
}

/// Create a wait set. `options` is 0 (every waiter sees every ready entry) or
/// [`WS_WAITSET_EXCLUSIVE`]. The handle has `WS_RIGHT_READ | WS_RIGHT_WRITE` and, as in
/// Magenta, cannot be duplicated.
///
/// Errors: [`WS_ERR_INVALID_ARGS`] (`out` NULL, unknown option bits), [`WS_ERR_NO_MEMORY`].
///
/// # Safety
/// `out` is NULL or points to writable memory for one handle.
#[no_mangle]
pub unsafe extern "C" fn ws_waitset_create(options: u32, out: *mut ws_handle_t) -> ws_status_t {
    guard::status(|| {
        check_ptr(out)?;
        if options & !WS_WAITSET_EXCLUSIVE != 0 {
            return Err(WS_ERR_INVALID_ARGS);
        }
        let set = Arc::new(CSet::new(options & WS_WAITSET_EXCLUSIVE != 0)?);
        let h = new_handle(WS_RIGHT_READ | WS_RIGHT_WRITE, || Object::Set(set))?;
        // SAFETY: `out` was checked non-NULL and aligned; writable by the C contract.
        unsafe { out.write(h) };
        Ok(())
    })
}

/// Add an entry to `set`: wait for any of `signals` on the object behind `handle`, and report
/// it under `cookie`. Entries are level-triggered: an asserted signal is reported on every wait.
/// The entry belongs to `handle`: closing `handle` cancels it (a duplicate of `handle` does
/// not).
///
/// Errors: [`WS_ERR_BAD_HANDLE`] (either handle), [`WS_ERR_WRONG_TYPE`] (`set` is not a wait
/// set), [`WS_ERR_ACCESS_DENIED`] (`set` without WRITE, `handle` without READ, or a signal the
/// object can never assert: a non-user signal on an event, anything but TIMER on a timer,
/// READABLE on a write-only descriptor), [`WS_ERR_INVALID_ARGS`] (unknown signal bits,
/// [`WS_COOKIE_RESERVED`]), [`WS_ERR_NOT_SUPPORTED`] (`handle` is a wait set),
/// [`WS_ERR_ALREADY_EXISTS`] (the cookie is in use), [`WS_ERR_NO_MEMORY`].
#[no_mangle]
pub extern "C" fn ws_waitset_add(
    set: ws_handle_t,
    cookie: u64,
    handle: ws_handle_t,
    signals: ws_signals_t,
) -> ws_status_t {
    guard::status(|| {
        let s = get_set(set, WS_RIGHT_WRITE)?;
        let via = table::get(handle)?;
        via.require(WS_RIGHT_READ)?;
        let signals = signals_arg(signals)?;
        if cookie == WS_COOKIE_RESERVED {
            return Err(WS_ERR_INVALID_ARGS);
        }
        s.add(cookie, &via, signals)
    })
}

/// Remove the entry `cookie` from `set` (a canceled entry not yet reported is forgotten too).
///
/// Errors: [`WS_ERR_BAD_HANDLE`], [`WS_ERR_WRONG_TYPE`], [`WS_ERR_ACCESS_DENIED`] (no WRITE),
/// [`WS_ERR_NOT_FOUND`].
#[no_mangle]
pub extern "C" fn ws_waitset_remove(set: ws_handle_t, cookie: u64) -> ws_status_t {
    guard::status(|| get_set(set, WS_RIGHT_WRITE)?.remove(cookie))
}

/// Wait until an entry of `set` has a result to report, or `deadline` (nanoseconds on
/// `CLOCK_MONOTONIC`, see [`ws_deadline_after`]) passes.
///
/// `*count` is in/out: on input the room in `results`, on output the number of results written
/// (at least 1, at most [`WS_WAIT_MAX_RESULTS`]). `results` may be NULL only when `*count` is
/// 0: the call then waits for a result to be ready without taking it, and returns [`WS_OK`] with
/// `*count` left 0. Each entry yields at most one result per call; when more are ready than
/// fit, later calls report the rest first. `results` and `*count` are written only on success.
///
/// Returns [`WS_OK`]; [`WS_ERR_TIMED_OUT`] when the deadline passes with nothing to report;
/// [`WS_ERR_CANCELED`] when `set` is closed while waiting; [`WS_ERR_BAD_HANDLE`],
/// [`WS_ERR_WRONG_TYPE`], [`WS_ERR_ACCESS_DENIED`] (no READ), [`WS_ERR_INVALID_ARGS`]
/// (`count` NULL, or `results` NULL with `*count > 0`), [`WS_ERR_NO_MEMORY`].
///
/// # Safety
/// `count` is NULL or points to a readable and writable `uint32_t`; `results` is NULL or points
/// to writable memory for `*count` results.
#[no_mangle]
pub unsafe extern "C" fn ws_waitset_wait(
    set: ws_handle_t,
    deadline: ws_time_t,
    results: *mut ws_waitset_result_t,
    count: *mut u32,
) -> ws_status_t {
    guard::status(|| {
        let s = get_set(set, WS_RIGHT_READ)?;
        check_ptr(count)?;
        // SAFETY: `count` is non-NULL and aligned, and readable by the C contract.
        let room = unsafe { count.read() };
        if room > 0 {
            check_ptr(results)?;
        }
        let room = room.min(WS_WAIT_MAX_RESULTS) as usize;
        const STACK: usize = 64;
        let mut small = [WaitResult::default(); STACK];
        let mut large = Vec::new();
        let buf: &mut [WaitResult] = if room <= STACK {
            &mut small[..room]
        } else {
            large
                .try_reserve_exact(room)
                .map_err(|_| WS_ERR_NO_MEMORY)?;
            large.resize(room, WaitResult::default());
            &mut large
        };
        let n = s.wait(Deadline::from_monotonic_nanos(deadline), buf)?;
        for (i, r) in buf[..n].iter().enumerate() {
            let status = match r.status {
                Status::Satisfied => WS_OK,
                Status::Unsatisfiable => WS_ERR_BAD_STATE,
                Status::Canceled => WS_ERR_CANCELED,
            };
            let out = ws_waitset_result_t {
                cookie: r.cookie,
                status,
                observed: r.observed.bits(),
            };
            // SAFETY: n <= room <= *count, and `results` is writable for *count results by the
            // C contract (checked non-NULL and aligned above).
            unsafe { results.add(i).write(out) };
        }
        // SAFETY: as for the read above.
        unsafe { count.write(n as u32) };
        Ok(())
    })
}

/// Close a handle. Entries added through it are canceled: each is reported once with
/// [`WS_ERR_CANCELED`] and removed. Closing a wait set's handle wakes its waiters with
/// [`WS_ERR_CANCELED`]. An object lives until its last handle is closed; a wrapped descriptor is
/// closed then. Closing [`WS_HANDLE_INVALID`] does nothing and returns [`WS_OK`].
///
/// Errors: [`WS_ERR_BAD_HANDLE`].
#[no_mangle]
pub extern "C" fn ws_handle_close(handle: ws_handle_t) -> ws_status_t {
    guard::status(|| {
        if handle == WS_HANDLE_INVALID {
            return Ok(());
        }
        let r = table::remove(handle)?;
        let entries = lock(&r.entries).take().unwrap_or_default();
        for (serial, (set, cookie)) in entries {
            if let Some(set) = set.upgrade() {
                set.cancel(cookie, serial);
            }
        }
        if let Object::Set(set) = &*r.object {
            set.close();
        }
        Ok(())
    })
}

/// Make another handle to the object behind `handle`, with `rights` (a subset of `handle`'s
/// rights, or [`WS_RIGHT_SAME_RIGHTS`]). Entries added through the new handle belong to it.
///
/// Errors: [`WS_ERR_BAD_HANDLE`], [`WS_ERR_ACCESS_DENIED`] (`handle` lacks
/// `WS_RIGHT_DUPLICATE`; wait set handles never have it), [`WS_ERR_INVALID_ARGS`] (`out` NULL,
/// rights not a subset), [`WS_ERR_NO_MEMORY`].
///
/// # Safety
/// `out` is NULL or points to writable memory for one handle.
#[no_mangle]
pub unsafe extern "C" fn ws_handle_duplicate(
    handle: ws_handle_t,
    rights: ws_rights_t,
    out: *mut ws_handle_t,
) -> ws_status_t {
    guard::status(|| {
        let r = table::get(handle)?;
        r.require(WS_RIGHT_DUPLICATE)?;
        check_ptr(out)?;
        let rights = if rights == WS_RIGHT_SAME_RIGHTS {
            r.rights
        } else if rights & !r.rights != 0 {
            return Err(WS_ERR_INVALID_ARGS);
        } else {
            rights
        };
        let h = table::insert(|| HandleRef::new(r.object.clone(), rights))?;
        // SAFETY: `out` was checked non-NULL and aligned; writable by the C contract.
        unsafe { out.write(h) };
        Ok(())
    })
}

/// The type of the object behind `handle` and the handle's rights; either pointer may be NULL.
///
/// Errors: [`WS_ERR_BAD_HANDLE`], [`WS_ERR_INVALID_ARGS`] (a misaligned pointer).
///
/// # Safety
/// Each pointer is NULL or points to writable memory for its type.
#[no_mangle]
pub unsafe extern "C" fn ws_handle_info(
    handle: ws_handle_t,
    type_out: *mut ws_obj_type_t,
    rights_out: *mut ws_rights_t,
) -> ws_status_t {
    guard::status(|| {
        let r = table::get(handle)?;
        if !type_out.is_aligned() || !rights_out.is_aligned() {
            return Err(WS_ERR_INVALID_ARGS);
        }
        if !type_out.is_null() {
            // SAFETY: non-NULL and aligned; writable by the C contract.
            unsafe { type_out.write(r.object.type_code()) };
        }
        if !rights_out.is_null() {
            // SAFETY: non-NULL and aligned; writable by the C contract.
            unsafe { rights_out.write(r.rights) };
        }
        Ok(())
    })
}

/// The event behind `handle`, checking a right.
fn get_event(handle: ws_handle_t, right: ws_rights_t) -> Result<Arc<HandleRef>, ws_status_t> {
    let r = table::get(handle)?;
    if !matches!(&*r.object, Object::Event(_)) {
        return Err(WS_ERR_WRONG_TYPE);
    }
    r.require(right)?;
    Ok(r)
}

/// Create an event: eight user signals (`WS_SIGNAL_USER_0` to `_7`), none asserted. `options`
/// must be 0. The handle has `WS_RIGHT_DUPLICATE | WS_RIGHT_READ | WS_RIGHT_WRITE`.
///
/// Errors: [`WS_ERR_INVALID_ARGS`] (`out` NULL, `options` not 0), [`WS_ERR_NO_MEMORY`].
///
/// # Safety
/// `out` is NULL or points to writable memory for one handle.
#[no_mangle]
pub unsafe extern "C" fn ws_event_create(options: u32, out: *mut ws_handle_t) -> ws_status_t {
    guard::status(|| {
        check_ptr(out)?;
        if options != 0 {
            return Err(WS_ERR_INVALID_ARGS);
        }
        let h = new_handle(RIGHTS_ALL, || Object::Event(Event::new()))?;
        // SAFETY: `out` was checked non-NULL and aligned; writable by the C contract.
        unsafe { out.write(h) };
        Ok(())
    })
}

/// Clear the signals in `clear`, then assert those in `set`, atomically, waking the sets that
/// wait for a signal that became asserted.
///
/// Errors: [`WS_ERR_BAD_HANDLE`], [`WS_ERR_WRONG_TYPE`], [`WS_ERR_ACCESS_DENIED`] (no WRITE),
/// [`WS_ERR_INVALID_ARGS`] (a bit other than the user signals).
#[no_mangle]
pub extern "C" fn ws_event_signal(
    handle: ws_handle_t,
    clear: ws_signals_t,
    set: ws_signals_t,
) -> ws_status_t {
    guard::status(|| {
        let r = get_event(handle, WS_RIGHT_WRITE)?;
        let Object::Event(ev) = &*r.object else {
            unreachable!("checked by get_event")
        };
        let (clear, set) = (signals_arg(clear)?, signals_arg(set)?);
        ev.signal(clear, set).map_err(|e| from_error(&e))
    })
}

/// The signals asserted on an event now.
///
/// Errors: [`WS_ERR_BAD_HANDLE`], [`WS_ERR_WRONG_TYPE`], [`WS_ERR_ACCESS_DENIED`] (no READ),
/// [`WS_ERR_INVALID_ARGS`] (`out` NULL).
///
/// # Safety
/// `out` is NULL or points to writable memory for one `ws_signals_t`.
#[no_mangle]
pub unsafe extern "C" fn ws_event_get(handle: ws_handle_t, out: *mut ws_signals_t) -> ws_status_t {
    guard::status(|| {
        let r = get_event(handle, WS_RIGHT_READ)?;
        let Object::Event(ev) = &*r.object else {
            unreachable!("checked by get_event")
        };
        check_ptr(out)?;
        // SAFETY: non-NULL and aligned; writable by the C contract.
        unsafe { out.write(ev.signals().bits()) };
        Ok(())
    })
}

/// The timer behind `handle`, checking a right.
fn with_timer(
    handle: ws_handle_t,
    right: ws_rights_t,
    f: impl FnOnce(&Timer),
) -> Result<(), ws_status_t> {
    let r = table::get(handle)?;
    let Object::Timer(t) = &*r.object else {
        return Err(WS_ERR_WRONG_TYPE);
    };
    r.require(right)?;
    f(t);
    Ok(())
}

/// Create a disarmed timer. `options` must be 0. The handle has
/// `WS_RIGHT_DUPLICATE | WS_RIGHT_READ | WS_RIGHT_WRITE`.
///
/// Errors: [`WS_ERR_INVALID_ARGS`] (`out` NULL, `options` not 0), [`WS_ERR_NO_MEMORY`].
///
/// # Safety
/// `out` is NULL or points to writable memory for one handle.
#[no_mangle]
pub unsafe extern "C" fn ws_timer_create(options: u32, out: *mut ws_handle_t) -> ws_status_t {
    guard::status(|| {
        check_ptr(out)?;
        if options != 0 {
            return Err(WS_ERR_INVALID_ARGS);
        }
        let h = new_handle(RIGHTS_ALL, || Object::Timer(Timer::new()))?;
        // SAFETY: `out` was checked non-NULL and aligned; writable by the C contract.
        unsafe { out.write(h) };
        Ok(())
    })
}

/// Arm a timer: `WS_SIGNAL_TIMER` is asserted from `deadline` on (never before), reported up to
/// `slack` nanoseconds late so that nearby wake-ups coalesce. Replaces an earlier deadline and
/// clears the signal; [`WS_TIME_INFINITE`] disarms.
///
/// Errors: [`WS_ERR_BAD_HANDLE`], [`WS_ERR_WRONG_TYPE`], [`WS_ERR_ACCESS_DENIED`] (no WRITE).
#[no_mangle]
pub extern "C" fn ws_timer_set(
    handle: ws_handle_t,
    deadline: ws_time_t,
    slack: ws_duration_t,
) -> ws_status_t {
    guard::status(|| {
        with_timer(handle, WS_RIGHT_WRITE, |t| {
            t.set(
                Deadline::from_monotonic_nanos(deadline),
                std::time::Duration::from_nanos(slack),
            )
        })
    })
}

/// Disarm a timer and clear `WS_SIGNAL_TIMER`.
///
/// Errors: [`WS_ERR_BAD_HANDLE`], [`WS_ERR_WRONG_TYPE`], [`WS_ERR_ACCESS_DENIED`] (no WRITE).
#[no_mangle]
pub extern "C" fn ws_timer_cancel(handle: ws_handle_t) -> ws_status_t {
    guard::status(|| with_timer(handle, WS_RIGHT_WRITE, |t| t.cancel()))
}

/// Wrap an open file descriptor in a handle, taking ownership of it: the descriptor is closed
/// when the last handle to it is closed, and must not be closed by the caller. It may still be
/// read and written through its number while a handle is open. The handle has
/// `WS_RIGHT_DUPLICATE | WS_RIGHT_READ | WS_RIGHT_WRITE`. On error the descriptor stays the
/// caller's.
///
/// Errors: [`WS_ERR_BAD_HANDLE`] (`fd` is not an open descriptor), [`WS_ERR_INVALID_ARGS`] (`out`
/// NULL), [`WS_ERR_NO_MEMORY`].
///
/// # Safety
/// `out` is NULL or points to writable memory for one handle; `fd`, if open, is owned by the
/// caller and handed over.
#[no_mangle]
pub unsafe extern "C" fn ws_fd_wrap(fd: libc::c_int, out: *mut ws_handle_t) -> ws_status_t {
    guard::status(|| {
        check_ptr(out)?;
        // SAFETY: F_GETFD only reads the descriptor's flags; any number is a valid argument.
        if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            return Err(WS_ERR_BAD_HANDLE);
        }
        let h = new_handle(RIGHTS_ALL, || {
            // SAFETY: `fd` is open (checked above) and the caller hands its ownership over (the
            // contract of this function); `new_handle` runs this only once a slot is reserved,
            // so on an error the descriptor is left alone.
            Object::Fd(Handle::new(unsafe { OwnedFd::from_raw_fd(fd) }))
        })?;
        // SAFETY: `out` was checked non-NULL and aligned; writable by the C contract.
        unsafe { out.write(h) };
        Ok(())
    })
}

/// The current time on `CLOCK_MONOTONIC`, in nanoseconds.
#[no_mangle]
pub extern "C" fn ws_time_now() -> ws_time_t {
    guard::value(0, || Deadline::now().as_monotonic_nanos())
}

/// The deadline `nanoseconds` from now; saturates to [`WS_TIME_INFINITE`].
#[no_mangle]
pub extern "C" fn ws_deadline_after(nanoseconds: ws_duration_t) -> ws_time_t {
    guard::value(WS_TIME_INFINITE, || {
        Deadline::after(std::time::Duration::from_nanos(nanoseconds)).as_monotonic_nanos()
    })
}
