//! The portable `poll(2)` backend, compiled on every unix.
//!
//! Interest is kept in an [`InterestTable`] in user space. Each waiting thread holds a snapshot
//! of it (a `pollfd` array), rebuilt only when the table changed since that snapshot was taken,
//! and the snapshots are pooled, so a steady-state wait allocates nothing and copies nothing.
//! Because `poll(2)` sees only the snapshot, a registration change wakes blocked waiters (see
//! [`Backend::change_needs_wake`]). One-shot is emulated exactly (disarmed after one report);
//! edge triggering is not offered, see [`Capabilities`](crate::Capabilities).
//!
//! `poll(2)` watches numbers, not files, so each watched descriptor remembers the identity of
//! its file ([`FileId`]): a `modify` of a number that now names another file answers `NOENT`,
//! exactly as epoll does when the watched file was closed.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use rustix::io::Errno;

use super::{AddError, Backend, Report, Reports, Trigger};
use crate::fdrules::{Bits, FileId, NVAL};
use crate::sync::{Mutex, Rank};

/// Call the kernel's `ppoll` (or `poll` where there is no `ppoll`) on `fds`.
///
/// `timeout` `None` blocks; the signal mask, when given, is swapped atomically by the kernel.
pub(crate) fn raw_poll(
    fds: &mut [libc::pollfd],
    timeout: Option<Duration>,
    sigmask: Option<&libc::sigset_t>,
) -> Result<usize, Errno> {
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    ))]
    {
        let ts = timeout.map(|d| {
            let t = crate::deadline::timespec(d);
            libc::timespec {
                tv_sec: t.tv_sec as libc::time_t,
                tv_nsec: t.tv_nsec as _,
            }
        });
        let tsp = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        let maskp = sigmask.map_or(std::ptr::null(), |m| m as *const libc::sigset_t);
        // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfd structs; the
        // timespec and sigset pointers are null or point to live values for the whole call.
        let r = unsafe { libc::ppoll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, tsp, maskp) };
        if r < 0 {
            Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO))
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
            return Err(Errno::NOSYS);
        }
        let ms = crate::deadline::millis_c_int(timeout);
        // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfd structs.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if r < 0 {
            Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO))
        } else {
            Ok(r as usize)
        }
    }
}

/// One watched descriptor.
struct Watched {
    fd: RawFd,
    file: FileId,
    token: u64,
    events: i16,
    oneshot: bool,
    armed: bool,
    /// Bumped on every (re-)arming: a report taken from a snapshot of an earlier arming
    /// predates it (another waiter may have consumed that readiness and re-armed) and is dropped.
    arm_seq: u64,
}

/// A waiter's copy of the table.
#[derive(Default)]
struct Snapshot {
    generation: u64,
    pollfds: Vec<libc::pollfd>,
    tokens: Vec<u64>,
    arm_seqs: Vec<u64>,
    /// The reports of the last wait on this snapshot (capacity kept).
    reports: Vec<Report>,
}

#[derive(Default)]
struct InterestTable {
    watched: Vec<Watched>,
    by_fd: HashMap<RawFd, usize>,
    generation: u64,
    pool: Vec<Snapshot>,
    cursor: usize,
    next_arm_seq: u64,
}

/// The poll(2) backend.
pub(crate) struct PollBackend {
    table: Mutex<InterestTable>,
}

impl PollBackend {
    pub(crate) fn new() -> PollBackend {
        PollBackend {
            table: Mutex::new(
                Rank::Backend,
                InterestTable {
                    generation: 1,
                    ..InterestTable::default()
                },
            ),
        }
    }
}

impl Backend for PollBackend {
    fn add(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Bits,
        mode: Trigger,
    ) -> Result<(), AddError> {
        if mode == Trigger::Edge {
            return Err(AddError::Sys(Errno::NOTSUP));
        }
        let file = FileId::of(fd).ok_or(AddError::Sys(Errno::BADF))?;
        let fd = fd.as_raw_fd();
        let mut t = self.table.lock();
        if t.by_fd.contains_key(&fd) {
            return Err(AddError::Sys(Errno::EXIST));
        }
        let i = t.watched.len();
        t.next_arm_seq += 1;
        let arm_seq = t.next_arm_seq;
        t.watched.push(Watched {
            fd,
            file,
            token,
            events: interest as u16 as i16,
            oneshot: mode == Trigger::Oneshot,
            armed: true,
            arm_seq,
        });
        t.by_fd.insert(fd, i);
        t.generation += 1;
        Ok(())
    }

