//! A set's shared state and the operations on entries that every path shares: becoming ready,
//! leaving a descriptor registration, being removed, being held and released, timers.
//!
//! Every function here runs under the set's lock (`Inner::state`, rank 3 of [`crate::sync`]) and
//! returns the wake-up tokens its caller posts after releasing that lock.

use super::delivery::{Held, WakeLedger};
use super::ready::{self, LazyNow, Ring};
use super::registry::{Kind, Registry, SyncError, NIL};
use super::Delivery;
use crate::sync::{Mutex, PostWakeups};
use crate::sys::wake::WakeChannel;
use crate::sys::{Backend, Sys, Trigger};
use crate::timer_wheel::TimerWheel;
use crate::Signals;

pub(super) use crate::sys::WAKE_TOKEN;

/// What the handles of one set share.
pub(crate) struct Inner {
    pub(super) sys: Sys,
    pub(super) channel: WakeChannel,
    pub(super) delivery: Delivery,
    pub(super) state: Mutex<State>,
}

/// Wake-ups decided under the set's lock are posted to its channel after it is released.
impl PostWakeups for Inner {
    #[inline]
    fn post_wakeups(&self, tokens: usize) {
        self.channel.post(tokens);
    }
}

/// The state behind the set's lock.
#[derive(Default)]
pub(super) struct State {
    pub reg: Registry,
    pub ring: Ring,
    pub timers: TimerWheel<(u32, u32)>,
    pub ledger: WakeLedger,
    pub closed: bool,
    /// Bumped by every kernel wait whose reports are absorbed (see `ready`).
    pub epoch: u64,
    /// One-shot registrations the kernel reported in the current wait (capacity kept).
    pub fired_oneshot: Vec<u32>,
    /// The registrations that let an outer loop watch the set (once a `Pollable` exists).
    pub external: Option<super::external::External>,
}

impl State {
    /// Tokens to wake waiters for readiness found in user space.
    #[inline]
    pub fn wake_for_ready(&mut self, delivery: Delivery) -> usize {
        match delivery {
            Delivery::Broadcast => self.ledger.wake_all(),
            Delivery::Exclusive => self.ledger.wake_one(),
        }
    }

    /// Put entry `idx` on the ready ring. Readiness the kernel does not report by itself wakes
    /// blocked waiters (returns their tokens).
    #[inline]
    pub fn make_ready(&mut self, delivery: Delivery, idx: u32) -> usize {
        let e = &self.reg.entries[idx as usize];
        if e.held && !e.canceled {
            return 0;
        }
        let confirms = ready::kernel_confirms(e, &self.reg.regs);
        if self.ring.push_back(&mut self.reg.entries, idx, confirms) && !confirms {
            if let Some(x) = &mut self.external {
                x.raise();
            }
            self.wake_for_ready(delivery)
        } else {
            0
        }
    }

    /// Put entry `idx` on the ring if it has something to report now (user sources), or take
    /// it off if it has not.
    pub fn reevaluate(&mut self, delivery: Delivery, idx: u32, now: &mut LazyNow) -> usize {
        let e = &self.reg.entries[idx as usize];
        if ready::report_for(e, &self.reg.regs, self.epoch, now).is_some() {
            self.make_ready(delivery, idx)
        } else {
            self.ring.unlink(&mut self.reg.entries, idx);
            0
        }
    }

    /// Bring registration `reg` in line with its entries. A descriptor found closed retires the
    /// registration. On the poll(2) backend a change wakes the blocked waiters (they poll a
    /// snapshot). Returns the tokens to post, and the error other than `Gone`, if any.
    pub fn sync_reg(
        &mut self,
        sys: &Sys,
        delivery: Delivery,
        reg: u32,
    ) -> (usize, Result<(), SyncError>) {
        let mut tokens = 0;
        let r = match self.reg.sync_fd(sys, delivery, reg) {
            Err(SyncError::Gone) => {
                tokens += self.retire_reg(sys, delivery, reg);
                Ok(())
            }
            r => r,
        };
        if sys.change_needs_wake() {
            tokens += self.ledger.wake_all();
        }
        (tokens, r)
    }

    /// The descriptor of `reg` was found closed (its number may name another file now): every
    /// entry leaves the registration and reports `Unsatisfiable` with `ERROR` once.
    pub fn retire_reg(&mut self, sys: &Sys, delivery: Delivery, reg: u32) -> usize {
        let mut tokens = 0;
        let mut cur = self.reg.regs[reg as usize].head;
        while cur != NIL {
            let next = self.reg.entries[cur as usize].next_on_reg;
            self.reg.unlink_from_reg(reg, cur);
            let e = &mut self.reg.entries[cur as usize];
            e.fd_gone = true;
            match &mut e.kind {
                Kind::Fd { reg } | Kind::Handle { reg, .. } => *reg = NIL,
                _ => {}
            }
            // Its place on the ring (if any) was as a descriptor the kernel confirms: re-join
            // as ready in user space.
            self.ring.unlink(&mut self.reg.entries, cur);
            tokens += self.make_ready(delivery, cur);
            cur = next;
        }
        // epoll dropped the registration with the file (the delete fails harmlessly: nothing
        // else in this set is registered under the number); the poll(2) backend forgets the
        // number here.
        self.reg.drop_reg(sys, reg);
        tokens
    }

