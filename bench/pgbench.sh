#!/usr/bin/env bash
# Throughput, added latency (p50 and p99), CPU and memory of guard's PostgreSQL gateway against a
# direct connection and PgBouncer (session mode), with pgbench's read-only script (-S, one SELECT
# a transaction) and its default TPC-B-like script (7 statements a transaction: BEGIN, three
# UPDATEs, a SELECT, an INSERT, END), at several client counts.
#
# Starts its own throwaway PostgreSQL and PgBouncer on free loopback ports, builds guard in
# release, and runs every configuration in the same run, alternating, so they share conditions.
# The transcript is on (it always is): every statement guard relays is recorded. For the mixed
# script a [[rule]] allows writes on the bench target (they would ask a human otherwise).
#
# Usage: bench/pgbench.sh
#   DURATION=10 CLIENTS="1 4 16" SCALE=10 ROUNDS=1 WORKLOADS="select mixed" override
set -euo pipefail

DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-"1 4 16"}
SCALE=${SCALE:-10}
ROUNDS=${ROUNDS:-1}
WORKLOADS=${WORKLOADS:-"select mixed"}
source "$(dirname "$0")/lib.sh"

need_postgres
need pgbouncer pgbouncer
need bc bc
declare -A STATEMENTS=([select]=1 [mixed]=7)
for w in $WORKLOADS; do
    [ -n "${STATEMENTS[$w]:-}" ] || { echo "bench: unknown workload $w (select, mixed)" >&2; exit 2; }
done

build_guard
on_exit() { if [ -f "$WORK/pgbouncer.pid" ]; then kill "$(cat "$WORK/pgbouncer.pid")"; fi; }
make_work
start_postgres -c max_connections=100 -c shared_buffers=256MB -c synchronous_commit=off
psql -X -q -h "$WORK" -p "$PG_PORT" -U postgres -c "create database bench" >/dev/null

start_pgbouncer() {
    BOUNCER_PORT=$(free_port)
    cat >"$WORK/pgbouncer.ini" <<EOF
[databases]
bench = host=127.0.0.1 port=$PG_PORT dbname=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $WORK/userlist.txt
pool_mode = session
max_client_conn = 200
default_pool_size = 40
logfile = $WORK/pgbouncer.log
pidfile = $WORK/pgbouncer.pid
EOF
    echo "\"postgres\" \"$PASSWORD\"" >"$WORK/userlist.txt"
    if [ "$(id -u)" = 0 ]; then chown postgres "$WORK/pgbouncer.ini" "$WORK/userlist.txt"; fi
    as_pg pgbouncer -d "$WORK/pgbouncer.ini"
}
start_pgbouncer

# The select script only reads; the mixed one writes, which guard asks a human about by default.
write_configs() {
    cat >"$WORK/guard-select.toml" <<EOF
[[target]]
name = "bench"
kind = "postgres"
upstream = "127.0.0.1:$PG_PORT"
database = "bench"
tls = "disable"
credentials = { username = "postgres", password_env = "BENCH_PW" }
EOF
    cat "$WORK/guard-select.toml" - >"$WORK/guard-mixed.toml" <<EOF

[[rule]]
target = "bench"
class = ["write"]
action = "allow"
EOF
}
write_configs

DIRECT_URL="postgres://postgres:$PASSWORD@127.0.0.1:$PG_PORT/bench"
BOUNCER_URL="postgres://postgres:$PASSWORD@127.0.0.1:$BOUNCER_PORT/bench"

echo "pgbench -i -s $SCALE..." >&2
pgbench -i -q -s "$SCALE" "$DIRECT_URL" >/dev/null 2>&1
mkdir -p "$WORK/lat" "$WORK/runs"

# pgbench does this before each run unless -n; through guard VACUUM would ask and TRUNCATE is
# refused, so every path runs with -n and the tables are reset here, outside the timing.
reset_tables() {
    psql -X -q -h "$WORK" -p "$PG_PORT" -U postgres -d bench \
        -c "vacuum pgbench_branches" -c "vacuum pgbench_tellers" -c "truncate pgbench_history" >/dev/null
}

fail_run() { echo "bench: pgbench via $1 failed:" >&2; cat "$2/out" >&2; exit 1; }

# Runs pgbench once through one path into $WORK/runs/<run>; appends each transaction's latency
# (µs, from pgbench's per-transaction log) to $WORK/lat/<workload>-<clients>-<path>.
run() {
    local mode=$1 workload=$2 clients=$3 round=$4
    local dir="$WORK/runs/$workload-$clients-$mode-$round"
    local args="-n -T $DURATION -c $clients -j $((clients < 2 ? 1 : 2)) -l --log-prefix=$dir/tx"
    if [ "$workload" = select ]; then args="-S $args"; else reset_tables; fi
    mkdir -p "$dir"
    case $mode in
    direct) pgbench $args "$DIRECT_URL" >"$dir/out" 2>&1 || fail_run "$mode" "$dir" ;;
    pgbouncer) pgbench $args "$BOUNCER_URL" >"$dir/out" 2>&1 || fail_run "$mode" "$dir" ;;
    guard)
        # The command's parent is guard: it reads guard's CPU time and peak memory once pgbench
        # is done, while the session is still open.
        GUARD_HOME="$dir/home" BENCH_PW="$PASSWORD" "$GUARD" -q -c "$WORK/guard-$workload.toml" -- \
            sh -c "pgbench $args \"\$BENCH_DATABASE_URL\" >'$dir/out' 2>&1; rc=\$?
                   cat /proc/\$PPID/stat >'$dir/stat'; cat /proc/\$PPID/status >'$dir/status'
                   exit \$rc" </dev/null >/dev/null || fail_run "$mode" "$dir"
        grep -q '^Name:[[:space:]]*guard$' "$dir/status" \
            || { echo "bench: the command's parent is not guard" >&2; exit 1; }
        ;;
    esac
    if grep -qi 'aborted' "$dir/out" || grep -q '^number of failed transactions: [1-9]' "$dir/out"; then
        fail_run "$mode" "$dir"
    fi
    cat "$dir"/tx.* | awk '{ print $3 }' >>"$WORK/lat/$workload-$clients-$mode"
    rm -f "$dir"/tx.*
}

