//! Delivery: who is woken when an entry becomes ready, and — in exclusive delivery — who holds a
//! reported entry until it may be handed out again.
//!
//! # Waking ([`WakeLedger`])
//!
//! Waiters block in the kernel; a thread that makes an entry ready in user space wakes them
//! through the set's wake channel (`sys::wake`), one *token* per waiter to wake. The ledger,
//! kept under the set's lock, knows how many waiters are blocked and which of them must consume
//! a token when they return, so that no token is left behind to make later waiters spin, and
//! none is consumed by a waiter it was not meant for:
//!
//! * [`WakeLedger::wake_all`] wakes every waiter blocked now: one token each, and a new
//!   *round*; a waiter that returns and finds the round changed consumes exactly one token.
//! * [`WakeLedger::wake_one`] posts one token unless enough are already on their way; the first
//!   blocked waiter that returns having seen the channel consumes it (exclusive delivery: one
//!   readiness wakes one waiter).
//! * Tokens are written after the set's lock is released, so a waiter may find its token not
//!   there yet: it records it as owed ([`WakeLedger::token_not_yet_posted`]) and the next waiter
//!   that sees the channel consumes it.
//!
//! # Holding ([`HeldByThisThread`])
//!
//! In [`Delivery::Exclusive`](super::Delivery::Exclusive) each result goes to exactly one waiter,
//! and the entry is then *held* by the thread that received it: no other waiter receives it
//! until that thread calls `wait` on the set again, exits, or the entry is modified or removed.
//! The set itself records no thread identity: the holder keeps the list of what it holds in a
//! thread-local [`HeldByThisThread`], whose destructor releases everything when the thread
//! exits. A release that arrives after the entry was modified, removed or handed out again is
//! ignored (each hand-out has its own sequence number).

use std::cell::RefCell;

use super::Inner;
use crate::sync::{Arc, Weak};

/// The accounting of blocked waiters and posted tokens, kept under the set's lock.
#[derive(Default, Debug)]
pub(crate) struct WakeLedger {
    /// Bumped by every `wake_all` that woke somebody.
    round: u64,
    /// Waiters blocked in the current round.
    blocked_in_round: usize,
    /// Tokens posted by `wake_one` that no waiter has consumed yet.
    single_wakes_in_flight: usize,
    /// Tokens a waiter had to consume but found not yet written; the next waiter that sees the
    /// channel consumes them.
    tokens_owed: usize,
}

/// What a waiter remembers about its own blocking.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockTicket {
    round: u64,
}

impl WakeLedger {
    /// Record that the caller is about to block in the kernel.
    pub(crate) fn block(&mut self) -> BlockTicket {
        self.blocked_in_round += 1;
        BlockTicket { round: self.round }
    }

    /// Record that the caller returned from blocking, having seen the channel readable or not;
    /// returns whether it must consume one token.
    pub(crate) fn unblock(&mut self, t: BlockTicket, saw_channel: bool) -> bool {
        if t.round != self.round {
            return true; // woken by a wake_all: its token is this waiter's
        }
        self.blocked_in_round -= 1;
        if saw_channel && self.single_wakes_in_flight > 0 {
            self.single_wakes_in_flight -= 1;
            return true;
        }
        if saw_channel && self.tokens_owed > 0 {
            self.tokens_owed -= 1;
            return true;
        }
        false
    }

    /// A token that had to be consumed was not there yet: it will be, so the next waiter that
    /// sees the channel consumes it (no token is ever left behind to make waiters spin).
    pub(crate) fn token_not_yet_posted(&mut self) {
        self.tokens_owed += 1;
    }

    /// Wake every waiter blocked now. Returns the tokens to post.
    pub(crate) fn wake_all(&mut self) -> usize {
        let n = self.blocked_in_round;
        if n > 0 {
            self.round += 1;
            self.blocked_in_round = 0;
        }
        n
    }

    /// Wake one blocked waiter, if any and if none is already on its way. Returns the tokens to
    /// post.
    pub(crate) fn wake_one(&mut self) -> usize {
        if self.blocked_in_round > self.single_wakes_in_flight {
            self.single_wakes_in_flight += 1;
            1
        } else {
            0
        }
    }

    /// Whether any waiter is blocked in the kernel now.
    pub(crate) fn anyone_blocked(&self) -> bool {
        self.blocked_in_round > 0
    }
}

/// One entry held by this thread.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Held {
    pub idx: u32,
    pub gen: u32,
    pub seq: u32,
}

/// The entries this thread holds, per set. Its destructor, run when the thread exits, releases
/// them, so a thread that takes results and exits strands nothing.
#[derive(Default)]
pub(crate) struct HeldByThisThread {
    sets: Vec<(Weak<Inner>, Vec<Held>)>,
}

crate::sync::sync_thread_local! {
    static HELD: RefCell<HeldByThisThread> = RefCell::new(HeldByThisThread::default());
}

impl HeldByThisThread {
    /// Run `f` with the list of what this thread holds in `set` (`None` while the thread is
    /// exiting: it can hold nothing then). The list keeps its capacity between waits.
    pub(crate) fn with<R>(set: &Arc<Inner>, f: impl FnOnce(Option<&mut Vec<Held>>) -> R) -> R {
        let mut f = Some(f);
        let r = HELD.try_with(|h| {
            let mut h = h.borrow_mut();
            let me = Arc::as_ptr(set);
            let i = match h.sets.iter().position(|(s, _)| s.as_ptr() == me) {
                Some(i) => i,
                None => {
                    // Forget sets that are gone (their entries went with them).
                    h.sets.retain(|(s, _)| s.strong_count() > 0);
                    h.sets.push((Arc::downgrade(set), Vec::new()));
                    h.sets.len() - 1
                }
            };
            (f.take().expect("called once"))(Some(&mut h.sets[i].1))
        });
        match r {
            Ok(r) => r,
            Err(_) => (f.take().expect("called once"))(None),
        }
    }
}

/// The thread is exiting: release everything it holds.
impl Drop for HeldByThisThread {
    fn drop(&mut self) {
        for (set, held) in self.sets.drain(..) {
            if held.is_empty() {
                continue;
            }
            if let Some(set) = set.upgrade() {
                set.release_held(&held);
                // `set` may be the last reference: dropped here, with no lock held.
            }
        }
    }
}
