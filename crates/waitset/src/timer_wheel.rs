//! Hierarchical hashed timing wheel holding every timer of a wait set.
//!
//! A wait set may carry any number of deadlines but a single blocking wait can
//! only hand one timeout to the kernel. [`TimerWheel`] keeps all of them and
//! answers the two questions the wait loop asks: "when is the earliest
//! deadline?" ([`TimerWheel::next_expiry`]) and "which timers are due now?"
//! ([`TimerWheel::poll_expired`]).
//!
//! # Structure
//!
//! Time is counted in *ticks* of 1 ms (`when / 1_000_000` for a deadline
//! `when` in nanoseconds). The wheel remembers `elapsed`, the tick it has
//! advanced to; it only ever moves forward.
//!
//! * Six levels of 64 slots each. Level `L` slot `s` covers `64^L` ticks, so
//!   the levels together span `64^6` ms (about 2.2 years). A timer whose tick
//!   `t` first differs from `elapsed` in the 6-bit digit `L` is stored at
//!   level `L`, slot `digit_L(t)`. Consequently every occupied slot of a level
//!   lies at or after that level's current digit, and the earliest occupied slot
//!   overall is the lowest set bit of the lowest non-empty level.
//! * One 64-bit occupancy bitmap per level, so the next non-empty slot is found
//!   with a `trailing_zeros` per level; time jumps of any size go straight to
//!   the next occupied slot and never walk empty ticks.
//! * An overflow list for deadlines beyond the 2^36-tick block `elapsed` is in
//!   (including `u64::MAX`); it is redistributed into the levels when the levels
//!   have drained and time reaches its earliest block.
//! * Deadlines at or before `elapsed` go into the current level-0 slot, which
//!   [`TimerWheel::poll_expired`] always inspects, so they fire on the next poll.
//! * Timers live in a slab (`Vec`) with a free list; each slot is an intrusive
//!   doubly-linked list of `u32` slab indices. A [`TimerKey`] is a slab index
//!   plus a generation counter that is bumped whenever the entry is freed, so
//!   stale keys are rejected.
//!
//! When `elapsed` reaches the start of a slot at level `L > 0`, that slot is
//! *cascaded*: its timers are re-inserted relative to the new `elapsed` and land
//! on lower levels. A level-0 slot is one tick; its timers are compared against
//! the exact `now` in nanoseconds, so nothing fires early, and the due ones are
//! sorted by deadline in a reusable scratch buffer before delivery.
//!
//! # Complexity
//!
//! * `insert`, `remove`: O(1), no allocation once [`TimerWheel::reserve`] has
//!   been called for the peak number of timers.
//! * `poll_expired`: O(levels) bitmap scans per visited slot, plus O(k log k)
//!   for the `k` timers fired from a slot; each timer is cascaded at most six
//!   times (plus, for deadlines over two years away, once per 2^36-tick block).
//! * `next_expiry`: cached; after a change that invalidates the cache it costs
//!   the bitmap scans plus one scan of the earliest occupied slot.

/// Nanoseconds per level-0 slot (one tick).
const NS_PER_TICK: u64 = 1_000_000;
/// Bits of the tick consumed by one level.
const SLOT_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
/// Mask selecting a slot digit.
const SLOT_MASK: u64 = (SLOTS as u64) - 1;
/// Number of levels.
const LEVELS: usize = 6;
/// Ticks covered by all levels together are `1 << WHEEL_BITS`.
const WHEEL_BITS: u32 = SLOT_BITS * LEVELS as u32;
/// List number of the overflow list (after the `LEVELS * SLOTS` slot lists).
const OVERFLOW: usize = LEVELS * SLOTS;
/// Total number of intrusive lists (all slots plus overflow).
const LISTS: usize = OVERFLOW + 1;
/// `Entry::list` value marking a free slab entry.
const FREE: u16 = u16::MAX;
/// Null link in the intrusive lists and the free list.
const NIL: u32 = u32::MAX;

/// Handle to a timer inside a [`TimerWheel`].
///
/// The generation makes keys of removed or fired timers stale even after their
/// slab entry has been reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimerKey {
    /// Slab index of the entry.
    index: u32,
    /// Generation of the entry when the key was issued.
    generation: u32,
}

