//! Build facts recorded in every `bench.json`: the compiler's version and the commit the
//! sources came from.
//!
//! The commit is read from `.cargo_vcs_info.json` in a packaged crate (what `cargo install`
//! builds), else asked of git for a checkout; "unknown" when neither says.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = output(Command::new(&rustc).arg("-V")).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=WAITSET_BENCH_RUSTC={version}");

    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let commit = packaged_commit(&dir)
        .or_else(|| git_commit(&dir))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=WAITSET_BENCH_COMMIT={commit}");
    println!("cargo:rerun-if-changed=build.rs");
}

/// The trimmed stdout of `cmd` when it succeeds.
fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// `git.sha1` of the `.cargo_vcs_info.json` that `cargo package` writes (with `-dirty` when
/// the tree it packed had changes).
fn packaged_commit(dir: &Path) -> Option<String> {
    let info = dir.join(".cargo_vcs_info.json");
    watch(&info);
    let text = std::fs::read_to_string(info).ok()?;
    let sha = field(&text, "sha1")?;
    let dirty = text.contains("\"dirty\": true") || text.contains("\"dirty\":true");
    Some(if dirty { format!("{sha}-dirty") } else { sha })
}

/// The string value of `"key": "..."` in a small JSON text (no JSON parser at build time).
fn field(text: &str, key: &str) -> Option<String> {
    let at = text.find(&format!("\"{key}\""))?;
    let rest = &text[at + key.len() + 2..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    Some(rest[start..start + len].to_string())
}

/// `git rev-parse HEAD` in a checkout; reruns when HEAD or the branch it names moves.
fn git_commit(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| output(Command::new("git").arg("-C").arg(dir).args(args));
    let sha = git(&["rev-parse", "HEAD"])?;
    let path = |p: &str| git(&["rev-parse", "--path-format=absolute", "--git-path", p]);
    let mut watched = vec![path("HEAD"), path("packed-refs")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        // While the branch lives only in packed-refs its loose file does not exist (and
        // cannot be watched); the next commit creates it, which changes its directory.
        let loose = path(&branch);
        if let Some(dir) = loose.as_deref().and_then(|p| Path::new(p).parent()) {
            watched.push(Some(dir.display().to_string()));
        }
        watched.push(loose);
    }
    for p in watched.into_iter().flatten() {
        watch(Path::new(&p));
    }
    Some(sha)
}

/// Rerun when `path` changes. Only for a file that exists: cargo reruns a build script that
/// names a missing file on every build.
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
