#!/usr/bin/env bash
# Cost of masking: one big result (ROWS rows with a masked email column, a card number in
# free text and harmless columns) read with psql, directly and through guard, alternated in
# the same run. Prints the median seconds of each path and the ratio guard/direct.
#
# Usage: bench/masked.sh            (ROWS=200000 ROUNDS=3 override)
set -euo pipefail

ROWS=${ROWS:-200000}
ROUNDS=${ROUNDS:-3}
source "$(dirname "$0")/lib.sh"

need_postgres
need bc bc
build_guard
on_exit() { :; }
make_work
start_postgres
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
