#!/usr/bin/env bash
# The WASM figures: module sizes (as built, after `wasm-opt -Oz`, and gzipped), then the timing
# bench tests/benches/wasm_pull.rs (criterion) against an nginx on 127.0.0.1 that the tests'
# servers module starts: a full pull through certpull.wasm in wasmtime vs the same pull natively
# in process (certpull-core, rustls with ring), compiling the module cold vs loading the cached
# precompiled module, and instantiating it. The timings run for the module as built and for the
# -Oz copy (CERTPULL_WASM_DIR), and the ratio wasm / native is printed.
#
# Targets (the issue's): pull module under 600 KiB after -Oz; a WASM pull within 3x native.
#
# Usage: scripts/bench-wasm.sh [--sizes-only] [--quick] [--opt-z]
#   --sizes-only  build and print sizes, no timings
#   --quick       shorter criterion runs (1 s warm-up, 3 s measurement)
#   --opt-z       also build the modules with opt-level "z" (the workspace uses "s") in their own
#                 target directory, and time the -Oz copy of that build too (comparison only)
#
# The copies and wasm-opt outputs live in a temp dir that is removed on exit.
set -euo pipefail

SIZES_ONLY=0
QUICK=0
OPT_Z=0
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes-only) SIZES_ONLY=1; shift ;;
        --quick) QUICK=1; shift ;;
        --opt-z) OPT_Z=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/bench-common.sh
. scripts/lib/bench-common.sh

command -v wasm-opt >/dev/null || { echo "wasm-opt not found (apt-get install binaryen)" >&2; exit 1; }
command -v gzip >/dev/null || { echo "gzip not found" >&2; exit 1; }
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$PWD/$TARGET_DIR" ;; esac

# The same build as tests/src/wasmhost/mod.rs: both crates, their own target directory, no RUSTFLAGS.
build_modules() {
    local dir=$1
    env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS CARGO_TARGET_DIR="$dir" \
        cargo build -p certpull-wasm -p certpull-proxy --target wasm32-unknown-unknown --release
}

step "Building the WASM modules (release: opt-level \"s\", fat LTO, panic abort)"
build_modules "$TARGET_DIR/wasm-plugin"
bench_init certpull-bench-wasm
RELEASE="$TARGET_DIR/wasm-plugin/wasm32-unknown-unknown/release"
mkdir -p "$TMP/raw" "$TMP/oz"
cp "$RELEASE/certpull.wasm" "$TMP/raw/certpull.wasm"
cp "$RELEASE/certpull_proxy.wasm" "$TMP/raw/certpull-proxy.wasm"

step "wasm-opt -Oz ($(wasm-opt --version))"
for module in certpull certpull-proxy; do
    wasm-opt -Oz "$TMP/raw/$module.wasm" -o "$TMP/oz/$module.wasm"
done

if [ "$OPT_Z" -eq 1 ]; then
    step "Building the WASM modules with opt-level \"z\" (comparison only)"
    CARGO_PROFILE_RELEASE_OPT_LEVEL=z build_modules "$TARGET_DIR/wasm-size-z"
    mkdir -p "$TMP/z-raw" "$TMP/z-oz"
    cp "$TARGET_DIR/wasm-size-z/wasm32-unknown-unknown/release/certpull.wasm" "$TMP/z-raw/certpull.wasm"
    cp "$TARGET_DIR/wasm-size-z/wasm32-unknown-unknown/release/certpull_proxy.wasm" \
        "$TMP/z-raw/certpull-proxy.wasm"
    for module in certpull certpull-proxy; do
        wasm-opt -Oz "$TMP/z-raw/$module.wasm" -o "$TMP/z-oz/$module.wasm"
    done
fi

size_of() { stat -c %s "$1"; }
gz_of() { gzip -9c "$1" | wc -c; }
kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

