//! `poll_oneoff`: the ABI path and the wait behind it.
//!
//! [`poll_oneoff`] owns every rule about guest memory (design §2 "poll_oneoff"):
//! 1. `nsubscriptions == 0` is INVAL;
//! 2. the three ranges — `in` (48 × n), `out` (32 × n), `nevents` (4) — must lie in guest memory,
//!    else FAULT (overflow-safe; nothing is allocated before this check);
//! 3. the three pointers must be aligned (8, 8, 4), else INVAL (bounds are checked first, so an
//!    out-of-bounds misaligned pointer is FAULT);
//! 4. every subscription is decoded before anything is written (`in` and `out` may overlap); an
//!    unknown tag is INVAL;
//! 5. the wait ([`WasiCtx::wait_subscriptions`]) fills typed events;
//! 6. the events are rotated by the per-instance poll seed, then written (all 32 bytes each),
//!    and `nevents` is written last.
//!
//! On an error return nothing at all has been written.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use waitset::{Deadline, Signals, Source, Status, WaitResult, WaitSet};

use crate::abi::{
    self, clockid, eventrwflags, subclockflags, Errno, Event, Rights, Subscription,
    SubscriptionKind,
};
use crate::ctx::{FdEntry, FileKind, WasiCtx};
use crate::host::now_ns;

/// Guest fd -> Reg: a Vec indexed by the guest fd number. Guest fds are dense (the table hands
/// out the lowest free number) and only fds present in the table get a Reg, so this is bounded
/// by the table; no hashing on the per-subscription path.
#[derive(Default)]
struct RegMap {
    slots: Vec<Option<Reg>>,
    len: usize,
}

impl RegMap {
    fn get(&self, fd: &u32) -> Option<&Reg> {
        self.slots.get(*fd as usize).and_then(Option::as_ref)
    }
    fn get_mut(&mut self, fd: &u32) -> Option<&mut Reg> {
        self.slots.get_mut(*fd as usize).and_then(Option::as_mut)
    }
    fn remove(&mut self, fd: &u32) -> Option<Reg> {
        let r = self.slots.get_mut(*fd as usize).and_then(Option::take);
        if r.is_some() {
            self.len -= 1;
        }
        r
    }
    fn len(&self) -> usize {
        self.len
    }
    fn or_insert(&mut self, fd: u32, reg: impl FnOnce() -> Reg) -> &mut Reg {
        let i = fd as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        if self.slots[i].is_none() {
            self.slots[i] = Some(reg());
            self.len += 1;
        }
        self.slots[i].as_mut().expect("just inserted")
    }
    fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut Reg)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, r)| r.as_mut().map(|r| (i as u32, r)))
    }
}

/// `poll_oneoff(in: *const subscription, out: *mut event, nsubscriptions: size,
/// nevents: *mut size) -> errno`.
pub fn poll_oneoff(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    in_: u32,
    out: u32,
    nsubscriptions: u32,
    nevents: u32,
) -> Errno {
    match poll_oneoff_inner(ctx, mem, in_, out, nsubscriptions, nevents) {
        Ok(()) => Errno::SUCCESS,
        Err(e) => e,
    }
}

