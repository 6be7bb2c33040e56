//! `poll_oneoff`: the ABI path and the wait behind it.
//!
//! [`poll_oneoff`] owns every rule about guest memory (design §2 "poll_oneoff"):
//! 1. `nsubscriptions == 0` is INVAL;
//! 2. the three ranges — `in` (48 × n), `out` (32 × n), `nevents` (4) — must lie in guest memory,
//!    else FAULT (overflow-safe; nothing is allocated before this check);
//! 3. the three pointers must be aligned (8, 8, 4), else INVAL (bounds are checked first, so an
//!    out-of-bounds misaligned pointer is FAULT);
//! 4. every subscription is decoded before anything is written (`in` and `out` may overlap); an
//!    unknown tag is INVAL;
//! 5. the wait ([`WasiCtx::wait_subscriptions`]) fills typed events;
//! 6. the events are rotated by the per-instance poll seed, then written (all 32 bytes each),
//!    and `nevents` is written last.
//!
//! On an error return nothing at all has been written.

use std::os::fd::BorrowedFd;

use rustix::event::{PollFd, PollFlags};
use rustix::time::Timespec;

use crate::abi::{
    self, clockid, eventrwflags, subclockflags, Errno, Event, Rights, Subscription,
    SubscriptionKind,
};
use crate::ctx::{FileKind, WasiCtx};
use crate::host::now_ns;

/// `poll_oneoff(in: *const subscription, out: *mut event, nsubscriptions: size,
/// nevents: *mut size) -> errno`.
pub fn poll_oneoff(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    in_: u32,
    out: u32,
    nsubscriptions: u32,
    nevents: u32,
) -> Errno {
    match poll_oneoff_inner(ctx, mem, in_, out, nsubscriptions, nevents) {
        Ok(()) => Errno::SUCCESS,
        Err(e) => e,
    }
}

fn poll_oneoff_inner(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    in_: u32,
    out: u32,
    nsubscriptions: u32,
    nevents: u32,
) -> Result<(), Errno> {
    if nsubscriptions == 0 {
        return Err(Errno::INVAL);
    }
    let in_range = abi::array_range(mem.len(), in_, nsubscriptions, Subscription::SIZE)?;
    let out_range = abi::array_range(mem.len(), out, nsubscriptions, Event::SIZE)?;
    abi::range(mem.len(), nevents, 4)?;
    abi::check_align(in_, Subscription::ALIGN)?;
    abi::check_align(out, Event::ALIGN)?;
    abi::check_align(nevents, 4)?;

    // The ranges are inside guest memory, so these allocations are bounded by its size.
    let in_bytes = mem.get(in_range).ok_or(Errno::FAULT)?;
    let subs = in_bytes
        .chunks_exact(Subscription::SIZE)
        .map(Subscription::decode)
        .collect::<Result<Vec<_>, _>>()?;

    let span = tracing::trace_span!(
        "poll_oneoff",
        timeout_ms = timeout_ms(&subs),
        fd_guards = subs
            .iter()
            .filter(|s| !matches!(s.kind, SubscriptionKind::Clock(_)))
            .count(),
        seen = tracing::field::Empty,
    );
    let _enter = span.enter();

    let mut events = vec![
        Event {
            userdata: 0,
            error: Errno::SUCCESS,
            type_: 0,
            fd_readwrite: Default::default(),
        };
        subs.len()
    ];
    let seen = ctx.wait_subscriptions(&subs, &mut events).min(events.len());
    span.record("seen", seen);

    // Fairness: rotate by the poll seed, which advances every call, so no subscription is
    // always reported first.
    let seed = ctx.next_poll_seed();
    if seen > 1 {
        events[..seen].rotate_left((seed % seen as u64) as usize);
    }

    let out_bytes = mem.get_mut(out_range).ok_or(Errno::FAULT)?;
    for (ev, chunk) in events[..seen]
        .iter()
        .zip(out_bytes.chunks_exact_mut(Event::SIZE))
    {
        let slot: &mut [u8; Event::SIZE] = chunk.try_into().map_err(|_| Errno::FAULT)?;
        ev.encode(slot);
    }
    abi::write_u32(mem, nevents, seen as u32)
}