    fn modify(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Bits,
        mode: Trigger,
    ) -> Result<(), Errno> {
        if mode == Trigger::Edge {
            return Err(Errno::NOTSUP);
        }
        // The identity check is a syscall, made before taking the table's lock.
        let file = FileId::of(fd);
        let mut t = self.table.lock();
        let Some(&i) = t.by_fd.get(&fd.as_raw_fd()) else {
            return Err(Errno::NOENT);
        };
        if file != Some(t.watched[i].file) {
            return Err(Errno::NOENT); // closed, or the number names another file now
        }
        t.next_arm_seq += 1;
        let arm_seq = t.next_arm_seq;
        let w = &mut t.watched[i];
        w.arm_seq = arm_seq;
        w.token = token;
        w.events = interest as u16 as i16;
        w.oneshot = mode == Trigger::Oneshot;
        w.armed = true;
        t.generation += 1;
        Ok(())
    }

    fn still_registered(&self, fd: BorrowedFd<'_>) -> bool {
        let file = FileId::of(fd);
        let t = self.table.lock();
        t.by_fd
            .get(&fd.as_raw_fd())
            .is_some_and(|&i| file == Some(t.watched[i].file))
    }

    fn delete(&self, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        let mut t = self.table.lock();
        let Some(i) = t.by_fd.remove(&fd.as_raw_fd()) else {
            return Err(Errno::NOENT);
        };
        t.watched.swap_remove(i);
        if let Some(moved) = t.watched.get(i) {
            let moved_fd = moved.fd;
            t.by_fd.insert(moved_fd, i);
        }
        t.generation += 1;
        Ok(())
    }

    fn wait<R>(
        &self,
        max: usize,
        timeout: Option<Duration>,
        f: impl FnOnce(&mut Reports<'_>) -> R,
    ) -> Result<R, Errno> {
        let max = max.max(1);
        let mut snap = {
            let mut t = self.table.lock();
            let mut snap = t.pool.pop().unwrap_or_default();
            if snap.generation != t.generation {
                snap.pollfds.clear();
                snap.tokens.clear();
                snap.arm_seqs.clear();
                for w in &t.watched {
                    let live = w.armed && w.events != 0;
                    snap.pollfds.push(libc::pollfd {
                        fd: if live { w.fd } else { -1 },
                        events: w.events,
                        revents: 0,
                    });
                    snap.tokens.push(w.token);
                    snap.arm_seqs.push(w.arm_seq);
                }
                snap.generation = t.generation;
            }
            snap
        };
        let res = raw_poll(&mut snap.pollfds, timeout, None);
        let mut t = self.table.lock();
        snap.reports.clear();
        if let Ok(ready) = res {
            let len = snap.pollfds.len();
            if ready > 0 && len > 0 {
                let start = t.cursor % len;
                for k in 0..len {
                    let i = (start + k) % len;
                    let p = snap.pollfds[i];
                    if p.revents == 0 || p.fd < 0 {
                        continue;
                    }
                    // The table may have changed while we were blocked: report only what is
                    // still watched, under the same token, and still armed.
                    let Some(&wi) = t.by_fd.get(&p.fd) else {
                        continue;
                    };
                    let w = &mut t.watched[wi];
                    if w.token != snap.tokens[i] || w.arm_seq != snap.arm_seqs[i] || !w.armed {
                        continue;
                    }
                    let bits = p.revents as u16 as Bits;
                    snap.reports.push(Report {
                        token: w.token,
                        bits,
                    });
                    // A closed fd (caller misuse: closed without removing it) would otherwise
                    // be reported on every wait: report it once, then stop watching it.
                    if w.oneshot || bits & NVAL != 0 {
                        w.armed = false;
                        t.generation += 1;
                    }
                    if snap.reports.len() == max {
                        t.cursor = i + 1;
                        break;
                    }
                }
            }
        }
        for p in snap.pollfds.iter_mut() {
            p.revents = 0;
        }
        drop(t);
        // `f` may lock the set, which may call into this table: no table lock here.
        let out = res.map(|_| f(&mut Reports::List(snap.reports.iter())));
        // A snapshot that went stale is rebuilt in place by the next waiter that takes it.
        self.table.lock().pool.push(snap);
        out
    }

    fn change_needs_wake(&self) -> bool {
        true
    }
}