fn poll_oneoff_inner(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    in_: u32,
    out: u32,
    nsubscriptions: u32,
    nevents: u32,
) -> Result<(), Errno> {
    if nsubscriptions == 0 {
        return Err(Errno::INVAL);
    }
    // Pending termination first: the run ends before anything is read or written.
    if ctx.interrupted().is_some() {
        return Err(Errno::INTR);
    }
    let in_range = abi::array_range(mem.len(), in_, nsubscriptions, Subscription::SIZE)?;
    let out_range = abi::array_range(mem.len(), out, nsubscriptions, Event::SIZE)?;
    abi::range(mem.len(), nevents, 4)?;
    abi::check_align(in_, Subscription::ALIGN)?;
    abi::check_align(out, Event::ALIGN)?;
    abi::check_align(nevents, 4)?;

    // The ranges are inside guest memory, so these allocations are bounded by its size.
    let in_bytes = mem.get(in_range).ok_or(Errno::FAULT)?;
    let mut subs = std::mem::take(&mut ctx.poll.subs_buf);
    subs.clear();
    for chunk in in_bytes.chunks_exact(Subscription::SIZE) {
        subs.push(Subscription::decode(chunk)?);
    }

    let span = tracing::trace_span!(
        "poll_oneoff",
        timeout_ms = timeout_ms(&subs),
        fd_guards = subs
            .iter()
            .filter(|s| !matches!(s.kind, SubscriptionKind::Clock(_)))
            .count(),
        seen = tracing::field::Empty,
    );
    let _enter = span.enter();

    // One slot per subscription; only the first `seen` are ever read, so the buffer (kept
    // between calls) is grown when needed but never cleared or zero-filled.
    let mut events = std::mem::take(&mut ctx.poll.events_buf);
    if events.len() < subs.len() {
        events.resize(
            subs.len(),
            Event {
                userdata: 0,
                error: Errno::SUCCESS,
                type_: 0,
                fd_readwrite: Default::default(),
            },
        );
    }
    let events_len = subs.len();
    let seen = ctx
        .wait_subscriptions(&subs, &mut events[..events_len])
        .min(events_len);
    span.record("seen", seen);

    // Fairness: rotate by the poll seed, which advances every call, so no subscription is
    // always reported first.
    let seed = ctx.next_poll_seed();
    if seen > 1 {
        events[..seen].rotate_left((seed % seen as u64) as usize);
    }

    let out_bytes = mem.get_mut(out_range).ok_or(Errno::FAULT)?;
    for (ev, chunk) in events[..seen]
        .iter()
        .zip(out_bytes.chunks_exact_mut(Event::SIZE))
    {
        let slot: &mut [u8; Event::SIZE] = chunk.try_into().map_err(|_| Errno::FAULT)?;
        ev.encode(slot);
    }
    ctx.poll.subs_buf = subs;
    ctx.poll.events_buf = events;
    abi::write_u32(mem, nevents, seen as u32)
}

/// The shortest clock timeout in ms (relative to now), or -1 without clocks; for tracing only.
fn timeout_ms(subs: &[Subscription]) -> i64 {
    subs.iter()
        .filter_map(|s| match s.kind {
            SubscriptionKind::Clock(c) => {
                let rel = if c.is_absolute() {
                    c.timeout.saturating_sub(now_ns(c.id).unwrap_or(0))
                } else {
                    c.timeout
                };
                Some(i64::try_from(rel / 1_000_000).unwrap_or(i64::MAX))
            }
            _ => None,
        })
        .min()
        .unwrap_or(-1)
}

/// A clock subscription being waited on: its index, its clock, its absolute deadline on that
/// clock, and its precision (used as slack).
struct ClockWait {
    index: usize,
    id: u32,
    deadline: u64,
    precision: u64,
}

/// An fd subscription being waited on.
struct FdWait {
    index: usize,
    guest_fd: u32,
    write: bool,
}

/// The one place the host registers a descriptor with the engine.
///
/// # Safety
///
/// The set keeps the descriptor's number: the entry must be removed (or the set dropped) before
/// the descriptor is closed. For guest fds [`PollState::forget`] does that, and
/// [`WasiCtx::close`] (the only way a guest fd is closed) calls it first.
unsafe fn engine_add(
    set: &WaitSet,
    cookie: u64,
    fd: BorrowedFd<'_>,
    signals: Signals,
) -> Result<(), waitset::Error> {
    // SAFETY: the caller upholds `Source::fd`'s contract (see above).
    unsafe { set.add(cookie, Source::fd(&fd), signals) }
}

/// `precision` is slack, but at most this fraction of the time left (1/16)...
pub const SLACK_FRACTION: u64 = 16;
/// ... and never more than this many ns (5 ms), so a huge `precision` (even `u64::MAX`) delays a
/// clock by at most 5 ms and a finite clock never becomes an infinite wait.
pub const SLACK_MAX_NS: u64 = 5_000_000;

/// The slack allowed after a clock whose deadline is `left` ns away and that asked for
/// `precision`: `min(precision, left / 16, 5 ms)`.
pub fn clock_slack(left: u64, precision: u64) -> u64 {
    precision.min(left / SLACK_FRACTION).min(SLACK_MAX_NS)
}

/// Longest single sleep when a REALTIME clock is pending, so a change of the wall clock is
/// noticed within this many ns.
const REALTIME_RECHECK_NS: u64 = 1_000_000_000;

/// A kernel pass of the engine returns at most this many reports (its stack buffer); a wait that
/// filled a pass may have left ready fds for the next one.
const MAX_PASS: usize = waitset::KERNEL_BATCH;

