"""A slow DNS responder for the resolver tests (issue 4). Run natively by the
harness (never under the preload), on UDP ADDRESS:PORT.

usage: slow_dns.py ADDRESS PORT DELAY_SECONDS
Prints "ready" once it listens, then serves until killed. Every answer comes
DELAY_SECONDS after its query (answers to concurrent queries overlap):
  hostN.green.test  A     127.0.0.N        (1 <= N <= 200)
  hostN.green.test  AAAA  2001:db8::N
  hostN.green.test  other types: no data (NOERROR, no answer)
  N.0.0.127.in-addr.arpa  PTR  hostN.green.test   (2 <= N <= 200)
  silent*.green.test      never answered (the client's resolver times out)
  anything else           NXDOMAIN
Only the standard library; a query it cannot parse is dropped."""

import heapq
import re
import select
import socket
import struct
import sys
import time

A, PTR, AAAA = 1, 12, 28
NOERROR, FORMERR, NXDOMAIN = 0, 1, 3
TTL = 0  # nothing is cached anywhere

HOST = re.compile(r"^host(\d+)\.green\.test$")
REVERSE = re.compile(r"^(\d+)\.0\.0\.127\.in-addr\.arpa$")
SILENT = re.compile(r"^silent[^.]*\.green\.test$")


def parse_question(msg):
    """(id, flags, name, qtype, qclass, end of question) or None."""
    if len(msg) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", msg[:6])
    if qdcount != 1 or flags & 0x8000:
        return None
    labels, i = [], 12
    while True:
        if i >= len(msg):
            return None
        n = msg[i]
        i += 1
        if n == 0:
            break
        if n & 0xC0 or i + n > len(msg):
            return None
        labels.append(msg[i:i + n].decode("ascii", "replace").lower())
        i += n
    if i + 4 > len(msg):
        return None
    qtype, qclass = struct.unpack("!HH", msg[i:i + 4])
    return qid, flags, ".".join(labels), qtype, qclass, i + 4


def encode_name(name):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def answer(msg):
    """The reply to a query, or None to stay silent."""
    q = parse_question(msg)
    if q is None:
        return None
    qid, flags, name, qtype, qclass, end = q
    question = msg[12:end]
    rcode, records = NXDOMAIN, []
    m = HOST.match(name)
    r = REVERSE.match(name)
    if SILENT.match(name):
        return None
    if m and 1 <= int(m.group(1)) <= 200:
        n = int(m.group(1))
        rcode = NOERROR
        if qtype == A:
            records.append((A, bytes([127, 0, 0, n])))
        elif qtype == AAAA:
            records.append((AAAA, socket.inet_pton(socket.AF_INET6, f"2001:db8::{n:x}")))
    elif r and 2 <= int(r.group(1)) <= 200:
        rcode = NOERROR
        if qtype == PTR:
            records.append((PTR, encode_name(f"host{int(r.group(1))}.green.test")))
    rd = flags & 0x0100
    reply_flags = 0x8000 | 0x0400 | rd | 0x0080 | rcode  # QR, AA, RD as asked, RA
    out = struct.pack("!HHHHHH", qid, reply_flags, 1, len(records), 0, 0) + question
    for rtype, rdata in records:
        # the answer's name points back at the question's (offset 12)
        out += struct.pack("!HHHIH", 0xC00C, rtype, qclass, TTL, len(rdata)) + rdata
    return out


def main():
    address, port, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((address, port))
    print("ready", flush=True)
    pending = []  # (due, seq, reply, peer)
    seq = 0
    while True:
        timeout = None
        if pending:
            timeout = max(0.0, pending[0][0] - time.monotonic())
        readable, _, _ = select.select([s], [], [], timeout)
        if readable:
            try:
                msg, peer = s.recvfrom(4096)
            except OSError:
                continue
            reply = answer(msg)
            if reply is not None:
                seq += 1
                heapq.heappush(pending, (time.monotonic() + delay, seq, reply, peer))
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, reply, peer = heapq.heappop(pending)
            try:
                s.sendto(reply, peer)
            except OSError:
                pass


if __name__ == "__main__":
    main()
