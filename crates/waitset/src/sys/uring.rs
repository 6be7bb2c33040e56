//! The io_uring backend (Linux): poll requests in a ring, completions reaped from shared memory.
//!
//! Every `io_uring_enter` of the crate is here, made through [`enter`].
//!
//! # How readiness reaches a wait
//!
//! A registration is one `IORING_OP_POLL_ADD` request in the ring, tagged with its descriptor
//! number and an arming sequence number (`user_data`, see [`Tag`]). When the descriptor becomes
//! ready the kernel posts a completion (CQE) from the waker's context, into memory this process
//! shares with the kernel: when the waker is the waiting thread itself (it wrote to a socket it
//! also watches), the CQE is in the ring by the time its `write` returns. A wait first reaps what
//! is in the completion ring and enters the kernel only to submit queued changes or to block,
//! and then with the deadline in the same call (`IORING_ENTER_EXT_ARG`).
//!
//! # Trigger modes
//!
//! * **Edge**: a multishot poll. It completes on the kernel's wake-ups, once per wake-up, and
//!   stays armed: no system call per event at all.
//! * **Level**: io_uring reports wake-ups, not state, and a level-triggered descriptor must be
//!   reported on every wait while it is ready. Re-arming a one-shot poll after every report
//!   gives exactly that, but costs a poll request per event (measured 1.26x epoll in the chain).
//!   So level-triggered registrations live in an epoll instance owned by the backend, and the
//!   ring watches that instance with a one-shot poll, armed only when an `epoll_wait` found
//!   nothing: a wait that finds the instance ready (that poll completed, or the last
//!   `epoll_wait` returned something) reads it with a non-blocking `epoll_wait`, which re-polls
//!   every ready descriptor as epoll always does. The
//!   level rules are epoll's, exactly, at epoll's cost; edge-triggered and one-shot
//!   registrations, wake-ups and the deadline stay in the ring.
//! * **One-shot**: a one-shot poll, re-armed by `modify`; the re-arm is queued and goes to the
//!   kernel with the next submission, so a re-armed entry costs no system call of its own.
//!
//! # Synchronous answers
//!
//! `add` answers at once, as `epoll_ctl` does (a level-triggered one *is* an `epoll_ctl`). For a
//! ring poll the descriptor's identity is read with `fstat` (`EBADF` for a closed number) and the
//! poll request is submitted in the same call, as a multishot probe followed by a `NOP`. A file the kernel cannot poll (no `->poll`: regular files,
//! directories, `/dev/null`; the files epoll refuses with `EPERM`) completes the probe at once
//! with no `IORING_CQE_F_MORE`, ahead of the NOP's completion: that is [`AddError::Refused`],
//! and the engine's one "always ready" rule applies. The probe of a level-triggered or one-shot
//! registration becomes a one-shot poll at its first report.
//!
//! # What io_uring does differently from epoll (edge-triggered and one-shot registrations)
//!
//! * A poll request holds a reference to its *file*, not to the number: a descriptor closed
//!   without being removed (misuse of [`Source::fd`](crate::Source::fd)) stays open inside the
//!   ring until its entry is removed. The backend reads the number's identity ([`FileId`]) when
//!   a report carries a hang-up or an error, and when the set asks ([`Backend::same_file`]):
//!   a number that was closed or names another file retires the registration, as epoll's
//!   `ENOENT` does. Re-arms are submitted by number: a one-shot or level re-arm submitted after
//!   the number was closed fails (`EBADF`) and retires the registration.
//! * Task work of a poll runs in the thread that submitted it. When that thread exits, its
//!   polls complete with `ECANCELED` at their next wake-up; the backend re-arms them from the
//!   thread that reaps the completion, and the descriptor's readiness is reported then.
//! * Several threads blocked in one ring are all woken by any completion (there is no exclusive
//!   wait); only one of them reaps it.
//!
//! # Wake-ups without an eventfd
//!
//! The set's wake channel ([`RingWake`]) is a message to the ring itself (`IORING_OP_MSG_RING`):
//! posting a wake-up is one `io_uring_enter`, and the woken waiter finds the message in the
//! completion ring. A message is an edge, as epoll's edge-triggered eventfd is: the waiter that
//! reaps it takes it, and nobody reads anything.

use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::io::Errno;

use super::{AddError, Backend, Report, Reports, Trigger, KERNEL_BATCH, WAKE_TOKEN};
use crate::fdrules::{Bits, FileId, ERR, HUP, IN, NVAL};
use crate::sync::{Mutex, Rank};

/// Submission queue entries: registration changes queue here between waits.
const SQ_ENTRIES: u32 = 256;
/// Completion queue entries: room for a burst of reports from many multishot polls. When the
/// ring overflows, the kernel keeps the completions (`IORING_FEAT_NODROP`) and the next wait
/// flushes them; a multishot poll whose completion overflowed ends, and is re-armed.
const CQ_ENTRIES: u32 = 4096;

/// The kind of a completion, in the top two bits of its `user_data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    /// A poll request: descriptor number and arming sequence.
    Poll = 0,
    /// The `NOP` that follows `add`'s probe.
    Ack = 1,
    /// A request whose completion means nothing (a `POLL_REMOVE` that found the poll gone).
    Ignore = 2,
    /// A wake-up message (`MSG_RING`): `res` wake tokens.
    Wake = 3,
}

