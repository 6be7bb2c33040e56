//! The state of one guest: arguments, environment, and its table of file descriptors.
//!
//! A guest names host objects only through [`FdTable`]: a guest fd is an index into the table and
//! nothing else, so a guest can never reach a host fd it was not given. Each entry knows its host
//! object (inherited stdio, a preopened TCP listener, an accepted TCP stream, or any other owned
//! host fd), what kind of file it is, the preview1 rights the guest holds on it, and the guest's
//! view of its fd flags.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{FileType, OFlags};

use crate::abi::{filetype, Errno, FdFlags, Rights};

/// What kind of host file a guest fd refers to. Decides the preview1 filetype, the rights, and
/// how readiness is computed (regular files and /dev/null are always ready).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A regular file.
    RegularFile,
    /// A directory.
    Directory,
    /// A character device that is a terminal.
    Tty,
    /// A character device that is not a terminal (`/dev/null`, `/dev/zero`, ...).
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A pipe or FIFO.
    Pipe,
    /// A stream socket (TCP, Unix stream).
    SocketStream,
    /// A datagram socket.
    SocketDgram,
    /// A symbolic link (only seen through `O_PATH` descriptors).
    Symlink,
    /// Anything else, or a descriptor `fstat` refused.
    Unknown,
}

impl FileKind {
    /// Classifies a host descriptor with `fstat` (plus `isatty` for character devices and
    /// `SO_TYPE` for sockets).
    pub fn of(fd: BorrowedFd<'_>) -> FileKind {
        let Ok(st) = rustix::fs::fstat(fd) else {
            return FileKind::Unknown;
        };
        match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => FileKind::RegularFile,
            FileType::Directory => FileKind::Directory,
            FileType::CharacterDevice => {
                if rustix::termios::isatty(fd) {
                    FileKind::Tty
                } else {
                    FileKind::CharDevice
                }
            }
            FileType::BlockDevice => FileKind::BlockDevice,
            FileType::Fifo => FileKind::Pipe,
            FileType::Socket => match rustix::net::sockopt::socket_type(fd) {
                Ok(rustix::net::SocketType::DGRAM) => FileKind::SocketDgram,
                _ => FileKind::SocketStream,
            },
            FileType::Symlink => FileKind::Symlink,
            _ => FileKind::Unknown,
        }
    }

    /// The preview1 [`filetype`] reported to the guest. Pipes have no preview1 name and are
    /// `UNKNOWN`; a tty and `/dev/null` are both `CHARACTER_DEVICE` (wasi-libc's `isatty` tells
    /// them apart by the seek rights: only the tty lacks `FD_SEEK`/`FD_TELL`).
    pub fn filetype(self) -> u8 {
        match self {
            FileKind::RegularFile => filetype::REGULAR_FILE,
            FileKind::Directory => filetype::DIRECTORY,
            FileKind::Tty | FileKind::CharDevice => filetype::CHARACTER_DEVICE,
            FileKind::BlockDevice => filetype::BLOCK_DEVICE,
            FileKind::SocketStream => filetype::SOCKET_STREAM,
            FileKind::SocketDgram => filetype::SOCKET_DGRAM,
            FileKind::Symlink => filetype::SYMBOLIC_LINK,
            FileKind::Pipe | FileKind::Unknown => filetype::UNKNOWN,
        }
    }

    /// True for sockets.
    pub fn is_socket(self) -> bool {
        matches!(self, FileKind::SocketStream | FileKind::SocketDgram)
    }
}

/// The host object behind a guest fd.
#[derive(Debug)]
pub enum FdObject {
    /// The host's standard input, inherited (never closed by the host).
    Stdin(io::Stdin),
    /// The host's standard output, inherited (never closed by the host).
    Stdout(io::Stdout),
    /// The host's standard error, inherited (never closed by the host).
    Stderr(io::Stderr),
    /// A preopened TCP listener (host side always nonblocking).
    TcpListener(TcpListener),
    /// A TCP stream accepted from a listener (host side always nonblocking).
    TcpStream(TcpStream),
    /// Any other host descriptor the embedder handed to the guest (pipes, files, sockets).
    Other(OwnedFd),
    /// A file the guest opened with `path_open` (or the embedder gave it).
    File(cap_std::fs::File),
    /// A directory: a preopen (`--dir`) or one the guest opened with `path_open`. Paths are
    /// resolved beneath it by cap-std, so no `..`, absolute path or symlink leads outside it.
    Dir(cap_std::fs::Dir),
}

