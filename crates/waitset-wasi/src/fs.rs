//! The preview1 filesystem functions: `path_*`, `fd_readdir`, and the file-only `fd_*` calls.
//!
//! Every path is resolved beneath a directory fd by cap-std (with cap-fs-ext for the options
//! std lacks), as wasmtime's own WASI layer does: no `..`, absolute path or symlink can lead
//! outside the directory, and a symlink swapped while a path is being opened cannot either
//! (cap-std resolves one component at a time with `openat(O_NOFOLLOW)` or `openat2(RESOLVE_BENEATH)`).
//! An escape attempt is [`Errno::PERM`].
//!
//! Rights are checked first (an fd without the right is [`Errno::NOTCAPABLE`]), then the kind
//! (an fd that is not a directory is [`Errno::NOTDIR`]), then the path.

use std::io;
use std::os::unix::ffi::OsStrExt;

use cap_fs_ext::{
    DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, OpenOptionsSyncExt,
};
use cap_std::fs::{Dir, MetadataExt, OpenOptions};
use rustix::fs::{FileType, Timestamps};

use crate::abi::{
    self, advice, filetype, fstflags, lookupflags, oflags, Dirent, Errno, FdFlags, Filestat, Rights,
};
use crate::ctx::{FdEntry, FdObject, FileKind, WasiCtx};
use crate::host::{blocking_io, stat_time_ns};

fn errno(r: Result<(), Errno>) -> Errno {
    match r {
        Ok(()) => Errno::SUCCESS,
        Err(e) => e,
    }
}

fn io_err(e: io::Error) -> Errno {
    Errno::from(e)
}

/// The preview1 filetype of a `st_mode`.
pub(crate) fn filetype_of_mode(mode: u32) -> u8 {
    match FileType::from_raw_mode(mode) {
        FileType::RegularFile => filetype::REGULAR_FILE,
        FileType::Directory => filetype::DIRECTORY,
        FileType::CharacterDevice => filetype::CHARACTER_DEVICE,
        FileType::BlockDevice => filetype::BLOCK_DEVICE,
        FileType::Symlink => filetype::SYMBOLIC_LINK,
        FileType::Socket => filetype::SOCKET_STREAM,
        _ => filetype::UNKNOWN,
    }
}

/// The guest string `[ptr, ptr + len)` as UTF-8 (preview1 paths are `string`): FAULT outside
/// memory, ILSEQ when not UTF-8, INVAL with a NUL byte.
fn guest_path(mem: &[u8], ptr: u32, len: u32) -> Result<String, Errno> {
    let bytes = abi::slice(mem, ptr, len)?;
    let s = std::str::from_utf8(bytes).map_err(|_| Errno::ILSEQ)?;
    if s.contains('\0') {
        return Err(Errno::INVAL);
    }
    Ok(s.to_owned())
}

/// The directory of guest fd `fd`, after checking `needed` rights on it.
fn dir_of(ctx: &WasiCtx, fd: u32, needed: Rights) -> Result<&Dir, Errno> {
    let entry = ctx.fds.get(fd)?;
    entry.require(needed)?;
    entry.dir()
}

/// A regular file (or anything that is not a directory) of guest fd `fd`, after checking
/// `needed`; a directory is ISDIR.
fn file_of(ctx: &WasiCtx, fd: u32, needed: Rights) -> Result<&FdEntry, Errno> {
    let entry = ctx.fds.get(fd)?;
    entry.require(needed)?;
    if entry.kind() == FileKind::Directory {
        return Err(Errno::ISDIR);
    }
    Ok(entry)
}

fn follow(flags: u32) -> FollowSymlinks {
    if flags & lookupflags::SYMLINK_FOLLOW != 0 {
        FollowSymlinks::Yes
    } else {
        FollowSymlinks::No
    }
}