const SEQ_MASK: u32 = (1 << 30) - 1;

/// The `seq` of the epoll instance's poll (tag `Wake`; wake-up messages carry 0).
const EPOLL_SEQ: u32 = 1;

#[inline]
fn user_data(tag: Tag, seq: u32, fd: RawFd) -> u64 {
    ((tag as u64) << 62) | (u64::from(seq & SEQ_MASK) << 32) | u64::from(fd as u32)
}

#[inline]
fn split(ud: u64) -> (Tag, u32, RawFd) {
    let tag = match ud >> 62 {
        0 => Tag::Poll,
        1 => Tag::Ack,
        2 => Tag::Ignore,
        _ => Tag::Wake,
    };
    (tag, (ud >> 32) as u32 & SEQ_MASK, ud as u32 as RawFd)
}

/// What `add`'s probe found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    /// Submitted; its answer has not been reaped yet.
    Pending,
    /// The poll is armed.
    Armed,
    /// The file cannot be polled.
    Refused,
    /// The submission failed with this errno.
    Failed(i32),
}

/// One watched descriptor, indexed by its number.
#[derive(Clone, Copy, Debug)]
struct Slot {
    live: bool,
    /// The number was found closed or naming another file: the registration is retired, and
    /// `modify` answers `NOENT`.
    gone: bool,
    token: u64,
    interest: Bits,
    mode: Trigger,
    /// The arming whose completions count; bumped by every (re-)arming and cancellation, so a
    /// completion of an earlier request is dropped.
    seq: u32,
    /// A poll request of `seq` is (as far as this backend knows) in the kernel.
    armed: bool,
    /// That request is multishot (edge-triggered, or `add`'s probe).
    multi: bool,
    probe: Probe,
    file: Option<FileId>,
    /// Index of this registration's report in `State::stash`, or `NO_STASH`.
    stash: u32,
    /// One-shot: reported before a wait began (between waits, or while `add` reaped);
    /// re-armed by the next wait, whose submission tells whether it is still ready.
    rearm_later: bool,
    /// Registered in the backend's epoll instance (level-triggered), not as a ring poll.
    in_epoll: bool,
}

const NO_STASH: u32 = u32::MAX;

impl Slot {
    const FREE: Slot = Slot {
        live: false,
        gone: false,
        token: 0,
        interest: 0,
        mode: Trigger::Level,
        seq: 0,
        armed: false,
        multi: false,
        probe: Probe::Armed,
        file: None,
        stash: NO_STASH,
        rearm_later: false,
        in_epoll: false,
    };
}

/// The backend's state, behind its lock (rank 3 of [`crate::sync`], as the poll(2) backend's
/// table: taken under a set's lock, never while calling out).
struct State {
    slots: Vec<Slot>,
    /// Reports of edge-triggered and one-shot registrations reaped outside a wait (while `add`
    /// looked for its probe's answer), at most one per registration, handed to the next wait
    /// first: (descriptor, report).
    stash: Vec<(RawFd, Report)>,
    /// A wake-up message was reaped outside a wait.
    wake_stashed: bool,
    /// One-shot registrations reported before a wait began: the next wait re-arms them (and
    /// so reports those still ready) instead of handing out a report that may be stale.
    rearm_later: Vec<RawFd>,
    /// Threads inside a blocking `io_uring_enter`: while there is one, a queued change is
    /// submitted at once, since the blocked thread will not submit it.
    blocked: usize,
    /// Something was queued since the submission queue was last found empty (saves reading the
    /// queue's indices on every wait).
    pushed: std::cell::Cell<bool>,
    /// The epoll instance may have ready descriptors: its poll in the ring completed, or the
    /// last `epoll_wait` returned some (level-triggered: they are reported again while ready).
    epoll_ready: bool,
    /// The epoll instance's poll in the ring is armed (it is multishot; re-armed if the kernel
    /// ends it).
    epoll_armed: bool,
    /// Registrations in the epoll instance.
    in_epoll: usize,
}

/// What a ring's users share: the ring, its state, and the wake tokens of its set.
pub(crate) struct Shared {
    ring: IoUring,
    /// Level-triggered registrations: an epoll instance, itself watched by a multishot poll in
    /// the ring (see the module docs).
    epoll: OwnedFd,
    state: Mutex<State>,
}

/// The io_uring backend.
pub(crate) struct Uring {
    shared: Arc<Shared>,
}

/// Why io_uring cannot be used here.
pub(crate) fn unavailable(e: &std::io::Error) -> crate::UnavailableReason {
    use crate::UnavailableReason as R;
    match e.raw_os_error() {
        Some(libc::ENOSYS) => R::NotImplemented,
        Some(libc::EPERM) | Some(libc::EACCES) => {
            let sysctl = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .unwrap_or(0);
            if sysctl != 0 {
                R::DisabledBySysctl
            } else {
                R::PermissionDenied
            }
        }
        Some(libc::EINVAL) => R::MissingFeature("setup flags (Linux >= 5.19 needed)"),
        Some(n) => R::Other(n),
        None => R::Other(libc::EIO),
    }
}

