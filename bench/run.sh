#!/usr/bin/env bash
# bench/run.sh: shm-admin side by side with the tools people would use instead (issue 5).
#
#   make bench         full run, release build, about 5 minutes on 2 cores -> bench/RESULTS.md
#   make bench-smoke   BENCH_SMOKE=1: one round of tiny sizes in seconds -> bench/out/RESULTS.md;
#                      exits non-zero if any step failed (a missed target is never a failure)
#
# Environment:
#   SHM_ADMIN_BIN   the server binary (default: the release build, `swift build -c release --show-bin-path`)
#   BENCH_ROUNDS    rounds per comparison (default 5 full, 1 smoke)
#   BENCH_ONLY      run only these comparisons, e.g. "1 3" (results then go to bench/out/)
#   BENCH_OUT       where logs and partial results go (default bench/out)
#   BENCH_RESULTS   where a full run writes its results (default bench/RESULTS.md)
#   BENCH_SERVER_COMMIT  the commit the server was built from, for the results (default: this checkout's HEAD)
#
# Every comparison runs in one go, alternating its variants A B C A B C ...; each reports the
# median and min-max over the rounds. Traffic stays on 127.0.0.1; every loop is bounded; all
# /dev/shm objects are named bench-<pid>-* and removed on exit; every server started here is
# stopped here (by its pid). See bench/README.md for what each comparison measures.
set -Eeuo pipefail
export LC_ALL=C

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
BIN_DIR="$BENCH_DIR/bin"
SMOKE=${BENCH_SMOKE:-0}
[[ $SMOKE == 1 ]] || SMOKE=0
OUT=${BENCH_OUT:-$BENCH_DIR/out}
PREFIX="bench-$$-"
SHM=/dev/shm

# ---- sizes per mode --------------------------------------------------------------------------
if [[ $SMOKE == 1 ]]; then
    ROUNDS=${BENCH_ROUNDS:-1}
    C1_SECTIONS=10 C1_SECONDS=1
    C2_SIZE=16MiB
    C3_SIZE=64KiB
    C4_SECTIONS=200 C4_PROCS=5 C4_PER_PROC=4
    C5_RESERVE=64MiB C5_PAGES=100
    C6_SIZE=16MiB
    C7_SECONDS=1 C7_CLIENTS=32
    C8_WARMUP=1 C8_SOAK=2
    MEM_MARGIN=$((256 << 20))
else
    ROUNDS=${BENCH_ROUNDS:-5}
    C1_SECTIONS=100 C1_SECONDS=4
    C2_SIZE=1GiB
    C3_SIZE=4MiB
    C4_SECTIONS=10000 C4_PROCS=50 C4_PER_PROC=20
    C5_RESERVE=16GiB C5_PAGES=10000
    C6_SIZE=1GiB
    C7_SECONDS=4 C7_CLIENTS=32
    C8_WARMUP=15 C8_SOAK=60
    MEM_MARGIN=$((4 << 30))
fi
ONLY=${BENCH_ONLY:-1 2 3 4 5 6 7 8}

# ---- messages, errors, cleanup -----------------------------------------------------------------
say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}
on_err() { printf 'bench: command failed (%s line %s): %s\n' "${FUNCNAME[1]:-main}" "$1" "$2" >&2; }
trap 'on_err "$LINENO" "$BASH_COMMAND"' ERR

TMP=$(mktemp -d /tmp/shm-admin-bench.XXXXXX)
NGX_DIR=""
PIDFILE="$TMP/pids.main"
: >"$PIDFILE"

# Stop one process we started: TERM, up to 10 s, then KILL.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "pid $pid did not stop on TERM in 10 s: KILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
track() { echo "$1" >>"$PIDFILE"; }
untrack() {
    local f
    for f in "$TMP"/pids.*; do
        [[ -f $f ]] && sed -i "/^$1\$/d" "$f"
    done
    return 0
}
stop_tracked() { # $1: a pid file; stops what it lists, newest first
    local pid
    [[ -f $1 ]] || return 0
    for pid in $(tac "$1"); do stop_pid "$pid"; done
    : >"$1"
}
remove_objects() { find "$SHM" -maxdepth 1 -name "${PREFIX}*" -delete 2>/dev/null || true; }