impl AsFd for FdObject {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            FdObject::Stdin(s) => s.as_fd(),
            FdObject::Stdout(s) => s.as_fd(),
            FdObject::Stderr(s) => s.as_fd(),
            FdObject::TcpListener(l) => l.as_fd(),
            FdObject::TcpStream(s) => s.as_fd(),
            FdObject::Other(fd) => fd.as_fd(),
            FdObject::File(f) => f.as_fd(),
            FdObject::Dir(d) => d.as_fd(),
        }
    }
}

/// One entry of a guest's fd table.
#[derive(Debug)]
pub struct FdEntry {
    object: FdObject,
    kind: FileKind,
    rights_base: Rights,
    rights_inheriting: Rights,
    flags: FdFlags,
    /// True when the host descriptor is in `O_NONBLOCK` mode and blocking guest operations must
    /// be emulated by waiting for readiness (sockets the host created). Inherited stdio is left
    /// in whatever mode the host's parent gave it; its guest `NONBLOCK` flag is emulated instead.
    host_nonblocking: bool,
    /// True when the kernel can seek this descriptor (`lseek(fd, 0, SEEK_CUR)` succeeded).
    seekable: bool,
    /// The guest path of a preopened directory (`fd_prestat_dir_name`).
    preopen: Option<Vec<u8>>,
}

/// Rights every kind of entry gets.
const COMMON_RIGHTS: Rights = Rights::FD_FDSTAT_SET_FLAGS
    .union(Rights::FD_FILESTAT_GET)
    .union(Rights::POLL_FD_READWRITE);

/// Rights of a connected stream socket.
pub const STREAM_RIGHTS: Rights = COMMON_RIGHTS
    .union(Rights::FD_READ)
    .union(Rights::FD_WRITE)
    .union(Rights::SOCK_SHUTDOWN);

/// Rights of a listening socket. The descriptor is open for reading and writing like every
/// socket: a write subscription is allowed and, as in the kernel, never fires (a listener never
/// becomes writable); `FD_READ` lets the guest poll it for incoming connections.
pub const LISTENER_RIGHTS: Rights = STREAM_RIGHTS.union(Rights::SOCK_ACCEPT);

/// Every right an open regular file can use (`FD_READ` / `FD_WRITE` only with the access mode).
pub const FILE_RIGHTS: Rights = Rights::FD_DATASYNC
    .union(Rights::FD_READ)
    .union(Rights::FD_SEEK)
    .union(Rights::FD_FDSTAT_SET_FLAGS)
    .union(Rights::FD_SYNC)
    .union(Rights::FD_TELL)
    .union(Rights::FD_WRITE)
    .union(Rights::FD_ADVISE)
    .union(Rights::FD_ALLOCATE)
    .union(Rights::FD_FILESTAT_GET)
    .union(Rights::FD_FILESTAT_SET_SIZE)
    .union(Rights::FD_FILESTAT_SET_TIMES)
    .union(Rights::POLL_FD_READWRITE);

/// Every right a directory can use.
pub const DIR_RIGHTS: Rights = Rights::FD_FDSTAT_SET_FLAGS
    .union(Rights::FD_SYNC)
    .union(Rights::FD_DATASYNC)
    .union(Rights::PATH_CREATE_DIRECTORY)
    .union(Rights::PATH_CREATE_FILE)
    .union(Rights::PATH_LINK_SOURCE)
    .union(Rights::PATH_LINK_TARGET)
    .union(Rights::PATH_OPEN)
    .union(Rights::FD_READDIR)
    .union(Rights::PATH_READLINK)
    .union(Rights::PATH_RENAME_SOURCE)
    .union(Rights::PATH_RENAME_TARGET)
    .union(Rights::PATH_FILESTAT_GET)
    .union(Rights::PATH_FILESTAT_SET_SIZE)
    .union(Rights::PATH_FILESTAT_SET_TIMES)
    .union(Rights::FD_FILESTAT_GET)
    .union(Rights::FD_FILESTAT_SET_TIMES)
    .union(Rights::PATH_SYMLINK)
    .union(Rights::PATH_REMOVE_DIRECTORY)
    .union(Rights::PATH_UNLINK_FILE);