impl Uring {
    pub(crate) fn new() -> crate::Result<Uring> {
        let fail = |reason| crate::Error::Unavailable {
            backend: super::BackendKind::Uring,
            reason,
        };
        let ring = IoUring::builder()
            .setup_cqsize(CQ_ENTRIES)
            .setup_submit_all()
            .setup_clamp()
            .build(SQ_ENTRIES)
            .map_err(|e| fail(unavailable(&e)))?;
        let p = ring.params();
        if !p.is_feature_ext_arg() {
            return Err(fail(crate::UnavailableReason::MissingFeature(
                "IORING_FEAT_EXT_ARG (Linux >= 5.11)",
            )));
        }
        if !p.is_feature_nodrop() {
            return Err(fail(crate::UnavailableReason::MissingFeature(
                "IORING_FEAT_NODROP (Linux >= 5.5)",
            )));
        }
        let mut probe = io_uring::Probe::new();
        if ring.submitter().register_probe(&mut probe).is_err()
            || !probe.is_supported(opcode::MsgRingData::CODE)
            || !probe.is_supported(opcode::PollAdd::CODE)
        {
            return Err(fail(crate::UnavailableReason::MissingFeature(
                "IORING_OP_MSG_RING (Linux >= 5.18)",
            )));
        }
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(crate::Error::sys)?;
        Ok(Uring {
            shared: Arc::new(Shared {
                ring,
                epoll,
                state: Mutex::new(
                    Rank::Backend,
                    State {
                        slots: Vec::new(),
                        stash: Vec::new(),
                        rearm_later: Vec::new(),
                        wake_stashed: false,
                        blocked: 0,
                        pushed: std::cell::Cell::new(false),
                        epoll_ready: false,
                        epoll_armed: false,
                        in_epoll: 0,
                    },
                ),
            }),
        })
    }

    /// Whether `fd` is the ring's descriptor or its epoll instance's.
    pub(crate) fn owns_fd(&self, fd: RawFd) -> bool {
        fd == self.shared.fd() || fd == self.shared.epoll.as_raw_fd()
    }

    /// The wake channel of a set on this ring.
    pub(crate) fn wake_channel(&self) -> RingWake {
        RingWake {
            shared: self.shared.clone(),
        }
    }
}

/// `io_uring_getevents_arg`: the deadline that rides along with a wait.
#[repr(C)]
struct GetEventsArg {
    sigmask: u64,
    sigmask_sz: u32,
    min_wait_usec: u32,
    ts: u64,
}

/// `struct __kernel_timespec`.
#[repr(C)]
struct KernelTimespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// `io_uring_enter(2)`: submit up to `to_submit` queued entries and, with `min_complete > 0`,
/// wait for that many completions or `timeout` (`None`: forever).
fn enter(
    fd: RawFd,
    to_submit: u32,
    min_complete: u32,
    timeout: Option<Duration>,
) -> Result<usize, Errno> {
    const GETEVENTS: u32 = 1;
    const EXT_ARG: u32 = 1 << 3;
    let ts = timeout.map(|d| {
        let t = crate::deadline::timespec(d);
        KernelTimespec {
            tv_sec: t.tv_sec,
            tv_nsec: t.tv_nsec,
        }
    });
    let arg = GetEventsArg {
        sigmask: 0,
        sigmask_sz: 0,
        min_wait_usec: 0,
        ts: ts
            .as_ref()
            .map_or(0, |t| t as *const KernelTimespec as usize as u64),
    };
    let flags = if min_complete > 0 {
        GETEVENTS | EXT_ARG
    } else {
        EXT_ARG
    };
    // SAFETY: `fd` is this process's io_uring descriptor; `arg` (and the timespec it points to)
    // live on this stack frame for the whole call, and the size passed is the size of `arg`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_io_uring_enter,
            fd,
            to_submit,
            min_complete,
            flags,
            &arg as *const GetEventsArg,
            std::mem::size_of::<GetEventsArg>(),
        )
    };
    if r < 0 {
        Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO))
    } else {
        Ok(r as usize)
    }
}