/// The shortest clock timeout in ms (relative to now), or -1 without clocks; for tracing only.
fn timeout_ms(subs: &[Subscription]) -> i64 {
    subs.iter()
        .filter_map(|s| match s.kind {
            SubscriptionKind::Clock(c) => {
                let rel = if c.is_absolute() {
                    c.timeout.saturating_sub(now_ns(c.id).unwrap_or(0))
                } else {
                    c.timeout
                };
                Some(i64::try_from(rel / 1_000_000).unwrap_or(i64::MAX))
            }
            _ => None,
        })
        .min()
        .unwrap_or(-1)
}

/// A clock subscription being waited on: its index and absolute deadline on its own clock.
struct ClockWait {
    index: usize,
    id: u32,
    deadline: u64,
}

/// An fd subscription being waited on.
struct FdWait<'a> {
    index: usize,
    fd: BorrowedFd<'a>,
    kind: FileKind,
    write: bool,
}

/// Longest single sleep when a REALTIME clock is pending, so a change of the wall clock is
/// noticed within this many ns.
const REALTIME_RECHECK_NS: u64 = 1_000_000_000;

impl WasiCtx {
    /// Waits until at least one subscription has an event and fills `out[..n]`, returning `n`.
    ///
    /// `out` has one slot per subscription. Per-subscription problems are events, reported at
    /// once: an fd not in the table is BADF, an fd without the right is NOTCAPABLE, a CPU-time
    /// clock is NOTSUP, an unknown clock id or clock flag is INVAL. When any event is due, fds
    /// and clocks are checked in the same pass (timeout 0), and no clock is reported before its
    /// deadline on the clock it names.
    ///
    /// This is the simple, engine-free version: one `ppoll` over the subscribed fds per pass,
    /// nothing kept between calls.
    // TODO(issue 3): replace this body with the engine-backed version (waitset::WaitSet kept
    // between calls, precision as slack, write nbytes for sockets).
    pub fn wait_subscriptions(&mut self, subs: &[Subscription], out: &mut [Event]) -> usize {
        let mut n = 0usize;
        let mut clocks: Vec<ClockWait> = Vec::new();
        let mut fds: Vec<FdWait<'_>> = Vec::new();
        let push = |out: &mut [Event], n: &mut usize, ev: Event| {
            if let Some(slot) = out.get_mut(*n) {
                *slot = ev;
                *n += 1;
            }
        };

        for (index, sub) in subs.iter().enumerate() {
            match sub.kind {
                SubscriptionKind::Clock(c) => {
                    if c.flags & !subclockflags::ALL != 0 {
                        push(out, &mut n, Event::error(sub, Errno::INVAL));
                        continue;
                    }
                    match c.id {
                        clockid::REALTIME | clockid::MONOTONIC => {
                            let deadline = if c.is_absolute() {
                                c.timeout
                            } else {
                                now_ns(c.id).unwrap_or(0).saturating_add(c.timeout)
                            };
                            clocks.push(ClockWait {
                                index,
                                id: c.id,
                                deadline,
                            });
                        }
                        clockid::PROCESS_CPUTIME_ID | clockid::THREAD_CPUTIME_ID => {
                            push(out, &mut n, Event::error(sub, Errno::NOTSUP))
                        }
                        _ => push(out, &mut n, Event::error(sub, Errno::INVAL)),
                    }
                }
                SubscriptionKind::FdRead(f) | SubscriptionKind::FdWrite(f) => {
                    let write = matches!(sub.kind, SubscriptionKind::FdWrite(_));
                    let entry = match self.fds.get(f.fd) {
                        Ok(e) => e,
                        Err(e) => {
                            push(out, &mut n, Event::error(sub, e));
                            continue;
                        }
                    };
                    let need = Rights::POLL_FD_READWRITE
                        | if write {
                            Rights::FD_WRITE
                        } else {
                            Rights::FD_READ
                        };
                    if !entry.rights_base().contains(need) {
                        push(out, &mut n, Event::error(sub, Errno::NOTCAPABLE));
                        continue;
                    }
                    fds.push(FdWait {
                        index,
                        fd: entry.as_fd(),
                        kind: entry.kind(),
                        write,
                    });
                }
            }
        }

        loop {
            let timeout = if n > 0 {
                Some(0)
            } else {
                clocks
                    .iter()
                    .map(|c| {
                        let left = c.deadline.saturating_sub(now_ns(c.id).unwrap_or(u64::MAX));
                        if c.id == clockid::REALTIME {
                            left.min(REALTIME_RECHECK_NS)
                        } else {
                            left
                        }
                    })
                    .min()
            };
            let mut pollfds: Vec<PollFd<'_>> = fds
                .iter()
                .map(|f| {
                    let interest = if f.write {
                        PollFlags::OUT
                    } else {
                        PollFlags::IN | PollFlags::RDHUP
                    };
                    PollFd::from_borrowed_fd(f.fd, interest)
                })
                .collect();
            let ts = timeout.map(|ns| Timespec {
                tv_sec: (ns / 1_000_000_000) as _,
                tv_nsec: (ns % 1_000_000_000) as _,
            });
            match rustix::event::poll(&mut pollfds, ts.as_ref()) {
                Ok(_) => {}
                // TODO(signals): a pending SIGINT/SIGTERM must end the wait here.
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => {
                    // ppoll itself failed (ENOMEM); report every fd as an I/O error rather
                    // than spin.
                    for f in &fds {
                        push(out, &mut n, Event::error(&subs[f.index], Errno::IO));
                    }
                    return n;
                }
            }
            for (f, p) in fds.iter().zip(pollfds.iter()) {
                if let Some(ev) = fd_event(&subs[f.index], f, p.revents()) {
                    push(out, &mut n, ev);
                }
            }
            for c in &clocks {
                if now_ns(c.id).unwrap_or(0) >= c.deadline {
                    push(out, &mut n, Event::for_subscription(&subs[c.index]));
                }
            }
            if n > 0 || (fds.is_empty() && clocks.is_empty()) {
                return n;
            }
        }
    }
}