/// The cookie of the interrupt latch's fd in the poll set (guest fds are `u32`).
const INTERRUPT_COOKIE: u64 = u64::MAX;

/// The kernel interest a guest's `poll_oneoff` calls keep between calls.
///
/// One persistent [`WaitSet`] per guest, one entry per guest fd (cookie = the guest fd number),
/// watching the union of what the current call subscribes on that fd. An fd polled the same way
/// as last time costs nothing; a changed one costs one `modify`; an fd no longer polled is
/// disabled (removed from the kernel) once, before the next wait, so that a ready fd nobody asked
/// for never takes the place of one that was asked for. A loop of polls over the same fds makes
/// no registration syscall at all, and a clocks-only call makes no syscall.
/// [`PollState::forget`] drops an fd's entry before the host closes it.
#[derive(Default)]
pub struct PollState {
    set: Option<WaitSet>,
    regs: RegMap,
    subs_buf: Vec<Subscription>,
    events_buf: Vec<Event>,
    clocks_buf: Vec<ClockWait>,
    fdw_buf: Vec<FdWait>,
    /// Bumped every call; marks which entries the current call uses.
    stamp: u64,
    results: Vec<WaitResult>,
    interrupt_added: bool,
    /// Registration changes made so far (adds, modifies, disables): kernel work that depends on
    /// what changed, not on how many fds are polled.
    changes: u64,
    /// Entries whose watched signals are non-empty (enabled in the set).
    enabled: usize,
    /// Distinct fds the current call registered (all enabled).
    distinct: usize,
}

impl std::fmt::Debug for PollState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollState")
            .field("registered_fds", &self.regs.len())
            .finish()
    }
}

struct Reg {
    /// The host fd number the entry was registered with.
    host: RawFd,
    /// What the set's entry watches now.
    watched: Signals,
    /// What the current call wants (valid when `stamp` is current).
    want: Signals,
    stamp: u64,
    /// The result of the current call's wait for this fd (valid when `hit` is current).
    observed: Signals,
    status: Status,
    hit: u64,
    /// The call (stamp) whose sync this entry has had: one sync per distinct fd per call.
    synced: u64,
}

impl Reg {
    fn new() -> Reg {
        Reg {
            host: -1,
            watched: Signals::empty(),
            want: Signals::empty(),
            stamp: 0,
            observed: Signals::empty(),
            status: Status::Satisfied,
            hit: 0,
            synced: 0,
        }
    }
}

impl PollState {
    /// How many registration changes (add, modify, disable) `poll_oneoff` has made: a guest that
    /// polls the same fds the same way in a loop makes none after the first call.
    pub fn registration_changes(&self) -> u64 {
        self.changes
    }

    /// How many guest fds have an entry in the poll set.
    pub fn registered_fds(&self) -> usize {
        self.regs.len()
    }

    /// Drop the kernel interest in `guest_fd` (call before the host closes it).
    pub fn forget(&mut self, guest_fd: u32) {
        if let Some(r) = self.regs.remove(&guest_fd) {
            if !r.watched.is_empty() {
                self.enabled -= 1;
            }
            if let Some(set) = &self.set {
                let _ = set.remove(u64::from(guest_fd));
            }
        }
    }

    fn set(&mut self) -> Result<&WaitSet, Errno> {
        if self.set.is_none() {
            self.set = Some(WaitSet::new().map_err(|_| Errno::NOMEM)?);
        }
        self.set.as_ref().ok_or(Errno::NOMEM)
    }

    /// Bring the set's entry for `guest_fd` to what this call wants.
    fn sync(&mut self, guest_fd: u32, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        let want = self
            .regs
            .get(&guest_fd)
            .map_or(Signals::empty(), |r| r.want);
        let host = fd.as_raw_fd();
        let (in_set, same_fd, watched) = match self.regs.get(&guest_fd) {
            Some(r) => (r.host >= 0, r.host == host, r.watched),
            None => (false, false, Signals::empty()),
        };
        if in_set && same_fd && watched == want {
            return Ok(());
        }
        let set = self.set()?.clone();
        let cookie = u64::from(guest_fd);
        let res = if in_set && same_fd {
            set.modify(cookie, want)
        } else {
            if set.contains(cookie) {
                let _ = set.remove(cookie);
            }
            // SAFETY: `fd` belongs to an entry of the guest's fd table; `WasiCtx::close` (the
            // only way a guest fd is closed) removes the engine entry (`forget`) first.
            unsafe { engine_add(&set, cookie, fd, want) }
        };
        self.changes += 1;
        let r = self.regs.get_mut(&guest_fd).ok_or(Errno::IO)?;
        match res {
            Ok(()) => {
                r.host = host;
                match (r.watched.is_empty(), want.is_empty()) {
                    (true, false) => self.enabled += 1,
                    (false, true) => self.enabled -= 1,
                    _ => {}
                }
                r.watched = want;
                Ok(())
            }
            Err(waitset::Error::BadHandle) => Err(Errno::BADF),
            Err(waitset::Error::AccessDenied(_)) => Err(Errno::NOTCAPABLE),
            Err(_) => Err(Errno::IO),
        }
    }

