"""Clients that break off at every point of a connection, then ten thousand tiny queries on one
connection, simple and pipelined, while another connection stays open. The test counts guard's
descriptors at the points this script signals with files in the folder given as the argument.
Prints one line per check."""
import os
import socket
import struct
import subprocess
import sys
import time

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raw_protocol import addr, answer_to, scram_login, startup, url  # noqa: E402

flags = sys.argv[1]
N = 10_000


def signal_and_wait(name):
    open(os.path.join(flags, name), "w").close()
    while not os.path.exists(os.path.join(flags, name + "-seen")):
        time.sleep(0.05)


def sent_then_closed(payload, login):
    """Sends payload, closes without reading: nothing comes of it but guard's bookkeeping."""
    s = socket.create_connection(addr, timeout=10)
    if login:
        startup(s)
        assert scram_login(s, url.password) == "ok"
    s.sendall(payload)
    s.close()


held = psycopg.connect(os.environ["SHOP_DATABASE_URL"], autocommit=True)
print("held-before", held.execute("select 1").fetchone()[0], flush=True)
signal_and_wait("baseline")

query_prefix = b"Q" + struct.pack("!i", 4 + 20)
for round_ in range(20):
    sent_then_closed(b"\x00\x00", login=False)  # half a length before startup
    sent_then_closed(struct.pack("!ii", 40, 196608) + b"user\0gu", login=False)  # half a startup packet
    s = socket.create_connection(addr, timeout=10)
    startup(s)  # a whole startup packet, then gone before authenticating
    s.close()
    sent_then_closed(query_prefix + b"select", login=True)  # half a Query after login
print("broken-off 80")

# A length that points past 64 MiB, after login and during startup.
print("past-64MiB", answer_to(b"Q" + struct.pack("!i", 64 << 20)))
print("startup-past-64MiB", answer_to(struct.pack("!i", (64 << 20) + 8) + b"\0\3\0\0", login=False))

with open(os.path.join(flags, "tiny.sql"), "w") as f:
    f.write("select 1;\n" * N)
started = time.monotonic()
psql = subprocess.run(
    ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url.geturl(), "-f", os.path.join(flags, "tiny.sql")],
    capture_output=True, text=True,
)
print("psql-rows", psql.stdout.count("1\n"), psql.stderr.strip())
print("psql-seconds", round(time.monotonic() - started, 2))

started = time.monotonic()
with psycopg.connect(url.geturl(), autocommit=True) as conn, conn.pipeline():
    cursors = [conn.execute("select %s::int", (i,)) for i in range(N)]
    total = 0
    for cur in cursors:
        total += cur.fetchone()[0]
print("pipeline-sum", total)
print("pipeline-seconds", round(time.monotonic() - started, 2))

print("held-after", held.execute("select 2").fetchone()[0], flush=True)
deadline = time.monotonic() + 10
others = -1
while others != 0 and time.monotonic() < deadline:
    others = held.execute(
        "select count(*) from pg_stat_activity where usename = current_user and pid <> pg_backend_pid()"
    ).fetchone()[0]
    time.sleep(0.1)
print("other-backends", others, flush=True)
signal_and_wait("after")
print("done")