impl Shared {
    #[inline]
    fn fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }

    /// Whether the completion ring holds anything (or the kernel kept an overflow). Under the
    /// lock.
    fn completions_seen(&self, _st: &State) -> bool {
        // SAFETY: the queues are only borrowed under the state lock, one at a time.
        unsafe {
            !self.ring.completion_shared().is_empty() || self.ring.submission_shared().cq_overflow()
        }
    }

    /// Entries queued and not yet consumed by the kernel. Under the state lock.
    #[inline]
    fn queued(&self, st: &State) -> usize {
        if !st.pushed.get() {
            return 0; // nothing queued since the queue was last found empty
        }
        // SAFETY: the submission queue is only borrowed under the state lock, one at a time.
        let n = unsafe { self.ring.submission_shared() }.len();
        if n == 0 {
            st.pushed.set(false);
        }
        n
    }

    /// Queue one entry (submitting what is queued first if the queue is full). Under the lock.
    fn push(&self, st: &mut State, e: squeue::Entry) {
        st.pushed.set(true);
        loop {
            // SAFETY: the submission queue is only borrowed under the state lock, one at a time;
            // the entries queued here (poll add/remove, NOP, MSG_RING) point to no memory.
            let mut sq = unsafe { self.ring.submission_shared() };
            // SAFETY: as above: the entry references no buffer.
            if unsafe { sq.push(&e) }.is_ok() {
                return;
            }
            drop(sq);
            self.submit(st);
        }
    }

    /// Submit every queued entry now, without waiting. Under the lock.
    fn submit(&self, st: &State) {
        let n = self.queued(st);
        if n > 0 {
            // An error here (EBUSY under overflow, EINTR) leaves the entries queued: the next
            // wait submits them.
            let _ = enter(self.fd(), n as u32, 0, None);
        }
    }

    /// Release the lock, then submit what it queued: a waiter the submission wakes (a message,
    /// a completion) does not then find the lock held by the waker.
    fn submit_unlocked(&self, st: crate::sync::MutexGuard<'_, State>) {
        let n = self.queued(&st);
        drop(st);
        if n > 0 {
            // Entries another thread submits meanwhile are not taken twice: the kernel submits
            // at most what is queued.
            let _ = enter(self.fd(), n as u32, 0, None);
        }
    }

    /// Queue a one-shot poll of the epoll instance, if none is armed. It is armed only once an
    /// `epoll_wait` found nothing (and for a waiter about to block): while waits keep finding
    /// level-triggered descriptors ready, their readiness costs no completion at all. Under the
    /// lock.
    fn arm_epoll(&self, st: &mut State) {
        if st.epoll_armed {
            return;
        }
        st.epoll_armed = true;
        let e = opcode::PollAdd::new(types::Fd(self.epoll.as_raw_fd()), IN)
            .build()
            .user_data(user_data(Tag::Wake, EPOLL_SEQ, -1));
        self.push(st, e);
    }

    /// Read the epoll instance without blocking: up to `max` level-triggered reports into
    /// `out`. Under the lock (a non-blocking call).
    fn epoll_reports(&self, st: &mut State, out: &mut [MaybeUninit<Report>], max: usize) -> usize {
        if !st.epoll_ready || max == 0 {
            return 0;
        }
        let mut evs = [MaybeUninit::<epoll::Event>::uninit(); KERNEL_BATCH];
        let room = max.min(KERNEL_BATCH);
        let got = match epoll::wait(&self.epoll, &mut evs[..room], Some(&ZERO_TS)) {
            Ok((evs, _)) => evs,
            Err(_) => return 0, // EINTR: the next wait asks again (epoll_ready stays set)
        };
        // Level-triggered: what is still ready is reported again by the next call, so keep
        // asking while there is anything; an empty answer arms the instance's poll, whose
        // completion says when to ask again (it is submitted with the next submission, at the
        // latest by a wait about to block).
        st.epoll_ready = !got.is_empty();
        if got.is_empty() {
            self.arm_epoll(st);
        }
        for (i, ev) in got.iter().enumerate() {
            let (data, flags) = (ev.data, ev.flags);
            out[i].write(Report {
                token: data.u64(),
                bits: flags.bits(),
            });
        }
        got.len()
    }

    /// Arm `fd`'s poll for its mode under a new sequence number. Under the lock.
    fn arm(&self, st: &mut State, fd: RawFd) {
        let s = &mut st.slots[fd as usize];
        s.seq = s.seq.wrapping_add(1) & SEQ_MASK;
        let multi = s.mode == Trigger::Edge;
        s.armed = true;
        s.multi = multi;
        let e = opcode::PollAdd::new(types::Fd(fd), s.interest)
            .multi(multi)
            .build()
            .user_data(user_data(Tag::Poll, s.seq, fd));
        self.push(st, e);
    }

    /// Cancel `fd`'s poll request, if one is armed; its later completions are dropped.
    fn cancel(&self, st: &mut State, fd: RawFd) {
        let s = &mut st.slots[fd as usize];
        let old = user_data(Tag::Poll, s.seq, fd);
        let was_armed = s.armed;
        s.seq = s.seq.wrapping_add(1) & SEQ_MASK;
        s.armed = false;
        if was_armed {
            let e = opcode::PollRemove::new(old)
                .build()
                .flags(squeue::Flags::SKIP_SUCCESS)
                .user_data(user_data(Tag::Ignore, 0, 0));
            self.push(st, e);
        }
    }

    /// Reap what the ring holds and was posted after this wait entered the kernel (inline
    /// completions of its submission, wake-ups while it blocked): reports go to `out`, at most
    /// `max`; beyond that, edge and one-shot reports are stashed for the next wait and
    /// level-triggered ones are left to their re-arm, which the next wait submits. Under the lock.
    fn reap(&self, st: &mut State, out: &mut [MaybeUninit<Report>], max: usize) -> usize {
        let mut n = 0;
        self.reap_with(st, true, |st, fd, r, level| {
            if n < max {
                out[n].write(r);
                n += 1;
            } else if !level {
                stash(st, fd, r);
            }
        });
        n
    }

    /// Reap what was posted before this call (outside a wait, or at a wait's start): edge and
    /// one-shot reports go to the stash, one per registration; level-triggered ones are not
    /// handed out, since the descriptor may have been drained since the kernel posted them:
    /// their re-arm, submitted by the next wait, reports them if they are still ready. Under the
    /// lock.
    fn reap_into_stash(&self, st: &mut State) {
        self.reap_with(st, false, |st, fd, r, _| stash(st, fd, r));
    }

    /// Hand out up to `max` stashed reports. Under the lock.
    fn take_stash(&self, st: &mut State, out: &mut [MaybeUninit<Report>], max: usize) -> usize {
        let k = st.stash.len().min(max);
        let mut n = 0;
        if std::mem::take(&mut st.wake_stashed) {
            out[n].write(Report {
                token: WAKE_TOKEN,
                bits: IN,
            });
            n += 1;
        }
        for j in 0..k {
            let (fd, r) = st.stash[j];
            let s = &mut st.slots[fd as usize];
            s.stash = NO_STASH;
            if s.live && s.token == r.token {
                out[n].write(r);
                n += 1;
            }
        }
        st.stash.drain(..k);
        for j in 0..st.stash.len() {
            let fd = st.stash[j].0;
            st.slots[fd as usize].stash = j as u32;
        }
        n
    }

    /// Queue the re-arms of level-triggered registrations reported outside a wait.
    fn rearm_deferred(&self, st: &mut State) {
        while let Some(fd) = st.rearm_later.pop() {
            let s = &mut st.slots[fd as usize];
            if s.live && s.rearm_later && !s.gone {
                s.rearm_later = false;
                self.arm(st, fd);
            }
        }
    }

    /// Reap every completion, handing each report to `out(state, fd, report, level)`.
    fn reap_with(
        &self,
        st: &mut State,
        in_wait: bool,
        mut out: impl FnMut(&mut State, RawFd, Report, bool),
    ) {
        loop {
            let more_in_kernel;
            {
                // SAFETY: the completion queue is only borrowed under the state lock, one at a
                // time.
                let mut cq = unsafe { self.ring.completion_shared() };
                let mut seen = 0;
                for cqe in &mut cq {
                    seen += 1;
                    if let Some((fd, r, level)) = self.absorb(st, &cqe, in_wait) {
                        out(st, fd, r, level);
                    }
                }
                // The kernel keeps completions aside only when the ring was full, so only a
                // reap that found it at least half full looks for them.
                more_in_kernel = seen >= CQ_ENTRIES as usize / 2
                    // SAFETY: as above, for the submission queue (only its flags are read).
                    && unsafe { self.ring.submission_shared() }.cq_overflow();
            }
            if !more_in_kernel {
                return;
            }
            // The completion ring overflowed: the kernel kept the rest; flush them into the ring.
            let _ = flush_overflow(self.fd());
        }
    }

    /// One completion. Returns the report it makes, if any, with whether it is of a
    /// level-triggered registration. Under the lock.
    fn absorb(
        &self,
        st: &mut State,
        cqe: &cqueue::Entry,
        in_wait: bool,
    ) -> Option<(RawFd, Report, bool)> {
        let (tag, seq, fd) = split(cqe.user_data());
        let res = cqe.result();
        match tag {
            Tag::Wake if seq == EPOLL_SEQ => {
                // The epoll instance of the level-triggered registrations has something ready
                // (or its poll was ended by the kernel: asking epoll is right either way).
                st.epoll_ready = true;
                st.epoll_armed = false; // one-shot
                None
            }
            Tag::Wake => Some((
                -1,
                Report {
                    token: WAKE_TOKEN,
                    bits: IN,
                },
                false,
            )),
            Tag::Ignore => None,
            Tag::Ack => {
                let s = st.slots.get_mut(fd as usize)?;
                if s.live && s.seq == seq && s.probe == Probe::Pending {
                    s.probe = Probe::Armed;
                }
                None
            }
            Tag::Poll => {
                let more = cqueue::more(cqe.flags());
                let i = fd as usize;
                let s = st.slots.get_mut(i)?;
                if !s.live || s.seq != seq {
                    return None; // an earlier arming, cancelled or replaced
                }
                if !more {
                    s.armed = false;
                }
                if s.probe == Probe::Pending {
                    if res == -libc::EINVAL {
                        // No wait queue to arm and nothing of the interest in the default mask
                        // (a regular file asked for PRI): refused as well.
                        s.probe = Probe::Refused;
                        return None;
                    }
                    if res < 0 {
                        s.probe = Probe::Failed(-res);
                        return None;
                    }
                    if !more && res as Bits & (HUP | ERR | NVAL) == 0 {
                        // Completed while being armed, with the kernel's default mask: the file
                        // has no poll method (epoll refuses it with EPERM).
                        s.probe = Probe::Refused;
                        return None;
                    }
                    // Pollable: either still armed, or a hung-up file whose poll method no
                    // longer waits (a tty after hangup answers ERR | HUP at once, every time).
                    s.probe = Probe::Armed;
                }
                if res < 0 {
                    if res == -libc::ECANCELED && !s.gone {
                        // The thread that submitted the poll exited (its task work can no longer
                        // run), or the kernel cancelled the request: re-arm from here.
                        self.arm(st, fd);
                    } else {
                        // EBADF: a re-arm found the number closed (closed without remove).
                        s.gone = true;
                    }
                    return None;
                }
                let bits = res as Bits;
                let slot = *s;
                if bits & (HUP | ERR | NVAL) != 0 && !self.same_file_now(&slot, fd) {
                    // A hang-up of a file whose number was closed without remove (the ring held
                    // the file): the registration is gone, as epoll's is with its file.
                    st.slots[i].gone = true;
                    self.cancel(st, fd);
                    return None;
                }
                match slot.mode {
                    Trigger::Edge => {
                        if !more && bits & (HUP | ERR) == 0 {
                            self.arm(st, fd); // the multishot ended (CQ overflow): re-arm
                        }
                    }
                    // (A ring poll is edge-triggered or one-shot: level-triggered registrations
                    // live in the epoll instance.)
                    Trigger::Level | Trigger::Oneshot if !in_wait => {
                        // Posted before this wait: the descriptor may have been drained (or
                        // gained other signals) since. Not handed out; re-armed instead, and the
                        // submission of the wait reports it, with its current signals, if it
                        // is still ready (epoll re-polls a ready item at epoll_wait the same
                        // way). A one-shot registration stays armed until it is reported.
                        self.cancel(st, fd); // `add`'s multishot probe, if still armed
                        if !st.slots[i].rearm_later {
                            st.slots[i].rearm_later = true;
                            st.rearm_later.push(fd);
                        }
                        return None;
                    }
                    Trigger::Level | Trigger::Oneshot => {
                        self.cancel(st, fd); // disarmed until `modify`
                    }
                }
                Some((
                    fd,
                    Report {
                        token: slot.token,
                        bits,
                    },
                    slot.mode == Trigger::Level,
                ))
            }
        }
    }

    /// Whether `fd` still names the file registered under it (a `fstat`).
    fn same_file_now(&self, s: &Slot, fd: RawFd) -> bool {
        // SAFETY: used for one `fstat`; a closed number gives EBADF, which is the answer.
        let b = unsafe { BorrowedFd::borrow_raw(fd) };
        s.file.is_some() && FileId::of(b) == s.file
    }
}

