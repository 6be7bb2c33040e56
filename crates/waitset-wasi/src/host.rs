//! The preview1 host functions, engine-agnostic.
//!
//! Each function takes the guest's [`WasiCtx`] and its linear memory as a byte slice and returns
//! the [`Errno`] the guest sees. Pointers and lengths arrive as the raw `u32`s the guest passed;
//! every access goes through the checked helpers of [`crate::abi`], so a bad pointer is
//! [`Errno::FAULT`] (or [`Errno::INVAL`] when misaligned), never a panic. Output pointers are
//! validated before any side effect, so a call that fails on a bad pointer has not consumed input
//! or created an fd the guest never learns about.
//!
//! `proc_exit` is the one function that does not return: [`proc_exit`] gives back a [`ProcExit`]
//! value that the engine adapter turns into the end of the run.

use std::io::IoSlice;
use std::os::fd::BorrowedFd;

use rustix::event::{PollFd, PollFlags};
use rustix::fs::OFlags;
use rustix::net::{RecvFlags, SendAncillaryBuffer, SendFlags, Shutdown, SocketFlags};

use crate::abi::{
    self, clockid, riflags, roflags, sdflags, whence, Errno, FdFlags, Fdstat, Filestat, Iovec,
    Rights,
};
use crate::ctx::{FdEntry, FdObject, FileKind, WasiCtx, STREAM_RIGHTS};

/// At most this many iovecs are gathered for one write (Linux's `IOV_MAX`); longer lists are
/// written in part, which preview1 (like POSIX `writev`) permits.
pub const MAX_IOVECS: usize = 1024;

