#!/usr/bin/env bash
# The whole certpull test suite, from a fresh Debian machine: system packages (nginx, openssl and
# the real STARTTLS daemons), Rust targets and components, formatting, lints (native and wasm32),
# native build, all tests (the WASM plugins run in wasmtime), the no_std/wasm build of the core,
# a check that nothing in the core's wasm dependency graph turns on `std`, and a short fuzz run of
# every cargo-fuzz target.
#
# Usage: scripts/test.sh            (as root, or as a user with sudo)
#   FUZZ_SECONDS=N          seconds per fuzz target in the smoke run (default 30)
#   CERTPULL_SKIP_FUZZ=1    leave out the fuzz smoke run (CI never sets it)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() {
    printf '\n==> %s\n' "$*"
}

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
else
    SUDO=(sudo)
fi

# nginx and openssl serve the fetch/sync/check tests; the daemons are the real STARTTLS servers
# of tests/tests/starttls.rs (they run on 127.0.0.1 under the tests' own configurations).
packages=(
    nginx-light openssl ca-certificates
    postfix dovecot-imapd dovecot-pop3d dovecot-lmtpd slapd postgresql mariadb-server
    prosody vsftpd
)
step "System packages (${packages[*]})"
missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    # Installing these would start the system's own instances where an init system runs:
    # policy-rc.d (exit 101: "action forbidden") keeps them stopped during the install.
    policy=/usr/sbin/policy-rc.d
    added_policy=false
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
        "${SUDO[@]}" chmod 0755 "$policy"
        added_policy=true
    fi
    install_status=0
    {
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update &&
            "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y \
                --no-install-recommends "${missing[@]}"
    } || install_status=$?
    if [ "$added_policy" = true ]; then
        "${SUDO[@]}" rm -f "$policy"
    fi
    if [ "$install_status" -ne 0 ]; then
        echo "error: apt-get failed ($install_status)" >&2
        exit 1
    fi
else
    echo "all present"
fi
for tool in openssl nginx cargo rustup; do
    if ! command -v "$tool" >/dev/null && ! [ -x "/usr/sbin/$tool" ]; then
        echo "error: $tool not found" >&2
        exit 1
    fi
done

step "Rust target wasm32-unknown-unknown and components rustfmt, clippy"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
for component in rustfmt clippy; do
    if ! rustup component list --installed | grep -q "^${component}"; then
        rustup component add "$component"
    fi
done
rustc --version
cargo --version

step "cargo fmt --check (the workspace, and the fuzz crate's own workspace)"
cargo fmt --all --check
cargo fmt --manifest-path fuzz/Cargo.toml --check

step "cargo build -p certpull"
cargo build -p certpull

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo clippy of the fuzz crate (stable: its targets and helpers, not libFuzzer's flags)"
cargo clippy --manifest-path fuzz/Cargo.toml --locked --all-targets -- -D warnings

step "cargo clippy of the WASM plugins for wasm32 (their proxy-wasm glue builds only there)"
# On their own (-p): unified with native's crates, rustls' `ring` feature would reach the wasm.
cargo clippy -p certpull-wasm -p certpull-proxy --target wasm32-unknown-unknown -- -D warnings

step "cargo test --workspace --no-fail-fast"
# Every STARTTLS daemon was installed above: one that cannot start fails its test.
CERTPULL_REQUIRE_DAEMONS=1 cargo test --workspace --no-fail-fast

step "cargo build -p certpull-core --target wasm32-unknown-unknown"
cargo build -p certpull-core --target wasm32-unknown-unknown

step "No crate in certpull-core's no_std (wasm) graph enables feature \"std\""
# Normal edges only (no dev/build dependencies), proc macros excluded (they run on the host).
tree=$(cargo tree -p certpull-core --target wasm32-unknown-unknown \
    -e normal,features,no-proc-macro --prefix none --no-dedupe)
if [ -z "$tree" ]; then
    echo "error: empty cargo tree output" >&2
    exit 1
fi
if offenders=$(grep -E 'feature "std"' <<<"$tree"); then
    echo "error: the no_std core's dependency graph enables std:" >&2
    sort -u <<<"$offenders" >&2
    echo "(inspect with: cargo tree -p certpull-core --target wasm32-unknown-unknown -e normal,features,no-proc-macro -i CRATE)" >&2
    exit 1
fi
echo "ok: $(grep -c . <<<"$tree") feature-graph lines, none enables std"

step "Fuzz smoke run (every cargo-fuzz target, nightly, ${FUZZ_SECONDS:-30} s each)"
if [ "${CERTPULL_SKIP_FUZZ:-0}" = 1 ]; then
    echo "skipped (CERTPULL_SKIP_FUZZ=1)"
else
    scripts/fuzz-smoke.sh
fi

step "All checks passed"
