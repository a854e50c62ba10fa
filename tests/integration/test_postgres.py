"""PostgreSQL 15 from Debian (postgresql-15, postgresql-client-15) with its
postmaster under LD_PRELOAD=libgreen.so: a pre-forking server whose backends
share memory, wait on process-shared semaphores, and use signals, latches
(epoll and a self-pipe) and timers.

initdb (native) makes a cluster in a temporary directory, as the `postgres`
user when the test runs as root (the server refuses root). The postmaster
listens on 127.0.0.1 at a free port; then, natively, `pgbench -i` and
`pgbench -c 10 -t 200` against it. Checked: every transaction is processed
and none fails; the balances agree (the sums of pgbench_accounts.abalance,
pgbench_tellers.tbalance, pgbench_branches.bbalance and pgbench_history.delta
are equal, with one history row per transaction); SIGINT stops the server
with status 0 and nothing of it left running; its log has no ERROR, FATAL or
PANIC line. The native run checks the set-up itself.

Every process runs in a session of its own with a time limit; the server's
whole tree is killed and the directory removed whatever happens."""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import harness
import process_tree

PGBIN = Path("/usr/lib/postgresql/15/bin")
CLIENTS = 10
TRANSACTIONS = 200
START_LIMIT = 30.0
CLIENT_LIMIT = 180.0  # natively pgbench -c 10 -t 200 takes about 3 s
STOP_LIMIT = 30.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_user():
    """Whom initdb and the server run as: `postgres` for root."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam("postgres")


def run_client(argv, limit=CLIENT_LIMIT, user=None):
    """A native client program with a time limit; returns (status, output)."""
    extra = {}
    if user:
        extra = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    with tempfile.TemporaryFile() as out:
        proc = process_tree.start([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, env=harness.environment(False),
                                  cwd="/", **extra)
        ended = process_tree.wait_and_reap(proc, limit)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if not ended:
        text += f"\n(killed after {limit:.0f} s)"
    return proc.returncode if ended else None, text


class Cluster:
    """A fresh cluster in a temporary directory and its postmaster."""

    def __init__(self, preload):
        self.preload = preload
        self.user = server_user()
        self.dir = Path(tempfile.mkdtemp(prefix="green-pg-"))
        if self.user:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        self.proc = None

    def initdb(self):
        status, out = run_client([PGBIN / "initdb", "-D", self.data, "-A", "trust", "-U",
                                  "postgres", "-E", "UTF8", "--no-sync"], 120, self.user)
        assert status == 0, f"initdb failed:\n{out}"

    def start(self):
        extra = {}
        if self.user:
            extra = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        argv = [str(PGBIN / "postgres"), "-D", str(self.data), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.dir}",
                "-c", "fsync=off"]
        with open(self.log, "w") as log:
            if self.user:
                os.chown(self.log, self.user.pw_uid, self.user.pw_gid)
            self.proc = process_tree.start(argv, stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT,
                                           env=harness.environment(self.preload),
                                           cwd=self.dir, **extra)
        deadline = time.monotonic() + START_LIMIT
        while time.monotonic() < deadline:
            if "database system is ready to accept connections" in self.log_text():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"the server did not start (status {self.proc.poll()}):\n"
                             f"{self.log_text()}")

    def client(self, program, *args):
        return run_client([PGBIN / program, "-h", "127.0.0.1", "-p", self.port, "-U", "postgres",
                           *args, "postgres"])

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        """SIGINT (fast shutdown); returns (status or None, survivors)."""
        os.kill(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(STOP_LIMIT)
        except subprocess.TimeoutExpired:
            return None, sorted(process_tree.members(self.proc.pid))
        time.sleep(0.2)  # the last backends leave after the postmaster
        return self.proc.returncode, sorted(process_tree.members(self.proc.pid))

    def cleanup(self):
        if self.proc:
            process_tree.kill_tree(self.proc.pid)
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster(request):
    if not (PGBIN / "postgres").exists():
        pytest.fail(f"{PGBIN}/postgres is missing: install postgresql-15 (scripts/setup)")
    c = Cluster(request.param)
    yield c
    c.cleanup()


BALANCES = ("select (select sum(abalance) from pgbench_accounts), "
            "(select sum(tbalance) from pgbench_tellers), "
            "(select sum(bbalance) from pgbench_branches), "
            "(select sum(delta) from pgbench_history), (select count(*) from pgbench_history)")


@pytest.mark.parametrize("cluster", [pytest.param(False, id="native"),
                                     pytest.param(True, id="preload")],
                         indirect=True)
def test_pgbench(cluster):
    cluster.initdb()
    cluster.start()
    status, out = cluster.client("pgbench", "-i", "-q")
    assert status == 0, f"pgbench -i failed:\n{out}\n--- server log ---\n{cluster.log_text()}"
    status, out = cluster.client("pgbench", "-c", str(CLIENTS), "-t", str(TRANSACTIONS))
    assert status == 0, f"pgbench failed:\n{out}\n--- server log ---\n{cluster.log_text()}"
    total = CLIENTS * TRANSACTIONS
    assert f"number of transactions actually processed: {total}/{total}" in out, out
    assert re.search(r"number of failed transactions: 0\b", out), out

    status, out = cluster.client("psql", "-Atc", BALANCES)
    assert status == 0, f"psql failed:\n{out}"
    a, t, b, h, rows = out.strip().split("|")
    assert a == t == b == h and int(rows) == total, (
        f"balances disagree: accounts {a}, tellers {t}, branches {b}, history {h} "
        f"in {rows} rows (want {total})")

    status, survivors = cluster.stop()
    log = cluster.log_text()
    assert status == 0 and not survivors, (
        f"SIGINT: server status {status}, processes left {survivors}\n{log}")
    assert "database system is shut down" in log, log
    errors = [line for line in log.splitlines() if re.search(r"\b(ERROR|FATAL|PANIC):", line)]
    assert not errors, "the server logged errors:\n" + "\n".join(errors)
