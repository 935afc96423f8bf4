#!/usr/bin/env bash
# PTY relay benchmark: 64 MiB of text through `guard -- cat` and through util-linux `script`
# (also a PTY relay that records), in the same run, plus guard's start-up time and peak RSS.
#   bench/pty.sh [MiB]      (default 64; needs a release build, made here)
#   CORPUS=base64 bench/pty.sh   random base64 lines instead of source code: the masker's worst
#                                case, since the recording is masked as it is written
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-64}
cargo build --release --locked --quiet
guard=$PWD/target/release/guard
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GUARD_HOME=$work/home

# Text lines (a PTY in canonical mode takes lines of at most 4095 bytes): guard's own source
# code, the kind of output an agent prints, or random base64.
python3 - "$work/input" "$mib" "${CORPUS:-code}" <<'PY'
import base64, glob, os, sys
path, mib, corpus = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if corpus == "base64":
    block = base64.encodebytes(os.urandom(57 * 1024))  # 76-column lines
else:
    block = b"".join(open(f, "rb").read() for f in sorted(glob.glob("src/**/*.rs", recursive=True)))
    block = b"\n".join(l[:4000] for l in block.split(b"\n")) + b"\n"
with open(path, "wb") as f:
    written = 0
    while written < mib * 1024 * 1024:
        f.write(block); written += len(block)
PY
size=$(stat -c %s "$work/input")

# Median wall time of $runs runs of a shell command line, in seconds.
median() {
  python3 - "$@" <<'PY'
import subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2]
times = []
for _ in range(runs):
    t = time.perf_counter(); subprocess.run(cmd, shell=True, check=True); times.append(time.perf_counter() - t)
times.sort(); print(f"{times[len(times)//2]:.4f}")
PY
}

# Both relays get echo off, so each writes the input once (guard turns echo off itself when its
# stdin is not a terminal; script is told to with stty).
t_guard=$(median 3 "$guard -q -- cat < $work/input > /dev/null")
t_script=$(median 3 "script -q -c 'stty -echo; cat' /dev/null < $work/input > /dev/null")
t_start=$(median 21 "$guard -q --no-cast -- true < /dev/null > /dev/null")
rss_kb=$( { /usr/bin/time -f '%M' "$guard" -q -- cat < "$work/input" > /dev/null; } 2>&1 | tail -1)

python3 - "$size" "$t_guard" "$t_script" "$t_start" "$rss_kb" "${CORPUS:-code}" <<'PY'
import sys
size, tg, ts, start, rss = int(sys.argv[1]), *map(float, sys.argv[2:5]), int(sys.argv[5])
mib = size / 2**20
print(f"corpus {sys.argv[6]}")
print(f"relay {mib:.0f} MiB   guard {tg:.3f}s ({mib/tg:.0f} MiB/s)   script {ts:.3f}s ({mib/ts:.0f} MiB/s)   guard/script time {tg/ts:.2f}x")
print(f"start-up  guard -- true  median {start*1000:.1f} ms")
print(f"peak RSS  guard relaying {mib:.0f} MiB  {rss/1024:.1f} MiB")
PY
