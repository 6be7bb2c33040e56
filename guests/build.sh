#!/usr/bin/env bash
# Builds every guests/*.c into guests/*.wasm with Debian's clang + wasi-libc:
#
#   apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32
#   guests/build.sh           # rebuild the committed .wasm files
#   guests/build.sh --check   # rebuild into a temporary directory and fail if any differs
#
# The .wat guests are not built: `waitset run` accepts text modules directly.
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
exit $status
