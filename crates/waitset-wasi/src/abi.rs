//! The WASI preview1 ABI: constants, byte layouts and guest-memory helpers.
//!
//! Every value and offset here comes from the preview1 witx (`wasi_snapshot_preview1`), as
//! published in wasi-libc's `wasi/api.h`. Structures are read and written as little-endian bytes at
//! explicit offsets — never by casting guest memory to a Rust struct — so a layout mistake cannot
//! hide behind `repr(C)` and a hostile guest cannot make the host read outside a checked range.
//!
//! The helpers at the bottom ([`range`], [`check_align`], [`read_u32`], ...) are the only way the
//! host functions touch guest memory. They use overflow-safe arithmetic: a range that does not fit
//! in guest memory (or in `usize`) is [`Errno::FAULT`], a misaligned pointer is [`Errno::INVAL`].

use std::fmt;
use std::ops::Range;

/// A WASI preview1 error number (`errno`, a `u16`). [`Errno::SUCCESS`] is 0.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Errno(pub u16);

macro_rules! errnos {
    ($( $(#[$doc:meta])* $name:ident = $value:expr, $lower:literal; )*) => {
        impl Errno {
            $( $(#[$doc])* pub const $name: Errno = Errno($value); )*

            /// The witx name of this error number (`"badf"`, `"inval"`, ...), or `None` for a value
            /// preview1 does not define.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some($lower), )*
                    _ => None,
                }
            }

            /// Every error number preview1 defines, in numeric order.
            pub const ALL: &'static [Errno] = &[$(Errno::$name),*];
        }
    };
}

errnos! {
    /// No error occurred.
    SUCCESS = 0, "success";
    /// Argument list too long.
    TOOBIG = 1, "2big";
    /// Permission denied.
    ACCES = 2, "acces";
    /// Address in use.
    ADDRINUSE = 3, "addrinuse";
    /// Address not available.
    ADDRNOTAVAIL = 4, "addrnotavail";
    /// Address family not supported.
    AFNOSUPPORT = 5, "afnosupport";
    /// Resource unavailable, or operation would block.
    AGAIN = 6, "again";
    /// Connection already in progress.
    ALREADY = 7, "already";
    /// Bad file descriptor.
    BADF = 8, "badf";
    /// Bad message.
    BADMSG = 9, "badmsg";
    /// Device or resource busy.
    BUSY = 10, "busy";
    /// Operation canceled.
    CANCELED = 11, "canceled";
    /// No child processes.
    CHILD = 12, "child";
    /// Connection aborted.
    CONNABORTED = 13, "connaborted";
    /// Connection refused.
    CONNREFUSED = 14, "connrefused";
    /// Connection reset.
    CONNRESET = 15, "connreset";
    /// Resource deadlock would occur.
    DEADLK = 16, "deadlk";
    /// Destination address required.
    DESTADDRREQ = 17, "destaddrreq";
    /// Mathematics argument out of domain of function.
    DOM = 18, "dom";
    /// Reserved.
    DQUOT = 19, "dquot";
    /// File exists.
    EXIST = 20, "exist";
    /// Bad address.
    FAULT = 21, "fault";
    /// File too large.
    FBIG = 22, "fbig";
    /// Host is unreachable.
    HOSTUNREACH = 23, "hostunreach";
    /// Identifier removed.
    IDRM = 24, "idrm";
    /// Illegal byte sequence.
    ILSEQ = 25, "ilseq";
    /// Operation in progress.
    INPROGRESS = 26, "inprogress";
    /// Interrupted function.
    INTR = 27, "intr";
    /// Invalid argument.
    INVAL = 28, "inval";
    /// I/O error.
    IO = 29, "io";
    /// Socket is connected.
    ISCONN = 30, "isconn";
    /// Is a directory.
    ISDIR = 31, "isdir";
    /// Too many levels of symbolic links.
    LOOP = 32, "loop";
    /// File descriptor value too large.
    MFILE = 33, "mfile";
    /// Too many links.
    MLINK = 34, "mlink";
    /// Message too large.
    MSGSIZE = 35, "msgsize";
    /// Reserved.
    MULTIHOP = 36, "multihop";
    /// Filename too long.
    NAMETOOLONG = 37, "nametoolong";
    /// Network is down.
    NETDOWN = 38, "netdown";
    /// Connection aborted by network.
    NETRESET = 39, "netreset";
    /// Network unreachable.
    NETUNREACH = 40, "netunreach";
    /// Too many files open in system.
    NFILE = 41, "nfile";
    /// No buffer space available.
    NOBUFS = 42, "nobufs";
    /// No such device.
    NODEV = 43, "nodev";
    /// No such file or directory.
    NOENT = 44, "noent";
    /// Executable file format error.
    NOEXEC = 45, "noexec";
    /// No locks available.
    NOLCK = 46, "nolck";
    /// Reserved.
    NOLINK = 47, "nolink";
    /// Not enough space.
    NOMEM = 48, "nomem";
    /// No message of the desired type.
    NOMSG = 49, "nomsg";
    /// Protocol not available.
    NOPROTOOPT = 50, "noprotoopt";
    /// No space left on device.
    NOSPC = 51, "nospc";
    /// Function not supported.
    NOSYS = 52, "nosys";
    /// The socket is not connected.
    NOTCONN = 53, "notconn";
    /// Not a directory or a symbolic link to a directory.
    NOTDIR = 54, "notdir";
    /// Directory not empty.
    NOTEMPTY = 55, "notempty";
    /// State not recoverable.
    NOTRECOVERABLE = 56, "notrecoverable";
    /// Not a socket.
    NOTSOCK = 57, "notsock";
    /// Not supported, or operation not supported on socket.
    NOTSUP = 58, "notsup";
    /// Inappropriate I/O control operation.
    NOTTY = 59, "notty";
    /// No such device or address.
    NXIO = 60, "nxio";
    /// Value too large to be stored in data type.
    OVERFLOW = 61, "overflow";
    /// Previous owner died.
    OWNERDEAD = 62, "ownerdead";
    /// Operation not permitted.
    PERM = 63, "perm";
    /// Broken pipe.
    PIPE = 64, "pipe";
    /// Protocol error.
    PROTO = 65, "proto";
    /// Protocol not supported.
    PROTONOSUPPORT = 66, "protonosupport";
    /// Protocol wrong type for socket.
    PROTOTYPE = 67, "prototype";
    /// Result too large.
    RANGE = 68, "range";
    /// Read-only file system.
    ROFS = 69, "rofs";
    /// Invalid seek.
    SPIPE = 70, "spipe";
    /// No such process.
    SRCH = 71, "srch";
    /// Reserved.
    STALE = 72, "stale";
    /// Connection timed out.
    TIMEDOUT = 73, "timedout";
    /// Text file busy.
    TXTBSY = 74, "txtbsy";
    /// Cross-device link.
    XDEV = 75, "xdev";
    /// Extension: Capabilities insufficient.
    NOTCAPABLE = 76, "notcapable";
}

impl Errno {
    /// The raw `u16` value, as returned to the guest.
    pub const fn raw(self) -> u16 {
        self.0
    }

    /// True for [`Errno::SUCCESS`].
    pub const fn is_success(self) -> bool {
        self.0 == 0
    }

    /// Maps a host (Linux) error number to the preview1 one. Unknown values map to [`Errno::IO`].
    pub fn from_host(err: rustix::io::Errno) -> Errno {
        use rustix::io::Errno as H;
        match err {
            H::TOOBIG => Errno::TOOBIG,
            H::ACCESS => Errno::ACCES,
            H::ADDRINUSE => Errno::ADDRINUSE,
            H::ADDRNOTAVAIL => Errno::ADDRNOTAVAIL,
            H::AFNOSUPPORT => Errno::AFNOSUPPORT,
            H::AGAIN => Errno::AGAIN,
            H::ALREADY => Errno::ALREADY,
            H::BADF => Errno::BADF,
            H::BADMSG => Errno::BADMSG,
            H::BUSY => Errno::BUSY,
            H::CANCELED => Errno::CANCELED,
            H::CHILD => Errno::CHILD,
            H::CONNABORTED => Errno::CONNABORTED,
            H::CONNREFUSED => Errno::CONNREFUSED,
            H::CONNRESET => Errno::CONNRESET,
            H::DEADLK => Errno::DEADLK,
            H::DESTADDRREQ => Errno::DESTADDRREQ,
            H::DOM => Errno::DOM,
            H::DQUOT => Errno::DQUOT,
            H::EXIST => Errno::EXIST,
            H::FAULT => Errno::FAULT,
            H::FBIG => Errno::FBIG,
            H::HOSTUNREACH => Errno::HOSTUNREACH,
            H::IDRM => Errno::IDRM,
            H::ILSEQ => Errno::ILSEQ,
            H::INPROGRESS => Errno::INPROGRESS,
            H::INTR => Errno::INTR,
            H::INVAL => Errno::INVAL,
            H::IO => Errno::IO,
            H::ISCONN => Errno::ISCONN,
            H::ISDIR => Errno::ISDIR,
            H::LOOP => Errno::LOOP,
            H::MFILE => Errno::MFILE,
            H::MLINK => Errno::MLINK,
            H::MSGSIZE => Errno::MSGSIZE,
            H::MULTIHOP => Errno::MULTIHOP,
            H::NAMETOOLONG => Errno::NAMETOOLONG,
            H::NETDOWN => Errno::NETDOWN,
            H::NETRESET => Errno::NETRESET,
            H::NETUNREACH => Errno::NETUNREACH,
            H::NFILE => Errno::NFILE,
            H::NOBUFS => Errno::NOBUFS,
            H::NODEV => Errno::NODEV,
            H::NOENT => Errno::NOENT,
            H::NOEXEC => Errno::NOEXEC,
            H::NOLCK => Errno::NOLCK,
            H::NOLINK => Errno::NOLINK,
            H::NOMEM => Errno::NOMEM,
            H::NOMSG => Errno::NOMSG,
            H::NOPROTOOPT => Errno::NOPROTOOPT,
            H::NOSPC => Errno::NOSPC,
            H::NOSYS => Errno::NOSYS,
            H::NOTCONN => Errno::NOTCONN,
            H::NOTDIR => Errno::NOTDIR,
            H::NOTEMPTY => Errno::NOTEMPTY,
            H::NOTRECOVERABLE => Errno::NOTRECOVERABLE,
            H::NOTSOCK => Errno::NOTSOCK,
            H::NOTSUP => Errno::NOTSUP,
            H::NOTTY => Errno::NOTTY,
            H::NXIO => Errno::NXIO,
            H::OVERFLOW => Errno::OVERFLOW,
            H::OWNERDEAD => Errno::OWNERDEAD,
            H::PERM => Errno::PERM,
            H::PIPE => Errno::PIPE,
            H::PROTO => Errno::PROTO,
            H::PROTONOSUPPORT => Errno::PROTONOSUPPORT,
            H::PROTOTYPE => Errno::PROTOTYPE,
            H::RANGE => Errno::RANGE,
            H::ROFS => Errno::ROFS,
            H::SPIPE => Errno::SPIPE,
            H::SRCH => Errno::SRCH,
            H::STALE => Errno::STALE,
            H::TIMEDOUT => Errno::TIMEDOUT,
            H::TXTBSY => Errno::TXTBSY,
            H::XDEV => Errno::XDEV,
            _ => Errno::IO,
        }
    }
}

impl From<rustix::io::Errno> for Errno {
    fn from(err: rustix::io::Errno) -> Errno {
        Errno::from_host(err)
    }
}

impl From<std::io::Error> for Errno {
    fn from(err: std::io::Error) -> Errno {
        use std::io::ErrorKind as K;
        if let Some(raw) = err.raw_os_error() {
            return Errno::from_host(rustix::io::Errno::from_raw_os_error(raw));
        }
        // Errors made in user space (cap-std's refusal of a path that would leave its directory
        // is `PermissionDenied` without an OS error): by kind.
        match err.kind() {
            K::PermissionDenied => Errno::PERM,
            K::NotFound => Errno::NOENT,
            K::AlreadyExists => Errno::EXIST,
            K::InvalidInput => Errno::INVAL,
            K::InvalidData => Errno::ILSEQ,
            K::WouldBlock => Errno::AGAIN,
            K::Interrupted => Errno::INTR,
            K::Unsupported => Errno::NOTSUP,
            K::NotADirectory => Errno::NOTDIR,
            K::IsADirectory => Errno::ISDIR,
            K::DirectoryNotEmpty => Errno::NOTEMPTY,
            K::OutOfMemory => Errno::NOMEM,
            _ => Errno::IO,
        }
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "Errno::{}({})", name.to_uppercase(), self.0),
            None => write!(f, "Errno({})", self.0),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "errno {}", self.0),
        }
    }
}