step "Module sizes (KiB; bytes in parentheses)"
printf '%-22s %-9s %20s %20s %20s %20s\n' module profile raw "-Oz" "gzip -9 raw" "gzip -9 -Oz"
size_row() {
    local module=$1 profile=$2 raw=$3 oz=$4 r o gr go
    r=$(size_of "$raw"); o=$(size_of "$oz"); gr=$(gz_of "$raw"); go=$(gz_of "$oz")
    printf '%-22s %-9s %20s %20s %20s %20s\n' "$module.wasm" "$profile" \
        "$(kib "$r") ($r)" "$(kib "$o") ($o)" "$(kib "$gr") ($gr)" "$(kib "$go") ($go)"
}
for module in certpull certpull-proxy; do
    size_row "$module" 's' "$TMP/raw/$module.wasm" "$TMP/oz/$module.wasm"
    [ "$OPT_Z" -eq 1 ] && size_row "$module" 'z' "$TMP/z-raw/$module.wasm" "$TMP/z-oz/$module.wasm"
done
OZ_PULL=$(size_of "$TMP/oz/certpull.wasm")
if [ "$OZ_PULL" -lt $((600 * 1024)) ]; then
    echo "target: pull module under 600 KiB after -Oz: meets ($(kib "$OZ_PULL") KiB)"
else
    echo "target: pull module under 600 KiB after -Oz: MISSES ($(kib "$OZ_PULL") KiB)"
fi
[ "$SIZES_ONLY" -eq 1 ] && exit 0

# --- timings ----------------------------------------------------------------------------------------
CRITERION_ARGS=()
[ "$QUICK" -eq 1 ] && CRITERION_ARGS=(--warm-up-time 1 --measurement-time 3)

step "Building the timing bench (cargo bench -p certpull-tests --bench wasm_pull)"
cargo bench -p certpull-tests --bench wasm_pull --no-run

VARIANTS=(raw oz)
[ "$OPT_Z" -eq 1 ] && VARIANTS+=(z-oz)
for variant in "${VARIANTS[@]}"; do
    step "Timings with the $variant module (CERTPULL_WASM_DIR=$TMP/$variant)"
    CERTPULL_WASM_DIR="$TMP/$variant" bench_wait_for \
        cargo bench -p certpull-tests --bench wasm_pull -- --save-baseline "$variant" \
        "${CRITERION_ARGS[@]}" </dev/null
done

# Mean (ns) of a criterion benchmark's saved baseline.
mean_ns() {
    local file="$TARGET_DIR/criterion/$1/$2/estimates.json"
    [ -f "$file" ] || { echo "n/a"; return; }
    sed -E 's/.*"mean":\{"confidence_interval":\{[^}]*\},"point_estimate":([0-9.eE+-]+).*/\1/' "$file"
}
ms() { awk -v n="$1" 'BEGIN { if (n == "n/a") print "n/a"; else printf "%.3f", n / 1e6 }'; }

step "Results (criterion means, ms; raw: as built, oz: after wasm-opt -Oz, z-oz: opt-level z + -Oz)"
printf '%-34s' ""
for variant in "${VARIANTS[@]}"; do printf ' %12s' "$variant"; done
echo
for bench in pull/wasm_wasmtime pull/native_ring pull/native_rustcrypto module/compile_cold \
    module/load_cached instance/instantiate; do
    printf '%-34s' "$bench"
    for variant in "${VARIANTS[@]}"; do printf ' %12s' "$(ms "$(mean_ns "$bench" "$variant")")"; done
    echo
done
for variant in "${VARIANTS[@]}"; do
    w=$(mean_ns pull/wasm_wasmtime "$variant")
    n=$(mean_ns pull/native_ring "$variant")
    r=$(mean_ns pull/native_rustcrypto "$variant")
    c=$(mean_ns module/compile_cold "$variant")
    l=$(mean_ns module/load_cached "$variant")
    awk -v w="$w" -v n="$n" -v r="$r" -v c="$c" -v l="$l" -v v="$variant" 'BEGIN {
        if (w == "n/a" || n == "n/a") exit
        ratio = w / n
        printf "%s: per pull wasm / native (ring) = %.2f (target within 3x: %s)", v, ratio,
            (ratio <= 3 ? "meets" : "MISSES")
        if (r != "n/a") printf "; = provider (rustcrypto / ring) %.2f x runtime (wasm / native rustcrypto) %.2f", r / n, w / r
        printf "; compile cold / cached load = %.0fx\n", c / l
    }'
done
