//! User sources — [`Event`](crate::Event), [`Timer`](crate::Timer), [`Handle`](crate::Handle) —
//! and the one interface through which they tell sets that watch them about changes.
//!
//! A source owns an [`ObserverList`]; a set implements [`Observer`]. Sources never see a set's
//! internals (the split of Zircon's `StateObserver`): a change is announced as a [`Change`] to
//! each observer, under the source's lock (rank 1 of [`crate::sync`]), and the observer
//! answers with the wake-up tokens to post once that lock is released.
//!
//! # The drop rule of every source
//!
//! Dropping the last handle of a source ends its entries the same way for every kind:
//!
//! * [`Event`](crate::Event) and [`Timer`](crate::Timer) are **frozen**: nobody can change them
//!   again. Watched signals that are asserted stay asserted and keep being reported; an entry
//!   none of whose watched signals is asserted is reported
//!   [`Unsatisfiable`](crate::Status::Unsatisfiable). A timer dropped before it fired is
//!   disarmed by the drop: it never fires.
//! * [`Handle`](crate::Handle): dropping it closes it: every entry is reported
//!   [`Canceled`](crate::Status::Canceled) once and removed.
//!
//! The decision is made once, in the `Drop` of the value shared by all clones of a handle, so
//! two clones dropped at the same time cannot both miss it (or both make it).

pub(crate) mod event;
pub(crate) mod handle;
pub(crate) mod timer;

use crate::sync::{Arc, Deferred, PostWakeups, Weak};
use crate::Signals;

/// Which entry of an observer a notification is for: the observer's own key (a wait set uses
/// its slab index and the entry's generation).
pub(crate) type EntryKey = (u32, u32);

/// What changed in a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// An event's signals changed from `old` to `new`.
    Signals { old: Signals, new: Signals },
    /// A timer was set or canceled.
    Deadline,
    /// The last handle was dropped: the source can never change again.
    Frozen,
    /// A handle was closed (its descriptor is still open during the notification).
    Closed,
}

/// Something that watches sources: a wait set.
pub(crate) trait Observer: PostWakeups {
    /// `change` happened to the source of entry `key`. Called with the source's lock held;
    /// may take the observer's own state lock (rank 3). Returns the wake-up tokens to post
    /// after the source's lock is released.
    fn on_change(&self, key: EntryKey, change: Change) -> usize;
}

/// The observers of one source.
#[derive(Default)]
pub(crate) struct ObserverList {
    list: Vec<(Weak<dyn Observer>, EntryKey)>,
    /// A handle was closed: no new observer may join.
    pub(crate) closed: bool,
}

/// The address of an observer, to find its records (the data pointer; vtables may differ).
#[inline]
fn addr(o: &Weak<dyn Observer>) -> *const () {
    Weak::as_ptr(o) as *const ()
}

impl ObserverList {
    /// Add an observer record. Records of observers that are gone are pruned when the list
    /// would grow, so a long-lived source watched by many short-lived sets stays small.
    pub(crate) fn push(&mut self, observer: Weak<dyn Observer>, key: EntryKey) {
        if self.list.len() == self.list.capacity() {
            self.list.retain(|(o, _)| o.strong_count() > 0);
        }
        self.list.push((observer, key));
    }

    /// Remove the record of `observer`'s entry `key`, if it is there.
    pub(crate) fn remove(&mut self, observer: *const (), key: EntryKey) {
        if let Some(i) = self
            .list
            .iter()
            .position(|(o, k)| *k == key && addr(o) == observer)
        {
            self.list.swap_remove(i);
        }
    }

    /// Tell every observer about `change`. The returned work must be run after the source's
    /// lock is released: it posts the wake-ups and drops the observers' references there.
    pub(crate) fn notify(&mut self, change: Change) -> Deferred {
        let mut deferred = Deferred::default();
        let mut dead = false;
        for (o, key) in &self.list {
            match o.upgrade() {
                Some(obs) => {
                    let tokens = obs.on_change(*key, change);
                    deferred.push(obs as Arc<dyn PostWakeups>, tokens);
                }
                None => dead = true,
            }
        }
        if dead {
            self.list.retain(|(o, _)| o.strong_count() > 0);
        }
        deferred
    }

    /// Tell every observer about `change` and forget them all (the source is done).
    pub(crate) fn notify_last(&mut self, change: Change) -> Deferred {
        let d = self.notify(change);
        self.list = Vec::new();
        d
    }
}
