//! The library-wrapper face, [`PollSet`], rule by rule (issue §3), on every backend.
//!
//! The interruption tests send real SIGUSR1s (handler without SA_RESTART) to the polling thread;
//! they hold the binary's signal lock, so they never overlap each other.

mod posix_util;
mod util;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use posix_util::*;
use waitset::{BackendKind, Deadline, Error, PollFd, PollFlags, PollOptions, PollSet, Timeout};

fn set<'fd>(k: BackendKind) -> PollSet<'fd> {
    PollSet::with_options(PollOptions::new().backend(k))
}

/// (fd, events) of every entry, in order.
fn entries(s: &PollSet) -> Vec<(i32, PollFlags)> {
    s.iter().map(|p| (p.fd(), p.events())).collect()
}

// ---------------------------------------------------------------------------------------------
// Building

#[test]
fn push_negative_fd_is_typed_error() {
    util::each_backend(|k| {
        let mut s = set(k);
        for fd in [-1, -2, i32::MIN] {
            let e = unsafe { s.push_raw(fd, PollFlags::IN) }.unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{fd}: {e:?}");
            assert_eq!(e.errno(), libc::EINVAL);
        }
        assert!(s.is_empty());
    });
}

#[test]
fn push_empty_events_is_typed_error() {
    util::each_backend(|k| {
        let (r, _w) = util::pipe();
        let mut s = set(k);
        let e = s.push(&r, PollFlags::empty()).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        assert_eq!(e.errno(), libc::EINVAL);
        let e = unsafe { s.push_raw(-1, PollFlags::empty()) }.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        assert_eq!(s.len(), 0);
    });
}

#[test]
fn set_unchanged_after_bad_push() {
    util::each_backend(|k| {
        let (r, w) = util::pipe();
        let (a, _b) = util::socketpair();
        let mut s = set(k);
        s.push(&r, PollFlags::IN).unwrap();
        s.push(&a, PollFlags::OUT).unwrap();
        util::write(&w, b"x");
        assert_eq!(s.poll(Timeout::from_millis(1000), true).unwrap().ready, 2);
        let before: Vec<PollFd> = s.iter().copied().collect();

        assert!(unsafe { s.push_raw(-1, PollFlags::IN) }.is_err());
        assert!(s.push(&r, PollFlags::empty()).is_err());
        assert!(unsafe { s.push_raw(-7, PollFlags::empty()) }.is_err());

        let after: Vec<PollFd> = s.iter().copied().collect();
        assert_eq!(after, before, "entries and their revents untouched");
        assert_eq!(s.len(), 2);
        // And the set still works as before.
        let out = s.poll(Timeout::ZERO, true).unwrap();
        assert_eq!(out.ready, 2);
        assert!(!out.interrupted);
    });
}

#[test]
fn len_and_iter_in_insertion_order() {
    util::each_backend(|k| {
        let (r, w) = util::pipe();
        let (a, b) = util::socketpair();
        let ev = eventfd(0);
        let f = regular_file(b"data");
        let mut s = set(k);
        assert_eq!((s.len(), s.is_empty()), (0, true));
        let want = vec![
            (b.as_raw(), PollFlags::IN),
            (w.as_raw(), PollFlags::OUT),
            (ev.as_raw(), PollFlags::IN | PollFlags::OUT),
            (r.as_raw(), PollFlags::IN),
            (f.as_raw(), PollFlags::IN),
            (a.as_raw(), PollFlags::PRI),
            (r.as_raw(), PollFlags::RDNORM), // duplicates are kept, in place
        ];
        for (i, &(fd, events)) in want.iter().enumerate() {
            unsafe { s.push_raw(fd, events) }.unwrap();
            assert_eq!(s.len(), i + 1);
        }
        assert!(!s.is_empty());
        assert_eq!(entries(&s), want);
        let by_ref: Vec<(i32, PollFlags)> =
            (&s).into_iter().map(|p| (p.fd(), p.events())).collect();
        assert_eq!(by_ref, want);
        // Polling keeps the order and the count.
        s.poll(Timeout::ZERO, true).unwrap();
        assert_eq!(entries(&s), want);
        s.clear();
        assert_eq!((s.len(), s.is_empty()), (0, true));
    });
}

