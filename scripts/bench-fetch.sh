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
# shellcheck source=scripts/lib/bench-common.sh
. scripts/lib/bench-common.sh

bench_require_tools
if [ "$USE_HYPERFINE" -eq 1 ] && ! command -v hyperfine >/dev/null; then
    echo "note: hyperfine not installed (apt-get install hyperfine); using a bash loop" >&2
    USE_HYPERFINE=0
fi

bench_build_release
bench_init certpull-bench
BENCH_PROTOCOLS="$PROTOCOLS"
bench_make_pki

# --- nginx on a free loopback port ----------------------------------------------------------
step "Starting nginx ($("$NGINX" -v 2>&1 | sed 's/^nginx version: //'))"
PORT=""
mkdir -p "$TMP/nginx"
for attempt in 1 2 3 4 5; do
    candidate=$(bench_free_port) || continue
    echo "listen 127.0.0.1:$candidate ssl;" >"$TMP/nginx/listen.conf"
    if bench_start_nginx 127.0.0.1 "$candidate"; then
        PORT=$candidate
        break
    fi
    echo "nginx did not start (attempt $attempt); error log:" >&2
    bench_nginx_log_tail
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
bench_openssl_check "$ADDR"

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
    bench_wait_for hyperfine -N --warmup 5 --runs "$RUNS" --style basic \
        --export-csv "$TMP/hyperfine.csv" "${args[@]}" </dev/null
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
