//! Issue 7, defect 1: `Handle::close` racing the drop of a set's last clone.
//!
//! Rule: closing a handle and dropping the last clone of a set that watches it may happen at the
//! same time on two threads, in either order, and neither ever blocks forever. No last `Arc` of a
//! set is dropped under a source lock.

mod util;

use std::sync::Arc;
use std::time::Duration;

use util::spin::SpinGate;
use util::watchdog::{for_budget, Watchdog};
use util::*;
use waitset::{Handle, Signals, Source};

/// Fails on main f98a603 (both backends): within the first few hundred iterations the closing
/// thread
/// deadlocks on itself (`Watchers::cancel_all` drops the set's last `Arc` while it
/// holds the handle's `watchers` lock, and `Inner::drop` takes that lock again); the watchdog
/// reports the stuck iteration ("step: wait for the closer") and aborts.
#[test]
fn handle_close_racing_last_set_drop_never_deadlocks() {
    let wd = Watchdog::start("handle_close_racing_last_set_drop_never_deadlocks", 30);
    let mut total = 0;
    each_backend(|k| {
        // One closer thread for the whole run, released together with this thread by a
        // spinning gate each iteration, so that the close and the drop overlap.
        let (tx, rx) = std::sync::mpsc::channel::<Option<Arc<Handle>>>();
        let gate = Arc::new(SpinGate::default());
        let closer = std::thread::spawn({
            let gate = gate.clone();
            move || {
                while let Ok(Some(h)) = rx.recv() {
                    gate.arrive();
                    h.close().unwrap();
                    gate.helper_finished();
                }
            }
        });
        let mut rounds = 0;
        total += for_budget(20_000, Duration::from_secs(2), |i| {
            wd.iteration(total + i);
            let s = set(k);
            let (r, _w) = pipe();
            let h = Arc::new(Handle::new(r));
            s.add(1, Source::from(&*h), Signals::READABLE).unwrap();
            tx.send(Some(h)).unwrap();
            gate.arrive();
            drop(s); // the set's last clone, racing the close
            rounds += 1;
            wd.step("wait for the closer");
            gate.wait_helper(rounds);
            wd.step("loop");
        });
        tx.send(None).unwrap();
        closer.join().unwrap();
    });
    eprintln!("{total} iterations");
}