/// `path_open(fd, dirflags: lookupflags, path: string, oflags, fs_rights_base: rights,
/// fs_rights_inheriting: rights, fdflags, opened_fd: *mut fd) -> errno`.
///
/// The new fd's rights are the requested ones limited by the directory's inheriting rights and
/// by what the opened object can do (a directory gets no file rights); requesting more is not an
/// error (wasi-libc asks for everything the directory passes on). The access mode follows the
/// rights: read with `FD_READ` or `FD_READDIR`, write with `FD_WRITE`, `FD_ALLOCATE` or
/// `FD_FILESTAT_SET_SIZE` (or `APPEND`). `CREAT` needs `PATH_CREATE_FILE` and `TRUNC` needs
/// `PATH_FILESTAT_SET_SIZE` on the directory. The host descriptor is nonblocking (a FIFO never
/// blocks the host; the guest sees the blocking mode it asked for).
#[allow(clippy::too_many_arguments)]
pub fn path_open(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    dirflags: u32,
    path: u32,
    path_len: u32,
    oflags_: u16,
    base: u64,
    inheriting: u64,
    fdflags: u16,
    opened_fd: u32,
) -> Errno {
    errno((|| {
        let entry = ctx.fds.get(fd)?;
        let mut needed = Rights::PATH_OPEN;
        if oflags_ & oflags::CREAT != 0 {
            needed |= Rights::PATH_CREATE_FILE;
        }
        if oflags_ & oflags::TRUNC != 0 {
            needed |= Rights::PATH_FILESTAT_SET_SIZE;
        }
        entry.require(needed)?;
        let dir = entry.dir()?;
        if oflags_ & !oflags::ALL != 0 {
            return Err(Errno::INVAL);
        }
        let fdflags = FdFlags::from_bits(fdflags).ok_or(Errno::INVAL)?;
        let path = guest_path(mem, path, path_len)?;
        abi::field_mut::<4>(mem, opened_fd, 4)?;

        let parent_inheriting = entry.rights_inheriting();
        let base = Rights::from_bits_truncate(base) & parent_inheriting;
        let inheriting = Rights::from_bits_truncate(inheriting) & parent_inheriting;
        let read = base.intersects(Rights::FD_READ | Rights::FD_READDIR);
        let write = base
            .intersects(Rights::FD_WRITE | Rights::FD_ALLOCATE | Rights::FD_FILESTAT_SET_SIZE)
            || fdflags.contains(FdFlags::APPEND);
        let want_dir = oflags_ & oflags::DIRECTORY != 0;
        let follow = follow(dirflags);

        if want_dir && oflags_ & (oflags::CREAT | oflags::TRUNC) != 0 {
            return Err(Errno::INVAL);
        }
        if want_dir && write {
            return Err(Errno::ISDIR);
        }
        // Creating or truncating needs a descriptor open for writing (cap-std, like std,
        // refuses O_CREAT / O_TRUNC with O_RDONLY); the guest's rights still decide whether it
        // may write, as in wasmtime.
        let host_write = write || oflags_ & (oflags::CREAT | oflags::TRUNC) != 0;
        // APPEND is set with fcntl once the file is open (cap-std refuses O_APPEND with O_TRUNC).
        let mut opts = OpenOptions::new();
        opts.read(read || !host_write)
            .write(host_write)
            .create(oflags_ & oflags::CREAT != 0)
            .create_new(oflags_ & (oflags::CREAT | oflags::EXCL) == oflags::CREAT | oflags::EXCL)
            .truncate(oflags_ & oflags::TRUNC != 0);
        // Directories are opened O_RDONLY like files (never O_PATH), so that the kernel can
        // poll, stat and read them like any descriptor.
        opts.follow(follow)
            .maybe_dir(true)
            .nonblock(true)
            .sync(fdflags.contains(FdFlags::SYNC))
            .dsync(fdflags.contains(FdFlags::DSYNC))
            .rsync(fdflags.contains(FdFlags::RSYNC));
        let file = dir.open_with(&path, &opts).map_err(io_err)?;
        let st = rustix::fs::fstat(&file)?;
        let object = if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            FdObject::Dir(Dir::from_std_file(file.into_std()))
        } else if want_dir {
            return Err(Errno::NOTDIR);
        } else {
            if fdflags.contains(FdFlags::APPEND) {
                let fl = rustix::fs::fcntl_getfl(&file)?;
                rustix::fs::fcntl_setfl(&file, fl | rustix::fs::OFlags::APPEND)?;
            }
            FdObject::File(file)
        };
        let new_entry = FdEntry::opened(object, base, inheriting, fdflags);
        let new_fd = ctx.fds.insert(new_entry)?;
        abi::write_u32(mem, opened_fd, new_fd)
    })())
}

/// `path_create_directory(fd, path: string) -> errno`.
pub fn path_create_directory(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    path: u32,
    len: u32,
) -> Errno {
    errno((|| {
        let dir = dir_of(ctx, fd, Rights::PATH_CREATE_DIRECTORY)?;
        let path = guest_path(mem, path, len)?;
        dir.create_dir(path).map_err(io_err)
    })())
}

