//! The registry of a wait set: the entry slab, the cookie map, and the descriptor registrations
//! shared by the entries on one descriptor — the one place that knows what is registered in the
//! kernel and brings it in line with what the entries want ([`Registry::sync_fd`]).

use std::collections::HashMap;
use std::os::fd::{BorrowedFd, RawFd};

use rustix::io::Errno;

use super::ready::Link;
use super::Delivery;
use crate::fdrules::{self, Bits, FileId};
use crate::source::handle::HandleCore;
use crate::source::{event::EventCore, timer::TimerCore};
use crate::sync::Arc;
use crate::sys::{AddError, Backend, Sys, Trigger};
use crate::timer_wheel::TimerKey;
use crate::Signals;

/// "No index": the end of an intrusive list.
pub(super) const NIL: u32 = u32::MAX;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// What an entry waits on.
pub(super) enum Kind {
    Free,
    /// A descriptor registered by number (`Source::fd`); `reg` is `NIL` once the entry has left
    /// its registration (its descriptor was found closed).
    Fd {
        reg: u32,
    },
    /// A [`Handle`](crate::Handle)'s descriptor; `reg` is `NIL` once the handle was closed.
    Handle {
        reg: u32,
        core: Arc<HandleCore>,
    },
    Event(Arc<EventCore>),
    Timer {
        core: Arc<TimerCore>,
        key: Option<TimerKey>,
    },
}

/// One entry of a set.
pub(super) struct Entry {
    pub cookie: u64,
    pub gen: u32,
    pub kind: Kind,
    pub watched: Signals,
    pub trigger: Trigger,
    /// False once a one-shot entry fired or an unsatisfiable entry was reported, until
    /// `modify` re-arms it.
    pub armed: bool,
    /// Exclusive delivery: handed to a waiter that has not released it yet.
    pub held: bool,
    /// Bumped on every hand-out and every `modify`, so a stale release is ignored.
    pub hold_seq: u32,
    /// The handle was closed: report `Canceled` once, then remove.
    pub canceled: bool,
    /// The descriptor was found closed (registered by number, closed without `remove`):
    /// report `Unsatisfiable` with `ERROR`.
    pub fd_gone: bool,
    /// Descriptors: the kernel's bits — of the last report (level), or accumulated since the
    /// entry was last reported (edge, one-shot, or while held).
    pub kernel_bits: Bits,
    /// Descriptors, level-triggered: the kernel wait that last reported the entry.
    pub seen_epoch: u64,
    /// Edge-triggered events: the watched signals that rose since the entry was last reported.
    pub risen: Signals,
    /// Next entry on the same descriptor registration.
    pub next_on_reg: u32,
    /// The entry's place in the ready ring.
    pub link: Link,
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
            held: false,
            hold_seq: 0,
            canceled: false,
            fd_gone: false,
            kernel_bits: 0,
            seen_epoch: 0,
            risen: Signals::empty(),
            next_on_reg: NIL,
            link: Link::default(),
        }
    }

    /// An edge-triggered user source is (re-)armed (added, modified): its state now counts as
    /// a rise, like epoll's `EPOLLET` registration.
    pub fn arm_edge(&mut self, now: u64) {
        if self.trigger != Trigger::Edge {
            return;
        }
        self.risen = match &self.kind {
            Kind::Event(ev) => ev.signals() & self.watched,
            Kind::Timer { core, .. } if core.fired_at(now) => Signals::TIMER & self.watched,
            _ => Signals::empty(),
        };
    }

    /// The descriptor registration, if the entry is on one.
    #[inline]
    pub fn reg(&self) -> Option<u32> {
        match self.kind {
            Kind::Fd { reg } | Kind::Handle { reg, .. } if reg != NIL => Some(reg),
            _ => None,
        }
    }

    /// Whether the entry contributes to its registration's kernel interest: armed, alive, and
    /// not handed out — except that an edge-triggered entry keeps collecting edges while held.
    #[inline]
    pub fn wants_kernel(&self) -> bool {
        self.armed
            && !self.canceled
            && !self.fd_gone
            && (!self.held || self.trigger == Trigger::Edge)
    }
}

