#!/usr/bin/env bash
# Smoke fuzz of certpull-core: every cargo-fuzz target in fuzz/ for FUZZ_SECONDS seconds each
# (default 30), on the nightly toolchain, after replaying every committed corpus and
# regression input as an ordinary test. Fails if any target finds a crash, a timeout or a
# failed property; the failing input is left in fuzz/artifacts/<target>/.
#
# Usage: scripts/fuzz-smoke.sh [TARGET...]        (default: every target)
#   FUZZ_SECONDS=60         seconds per target
#   FUZZ_SANITIZER=address  build with AddressSanitizer (default: none; core forbids unsafe
#                           code, and uninstrumented builds run 3-5x more executions)
#   FUZZ_TOOLCHAIN=nightly  the toolchain cargo-fuzz runs on
# Needs: rustup with the nightly toolchain, a C++ compiler (libFuzzer), network to crates.io
# the first time (cargo-fuzz and the fuzz crate's dependencies).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${FUZZ_SECONDS:-30}"
sanitizer="${FUZZ_SANITIZER:-none}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
cargo_fuzz_version="0.13.2"

step() {
    printf '\n==> %s\n' "$*"
}

if ! rustup toolchain list | grep -q "^${toolchain}"; then
    echo "error: the ${toolchain} toolchain is not installed (rustup toolchain install ${toolchain})" >&2
    exit 1
fi
if ! cargo "+${toolchain}" fuzz --version >/dev/null 2>&1; then
    step "Installing cargo-fuzz ${cargo_fuzz_version}"
    cargo install cargo-fuzz --version "${cargo_fuzz_version}" --locked
fi
cargo "+${toolchain}" fuzz --version

mapfile -t all_targets < <(cargo "+${toolchain}" fuzz list)
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=("${all_targets[@]}")
fi
if [ "${#targets[@]}" -eq 0 ]; then
    echo "error: no fuzz targets found" >&2
    exit 1
fi

step "Committed corpora and regressions replay (cargo test in fuzz/)"
cargo test --manifest-path fuzz/Cargo.toml --locked

step "cargo +${toolchain} fuzz build -s ${sanitizer}"
cargo "+${toolchain}" fuzz build -s "${sanitizer}"

# New inputs go to a scratch corpus: the committed one stays as it is.
work="$(mktemp -d "${TMPDIR:-/tmp}/certpull-fuzz.XXXXXX")"
trap 'rm -rf "${work}"' EXIT

failed=()
summary=()
for target in "${targets[@]}"; do
    step "fuzz ${target} for ${seconds} s"
    mkdir -p "${work}/${target}"
    corpora=("${work}/${target}" "fuzz/corpus/${target}")
    if [ -d "fuzz/regressions/${target}" ]; then
        corpora+=("fuzz/regressions/${target}")
    fi
    log="${work}/${target}.log"
    status=0
    cargo "+${toolchain}" fuzz run -s "${sanitizer}" "${target}" "${corpora[@]}" -- \
        -max_total_time="${seconds}" -timeout=10 -print_final_stats=1 >"${log}" 2>&1 || status=$?
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "${log}" | tail -n 1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "${log}" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "${log}" | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+' <<<"${done_line}" | tail -n 1 || true)
    ft=$(grep -oE 'ft: [0-9]+' <<<"${done_line}" | tail -n 1 || true)
    if [ "${status}" -ne 0 ]; then
        failed+=("${target}")
        summary+=("$(printf '%-8s FAILED (exit %s)' "${target}" "${status}")")
        tail -n 60 "${log}" >&2
    else
        summary+=("$(printf '%-8s ok  execs %-9s exec/s %-6s %s %s' "${target}" "${execs:-?}" "${rate:-?}" "${cov}" "${ft}")")
    fi
done

step "Summary (${seconds} s per target, sanitizer ${sanitizer})"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "error: fuzz targets failed: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
    exit 1
fi
echo "fuzz-smoke: ${#targets[@]} passed, 0 failed"
