//! `runtime::async_io::AsyncWaitSet` under smol (async-io's reactor, smol's executor on
//! several threads): descriptors, Events raised from other threads, Timers, Handle close →
//! Canceled, set close → Error::Canceled, and cancellation (futures dropped mid-wait,
//! thousands of times: nothing lost, nothing twice).
//!
//! Always on the epoll backend (the only one with a pollable descriptor), whatever
//! `WAITSET_BACKEND` says; the poll(2) backend is checked to be refused.

mod util;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smol::future::FutureExt;
use util::*;
use waitset::runtime::async_io::AsyncWaitSet;
use waitset::{
    BackendKind, Deadline, Delivery, Error, Event, Handle, Signals, Source, Status, Timer, Trigger,
    WaitResult, WaitSet,
};

/// A generous bound on any single wait of these tests: a watchdog, never a measurement.
const WATCHDOG: Duration = Duration::from_secs(30);

type Ex = Arc<smol::Executor<'static>>;

/// Run `f` on a smol executor driven by two threads besides this one; `f` spawns its tasks
/// on the executor it is given.
fn run<T: Send + 'static, F: Future<Output = T> + Send + 'static>(f: impl FnOnce(Ex) -> F) -> T {
    let ex: Ex = Arc::new(smol::Executor::new());
    let (stop, stopped) = smol::channel::unbounded::<()>();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (ex, stopped) = (ex.clone(), stopped.clone());
            std::thread::spawn(move || smol::block_on(ex.run(stopped.recv())))
        })
        .collect();
    let out = smol::block_on(ex.run(ex.spawn(f(ex.clone()))));
    drop(stop);
    for w in workers {
        let _ = w.join().unwrap();
    }
    out
}

fn epoll_set() -> WaitSet {
    set(BackendKind::Epoll)
}

/// `fut`, or `None` after `after`.
async fn within<T>(after: Duration, fut: impl Future<Output = T>) -> Option<T> {
    async { Some(fut.await) }
        .or(async {
            smol::Timer::after(after).await;
            None
        })
        .await
}

/// `wait_async` under the watchdog.
async fn wait(aset: &AsyncWaitSet, cap: usize) -> waitset::Result<Vec<WaitResult>> {
    let mut out = vec![WaitResult::default(); cap];
    let n = within(WATCHDOG, aset.wait_async(&mut out))
        .await
        .expect("wait_async never completed")?;
    out.truncate(n);
    Ok(out)
}

#[test]
fn a_descriptor_written_by_another_thread_wakes_the_task() {
    run(|_| async move {
        let s = epoll_set();
        let (r, w) = pipe();
        s.add(1, fd_source(&r), Signals::READABLE).unwrap();
        let aset = AsyncWaitSet::new(&s).unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            write(&w, b"hello");
            w
        });
        let got = wait(&aset, 4).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].cookie, got[0].status), (1, Status::Satisfied));
        assert!(got[0].observed.contains(Signals::READABLE));
        // Level-triggered: still readable, reported again at once.
        assert_eq!(wait(&aset, 4).await.unwrap()[0].cookie, 1);
        drain(&r);
        let _w = writer.join().unwrap();
        // Drained: nothing to report, so the wait does not complete.
        let mut out = [WaitResult::default(); 1];
        let pending = within(Duration::from_millis(30), aset.wait_async(&mut out)).await;
        assert!(pending.is_none(), "reported a drained pipe: {out:?}");
    });
}