/// Keep an edge or one-shot report (or a wake-up, `fd < 0`) for the next wait: one per
/// registration, the bits of several merged.
fn stash(st: &mut State, fd: RawFd, report: Report) {
    if fd < 0 {
        st.wake_stashed = true;
        return;
    }
    let i = fd as usize;
    let at = st.slots[i].stash;
    if at != NO_STASH {
        let r = &mut st.stash[at as usize].1;
        if r.token == report.token {
            r.bits |= report.bits;
        } else {
            *r = report; // re-armed under a new token since: the old report is stale
        }
    } else {
        st.slots[i].stash = st.stash.len() as u32;
        st.stash.push((fd, report));
    }
}

/// Remove every armed poll before the ring closes. A poll the ring's teardown cancels completes
/// through task work in the thread that submitted it, which interrupts whatever that thread is
/// blocked in (an `epoll_wait` returns `EINTR`); a `POLL_REMOVE` completes it right here.
impl Drop for Shared {
    fn drop(&mut self) {
        let mut st = self.state.lock();
        for fd in 0..st.slots.len() {
            if st.slots[fd].live && st.slots[fd].armed {
                self.cancel(&mut st, fd as RawFd);
            }
        }
        if st.epoll_armed {
            let e = opcode::PollRemove::new(user_data(Tag::Wake, EPOLL_SEQ, -1))
                .build()
                .flags(squeue::Flags::SKIP_SUCCESS)
                .user_data(user_data(Tag::Ignore, 0, -1));
            self.push(&mut st, e);
        }
        self.submit(&st);
    }
}

