//! The process-wide handle table: integer handles with rights, safe to use from any thread.
//!
//! A handle value is `generation << 20 | slot`, with the generation in 1..=2047, so every valid
//! handle lies in `[2^20, 2^31)`: it is positive, never 0 ([`WS_HANDLE_INVALID`]), and never a
//! small number such as a file descriptor. Closing a handle bumps its slot's generation, and
//! freed slots are reused oldest first, so a stale copy of a closed handle is reported as
//! [`WS_ERR_BAD_HANDLE`] rather than naming a newer object: the same value comes back only after
//! its slot has been freed 2047 more times.
//!
//! The table holds at most 2^20 handles; `WAITSET_CAPI_MAX_HANDLES`, read once when the table is
//! first used, lowers that limit (tests use it to reach [`WS_ERR_NO_MEMORY`] quickly).

use std::collections::VecDeque;
use std::sync::{Arc, LazyLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::magenta::HandleRef;
use crate::status::{ws_status_t, WS_ERR_BAD_HANDLE, WS_ERR_NO_MEMORY};

/// A handle: a positive integer naming an object and the rights it grants.
#[allow(non_camel_case_types)]
pub type ws_handle_t = i32;

/// The invalid handle (0): never returned by a successful call; closing it is a no-op.
pub const WS_HANDLE_INVALID: ws_handle_t = 0;

const SLOT_BITS: u32 = 20;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
const MAX_SLOTS: usize = 1 << SLOT_BITS;
const GEN_MAX: u32 = (1 << (31 - SLOT_BITS)) - 1;

struct Slot {
    gen: u32,
    handle: Option<Arc<HandleRef>>,
}

struct Table {
    slots: Vec<Slot>,
    /// Free slots, oldest first.
    free: VecDeque<u32>,
    /// Open handles.
    open: usize,
    limit: usize,
}

static TABLE: LazyLock<RwLock<Table>> = LazyLock::new(|| {
    let limit = std::env::var("WAITSET_CAPI_MAX_HANDLES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(MAX_SLOTS, |n| n.min(MAX_SLOTS));
    RwLock::new(Table {
        slots: Vec::new(),
        free: VecDeque::new(),
        open: 0,
        limit,
    })
});

// A panic never happens under the table lock (no user code runs there), but should one have,
// the table is still consistent: every update is a single assignment.
fn read() -> RwLockReadGuard<'static, Table> {
    TABLE.read().unwrap_or_else(|e| e.into_inner())
}

fn write() -> RwLockWriteGuard<'static, Table> {
    TABLE.write().unwrap_or_else(|e| e.into_inner())
}

fn encode(slot: u32, gen: u32) -> ws_handle_t {
    ((gen << SLOT_BITS) | slot) as ws_handle_t
}

fn decode(h: ws_handle_t) -> Option<(usize, u32)> {
    if h <= 0 {
        return None;
    }
    let h = h as u32;
    let gen = h >> SLOT_BITS;
    (gen != 0).then_some(((h & SLOT_MASK) as usize, gen))
}

/// Make a new handle for the object that `make` builds. `make` runs only once a slot is
/// reserved, so a caller that hands over a resource (a descriptor) keeps it on failure.
pub(crate) fn insert(make: impl FnOnce() -> HandleRef) -> Result<ws_handle_t, ws_status_t> {
    let mut t = write();
    if t.open >= t.limit {
        return Err(WS_ERR_NO_MEMORY);
    }
    let slot = match t.free.pop_front() {
        Some(s) => s,
        None => {
            // `free` keeps room for every slot, so that `remove` never allocates.
            let room = (t.slots.len() + 1).saturating_sub(t.free.len());
            if t.slots.try_reserve(1).is_err() || t.free.try_reserve(room).is_err() {
                return Err(WS_ERR_NO_MEMORY);
            }
            t.slots.push(Slot {
                gen: 1,
                handle: None,
            });
            (t.slots.len() - 1) as u32
        }
    };
    let s = &mut t.slots[slot as usize];
    s.handle = Some(Arc::new(make()));
    let h = encode(slot, s.gen);
    t.open += 1;
    Ok(h)
}

/// The object and rights behind `h`.
pub(crate) fn get(h: ws_handle_t) -> Result<Arc<HandleRef>, ws_status_t> {
    let (slot, gen) = decode(h).ok_or(WS_ERR_BAD_HANDLE)?;
    let t = read();
    match t.slots.get(slot) {
        Some(Slot {
            gen: g,
            handle: Some(r),
        }) if *g == gen => Ok(r.clone()),
        _ => Err(WS_ERR_BAD_HANDLE),
    }
}

/// Take `h` out of the table: from now on it is [`WS_ERR_BAD_HANDLE`] everywhere.
pub(crate) fn remove(h: ws_handle_t) -> Result<Arc<HandleRef>, ws_status_t> {
    let (slot, gen) = decode(h).ok_or(WS_ERR_BAD_HANDLE)?;
    let mut t = write();
    let s = match t.slots.get_mut(slot) {
        Some(s) if s.gen == gen && s.handle.is_some() => s,
        _ => return Err(WS_ERR_BAD_HANDLE),
    };
    let r = s.handle.take().expect("checked above");
    s.gen = if s.gen == GEN_MAX { 1 } else { s.gen + 1 };
    t.open -= 1;
    // Room was reserved when the slot was created, so this cannot allocate.
    t.free.push_back(slot as u32);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_positive_and_large() {
        assert_eq!(encode(0, 1), 1 << 20);
        assert_eq!(encode(SLOT_MASK, GEN_MAX), i32::MAX);
        assert_eq!(decode(encode(5, 9)), Some((5, 9)));
        for bad in [0, -1, 3, (1 << 20) - 1, i32::MIN] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
