#!/usr/bin/env bash
# HTTP target benchmark: wrk against nginx serving static JSON, directly and through guard's HTTP
# reverse proxy, with a body guard must mask (an email, a card number in free text and an API
# key in each record) and a clean body of the same shape and size (scanned, nothing to mask).
# All four runs happen in the same run, alternating, so the ratios compare like with like.
#
# Usage: bench/http.sh [seconds]      (default 10 a run)
#   THREADS=2 CONNECTIONS=16 RECORDS=20 override (wrk threads and connections, records a body)
# Only loopback is used: nginx (its own configuration in a temporary folder, one worker), guard's
# listener and wrk all stay on 127.0.0.1.
set -euo pipefail
SECS=${1:-10}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16}
RECORDS=${RECORDS:-20}
source "$(dirname "$0")/lib.sh"

need wrk wrk
need nginx nginx-light
need curl curl
need python3 python3

build_guard
NGINX_PID= GUARD_PID=
on_exit() {
    # guard ends itself once its command sees the stop file; nginx is ended by its pid.
    touch "$WORK/stop"
    if [ -n "$GUARD_PID" ]; then wait "$GUARD_PID" || true; fi
    if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" && wait "$NGINX_PID" || true; fi
}
make_work
export GUARD_HOME=$WORK/home XDG_CONFIG_HOME=$WORK/config
unset GUARD_CONFIG HTTP_PROXY HTTPS_PROXY http_proxy https_proxy NO_PROXY no_proxy

# Two bodies of the same shape: every record of masked.json has three values to mask (an email
# by its key, a card number and an API key by detectors), clean.json harmless values of about
# the same length under keys guard does not mask by name.
write_bodies() {
    mkdir -p "$WORK/www"
    python3 - "$WORK/www" "$RECORDS" <<'PY'
import json, sys
out, n = sys.argv[1], int(sys.argv[2])
masked = [{"id": i, "name": f"Customer {i}", "email": f"user{i}@example.com",
           "note": "paid by card 4111 1111 1111 1111", "ref": f"sk_live_4eC39HqLyjWDarjtT1zd{i:04d}",
           "plan": "pro"} for i in range(n)]
clean = [{"id": i, "name": f"Customer {i}", "contact": f"desk {i} north wing",
          "note": "paid by bank transfer in March", "ref": f"order {i:04d} of the spring batch",
          "plan": "pro"} for i in range(n)]
for name, records in (("masked", masked), ("clean", clean)):
    with open(f"{out}/{name}.json", "w") as f:
        json.dump(records, f, separators=(",", ":"))
PY
    chmod -R a+rX "$WORK/www"
}

# nginx in the foreground of a background job (so its pid is $!), one worker, keep-alive
# connections that last the whole run, no access log.
start_nginx() {
    NGINX_PORT=$(free_port)
    mkdir -p "$WORK/nginx/tmp"
    cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp;
    types { application/json json; }
    keepalive_requests 10000000;
    server { listen 127.0.0.1:$NGINX_PORT; root $WORK/www; }
}
EOF
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
    NGINX_PID=$!
    for _ in $(seq 50); do
        curl -sf "http://127.0.0.1:$NGINX_PORT/clean.json" >/dev/null && return
        sleep 0.1
    done
    echo "bench: nginx did not start:" >&2; cat "$WORK/nginx/error.log" >&2; exit 1
}

# guard with an HTTP target in front of nginx; its command writes the URL guard gave it, then
# idles until the script is done.
start_guard() {
    cat >"$WORK/guard.toml" <<EOF
[[target]]
name = "shop"
kind = "http"
upstream = "http://127.0.0.1:$NGINX_PORT"
EOF
    "$GUARD" -q -c "$WORK/guard.toml" -- sh -c \
        "echo \"\$SHOP_URL\" >'$WORK/url'; while [ ! -e '$WORK/stop' ]; do sleep 0.2; done" \
        </dev/null >/dev/null 2>"$WORK/guard.err" &
    GUARD_PID=$!
    for _ in $(seq 100); do [ -s "$WORK/url" ] && break; sleep 0.1; done
    [ -s "$WORK/url" ] || { cat "$WORK/guard.err" >&2; echo "bench: guard gave no URL" >&2; exit 1; }
    VIA=$(cat "$WORK/url")
}

