#!/usr/bin/env bash
# The fleet-audit benchmark: `certpull check` against N distinct endpoints of a local nginx on
# loopback, side by side with the same work done by `openssl s_client` run through
# `xargs -P CONCURRENCY`, on a throw-away ECDSA P-256 PKI (root -> intermediate -> leaf).
#
# `check` pulls each distinct address:port once (duplicates are merged), so nginx listens on
# PORTS ports of as many 127.1.x.y addresses as needed for the largest N (all on loopback; one
# listening socket per endpoint). Every handshake is TLS 1.3 (nginx offers 1.2 and 1.3), with
# the chain validated to the test root by both clients (certpull --ca-file, s_client -CAfile
# -verify_return_error); nginx has session caching and tickets off, so none is resumed.
#
# For each N: wall time, handshakes per second, peak RSS (certpull: /usr/bin/time; openssl: the
# biggest single process, and the sampled sum of all running at once), CPU time of the client
# and of nginx (from /proc), and the CPU other processes on the machine used meanwhile (the
# machine is shared: a busy neighbour lowers every figure).
#
# Usage: scripts/bench-check.sh [-n "1000 10000"] [-c 64] [--ports 10] [-r RUNS] [--profile]
#                               [--no-openssl]
#   -n SIZES        endpoint counts to run (default "1000 10000")
#   -c N            concurrency of both clients (check --concurrency, xargs -P; default 64)
#   --ports P       nginx ports per address (default 10)
#   -r RUNS         runs per size and client (default 1)
#   --workers W     nginx worker processes (default 2)
#   --profile       then profile one certpull run: perf (cpu-clock samples, by category),
#                   strace -c (syscalls); valgrind --tool=callgrind on 200 endpoints with
#                   --callgrind (slow)
#   --profile-n N   endpoints of the profiled perf/strace run (default 2000, at most the largest -n)
#   --callgrind     with --profile, also run callgrind
#   --no-openssl    certpull only
#
# Everything lives in a temp dir that is removed, and nginx stopped, on any exit. Each run is
# bounded: certpull by its per-endpoint --timeout, each client run by `timeout`.
set -euo pipefail

SIZES="1000 10000"
CONCURRENCY=64
PORTS=10
RUNS=1
WORKERS=2
PROFILE=0
PROFILE_N=2000
CALLGRIND=0
OPENSSL=1
NAME=bench.certpull.test
# A whole client run may take no longer than this (10,000 s_client processes take ~1 min).
RUN_LIMIT=900

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

positive() {
    case "$2" in
        '' | *[!0-9]* | 0) echo "$1 wants a positive integer, got '$2'" >&2; exit 2 ;;
    esac
}

while [ $# -gt 0 ]; do
    case "$1" in
        -n | -c | --ports | -r | --workers | --profile-n)
            [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; }
            case "$1" in
                -n) SIZES="$2" ;;
                -c) CONCURRENCY="$2" ;;
                --ports) PORTS="$2" ;;
                -r) RUNS="$2" ;;
                --workers) WORKERS="$2" ;;
                --profile-n) PROFILE_N="$2" ;;
            esac
            shift 2
            ;;
        --profile) PROFILE=1; shift ;;
        --callgrind) CALLGRIND=1; shift ;;
        --no-openssl) OPENSSL=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
MAX=0
for size in $SIZES; do
    positive -n "$size"
    [ "$size" -le 60000 ] || { echo "-n: at most 60000 endpoints" >&2; exit 2; }
    [ "$size" -gt "$MAX" ] && MAX=$size
done
[ "$MAX" -gt 0 ] || { echo "-n: no sizes" >&2; exit 2; }
positive -c "$CONCURRENCY"
[ "$CONCURRENCY" -le 4096 ] || { echo "-c: at most 4096 (check --concurrency)" >&2; exit 2; }
positive --ports "$PORTS"
positive -r "$RUNS"
positive --workers "$WORKERS"
positive --profile-n "$PROFILE_N"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/bench-common.sh
. scripts/lib/bench-common.sh