/// `path_remove_directory(fd, path: string) -> errno`.
pub fn path_remove_directory(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    path: u32,
    len: u32,
) -> Errno {
    errno((|| {
        let dir = dir_of(ctx, fd, Rights::PATH_REMOVE_DIRECTORY)?;
        let path = guest_path(mem, path, len)?;
        dir.remove_dir(path).map_err(io_err)
    })())
}

/// `path_unlink_file(fd, path: string) -> errno`. A symlink is removed itself (never followed).
pub fn path_unlink_file(ctx: &mut WasiCtx, mem: &mut [u8], fd: u32, path: u32, len: u32) -> Errno {
    errno((|| {
        let dir = dir_of(ctx, fd, Rights::PATH_UNLINK_FILE)?;
        let path = guest_path(mem, path, len)?;
        dir.remove_file_or_symlink(path).map_err(io_err)
    })())
}

/// `path_symlink(old_path: string, fd, new_path: string) -> errno`. The link's contents are
/// stored as given; following it later is resolved beneath the directory like any path.
pub fn path_symlink(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    old_path: u32,
    old_len: u32,
    fd: u32,
    new_path: u32,
    new_len: u32,
) -> Errno {
    errno((|| {
        let dir = dir_of(ctx, fd, Rights::PATH_SYMLINK)?;
        let old = guest_path(mem, old_path, old_len)?;
        let new = guest_path(mem, new_path, new_len)?;
        dir.symlink(old, new).map_err(io_err)
    })())
}

/// `path_readlink(fd, path: string, buf: *mut u8, buf_len: size, bufused: *mut size) -> errno`.
/// A target longer than the buffer is truncated (as readlink(2)).
#[allow(clippy::too_many_arguments)]
pub fn path_readlink(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    path: u32,
    len: u32,
    buf: u32,
    buf_len: u32,
    bufused: u32,
) -> Errno {
    errno((|| {
        let dir = dir_of(ctx, fd, Rights::PATH_READLINK)?;
        let path = guest_path(mem, path, len)?;
        let target = dir.read_link_contents(path).map_err(io_err)?;
        let bytes = target.as_os_str().as_bytes();
        let n = bytes.len().min(buf_len as usize);
        abi::field_mut::<4>(mem, bufused, 4)?;
        let dst = abi::slice_mut(mem, buf, n as u32)?;
        dst.copy_from_slice(&bytes[..n]);
        abi::write_u32(mem, bufused, n as u32)
    })())
}

/// `path_rename(fd, old_path: string, new_fd: fd, new_path: string) -> errno`.
#[allow(clippy::too_many_arguments)]
pub fn path_rename(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    old_path: u32,
    old_len: u32,
    new_fd: u32,
    new_path: u32,
    new_len: u32,
) -> Errno {
    errno((|| {
        let from = dir_of(ctx, fd, Rights::PATH_RENAME_SOURCE)?;
        let to = dir_of(ctx, new_fd, Rights::PATH_RENAME_TARGET)?;
        let old = guest_path(mem, old_path, old_len)?;
        let new = guest_path(mem, new_path, new_len)?;
        from.rename(old, to, new).map_err(io_err)
    })())
}

/// `path_link(old_fd, old_flags: lookupflags, old_path: string, new_fd, new_path: string)
/// -> errno`. A symlink source is linked itself (Linux `linkat` without `AT_SYMLINK_FOLLOW`);
/// asking to follow it (`SYMLINK_FOLLOW`) is INVAL, as in wasmtime.
#[allow(clippy::too_many_arguments)]
pub fn path_link(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    old_fd: u32,
    old_flags: u32,
    old_path: u32,
    old_len: u32,
    new_fd: u32,
    new_path: u32,
    new_len: u32,
) -> Errno {
    errno((|| {
        let from = dir_of(ctx, old_fd, Rights::PATH_LINK_SOURCE)?;
        let to = dir_of(ctx, new_fd, Rights::PATH_LINK_TARGET)?;
        let old = guest_path(mem, old_path, old_len)?;
        let new = guest_path(mem, new_path, new_len)?;
        if old_flags & lookupflags::SYMLINK_FOLLOW != 0 {
            return Err(Errno::INVAL);
        }
        from.hard_link(old, to, new).map_err(io_err)
    })())
}