/// A zero timeout for `epoll_wait`.
const ZERO_TS: rustix::time::Timespec = rustix::time::Timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

/// The epoll flags of a level-triggered registration.
#[inline]
fn epoll_flags(interest: Bits) -> EventFlags {
    EventFlags::from_bits_retain(interest)
}

/// Flush the kernel's overflow list into the completion ring (`GETEVENTS`, nothing to wait for).
fn flush_overflow(fd: RawFd) -> Result<usize, Errno> {
    // SAFETY: a plain io_uring_enter with no argument pointer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_io_uring_enter,
            fd,
            0u32,
            0u32,
            1u32, // IORING_ENTER_GETEVENTS
            std::ptr::null::<libc::c_void>(),
            0usize,
        )
    };
    if r < 0 {
        Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO))
    } else {
        Ok(r as usize)
    }
}

impl Backend for Uring {
    fn add(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Bits,
        mode: Trigger,
    ) -> Result<(), AddError> {
        let sh = &*self.shared;
        let raw = fd.as_raw_fd();
        if raw == sh.fd() || raw == sh.epoll.as_raw_fd() {
            return Err(AddError::Sys(Errno::INVAL)); // the ring itself, as epoll answers for itself
        }
        let i = raw as usize;
        if mode == Trigger::Level {
            // Level-triggered: in the epoll instance, which answers synchronously (EPERM: the
            // file cannot be polled, the engine's always-ready rule).
            let mut st = sh.state.lock();
            if st.slots.len() <= i {
                st.slots.resize(i + 1, Slot::FREE);
            }
            if st.slots[i].live {
                return Err(AddError::Sys(Errno::EXIST));
            }
            match epoll::add(
                &sh.epoll,
                fd,
                EventData::new_u64(token),
                epoll_flags(interest),
            ) {
                Ok(()) => {}
                Err(Errno::PERM) => return Err(AddError::Refused),
                Err(e) => return Err(AddError::Sys(e)),
            }
            let old = st.slots[i];
            st.slots[i] = Slot {
                live: true,
                token,
                interest,
                mode,
                seq: old.seq,
                stash: old.stash,
                in_epoll: true,
                ..Slot::FREE
            };
            st.in_epoll += 1;
            st.epoll_ready = true; // it may be ready now: the next wait asks epoll
            if st.blocked > 0 {
                // A blocked waiter relies on the epoll instance's poll: make sure it is armed.
                sh.arm_epoll(&mut st);
                sh.submit_unlocked(st);
            }
            return Ok(());
        }
        let file = FileId::of(fd).ok_or(AddError::Sys(Errno::BADF))?;
        let mut st = sh.state.lock();
        if st.slots.len() <= i {
            st.slots.resize(i + 1, Slot::FREE);
        }
        if st.slots[i].live {
            return Err(AddError::Sys(Errno::EXIST));
        }
        let seq = st.slots[i].seq.wrapping_add(1) & SEQ_MASK;
        st.slots[i] = Slot {
            live: true,
            gone: false,
            token,
            interest,
            mode,
            seq,
            armed: true,
            multi: true,
            probe: Probe::Pending,
            file: Some(file),
            stash: st.slots[i].stash,
            rearm_later: false,
            in_epoll: false,
        };
        // The probe: a multishot poll, then a NOP. A file without a poll method completes the
        // poll while it is being armed, ahead of the NOP.
        let probe = opcode::PollAdd::new(types::Fd(raw), interest)
            .multi(true)
            .build()
            .user_data(user_data(Tag::Poll, seq, raw));
        sh.push(&mut st, probe);
        sh.push(
            &mut st,
            opcode::Nop::new()
                .build()
                .user_data(user_data(Tag::Ack, seq, raw)),
        );
        sh.submit(&st);
        loop {
            sh.reap_into_stash(&mut st);
            match st.slots[i].probe {
                Probe::Pending => {}
                Probe::Armed => return Ok(()),
                Probe::Refused => {
                    st.slots[i].live = false;
                    st.slots[i].armed = false;
                    return Err(AddError::Refused);
                }
                Probe::Failed(e) => {
                    st.slots[i].live = false;
                    st.slots[i].armed = false;
                    return Err(AddError::Sys(Errno::from_raw_os_error(e)));
                }
            }
            // The entries went to the kernel with another thread's call (or the answer is in
            // the overflow list): wait for the completions, briefly, without the lock.
            drop(st);
            let _ = enter(sh.fd(), 0, 1, Some(Duration::from_millis(1)));
            st = sh.state.lock();
        }
    }

