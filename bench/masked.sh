#!/usr/bin/env bash
# Cost of masking: one big result (ROWS rows with a masked email column, a card number in
# free text and harmless columns) read with psql, directly and through guard, alternated in
# the same run. Prints the median seconds of each path and the ratio guard/direct.
#
# Usage: bench/masked.sh            (ROWS=200000 ROUNDS=3 override)
set -euo pipefail

ROWS=${ROWS:-200000}
ROUNDS=${ROUNDS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PASSWORD="bench-pw-$RANDOM$RANDOM"

echo "building guard (release)..." >&2
(cd "$ROOT" && { cargo build --release --quiet 2>/dev/null || cargo build --release; })
GUARD="$TARGET_DIR/release/guard"

WORK=$(mktemp -d /tmp/guard-bench.XXXXXX)
chmod 755 "$WORK"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$WORK"
cleanup() {
    as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    while :; do
        local port=$((20000 + RANDOM % 30000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}

PG_PORT=$(free_port)
echo "$PASSWORD" >"$WORK/pw"
[ "$(id -u)" = 0 ] && chown postgres "$WORK/pw"
as_pg "$PG_BIN/initdb" -U postgres -A scram-sha-256 --auth-local=trust --pwfile "$WORK/pw" \
    -D "$WORK/data" --no-sync >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w start \
    -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off" >/dev/null
DIRECT_URL="postgres://postgres:$PASSWORD@127.0.0.1:$PG_PORT/postgres"
psql -X -q "$DIRECT_URL" -c "create table people as
    select i as id, 'Person ' || i as name, 'user' || i || '@example.com' as email,
           'order ' || i || ' paid by card 4111 1111 1111 1111' as notes, i * 1.5 as amount
    from generate_series(1, $ROWS) i"

cat >"$WORK/guard.toml" <<EOF
[mask]
columns = ["email"]

[[target]]
name = "bench"
kind = "postgres"
upstream = "127.0.0.1:$PG_PORT"
database = "postgres"
tls = "disable"
credentials = { username = "postgres", password_env = "BENCH_PW" }
EOF

QUERY="select id, name, email, notes, amount from people"
run() {
    local start end
    start=$(date +%s.%N)
    if [ "$1" = direct ]; then
        psql -X -q "$DIRECT_URL" -c "$QUERY" >/dev/null
    else
        GUARD_HOME="$WORK/home" BENCH_PW="$PASSWORD" "$GUARD" -q -c "$WORK/guard.toml" -- \
            sh -c "psql -X -q \"\$BENCH_DATABASE_URL\" -c \"$QUERY\" >/dev/null" </dev/null
    fi
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

direct=() guarded=()
for _ in $(seq "$ROUNDS"); do
    direct+=("$(run direct)")
    guarded+=("$(run guard)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
d=$(median "${direct[@]}") g=$(median "${guarded[@]}")
echo "rows=$ROWS direct=${d}s guard=${g}s ratio=$(echo "scale=2; $g / $d" | bc)"