/// The event for an fd subscription given the kernel's `revents`, or `None` if not ready.
fn fd_event(sub: &Subscription, f: &FdWait<'_>, revents: PollFlags) -> Option<Event> {
    if revents.is_empty() {
        return None;
    }
    if revents.contains(PollFlags::NVAL) {
        return Some(Event::error(sub, Errno::BADF));
    }
    let mut ev = Event::for_subscription(sub);
    // The peer is gone: HUP (or RDHUP, the peer shut down its writing side) on sockets and on
    // a pipe's read end; Linux reports a pipe whose readers are all gone as ERR on the write end.
    let pipe_reader_gone = f.write && f.kind == FileKind::Pipe && revents.contains(PollFlags::ERR);
    if revents.intersects(PollFlags::HUP | PollFlags::RDHUP) || pipe_reader_gone {
        ev.fd_readwrite.flags |= eventrwflags::FD_READWRITE_HANGUP;
        if f.write {
            return Some(ev); // nothing can be written: nbytes stays 0
        }
    }
    ev.fd_readwrite.nbytes = if f.write {
        write_nbytes(f.fd, f.kind)
    } else {
        read_nbytes(f.fd, f.kind)
    };
    Some(ev)
}

/// Bytes that can be read without blocking: what is left of a regular file, the kernel's
/// FIONREAD for pipes, sockets and ttys, 0 when the kernel cannot tell.
pub fn read_nbytes(fd: BorrowedFd<'_>, kind: FileKind) -> u64 {
    match kind {
        FileKind::RegularFile => {
            let size = rustix::fs::fstat(fd)
                .ok()
                .and_then(|st| u64::try_from(st.st_size).ok())
                .unwrap_or(0);
            let pos = rustix::fs::seek(fd, rustix::fs::SeekFrom::Current(0)).unwrap_or(size);
            size.saturating_sub(pos)
        }
        FileKind::CharDevice | FileKind::BlockDevice => 0,
        _ => rustix::io::ioctl_fionread(fd).unwrap_or(0),
    }
}

/// Bytes that can be written without blocking where the kernel tells it: free space in a pipe.
/// 0 otherwise.
pub fn write_nbytes(fd: BorrowedFd<'_>, kind: FileKind) -> u64 {
    match kind {
        FileKind::Pipe => {
            let size = rustix::pipe::fcntl_getpipe_size(fd).unwrap_or(0) as u64;
            let queued = rustix::io::ioctl_fionread(fd).unwrap_or(0);
            size.saturating_sub(queued)
        }
        _ => 0,
    }
}
