//! Workload 9: costs inside the engine that must not grow with the set (issue 7, §4).
//!
//! * 9a: many asserted level-triggered Events, a 1,024-slot buffer: the cost per result must not
//!   depend on how many entries are ready (no per-wait pass over the ready entries).
//! * 9b: removing an entry that is queued as ready, with many queued: O(1).
//! * 9c: adding a descriptor (then removing it), against a raw `epoll_ctl(ADD)` + `DEL`.

use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::pipe::{pipe_with, PipeFlags};
use waitset::{BackendKind, Deadline, Event, Signals, Source, WaitResult, WaitSet};

use crate::harness::{per, Ctx, Runner};
use crate::report::Workload;
use crate::Error;

fn set(backend: BackendKind, n: usize) -> Result<WaitSet, Error> {
    Ok(WaitSet::builder().backend(backend).capacity(n).build()?)
}

/// 9a: ns per result with `n` asserted level Events and a 1,024-slot buffer.
pub(crate) fn events_ready(ctx: &mut Ctx<'_>, id: &str) -> Result<Workload, Error> {
    let reference = "waitset [epoll]";
    let mut wl = Workload::new(
        id,
        super::title(id),
        "ns/result",
        "asserted events",
        reference,
    );
    wl.notes.push(
        "every Event asserted and level-triggered; each wait fills a 1,024-slot buffer; the \
         figure is wait time / results. Goal: <= 30 ns per result at 100,000"
            .into(),
    );
    for n in ctx.sizes.ready_events.clone() {
        let mut engines: Vec<Runner<'_>> = Vec::new();
        for backend in [BackendKind::Epoll, BackendKind::Poll] {
            let s = set(backend, n)?;
            let evs: Vec<Event> = (0..n).map(|_| Event::new()).collect();
            for (i, ev) in evs.iter().enumerate() {
                s.add(i as u64, Source::from(ev), Signals::USER_0)?;
                ev.signal(Signals::empty(), Signals::USER_0)?;
            }
            let waits = (n / 1024).max(4) as u64;
            let mut out = vec![WaitResult::default(); 1024];
            engines.push((
                format!("waitset [{}]", backend.name()),
                Box::new(move || {
                    let _keep = &evs;
                    let start = Instant::now();
                    let mut results = 0u64;
                    for _ in 0..waits {
                        results += s.wait(Deadline::now(), &mut out)? as u64;
                    }
                    Ok(per(start.elapsed(), results))
                }),
            ));
        }
        let entries = ctx.interleave(n as u64, engines)?;
        wl.entries.extend(entries);
    }
    Ok(wl)
}

/// 9b: µs per removal of an entry queued as ready, with `n` queued.
pub(crate) fn remove_queued(ctx: &mut Ctx<'_>, id: &str) -> Result<Workload, Error> {
    let reference = "waitset [epoll]";
    let mut wl = Workload::new(
        id,
        super::title(id),
        "ns/remove",
        "queued entries",
        reference,
    );
    wl.notes.push(
        "n asserted Events queued as ready (nothing waited yet); each sample removes 1,000 of \
         them and adds them back (untimed). Goal: <= 2 us per removal at 30,000"
            .into(),
    );
    for n in ctx.sizes.queued_entries.clone() {
        let mut engines: Vec<Runner<'_>> = Vec::new();
        for backend in [BackendKind::Epoll, BackendKind::Poll] {
            let s = set(backend, n)?;
            let evs: Vec<Event> = (0..n).map(|_| Event::new()).collect();
            for (i, ev) in evs.iter().enumerate() {
                ev.signal(Signals::empty(), Signals::USER_0)?;
                s.add(i as u64, Source::from(ev), Signals::USER_0)?;
            }
            let batch = 1000.min(n);
            let mut round = 0usize;
            engines.push((
                format!("waitset [{}]", backend.name()),
                Box::new(move || {
                    // A different spread of cookies each sample, across the whole queue.
                    round += 1;
                    let pick = |k: usize| (k * (n / batch) + round) % n;
                    let start = Instant::now();
                    for k in 0..batch {
                        s.remove(pick(k) as u64)?;
                    }
                    let took = start.elapsed();
                    for k in 0..batch {
                        let i = pick(k);
                        s.add(i as u64, Source::from(&evs[i]), Signals::USER_0)?;
                    }
                    Ok(per(took, batch as u64))
                }),
            ));
        }
        let entries = ctx.interleave(n as u64, engines)?;
        wl.entries.extend(entries);
    }
    Ok(wl)
}

/// 9c: ns per add + remove of a pipe's read end, against raw epoll_ctl ADD + DEL.
pub(crate) fn add_fd(ctx: &mut Ctx<'_>, id: &str) -> Result<Workload, Error> {
    let reference = "waitset [epoll]";
    let mut wl = Workload::new(id, super::title(id), "ns/add+remove", "fds", reference);
    wl.notes.push(
        "each sample adds then removes every read end of n pipes; raw epoll: epoll_ctl ADD then \
         DEL on the same fds. Goal: waitset <= 1.15x raw epoll"
            .into(),
    );
    let n = ctx.sizes.add_fds;
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..n)
        .map(|_| pipe_with(PipeFlags::NONBLOCK | PipeFlags::CLOEXEC))
        .collect::<Result<_, _>>()?;
    let pipes = &pipes;
    let mut engines: Vec<Runner<'_>> = Vec::new();
    for backend in [BackendKind::Epoll, BackendKind::Poll] {
        let s = set(backend, n)?;
        engines.push((
            format!("waitset [{}]", backend.name()),
            Box::new(move || {
                let start = Instant::now();
                for (i, (r, _)) in pipes.iter().enumerate() {
                    // SAFETY: removed just below, while `r` is open.
                    unsafe { s.add(i as u64, Source::fd(r), Signals::READABLE)? };
                }
                for i in 0..pipes.len() {
                    s.remove(i as u64)?;
                }
                Ok(per(start.elapsed(), pipes.len() as u64))
            }),
        ));
    }
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    engines.push((
        "raw epoll".into(),
        Box::new(move || {
            let start = Instant::now();
            for (i, (r, _)) in pipes.iter().enumerate() {
                epoll::add(
                    &ep,
                    r.as_fd(),
                    EventData::new_u64(i as u64),
                    EventFlags::IN | EventFlags::RDHUP,
                )?;
            }
            for (r, _) in pipes {
                epoll::delete(&ep, r.as_fd())?;
            }
            Ok(per(start.elapsed(), pipes.len() as u64))
        }),
    ));
    let entries = ctx.interleave(n as u64, engines)?;
    wl.entries.extend(entries);
    Ok(wl)
}