/// One descriptor as registered with the backend, shared by every entry on it.
pub(super) struct FdReg {
    pub fd: RawFd,
    /// The generation of the registration's token: bumped by every registration with the
    /// kernel and when the registration is freed, so stale reports are recognised.
    pub gen: u32,
    /// First entry on this registration (linked through `Entry::next_on_reg`).
    pub head: u32,
    /// The kernel refused to watch the descriptor: it is always ready (the one rule, see
    /// [`fdrules`]).
    pub refused: bool,
    /// The signals the descriptor's access mode allows.
    pub possible: Signals,
    /// The identity of the descriptor's file, recorded whenever the kernel cannot vouch for the
    /// number (refused, or not registered at the moment), to detect a reused number.
    pub file: Option<FileId>,
    pub in_kernel: bool,
    pub kernel_interest: Bits,
    pub kernel_mode: Trigger,
    /// False after a one-shot registration fired, until re-armed.
    pub kernel_armed: bool,
}

/// Why the kernel registration could not be brought in line.
#[derive(Debug)]
pub(super) enum SyncError {
    /// The descriptor was closed (its number may name another file now): the registration is
    /// gone, and its entries must leave it.
    Gone,
    /// The kernel refuses to watch this kind of file.
    Refused,
    Sys(Errno),
}

/// The entry slab, cookies and descriptor registrations.
#[derive(Default)]
pub(super) struct Registry {
    pub entries: Vec<Entry>,
    free: Vec<u32>,
    cookies: FastMap<u64, u32>,
    pub regs: Vec<FdReg>,
    free_regs: Vec<u32>,
    by_fd: FdIndex,
}

/// Registration by descriptor number: a dense table for the small numbers descriptors are
/// (an index, no hashing), a map for numbers past it.
#[derive(Default)]
struct FdIndex {
    dense: Vec<u32>,
    sparse: FastMap<RawFd, u32>,
}

/// Numbers below this are kept in the dense table (4 bytes each at most).
const DENSE_FDS: usize = 1 << 16;

impl FdIndex {
    #[inline]
    fn get(&self, fd: RawFd) -> Option<u32> {
        match usize::try_from(fd) {
            Ok(i) if i < DENSE_FDS => self.dense.get(i).copied().filter(|&r| r != NIL),
            _ => self.sparse.get(&fd).copied(),
        }
    }

    #[inline]
    fn insert(&mut self, fd: RawFd, reg: u32) {
        match usize::try_from(fd) {
            Ok(i) if i < DENSE_FDS => {
                if i >= self.dense.len() {
                    self.dense
                        .resize((i + 1).next_power_of_two().min(DENSE_FDS), NIL);
                }
                self.dense[i] = reg;
            }
            _ => {
                self.sparse.insert(fd, reg);
            }
        }
    }

    /// Forget `fd` if it maps to `reg`.
    #[inline]
    fn remove(&mut self, fd: RawFd, reg: u32) {
        match usize::try_from(fd) {
            Ok(i) if i < DENSE_FDS => {
                if self.dense.get(i) == Some(&reg) {
                    self.dense[i] = NIL;
                }
            }
            _ => {
                if self.sparse.get(&fd) == Some(&reg) {
                    self.sparse.remove(&fd);
                }
            }
        }
    }
}

/// What an edge-triggered registration watches (see [`Registry::sync_fd`]).
const EDGE_INTEREST: Bits = fdrules::IN | fdrules::OUT | fdrules::PRI | fdrules::RDHUP;

/// The backend token of registration `reg` with generation `gen`.
#[inline]
pub(super) fn token(reg: u32, gen: u32) -> u64 {
    (u64::from(gen) << 32) | u64::from(reg)
}

/// The registration and generation a token names.
#[inline]
pub(super) fn split_token(token: u64) -> (u32, u32) {
    (token as u32, (token >> 32) as u32)
}

