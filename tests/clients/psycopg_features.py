"""Drives guard's PostgreSQL gateway with psycopg 3: extended protocol, binary results, pipeline
mode, a server-side cursor, COPY both ways, NOTIFY, and a cancel from another thread.
Prints one line per check; the Rust test reads them."""
import os
import threading
import time

import psycopg

url = os.environ["SHOP_DATABASE_URL"]

with psycopg.connect(url, autocommit=True) as conn:
    conn.execute("create table if not exists items (id int primary key, name text)")
    cur = conn.cursor(binary=True)
    cur.execute("select %s::int + 1, %s::text, %s::bytea", (41, "x", b"\x00\x01"))
    print("binary", cur.fetchone())

    with conn.pipeline():
        for i in range(20):
            conn.execute("insert into items values (%s, %s)", (i, f"item {i}"))
        counted = conn.execute("select count(*) from items")
    print("pipeline", counted.fetchone()[0])

    # An error inside a pipeline: the server skips the rest of the batch up to its Sync.
    try:
        with conn.pipeline() as pipeline:
            conn.execute("insert into items values (50, 'kept?')")
            conn.execute("select 1/0")
            conn.execute("insert into items values (51, 'skipped')")
            pipeline.sync()
    except psycopg.Error as e:
        print("pipeline-error", e.sqlstate)
    print("after-pipeline-error", conn.execute("select count(*) from items where id >= 50").fetchone()[0])

    with conn.transaction():
        with conn.cursor(name="server_side") as server_side:
            server_side.itersize = 3
            server_side.execute("select id from items order by id")
            print("server-side", sum(1 for _ in server_side))

    with conn.cursor().copy("copy (select id, name from items where id < 3 order by id) to stdout") as copy:
        print("copy-out", [tuple(r) for r in copy.rows()])
    with conn.cursor().copy("copy items (id, name) from stdin") as copy:
        copy.write_row((100, "copied"))
        copy.write_row((101, "copied"))
    print("copy-in", conn.execute("select count(*) from items where name = 'copied'").fetchone()[0])
    try:
        with conn.cursor().copy("copy items (id, name) from stdin") as copy:
            copy.write("200\tok\nnot-a-number\tbad\n")
    except psycopg.Error as e:
        print("copy-error", e.sqlstate)

    try:
        conn.execute("select 1/0")
    except psycopg.Error as e:
        print("error", e.sqlstate)
    print("after-error", conn.execute("select 'still usable'").fetchone()[0])

    conn.execute("listen guard_channel")
    conn.execute("notify guard_channel, 'hello'")
    for note in conn.notifies(timeout=5, stop_after=1):
        print("notify", note.channel, note.payload)

    def cancel_soon():
        time.sleep(0.5)
        conn.cancel()

    threading.Thread(target=cancel_soon).start()
    started = time.monotonic()
    try:
        conn.execute("select pg_sleep(10)")
        print("cancel not-cancelled")
    except psycopg.Error as e:
        print("cancel", e.sqlstate, f"{time.monotonic() - started:.1f}")
    print("after-cancel", conn.execute("select 7").fetchone()[0])
print("done")
