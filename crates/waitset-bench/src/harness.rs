//! Sizes, interleaving and clocks.

use std::time::Duration;

use crate::report::Entry;
use crate::{BenchConfig, Error};

/// The sizes of every workload for one configuration.
#[derive(Clone, Debug)]
pub(crate) struct Sizes {
    /// Workload 1: socketpairs in the chain.
    pub(crate) pipes_n: Vec<usize>,
    /// Workload 1: events handled per sample.
    pub(crate) pipes_events: u64,
    /// Workload 2: idle socketpairs.
    pub(crate) idle_n: Vec<usize>,
    /// Workload 2: waits per sample.
    pub(crate) idle_waits: u64,
    /// Workloads 1 and 2: the poll(2) backend is O(N) per wait; run it up to this N only.
    pub(crate) poll_backend_max_n: usize,
    /// Workload 3: ready descriptors.
    pub(crate) many_fds: usize,
    /// Workload 3: waits per sample.
    pub(crate) many_waits: u64,
    /// Workload 4: round trips per sample.
    pub(crate) wake_rounds: u64,
    /// Workload 5a: timers set and canceled per sample.
    pub(crate) timers_cancel: usize,
    /// Workload 5b: timers expiring per sample.
    pub(crate) timers_expire: usize,
    /// Workload 5b: the deadlines are spread evenly over this window.
    pub(crate) expire_window: Duration,
    /// Workload 5b: the first deadline is this far after arming.
    pub(crate) expire_lead: Duration,
    /// Workloads 1 and 2: a sample stops early after this long (the O(N) poll backend).
    pub(crate) sample_cap: Duration,
    /// Workload 6: the time one sample should take (the call count is calibrated to it).
    pub(crate) poll_sample: Duration,
    /// Workload 7: `(entries, calls)` per guest run; 0 entries is `poll(NULL, 0, 0)`.
    pub(crate) guest_poll: Vec<(u64, u64)>,
    /// Workload 8: concurrent clients of the echo server.
    pub(crate) echo_clients: usize,
    /// Workload 8: round trips per client per sample.
    pub(crate) echo_requests: usize,
    /// Workload 9a: asserted events.
    pub(crate) ready_events: Vec<usize>,
    /// Workload 9b: entries queued as ready.
    pub(crate) queued_entries: Vec<usize>,
    /// Workload 9c: descriptors added and removed per sample.
    pub(crate) add_fds: usize,
}

impl Sizes {
    pub(crate) fn for_config(cfg: &BenchConfig) -> Sizes {
        if cfg.tiny {
            Sizes {
                pipes_n: vec![100, 200],
                pipes_events: 400,
                idle_n: vec![10, 100],
                idle_waits: 200,
                poll_backend_max_n: 1000,
                many_fds: 100,
                many_waits: 5,
                wake_rounds: 50,
                timers_cancel: 1000,
                timers_expire: 500,
                expire_window: Duration::from_millis(5),
                expire_lead: Duration::from_millis(20),
                sample_cap: Duration::from_millis(20),
                poll_sample: Duration::from_millis(2),
                guest_poll: vec![(0, 1000), (64, 100), (1024, 20)],
                echo_clients: 100,
                echo_requests: 5,
                ready_events: vec![2_000],
                queued_entries: vec![2_000],
                add_fds: 100,
            }
        } else if cfg.quick {
            Sizes {
                pipes_n: vec![100, 1000, 8000],
                pipes_events: 20_000,
                idle_n: vec![10, 100, 1000, 9000],
                idle_waits: 10_000,
                poll_backend_max_n: 1000,
                many_fds: 1000,
                many_waits: 100,
                wake_rounds: 2_000,
                timers_cancel: 100_000,
                timers_expire: 20_000,
                expire_window: Duration::from_millis(10),
                expire_lead: Duration::from_millis(30),
                sample_cap: Duration::from_millis(60),
                poll_sample: Duration::from_millis(20),
                guest_poll: vec![(0, 10_000), (64, 2_000), (1024, 500)],
                echo_clients: 100,
                echo_requests: 300,
                ready_events: vec![10_000, 100_000],
                queued_entries: vec![30_000],
                add_fds: 1000,
            }
        } else {
            Sizes {
                pipes_n: vec![100, 1000, 8000],
                pipes_events: 200_000,
                idle_n: vec![10, 100, 1000, 3000, 9000],
                idle_waits: 100_000,
                poll_backend_max_n: 1000,
                many_fds: 1000,
                many_waits: 1000,
                wake_rounds: 20_000,
                timers_cancel: 1_000_000,
                timers_expire: 100_000,
                expire_window: Duration::from_millis(20),
                expire_lead: Duration::from_millis(100),
                sample_cap: Duration::from_millis(700),
                poll_sample: Duration::from_millis(150),
                guest_poll: vec![(0, 10_000), (64, 10_000), (1024, 10_000)],
                echo_clients: 100,
                echo_requests: 2_000,
                ready_events: vec![1_000, 10_000, 100_000],
                queued_entries: vec![1_000, 30_000, 100_000],
                add_fds: 4_000,
            }
        }
    }
}