bench_require_tools
command -v timeout >/dev/null || { echo "timeout (coreutils) not found" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is needed for peak RSS (apt-get install time)" >&2; exit 1; }
bench_build_release
bench_init certpull-bench-check
bench_make_pki

# --- endpoints: PORTS ports on each of ceil(MAX / PORTS) loopback addresses -------------------
ADDRESSES=$(((MAX + PORTS - 1) / PORTS))
address_of() { echo "127.1.$(($1 / 250)).$(($1 % 250 + 1))"; }

# PORTS consecutive ports below the ephemeral range, with no listener on any address.
pick_ports() {
    local used base p clash
    used=$(ss -Htln 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u)
    for _ in $(seq 1 50); do
        base=$((20000 + RANDOM % (12000 - PORTS)))
        clash=0
        for p in $(seq "$base" $((base + PORTS - 1))); do
            if grep -qx "$p" <<<"$used"; then clash=1; break; fi
        done
        [ "$clash" -eq 0 ] && { echo "$base"; return 0; }
    done
    return 1
}

# One listening socket per endpoint: nginx needs a connection slot and a descriptor for each.
NLISTEN=$((ADDRESSES * PORTS))
NGINX_WORKERS=$WORKERS
NGINX_CONNECTIONS=$((NLISTEN + 4 * CONCURRENCY + 1024))
NGINX_NOFILE=$((NGINX_CONNECTIONS + 1024))
ulimit -n "$NGINX_NOFILE" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -gt "$NLISTEN" ] ||
    { echo "open files limit $(ulimit -n) is below the $NLISTEN listening sockets" >&2; exit 1; }

step "Starting nginx ($("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $WORKERS workers) on $NLISTEN endpoints"
mkdir -p "$TMP/nginx"
BASE=""
for attempt in 1 2 3 4 5; do
    candidate=$(pick_ports) || continue
    : >"$TMP/nginx/listen.conf"
    : >"$TMP/endpoints"
    for ((a = 0; a < ADDRESSES; a++)); do
        ip=$(address_of "$a")
        for ((p = candidate; p < candidate + PORTS; p++)); do
            echo "listen $ip:$p ssl;" >>"$TMP/nginx/listen.conf"
            echo "$ip:$p" >>"$TMP/endpoints"
        done
    done
    last=$(tail -n 1 "$TMP/endpoints")
    started=$(date +%s%N)
    if START_SECONDS=60 bench_start_nginx "${last%:*}" "${last##*:}"; then
        BASE=$candidate
        break
    fi
    echo "nginx did not start (attempt $attempt); error log:" >&2
    bench_nginx_log_tail
done
[ -n "$BASE" ] || { echo "could not start nginx" >&2; exit 1; }
echo "nginx pid $NGINX_PID: 127.1.0.1 .. $(address_of $((ADDRESSES - 1))), ports $BASE..$((BASE + PORTS - 1))" \
    "(listening after $((($(date +%s%N) - started) / 1000000)) ms)"

# --- CPU accounting from /proc -------------------------------------------------------------------
HZ=$(getconf CLK_TCK)
# utime + stime (ticks) of nginx: the master and its workers.
nginx_ticks() {
    local pid total=0 fields
    for pid in "$NGINX_PID" $(pgrep -P "$NGINX_PID" 2>/dev/null || true); do
        fields=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        # shellcheck disable=SC2086
        set -- $fields
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}
# Busy ticks of the whole machine (all but idle and iowait).
machine_ticks() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# --- the clients ----------------------------------------------------------------------------------
targets_file() {
    local n=$1 file="$TMP/targets-$1"
    [ -f "$file" ] || head -n "$n" "$TMP/endpoints" >"$file"
    echo "$file"
}

# Fields of /usr/bin/time -v output: "Maximum resident set size (kbytes): 1234" -> 1234.
time_field() {
    awk -F': ' -v key="$2" 'index($0, key) { v = $2 } END { print v }' "$1"
}

declare -a ROWS=()

# Starts the clocks of one client run: wall time, nginx's CPU, the machine's busy time.
measure_start() {
    NG0=$(nginx_ticks)
    M0=$(machine_ticks)
    T0=$(date +%s%N)
}

# Stops them.
measure_stop() {
    T1=$(date +%s%N)
    NG1=$(nginx_ticks)
    M1=$(machine_ticks)
}

