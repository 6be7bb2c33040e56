//! Delivery: who is woken when an entry becomes ready, and — in exclusive delivery — who holds a
//! reported entry until it may be handed out again.
//!
//! # Waking ([`WakeLedger`])
//!
//! Waiters block in the kernel; a thread that makes an entry ready in user space wakes them
//! through the set's wake channel (`sys::wake`). The ledger, kept under the set's lock, knows how
//! many waiters are blocked and who still has to come back:
//!
//! * [`WakeLedger::wake_all`] wakes every waiter blocked now and starts a new *round*: a waiter
//!   that returns and finds the round changed was one of them.
//! * [`WakeLedger::wake_one`] wakes one blocked waiter unless enough are already on their way
//!   (exclusive delivery: one readiness wakes one waiter).
//!
//! The channel works one of two ways, chosen by the backend:
//!
//! * **Edge** (epoll): an eventfd registered edge-triggered. One write is one edge, and the
//!   kernel hands one edge to one waiter; nobody ever reads the eventfd (no syscall on the woken
//!   side, as with mio's `Waker`). To wake several waiters, the edges are chained: a waiter that
//!   comes back having taken the edge posts the next one while someone it was meant for is still
//!   blocked. At most one edge is in flight ([`WakeLedger`]'s `edge_in_flight`), so writes never
//!   merge into one edge and leave a waiter asleep.
//! * **Tokens** (poll(2), which has no edges): a semaphore eventfd or pipe, readable while it
//!   holds tokens. A wake-all posts one token per waiter blocked now and each of them consumes
//!   exactly one; a wake-one posts one token, consumed by the first waiter back that saw the
//!   channel. Tokens are written after the set's lock is released, so a waiter may find its
//!   token not there yet: it records it as owed ([`WakeLedger::token_not_yet_posted`]) and the
//!   next waiter that sees the channel consumes it. No token is ever left behind to make waiters
//!   spin.
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

/// How the wake channel wakes a waiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum WakeMode {
    /// One edge per write, never read (epoll).
    #[default]
    Edge,
    /// Counted tokens, each read by the waiter it woke (poll(2)).
    Tokens,
}

/// The accounting of blocked waiters and wake-ups, kept under the set's lock.
#[derive(Default, Debug)]
pub(crate) struct WakeLedger {
    mode: WakeMode,
    /// Bumped by every `wake_all` that woke somebody.
    round: u64,
    /// Waiters blocked in the current round.
    blocked_in_round: usize,
    /// Waiters of earlier rounds, woken by a `wake_all`, that have not come back yet (edges).
    woken_not_back: usize,
    /// Single wake-ups posted that no waiter has taken yet.
    single_wakes_in_flight: usize,
    /// Edges: a write was made whose edge no waiter has taken yet.
    edge_in_flight: bool,
    /// Tokens: tokens a waiter had to consume but found not yet written; the next waiter that
    /// sees the channel consumes them.
    tokens_owed: usize,
}

/// What a waiter remembers about its own blocking.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockTicket {
    round: u64,
}

/// What a waiter must do after coming back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Settled {
    /// Consume one token from the channel (token mode).
    pub consume: bool,
    /// Wake-ups to post (edge mode: the next edge of a chain).
    pub post: usize,
}

impl WakeLedger {
    pub(crate) fn new(mode: WakeMode) -> WakeLedger {
        WakeLedger {
            mode,
            ..WakeLedger::default()
        }
    }

    /// Record that the caller is about to block in the kernel.
    pub(crate) fn block(&mut self) -> BlockTicket {
        self.blocked_in_round += 1;
        BlockTicket { round: self.round }
    }

    /// Record that the caller came back from the kernel (blocked with `ticket`, or polled
    /// without blocking), having taken the channel's report or not.
    pub(crate) fn came_back(&mut self, ticket: Option<BlockTicket>, saw_channel: bool) -> Settled {
        match self.mode {
            WakeMode::Tokens => Settled {
                consume: ticket.is_some_and(|t| self.unblock_tokens(t, saw_channel)),
                post: 0,
            },
            WakeMode::Edge => {
                if saw_channel {
                    self.edge_in_flight = false; // this waiter took it
                }
                if let Some(t) = ticket {
                    if t.round != self.round {
                        self.woken_not_back -= 1;
                    } else {
                        // Back from the current round, edge or not: a single wake-up meant
                        // for "one blocked waiter" is answered.
                        self.blocked_in_round -= 1;
                        self.single_wakes_in_flight = self.single_wakes_in_flight.saturating_sub(1);
                    }
                }
                Settled {
                    consume: false,
                    post: self.next_edge(),
                }
            }
        }
    }

    fn unblock_tokens(&mut self, t: BlockTicket, saw_channel: bool) -> bool {
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

    /// Edges: post one if somebody still has to come back and no edge is in flight (at most
    /// one edge is ever in flight: two writes before a waiter takes the first would be one
    /// edge, and a waiter would sleep on).
    fn next_edge(&mut self) -> usize {
        let awaited = self.woken_not_back > 0 || self.single_wakes_in_flight > 0;
        if awaited && !self.edge_in_flight {
            self.edge_in_flight = true;
            1
        } else {
            0
        }
    }

    /// A token that had to be consumed was not there yet: it will be, so the next waiter that
    /// sees the channel consumes it (no token is ever left behind to make waiters spin).
    pub(crate) fn token_not_yet_posted(&mut self) {
        self.tokens_owed += 1;
    }

    /// Wake every waiter blocked now. Returns the wake-ups to post.
    pub(crate) fn wake_all(&mut self) -> usize {
        let n = self.blocked_in_round;
        if n == 0 {
            return 0;
        }
        self.round += 1;
        self.blocked_in_round = 0;
        match self.mode {
            WakeMode::Tokens => n,
            WakeMode::Edge => {
                // Waiters a single wake-up was meant for are among those woken now.
                self.single_wakes_in_flight = 0;
                self.woken_not_back += n;
                self.next_edge()
            }
        }
    }

    /// Wake one blocked waiter, if any and if none is already on its way. Returns the
    /// wake-ups to post.
    pub(crate) fn wake_one(&mut self) -> usize {
        if self.blocked_in_round <= self.single_wakes_in_flight {
            return 0;
        }
        self.single_wakes_in_flight += 1;
        match self.mode {
            WakeMode::Tokens => 1,
            WakeMode::Edge => self.next_edge(),
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
