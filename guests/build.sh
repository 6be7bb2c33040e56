#!/usr/bin/env bash
# Builds every guests/*.c into guests/*.wasm with Debian's clang + wasi-libc:
#
#   apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32
#   guests/build.sh           # rebuild the committed .wasm files
#   guests/build.sh --check   # rebuild into a temporary directory and fail if any differs
#
# The .wat guests are not built: `waitset run` accepts text modules directly.
#
# Rust guests are the subdirectories with a Cargo.toml (each its own workspace): built for
# wasm32-wasip1 in release mode (`rustup target add wasm32-wasip1`; tokio needs
# `--cfg tokio_unstable` for `net` on WASI) into guests/NAME.wasm, NAME with `-` as `_`. Paths are
# remapped so the bytes do not depend on where the tree or the cargo registry lives; the
# Cargo.lock beside each pins the crates. Skipped with a note when cargo or the target is missing
# (e.g. `guests/build.sh --check` on a machine without the wasm target), unless
# WAITSET_REQUIRE_RUST_GUESTS=1.
#
# Reproducible: no debug info, and wasi-libc's own stripped at link (so no paths; the name
# section stays, for backtraces), sources compiled by their bare file name from this
# directory, -ffile-prefix-map for anything that still names a path. A C file may add flags with
# a line `// build-flags: ...` (the echo server uses it for a larger stack).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
CC=${CC:-clang}
CFLAGS=(--target=wasm32-wasi -O2 -Wall -Wextra -Werror -ffile-prefix-map="$PWD"=. -Wl,--strip-debug)

check=0
if [[ ${1:-} == --check ]]; then
    check=1
fi
outdir=.
if ((check)); then
    outdir=$(mktemp -d)
    trap 'rm -rf "$outdir"' EXIT
fi

status=0
for src in *.c; do
    name=${src%.c}
    extra=()
    flags_line=$(sed -n 's|^// build-flags:[[:space:]]*||p' "$src" | head -n1)
    if [[ -n $flags_line ]]; then
        read -r -a extra <<<"$flags_line"
    fi
    "$CC" "${CFLAGS[@]}" "${extra[@]}" "$src" -o "$outdir/$name.wasm"
    if ((check)); then
        if cmp -s "$outdir/$name.wasm" "$name.wasm"; then
            echo "ok       $name.wasm"
        else
            echo "DIFFERS  $name.wasm (rebuild with guests/build.sh and commit)"
            status=1
        fi
    else
        echo "built    $name.wasm ($(wc -c <"$name.wasm") bytes)"
    fi
done
root=$(cd .. && pwd)
for manifest in */Cargo.toml; do
    [[ -f $manifest ]] || continue
    dir=${manifest%/Cargo.toml}
    name=${dir//-/_}
    if ! command -v cargo >/dev/null || ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
        if [[ ${WAITSET_REQUIRE_RUST_GUESTS:-0} == 1 ]]; then
            echo "MISSING  $name.wasm: cargo or the wasm32-wasip1 target is not installed" >&2
            status=1
        else
            echo "skipped  $name.wasm (no cargo or no wasm32-wasip1 target: rustup target add wasm32-wasip1)"
        fi
        continue
    fi
    registry=${CARGO_HOME:-$HOME/.cargo}/registry/src
    (
        cd "$dir"
        RUSTFLAGS="--cfg tokio_unstable --remap-path-prefix=$registry=/registry --remap-path-prefix=$PWD=." \
            cargo build -q --locked --release --target wasm32-wasip1 --target-dir "$root/target/guests"
    )
    built=$root/target/guests/wasm32-wasip1/release/$dir.wasm
    if ((check)); then
        if cmp -s "$built" "$name.wasm"; then
            echo "ok       $name.wasm"
        else
            echo "DIFFERS  $name.wasm (rebuild with guests/build.sh and commit)"
            status=1
        fi
    else
        cp "$built" "$name.wasm"
        echo "built    $name.wasm ($(wc -c <"$name.wasm") bytes)"
    fi
done
exit $status
