#!/usr/bin/env bash
# scripts/bench.sh — Switchboard's benchmark harness: the gateway side by side
# with direct gRPC to the same backend, on loopback, in one run.
#
# What it does:
#   1. builds release binaries (switchboard, example-backend, switchboard-loadgen);
#   2. installs wrk if it is missing (apt-get; the wrk figures are skipped if that
#      is impossible);
#   3. starts the example greeter backend, `switchboard serve --config <generated>`
#      and the floor proxy (`switchboard-loadgen floor`, see below);
#   4. measures, each figure the MEDIAN of $RUNS runs, configurations ALTERNATING
#      within each run so machine drift cancels out:
#      - unary small (~100 B JSON) and medium (~10 KB JSON, nested + repeated)
#        POST /v1/echo: req/s, p50, p99 at concurrency $CONC — gateway with wrk
#        (keep-alive, scripts/bench/post.lua), direct gRPC with switchboard-loadgen
#        (tonic, pre-encoded protobuf, one HTTP/2 connection);
#      - added latency at concurrency 1: loadgen HTTP/1.1 -> gateway p50 minus
#        loadgen gRPC -> backend p50 (same client runtime and histogram);
#      - server streaming: messages/s of /helloworld.Greeter/SayHelloStream
#        (count 10000) through the gateway (NDJSON lines) and direct, with the
#        gateway's and the backend's CPU per message in both runs;
#      - gateway CPU per request (utime+stime from /proc/PID/stat around each wrk
#        run, divided by requests served) and peak RSS (VmHWM);
#      - reload storm: 50 POST /reload while wrk runs vs a steady run: failed
#        requests (non-2xx + socket errors) and p99;
#      - table build: RouteTable::build for 100 synthetic backends / 2,000 methods
#        (median of 10 builds), and the RSS of a real gateway with them loaded;
#      - the floor: the same small unary figures (req/s and CPU per request at
#        $CONC with wrk, p50 / added p50 / CPU per request at c=1 with loadgen)
#        through `switchboard-loadgen floor` instead of the gateway.
#      - with PROTOCOLS=1: CPU per small unary call (and req/s) of the same Echo
#        call as REST JSON (POST /v1/echo), Connect JSON and Connect binary
#        (POST /switchboard.testing.v1.Echo/Echo, application/json +
#        Connect-Protocol-Version: 1, application/proto) and gRPC-Web
#        (application/grpc-web+proto), alternating within each run, wrk at $CONC.
#   The floor proxy is the cheapest HTTP/1.1 -> HTTP/2 gRPC proxy we can write
#   on this machine: hyper http1 server, one shared `h2` client connection, a
#   fixed pre-encoded protobuf request per call, a fixed `{"len":N}` answer; no
#   JSON transcoding, routing, balancing or metrics. It splits the gateway's cost
#   into what two loopback hops (HTTP/1.1 in, HTTP/2 out) cost anyway (floor
#   minus direct) and what is ours (gateway minus floor). Its rows put the floor
#   figure in the "gateway" column and say "floor proxy" in the figure name.
#      - the secure edge: CPU per small request (and req/s) at $CONC through a
#        gateway with TLS on the listener (wrk over HTTPS, keep-alive, so the
#        figure is TLS record cost, not handshakes) and through one verifying
#        an RS256 JWT on every request (the key in a JWKS file), alternating
#        with the plaintext gateway in the same runs.
#      - observability: CPU per small request (and req/s) at $CONC through a
#        gateway writing the JSON access log to a file and tracing 100 % of
#        requests (sample_ratio 1.0) to an in-bench OTLP sink
#        (`switchboard-loadgen otlp-sink`, which decodes and counts spans),
#        alternating with the plain gateway (both off) in the same runs.
#      - the other runtime model: a second gateway with the same config plus
#        `runtime: {model: $TWIN_MODEL}` (default `shared`, now that
#        `workers` is the default model; TWIN_MODEL=workers for a build whose
#        default is shared), alternating with the default gateway in the same
#        runs for CPU per small request and req/s at $CONC, CPU per request
#        and added p50 at c=1, server streaming and the Python run; its
#        figures fill the "$TWIN_MODEL" column (CSV: twin_$TWIN_MODEL). Gated
#        on `switchboard check` accepting that config (skipped with a log line
#        when the build does not know the key); WORKERS=0 skips it.
#      - context switches per request (voluntary + nonvoluntary, summed over
#        /proc/PID/task/*/status around each run) for the gateway, its
#        other-model twin and the floor: per-request wake-ups.
#      - third-party backend: the Python grpcio server the tests install
#        (tests/python/inventory_server.py; tests/python/setup.sh is run when
#        .venv is missing, and the run is skipped with a log line if that
#        fails) behind its own gateway (and other-model twin), GET /v1/items/apple
#        with wrk at $PY_CONC, alternating with direct gRPC (loadgen) to the
#        same server: gateway CPU per request, context switches, req/s, p50.
#        The backend bounds the rate, so this is the load where wake-ups, not
#        work, dominate. PYTHON=0 skips it.
#   5. prints the issue-17 targets first, each met / not met, as ratios of
#      figures measured side by side in this run (CPU per small request at
#      $CONC and at c=1 <= 1.5x the floor's; added p50 at c=1 <= 1.5x the
#      floor's added p50; server streaming >= 0.8x direct; fleet RSS <= 30 MiB
#      and its reload peak <= 1.5x steady; table build <= 50 ms; 0 failed
#      requests across the reload storm), for the default gateway and the
#      other runtime model; then every figure as a markdown table; and writes
#      target/bench/results.csv (plus a timestamped copy, the targets as
#      "target: ..." rows, and runs.csv with every individual run).
#
# Usage:  scripts/bench.sh            (about 10 minutes on 2 cores)
#         RUNS=3 DUR=3 scripts/bench.sh   (quicker, noisier)
# Environment (defaults): RUNS=5 DUR=5 (seconds per unary run) LAT_DUR=3
#   STREAM_DUR=3 CONC=32 STREAM_CONC=2 PY_CONC=16 RELOADS=50 PORT_BASE=18480
#   (ports PORT_BASE .. +19, +200.. and +300.. are used; nothing listens on the
#   last two ranges) WORKERS=0 and PYTHON=0 skip the other-model twin and the
#   third-party-backend run; TWIN_MODEL=shared picks the twin's runtime.model.
#   CARGO_TARGET_DIR (default <repo>/target) SKIP_BUILD=1 to reuse binaries.
#   PROTOCOLS=1 adds the protocol comparison (about RUNS x 4 x DUR seconds more).
#   BENCH_ONLY=edge runs only the secure-edge figures (plaintext vs TLS vs JWT
#   CPU per request) and prints their table; EDGE=0 skips them in a full run.
#   BENCH_ONLY=observability runs only the observability figures (access log +
#   100 % tracing vs both off, CPU per request) and prints their table;
#   OBSERVABILITY=0 skips them in a full run.
#   BENCH_ONLY=memory runs only the fleet memory figures (no load, no CPU
#   figures): a gateway serving `switchboard-loadgen fleet` (100 backends x 20
#   methods, descriptor sets as `protoc --include_imports` writes them, each
#   with its google/api and google/protobuf imports): steady RSS, the peak
#   during a SIGHUP reload that rebuilds every backend (VmHWM after resetting
#   it through /proc/PID/clear_refs), and the table build for those 2,000
#   methods. PROFILE=debug measures a debug build (no release build needed;
#   RSS is then larger than an operator's). FLEET_BACKENDS / FLEET_METHODS
#   size the fleet (100 / 20). A full run adds the same rows to its table.
# Requires: cargo, curl, awk; wrk (installed if missing); Linux /proc;
#   openssl and perl for the edge figures' certificate and token.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILE=${PROFILE:-release}
BIN=$TARGET/$PROFILE
OUT=$ROOT/target/bench
RUNS=${RUNS:-5}
DUR=${DUR:-5}
LAT_DUR=${LAT_DUR:-3}
STREAM_DUR=${STREAM_DUR:-3}
CONC=${CONC:-32}
STREAM_CONC=${STREAM_CONC:-2}
RELOADS=${RELOADS:-50}
PORT_BASE=${PORT_BASE:-18480}
BACKEND_ADDR=127.0.0.1:$((PORT_BASE + 0))
GW_PORT=$((PORT_BASE + 1))
ADMIN_PORT=$((PORT_BASE + 2))
BIG_PORT=$((PORT_BASE + 3))
BIG_ADMIN_PORT=$((PORT_BASE + 4))
FLOOR_PORT=$((PORT_BASE + 5))
TLS_PORT=$((PORT_BASE + 6))
TLS_ADMIN_PORT=$((PORT_BASE + 7))
JWT_PORT=$((PORT_BASE + 8))
JWT_ADMIN_PORT=$((PORT_BASE + 9))
OTLP_PORT=$((PORT_BASE + 10))
OBS_PORT=$((PORT_BASE + 11))
OBS_ADMIN_PORT=$((PORT_BASE + 12))
WK_PORT=$((PORT_BASE + 13))
WK_ADMIN_PORT=$((PORT_BASE + 14))
PY_ADDR=127.0.0.1:$((PORT_BASE + 15))
PYGW_PORT=$((PORT_BASE + 16))
PYGW_ADMIN_PORT=$((PORT_BASE + 17))
PYWK_PORT=$((PORT_BASE + 18))
PYWK_ADMIN_PORT=$((PORT_BASE + 19))
PY_CONC=${PY_CONC:-16}
TWIN_MODEL=${TWIN_MODEL:-shared}
GW=http://127.0.0.1:$GW_PORT
ADMIN=http://127.0.0.1:$ADMIN_PORT
WK=http://127.0.0.1:$WK_PORT
FLOOR=http://127.0.0.1:$FLOOR_PORT
NPROC=$(nproc)
CLK_TCK=$(getconf CLK_TCK)
ECHO_PATH=/switchboard.testing.v1.Echo/Echo
STREAM_PATH=/helloworld.Greeter/SayHelloStream

