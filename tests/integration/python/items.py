"""The bodies item_server.py serves and pool_fetch.py checks: /item/N is a
few hundred bytes to ~40 KB, different for every N."""

import hashlib


def body(n):
    line = hashlib.sha256(str(n).encode()).hexdigest().encode() + b"\n"
    return b"item %d\n" % n + line * (1 + (n * 37) % 600)
