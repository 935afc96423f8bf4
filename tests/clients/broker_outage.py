"""A client of a session whose broker stops: one connection held from the start, and a new one
tried at each step the test signals with a file in the folder given as the argument. Prints one
line per check."""
import os
import sys
import time

import psycopg

url = os.environ["SHOP_DATABASE_URL"]
flags = sys.argv[1]


def wait(name):
    while not os.path.exists(os.path.join(flags, name)):
        time.sleep(0.05)


def fresh():
    """A new connection: `ok` and its answer, or the error libpq reports (it keeps the HINT)."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            return "ok " + str(conn.execute("select 1").fetchone()[0])
    except psycopg.Error as e:
        return "error " + " ".join(str(e).split())


def held_query(conn, n):
    try:
        return "ok " + str(conn.execute(f"select {n}").fetchone()[0])
    except psycopg.Error as e:
        return f"error {e.sqlstate} " + " ".join(str(e).split())


held = psycopg.connect(url, autocommit=True)
print("held-before", held_query(held, 1), flush=True)
open(os.path.join(flags, "started"), "w").close()
wait("renewal-failed")
print("held-after-failure", held_query(held, 2), flush=True)
print("new-after-failure", fresh(), flush=True)
wait("lease-ended")
print("new-after-end", fresh(), flush=True)
print("held-after-end", held_query(held, 3), flush=True)
