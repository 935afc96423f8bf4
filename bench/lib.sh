# What the PostgreSQL benchmarks share: a release build of guard, a private work folder, and a
# throwaway PostgreSQL on a free loopback port (run as `postgres` when the script runs as root).
# Sourced by bench/pgbench.sh and bench/masked.sh, which set `on_exit` for their own cleanup.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PASSWORD="bench-pw-$RANDOM$RANDOM"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

build_guard() {
    echo "building guard (release)..." >&2
    (cd "$ROOT" && { cargo build --release --quiet 2>/dev/null || cargo build --release; })
    GUARD="$TARGET_DIR/release/guard"
}

free_port() {
    while :; do
        local port=$((20000 + RANDOM % 30000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}

# Makes $WORK and stops PostgreSQL and removes $WORK on exit, after the caller's `on_exit`.
make_work() {
    WORK=$(mktemp -d /tmp/guard-bench.XXXXXX)
    chmod 755 "$WORK"
    [ "$(id -u)" = 0 ] && chown postgres "$WORK"
    trap 'on_exit 2>/dev/null || true; as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
}

# Starts PostgreSQL in $WORK on $PG_PORT with SCRAM over TCP; extra server settings in "$@".
start_postgres() {
    PG_PORT=$(free_port)
    echo "$PASSWORD" >"$WORK/pw"
    [ "$(id -u)" = 0 ] && chown postgres "$WORK/pw"
    as_pg "$PG_BIN/initdb" -U postgres -A scram-sha-256 --auth-local=trust --pwfile "$WORK/pw" \
        -D "$WORK/data" --no-sync >/dev/null
    as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w start \
        -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off $*" >/dev/null
}
