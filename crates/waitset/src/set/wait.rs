//! The wait: one kernel wait per round, no lock held across it, no allocation.
//!
//! A round takes the set's lock, releases what this thread held (exclusive delivery), fires due
//! timers and computes one kernel timeout; releases the lock and waits in the kernel into a stack
//! buffer; takes the lock again to absorb the kernel's reports onto the ready ring
//! ([`State::record_kernel_reports`]) and to take results from the ring's front ([`State::take_results`]).

use std::time::Duration;

use rustix::io::Errno;

use super::delivery::{BlockTicket, Held, HeldByThisThread};
use super::external::{FLAG_TOKEN, TIMERFD_TOKEN};
use super::ready::{self, LazyNow};
use super::registry::{split_token, NIL};
use super::state::{Inner, State, WAKE_TOKEN};
use super::{Delivery, Status, WaitResult};
use crate::deadline::monotonic_ns;
use crate::sync::{Arc, PostWakeups};
use crate::sys::{Backend, Reports, Sys, Trigger, KERNEL_BATCH};
use crate::{Deadline, Error, Result};

impl Inner {
    /// [`WaitSet::wait`](super::WaitSet::wait).
    pub(super) fn wait(
        self: &Arc<Self>,
        deadline: Deadline,
        results: &mut [WaitResult],
    ) -> Result<usize> {
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
        let exclusive = self.delivery == Delivery::Exclusive;
        let mut first = true;
        loop {
            let mut st = self.state.lock();
            let mut tokens = 0;
            if exclusive && first {
                // This thread is done with what it was handed last time.
                HeldByThisThread::with(self, |held| {
                    if let Some(held) = held {
                        for h in held.drain(..) {
                            tokens += st.release(&self.sys, self.delivery, h);
                        }
                    }
                });
            }
            if st.closed {
                drop(st);
                self.post_wakeups(tokens);
                return Err(Error::Canceled);
            }
            // The clock is read only when something depends on it: an armed timer or a finite
            // deadline. An infinite wait with no timer reads no clock at all.
            let mut wake_at = deadline.as_monotonic_nanos();
            let now = if st.timers.is_empty() && deadline.is_infinite() {
                0
            } else {
                let now = monotonic_ns();
                st.fire_timers(now);
                if let Some(t) = st.timers.next_expiry() {
                    wake_at = wake_at.min(t);
                }
                now
            };
            let timeout = if st.ring.user_space() > 0 || wake_at <= now {
                Some(Duration::ZERO)
            } else {
                Deadline::from_monotonic_nanos(wake_at).remaining_from(now)
            };
            if first && !span.is_disabled() {
                let left = deadline.remaining_from(if now == 0 { monotonic_ns() } else { now });
                span.record(
                    "timeout_ms",
                    left.map_or(-1, |d| crate::deadline::ceil_millis(d) as i64),
                );
                span.record("entries", st.reg.len());
            }
            first = false;
            let ticket = (timeout != Some(Duration::ZERO)).then(|| st.ledger.block());
            drop(st);
            self.post_wakeups(tokens);

            // The kernel wait, with no lock held; its reports are absorbed under the lock taken
            // right after, straight from the backend's buffer.
            // A full batch, whatever the caller can take: every ready descriptor (up to the
            // batch) is confirmed each round, which keeps the ring's order honest (see `ready`).
            let res = self.sys.wait(KERNEL_BATCH, timeout, |reports| {
                let mut st = self.state.lock();
                let saw_channel = st.record_kernel_reports(reports);
                self.end_round(&mut st, ticket, saw_channel, results)
            });
            let (failed, (n, consume, closed, tokens)) = match res {
                Ok(end) => (None, end),
                Err(e) => {
                    let mut st = self.state.lock();
                    st.epoch += 1; // nothing confirmed by this round
                    (Some(e), self.end_round(&mut st, ticket, false, &mut []))
                }
            };
            if consume && !self.channel.take_one() {
                self.state.lock().ledger.token_not_yet_posted();
            }
            self.post_wakeups(tokens);
            match failed {
                Some(Errno::INTR) | None => {}
                Some(e) => return Err(Error::sys(e).traced("waitset_wait")),
            }
            if n > 0 {
                span.record("seen", n);
                return Ok(n);
            }
            if closed {
                return Err(Error::Canceled);
            }
            if deadline.passed_at(monotonic_ns()) {
                span.record("seen", 0);
                return Err(Error::TimedOut);
            }
        }
    }
}

