#!/usr/bin/env bash
# End-to-end timing of `certpull fetch` against a real nginx on 127.0.0.1, side by side with
# `openssl s_client`, on a throw-away ECDSA P-256 PKI (root -> intermediate -> leaf) made with the
# openssl CLI (the demo does not write the server key, and nginx needs it).
#
# Measured, each N times (hyperfine when installed, else a bash loop with `date +%s%N`):
#   certpull              fetch + validate to --ca-file + atomic write of cert/chain/fullchain.pem
#   certpull-stdout       the same, PEM to stdout instead of files (shows the cost of the writes)
#   certpull-sysroots     --ca-file plus --system-roots (the system bundle is read and parsed too)
#   certpull-insecure     --insecure without --ca-file (system bundle loaded for the verdict only)
#   openssl               s_client -showcerts -CAfile (handshake + verification, no files)
# then the peak RSS of one run of certpull and of openssl (/usr/bin/time -f %M).
#
# Usage: scripts/bench-fetch.sh [-n RUNS] [--tls12] [--no-hyperfine] [--profile]
#   -n RUNS         runs per command (default 200)
#   --tls12         nginx offers TLS 1.2 only (default: TLS 1.2 and 1.3, so 1.3 is negotiated)
#   --no-hyperfine  use the bash loop even when hyperfine is installed
#   --profile       also `strace -c -f` and `perf stat` one certpull run (when installed)
#
# Everything lives in a temp dir that is removed, and nginx stopped, on any exit.
set -euo pipefail

RUNS=200
USE_HYPERFINE=1
PROFILE=0
PROTOCOLS="TLSv1.2 TLSv1.3" # nginx 1.22's default has no TLSv1.3: name both
NAME=bench.certpull.test

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
        -n)
            [ $# -ge 2 ] || { echo "-n needs a number" >&2; exit 2; }
            RUNS="$2"
            shift 2
            ;;
        -n*) RUNS="${1#-n}"; shift ;;
        --no-hyperfine) USE_HYPERFINE=0; shift ;;
        --tls12) PROTOCOLS="TLSv1.2"; shift ;;
        --profile) PROFILE=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$RUNS" in
    '' | *[!0-9]* | 0) echo "-n wants a positive integer, got '$RUNS'" >&2; exit 2 ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() {
    printf '\n==> %s\n' "$*"
}

