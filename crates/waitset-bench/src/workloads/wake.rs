//! Workload 4: a cross-thread wake round trip. Thread A raises B's signal and waits for its
//! own; thread B wakes from its wait, clears, and raises A's. Both threads block in the kernel
//! every time: this is two wake-ups per round trip.

use std::num::NonZeroUsize;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use waitset::{BackendKind, Deadline, Event, Signals, Source, Trigger, WaitResult, WaitSet};

use crate::harness::{per, Ctx, Runner};
use crate::report::Workload;
use crate::Error;

pub(crate) fn round_trip(ctx: &mut Ctx<'_>, id: &str) -> Result<Workload, Error> {
    let reference = "waitset Event";
    let mut wl = Workload::new(id, super::title(id), "ns/round trip", "threads", reference);
    let rounds = ctx.sizes.wake_rounds;
    wl.notes.push(format!(
        "{rounds} round trips per sample between two threads that both block; waitset Event: \
         B waits on a WaitSet holding the Event (level-triggered, the default), clears it and \
         raises A's; [edge] is the same with Trigger::Edge; waitset Event is on epoll, \
         [uring] on io_uring (its wake-up is a message to the ring); mio: Poll + Waker; \
         polling: Poller::notify"
    ));
    let engines: Vec<Runner<'_>> = vec![
        (
            reference.into(),
            Box::new(move || waitset_events(rounds, BackendKind::Epoll, Trigger::Level)),
        ),
        ("mio Waker".into(), Box::new(move || mio_waker(rounds))),
        (
            "polling notify".into(),
            Box::new(move || polling_notify(rounds)),
        ),
        (
            "waitset Event [edge]".into(),
            Box::new(move || waitset_events(rounds, BackendKind::Epoll, Trigger::Edge)),
        ),
        (
            "waitset Event [uring]".into(),
            Box::new(move || waitset_events(rounds, BackendKind::Uring, Trigger::Level)),
        ),
        (
            "waitset Event [uring, edge]".into(),
            Box::new(move || waitset_events(rounds, BackendKind::Uring, Trigger::Edge)),
        ),
    ];
    let entries = ctx.interleave(2, engines)?;
    wl.entries.extend(entries);
    Ok(wl)
}

/// Run `a` on this thread and `b` on another, both after a barrier; returns `a`'s time.
fn pair_of_threads(
    a: impl FnOnce() -> Result<(), Error>,
    b: impl FnOnce() -> Result<(), Error> + Send,
) -> Result<Duration, Error> {
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let hb = s.spawn(|| {
            barrier.wait();
            b()
        });
        barrier.wait();
        let start = Instant::now();
        let ra = a();
        let elapsed = start.elapsed();
        let rb = hb
            .join()
            .map_err(|_| Error::Setup("wake thread panicked".into()))?;
        ra.and(rb).map(|()| elapsed)
    })
}

fn waitset_events(rounds: u64, backend: BackendKind, trigger: Trigger) -> Result<f64, Error> {
    let (ea, eb) = (Event::new(), Event::new());
    let set = || WaitSet::builder().backend(backend).build();
    let (sa, sb) = (set()?, set()?);
    sa.add_with(0, Source::from(&ea), Signals::USER_0, trigger)?;
    sb.add_with(0, Source::from(&eb), Signals::USER_0, trigger)?;
    let elapsed = pair_of_threads(
        || {
            let mut out = [WaitResult::default(); 4];
            for _ in 0..rounds {
                eb.signal(Signals::empty(), Signals::USER_0)?;
                sa.wait(Deadline::INFINITE, &mut out)?;
                ea.signal(Signals::USER_0, Signals::empty())?;
            }
            Ok(())
        },
        || {
            let mut out = [WaitResult::default(); 4];
            for _ in 0..rounds {
                sb.wait(Deadline::INFINITE, &mut out)?;
                eb.signal(Signals::USER_0, Signals::empty())?;
                ea.signal(Signals::empty(), Signals::USER_0)?;
            }
            Ok(())
        },
    )?;
    Ok(per(elapsed, rounds))
}

fn mio_waker(rounds: u64) -> Result<f64, Error> {
    let (mut pa, mut pb) = (mio::Poll::new()?, mio::Poll::new()?);
    let wa = mio::Waker::new(pa.registry(), mio::Token(0))?;
    let wb = mio::Waker::new(pb.registry(), mio::Token(0))?;
    /// Poll until the waker's token is reported.
    fn wait_for_waker(p: &mut mio::Poll, ev: &mut mio::Events) -> Result<(), Error> {
        loop {
            match p.poll(ev, None) {
                Ok(()) if ev.iter().any(|e| e.token() == mio::Token(0)) => return Ok(()),
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let (wa, wb) = (&wa, &wb);
    let elapsed = pair_of_threads(
        move || {
            let mut ev = mio::Events::with_capacity(4);
            for _ in 0..rounds {
                wb.wake()?;
                wait_for_waker(&mut pa, &mut ev)?;
            }
            Ok(())
        },
        move || {
            let mut ev = mio::Events::with_capacity(4);
            for _ in 0..rounds {
                wait_for_waker(&mut pb, &mut ev)?;
                wa.wake()?;
            }
            Ok(())
        },
    )?;
    Ok(per(elapsed, rounds))
}

fn polling_notify(rounds: u64) -> Result<f64, Error> {
    let (pa, pb) = (polling::Poller::new()?, polling::Poller::new()?);
    let cap = NonZeroUsize::new(4).expect("4 > 0");
    let (pa, pb) = (&pa, &pb);
    // A wait with no timeout returns only once notified (no source is registered).
    let elapsed = pair_of_threads(
        move || {
            let mut ev = polling::Events::with_capacity(cap);
            for _ in 0..rounds {
                pb.notify()?;
                ev.clear();
                pa.wait(&mut ev, None)?;
            }
            Ok(())
        },
        move || {
            let mut ev = polling::Events::with_capacity(cap);
            for _ in 0..rounds {
                ev.clear();
                pb.wait(&mut ev, None)?;
                pa.notify()?;
            }
            Ok(())
        },
    )?;
    Ok(per(elapsed, rounds))
}