impl std::error::Error for Errno {}

/// Clock identifiers (`clockid`, a `u32`).
pub mod clockid {
    /// The clock measuring real time (wall-clock time since the Unix epoch).
    pub const REALTIME: u32 = 0;
    /// The store-wide monotonic clock; its absolute value is meaningless.
    pub const MONOTONIC: u32 = 1;
    /// The CPU-time clock of the current process.
    pub const PROCESS_CPUTIME_ID: u32 = 2;
    /// The CPU-time clock of the current thread.
    pub const THREAD_CPUTIME_ID: u32 = 3;
}

/// Event types (`eventtype`, a `u8`): the tag of a subscription and the type of an event.
pub mod eventtype {
    /// The time of a clock has reached its timeout.
    pub const CLOCK: u8 = 0;
    /// The file descriptor has data available for reading (regular files: always).
    pub const FD_READ: u8 = 1;
    /// The file descriptor has capacity available for writing (regular files: always).
    pub const FD_WRITE: u8 = 2;
}

/// Flags of a clock subscription (`subclockflags`, a `u16`).
pub mod subclockflags {
    /// The timeout is an absolute time of the clock, not a duration from now.
    pub const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1 << 0;
    /// Every flag preview1 defines.
    pub const ALL: u16 = SUBSCRIPTION_CLOCK_ABSTIME;
}

