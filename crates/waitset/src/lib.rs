//! # waitset
//!
//! One event-wait engine, four faces. A program waits concurrently on a set of events — file
//! descriptors becoming readable or writable, peers hanging up, timers expiring, user signals
//! raised from other threads — through whichever interface it already knows:
//!
//! 1. **POSIX [`poll`] / [`ppoll`]**, faithful to the documented semantics: fd -1 ignored,
//!    `POLLNVAL` for a bad fd, `POLLHUP` never with `POLLOUT`, [`INFTIM`], an atomic signal mask.
//!
//!    ```
//!    use waitset::{poll, PollFd, PollFlags};
//!    let (r, w) = rustix::pipe::pipe().unwrap();
//!    drop(w); // the writer hangs up
//!    let mut fds = [PollFd::new(&r, PollFlags::IN)];
//!    assert_eq!(poll(&mut fds, 0).unwrap(), 1);
//!    assert!(fds[0].revents().contains(PollFlags::HUP | PollFlags::IN));
//!    ```
//!
//! 2. **[`PollSet`]**, a library wrapper: build, count, iterate, and a `poll` that can retry after
//!    a signal against the original deadline and tells you it was interrupted. [`Timeout`] never
//!    truncates a partial millisecond to zero.
//!
//!    ```
//!    use waitset::{PollFlags, PollSet, Timeout};
//!    let (r, _w) = rustix::pipe::pipe().unwrap();
//!    let mut set = PollSet::new(); // borrows its fds: interest stays in the kernel
//!    set.push(&r, PollFlags::IN).unwrap();
//!    let out = set.poll(Timeout::from_sec_usec(0, 1), true).unwrap(); // 1 µs → 1 ms
//!    assert_eq!(out.ready, 0);
//!    ```
//!
//! 3. **[`WaitSet`]**, a persistent set in the style of the Magenta/Zircon wait set: entries keyed
//!    by a 64-bit cookie, each waiting for a [`Signals`] mask on a [`Source`] (any fd, a
//!    [`Handle`], an [`Event`], a [`Timer`]); [`WaitSet::wait`] fills a buffer of
//!    [`WaitResult`]s with a [`Status`] (satisfied, unsatisfiable, canceled).
//!
//!    ```
//!    use std::time::Duration;
//!    use waitset::{Deadline, Event, Handle, Signals, Source, Timer, WaitResult, WaitSet};
//!    let set = WaitSet::new().unwrap();
//!    let (r, _w) = rustix::pipe::pipe().unwrap();
//!    let r = Handle::new(r); // an owned fd: closing it cancels its entries
//!    let ev = Event::new();
//!    let timer = Timer::new();
//!    set.add(1, Source::from(&r), Signals::READABLE).unwrap();
//!    set.add(2, Source::from(&ev), Signals::USER_0).unwrap();
//!    set.add(3, Source::from(&timer), Signals::TIMER).unwrap();
//!    timer.set(Deadline::after(Duration::from_millis(1)), Duration::ZERO);
//!    let mut out = [WaitResult::default(); 3];
//!    let n = set.wait(Deadline::INFINITE, &mut out).unwrap();
//!    assert_eq!((n, out[0].cookie), (1, 3));
//!    ```
//!
//! 4. **WASI preview1 `poll_oneoff`**, in the `waitset-wasi` crate, built on [`WaitSet`].
//!
//! ## Backends
//!
//! The persistent faces run on either backend: Linux `epoll(7)` (the default) or the portable
//! `poll(2)` backend. Choose with [`WaitSetBuilder::backend`] / [`PollOptions::backend`], or for
//! a whole process with `WAITSET_BACKEND=epoll|poll`. [`BackendKind::capabilities`] says which
//! trigger modes a backend supports natively. The stateless [`poll`] and [`ppoll`] are always
//! the kernel's `poll(2)` / `ppoll(2)`: a single call gains nothing from keeping interest in the
//! kernel.
//!
//! ## Async runtimes and outer event loops
//!
//! [`WaitSet::pollable`] gives a set's own descriptor, readable exactly when a wait would report
//! something (Events and Timers included), for any event loop to watch (epoll backend only).
//! With the cargo feature `tokio` or `async-io`, the `runtime` module waits on it from a task:
//! `AsyncWaitSet::wait_async`, cancel-safe (a dropped future has taken nothing from the set).
//!
//! ## Errors
//!
//! Every failure is a typed [`Error`] that maps to an errno, leaves the set and the caller's
//! memory as they were, and is also emitted as a `tracing` event.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(clippy::undocumented_unsafe_blocks)]

mod deadline;
mod error;
mod face;
mod fdrules;
#[cfg(any(feature = "tokio", feature = "async-io"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "tokio", feature = "async-io"))))]
pub mod runtime;
mod set;
mod signals;
mod source;
mod sync;
mod sys;
mod timer_wheel;

pub use crate::deadline::{Deadline, Timeout};
pub use crate::error::{Error, Result, UnavailableReason};
pub use crate::face::poll::{poll, ppoll, EofMode, PollFd, PollFlags, PollOptions, SigSet, INFTIM};
pub use crate::face::pollset::{PollOutcome, PollSet};
pub use crate::set::{Delivery, Pollable, Source, Status, WaitResult, WaitSet, WaitSetBuilder};
pub use crate::signals::Signals;
pub use crate::source::event::Event;
pub use crate::source::handle::{Handle, HandleFd};
pub use crate::source::timer::Timer;
pub use crate::sys::{BackendKind, Capabilities, Trigger, KERNEL_BATCH};

/// `docs/ASYNC.md`, whose examples run as doctests with both async features
/// (`cargo test -p waitset --features tokio,async-io --doc`).
#[cfg(all(doctest, feature = "tokio", feature = "async-io"))]
#[doc = include_str!("../docs/ASYNC.md")]
pub struct AsyncGuide;

/// This crate's README, whose example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