/// The inheriting rights of a preopened directory: what files and directories opened beneath it
/// may hold.
pub const DIR_INHERITING: Rights = DIR_RIGHTS.union(FILE_RIGHTS);

impl FdEntry {
    /// An entry for `object` with rights derived from what the kernel object can do: its kind,
    /// its access mode, and whether it can seek.
    pub fn new(object: FdObject) -> FdEntry {
        let fd = object.as_fd();
        let kind = FileKind::of(fd);
        let host_flags = rustix::fs::fcntl_getfl(fd).unwrap_or(OFlags::RDWR);
        let seekable = kernel_can_seek(fd);
        let (readable, writable) = match &object {
            FdObject::Stdin(_) => (true, false),
            FdObject::Stdout(_) | FdObject::Stderr(_) => (false, true),
            FdObject::TcpListener(_) | FdObject::TcpStream(_) => (true, true),
            _ => match host_flags & OFlags::RWMODE {
                OFlags::RDONLY => (true, false),
                OFlags::WRONLY => (false, true),
                _ => (true, true),
            },
        };
        let (rights_base, rights_inheriting) = match &object {
            FdObject::TcpListener(_) => (LISTENER_RIGHTS, STREAM_RIGHTS),
            FdObject::Dir(_) => (DIR_RIGHTS, DIR_INHERITING),
            _ => (
                rights_for(kind, readable, writable, seekable),
                Rights::empty(),
            ),
        };
        let mut flags = FdFlags::empty();
        if host_flags.contains(OFlags::APPEND) {
            flags |= FdFlags::APPEND;
        }
        // Host sockets are nonblocking so that a blocking guest operation is a wait the host
        // controls (and can interrupt); the guest sees the POSIX default, blocking, until it
        // sets NONBLOCK itself.
        let host_nonblocking = match &object {
            FdObject::TcpListener(_) | FdObject::TcpStream(_) => true,
            // An fd the embedder gave away is switched to nonblocking mode (this affects every
            // descriptor sharing its open file description).
            FdObject::Other(fd) => rustix::fs::fcntl_setfl(fd, host_flags | OFlags::NONBLOCK)
                .map(|()| true)
                .unwrap_or(host_flags.contains(OFlags::NONBLOCK)),
            _ => host_flags.contains(OFlags::NONBLOCK),
        };
        FdEntry {
            object,
            kind,
            rights_base,
            rights_inheriting,
            flags,
            host_nonblocking,
            seekable,
            preopen: None,
        }
    }

    /// A preopened directory the guest knows as `guest_path`.
    pub fn preopened_dir(dir: cap_std::fs::Dir, guest_path: impl AsRef<[u8]>) -> FdEntry {
        let mut e = FdEntry::new(FdObject::Dir(dir));
        e.preopen = Some(guest_path.as_ref().to_vec());
        e
    }

    /// An entry for an object the guest opened (`path_open`): its rights are `base` and
    /// `inheriting` (the caller has already limited them by the parent directory's inheriting
    /// rights), further limited to what this kind of object can do.
    pub(crate) fn opened(
        object: FdObject,
        base: Rights,
        inheriting: Rights,
        flags: FdFlags,
    ) -> FdEntry {
        let mut e = FdEntry::new(object);
        let can = match e.kind {
            FileKind::Directory => DIR_RIGHTS,
            _ => e.rights_base,
        };
        e.rights_base = base & can;
        e.rights_inheriting = inheriting;
        e.flags = flags;
        e
    }

