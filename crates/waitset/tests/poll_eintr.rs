//! Signals and the POSIX face: EINTR is returned, never restarted; ppoll's mask swap is the
//! kernel's atomic one. Real SIGUSR1 handlers (without SA_RESTART), real pending signals.
//!
//! This file is its own test binary (its own process), and every test in it holds the signal
//! lock for its whole run, so no other test sees these handlers or masks.

mod posix_util;
mod util;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use posix_util::*;
use waitset::{Error, PollFd, PollFlags, PollOptions, SigSet, INFTIM};

#[test]
fn eintr_is_returned_not_restarted() {
    let _h = SigusrHandler::install();
    util::each_backend(|k| {
        let opts = PollOptions::new().backend(k);
        let (r, _w) = util::pipe();
        let (a, _b) = util::socketpair();
        let mut fds = [
            PollFd::new(&r, PollFlags::IN),
            PollFd::new(&a, PollFlags::IN),
            PollFd::from_raw(-1, PollFlags::IN),
        ];
        for p in fds.iter_mut() {
            p.set_revents(PollFlags::from_bits_retain(-1));
        }
        let before = SIGUSR1_COUNT.load(Ordering::SeqCst);
        // The first signal may land before the thread is inside poll (then the handler just
        // runs); the sender keeps going until the call returns, so a call that restarted after
        // the handler would never return at all, and one that returns proves EINTR came back.
        // The storm ends after 10 s at the latest: then INFTIM would block forever, so a writer
        // rescues the test and the assertion below fails instead.
        let storm = SignalStorm::start(
            ThreadId::current(),
            Duration::from_millis(100),
            Duration::from_millis(50),
            Duration::from_secs(10),
        );
        let w = _w.try_clone().unwrap();
        let rescue = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(12));
            let _ = rustix::io::write(&w, b"x");
        });
        let start = Instant::now();
        let res = opts.poll(&mut fds, INFTIM);
        let took = start.elapsed();
        let sent = storm.stop();
        assert!(
            matches!(res, Err(Error::Interrupted)),
            "{res:?} after {took:?}"
        );
        assert_eq!(res.unwrap_err().errno(), libc::EINTR);
        assert!(took >= Duration::from_millis(100), "{took:?}");
        assert!(took < Duration::from_secs(8), "{took:?}");
        assert!(sent >= 1);
        assert!(
            SIGUSR1_COUNT.load(Ordering::SeqCst) > before,
            "the handler ran"
        );
        // revents as the kernel left them: nothing was ready, so nothing is reported (the
        // pre-filled garbage is gone on Linux, whose poll writes revents back on EINTR too).
        if cfg!(target_os = "linux") {
            assert!(fds.iter().all(|p| p.revents().is_empty()), "{fds:?}");
        }
        drop(rescue);

        // Same through ppoll with a timeout and without a mask.
        let storm = SignalStorm::start(
            ThreadId::current(),
            Duration::from_millis(50),
            Duration::from_millis(50),
            Duration::from_secs(10),
        );
        let start = Instant::now();
        let res = opts.ppoll(&mut fds, Some(Duration::from_secs(30)), None);
        storm.stop();
        assert!(matches!(res, Err(Error::Interrupted)), "{res:?}");
        assert!(start.elapsed() < Duration::from_secs(20));
    });
}

/// With SIGUSR1 blocked and pending, ppoll with a mask that lets SIGUSR1 through must be
/// interrupted at once: the kernel installs the mask and checks for pending signals in one step.
/// (A library that set the mask, then called poll, could take the signal in between and block
/// forever; one that never swapped the mask would time out.) With a mask that keeps SIGUSR1
/// blocked, the same call times out and the signal stays pending.
#[test]
fn ppoll_mask_swap_is_atomic() {
    let _h = SigusrHandler::install();
    util::each_backend(|k| {
        let opts = PollOptions::new().backend(k);
        let (r, w) = util::pipe();
        let mut fds = [PollFd::new(&r, PollFlags::IN)];

        // Converse first: the mask contains SIGUSR1, so the pending signal must not interrupt.
        block(libc::SIGUSR1);
        ThreadId::current().kill(libc::SIGUSR1);
        assert!(is_pending(libc::SIGUSR1));
        let before = SIGUSR1_COUNT.load(Ordering::SeqCst);
        let mut keep_blocked = SigSet::current().unwrap();
        assert!(keep_blocked.contains(libc::SIGUSR1));
        keep_blocked.add(libc::SIGUSR1).unwrap();
        let start = Instant::now();
        let res = opts.ppoll(
            &mut fds,
            Some(Duration::from_millis(100)),
            Some(&keep_blocked),
        );
        assert_eq!(res.unwrap(), 0, "timed out, not interrupted");
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert_eq!(SIGUSR1_COUNT.load(Ordering::SeqCst), before, "handler ran");
        assert!(is_pending(libc::SIGUSR1), "still pending");

        // Now a mask without SIGUSR1, an idle pipe and no timeout: interrupted at once, the
        // handler ran inside the call, and the old mask (SIGUSR1 blocked) is back afterwards.
        let mut let_through = SigSet::current().unwrap();
        let_through.remove(libc::SIGUSR1).unwrap();
        // If the kernel did not swap the mask, the call would block forever: a writer ends it
        // after 10 s so the test fails instead of hanging.
        let w2 = w.try_clone().unwrap();
        let rescue = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(10));
            let _ = rustix::io::write(&w2, b"x");
        });
        let start = Instant::now();
        let res = opts.ppoll(&mut fds, None, Some(&let_through));
        let took = start.elapsed();
        assert!(
            matches!(res, Err(Error::Interrupted)),
            "{res:?} after {took:?}"
        );
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert_eq!(
            SIGUSR1_COUNT.load(Ordering::SeqCst),
            before + 1,
            "handler ran once"
        );
        assert!(!is_pending(libc::SIGUSR1));
        assert!(
            SigSet::current().unwrap().contains(libc::SIGUSR1),
            "the caller's mask is restored after the call"
        );
        unblock(libc::SIGUSR1);
        drop(rescue);
        drop(w);
    });
}
