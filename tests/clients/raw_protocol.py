"""Speaks the PostgreSQL wire protocol by hand to guard, to send what real drivers never do:
garbage before startup, a direct TLS hello, an unknown message type and an oversized frame after
login, and a client that vanishes mid-query. Prints one line per check."""
import base64
import hashlib
import hmac
import os
import socket
import struct
import subprocess
import sys
import time
from urllib.parse import urlparse

url = urlparse(os.environ["SHOP_DATABASE_URL"])
addr = (url.hostname, url.port)


def recv_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_message(s):
    tag = recv_exactly(s, 1)
    (length,) = struct.unpack("!i", recv_exactly(s, 4))
    return tag, recv_exactly(s, length - 4)


def error_code(body):
    fields = dict((f[:1], f[1:]) for f in body.split(b"\0") if f)
    return fields.get(b"C", b"?").decode()


def startup(s, user="guard", database=url.path.lstrip("/")):
    params = f"user\0{user}\0database\0{database}\0\0".encode()
    s.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)


def scram_login(s, password):
    tag, body = read_message(s)
    assert tag == b"R" and struct.unpack("!i", body[:4])[0] == 10, (tag, body)
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n=,r={nonce}"
    first = ("n,," + first_bare).encode()
    mech = b"SCRAM-SHA-256\0"
    s.sendall(b"p" + struct.pack("!i", 4 + len(mech) + 4 + len(first)) + mech + struct.pack("!i", len(first)) + first)
    tag, body = read_message(s)
    server_first = body[4:].decode()
    attrs = dict(a.split("=", 1) for a in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={attrs['r']}"
    auth = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored, auth, "sha256").digest()
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature))).decode()
    final = f"{without_proof},p={proof}".encode()
    s.sendall(b"p" + struct.pack("!i", 4 + len(final)) + final)
    while True:
        tag, body = read_message(s)
        if tag == b"E":
            return error_code(body)
        if tag == b"Z":
            return "ok"


def connect():
    s = socket.create_connection(addr, timeout=10)
    return s


def answer_to(payload, login=True):
    """Sends payload (after login if asked) and returns the SQLSTATE of the error guard sends,
    or 'closed' if it closes without one."""
    s = connect()
    try:
        if login:
            startup(s)
            assert scram_login(s, url.password) == "ok"
        s.sendall(payload)
        while True:
            tag, body = read_message(s)
            if tag == b"E":
                return error_code(body)
    except (EOFError, ConnectionResetError):
        return "closed"
    finally:
        s.close()


def main():
    if sys.argv[1:] == ["wrong-secret"]:
        s = connect()
        startup(s)
        print("wrong-secret", scram_login(s, "not-the-secret"))
        return

    print("garbage", answer_to(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", login=False))
    print("direct-tls", answer_to(b"\x16\x03\x01\x00\x05hello", login=False))
    print("old-protocol", answer_to(struct.pack("!ii", 8, 131072), login=False))
    print("unknown-type", answer_to(b"y" + struct.pack("!i", 4)))
    print("oversized", answer_to(b"Q" + struct.pack("!i", 200 << 20)))
    print("bad-length", answer_to(b"Q" + struct.pack("!i", 2)))

    s = connect()
    startup(s)
    print("wrong-secret", scram_login(s, "not-the-secret"))
    s.close()

    # A client that vanishes mid-query: a child process that is killed while its query runs.
    child = subprocess.Popen([sys.executable, "-c", (
        "import os, psycopg\n"
        "c = psycopg.connect(os.environ['SHOP_DATABASE_URL'])\n"
        "c.execute(\"select pg_sleep(30) /* vanishing */\")\n")])
    time.sleep(1.5)
    child.kill()
    child.wait()
    import psycopg

    with psycopg.connect(os.environ["SHOP_DATABASE_URL"], autocommit=True) as conn:
        print("others-fine", conn.execute("select 42").fetchone()[0])
        deadline = time.monotonic() + 5
        running = 1
        while running and time.monotonic() < deadline:
            running = conn.execute(
                "select count(*) from pg_stat_activity where query like '%vanishing%' and pid <> pg_backend_pid()"
            ).fetchone()[0]
            time.sleep(0.2)
        print("vanished-query-running", running)
    print("done")


if __name__ == "__main__":
    main()