    /// Take entry `idx` off its descriptor registration: the last entry frees it (removing it
    /// from the kernel while the descriptor is open); otherwise the kernel interest shrinks.
    pub fn leave_reg(&mut self, sys: &Sys, delivery: Delivery, idx: u32) -> usize {
        let Some(reg) = self.reg.entries[idx as usize].reg() else {
            return 0;
        };
        match &mut self.reg.entries[idx as usize].kind {
            Kind::Fd { reg } | Kind::Handle { reg, .. } => *reg = NIL,
            _ => {}
        }
        if self.reg.unlink_from_reg(reg, idx) {
            self.reg.drop_reg(sys, reg);
            if sys.change_needs_wake() {
                return self.ledger.wake_all();
            }
            0
        } else {
            self.sync_reg(sys, delivery, reg).0
        }
    }

    /// Remove entry `idx` from the set and return what it waited on, for the caller to release
    /// outside the set's lock (unwatching the source takes the source's lock).
    pub fn detach(&mut self, sys: &Sys, delivery: Delivery, idx: u32) -> (Kind, usize) {
        let tokens = self.leave_reg(sys, delivery, idx);
        self.ring.unlink(&mut self.reg.entries, idx);
        if let Kind::Timer { key: Some(k), .. } = &self.reg.entries[idx as usize].kind {
            self.timers.remove(*k);
        }
        (self.reg.free_entry(idx), tokens)
    }

    /// Exclusive delivery: the holder is done with `held` (it waits again, exits, or the entry
    /// was modified). A release that is stale — the entry was removed, modified or handed out
    /// again since — is ignored.
    pub fn release(&mut self, sys: &Sys, delivery: Delivery, held: Held) -> usize {
        let Some(e) = self.reg.entry_mut(held.idx, held.gen) else {
            return 0;
        };
        if !e.held || e.hold_seq != held.seq {
            return 0;
        }
        e.held = false;
        let mut tokens = 0;
        if let Some(reg) = e.reg() {
            // Re-arm the kernel registration, always with a new token: a report of an arming
            // from before the release (another waiter may have taken it from the kernel and not
            // absorbed it yet) must not hand the entry out again. An edge entry that saw edges
            // while held is ready now.
            let pending = e.trigger == Trigger::Edge && e.kernel_bits != 0;
            let level = e.trigger == Trigger::Level;
            let r = &mut self.reg.regs[reg as usize];
            if r.kernel_mode == Trigger::Oneshot {
                r.kernel_armed = false;
            }
            tokens += self.sync_reg(sys, delivery, reg).0;
            if pending {
                tokens += self.make_ready(delivery, held.idx);
            }
            // An always-ready descriptor is ready again at once if level-triggered; its edge
            // rose once, at add or modify, and never again.
            if level && self.reg.regs.get(reg as usize).is_some_and(|r| r.refused) {
                tokens += self.make_ready(delivery, held.idx);
            }
        } else {
            tokens += self.reevaluate(delivery, held.idx, &mut LazyNow::new());
        }
        tokens
    }

    /// Put timer entry `idx` in the wheel at the timer's current deadline (or leave it out when
    /// disarmed). Returns the tokens to wake blocked waiters when it became the earliest
    /// deadline: they computed their timeout without it.
    pub fn arm_timer(&mut self, idx: u32) -> usize {
        let e = &mut self.reg.entries[idx as usize];
        let gen = e.gen;
        let Kind::Timer { core, key } = &mut e.kind else {
            return 0;
        };
        if let Some(k) = key.take() {
            self.timers.remove(k);
        }
        let Some(at) = core.wake_at() else { return 0 };
        let earliest = self.timers.next_expiry();
        let k = self.timers.insert(at, (idx, gen));
        if let Kind::Timer { key, .. } = &mut self.reg.entries[idx as usize].kind {
            *key = Some(k);
        }
        if earliest.is_none_or(|e| at < e) {
            if let Some(x) = &mut self.external {
                x.arm_timer(Some(at));
            }
            self.ledger.wake_all()
        } else {
            0
        }
    }

    /// Fire the timers that are due at `now`: their entries join the ring.
    pub fn fire_timers(&mut self, now: u64) {
        if self.timers.is_empty() {
            return;
        }
        let State {
            timers, reg, ring, ..
        } = self;
        timers.poll_expired(now, |_key, _when, (idx, gen)| {
            if let Some(e) = reg.entry_mut(idx, gen) {
                if let Kind::Timer { key, .. } = &mut e.kind {
                    *key = None;
                    if e.trigger == Trigger::Edge {
                        e.risen |= Signals::TIMER & e.watched; // kept while held
                    }
                    if e.armed && !e.held {
                        // The waiter firing them reports them; others compute their own
                        // timeouts from the wheel: nobody needs waking.
                        ring.push_back(&mut reg.entries, idx, false);
                    }
                }
            }
        });
    }
}

impl Inner {
    /// Release entries a thread held (it is exiting); posts the wake-ups.
    pub(super) fn release_held(&self, held: &[Held]) {
        let tokens = {
            let mut st = self.state.lock();
            let mut tokens = 0;
            for h in held {
                tokens += st.release(&self.sys, self.delivery, *h);
            }
            tokens
        };
        self.post_wakeups(tokens);
    }
}
