//! `waitset run --dir HOST::GUEST`: an ordinary C program (guests/fs_tour.c) creates, writes,
//! seeks, reads, lists, renames and removes files under a preopened directory, and every escape
//! it tries — `..`, an absolute path, a symlink pointing out — fails.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::{assert_lines_eq, guest, run, waitset};

/// `root/sandbox` (with `link_out -> ../outside`) next to `root/outside/secret`.
fn sandbox(tag: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("waitset-fs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("sandbox")).unwrap();
    std::fs::create_dir_all(root.join("outside")).unwrap();
    std::fs::write(root.join("outside/secret"), b"secret").unwrap();
    std::os::unix::fs::symlink("../outside", root.join("sandbox/link_out")).unwrap();
    root
}

const TOUR: &str = "fopen_w+: ok
ftell_after_write: 15
read_back: hello, preopen
lseek_cur: 15
mkdir: ok
rename: ok
stat_moved: ok
size_moved: 15
opendir: ok
entry: moved.txt
entries_with_dots: 3
unlink: ok
rmdir: ok
escape_dotdot: Operation not permitted
escape_absolute: Capabilities insufficient
escape_symlink: Operation not permitted
done: yes
";

fn tour(root: &std::path::Path, stdin: Stdio) -> common::Output {
    let dir = format!("{}::/data", root.join("sandbox").display());
    run(
        waitset()
            .arg("run")
            .args(["--dir", &dir])
            .arg(guest("fs_tour.wasm")),
        stdin,
    )
}

#[test]
fn a_guest_reads_writes_and_lists_files_under_dir_and_cannot_escape_it() {
    let root = sandbox("tour");
    let out = tour(&root, Stdio::null());
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    let (first, rest) = out.stdout.split_once('\n').unwrap();
    assert!(first.starts_with("stdin_tell: "), "{first}");
    assert_lines_eq(rest, TOUR);
    // Nothing outside changed; nothing is left inside.
    assert_eq!(
        std::fs::read(root.join("outside/secret")).unwrap(),
        b"secret"
    );
    let left: Vec<_> = std::fs::read_dir(root.join("sandbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("link_out")]);
    std::fs::remove_dir_all(&root).unwrap();
}

/// `lseek(fd, 0, SEEK_CUR)` is `fd_tell`: ESPIPE on a pipe, the position on a file (it used to be
/// ENOSYS although the host granted FD_TELL).
#[test]
fn fd_tell_on_a_pipe_is_espipe_and_on_a_file_is_the_position() {
    let root = sandbox("tell");
    let (r, _w) = common::pipe();
    let out = tour(&root, Stdio::from(r));
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stdout.starts_with("stdin_tell: Invalid seek\n"),
        "{}",
        out.stdout
    );

    let file = root.join("stdin.txt");
    std::fs::write(&file, b"some bytes").unwrap();
    let out = tour(&root, Stdio::from(std::fs::File::open(&file).unwrap()));
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert!(out.stdout.starts_with("stdin_tell: 0\n"), "{}", out.stdout);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_dir_that_cannot_be_opened_is_status_2() {
    let out = run(
        waitset()
            .arg("run")
            .args(["--dir", "/nonexistent/waitset-dir::/x"])
            .arg(guest("fs_tour.wasm")),
        Stdio::null(),
    );
    assert_eq!(out.code(), Some(2));
    assert!(
        out.stderr.contains("/nonexistent/waitset-dir"),
        "{}",
        out.stderr
    );
}
