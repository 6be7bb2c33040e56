//! [`Event`]: eight user signals that any thread can set and clear, and any set can wait on.

use super::{Change, ObserverList};
use crate::sync::{Arc, AtomicBool, AtomicU32, Mutex, Ordering, Rank};
use crate::{Error, Result, Signals};

/// The state of an event shared by its handles and by the sets that watch it.
pub(crate) struct EventCore {
    signals: AtomicU32,
    /// Set when the last handle is dropped: the signals can never change again.
    frozen: AtomicBool,
    pub(crate) observers: Mutex<ObserverList>,
}

impl EventCore {
    /// The signals asserted now.
    #[inline]
    pub(crate) fn signals(&self) -> Signals {
        Signals::from_bits_retain(self.signals.load(Ordering::Acquire))
    }

    /// Whether the last handle has been dropped.
    #[inline]
    pub(crate) fn frozen(&self) -> bool {
        self.frozen.load(Ordering::Acquire)
    }
}

/// What every clone of one [`Event`] shares; its `Drop` is the one place that decides that the
/// last handle is gone.
struct EventOwner {
    core: Arc<EventCore>,
}

/// Dropping the last handle freezes the event (see the drop rule in [`crate::source`]).
impl Drop for EventOwner {
    fn drop(&mut self) {
        let deferred = {
            let mut observers = self.core.observers.lock();
            self.core.frozen.store(true, Ordering::Release);
            observers.notify_last(Change::Frozen)
        };
        deferred.run();
    }
}

/// A user event: eight signals ([`Signals::USER_0`] to [`Signals::USER_7`]) set and cleared from
/// any thread. A [`WaitSet`](crate::WaitSet) entry on an event is satisfied when a watched signal
/// is asserted.
///
/// Dropping the last handle (the last clone) freezes the event: nobody can change it again, so
/// an entry whose watched signals are not asserted is reported
/// [`Status::Unsatisfiable`](crate::Status::Unsatisfiable) (once; [`WaitSet::modify`](crate::WaitSet::modify)
/// re-arms it), and asserted signals stay asserted. The same rule holds for every source
/// (see [`Timer`](crate::Timer)).
///
/// ```
/// use waitset::{Deadline, Error, Event, Signals, Source, Status, WaitResult, WaitSet};
/// let set = WaitSet::new().unwrap();
/// let ev = Event::new();
/// set.add(1, Source::from(&ev), Signals::USER_0).unwrap();
/// set.add(2, Source::from(&ev), Signals::USER_1).unwrap();
/// ev.signal(Signals::empty(), Signals::USER_1).unwrap();
/// drop(ev); // the last handle: nobody can assert USER_0 anymore
/// let mut out = [WaitResult::default(); 2];
/// assert_eq!(set.wait(Deadline::now(), &mut out).unwrap(), 2);
/// out.sort_by_key(|r| r.cookie);
/// assert_eq!((out[0].cookie, out[0].status), (1, Status::Unsatisfiable));
/// assert_eq!((out[1].cookie, out[1].status), (2, Status::Satisfied)); // stays asserted
/// ```
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
    owner: Arc<EventOwner>,
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
            owner: self.owner.clone(),
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
            owner: Arc::new(EventOwner {
                core: Arc::new(EventCore {
                    signals: AtomicU32::new(0),
                    frozen: AtomicBool::new(false),
                    observers: Mutex::new(Rank::Source, ObserverList::default()),
                }),
            }),
        }
    }

    /// The shared state the sets watch.
    pub(crate) fn core(&self) -> &Arc<EventCore> {
        &self.owner.core
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
        self.owner.core.signals()
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
        let core = &self.owner.core;
        let deferred = {
            let mut observers = core.observers.lock();
            let old = core.signals();
            let new = (old - clear) | set;
            if new == old {
                return Ok(());
            }
            core.signals.store(new.bits(), Ordering::Release);
            observers.notify(Change::Signals { old, new })
        };
        deferred.run();
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
        Arc::ptr_eq(&self.owner, &other.owner)
    }
}