/// Flags of an fd event (`eventrwflags`, a `u16`).
pub mod eventrwflags {
    /// The peer of this socket (or the other end of this pipe) has closed or disconnected.
    pub const FD_READWRITE_HANGUP: u16 = 1 << 0;
}

/// File types (`filetype`, a `u8`).
pub mod filetype {
    /// Unknown, or a type preview1 has no name for (pipes, FIFOs).
    pub const UNKNOWN: u8 = 0;
    /// A block device.
    pub const BLOCK_DEVICE: u8 = 1;
    /// A character device (ttys, /dev/null).
    pub const CHARACTER_DEVICE: u8 = 2;
    /// A directory.
    pub const DIRECTORY: u8 = 3;
    /// A regular file.
    pub const REGULAR_FILE: u8 = 4;
    /// A datagram socket.
    pub const SOCKET_DGRAM: u8 = 5;
    /// A byte-stream socket.
    pub const SOCKET_STREAM: u8 = 6;
    /// A symbolic link.
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// Seek origins (`whence`, a `u8`).
pub mod whence {
    /// Seek relative to the start of the file.
    pub const SET: u8 = 0;
    /// Seek relative to the current position.
    pub const CUR: u8 = 1;
    /// Seek relative to the end of the file.
    pub const END: u8 = 2;
}

/// Preopen types (`preopentype`, a `u8`).
pub mod preopentype {
    /// A pre-opened directory.
    pub const DIR: u8 = 0;
}

/// Open flags of `path_open` (`oflags`, a `u16`).
pub mod oflags {
    /// Create the file if it does not exist.
    pub const CREAT: u16 = 1 << 0;
    /// Fail if the path is not a directory.
    pub const DIRECTORY: u16 = 1 << 1;
    /// Fail if the file already exists (with `CREAT`).
    pub const EXCL: u16 = 1 << 2;
    /// Truncate the file to size 0.
    pub const TRUNC: u16 = 1 << 3;
    /// Every flag preview1 defines.
    pub const ALL: u16 = CREAT | DIRECTORY | EXCL | TRUNC;
}

/// Flags determining how a path is resolved (`lookupflags`, a `u32`).
pub mod lookupflags {
    /// Follow a symbolic link in the last component of the path.
    pub const SYMLINK_FOLLOW: u32 = 1 << 0;
}

/// Which timestamps `*_filestat_set_times` changes (`fstflags`, a `u16`).
pub mod fstflags {
    /// Set the access time to the given value.
    pub const ATIM: u16 = 1 << 0;
    /// Set the access time to the current time.
    pub const ATIM_NOW: u16 = 1 << 1;
    /// Set the modification time to the given value.
    pub const MTIM: u16 = 1 << 2;
    /// Set the modification time to the current time.
    pub const MTIM_NOW: u16 = 1 << 3;
    /// Every flag preview1 defines.
    pub const ALL: u16 = ATIM | ATIM_NOW | MTIM | MTIM_NOW;
}

/// File access advice for `fd_advise` (`advice`, a `u8`).
pub mod advice {
    /// No advice.
    pub const NORMAL: u8 = 0;
    /// Sequential access.
    pub const SEQUENTIAL: u8 = 1;
    /// Random access.
    pub const RANDOM: u8 = 2;
    /// Will be accessed soon.
    pub const WILLNEED: u8 = 3;
    /// Will not be accessed soon.
    pub const DONTNEED: u8 = 4;
    /// Accessed once.
    pub const NOREUSE: u8 = 5;
}

/// A directory entry header as `fd_readdir` writes it (`dirent`): 24 bytes, followed by the name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dirent {
    /// The cookie of the next entry.
    pub d_next: u64,
    /// The file serial number.
    pub d_ino: u64,
    /// The length of the name that follows.
    pub d_namlen: u32,
    /// The [`filetype`].
    pub d_type: u8,
}