log() { printf '[bench] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- build + tools
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "building $PROFILE binaries into $TARGET"
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build $([[ $PROFILE == release ]] && echo --release) -q \
        -p switchboard -p switchboard-examples -p switchboard-loadgen)
fi
for b in switchboard example-backend switchboard-loadgen; do
    [[ -x $BIN/$b ]] || { log "missing $BIN/$b"; exit 1; }
done

HAVE_WRK=1
if [[ ${BENCH_ONLY:-} == memory ]]; then
    : # no load in the memory figures
elif ! command -v wrk >/dev/null; then
    log "wrk not found; trying apt-get -y install wrk"
    if ! { apt-get -y install wrk >/dev/null 2>&1 || sudo -n apt-get -y install wrk >/dev/null 2>&1; }; then
        log "cannot install wrk: the wrk-based figures (gateway req/s at concurrency $CONC, reload storm) are skipped"
        HAVE_WRK=0
    fi
fi

mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-bench.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

LG=$BIN/switchboard-loadgen
for kind in small medium stream; do
    for fmt in json proto; do "$LG" payload --kind $kind --format $fmt --out "$WORK/$kind.$fmt"; done
done
cp "$ROOT/scripts/bench/post.lua" "$WORK/post.lua"

# ---------------------------------------------------------------- helpers
# kv LINE KEY: the value of KEY=value in LINE.
kv() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2; exit }'; }
# median V...: the median of numbers (mean of the middle two for an even count).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# ctx_switches PID: voluntary + nonvoluntary context switches summed over the
# process's threads (a thread that exits between two reads takes its count
# with it; the runtime's workers live as long as the process).
ctx_switches() {
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '$1 == "voluntary_ctxt_switches:" || $1 == "nonvoluntary_ctxt_switches:" { s += $2 } END { print s + 0 }'
}
proc_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

wait_http() { # URL: wait until it answers 200 (30 s)
    for _ in $(seq 300); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$1" || true) == 200 ]] && return 0
        sleep 0.1
    done
    log "timed out waiting for $1"; return 1
}

# cpu_run PID CMD...: runs CMD, sets LINE to its last output line, CPU_US to
# PID's CPU time (user + system) per request served, in µs, and CTX_PER_REQ to
# its context switches (all threads) per request served.
cpu_run() {
    local pid=$1 c0 c1 x0 x1 reqs
    shift
    x0=$(ctx_switches "$pid")
    c0=$(cpu_ticks "$pid")
    LINE=$("$@" | tail -1)
    c1=$(cpu_ticks "$pid")
    x1=$(ctx_switches "$pid")
    reqs=$(kv "$LINE" requests)
    CPU_US=$(calc "($c1 - $c0) * 1e6 / $CLK_TCK / (${reqs:-0} > 0 ? ${reqs:-0} : 1)" 2)
    CTX_PER_REQ=$(calc "($x1 - $x0) / (${reqs:-0} > 0 ? ${reqs:-0} : 1)" 2)
    LINE="$LINE cpu_ticks=$((c1 - c0)) ctx_switches=$((x1 - x0))"
}

RAW=$OUT/runs.csv
echo "section,config,run,result" >"$RAW"
raw() { echo "$1,$2,$3,\"$4\"" >>"$RAW"; }

# wrk_run URL BODYFILE CONC SECS [CONTENT-TYPE [HEADERS]]: prints the WRK
# key=value line (HEADERS: "name: value" pairs separated by ";").
wrk_run() {
    WRK_BODY=$2 WRK_METHOD=${WRK_METHOD:-POST} WRK_CONTENT_TYPE=${5:-application/json} WRK_HEADERS=${6:-} wrk -t1 -c"$3" -d"$4"s --latency -s "$WORK/post.lua" "$1" 2>&1 | grep '^WRK ' ||
        echo "WRK requests=0 non2xx=0 socket_errors=1 rps=0 p50_us=nan p99_us=nan"
}

# ---------------------------------------------------------------- fleet memory
FLEET_BACKENDS=${FLEET_BACKENDS:-100}
FLEET_METHODS=${FLEET_METHODS:-20}
FLEET_PORT=$((PORT_BASE + 10))
FLEET_ADMIN_PORT=$((PORT_BASE + 11))
# fleet_memory: sets FLEET_STEADY_KIB, FLEET_PEAK_KIB, FLEET_AFTER_KIB,
# FLEET_ROUTES and FLEET_TABLE (the `table` line for the fleet's sets).
fleet_memory() {
    local dir=$WORK/fleet admin=http://127.0.0.1:$FLEET_ADMIN_PORT pid v0 v1
    log "fleet memory: $FLEET_BACKENDS backends x $FLEET_METHODS methods (protoc --include_imports sets)"
    "$LG" fleet --backends "$FLEET_BACKENDS" --methods "$FLEET_METHODS" --out "$dir" --generation 1 >/dev/null
    FLEET_TABLE=$("$LG" table --dir "$dir" --iters 10)
    raw fleet table 1 "$FLEET_TABLE"
    {
        echo "listen: 127.0.0.1:$FLEET_PORT"
        echo "admin: 127.0.0.1:$FLEET_ADMIN_PORT"
        echo "backends:"
        for i in $(seq 0 $((FLEET_BACKENDS - 1))); do
            echo "  - name: b$i"
            # Nothing listens there: the figures are the gateway's own.
            echo "    endpoints: [\"127.0.0.1:$((PORT_BASE + 200 + i))\"]"
            echo "    descriptor_set: $dir/b$i.pb"
        done
    } >"$WORK/fleet.yaml"
    SWITCHBOARD_LOG=warn "$BIN/switchboard" serve --config "$WORK/fleet.yaml" >"$WORK/fleet.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_http "$admin/readyz"
    FLEET_ROUTES=$(curl -s "$admin/routes" | grep -o '"grpc_method"' | wc -l || true)
    sleep 1
    FLEET_STEADY_KIB=$(proc_kib "$pid" VmRSS)
    # Rewrite every set (one field more per message), reset the peak, reload.
    "$LG" fleet --backends "$FLEET_BACKENDS" --methods "$FLEET_METHODS" --out "$dir" --generation 2 >/dev/null
    v0=$(curl -s "$admin/readyz" | grep -o '"version":[0-9]*' | cut -d: -f2 || true)
    echo 5 >"/proc/$pid/clear_refs"
    kill -HUP "$pid"
    for _ in $(seq 600); do
        v1=$(curl -s "$admin/readyz" | grep -o '"version":[0-9]*' | cut -d: -f2 || true)
        [[ -n $v1 && $v1 != "$v0" ]] && break
        sleep 0.1
    done
    [[ ${v1:-} != "${v0:-}" ]] || log "fleet reload did not publish a new table (version ${v0:-?})"
    sleep 1
    FLEET_PEAK_KIB=$(proc_kib "$pid" VmHWM)
    FLEET_AFTER_KIB=$(proc_kib "$pid" VmRSS)
    raw fleet gateway_rss 1 "steady_kib=$FLEET_STEADY_KIB reload_peak_kib=$FLEET_PEAK_KIB after_kib=$FLEET_AFTER_KIB routes=$FLEET_ROUTES versions=${v0:-?}->${v1:-?}"
    kill "$pid" 2>/dev/null || true
}
# fleet_rows: the memory figures as table rows (row() is defined below).
fleet_rows() {
    local steady peak after build
    steady=$(calc "$FLEET_STEADY_KIB / 1024" 1)
    peak=$(calc "$FLEET_PEAK_KIB / 1024" 1)
    after=$(calc "$FLEET_AFTER_KIB / 1024" 1)
    build=$(kv "$FLEET_TABLE" build_ms_median)
    row "fleet: RSS steady, $FLEET_BACKENDS backends / $(kv "$FLEET_TABLE" methods) methods, protoc sets ($PROFILE)" MiB "$steady" "" "<= 30" "$(verdict le "$steady" 30)" "" ""
    row "fleet: peak RSS during a reload rebuilding every backend (x steady)" MiB "$peak" "" "<= 1.5x ($(ratio "$peak" "$steady")x)" "$(verdict le "$(ratio "$peak" "$steady")" 1.5)" "" ""
    row "fleet: RSS after the reload" MiB "$after" "" "" "" "" ""
    row "fleet: table build, $(kv "$FLEET_TABLE" methods) methods / $(kv "$FLEET_TABLE" routes) routes ($PROFILE)" ms "$build" "" "<= 50" "$(verdict le "$build" 50)" "" 10
}

