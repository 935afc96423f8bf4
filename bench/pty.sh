#!/usr/bin/env bash
# PTY relay benchmark: 64 MiB of text through guard, util-linux `script` and `asciinema rec`,
# three PTY relays that record what passes, each writing its recording to a file, in the same
# run; plus the start-up time (median) and peak RSS of each.
#
# Two directions:
#   output  the command prints the file (`cat FILE` under the relay): what an agent's output
#           does, and the one direction asciinema relays without a terminal;
#   input   the file is piped to the relay's stdin and the command (`cat`, echo off) prints it
#           back: guard and script only, since asciinema does not relay a piped stdin.
# The output direction also runs guard with --no-cast (relaying only), to show what the
# recording costs. The relays take turns, round by round.
#
# Usage: bench/pty.sh [MiB]                (default 64; ROUNDS=5 runs each, the median is kept)
#   CORPUS=base64 bench/pty.sh             random base64 lines instead of source code: the
#                                          masker's worst case, since guard masks its recording
set -euo pipefail
MIB=${1:-64}
ROUNDS=${ROUNDS:-5}
CORPUS=${CORPUS:-code}
source "$(dirname "$0")/lib.sh"

need script bsdutils
need asciinema asciinema
need python3 python3
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing: install the Debian package time" >&2; exit 1; }

build_guard
on_exit() { :; }
make_work
export GUARD_HOME=$WORK/home

# Text lines (a PTY in canonical mode takes lines of at most 4095 bytes): guard's own source
# code, the kind of output an agent prints, or random base64.
python3 - "$WORK/input" "$MIB" "$CORPUS" "$ROOT" <<'PY'
import base64, glob, os, sys
path, mib, corpus, root = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if corpus == "base64":
    block = base64.encodebytes(os.urandom(57 * 1024))  # 76-column lines
else:
    files = sorted(glob.glob(f"{root}/src/**/*.rs", recursive=True))
    block = b"".join(open(f, "rb").read() for f in files)
    block = b"\n".join(l[:4000] for l in block.split(b"\n")) + b"\n"
with open(path, "wb") as f:
    written = 0
    while written < mib * 1024 * 1024:
        f.write(block); written += len(block)
PY
SIZE=$(stat -c %s "$WORK/input")
IN=$WORK/input

# Median wall time of $1 runs of each shell command line after it, in seconds, one line each.
# The commands take turns, round by round, so a slow moment of the machine falls on all of them
# rather than on one.
median() {
    python3 - "$@" <<'PY'
import subprocess, sys, time
runs, cmds = int(sys.argv[1]), sys.argv[2:]
times = [[] for _ in cmds]
for _ in range(runs):
    for cmd, spent in zip(cmds, times):
        t = time.perf_counter(); subprocess.run(cmd, shell=True, check=True); spent.append(time.perf_counter() - t)
for spent in times:
    spent.sort(); print(f"{spent[len(spent)//2]:.4f}")
PY
}

# Each relay records into $WORK: guard its session (cast and transcript), script a typescript,
# asciinema a cast. stdout goes to /dev/null for all three.
G="$GUARD -q --"
S="script -q -c"
A="asciinema rec -q --overwrite -c"
out_guard="$G cat $IN </dev/null >/dev/null"
# guard relaying without a recording: what the recording (masking, encoding, hashing) costs.
out_bare="$GUARD -q --no-cast -- cat $IN </dev/null >/dev/null"
out_script="$S 'cat $IN' $WORK/typescript </dev/null >/dev/null"
out_asciinema="$A 'cat $IN' $WORK/out.cast </dev/null >/dev/null"
# Both get echo off, so each writes the input once (guard turns echo off itself when its stdin
# is not a terminal; script is told to with stty).
in_guard="$G cat <$IN >/dev/null"
in_script="$S 'stty -echo; cat' $WORK/typescript <$IN >/dev/null"

# (A command substitution, so that a relay that fails stops the script.)
times=$(median "$ROUNDS" "$out_guard" "$out_bare" "$out_script" "$out_asciinema")
read -r OUT_GUARD OUT_BARE OUT_SCRIPT OUT_ASCIINEMA <<<"$(echo $times)"
times=$(median "$ROUNDS" "$in_guard" "$in_script")
read -r IN_GUARD IN_SCRIPT <<<"$(echo $times)"
times=$(median 21 "$GUARD -q --no-cast -- true </dev/null >/dev/null" \
    "$S true $WORK/typescript </dev/null >/dev/null")
read -r START_GUARD START_SCRIPT <<<"$(echo $times)"
START_ASCIINEMA=$(median 5 "$A true $WORK/out.cast </dev/null >/dev/null")
declare -A RSS
for relay in guard script asciinema; do
    v="out_$relay"
    RSS[$relay]=$({ /usr/bin/time -f '%M' sh -c "${!v}"; } 2>&1 | tail -n 1)
done

python3 - "$SIZE" "$CORPUS" "$ROUNDS" "$(nproc)" "$OUT_GUARD" "$OUT_SCRIPT" \
    "$OUT_ASCIINEMA" "$IN_GUARD" "$IN_SCRIPT" "$START_GUARD" \
    "$START_SCRIPT" "$START_ASCIINEMA" "${RSS[guard]}" "${RSS[script]}" "${RSS[asciinema]}" \
    "$OUT_BARE" <<'PY'
import sys
size, corpus, rounds, cores = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
og, os_, oa, ig, is_, sg, ss, sa = map(float, sys.argv[5:13])
rg, rs, ra = (int(v) / 1024 for v in sys.argv[13:16])
ob = float(sys.argv[16])
mib = size / 2**20
rate = lambda t: f"{t:7.3f}s {mib / t:5.0f} MiB/s"
print(f"{mib:.0f} MiB of {corpus}, median of {rounds}, {cores} cores; each relay records to a file")
print(f"{'':10} {'guard':>20} {'script':>20} {'asciinema':>20} {'g/script':>9} {'g/asciinema':>12}")
print(f"{'output':10} {rate(og):>20} {rate(os_):>20} {rate(oa):>20} {og / os_:9.2f} {og / oa:12.2f}")
print(f"{'  no cast':10} {rate(ob):>20} {'':>20} {'':>20} {ob / os_:9.2f} {ob / oa:12.2f}")
print(f"{'input':10} {rate(ig):>20} {rate(is_):>20} {'-':>20} {ig / is_:9.2f} {'-':>12}")
print(f"{'start-up':10} {sg * 1000:17.1f} ms {ss * 1000:17.1f} ms {sa * 1000:17.1f} ms {sg / ss:9.2f} {sg / sa:12.2f}")
print(f"{'peak RSS':10} {rg:16.1f} MiB {rs:16.1f} MiB {ra:16.1f} MiB {rg / rs:9.2f} {rg / ra:12.2f}")
print("ratios are guard's time (or memory) over the other's: below 1, guard is faster (smaller).")
print("output: `cat FILE` under the relay; input: the file on the relay's stdin, echo off (asciinema")
print("does not relay a piped stdin). no cast: guard --no-cast, relaying without recording.")
print("start-up: `true` under the relay (guard with --no-cast). The relays take turns each round.")
print("peak RSS: while relaying the output run, the largest process of the relay and its command.")
PY
