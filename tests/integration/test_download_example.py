"""examples/download.cc: 100 GETs through a green::Pool(20) against a local
HTTP server (Python's ThreadingHTTPServer on 127.0.0.1) that counts the
requests in flight. Every body depends on its path (odd items come chunked,
even ones with Content-Length), so a crossed or truncated reply cannot pass;
the server must never see more than 20 at once, and more than one (the
downloads do overlap: each answer waits a little so that they can). The
example also runs under LD_PRELOAD=libgreen.so: the API inside a program
the preload has made green."""

import http.server
import subprocess
import threading
import time

import pytest

import harness

EXAMPLE = harness.BUILD / "examples" / "download"
COUNT = 100
POOL = 20


def body_for(path, n):
    return (path + "\n") * (n % 50 + 1)


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.paths = []

    def enter(self, path):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.paths.append(path)

    def leave(self):
        with self.lock:
            self.now -= 1


def make_handler(counter):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            counter.enter(self.path)
            # Long enough that a pool of 20 overlaps, whatever the load.
            time.sleep(0.05)
            reply = self.reply()
            # Leave before the last byte goes: once the client has the whole
            # reply it may start its next request, which must not find this
            # one still counted.
            counter.leave()
            self.wfile.write(reply)

        def reply(self):
            prefix = "/item/"
            if not self.path.startswith(prefix) or not self.path[len(prefix):].isdigit():
                return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            n = int(self.path[len(prefix):])
            data = body_for(self.path, n).encode()
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            if n % 2:
                chunks = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 100]), data[i:i + 100])
                                  for i in range(0, len(data), 100))
                return head + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
            return head + b"Content-Length: %d\r\n\r\n" % len(data) + data

        def log_message(self, *args):
            pass

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # listen(2)'s backlog: the default 5 would drop connects


def serve(counter):
    server = Server(("127.0.0.1", 0), make_handler(counter))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def run_example(base, *args, preload=False):
    assert EXAMPLE.exists(), f"{EXAMPLE} is missing: build the project first (scripts/setup)"
    return subprocess.run([str(EXAMPLE), base, *args], capture_output=True, text=True,
                          timeout=harness.TIMEOUT, env=harness.environment(preload))


@pytest.mark.parametrize("preload", [False, True], ids=["native", "preload"])
def test_hundred_downloads_through_a_pool_of_twenty(preload):
    counter = Counter()
    server, thread = serve(counter)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        proc = run_example(base, preload=preload)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAILED" not in proc.stdout
    assert f"{COUNT} downloads, {COUNT} correct, 0 failed" in proc.stdout, proc.stdout
    assert sorted(counter.paths) == sorted(f"/item/{i}" for i in range(COUNT))
    assert 1 < counter.peak <= POOL, f"peak in flight: {counter.peak}"


def test_wrong_bodies_are_reported():
    """The check is real: a server whose answers do not match fails the run."""
    counter = Counter()
    server, thread = serve(counter)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/elsewhere"
        proc = run_example(base, "5")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.count("FAILED") == 5
    assert "5 downloads, 0 correct, 5 failed" in proc.stdout


def test_bad_arguments():
    proc = subprocess.run([str(EXAMPLE)], capture_output=True, text=True, timeout=harness.TIMEOUT)
    assert proc.returncode == 2
    assert "usage" in proc.stderr