fn filestat_of_metadata(m: &cap_std::fs::Metadata) -> Filestat {
    Filestat {
        dev: m.dev(),
        ino: m.ino(),
        filetype: filetype_of_mode(m.mode()),
        nlink: m.nlink(),
        size: m.size(),
        atim: stat_time_ns(m.atime(), m.atime_nsec()),
        mtim: stat_time_ns(m.mtime(), m.mtime_nsec()),
        ctim: stat_time_ns(m.ctime(), m.ctime_nsec()),
    }
}

/// `path_filestat_get(fd, flags: lookupflags, path: string, buf: *mut filestat) -> errno`.
pub fn path_filestat_get(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    flags: u32,
    path: u32,
    len: u32,
    buf: u32,
) -> Errno {
    errno((|| {
        let dir = dir_of(ctx, fd, Rights::PATH_FILESTAT_GET)?;
        let path = guest_path(mem, path, len)?;
        abi::field_mut::<{ Filestat::SIZE }>(mem, buf, Filestat::ALIGN)?;
        let m = match follow(flags) {
            FollowSymlinks::Yes => dir.metadata(path),
            FollowSymlinks::No => dir.symlink_metadata(path),
        }
        .map_err(io_err)?;
        let out = abi::field_mut::<{ Filestat::SIZE }>(mem, buf, Filestat::ALIGN)?;
        filestat_of_metadata(&m).encode(out);
        Ok(())
    })())
}

/// A preview1 `(timestamp, set, now)` pair as a cap-std time, `None` to leave it alone. Both
/// `set` and `now` is INVAL.
fn time_spec(ts: u64, set: bool, now: bool) -> Result<Option<cap_fs_ext::SystemTimeSpec>, Errno> {
    match (set, now) {
        (true, true) => Err(Errno::INVAL),
        (true, false) => {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ts);
            Ok(Some(cap_fs_ext::SystemTimeSpec::Absolute(
                cap_std::time::SystemTime::from_std(t),
            )))
        }
        (false, true) => Ok(Some(cap_fs_ext::SystemTimeSpec::SymbolicNow)),
        (false, false) => Ok(None),
    }
}

/// The kernel timespec for a preview1 `(timestamp, set, now)` pair (`UTIME_OMIT` to leave it).
fn kernel_time(ts: u64, set: bool, now: bool) -> Result<rustix::fs::Timespec, Errno> {
    Ok(match (set, now) {
        (true, true) => return Err(Errno::INVAL),
        (true, false) => rustix::fs::Timespec {
            tv_sec: (ts / 1_000_000_000) as i64,
            tv_nsec: (ts % 1_000_000_000) as _,
        },
        (false, true) => rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_NOW,
        },
        (false, false) => rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
    })
}

/// `path_filestat_set_times(fd, flags: lookupflags, path: string, atim, mtim, fst_flags)
/// -> errno`.
#[allow(clippy::too_many_arguments)]
pub fn path_filestat_set_times(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    flags: u32,
    path: u32,
    len: u32,
    atim: u64,
    mtim: u64,
    fst: u16,
) -> Errno {
    errno((|| {
        let dir = dir_of(ctx, fd, Rights::PATH_FILESTAT_SET_TIMES)?;
        if fst & !fstflags::ALL != 0 {
            return Err(Errno::INVAL);
        }
        let a = time_spec(
            atim,
            fst & fstflags::ATIM != 0,
            fst & fstflags::ATIM_NOW != 0,
        )?;
        let m = time_spec(
            mtim,
            fst & fstflags::MTIM != 0,
            fst & fstflags::MTIM_NOW != 0,
        )?;
        let path = guest_path(mem, path, len)?;
        match follow(flags) {
            FollowSymlinks::Yes => dir.set_times(path, a, m),
            FollowSymlinks::No => dir.set_symlink_times(path, a, m),
        }
        .map_err(io_err)
    })())
}