trait AsRaw {
    fn as_raw(&self) -> i32;
}
impl AsRaw for std::os::fd::OwnedFd {
    fn as_raw(&self) -> i32 {
        std::os::fd::AsRawFd::as_raw_fd(self)
    }
}

// ---------------------------------------------------------------------------------------------
// Polling

#[test]
fn poll_reports_ready() {
    util::each_backend(|k| {
        let (r1, w1) = util::pipe();
        let (r2, _w2) = util::pipe();
        let (a, b) = util::socketpair();
        let mut s = set(k);
        s.push(&r1, PollFlags::IN).unwrap();
        s.push(&r2, PollFlags::IN).unwrap();
        s.push(&a, PollFlags::IN).unwrap();

        // Nothing ready: times out with 0.
        let start = Instant::now();
        let out = s.poll(Timeout::from_millis(50), true).unwrap();
        assert_eq!((out.ready, out.interrupted), (0, false));
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert_eq!(s.ready().count(), 0);

        // Ready later, from another thread, with an infinite timeout.
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            util::write(&w1, b"x");
            util::write(&b, b"y");
            (w1, b)
        });
        let start = Instant::now();
        let mut seen = 0;
        while seen < 2 {
            let out = s.poll(Timeout::INFINITE, true).unwrap();
            assert!(!out.interrupted);
            seen = out.ready;
        }
        assert!(start.elapsed() >= Duration::from_millis(100));
        let ready: Vec<i32> = s.ready().map(|p| p.fd()).collect();
        assert_eq!(ready, vec![r1.as_raw(), a.as_raw()], "in insertion order");
        assert!(s.ready().all(|p| p.revents() == PollFlags::IN));
        let _keep = writer.join().unwrap();

        // A descriptor that is not open cannot join a set, on any backend: the set keeps its
        // interest in the kernel, which needs an open file (poll() itself reports NVAL).
        let mut s2 = set(k);
        let e = unsafe { s2.push_raw(closed_fd(), PollFlags::IN) }.unwrap_err();
        assert!(matches!(e, Error::BadHandle), "{e:?}");
        assert!(s2.is_empty());
    });
}

#[test]
fn retry_resumes_with_time_left_not_full_timeout() {
    let _h = SigusrHandler::install();
    util::each_backend(|k| {
        let (r, _w) = util::pipe();
        let mut s = set(k);
        s.push(&r, PollFlags::IN).unwrap();
        let before = SIGUSR1_COUNT.load(Ordering::SeqCst);
        // A signal every 20 ms for up to 10 s: far longer than the 300 ms timeout. A wrapper that
        // restarted with the full timeout after each signal would only return when the storm
        // ends, 10 s later.
        let storm = SignalStorm::start(
            ThreadId::current(),
            Duration::from_millis(20),
            Duration::from_millis(20),
            Duration::from_secs(10),
        );
        let start = Instant::now();
        let out = s.poll(Timeout::from_millis(300), true);
        let took = start.elapsed();
        let sent = storm.stop();
        let out = out.expect("retry never returns EINTR");
        assert_eq!(out.ready, 0);
        assert!(
            out.interrupted,
            "{sent} signals sent, none interrupted the wait"
        );
        assert!(
            took >= Duration::from_millis(300),
            "returned early: {took:?}"
        );
        assert!(
            took < Duration::from_millis(300) + Duration::from_secs(2),
            "overshot: {took:?} ({sent} signals)"
        );
        assert!(SIGUSR1_COUNT.load(Ordering::SeqCst) > before);
        assert!(s.iter().all(|p| p.revents().is_empty()));

        // Readiness that arrives during the storm is still reported, with interrupted set.
        let (r2, w2) = util::pipe();
        let mut s2 = set(k);
        s2.push(&r2, PollFlags::IN).unwrap();
        let storm = SignalStorm::start(
            ThreadId::current(),
            Duration::from_millis(10),
            Duration::from_millis(20),
            Duration::from_secs(10),
        );
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            util::write(&w2, b"x");
            w2
        });
        let out = s2.poll(Timeout::from_millis(10_000), true).unwrap();
        storm.stop();
        assert_eq!(out.ready, 1);
        assert!(out.interrupted);
        let _w2 = writer.join().unwrap();
    });
}