    /// An entry for a connection accepted from a listener: `rights` are the listener's
    /// inheriting rights; the host socket is nonblocking.
    pub fn accepted(object: FdObject, rights: Rights) -> FdEntry {
        let kind = FileKind::of(object.as_fd());
        FdEntry {
            object,
            kind,
            rights_base: rights,
            rights_inheriting: Rights::empty(),
            flags: FdFlags::empty(),
            host_nonblocking: true,
            seekable: false,
            preopen: None,
        }
    }

    /// The host descriptor, borrowed. Valid as long as the entry is in the table.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.object.as_fd()
    }

    /// The host object.
    pub fn object(&self) -> &FdObject {
        &self.object
    }

    /// The directory behind this entry, or [`Errno::NOTDIR`].
    pub fn dir(&self) -> Result<&cap_std::fs::Dir, Errno> {
        match &self.object {
            FdObject::Dir(d) => Ok(d),
            _ => Err(Errno::NOTDIR),
        }
    }

    /// What kind of file this is.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// The rights the guest holds on this fd.
    pub fn rights_base(&self) -> Rights {
        self.rights_base
    }

    /// The rights of fds derived from this one (accepted connections, opened files).
    pub fn rights_inheriting(&self) -> Rights {
        self.rights_inheriting
    }

    /// Lowers the rights (the caller checked that nothing is added).
    pub(crate) fn set_rights(&mut self, base: Rights, inheriting: Rights) {
        self.rights_base = base;
        self.rights_inheriting = inheriting;
    }

    /// The guest's fd flags.
    pub fn flags(&self) -> FdFlags {
        self.flags
    }

    /// Replaces the guest's fd flags (the caller validated them).
    pub fn set_flags(&mut self, flags: FdFlags) {
        self.flags = flags;
    }

    /// True when the guest asked for nonblocking operations on this fd.
    pub fn is_nonblocking(&self) -> bool {
        self.flags.contains(FdFlags::NONBLOCK)
    }

    /// True when the host descriptor itself is in nonblocking mode.
    pub fn host_nonblocking(&self) -> bool {
        self.host_nonblocking
    }

    /// True when the kernel can seek this descriptor.
    pub fn is_seekable(&self) -> bool {
        self.seekable
    }

    /// The guest path of a preopened directory.
    pub fn preopen_path(&self) -> Option<&[u8]> {
        self.preopen.as_deref()
    }

    /// `Ok` when the guest holds every right in `needed`, else [`Errno::NOTCAPABLE`].
    pub fn require(&self, needed: Rights) -> Result<(), Errno> {
        if self.rights_base.contains(needed) {
            Ok(())
        } else {
            Err(Errno::NOTCAPABLE)
        }
    }

    /// True for the inherited stdio entries.
    pub fn is_stdio(&self) -> bool {
        matches!(
            self.object,
            FdObject::Stdin(_) | FdObject::Stdout(_) | FdObject::Stderr(_)
        )
    }
}

/// True when `lseek(fd, 0, SEEK_CUR)` works: the kernel's own answer to "can this seek".
fn kernel_can_seek(fd: BorrowedFd<'_>) -> bool {
    rustix::fs::seek(fd, rustix::fs::SeekFrom::Current(0)).is_ok()
}

/// The rights of an entry of `kind` opened for reading and/or writing.
pub fn rights_for(kind: FileKind, readable: bool, writable: bool, seekable: bool) -> Rights {
    let mut r = match kind {
        FileKind::RegularFile => FILE_RIGHTS - Rights::FD_READ - Rights::FD_WRITE,
        FileKind::Directory => return DIR_RIGHTS,
        _ => COMMON_RIGHTS,
    };
    if readable {
        r |= Rights::FD_READ;
    }
    if writable {
        r |= Rights::FD_WRITE;
    }
    if seekable {
        r |= Rights::FD_SEEK | Rights::FD_TELL;
    }
    if !writable {
        // ftruncate and fallocate need a descriptor open for writing.
        r -= Rights::FD_FILESTAT_SET_SIZE | Rights::FD_ALLOCATE;
    }
    if kind.is_socket() {
        r |= Rights::SOCK_SHUTDOWN;
    }
    r
}