    /// Disable entries the current call does not use, if there are any: an enabled entry that
    /// is ready but not asked for could otherwise take the place of one that is asked for.
    /// Free when the call polls the same fds as the last one (nothing to disable).
    fn disable_stale(&mut self) {
        if self.enabled <= self.distinct {
            return;
        }
        let Some(set) = &self.set else { return };
        for (guest_fd, r) in self.regs.iter_mut() {
            if r.stamp != self.stamp && !r.watched.is_empty() {
                if set.modify(u64::from(guest_fd), Signals::empty()).is_ok() {
                    r.watched = Signals::empty();
                    self.enabled -= 1;
                }
                self.changes += 1;
            }
        }
    }
}

impl WasiCtx {
    /// Waits until at least one subscription has an event and fills `out[..n]`, returning `n`.
    ///
    /// `out` has one slot per subscription. Per-subscription problems are events, reported at
    /// once: an fd not in the table is BADF, an fd without the right is NOTCAPABLE, a CPU-time
    /// clock is NOTSUP, an unknown clock id or clock flag is INVAL. When any event is due, fds
    /// and clocks are checked in the same pass (timeout 0), and no clock is reported before its
    /// deadline on the clock it names. Regular files, `/dev/null` and the like are always ready.
    /// The wait itself is one [`WaitSet::wait`] on the guest's persistent set (see
    /// [`PollState`]); it also watches the [`Interrupt`](crate::Interrupt) latch, and returns 0
    /// events when the latch is raised (the caller ends the run).
    pub fn wait_subscriptions(&mut self, subs: &[Subscription], out: &mut [Event]) -> usize {
        let mut clocks = std::mem::take(&mut self.poll.clocks_buf);
        let mut fd_waits = std::mem::take(&mut self.poll.fdw_buf);
        clocks.clear();
        fd_waits.clear();
        let n = self.wait_subscriptions_in(subs, out, &mut clocks, &mut fd_waits);
        self.poll.clocks_buf = clocks;
        self.poll.fdw_buf = fd_waits;
        n
    }

