//! Workload 5: timers. (a) insert + cancel through the public API; (b) timers expiring in
//! order, delivered through waits.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use rustix::event::epoll;
use waitset::{Deadline, Signals, Source, Timer, Trigger, WaitResult, WaitSet};

use crate::harness::{monotonic_ns, per, process_cpu_ns, scramble, Ctx, Runner};
use crate::report::{median, Workload};
use crate::Error;

/// Far-future deadlines of 5a are spread over this many nanoseconds (one minute).
const SPREAD_NS: u64 = 60_000_000_000;

const WAITSET: &str = "waitset Timer";
const HEAP: &str = "std BinaryHeap";
const ASYNC_IO: &str = "async-io Timer";

/// Workload 5a: set `n` timers (all live at once), then cancel them all.
pub(crate) fn insert_cancel(ctx: &mut Ctx<'_>, id: &str) -> Result<Workload, Error> {
    let n = ctx.sizes.timers_cancel;
    let mut wl = Workload::new(id, super::title(id), "ns/timer", "timers", WAITSET);
    wl.notes.push(format!(
        "per sample: arm {n} timers (all pending at once, deadlines spread over a minute, an \
         hour ahead), then cancel them all; the figure is (arm + cancel) / {n}"
    ));
    wl.notes.push(
        "waitset: Timer::set + Timer::cancel on timers pre-added to one WaitSet (the public API; \
         the wheel itself has no public hook). BinaryHeap: push, lazy cancel (a generation \
         bump), and the pop that eventually discards each canceled entry. async-io: \
         Timer::at + one poll with a no-op waker (registers it), then drop (deregisters)"
            .into(),
    );

    // waitset: set up once (one entry per timer), reused by every sample.
    let set = WaitSet::builder().capacity(n).build()?;
    let timers: Vec<Timer> = (0..n).map(|_| Timer::new()).collect();
    for (i, t) in timers.iter().enumerate() {
        set.add(i as u64, Source::from(t), Signals::TIMER)?;
    }
    let base = monotonic_ns() + 3_600_000_000_000;
    let offsets: Vec<u64> = (0..n as u64).map(|i| scramble(i) % SPREAD_NS).collect();
    let deadlines: Vec<Deadline> = offsets
        .iter()
        .map(|&o| Deadline::from_monotonic_nanos(base + o))
        .collect();
    let (timers, deadlines, offsets) = (&timers, &deadlines, &offsets);

    // The two halves of each waitset sample, for a note: (set ns, cancel ns) per timer.
    let split = RefCell::new(Vec::new());
    let split_ref = &split;
    let waitset_sample = move || -> Result<f64, Error> {
        let start = Instant::now();
        for (t, &d) in timers.iter().zip(deadlines) {
            t.set(d, Duration::ZERO);
        }
        let armed = start.elapsed();
        for t in timers {
            t.cancel();
        }
        let total = start.elapsed();
        split_ref
            .borrow_mut()
            .push((per(armed, n as u64), per(total - armed, n as u64)));
        Ok(per(total, n as u64))
    };

    let mut heap: BinaryHeap<Reverse<(u64, u32, u32)>> = BinaryHeap::with_capacity(n);
    let mut gens = vec![0u32; n];
    let heap_sample = move || -> Result<f64, Error> {
        let start = Instant::now();
        for (i, &o) in offsets.iter().enumerate() {
            heap.push(Reverse((base + o, i as u32, gens[i])));
        }
        for g in gens.iter_mut() {
            *g = g.wrapping_add(1); // cancel: the heap entry is now stale
        }
        let mut live = 0u64;
        while let Some(Reverse((_, i, g))) = heap.pop() {
            live += u64::from(gens[i as usize] == g);
        }
        let elapsed = start.elapsed();
        if live != 0 {
            return Err(Error::Setup(
                "heap baseline: a canceled timer survived".into(),
            ));
        }
        Ok(per(elapsed, n as u64))
    };

    let ibase = Instant::now() + Duration::from_secs(3600);
    let mut held: Vec<async_io::Timer> = Vec::with_capacity(n);
    let async_sample = move || -> Result<f64, Error> {
        let mut cx = Context::from_waker(Waker::noop());
        let start = Instant::now();
        for &o in offsets {
            let mut t = async_io::Timer::at(ibase + Duration::from_nanos(o));
            if Pin::new(&mut t).poll(&mut cx).is_ready() {
                return Err(Error::Setup("async-io timer fired an hour early".into()));
            }
            held.push(t);
        }
        held.clear();
        Ok(per(start.elapsed(), n as u64))
    };

    let engines: Vec<Runner<'_>> = vec![
        (WAITSET.into(), Box::new(waitset_sample)),
        (HEAP.into(), Box::new(heap_sample)),
        (ASYNC_IO.into(), Box::new(async_sample)),
    ];
    let entries = ctx.interleave(n as u64, engines)?;
    wl.entries.extend(entries);
    let split = split.into_inner();
    if split.len() > 1 {
        // The first pair is the warm-up round.
        let (sets, cancels): (Vec<f64>, Vec<f64>) = split[1..].iter().copied().unzip();
        wl.notes.push(format!(
            "waitset split (medians): Timer::set {:.1} ns + Timer::cancel {:.1} ns per timer",
            median(&sets),
            median(&cancels)
        ));
    }
    drop(set);
    Ok(wl)
}

