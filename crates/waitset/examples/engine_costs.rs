//! Costs inside the engine that must not grow with the set (issue 7, §4), in one program that
//! also compiles against the engine before the restructure (so `scripts/bench-engine-costs REV`
//! can run the same code on both and print them side by side):
//!
//! * `events`: ns per result, 100,000 asserted level-triggered Events, a 1,024-slot buffer;
//! * `remove`: ns per removal of an entry queued as ready, 30,000 queued;
//! * `add`: ns per add + remove of a pipe's read end (as a raw fd, and as a [`Handle`] made
//!   once), and the same with bare `epoll_ctl`.
//!
//! ```text
//! cargo run --release -p waitset --example engine_costs
//! ```
//!
//! Each figure is the median of 11 samples, the engines of a figure interleaved.

use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use waitset::{Deadline, Event, Handle, Signals, Source, WaitResult, WaitSet};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn events(n: usize) -> f64 {
    let set = WaitSet::builder().capacity(n).build().unwrap();
    let evs: Vec<Event> = (0..n).map(|_| Event::new()).collect();
    for (i, ev) in evs.iter().enumerate() {
        set.add(i as u64, Source::from(ev), Signals::USER_0)
            .unwrap();
        ev.signal(Signals::empty(), Signals::USER_0).unwrap();
    }
    let mut out = vec![WaitResult::default(); 1024];
    let waits = (n / 1024).max(4) * 2;
    let mut samples = Vec::new();
    for _ in 0..11 {
        let start = Instant::now();
        let mut results = 0;
        for _ in 0..waits {
            results += set.wait(Deadline::now(), &mut out).unwrap();
        }
        samples.push(start.elapsed().as_nanos() as f64 / results as f64);
    }
    median(samples)
}

fn remove(n: usize) -> f64 {
    let set = WaitSet::builder().capacity(n).build().unwrap();
    let evs: Vec<Event> = (0..n).map(|_| Event::new()).collect();
    for (i, ev) in evs.iter().enumerate() {
        ev.signal(Signals::empty(), Signals::USER_0).unwrap();
        set.add(i as u64, Source::from(ev), Signals::USER_0)
            .unwrap();
    }
    let batch = 1000;
    let mut samples = Vec::new();
    for round in 0..11 {
        let pick = |k: usize| (k * (n / batch) + round) % n;
        let start = Instant::now();
        for k in 0..batch {
            set.remove(pick(k) as u64).unwrap();
        }
        samples.push(start.elapsed().as_nanos() as f64 / batch as f64);
        for k in 0..batch {
            let i = pick(k);
            set.add(i as u64, Source::from(&evs[i]), Signals::USER_0)
                .unwrap();
        }
    }
    median(samples)
}

#[allow(unused_unsafe)] // `Source::fd` is an unsafe fn since the restructure, safe before it
fn add(pipes: &[(OwnedFd, OwnedFd)], handles: &[Handle]) -> (f64, f64, f64) {
    use rustix::event::epoll;
    let set = WaitSet::new().unwrap();
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).unwrap();
    let (mut ws, mut wh, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..11 {
        let start = Instant::now();
        for (i, (r, _)) in pipes.iter().enumerate() {
            // SAFETY: removed below, while `r` is open.
            unsafe { set.add(i as u64, Source::fd(r), Signals::READABLE).unwrap() };
        }
        for i in 0..pipes.len() {
            set.remove(i as u64).unwrap();
        }
        ws.push(start.elapsed().as_nanos() as f64 / pipes.len() as f64);
        let start = Instant::now();
        for (i, h) in handles.iter().enumerate() {
            set.add(i as u64, Source::from(h), Signals::READABLE)
                .unwrap();
        }
        for i in 0..handles.len() {
            set.remove(i as u64).unwrap();
        }
        wh.push(start.elapsed().as_nanos() as f64 / handles.len() as f64);
        let start = Instant::now();
        for (i, (r, _)) in pipes.iter().enumerate() {
            let flags = epoll::EventFlags::IN | epoll::EventFlags::RDHUP;
            epoll::add(&ep, r.as_fd(), epoll::EventData::new_u64(i as u64), flags).unwrap();
        }
        for (r, _) in pipes {
            epoll::delete(&ep, r.as_fd()).unwrap();
        }
        raw.push(start.elapsed().as_nanos() as f64 / pipes.len() as f64);
    }
    (median(ws), median(wh), median(raw))
}

fn main() {
    let backend = format!("{:?}", WaitSet::new().unwrap().backend());
    println!("backend {backend}");
    println!(
        "events: {:.1} ns/result (100,000 asserted, buffer 1,024)",
        events(100_000)
    );
    println!("remove: {:.0} ns/remove (30,000 queued)", remove(30_000));
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..1000).map(|_| rustix::pipe::pipe().unwrap()).collect();
    let handles: Vec<Handle> = (0..1000)
        .map(|_| Handle::new(rustix::pipe::pipe().unwrap().0))
        .collect();
    let (ws, wh, raw) = add(&pipes, &handles);
    println!(
        "add:    {ws:.0} ns/add+remove vs raw epoll_ctl {raw:.0} ns: {:.3}x",
        ws / raw
    );
    println!(
        "add:    {wh:.0} ns/add+remove of a Handle vs raw epoll_ctl {raw:.0} ns: {:.3}x",
        wh / raw
    );
}