/// `fd_filestat_set_times(fd, atim, mtim, fst_flags) -> errno` (`futimens`).
pub fn fd_filestat_set_times(
    ctx: &mut WasiCtx,
    _mem: &mut [u8],
    fd: u32,
    atim: u64,
    mtim: u64,
    fst: u16,
) -> Errno {
    errno((|| {
        let entry = ctx.fds.get(fd)?;
        entry.require(Rights::FD_FILESTAT_SET_TIMES)?;
        if fst & !fstflags::ALL != 0 {
            return Err(Errno::INVAL);
        }
        let times = Timestamps {
            last_access: kernel_time(
                atim,
                fst & fstflags::ATIM != 0,
                fst & fstflags::ATIM_NOW != 0,
            )?,
            last_modification: kernel_time(
                mtim,
                fst & fstflags::MTIM != 0,
                fst & fstflags::MTIM_NOW != 0,
            )?,
        };
        rustix::fs::futimens(entry.as_fd(), &times)?;
        Ok(())
    })())
}

/// `fd_filestat_set_size(fd, size) -> errno` (`ftruncate`).
pub fn fd_filestat_set_size(ctx: &mut WasiCtx, _mem: &mut [u8], fd: u32, size: u64) -> Errno {
    errno((|| {
        let entry = file_of(ctx, fd, Rights::FD_FILESTAT_SET_SIZE)?;
        rustix::fs::ftruncate(entry.as_fd(), size)?;
        Ok(())
    })())
}

/// `fd_allocate(fd, offset, len) -> errno` (`posix_fallocate`).
pub fn fd_allocate(ctx: &mut WasiCtx, _mem: &mut [u8], fd: u32, offset: u64, len: u64) -> Errno {
    errno((|| {
        let entry = file_of(ctx, fd, Rights::FD_ALLOCATE)?;
        let len = std::num::NonZeroU64::new(len).ok_or(Errno::INVAL)?;
        if offset
            .checked_add(len.get())
            .is_none_or(|end| end > i64::MAX as u64)
        {
            return Err(Errno::FBIG);
        }
        rustix::fs::fallocate(
            entry.as_fd(),
            rustix::fs::FallocateFlags::empty(),
            offset,
            len.get(),
        )?;
        Ok(())
    })())
}

/// `fd_advise(fd, offset, len, advice) -> errno` (`posix_fadvise`).
pub fn fd_advise(
    ctx: &mut WasiCtx,
    _mem: &mut [u8],
    fd: u32,
    offset: u64,
    len: u64,
    adv: u8,
) -> Errno {
    errno((|| {
        let entry = file_of(ctx, fd, Rights::FD_ADVISE)?;
        use rustix::fs::Advice;
        let a = match adv {
            advice::NORMAL => Advice::Normal,
            advice::SEQUENTIAL => Advice::Sequential,
            advice::RANDOM => Advice::Random,
            advice::WILLNEED => Advice::WillNeed,
            advice::DONTNEED => Advice::DontNeed,
            advice::NOREUSE => Advice::NoReuse,
            _ => return Err(Errno::INVAL),
        };
        rustix::fs::fadvise(entry.as_fd(), offset, std::num::NonZeroU64::new(len), a)?;
        Ok(())
    })())
}

/// `fd_sync(fd) -> errno` (`fsync`).
pub fn fd_sync(ctx: &mut WasiCtx, _mem: &mut [u8], fd: u32) -> Errno {
    errno((|| {
        let entry = ctx.fds.get(fd)?;
        entry.require(Rights::FD_SYNC)?;
        rustix::fs::fsync(entry.as_fd())?;
        Ok(())
    })())
}

/// `fd_datasync(fd) -> errno` (`fdatasync`).
pub fn fd_datasync(ctx: &mut WasiCtx, _mem: &mut [u8], fd: u32) -> Errno {
    errno((|| {
        let entry = ctx.fds.get(fd)?;
        entry.require(Rights::FD_DATASYNC)?;
        rustix::fs::fdatasync(entry.as_fd())?;
        Ok(())
    })())
}

/// `fd_pread(fd, iovs: *const iovec, iovs_len, offset, nread: *mut size) -> errno`. Reads into
/// the first non-empty buffer; what the kernel cannot seek is SPIPE.
pub fn fd_pread(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    iovs: u32,
    iovs_len: u32,
    offset: u64,
    nread: u32,
) -> Errno {
    errno((|| {
        let entry = file_of(ctx, fd, Rights::FD_READ | Rights::FD_SEEK)?;
        if !entry.is_seekable() {
            return Err(Errno::SPIPE);
        }
        let iov = crate::host::first_nonempty_iovec(mem, iovs, iovs_len)?;
        abi::field_mut::<4>(mem, nread, 4)?;
        let n = match iov {
            None => 0,
            Some(iov) => {
                let dst = abi::slice_mut(mem, iov.buf, iov.buf_len)?;
                blocking_io(ctx, fd, false, |e| {
                    rustix::io::pread(e.as_fd(), &mut *dst, offset)
                })?
            }
        };
        abi::write_u32(mem, nread, n as u32)
    })())
}

