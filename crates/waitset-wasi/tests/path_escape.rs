//! Capability-safe paths: nothing a guest names through a preopened directory leads outside it —
//! not `..`, not an absolute path, not a symlink pointing out, not a symlink swapped while
//! `path_open` resolves it. Real directories, real symlinks, real cap-std.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use waitset_wasi::abi::{lookupflags, oflags, Errno, Rights};
use waitset_wasi::{fs, host, WasiCtx};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "waitset-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A sandbox directory `root/sandbox` (preopened as fd 3) next to `root/outside/secret`.
struct Fixture {
    root: TempDir,
    ctx: WasiCtx,
}

const SECRET: &[u8] = b"outside the sandbox";

fn fixture() -> Fixture {
    let root = TempDir::new("escape");
    std::fs::create_dir(root.path().join("sandbox")).unwrap();
    std::fs::create_dir(root.path().join("sandbox/sub")).unwrap();
    std::fs::write(root.path().join("sandbox/inside"), b"inside").unwrap();
    std::fs::create_dir(root.path().join("outside")).unwrap();
    std::fs::write(root.path().join("outside/secret"), SECRET).unwrap();
    let ctx = WasiCtx::builder()
        .preopen_host_dir(root.path().join("sandbox"), "/sandbox")
        .unwrap()
        .build()
        .unwrap();
    Fixture { root, ctx }
}

fn mem() -> Vec<u8> {
    vec![0u8; 65536]
}

const PATH_AT: u32 = 1024;
const FD_AT: u32 = 16;

/// `path_open(3, flags, path)` for reading; the new fd or the errno.
fn open(ctx: &mut WasiCtx, m: &mut [u8], dirflags: u32, path: &str) -> Result<u32, Errno> {
    m[PATH_AT as usize..][..path.len()].copy_from_slice(path.as_bytes());
    let e = fs::path_open(
        ctx,
        m,
        3,
        dirflags,
        PATH_AT,
        path.len() as u32,
        0,
        (Rights::FD_READ | Rights::FD_SEEK).bits(),
        0,
        0,
        FD_AT,
    );
    if e == Errno::SUCCESS {
        Ok(u32::from_le_bytes(
            m[FD_AT as usize..][..4].try_into().unwrap(),
        ))
    } else {
        Err(e)
    }
}

/// Reads up to 64 bytes from guest fd `fd`.
fn read_all(ctx: &mut WasiCtx, m: &mut [u8], fd: u32) -> Vec<u8> {
    m[0..4].copy_from_slice(&4096u32.to_le_bytes());
    m[4..8].copy_from_slice(&64u32.to_le_bytes());
    assert_eq!(host::fd_read(ctx, m, fd, 0, 1, 8), Errno::SUCCESS);
    let n = u32::from_le_bytes(m[8..12].try_into().unwrap()) as usize;
    m[4096..4096 + n].to_vec()
}

#[test]
fn dot_dot_cannot_leave_the_preopen() {
    let Fixture {
        root: _root,
        mut ctx,
    } = fixture();
    let mut m = mem();
    for path in [
        "../outside/secret",
        "sub/../../outside/secret",
        "..",
        "sub/../..",
    ] {
        assert_eq!(open(&mut ctx, &mut m, 0, path), Err(Errno::PERM), "{path}");
    }
    // `..` that stays inside is fine.
    let fd = open(&mut ctx, &mut m, 0, "sub/../inside").unwrap();
    assert_eq!(read_all(&mut ctx, &mut m, fd), b"inside");
}

#[test]
fn absolute_paths_cannot_leave_the_preopen() {
    let Fixture { root, mut ctx } = fixture();
    let mut m = mem();
    let abs = root.path().join("outside/secret");
    assert_eq!(
        open(&mut ctx, &mut m, 0, abs.to_str().unwrap()),
        Err(Errno::PERM)
    );
    assert_eq!(open(&mut ctx, &mut m, 0, "/etc/passwd"), Err(Errno::PERM));
}