#[test]
fn no_retry_returns_interrupted_error() {
    let _h = SigusrHandler::install();
    util::each_backend(|k| {
        let (r, w) = util::pipe();
        let mut s = set(k);
        s.push(&r, PollFlags::IN).unwrap();
        s.push(&w, PollFlags::IN).unwrap(); // a write end never becomes readable
        let storm = SignalStorm::start(
            ThreadId::current(),
            Duration::from_millis(50),
            Duration::from_millis(50),
            Duration::from_secs(10),
        );
        let start = Instant::now();
        let res = s.poll(Timeout::from_millis(30_000), false);
        let took = start.elapsed();
        storm.stop();
        let e = res.unwrap_err();
        assert!(matches!(e, Error::Interrupted), "{e:?}");
        assert_eq!(e.errno(), libc::EINTR);
        assert!(took < Duration::from_secs(20), "{took:?}");
        assert_eq!(s.len(), 2, "the set is unchanged");
        // The same set polls normally afterwards.
        util::write(&w, b"x");
        let out = s.poll(Timeout::from_millis(1000), false).unwrap();
        assert_eq!((out.ready, out.interrupted), (1, false));
    });
}

// ---------------------------------------------------------------------------------------------
// Timeout

#[test]
fn timeout_from_sec_usec_rounds_partial_ms_up() {
    let cases = [
        ((0, 0), 0),
        ((0, 1), 1),
        ((0, 999), 1),
        ((0, 1000), 1),
        ((0, 1001), 2),
        ((0, 1999), 2),
        ((1, 0), 1000),
        ((1, 500), 1001),
        ((2, 999_999), 3000),
        ((0, 2_500_001), 2501), // microseconds past a second carry
    ];
    for ((s, us), ms) in cases {
        assert_eq!(
            Timeout::from_sec_usec(s, us).as_millis(),
            Some(ms),
            "{s} s {us} µs"
        );
    }
    assert_eq!(
        Timeout::from_duration(Duration::from_nanos(1)).as_millis(),
        Some(1)
    );
    assert_eq!(
        Timeout::from_duration(Duration::from_micros(1500)).as_millis(),
        Some(2)
    );
    assert_eq!(Timeout::from_duration(Duration::ZERO).as_millis(), Some(0));

    // And it really waits: a 1 µs timeout is a 1 ms wait, not a non-blocking poll.
    util::each_backend(|k| {
        let (r, _w) = util::pipe();
        let mut s = set(k);
        s.push(&r, PollFlags::IN).unwrap();
        let start = Instant::now();
        let out = s.poll(Timeout::from_sec_usec(0, 1), true).unwrap();
        assert_eq!(out.ready, 0);
        assert!(
            start.elapsed() >= Duration::from_millis(1),
            "{:?}",
            start.elapsed()
        );
    });
}