impl Dirent {
    /// Size of the header in guest memory, in bytes.
    pub const SIZE: usize = 24;

    /// Encodes the header into all 24 bytes of `out` (padding zeroed).
    pub fn encode(&self, out: &mut [u8; Self::SIZE]) {
        out.fill(0);
        put_u64(out, 0, self.d_next);
        put_u64(out, 8, self.d_ino);
        put_u32(out, 16, self.d_namlen);
        out[20] = self.d_type;
    }
}

/// Flags to `sock_recv` (`riflags`, a `u16`).
pub mod riflags {
    /// Return data without removing it from the queue.
    pub const RECV_PEEK: u16 = 1 << 0;
    /// Wait until the whole buffer is filled.
    pub const RECV_WAITALL: u16 = 1 << 1;
}

/// Flags returned by `sock_recv` (`roflags`, a `u16`).
pub mod roflags {
    /// Message data has been truncated.
    pub const RECV_DATA_TRUNCATED: u16 = 1 << 0;
}

/// Which halves of a socket `sock_shutdown` closes (`sdflags`, a `u8`).
pub mod sdflags {
    /// Disable further receive operations.
    pub const RD: u8 = 1 << 0;
    /// Disable further send operations.
    pub const WR: u8 = 1 << 1;
}

bitflags::bitflags! {
    /// File descriptor rights (`rights`, a `u64`): which operations a guest may apply to an fd.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Rights: u64 {
        /// `fd_datasync`.
        const FD_DATASYNC = 1 << 0;
        /// `fd_read` and `sock_recv`; with `POLL_FD_READWRITE`, subscribing to `fd_read`.
        const FD_READ = 1 << 1;
        /// `fd_seek` (implies `FD_TELL`).
        const FD_SEEK = 1 << 2;
        /// `fd_fdstat_set_flags`.
        const FD_FDSTAT_SET_FLAGS = 1 << 3;
        /// `fd_sync`.
        const FD_SYNC = 1 << 4;
        /// `fd_seek` with a zero offset from the current position, and `fd_tell`.
        const FD_TELL = 1 << 5;
        /// `fd_write` and `sock_send`; with `POLL_FD_READWRITE`, subscribing to `fd_write`.
        const FD_WRITE = 1 << 6;
        /// `fd_advise`.
        const FD_ADVISE = 1 << 7;
        /// `fd_allocate`.
        const FD_ALLOCATE = 1 << 8;
        /// `path_create_directory`.
        const PATH_CREATE_DIRECTORY = 1 << 9;
        /// `path_open` with `oflags::creat`.
        const PATH_CREATE_FILE = 1 << 10;
        /// `path_link` with the fd as the source directory.
        const PATH_LINK_SOURCE = 1 << 11;
        /// `path_link` with the fd as the target directory.
        const PATH_LINK_TARGET = 1 << 12;
        /// `path_open`.
        const PATH_OPEN = 1 << 13;
        /// `fd_readdir`.
        const FD_READDIR = 1 << 14;
        /// `path_readlink`.
        const PATH_READLINK = 1 << 15;
        /// `path_rename` with the fd as the source directory.
        const PATH_RENAME_SOURCE = 1 << 16;
        /// `path_rename` with the fd as the target directory.
        const PATH_RENAME_TARGET = 1 << 17;
        /// `path_filestat_get`.
        const PATH_FILESTAT_GET = 1 << 18;
        /// Changing a file's size through `path_open` or `path_filestat_set_size`.
        const PATH_FILESTAT_SET_SIZE = 1 << 19;
        /// `path_filestat_set_times`.
        const PATH_FILESTAT_SET_TIMES = 1 << 20;
        /// `fd_filestat_get`.
        const FD_FILESTAT_GET = 1 << 21;
        /// `fd_filestat_set_size`.
        const FD_FILESTAT_SET_SIZE = 1 << 22;
        /// `fd_filestat_set_times`.
        const FD_FILESTAT_SET_TIMES = 1 << 23;
        /// `path_symlink`.
        const PATH_SYMLINK = 1 << 24;
        /// `path_remove_directory`.
        const PATH_REMOVE_DIRECTORY = 1 << 25;
        /// `path_unlink_file`.
        const PATH_UNLINK_FILE = 1 << 26;
        /// With `FD_READ` / `FD_WRITE`: subscribing to `fd_read` / `fd_write` in `poll_oneoff`.
        const POLL_FD_READWRITE = 1 << 27;
        /// `sock_shutdown`.
        const SOCK_SHUTDOWN = 1 << 28;
        /// `sock_accept`.
        const SOCK_ACCEPT = 1 << 29;
    }
}

