//! The portable `poll(2)` backend, compiled on every unix.
//!
//! Interest is kept in a registry in user space. Each waiting thread holds a snapshot of it (a
//! `pollfd` array), rebuilt only when the registry changed since that snapshot was taken, and the
//! snapshots are pooled, so a steady-state wait allocates nothing and copies nothing. Because
//! `poll(2)` sees only the snapshot, a registration change wakes blocked waiters (see
//! [`Backend::change_needs_wake`]). One-shot is emulated exactly (disarmed after one report);
//! edge triggering is not offered, see [`Capabilities`](crate::Capabilities).

use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::sync::Mutex;
use std::time::Duration;

use super::{AddError, Backend, Ready, Trigger};
use crate::Signals;

/// `POLLRDHUP` where the kernel has it (the peer shut down its writing side).
#[cfg(any(target_os = "linux", target_os = "android"))]
const POLLRDHUP: i16 = libc::POLLRDHUP;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const POLLRDHUP: i16 = 0;

/// The poll(2) events for an interest.
pub(crate) fn events(interest: Signals) -> i16 {
    let mut e = 0;
    if interest.contains(Signals::READABLE) {
        e |= libc::POLLIN | POLLRDHUP;
    }
    if interest.contains(Signals::WRITABLE) {
        e |= libc::POLLOUT;
    }
    if interest.contains(Signals::PRIORITY) {
        e |= libc::POLLPRI;
    }
    if interest.contains(Signals::PEER_CLOSED) {
        e |= POLLRDHUP;
    }
    e
}

/// The signals a poll(2) `revents` reports.
pub(crate) fn signals(revents: i16) -> Signals {
    let mut s = Signals::empty();
    if revents & (libc::POLLIN | libc::POLLRDNORM) != 0 {
        s |= Signals::READABLE;
    }
    if revents & (libc::POLLOUT | libc::POLLWRNORM) != 0 {
        s |= Signals::WRITABLE;
    }
    if revents & (libc::POLLPRI | libc::POLLRDBAND) != 0 {
        s |= Signals::PRIORITY;
    }
    if revents & libc::POLLERR != 0 {
        s |= Signals::ERROR;
    }
    if revents & (libc::POLLHUP | POLLRDHUP) != 0 {
        s |= Signals::PEER_CLOSED;
    }
    s
}