/// Converts an internal `Result` into the errno returned to the guest.
fn errno(r: Result<(), Errno>) -> Errno {
    match r {
        Ok(()) => Errno::SUCCESS,
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------------
// Blocking and nonblocking I/O.

/// True when `fd` is ready for `interest` right now (a zero-timeout poll(2); never waits).
fn ready_now(fd: BorrowedFd<'_>, interest: PollFlags) -> Result<bool, Errno> {
    let mut pfd = [PollFd::from_borrowed_fd(fd, interest)];
    let zero = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        match rustix::event::poll(&mut pfd, Some(&zero)) {
            Ok(n) => return Ok(n > 0),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Runs `op` on guest fd `fd` with the guest's blocking semantics. Every wait is a wait on the
/// guest's own `WaitSet` together with the interrupt latch
/// ([`WasiCtx::block_until_ready`]), so SIGINT / SIGTERM end the run wherever the guest blocks:
/// - host descriptor nonblocking (sockets, files and directories the host opened, fds given by
///   the embedder): `op` runs at once; `EAGAIN` on a blocking guest fd waits and retries;
/// - host descriptor blocking (inherited stdio, whose flags belong to the host's parent and
///   are never changed): readiness is checked first (a zero-timeout poll(2), then the wait if
///   it is not ready), so `op` finds the fd ready and does not block in the kernel; a guest
///   that set `NONBLOCK` gets `EAGAIN` when the fd is not ready now;
/// - `EINTR` is retried.
pub(crate) fn blocking_io<T>(
    ctx: &mut WasiCtx,
    fd: u32,
    write: bool,
    mut op: impl FnMut(&FdEntry) -> rustix::io::Result<T>,
) -> Result<T, Errno> {
    let interest = if write { PollFlags::OUT } else { PollFlags::IN };
    loop {
        let entry = ctx.fds.get(fd)?;
        // A zero-timeout check first: the usual case (the guest polled, the fd is ready) costs
        // one poll(2) and leaves the guest's wait set as its last poll_oneoff made it.
        if !entry.host_nonblocking() && !ready_now(entry.as_fd(), interest)? {
            if entry.is_nonblocking() {
                return Err(Errno::AGAIN);
            }
            ctx.block_until_ready(fd, write)?;
        }
        let entry = ctx.fds.get(fd)?;
        match op(entry) {
            Ok(v) => return Ok(v),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::AGAIN) if !entry.is_nonblocking() => {
                ctx.block_until_ready(fd, write)?
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The first non-empty buffer of an iovec array (range and alignment of the array checked).
pub(crate) fn first_nonempty_iovec(
    mem: &[u8],
    iovs: u32,
    iovs_len: u32,
) -> Result<Option<Iovec>, Errno> {
    abi::array_range(mem.len(), iovs, iovs_len, Iovec::SIZE)?;
    abi::check_align(iovs, Iovec::ALIGN)?;
    for i in 0..iovs_len {
        let iov = abi::read_iovec(mem, iovs, i)?;
        abi::range(mem.len(), iov.buf, u64::from(iov.buf_len))?;
        if iov.buf_len > 0 {
            return Ok(Some(iov));
        }
    }
    Ok(None)
}

/// Gathers up to [`MAX_IOVECS`] guest buffers for a vectored write. Every buffer listed is
/// range-checked (a bad one is FAULT even past the cap).
pub(crate) fn gather(mem: &[u8], iovs: u32, iovs_len: u32) -> Result<Vec<&[u8]>, Errno> {
    abi::array_range(mem.len(), iovs, iovs_len, Iovec::SIZE)?;
    abi::check_align(iovs, Iovec::ALIGN)?;
    let mut out = Vec::with_capacity((iovs_len as usize).min(MAX_IOVECS));
    for i in 0..iovs_len {
        let iov = abi::read_iovec(mem, iovs, i)?;
        let buf = abi::slice(mem, iov.buf, iov.buf_len)?;
        if !buf.is_empty() && out.len() < MAX_IOVECS {
            out.push(buf);
        }
    }
    Ok(out)
}

/// Shortens `bufs` to at most `max` bytes in total.
fn truncate_bufs(bufs: &mut Vec<&[u8]>, max: usize) {
    let mut left = max;
    let mut keep = 0;
    for b in bufs.iter_mut() {
        if left == 0 {
            break;
        }
        if b.len() > left {
            *b = &b[..left];
        }
        left -= b.len();
        keep += 1;
    }
    bufs.truncate(keep);
}

/// Writes `bufs` to a host fd: `sendmsg` with `MSG_NOSIGNAL` for sockets (a peer that hung up is
/// EPIPE, never SIGPIPE), `writev` otherwise.
fn write_host(fd: BorrowedFd<'_>, kind: FileKind, bufs: &[&[u8]]) -> rustix::io::Result<usize> {
    let bufs: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
    let bufs = &bufs[..];
    if kind.is_socket() {
        rustix::net::sendmsg(
            fd,
            bufs,
            &mut SendAncillaryBuffer::default(),
            SendFlags::NOSIGNAL,
        )
    } else {
        rustix::io::writev(fd, bufs)
    }
}

// ---------------------------------------------------------------------------------------------
// args and environ

fn sizes(list: &[Vec<u8>]) -> Result<(u32, u32), Errno> {
    let count = u32::try_from(list.len()).map_err(|_| Errno::OVERFLOW)?;
    let bytes = list
        .iter()
        .try_fold(0u32, |acc, s| {
            u32::try_from(s.len())
                .ok()
                .and_then(|l| acc.checked_add(l)?.checked_add(1))
        })
        .ok_or(Errno::OVERFLOW)?;
    Ok((count, bytes))
}

fn sizes_get(list: &[Vec<u8>], mem: &mut [u8], count_ptr: u32, size_ptr: u32) -> Result<(), Errno> {
    let (count, bytes) = sizes(list)?;
    abi::field_mut::<4>(mem, count_ptr, 4)?;
    abi::field_mut::<4>(mem, size_ptr, 4)?;
    abi::write_u32(mem, count_ptr, count)?;
    abi::write_u32(mem, size_ptr, bytes)
}

fn strings_get(list: &[Vec<u8>], mem: &mut [u8], ptrs: u32, buf: u32) -> Result<(), Errno> {
    let (count, bytes) = sizes(list)?;
    // Check both destinations before writing anything.
    abi::array_range(mem.len(), ptrs, count, 4)?;
    abi::check_align(ptrs, 4)?;
    abi::range(mem.len(), buf, u64::from(bytes))?;
    let mut at = buf;
    for (i, s) in list.iter().enumerate() {
        let slot = ptrs + (i as u32) * 4;
        abi::write_u32(mem, slot, at)?;
        let len = s.len() as u32;
        let dst = abi::slice_mut(mem, at, len + 1)?;
        dst[..s.len()].copy_from_slice(s);
        dst[s.len()] = 0;
        at += len + 1;
    }
    Ok(())
}

/// `args_sizes_get(argc: *mut size, argv_buf_size: *mut size) -> errno`.
pub fn args_sizes_get(ctx: &mut WasiCtx, mem: &mut [u8], argc: u32, argv_buf_size: u32) -> Errno {
    errno(sizes_get(&ctx.args, mem, argc, argv_buf_size))
}

/// `args_get(argv: *mut *mut u8, argv_buf: *mut u8) -> errno`.
pub fn args_get(ctx: &mut WasiCtx, mem: &mut [u8], argv: u32, argv_buf: u32) -> Errno {
    errno(strings_get(&ctx.args, mem, argv, argv_buf))
}

/// `environ_sizes_get(count: *mut size, buf_size: *mut size) -> errno`.
pub fn environ_sizes_get(ctx: &mut WasiCtx, mem: &mut [u8], count: u32, buf_size: u32) -> Errno {
    errno(sizes_get(&ctx.env, mem, count, buf_size))
}

/// `environ_get(environ: *mut *mut u8, environ_buf: *mut u8) -> errno`.
pub fn environ_get(ctx: &mut WasiCtx, mem: &mut [u8], environ: u32, environ_buf: u32) -> Errno {
    errno(strings_get(&ctx.env, mem, environ, environ_buf))
}

// ---------------------------------------------------------------------------------------------
// clocks, random, sched

/// The host clock for a preview1 clock id, or [`Errno::INVAL`] for an unknown id.
pub fn host_clock(id: u32) -> Result<rustix::time::ClockId, Errno> {
    use rustix::time::ClockId;
    match id {
        clockid::REALTIME => Ok(ClockId::Realtime),
        clockid::MONOTONIC => Ok(ClockId::Monotonic),
        clockid::PROCESS_CPUTIME_ID => Ok(ClockId::ProcessCPUTime),
        clockid::THREAD_CPUTIME_ID => Ok(ClockId::ThreadCPUTime),
        _ => Err(Errno::INVAL),
    }
}

/// A timespec as nanoseconds, saturating (negative is 0).
pub fn timespec_ns(ts: rustix::time::Timespec) -> u64 {
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nsec = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

/// The current time of preview1 clock `id`, in ns.
pub fn now_ns(id: u32) -> Result<u64, Errno> {
    Ok(timespec_ns(rustix::time::clock_gettime(host_clock(id)?)))
}

/// `clock_res_get(id: clockid, resolution: *mut timestamp) -> errno`.
pub fn clock_res_get(_ctx: &mut WasiCtx, mem: &mut [u8], id: u32, resolution: u32) -> Errno {
    errno((|| {
        let clock = host_clock(id)?;
        abi::field_mut::<8>(mem, resolution, 8)?;
        let res = timespec_ns(rustix::time::clock_getres(clock)).max(1);
        abi::write_u64(mem, resolution, res)
    })())
}

/// `clock_time_get(id: clockid, precision: timestamp, time: *mut timestamp) -> errno`.
pub fn clock_time_get(
    _ctx: &mut WasiCtx,
    mem: &mut [u8],
    id: u32,
    _precision: u64,
    time: u32,
) -> Errno {
    errno((|| {
        let now = now_ns(id)?;
        abi::write_u64(mem, time, now)
    })())
}

/// `random_get(buf: *mut u8, buf_len: size) -> errno`.
pub fn random_get(_ctx: &mut WasiCtx, mem: &mut [u8], buf: u32, buf_len: u32) -> Errno {
    errno((|| {
        let dst = abi::slice_mut(mem, buf, buf_len)?;
        let mut done = 0;
        while done < dst.len() {
            match rustix::rand::getrandom(&mut dst[done..], rustix::rand::GetRandomFlags::empty()) {
                Ok(filled) => done += filled,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    })())
}

/// `sched_yield() -> errno`.
pub fn sched_yield(_ctx: &mut WasiCtx) -> Errno {
    std::thread::yield_now();
    Errno::SUCCESS
}

/// The guest called `proc_exit(code)`: the run ends with this code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("guest exited with code {0}")]
pub struct ProcExit(pub u32);

/// `proc_exit(rval: exitcode)`: never returns to the guest; the adapter unwinds with this value.
pub fn proc_exit(_ctx: &mut WasiCtx, code: u32) -> ProcExit {
    ProcExit(code)
}

// ---------------------------------------------------------------------------------------------
// fd_*

/// `fd_read(fd, iovs: *const iovec, iovs_len: size, nread: *mut size) -> errno`.
///
/// Reads into the first non-empty buffer only (a short read, as POSIX permits): filling several
/// buffers would need them disjoint, which a guest need not guarantee.
pub fn fd_read(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    iovs: u32,
    iovs_len: u32,
    nread: u32,
) -> Errno {
    errno((|| {
        let entry = ctx.fds.get(fd)?;
        entry.require(Rights::FD_READ)?;
        if entry.kind() == FileKind::Directory {
            return Err(Errno::ISDIR);
        }
        let iov = first_nonempty_iovec(mem, iovs, iovs_len)?;
        abi::field_mut::<4>(mem, nread, 4)?;
        let n = match iov {
            None => 0,
            Some(iov) => {
                let dst = abi::slice_mut(mem, iov.buf, iov.buf_len)?;
                blocking_io(ctx, fd, false, |e| rustix::io::read(e.as_fd(), &mut *dst))?
            }
        };
        abi::write_u32(mem, nread, n as u32)
    })())
}

/// `fd_write(fd, iovs: *const ciovec, iovs_len: size, nwritten: *mut size) -> errno`.
pub fn fd_write(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    iovs: u32,
    iovs_len: u32,
    nwritten: u32,
) -> Errno {
    errno((|| {
        let entry = ctx.fds.get(fd)?;
        entry.require(Rights::FD_WRITE)?;
        if entry.kind() == FileKind::Directory {
            return Err(Errno::ISDIR);
        }
        abi::field_mut::<4>(mem, nwritten, 4)?;
        let n = {
            let bufs = gather(mem, iovs, iovs_len)?;
            if bufs.is_empty() {
                0
            } else {
                blocking_io(ctx, fd, true, |e| {
                    let mut bufs = bufs.clone();
                    if !e.host_nonblocking() && e.kind() == FileKind::Pipe {
                        // A blocking pipe (inherited stdio) that was found writable: write at
                        // most its free space, so the write never blocks in the kernel where no
                        // signal could end it.
                        let free = crate::poll::write_nbytes(e.as_fd(), FileKind::Pipe);
                        truncate_bufs(&mut bufs, usize::try_from(free).unwrap_or(usize::MAX));
                        if bufs.is_empty() {
                            return Err(rustix::io::Errno::AGAIN);
                        }
                    }
                    write_host(e.as_fd(), e.kind(), &bufs)
                })?
            }
        };
        abi::write_u32(mem, nwritten, n as u32)
    })())
}

/// `fd_close(fd) -> errno`. Closing an inherited stdio fd only removes it from the guest's table.
pub fn fd_close(ctx: &mut WasiCtx, _mem: &mut [u8], fd: u32) -> Errno {
    errno(ctx.close(fd))
}

/// `fd_fdstat_get(fd, stat: *mut fdstat) -> errno`.
pub fn fd_fdstat_get(ctx: &mut WasiCtx, mem: &mut [u8], fd: u32, stat: u32) -> Errno {
    errno((|| {
        let entry = ctx.fds.get(fd)?;
        let st = Fdstat {
            filetype: entry.kind().filetype(),
            flags: entry.flags(),
            rights_base: entry.rights_base(),
            rights_inheriting: entry.rights_inheriting(),
        };
        st.encode(abi::field_mut::<{ Fdstat::SIZE }>(
            mem,
            stat,
            Fdstat::ALIGN,
        )?);
        Ok(())
    })())
}

/// `fd_fdstat_set_flags(fd, flags: fdflags) -> errno`.
///
/// `NONBLOCK` and `APPEND` can change. Unknown bits are INVAL; the sync flags are NOTSUP (the
/// kernel cannot change them on an open file). `APPEND` is set on the host descriptor with
/// `fcntl(F_SETFL)`, except on inherited stdio, whose open file description belongs to the
/// host's parent (NOTSUP there); `NONBLOCK` is the guest's view only (the host emulates it).
pub fn fd_fdstat_set_flags(ctx: &mut WasiCtx, _mem: &mut [u8], fd: u32, flags: u16) -> Errno {
    errno((|| {
        let entry = ctx.fds.get_mut(fd)?;
        entry.require(Rights::FD_FDSTAT_SET_FLAGS)?;
        let new = FdFlags::from_bits(flags).ok_or(Errno::INVAL)?;
        if new.intersects(FdFlags::DSYNC | FdFlags::RSYNC | FdFlags::SYNC) {
            return Err(Errno::NOTSUP);
        }
        let append = new.contains(FdFlags::APPEND);
        if append != entry.flags().contains(FdFlags::APPEND) {
            if entry.is_stdio() {
                return Err(Errno::NOTSUP);
            }
            let host = rustix::fs::fcntl_getfl(entry.as_fd())?;
            let host = if append {
                host | OFlags::APPEND
            } else {
                host - OFlags::APPEND
            };
            rustix::fs::fcntl_setfl(entry.as_fd(), host)?;
        }
        entry.set_flags(new);
        Ok(())
    })())
}

/// `fd_fdstat_set_rights(fd, fs_rights_base: rights, fs_rights_inheriting: rights) -> errno`.
///
/// Rights can only be dropped: asking for a right the fd does not hold is NOTCAPABLE.
pub fn fd_fdstat_set_rights(
    ctx: &mut WasiCtx,
    _mem: &mut [u8],
    fd: u32,
    base: u64,
    inheriting: u64,
) -> Errno {
    errno((|| {
        let entry = ctx.fds.get_mut(fd)?;
        let base = Rights::from_bits(base).ok_or(Errno::NOTCAPABLE)?;
        let inheriting = Rights::from_bits(inheriting).ok_or(Errno::NOTCAPABLE)?;
        if !entry.rights_base().contains(base) || !entry.rights_inheriting().contains(inheriting) {
            return Err(Errno::NOTCAPABLE);
        }
        entry.set_rights(base, inheriting);
        Ok(())
    })())
}

/// `fd_seek(fd, offset: filedelta, whence, newoffset: *mut filesize) -> errno`.
///
/// What the kernel cannot seek (pipes, sockets, ttys) is SPIPE, as POSIX `lseek`, before the
/// rights are looked at; `FD_TELL` is enough for a zero offset from the current position.
pub fn fd_seek(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    offset: i64,
    whence_: u8,
    newoffset: u32,
) -> Errno {
    errno((|| {
        use rustix::fs::SeekFrom;
        let entry = ctx.fds.get(fd)?;
        if entry.kind() == FileKind::Directory {
            return Err(Errno::ISDIR);
        }
        if !entry.is_seekable() {
            return Err(Errno::SPIPE);
        }
        let tell_only = whence_ == whence::CUR && offset == 0;
        let rights = entry.rights_base();
        let allowed =
            rights.contains(Rights::FD_SEEK) || (tell_only && rights.contains(Rights::FD_TELL));
        if !allowed {
            return Err(Errno::NOTCAPABLE);
        }
        let pos = match whence_ {
            whence::SET => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::INVAL)?),
            whence::CUR => SeekFrom::Current(offset),
            whence::END => SeekFrom::End(offset),
            _ => return Err(Errno::INVAL),
        };
        abi::field_mut::<8>(mem, newoffset, 8)?;
        let n = rustix::fs::seek(entry.as_fd(), pos)?;
        abi::write_u64(mem, newoffset, n)
    })())
}

/// `fd_tell(fd, offset: *mut filesize) -> errno`: `lseek(fd, 0, SEEK_CUR)`. What the kernel
/// cannot seek is SPIPE; otherwise `FD_TELL` is required.
pub fn fd_tell(ctx: &mut WasiCtx, mem: &mut [u8], fd: u32, offset: u32) -> Errno {
    errno((|| {
        let entry = ctx.fds.get(fd)?;
        if entry.kind() == FileKind::Directory {
            return Err(Errno::ISDIR);
        }
        if !entry.is_seekable() {
            return Err(Errno::SPIPE);
        }
        entry.require(Rights::FD_TELL)?;
        abi::field_mut::<8>(mem, offset, 8)?;
        let n = rustix::fs::seek(entry.as_fd(), rustix::fs::SeekFrom::Current(0))?;
        abi::write_u64(mem, offset, n)
    })())
}

/// Nanoseconds since the epoch of a stat time, saturating (before the epoch is 0).
pub(crate) fn stat_time_ns(sec: i64, nsec: i64) -> u64 {
    let sec = u64::try_from(sec).unwrap_or(0);
    let nsec = u64::try_from(nsec).unwrap_or(0);
    sec.saturating_mul(1_000_000_000).saturating_add(nsec)
}

/// The preview1 filestat of a kernel stat.
pub(crate) fn filestat_of(st: &rustix::fs::Stat) -> Filestat {
    Filestat {
        dev: st.st_dev,
        ino: st.st_ino,
        filetype: crate::fs::filetype_of_mode(st.st_mode),
        nlink: st.st_nlink,
        size: u64::try_from(st.st_size).unwrap_or(0),
        atim: stat_time_ns(st.st_atime, st.st_atime_nsec as i64),
        mtim: stat_time_ns(st.st_mtime, st.st_mtime_nsec as i64),
        ctim: stat_time_ns(st.st_ctime, st.st_ctime_nsec as i64),
    }
}

/// `fd_filestat_get(fd, buf: *mut filestat) -> errno`.
pub fn fd_filestat_get(ctx: &mut WasiCtx, mem: &mut [u8], fd: u32, buf: u32) -> Errno {
    errno((|| {
        let entry = ctx.fds.get(fd)?;
        entry.require(Rights::FD_FILESTAT_GET)?;
        abi::field_mut::<{ Filestat::SIZE }>(mem, buf, Filestat::ALIGN)?;
        let st = rustix::fs::fstat(entry.as_fd())?;
        let mut fs = filestat_of(&st);
        fs.filetype = entry.kind().filetype();
        fs.encode(abi::field_mut::<{ Filestat::SIZE }>(
            mem,
            buf,
            Filestat::ALIGN,
        )?);
        Ok(())
    })())
}

/// `fd_prestat_get(fd, buf: *mut prestat) -> errno`.
///
/// A preopened directory (`--dir`) gets tag DIR and the length of its guest path; any other fd
/// — open or not — is BADF, which is what ends wasi-libc's preopen scan (fd 3 upwards).
pub fn fd_prestat_get(ctx: &mut WasiCtx, mem: &mut [u8], fd: u32, buf: u32) -> Errno {
    errno((|| {
        let entry = ctx.fds.get(fd)?;
        let path = entry.preopen_path().ok_or(Errno::BADF)?;
        let len = u32::try_from(path.len()).map_err(|_| Errno::OVERFLOW)?;
        let out = abi::field_mut::<8>(mem, buf, 4)?;
        out.fill(0);
        out[0] = abi::preopentype::DIR;
        out[4..8].copy_from_slice(&len.to_le_bytes());
        Ok(())
    })())
}

/// `fd_prestat_dir_name(fd, path: *mut u8, path_len: size) -> errno`.
///
/// A buffer shorter than the name is NAMETOOLONG (as wasmtime); an fd that is open but not a
/// preopen is NOTDIR, one that is not open BADF.
pub fn fd_prestat_dir_name(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    path: u32,
    path_len: u32,
) -> Errno {
    errno((|| {
        let entry = ctx.fds.get(fd)?;
        let name = entry.preopen_path().ok_or(Errno::NOTDIR)?;
        if (path_len as usize) < name.len() {
            return Err(Errno::NAMETOOLONG);
        }
        let dst = abi::slice_mut(mem, path, name.len() as u32)?;
        dst.copy_from_slice(name);
        Ok(())
    })())
}

/// `fd_renumber(fd, to: fd) -> errno`: `to` (which must be open, as in preview1's
/// wasi-common host) is closed and `fd` takes its number. Both fds' poll interest is dropped.
pub fn fd_renumber(ctx: &mut WasiCtx, _mem: &mut [u8], fd: u32, to: u32) -> Errno {
    errno((|| {
        ctx.fds.get(fd)?;
        ctx.fds.get(to)?;
        if fd == to {
            return Ok(());
        }
        ctx.close(to)?;
        ctx.poll.forget(fd);
        let entry = ctx.fds.remove(fd)?;
        ctx.fds.insert_at(to, entry)
    })())
}

/// `proc_raise(sig) -> errno`: NOTSUP. Preview1 removed signals from the model; a guest that
/// wants to end abnormally traps.
pub fn proc_raise(_ctx: &mut WasiCtx, _mem: &mut [u8], _sig: u8) -> Errno {
    Errno::NOTSUP
}

// ---------------------------------------------------------------------------------------------
// sock_*

/// The socket behind guest fd `fd`: NOTSOCK for anything else, checked *before* the rights
/// (a file lacks socket rights because it is not a socket; the errno says the cause).
fn socket_entry(ctx: &WasiCtx, fd: u32, needed: Rights) -> Result<&FdEntry, Errno> {
    let entry = ctx.fds.get(fd)?;
    if !entry.kind().is_socket() {
        return Err(Errno::NOTSOCK);
    }
    entry.require(needed)?;
    Ok(entry)
}

/// `sock_accept(fd, flags: fdflags, ro_fd: *mut fd) -> errno`.
///
/// `flags` may hold only `NONBLOCK` (the new fd's mode). The new fd gets the listener's
/// inheriting rights (at most [`STREAM_RIGHTS`]); its host socket is nonblocking.
pub fn sock_accept(ctx: &mut WasiCtx, mem: &mut [u8], fd: u32, flags: u16, ro_fd: u32) -> Errno {
    errno((|| {
        socket_entry(ctx, fd, Rights::SOCK_ACCEPT)?;
        let new_flags = FdFlags::from_bits(flags).ok_or(Errno::INVAL)?;
        if !FdFlags::NONBLOCK.contains(new_flags) {
            return Err(Errno::INVAL);
        }
        abi::field_mut::<4>(mem, ro_fd, 4)?;
        let owned = blocking_io(ctx, fd, false, |e| {
            rustix::net::accept_with(e.as_fd(), SocketFlags::NONBLOCK | SocketFlags::CLOEXEC)
        })?;
        let entry = ctx.fds.get(fd)?;
        let rights = entry.rights_inheriting() & STREAM_RIGHTS;
        let object = match entry.object() {
            FdObject::TcpListener(_) => FdObject::TcpStream(std::net::TcpStream::from(owned)),
            _ => FdObject::Other(owned),
        };
        let mut new_entry = FdEntry::accepted(object, rights);
        new_entry.set_flags(new_flags);
        let new_fd = ctx.fds.insert(new_entry)?;
        abi::write_u32(mem, ro_fd, new_fd)
    })())
}

/// `sock_recv(fd, ri_data: *const iovec, ri_data_len: size, ri_flags: riflags,
/// ro_datalen: *mut size, ro_flags: *mut roflags) -> errno`.
///
/// Receives into the first non-empty buffer. `RECV_WAITALL` on a blocking fd loops until that
/// buffer is full or the peer closes.
#[allow(clippy::too_many_arguments)]
pub fn sock_recv(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    ri_data: u32,
    ri_data_len: u32,
    ri_flags: u16,
    ro_datalen: u32,
    ro_flags: u32,
) -> Errno {
    errno((|| {
        let entry = socket_entry(ctx, fd, Rights::FD_READ)?;
        if ri_flags & !(riflags::RECV_PEEK | riflags::RECV_WAITALL) != 0 {
            return Err(Errno::INVAL);
        }
        let mut flags = RecvFlags::empty();
        if ri_flags & riflags::RECV_PEEK != 0 {
            flags |= RecvFlags::PEEK;
        }
        let waitall = ri_flags & riflags::RECV_WAITALL != 0 && !entry.is_nonblocking();
        let iov = first_nonempty_iovec(mem, ri_data, ri_data_len)?;
        abi::field_mut::<4>(mem, ro_datalen, 4)?;
        abi::field_mut::<2>(mem, ro_flags, 2)?;
        let mut total = 0usize;
        let mut truncated = false;
        if let Some(iov) = iov {
            let dst = abi::slice_mut(mem, iov.buf, iov.buf_len)?;
            loop {
                let (n, full) = blocking_io(ctx, fd, false, |e| {
                    rustix::net::recv(e.as_fd(), &mut dst[total..], flags)
                })?;
                truncated |= full > n;
                total += n;
                if !waitall || n == 0 || total == dst.len() || flags.contains(RecvFlags::PEEK) {
                    break;
                }
            }
        }
        abi::write_u32(mem, ro_datalen, total as u32)?;
        let out_flags = if truncated {
            roflags::RECV_DATA_TRUNCATED
        } else {
            0
        };
        abi::write_u16(mem, ro_flags, out_flags)
    })())
}

/// `sock_send(fd, si_data: *const ciovec, si_data_len: size, si_flags: siflags,
/// so_datalen: *mut size) -> errno`. preview1 defines no `siflags`: any bit is INVAL.
pub fn sock_send(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    si_data: u32,
    si_data_len: u32,
    si_flags: u16,
    so_datalen: u32,
) -> Errno {
    errno((|| {
        socket_entry(ctx, fd, Rights::FD_WRITE)?;
        if si_flags != 0 {
            return Err(Errno::INVAL);
        }
        abi::field_mut::<4>(mem, so_datalen, 4)?;
        let n = {
            let bufs = gather(mem, si_data, si_data_len)?;
            if bufs.is_empty() {
                0
            } else {
                blocking_io(ctx, fd, true, |e| write_host(e.as_fd(), e.kind(), &bufs))?
            }
        };
        abi::write_u32(mem, so_datalen, n as u32)
    })())
}

/// `sock_shutdown(fd, how: sdflags) -> errno`. A non-socket is NOTSOCK before any rights
/// check.
pub fn sock_shutdown(ctx: &mut WasiCtx, _mem: &mut [u8], fd: u32, how: u8) -> Errno {
    errno((|| {
        let entry = socket_entry(ctx, fd, Rights::SOCK_SHUTDOWN)?;
        let how = match how {
            sdflags::RD => Shutdown::Read,
            sdflags::WR => Shutdown::Write,
            x if x == sdflags::RD | sdflags::WR => Shutdown::Both,
            _ => return Err(Errno::INVAL),
        };
        rustix::net::shutdown(entry.as_fd(), how)?;
        Ok(())
    })())
}