#[test]
fn events_raised_from_other_threads_wake_tasks_on_every_worker() {
    run(|ex| async move {
        let s = epoll_set();
        let events: Vec<Event> = (0..8).map(|_| Event::new()).collect();
        for (i, ev) in events.iter().enumerate() {
            s.add_with(
                i as u64,
                Source::from(ev),
                Signals::USER_3,
                Trigger::Oneshot,
            )
            .unwrap();
        }
        let aset = Arc::new(AsyncWaitSet::new(&s).unwrap());
        let (tx, rx) = smol::channel::unbounded();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (aset, tx) = (aset.clone(), tx.clone());
                ex.spawn(async move {
                    loop {
                        let mut out = [WaitResult::default(); 2];
                        match aset.wait_async(&mut out).await {
                            Ok(n) => out[..n].iter().for_each(|r| tx.try_send(r.cookie).unwrap()),
                            Err(Error::Canceled) => return,
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let raiser = std::thread::spawn(move || {
            for ev in &events {
                std::thread::sleep(Duration::from_millis(2));
                ev.signal(Signals::empty(), Signals::USER_3).unwrap();
            }
            events
        });
        let mut seen = Vec::new();
        while seen.len() < 8 {
            let cookie = within(WATCHDOG, rx.recv()).await;
            seen.push(cookie.expect("an event was never reported").unwrap());
        }
        let _events = raiser.join().unwrap();
        s.close();
        for t in tasks {
            within(WATCHDOG, t)
                .await
                .expect("a task was not woken by the close");
        }
        while let Ok(extra) = rx.try_recv() {
            seen.push(extra);
        }
        seen.sort_unstable();
        assert_eq!(
            seen,
            (0..8).collect::<Vec<u64>>(),
            "each event exactly once"
        );
    });
}

#[test]
fn timers_fire_through_the_reactor() {
    run(|_| async move {
        let s = epoll_set();
        let (t1, t2) = (Timer::new(), Timer::new());
        s.add(1, Source::from(&t1), Signals::TIMER).unwrap();
        s.add(2, Source::from(&t2), Signals::TIMER).unwrap();
        let aset = AsyncWaitSet::new(&s).unwrap();
        t2.set(Deadline::after(Duration::from_millis(10)), Duration::ZERO);
        t1.set(Deadline::after(Duration::from_millis(40)), Duration::ZERO);
        let first = wait(&aset, 4).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(
            (first[0].cookie, first[0].observed),
            (2, Signals::TIMER),
            "the earlier timer first"
        );
        assert!(t2.fired() && Deadline::now() >= t2.deadline().unwrap());
        t2.cancel();
        let second = wait(&aset, 4).await.unwrap();
        assert_eq!((second[0].cookie, second.len()), (1, 1));
        assert!(Deadline::now() >= t1.deadline().unwrap(), "fired early");
    });
}

#[test]
fn a_handle_closed_on_another_thread_reports_canceled() {
    run(|_| async move {
        let s = epoll_set();
        let (r, _w) = pipe();
        let h = Arc::new(Handle::new(r));
        s.add(5, Source::from(&*h), Signals::READABLE).unwrap();
        let aset = AsyncWaitSet::new(&s).unwrap();
        let closer = {
            let h = h.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                h.close().unwrap();
            })
        };
        let got = wait(&aset, 4).await.unwrap();
        closer.join().unwrap();
        assert_eq!((got[0].cookie, got[0].status), (5, Status::Canceled));
        assert!(!s.contains(5), "a canceled entry leaves the set");
    });
}

#[test]
fn closing_the_set_wakes_a_waiting_task_with_canceled() {
    run(|ex| async move {
        let s = epoll_set();
        let ev = Event::new();
        s.add(1, Source::from(&ev), Signals::USER_0).unwrap();
        let aset = Arc::new(AsyncWaitSet::new(&s).unwrap());
        let task = {
            let aset = aset.clone();
            ex.spawn(async move { wait(&aset, 1).await })
        };
        smol::Timer::after(Duration::from_millis(20)).await;
        let s2 = s.clone();
        std::thread::spawn(move || s2.close()).join().unwrap();
        assert!(matches!(task.await, Err(Error::Canceled)));
        assert!(matches!(wait(&aset, 1).await, Err(Error::Canceled)));
    });
}

#[test]
fn sets_that_cannot_be_awaited_are_refused() {
    run(|_| async move {
        let on_poll = set(BackendKind::Poll);
        assert!(matches!(
            AsyncWaitSet::new(&on_poll),
            Err(Error::NotSupported(_))
        ));
        let exclusive = WaitSet::builder()
            .backend(BackendKind::Epoll)
            .delivery(Delivery::Exclusive)
            .build()
            .unwrap();
        assert!(matches!(
            AsyncWaitSet::new(&exclusive),
            Err(Error::NotSupported(_))
        ));
        let aset = AsyncWaitSet::new(&epoll_set()).unwrap();
        assert!(matches!(
            aset.wait_async(&mut []).await,
            Err(Error::InvalidArgument(_))
        ));
    });
}

/// Drop `wait_async` futures mid-wait thousands of times while other threads raise one-shot
/// Events and one-shot Timers fire: every entry must still be reported exactly once. A future
/// that took results from the set and was then dropped would lose them for good (a one-shot
/// entry is never reported again), so the count would come up short.
#[test]
fn dropping_the_future_mid_wait_loses_nothing() {
    const EVENTS: u64 = 400;
    const TIMERS: u64 = 100;
    const TOTAL: usize = (EVENTS + TIMERS) as usize;
    run(|ex| async move {
        let s = epoll_set();
        let events: Vec<Event> = (0..EVENTS).map(|_| Event::new()).collect();
        for (i, ev) in events.iter().enumerate() {
            s.add_with(
                i as u64,
                Source::from(ev),
                Signals::USER_0,
                Trigger::Oneshot,
            )
            .unwrap();
        }
        let timers: Vec<Timer> = (0..TIMERS).map(|_| Timer::new()).collect();
        for (i, t) in timers.iter().enumerate() {
            let cookie = EVENTS + i as u64;
            s.add_with(cookie, Source::from(t), Signals::TIMER, Trigger::Oneshot)
                .unwrap();
            // Spread over about 100 ms, so that the collectors spend most of the run waiting.
            t.set(
                Deadline::after(Duration::from_millis(i as u64)),
                Duration::ZERO,
            );
        }
        let aset = Arc::new(AsyncWaitSet::new(&s).unwrap());
        let raisers: Vec<_> = events
            .chunks(EVENTS as usize / 2)
            .map(|chunk| {
                let chunk = chunk.to_vec();
                std::thread::spawn(move || {
                    for (i, ev) in chunk.iter().enumerate() {
                        if i % 8 == 0 {
                            std::thread::sleep(Duration::from_micros(500));
                        }
                        ev.signal(Signals::empty(), Signals::USER_0).unwrap();
                    }
                })
            })
            .collect();
        // Two tasks collect, each racing every wait against a yield (or a tiny timer), so most
        // of their futures are dropped before, while or just after the set becomes ready.
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let collectors: Vec<_> = (0..2u32)
            .map(|k| {
                let (aset, received) = (aset.clone(), received.clone());
                ex.spawn(async move {
                    let watchdog = Instant::now() + WATCHDOG;
                    let mut dropped = 0u64;
                    let mut out = [WaitResult::default(); 3];
                    let mut round = 0u32;
                    while received.lock().unwrap().len() < TOTAL && Instant::now() < watchdog {
                        round += 1;
                        let wait = async { Some(aset.wait_async(&mut out).await.unwrap()) };
                        let give_up = async {
                            if (round + k) % 3 == 0 {
                                smol::Timer::after(Duration::from_micros(50)).await;
                            } else {
                                smol::future::yield_now().await;
                            }
                            None
                        };
                        // `race` picks which to poll first at random.
                        let Some(n) = smol::future::race(wait, give_up).await else {
                            dropped += 1;
                            continue;
                        };
                        received
                            .lock()
                            .unwrap()
                            .extend(out[..n].iter().map(|r| r.cookie));
                    }
                    dropped
                })
            })
            .collect();
        for r in raisers {
            r.join().unwrap();
        }
        let mut dropped = 0;
        for c in collectors {
            dropped += c.await;
        }
        let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
        for &cookie in received.lock().unwrap().iter() {
            *seen.entry(cookie).or_default() += 1;
        }
        let missing: Vec<u64> = (0..TOTAL as u64)
            .filter(|c| !seen.contains_key(c))
            .collect();
        let twice: Vec<u64> = seen
            .iter()
            .filter(|(_, &n)| n > 1)
            .map(|(&c, _)| c)
            .collect();
        assert!(missing.is_empty(), "lost results: {missing:?}");
        assert!(twice.is_empty(), "reported twice: {twice:?}");
        // Not vacuous: the timers alone keep the collectors waiting for about 100 ms.
        assert!(
            dropped > 100,
            "the test must drop many futures mid-wait (dropped {dropped})"
        );
        // And nothing is left to report: every entry was one-shot.
        let mut out = [WaitResult::default(); 1];
        let idle = within(Duration::from_millis(20), aset.wait_async(&mut out)).await;
        assert!(idle.is_none(), "left over: {out:?}");
        eprintln!("{dropped} futures dropped mid-wait; nothing lost");
    });
}