/// One slab entry: a live timer, or a free entry chained through `next`.
#[derive(Clone, Copy, Debug)]
struct Entry<T: Copy> {
    /// Absolute deadline in nanoseconds.
    when: u64,
    /// Previous entry in the same list, or `NIL`.
    prev: u32,
    /// Next entry in the same list (or in the free list), or `NIL`.
    next: u32,
    /// Bumped every time the entry is freed.
    generation: u32,
    /// List number holding the entry, or `FREE`.
    list: u16,
    /// Caller's payload (left in place, unused, while the entry is free).
    value: T,
}

/// A timer taken out of the wheel by a poll, awaiting delivery.
type Fired<T> = (u64, TimerKey, T);

/// Hierarchical hashed timing wheel; see the module documentation.
#[derive(Debug)]
pub(crate) struct TimerWheel<T: Copy> {
    /// Slab of entries, live and free.
    entries: Vec<Entry<T>>,
    /// Head of the free list threaded through `Entry::next`.
    free_head: u32,
    /// Number of live timers.
    len: usize,
    /// Tick the wheel has advanced to.
    elapsed: u64,
    /// Head of each list: `LEVELS * SLOTS` slots, then the overflow list.
    heads: [u32; LISTS],
    /// Per-level occupancy bitmaps: bit `s` set iff slot `s` is non-empty.
    occupied: [u64; LEVELS],
    /// Smallest `when` in the overflow list (`u64::MAX` if empty), if valid.
    overflow_min: u64,
    /// Whether `overflow_min` is up to date.
    overflow_min_valid: bool,
    /// Cached answer of `next_expiry`, if `next_valid`.
    next_cache: Option<u64>,
    /// Whether `next_cache` is up to date.
    next_valid: bool,
    /// Reusable buffer for sorting a slot's due timers.
    scratch: Vec<Fired<T>>,
}

/// An empty wheel.
impl<T: Copy> Default for TimerWheel<T> {
    /// Same as [`TimerWheel::new`].
    fn default() -> Self {
        Self::new()
    }
}

/// Public (crate) API and internal list maintenance.
impl<T: Copy> TimerWheel<T> {
    /// Creates an empty wheel at time 0 without allocating.
    pub(crate) fn new() -> Self {
        Self {
            entries: Vec::new(),
            free_head: NIL,
            len: 0,
            elapsed: 0,
            heads: [NIL; LISTS],
            occupied: [0; LEVELS],
            overflow_min: u64::MAX,
            overflow_min_valid: true,
            next_cache: None,
            next_valid: true,
            scratch: Vec::new(),
        }
    }

