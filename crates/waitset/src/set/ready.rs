//! The ready ring and the one place that decides what an entry reports.
//!
//! # Fairness
//!
//! Every entry believed ready — user sources, always-ready descriptors, and descriptors the
//! kernel reported — is on one ring, an intrusive doubly-linked list through the entries. A wait
//! takes entries from the front; one reported and still level-triggered goes to the back;
//! newly ready entries join at the back. So with `R` entries continuously ready and room for `C`
//! results, each of them is reported at least once in every window of `ceil(R / C)` consecutive
//! waits, from the first wait on: the entries ahead of one on the ring are fewer than `R`, and
//! each wait moves `C` of them behind it.
//!
//! Joining, leaving and taking are O(1), so no wait costs in proportion to the number of ready
//! entries, and removing a queued entry is O(1).
//!
//! # Which ready entries need the kernel to confirm them
//!
//! A level-triggered descriptor stays on the ring after it is reported (it keeps its place),
//! but it is reported again only if the kernel reported it in the same wait (`seen_epoch`):
//! each wait takes a full batch of kernel reports ([`KERNEL_BATCH`](crate::sys::KERNEL_BATCH),
//! whatever the caller's buffer), and the kernel re-reports a ready level-triggered descriptor
//! on every wait, so one it did not re-report is no longer ready and leaves the ring when it
//! reaches the front. Such entries do not keep a wait from blocking. (With more descriptors
//! ready than a batch, one the kernel did not get to in this wait also leaves the ring and
//! rejoins at the back when it is reported: the bound above holds for up to a batch of ready
//! descriptors.) Every other entry on the ring (events, timers, always-ready
//! descriptors, canceled handles, edge and one-shot reports) is ready in user space only: while
//! any is on the ring, a wait does not block in the kernel ([`Ring::user_space`]).

use super::registry::{Entry, FdReg, Kind, NIL};
use crate::fdrules;
use crate::sys::Trigger;
use crate::{Signals, Status};

/// An entry's place on the ring.
#[derive(Clone, Copy, Debug)]
pub(super) struct Link {
    prev: u32,
    next: u32,
    on_ring: bool,
    /// The kernel re-reports the entry on every wait while it is ready (see the module docs).
    kernel_confirms: bool,
}

impl Link {
    /// Whether the entry is on the ring.
    #[inline]
    pub fn on_ring(&self) -> bool {
        self.on_ring
    }
}

impl Default for Link {
    fn default() -> Link {
        Link {
            prev: NIL,
            next: NIL,
            on_ring: false,
            kernel_confirms: false,
        }
    }
}

/// The ring of ready entries.
#[derive(Debug)]
pub(super) struct Ring {
    head: u32,
    tail: u32,
    len: u32,
    /// Entries on the ring that the kernel will not report again by itself.
    user_space: u32,
}

impl Default for Ring {
    fn default() -> Ring {
        Ring {
            head: NIL,
            tail: NIL,
            len: 0,
            user_space: 0,
        }
    }
}

impl Ring {
    /// Entries on the ring.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Entries on the ring that are ready in user space: while there is one, a wait must not
    /// block in the kernel.
    #[inline]
    pub fn user_space(&self) -> usize {
        self.user_space as usize
    }

    /// Append `idx` at the back unless it is on the ring; returns whether it joined.
    #[inline]
    pub fn push_back(&mut self, entries: &mut [Entry], idx: u32, kernel_confirms: bool) -> bool {
        if entries[idx as usize].link.on_ring {
            return false;
        }
        let tail = self.tail;
        entries[idx as usize].link = Link {
            prev: tail,
            next: NIL,
            on_ring: true,
            kernel_confirms,
        };
        if tail == NIL {
            self.head = idx;
        } else {
            entries[tail as usize].link.next = idx;
        }
        self.tail = idx;
        self.len += 1;
        if !kernel_confirms {
            self.user_space += 1;
        }
        true
    }

    /// Take `idx` off the ring if it is on it.
    #[inline]
    pub fn unlink(&mut self, entries: &mut [Entry], idx: u32) {
        let l = entries[idx as usize].link;
        if !l.on_ring {
            return;
        }
        if l.prev == NIL {
            self.head = l.next;
        } else {
            entries[l.prev as usize].link.next = l.next;
        }
        if l.next == NIL {
            self.tail = l.prev;
        } else {
            entries[l.next as usize].link.prev = l.prev;
        }
        entries[idx as usize].link = Link::default();
        self.len -= 1;
        if !l.kernel_confirms {
            self.user_space -= 1;
        }
    }

