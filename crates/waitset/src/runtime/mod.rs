//! Async and event-loop integration: wait on a [`WaitSet`] from a task, without a thread.
//!
//! | feature | type | reactor |
//! |---|---|---|
//! | `tokio` | [`tokio::AsyncWaitSet`] | tokio's `AsyncFd` |
//! | `async-io` | [`async_io::AsyncWaitSet`] | async-io's `Async` (smol, async-std) |
//!
//! Both are built on the set's own descriptor ([`WaitSet::pollable`]): the runtime's reactor
//! watches it, and a task waits for it to become readable, then takes what is ready with
//! [`Pollable::try_wait`] — synchronously, into the caller's buffer, in the same poll that
//! returns the results. So both are **cancel-safe**: a `wait_async` future dropped at any point
//! (by `select!`, a timeout, an aborted task) has taken nothing from the set, and the results it
//! would have returned are reported to the next wait.
//!
//! Two kinds of set cannot be waited on this way, and say so with [`Error::NotSupported`]
//! when the adapter is made:
//!
//! * a set on the poll(2) backend, which has no descriptor that stands for the whole set
//!   ([`Capabilities::pollable`](crate::Capabilities::pollable)); build the set with
//!   [`BackendKind::Epoll`](crate::BackendKind::Epoll) (the default on Linux unless
//!   `WAITSET_BACKEND=poll`);
//! * a set with [`Delivery::Exclusive`], whose entries are held by the *thread* that received
//!   them until it waits again: tasks move between threads and share them, so a hold could
//!   outlive every wait that would release it.
//!
//! There is no deadline argument: wrap the future in the runtime's timeout (cancel safety makes
//! that exact), or add a [`Timer`](crate::Timer) to the set.
//!
//! The full guide, with complete programs for both runtimes, is `docs/ASYNC.md` in the
//! repository.

#[cfg(feature = "async-io")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-io")))]
pub mod async_io;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

use crate::{Delivery, Error, Pollable, Result, WaitResult, WaitSet};

/// The pollable form of `set`, if an async task may wait on it (see the module docs).
fn pollable_for_tasks(set: &WaitSet) -> Result<Pollable> {
    if set.delivery() == Delivery::Exclusive {
        return Err(Error::NotSupported(
            "exclusive delivery holds entries per thread; async tasks move between threads",
        )
        .traced("wait_async"));
    }
    set.pollable()
}

/// `wait`'s check of the buffer, made before waiting rather than after the set is ready.
fn check_buffer(results: &[WaitResult]) -> Result<()> {
    if results.is_empty() {
        return Err(Error::InvalidArgument("empty results buffer").traced("wait_async"));
    }
    Ok(())
}