impl Inner {
    /// The end of a round, under the set's lock: settle this waiter's blocking in the wake
    /// ledger, take results, re-arm fired one-shot registrations, and wake others for
    /// readiness left on the ring. Returns (results, whether a wake token must be consumed,
    /// whether the set is closed, tokens to post).
    #[inline]
    fn end_round(
        self: &Arc<Self>,
        st: &mut State,
        ticket: Option<BlockTicket>,
        saw_channel: bool,
        results: &mut [WaitResult],
    ) -> (usize, bool, bool, usize) {
        let settled = st.ledger.came_back(ticket, saw_channel);
        let mut tokens = settled.post;
        let n = if results.is_empty() {
            0
        } else if self.delivery == Delivery::Exclusive {
            HeldByThisThread::with(self, |held| {
                st.take_results(&self.sys, self.delivery, results, held, &mut tokens)
            })
        } else {
            st.take_results(&self.sys, self.delivery, results, None, &mut tokens)
        };
        if !st.fired_oneshot.is_empty() {
            tokens += st.rearm_fired(&self.sys, self.delivery);
        }
        // Readiness left on the ring that no blocked waiter will hear of from the kernel.
        if st.ring.user_space() > 0 && st.ledger.anyone_blocked() {
            tokens += st.wake_for_ready(self.delivery);
        }
        st.settle_external();
        (n, settled.consume, st.closed, tokens)
    }
}

impl State {
    /// Turn kernel reports into ready entries; returns whether the wake channel was among them.
    #[inline]
    fn record_kernel_reports(&mut self, reports: &mut Reports<'_>) -> bool {
        self.epoch += 1;
        let epoch = self.epoch;
        let mut saw_channel = false;
        for r in reports {
            if r.token == WAKE_TOKEN {
                saw_channel = true;
                continue;
            }
            if r.token == TIMERFD_TOKEN {
                if let Some(x) = &mut self.external {
                    x.timer_fired();
                }
                continue;
            }
            if r.token == FLAG_TOKEN {
                continue; // settled at the end of the round
            }
            let (reg, gen) = split_token(r.token);
            let Some(rg) = self.reg.regs.get_mut(reg as usize) else {
                continue;
            };
            if rg.gen != gen || rg.head == NIL {
                continue; // a stale report for a registration removed meanwhile
            }
            if rg.kernel_mode == Trigger::Oneshot {
                rg.kernel_armed = false;
                self.fired_oneshot.push(reg);
            }
            let mut cur = rg.head;
            while cur != NIL {
                let e = &mut self.reg.entries[cur as usize];
                let next = e.next_on_reg;
                if e.armed && !e.canceled {
                    if e.trigger == Trigger::Level {
                        e.kernel_bits = r.bits;
                    } else {
                        e.kernel_bits |= r.bits; // kept until reported, also while held
                    }
                    e.seen_epoch = epoch;
                    if !e.held && !e.link.on_ring() {
                        let confirms = ready::kernel_confirms(e, &self.reg.regs);
                        self.ring.push_back(&mut self.reg.entries, cur, confirms);
                    }
                }
                cur = next;
            }
        }
        saw_channel
    }

