#!/usr/bin/env bash
# The whole certpull test suite, from a fresh Debian machine: system packages, Rust targets and
# components, formatting, lints, native build, all tests, the no_std/wasm build of the core, and
# a check that nothing in the core's wasm dependency graph turns on `std`.
#
# Usage: scripts/test.sh            (as root, or as a user with sudo)
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

step "System packages (nginx-light, openssl, ca-certificates)"
missing=()
for pkg in nginx-light openssl ca-certificates; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
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

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo build -p certpull"
cargo build -p certpull

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace --no-fail-fast"
cargo test --workspace --no-fail-fast

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

step "All checks passed"
