//! A watchdog for tests that can hang: if the test has not finished within its budget, it prints
//! which test and which step stuck, then aborts the process (a hung test would otherwise hang
//! the whole run).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

struct Shared {
    done: Mutex<bool>,
    cv: Condvar,
    iteration: AtomicU64,
    step: Mutex<&'static str>,
}

/// Aborts the process unless dropped within the budget given to [`Watchdog::start`].
pub struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    /// Start watching test `name` for `secs` seconds (a failure detector, never a timing
    /// assertion: pick a budget many times the normal run time).
    pub fn start(name: &'static str, secs: u64) -> Watchdog {
        let shared = Arc::new(Shared {
            done: Mutex::new(false),
            cv: Condvar::new(),
            iteration: AtomicU64::new(0),
            step: Mutex::new("start"),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("watchdog {name}"))
            .spawn(move || {
                let deadline = std::time::Instant::now() + Duration::from_secs(secs);
                let mut done = s.done.lock().unwrap();
                while !*done {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        let step = *s.step.lock().unwrap_or_else(|e| e.into_inner());
                        // Straight to fd 2: the test harness's output capture would swallow an
                        // `eprintln!` from a process that is about to abort.
                        let _ = writeln!(
                            std::io::stderr(),
                            "WATCHDOG: test `{name}` stuck for {secs} s at iteration {} (step: {step}); aborting",
                            s.iteration.load(Ordering::SeqCst)
                        );
                        std::process::abort();
                    }
                    done = s.cv.wait_timeout(done, deadline - now).unwrap().0;
                }
            })
            .expect("spawn watchdog");
        Watchdog {
            shared,
            thread: Some(thread),
        }
    }

    /// Record the current iteration (printed if the test sticks).
    pub fn iteration(&self, i: u64) {
        self.shared.iteration.store(i, Ordering::SeqCst);
    }

    /// Record the current step (printed if the test sticks).
    pub fn step(&self, step: &'static str) {
        *self.shared.step.lock().unwrap_or_else(|e| e.into_inner()) = step;
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        *self.shared.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.shared.cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Run `f` until it has run `max_iters` times or `budget` has passed, whichever comes first
/// (at least once). Bounds a stress loop's work on a slow machine without asserting a timing.
pub fn for_budget(max_iters: u64, budget: Duration, mut f: impl FnMut(u64)) -> u64 {
    let t0 = std::time::Instant::now();
    let mut i = 0;
    while i < max_iters && (i == 0 || t0.elapsed() < budget) {
        f(i);
        i += 1;
    }
    i
}