if [[ ${BENCH_ONLY:-} == memory ]]; then
    STAMP=$(date -u +%Y%m%dT%H%M%SZ)
    CSV=$OUT/memory-$STAMP.csv
    echo "metric,unit,gateway,direct,ratio,target,met,nproc,runs,secs,conc" >"$CSV"
    ROWS=()
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "nan" || b == "nan") print "n/a"; else printf "%.2f", a / b }'; }
    row() { echo "$1,$2,$3,$4,,\"$5\",$6,$NPROC,1,$8,$7" >>"$CSV"; ROWS+=("| $1 | $2 | $3 | $5 | $6 |"); }
    verdict() { if "$@"; then echo yes; else echo NO; fi; }
    fleet_memory
    fleet_rows
    echo
    echo "### Fleet memory ($STAMP, $PROFILE build, nproc=$NPROC)"
    echo
    echo "| figure | unit | value | target | met |"
    echo "|---|---|---:|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "CSV: $CSV; every run: $RAW."
    exit 0
fi

# ---------------------------------------------------------------- start
log "starting example backend on $BACKEND_ADDR"
"$BIN/example-backend" greeter --listen "$BACKEND_ADDR" >"$WORK/backend.log" 2>&1 &
BACKEND_PID=$!
PIDS+=("$BACKEND_PID")
for _ in $(seq 100); do grep -q 'listening on' "$WORK/backend.log" && break; sleep 0.1; done

cat >"$WORK/gateway.yaml" <<EOF
listen: 127.0.0.1:$GW_PORT
admin: 127.0.0.1:$ADMIN_PORT
backends:
  - name: greeter
    endpoints: ["$BACKEND_ADDR"]
EOF
log "starting gateway on :$GW_PORT (admin :$ADMIN_PORT)"
SWITCHBOARD_LOG=warn "$BIN/switchboard" serve --config "$WORK/gateway.yaml" >"$WORK/gateway.log" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")
wait_http "$ADMIN/readyz"
curl -sf -X POST -H 'content-type: application/json' -d @"$WORK/small.json" "$GW/v1/echo" >/dev/null

log "starting floor proxy on :$FLOOR_PORT"
"$LG" floor --listen "127.0.0.1:$FLOOR_PORT" --backend "$BACKEND_ADDR" --path $ECHO_PATH \
    --body "$WORK/small.proto" >"$WORK/floor.log" 2>&1 &
FLOOR_PID=$!
PIDS+=("$FLOOR_PID")
for _ in $(seq 100); do grep -q 'listening on' "$WORK/floor.log" && break; sleep 0.1; done
curl -sf -X POST -H 'content-type: application/json' -d @"$WORK/small.json" "$FLOOR/v1/echo" >/dev/null ||
    { log "floor proxy does not answer: $(cat "$WORK/floor.log")"; exit 1; }

# The other runtime model's gateway: the same config plus
# `runtime: {model: $TWIN_MODEL}`, measured alternating with the default
# gateway (its variables are WK_* / *_wk_*: it was the worker model's column
# while shared was the default). Gated on `switchboard check` accepting the
# key (a build without it rejects it, and the column is skipped); WORKERS=0
# skips it.
# start_workers_twin CONFIG PORT ADMIN_PORT NAME: writes $WORK/NAME.yaml (CONFIG
# with its listen/admin ports replaced and the runtime key added), checks it and
# starts it; sets TWIN_PID (empty when skipped).
start_workers_twin() {
    local cfg=$WORK/$4.yaml
    sed -e "s/^listen: .*/listen: 127.0.0.1:$2/" -e "s/^admin: .*/admin: 127.0.0.1:$3/" "$1" >"$cfg"
    printf 'runtime:\n  model: %s\n' "$TWIN_MODEL" >>"$cfg"
    TWIN_PID=
    if ! "$BIN/switchboard" check --config "$cfg" >"$WORK/$4.check" 2>&1; then
        log "$TWIN_MODEL column skipped: switchboard check rejects runtime.model: $TWIN_MODEL: $(head -3 "$WORK/$4.check" | tr '\n' ' ')"
        return 0
    fi
    SWITCHBOARD_LOG=warn "$BIN/switchboard" serve --config "$cfg" >"$WORK/$4.log" 2>&1 &
    TWIN_PID=$!
    PIDS+=("$TWIN_PID")
    wait_http "http://127.0.0.1:$3/readyz"
}
WK_PID=
if [[ ${WORKERS:-1} != 0 ]]; then
    log "starting runtime.model $TWIN_MODEL gateway on :$WK_PORT (admin :$WK_ADMIN_PORT)"
    start_workers_twin "$WORK/gateway.yaml" "$WK_PORT" "$WK_ADMIN_PORT" workers
    WK_PID=$TWIN_PID
    if [[ -n $WK_PID ]]; then
        curl -sf -X POST -H 'content-type: application/json' -d @"$WORK/small.json" "$WK/v1/echo" >/dev/null ||
            { log "runtime.model $TWIN_MODEL gateway does not answer: $(cat "$WORK/workers.log")"; exit 1; }
        "$LG" http --url "$WK/v1/echo" --body "$WORK/small.json" -c 4 -d 1 --warmup 0 >/dev/null
    fi
else
    log "$TWIN_MODEL column skipped (WORKERS=0)"
fi

# warm-up: connections, allocator, caches
"$LG" http --url "$GW/v1/echo" --body "$WORK/small.json" -c 4 -d 1 --warmup 0 >/dev/null
"$LG" http --url "$FLOOR/v1/echo" --body "$WORK/small.json" -c 4 -d 1 --warmup 0 >/dev/null
"$LG" grpc --addr "$BACKEND_ADDR" --path $ECHO_PATH --body "$WORK/small.proto" -c 4 -d 1 --warmup 0 >/dev/null

declare -A M # figure name -> space-separated per-run values

# ---------------------------------------------------------------- secure edge
# Plaintext, TLS-listener and JWT-verifying gateways, alternating within each
# run, CPU per request from each process's own /proc counters.
EDGE_ROWS=()
if [[ ${EDGE:-1} == 1 && ${BENCH_ONLY:-} != observability && $HAVE_WRK == 1 ]] && command -v openssl >/dev/null && command -v perl >/dev/null; then
    b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
        -keyout "$WORK/tls.key" -out "$WORK/tls.pem" 2>/dev/null
    openssl genrsa -out "$WORK/jwt.key" 2048 2>/dev/null
    n=$(openssl rsa -in "$WORK/jwt.key" -noout -modulus | cut -d= -f2 |
        perl -e 'my $h = <STDIN>; $h =~ s/\s//g; print pack("H*", $h)' | b64url)
    printf '{"keys":[{"kty":"RSA","alg":"RS256","kid":"bench","n":"%s","e":"AQAB"}]}' "$n" >"$WORK/jwks.json"
    head=$(printf '{"alg":"RS256","typ":"JWT","kid":"bench"}' | b64url)
    body=$(printf '{"iss":"bench","aud":"bench","sub":"bench-user","exp":%d}' $(($(date +%s) + 86400)) | b64url)
    sig=$(printf '%s.%s' "$head" "$body" | openssl dgst -sha256 -sign "$WORK/jwt.key" | b64url)
    TOKEN="$head.$body.$sig"
    cat >"$WORK/tls.yaml" <<YAML
listen: 127.0.0.1:$TLS_PORT
admin: 127.0.0.1:$TLS_ADMIN_PORT
tls: {cert: $WORK/tls.pem, key: $WORK/tls.key}
backends:
  - name: greeter
    endpoints: ["$BACKEND_ADDR"]
YAML
    cat >"$WORK/jwt.yaml" <<YAML
listen: 127.0.0.1:$JWT_PORT
admin: 127.0.0.1:$JWT_ADMIN_PORT
jwt_providers:
  - name: bench
    issuer: bench
    audiences: [bench]
    jwks: {file: $WORK/jwks.json}
    forward_claims: {sub: x-user-id}
backends:
  - name: greeter
    endpoints: ["$BACKEND_ADDR"]
    auth: {jwt: bench}