# Records one result row of the last measured run (client n wall_ns ok rss_kb sum_rss_kb
# client_cpu_s nginx_cpu_s other_cpu_s). Usage: measure_end CLIENT N OK TIME_V_FILE SUM_RSS_KB
measure_end() {
    local cpu nginx_cpu other
    cpu=$(awk -v u="$(time_field "$4" 'User time')" -v s="$(time_field "$4" 'System time')" \
        'BEGIN { printf "%.2f", u + s }')
    nginx_cpu=$(awk -v t=$((NG1 - NG0)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }')
    other=$(awk -v t=$((M1 - M0)) -v hz="$HZ" -v c="$cpu" -v g="$nginx_cpu" \
        'BEGIN { o = t / hz - c - g; if (o < 0) o = 0; printf "%.2f", o }')
    ROWS+=("$1 $2 $((T1 - T0)) $3 $(time_field "$4" 'Maximum resident set size') $5 $cpu $nginx_cpu $other")
}

run_certpull() {
    local n=$1 targets out="$TMP/check-$1" status=0
    targets=$(targets_file "$n")
    measure_start
    bench_wait_for timeout "$RUN_LIMIT" /usr/bin/time -v -o "$out.time" \
        "$BIN" check "$NAME" --targets "$targets" --ca-file "$CA" \
        --concurrency "$CONCURRENCY" --timeout 10s </dev/null >"$out.stdout" 2>"$out.stderr" ||
        status=$?
    measure_stop
    local status_line ok
    status_line=$(head -n 1 "$out.stdout")
    if [ "$status" -eq 0 ] && [ "$status_line" = "OK: $NAME: $n endpoints agree" ]; then
        ok=$n
    else
        echo "certpull check (n=$n) exit $status: $status_line" >&2
        head -n 3 "$out.stderr" >&2
        ok=$(grep -c ' current ' "$out.stdout" || true)
    fi
    measure_end certpull "$n" "$ok" "$out.time" -
}

# The sum of the RSS (KiB) of PARENT's children, sampled every 0.25 s while it runs; the peak
# goes to FILE.
sample_children_rss() {
    local parent=$1 file=$2 peak=0 sum
    while kill -0 "$parent" 2>/dev/null; do
        sum=$(ps -o rss= --ppid "$parent" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
        [ "$sum" -gt "$peak" ] && peak=$sum
        echo "$peak" >"$file"
        sleep 0.25
    done
}

run_openssl() {
    local n=$1 targets out="$TMP/openssl-$1" status=0 xargs_pid sampler=""
    targets=$(targets_file "$n")
    echo 0 >"$out.sum"
    # Appended to (O_APPEND), so that the lines of concurrent processes do not overwrite.
    : >"$out.log"
    measure_start
    # `time` runs xargs, which runs each s_client directly: the sampler watches xargs' children.
    timeout "$RUN_LIMIT" /usr/bin/time -v -o "$out.time" \
        xargs -P "$CONCURRENCY" -I '{}' \
        openssl s_client -connect '{}' -servername "$NAME" -CAfile "$CA" \
        -verify_return_error -brief <"$targets" >>"$out.log" 2>&1 &
    local job=$!
    BENCH_PIDS+=("$job")
    xargs_pid=""
    for _ in $(seq 1 100); do
        xargs_pid=$(pgrep -n -x xargs -P "$(pgrep -n -x time -P "$job" || echo 0)" || true)
        [ -n "$xargs_pid" ] && break
        sleep 0.01
    done
    if [ -n "$xargs_pid" ]; then
        sample_children_rss "$xargs_pid" "$out.sum" &
        sampler=$!
        BENCH_PIDS+=("$sampler")
    fi
    wait "$job" || status=$?
    measure_stop
    [ -n "$sampler" ] && wait "$sampler" 2>/dev/null || true
    BENCH_PIDS=()
    local ok
    # xargs exits 0 only when every s_client did: each completed the handshake and verified.
    if [ "$status" -eq 0 ]; then
        ok=$n
    else
        ok=$(grep -c '^Verification: OK' "$out.log" || true)
    fi
    if [ "$status" -ne 0 ]; then
        echo "openssl run (n=$n): exit $status, $ok of $n verified; first errors:" >&2
        grep -v -e '^Verification' -e '^CONNECTION ESTABLISHED' -e '^Protocol version' \
            -e '^Ciphersuite' -e '^Peer' -e '^Server Temp Key' -e '^Hash used' \
            -e '^Signature type' -e '^Supported' -e '^Shared' -e '^Requested' -e '^DONE' \
            "$out.log" | head -n 3 >&2 || true
    fi
    measure_end openssl "$n" "$ok" "$out.time" "$(cat "$out.sum")"
}

# --- sanity and warm-up ---------------------------------------------------------------------------
step "Sanity checks and warm-up"
first=$(head -n 1 "$TMP/endpoints")
"$BIN" fetch "$NAME" --connect "$first" --ca-file "$CA" </dev/null >"$TMP/fetched.pem"
cmp -s "$TMP/fetched.pem" "$PKI/fullchain.pem" ||
    { echo "certpull fetch from $first differs from what nginx serves" >&2; exit 1; }
bench_openssl_check "$(tail -n 1 "$TMP/endpoints")"
WARM=$((MAX < 500 ? MAX : 500))
run_certpull "$WARM" >/dev/null
[ "$OPENSSL" -eq 1 ] && run_openssl "$((WARM / 5 > 0 ? WARM / 5 : 1))" >/dev/null
ROWS=()
echo "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- the runs, alternating clients --------------------------------------------------------------
for size in $SIZES; do
    for run in $(seq 1 "$RUNS"); do
        step "n=$size, run $run of $RUNS: certpull check --concurrency $CONCURRENCY"
        run_certpull "$size"
        if [ "$OPENSSL" -eq 1 ]; then
            step "n=$size, run $run of $RUNS: xargs -P $CONCURRENCY openssl s_client"
            run_openssl "$size"
        fi
    done
done

# --- report ----------------------------------------------------------------------------------------
step "Results: TLS 1.3, ECDSA P-256 chain of 2 validated to the test root; concurrency $CONCURRENCY;" \
    "nginx $WORKERS workers; $(nproc) CPUs shared by client, server and anything else running"
printf '%-9s %6s %6s %9s %8s %10s %11s %8s %8s %8s %7s\n' client n ok "wall s" "hs/s" \
    "peak RSS" "sum RSS" "client" "nginx" "others" "client"
printf '%-9s %6s %6s %9s %8s %10s %11s %8s %8s %8s %7s\n' "" "" "" "" "" "MiB" "MiB" \
    "CPU s" "CPU s" "CPU s" "ms/hs"
declare -A RATE=()
for row in "${ROWS[@]}"; do
    # shellcheck disable=SC2086
    set -- $row
    client=$1 n=$2 wall=$3 ok=$4 rss=$5 sum=$6 cpu=$7 ngx=$8 other=$9
    rate=$(awk -v ok="$ok" -v ns="$wall" 'BEGIN { printf "%.0f", ok / (ns / 1e9) }')
    # Several runs: the best rate per client and size.
    key="$client/$n"
    if [ -z "${RATE[$key]:-}" ] || [ "$rate" -gt "${RATE[$key]}" ]; then RATE[$key]=$rate; fi
    sum_mib="-"
    [ "$sum" != "-" ] && sum_mib=$(awk -v k="$sum" 'BEGIN { printf "%.1f", k / 1024 }')
    printf '%-9s %6s %6s %9.2f %8s %10.1f %11s %8s %8s %8s %7.3f\n' "$client" "$n" "$ok" \
        "$(awk -v ns="$wall" 'BEGIN { print ns / 1e9 }')" "$rate" \
        "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$sum_mib" "$cpu" "$ngx" "$other" \
        "$(awk -v c="$cpu" -v n="$ok" 'BEGIN { print (n > 0 ? c * 1000 / n : 0) }')"
done
echo
echo "openssl peak RSS: the biggest single s_client process; sum RSS: all running at once (sampled every 0.25 s)."
for size in $SIZES; do
    c=${RATE[certpull/$size]:-}
    o=${RATE[openssl/$size]:-}
    line="n=$size: certpull ${c:-n/a} hs/s"
    if [ -n "$c" ] && [ -n "$o" ] && [ "$o" -gt 0 ]; then
        line="$line, openssl ${o} hs/s, ratio certpull / openssl $(awk -v c="$c" -v o="$o" 'BEGIN { printf "%.2f", c / o }')"
    fi
    echo "$line"
done
for row in "${ROWS[@]}"; do
    # shellcheck disable=SC2086
    set -- $row
    [ "$1" = certpull ] || continue
    rate=$(awk -v ok="$4" -v ns="$3" 'BEGIN { printf "%.0f", ok / (ns / 1e9) }')
    verdict_rate=$([ "$rate" -ge 2000 ] && echo "meets" || echo "MISSES")
    verdict_rss=$([ "$5" -lt $((64 * 1024)) ] && echo "meets" || echo "MISSES")
    echo "target n=$2: >= 2000 hs/s $verdict_rate ($rate); peak RSS < 64 MiB $verdict_rss ($(($5 / 1024)) MiB)"
done

# --- optional profile ------------------------------------------------------------------------------
if [ "$PROFILE" -eq 1 ]; then
    PN=$((MAX < PROFILE_N ? MAX : PROFILE_N))
    PROFILE_CMD=("$BIN" check "$NAME" --targets "$(targets_file "$PN")" --ca-file "$CA"
        --concurrency "$CONCURRENCY" --timeout 10s)
    if command -v perf >/dev/null; then
        step "perf record -e cpu-clock, certpull check of $PN endpoints (user and kernel)"
        if perf record -q -e cpu-clock -F 2000 -o "$TMP/perf.data" -- "${PROFILE_CMD[@]}" \
            </dev/null >/dev/null 2>"$TMP/perf.err"; then
            perf report -i "$TMP/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null |
                grep -E '^ +[0-9.]+%' >"$TMP/perf.txt" || true
            echo "top symbols:"
            head -n 25 "$TMP/perf.txt"
            echo
            echo "by category (share of certpull's samples):"
            awk '
                {
                    pct = $1; sub(/%/, "", pct); line = $0
                    if (line ~ /\[kernel/) cat = "kernel (syscalls, TCP, scheduling)"
                    else if (line ~ /malloc|free|realloc|calloc|_int_|cfree|tcache|sysmalloc|arena/) cat = "allocation (libc malloc/free)"
                    else if (line ~ /ring_core|ring::|p256|nistz|ecp_|sha256_block|sha512_block|aes_|gcm_|chacha|x25519|curve25519|fiat_|fe4_|fe_|ge_|sc_|constant_time|bn_|LIMBS|limbs/) cat = "crypto (ring: P-256, X25519, SHA-2, AES-GCM)"
                    else if (line ~ /memcpy|memmove|memset|memcmp|strlen/) cat = "libc mem* copies"
                    else if (line ~ /webpki|x509|der::|spki|pki_types/) cat = "certificate parsing/path building"
                    else if (line ~ /rustls/) cat = "rustls protocol"
                    else if (line ~ /pthread|clone|futex|__lll|start_thread/) cat = "threads (libc)"
                    else cat = "other (certpull, std, libc)"
                    share[cat] += pct
                }
                END { for (c in share) printf "  %6.2f%%  %s\n", share[c], c }
            ' "$TMP/perf.txt" | sort -rn
        else
            echo "perf record failed: $(head -n 2 "$TMP/perf.err")"
        fi
    fi
    if command -v strace >/dev/null; then
        step "strace -c -f, certpull check of $PN endpoints"
        strace -c -f -o "$TMP/strace.txt" "${PROFILE_CMD[@]}" </dev/null >/dev/null 2>&1 || true
        head -n 22 "$TMP/strace.txt"
    fi
    if [ "$CALLGRIND" -eq 1 ] && command -v valgrind >/dev/null; then
        step "valgrind --tool=callgrind, certpull check of 200 endpoints (inclusive cost, top)"
        valgrind --tool=callgrind --callgrind-out-file="$TMP/callgrind.out" \
            "$BIN" check "$NAME" --targets "$(targets_file 200)" --ca-file "$CA" \
            --concurrency 8 --timeout 60s </dev/null >/dev/null 2>"$TMP/callgrind.err" || true
        callgrind_annotate --inclusive=yes "$TMP/callgrind.out" 2>/dev/null | head -n 45
    fi
fi