    /// The entry at the front, left on the ring.
    #[inline]
    pub fn front(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    /// Move the front entry to the back (it was reported and stays ready).
    #[inline]
    pub fn rotate_front(&mut self, entries: &mut [Entry], idx: u32) {
        debug_assert_eq!(self.head, idx);
        if self.tail == idx {
            return;
        }
        let confirms = entries[idx as usize].link.kernel_confirms;
        self.unlink(entries, idx);
        self.push_back(entries, idx, confirms);
    }
}

/// Lazily read clock for evaluating timers.
pub(super) struct LazyNow(u64);

impl LazyNow {
    pub fn new() -> LazyNow {
        LazyNow(0)
    }
    #[inline]
    pub fn get(&mut self) -> u64 {
        if self.0 == 0 {
            self.0 = crate::deadline::monotonic_ns();
        }
        self.0
    }
}

/// Whether the kernel confirms `e` on every wait while it is ready: a level-triggered entry on a
/// registration the kernel keeps reporting (not a one-shot one, not a refused descriptor).
#[inline]
pub(super) fn kernel_confirms(e: &Entry, regs: &[FdReg]) -> bool {
    e.trigger == Trigger::Level
        && !e.canceled
        && !e.fd_gone
        && e.reg().is_some_and(|r| {
            let r = &regs[r as usize];
            !r.refused && r.kernel_mode == Trigger::Level
        })
}

/// What entry `e` reports now, if anything: the one evaluation of every kind of source.
///
/// `epoch` is the kernel wait whose reports were absorbed last; a level-triggered descriptor
/// the kernel confirms is reported only if that wait reported it.
#[inline]
pub(super) fn report_for(
    e: &Entry,
    regs: &[FdReg],
    epoch: u64,
    now: &mut LazyNow,
) -> Option<(Status, Signals)> {
    if e.link.kernel_confirms {
        // A plain level-triggered descriptor (an entry joins the ring this way only while it
        // is armed, not held, not canceled, and its descriptor is not refused or gone): the
        // kernel's report of this round, if any, says it all.
        if e.seen_epoch != epoch {
            return None; // not re-reported by the kernel: no longer ready
        }
        return fdrules::fd_status(e.watched, e.kernel_bits);
    }
    if e.canceled {
        return Some((Status::Canceled, Signals::empty()));
    }
    if !e.armed || e.held || e.watched.is_empty() {
        return None;
    }
    if e.fd_gone {
        return Some((Status::Unsatisfiable, Signals::ERROR));
    }
    match &e.kind {
        Kind::Free => None,
        Kind::Fd { reg } | Kind::Handle { reg, .. } => {
            let r = &regs[*reg as usize];
            if r.refused {
                // Always ready; an edge entry only rose once, when it was armed (its pending
                // edge is `kernel_bits`, set at arming, cleared when reported).
                if e.trigger == Trigger::Edge && e.kernel_bits == 0 {
                    return None;
                }
                let s = fdrules::always_ready_status(r.possible, e.watched)?;
                return Some((Status::Satisfied, s));
            }
            fdrules::fd_status(e.watched, e.kernel_bits)
        }
        Kind::Event(ev) => {
            let level = ev.signals() & e.watched;
            let shown = if e.trigger == Trigger::Edge {
                e.risen
            } else {
                level
            };
            if !shown.is_empty() {
                Some((Status::Satisfied, shown))
            } else if level.is_empty() && ev.frozen() {
                Some((Status::Unsatisfiable, Signals::empty()))
            } else {
                None
            }
        }
        Kind::Timer { core, .. } => {
            let fired = core.fired_at(now.get());
            let shown = if e.trigger == Trigger::Edge {
                !e.risen.is_empty() // fired since last reported (or at arming)
            } else {
                fired
            };
            if shown {
                Some((Status::Satisfied, Signals::TIMER))
            } else if !fired && core.frozen() {
                Some((Status::Unsatisfiable, Signals::empty()))
            } else {
                None
            }
        }
    }
}