    fn wait_subscriptions_in(
        &mut self,
        subs: &[Subscription],
        out: &mut [Event],
        clocks: &mut Vec<ClockWait>,
        fd_waits: &mut Vec<FdWait>,
    ) -> usize {
        let mut n = 0usize;
        let push = |out: &mut [Event], n: &mut usize, ev: Event| {
            if let Some(slot) = out.get_mut(*n) {
                *slot = ev;
                *n += 1;
            }
        };
        self.poll.stamp = self.poll.stamp.wrapping_add(1);
        self.poll.distinct = 0;
        let stamp = self.poll.stamp;

        for (index, sub) in subs.iter().enumerate() {
            match sub.kind {
                SubscriptionKind::Clock(c) => {
                    if c.flags & !subclockflags::ALL != 0 {
                        push(out, &mut n, Event::error(sub, Errno::INVAL));
                        continue;
                    }
                    match c.id {
                        clockid::REALTIME | clockid::MONOTONIC => {
                            let deadline = if c.is_absolute() {
                                c.timeout
                            } else if c.timeout == 0 {
                                0 // due now: no clock read needed (0 is always in the past)
                            } else {
                                now_ns(c.id).unwrap_or(0).saturating_add(c.timeout)
                            };
                            clocks.push(ClockWait {
                                index,
                                id: c.id,
                                deadline,
                                precision: c.precision,
                            });
                        }
                        clockid::PROCESS_CPUTIME_ID | clockid::THREAD_CPUTIME_ID => {
                            push(out, &mut n, Event::error(sub, Errno::NOTSUP))
                        }
                        _ => push(out, &mut n, Event::error(sub, Errno::INVAL)),
                    }
                }
                SubscriptionKind::FdRead(f) | SubscriptionKind::FdWrite(f) => {
                    let write = matches!(sub.kind, SubscriptionKind::FdWrite(_));
                    let entry = match self.fds.get(f.fd) {
                        Ok(e) => e,
                        Err(e) => {
                            push(out, &mut n, Event::error(sub, e));
                            continue;
                        }
                    };
                    let need = Rights::POLL_FD_READWRITE
                        | if write {
                            Rights::FD_WRITE
                        } else {
                            Rights::FD_READ
                        };
                    if !entry.rights_base().contains(need) {
                        push(out, &mut n, Event::error(sub, Errno::NOTCAPABLE));
                        continue;
                    }
                    let sig = if write {
                        Signals::WRITABLE
                    } else {
                        Signals::READABLE
                    };
                    let r = self.poll.regs.or_insert(f.fd, Reg::new);
                    if r.stamp != stamp {
                        r.stamp = stamp;
                        r.want = Signals::empty();
                    }
                    r.want |= sig;
                    fd_waits.push(FdWait {
                        index,
                        guest_fd: f.fd,
                        write,
                    });
                }
            }
        }

        // Register what changed; an fd the set refuses becomes an error event.
        let mut i = 0;
        while i < fd_waits.len() {
            let fw = &fd_waits[i];
            if self
                .poll
                .regs
                .get(&fw.guest_fd)
                .is_some_and(|r| r.synced == stamp)
            {
                i += 1;
                continue;
            }
            let res = match self.fds.get(fw.guest_fd) {
                Ok(entry) => self.poll.sync(fw.guest_fd, entry.as_fd()),
                Err(e) => Err(e),
            };
            if res.is_ok() {
                if let Some(r) = self.poll.regs.get_mut(&fw.guest_fd) {
                    r.synced = stamp;
                    self.poll.distinct += 1;
                }
            }
            if let Err(e) = res {
                let gfd = fw.guest_fd;
                // Every subscription on this fd fails the same way.
                fd_waits.retain(|w| {
                    if w.guest_fd == gfd {
                        push(out, &mut n, Event::error(&subs[w.index], e));
                        false
                    } else {
                        true
                    }
                });
                self.poll.forget(gfd);
                continue;
            }
            i += 1;
        }

        if fd_waits.is_empty() && clocks.is_empty() {
            return n;
        }
        loop {
            // Block only when nothing is due yet; otherwise check the fds without blocking.
            let wait_until = if n > 0 { None } else { clocks_deadline(clocks) };
            if !fd_waits.is_empty() || wait_until.is_some() {
                let hits = match self.wait_fds(wait_until, stamp) {
                    Ok(k) => k,
                    Err(_) => {
                        for fw in fd_waits.iter() {
                            push(out, &mut n, Event::error(&subs[fw.index], Errno::IO));
                        }
                        return n;
                    }
                };
                if self
                    .interrupt
                    .as_ref()
                    .is_some_and(|i| i.pending().is_some())
                {
                    return n; // the caller sees the latch and ends the run
                }
                // With nothing reported there is no fd to look at.
                let reported = if hits > 0 { &fd_waits[..] } else { &[][..] };
                for fw in reported {
                    let Some(reg) = self.poll.regs.get(&fw.guest_fd) else {
                        continue;
                    };
                    if reg.hit != stamp {
                        continue;
                    }
                    let Ok(entry) = self.fds.get(fw.guest_fd) else {
                        continue;
                    };
                    if let Some(ev) =
                        fd_event(&subs[fw.index], fw.write, reg.observed, reg.status, entry)
                    {
                        push(out, &mut n, ev);
                    }
                }
            }
            report_clocks(subs, clocks, out, &mut n);
            if n > 0 {
                return n;
            }
        }
    }

