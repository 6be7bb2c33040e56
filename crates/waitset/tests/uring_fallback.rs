//! Where the kernel refuses io_uring, a set made with the default backend runs on epoll and says
//! so, and an explicit request for io_uring fails with a typed error that names the reason.
//!
//! The refusal is real: a child process (this test binary, re-executed for one test) installs a
//! seccomp filter that answers `io_uring_setup` with EPERM or ENOSYS, as a container runtime's
//! filter does, before anything in it touches a set.
#![cfg(target_os = "linux")]

mod util;

use std::time::Duration;

use waitset::{
    BackendKind, Deadline, Error, PollFlags, PollSet, Signals, Timeout, UnavailableReason,
    WaitResult, WaitSet,
};

/// Env var that turns the test into its child half; its value is the errno the filter returns.
const CHILD: &str = "WAITSET_TEST_URING_REFUSED";

#[test]
fn a_refused_io_uring_falls_back_to_epoll_and_an_explicit_request_names_the_reason() {
    if let Some(errno) = std::env::var_os(CHILD) {
        let errno: i32 = errno.to_str().and_then(|s| s.parse().ok()).expect("errno");
        return child(errno);
    }
    // Unrefused, this machine runs io_uring when asked (otherwise the child's refusal below
    // proves nothing about the reason being reported).
    std::env::remove_var("WAITSET_BACKEND");
    match WaitSet::builder().backend(BackendKind::Uring).build() {
        Ok(set) => assert_eq!(set.backend(), BackendKind::Uring),
        Err(e) => eprintln!("io_uring is refused here already: {e}"),
    }
    for errno in [libc::EPERM, libc::ENOSYS] {
        let exe = std::env::current_exe().expect("current_exe");
        let out = std::process::Command::new(exe)
            .args([
                "a_refused_io_uring_falls_back_to_epoll_and_an_explicit_request_names_the_reason",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, errno.to_string())
            .env_remove("WAITSET_BACKEND")
            .output()
            .expect("run child");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "child (errno {errno}) failed:\n{text}"
        );
        assert!(
            text.contains("1 passed") && text.contains("refused with"),
            "child did not run the test:\n{text}"
        );
    }
}

/// Refuse `io_uring_setup` in this thread (and the threads it starts) with `errno`.
fn refuse_io_uring(errno: i32) {
    // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
    #[repr(C)]
    struct SockFilter {
        code: u16,
        jt: u8,
        jf: u8,
        k: u32,
    }
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const SockFilter,
    }
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const RET_ERRNO: u32 = 0x0005_0000; // SECCOMP_RET_ERRNO
    const RET_ALLOW: u32 = 0x7fff_0000; // SECCOMP_RET_ALLOW
    let nr = libc::SYS_io_uring_setup as u32;
    let prog = [
        // A = seccomp_data.nr (offset 0)
        SockFilter {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        },
        SockFilter {
            code: JEQ_K,
            jt: 0,
            jf: 1,
            k: nr,
        },
        SockFilter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: RET_ERRNO | (errno as u32 & 0xffff),
        },
        SockFilter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: RET_ALLOW,
        },
    ];
    let fprog = SockFprog {
        len: prog.len() as u16,
        filter: prog.as_ptr(),
    };
    // SAFETY: plain prctl calls; `fprog` and the program it points to outlive the call, which
    // copies the filter into the kernel.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &fprog as *const SockFprog
            ),
            0,
            "seccomp: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn child(errno: i32) {
    refuse_io_uring(errno);
    println!("io_uring_setup refused with errno {errno}");

    // The default backend falls back to epoll, visibly.
    assert_eq!(BackendKind::default(), BackendKind::Epoll);
    let set = WaitSet::new().expect("a default set is made anyway");
    assert_eq!(set.backend(), BackendKind::Epoll);
    // ...and works: a descriptor, a wake-up from another thread.
    let (r, w) = util::pipe();
    set.add(1, util::fd_source(&r), Signals::READABLE).unwrap();
    let waker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        util::write(&w, b"x");
        w
    });
    let mut out = [WaitResult::default(); 2];
    let n = set
        .wait(Deadline::after(Duration::from_secs(10)), &mut out)
        .unwrap();
    assert_eq!((n, out[0].cookie), (1, 1));
    let _w = waker.join().unwrap();
    set.remove(1).unwrap();

    // A PollSet with the default options falls back the same way.
    let mut ps = PollSet::new();
    ps.push(&r, PollFlags::IN).unwrap();
    assert_eq!(ps.poll(Timeout::ZERO, false).unwrap().ready, 1);

    // An explicit request fails with the reason.
    let want = if errno == libc::ENOSYS {
        UnavailableReason::NotImplemented
    } else {
        UnavailableReason::PermissionDenied
    };
    match WaitSet::builder().backend(BackendKind::Uring).build() {
        Err(Error::Unavailable { backend, reason }) => {
            assert_eq!((backend, reason), (BackendKind::Uring, want));
            let e = Error::Unavailable { backend, reason };
            assert_eq!(e.errno(), errno);
            assert!(e.to_string().contains("uring"), "{e}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let opts = waitset::PollOptions::new().backend(BackendKind::Uring);
    let mut ps = PollSet::with_options(opts);
    assert!(matches!(
        ps.push(&r, PollFlags::IN),
        Err(Error::Unavailable {
            backend: BackendKind::Uring,
            ..
        })
    ));
    // WAITSET_BACKEND=uring is an explicit request too.
    std::env::set_var("WAITSET_BACKEND", "uring");
    assert!(matches!(
        WaitSet::new(),
        Err(Error::Unavailable {
            backend: BackendKind::Uring,
            ..
        })
    ));
    std::env::remove_var("WAITSET_BACKEND");
}