/// A guest's file descriptor table: guest fd `n` is slot `n`.
#[derive(Debug, Default)]
pub struct FdTable {
    slots: Vec<Option<FdEntry>>,
}

impl FdTable {
    /// An empty table.
    pub fn new() -> FdTable {
        FdTable::default()
    }

    /// The entry for guest fd `fd`, or [`Errno::BADF`].
    pub fn get(&self, fd: u32) -> Result<&FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
            .ok_or(Errno::BADF)
    }

    /// The entry for guest fd `fd` for modification, or [`Errno::BADF`].
    pub(crate) fn get_mut(&mut self, fd: u32) -> Result<&mut FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::as_mut)
            .ok_or(Errno::BADF)
    }

    /// Inserts `entry` at the lowest free guest fd and returns that fd. [`Errno::MFILE`] if the
    /// table would outgrow the guest fd space.
    pub(crate) fn insert(&mut self, entry: FdEntry) -> Result<u32, Errno> {
        if let Some(i) = self.slots.iter().position(Option::is_none) {
            self.slots[i] = Some(entry);
            return u32::try_from(i).map_err(|_| Errno::MFILE);
        }
        let fd = u32::try_from(self.slots.len()).map_err(|_| Errno::MFILE)?;
        if fd == u32::MAX {
            return Err(Errno::MFILE);
        }
        self.slots.push(Some(entry));
        Ok(fd)
    }

    /// Puts `entry` at guest fd `fd`, which must be free (`fd_renumber`).
    pub(crate) fn insert_at(&mut self, fd: u32, entry: FdEntry) -> Result<(), Errno> {
        let i = usize::try_from(fd).map_err(|_| Errno::BADF)?;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        if self.slots[i].is_some() {
            return Err(Errno::BADF);
        }
        self.slots[i] = Some(entry);
        Ok(())
    }

    /// Removes guest fd `fd` and returns its entry (dropping it closes an owned host fd), or
    /// [`Errno::BADF`]. Only [`WasiCtx::close`] and the host functions call it, after the poll
    /// set has forgotten the fd.
    pub(crate) fn remove(&mut self, fd: u32) -> Result<FdEntry, Errno> {
        let slot = usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .ok_or(Errno::BADF)?;
        let entry = slot.take().ok_or(Errno::BADF)?;
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        Ok(entry)
    }

    /// Iterates over `(guest fd, entry)` for every open fd, in fd order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &FdEntry)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((u32::try_from(i).ok()?, e.as_ref()?)))
    }

    /// The number of open fds.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|e| e.is_some()).count()
    }

    /// True when no fd is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Everything the host functions know about one guest.
#[derive(Debug)]
pub struct WasiCtx {
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) env: Vec<Vec<u8>>,
    /// The guest's fd table: private, so that every close goes through [`WasiCtx::close`],
    /// which first removes the fd's entry from the poll set.
    pub(crate) fds: FdTable,
    /// The poll seed: rotates the order of `poll_oneoff` events; advances by one every call.
    pub(crate) poll_seed: u64,
    /// The kernel interest `poll_oneoff` keeps between calls.
    pub(crate) poll: crate::poll::PollState,
    /// The termination latch (SIGINT / SIGTERM), if the embedder installed one.
    pub(crate) interrupt: Option<crate::Interrupt>,
    /// The guest's exported memory, once instantiated (the wasmtime adapter's cache; a handle
    /// into the one store this context lives in).
    #[cfg(feature = "wasmtime")]
    pub(crate) memory: Option<wasmtime::Memory>,
}

