//! The lock table and the drop rule of the engine, written once and enforced here.
//!
//! # Locks, in the only order a thread may take them
//!
//! | rank | lock | owner | what may be taken while holding it |
//! |---|---|---|---|
//! | 1 | [`Rank::Source`] | an `Event`, `Timer` or `Handle`'s observer list (`source::ObserverList`) | a set's state (rank 2), through the observer callback or while adding an entry |
//! | 2 | [`Rank::Set`] | a `WaitSet`'s state | the poll(2) backend's interest table (rank 3), through `Backend::add/modify/delete` |
//! | 3 | [`Rank::Backend`] | the poll(2) backend's interest table | nothing |
//!
//! A thread only ever takes a lock of a *higher* rank than every lock it holds, and never two
//! locks of the same rank. Debug builds check this on every acquisition ([`Mutex::lock`]) and
//! panic with the two ranks named.
//!
//! Outside the table: a `Handle`'s descriptor lock, which callers hold at will through
//! `HandleFd` and which the engine takes only in `Handle::close`, holding no other lock; and a
//! `PollSet`, which is not shared and has no lock.
//!
//! No lock is held across a kernel wait: a waiter releases the set's state before it blocks and
//! the backend's table is released before `poll(2)`.
//!
//! # The drop rule
//!
//! * The last reference to a set (`Arc<set::Inner>`) is never dropped while any lock of this
//!   table is held. Sources hold sets only as `Weak` observers; a source that upgrades one to
//!   call it keeps the `Arc` in a [`Deferred`] and drops it after releasing its own lock.
//! * A set's `Drop` takes no lock but its own state (which nobody else can reach any more):
//!   it never unregisters itself from sources; sources prune observers that can no longer be
//!   upgraded.
//! * The last reference to a source's shared core is never dropped under a set's lock: an entry
//!   removed from a set hands its source reference back to the caller, which drops it after
//!   unlocking.
//! * Wake-ups decided under a lock are posted after it is released ([`Deferred::run`]): a
//!   waiter woken while the waker still holds the lock would block on it at once.
//!
//! Under `cfg(loom)` the locks and atomics come from loom so that the models in
//! `tests/loom_*.rs` explore the interleavings of the real code; the rank check is a debug aid
//! of ordinary builds only.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
// Reference counts stay std's under loom too: observers are `Weak<dyn Observer>`, an unsizing
// that loom's `Arc` cannot express. The models explore the interleavings at the locks and
// atomics, which is where the protocols of this crate synchronise.
pub(crate) use std::sync::{Arc, Weak};

/// The rank of a lock in the table above.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Rank {
    /// A source's observer list.
    Source = 1,
    /// A set's state.
    Set = 2,
    /// The poll(2) backend's interest table.
    Backend = 3,
}

#[cfg(all(debug_assertions, not(loom)))]
mod rank_check {
    use super::Rank;
    use std::cell::Cell;

    std::thread_local! {
        /// Bit `r` set: this thread holds a lock of rank `r`.
        static HELD: Cell<u8> = const { Cell::new(0) };
    }

    pub(super) fn acquire(rank: Rank) {
        let bit = 1u8 << rank as u8;
        let _ = HELD.try_with(|h| {
            let held = h.get();
            if held != 0 {
                let highest = 7 - held.leading_zeros() as u8;
                assert!(
                    (rank as u8) > highest,
                    "lock order violated: taking {rank:?} (rank {}) while holding rank {highest}",
                    rank as u8
                );
            }
            h.set(held | bit);
        });
    }

    pub(super) fn release(rank: Rank) {
        let _ = HELD.try_with(|h| h.set(h.get() & !(1u8 << rank as u8)));
    }

    pub(super) fn none_held() -> bool {
        HELD.try_with(|h| h.get() == 0).unwrap_or(true)
    }
}

#[cfg(not(all(debug_assertions, not(loom))))]
mod rank_check {
    use super::Rank;
    #[inline(always)]
    pub(super) fn acquire(_: Rank) {}
    #[inline(always)]
    pub(super) fn release(_: Rank) {}
    #[inline(always)]
    pub(super) fn none_held() -> bool {
        true
    }
}

/// Debug builds: assert that the calling thread holds no lock of the table (before dropping
/// something that may be the last reference to a set, or before posting wake-ups).
#[inline]
pub(crate) fn assert_no_lock_held(what: &str) {
    debug_assert!(rank_check::none_held(), "{what} while holding a lock");
}