/// Workload 5b: `n` timers armed with deadlines spread evenly over a short window; the figure
/// is the process CPU time spent from the first wait until the last timer was delivered, per
/// timer (the wall time is the window, whatever the engine).
pub(crate) fn expire(ctx: &mut Ctx<'_>, id: &str) -> Result<Workload, Error> {
    let n = ctx.sizes.timers_expire;
    let window = ctx.sizes.expire_window;
    let lead = ctx.sizes.expire_lead;
    let mut wl = Workload::new(id, super::title(id), "CPU ns/timer", "timers", WAITSET);
    wl.notes.push(format!(
        "{n} timers, deadlines spread evenly over {} ms starting {} ms after arming; figure = \
         process CPU time (all threads) from the first wait to the last delivery / {n}; \
         delivery order is checked",
        window.as_millis(),
        lead.as_millis()
    ));
    wl.notes.push(
        "waitset: one-shot Timer entries on one WaitSet, results buffer 1024. BinaryHeap: pop \
         what is due, else epoll_wait on an empty epoll until the top deadline. async-io: every \
         Timer registered first (polled once), then awaited in order inside block_on"
            .into(),
    );
    let window_ns = window.as_nanos() as u64;
    let lead_ns = lead.as_nanos() as u64;

    let set = WaitSet::builder().capacity(n).build()?;
    let timers: Vec<Timer> = (0..n).map(|_| Timer::new()).collect();
    for (i, t) in timers.iter().enumerate() {
        set.add_with(i as u64, Source::from(t), Signals::TIMER, Trigger::Oneshot)?;
    }
    let (set, timers) = (&set, &timers);
    let waitset_sample = move || -> Result<f64, Error> {
        let start = monotonic_ns() + lead_ns;
        for (i, t) in timers.iter().enumerate() {
            let d = start + i as u64 * window_ns / n as u64;
            t.set(Deadline::from_monotonic_nanos(d), Duration::ZERO);
            set.modify(i as u64, Signals::TIMER)?; // re-arm the one-shot entry
        }
        let mut buf = vec![WaitResult::default(); 1024];
        let (mut delivered, mut last, mut inversions) = (0usize, None, 0u64);
        let cpu = process_cpu_ns();
        while delivered < n {
            let k = set.wait(Deadline::INFINITE, &mut buf)?;
            for r in &buf[..k] {
                inversions += u64::from(last.is_some_and(|l| r.cookie < l));
                last = Some(r.cookie);
            }
            delivered += k;
        }
        let cpu = process_cpu_ns() - cpu;
        check(WAITSET, delivered, n, inversions)?;
        Ok(cpu as f64 / n as f64)
    };

    let ep = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    let mut heap: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::with_capacity(n);
    let heap_sample = move || -> Result<f64, Error> {
        let start = monotonic_ns() + lead_ns;
        for i in 0..n {
            heap.push(Reverse((start + i as u64 * window_ns / n as u64, i as u32)));
        }
        let mut evbuf = [MaybeUninit::<epoll::Event>::uninit(); 1];
        let (mut delivered, mut last, mut inversions) = (0usize, None, 0u64);
        let cpu = process_cpu_ns();
        while let Some(&Reverse((top, _))) = heap.peek() {
            let now = monotonic_ns();
            if top > now {
                let d = top - now;
                let ts = rustix::time::Timespec {
                    tv_sec: (d / 1_000_000_000) as i64,
                    tv_nsec: (d % 1_000_000_000) as i64,
                };
                match epoll::wait(&ep, &mut evbuf[..], Some(&ts)) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            while let Some(&Reverse((when, i))) = heap.peek() {
                if when > now {
                    break;
                }
                heap.pop();
                inversions += u64::from(last.is_some_and(|l| i < l));
                last = Some(i);
                delivered += 1;
            }
        }
        let cpu = process_cpu_ns() - cpu;
        check(HEAP, delivered, n, inversions)?;
        Ok(cpu as f64 / n as f64)
    };

    let async_sample = move || -> Result<f64, Error> {
        let mut cx = Context::from_waker(Waker::noop());
        let start = Instant::now() + lead;
        let mut ts: Vec<async_io::Timer> = (0..n)
            .map(|i| {
                let at = start + Duration::from_nanos(i as u64 * window_ns / n as u64);
                let mut t = async_io::Timer::at(at);
                let _ = Pin::new(&mut t).poll(&mut cx);
                t
            })
            .collect();
        let cpu = process_cpu_ns();
        let delivered = async_io::block_on(async {
            let mut delivered = 0;
            for t in ts.iter_mut() {
                t.await;
                delivered += 1;
            }
            delivered
        });
        let cpu = process_cpu_ns() - cpu;
        check(ASYNC_IO, delivered, n, 0)?;
        Ok(cpu as f64 / n as f64)
    };

    let engines: Vec<Runner<'_>> = vec![
        (WAITSET.into(), Box::new(waitset_sample)),
        (HEAP.into(), Box::new(heap_sample)),
        (ASYNC_IO.into(), Box::new(async_sample)),
    ];
    let entries = ctx.interleave(n as u64, engines)?;
    wl.entries.extend(entries);
    Ok(wl)
}

fn check(engine: &str, delivered: usize, n: usize, inversions: u64) -> Result<(), Error> {
    if delivered != n || inversions != 0 {
        return Err(Error::Setup(format!(
            "{engine}: delivered {delivered} of {n} timers with {inversions} out of order"
        )));
    }
    Ok(())
}
