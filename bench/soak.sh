#!/usr/bin/env bash
# Soak: a long pgbench run through one guard session, sampling guard's resident memory (VmRSS),
# threads and open descriptors every INTERVAL seconds, then the growth of the mean RSS from the
# first third of the samples to the last. A gateway that keeps something per statement or per
# connection grows here; a flat line is what it should show.
#
# Usage: bench/soak.sh
#   DURATION=600 INTERVAL=10 CLIENTS=16 SCALE=10 WORKLOAD=mixed override
#   WORKLOAD=select: pgbench -S; mixed: its default TPC-B-like script (writes allowed by a rule)
#   RECONNECT=1: a new connection for every transaction (pgbench -C), to soak connection set-up
set -euo pipefail

DURATION=${DURATION:-600}
INTERVAL=${INTERVAL:-10}
CLIENTS=${CLIENTS:-16}
SCALE=${SCALE:-10}
WORKLOAD=${WORKLOAD:-mixed}
RECONNECT=${RECONNECT:-0}
source "$(dirname "$0")/lib.sh"

need_postgres
need python3 python3
case $WORKLOAD in select | mixed) ;; *) echo "bench: WORKLOAD is select or mixed" >&2; exit 2 ;; esac

build_guard
GUARD_PID=
# guard ends its command's process group on SIGTERM and still seals its records.
on_exit() { if [ -n "$GUARD_PID" ]; then kill "$GUARD_PID" && wait "$GUARD_PID" || true; fi; }
make_work
start_postgres -c max_connections=100 -c shared_buffers=256MB -c synchronous_commit=off
psql -X -q -h "$WORK" -p "$PG_PORT" -U postgres -c "create database bench" >/dev/null
echo "pgbench -i -s $SCALE..." >&2
pgbench -i -q -s "$SCALE" "postgres://postgres:$PASSWORD@127.0.0.1:$PG_PORT/bench" >/dev/null 2>&1

cat >"$WORK/guard.toml" <<EOF
[[target]]
name = "bench"
kind = "postgres"
upstream = "127.0.0.1:$PG_PORT"
database = "bench"
tls = "disable"
credentials = { username = "postgres", password_env = "BENCH_PW" }

[[rule]]
target = "bench"
class = ["write"]
action = "allow"
EOF

args="-n -T $DURATION -c $CLIENTS -j $((CLIENTS < 2 ? 1 : 2))"
if [ "$WORKLOAD" = select ]; then args="-S $args"; fi
if [ "$RECONNECT" = 1 ]; then args="-C $args"; fi
GUARD_HOME="$WORK/home" BENCH_PW="$PASSWORD" "$GUARD" -q -c "$WORK/guard.toml" -- \
    sh -c "pgbench $args \"\$BENCH_DATABASE_URL\" >'$WORK/out' 2>&1; echo \$? >'$WORK/rc'" \
    </dev/null >/dev/null 2>"$WORK/guard.err" &
GUARD_PID=$!
echo "pgbench $args through guard (pid $GUARD_PID), sampling every ${INTERVAL}s" >&2

# One sample: seconds since the start, VmRSS in kB, threads, open descriptors ("-" when guard's
# descriptors are not readable: guard is not dumpable, so only root may list them).
sample() {
    local fds=-
    if [ -r "/proc/$GUARD_PID/fd" ]; then fds=$(ls "/proc/$GUARD_PID/fd" | wc -l); fi
    local rss tasks
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$GUARD_PID/status")
    tasks=$(ls "/proc/$GUARD_PID/task" | wc -l)
    echo "$1 $rss $tasks $fds"
}

start=$SECONDS
: >"$WORK/samples"
while [ ! -e "$WORK/rc" ] && kill -0 "$GUARD_PID" 2>/dev/null; do
    sleep "$INTERVAL"
    [ -e "$WORK/rc" ] || sample $((SECONDS - start)) | tee -a "$WORK/samples" >&2 || true
done
wait "$GUARD_PID" || { cat "$WORK/guard.err" "$WORK/out" >&2; exit 1; }
GUARD_PID=
[ "$(cat "$WORK/rc")" = 0 ] && ! grep -qi aborted "$WORK/out" \
    || { echo "bench: pgbench failed:" >&2; cat "$WORK/out" >&2; exit 1; }
statements=$(cat "$WORK"/home/sessions/*/transcript.jsonl | grep -c '"type":"query"' || true)
tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/out" | tail -n 1)

python3 - "$WORK/samples" "$args" "$statements" "$tps" "$(nproc)" <<'PY'
import sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
args, statements, tps, cores = sys.argv[2:6]
print(f"pgbench {args} through guard, {cores} cores: {float(tps):.0f} tps, {statements} statements recorded")
print(f"{'t (s)':>6} {'RSS MiB':>8} {'threads':>8} {'fds':>5}")
for t, rss, tasks, fds in rows:
    print(f"{t:>6} {int(rss) / 1024:8.1f} {tasks:>8} {fds:>5}")
third = max(1, len(rows) // 3)
mean = lambda part: sum(int(r[1]) for r in part) / len(part) / 1024
first, last = mean(rows[:third]), mean(rows[-third:])
print(f"mean RSS, first third {first:.1f} MiB, last third {last:.1f} MiB: "
      f"{last - first:+.1f} MiB ({(last - first) / first * 100:+.1f} %); "
      f"min {min(int(r[1]) for r in rows) / 1024:.1f}, max {max(int(r[1]) for r in rows) / 1024:.1f} MiB")
PY
