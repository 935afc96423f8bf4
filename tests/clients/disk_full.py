"""A client whose session folder fills up mid-session: one connection made before, statements
sent after (a large one, then a small one), then a new connection. The test fills the disk
between the `ready` and `full` files in the folder given as the argument. Prints one line per
check."""
import os
import sys
import time

import psycopg

url = os.environ["SHOP_DATABASE_URL"]
flags = sys.argv[1]


def outcome(run):
    try:
        run()
        return "ran"
    except psycopg.Error as e:
        return f"error {e.sqlstate} " + " ".join(str(e).split())


held = psycopg.connect(url, autocommit=True)
held.execute("insert into t values (0, 'before')")
open(os.path.join(flags, "ready"), "w").close()
while not os.path.exists(os.path.join(flags, "full")):
    time.sleep(0.05)
# Larger than a page, so it cannot fit in what is left of the transcript's last one.
print("large", outcome(lambda: held.execute(f"insert into t values (1, '{'x' * 9000}')")), flush=True)
print("small", outcome(lambda: held.execute("insert into t values (2, 'y')")), flush=True)
print("held-read", outcome(lambda: held.execute("select count(*) from t")), flush=True)
print("new-connection", outcome(lambda: psycopg.connect(url, connect_timeout=10).close()), flush=True)