#[test]
fn symlinks_pointing_out_are_not_followed_out() {
    let Fixture { root, mut ctx } = fixture();
    let mut m = mem();
    let sandbox = root.path().join("sandbox");
    symlink(root.path().join("outside"), sandbox.join("abs_out")).unwrap();
    symlink("../outside", sandbox.join("rel_out")).unwrap();
    symlink("../outside/secret", sandbox.join("file_out")).unwrap();
    for path in ["abs_out/secret", "rel_out/secret", "file_out"] {
        let r = open(&mut ctx, &mut m, lookupflags::SYMLINK_FOLLOW, path);
        assert_eq!(r, Err(Errno::PERM), "{path}");
    }
    // Without SYMLINK_FOLLOW the last component is not followed at all.
    assert_eq!(open(&mut ctx, &mut m, 0, "file_out"), Err(Errno::LOOP));
    // A symlink that stays inside works.
    symlink("sub/../inside", sandbox.join("ok")).unwrap();
    let fd = open(&mut ctx, &mut m, lookupflags::SYMLINK_FOLLOW, "ok").unwrap();
    assert_eq!(read_all(&mut ctx, &mut m, fd), b"inside");
}

#[test]
fn other_path_functions_cannot_leave_the_preopen() {
    let Fixture { root, mut ctx } = fixture();
    let mut m = mem();
    let put = |m: &mut [u8], at: u32, s: &str| {
        m[at as usize..][..s.len()].copy_from_slice(s.as_bytes());
        s.len() as u32
    };
    let n = put(&mut m, PATH_AT, "../outside/secret");
    assert_eq!(
        fs::path_unlink_file(&mut ctx, &mut m, 3, PATH_AT, n),
        Errno::PERM
    );
    assert_eq!(
        fs::path_filestat_get(&mut ctx, &mut m, 3, 0, PATH_AT, n, 2048),
        Errno::PERM
    );
    let n = put(&mut m, PATH_AT, "../outside/newdir");
    assert_eq!(
        fs::path_create_directory(&mut ctx, &mut m, 3, PATH_AT, n),
        Errno::PERM
    );
    // rename `inside` to ../outside/stolen
    let a = put(&mut m, PATH_AT, "inside");
    let b = put(&mut m, PATH_AT + 100, "../outside/stolen");
    assert_eq!(
        fs::path_rename(&mut ctx, &mut m, 3, PATH_AT, a, 3, PATH_AT + 100, b),
        Errno::PERM
    );
    assert!(root.path().join("outside/secret").exists());
    assert!(!root.path().join("outside/newdir").exists());
    assert!(!root.path().join("outside/stolen").exists());
}