#[test]
fn timeout_saturates_never_wraps() {
    assert_eq!(
        Timeout::from_sec_usec(u64::MAX, 0).as_millis(),
        Some(u64::MAX)
    );
    assert_eq!(
        Timeout::from_sec_usec(u64::MAX, 999_999).as_millis(),
        Some(u64::MAX)
    );
    assert_eq!(
        Timeout::from_sec_usec(u64::MAX / 1000 + 1, 0).as_millis(),
        Some(u64::MAX)
    );
    assert_eq!(
        Timeout::from_sec_usec(u64::MAX / 1000, u64::MAX).as_millis(),
        Some(u64::MAX)
    );
    assert_eq!(
        Timeout::from_sec_usec(0, u64::MAX).as_millis(),
        Some(u64::MAX / 1000 + 1)
    );
    assert_eq!(
        Timeout::from_duration(Duration::MAX).as_millis(),
        Some(u64::MAX)
    );
    assert!(Timeout::from_millis(u64::MAX).deadline().is_infinite());
    assert!(Deadline::after(Duration::MAX).is_infinite());
    assert!(Deadline::after(Duration::from_secs(u64::MAX / 2)) > Deadline::now());

    util::each_backend(|k| {
        // Huge timeouts still return at once when something is ready ...
        let (r, w) = util::pipe();
        util::write(&w, b"x");
        let mut s = set(k);
        s.push(&r, PollFlags::IN).unwrap();
        for t in [
            Timeout::from_sec_usec(u64::MAX, 999_999),
            Timeout::from_millis(u64::MAX / 2_000_000), // ~292 years: finite, beyond i32 ms
            Timeout::from_millis(i32::MAX as u64 + 1),
        ] {
            let start = Instant::now();
            let out = s.poll(t, true).unwrap();
            assert_eq!(out.ready, 1, "{t:?}");
            assert!(start.elapsed() < Duration::from_secs(2));
        }
        // ... and block when nothing is: 2^32 + 1 ms must not wrap into 1 ms (nor go negative
        // into EINVAL or "infinite" in a 32-bit kernel argument).
        let (r, w) = util::pipe();
        let mut s = set(k);
        s.push(&r, PollFlags::IN).unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            util::write(&w, b"x");
            w
        });
        for t in [
            Timeout::from_millis((1 << 32) + 1),
            Timeout::from_millis(i32::MAX as u64 + 1),
        ] {
            let start = Instant::now();
            let out = s.poll(t, true).unwrap();
            assert_eq!(out.ready, 1, "{t:?} returned with nothing ready");
            if t == Timeout::from_millis((1 << 32) + 1) {
                assert!(
                    start.elapsed() >= Duration::from_millis(150),
                    "{t:?}: {:?}",
                    start.elapsed()
                );
            }
        }
        let _w = writer.join().unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// Errors as tracing events

/// A tracing layer that records every event's fields as text.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={:?} ", f.name(), v));
            }
        }
        let mut fields = Fields(format!("{} ", event.metadata().level()));
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
}

#[test]
fn errors_are_emitted_as_tracing_events() {
    use tracing_subscriber::layer::SubscriberExt;
    let rec = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(rec.clone());
    tracing::subscriber::with_default(subscriber, || {
        util::each_backend(|k| {
            rec.0.lock().unwrap().clear();
            let (r, _w) = util::pipe();
            let mut s = set(k);
            assert!(unsafe { s.push_raw(-1, PollFlags::IN) }.is_err());
            {
                let ev = rec.0.lock().unwrap();
                assert_eq!(ev.len(), 1, "{ev:?}");
                assert!(ev[0].contains("pollset_push"), "{ev:?}");
                assert!(ev[0].contains("errno=22"), "{ev:?}");
                assert!(ev[0].contains("negative fd"), "{ev:?}");
            }
            assert!(s.push(&r, PollFlags::empty()).is_err());
            {
                let ev = rec.0.lock().unwrap();
                assert_eq!(ev.len(), 2, "{ev:?}");
                assert!(ev[1].contains("empty events"), "{ev:?}");
            }
            // A good push and a good poll emit no error event.
            s.push(&r, PollFlags::IN).unwrap();
            s.poll(Timeout::ZERO, true).unwrap();
            assert_eq!(rec.0.lock().unwrap().len(), 2);
            // Errors from the POSIX face under PollSet's options are traced too.
            let mut none: [PollFd; 0] = [];
            assert!(PollOptions::new().backend(k).poll(&mut none, -5).is_err());
            let ev = rec.0.lock().unwrap();
            assert_eq!(ev.len(), 3, "{ev:?}");
            assert!(
                ev[2].contains("op=\"poll\"") || ev[2].contains("op=poll"),
                "{ev:?}"
            );
        });
    });
}
