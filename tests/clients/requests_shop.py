"""Reads and writes the shop target through guard with Python requests, a real HTTP client with
its own connection pool and JSON decoding, and prints what came back for the test to check."""

import json
import os

import requests

url = os.environ["SHOP_URL"]
with requests.Session() as s:
    # The pool keeps one connection open to guard, so both requests share it.
    r = s.get(f"{url}/customers", params={"limit": 2}, timeout=10)
    print("get", r.status_code, r.headers.get("content-type"))
    print("get-json", json.dumps(r.json(), separators=(",", ":")))
    r = s.post(f"{url}/customers", json={"name": "x"}, timeout=10)
    print("post", r.status_code, r.headers.get("content-type"))
    print("post-json", json.dumps(r.json(), separators=(",", ":")))