/// Call the kernel's `ppoll` (or `poll` where there is no `ppoll`) on `fds`.
///
/// `timeout` `None` blocks; the signal mask, when given, is swapped atomically by the kernel.
pub(crate) fn raw_poll(
    fds: &mut [libc::pollfd],
    timeout: Option<Duration>,
    sigmask: Option<&libc::sigset_t>,
) -> io::Result<usize> {
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    ))]
    {
        let ts = timeout.map(|d| libc::timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64 / 2) as libc::time_t,
            tv_nsec: d.subsec_nanos() as _,
        });
        let tsp = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        let maskp = sigmask.map_or(std::ptr::null(), |m| m as *const libc::sigset_t);
        // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfd structs; the
        // timespec and sigset pointers are null or point to live values for the whole call.
        let r = unsafe { libc::ppoll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, tsp, maskp) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    )))]
    {
        if sigmask.is_some() {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
        let ms = match timeout {
            None => -1,
            Some(d) => crate::deadline::ceil_millis(d).min(i32::MAX as u64) as libc::c_int,
        };
        // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfd structs.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }
}

struct Slot {
    fd: RawFd,
    token: u64,
    events: i16,
    oneshot: bool,
    armed: bool,
    /// Bumped on every (re-)arming: a report taken from a snapshot of an earlier arming
    /// predates it (another waiter may have consumed that readiness and re-armed) and is dropped.
    arm_seq: u64,
}

/// A waiter's copy of the registry.
#[derive(Default)]
struct Snapshot {
    generation: u64,
    pollfds: Vec<libc::pollfd>,
    tokens: Vec<u64>,
    arm_seqs: Vec<u64>,
    /// The reports of the last wait on this snapshot (capacity kept).
    ready: Vec<Ready>,
}

#[derive(Default)]
struct Registry {
    slots: Vec<Slot>,
    by_fd: HashMap<RawFd, usize>,
    generation: u64,
    pool: Vec<Snapshot>,
    cursor: usize,
    next_arm_seq: u64,
}

/// The poll(2) backend.
pub(crate) struct PollBackend {
    reg: Mutex<Registry>,
}

impl PollBackend {
    pub(crate) fn new() -> PollBackend {
        PollBackend {
            reg: Mutex::new(Registry {
                generation: 1,
                ..Registry::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.reg.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn fd_is_open(fd: RawFd) -> bool {
    fd >= 0 && rustix::io::fcntl_getfd(super::borrow(fd)).is_ok()
}

impl Backend for PollBackend {
    fn add(
        &self,
        fd: RawFd,
        token: u64,
        interest: Signals,
        trigger: Trigger,
    ) -> Result<(), AddError> {
        if trigger == Trigger::Edge {
            return Err(AddError::Io(io::Error::from(io::ErrorKind::Unsupported)));
        }
        if !fd_is_open(fd) {
            return Err(AddError::Io(io::Error::from_raw_os_error(libc::EBADF)));
        }
        let mut r = self.lock();
        if r.by_fd.contains_key(&fd) {
            return Err(AddError::Io(io::Error::from_raw_os_error(libc::EEXIST)));
        }
        let i = r.slots.len();
        r.next_arm_seq += 1;
        let arm_seq = r.next_arm_seq;
        r.slots.push(Slot {
            fd,
            token,
            events: events(interest),
            oneshot: trigger == Trigger::Oneshot,
            armed: true,
            arm_seq,
        });
        r.by_fd.insert(fd, i);
        r.generation += 1;
        Ok(())
    }

    fn modify(&self, fd: RawFd, token: u64, interest: Signals, trigger: Trigger) -> io::Result<()> {
        if trigger == Trigger::Edge {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
        let mut r = self.lock();
        let Some(&i) = r.by_fd.get(&fd) else {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        };
        r.next_arm_seq += 1;
        let arm_seq = r.next_arm_seq;
        let s = &mut r.slots[i];
        s.arm_seq = arm_seq;
        s.token = token;
        s.events = events(interest);
        s.oneshot = trigger == Trigger::Oneshot;
        s.armed = true;
        r.generation += 1;
        Ok(())
    }

    fn delete(&self, fd: RawFd) -> io::Result<()> {
        let mut r = self.lock();
        let Some(i) = r.by_fd.remove(&fd) else {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        };
        r.slots.swap_remove(i);
        if let Some(moved) = r.slots.get(i) {
            let moved_fd = moved.fd;
            r.by_fd.insert(moved_fd, i);
        }
        r.generation += 1;
        Ok(())
    }

    fn wait<R>(
        &self,
        max: usize,
        timeout: Option<Duration>,
        f: impl FnOnce(&mut dyn Iterator<Item = Ready>) -> R,
    ) -> io::Result<R> {
        let max = max.max(1);
        let mut snap = {
            let mut r = self.lock();
            let mut snap = r.pool.pop().unwrap_or_default();
            if snap.generation != r.generation {
                snap.pollfds.clear();
                snap.tokens.clear();
                snap.arm_seqs.clear();
                for s in &r.slots {
                    let live = s.armed && s.events != 0;
                    snap.pollfds.push(libc::pollfd {
                        fd: if live { s.fd } else { -1 },
                        events: s.events,
                        revents: 0,
                    });
                    snap.tokens.push(s.token);
                    snap.arm_seqs.push(s.arm_seq);
                }
                snap.generation = r.generation;
            }
            snap
        };
        let res = raw_poll(&mut snap.pollfds, timeout, None);
        let mut r = self.lock();
        snap.ready.clear();
        if let Ok(ready) = res {
            let len = snap.pollfds.len();
            if ready > 0 && len > 0 {
                let start = r.cursor % len;
                for k in 0..len {
                    let i = (start + k) % len;
                    let p = snap.pollfds[i];
                    if p.revents == 0 || p.fd < 0 {
                        continue;
                    }
                    // The registry may have changed while we were blocked: report only what is
                    // still registered, under the same token, and still armed.
                    let Some(&si) = r.by_fd.get(&p.fd) else {
                        continue;
                    };
                    let slot = &mut r.slots[si];
                    if slot.token != snap.tokens[i]
                        || slot.arm_seq != snap.arm_seqs[i]
                        || !slot.armed
                    {
                        continue;
                    }
                    let nval = p.revents & libc::POLLNVAL != 0;
                    let hup = p.revents & (libc::POLLHUP | libc::POLLERR) != 0 || nval;
                    let sig = if nval {
                        Signals::ERROR
                    } else {
                        signals(p.revents)
                    };
                    snap.ready.push(Ready {
                        token: slot.token,
                        signals: sig,
                        hup,
                    });
                    // A closed fd (caller misuse: closed without removing it) would otherwise
                    // be reported on every wait: report it once, then stop watching it.
                    if slot.oneshot || nval {
                        slot.armed = false;
                        r.generation += 1;
                    }
                    if snap.ready.len() == max {
                        r.cursor = i + 1;
                        break;
                    }
                }
            }
        }
        for p in snap.pollfds.iter_mut() {
            p.revents = 0;
        }
        drop(r);
        // `f` may lock the set, which may call into this registry: no registry lock here.
        let out = res.map(|_| f(&mut snap.ready.iter().copied()));
        // A snapshot that went stale is rebuilt in place by the next waiter that takes it.
        self.lock().pool.push(snap);
        out
    }

    fn change_needs_wake(&self) -> bool {
        true
    }
}
