//! The descriptor workloads: 1 (libevent pipes chain), 2 (idle scaling), 3 (many ready).

use std::time::{Duration, Instant};

use crate::engines::{with_reactor, Kind, Reactor, WithReactor};
use crate::fds::{self, drain, put, take, Pair};
use crate::harness::{per, Ctx, Runner};
use crate::report::Workload;
use crate::Error;

/// Results buffer of every engine (workload 3 asks for 1024).
const CAP: usize = 1024;

fn runner<'a, B>(kind: Kind, entries: usize, body: impl Fn() -> B + 'a) -> Runner<'a>
where
    B: WithReactor<'a, Out = f64>,
{
    (
        kind.name().to_string(),
        Box::new(move || with_reactor(kind, CAP, entries, body())),
    )
}

/// Workload 1: the classic libevent `bench` over socketpairs. `active` bytes circulate; each
/// readable event reads its byte and writes one byte to the next pair.
pub(crate) fn pipes(ctx: &mut Ctx<'_>, id: &str, active: usize) -> Result<Workload, Error> {
    pipes_with(ctx, id, active, Kind::WaitSetEpoll, &[])
}

/// Workload 1c: the chain with 1 active, every entry one-shot and re-armed after its event.
pub(crate) fn pipes_rearm(ctx: &mut Ctx<'_>, id: &str) -> Result<Workload, Error> {
    pipes_with(
        ctx,
        id,
        1,
        Kind::WaitSetEpollOneshot,
        &[
            Kind::WaitSetEpollOneshot,
            Kind::WaitSetUringOneshot,
            Kind::Polling,
            Kind::Epoll,
        ],
    )
}

fn pipes_with(
    ctx: &mut Ctx<'_>,
    id: &str,
    active: usize,
    reference: Kind,
    only: &[Kind],
) -> Result<Workload, Error> {
    let mut wl = Workload::new(id, super::title(id), "ns/event", "N", reference.name());
    wl.scaling = true;
    wl.notes.push(format!(
        "{} events per sample (or {} ms, whichever comes first); each event = one read + one write on socketpairs, plus the engine's \
         share of a wait; registration is not timed; results buffer {CAP}",
        ctx.sizes.pipes_events,
        ctx.sizes.sample_cap.as_millis()
    ));
    wl.notes.push(
        "mio is edge-triggered and drains with a short read; polling is one-shot and re-arms \
         every event with epoll_ctl(MOD) (its default mode); raw io_uring is a multishot poll \
         per socketpair reaped from the ring; waitset [uring, edge] has edge-triggered entries, \
         waitset [.., oneshot] one-shot entries re-armed with modify() after every event"
            .into(),
    );
    let sizes = ctx.sizes.clone();
    for &n in &sizes.pipes_n {
        let pool = fds::pairs(n)?;
        let active = active.min(n);
        let events = sizes.pipes_events;
        let cap = sizes.sample_cap;
        let mut kinds = vec![
            Kind::WaitSetEpoll,
            Kind::Epoll,
            Kind::Mio,
            Kind::Polling,
            Kind::WaitSetUring,
            Kind::WaitSetUringEdge,
            Kind::Uring,
        ];
        if n <= sizes.poll_backend_max_n {
            kinds.push(Kind::WaitSetPoll);
        }
        if !only.is_empty() {
            kinds = only.to_vec();
        }
        let pool = &pool;
        let engines = kinds
            .into_iter()
            .map(|k| {
                runner(k, n, move || Pipes {
                    pool,
                    active,
                    events,
                    cap,
                })
            })
            .collect();
        let entries = ctx.interleave(n as u64, engines)?;
        wl.entries.extend(entries);
    }
    Ok(wl)
}

struct Pipes<'a> {
    pool: &'a [Pair],
    active: usize,
    events: u64,
    /// Stop early (checked every 64 waits) once a sample has run this long.
    cap: Duration,
}

impl<'a> WithReactor<'a> for Pipes<'a> {
    type Out = f64;
    fn call<R: Reactor<'a>>(self, mut r: R) -> Result<f64, Error> {
        let pool = self.pool;
        let n = pool.len();
        for (i, p) in pool.iter().enumerate() {
            r.register(p.r(), i)?;
        }
        let space = n / self.active;
        for k in 0..self.active {
            put(&pool[k * space].w);
        }
        let mut count = 0u64;
        let mut waits = 0u32;
        let start = Instant::now();
        while count < self.events {
            waits = waits.wrapping_add(1);
            if waits % 64 == 0 && start.elapsed() > self.cap {
                break;
            }
            r.wait(&mut |tok| {
                if take(&pool[tok].r) > 0 {
                    let next = if tok + 1 == n { 0 } else { tok + 1 };
                    put(&pool[next].w);
                    count += 1;
                }
            })?;
        }
        let elapsed = start.elapsed();
        drop(r);
        drain(pool);
        Ok(per(elapsed, count))
    }
}

