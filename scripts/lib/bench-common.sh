# Shared by the benchmark scripts (scripts/bench-*.sh): sourced, never run.
#
# Provides: step; a clean-up trap (temp dir, nginx, extra background pids) armed by
# bench_init; tool discovery (nginx, openssl, /usr/bin/time); the release build; a throw-away
# ECDSA P-256 PKI (root -> intermediate -> leaf) made with the openssl CLI; free loopback ports;
# and nginx in the foreground with a caller-supplied set of `listen` lines.
#
# The caller sets NAME (the leaf's DNS name) before bench_make_pki, and may set
# BENCH_PROTOCOLS (nginx ssl_protocols; default "TLSv1.2 TLSv1.3").
# shellcheck shell=bash

step() {
    printf '\n==> %s\n' "$*"
}

# --- clean-up, armed before anything is created -------------------------------------------
TMP=""
NGINX_PID=""
# Background jobs running now, to stop (by pid) on exit, e.g. hyperfine or a load run. Empty it
# once they are waited for, so that a recycled pid is never signalled.
BENCH_PIDS=()

bench_stop_pid() {
    local pid=$1
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}

bench_cleanup() {
    local status=$?
    local pid
    for pid in "${BENCH_PIDS[@]}"; do
        bench_stop_pid "$pid"
    done
    bench_stop_pid "$NGINX_PID"
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

# Arms the trap and creates the temp dir ($TMP); PREFIX names it.
bench_init() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
}

# Runs "$@" in the background, waits for it, and returns its status; a TERM to the script is
# acted on at once and the job is stopped by the trap.
bench_wait_for() {
    "$@" &
    local pid=$!
    BENCH_PIDS+=("$pid")
    local status=0
    wait "$pid" || status=$?
    BENCH_PIDS=()
    return "$status"
}

# --- tools ----------------------------------------------------------------------------------
bench_find_nginx() {
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

# Sets NGINX; checks openssl; installs `time` (for peak RSS) when root and missing.
bench_require_tools() {
    NGINX=$(bench_find_nginx) || { echo "nginx not found (apt-get install nginx-light)" >&2; exit 1; }
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
}

# --- build ----------------------------------------------------------------------------------
# Builds the release binary; sets BIN.
bench_build_release() {
    step "Building certpull (release)"
    cargo build --release -p certpull
    BIN="$PWD/target/release/certpull"
    [ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 1; }
}

# --- PKI: root -> intermediate -> ECDSA P-256 leaf for $NAME ----------------------------------
# Writes $TMP/pki/{ca.pem,leaf.key,fullchain.pem,...}; sets PKI and CA.
bench_make_pki() {
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
}

# --- loopback ports and nginx -----------------------------------------------------------------
# A port with no listener on any address a moment ago, in [FROM, FROM+SPAN) (default: 20000 +
# up to 40000).
bench_free_port() {
    local from=${1:-20000} span=${2:-40000} port
    for _ in $(seq 1 50); do
        port=$((from + RANDOM % span))
        if ! ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# True when something accepts TCP on ADDR PORT (default address 127.0.0.1).
bench_port_open() {
    local addr=127.0.0.1 port=$1
    if [ $# -ge 2 ]; then
        addr=$1
        port=$2
    fi
    (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null
}

# Starts nginx in the foreground serving the PKI's chain for $NAME on the `listen` lines in
# $TMP/nginx/listen.conf (the caller writes them), and waits until PROBE_ADDR PROBE_PORT
# accepts. Optional: NGINX_WORKERS (default 1: master_process off), NGINX_CONNECTIONS (default
# 512), NGINX_NOFILE (worker_rlimit_nofile, unset by default). Sets NGINX_PID; returns non-zero
# when nginx exits or does not listen within START_SECONDS (default 10).
bench_start_nginx() {
    local probe_addr=$1 probe_port=$2
    local ng="$TMP/nginx" workers=${NGINX_WORKERS:-1} master=off rlimit=""
    [ "$workers" -gt 1 ] && master=on
    [ -n "${NGINX_NOFILE:-}" ] && rlimit="worker_rlimit_nofile $NGINX_NOFILE;"
    mkdir -p "$ng"
    cat >"$ng/nginx.conf" <<EOF
daemon off;
master_process $master;
worker_processes $workers;
$rlimit
pid $ng/nginx.pid;
error_log $ng/error.log warn;
events { worker_connections ${NGINX_CONNECTIONS:-512}; }
http {
    access_log off;
    client_body_temp_path $ng/client_body;
    proxy_temp_path $ng/proxy;
    fastcgi_temp_path $ng/fastcgi;
    uwsgi_temp_path $ng/uwsgi;
    scgi_temp_path $ng/scgi;
    server {
        include $ng/listen.conf;
        server_name $NAME;
        ssl_certificate $PKI/fullchain.pem;
        ssl_certificate_key $PKI/leaf.key;
        ssl_protocols ${BENCH_PROTOCOLS:-TLSv1.2 TLSv1.3};
        ssl_session_cache off;
        ssl_session_tickets off;
        location / { return 200 "certpull bench\n"; }
    }
}
EOF
    "$NGINX" -p "$ng" -c "$ng/nginx.conf" -e "$ng/error.log" </dev/null >"$ng/stdout.log" 2>&1 &
    NGINX_PID=$!
    local tries=$((${START_SECONDS:-10} * 20))
    for _ in $(seq 1 "$tries"); do
        if ! kill -0 "$NGINX_PID" 2>/dev/null; then
            wait "$NGINX_PID" 2>/dev/null || true
            NGINX_PID=""
            return 1
        fi
        if bench_port_open "$probe_addr" "$probe_port"; then
            return 0
        fi
        sleep 0.05
    done
    bench_stop_pid "$NGINX_PID"
    NGINX_PID=""
    return 1
}

# One `openssl s_client` handshake with ADDR:PORT for $NAME, verified to $CA: prints the
# protocol, suite and verdict, and exits the script unless the chain verified.
bench_openssl_check() {
    local out
    out=$(openssl s_client -connect "$1" -servername "$NAME" -CAfile "$CA" -brief </dev/null 2>&1 || true)
    echo "openssl:  $(printf '%s\n' "$out" | grep -E '^(Protocol version|Ciphersuite|Verification):' |
        sed 's/^[^:]*: *//' | paste -sd' ' -)"
    printf '%s\n' "$out" | grep -q '^Verification: OK' ||
        { echo "openssl s_client did not verify the chain:"; printf '%s\n' "$out"; exit 1; } >&2
}

# The error log of the last nginx start, for messages.
bench_nginx_log_tail() {
    tail -n 5 "$TMP/nginx/error.log" "$TMP/nginx/stdout.log" >&2 2>/dev/null || true
}
