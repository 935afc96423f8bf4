"""Reads masked values through guard with psycopg 3, text and binary cursors: every row must
decode, and the values are printed for the test to check."""

import os
import sys

import psycopg

QUERIES = [
    "select id, name, email, card, ssn, ssn_num, api_key, profile, notes, amount"
    " from customers order by id",
    "select email as e, card as c, ssn_num as n from customers order by id",
    "select lower(email) as l, name || ' <' || email || '>' as who from customers order by id",
    "select string_agg(email, ',') as emails from customers",
    "select row_to_json(c) as doc from customers c order by id",
    "select array_agg(card) as cards from customers",
]

with psycopg.connect(os.environ["SHOP_DATABASE_URL"]) as conn:
    for binary in (False, True):
        for query in QUERIES:
            with conn.cursor(binary=binary) as cur:
                cur.execute(query)
                for row in cur.fetchall():
                    print("binary" if binary else "text", repr(row))
    try:
        with conn.cursor() as cur:
            cur.execute("select card::int from customers")
    except psycopg.Error as e:
        print("error", e.diag.message_primary)
        conn.rollback()
    with conn.cursor() as cur:
        with cur.copy("copy (select id, name, email, card, notes from customers) to stdout") as copy:
            for block in copy:
                sys.stdout.write("copy " + bytes(block).decode())
print("done")
