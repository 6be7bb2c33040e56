//! The boundary rule, written once: no panic unwinds into C. Every `extern "C"` entry point runs
//! its body through one of these guards, which turn a caught panic into the face's own error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::status::{ws_status_t, WS_ERR_INTERNAL, WS_OK};

/// The errno a caught panic leaves for an errno-style entry point (the POSIX and SysPoll faces).
pub(crate) const PANIC_ERRNO: i32 = libc::EIO;

/// Run a Magenta-face body: `Ok(())` is [`WS_OK`], `Err(status)` is returned as it is, and a
/// panic is [`WS_ERR_INTERNAL`].
pub(crate) fn status(f: impl FnOnce() -> Result<(), ws_status_t>) -> ws_status_t {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => WS_OK,
        Ok(Err(st)) => st,
        Err(_) => WS_ERR_INTERNAL,
    }
}

/// Run an errno-style body: `Ok(n)` returns `n`, `Err(errno)` sets `errno` and returns -1, and a
/// panic sets [`PANIC_ERRNO`] and returns -1.
pub(crate) fn errno(f: impl FnOnce() -> Result<libc::c_int, i32>) -> libc::c_int {
    let e = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(n)) => return n,
        Ok(Err(e)) => e,
        Err(_) => PANIC_ERRNO,
    };
    errno::set_errno(errno::Errno(e));
    -1
}

/// Run a body whose failure is a default value (a count, a NULL pointer): a panic yields
/// `fallback` too.
pub(crate) fn value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_faces_error() {
        assert_eq!(status(|| panic!("boom")), WS_ERR_INTERNAL);
        assert_eq!(status(|| Err(-11)), -11);
        assert_eq!(status(|| Ok(())), WS_OK);
        errno::set_errno(errno::Errno(0));
        assert_eq!(errno(|| panic!("boom")), -1);
        assert_eq!(errno::errno().0, PANIC_ERRNO);
        assert_eq!(errno(|| Err(libc::EFAULT)), -1);
        assert_eq!(errno::errno().0, libc::EFAULT);
        assert_eq!(errno(|| Ok(3)), 3);
        assert_eq!(value(7usize, || panic!("boom")), 7);
    }

    /// Every exported function goes through a guard: a mechanical check of the source, so that
    /// a new entry point cannot forget it.
    #[test]
    fn every_entry_point_is_guarded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if !line.contains("extern \"C\" fn ws_") {
                    continue;
                }
                // The body up to the closing brace at the item's indentation.
                let indent = line.len() - line.trim_start().len();
                let body: Vec<&str> = lines[i + 1..]
                    .iter()
                    .take_while(|l| !(l.len() > indent && l[indent..].starts_with('}')))
                    .copied()
                    .collect();
                let body = body.join("\n");
                let exempt = body.contains("// guard: none needed");
                assert!(
                    exempt || body.contains("guard::"),
                    "{}:{}: {} does not run its body through a guard",
                    path.display(),
                    i + 1,
                    line.trim()
                );
                checked += 1;
            }
        }
        assert!(checked >= 20, "found only {checked} entry points");
    }
}
