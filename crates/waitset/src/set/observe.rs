//! The set as an observer of its sources: how a change announced by an Event, a Timer or a
//! Handle becomes readiness of the entries that watch it.

use super::ready::LazyNow;
use super::registry::Kind;
use super::state::Inner;
use crate::source::{Change, EntryKey, Observer};
use crate::sys::Trigger;

impl Observer for Inner {
    fn on_change(&self, (idx, gen): EntryKey, change: Change) -> usize {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        let delivery = self.delivery;
        let Some(e) = st.reg.entry_mut(idx, gen) else {
            return 0; // removed meanwhile
        };
        match change {
            Change::Signals { old, new } => {
                if !e.armed || e.canceled {
                    return 0;
                }
                if e.trigger == Trigger::Edge {
                    let rising = (new & e.watched) - (old & e.watched);
                    if rising.is_empty() {
                        return 0;
                    }
                    e.risen |= rising; // kept while held: reported after the release
                    st.make_ready(delivery, idx)
                } else {
                    // Asserted: ready; cleared: off the ring at once, so a wait does not
                    // poll the kernel for an entry that has nothing to say.
                    st.reevaluate(delivery, idx, &mut LazyNow::new())
                }
            }
            Change::Frozen => {
                if let Kind::Timer { core, key } = &mut e.kind {
                    // A timer that had not fired was disarmed by the drop: out of the wheel.
                    // One that fired keeps its deadline, and is not put back (for an edge
                    // entry that would be a second rise).
                    if core.wake_at().is_none() {
                        if let Some(k) = key.take() {
                            st.timers.remove(k);
                        }
                    }
                }
                st.reevaluate(delivery, idx, &mut LazyNow::new())
            }
            Change::Deadline => {
                let mut tokens = st.arm_timer(idx);
                // Setting a timer clears TIMER; one already due is reported once the wheel
                // fires it, on the next wait.
                let e = &mut st.reg.entries[idx as usize];
                if e.trigger == Trigger::Edge {
                    e.risen = crate::Signals::empty();
                }
                tokens += st.reevaluate(delivery, idx, &mut LazyNow::new());
                tokens
            }
            Change::Closed => {
                // Leave the kernel while the descriptor is still open; report Canceled once,
                // even if a waiter holds the entry.
                let tokens = st.leave_reg(&self.sys, delivery, idx);
                let e = &mut st.reg.entries[idx as usize];
                e.canceled = true;
                e.held = false;
                e.hold_seq = e.hold_seq.wrapping_add(1);
                st.ring.unlink(&mut st.reg.entries, idx);
                tokens + st.make_ready(delivery, idx)
            }
        }
    }
}