/// `fd_pwrite(fd, iovs: *const ciovec, iovs_len, offset, nwritten: *mut size) -> errno`. On a
/// file opened with `APPEND` the data goes to the end, as Linux `pwrite` does.
pub fn fd_pwrite(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    iovs: u32,
    iovs_len: u32,
    offset: u64,
    nwritten: u32,
) -> Errno {
    errno((|| {
        let entry = file_of(ctx, fd, Rights::FD_WRITE | Rights::FD_SEEK)?;
        if !entry.is_seekable() {
            return Err(Errno::SPIPE);
        }
        abi::field_mut::<4>(mem, nwritten, 4)?;
        let bufs = crate::host::gather(mem, iovs, iovs_len)?;
        let n = match bufs.first() {
            None => 0,
            Some(buf) => blocking_io(ctx, fd, true, |e| {
                rustix::io::pwrite(e.as_fd(), buf, offset)
            })?,
        };
        abi::write_u32(mem, nwritten, n as u32)
    })())
}

/// `fd_readdir(fd, buf: *mut u8, buf_len: size, cookie: dircookie, bufused: *mut size)
/// -> errno`.
///
/// Entries are `.`, `..`, then the directory's entries in the kernel's order; the cookie of an
/// entry is its index + 1, so a guest resumes with the `d_next` of the last entry it read. The
/// buffer is filled with whole headers and names as far as they fit and the last one cut, as
/// preview1 specifies (`bufused == buf_len` tells the guest to read on).
pub fn fd_readdir(
    ctx: &mut WasiCtx,
    mem: &mut [u8],
    fd: u32,
    buf: u32,
    buf_len: u32,
    cookie: u64,
    bufused: u32,
) -> Errno {
    errno((|| {
        let dir = dir_of(ctx, fd, Rights::FD_READDIR)?;
        abi::range(mem.len(), buf, u64::from(buf_len))?;
        abi::field_mut::<4>(mem, bufused, 4)?;
        let self_ino = rustix::fs::fstat(dir)?.st_ino;
        let mut out: Vec<u8> = Vec::with_capacity(buf_len as usize);
        let push = |index: u64, ino: u64, ty: u8, name: &[u8], out: &mut Vec<u8>| -> bool {
            if index < cookie {
                return true;
            }
            let mut head = [0u8; Dirent::SIZE];
            Dirent {
                d_next: index + 1,
                d_ino: ino,
                d_namlen: name.len() as u32,
                d_type: ty,
            }
            .encode(&mut head);
            out.extend_from_slice(&head);
            out.extend_from_slice(name);
            out.len() < buf_len as usize
        };
        let mut more = push(0, self_ino, filetype::DIRECTORY, b".", &mut out)
            && push(1, self_ino, filetype::DIRECTORY, b"..", &mut out);
        if more {
            for (index, entry) in (2u64..).zip(dir.entries().map_err(io_err)?) {
                let entry = entry.map_err(io_err)?;
                let ty = match entry.file_type() {
                    Ok(t) if t.is_dir() => filetype::DIRECTORY,
                    Ok(t) if t.is_file() => filetype::REGULAR_FILE,
                    Ok(t) if t.is_symlink() => filetype::SYMBOLIC_LINK,
                    Ok(t) => {
                        use cap_fs_ext::FileTypeExt;
                        if t.is_block_device() {
                            filetype::BLOCK_DEVICE
                        } else if t.is_char_device() {
                            filetype::CHARACTER_DEVICE
                        } else if t.is_socket() {
                            filetype::SOCKET_STREAM
                        } else {
                            filetype::UNKNOWN
                        }
                    }
                    Err(_) => filetype::UNKNOWN,
                };
                let ino = {
                    use std::os::unix::fs::DirEntryExt;
                    entry.ino()
                };
                more = push(index, ino, ty, entry.file_name().as_bytes(), &mut out);
                if !more {
                    break;
                }
            }
        }
        let n = out.len().min(buf_len as usize);
        abi::slice_mut(mem, buf, n as u32)?.copy_from_slice(&out[..n]);
        abi::write_u32(mem, bufused, n as u32)
    })())
}