write_bodies
start_nginx
start_guard
DIRECT="http://127.0.0.1:$NGINX_PORT"
# What the runs rely on: the masked body comes back masked, the clean one unchanged.
curl -sf "$VIA/masked.json" | grep -q 'u\*\*\*@example.com' \
    || { echo "bench: guard's answer is not masked" >&2; exit 1; }
cmp -s <(curl -sf "$VIA/clean.json") "$WORK/www/clean.json" \
    || { echo "bench: guard changed the clean body" >&2; exit 1; }

cpu_ticks() { sed 's/.*) //' "/proc/$GUARD_PID/stat" | awk '{ print $12 + $13 }'; }

# One wrk run: requests/s, p50 and p99 in ms, requests completed.
measure() {
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECS}s" --latency "$1" | python3 -c '
import re, sys
t = sys.stdin.read()
ms = lambda v, unit: float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
rps = float(re.search(r"Requests/sec:\s*([\d.]+)", t).group(1))
p50 = ms(*re.search(r"\s50%\s+([\d.]+)(us|ms|s)\b", t).groups())
p99 = ms(*re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", t).groups())
n = int(re.search(r"(\d+) requests in", t).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", t)
if errors:
    sys.exit("wrk: " + errors.group(0))
print(rps, p50, p99, n)'
}

results=()
for body in clean masked; do
    read -r rps p50 p99 _ < <(measure "$DIRECT/$body.json")
    echo "$body, direct: $rps req/s" >&2
    results+=("$body direct $rps $p50 $p99 0 0")
    before=$(cpu_ticks)
    read -r rps p50 p99 n < <(measure "$VIA/$body.json")
    echo "$body, guard: $rps req/s" >&2
    results+=("$body guard $rps $p50 $p99 $(($(cpu_ticks) - before)) $n")
done
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$GUARD_PID/status")
size=$(stat -c %s "$WORK/www/masked.json")

python3 - "$SECS" "$THREADS" "$CONNECTIONS" "$RECORDS" "$size" "$(nproc)" "$(getconf CLK_TCK)" \
    "$hwm" "${results[@]}" <<'PY'
import sys
secs, threads, conns, records, size, cores, hz, hwm = sys.argv[1:9]
runs = {}
for line in sys.argv[9:]:
    body, path, rps, p50, p99, ticks, n = line.split()
    runs[body, path] = (float(rps), float(p50), float(p99), int(ticks), int(n))
print(f"wrk -t{threads} -c{conns} -d{secs}s against nginx, {records} records ({size} bytes) a body, {cores} cores")
print(f"{'body':<7} {'direct/s':>9} {'guard/s':>9} {'ratio':>6} {'p50 d':>7} {'p50 g':>7} {'ratio':>6} "
      f"{'p99 d':>7} {'p99 g':>7} {'ratio':>6} {'cpu/1k':>7}")
for body in ("clean", "masked"):
    d, g = runs[body, "direct"], runs[body, "guard"]
    cpu = g[3] * 1000 / int(hz) / g[4] * 1000
    print(f"{body:<7} {d[0]:9.0f} {g[0]:9.0f} {g[0] / d[0]:6.2f} {d[1]:7.2f} {g[1]:7.2f} {g[1] / d[1]:6.2f} "
          f"{d[2]:7.2f} {g[2]:7.2f} {g[2] / d[2]:6.2f} {cpu:7.1f}")
print("req/s and latency (ms) direct (d) and through guard (g); ratio: guard/direct; cpu/1k: guard's")
print(f"CPU time in ms per 1000 requests. guard's peak RSS: {int(hwm) / 1024:.1f} MiB")
PY