/// A symlink swapped between an inside target and an outside one while the guest opens a path
/// through it, in a loop: every open either finds the inside file or fails; none ever reads the
/// outside file.
#[test]
fn a_symlink_swapped_during_path_open_never_leads_out() {
    let Fixture { root, mut ctx } = fixture();
    let mut m = mem();
    let sandbox = root.path().join("sandbox");
    std::fs::write(sandbox.join("sub/secret"), b"inside").unwrap();
    let link = sandbox.join("link");
    symlink("sub", &link).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let sandbox = sandbox.clone();
        let outside = root.path().join("outside");
        std::thread::spawn(move || {
            let tmp = sandbox.join("link.tmp");
            let mut flips = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let target: &Path = if flips.is_multiple_of(2) {
                    &outside
                } else {
                    Path::new("sub")
                };
                let _ = std::fs::remove_file(&tmp);
                symlink(target, &tmp).unwrap();
                std::fs::rename(&tmp, sandbox.join("link")).unwrap();
                flips += 1;
            }
            flips
        })
    };
    let (mut inside, mut refused) = (0u32, 0u32);
    for _ in 0..3000 {
        match open(&mut ctx, &mut m, lookupflags::SYMLINK_FOLLOW, "link/secret") {
            Ok(fd) => {
                let got = read_all(&mut ctx, &mut m, fd);
                assert_ne!(got, SECRET, "path_open followed the swapped symlink out");
                assert_eq!(got, b"inside");
                assert_eq!(ctx.close(fd), Ok(()));
                inside += 1;
            }
            Err(e) => {
                assert!(
                    matches!(e, Errno::PERM | Errno::NOENT | Errno::LOOP),
                    "unexpected {e:?}"
                );
                refused += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let flips = swapper.join().unwrap();
    assert!(flips > 0);
    assert_eq!(inside + refused, 3000);
}

#[test]
fn a_preopen_is_reported_with_its_guest_path() {
    let Fixture {
        root: _root,
        mut ctx,
    } = fixture();
    let mut m = mem();
    assert_eq!(host::fd_prestat_get(&mut ctx, &mut m, 3, 0), Errno::SUCCESS);
    assert_eq!(m[0], 0, "tag DIR");
    assert_eq!(u32::from_le_bytes(m[4..8].try_into().unwrap()), 8);
    assert_eq!(
        host::fd_prestat_dir_name(&mut ctx, &mut m, 3, 100, 7),
        Errno::NAMETOOLONG
    );
    assert_eq!(
        host::fd_prestat_dir_name(&mut ctx, &mut m, 3, 100, 8),
        Errno::SUCCESS
    );
    assert_eq!(&m[100..108], b"/sandbox");
    assert_eq!(host::fd_prestat_get(&mut ctx, &mut m, 4, 0), Errno::BADF);
}

#[test]
fn path_open_rights_are_limited_by_the_directory_inheriting_rights() {
    let Fixture {
        root: _root,
        mut ctx,
    } = fixture();
    let mut m = mem();
    // Drop FD_WRITE from what the preopen passes on.
    host::fd_fdstat_get(&mut ctx, &mut m, 3, 0);
    let base = u64::from_le_bytes(m[8..16].try_into().unwrap());
    let inh = Rights::from_bits_retain(u64::from_le_bytes(m[16..24].try_into().unwrap()));
    assert_eq!(
        host::fd_fdstat_set_rights(&mut ctx, &mut m, 3, base, (inh - Rights::FD_WRITE).bits()),
        Errno::SUCCESS
    );
    // Rights can only be dropped.
    assert_eq!(
        host::fd_fdstat_set_rights(&mut ctx, &mut m, 3, base, inh.bits()),
        Errno::NOTCAPABLE
    );
    let path = "inside";
    m[PATH_AT as usize..][..path.len()].copy_from_slice(path.as_bytes());
    let e = fs::path_open(
        &mut ctx,
        &mut m,
        3,
        0,
        PATH_AT,
        path.len() as u32,
        0,
        (Rights::FD_READ | Rights::FD_WRITE).bits(),
        0,
        0,
        FD_AT,
    );
    assert_eq!(e, Errno::SUCCESS);
    let fd = u32::from_le_bytes(m[FD_AT as usize..][..4].try_into().unwrap());
    host::fd_fdstat_get(&mut ctx, &mut m, fd, 0);
    let got = Rights::from_bits_retain(u64::from_le_bytes(m[8..16].try_into().unwrap()));
    assert!(got.contains(Rights::FD_READ));
    assert!(!got.contains(Rights::FD_WRITE), "{got:?}");
    m[0..4].copy_from_slice(&4096u32.to_le_bytes());
    m[4..8].copy_from_slice(&4u32.to_le_bytes());
    assert_eq!(
        host::fd_write(&mut ctx, &mut m, fd, 0, 1, 8),
        Errno::NOTCAPABLE
    );
    // CREAT needs PATH_CREATE_FILE on the directory.
    assert_eq!(
        host::fd_fdstat_set_rights(
            &mut ctx,
            &mut m,
            3,
            base & !Rights::PATH_CREATE_FILE.bits(),
            (inh - Rights::FD_WRITE).bits()
        ),
        Errno::SUCCESS
    );
    let e = fs::path_open(
        &mut ctx,
        &mut m,
        3,
        0,
        PATH_AT,
        path.len() as u32,
        oflags::CREAT,
        Rights::FD_READ.bits(),
        0,
        0,
        FD_AT,
    );
    assert_eq!(e, Errno::NOTCAPABLE);
}