    /// Reserves room for at least `additional` more live timers, so that
    /// inserting them and polling them out does not allocate.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let free = self.entries.len().saturating_sub(self.len);
        self.entries.reserve(additional.saturating_sub(free));
        // One poll may need to sort every live timer at once.
        let want = self.len.saturating_add(additional);
        self.scratch
            .reserve(want.saturating_sub(self.scratch.len()));
    }

    /// Number of pending timers.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a timer firing at `when` (absolute nanoseconds on the caller's
    /// monotonic clock) carrying `value`. A deadline that has already passed
    /// fires on the next [`poll_expired`](Self::poll_expired).
    ///
    /// # Panics
    ///
    /// Only if `u32::MAX - 1` timers are already live (over 100 GiB of slab).
    pub(crate) fn insert(&mut self, when: u64, value: T) -> TimerKey {
        let index = self.alloc(when, value);
        self.link(index, when);
        self.len += 1;
        if self.next_valid {
            match self.next_cache {
                Some(c) if c <= when => {}
                _ => self.next_cache = Some(when),
            }
        }
        TimerKey {
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    /// Cancels the timer `key` in O(1) and returns its value, or `None` if
    /// the key is stale (already removed or fired) or unknown.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<T> {
        let entry = self.entries.get(key.index as usize)?;
        if entry.list == FREE || entry.generation != key.generation {
            return None;
        }
        let (when, value) = (entry.when, entry.value);
        self.unlink(key.index);
        self.free(key.index);
        if self.len == 0 {
            self.next_cache = None;
            self.next_valid = true;
        } else if self.next_cache == Some(when) {
            self.next_valid = false;
        }
        Some(value)
    }

    /// The exact earliest deadline among pending timers, or `None` if there
    /// are none. May lie in the past.
    pub(crate) fn next_expiry(&mut self) -> Option<u64> {
        if !self.next_valid {
            self.next_cache = if let Some(list) = self.first_occupied() {
                Some(self.list_min(list))
            } else if self.heads[OVERFLOW] != NIL {
                Some(self.overflow_min())
            } else {
                None
            };
            self.next_valid = true;
        }
        self.next_cache
    }

    /// Removes every timer with `when <= now` and calls `f(key, when, value)`
    /// for each, in non-decreasing `when` order. Timers with `when > now` stay.
    pub(crate) fn poll_expired(&mut self, now: u64, mut f: impl FnMut(TimerKey, u64, T)) {
        // Leftovers only exist if a previous callback panicked.
        self.scratch.clear();
        if self.next_valid {
            match self.next_cache {
                Some(c) if c <= now => {}
                _ => return,
            }
        }
        let target = (now / NS_PER_TICK).max(self.elapsed);
        loop {
            if let Some(list) = self.first_occupied() {
                let level = list / SLOTS;
                let start = self.slot_start(list);
                if start > target {
                    break;
                }
                self.elapsed = start;
                if level == 0 {
                    self.fire_list(list, now, &mut f);
                    if self.heads[list] != NIL {
                        // The rest of this tick is not due yet; nothing later is.
                        break;
                    }
                } else {
                    self.cascade(list);
                }
            } else if self.heads[OVERFLOW] != NIL {
                let block = (self.overflow_min() / NS_PER_TICK) & !((1u64 << WHEEL_BITS) - 1);
                if block > target {
                    break;
                }
                self.elapsed = block;
                self.cascade(OVERFLOW);
            } else {
                break;
            }
        }
        self.elapsed = target;
    }

    /// Takes a free slab entry (or pushes a new one) holding `when`/`value`.
    fn alloc(&mut self, when: u64, value: T) -> u32 {
        if let Some(entry) = self.entries.get_mut(self.free_head as usize) {
            let index = self.free_head;
            self.free_head = entry.next;
            entry.when = when;
            entry.value = value;
            index
        } else {
            let index = u32::try_from(self.entries.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("TimerWheel: too many live timers for u32 indices");
            self.entries.push(Entry {
                when,
                prev: NIL,
                next: NIL,
                generation: 0,
                list: FREE,
                value,
            });
            index
        }
    }

    /// Returns entry `index` to the free list and makes its keys stale.
    fn free(&mut self, index: u32) {
        let entry = &mut self.entries[index as usize];
        entry.list = FREE;
        entry.generation = entry.generation.wrapping_add(1);
        entry.next = self.free_head;
        self.free_head = index;
        self.len -= 1;
    }

    /// The list a timer at tick `tick` belongs in, relative to `elapsed`.
    #[inline]
    fn list_for(&self, tick: u64) -> usize {
        let masked = (self.elapsed ^ tick) | SLOT_MASK;
        if masked >> WHEEL_BITS != 0 {
            return OVERFLOW;
        }
        let significant = 63 - masked.leading_zeros();
        let level = (significant / SLOT_BITS) as usize;
        let slot = ((tick >> (SLOT_BITS * level as u32)) & SLOT_MASK) as usize;
        level * SLOTS + slot
    }

    /// Links the allocated entry `index` (deadline `when`) into its list.
    #[inline]
    fn link(&mut self, index: u32, when: u64) {
        let tick = (when / NS_PER_TICK).max(self.elapsed);
        let list = self.list_for(tick);
        let head = self.heads[list];
        {
            let entry = &mut self.entries[index as usize];
            entry.prev = NIL;
            entry.next = head;
            entry.list = list as u16;
        }
        if head != NIL {
            self.entries[head as usize].prev = index;
        }
        self.heads[list] = index;
        if list < OVERFLOW {
            self.occupied[list / SLOTS] |= 1 << (list % SLOTS);
        } else if self.overflow_min_valid {
            self.overflow_min = self.overflow_min.min(when);
        }
    }

    /// Unlinks the live entry `index` from its list.
    #[inline]
    fn unlink(&mut self, index: u32) {
        let Entry {
            prev,
            next,
            list,
            when,
            ..
        } = self.entries[index as usize];
        let list = list as usize;
        if prev != NIL {
            self.entries[prev as usize].next = next;
        } else {
            self.heads[list] = next;
            if next == NIL && list < OVERFLOW {
                self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
            }
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        if list == OVERFLOW && when == self.overflow_min {
            self.overflow_min_valid = false;
        }
    }

    /// The earliest non-empty slot list, if any level is occupied.
    #[inline]
    fn first_occupied(&self) -> Option<usize> {
        self.occupied
            .iter()
            .position(|&bits| bits != 0)
            .map(|level| level * SLOTS + self.occupied[level].trailing_zeros() as usize)
    }

    /// First tick covered by slot list `list` in the current rotation.
    #[inline]
    fn slot_start(&self, list: usize) -> u64 {
        let shift = SLOT_BITS * (list / SLOTS) as u32;
        let block_mask = !((1u64 << (shift + SLOT_BITS)) - 1);
        (self.elapsed & block_mask) | (((list % SLOTS) as u64) << shift)
    }

    /// Smallest deadline in list `list` (`u64::MAX` if empty).
    fn list_min(&self, list: usize) -> u64 {
        let mut min = u64::MAX;
        let mut index = self.heads[list];
        while let Some(entry) = self.entries.get(index as usize) {
            min = min.min(entry.when);
            index = entry.next;
        }
        min
    }

    /// Smallest deadline in the overflow list, recomputed if stale.
    fn overflow_min(&mut self) -> u64 {
        if !self.overflow_min_valid {
            self.overflow_min = self.list_min(OVERFLOW);
            self.overflow_min_valid = true;
        }
        self.overflow_min
    }

    /// Empties `list` and re-inserts its timers relative to `elapsed`.
    fn cascade(&mut self, list: usize) {
        let mut index = self.heads[list];
        self.heads[list] = NIL;
        if list < OVERFLOW {
            self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
        } else {
            self.overflow_min = u64::MAX;
            self.overflow_min_valid = true;
        }
        while index != NIL {
            let entry = self.entries[index as usize];
            self.link(index, entry.when);
            index = entry.next;
        }
    }

    /// Removes the timers of level-0 `list` with `when <= now` and delivers
    /// them to `f` sorted by deadline.
    fn fire_list(&mut self, list: usize, now: u64, f: &mut impl FnMut(TimerKey, u64, T)) {
        let mut index = self.heads[list];
        while index != NIL {
            let entry = self.entries[index as usize];
            if entry.when <= now {
                self.unlink(index);
                self.free(index);
                let key = TimerKey {
                    index,
                    generation: entry.generation,
                };
                self.scratch.push((entry.when, key, entry.value));
            }
            index = entry.next;
        }
        if self.scratch.is_empty() {
            return;
        }
        self.next_valid = false;
        if self.scratch.len() > 1 {
            self.scratch.sort_unstable_by_key(|fired| fired.0);
        }
        for (when, key, value) in self.scratch.drain(..) {
            f(key, when, value);
        }
    }
}

/// Rule tests and a model-based property test.
#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashMap};

    /// One millisecond in nanoseconds.
    const MS: u64 = 1_000_000;

    /// Polls `wheel` at `now` and collects `(when, value)` pairs.
    fn poll(wheel: &mut TimerWheel<u32>, now: u64) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        wheel.poll_expired(now, |_, when, value| out.push((when, value)));
        out
    }

    /// Timers sharing slots and levels fire sorted by exact deadline.
    #[test]
    fn fires_in_deadline_order() {
        let mut wheel = TimerWheel::new();
        // Many timers sharing slots, inserted out of order, across levels.
        let deadlines: Vec<u64> = (0..2000u64)
            .map(|i| (i * 7919 % 2000) * 333_333 + (i % 3) * 1_000)
            .collect();
        for (i, &when) in deadlines.iter().enumerate() {
            wheel.insert(when, i as u32);
        }
        let fired = poll(&mut wheel, u64::MAX);
        assert_eq!(fired.len(), deadlines.len());
        assert!(fired.windows(2).all(|w| w[0].0 <= w[1].0));
        for (when, value) in fired {
            assert_eq!(deadlines[value as usize], when);
        }
        assert!(wheel.is_empty());
    }

    /// A timer never fires while `now < when`, even within its tick.
    #[test]
    fn never_fires_early() {
        let mut wheel = TimerWheel::new();
        wheel.insert(5 * MS + 1, 1);
        wheel.insert(5 * MS + 500_000, 2);
        wheel.insert(70 * MS, 3);
        assert!(poll(&mut wheel, 5 * MS).is_empty());
        assert_eq!(poll(&mut wheel, 5 * MS + 1), vec![(5 * MS + 1, 1)]);
        assert!(poll(&mut wheel, 5 * MS + 499_999).is_empty());
        assert_eq!(
            poll(&mut wheel, 5 * MS + 500_000),
            vec![(5 * MS + 500_000, 2)]
        );
        assert!(poll(&mut wheel, 70 * MS - 1).is_empty());
        assert_eq!(wheel.len(), 1);
        assert_eq!(poll(&mut wheel, 70 * MS), vec![(70 * MS, 3)]);
    }

    /// Deadlines behind the wheel's elapsed time fire on the next poll.
    #[test]
    fn past_deadline_fires_on_next_poll() {
        let mut wheel = TimerWheel::new();
        assert!(poll(&mut wheel, 10_000 * MS).is_empty());
        wheel.insert(3 * MS, 1);
        wheel.insert(10_000 * MS, 2);
        wheel.insert(0, 3);
        assert_eq!(wheel.next_expiry(), Some(0));
        // Even a poll with an earlier `now` fires what is due by it.
        assert_eq!(poll(&mut wheel, 3 * MS), vec![(0, 3), (3 * MS, 1)]);
        assert_eq!(poll(&mut wheel, 10_000 * MS), vec![(10_000 * MS, 2)]);
        assert!(wheel.is_empty());
    }

    /// Removing twice, or with a bogus or fired key, returns `None`.
    #[test]
    fn remove_is_idempotent_and_stale_keys_are_rejected() {
        let mut wheel = TimerWheel::new();
        let a = wheel.insert(10 * MS, 1);
        let b = wheel.insert(20 * MS, 2);
        assert_eq!(wheel.remove(a), Some(1));
        assert_eq!(wheel.remove(a), None);
        assert_eq!(wheel.len(), 1);
        let bogus = TimerKey {
            index: 12345,
            generation: 0,
        };
        assert_eq!(wheel.remove(bogus), None);
        let wrong_gen = TimerKey {
            index: b.index,
            generation: b.generation.wrapping_add(7),
        };
        assert_eq!(wheel.remove(wrong_gen), None);
        assert_eq!(poll(&mut wheel, 100 * MS), vec![(20 * MS, 2)]);
        assert_eq!(wheel.remove(b), None);
        assert!(wheel.is_empty());
    }

    /// A reused slab entry gets a new generation; old keys stay stale.
    #[test]
    fn key_reuse_after_fire_is_not_confused() {
        let mut wheel = TimerWheel::new();
        let old = wheel.insert(MS, 1);
        assert_eq!(poll(&mut wheel, MS), vec![(MS, 1)]);
        let new = wheel.insert(2 * MS, 2);
        assert_eq!(old.index, new.index, "slab entry is reused");
        assert_ne!(old, new);
        assert_eq!(wheel.remove(old), None);
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.remove(new), Some(2));
        let newer = wheel.insert(3 * MS, 3);
        assert_eq!(wheel.remove(new), None);
        assert_eq!(wheel.remove(old), None);
        assert_eq!(wheel.remove(newer), Some(3));
    }

    /// `next_expiry` reports the exact earliest deadline, not a slot bound.
    #[test]
    fn next_expiry_is_exact() {
        let mut wheel = TimerWheel::new();
        assert_eq!(wheel.next_expiry(), None);
        let far = wheel.insert(3_600_000 * MS + 17, 1);
        assert_eq!(wheel.next_expiry(), Some(3_600_000 * MS + 17));
        let a = wheel.insert(3_600_000 * MS + 5, 2);
        assert_eq!(wheel.next_expiry(), Some(3_600_000 * MS + 5));
        wheel.insert(90 * MS + 123, 3);
        assert_eq!(wheel.next_expiry(), Some(90 * MS + 123));
        assert_eq!(poll(&mut wheel, 90 * MS + 123), vec![(90 * MS + 123, 3)]);
        assert_eq!(wheel.next_expiry(), Some(3_600_000 * MS + 5));
        assert_eq!(wheel.remove(a), Some(2));
        assert_eq!(wheel.next_expiry(), Some(3_600_000 * MS + 17));
        assert_eq!(wheel.remove(far), Some(1));
        assert_eq!(wheel.next_expiry(), None);
    }

    /// Jumps of hours, days and years cascade and fire in order.
    #[test]
    fn large_time_jumps_cascade_correctly() {
        let mut wheel = TimerWheel::new();
        let hour = 3_600_000 * MS;
        let deadlines = [
            hour,
            hour + 1,
            5 * hour,
            24 * hour,
            24 * hour + MS,
            400 * 24 * hour,
            3 * 365 * 24 * hour,
            100 * 365 * 24 * hour,
        ];
        for (i, &when) in deadlines.iter().enumerate() {
            wheel.insert(when, i as u32);
        }
        assert_eq!(poll(&mut wheel, hour), vec![(hour, 0)]);
        assert_eq!(
            poll(&mut wheel, 23 * hour),
            vec![(hour + 1, 1), (5 * hour, 2)]
        );
        assert_eq!(wheel.next_expiry(), Some(24 * hour));
        assert_eq!(poll(&mut wheel, 24 * hour), vec![(24 * hour, 3)]);
        assert_eq!(wheel.next_expiry(), Some(24 * hour + MS));
        assert_eq!(
            poll(&mut wheel, 1000 * 24 * hour),
            vec![(24 * hour + MS, 4), (400 * 24 * hour, 5)]
        );
        assert_eq!(wheel.next_expiry(), Some(3 * 365 * 24 * hour));
        assert!(poll(&mut wheel, 3 * 365 * 24 * hour - 1).is_empty());
        assert_eq!(
            poll(&mut wheel, 3 * 365 * 24 * hour),
            vec![(3 * 365 * 24 * hour, 6)]
        );
        assert_eq!(
            poll(&mut wheel, 100 * 365 * 24 * hour),
            vec![(100 * 365 * 24 * hour, 7)]
        );
        assert!(wheel.is_empty());
    }

    /// `u64::MAX` is accepted and fires only at `now == u64::MAX`.
    #[test]
    fn max_deadline_is_accepted() {
        let mut wheel = TimerWheel::new();
        let key = wheel.insert(u64::MAX, 1);
        wheel.insert(u64::MAX, 2);
        wheel.insert(u64::MAX - 1, 3);
        assert_eq!(wheel.next_expiry(), Some(u64::MAX - 1));
        assert_eq!(poll(&mut wheel, u64::MAX - 2), vec![]);
        assert_eq!(poll(&mut wheel, u64::MAX - 1), vec![(u64::MAX - 1, 3)]);
        assert_eq!(wheel.next_expiry(), Some(u64::MAX));
        assert_eq!(wheel.remove(key), Some(1));
        assert_eq!(poll(&mut wheel, u64::MAX), vec![(u64::MAX, 2)]);
        // Once time is at the end, anything inserted is immediately due.
        wheel.insert(7, 4);
        wheel.insert(u64::MAX, 5);
        assert_eq!(poll(&mut wheel, u64::MAX), vec![(7, 4), (u64::MAX, 5)]);
        assert!(wheel.is_empty());
    }

    /// One step of the model test.
    #[derive(Clone, Debug)]
    enum Op {
        /// Insert at `clock + offset`, or `clock - offset` if `past`.
        Insert { offset: u64, past: bool },
        /// Remove the `n`-th key ever issued (modulo), live or stale.
        Remove(usize),
        /// Advance the clock by the amount and poll.
        Poll(u64),
        /// Poll at `clock - amount` without moving the clock.
        PollBehind(u64),
        /// Compare `next_expiry`.
        NextExpiry,
    }

    /// Time spans from sub-tick to beyond the wheel's range, and the maximum.
    fn span() -> impl Strategy<Value = u64> {
        prop_oneof![
            3 => 0..4u64,
            2 => (0..130u64).prop_map(|n| n * MS),
            4 => 0..3 * MS,
            4 => 0..200 * MS,
            3 => 0..100_000 * MS,
            2 => 0..50_000_000 * MS,
            1 => 0..u64::MAX / 2,
            1 => Just(u64::MAX),
        ]
    }

    /// Random wheel operations, weighted towards inserts and polls.
    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (span(), prop::bool::weighted(0.2))
                .prop_map(|(offset, past)| Op::Insert { offset, past }),
            3 => any::<usize>().prop_map(Op::Remove),
            3 => span().prop_map(Op::Poll),
            1 => (0..5 * MS).prop_map(Op::PollBehind),
            2 => Just(Op::NextExpiry),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The wheel agrees with a `BTreeMap` model on every operation.
        #[test]
        fn model_agrees(
            start in prop_oneof![
                Just(0u64),
                (0..1u64 << 40).prop_map(|n| n * MS),
                0..u64::MAX / 4,
            ],
            ops in prop::collection::vec(op(), 1..200),
        ) {
            let mut wheel: TimerWheel<u64> = TimerWheel::new();
            let mut model: BTreeMap<(u64, u64), u64> = BTreeMap::new();
            let mut live: HashMap<TimerKey, (u64, u64)> = HashMap::new();
            let mut issued: Vec<TimerKey> = Vec::new();
            let mut clock = start;
            let mut seq = 0u64;
            for op in ops {
                match op {
                    Op::Insert { offset, past } => {
                        let when = if past {
                            clock.saturating_sub(offset)
                        } else {
                            clock.saturating_add(offset)
                        };
                        seq += 1;
                        let key = wheel.insert(when, seq);
                        // A key is never handed out twice (generations).
                        prop_assert!(!issued.contains(&key));
                        prop_assert!(live.insert(key, (when, seq)).is_none());
                        model.insert((when, seq), seq);
                        issued.push(key);
                    }
                    Op::Remove(n) => {
                        if issued.is_empty() {
                            continue;
                        }
                        let key = issued[n % issued.len()];
                        let expected = live.remove(&key).map(|k| {
                            model.remove(&k).unwrap()
                        });
                        prop_assert_eq!(wheel.remove(key), expected);
                    }
                    Op::Poll(_) | Op::PollBehind(_) => {
                        let now = match op {
                            Op::Poll(d) => {
                                clock = clock.saturating_add(d);
                                clock
                            }
                            Op::PollBehind(d) => clock.saturating_sub(d),
                            _ => unreachable!(),
                        };
                        let mut fired = Vec::new();
                        wheel.poll_expired(now, |key, when, value| {
                            fired.push((key, when, value));
                        });
                        prop_assert!(fired.windows(2).all(|w| w[0].1 <= w[1].1));
                        let rest = model.split_off(&(now.saturating_add(1), 0));
                        let due = std::mem::replace(&mut model, rest);
                        let due = if now == u64::MAX {
                            // `split_off` cannot express "<= u64::MAX": all are due.
                            let mut all = due;
                            all.append(&mut model);
                            all
                        } else {
                            due
                        };
                        let mut got: Vec<(u64, u64)> = Vec::new();
                        for (key, when, value) in &fired {
                            prop_assert_eq!(live.remove(key), Some((*when, *value)));
                            got.push((*when, *value));
                        }
                        got.sort_unstable();
                        let want: Vec<(u64, u64)> = due.keys().copied().collect();
                        prop_assert_eq!(got, want);
                    }
                    Op::NextExpiry => {
                        let want = model.keys().next().map(|&(when, _)| when);
                        prop_assert_eq!(wheel.next_expiry(), want);
                    }
                }
                prop_assert_eq!(wheel.len(), model.len());
                prop_assert_eq!(wheel.is_empty(), model.is_empty());
            }
            let want = model.keys().next().map(|&(when, _)| when);
            prop_assert_eq!(wheel.next_expiry(), want);
        }
    }
}