impl WasiCtx {
    /// Starts building a context.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::default()
    }

    /// The program arguments (argv), as given.
    pub fn args(&self) -> &[Vec<u8>] {
        &self.args
    }

    /// The environment, as `KEY=VALUE` byte strings.
    pub fn env(&self) -> &[Vec<u8>] {
        &self.env
    }

    /// The guest's fd table (read-only: fds are opened by the guest's calls and the builder,
    /// and closed only by [`WasiCtx::close`]).
    pub fn fds(&self) -> &FdTable {
        &self.fds
    }

    /// Closes guest fd `fd`: its poll interest is dropped first (while the host fd is still
    /// open), then the entry, which closes an owned host descriptor. [`Errno::BADF`] if `fd` is
    /// not open.
    pub fn close(&mut self, fd: u32) -> Result<(), Errno> {
        self.fds.get(fd)?;
        self.poll.forget(fd);
        self.fds.remove(fd).map(drop)
    }

    /// The poll seed the next `poll_oneoff` call will use.
    pub fn poll_seed(&self) -> u64 {
        self.poll_seed
    }

    /// The kernel interest `poll_oneoff` keeps between calls.
    pub fn poll_state(&self) -> &crate::poll::PollState {
        &self.poll
    }

    /// The termination latch, if any.
    pub fn interrupt(&self) -> Option<&crate::Interrupt> {
        self.interrupt.as_ref()
    }

    /// The signal that asked this run to end, if one did.
    pub fn interrupted(&self) -> Option<i32> {
        self.interrupt.as_ref().and_then(crate::Interrupt::pending)
    }

    /// Returns the current poll seed and advances it (one step per `poll_oneoff` call).
    pub fn next_poll_seed(&mut self) -> u64 {
        let seed = self.poll_seed;
        self.poll_seed = self.poll_seed.wrapping_add(1);
        seed
    }
}

/// Errors from [`WasiCtxBuilder::build`].
#[derive(Debug, thiserror::Error)]
pub enum CtxError {
    /// An argument or environment entry contains a NUL byte (C strings cannot hold it).
    #[error("{what} contains a NUL byte")]
    Nul {
        /// Which value.
        what: &'static str,
    },
    /// An environment entry is not `KEY=VALUE` with a non-empty key.
    #[error("environment entry {0:?} is not KEY=VALUE")]
    BadEnv(String),
    /// A host operation failed (setting a listener nonblocking, ...).
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Builds a [`WasiCtx`].
#[derive(Debug, Default)]
pub struct WasiCtxBuilder {
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    inherit_stdio: bool,
    stdio: [Option<OwnedFd>; 3],
    preopens: Vec<FdObject>,
    dirs: Vec<(cap_std::fs::Dir, Vec<u8>)>,
    poll_seed: Option<u64>,
    interrupt: Option<crate::Interrupt>,
}

impl WasiCtxBuilder {
    /// Appends one argument (the first is the program name, `argv[0]`).
    pub fn arg(mut self, arg: impl AsRef<[u8]>) -> Self {
        self.args.push(arg.as_ref().to_vec());
        self
    }