    fn modify(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Bits,
        mode: Trigger,
    ) -> Result<(), Errno> {
        let sh = &*self.shared;
        let raw = fd.as_raw_fd();
        let mut st = sh.state.lock();
        match st.slots.get(raw as usize) {
            Some(s) if s.live && !s.gone => {}
            _ => return Err(Errno::NOENT),
        }
        let i = raw as usize;
        if st.slots[i].in_epoll {
            if mode == Trigger::Level {
                // ENOENT: epoll dropped the registration with its file.
                epoll::modify(
                    &sh.epoll,
                    fd,
                    EventData::new_u64(token),
                    epoll_flags(interest),
                )?;
                let s = &mut st.slots[i];
                (s.token, s.interest) = (token, interest);
                st.epoll_ready = true; // a re-armed ready descriptor is reported again
                return Ok(());
            }
            // Leaves epoll for a poll in the ring.
            epoll::delete(&sh.epoll, fd)?;
            st.in_epoll -= 1;
            let s = &mut st.slots[i];
            s.in_epoll = false;
            s.file = FileId::of(fd);
        } else if mode == Trigger::Level {
            // Leaves the ring for epoll.
            sh.cancel(&mut st, raw);
            epoll::add(
                &sh.epoll,
                fd,
                EventData::new_u64(token),
                epoll_flags(interest),
            )?;
            let s = &mut st.slots[i];
            (s.token, s.interest, s.mode, s.in_epoll) = (token, interest, mode, true);
            s.rearm_later = false;
            st.in_epoll += 1;
            st.epoll_ready = true;
            if st.blocked > 0 {
                sh.arm_epoll(&mut st);
                sh.submit_unlocked(st);
            }
            return Ok(());
        }
        sh.cancel(&mut st, raw);
        let s = &mut st.slots[raw as usize];
        s.token = token;
        s.interest = interest;
        s.mode = mode;
        s.rearm_later = false;
        sh.arm(&mut st, raw);
        if st.blocked > 0 {
            sh.submit_unlocked(st);
        }
        Ok(())
    }

    fn delete(&self, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        let sh = &*self.shared;
        let raw = fd.as_raw_fd();
        let mut st = sh.state.lock();
        match st.slots.get(raw as usize) {
            Some(s) if s.live => {}
            _ => return Err(Errno::NOENT),
        }
        if st.slots[raw as usize].in_epoll {
            let s = &mut st.slots[raw as usize];
            s.live = false;
            s.in_epoll = false;
            st.in_epoll -= 1;
            return epoll::delete(&sh.epoll, fd);
        }
        sh.cancel(&mut st, raw);
        let s = &mut st.slots[raw as usize];
        s.live = false;
        s.gone = false;
        s.file = None;
        // Now, not with the next wait: the ring releases the file only when its poll is
        // cancelled, and queued re-arms name the number, which the caller may close next.
        sh.submit_unlocked(st);
        Ok(())
    }