YAML
    log "starting TLS gateway on :$TLS_PORT and JWT gateway on :$JWT_PORT"
    SWITCHBOARD_LOG=warn "$BIN/switchboard" serve --config "$WORK/tls.yaml" >"$WORK/tls.log" 2>&1 &
    TLS_PID=$!
    PIDS+=("$TLS_PID")
    SWITCHBOARD_LOG=warn "$BIN/switchboard" serve --config "$WORK/jwt.yaml" >"$WORK/jwt.log" 2>&1 &
    JWT_PID=$!
    PIDS+=("$JWT_PID")
    wait_http "http://127.0.0.1:$TLS_ADMIN_PORT/readyz"
    wait_http "http://127.0.0.1:$JWT_ADMIN_PORT/readyz"
    TLS_URL=https://127.0.0.1:$TLS_PORT
    JWT_URL=http://127.0.0.1:$JWT_PORT
    curl -skf -X POST -H 'content-type: application/json' -d @"$WORK/small.json" "$TLS_URL/v1/echo" >/dev/null ||
        { log "TLS gateway does not answer: $(cat "$WORK/tls.log")"; exit 1; }
    curl -sf -X POST -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \
        -d @"$WORK/small.json" "$JWT_URL/v1/echo" >/dev/null ||
        { log "JWT gateway refuses the bench token: $(cat "$WORK/jwt.log")"; exit 1; }
    # warm-up
    wrk_run "$TLS_URL/v1/echo" "$WORK/small.json" 4 1 >/dev/null
    WRK_AUTH="Bearer $TOKEN" wrk_run "$JWT_URL/v1/echo" "$WORK/small.json" 4 1 >/dev/null
    log "secure edge: $RUNS x (${DUR}s plaintext, ${DUR}s TLS, ${DUR}s JWT), wrk c=$CONC"
    for r in $(seq "$RUNS"); do
        cpu_run "$GW_PID" wrk_run "$GW/v1/echo" "$WORK/small.json" "$CONC" "$DUR"
        raw edge plaintext "$r" "$LINE"
        M[edge_plain_cpu]+=" $CPU_US"
        M[edge_plain_rps]+=" $(kv "$LINE" rps)"
        M[edge_plain_fail]+=" $(($(kv "$LINE" non2xx) + $(kv "$LINE" socket_errors)))"
        cpu_run "$TLS_PID" wrk_run "$TLS_URL/v1/echo" "$WORK/small.json" "$CONC" "$DUR"
        raw edge tls "$r" "$LINE"
        M[edge_tls_cpu]+=" $CPU_US"
        M[edge_tls_rps]+=" $(kv "$LINE" rps)"
        M[edge_tls_fail]+=" $(($(kv "$LINE" non2xx) + $(kv "$LINE" socket_errors)))"
        export WRK_AUTH="Bearer $TOKEN"
        cpu_run "$JWT_PID" wrk_run "$JWT_URL/v1/echo" "$WORK/small.json" "$CONC" "$DUR"
        unset WRK_AUTH
        raw edge jwt "$r" "$LINE"
        M[edge_jwt_cpu]+=" $CPU_US"
        M[edge_jwt_rps]+=" $(kv "$LINE" rps)"
        M[edge_jwt_fail]+=" $(($(kv "$LINE" non2xx) + $(kv "$LINE" socket_errors)))"
    done
    kill "$TLS_PID" "$JWT_PID" 2>/dev/null || true
    emed() { median ${M[$1]:-}; }
    esum() { awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; print s }' <<<"${M[$1]:-0}"; }
    plain=$(emed edge_plain_cpu)
    EDGE_ROWS+=("| CPU per small request, plaintext (c=$CONC) | µs | $plain | $(emed edge_plain_rps) | | $(esum edge_plain_fail) |")
    EDGE_ROWS+=("| CPU per small request, TLS listener (c=$CONC) | µs | $(emed edge_tls_cpu) | $(emed edge_tls_rps) | +$(calc "$(emed edge_tls_cpu) - $plain" 1) | $(esum edge_tls_fail) |")
    EDGE_ROWS+=("| CPU per small request, RS256 JWT verified (c=$CONC) | µs | $(emed edge_jwt_cpu) | $(emed edge_jwt_rps) | +$(calc "$(emed edge_jwt_cpu) - $plain" 1) | $(esum edge_jwt_fail) |")
else
    log "secure edge figures skipped (EDGE=0, or wrk, openssl or perl missing)"