    /// Appends arguments.
    pub fn args<I: IntoIterator<Item = A>, A: AsRef<[u8]>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_vec()));
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        let mut kv = key.as_ref().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(value.as_ref());
        self.env.push(kv);
        self
    }

    /// Gives the guest the host's stdin, stdout and stderr as fds 0, 1 and 2.
    pub fn inherit_stdio(mut self) -> Self {
        self.inherit_stdio = true;
        self
    }

    /// Uses `fd` as the guest's fd `n` (0, 1 or 2) instead of the host's stdio, with rights
    /// from its kind and access mode (a pipe's write end can only be written). Other values of
    /// `n` are ignored.
    pub fn stdio_fd(mut self, n: usize, fd: OwnedFd) -> Self {
        if let Some(slot) = self.stdio.get_mut(n) {
            *slot = Some(fd);
        }
        self
    }

    /// Preopens the host directory `dir` as the guest path `guest_path` (`--dir
    /// HOST::GUEST`). Directories take the fds right after stdio (3, 4, ...), before listeners
    /// and other preopens, because wasi-libc's preopen scan stops at the first fd that is not a
    /// directory.
    pub fn preopen_dir(mut self, dir: cap_std::fs::Dir, guest_path: impl AsRef<[u8]>) -> Self {
        self.dirs.push((dir, guest_path.as_ref().to_vec()));
        self
    }

    /// Opens the host directory at `host` (with the process's ambient authority: this is the
    /// embedder's choice, not the guest's) and preopens it as `guest_path`; see
    /// [`preopen_dir`](Self::preopen_dir).
    pub fn preopen_host_dir(
        self,
        host: impl AsRef<std::path::Path>,
        guest_path: impl AsRef<[u8]>,
    ) -> io::Result<Self> {
        // O_RDONLY, not cap-std's O_PATH: the guest may read, stat and poll it.
        let file = std::fs::File::open(host)?;
        if !file.metadata()?.is_dir() {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        Ok(self.preopen_dir(cap_std::fs::Dir::from_std_file(file), guest_path))
    }

    /// Preopens a TCP listener at the next fd (3, 4, ... after stdio). The host socket is put in
    /// nonblocking mode; the guest sees it as blocking until it sets `O_NONBLOCK` itself.
    pub fn preopen_listener(mut self, listener: TcpListener) -> Self {
        self.preopens.push(FdObject::TcpListener(listener));
        self
    }

    /// Gives the guest any other host descriptor at the next fd (pipes, files, sockets; used by
    /// tests and embedders). Rights follow its kind and access mode. The descriptor is put in
    /// nonblocking mode; the guest sees it as blocking until it sets `NONBLOCK` itself.
    pub fn preopen_fd(mut self, fd: OwnedFd) -> Self {
        self.preopens.push(FdObject::Other(fd));
        self
    }

    /// Fixes the initial poll seed (default: random).
    pub fn poll_seed(mut self, seed: u64) -> Self {
        self.poll_seed = Some(seed);
        self
    }

    /// Watch `interrupt`: when it is raised, a guest blocked in `poll_oneoff` or a blocking read
    /// wakes, and the run ends at its next host call.
    pub fn interrupt(mut self, interrupt: crate::Interrupt) -> Self {
        self.interrupt = Some(interrupt);
        self
    }

    /// Builds the context. Fds 0-2 not given by [`inherit_stdio`](Self::inherit_stdio) or
    /// [`stdio_fd`](Self::stdio_fd) are closed (absent); preopens always start at 3: first the
    /// directories, then listeners and other fds, each in the order given.
    pub fn build(self) -> Result<WasiCtx, CtxError> {
        for a in &self.args {
            if a.contains(&0) {
                return Err(CtxError::Nul { what: "argument" });
            }
        }
        for kv in &self.env {
            if kv.contains(&0) {
                return Err(CtxError::Nul {
                    what: "environment entry",
                });
            }
            match kv.iter().position(|&b| b == b'=') {
                Some(0) | None => {
                    return Err(CtxError::BadEnv(String::from_utf8_lossy(kv).into_owned()))
                }
                Some(_) => {}
            }
        }
        let mut slots: Vec<Option<FdEntry>> = Vec::new();
        for (n, custom) in self.stdio.into_iter().enumerate() {
            let entry = match (custom, self.inherit_stdio, n) {
                (Some(fd), _, _) => Some(FdEntry::new(FdObject::Other(fd))),
                (None, true, 0) => Some(FdEntry::new(FdObject::Stdin(io::stdin()))),
                (None, true, 1) => Some(FdEntry::new(FdObject::Stdout(io::stdout()))),
                (None, true, _) => Some(FdEntry::new(FdObject::Stderr(io::stderr()))),
                (None, false, _) => None,
            };
            slots.push(entry);
        }
        for (dir, guest) in self.dirs {
            slots.push(Some(FdEntry::preopened_dir(dir, guest)));
        }
        for obj in self.preopens {
            if let FdObject::TcpListener(l) = &obj {
                l.set_nonblocking(true)?;
            }
            slots.push(Some(FdEntry::new(obj)));
        }
        let poll_seed = match self.poll_seed {
            Some(s) => s,
            None => random_seed(),
        };
        Ok(WasiCtx {
            args: self.args,
            env: self.env,
            fds: FdTable { slots },
            poll_seed,
            poll: crate::poll::PollState::default(),
            interrupt: self.interrupt,
            #[cfg(feature = "wasmtime")]
            memory: None,
        })
    }
}

fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    match rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty()) {
        Ok(_) => u64::from_le_bytes(b),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    }
}
