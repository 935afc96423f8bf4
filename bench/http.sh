#!/usr/bin/env bash
# HTTP target benchmark: wrk against a small local JSON API directly and through guard's HTTP
# reverse proxy (masking on, the default), in the same run, so the ratios compare like with like.
#   bench/http.sh [seconds]   (default 10 per run; 2 threads, 16 connections; needs a release
#                              build, made here, and wrk, installed here with apt-get if missing)
# Only loopback is used: the server, guard's listener and wrk all stay on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null
  else sudo apt-get install -y -qq wrk >/dev/null
  fi
fi
cargo build --release --locked --quiet
guard=$PWD/${CARGO_TARGET_DIR:-target}/release/guard
case ${CARGO_TARGET_DIR:-} in /*) guard=$CARGO_TARGET_DIR/release/guard ;; esac
work=$(mktemp -d)
server_pid=
guard_pid=
cleanup() {
  # Only what this script started: the server, and guard (which the stop file lets end itself).
  touch "$work/stop"
  [ -n "$guard_pid" ] && { wait "$guard_pid" 2>/dev/null || true; }
  [ -n "$server_pid" ] && { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
export GUARD_HOME=$work/home XDG_CONFIG_HOME=$work/config
unset GUARD_CONFIG HTTP_PROXY HTTPS_PROXY http_proxy https_proxy NO_PROXY no_proxy

# A JSON list of 20 customers, each with an email for guard to mask. HTTP/1.1 with a
# Content-Length so wrk keeps its connections open, as a real client would.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$port" <<'PY' &
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
body = json.dumps([{"id": i, "name": f"Customer {i}", "email": f"user{i}@example.com",
                    "plan": "pro"} for i in range(20)]).encode()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
server_pid=$!

cat > "$work/guard.toml" <<EOF2
[[target]]
name = "shop"
kind = "http"
upstream = "http://127.0.0.1:$port"
EOF2
# The child writes the URL guard gave it, then idles until the script is done.
"$guard" -q -c "$work/guard.toml" -- sh -c \
  "echo \"\$SHOP_URL\" > '$work/url'; while [ ! -e '$work/stop' ]; do sleep 0.2; done" \
  </dev/null >/dev/null 2>"$work/guard.err" &
guard_pid=$!
for _ in $(seq 100); do
  [ -s "$work/url" ] && curl -sf "http://127.0.0.1:$port/" >/dev/null && break
  sleep 0.1
done
[ -s "$work/url" ] || { cat "$work/guard.err" >&2; echo "guard gave no URL" >&2; exit 1; }
via=$(cat "$work/url")
curl -sf "$via/customers" | grep -q 'u\*\*\*@example.com' \
  || { echo "guard's answer is not masked" >&2; exit 1; }

# requests/s and p99 latency in ms from one wrk run.
measure() {
  wrk -t2 -c16 -d"${secs}s" --latency "$1" | python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s*([\d.]+)", t).group(1))
v, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", t).groups()
print(rps, float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit])'
}
read -r d_rps d_p99 < <(measure "http://127.0.0.1:$port/customers")
read -r g_rps g_p99 < <(measure "$via/customers")
python3 - "$d_rps" "$d_p99" "$g_rps" "$g_p99" "$secs" <<'PY'
import sys
d_rps, d_p99, g_rps, g_p99, secs = map(float, sys.argv[1:])
print(f"wrk -t2 -c16 -d{secs:.0f}s, a 20-record JSON body with 20 emails, masking on")
print(f"direct:       {d_rps:10.0f} req/s   p99 {d_p99:7.2f} ms")
print(f"through guard:{g_rps:10.0f} req/s   p99 {g_p99:7.2f} ms")
print(f"guard/direct: {g_rps / d_rps:10.2f}x req/s p99 {g_p99 / d_p99:7.2f}x")
PY