/// A mutex with a rank; poisoning is ignored (no invariant of the engine spans a panic that
/// could leave it half-done: every critical section either completes or changes nothing).
pub(crate) struct Mutex<T> {
    #[cfg(not(loom))]
    inner: std::sync::Mutex<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
    rank: Rank,
}

/// The guard of a [`Mutex`]: releases the rank when dropped.
pub(crate) struct MutexGuard<'a, T> {
    #[cfg(not(loom))]
    guard: std::sync::MutexGuard<'a, T>,
    #[cfg(loom)]
    guard: loom::sync::MutexGuard<'a, T>,
    rank: Rank,
}

impl<T> Mutex<T> {
    pub(crate) fn new(rank: Rank, value: T) -> Mutex<T> {
        Mutex {
            #[cfg(not(loom))]
            inner: std::sync::Mutex::new(value),
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
            rank,
        }
    }

    /// Lock, checking the lock order in debug builds.
    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        rank_check::acquire(self.rank);
        #[cfg(not(loom))]
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        #[cfg(loom)]
        let guard = self.inner.lock().unwrap();
        MutexGuard {
            guard,
            rank: self.rank,
        }
    }
}

impl<T> std::ops::Deref for MutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> std::ops::DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        rank_check::release(self.rank);
    }
}

/// Something that can be woken with a number of wake-up tokens once no lock is held.
pub(crate) trait PostWakeups: Send + Sync {
    /// Post `tokens` wake-ups (0: nothing, no syscall). Called with no lock held.
    fn post_wakeups(&self, tokens: usize);
}

/// Work decided under a lock and done after it is released: wake-ups to post, and the
/// references that keep their targets alive until then (so that the last reference to a set is
/// dropped here, with no lock held, never under a source's lock).
///
/// Holds one target inline, so the common case (a source watched by one set) allocates nothing.
#[must_use = "deferred wake-ups must be run after the lock is released"]
#[derive(Default)]
pub(crate) struct Deferred {
    first: Option<(Arc<dyn PostWakeups>, usize)>,
    rest: Vec<(Arc<dyn PostWakeups>, usize)>,
}

impl Deferred {
    /// Keep `target` alive and post `tokens` to it later.
    pub(crate) fn push(&mut self, target: Arc<dyn PostWakeups>, tokens: usize) {
        if self.first.is_none() {
            self.first = Some((target, tokens));
        } else {
            self.rest.push((target, tokens));
        }
    }

    /// Post the wake-ups and drop the references. Call with no lock held.
    pub(crate) fn run(self) {
        assert_no_lock_held("running deferred wake-ups");
        if let Some((t, n)) = self.first {
            t.post_wakeups(n);
        }
        for (t, n) in self.rest {
            t.post_wakeups(n);
        }
    }
}

/// `thread_local!` from std, or from loom in the models (whose threads are not OS threads).
#[cfg(not(loom))]
macro_rules! sync_thread_local {
    ($($t:tt)*) => { std::thread_local! { $($t)* } };
}
#[cfg(loom)]
macro_rules! sync_thread_local {
    ($($t:tt)*) => { loom::thread_local! { $($t)* } };
}
pub(crate) use sync_thread_local;

#[cfg(all(test, debug_assertions, not(loom)))]
mod tests {
    use super::{Mutex, Rank};

    #[test]
    fn locks_in_table_order_are_accepted() {
        let (a, b, c) = (
            Mutex::new(Rank::Source, ()),
            Mutex::new(Rank::Set, ()),
            Mutex::new(Rank::Backend, ()),
        );
        let _ga = a.lock();
        let _gb = b.lock();
        let _gc = c.lock();
    }

    #[test]
    #[should_panic(expected = "lock order violated")]
    fn a_source_lock_under_a_set_lock_is_caught() {
        let (source, set) = (Mutex::new(Rank::Source, ()), Mutex::new(Rank::Set, ()));
        let _g = set.lock();
        let _h = source.lock();
    }

    #[test]
    #[should_panic(expected = "lock order violated")]
    fn two_locks_of_one_rank_are_caught() {
        let (a, b) = (Mutex::new(Rank::Set, ()), Mutex::new(Rank::Set, ()));
        let _g = a.lock();
        let _h = b.lock();
    }

    #[test]
    fn a_released_lock_no_longer_counts() {
        let (source, set) = (Mutex::new(Rank::Source, ()), Mutex::new(Rank::Set, ()));
        drop(set.lock());
        drop(source.lock());
        super::assert_no_lock_held("checking");
    }
}