# --- clean-up, armed before anything is created -------------------------------------------
TMP=""
NGINX_PID=""
HYPERFINE_PID=""
cleanup() {
    local status=$?
    if [ -n "$HYPERFINE_PID" ] && kill -0 "$HYPERFINE_PID" 2>/dev/null; then
        kill "$HYPERFINE_PID" 2>/dev/null || true
        wait "$HYPERFINE_PID" 2>/dev/null || true
    fi
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    if [ -n "$TMP" ] && [ -d "$TMP" ]; then
        # A run interrupted mid-write may still be renaming files in for a moment: retry.
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            rm -rf -- "$TMP" 2>/dev/null && break
            sleep 0.1
        done
        [ ! -e "$TMP" ] || echo "warning: could not remove $TMP" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools ----------------------------------------------------------------------------------
find_nginx() {
    local candidate
    for candidate in "$(command -v nginx || true)" /usr/sbin/nginx /usr/local/sbin/nginx \
        /usr/local/nginx/sbin/nginx; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}
NGINX=$(find_nginx) || { echo "nginx not found (apt-get install nginx-light)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 1; }

if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        step "Installing the 'time' package (for peak RSS)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq time >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null && apt-get install -y -qq time >/dev/null; }
    else
        echo "warning: /usr/bin/time missing and not root: peak RSS is skipped" >&2
    fi
fi

if [ "$USE_HYPERFINE" -eq 1 ] && ! command -v hyperfine >/dev/null; then
    echo "note: hyperfine not installed (apt-get install hyperfine); using a bash loop" >&2
    USE_HYPERFINE=0
fi

# --- build ----------------------------------------------------------------------------------
step "Building certpull (release)"
cargo build --release -p certpull
BIN="$PWD/target/release/certpull"
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/certpull-bench.XXXXXX")

# --- PKI: root -> intermediate -> ECDSA P-256 leaf ------------------------------------------
step "Test PKI (openssl, ECDSA P-256) in $TMP/pki"
PKI="$TMP/pki"
mkdir -p "$PKI"
(
    cd "$PKI"
    genkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
    serial() { echo "0x$(openssl rand -hex 12)"; }

    cat >root.ext <<'EOF'
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
    cat >mid.ext <<'EOF'
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
    cat >leaf.ext <<EOF
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:$NAME
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

    genkey root.key
    openssl req -new -key root.key -subj "/CN=certpull bench root" -out root.csr
    openssl x509 -req -in root.csr -signkey root.key -days 30 -sha256 \
        -set_serial "$(serial)" -extfile root.ext -out ca.pem 2>/dev/null

    genkey mid.key
    openssl req -new -key mid.key -subj "/CN=certpull bench intermediate" -out mid.csr
    openssl x509 -req -in mid.csr -CA ca.pem -CAkey root.key -days 30 -sha256 \
        -set_serial "$(serial)" -extfile mid.ext -out mid.pem 2>/dev/null

    genkey leaf.key
    openssl req -new -key leaf.key -subj "/CN=$NAME" -out leaf.csr
    openssl x509 -req -in leaf.csr -CA mid.pem -CAkey mid.key -days 30 -sha256 \
        -set_serial "$(serial)" -extfile leaf.ext -out leaf.pem 2>/dev/null

    cat leaf.pem mid.pem >fullchain.pem
    openssl verify -CAfile ca.pem -untrusted mid.pem leaf.pem >/dev/null
)
CA="$PKI/ca.pem"

# --- nginx on a free loopback port ----------------------------------------------------------
free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_nginx() {
    local ng="$TMP/nginx" port
    mkdir -p "$ng"
    port=$(free_port) || return 1
    cat >"$ng/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $ng/nginx.pid;
error_log $ng/error.log warn;
events {}
http {
    access_log off;
    client_body_temp_path $ng/client_body;
    proxy_temp_path $ng/proxy;
    fastcgi_temp_path $ng/fastcgi;
    uwsgi_temp_path $ng/uwsgi;
    scgi_temp_path $ng/scgi;
    server {
        listen 127.0.0.1:$port ssl;
        server_name $NAME;
        ssl_certificate $PKI/fullchain.pem;
        ssl_certificate_key $PKI/leaf.key;
        ssl_protocols $PROTOCOLS;
        ssl_session_cache off;
        ssl_session_tickets off;
        location / { return 200 "certpull bench\n"; }
    }
}
EOF
    "$NGINX" -p "$ng" -c "$ng/nginx.conf" -e "$ng/error.log" </dev/null >"$ng/stdout.log" 2>&1 &
    NGINX_PID=$!
    for _ in $(seq 1 100); do
        if ! kill -0 "$NGINX_PID" 2>/dev/null; then
            wait "$NGINX_PID" 2>/dev/null || true
            NGINX_PID=""
            return 1
        fi
        if port_open "$port"; then
            PORT=$port
            return 0
        fi
        sleep 0.05
    done
    kill "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=""
    return 1
}

step "Starting nginx ($("$NGINX" -v 2>&1 | sed 's/^nginx version: //'))"
PORT=""
for attempt in 1 2 3 4 5; do
    if start_nginx; then
        break
    fi
    echo "nginx did not start (attempt $attempt); error log:" >&2
    tail -n 5 "$TMP/nginx/error.log" "$TMP/nginx/stdout.log" >&2 2>/dev/null || true
done
[ -n "$PORT" ] || { echo "could not start nginx" >&2; exit 1; }
ADDR="127.0.0.1:$PORT"
echo "nginx pid $NGINX_PID on $ADDR"

# --- the commands -----------------------------------------------------------------------------
OUT="$TMP/out"
mkdir -p "$OUT/files" "$OUT/sysroots" "$OUT/insecure"
CMD_CERTPULL="$BIN fetch $NAME --connect $ADDR --ca-file $CA --out-dir $OUT/files"
CMD_STDOUT="$BIN fetch $NAME --connect $ADDR --ca-file $CA"
CMD_SYSROOTS="$BIN fetch $NAME --connect $ADDR --ca-file $CA --system-roots --out-dir $OUT/sysroots"
CMD_INSECURE="$BIN fetch $NAME --connect $ADDR --insecure --out-dir $OUT/insecure"
CMD_OPENSSL="openssl s_client -connect $ADDR -servername $NAME -showcerts -CAfile $CA"
LABELS=(certpull certpull-stdout certpull-sysroots certpull-insecure openssl)
COMMANDS=("$CMD_CERTPULL" "$CMD_STDOUT" "$CMD_SYSROOTS" "$CMD_INSECURE" "$CMD_OPENSSL")

# Commands are plain words (no quoting needed: the temp dir has no spaces); run one as such.
run_words() {
    # shellcheck disable=SC2086
    $1 </dev/null >/dev/null 2>&1
}

step "Sanity checks"
$CMD_CERTPULL --json </dev/null >"$TMP/fetch.json"
for f in cert.pem chain.pem fullchain.pem; do
    [ -s "$OUT/files/$f" ] || { echo "certpull did not write $f" >&2; exit 1; }
done
cmp -s "$OUT/files/fullchain.pem" "$PKI/fullchain.pem" ||
    { echo "fullchain.pem differs from what nginx serves" >&2; exit 1; }
if command -v jq >/dev/null; then
    echo "certpull: $(jq -r '[.protocol_version // empty, .cipher_suite // empty] | join(" ")' \
        "$TMP/fetch.json" 2>/dev/null || true) (fullchain.pem matches what nginx serves)"
else
    echo "certpull: fullchain.pem matches what nginx serves"
fi
for i in "${!COMMANDS[@]}"; do
    [ "${LABELS[$i]}" = certpull-insecure ] && continue # a warning on stderr, exit 0 checked below
    run_words "${COMMANDS[$i]}" || { echo "${LABELS[$i]} failed: ${COMMANDS[$i]}" >&2; exit 1; }
done
run_words "$CMD_INSECURE" || { echo "certpull-insecure failed" >&2; exit 1; }
# shellcheck disable=SC2086
S_CLIENT=$($CMD_OPENSSL -brief </dev/null 2>&1 || true)
echo "openssl:  $(printf '%s\n' "$S_CLIENT" | grep -E '^(Protocol version|Ciphersuite|Verification):' |
    sed 's/^[^:]*: *//' | paste -sd' ' -)"
printf '%s\n' "$S_CLIENT" | grep -q '^Verification: OK' ||
    { echo "openssl s_client did not verify the chain:"; printf '%s\n' "$S_CLIENT"; exit 1; } >&2

# --- timing -----------------------------------------------------------------------------------
declare -A MEAN_MS=()
declare -A SD_MS=()
if [ "$USE_HYPERFINE" -eq 1 ]; then
    step "hyperfine, $RUNS runs each (5 warm-up, no intermediate shell)"
    args=()
    for i in "${!COMMANDS[@]}"; do
        args+=(-n "${LABELS[$i]}" "${COMMANDS[$i]}")
    done
    # In the background and waited for, so that a TERM to this script is acted on at once.
    hyperfine -N --warmup 5 --runs "$RUNS" --style basic \
        --export-csv "$TMP/hyperfine.csv" "${args[@]}" </dev/null &
    HYPERFINE_PID=$!
    wait "$HYPERFINE_PID"
    HYPERFINE_PID=""
    # command,mean,stddev,median,user,system,min,max (seconds)
    while IFS=, read -r label mean sd _; do
        MEAN_MS[$label]=$(awk -v s="$mean" 'BEGIN { printf "%.3f", s * 1000 }')
        SD_MS[$label]=$(awk -v s="$sd" 'BEGIN { printf "%.3f", s * 1000 }')
    done < <(tail -n +2 "$TMP/hyperfine.csv")
else
    step "bash loop, $RUNS runs each (5 warm-up; includes bash's fork+exec per run)"
    for i in "${!COMMANDS[@]}"; do
        for _ in 1 2 3 4 5; do run_words "${COMMANDS[$i]}"; done
        start=$(date +%s%N)
        for _ in $(seq 1 "$RUNS"); do run_words "${COMMANDS[$i]}"; done
        end=$(date +%s%N)
        MEAN_MS[${LABELS[$i]}]=$(awk -v ns=$((end - start)) -v n="$RUNS" \
            'BEGIN { printf "%.3f", ns / n / 1e6 }')
        SD_MS[${LABELS[$i]}]="n/a"
    done
fi

# --- peak RSS -----------------------------------------------------------------------------------
declare -A RSS_KB=()
if [ -x /usr/bin/time ]; then
    for i in "${!COMMANDS[@]}"; do
        # shellcheck disable=SC2086
        /usr/bin/time -f %M -o "$TMP/rss" ${COMMANDS[$i]} </dev/null >/dev/null 2>&1 || true
        RSS_KB[${LABELS[$i]}]=$(tail -n 1 "$TMP/rss")
    done
fi

# --- report -------------------------------------------------------------------------------------
step "Results: $RUNS runs each against nginx on $ADDR"
printf '%-19s %12s %10s %10s %14s\n' command "mean ms/run" "± sd ms" "runs/s" "peak RSS KiB"
for label in "${LABELS[@]}"; do
    printf '%-19s %12s %10s %10s %14s\n' "$label" "${MEAN_MS[$label]}" "${SD_MS[$label]}" \
        "$(awk -v m="${MEAN_MS[$label]}" 'BEGIN { printf "%.1f", 1000 / m }')" \
        "${RSS_KB[$label]:-n/a}"
done
echo
awk -v o="${MEAN_MS[openssl]}" -v c="${MEAN_MS[certpull]}" \
    'BEGIN { printf "ratio openssl / certpull (wall time per run): %.2f  (>1: certpull is faster)\n", o / c }'
awk -v f="${MEAN_MS[certpull]}" -v s="${MEAN_MS[certpull-stdout]}" \
    'BEGIN { printf "file writes (3 files, atomic):               %+.3f ms/run\n", f - s }'
awk -v r="${MEAN_MS[certpull-sysroots]}" -v c="${MEAN_MS[certpull]}" \
    'BEGIN { printf "system roots (--system-roots) on top:        %+.3f ms/run\n", r - c }'
awk -v i="${MEAN_MS[certpull-insecure]}" -v c="${MEAN_MS[certpull]}" \
    'BEGIN { printf "--insecure (system roots, no --ca-file) vs --ca-file: %+.3f ms/run\n", i - c }'

# --- optional profile of one run ----------------------------------------------------------------
if [ "$PROFILE" -eq 1 ]; then
    if command -v strace >/dev/null; then
        step "strace -c -f, one certpull run"
        # shellcheck disable=SC2086
        strace -c -f -o "$TMP/strace.txt" $CMD_CERTPULL </dev/null >/dev/null 2>&1 || true
        cat "$TMP/strace.txt"
    fi
    if command -v perf >/dev/null; then
        step "perf stat, 20 certpull runs"
        # shellcheck disable=SC2086
        perf stat -r 20 -e task-clock,context-switches,page-faults,cycles,instructions \
            $CMD_CERTPULL </dev/null >/dev/null 2>"$TMP/perf.txt" || true
        cat "$TMP/perf.txt"
    fi
fi