    fn wait<R>(
        &self,
        max: usize,
        timeout: Option<Duration>,
        f: impl FnOnce(&mut Reports<'_>) -> R,
    ) -> Result<R, Errno> {
        let sh = &*self.shared;
        let max = max.clamp(1, KERNEL_BATCH);
        // One more than the batch: a stashed wake-up.
        let mut buf = [MaybeUninit::<Report>::uninit(); KERNEL_BATCH + 1];
        let mut st = sh.state.lock();
        // What the ring held before this call: events (edge, one-shot) are handed out; the
        // level-triggered registrations among them are re-armed, and reported by this wait's
        // submission if they are still ready.
        sh.reap_into_stash(&mut st);
        let mut n = sh.take_stash(&mut st, &mut buf, max);
        sh.rearm_deferred(&mut st);
        n += sh.epoll_reports(&mut st, &mut buf[n..], max - n);
        let blocking = timeout != Some(Duration::ZERO);
        if sh.queued(&st) > 0 && (n > 0 || !blocking) {
            // Re-arms and other queued changes go to the kernel: a re-armed descriptor that is
            // still ready completes during the submission.
            sh.submit(&st);
            n += sh.reap(&mut st, &mut buf[n..], max - n);
            n += sh.epoll_reports(&mut st, &mut buf[n..], max - n);
        }
        let deadline =
            timeout.map(|t| crate::deadline::monotonic_ns().saturating_add(t.as_nanos() as u64));
        while n == 0 && blocking {
            if st.in_epoll > 0 && !st.epoll_ready {
                sh.arm_epoll(&mut st); // level-triggered readiness must end the block
            }
            let left = deadline
                .map(|d| Duration::from_nanos(d.saturating_sub(crate::deadline::monotonic_ns())));
            if left == Some(Duration::ZERO) {
                break;
            }
            // Submit what is queued and block, with the deadline, in one call.
            let to_submit = sh.queued(&st) as u32;
            st.blocked += 1;
            drop(st);
            let r = enter(sh.fd(), to_submit, 1, left);
            st = sh.state.lock();
            st.blocked -= 1;
            let seen = sh.completions_seen(&st);
            match r {
                Ok(_) | Err(Errno::TIME) | Err(Errno::BUSY) => {}
                Err(e) => return Err(e),
            }
            n += sh.reap(&mut st, &mut buf[n..], max - n);
            n += sh.epoll_reports(&mut st, &mut buf[n..], max - n);
            if matches!(r, Ok(k) if k > 0) && !seen && n == 0 {
                // A call that submitted something returns the count it submitted, hiding how
                // its wait ended: with nothing posted and time left, a signal ended it.
                let timed_out = deadline.is_some_and(|d| crate::deadline::monotonic_ns() >= d);
                if !timed_out {
                    return Err(Errno::INTR);
                }
            }
            if matches!(r, Err(Errno::TIME)) {
                break;
            }
            // Woken by completions that reported nothing (a wake-up another waiter took, a
            // stale completion): wait again, against the same deadline.
        }
        drop(st);
        // SAFETY: the first `n` reports were written above.
        let reports = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<Report>(), n) };
        Ok(f(&mut Reports::List(reports.iter())))
    }

    fn change_needs_wake(&self) -> bool {
        false
    }

    fn still_registered(&self, fd: BorrowedFd<'_>) -> bool {
        // The ring holds the registered file, not the number: compare identities (a `fstat`).
        let st = self.shared.state.lock();
        let raw = fd.as_raw_fd();
        match st.slots.get(raw as usize) {
            Some(s) if s.live && s.in_epoll => {
                // epoll keys a registration by (file, number): adding the number again fails
                // with EEXIST exactly while the registered file is the one it names.
                match epoll::add(&self.shared.epoll, fd, EventData::new_u64(u64::MAX - 3), {
                    EventFlags::empty()
                }) {
                    Err(Errno::EXIST) => true,
                    Ok(()) => {
                        let _ = epoll::delete(&self.shared.epoll, fd);
                        false
                    }
                    Err(_) => false,
                }
            }
            Some(s) if s.live && !s.gone => self.shared.same_file_now(s, raw),
            _ => false,
        }
    }
}

/// The wake channel of a set on the io_uring backend: a wake-up is a message to the ring
/// (`IORING_OP_MSG_RING` to itself), one edge, taken by the waiter that reaps it; nothing is read.
pub(crate) struct RingWake {
    shared: Arc<Shared>,
}

impl RingWake {
    /// Post one edge: one `io_uring_enter`, which also submits whatever changes are queued.
    pub(crate) fn post(&self) {
        let sh = &*self.shared;
        let mut st = sh.state.lock();
        let e = opcode::MsgRingData::new(types::Fd(sh.fd()), 1, user_data(Tag::Wake, 0, 0), None)
            .build()
            .flags(squeue::Flags::SKIP_SUCCESS)
            .user_data(user_data(Tag::Ignore, 0, 0));
        sh.push(&mut st, e);
        sh.submit_unlocked(st);
    }
}
