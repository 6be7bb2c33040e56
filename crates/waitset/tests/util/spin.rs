//! A two-party barrier that spins, so both parties leave it within nanoseconds of each other
//! (a sleeping barrier wakes them microseconds apart, too far apart to race a short window),
//! plus a count of the helper's finished rounds.

use std::sync::atomic::{AtomicU64, Ordering};

/// See the module doc.
#[derive(Default)]
pub struct SpinGate {
    arrived: AtomicU64,
    helper_done: AtomicU64,
}

impl SpinGate {
    /// Arrive and spin until the other party has arrived too (rounds of two arrivals).
    pub fn arrive(&self) {
        let n = self.arrived.fetch_add(1, Ordering::AcqRel) + 1;
        let target = n.div_ceil(2) * 2;
        while self.arrived.load(Ordering::Acquire) < target {
            std::hint::spin_loop();
        }
    }
    /// The helper finished its part of the round.
    pub fn helper_finished(&self) {
        self.helper_done.fetch_add(1, Ordering::AcqRel);
    }
    /// Wait until the helper has finished `rounds` rounds.
    pub fn wait_helper(&self, rounds: u64) {
        while self.helper_done.load(Ordering::Acquire) < rounds {
            std::thread::yield_now();
        }
    }
}