# Adds one run's figures to the totals: TPS (averaged over rounds), and for guard CPU ticks,
# statements recorded and peak resident memory.
declare -A TPS CPU RECORDS HWM
tally() {
    local mode=$1 workload=$2 clients=$3 round=$4
    local dir="$WORK/runs/$workload-$clients-$mode-$round" key="$2,$3" tps
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$dir/out" | tail -n 1)
    [ -n "$tps" ] || fail_run "$mode" "$dir"
    TPS[$mode,$key]=$(echo "${TPS[$mode,$key]:-0} + $tps / $ROUNDS" | bc -l)
    echo "round $round, $workload, $clients clients, $mode: $tps tps" >&2
    [ "$mode" = guard ] || return 0
    local ticks records hwm
    # utime and stime, fields 14 and 15, counted after the command name in parentheses.
    ticks=$(sed 's/.*) //' "$dir/stat" | awk '{ print $12 + $13 }')
    records=$(cat "$dir"/home/sessions/*/transcript.jsonl | grep -c '"type":"query"' || true)
    hwm=$(awk '/^VmHWM:/ { print $2 }' "$dir/status")
    CPU[$key]=$((${CPU[$key]:-0} + ticks))
    RECORDS[$key]=$((${RECORDS[$key]:-0} + records))
    HWM[$key]=$((hwm > ${HWM[$key]:-0} ? hwm : ${HWM[$key]:-0}))
    rm -rf "$dir/home"
}

for round in $(seq "$ROUNDS"); do
    for workload in $WORKLOADS; do
        for c in $CLIENTS; do
            for mode in direct guard pgbouncer; do
                run "$mode" "$workload" "$c" "$round"
                tally "$mode" "$workload" "$c" "$round"
            done
        done
    done
done

# Nearest-rank 50th and 99th percentiles of the numbers in a file.
percentiles() {
    sort -n "$1" | awk '{ a[NR] = $1 } END { i = int(NR * 0.5 + 0.999); j = int(NR * 0.99 + 0.999); print a[i], a[j] }'
}

total=0
for n in "${RECORDS[@]}"; do total=$((total + n)); done
echo
echo "pgbench -T $DURATION, scale $SCALE, $ROUNDS round(s), $(nproc) cores; guard recorded $total statements"
printf '%-8s %7s %8s %8s %8s %8s %6s %7s %7s %7s %7s %7s %7s %7s %6s\n' workload clients \
    direct guard pgbouncer g/direct g/pgb 'g+p50' 'g+p99' 'b+p50' 'b+p99' 'g+p50/s' 'g+p99/s' \
    'cpu/1k' 'rss'
hz=$(getconf CLK_TCK)
for workload in $WORKLOADS; do
    for c in $CLIENTS; do
        key="$workload,$c" lat="$WORK/lat/$workload-$c"
        read -r dp50 dp99 < <(percentiles "$lat-direct")
        read -r gp50 gp99 < <(percentiles "$lat-guard")
        read -r bp50 bp99 < <(percentiles "$lat-pgbouncer")
        d=${TPS[direct,$key]} g=${TPS[guard,$key]} b=${TPS[pgbouncer,$key]} s=${STATEMENTS[$workload]}
        # CPU milliseconds per 1000 statements, and the peak in MiB.
        cpu=$(echo "${CPU[$key]} * 1000 / $hz / ${RECORDS[$key]} * 1000" | bc -l)
        rss=$(echo "${HWM[$key]} / 1024" | bc -l)
        printf '%-8s %7s %8.0f %8.0f %8.0f %8.2f %6.2f %7d %7d %7d %7d %7.0f %7.0f %7.1f %6.1f\n' \
            "$workload" "$c" "$d" "$g" "$b" "$(echo "$g / $d" | bc -l)" "$(echo "$g / $b" | bc -l)" \
            $((gp50 - dp50)) $((gp99 - dp99)) $((bp50 - dp50)) $((bp99 - dp99)) \
            "$(echo "($gp50 - $dp50) / $s" | bc -l)" "$(echo "($gp99 - $dp99) / $s" | bc -l)" \
            "$cpu" "$rss"
    done
done
cat <<LEGEND
direct, guard, pgbouncer: transactions per second. g+p50, g+p99 (b+ for PgBouncer): microseconds
added to a transaction at the 50th and 99th percentile of pgbench's per-transaction log (the
path's pXX minus the direct pXX). g+p50/s, g+p99/s: guard's per statement (select: 1 statement
a transaction, mixed: 7). cpu/1k: guard's CPU time (user + system), ms per 1000 statements it
recorded. rss: guard's peak resident memory (VmHWM), MiB.
LEGEND
last=${CLIENTS##* }
for workload in $WORKLOADS; do
    printf "guard's peak RSS under %s-client load (%s): %.1f MiB\n" "$last" "$workload" \
        "$(echo "${HWM[$workload,$last]} / 1024" | bc -l)"
done