/// The state of one run.
pub(crate) struct Ctx<'p> {
    pub(crate) sizes: Sizes,
    pub(crate) reps: usize,
    /// Only engines whose name contains one of these comma-separated substrings.
    pub(crate) engines: Option<String>,
    pub(crate) progress: &'p mut dyn FnMut(&str),
    /// Workloads 7 and 8: the WASI hosts and the guests.
    pub(crate) hosts: crate::hosts::Hosts,
    /// Workload 8: the echo server runs, measured once and shared by 8a and 8b.
    pub(crate) echo_runs: Option<Vec<crate::workloads::EchoRun>>,
}

/// One engine of an interleaved comparison: its name and a closure producing one sample.
pub(crate) type Runner<'a> = (String, Box<dyn FnMut() -> Result<f64, Error> + 'a>);

impl Ctx<'_> {
    /// Take `reps` samples of every engine at parameter `n`, interleaved A B C A B C ..., after
    /// one discarded warm-up round; returns one entry per engine.
    pub(crate) fn interleave(
        &mut self,
        n: u64,
        mut engines: Vec<Runner<'_>>,
    ) -> Result<Vec<Entry>, Error> {
        if let Some(sel) = self.engines.as_deref() {
            engines.retain(|(name, _)| {
                sel.split(',')
                    .map(str::trim)
                    .any(|s| !s.is_empty() && name.contains(s))
            });
        }
        let names: Vec<&str> = engines.iter().map(|(name, _)| name.as_str()).collect();
        (self.progress)(&format!("  n={n}: {}", names.join(", ")));
        for (_, f) in engines.iter_mut() {
            f()?;
            stop_if_interrupted()?;
        }
        let mut samples = vec![Vec::with_capacity(self.reps); engines.len()];
        for _ in 0..self.reps {
            for (i, (_, f)) in engines.iter_mut().enumerate() {
                let s = f()?;
                stop_if_interrupted()?;
                if !s.is_finite() || s < 0.0 {
                    return Err(Error::Setup(format!("{}: bad sample {s}", engines[i].0)));
                }
                samples[i].push(s);
            }
        }
        Ok(engines
            .into_iter()
            .zip(samples)
            .map(|((name, _), s)| Entry::new(name, n, s))
            .collect())
    }
}

/// After each sample: stop the run if Ctrl-C was pressed (the workload in progress is
/// dropped; the ones before it are kept).
fn stop_if_interrupted() -> Result<(), Error> {
    if crate::interrupt::interrupted() {
        return Err(Error::Interrupted);
    }
    Ok(())
}

/// Nanoseconds on `CLOCK_MONOTONIC` (the clock of [`waitset::Deadline`]).
pub(crate) fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// CPU time of the whole process (every thread), in nanoseconds.
pub(crate) fn process_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// `clock_gettime` through the C library (which valgrind understands: the harness is meant to
/// be run under callgrind too).
fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let r = unsafe { libc::clock_gettime(clock, &mut ts) };
    debug_assert_eq!(r, 0);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A cheap, reproducible scramble of `i` (splitmix64), for spreading deadlines.
pub(crate) fn scramble(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Nanoseconds per operation.
pub(crate) fn per(d: Duration, ops: u64) -> f64 {
    d.as_nanos() as f64 / ops.max(1) as f64
}
