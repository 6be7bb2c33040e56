//! include/waitset.h is generated from this crate by cbindgen and checked in, so C users need no
//! Rust tooling. This test regenerates it and fails when the checked-in copy is stale; run it
//! with `WAITSET_BLESS=1` to rewrite the file.

use std::path::Path;

#[test]
fn header_is_fresh() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = crate_dir.join("../../include/waitset.h");
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let fresh = String::from_utf8(fresh).expect("utf-8");
    if std::env::var_os("WAITSET_BLESS").is_some() {
        std::fs::write(&header, &fresh).expect("write include/waitset.h");
        return;
    }
    let current = std::fs::read_to_string(&header).unwrap_or_default();
    if current != fresh {
        let first = current
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| current.lines().count().min(fresh.lines().count()));
        panic!(
            "include/waitset.h is stale (first difference at line {}); regenerate it with\n  \
             WAITSET_BLESS=1 cargo test -p waitset-capi --test header",
            first + 1
        );
    }
}