/// Workload 2: N idle socketpairs registered, one more pair ping-ponged by the same thread:
/// write a byte, wait, read it.
pub(crate) fn idle(ctx: &mut Ctx<'_>, id: &str) -> Result<Workload, Error> {
    let mut wl = Workload::new(
        id,
        super::title(id),
        "ns/wait",
        "N",
        Kind::WaitSetEpoll.name(),
    );
    wl.scaling = true;
    wl.notes.push(format!(
        "{} iterations per sample (or {} ms) of write 1 byte -> wait -> read it (the write and read are in \
         every engine's figure); polling re-arms its one-shot registration each time",
        ctx.sizes.idle_waits,
        ctx.sizes.sample_cap.as_millis()
    ));
    let sizes = ctx.sizes.clone();
    for &n in &sizes.idle_n {
        let pool = fds::pairs(n + 1)?;
        let waits = sizes.idle_waits;
        let cap = sizes.sample_cap;
        let mut kinds = vec![
            Kind::WaitSetEpoll,
            Kind::Epoll,
            Kind::Mio,
            Kind::Polling,
            Kind::WaitSetUring,
            Kind::Uring,
        ];
        if n <= sizes.poll_backend_max_n {
            kinds.push(Kind::WaitSetPoll);
        }
        let pool = &pool;
        let engines = kinds
            .into_iter()
            .map(|k| runner(k, n + 1, move || Idle { pool, waits, cap }))
            .collect();
        let entries = ctx.interleave(n as u64, engines)?;
        wl.entries.extend(entries);
    }
    Ok(wl)
}

struct Idle<'a> {
    /// `pool[..len-1]` idle, the last pair active.
    pool: &'a [Pair],
    waits: u64,
    /// Stop early (checked every 64 iterations) once a sample has run this long.
    cap: Duration,
}

impl<'a> WithReactor<'a> for Idle<'a> {
    type Out = f64;
    fn call<R: Reactor<'a>>(self, mut r: R) -> Result<f64, Error> {
        let pool = self.pool;
        for (i, p) in pool.iter().enumerate() {
            r.register(p.r(), i)?;
        }
        let hot = pool.len() - 1;
        let act = &pool[hot];
        let start = Instant::now();
        let mut done = 0;
        while done < self.waits {
            done += 1;
            if done % 64 == 0 && start.elapsed() > self.cap {
                break;
            }
            put(&act.w);
            let mut got = false;
            while !got {
                r.wait(&mut |tok| {
                    if tok == hot {
                        take(&act.r);
                        got = true;
                    }
                })?;
            }
        }
        let elapsed = start.elapsed();
        drop(r);
        drain(pool);
        Ok(per(elapsed, done))
    }
}

/// Workload 3: every registered fd holds one unread byte; each wait reports what the buffer
/// holds, nothing is read.
pub(crate) fn many_ready(ctx: &mut Ctx<'_>, id: &str) -> Result<Workload, Error> {
    let mut wl = Workload::new(
        id,
        super::title(id),
        "ns/result",
        "fds",
        Kind::WaitSetEpoll.name(),
    );
    let n = ctx.sizes.many_fds;
    let waits = ctx.sizes.many_waits;
    wl.notes.push(format!(
        "{waits} waits per sample; results buffer {CAP}. polling [oneshot] (its default) must \
         re-arm every result with epoll_ctl(MOD): that is its dispatch cost; polling [level] \
         shows its level mode"
    ));
    let pool = fds::pairs(n)?;
    for p in &pool {
        put(&p.w);
    }
    let pool = &pool;
    let kinds = [
        Kind::WaitSetEpoll,
        Kind::Epoll,
        Kind::Polling,
        Kind::PollingLevel,
        Kind::WaitSetPoll,
        Kind::WaitSetUring,
    ];
    let engines = kinds
        .into_iter()
        .map(|k| runner(k, n, move || Many { pool, waits }))
        .collect();
    let entries = ctx.interleave(n as u64, engines)?;
    wl.entries.extend(entries);
    // Report how many results one wait returns per engine: it differs by design.
    let per_wait: Vec<String> = kinds
        .iter()
        .map(|&k| {
            let results = with_reactor(k, CAP, n, CountOne { pool }).unwrap_or(0);
            format!("{} {results}", k.name())
        })
        .collect();
    wl.notes
        .push(format!("results per wait: {}", per_wait.join(", ")));
    drain(pool);
    Ok(wl)
}

struct Many<'a> {
    pool: &'a [Pair],
    waits: u64,
}

impl<'a> WithReactor<'a> for Many<'a> {
    type Out = f64;
    fn call<R: Reactor<'a>>(self, mut r: R) -> Result<f64, Error> {
        for (i, p) in self.pool.iter().enumerate() {
            r.register(p.r(), i)?;
        }
        let mut results = 0u64;
        let mut sink = 0usize;
        let start = Instant::now();
        for _ in 0..self.waits {
            results += r.wait(&mut |tok| sink ^= tok)? as u64;
        }
        let elapsed = start.elapsed();
        std::hint::black_box(sink);
        Ok(per(elapsed, results))
    }
}

/// How many results the second wait returns (the first may include start-up effects).
struct CountOne<'a> {
    pool: &'a [Pair],
}

impl<'a> WithReactor<'a> for CountOne<'a> {
    type Out = usize;
    fn call<R: Reactor<'a>>(self, mut r: R) -> Result<usize, Error> {
        for (i, p) in self.pool.iter().enumerate() {
            r.register(p.r(), i)?;
        }
        r.wait(&mut |_| {})?;
        r.wait(&mut |_| {})
    }
}