    /// Take up to `results.len()` results from the front of the ring, at most one per entry.
    /// In exclusive delivery (`held` given) each reported entry is held by the caller.
    #[inline]
    fn take_results(
        &mut self,
        sys: &Sys,
        delivery: Delivery,
        results: &mut [WaitResult],
        mut held: Option<&mut Vec<Held>>,
        tokens: &mut usize,
    ) -> usize {
        let mut now = LazyNow::new();
        let mut n = 0;
        let mut budget = self.ring.len();
        while n < results.len() && budget > 0 {
            budget -= 1;
            let Some(idx) = self.ring.front() else {
                break;
            };
            let e = &self.reg.entries[idx as usize];
            let Some((status, observed)) =
                ready::report_for(e, &self.reg.regs, self.epoch, &mut now)
            else {
                self.ring.unlink(&mut self.reg.entries, idx);
                continue;
            };
            results[n] = WaitResult {
                cookie: e.cookie,
                status,
                observed,
            };
            n += 1;
            match status {
                Status::Canceled => {
                    // Reported once, then removed; its handle's observer list was drained by
                    // the close. The source's core has no lock to take when dropped.
                    let (kind, t) = self.detach(sys, delivery, idx);
                    *tokens += t;
                    drop(kind);
                }
                Status::Unsatisfiable => {
                    // Reported once per arming: a caller that ignores it does not spin.
                    *tokens += self.disarm(sys, delivery, idx);
                }
                Status::Satisfied => {
                    let e = &mut self.reg.entries[idx as usize];
                    match e.trigger {
                        Trigger::Oneshot => *tokens += self.disarm(sys, delivery, idx),
                        Trigger::Edge => {
                            e.risen = crate::Signals::empty();
                            e.kernel_bits = 0;
                            if held.is_some() {
                                self.ring.unlink(&mut self.reg.entries, idx);
                                self.hold(idx, held.as_deref_mut());
                            } else if ready::report_for(e, &self.reg.regs, self.epoch, &mut now)
                                .is_some()
                            {
                                // Something else to say after the edge (the source froze with
                                // nothing asserted): next time.
                                self.ring.rotate_front(&mut self.reg.entries, idx);
                            } else {
                                self.ring.unlink(&mut self.reg.entries, idx);
                            }
                        }
                        Trigger::Level => match held.as_deref_mut() {
                            Some(h) => {
                                self.ring.unlink(&mut self.reg.entries, idx);
                                self.hold(idx, Some(h));
                            }
                            None => self.ring.rotate_front(&mut self.reg.entries, idx),
                        },
                    }
                }
            }
        }
        n
    }

    /// Exclusive delivery: the caller now holds entry `idx`.
    fn hold(&mut self, idx: u32, held: Option<&mut Vec<Held>>) {
        if let Some(held) = held {
            let e = &mut self.reg.entries[idx as usize];
            e.held = true;
            e.hold_seq = e.hold_seq.wrapping_add(1);
            held.push(Held {
                idx,
                gen: e.gen,
                seq: e.hold_seq,
            });
        }
    }

    /// Disarm entry `idx` until `modify` (a fired one-shot, a reported unsatisfiable entry).
    fn disarm(&mut self, sys: &Sys, delivery: Delivery, idx: u32) -> usize {
        let e = &mut self.reg.entries[idx as usize];
        e.armed = false;
        e.kernel_bits = 0;
        e.risen = crate::Signals::empty();
        let reg = e.reg();
        self.ring.unlink(&mut self.reg.entries, idx);
        match reg {
            Some(reg) => self.sync_reg(sys, delivery, reg).0,
            None => 0,
        }
    }

    /// One-shot registrations that fired this wait: once the results have been handed out
    /// (and, in exclusive delivery, held), re-arm those that still have entries that want them.
    /// Re-arming before the hand-out would let another waiter take the same readiness.
    fn rearm_fired(&mut self, sys: &Sys, delivery: Delivery) -> usize {
        let mut tokens = 0;
        while let Some(reg) = self.fired_oneshot.pop() {
            let r = &self.reg.regs[reg as usize];
            if r.head != NIL && r.in_kernel && !r.kernel_armed {
                tokens += self.sync_reg(sys, delivery, reg).0;
            }
        }
        tokens
    }
}
