//! [`Event`]: eight user signals that any thread can set and clear, and any set can wait on.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::waitset::Watchers;
use crate::{Error, Result, Signals};

pub(crate) struct EventShared {
    signals: AtomicU32,
    /// Set when the last user handle is dropped: the signals can never change again.
    pub(crate) orphaned: AtomicBool,
    pub(crate) watchers: Mutex<Watchers>,
}

impl EventShared {
    pub(crate) fn signals(&self) -> Signals {
        Signals::from_bits_retain(self.signals.load(Ordering::Acquire))
    }
}

/// A user event: eight signals ([`Signals::USER_0`] to [`Signals::USER_7`]) set and cleared from
/// any thread. A [`WaitSet`](crate::WaitSet) entry on an event is satisfied when a watched signal
/// is asserted; once the `Event` is dropped, an entry whose signals are not asserted is reported
/// [`Status::Unsatisfiable`](crate::Status::Unsatisfiable), since nobody can assert them anymore.
///
/// ```
/// use waitset::{Deadline, Event, Signals, Source, Status, WaitResult, WaitSet};
/// let set = WaitSet::new().unwrap();
/// let ev = Event::new();
/// set.add(7, Source::from(&ev), Signals::USER_1).unwrap();
/// let t = std::thread::spawn({
///     let ev = ev.clone();
///     move || ev.signal(Signals::empty(), Signals::USER_1).unwrap()
/// });
/// let mut out = [WaitResult::default(); 4];
/// let n = set.wait(Deadline::INFINITE, &mut out).unwrap();
/// assert_eq!((n, out[0].cookie, out[0].status), (1, 7, Status::Satisfied));
/// t.join().unwrap();
/// ```
pub struct Event {
    pub(crate) shared: Arc<EventShared>,
    handles: Arc<()>,
}

impl Clone for Event {
    /// Another handle to the same event.
    ///
    /// ```
    /// use waitset::{Deadline, Error, Event, Signals, Source, Status, WaitResult, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let a = Event::new();
    /// let b = a.clone();
    /// set.add(1, Source::from(&a), Signals::USER_0).unwrap();
    /// drop(a); // `b` can still assert the signal: the entry is not unsatisfiable
    /// let mut out = [WaitResult::default(); 1];
    /// assert!(matches!(set.wait(Deadline::now(), &mut out), Err(Error::TimedOut)));
    /// b.signal(Signals::empty(), Signals::USER_0).unwrap();
    /// assert_eq!(set.wait(Deadline::now(), &mut out).unwrap(), 1);
    /// assert_eq!(out[0].status, Status::Satisfied);
    /// ```
    fn clone(&self) -> Event {
        Event {
            shared: self.shared.clone(),
            handles: self.handles.clone(),
        }
    }
}

impl Default for Event {
    fn default() -> Event {
        Event::new()
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("signals", &self.signals())
            .finish()
    }
}

impl Event {
    /// A new event with no signal asserted.
    ///
    /// ```
    /// use waitset::{Deadline, Error, Event, Signals, Source, WaitResult, WaitSet};
    /// let ev = Event::new();
    /// assert!(ev.signals().is_empty());
    /// let set = WaitSet::new().unwrap();
    /// set.add(1, Source::from(&ev), Signals::USER_ALL).unwrap();
    /// let mut out = [WaitResult::default(); 1];
    /// assert!(matches!(set.wait(Deadline::now(), &mut out), Err(Error::TimedOut)));
    /// ```
    pub fn new() -> Event {
        Event {
            shared: Arc::new(EventShared {
                signals: AtomicU32::new(0),
                orphaned: AtomicBool::new(false),
                watchers: Mutex::new(Watchers::default()),
            }),
            handles: Arc::new(()),
        }
    }

    /// The signals asserted now.
    ///
    /// ```
    /// use waitset::{Event, Signals};
    /// let ev = Event::new();
    /// ev.signal(Signals::empty(), Signals::USER_0 | Signals::USER_1).unwrap();
    /// ev.signal(Signals::USER_0, Signals::empty()).unwrap();
    /// assert_eq!(ev.signals(), Signals::USER_1);
    /// ```
    pub fn signals(&self) -> Signals {
        self.shared.signals()
    }

    /// Clear the signals in `clear`, then assert those in `set`, atomically, and wake every set
    /// that waits for a signal that became asserted. Only user signals may be named; any other
    /// bit is [`Error::InvalidArgument`] and changes nothing.
    ///
    /// ```
    /// use waitset::{Error, Event, Signals};
    /// let ev = Event::new();
    /// ev.signal(Signals::empty(), Signals::USER_0 | Signals::USER_3).unwrap();
    /// // Clear everything, then assert USER_1, in one step.
    /// ev.signal(Signals::USER_ALL, Signals::USER_1).unwrap();
    /// assert_eq!(ev.signals(), Signals::USER_1);
    /// // Only user signals: any other bit is rejected and nothing changes.
    /// let e = ev.signal(Signals::USER_1, Signals::READABLE).unwrap_err();
    /// assert!(matches!(e, Error::InvalidArgument(_)));
    /// assert_eq!(ev.signals(), Signals::USER_1);
    /// ```
    pub fn signal(&self, clear: Signals, set: Signals) -> Result<()> {
        if !(clear | set).difference(Signals::USER_ALL).is_empty() {
            return Err(
                Error::InvalidArgument("only user signals can be set on an event")
                    .traced("event_signal"),
            );
        }
        let w = crate::waitset::lock(&self.shared.watchers);
        let old = Signals::from_bits_retain(self.shared.signals.load(Ordering::Acquire));
        let new = (old - clear) | set;
        if new == old {
            return Ok(());
        }
        self.shared.signals.store(new.bits(), Ordering::Release);
        let posts = w.notify(old, new);
        drop(w);
        posts.post();
        Ok(())
    }

    /// Whether `other` is a handle to the same event.
    ///
    /// ```
    /// use waitset::Event;
    /// let a = Event::new();
    /// assert!(a.same_as(&a.clone()));
    /// assert!(!a.same_as(&Event::new()));
    /// ```
    pub fn same_as(&self, other: &Event) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// Dropping the last handle to an event wakes the sets that watch it: an entry whose watched
/// signals are not asserted is then reported
/// [`Status::Unsatisfiable`](crate::Status::Unsatisfiable).
///
/// ```
/// use waitset::{Deadline, Event, Signals, Source, Status, WaitResult, WaitSet};
/// let set = WaitSet::new().unwrap();
/// let ev = Event::new();
/// set.add(1, Source::from(&ev), Signals::USER_0).unwrap();
/// drop(ev); // the last handle: nobody can assert USER_0 anymore
/// let mut out = [WaitResult::default(); 1];
/// assert_eq!(set.wait(Deadline::now(), &mut out).unwrap(), 1);
/// assert_eq!(out[0].status, Status::Unsatisfiable);
/// ```
impl Drop for Event {
    fn drop(&mut self) {
        // The last user handle: wake the sets so that entries become unsatisfiable.
        if Arc::strong_count(&self.handles) == 1 {
            let w = crate::waitset::lock(&self.shared.watchers);
            self.shared.orphaned.store(true, Ordering::Release);
            let s = self.shared.signals();
            let posts = w.notify(s, s);
            drop(w);
            posts.post();
        }
    }
}
