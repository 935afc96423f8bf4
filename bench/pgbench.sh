#!/usr/bin/env bash
# Throughput and added latency of guard's PostgreSQL gateway against a direct connection and
# PgBouncer (session mode), with pgbench's read-only workload (-S) at several client counts.
#
# Starts its own throwaway PostgreSQL and PgBouncer on free loopback ports, builds guard in
# release, and runs every configuration in the same run, alternating, so they share conditions.
# The transcript is on (it always is): every statement guard relays is recorded.
#
# Usage: bench/pgbench.sh            (DURATION=10 CLIENTS="1 4 16" SCALE=10 ROUNDS=1 override)
set -euo pipefail

DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-"1 4 16"}
SCALE=${SCALE:-10}
ROUNDS=${ROUNDS:-1}
source "$(dirname "$0")/lib.sh"

need() { command -v "$1" >/dev/null || { echo "bench: $1 is missing: install $2" >&2; exit 1; }; }
need pgbench "the Debian package postgresql"
need pgbouncer "the Debian package pgbouncer"
[ -x "$PG_BIN/initdb" ] || { echo "bench: initdb is missing: install postgresql" >&2; exit 1; }

build_guard
on_exit() { [ -f "$WORK/pgbouncer.pid" ] && kill "$(cat "$WORK/pgbouncer.pid")"; }
make_work
start_postgres -c max_connections=100 -c shared_buffers=256MB -c synchronous_commit=off
psql -X -q -h "$WORK" -p "$PG_PORT" -U postgres -c "create database bench" >/dev/null

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
[ "$(id -u)" = 0 ] && chown postgres "$WORK/pgbouncer.ini" "$WORK/userlist.txt"
as_pg pgbouncer -d "$WORK/pgbouncer.ini"

cat >"$WORK/guard.toml" <<EOF
[[target]]
name = "bench"
kind = "postgres"
upstream = "127.0.0.1:$PG_PORT"
database = "bench"
tls = "disable"
credentials = { username = "postgres", password_env = "BENCH_PW" }
EOF

DIRECT_URL="postgres://postgres:$PASSWORD@127.0.0.1:$PG_PORT/bench"
BOUNCER_URL="postgres://postgres:$PASSWORD@127.0.0.1:$BOUNCER_PORT/bench"

echo "pgbench -i -s $SCALE..." >&2
pgbench -i -q -s "$SCALE" "$DIRECT_URL" >/dev/null 2>&1

# Runs pgbench through one path; prints "tps latency_ms".
run() {
    local mode=$1 clients=$2 threads=$(( $2 < 2 ? 1 : 2 )) out
    local args="-n -S -T $DURATION -c $clients -j $threads"
    case $mode in
    direct) out=$(pgbench $args "$DIRECT_URL" 2>&1) ;;
    pgbouncer) out=$(pgbench $args "$BOUNCER_URL" 2>&1) ;;
    guard)
        out=$(GUARD_HOME="$WORK/guard-home" BENCH_PW="$PASSWORD" "$GUARD" -q -c "$WORK/guard.toml" \
            -- sh -c "pgbench $args \"\$BENCH_DATABASE_URL\" 2>&1" </dev/null | tr -d '\r') ;;
    esac
    local tps lat
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -n 1)
    lat=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
    [ -n "$tps" ] || { echo "bench: pgbench via $mode failed:" >&2; echo "$out" >&2; exit 1; }
    echo "$tps $lat"
}

declare -A TPS LAT
for round in $(seq "$ROUNDS"); do
    for c in $CLIENTS; do
        for mode in direct guard pgbouncer; do
            read -r tps lat < <(run "$mode" "$c")
            echo "round $round, $c clients, $mode: $tps tps, $lat ms" >&2
            TPS[$mode,$c]=$(echo "${TPS[$mode,$c]:-0} + $tps / $ROUNDS" | bc -l)
            LAT[$mode,$c]=$(echo "${LAT[$mode,$c]:-0} + $lat / $ROUNDS" | bc -l)
        done
    done
done

records=$(cat "$WORK"/guard-home/sessions/*/transcript.jsonl | grep -c '"type":"query"' || true)
echo
echo "pgbench -S -T $DURATION, scale $SCALE, $(nproc) cores; guard recorded $records statements"
printf '%8s %11s %11s %11s %12s %12s %14s %14s\n' clients direct guard pgbouncer \
    guard/direct guard/pgb "guard +us/q" "pgbouncer +us/q"
for c in $CLIENTS; do
    d=${TPS[direct,$c]} g=${TPS[guard,$c]} b=${TPS[pgbouncer,$c]}
    # pgbench's latency average is per transaction; -S runs one statement per transaction.
    ga=$(echo "(${LAT[guard,$c]} - ${LAT[direct,$c]}) * 1000" | bc -l)
    ba=$(echo "(${LAT[pgbouncer,$c]} - ${LAT[direct,$c]}) * 1000" | bc -l)
    printf '%8s %11.0f %11.0f %11.0f %12.2f %12.2f %14.0f %14.0f\n' "$c" "$d" "$g" "$b" \
        "$(echo "$g / $d" | bc -l)" "$(echo "$g / $b" | bc -l)" "$ga" "$ba"
done