bitflags::bitflags! {
    /// File descriptor flags (`fdflags`, a `u16`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct FdFlags: u16 {
        /// Append mode: data written goes to the end of the file.
        const APPEND = 1 << 0;
        /// Write according to synchronized I/O data integrity completion.
        const DSYNC = 1 << 1;
        /// Non-blocking mode.
        const NONBLOCK = 1 << 2;
        /// Synchronized read I/O operations.
        const RSYNC = 1 << 3;
        /// Write according to synchronized I/O file integrity completion.
        const SYNC = 1 << 4;
    }
}

// ---------------------------------------------------------------------------------------------
// Little-endian field access on byte slices. Callers guarantee the slice is long enough; every
// caller below passes a fixed-size array, so the indexing cannot fail.

fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn get_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn get_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

// ---------------------------------------------------------------------------------------------
// subscription

/// The content of a clock subscription (`subscription_clock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriptionClock {
    /// The clock against which to compare the timestamp (a [`clockid`] value; not validated here).
    pub id: u32,
    /// The absolute or relative timestamp, in nanoseconds.
    pub timeout: u64,
    /// The amount of time the host may wake up past `timeout` (slack for coalescing), in ns.
    pub precision: u64,
    /// [`subclockflags`]; not validated here.
    pub flags: u16,
}

impl SubscriptionClock {
    /// True when `flags` has [`subclockflags::SUBSCRIPTION_CLOCK_ABSTIME`].
    pub fn is_absolute(&self) -> bool {
        self.flags & subclockflags::SUBSCRIPTION_CLOCK_ABSTIME != 0
    }
}

/// The content of an `fd_read` or `fd_write` subscription (`subscription_fd_readwrite`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriptionFdReadwrite {
    /// The guest file descriptor to wait on.
    pub fd: u32,
}

/// What a subscription waits for: the tagged union `subscription_u`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscriptionKind {
    /// Tag [`eventtype::CLOCK`].
    Clock(SubscriptionClock),
    /// Tag [`eventtype::FD_READ`].
    FdRead(SubscriptionFdReadwrite),
    /// Tag [`eventtype::FD_WRITE`].
    FdWrite(SubscriptionFdReadwrite),
}

impl SubscriptionKind {
    /// The [`eventtype`] tag of this subscription.
    pub fn event_type(&self) -> u8 {
        match self {
            SubscriptionKind::Clock(_) => eventtype::CLOCK,
            SubscriptionKind::FdRead(_) => eventtype::FD_READ,
            SubscriptionKind::FdWrite(_) => eventtype::FD_WRITE,
        }
    }
}

/// A subscription to an event (`subscription`): 48 bytes, alignment 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// User-provided value that is attached to the subscription and copied to its event.
    pub userdata: u64,
    /// The type of the event to which to subscribe, and its content.
    pub kind: SubscriptionKind,
}

impl Subscription {
    /// Size in guest memory, in bytes.
    pub const SIZE: usize = 48;
    /// Required alignment in guest memory, in bytes.
    pub const ALIGN: u32 = 8;
    /// Offset of `userdata` (u64).
    pub const USERDATA_OFFSET: usize = 0;
    /// Offset of the union tag `u.tag` (u8).
    pub const TAG_OFFSET: usize = 8;
    /// Offset of the union body `u.u` (align 8 because the clock variant holds u64s).
    pub const UNION_OFFSET: usize = 16;
    /// Offset of `u.u.clock.id` (u32).
    pub const CLOCK_ID_OFFSET: usize = 16;
    /// Offset of `u.u.clock.timeout` (u64).
    pub const CLOCK_TIMEOUT_OFFSET: usize = 24;
    /// Offset of `u.u.clock.precision` (u64).
    pub const CLOCK_PRECISION_OFFSET: usize = 32;
    /// Offset of `u.u.clock.flags` (u16).
    pub const CLOCK_FLAGS_OFFSET: usize = 40;
    /// Offset of `u.u.fd_read.file_descriptor` / `u.u.fd_write.file_descriptor` (u32).
    pub const FD_OFFSET: usize = 16;

    /// Decodes one subscription from the first [`Subscription::SIZE`] bytes of `bytes`.
    ///
    /// Padding bytes are ignored. An unknown tag is [`Errno::INVAL`]; fewer than 48 bytes is
    /// [`Errno::FAULT`]. Clock ids and flags are returned as they are: whether they are supported
    /// is a per-subscription question that `poll_oneoff` answers with an event.
    pub fn decode(bytes: &[u8]) -> Result<Subscription, Errno> {
        let b: &[u8; Self::SIZE] = bytes
            .get(..Self::SIZE)
            .and_then(|s| s.try_into().ok())
            .ok_or(Errno::FAULT)?;
        let userdata = get_u64(b, Self::USERDATA_OFFSET);
        let kind = match b[Self::TAG_OFFSET] {
            eventtype::CLOCK => SubscriptionKind::Clock(SubscriptionClock {
                id: get_u32(b, Self::CLOCK_ID_OFFSET),
                timeout: get_u64(b, Self::CLOCK_TIMEOUT_OFFSET),
                precision: get_u64(b, Self::CLOCK_PRECISION_OFFSET),
                flags: get_u16(b, Self::CLOCK_FLAGS_OFFSET),
            }),
            eventtype::FD_READ => SubscriptionKind::FdRead(SubscriptionFdReadwrite {
                fd: get_u32(b, Self::FD_OFFSET),
            }),
            eventtype::FD_WRITE => SubscriptionKind::FdWrite(SubscriptionFdReadwrite {
                fd: get_u32(b, Self::FD_OFFSET),
            }),
            _ => return Err(Errno::INVAL),
        };
        Ok(Subscription { userdata, kind })
    }