cleanup() {
    local rc=$?
    set +e
    trap - ERR
    local f
    for f in "$TMP"/pids.*; do stop_tracked "$f"; done
    remove_objects
    [[ -n $NGX_DIR ]] && rm -rf "$NGX_DIR"
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- small utilities ---------------------------------------------------------------------------
to_bytes() {
    [[ $1 =~ ^([0-9]+)(K|M|G|T)?(iB)?$ ]] || die "bad size '$1'"
    local n=${BASH_REMATCH[1]}
    case ${BASH_REMATCH[2]} in
    K) n=$((n << 10)) ;; M) n=$((n << 20)) ;; G) n=$((n << 30)) ;; T) n=$((n << 40)) ;;
    esac
    echo "$n"
}
human_bytes() { awk -v b="$1" 'BEGIN{split("B KiB MiB GiB TiB",u," "); i=1; while (b>=1024 && i<5) {b/=1024; i++}; printf (b==int(b)?"%.0f %s":"%.1f %s"), b, u[i]}'; }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
# Wall time of a command in µs, its stdout thrown away; fails when the command fails.
time_us() {
    local t0 t1
    t0=$(now_us)
    "$@" >/dev/null
    t1=$(now_us)
    echo $((t1 - t0))
}
# "median min max" of the numbers given.
stats() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan nan nan"; exit}; m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.10g %.10g %.10g\n", m, a[1], a[NR]}'; }
median() { stats "$@" | cut -d' ' -f1; }
# "median (min–max)" with a printf format per number.
fmt_stats() {
    local f=$1
    shift
    stats "$@" | awk -v f="$f" '{printf f " (" f "–" f ")", $1, $2, $3}'
}
fmt() { awk -v d="$1" '{printf "%." d "f", $1}'; } # stdin number -> d decimals
# stdin ratio -> "1.23", or 3 significant digits below 0.1 (so that 0.004 does not read 0.00)
fmt_ratio() { awk '{ if ($1 < 0.1) printf "%.3g", $1; else printf "%.2f", $1 }'; }
calc() { awk "BEGIN{printf \"%.6g\", $*}"; }
mark() { awk "BEGIN{print ($*) ? \"✓\" : \"✗\"}"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# What a fallocate in $SHM can take now: the smaller of the tmpfs's free space and MemAvailable.
shm_available() {
    local shm mem
    shm=$(df -B1 --output=avail "$SHM" | tail -1 | tr -d ' ')
    mem=$(awk '/^MemAvailable:/{printf "%.0f\n", $2 * 1024}' /proc/meminfo) # not %d: mawk's is 32-bit
    echo $((mem < shm ? mem : shm))
}
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

ERRORS="$OUT/errors.txt"
error() { # a failed step that does not stop its comparison
    say "ERROR: $*"
    echo "$*" >>"$ERRORS"
}

# ---- the server --------------------------------------------------------------------------------
find_server_binary() {
    if [[ -n ${SHM_ADMIN_BIN:-} ]]; then
        echo "$SHM_ADMIN_BIN"
        return
    fi
    local dir=""
    if command -v swift >/dev/null 2>&1; then
        dir=$(cd "$ROOT" && swift build -c release --show-bin-path 2>/dev/null) || dir=""
    fi
    echo "${dir:-$ROOT/.build/release}/shm-admin"
}

TOKEN_FILE="$TMP/admin-token"
(
    umask 077
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$TOKEN_FILE"
)
TOKEN=$(cat "$TOKEN_FILE")
AUTH="Authorization: Bearer $TOKEN"
URL=""
SERVER_PID=""

# start_server LABEL: a fresh server with its own state dir; sets URL and SERVER_PID.
start_server() {
    local label=$1 out="$TMP/server-$1.out" err="$OUT/server-$1.log" i
    mkdir -p "$TMP/state-$label"
    : >"$out"
    "$SERVER_BIN" serve --port 0 --state-dir "$TMP/state-$label" --token-file "$TOKEN_FILE" >"$out" 2>"$err" &
    SERVER_PID=$!
    track "$SERVER_PID"
    URL=""
    for ((i = 0; i < 300; i++)); do
        URL=$(sed -n 's#^shm-admin listening on \(http://127\.0\.0\.1:[0-9]*\)/\{0,1\}$#\1#p' "$out" | head -1)
        [[ -n $URL ]] && break
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            die "$SERVER_BIN exited before it listened (is the server implemented yet?); stdout: $(head -c 300 "$out"); stderr: $(tail -c 500 "$err")"
        fi
        sleep 0.1
    done
    [[ -n $URL ]] || die "$SERVER_BIN printed no 'shm-admin listening on http://127.0.0.1:PORT/' line in 30 s"
    for ((i = 0; i < 100; i++)); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz") == 200 ]] && break
        sleep 0.1
    done
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz") == 200 ]] || die "GET $URL/healthz is not 200"
    say "server ($label) pid $SERVER_PID at $URL"
}
stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    stop_pid "$SERVER_PID"
    untrack "$SERVER_PID"
    SERVER_PID=""
}
server_alive() { [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; }

# api METHOD PATH [JSON-BODY]: prints the body; fails with the status and problem on a non-2xx.
api() {
    local method=$1 path=$2 body=${3:-} out code
    local args=(-sS -X "$method" -H "$AUTH" -w '\n%{http_code}')
    [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    out=$(curl "${args[@]}" "$URL$path") || die "curl $method $path failed"
    code=${out##*$'\n'}
    out=${out%$'\n'*}
    [[ $code == 2[0-9][0-9] ]] || die "$method $path answered $code: ${out:0:400}"
    printf '%s' "$out"
}
# curl_time URL [curl args]: "CODE TIME_US SIZE" for one request on a fresh connection.
curl_time() {
    local url=$1
    shift
    curl -sS -o /dev/null -w '%{http_code} %{time_total} %{size_download}\n' "$@" "$url" |
        awk '{printf "%s %.0f %s\n", $1, $2*1000000, $3}'
}
# delete_prefixed PREFIX: delete through the API every section whose name starts with PREFIX
# (404 is fine: a request still in flight when wrk stopped may have deleted it meanwhile).
delete_prefixed() {
    local names n code
    names=$(api GET "/api/v1/sections?q=$1&limit=10000" | json "'\n'.join(s['name'] for s in d['sections'] if s['name'].startswith('$1'))")
    for n in $names; do
        code=$(curl -sS -o "$TMP/delete.out" -w '%{http_code}' -X DELETE -H "$AUTH" "$URL/api/v1/sections/$n") ||
            die "curl DELETE $n failed"
        [[ $code == 2[0-9][0-9] || $code == 404 ]] || die "DELETE /api/v1/sections/$n answered $code: $(head -c 400 "$TMP/delete.out")"
    done
}

# ---- nginx with its own config and prefix on 127.0.0.1 -----------------------------------------
NGX_URL=""
NGX_PID=""
start_nginx() {
    [[ -n $NGX_DIR ]] || die "no nginx directory (made by main)"
    local port user_line="" i
    port=$(free_port)
    mkdir -p "$NGX_DIR/www" "$NGX_DIR/tmp"
    chmod 755 "$NGX_DIR" "$NGX_DIR/www"
    if [[ $(id -u) == 0 ]]; then
        # A root master hands requests to workers of an unprivileged user: they own the temp dirs.
        user_line="user nobody $(id -gn nobody);"
        chown -R nobody: "$NGX_DIR/tmp"
    fi
    cat >"$NGX_DIR/nginx.conf" <<EOF
$user_line
daemon off;
worker_processes auto;
pid $NGX_DIR/nginx.pid;
error_log $NGX_DIR/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    client_body_temp_path $NGX_DIR/tmp/body;
    proxy_temp_path $NGX_DIR/tmp/proxy;
    fastcgi_temp_path $NGX_DIR/tmp/fastcgi;
    uwsgi_temp_path $NGX_DIR/tmp/uwsgi;
    scgi_temp_path $NGX_DIR/tmp/scgi;
    types { application/json json; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port;
        root $NGX_DIR/www;
        location /shm/ { alias $SHM/; }
    }
}
EOF
    nginx -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" -e "$NGX_DIR/error.log" &
    NGX_PID=$!
    track "$NGX_PID"
    NGX_URL="http://127.0.0.1:$port"
    for ((i = 0; i < 100; i++)); do
        curl -s -o /dev/null "$NGX_URL/" && break
        kill -0 "$NGX_PID" 2>/dev/null || die "nginx exited at start: $(tail -c 500 "$NGX_DIR/error.log" 2>/dev/null)"
        sleep 0.1
    done
    curl -s -o /dev/null "$NGX_URL/" || die "nginx does not answer on $NGX_URL"
}
stop_nginx() {
    [[ -n $NGX_PID ]] || return 0
    stop_pid "$NGX_PID"
    untrack "$NGX_PID"
    NGX_PID=""
}

# ---- wrk ---------------------------------------------------------------------------------------
# wrk_parse FILE: "REQ_PER_S P50_US P99_US NON2XX SOCKET_ERRORS REQUESTS"
wrk_parse() {
    awk '
    function us(s) { if (s ~ /us$/) { sub(/us$/, "", s); return s + 0 }
                     if (s ~ /ms$/) { sub(/ms$/, "", s); return s * 1000 }
                     if (s ~ /m$/)  { sub(/m$/, "", s);  return s * 60000000 }
                     if (s ~ /s$/)  { sub(/s$/, "", s);  return s * 1000000 } return s + 0 }
    /Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = us($2) }
    /^ +99%/ { p99 = us($2) }
    /Non-2xx or 3xx responses:/ { non = $NF }
    /Socket errors:/ { gsub(",", ""); se = $4 + $6 + $8 + $10 }
    / requests in / { req = $1 }
    END { printf "%s %s %s %.0f %.0f %.0f\n", rps + 0, p50 + 0, p99 + 0, non, se, req }' "$1"
}

# ---- results -----------------------------------------------------------------------------------
# part N: the markdown of comparison N is appended to $OUT/parts/N.md
part() { cat >>"$OUT/parts/$1.md"; }
# target N "what" "target" "result" MARK
target() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$OUT/targets.tsv"; }

# =================================================================================================
# 1. GET /api/v1/sections with 100 sections, wrk -c32: shm-admin vs bare libmicrohttpd vs nginx
c1() {
    local pfx="${PREFIX}c1-" i r body="$TMP/c1-sections.json" bare_out="$TMP/c1-bare.out" bare_pid bare_url
    say "1: creating $C1_SECTIONS sections through the API"
    for ((i = 0; i < C1_SECTIONS; i++)); do
        api POST /api/v1/sections "$(printf '{"name":"%s%03d","reserve":"64KiB","commit":"4KiB","labels":{"bench":"c1"}}' "$pfx" "$i")" >/dev/null
    done
    local path="/api/v1/sections?q=$pfx"
    curl -sS -f -H "$AUTH" -o "$body" "$URL$path" || die "GET $path failed"
    local total
    total=$(json "d['total']" <"$body")
    [[ $total == "$C1_SECTIONS" ]] || error "1: GET $path reports total $total, expected $C1_SECTIONS"

    start_nginx
    cp "$body" "$NGX_DIR/www/sections.json"
    chmod 644 "$NGX_DIR/www/sections.json"
    : >"$bare_out"
    "$BIN_DIR/bare_mhd" "$body" 0 application/json >"$bare_out" 2>"$OUT/bare_mhd.log" &
    bare_pid=$!
    track "$bare_pid"
    for ((i = 0; i < 50; i++)); do
        bare_url=$(sed -n 's#^bare_mhd listening on \(http://127\.0\.0\.1:[0-9]*\)/$#\1#p' "$bare_out")
        [[ -n $bare_url ]] && break
        kill -0 "$bare_pid" 2>/dev/null || die "bare_mhd exited at start: $(cat "$OUT/bare_mhd.log")"
        sleep 0.1
    done
    [[ -n $bare_url ]] || die "bare_mhd did not start"

    # The same bytes from all three.
    curl -sS -f -o "$TMP/c1-ngx.json" "$NGX_URL/sections.json" || die "nginx GET /sections.json failed"
    curl -sS -f -o "$TMP/c1-bare.json" "$bare_url/" || die "bare_mhd GET / failed"
    cmp -s "$body" "$TMP/c1-ngx.json" || error "1: nginx does not send the API's bytes"
    cmp -s "$body" "$TMP/c1-bare.json" || error "1: bare_mhd does not send the API's bytes"

    local -a names=(shm-admin bare_mhd nginx) urls=("$URL$path" "$bare_url/" "$NGX_URL/sections.json")
    local -A rps p99 p50 errs
    for ((r = 1; r <= ROUNDS; r++)); do
        for i in 0 1 2; do
            local f="$OUT/data/c1-${names[i]}-r$r.txt"
            timeout $((C1_SECONDS + 30)) wrk -t2 -c32 -d"${C1_SECONDS}s" --latency --timeout 10s -H "$AUTH" "${urls[i]}" >"$f" 2>&1 ||
                die "wrk against ${names[i]} failed: $(tail -3 "$f")"
            read -r a b c d e _ <<<"$(wrk_parse "$f")"
            rps[$i]+="$a "
            p50[$i]+="$b "
            p99[$i]+="$c "
            errs[$i]=$((${errs[$i]:-0} + d + e))
            say "1: round $r ${names[i]}: $a req/s, p99 $c µs, errors $((d + e))"
        done
    done
    stop_pid "$bare_pid"
    untrack "$bare_pid"
    stop_nginx
    for i in 0 1 2; do
        [[ ${errs[$i]} == 0 ]] || error "1: ${names[i]} answered ${errs[$i]} non-2xx or socket errors under wrk"
    done

    local ours bare ngx ratio p99_ours
    # shellcheck disable=SC2086
    {
        ours=$(median ${rps[0]})
        bare=$(median ${rps[1]})
        ngx=$(median ${rps[2]})
        p99_ours=$(median ${p99[0]})
    }
    ratio=$(calc "$ours / $bare")
    {
        echo "Response: $(stat -c %s "$body") bytes (\`GET $path\`, $C1_SECTIONS managed sections)."
        echo "wrk -t2 -c32 -d${C1_SECONDS}s --latency, $ROUNDS rounds alternating; Authorization header sent to all three."
        echo
        echo "| server | req/s median (min–max) | p50 µs | p99 µs median (min–max) | non-2xx + socket errors |"
        echo "|---|---|---|---|---|"
        for i in 0 1 2; do
            # shellcheck disable=SC2086
            echo "| ${names[i]} | $(fmt_stats %.0f ${rps[$i]}) | $(median ${p50[$i]}) | $(fmt_stats %.0f ${p99[$i]}) | ${errs[$i]} |"
        done
        echo
        echo "shm-admin / bare_mhd = $(fmt_ratio <<<"$ratio")×; shm-admin / nginx = $(calc "$ours / $ngx" | fmt_ratio)×."
    } | part 1
    target 1 "req/s vs bare libmicrohttpd" "≥ 0.70×" "$(fmt_ratio <<<"$ratio")×" "$(mark "$ratio >= 0.70")"
    target 1 "p99 under wrk -c32" "≤ 10 ms" "$(calc "$p99_ours / 1000" | fmt 2) ms" "$(mark "$p99_ours <= 10000")"
    delete_prefixed "$pfx"
}

# =================================================================================================
# 2. raw dump of a 1 GiB section: shm-admin vs nginx sendfile on the same object vs cat
c2() {
    local name="${PREFIX}c2-raw" bytes r i
    bytes=$(to_bytes "$C2_SIZE")
    say "2: creating a $C2_SIZE section and filling it"
    api POST /api/v1/sections "{\"name\":\"$name\",\"reserve\":\"$C2_SIZE\",\"commit\":\"$C2_SIZE\",\"namespace\":\"global\"}" >/dev/null
    "$BIN_DIR/shmtool" fill "$SHM/$name" 0 "$bytes" random 2 >/dev/null
    local note=""
    if [[ $(($(stat -c '%#a' "$SHM/$name") & 0004)) == 0 ]]; then
        chmod o+r "$SHM/$name"
        note="The section was created with namespace global but was not world-readable; the bench made it o+r for nginx's workers."
        error "2: a global section is mode $(stat -c %a "$SHM/$name") before chmod, API.md says 0666"
    fi
    start_nginx
    local api_url="$URL/api/v1/sections/$name/data?format=raw" ngx_url="$NGX_URL/shm/$name"
    curl -sS -f -H "$AUTH" "$api_url" | cmp -s - "$SHM/$name" || error "2: the raw dump differs from the object's bytes"
    curl -sS -f "$ngx_url" | cmp -s - "$SHM/$name" || error "2: nginx's copy differs from the object's bytes"

    local -a names=(shm-admin nginx cat)
    local -A tput secs
    for ((r = 1; r <= ROUNDS; r++)); do
        for i in 0 1 2; do
            local code us size
            case $i in
            0) read -r code us size <<<"$(curl_time "$api_url" -H "$AUTH")" ;;
            1) read -r code us size <<<"$(curl_time "$ngx_url")" ;;
            2)
                code=200 size=$bytes
                us=$(time_us cat "$SHM/$name")
                ;;
            esac
            [[ $code == 200 && $size == "$bytes" ]] || die "2: ${names[i]} answered $code with $size bytes (expected 200, $bytes)"
            tput[$i]+="$(calc "$bytes / 1048576 / ($us / 1000000)") "
            secs[$i]+="$(calc "$us / 1000") "
            say "2: round $r ${names[i]}: $(calc "$bytes / 1048576 / ($us / 1000000)") MiB/s"
        done
    done
    stop_nginx
    api DELETE "/api/v1/sections/$name" >/dev/null
    local ours ngx ratio
    # shellcheck disable=SC2086
    {
        ours=$(median ${tput[0]})
        ngx=$(median ${tput[1]})
    }
    ratio=$(calc "$ours / $ngx")
    {
        echo "$(human_bytes "$bytes") of random bytes. shm-admin: \`curl -o /dev/null GET …/data?format=raw\`;"
        echo "nginx: \`sendfile on\`, the same /dev/shm object through an alias; cat: \`cat OBJECT >/dev/null\` (wall time)."
        echo "Both HTTP dumps were checked byte for byte against the object first."
        [[ -n $note ]] && echo && echo "$note"
        echo
        echo "| reader | MiB/s median (min–max) | ms median (min–max) |"
        echo "|---|---|---|"
        for i in 0 1 2; do
            # shellcheck disable=SC2086
            echo "| ${names[i]} | $(fmt_stats %.0f ${tput[$i]}) | $(fmt_stats %.1f ${secs[$i]}) |"
        done
    } | part 2
    target 2 "raw dump throughput vs nginx sendfile" "≥ 0.90×" "$(fmt_ratio <<<"$ratio")×" "$(mark "$ratio >= 0.90")"
}

