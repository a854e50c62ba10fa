"""The examples of the native C++ API (examples/, built into
$GREEN_BUILD_DIR/examples/), driven by real clients over 127.0.0.1: the echo
server with many concurrent clients, the chat server with five users, and
bad command lines. Every wait has a timeout; nothing depends on timing."""

import os
import select
import socket
import subprocess
import threading
import time

import pytest

import harness

EXAMPLES = harness.BUILD / "examples"
T = harness.TIMEOUT


def example(name):
    path = EXAMPLES / name
    if not path.exists():
        raise AssertionError(f"{path} is missing: build the project first (scripts/setup)")
    return path


class Server:
    """An example started on 127.0.0.1 port 0; its one stdout line gives the port."""

    def __init__(self, name):
        self.proc = subprocess.Popen([str(example(name)), "127.0.0.1", "0"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=harness.environment(False))
        line = self._first_line()
        if not line.startswith("listening on 127.0.0.1:"):
            self.stop()
            raise AssertionError(f"{name}: expected 'listening on 127.0.0.1:PORT', got {line!r}")
        self.port = int(line.rsplit(":", 1)[1])

    def _first_line(self):
        fd, line, deadline = self.proc.stdout.fileno(), b"", time.monotonic() + T
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            b = os.read(fd, 1)
            if not b:
                break
            line += b
        return line.decode()

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=T)
        return s, s.makefile("rb")

    def stop(self):
        self.proc.kill()
        _, err = self.proc.communicate(timeout=T)
        return err.decode()


@pytest.fixture
def echo():
    s = Server("echo_server")
    yield s
    s.stop()


@pytest.fixture
def chat():
    s = Server("chat_server")
    yield s
    s.stop()


def test_echo_with_many_concurrent_clients(echo):
    clients, lines = 200, 20
    results, errors = {}, []

    def client(i):
        try:
            s, f = echo.connect()
            with s, f:
                got = []
                for j in range(lines):
                    line = f"client {i} line {j} " + "x" * (j * 37 % 300) + "\n"
                    s.sendall(line.encode())
                    got.append(f.readline().decode() == line)
                results[i] = all(got)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"client {i}: {e!r}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T)
    assert not errors, errors[:5]
    assert sum(results.values()) == clients


def test_echo_gives_back_what_is_left_at_eof(echo):
    s, f = echo.connect()
    with s, f:
        s.sendall(b"no newline")
        s.shutdown(socket.SHUT_WR)
        assert f.read() == b"no newline"


def read_until(f, wanted):
    """Lines up to and including the one equal to wanted."""
    seen = []
    while True:
        line = f.readline()
        assert line, f"connection closed before {wanted!r}; saw {seen!r}"
        line = line.decode()
        seen.append(line)
        if line == wanted:
            return seen


def join(chat, name):
    s, f = chat.connect()
    assert f.read(len(b"Please enter your name: ")) == b"Please enter your name: "
    s.sendall(name.encode() + b"\r\n")
    return s, f


def test_chat_five_users_see_each_others_lines_in_order_and_the_leave(chat):
    names = [f"user{i}" for i in range(5)]
    users = []
    for name in names:
        users.append(join(chat, name))
        # The first user sees every later join: then this one is in the chat.
        if name != names[0]:
            read_until(users[0][1], f"## {name} joined from 127.0.0.1\r\n")
    per_user = 4
    heard, errors = {}, []

    def talk(i):
        s, f = users[i]
        try:
            for k in range(per_user):
                s.sendall(f"message {k} from {names[i]}\r\n".encode())
            lines = []
            while len(lines) < per_user * len(names):
                line = f.readline().decode()
                assert line, "closed early"
                if "> message" in line:
                    lines.append(line)
            heard[i] = lines
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"{names[i]}: {e!r}")

    threads = [threading.Thread(target=talk, args=(i,)) for i in range(len(names))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T)
    assert not errors, errors
    orders = []
    for i in range(len(names)):
        for sender in names:
            mine = [line for line in heard[i] if line.startswith(sender + "> ")]
            assert mine == [f"{sender}> message {k} from {sender}\r\n" for k in range(per_user)]
        orders.append(heard[i])
    # One broadcast order: every user heard the lines in the same sequence.
    assert all(o == orders[0] for o in orders)

    s0, f0 = users[0]
    f0.close()
    s0.close()
    for s, f in users[1:]:
        read_until(f, "## user0 left the chat\r\n")
    for s, f in users[1:]:
        f.close()
        s.close()


def test_chat_refuses_empty_and_taken_names(chat):
    s, f = join(chat, "ann")
    with s, f:
        t, g = chat.connect()
        with t, g:
            prompt = b"Please enter your name: "
            assert g.read(len(prompt)) == prompt
            t.sendall(b"   \r\n")  # empty: asked again
            assert g.read(len(prompt)) == prompt
            t.sendall(b"ann\r\n")  # taken
            assert g.readline() == b"That name is taken.\r\n"
            assert g.read(len(prompt)) == prompt
            t.sendall(b"bea\r\n")
            assert f.readline() == b"## bea joined from 127.0.0.1\r\n"
            t.sendall(b"hello\r\n")
            assert f.readline() == b"bea> hello\r\n"


@pytest.mark.parametrize("name", ["echo_server", "chat_server"])
@pytest.mark.parametrize("args", [[], ["127.0.0.1"], ["127.0.0.1", "port"], ["127.0.0.1", "70000"],
                                  ["localhost", "0"], ["127.0.0.1", "0", "extra"]])
def test_bad_arguments_give_a_usage_error(name, args):
    r = subprocess.run([str(example(name))] + args, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=T, env=harness.environment(False))
    assert r.returncode == 2
    assert r.stdout == b""
    assert r.stderr.decode().startswith("usage: ") and "HOST PORT" in r.stderr.decode()