    /// Encodes this subscription into all 48 bytes of `out` (padding zeroed). The host never
    /// writes subscriptions; this exists for tests and for embedders that build guest memory.
    pub fn encode(&self, out: &mut [u8; Self::SIZE]) {
        out.fill(0);
        put_u64(out, Self::USERDATA_OFFSET, self.userdata);
        out[Self::TAG_OFFSET] = self.kind.event_type();
        match self.kind {
            SubscriptionKind::Clock(c) => {
                put_u32(out, Self::CLOCK_ID_OFFSET, c.id);
                put_u64(out, Self::CLOCK_TIMEOUT_OFFSET, c.timeout);
                put_u64(out, Self::CLOCK_PRECISION_OFFSET, c.precision);
                put_u16(out, Self::CLOCK_FLAGS_OFFSET, c.flags);
            }
            SubscriptionKind::FdRead(f) | SubscriptionKind::FdWrite(f) => {
                put_u32(out, Self::FD_OFFSET, f.fd);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// event

/// The contents of an `fd_read` / `fd_write` event (`event_fd_readwrite`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EventFdReadwrite {
    /// The number of bytes available for reading or writing.
    pub nbytes: u64,
    /// [`eventrwflags`].
    pub flags: u16,
}

/// An event that occurred (`event`): 32 bytes, alignment 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The `userdata` of the subscription this event belongs to.
    pub userdata: u64,
    /// An error that occurred while processing the subscription, or [`Errno::SUCCESS`].
    pub error: Errno,
    /// The [`eventtype`] of the subscription.
    pub type_: u8,
    /// For `fd_read` / `fd_write` events: bytes available and flags. Zero for clocks.
    pub fd_readwrite: EventFdReadwrite,
}

impl Event {
    /// Size in guest memory, in bytes.
    pub const SIZE: usize = 32;
    /// Required alignment in guest memory, in bytes.
    pub const ALIGN: u32 = 8;
    /// Offset of `userdata` (u64).
    pub const USERDATA_OFFSET: usize = 0;
    /// Offset of `error` (u16).
    pub const ERROR_OFFSET: usize = 8;
    /// Offset of `type` (u8).
    pub const TYPE_OFFSET: usize = 10;
    /// Offset of `fd_readwrite.nbytes` (u64).
    pub const NBYTES_OFFSET: usize = 16;
    /// Offset of `fd_readwrite.flags` (u16).
    pub const FLAGS_OFFSET: usize = 24;

    /// An event for `sub` with no error and zero `fd_readwrite`.
    pub fn for_subscription(sub: &Subscription) -> Event {
        Event {
            userdata: sub.userdata,
            error: Errno::SUCCESS,
            type_: sub.kind.event_type(),
            fd_readwrite: EventFdReadwrite::default(),
        }
    }

    /// An event for `sub` reporting `error` (a per-subscription failure).
    pub fn error(sub: &Subscription, error: Errno) -> Event {
        Event {
            error,
            ..Event::for_subscription(sub)
        }
    }

    /// Encodes this event into all 32 bytes of `out`; padding bytes are written as zero.
    pub fn encode(&self, out: &mut [u8; Self::SIZE]) {
        out.fill(0);
        put_u64(out, Self::USERDATA_OFFSET, self.userdata);
        put_u16(out, Self::ERROR_OFFSET, self.error.0);
        out[Self::TYPE_OFFSET] = self.type_;
        put_u64(out, Self::NBYTES_OFFSET, self.fd_readwrite.nbytes);
        put_u16(out, Self::FLAGS_OFFSET, self.fd_readwrite.flags);
    }

    /// Decodes an event from the first 32 bytes of `bytes` (for tests and embedders); fewer bytes
    /// is [`Errno::FAULT`]. The type is returned as it is, unvalidated.
    pub fn decode(bytes: &[u8]) -> Result<Event, Errno> {
        let b: &[u8; Self::SIZE] = bytes
            .get(..Self::SIZE)
            .and_then(|s| s.try_into().ok())
            .ok_or(Errno::FAULT)?;
        Ok(Event {
            userdata: get_u64(b, Self::USERDATA_OFFSET),
            error: Errno(get_u16(b, Self::ERROR_OFFSET)),
            type_: b[Self::TYPE_OFFSET],
            fd_readwrite: EventFdReadwrite {
                nbytes: get_u64(b, Self::NBYTES_OFFSET),
                flags: get_u16(b, Self::FLAGS_OFFSET),
            },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Other structures the host writes.

/// `fdstat`: 24 bytes, alignment 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fdstat {
    /// [`filetype`].
    pub filetype: u8,
    /// Flags of the descriptor.
    pub flags: FdFlags,
    /// Rights that apply to this descriptor.
    pub rights_base: Rights,
    /// Maximum rights of descriptors derived from this one (accepted sockets, opened files).
    pub rights_inheriting: Rights,
}

impl Fdstat {
    /// Size in guest memory, in bytes.
    pub const SIZE: usize = 24;
    /// Required alignment in guest memory, in bytes.
    pub const ALIGN: u32 = 8;

    /// Encodes into all 24 bytes of `out` (padding zeroed).
    pub fn encode(&self, out: &mut [u8; Self::SIZE]) {
        out.fill(0);
        out[0] = self.filetype;
        put_u16(out, 2, self.flags.bits());
        put_u64(out, 8, self.rights_base.bits());
        put_u64(out, 16, self.rights_inheriting.bits());
    }
}

/// `filestat`: 64 bytes, alignment 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Filestat {
    /// Device ID of the device containing the file.
    pub dev: u64,
    /// File serial number.
    pub ino: u64,
    /// [`filetype`].
    pub filetype: u8,
    /// Number of hard links.
    pub nlink: u64,
    /// Size in bytes (regular files) or the kernel's notion of size.
    pub size: u64,
    /// Last access time, ns since the epoch.
    pub atim: u64,
    /// Last modification time, ns since the epoch.
    pub mtim: u64,
    /// Last status change time, ns since the epoch.
    pub ctim: u64,
}

impl Filestat {
    /// Size in guest memory, in bytes.
    pub const SIZE: usize = 64;
    /// Required alignment in guest memory, in bytes.
    pub const ALIGN: u32 = 8;

    /// Encodes into all 64 bytes of `out` (padding zeroed).
    pub fn encode(&self, out: &mut [u8; Self::SIZE]) {
        out.fill(0);
        put_u64(out, 0, self.dev);
        put_u64(out, 8, self.ino);
        out[16] = self.filetype;
        put_u64(out, 24, self.nlink);
        put_u64(out, 32, self.size);
        put_u64(out, 40, self.atim);
        put_u64(out, 48, self.mtim);
        put_u64(out, 56, self.ctim);
    }
}

/// An `iovec` / `ciovec` as stored in guest memory: 8 bytes, alignment 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iovec {
    /// Guest address of the buffer.
    pub buf: u32,
    /// Length of the buffer in bytes.
    pub buf_len: u32,
}

impl Iovec {
    /// Size in guest memory, in bytes.
    pub const SIZE: usize = 8;
    /// Required alignment in guest memory, in bytes.
    pub const ALIGN: u32 = 4;

    /// Decodes from the first 8 bytes of `bytes` (fewer is [`Errno::FAULT`]).
    pub fn decode(bytes: &[u8]) -> Result<Iovec, Errno> {
        let b: &[u8; Self::SIZE] = bytes
            .get(..Self::SIZE)
            .and_then(|s| s.try_into().ok())
            .ok_or(Errno::FAULT)?;
        Ok(Iovec {
            buf: get_u32(b, 0),
            buf_len: get_u32(b, 4),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Compile-time layout checks: a `repr(C)` mirror of each witx structure must have the same size,
// alignment and offsets as the constants above (the C compiler computes the witx layout the same
// way). The mirrors are never used to read memory.

#[allow(dead_code)]
mod layout {
    use super::{Event, Subscription};
    use core::mem::{align_of, offset_of, size_of};

    #[repr(C)]
    struct Clock {
        id: u32,
        timeout: u64,
        precision: u64,
        flags: u16,
    }
    #[repr(C)]
    struct FdRw {
        fd: u32,
    }
    #[repr(C)]
    union Body {
        clock: core::mem::ManuallyDrop<Clock>,
        fd: core::mem::ManuallyDrop<FdRw>,
    }
    #[repr(C)]
    struct SubU {
        tag: u8,
        u: Body,
    }
    #[repr(C)]
    struct Sub {
        userdata: u64,
        u: SubU,
    }
    #[repr(C)]
    struct EvFdRw {
        nbytes: u64,
        flags: u16,
    }
    #[repr(C)]
    struct Ev {
        userdata: u64,
        error: u16,
        type_: u8,
        fd_readwrite: EvFdRw,
    }

    const _: () = assert!(size_of::<Sub>() == Subscription::SIZE);
    const _: () = assert!(align_of::<Sub>() == Subscription::ALIGN as usize);
    const _: () = assert!(offset_of!(Sub, userdata) == Subscription::USERDATA_OFFSET);
    const _: () = assert!(offset_of!(Sub, u) + offset_of!(SubU, tag) == Subscription::TAG_OFFSET);
    const _: () = assert!(offset_of!(Sub, u) + offset_of!(SubU, u) == Subscription::UNION_OFFSET);
    const _: () = assert!(
        Subscription::UNION_OFFSET + offset_of!(Clock, id) == Subscription::CLOCK_ID_OFFSET
    );
    const _: () = assert!(
        Subscription::UNION_OFFSET + offset_of!(Clock, timeout)
            == Subscription::CLOCK_TIMEOUT_OFFSET
    );
    const _: () = assert!(
        Subscription::UNION_OFFSET + offset_of!(Clock, precision)
            == Subscription::CLOCK_PRECISION_OFFSET
    );
    const _: () = assert!(
        Subscription::UNION_OFFSET + offset_of!(Clock, flags) == Subscription::CLOCK_FLAGS_OFFSET
    );
    const _: () =
        assert!(Subscription::UNION_OFFSET + offset_of!(FdRw, fd) == Subscription::FD_OFFSET);

    const _: () = assert!(size_of::<Ev>() == Event::SIZE);
    const _: () = assert!(align_of::<Ev>() == Event::ALIGN as usize);
    const _: () = assert!(offset_of!(Ev, userdata) == Event::USERDATA_OFFSET);
    const _: () = assert!(offset_of!(Ev, error) == Event::ERROR_OFFSET);
    const _: () = assert!(offset_of!(Ev, type_) == Event::TYPE_OFFSET);
    const _: () =
        assert!(offset_of!(Ev, fd_readwrite) + offset_of!(EvFdRw, nbytes) == Event::NBYTES_OFFSET);
    const _: () =
        assert!(offset_of!(Ev, fd_readwrite) + offset_of!(EvFdRw, flags) == Event::FLAGS_OFFSET);
}

// ---------------------------------------------------------------------------------------------
// Guest memory helpers.

/// The byte range `[ptr, ptr + len)` of a guest memory of `mem_len` bytes.
///
/// Overflow-safe: a range that ends past `mem_len` — or whose end does not even fit in a `u64` or
/// `usize` — is [`Errno::FAULT`]. An empty range at `ptr == mem_len` is valid; an empty range
/// past the end is not.
pub fn range(mem_len: usize, ptr: u32, len: u64) -> Result<Range<usize>, Errno> {
    let start = u64::from(ptr);
    let end = start.checked_add(len).ok_or(Errno::FAULT)?;
    let end = usize::try_from(end).map_err(|_| Errno::FAULT)?;
    let start = usize::try_from(start).map_err(|_| Errno::FAULT)?;
    if end > mem_len {
        return Err(Errno::FAULT);
    }
    Ok(start..end)
}

/// The byte range of `count` elements of `size` bytes each at `ptr`: [`range`] with an
/// overflow-checked multiplication (an overflowing product is [`Errno::FAULT`]).
pub fn array_range(
    mem_len: usize,
    ptr: u32,
    count: u32,
    size: usize,
) -> Result<Range<usize>, Errno> {
    let size = u64::try_from(size).map_err(|_| Errno::FAULT)?;
    let len = u64::from(count).checked_mul(size).ok_or(Errno::FAULT)?;
    range(mem_len, ptr, len)
}

/// Checks that `ptr` is a multiple of `align` (a power of two); misaligned is [`Errno::INVAL`].
pub fn check_align(ptr: u32, align: u32) -> Result<(), Errno> {
    debug_assert!(align.is_power_of_two());
    if ptr & (align.wrapping_sub(1)) != 0 {
        Err(Errno::INVAL)
    } else {
        Ok(())
    }
}

/// The guest bytes `[ptr, ptr + len)`, or [`Errno::FAULT`].
pub fn slice(mem: &[u8], ptr: u32, len: u32) -> Result<&[u8], Errno> {
    let r = range(mem.len(), ptr, u64::from(len))?;
    mem.get(r).ok_or(Errno::FAULT)
}

/// The guest bytes `[ptr, ptr + len)` for writing, or [`Errno::FAULT`].
pub fn slice_mut(mem: &mut [u8], ptr: u32, len: u32) -> Result<&mut [u8], Errno> {
    let r = range(mem.len(), ptr, u64::from(len))?;
    mem.get_mut(r).ok_or(Errno::FAULT)
}

/// A fixed-size, aligned field of guest memory: bounds first ([`Errno::FAULT`]), then alignment
/// ([`Errno::INVAL`]).
pub fn field<const N: usize>(mem: &[u8], ptr: u32, align: u32) -> Result<&[u8; N], Errno> {
    let r = range(mem.len(), ptr, N as u64)?;
    check_align(ptr, align)?;
    mem.get(r)
        .and_then(|s| s.try_into().ok())
        .ok_or(Errno::FAULT)
}

/// A fixed-size, aligned field of guest memory for writing (same checks as [`field`]).
pub fn field_mut<const N: usize>(
    mem: &mut [u8],
    ptr: u32,
    align: u32,
) -> Result<&mut [u8; N], Errno> {
    let r = range(mem.len(), ptr, N as u64)?;
    check_align(ptr, align)?;
    mem.get_mut(r)
        .and_then(|s| s.try_into().ok())
        .ok_or(Errno::FAULT)
}

/// Reads an aligned little-endian `u32` at `ptr`.
pub fn read_u32(mem: &[u8], ptr: u32) -> Result<u32, Errno> {
    field::<4>(mem, ptr, 4).map(|b| u32::from_le_bytes(*b))
}

/// Writes an aligned little-endian `u32` at `ptr`.
pub fn write_u32(mem: &mut [u8], ptr: u32, v: u32) -> Result<(), Errno> {
    *field_mut::<4>(mem, ptr, 4)? = v.to_le_bytes();
    Ok(())
}

/// Writes an aligned little-endian `u64` at `ptr`.
pub fn write_u64(mem: &mut [u8], ptr: u32, v: u64) -> Result<(), Errno> {
    *field_mut::<8>(mem, ptr, 8)? = v.to_le_bytes();
    Ok(())
}

/// Writes a little-endian `u16` at `ptr` (alignment 2).
pub fn write_u16(mem: &mut [u8], ptr: u32, v: u16) -> Result<(), Errno> {
    *field_mut::<2>(mem, ptr, 2)? = v.to_le_bytes();
    Ok(())
}

/// Reads the `index`-th iovec of the array at `iovs` (the caller checked the array's range).
pub fn read_iovec(mem: &[u8], iovs: u32, index: u32) -> Result<Iovec, Errno> {
    let off = u64::from(index) * Iovec::SIZE as u64;
    let ptr = u32::try_from(u64::from(iovs) + off).map_err(|_| Errno::FAULT)?;
    Iovec::decode(field::<8>(mem, ptr, Iovec::ALIGN)?)
}
