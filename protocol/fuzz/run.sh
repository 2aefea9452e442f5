#!/usr/bin/env bash
# Build every fuzz target of lightspeed-protocol, then run each for a bounded time over its
# committed seed corpus. Exits non-zero if any target finds a failure (the input is saved
# under artifacts/<target>/). See README.md.
#
# Usage: protocol/fuzz/run.sh [seconds-per-target]
# Environment:
#   FUZZ_TIME       seconds per target when no argument is given (default 20)
#   FUZZ_SANITIZER  address (default) or none. cargo fuzz enables ASan with -Zsanitizer, so
#                   on a stable toolchain this script sets RUSTC_BOOTSTRAP=1; "none" needs no
#                   unstable flags at all.
#   FUZZ_WORK_DIR   where new corpus entries go (default target/fuzz-corpus, not committed)
set -euo pipefail

cd "$(dirname "$0")"
secs="${1:-${FUZZ_TIME:-20}}"
sanitizer="${FUZZ_SANITIZER:-address}"
work_dir="${FUZZ_WORK_DIR:-target/fuzz-corpus}"

if ! command -v cargo-fuzz >/dev/null; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
    exit 2
fi
if [[ "$sanitizer" != none ]] && ! rustc --version | grep -q -- '-nightly'; then
    export RUSTC_BOOTSTRAP=1
fi

# Release with debug assertions: fast, and arithmetic overflow still panics.
flags=(--release --debug-assertions --sanitizer "$sanitizer")

mapfile -t targets < <(cargo fuzz list)
echo "fuzz targets: ${targets[*]}"

start=$SECONDS
cargo fuzz build "${flags[@]}"
echo "build: $((SECONDS - start)) s"

failed=()
for target in "${targets[@]}"; do
    seeds="corpus/$target"
    work="$work_dir/$target"
    mkdir -p "$seeds" "$work"
    start=$SECONDS
    # New inputs land in the first directory only, so the committed seeds stay untouched.
    if cargo fuzz run "${flags[@]}" "$target" "$work" "$seeds" -- \
        -max_total_time="$secs" -timeout=10 -print_final_stats=1; then
        echo "$target: ok after $((SECONDS - start)) s"
    else
        echo "$target: FAILED after $((SECONDS - start)) s (see artifacts/$target/)" >&2
        failed+=("$target")
    fi
done

if ((${#failed[@]})); then
    echo "failing targets: ${failed[*]}" >&2
    exit 1
fi