    /// Blocks until guest fd `fd` is ready for reading (or writing, with `write`), waiting on
    /// the guest's own [`WaitSet`] together with the interrupt latch: the one wait every
    /// blocking host call (`fd_read`, `fd_write`, `sock_*`, `fd_pread`, ...) goes through.
    /// [`Errno::INTR`] when the latch is raised (the adapter then ends the run). Whatever the
    /// engine reports for the fd (ready, hang-up, error) ends the wait: the operation itself
    /// then tells the guest what happened.
    pub(crate) fn block_until_ready(&mut self, fd: u32, write: bool) -> Result<(), Errno> {
        let sig = if write {
            Signals::WRITABLE
        } else {
            Signals::READABLE
        };
        loop {
            if self.interrupted().is_some() {
                return Err(Errno::INTR);
            }
            self.poll.stamp = self.poll.stamp.wrapping_add(1);
            let stamp = self.poll.stamp;
            let r = self.poll.regs.or_insert(fd, Reg::new);
            r.stamp = stamp;
            r.want = sig;
            let entry = self.fds.get(fd)?;
            if let Err(e) = self.poll.sync(fd, entry.as_fd()) {
                self.poll.forget(fd);
                return Err(e);
            }
            if let Some(r) = self.poll.regs.get_mut(&fd) {
                r.synced = stamp;
            }
            self.poll.distinct = 1;
            self.wait_fds(Some(Deadline::INFINITE), stamp)?;
            if self.interrupted().is_some() {
                return Err(Errno::INTR);
            }
            if self.poll.regs.get(&fd).is_some_and(|r| r.hit == stamp) {
                return Ok(());
            }
        }
    }

    /// One wait on the guest's set: until `until` (`None`: do not block), recording each
    /// reported fd's signals in its `Reg` under `stamp`.
    fn wait_fds(&mut self, until: Option<Deadline>, stamp: u64) -> Result<usize, Errno> {
        self.poll.disable_stale();
        if !self.poll.interrupt_added {
            if let Some(int) = self.interrupt.clone() {
                let set = self.poll.set()?;
                // SAFETY: the interrupt's descriptor lives as long as `self.interrupt`, which this
                // context keeps for as long as its wait set (dropped first: field order).
                self.poll.interrupt_added =
                    unsafe { engine_add(set, INTERRUPT_COOKIE, int.fd(), Signals::READABLE) }
                        .is_ok();
            }
        }
        self.poll.set()?;
        let distinct = self.poll.distinct;
        let cap = distinct + 1;
        let PollState {
            set, results, regs, ..
        } = &mut self.poll;
        if results.len() < cap {
            results.resize(cap, WaitResult::default());
        }
        let set = set.as_ref().ok_or(Errno::NOMEM)?;
        // One kernel pass may return fewer than every ready fd (the engine takes a bounded
        // batch per pass). Further passes never block; epoll's level-triggered rotation hands
        // out the next batch each time, so a pass that brings no new fd means all were seen.
        let mut deadline = until.unwrap_or_else(Deadline::now);
        let mut hits = 0;
        loop {
            let k = match set.wait(deadline, &mut results[..cap]) {
                Ok(k) => k,
                Err(waitset::Error::TimedOut) => return Ok(hits),
                Err(_) => return Err(Errno::IO),
            };
            let mut new = 0;
            for r in &results[..k] {
                if r.cookie == INTERRUPT_COOKIE {
                    return Ok(hits);
                }
                if let Some(reg) = u32::try_from(r.cookie)
                    .ok()
                    .and_then(|fd| regs.get_mut(&fd))
                {
                    if reg.hit != stamp {
                        new += 1;
                    }
                    reg.observed = r.observed;
                    reg.status = r.status;
                    reg.hit = stamp;
                }
            }
            hits += new;
            if k < cap.min(MAX_PASS) || new == 0 || hits >= distinct {
                return Ok(hits);
            }
            deadline = Deadline::now();
        }
    }
}

/// The monotonic deadline to wait until for `clocks`: the earliest deadline plus its slack
/// ([`clock_slack`]: nearby wake-ups may coalesce; no clock is ever reported before its own
/// deadline), or
/// `None` when one is already due. A REALTIME deadline is re-checked at least every second so a
/// wall-clock change is noticed. Without clocks: [`Deadline::INFINITE`].
fn clocks_deadline(clocks: &[ClockWait]) -> Option<Deadline> {
    if clocks.iter().any(|c| c.deadline == 0) {
        return None;
    }
    let mono_now = now_ns(clockid::MONOTONIC).unwrap_or(0);
    let mut until = u64::MAX;
    for c in clocks {
        let now = if c.id == clockid::MONOTONIC {
            mono_now
        } else {
            now_ns(c.id).unwrap_or(u64::MAX)
        };
        if now >= c.deadline {
            return None;
        }
        let left = c.deadline - now;
        let mut left = left.saturating_add(clock_slack(left, c.precision));
        if c.id == clockid::REALTIME {
            left = left.min(REALTIME_RECHECK_NS);
        }
        until = until.min(mono_now.saturating_add(left));
    }
    Some(if until == u64::MAX {
        Deadline::INFINITE
    } else {
        Deadline::from_monotonic_nanos(until)
    })
}