/// The descriptor of a registration, for one backend call.
///
/// # Safety
///
/// `fd` must be the number of a registration that is still in the registry. Such a number is
/// open: descriptors registered through [`Source::fd`](crate::Source::fd) stay open until their
/// entries are removed (the contract of that `unsafe fn`), and a [`Handle`](crate::Handle)'s
/// entries leave their registration before the handle closes its descriptor.
#[inline]
pub(super) unsafe fn registered_fd<'a>(fd: RawFd) -> BorrowedFd<'a> {
    // SAFETY: the caller upholds the contract above; the borrow is used for one syscall.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

impl Registry {
    pub fn reserve(&mut self, n: usize) {
        self.entries.reserve(n);
        self.cookies.reserve(n);
    }

    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    pub fn lookup(&self, cookie: u64) -> Option<u32> {
        self.cookies.get(&cookie).copied()
    }

    /// The live entry `idx` of generation `gen`.
    #[inline]
    pub fn entry_mut(&mut self, idx: u32, gen: u32) -> Option<&mut Entry> {
        self.entries
            .get_mut(idx as usize)
            .filter(|e| e.gen == gen && !matches!(e.kind, Kind::Free))
    }

    /// Create an entry (the caller has checked the cookie is free); returns (index, generation).
    pub fn insert(
        &mut self,
        cookie: u64,
        kind: Kind,
        watched: Signals,
        trigger: Trigger,
    ) -> (u32, u32) {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.entries.push(Entry::free(0));
                (self.entries.len() - 1) as u32
            }
        };
        let e = &mut self.entries[idx as usize];
        e.cookie = cookie;
        e.kind = kind;
        e.watched = watched;
        e.trigger = trigger;
        e.armed = true;
        self.cookies.insert(cookie, idx);
        (idx, e.gen)
    }

    pub fn contains(&self, cookie: u64) -> bool {
        self.cookies.contains_key(&cookie)
    }

    /// Free entry `idx` (already off its registration, the ring and the timer wheel) and return
    /// what it waited on, for the caller to release outside the set's lock.
    pub fn free_entry(&mut self, idx: u32) -> Kind {
        let e = &mut self.entries[idx as usize];
        let kind = std::mem::replace(&mut e.kind, Kind::Free);
        if let Some(other) = self.cookies.remove(&e.cookie) {
            if other != idx {
                self.cookies.insert(e.cookie, other); // not this entry's (never happens)
            }
        }
        let gen = e.gen.wrapping_add(1);
        *e = Entry::free(gen);
        self.free.push(idx);
        kind
    }

    /// The registration of `fd`, if any.
    pub fn reg_of(&self, fd: RawFd) -> Option<u32> {
        self.by_fd.get(fd)
    }

    /// A new registration of `fd`, not yet known to the kernel.
    pub fn new_reg(&mut self, fd: RawFd, possible: Signals) -> u32 {
        let fresh = |gen| FdReg {
            fd,
            gen,
            head: NIL,
            refused: false,
            possible,
            file: None,
            in_kernel: false,
            kernel_interest: 0,
            kernel_mode: Trigger::Level,
            kernel_armed: false,
        };
        let r = match self.free_regs.pop() {
            Some(r) => {
                let gen = self.regs[r as usize].gen;
                self.regs[r as usize] = fresh(gen);
                r
            }
            None => {
                self.regs.push(fresh(0));
                (self.regs.len() - 1) as u32
            }
        };
        self.by_fd.insert(fd, r);
        r
    }

    /// Put entry `idx` on registration `reg`.
    pub fn join_reg(&mut self, reg: u32, idx: u32) {
        let head = self.regs[reg as usize].head;
        self.entries[idx as usize].next_on_reg = head;
        self.regs[reg as usize].head = idx;
    }

    /// Take entry `idx` off registration `reg`; returns whether the registration is now empty.
    pub fn unlink_from_reg(&mut self, reg: u32, idx: u32) -> bool {
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
        self.regs[reg as usize].head == NIL
    }

    /// Forget an empty registration, removing it from the kernel while its descriptor is open.
    pub fn drop_reg(&mut self, sys: &Sys, reg: u32) {
        let r = &mut self.regs[reg as usize];
        debug_assert_eq!(r.head, NIL);
        if r.in_kernel {
            // SAFETY: the registration is still in the registry (freed just below).
            let _ = sys.delete(unsafe { registered_fd(r.fd) });
        }
        r.in_kernel = false;
        r.gen = r.gen.wrapping_add(1);
        let fd = r.fd;
        self.by_fd.remove(fd, reg);
        self.free_regs.push(reg);
    }

    /// Whether an edge-triggered entry joining (or re-armed on) `reg` must take its arming
    /// edge from the descriptor's state now, because the registration is already armed for
    /// other entries and will not be re-stated to the kernel (see [`Registry::sync_fd`]).
    pub fn edge_already_armed(&self, reg: u32, except: u32) -> bool {
        let r = &self.regs[reg as usize];
        if !r.in_kernel || r.kernel_mode != Trigger::Edge || r.kernel_interest == 0 {
            return false;
        }
        let mut cur = r.head;
        while cur != NIL {
            let e = &self.entries[cur as usize];
            if cur != except && e.wants_kernel() {
                return true;
            }
            cur = e.next_on_reg;
        }
        false
    }

    /// Take an edge-triggered entry's arming edge from its descriptor's state now.
    pub fn arm_edge_now(&mut self, reg: u32, idx: u32) {
        let fd = self.regs[reg as usize].fd;
        let e = &mut self.entries[idx as usize];
        // SAFETY: `reg` is a registration of the registry.
        e.kernel_bits =
            fdrules::bits_now(unsafe { registered_fd(fd) }, fdrules::interest(e.watched));
    }

    /// The kernel refused to watch the descriptor of `reg`: from now on it is always ready
    /// (the one rule, see [`fdrules`]); its file's identity tells a reused number later.
    pub fn mark_refused(&mut self, reg: u32) {
        let r = &mut self.regs[reg as usize];
        r.refused = true;
        // SAFETY: `reg` is a registration of the registry.
        r.file = FileId::of(unsafe { registered_fd(r.fd) });
    }

    /// The kernel mode for a registration whose entries use `trigger`.
    #[inline]
    pub fn kernel_mode(delivery: Delivery, trigger: Trigger) -> Trigger {
        match (delivery, trigger) {
            // Exclusive delivery hands a level-triggered entry to one waiter, so the kernel must
            // stop reporting it until the entry is released.
            (Delivery::Exclusive, Trigger::Level) => Trigger::Oneshot,
            (_, t) => t,
        }
    }

    /// Bring the kernel registration of `reg` in line with what its entries want: the one place
    /// that compares "wanted" with "in the kernel". Never registers a different file under an
    /// existing registration: a number found closed or reused is [`SyncError::Gone`].
    pub fn sync_fd(&mut self, sys: &Sys, delivery: Delivery, reg: u32) -> Result<(), SyncError> {
        let r = &self.regs[reg as usize];
        if r.refused {
            return Ok(());
        }
        let mut want = Signals::empty();
        let mut trigger = Trigger::Level;
        let mut cur = r.head;
        while cur != NIL {
            let e = &self.entries[cur as usize];
            if e.wants_kernel() {
                want |= e.watched;
            }
            trigger = e.trigger;
            cur = e.next_on_reg;
        }
        let mode = Registry::kernel_mode(delivery, trigger);
        let interest = if mode == Trigger::Edge && !want.is_empty() {
            // Edges: the registration watches everything, always, and each entry takes the
            // bits it watches. A change of one entry then never re-states the registration to
            // the kernel, which would be a new edge for every other entry on the descriptor.
            EDGE_INTEREST
        } else {
            fdrules::interest(want & Signals::FD_ALL)
        };
        let r = &mut self.regs[reg as usize];
        // SAFETY: `reg` is a registration of the registry.
        let fd = unsafe { registered_fd(r.fd) };
        if interest == 0 {
            let fired_oneshot = r.kernel_mode == Trigger::Oneshot && !r.kernel_armed;
            if r.in_kernel && !fired_oneshot {
                // Record which file the number names before the kernel stops vouching for it.
                r.file = Some(FileId::of(fd).ok_or(SyncError::Gone)?);
                sys.delete(fd).map_err(gone_or)?;
                r.in_kernel = false;
            }
            return Ok(());
        }
        // Every (re-)registration gets a new token: a report the kernel produced for an earlier
        // arming, taken by a waiter that has not absorbed it yet, no longer matches and is
        // dropped (the new arming reports afresh if the descriptor is still ready).
        let next_gen = r.gen.wrapping_add(1);
        let tok = token(reg, next_gen);
        if !r.in_kernel {
            if let Some(file) = r.file {
                if FileId::of(fd) != Some(file) {
                    return Err(SyncError::Gone);
                }
            }
            match sys.add(fd, tok, interest, mode) {
                Ok(()) => {}
                Err(AddError::Refused) => return Err(SyncError::Refused),
                Err(AddError::Sys(Errno::BADF)) if r.file.is_some() => return Err(SyncError::Gone),
                Err(AddError::Sys(e)) => return Err(SyncError::Sys(e)),
            }
            r.in_kernel = true;
        } else if interest != r.kernel_interest || mode != r.kernel_mode || !r.kernel_armed {
            sys.modify(fd, tok, interest, mode).map_err(gone_or)?;
        } else {
            return Ok(());
        }
        r.gen = next_gen;
        r.kernel_interest = interest;
        r.kernel_mode = mode;
        r.kernel_armed = true;
        Ok(())
    }
}

/// A failed `modify`/`delete`: NOENT (the kernel dropped the registration when the file was
/// closed) and BADF (the number is closed) mean the registration is gone.
fn gone_or(e: Errno) -> SyncError {
    match e {
        Errno::NOENT | Errno::BADF => SyncError::Gone,
        e => SyncError::Sys(e),
    }
}