# =================================================================================================
# 3. format=hexdump of 4 MiB vs hexdump -C, byte-identical
c3() {
    local name="${PREFIX}c3-hex" bytes r
    bytes=$(to_bytes "$C3_SIZE")
    api POST /api/v1/sections "{\"name\":\"$name\",\"reserve\":\"$C3_SIZE\",\"commit\":\"$C3_SIZE\"}" >/dev/null
    "$BIN_DIR/shmtool" fill "$SHM/$name" 0 "$bytes" hexmix 3 >/dev/null
    local api_url="$URL/api/v1/sections/$name/data?offset=0&length=$bytes&format=hexdump"
    curl -sS -f -H "$AUTH" -o "$TMP/c3-api.txt" "$api_url" || die "GET …/data?format=hexdump failed"
    hexdump -C -s 0 -n "$bytes" "$SHM/$name" >"$TMP/c3-hexdump.txt"
    local same="yes"
    if ! cmp -s "$TMP/c3-api.txt" "$TMP/c3-hexdump.txt"; then
        same="no"
        diff "$TMP/c3-hexdump.txt" "$TMP/c3-api.txt" | head -20 >"$OUT/c3-diff.txt" || true
        error "3: format=hexdump differs from hexdump -C (first lines of the diff in $OUT/c3-diff.txt)"
    fi
    local -A ms
    for ((r = 1; r <= ROUNDS; r++)); do
        local code us size
        read -r code us size <<<"$(curl_time "$api_url" -H "$AUTH")"
        [[ $code == 200 ]] || die "3: format=hexdump answered $code"
        ms[shm-admin]+="$(calc "$us / 1000") "
        us=$(time_us hexdump -C -s 0 -n "$bytes" "$SHM/$name")
        ms[hexdump]+="$(calc "$us / 1000") "
        say "3: round $r done"
    done
    api DELETE "/api/v1/sections/$name" >/dev/null
    local ours hd speedup
    # shellcheck disable=SC2086
    {
        ours=$(median ${ms[shm-admin]})
        hd=$(median ${ms[hexdump]})
    }
    speedup=$(calc "$hd / $ours")
    {
        echo "$(human_bytes "$bytes") of mixed bytes (random blocks, zero blocks that make \`*\` lines, text)."
        echo "shm-admin: \`GET …/data?offset=0&length=$bytes&format=hexdump\` (curl time_total);"
        echo "hexdump: \`hexdump -C -s 0 -n $bytes OBJECT >/dev/null\` (wall time)."
        echo "Output byte-identical to \`hexdump -C\`: **$same** ($(stat -c %s "$TMP/c3-hexdump.txt") bytes of text)."
        echo
        echo "| producer | ms median (min–max) |"
        echo "|---|---|"
        # shellcheck disable=SC2086
        echo "| shm-admin | $(fmt_stats %.2f ${ms[shm-admin]}) |"
        # shellcheck disable=SC2086
        echo "| hexdump -C | $(fmt_stats %.2f ${ms[hexdump]}) |"
    } | part 3
    target 3 "format=hexdump speed vs hexdump -C" "≥ 20×" "$(printf %.1f "$speedup")× (identical: $same)" "$(mark "$speedup >= 20 && \"$same\" == \"yes\"")"
}