/// Push an event for every clock whose deadline has passed on its own clock.
fn report_clocks(subs: &[Subscription], clocks: &[ClockWait], out: &mut [Event], n: &mut usize) {
    for c in clocks {
        if c.deadline == 0 || now_ns(c.id).unwrap_or(0) >= c.deadline {
            if let Some(slot) = out.get_mut(*n) {
                *slot = Event::for_subscription(&subs[c.index]);
                *n += 1;
            }
        }
    }
}

/// The event for an fd subscription given what the set observed, or `None` if this direction
/// is not ready.
fn fd_event(
    sub: &Subscription,
    write: bool,
    observed: Signals,
    status: Status,
    entry: &FdEntry,
) -> Option<Event> {
    let mut ev = Event::for_subscription(sub);
    let hangup = observed.intersects(Signals::PEER_CLOSED);
    if write {
        if observed.contains(Signals::WRITABLE) {
            ev.fd_readwrite.nbytes = write_nbytes(entry.as_fd(), entry.kind());
            if hangup {
                ev.fd_readwrite.flags |= eventrwflags::FD_READWRITE_HANGUP;
            }
            return Some(ev);
        }
        // Nothing can ever be written: the peer or the reader is gone.
        if status == Status::Unsatisfiable || hangup || observed.contains(Signals::ERROR) {
            ev.fd_readwrite.flags |= eventrwflags::FD_READWRITE_HANGUP;
            return Some(ev);
        }
        return None;
    }
    if !observed.intersects(Signals::READABLE | Signals::PEER_CLOSED | Signals::ERROR) {
        return None;
    }
    if hangup {
        ev.fd_readwrite.flags |= eventrwflags::FD_READWRITE_HANGUP;
    }
    ev.fd_readwrite.nbytes = read_nbytes(entry.as_fd(), entry.kind());
    Some(ev)
}

/// Bytes that can be read without blocking: what is left of a regular file, the kernel's
/// FIONREAD for pipes, sockets and ttys, 0 when the kernel cannot tell.
pub fn read_nbytes(fd: BorrowedFd<'_>, kind: FileKind) -> u64 {
    match kind {
        FileKind::RegularFile => {
            let size = rustix::fs::fstat(fd)
                .ok()
                .and_then(|st| u64::try_from(st.st_size).ok())
                .unwrap_or(0);
            let pos = rustix::fs::seek(fd, rustix::fs::SeekFrom::Current(0)).unwrap_or(size);
            size.saturating_sub(pos)
        }
        FileKind::CharDevice | FileKind::BlockDevice => 0,
        _ => rustix::io::ioctl_fionread(fd).unwrap_or(0),
    }
}

/// Bytes that can be written without blocking where the kernel tells it: free space in a pipe,
/// free space in a socket's send buffer (SO_SNDBUF minus what is queued). 0 otherwise.
pub fn write_nbytes(fd: BorrowedFd<'_>, kind: FileKind) -> u64 {
    match kind {
        FileKind::Pipe => {
            let size = rustix::pipe::fcntl_getpipe_size(fd).unwrap_or(0) as u64;
            let queued = rustix::io::ioctl_fionread(fd).unwrap_or(0);
            size.saturating_sub(queued)
        }
        FileKind::SocketStream | FileKind::SocketDgram => {
            let size = rustix::net::sockopt::socket_send_buffer_size(fd).unwrap_or(0) as u64;
            size.saturating_sub(socket_outq(fd))
        }
        _ => 0,
    }
}

/// Bytes queued in a socket's send buffer (Linux `SIOCOUTQ`); 0 where unknown.
fn socket_outq(fd: BorrowedFd<'_>) -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut queued: libc::c_int = 0;
        // SAFETY: SIOCOUTQ (== TIOCOUTQ) writes one int through the valid pointer; the fd is
        // borrowed and open for the duration of the call.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
        if r == 0 {
            return u64::try_from(queued).unwrap_or(0);
        }
    }
    let _ = fd;
    0
}
