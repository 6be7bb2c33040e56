//! The files workloads 7 and 8 hand to other processes — the guest modules and the peer
//! runner scripts — built into the harness, so that an installed `waitset` binary needs no
//! source tree. `assets/` links to the repository's `guests/` and `scripts/peers/` (one copy
//! of each file in the repository; the package holds their contents).
//!
//! A run writes them to a private temporary directory, removed when the run ends, unless
//! [`BenchConfig::guests_dir`](crate::BenchConfig::guests_dir) /
//! [`peers_dir`](crate::BenchConfig::peers_dir) name directories of the caller's.

use std::path::{Path, PathBuf};

use crate::Error;

/// The guest modules.
pub(crate) const GUESTS: &[(&str, &[u8])] = &[
    (
        "poll_bench.wasm",
        include_bytes!("../assets/poll_bench.wasm"),
    ),
    (
        "echo_server.wasm",
        include_bytes!("../assets/echo_server.wasm"),
    ),
];

/// The peer runner scripts.
pub(crate) const PEERS: &[(&str, &[u8])] = &[
    (
        "run_wasmtime.py",
        include_bytes!("../assets/run_wasmtime.py"),
    ),
    ("run_node.mjs", include_bytes!("../assets/run_node.mjs")),
];

/// A private directory holding copies of built-in files, removed on drop.
pub(crate) struct Unpacked {
    dir: PathBuf,
}

impl Unpacked {
    /// Write `files` into a new directory under the system's temporary directory.
    pub(crate) fn new(files: &[(&str, &[u8])]) -> Result<Unpacked, Error> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = loop {
            let dir = std::env::temp_dir().join(format!(
                "waitset-bench-{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            ));
            // create_dir, not create_dir_all: the directory must be new, and ours.
            match std::fs::create_dir(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let unpacked = Unpacked { dir };
        for (name, bytes) in files {
            std::fs::write(unpacked.dir.join(name), bytes)?;
        }
        Ok(unpacked)
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_files_are_the_real_ones_and_unpack_into_a_private_directory() {
        for (name, bytes) in GUESTS {
            assert!(bytes.starts_with(b"\0asm"), "{name} is a wasm module");
        }
        for (name, bytes) in PEERS {
            assert!(bytes.starts_with(b"#!"), "{name} is a script");
        }
        let (a, b) = (
            Unpacked::new(GUESTS).unwrap(),
            Unpacked::new(GUESTS).unwrap(),
        );
        assert_ne!(a.path(), b.path());
        for (name, bytes) in GUESTS {
            assert_eq!(std::fs::read(a.path().join(name)).unwrap(), *bytes);
        }
        let dir = a.path().to_path_buf();
        drop(a);
        assert!(!dir.exists(), "removed when the run ends");
    }
}