# =================================================================================================
# 4. list 10,000 sections (foreign) with 50 processes mapping 20 each: API vs ls -l vs lsof +D
make_many() { # the foreign sections of comparisons 4 and 8, made once
    [[ -f $TMP/many.done ]] && return 0
    say "creating $C4_SECTIONS foreign sections directly in $SHM"
    "$BIN_DIR/shmtool" mkmany "$SHM" "${PREFIX}many-" "$C4_SECTIONS" 4096 >/dev/null
    touch "$TMP/many.done"
}
c4() {
    local r mappers_out="$TMP/c4-mappers.out" mpid i
    make_many
    : >"$mappers_out"
    "$BIN_DIR/shmtool" mappers "$SHM" "${PREFIX}many-" "$C4_PROCS" "$C4_PER_PROC" 600 >"$mappers_out" 2>"$OUT/mappers.log" &
    mpid=$!
    track "$mpid"
    for ((i = 0; i < 300; i++)); do
        grep -q '^ready' "$mappers_out" && break
        kill -0 "$mpid" 2>/dev/null || die "4: the mapper processes failed: $(cat "$OUT/mappers.log")"
        sleep 0.1
    done
    grep -q '^ready' "$mappers_out" || die "4: the mapper processes were not ready in 30 s"
    sleep 1.2 # mappers in the API are at most one second old

    local list="/api/v1/sections?limit=10000"
    curl -sS -f -H "$AUTH" -o "$TMP/c4-list.json" "$URL$list" || die "4: GET $list failed"
    local seen
    seen=$(python3 - "$TMP/c4-list.json" "${PREFIX}many-" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ours = [s for s in d["sections"] if s["name"].startswith(sys.argv[2])]
mapped = sum(1 for s in ours if (s.get("mappers") or 0) >= 1)
print(d["total"], len(ours), mapped)
EOF
    )
    local total listed mapped
    read -r total listed mapped <<<"$seen"
    local want_mapped=$((C4_PROCS * C4_PER_PROC))
    ((total >= C4_SECTIONS)) || error "4: the API reports total $total, fewer than our $C4_SECTIONS foreign sections"
    ((listed == C4_SECTIONS || total > 10000)) || error "4: the API listed $listed of our $C4_SECTIONS foreign sections"
    [[ $mapped == "$want_mapped" ]] || error "4: the API shows $mapped of our sections with mappers, expected $want_mapped"

    local -a names=(shm-admin "ls -l" "lsof +D")
    local -A ms
    for ((r = 1; r <= ROUNDS; r++)); do
        local code us size rc
        read -r code us size <<<"$(curl_time "$URL$list" -H "$AUTH")"
        [[ $code == 200 ]] || die "4: GET $list answered $code"
        ms[0]+="$(calc "$us / 1000") "
        us=$(time_us ls -l "$SHM")
        ms[1]+="$(calc "$us / 1000") "
        local t0 t1
        t0=$(now_us)
        rc=0
        timeout 120 lsof +D "$SHM" >/dev/null 2>&1 || rc=$?
        t1=$(now_us)
        [[ $rc == 0 || $rc == 1 ]] || die "4: lsof +D $SHM exited $rc"
        ms[2]+="$(calc "($t1 - $t0) / 1000") "
        say "4: round $r done"
    done
    stop_pid "$mpid"
    untrack "$mpid"
    local ours ls lsof
    # shellcheck disable=SC2086
    {
        ours=$(median ${ms[0]})
        ls=$(median ${ms[1]})
        lsof=$(median ${ms[2]})
    }
    {
        echo "$C4_SECTIONS foreign sections made with shm_open-equivalent calls (not through the API), $C4_PROCS processes"
        echo "mapping $C4_PER_PROC each ($want_mapped mapped sections); $SHM held $total entries in all."
        echo "shm-admin: \`GET $list\` (curl time_total, $(stat -c %s "$TMP/c4-list.json") bytes, mappers seen on $mapped sections);"
        echo "\`ls -l $SHM\` and \`lsof +D $SHM\`: wall time, output to /dev/null."
        echo
        echo "| lister | ms median (min–max) |"
        echo "|---|---|"
        for i in 0 1 2; do
            # shellcheck disable=SC2086
            echo "| ${names[i]} | $(fmt_stats %.1f ${ms[$i]}) |"
        done
    } | part 4
    target 4 "list vs ls -l" "≤ 0.6×" "$(calc "$ours / $ls" | fmt_ratio)×" "$(mark "$ours <= 0.6 * $ls")"
    target 4 "list vs lsof +D" "≤ 0.15×" "$(calc "$ours / $lsof" | fmt_ratio)×" "$(mark "$ours <= 0.15 * $lsof")"
}

