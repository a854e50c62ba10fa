"""The thread-per-connection echo server (tests/legacy/echo_server.c) under
1,000 concurrent connections, natively and under LD_PRELOAD=libgreen.so.

Every connection is opened and has echoed one message before the OS threads
are counted, so each connection's server thread exists then: natively the
server has 1,001 OS threads, under the preload at most 2. Then a few more
messages of growing size go over every connection, every echo is checked
byte for byte, all are closed and the server must exit by itself with the
same summary as natively."""

import os
import re
import select
import socket
import subprocess
import time

import harness

CONNS = 1000
ROUND_SIZES = [16, 100, 3000, 20000]  # bytes per connection per round


_PATTERN = bytes(range(251)) * (max(ROUND_SIZES) // 251 + 2)


def message(conn, rnd, size):
    """Unique per connection and round, so a crossed echo cannot pass."""
    head = f"<{conn}:{rnd}>".encode()
    offset = (conn * 7 + rnd * 13) % 251
    return (head + _PATTERN[offset:offset + size])[:size]


def recv_exactly(sock, n):
    chunks = []
    while n > 0:
        b = sock.recv(min(n, 65536))
        if not b:
            raise AssertionError("the server closed a connection early")
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def read_line(proc, timeout):
    """The first line of its stdout, read unbuffered so that communicate()
    later gets all the rest."""
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        b = os.read(fd, 1)
        if not b:
            break
        line += b
    return line.decode()


def run_echo(preload):
    argv = [str(harness.program("echo_server")), "0", str(CONNS)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=harness.environment(preload))
    conns = []
    try:
        first = read_line(proc, harness.TIMEOUT)
        if not first or not first.startswith("listening "):
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"no 'listening PORT' line: got {first!r}, status "
                                 f"{proc.returncode}, stderr {err.decode()!r}")
        port = int(first.split()[1])

        for i in range(CONNS):
            s = socket.create_connection(("127.0.0.1", port), timeout=harness.TIMEOUT)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conns.append(s)
        sent = 0
        # round 0: one message each, echoed before the next connection's, so
        # once it is done every connection's server thread exists
        for i, s in enumerate(conns):
            m = message(i, 0, ROUND_SIZES[0])
            s.sendall(m)
            assert recv_exactly(s, len(m)) == m, f"connection {i}: wrong echo in round 0"
            sent += len(m)
        samples = [harness.thread_count(proc.pid) for _ in range(3)]
        threads = max(n for n in samples if n is not None)

        # more rounds, all connections at once, growing sizes
        for rnd, size in enumerate(ROUND_SIZES[1:], start=1):
            for i, s in enumerate(conns):
                s.sendall(message(i, rnd, size))
            for i, s in enumerate(conns):
                m = message(i, rnd, size)
                got = recv_exactly(s, len(m))
                assert got == m, f"connection {i}: wrong echo in round {rnd} ({size} bytes)"
                sent += len(m)
        for s in conns:
            s.close()
        conns = []
        try:
            rest, err = proc.communicate(timeout=harness.TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            rest, err = proc.communicate()
            raise AssertionError("the server did not exit after all connections closed; "
                                 f"output so far: {first + rest.decode()!r}")
        output = re.sub(r"^listening \d+$", "listening PORT", first + rest.decode(), flags=re.M)
        return dict(output=output, stderr=err.decode(), status=proc.returncode, threads=threads,
                    bytes=sent)
    finally:
        for s in conns:
            s.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


_native = {}


def native_run():
    if "r" not in _native:
        _native["r"] = run_echo(preload=False)
    return _native["r"]


def expected_output():
    total = CONNS * sum(ROUND_SIZES)
    return f"listening PORT\nserved {CONNS} connections, {total} bytes\n"


def test_echo_native():
    r = native_run()
    assert r["output"] == expected_output(), r
    assert r["status"] == 0 and r["stderr"] == "", r
    assert r["threads"] >= CONNS, f"natively only {r['threads']} OS threads with {CONNS} connections"


def test_echo_preload():
    harness.require_lib()
    n = native_run()
    start = time.monotonic()
    r = run_echo(preload=True)
    elapsed = time.monotonic() - start
    assert r["output"] == n["output"], (r, n)
    assert r["status"] == n["status"] and r["stderr"] == n["stderr"], (r, n)
    assert r["threads"] <= 2, (
        f"under the preload the server had {r['threads']} OS threads with {CONNS} connections "
        f"({elapsed:.1f} s)")