fi
print_edge() {
    [[ ${#EDGE_ROWS[@]} -gt 0 ]] || return 0
    echo
    echo "### Secure edge ($RUNS runs of ${DUR}s each, medians, one run; wrk keep-alive)"
    echo
    echo "| figure | unit | gateway | req/s | vs plaintext (µs) | failed |"
    echo "|---|---|---:|---:|---:|---:|"
    printf '%s\n' "${EDGE_ROWS[@]}"
}
if [[ ${BENCH_ONLY:-} == edge ]]; then
    print_edge
    echo
    echo "Every run: $RAW."
    exit 0
fi

# ---------------------------------------------------------------- observability
# The plain gateway (no access log, no tracing) and one with the JSON access
# log written to a file and every request traced to the OTLP sink, alternating
# within each run; CPU per request from each gateway's own /proc counters.
OBS_ROWS=()
if [[ ${OBSERVABILITY:-1} == 1 && $HAVE_WRK == 1 ]]; then
    "$LG" otlp-sink --listen "127.0.0.1:$OTLP_PORT" >"$WORK/otlp.log" 2>&1 &
    OTLP_PID=$!
    PIDS+=("$OTLP_PID")
    for _ in $(seq 100); do grep -q 'listening on' "$WORK/otlp.log" && break; sleep 0.1; done
    cat >"$WORK/observed.yaml" <<YAML
listen: 127.0.0.1:$OBS_PORT
admin: 127.0.0.1:$OBS_ADMIN_PORT
access_log: {format: json, to: $WORK/access.log}
tracing: {otlp_endpoint: "http://127.0.0.1:$OTLP_PORT", sample_ratio: 1.0, service_name: bench}
backends:
  - name: greeter
    endpoints: ["$BACKEND_ADDR"]
YAML
    log "starting observed gateway on :$OBS_PORT (access log + 100 % tracing to :$OTLP_PORT)"
    SWITCHBOARD_LOG=warn "$BIN/switchboard" serve --config "$WORK/observed.yaml" >"$WORK/observed.log" 2>&1 &
    OBS_PID=$!
    PIDS+=("$OBS_PID")
    wait_http "http://127.0.0.1:$OBS_ADMIN_PORT/readyz"
    OBS_URL=http://127.0.0.1:$OBS_PORT
    curl -sf -X POST -H 'content-type: application/json' -d @"$WORK/small.json" "$OBS_URL/v1/echo" >/dev/null ||
        { log "observed gateway does not answer: $(cat "$WORK/observed.log")"; exit 1; }
    wrk_run "$OBS_URL/v1/echo" "$WORK/small.json" 4 1 >/dev/null
    log "observability: $RUNS x (${DUR}s both off, ${DUR}s access log + tracing), wrk c=$CONC"
    for r in $(seq "$RUNS"); do
        cpu_run "$GW_PID" wrk_run "$GW/v1/echo" "$WORK/small.json" "$CONC" "$DUR"
        raw observability off "$r" "$LINE"
        M[obs_off_cpu]+=" $CPU_US"
        M[obs_off_rps]+=" $(kv "$LINE" rps)"
        M[obs_off_fail]+=" $(($(kv "$LINE" non2xx) + $(kv "$LINE" socket_errors)))"
        cpu_run "$OBS_PID" wrk_run "$OBS_URL/v1/echo" "$WORK/small.json" "$CONC" "$DUR"
        raw observability on "$r" "$LINE"
        M[obs_on_cpu]+=" $CPU_US"
        M[obs_on_rps]+=" $(kv "$LINE" rps)"
        M[obs_on_fail]+=" $(($(kv "$LINE" non2xx) + $(kv "$LINE" socket_errors)))"
    done
    sleep 6 # the exporter's last batch and the sink's count
    lines=$(wc -l <"$WORK/access.log")
    spans=$(grep -o 'spans=[0-9]*' "$WORK/otlp.log" | tail -1 | cut -d= -f2)
    kill "$OBS_PID" "$OTLP_PID" 2>/dev/null || true
    omed() { median ${M[$1]:-}; }
    osum() { awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; print s }' <<<"${M[$1]:-0}"; }
    off=$(omed obs_off_cpu)
    OBS_ROWS+=("| CPU per small request, access log and tracing off (c=$CONC) | µs | $off | $(omed obs_off_rps) | | $(osum obs_off_fail) |")
    OBS_ROWS+=("| CPU per small request, JSON access log to a file + 100 % tracing (c=$CONC) | µs | $(omed obs_on_cpu) | $(omed obs_on_rps) | +$(calc "$(omed obs_on_cpu) - $off" 1) | $(osum obs_on_fail) |")
    OBS_ROWS+=("| access log lines written / spans received by the sink | count | $lines / ${spans:-0} | | | |")
else
    log "observability figures skipped (OBSERVABILITY=0, or wrk missing)"
fi
print_observability() {
    [[ ${#OBS_ROWS[@]} -gt 0 ]] || return 0
    echo
    echo "### Observability ($RUNS runs of ${DUR}s each, medians, one run; wrk keep-alive)"
    echo
    echo "| figure | unit | gateway | req/s | vs off (µs) | failed |"
    echo "|---|---|---:|---:|---:|---:|"
    printf '%s\n' "${OBS_ROWS[@]}"
}
if [[ ${BENCH_ONLY:-} == observability ]]; then
    print_observability
    echo
    echo "Every run: $RAW."
    exit 0
fi

# ---------------------------------------------------------------- unary at CONC
for size in small medium; do
    [[ $HAVE_WRK == 1 ]] || break
    log "unary $size: $RUNS x (${DUR}s gateway/wrk,$([[ $size == small && -n $WK_PID ]] && echo " ${DUR}s $TWIN_MODEL/wrk,")$([[ $size == small ]] && echo " ${DUR}s floor/wrk,") ${DUR}s direct/loadgen), c=$CONC"
    for r in $(seq "$RUNS"); do
        cpu_run "$GW_PID" wrk_run "$GW/v1/echo" "$WORK/$size.json" "$CONC" "$DUR"
        line=$LINE
        raw "unary_$size" gateway "$r" "$line"
        M[${size}_gw_rps]+=" $(kv "$line" rps)"
        M[${size}_gw_p50]+=" $(kv "$line" p50_us)"
        M[${size}_gw_p99]+=" $(kv "$line" p99_us)"
        M[${size}_gw_fail]+=" $(($(kv "$line" non2xx) + $(kv "$line" socket_errors)))"
        M[${size}_gw_cpu]+=" $CPU_US"
        M[${size}_gw_ctx]+=" $CTX_PER_REQ"

        if [[ $size == small && -n $WK_PID ]]; then
            cpu_run "$WK_PID" wrk_run "$WK/v1/echo" "$WORK/$size.json" "$CONC" "$DUR"
            raw "unary_$size" "twin_$TWIN_MODEL" "$r" "$LINE"
            M[${size}_wk_rps]+=" $(kv "$LINE" rps)"
            M[${size}_wk_p50]+=" $(kv "$LINE" p50_us)"
            M[${size}_wk_p99]+=" $(kv "$LINE" p99_us)"
            M[${size}_wk_fail]+=" $(($(kv "$LINE" non2xx) + $(kv "$LINE" socket_errors)))"
            M[${size}_wk_cpu]+=" $CPU_US"
            M[${size}_wk_ctx]+=" $CTX_PER_REQ"
        fi

        if [[ $size == small ]]; then
            cpu_run "$FLOOR_PID" wrk_run "$FLOOR/v1/echo" "$WORK/$size.json" "$CONC" "$DUR"
            raw "unary_$size" floor "$r" "$LINE"
            M[${size}_fl_rps]+=" $(kv "$LINE" rps)"
            M[${size}_fl_cpu]+=" $CPU_US"
            M[${size}_fl_ctx]+=" $CTX_PER_REQ"
        fi

        line=$("$LG" grpc --addr "$BACKEND_ADDR" --path $ECHO_PATH --body "$WORK/$size.proto" -c "$CONC" -d "$DUR")
        raw "unary_$size" direct "$r" "$line"
        M[${size}_dir_rps]+=" $(kv "$line" rps)"
        M[${size}_dir_p50]+=" $(kv "$line" p50_us)"
        M[${size}_dir_p99]+=" $(kv "$line" p99_us)"
    done
done

# ---------------------------------------------------------------- latency at c=1
log "added latency: $RUNS x (${LAT_DUR}s HTTP/1.1->gateway,$([[ -n $WK_PID ]] && echo " ${LAT_DUR}s HTTP/1.1->$TWIN_MODEL,") ${LAT_DUR}s HTTP/1.1->floor, ${LAT_DUR}s gRPC->backend), c=1"
for r in $(seq "$RUNS"); do
    cpu_run "$GW_PID" "$LG" http --url "$GW/v1/echo" --body "$WORK/small.json" -c 1 -d "$LAT_DUR" --warmup 0
    raw latency_c1 gateway "$r" "$LINE"
    M[c1_gw_p50]+=" $(kv "$LINE" p50_us)"
    M[c1_gw_p99]+=" $(kv "$LINE" p99_us)"
    M[c1_gw_rps]+=" $(kv "$LINE" rps)"
    M[c1_gw_cpu]+=" $CPU_US"
    M[c1_gw_ctx]+=" $CTX_PER_REQ"
    if [[ -n $WK_PID ]]; then
        cpu_run "$WK_PID" "$LG" http --url "$WK/v1/echo" --body "$WORK/small.json" -c 1 -d "$LAT_DUR" --warmup 0
        raw latency_c1 "twin_$TWIN_MODEL" "$r" "$LINE"
        M[c1_wk_p50]+=" $(kv "$LINE" p50_us)"
        M[c1_wk_p99]+=" $(kv "$LINE" p99_us)"
        M[c1_wk_rps]+=" $(kv "$LINE" rps)"
        M[c1_wk_cpu]+=" $CPU_US"
        M[c1_wk_ctx]+=" $CTX_PER_REQ"
    fi
    cpu_run "$FLOOR_PID" "$LG" http --url "$FLOOR/v1/echo" --body "$WORK/small.json" -c 1 -d "$LAT_DUR" --warmup 0
    raw latency_c1 floor "$r" "$LINE"
    M[c1_fl_p50]+=" $(kv "$LINE" p50_us)"
    M[c1_fl_cpu]+=" $CPU_US"
    M[c1_fl_ctx]+=" $CTX_PER_REQ"
    line=$("$LG" grpc --addr "$BACKEND_ADDR" --path $ECHO_PATH --body "$WORK/small.proto" -c 1 -d "$LAT_DUR" --warmup 0)
    raw latency_c1 direct "$r" "$line"
    M[c1_dir_p50]+=" $(kv "$line" p50_us)"
    M[c1_dir_p99]+=" $(kv "$line" p99_us)"
    M[c1_dir_rps]+=" $(kv "$line" rps)"
done

# ---------------------------------------------------------------- protocols (PROTOCOLS=1)
# The same small Echo call in each protocol the public port speaks, through the
# same gateway in the same runs: CPU per call is what each protocol's handling
# costs (REST transcodes JSON with grpc-gateway's options, Connect JSON with
# protojson's, Connect binary and gRPC-Web pass the protobuf bytes through).
PROTO_NAMES=(rest connect_json connect_proto grpc_web)
if [[ ${PROTOCOLS:-0} == 1 && $HAVE_WRK == 1 ]]; then
    # gRPC-Web body: one uncompressed message frame (flag 0, 4-byte length).
    len=$(stat -c %s "$WORK/small.proto")
    printf "\\x00\\x$(printf %02x $((len >> 24 & 255)))\\x$(printf %02x $((len >> 16 & 255)))\\x$(printf %02x $((len >> 8 & 255)))\\x$(printf %02x $((len & 255)))" >"$WORK/small.grpcweb"
    cat "$WORK/small.proto" >>"$WORK/small.grpcweb"
    proto_run() { # NAME: one wrk run of that protocol against the gateway
        case $1 in
            rest) cpu_run "$GW_PID" wrk_run "$GW/v1/echo" "$WORK/small.json" "$CONC" "$DUR" ;;
            connect_json) cpu_run "$GW_PID" wrk_run "$GW$ECHO_PATH" "$WORK/small.json" "$CONC" "$DUR" \
                application/json "connect-protocol-version: 1" ;;
            connect_proto) cpu_run "$GW_PID" wrk_run "$GW$ECHO_PATH" "$WORK/small.proto" "$CONC" "$DUR" \
                application/proto "connect-protocol-version: 1" ;;
            grpc_web) cpu_run "$GW_PID" wrk_run "$GW$ECHO_PATH" "$WORK/small.grpcweb" "$CONC" "$DUR" \
                application/grpc-web+proto "x-grpc-web: 1" ;;
        esac
    }
    for p in "${PROTO_NAMES[@]}"; do proto_run "$p" >/dev/null; done # warm-up (one run each)
    log "protocols: $RUNS x (${DUR}s each of ${PROTO_NAMES[*]}), c=$CONC"
    for r in $(seq "$RUNS"); do
        for p in "${PROTO_NAMES[@]}"; do
            proto_run "$p"
            raw protocols "$p" "$r" "$LINE"
            M[pr_${p}_rps]+=" $(kv "$LINE" rps)"
            M[pr_${p}_cpu]+=" $CPU_US"
            M[pr_${p}_fail]+=" $(($(kv "$LINE" non2xx) + $(kv "$LINE" socket_errors)))"
        done
    done
fi

# ---------------------------------------------------------------- server streaming
log "server streaming: $RUNS x (${STREAM_DUR}s gateway,$([[ -n $WK_PID ]] && echo " ${STREAM_DUR}s $TWIN_MODEL,") ${STREAM_DUR}s direct), $STREAM_CONC streams"
# CPU per streamed message, µs: process ticks spent over messages sent. On a
# 2-core machine the gateway's run has three busy processes (client, gateway,
# backend) where the direct run has two, so the ratio is bounded by what the
# gateway spends per message next to the backend's own cost.
per_msg() { calc "$1 * 1000000 / $CLK_TCK / $2" 3; }
for r in $(seq "$RUNS"); do
    g0=$(cpu_ticks "$GW_PID") b0=$(cpu_ticks "$BACKEND_PID")
    line=$("$LG" http-stream --url "$GW$STREAM_PATH" --body "$WORK/stream.json" -c "$STREAM_CONC" -d "$STREAM_DUR")
    g1=$(cpu_ticks "$GW_PID") b1=$(cpu_ticks "$BACKEND_PID")
    raw stream gateway "$r" "$line gateway_ticks=$((g1 - g0)) backend_ticks=$((b1 - b0))"
    M[st_gw]+=" $(kv "$line" msgs_per_s)"
    M[st_gw_cpu]+=" $(per_msg $((g1 - g0)) "$(kv "$line" msgs)")"
    M[st_gw_be_cpu]+=" $(per_msg $((b1 - b0)) "$(kv "$line" msgs)")"
    if [[ -n $WK_PID ]]; then
        line=$("$LG" http-stream --url "$WK$STREAM_PATH" --body "$WORK/stream.json" -c "$STREAM_CONC" -d "$STREAM_DUR")
        raw stream "twin_$TWIN_MODEL" "$r" "$line"
        M[st_wk]+=" $(kv "$line" msgs_per_s)"
    fi
    b0=$(cpu_ticks "$BACKEND_PID")
    line=$("$LG" grpc-stream --addr "$BACKEND_ADDR" --path $STREAM_PATH --body "$WORK/stream.proto" -c "$STREAM_CONC" -d "$STREAM_DUR")
    b1=$(cpu_ticks "$BACKEND_PID")
    raw stream direct "$r" "$line backend_ticks=$((b1 - b0))"
    M[st_dir]+=" $(kv "$line" msgs_per_s)"
    M[st_dir_be_cpu]+=" $(per_msg $((b1 - b0)) "$(kv "$line" msgs)")"
done

# ---------------------------------------------------------------- third-party backend (Python grpcio)
# The backend the tests install (tests/python/inventory_server.py: grpcio, a
# thread pool, reflection v1alpha only) behind a gateway of its own (and its
# other-model twin), GET /v1/items/apple with wrk at $PY_CONC, alternating
# with direct gRPC (loadgen) to the same server in the same runs. The backend
# bounds the rate (a few thousand req/s), so the gateway's CPU per request is
# mostly wake-ups, not work: the load most gateways actually see.
# PYTHON=0 skips it.
PY_ON=0
PYWK_PID=
if [[ ${PYTHON:-1} == 0 ]]; then
    log "third-party-backend run skipped (PYTHON=0)"
elif [[ $HAVE_WRK != 1 ]]; then
    log "third-party-backend run skipped: wrk missing"
else
    if [[ ! -x $ROOT/.venv/bin/python || ! -f $ROOT/tests/python/gen/inventory_pb2_grpc.py ]]; then
        log "Python backend not set up; running tests/python/setup.sh"
        "$ROOT/tests/python/setup.sh" >"$WORK/py-setup.log" 2>&1 ||
            log "third-party-backend run SKIPPED: tests/python/setup.sh failed: $(tail -3 "$WORK/py-setup.log" | tr '\n' ' ')"
    fi
    if [[ -x $ROOT/.venv/bin/python && -f $ROOT/tests/python/gen/inventory_pb2_grpc.py ]]; then
        log "starting Python grpcio backend on $PY_ADDR"
        "$ROOT/.venv/bin/python" "$ROOT/tests/python/inventory_server.py" --port "${PY_ADDR##*:}" >"$WORK/python.log" 2>&1 &
        PY_PID=$!
        PIDS+=("$PY_PID")
        for _ in $(seq 100); do grep -q 'listening on' "$WORK/python.log" && break; sleep 0.1; done
        if grep -q 'listening on' "$WORK/python.log"; then
            PY_ON=1
        else
            log "third-party-backend run SKIPPED: the Python backend did not start: $(tail -3 "$WORK/python.log" | tr '\n' ' ')"
        fi
    fi
fi
if [[ $PY_ON == 1 ]]; then
    cat >"$WORK/python-gw.yaml" <<YAML
listen: 127.0.0.1:$PYGW_PORT
admin: 127.0.0.1:$PYGW_ADMIN_PORT
backends:
  - name: inventory
    endpoints: ["$PY_ADDR"]
YAML
    SWITCHBOARD_LOG=warn "$BIN/switchboard" serve --config "$WORK/python-gw.yaml" >"$WORK/python-gw.log" 2>&1 &
    PYGW_PID=$!
    PIDS+=("$PYGW_PID")
    wait_http "http://127.0.0.1:$PYGW_ADMIN_PORT/readyz"
    PYGW=http://127.0.0.1:$PYGW_PORT
    PYWK=http://127.0.0.1:$PYWK_PORT
    curl -sf "$PYGW/v1/items/apple" | grep -q '"id":"apple"' ||
        { log "gateway in front of the Python backend does not answer GET /v1/items/apple: $(cat "$WORK/python-gw.log")"; exit 1; }
    if [[ -n $WK_PID ]]; then
        start_workers_twin "$WORK/python-gw.yaml" "$PYWK_PORT" "$PYWK_ADMIN_PORT" python-workers
        PYWK_PID=$TWIN_PID
        curl -sf "$PYWK/v1/items/apple" | grep -q '"id":"apple"' ||
            { log "runtime.model $TWIN_MODEL gateway in front of the Python backend does not answer: $(cat "$WORK/python-workers.log")"; exit 1; }
    fi
    # GetItemRequest{id: "apple"}: field 1, length 5.
    printf '\x0a\x05apple' >"$WORK/getitem.proto"
    PY_PATH=/py.inventory.v1.InventoryService/GetItem
    export WRK_METHOD=GET
    wrk_run "$PYGW/v1/items/apple" "" 4 1 >/dev/null
    [[ -z $PYWK_PID ]] || wrk_run "$PYWK/v1/items/apple" "" 4 1 >/dev/null
    log "third-party backend: $RUNS x (${DUR}s gateway/wrk,$([[ -n $PYWK_PID ]] && echo " ${DUR}s $TWIN_MODEL/wrk,") ${DUR}s direct/loadgen), GET /v1/items/apple, c=$PY_CONC"
    for r in $(seq "$RUNS"); do
        cpu_run "$PYGW_PID" wrk_run "$PYGW/v1/items/apple" "" "$PY_CONC" "$DUR"
        raw python gateway "$r" "$LINE"
        M[py_gw_rps]+=" $(kv "$LINE" rps)"
        M[py_gw_p50]+=" $(kv "$LINE" p50_us)"
        M[py_gw_cpu]+=" $CPU_US"
        M[py_gw_ctx]+=" $CTX_PER_REQ"
        M[py_gw_fail]+=" $(($(kv "$LINE" non2xx) + $(kv "$LINE" socket_errors)))"
        if [[ -n $PYWK_PID ]]; then
            cpu_run "$PYWK_PID" wrk_run "$PYWK/v1/items/apple" "" "$PY_CONC" "$DUR"
            raw python "twin_$TWIN_MODEL" "$r" "$LINE"
            M[py_wk_rps]+=" $(kv "$LINE" rps)"
            M[py_wk_p50]+=" $(kv "$LINE" p50_us)"
            M[py_wk_cpu]+=" $CPU_US"
            M[py_wk_ctx]+=" $CTX_PER_REQ"
            M[py_wk_fail]+=" $(($(kv "$LINE" non2xx) + $(kv "$LINE" socket_errors)))"
        fi
        line=$("$LG" grpc --addr "$PY_ADDR" --path $PY_PATH --body "$WORK/getitem.proto" -c "$PY_CONC" -d "$DUR")
        raw python direct "$r" "$line"
        M[py_dir_rps]+=" $(kv "$line" rps)"
        M[py_dir_p50]+=" $(kv "$line" p50_us)"
    done
    unset WRK_METHOD
    kill "$PYGW_PID" $PYWK_PID "$PY_PID" 2>/dev/null || true
fi

# ---------------------------------------------------------------- reload storm
RELOAD_FAILS=0
if [[ $HAVE_WRK == 1 ]]; then
    log "reload storm: $RUNS x (${DUR}s steady, ${DUR}s with $RELOADS reloads), c=$CONC"
    interval=$(calc "$DUR / ($RELOADS + 2)" 3)
    for r in $(seq "$RUNS"); do
        line=$(wrk_run "$GW/v1/echo" "$WORK/small.json" "$CONC" "$DUR")
        raw reload steady "$r" "$line"
        M[rl_steady_p99]+=" $(kv "$line" p99_us)"
        M[rl_steady_fail]+=" $(($(kv "$line" non2xx) + $(kv "$line" socket_errors)))"

        wrk_run "$GW/v1/echo" "$WORK/small.json" "$CONC" "$DUR" >"$WORK/storm.out" &
        wrk_pid=$!
        sleep "$interval"
        ok=0
        for _ in $(seq "$RELOADS"); do
            code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$ADMIN/reload" || true)
            [[ $code == 200 ]] && ok=$((ok + 1))
            sleep "$interval"
        done
        wait "$wrk_pid"
        line=$(cat "$WORK/storm.out")
        raw reload storm "$r" "$line reloads_ok=$ok"
        RELOAD_FAILS=$((RELOAD_FAILS + RELOADS - ok))
        M[rl_storm_p99]+=" $(kv "$line" p99_us)"
        M[rl_storm_fail]+=" $(($(kv "$line" non2xx) + $(kv "$line" socket_errors)))"
    done
fi
GW_HWM=$(proc_kib "$GW_PID" VmHWM)
GW_RSS=$(proc_kib "$GW_PID" VmRSS)
VERSION=$(curl -s "$ADMIN/status" | grep -o '"version":[0-9]*' | head -1 | cut -d: -f2 || true)

# ---------------------------------------------------------------- table build
log "table build: 100 backends / 2,000 methods"
"$LG" synth --backends 100 --methods 2000 --out "$WORK/synth" >/dev/null
table_line=$("$LG" table --dir "$WORK/synth" --iters 10)
raw table build 1 "$table_line"
{
    echo "listen: 127.0.0.1:$BIG_PORT"
    echo "admin: 127.0.0.1:$BIG_ADMIN_PORT"
    echo "backends:"
    for i in $(seq 0 99); do
        echo "  - name: b$i"
        echo "    endpoints: [\"127.0.0.1:$((PORT_BASE + 300 + i))\"]"
        echo "    descriptor_set: $WORK/synth/b$i.pb"
    done
} >"$WORK/big.yaml"
SWITCHBOARD_LOG=warn "$BIN/switchboard" serve --config "$WORK/big.yaml" >"$WORK/big.log" 2>&1 &
BIG_PID=$!
PIDS+=("$BIG_PID")
wait_http "http://127.0.0.1:$BIG_ADMIN_PORT/readyz"
BIG_ROUTES=$(curl -s "http://127.0.0.1:$BIG_ADMIN_PORT/routes" | grep -o '"grpc_method"' | wc -l || true)
sleep 0.5
BIG_RSS=$(proc_kib "$BIG_PID" VmRSS)
BIG_HWM=$(proc_kib "$BIG_PID" VmHWM)
raw table gateway_rss 1 "rss_kib=$BIG_RSS hwm_kib=$BIG_HWM routes=$BIG_ROUTES"
kill "$BIG_PID" 2>/dev/null || true

fleet_memory

# ---------------------------------------------------------------- report
med() { median ${M[$1]:-}; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "nan" || b == "nan" || a == "" || b == "") print "n/a"; else printf "%.2f", a / b }'; }
fsum() { awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; print s }' <<<"${M[$1]:-0}"; }
# wmed NAME: the other-model twin's median, empty when that column was skipped.
wmed() { [[ -n $WK_PID && -n ${M[$1]:-} ]] && med "$1" || true; }

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
CSV=$OUT/results-$STAMP.csv
echo "metric,unit,gateway,direct,ratio_gateway_over_direct,target,met,nproc,runs,secs_per_run,concurrency,twin_$TWIN_MODEL" >"$CSV"
ROWS=()
row() { # metric unit gateway direct target met conc secs [twin]
    local r
    r=$(ratio "$3" "$4")
    echo "$1,$2,$3,$4,$r,\"$5\",$6,$NPROC,$RUNS,$8,$7,${9:-}" >>"$CSV"
    ROWS+=("| $1 | $2 | $3 | ${9:-} | $4 | $r | $5 | $6 |")
}
verdict() { if "$@"; then echo yes; else echo NO; fi; }
# A ratio verdict: "n/a" (a figure missing) is not met.
rverdict() { [[ $2 == n/a || -z $2 ]] && { echo NO; return; }; verdict "$1" "$2" "$3"; }
# The issue-17 targets, each a ratio of figures measured side by side in this
# run (or a bound): TARGETS rows for the summary table; the same rows go to
# the CSV as "target: ..." metrics (gateway = the default gateway's value,
# twin_$TWIN_MODEL = the other-model twin's).
TARGETS=()
target() { # name limit-text default-value default-met [twin-value twin-met]
    TARGETS+=("| $1 | $2 | $3 | $4 | ${5:-} | ${6:-} |")
    echo "\"target: $1\",x,$3,,,\"$2\",$4,$NPROC,$RUNS,,,${5:-}" >>"$CSV"
}

if [[ $HAVE_WRK == 1 ]]; then
    for size in small medium; do
        w=; [[ $size == small ]] && w=1
        row "unary $size req/s (c=$CONC)" req/s "$(med ${size}_gw_rps)" "$(med ${size}_dir_rps)" "" "" "$CONC" "$DUR" "${w:+$(wmed ${size}_wk_rps)}"
        row "unary $size p50 (c=$CONC)" µs "$(med ${size}_gw_p50)" "$(med ${size}_dir_p50)" "" "" "$CONC" "$DUR" "${w:+$(wmed ${size}_wk_p50)}"
        row "unary $size p99 (c=$CONC)" µs "$(med ${size}_gw_p99)" "$(med ${size}_dir_p99)" "" "" "$CONC" "$DUR" "${w:+$(wmed ${size}_wk_p99)}"
    done
    cpu=$(med small_gw_cpu)
    fl_cpu=$(med small_fl_cpu)
    wcpu=$(wmed small_wk_cpu)
    r32=$(ratio "$cpu" "$fl_cpu")
    row "gateway CPU per small request (c=$CONC)" µs "$cpu" "" "<= 1.5x floor (${r32}x)" "$(rverdict le "$r32" 1.5)" "$CONC" "$DUR" "$wcpu"
    row "gateway CPU per medium request (c=$CONC)" µs "$(med medium_gw_cpu)" "" "" "" "$CONC" "$DUR"
    row "context switches per small request (c=$CONC)" count "$(med small_gw_ctx)" "" "" "" "$CONC" "$DUR" "$(wmed small_wk_ctx)"
    row "floor proxy small req/s (c=$CONC)" req/s "$(med small_fl_rps)" "$(med small_dir_rps)" "" "" "$CONC" "$DUR"
    row "floor proxy CPU per small request (c=$CONC)" µs "$fl_cpu" "" "" "" "$CONC" "$DUR"
    row "floor proxy context switches per small request (c=$CONC)" count "$(med small_fl_ctx)" "" "" "" "$CONC" "$DUR"
    wr32=; [[ -n $wcpu ]] && wr32=$(ratio "$wcpu" "$fl_cpu")
    target "CPU per small unary request, c=$CONC (gateway / floor proxy)" "<= 1.5x" "$r32" "$(rverdict le "$r32" 1.5)" \
        "$wr32" "${wr32:+$(rverdict le "$wr32" 1.5)}"
fi
if [[ ${PROTOCOLS:-0} == 1 && $HAVE_WRK == 1 ]]; then
    for p in "${PROTO_NAMES[@]}"; do
        row "CPU per small unary call, $p (c=$CONC; $(fsum pr_${p}_fail) failed)" µs "$(med pr_${p}_cpu)" "" "" "" "$CONC" "$DUR"
        row "small unary req/s, $p (c=$CONC)" req/s "$(med pr_${p}_rps)" "" "" "" "$CONC" "$DUR"
    done
fi
c1cpu=$(med c1_gw_cpu)
c1fl=$(med c1_fl_cpu)
c1wk=$(wmed c1_wk_cpu)
r1=$(ratio "$c1cpu" "$c1fl")
row "gateway CPU per small request (c=1)" µs "$c1cpu" "" "<= 1.5x floor (${r1}x)" "$(rverdict le "$r1" 1.5)" 1 "$LAT_DUR" "$c1wk"
row "context switches per small request (c=1)" count "$(med c1_gw_ctx)" "" "" "" 1 "$LAT_DUR" "$(wmed c1_wk_ctx)"
row "unary small p50 (c=1, loadgen both sides)" µs "$(med c1_gw_p50)" "$(med c1_dir_p50)" "" "" 1 "$LAT_DUR" "$(wmed c1_wk_p50)"
row "unary small p99 (c=1, loadgen both sides)" µs "$(med c1_gw_p99)" "$(med c1_dir_p99)" "" "" 1 "$LAT_DUR" "$(wmed c1_wk_p99)"
row "unary small req/s (c=1)" req/s "$(med c1_gw_rps)" "$(med c1_dir_rps)" "" "" 1 "$LAT_DUR" "$(wmed c1_wk_rps)"
added=$(calc "$(med c1_gw_p50) - $(med c1_dir_p50)" 1)
fl_added=$(calc "$(med c1_fl_p50) - $(med c1_dir_p50)" 1)
wadded=; [[ -n $(wmed c1_wk_p50) ]] && wadded=$(calc "$(med c1_wk_p50) - $(med c1_dir_p50)" 1)
# A floor whose added latency is not positive (noise: direct p50 above the
# floor's) gives no meaningful ratio: n/a, not met.
pratio() { if awk -v b="$2" 'BEGIN { exit !(b + 0 > 0) }'; then ratio "$1" "$2"; else echo n/a; fi; }
ra=$(pratio "$added" "$fl_added")
row "added p50 latency (c=1)" µs "$added" "" "<= 1.5x floor's (${ra}x)" "$(rverdict le "$ra" 1.5)" 1 "$LAT_DUR" "$wadded"
row "floor proxy p50 (c=1)" µs "$(med c1_fl_p50)" "$(med c1_dir_p50)" "" "" 1 "$LAT_DUR"
row "floor proxy added p50 latency (c=1)" µs "$fl_added" "" "" "" 1 "$LAT_DUR"
row "floor proxy CPU per small request (c=1)" µs "$c1fl" "" "" "" 1 "$LAT_DUR"
row "floor proxy context switches per small request (c=1)" count "$(med c1_fl_ctx)" "" "" "" 1 "$LAT_DUR"
wr1=; [[ -n $c1wk ]] && wr1=$(ratio "$c1wk" "$c1fl")
target "CPU per small unary request, c=1 (gateway / floor proxy)" "<= 1.5x" "$r1" "$(rverdict le "$r1" 1.5)" \
    "$wr1" "${wr1:+$(rverdict le "$wr1" 1.5)}"
wra=; [[ -n $wadded ]] && wra=$(pratio "$wadded" "$fl_added")
target "added p50 latency, c=1 (gateway's / floor proxy's)" "<= 1.5x" "$ra" "$(rverdict le "$ra" 1.5)" \
    "$wra" "${wra:+$(rverdict le "$wra" 1.5)}"
st=$(med st_gw)
wst=$(wmed st_wk)
rs=$(ratio "$st" "$(med st_dir)")
row "server streaming msgs/s ($STREAM_CONC streams)" msgs/s "$st" "$(med st_dir)" ">= 0.8x direct" "$(rverdict ge "$rs" 0.8)" "$STREAM_CONC" "$STREAM_DUR" "$wst"
row "server streaming: CPU per message, gateway (backend's in the direct column)" µs "$(med st_gw_cpu)" "$(med st_dir_be_cpu)" "" "" "$STREAM_CONC" "$STREAM_DUR" ""
row "server streaming: backend CPU per message behind the gateway (direct column: without)" µs "$(med st_gw_be_cpu)" "$(med st_dir_be_cpu)" "" "" "$STREAM_CONC" "$STREAM_DUR" ""
wrs=; [[ -n $wst ]] && wrs=$(ratio "$wst" "$(med st_dir)")
target "server streaming msgs/s (gateway / direct)" ">= 0.8x" "$rs" "$(rverdict ge "$rs" 0.8)" "$wrs" "${wrs:+$(rverdict ge "$wrs" 0.8)}"
if [[ $PY_ON == 1 ]]; then
    pywk() { [[ -n $PYWK_PID ]] && med "$1" || true; }
    row "Python grpcio backend: GET /v1/items/apple req/s (c=$PY_CONC; $(fsum py_gw_fail) failed)" req/s "$(med py_gw_rps)" "$(med py_dir_rps)" "" "" "$PY_CONC" "$DUR" "$(pywk py_wk_rps)"
    row "Python grpcio backend: p50 (c=$PY_CONC)" µs "$(med py_gw_p50)" "$(med py_dir_p50)" "" "" "$PY_CONC" "$DUR" "$(pywk py_wk_p50)"
    row "Python grpcio backend: gateway CPU per request (c=$PY_CONC)" µs "$(med py_gw_cpu)" "" "" "" "$PY_CONC" "$DUR" "$(pywk py_wk_cpu)"
    row "Python grpcio backend: context switches per request (c=$PY_CONC)" count "$(med py_gw_ctx)" "" "" "" "$PY_CONC" "$DUR" "$(pywk py_wk_ctx)"
    [[ -z $PYWK_PID ]] || row "Python grpcio backend: failed requests, runtime.model $TWIN_MODEL (sum)" count "$(fsum py_wk_fail)" "" "" "" "$PY_CONC" "$DUR"
fi
row "peak RSS of the bench gateway (VmHWM)" KiB "$GW_HWM" "" "" "" "" ""
build_ms=$(kv "$table_line" build_ms_median)
row "table build, 100 backends / $(kv "$table_line" methods) methods / $(kv "$table_line" routes) routes" ms "$build_ms" "" "<= 50" "$(verdict le "$build_ms" 50)" "" 10
row "RSS of switchboard-loadgen table (pools + table)" KiB "$(kv "$table_line" rss_kib)" "" "" "" "" ""
big_mib=$(calc "$BIG_RSS / 1024" 1)
row "RSS of a gateway serving 100 backends / 2,000 methods (synthetic sets)" MiB "$big_mib" "" "" "" "" ""
fleet_rows
fl_steady=$(calc "$FLEET_STEADY_KIB / 1024" 1)
fl_peak=$(ratio "$(calc "$FLEET_PEAK_KIB / 1024" 1)" "$fl_steady")
fl_build=$(kv "$FLEET_TABLE" build_ms_median)
target "RSS serving $FLEET_BACKENDS backends / $(kv "$FLEET_TABLE" methods) methods, protoc --include_imports sets (MiB)" "<= 30" "$fl_steady" "$(verdict le "$fl_steady" 30)"
target "peak RSS during a reload rebuilding the fleet / steady" "<= 1.5x" "$fl_peak" "$(rverdict le "$fl_peak" 1.5)"
target "table build, 2,000 methods (synthetic sets, ms)" "<= 50" "$build_ms" "$(verdict le "$build_ms" 50)"
target "table build, fleet's $(kv "$FLEET_TABLE" methods) methods (protoc sets, ms)" "<= 50" "$fl_build" "$(verdict le "$fl_build" 50)"
if [[ $HAVE_WRK == 1 ]]; then
    storm_fail=$(fsum rl_storm_fail)
    steady=$(med rl_steady_p99)
    storm=$(med rl_storm_p99)
    row "failed requests during $((RUNS * RELOADS)) reloads (sum)" count "$storm_fail" "" "0" "$(verdict test "$storm_fail" -eq 0)" "$CONC" "$DUR"
    row "p99 during reload storm vs steady (gateway=storm, direct=steady)" µs "$storm" "$steady" "ratio <= 2" "$(verdict le "$(ratio "$storm" "$steady")" 2)" "$CONC" "$DUR"
    row "reload requests that did not answer 200" count "$RELOAD_FAILS" "" "" "" "" ""
    target "failed requests across the reload storm ($((RUNS * RELOADS)) reloads)" "0" "$storm_fail" "$(verdict test "$storm_fail" -eq 0)"
fi
cp "$CSV" "$OUT/results.csv"

echo
echo "## Switchboard benchmark ($STAMP, nproc=$NPROC, $RUNS runs per figure, medians)"
echo
echo "### Issue 17 targets (ratios of figures measured side by side in this run)"
echo
echo "| target | limit | default gateway | met | runtime.model $TWIN_MODEL | met |"
echo "|---|---|---:|---|---:|---|"
printf '%s\n' "${TARGETS[@]}"
[[ -n $WK_PID ]] || echo "(runtime.model $TWIN_MODEL: skipped, see the log)"
echo
echo "### All figures"
echo
echo "| figure | unit | gateway | $TWIN_MODEL | direct gRPC | gateway/direct | target | met |"
echo "|---|---|---:|---:|---:|---:|---|---|"
printf '%s\n' "${ROWS[@]}"
print_edge
print_observability
echo
echo "CSV: $CSV (also results.csv); every run: $RAW. Route table version after the storm: ${VERSION:-?}; gateway RSS now $GW_RSS KiB."