# =================================================================================================
# 5. page map of a 16 GiB reserve with 10,000 scattered data pages vs SEEK_DATA walker vs mincore
c5() {
    local name="${PREFIX}c5-pages" reserve want avail note="" r i
    want=$(to_bytes "$C5_RESERVE")
    # Other programs may hold memory for a moment (a build, a test filling tmpfs): wait up to 30 s.
    for ((i = 0; i < 30; i++)); do
        avail=$(shm_available)
        ((avail >= want + MEM_MARGIN)) && break
        ((i == 0)) && say "5: $(human_bytes "$avail") available, waiting up to 30 s for $(human_bytes $((want + MEM_MARGIN)))"
        sleep 1
    done
    reserve=$want
    if ((avail < want + MEM_MARGIN)); then
        reserve=$(((avail - MEM_MARGIN) >> 30 << 30))
        ((reserve >= 1 << 30)) || die "5: only $(human_bytes "$avail") of shared memory is free; need at least 1 GiB plus $(human_bytes "$MEM_MARGIN")"
        note="Scaled down: $SHM had only $(human_bytes "$avail") available (memory or tmpfs), so the reserve is $(human_bytes "$reserve") instead of $C5_RESERVE."
        say "5: $note"
    fi
    say "5: creating a $(human_bytes "$reserve") section committed in full (fallocate), then resetting it"
    local code us size
    read -r code us size <<<"$(curl_time "$URL/api/v1/sections" -X POST -H "$AUTH" -H 'Content-Type: application/json' \
        --data-binary "{\"name\":\"$name\",\"reserve\":$reserve,\"commit\":$reserve}")"
    [[ $code == 201 ]] || die "5: creating the $reserve-byte section answered $code"
    local create_ms
    create_ms=$(calc "$us / 1000")
    # Give the memory back at once: the pages stay committed (they read as zeros) but hold no memory.
    local reset_note
    if curl -sS -f -o /dev/null -X POST -H "$AUTH" -H 'Content-Type: application/json' \
        --data-binary "{\"offset\":0,\"length\":$reserve}" "$URL/api/v1/sections/$name/reset"; then
        reset_note="then reset in full (memory given back)"
    else
        reset_note="reset failed, so the memory stayed committed during the measurement"
        error "5: POST …/reset of the whole section failed"
    fi
    "$BIN_DIR/shmtool" scatter "$SHM/$name" "$reserve" "$C5_PAGES" 5 >/dev/null

    local pages_url="$URL/api/v1/sections/$name/pages?maxRuns=1000000"
    curl -sS -f -H "$AUTH" -o "$TMP/c5-pages.json" "$pages_url" || die "5: GET …/pages failed"
    local api_line walk_line mc_line
    api_line=$(python3 - "$TMP/c5-pages.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
runs = d["runs"]
data = [r for r in runs if r["state"] == "data"]
print(len(runs), len(data), sum(r["length"] for r in data), d.get("dataBytes"), bool(d.get("truncated")))
EOF
    )
    walk_line=$("$BIN_DIR/walk_holes" "$SHM/$name" "$reserve")
    mc_line=$("$BIN_DIR/mincore_walk" "$SHM/$name" "$reserve")
    local a_runs a_druns a_dbytes a_databytes a_trunc
    read -r a_runs a_druns a_dbytes a_databytes a_trunc <<<"$api_line"
    local w_runs w_druns w_dbytes
    w_runs=$(sed -n 's/.*\bruns=\([0-9]*\).*/\1/p' <<<"$walk_line")
    w_druns=$(sed -n 's/.*data_runs=\([0-9]*\).*/\1/p' <<<"$walk_line")
    w_dbytes=$(sed -n 's/.*data_bytes=\([0-9]*\).*/\1/p' <<<"$walk_line")
    [[ $a_trunc == False ]] || error "5: the page map came back truncated with maxRuns=1000000"
    [[ $a_runs == "$w_runs" && $a_druns == "$w_druns" && $a_dbytes == "$w_dbytes" && $a_databytes == "$w_dbytes" ]] ||
        error "5: page map (runs $a_runs, data runs $a_druns, data bytes $a_dbytes, dataBytes $a_databytes) disagrees with walk_holes ($walk_line)"
    [[ $mc_line == *"data_bytes=$w_dbytes "* ]] || error "5: mincore_walk disagrees with walk_holes: $mc_line vs $walk_line"

    local -a names=(shm-admin walk_holes mincore_walk)
    local -A ms
    for ((r = 1; r <= ROUNDS; r++)); do
        read -r code us size <<<"$(curl_time "$pages_url" -H "$AUTH")"
        [[ $code == 200 ]] || die "5: GET …/pages answered $code"
        ms[0]+="$(calc "$us / 1000") "
        local line
        line=$("$BIN_DIR/walk_holes" "$SHM/$name" "$reserve")
        ms[1]+="$(calc "${line##*elapsed_ns=} / 1000000") "
        line=$("$BIN_DIR/mincore_walk" "$SHM/$name" "$reserve")
        ms[2]+="$(calc "${line##*elapsed_ns=} / 1000000") "
        say "5: round $r done"
    done
    api DELETE "/api/v1/sections/$name" >/dev/null
    local ours walk
    # shellcheck disable=SC2086
    {
        ours=$(median ${ms[0]})
        walk=$(median ${ms[1]})
    }
    {
        echo "A $(human_bytes "$reserve") section created through the API with commit = reserve ($(printf %.0f "$create_ms") ms), $reset_note;"
        echo "$C5_PAGES distinct pages at random offsets then written directly to the object: $a_runs runs, $a_druns data runs, $(human_bytes "$a_dbytes") of data."
        [[ -n $note ]] && echo && echo "$note"
        echo
        echo "shm-admin: \`GET …/pages?maxRuns=1000000\` (curl time_total, $(stat -c %s "$TMP/c5-pages.json") bytes of JSON);"
        echo "walk_holes (lseek SEEK_DATA/SEEK_HOLE) and mincore_walk (mmap of the reserve + mincore): their own clock, open to close."
        echo "All three agreed on the runs before timing."
        echo
        echo "| walker | ms median (min–max) |"
        echo "|---|---|"
        for i in 0 1 2; do
            # shellcheck disable=SC2086
            echo "| ${names[i]} | $(fmt_stats %.2f ${ms[$i]}) |"
        done
    } | part 5
    target 5 "page map vs SEEK_DATA walker" "≤ 1.2×" "$(calc "$ours / $walk" | fmt_ratio)×" "$(mark "$ours <= 1.2 * $walk")"
}

# =================================================================================================
# 6. grow by 1 GiB vs one fallocate(2) of 1 GiB
c6() {
    local bytes r
    bytes=$(to_bytes "$C6_SIZE")
    local -A ms
    for ((r = 1; r <= ROUNDS; r++)); do
        local name="${PREFIX}c6-api-r$r" peer="$SHM/${PREFIX}c6-peer-r$r" code us size
        api POST /api/v1/sections "{\"name\":\"$name\",\"reserve\":$((2 * bytes)),\"commit\":4096}" >/dev/null
        read -r code us size <<<"$(curl_time "$URL/api/v1/sections/$name/grow" -X POST -H "$AUTH" \
            -H 'Content-Type: application/json' --data-binary "{\"by\":$bytes}")"
        [[ $code == 200 ]] || die "6: POST …/grow answered $code"
        local commit
        commit=$(stat -c %s "$SHM/$name")
        [[ $commit == $((4096 + bytes)) ]] || error "6: after grow by $bytes the object is $commit bytes, expected $((4096 + bytes))"
        ms[shm-admin]+="$(calc "$us / 1000") "
        api DELETE "/api/v1/sections/$name" >/dev/null

        "$BIN_DIR/shmtool" create "$peer" 4096
        local line
        line=$("$BIN_DIR/falloc" "$peer" end "$bytes")
        ms[falloc]+="$(calc "${line##*elapsed_ns=} / 1000000") "
        rm -f "$peer"
        say "6: round $r done"
    done
    local ours peer_ms
    # shellcheck disable=SC2086
    {
        ours=$(median ${ms[shm-admin]})
        peer_ms=$(median ${ms[falloc]})
    }
    {
        echo "Each round: a fresh section (reserve $(human_bytes $((2 * bytes))), commit 4 KiB) grown by $(human_bytes "$bytes");"
        echo "shm-admin: \`POST …/grow {\"by\": $bytes}\` (curl time_total); falloc: one \`fallocate(fd, 0, size, $bytes)\` on a fresh"
        echo "4 KiB object, its own clock (open to close). Both objects are deleted after each round, so memory stays free."
        echo
        echo "| grower | ms median (min–max) |"
        echo "|---|---|"
        # shellcheck disable=SC2086
        echo "| shm-admin | $(fmt_stats %.1f ${ms[shm-admin]}) |"
        # shellcheck disable=SC2086
        echo "| falloc | $(fmt_stats %.1f ${ms[falloc]}) |"
    } | part 6
    target 6 "grow by $(human_bytes "$bytes") vs fallocate" "≤ 1.1×" "$(calc "$ours / $peer_ms" | fmt_ratio)×" "$(mark "$ours <= 1.1 * $peer_ms")"
}

# =================================================================================================
# 7. 32 clients doing create + PUT 4 KiB + grow + delete cycles
c7() {
    local r pfx="${PREFIX}c7-"
    local l_rps="" l_p50="" l_p99="" errors=0 cycles=0 first=""
    # The server's own time per request, from its access log (what wrk adds is queueing).
    local log="$OUT/server-main.log" log_from
    log_from=$(stat -c %s "$log" 2>/dev/null || echo 0)
    for ((r = 1; r <= ROUNDS; r++)); do
        local f="$OUT/data/c7-r$r.txt" a b c d e n
        timeout $((C7_SECONDS + 60)) wrk -t"$C7_CLIENTS" -c"$C7_CLIENTS" -d"${C7_SECONDS}s" --latency --timeout 10s -H "$AUTH" \
            -s "$BENCH_DIR/cycle.lua" "$URL" -- "${pfx}r$r-" >"$f" 2>&1 || die "7: wrk failed: $(tail -3 "$f")"
        read -r a b c d e n <<<"$(wrk_parse "$f")"
        local ce cc
        ce=$(awk '/^cycle_errors/{print $2}' "$f")
        cc=$(awk '/^cycle_cycles/{print $2}' "$f")
        [[ -n $ce && -n $cc ]] || die "7: cycle.lua printed no counters: $(tail -5 "$f")"
        [[ -z $first ]] && first=$(sed -n 's/^cycle_first_error //p' "$f")
        l_rps+="$a "
        l_p50+="$b "
        l_p99+="$c "
        errors=$((errors + ce + e))
        cycles=$((cycles + cc))
        say "7: round $r: $a req/s, $cc cycles, p99 $c µs, errors $((ce + e))"
        sleep 0.5 # let requests that were in flight when wrk stopped finish
        delete_prefixed "${pfx}r$r-" # cycles cut off by the end of the run
    done
    [[ $errors == 0 ]] || error "7: $errors failed requests in the create/PUT/grow/delete cycles; first: ${first:-a socket error}"
    sleep 0.3 # the server writes its access log in batches of up to 100 ms
    local server_side
    server_side=$(python3 - "$log" "$log_from" <<'EOF'
import collections, re, sys
with open(sys.argv[1], "rb") as f:
    f.seek(int(sys.argv[2]))
    text = f.read().decode("utf-8", "replace")
times = collections.defaultdict(list)
for m in re.finditer(r" (POST|PUT|DELETE) (\S+) \d{3} bytes=\d+ duration_us=(\d+)", text):
    times[m.group(1) + " " + m.group(2)].append(int(m.group(3)))
for route in ("POST /api/v1/sections", "PUT /api/v1/sections/{name}/data",
              "POST /api/v1/sections/{name}/grow", "DELETE /api/v1/sections/{name}"):
    v = sorted(times.get(route, []))
    if v:
        print(f"| `{route}` | {len(v)} | {v[len(v) // 2]} | {v[min(len(v) - 1, len(v) * 99 // 100)]} | {v[-1]} |")
EOF
    )
    local p99m
    # shellcheck disable=SC2086
    p99m=$(median $l_p99)
    {
        echo "wrk -t$C7_CLIENTS -c$C7_CLIENTS -d${C7_SECONDS}s --latency with bench/cycle.lua: each connection creates a section"
        echo "(reserve 1 MiB, commit 4 KiB), PUTs 4 KiB, grows it by 64 KiB and deletes it, again and again."
        echo "Latency is per request (any of the four). $cycles cycles in all; errors: $errors${first:+ (first: \`$first\`)}."
        echo
        echo "| rounds | requests/s median (min–max) | p50 µs | p99 µs median (min–max) | errors |"
        echo "|---|---|---|---|---|"
        # shellcheck disable=SC2086
        echo "| $ROUNDS × ${C7_SECONDS}s | $(fmt_stats %.0f $l_rps) | $(median $l_p50) | $(fmt_stats %.0f $l_p99) | $errors |"
        if [[ -n $server_side ]]; then
            echo
            echo "The server's own time per request over all rounds (access log \`duration_us\`: from the request's"
            echo "headers to its last byte handed to the kernel); the rest of wrk's latency is waiting for a CPU."
            echo
            echo "| route | requests | p50 µs | p99 µs | max µs |"
            echo "|---|---|---|---|---|"
            echo "$server_side"
        fi
    } | part 7
    target 7 "cycle p99, 32 clients" "≤ 5 ms" "$(calc "$p99m / 1000" | fmt 2) ms" "$(mark "$p99m <= 5000")"
    target 7 "cycle errors" "0" "$errors" "$(mark "$errors == 0")"
}

# =================================================================================================
# 8. server RSS: idle (measured at the start), with 10,000 sections, growth over a wrk soak
c8() {
    make_many
    local idle=$1 pid
    start_server c8
    pid=$SERVER_PID
    curl -sS -f -o /dev/null -H "$AUTH" "$URL/api/v1/sections?limit=10000" || die "8: GET /api/v1/sections?limit=10000 failed"
    sleep 1
    local with_many
    with_many=$(rss_kib "$pid")
    say "8: RSS with $C4_SECTIONS sections listed: $with_many KiB"

    local section="${PREFIX}many-00000" f="$OUT/data/c8-warmup.txt"
    timeout $((C8_WARMUP + 60)) wrk -t2 -c32 -d"${C8_WARMUP}s" --timeout 10s -H "$AUTH" -s "$BENCH_DIR/soak.lua" "$URL" -- "$section" >"$f" 2>&1 ||
        die "8: wrk warm-up failed: $(tail -3 "$f")"
    local before after peak=0 samples="$TMP/c8-rss.txt" spid
    (
        for ((i = 0; i < C8_SOAK + 30; i++)); do
            rss_kib "$pid" || break
            sleep 1
        done
    ) >"$samples" 2>/dev/null &
    spid=$!
    track "$spid"
    f="$OUT/data/c8-soak.txt"
    timeout $((C8_SOAK + 60)) wrk -t2 -c32 -d"${C8_SOAK}s" --latency --timeout 10s -H "$AUTH" -s "$BENCH_DIR/soak.lua" "$URL" -- "$section" >"$f" 2>&1 ||
        die "8: wrk soak failed: $(tail -3 "$f")"
    stop_pid "$spid"
    untrack "$spid"
    peak=$(sort -n "$samples" | tail -1)
    # Medians of the first and the last quarter of the soak (15 s each), not two single readings:
    # RSS goes up and down by 10 MiB and more as the buffers of 10,000-section listings, metrics
    # and system answers are made and freed (a 150 s soak swung between 21 and 37 MiB with no trend).
    local -a rss
    mapfile -t rss <"$samples"
    local k=$((${#rss[@]} / 4))
    ((k > 15)) && k=15
    ((k >= 1)) || k=1
    ((${#rss[@]} >= 1)) || die "8: no RSS samples during the soak"
    before=$(printf '%s\n' "${rss[@]:0:k}" | sort -n | sed -n "$(((k + 1) / 2))p")
    after=$(printf '%s\n' "${rss[@]: -k}" | sort -n | sed -n "$(((k + 1) / 2))p")
    local a b c d e n
    read -r a b c d e n <<<"$(wrk_parse "$f")"
    [[ $((d + e)) == 0 ]] || error "8: the soak had $d non-2xx answers and $e socket errors"
    stop_server
    local growth
    growth=$(calc "($after - $before) * 100 / $before")
    {
        echo "VmRSS from /proc/PID/status. Idle: a fresh server one second after it answered \`/healthz\` and \`/api/v1/system\`."
        echo "With sections: a fresh server after one \`GET /api/v1/sections?limit=10000\` over the $C4_SECTIONS foreign sections."
        echo "Soak: wrk -t2 -c32 rotating the read endpoints a monitor polls (bench/soak.lua): ${C8_WARMUP}s warm-up, then ${C8_SOAK}s;"
        echo "growth is from the median of the soak's first ${k} s to that of its last ${k} s, one reading a second (soak: $n requests, $(printf %.0f "$a") req/s, p50 $b µs, p99 $c µs)."
        echo
        echo "| when | RSS |"
        echo "|---|---|"
        echo "| idle | $((idle / 1024)) MiB ($idle KiB) |"
        echo "| with $C4_SECTIONS sections | $((with_many / 1024)) MiB ($with_many KiB) |"
        echo "| first ${k} s of the soak (median) | $((before / 1024)) MiB ($before KiB) |"
        echo "| peak during the soak | $((peak / 1024)) MiB ($peak KiB) |"
        echo "| last ${k} s of the soak (median) | $((after / 1024)) MiB ($after KiB) |"
    } | part 8
    target 8 "RSS idle" "≤ 16 MiB" "$(calc "$idle / 1024" | fmt 1) MiB" "$(mark "$idle <= 16384")"
    target 8 "RSS with $C4_SECTIONS sections" "≤ 64 MiB" "$(calc "$with_many / 1024" | fmt 1) MiB" "$(mark "$with_many <= 65536")"
    target 8 "RSS growth over the ${C8_SOAK}s soak" "< 5 %" "$(printf %.1f "$growth") %" "$(mark "$growth < 5")"
}

# =================================================================================================
# Driver
run_comparison() { # N: runs cN in a subshell so that a failure ends only that comparison
    local n=$1 rc=0
    [[ " $ONLY " == *" $n "* ]] || return 0
    if ! server_alive && [[ $n != 8 ]]; then
        error "the server (pid $SERVER_PID) is gone before comparison $n; restarting it"
        start_server "before-c$n"
    fi
    say "== comparison $n"
    # In the background and waited for, so that a signal to this script is handled at once
    # (the cleanup then stops the subshell and everything it started).
    (
        PIDFILE="$TMP/pids.c$n"
        : >"$PIDFILE"
        trap 'stop_tracked "$PIDFILE"' EXIT
        "c$n" "${@:2}"
    ) &
    local sub=$!
    track "$sub"
    wait "$sub" || rc=$?
    untrack "$sub"
    stop_tracked "$TMP/pids.c$n"
    if [[ $rc != 0 ]]; then
        error "comparison $n failed (exit $rc); see the messages above"
        echo "**Failed** (exit $rc): see \`run.log\`." | part "$n"
    fi
}

machine_line() {
    local cpu mem
    cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
    mem=$(awk '/^MemTotal:/{printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
    echo "$(nproc) CPUs, ${cpu:-unknown CPU}, kernel $(uname -r), $mem RAM, $(df -h --output=size "$SHM" | tail -1 | tr -d ' ') $SHM, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
}

write_results() {
    local dest=$1 n
    {
        echo "# shm-admin benchmarks"
        echo
        if [[ $SMOKE == 1 ]]; then
            echo "**Smoke run** (BENCH_SMOKE=1): tiny sizes, one round. These numbers say the scripts work, nothing more."
            echo
        fi
        echo "Made by \`bench/run.sh\` ($MODE_TEXT). Each comparison ran in one go, alternating its variants"
        echo "A B C A B C …; figures are the median and (min–max) over the rounds. Loopback only."
        echo
        echo "- Machine: $MACHINE"
        echo "- Server: \`$SERVER_BIN\`, version $SERVER_VERSION${GIT_REV:+, commit $GIT_REV}"
        echo "- Peers: $PEERS"
        echo
        echo "## Targets (issue 5; information, the bench does not fail on them)"
        echo
        echo "| # | what | target | result | |"
        echo "|---|---|---|---|---|"
        if [[ -s $OUT/targets.tsv ]]; then
            sort -s -t$'\t' -k1,1n "$OUT/targets.tsv" | awk -F'\t' '{printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}'
        fi
        local -a titles=(""
            "GET /api/v1/sections, $C1_SECTIONS sections, wrk -c32"
            "Raw dump of a $(human_bytes "$(to_bytes "$C2_SIZE")") section"
            "format=hexdump of $(human_bytes "$(to_bytes "$C3_SIZE")")"
            "List $C4_SECTIONS sections, $C4_PROCS processes mapping $C4_PER_PROC each"
            "Page map of a $(human_bytes "$(to_bytes "$C5_RESERVE")") reserve with $C5_PAGES scattered data pages"
            "Grow by $(human_bytes "$(to_bytes "$C6_SIZE")")"
            "Create + PUT 4 KiB + grow + delete, $C7_CLIENTS clients"
            "Server RSS")
        for n in 1 2 3 4 5 6 7 8; do
            [[ -f $OUT/parts/$n.md ]] || continue
            echo
            echo "## $n. ${titles[n]}"
            echo
            cat "$OUT/parts/$n.md"
        done
        echo
        echo "## Errors"
        echo
        if [[ -s $ERRORS ]]; then
            sed 's/^/- /' "$ERRORS"
        else
            echo "None."
        fi
        if [[ -f $BENCH_DIR/ANALYSIS.md && $SMOKE == 0 ]]; then
            echo
            cat "$BENCH_DIR/ANALYSIS.md"
        fi
    } >"$dest"
}

main() {
    mkdir -p "$OUT"
    rm -rf "$OUT/parts" "$OUT/data" "$OUT/targets.tsv" "$ERRORS" "$OUT/c3-diff.txt"
    mkdir -p "$OUT/parts" "$OUT/data"
    : >"$ERRORS"
    exec > >(tee "$OUT/run.log") 2>&1

    local t_start
    t_start=$(now_us)
    local tool
    for tool in gcc pkg-config curl wrk nginx lsof hexdump python3 timeout; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is missing: run \`scripts/setup bench\` (or \`make setup-bench\`)"
    done
    pkg-config --exists libmicrohttpd || die "libmicrohttpd's pkg-config file is missing: run \`scripts/setup bench\`"

    say "building the C peers into $BIN_DIR"
    mkdir -p "$BIN_DIR"
    local c
    for c in walk_holes mincore_walk falloc shmtool; do
        gcc -O2 -Wall -Wextra -o "$BIN_DIR/$c" "$BENCH_DIR/$c.c" || die "gcc failed on bench/$c.c"
    done
    # shellcheck disable=SC2046
    gcc -O2 -Wall -Wextra -o "$BIN_DIR/bare_mhd" "$BENCH_DIR/bare_mhd.c" $(pkg-config --cflags --libs libmicrohttpd) -lpthread ||
        die "gcc failed on bench/bare_mhd.c"

    SERVER_BIN=$(find_server_binary)
    [[ -x $SERVER_BIN ]] || die "no server binary at $SERVER_BIN: build it with \`make release\` (or set SHM_ADMIN_BIN)"
    local dest=${BENCH_RESULTS:-$BENCH_DIR/RESULTS.md}
    MODE_TEXT="full, $ROUNDS rounds"
    [[ $SMOKE == 1 ]] && MODE_TEXT="smoke, $ROUNDS round" && dest="$OUT/RESULTS.md"
    if [[ $SERVER_BIN != */release/* ]]; then
        say "$SERVER_BIN is not a release build: results go to $OUT/RESULTS.md, not bench/RESULTS.md"
        MODE_TEXT+=", NOT a release build"
        dest="$OUT/RESULTS.md"
    fi
    if [[ $ONLY != "1 2 3 4 5 6 7 8" || -n ${BENCH_ROUNDS:-} ]]; then
        MODE_TEXT+=", comparisons $ONLY"
        dest="$OUT/RESULTS.md"
    fi

    MACHINE=$(machine_line)
    # "-dirty" when anything but the bench's own output differs from the commit (a rerun finds the
    # last run's RESULTS.md modified; that says nothing about the server measured).
    GIT_REV=${BENCH_SERVER_COMMIT:-$(git -C "$ROOT" rev-parse --short=7 HEAD 2>/dev/null || true)}
    if [[ -z ${BENCH_SERVER_COMMIT:-} && -n $GIT_REV ]] &&
        [[ -n $(git -C "$ROOT" status --porcelain -- . ':!bench/RESULTS.md' ':!bench/out' 2>/dev/null) ]]; then
        GIT_REV+="-dirty"
    fi
    PEERS="$(nginx -v 2>&1 | sed 's#.*/##;s#^#nginx #'), wrk $( (wrk -v 2>&1 || true) | awk 'NR==1{print $2}'), libmicrohttpd $(pkg-config --modversion libmicrohttpd)"
    PEERS+=", $(curl --version | awk 'NR==1{print $1, $2}'), $(hexdump --version 2>&1 | awk '{print $1, "(" $3, $4 ")"}' | head -1)"
    PEERS+=", lsof $(lsof -v 2>&1 | awk '/revision:/{print $2; exit}'), $(ls --version | head -1), gcc $(gcc -dumpfullversion)"
    say "machine: $MACHINE"
    say "mode: $MODE_TEXT; objects under $SHM/$PREFIX*"

    # nginx's own directory, outside $TMP (0700) so that its unprivileged workers can reach it.
    NGX_DIR=$(mktemp -d /tmp/shm-admin-bench-nginx.XXXXXX)
    start_server main
    SERVER_VERSION=$(api GET /api/v1/system | json "d.get('version', '?')" 2>/dev/null) || SERVER_VERSION="?"
    sleep 1
    local idle
    idle=$(rss_kib "$SERVER_PID")
    say "8: idle RSS $idle KiB"

    run_comparison 1
    run_comparison 2
    run_comparison 3
    run_comparison 5
    run_comparison 6
    run_comparison 7
    run_comparison 4
    stop_server
    run_comparison 8 "$idle"
    remove_objects

    local took=$((($(now_us) - t_start) / 1000000))
    MODE_TEXT+=", ${took}s in all, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    write_results "$dest"
    say "results: $dest (${took}s)"
    if [[ -s $ERRORS ]]; then
        say "$(wc -l <"$ERRORS") error(s):"
        sed 's/^/  - /' "$ERRORS" >&2
        if [[ $SMOKE == 1 ]]; then
            exit 1
        fi
    fi
}

main "$@"
