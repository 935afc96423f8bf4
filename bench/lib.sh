# What the benchmarks share: a check for the tools they need, a release build of guard, a private
# work folder, free loopback ports, and a throwaway PostgreSQL (run as `postgres` when the script
# runs as root). Sourced by every script in bench/, each of which sets `on_exit` for its own
# cleanup (the processes it started, by their pids).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
PASSWORD="bench-pw-$RANDOM$RANDOM"

# need COMMAND PACKAGE: stops with the Debian package to install when COMMAND is missing.
need() { command -v "$1" >/dev/null || { echo "bench: $1 is missing: install the Debian package $2" >&2; exit 1; }; }
need_postgres() {
    need pgbench postgresql
    [ -x "$PG_BIN/initdb" ] || { echo "bench: initdb is missing: install the Debian package postgresql" >&2; exit 1; }
}

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

build_guard() {
    echo "building guard (release)..." >&2
    (cd "$ROOT" && { cargo build --release --quiet 2>/dev/null || cargo build --release; })
    GUARD="$TARGET_DIR/release/guard"
}

# A port nothing listens on, below Linux's default range for outgoing connections (32768 and up),
# where the thousands of connections a pgbench run leaves behind could hold it.
free_port() {
    while :; do
        local port=$((20000 + RANDOM % 12000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}

# Makes $WORK and, on exit (an interrupt too), runs the caller's `on_exit`, stops PostgreSQL if
# it was started, and removes $WORK.
make_work() {
    WORK=$(mktemp -d -t guard-bench.XXXXXX)
    chmod 755 "$WORK"
    if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then chown postgres "$WORK"; fi
    trap 'on_exit 2>/dev/null || true
        if [ -d "$WORK/data" ]; then as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true; fi
        rm -rf "$WORK"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# Starts PostgreSQL in $WORK on $PG_PORT with SCRAM over TCP; extra server settings in "$@".
# A port taken between `free_port` and the server's bind is tried again with another.
start_postgres() {
    echo "$PASSWORD" >"$WORK/pw"
    if [ "$(id -u)" = 0 ]; then chown postgres "$WORK/pw"; fi
    as_pg "$PG_BIN/initdb" -U postgres -A scram-sha-256 --auth-local=trust --pwfile "$WORK/pw" \
        -D "$WORK/data" --no-sync >/dev/null
    local attempt
    for attempt in 1 2 3; do
        PG_PORT=$(free_port)
        as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w start \
            -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off $*" >/dev/null 2>&1 && return
    done
    echo "bench: PostgreSQL did not start; its log ends:" >&2
    tail -n 5 "$WORK/pg.log" >&2
    exit 1
}
