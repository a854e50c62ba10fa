"""PostgreSQL 15 from Debian under the preload (issue 8): initdb natively,
then the postmaster under LD_PRELOAD=libgreen.so on 127.0.0.1, pgbench -i and
pgbench -c 10 -t 200 natively against it. Every transaction must commit, the
balances must agree, the server log must hold no error, and SIGINT must stop
it cleanly.

The postmaster reads errno after an interrupted select and shut down at
start-up when a successful sigprocmask had set it; its backends wake each
other with signals (SIGUSR1, SIGURG through a signalfd) and wait on
process-shared semaphores. Needs root (to run the server as the postgres
user) and PostgreSQL 15; skipped otherwise."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import harness

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(argv, env=None, **kw):
    return subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c",
                           " ".join(f"'{a}'" for a in argv)], env=env, **kw)


@pytest.fixture
def cluster():
    if os.geteuid() != 0:
        pytest.skip("runs the server as the postgres user: needs root")
    if not (PG_BIN / "postgres").exists() or not shutil.which("pgbench") or \
            subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
        pytest.skip("needs PostgreSQL 15 (postgresql-15, its postgres user) and pgbench")
    tmp = tempfile.mkdtemp(prefix="green-pg-")
    os.chmod(tmp, 0o755)
    shutil.chown(tmp, "postgres")
    lib = Path(tmp) / "libgreen.so"  # where the postgres user can read it
    shutil.copy(harness.LIB, lib)
    os.chmod(lib, 0o755)
    data = Path(tmp) / "data"
    r = as_postgres([PG_BIN / "initdb", "-D", data, "-A", "trust", "-U", "postgres"],
                    capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    yield Path(tmp), lib, data
    shutil.rmtree(tmp, ignore_errors=True)


def test_postgres_pgbench_under_preload(cluster):
    tmp, lib, data = cluster
    port = free_port()
    log = tmp / "server.log"
    cmd = (f"LD_PRELOAD={lib} exec {PG_BIN / 'postgres'} -D {data} -p {port} "
           f"-c listen_addresses=127.0.0.1 -c unix_socket_directories={tmp} > {log} 2>&1")
    server = subprocess.Popen(["su", "postgres", "-s", "/bin/sh", "-c", cmd],
                              start_new_session=True)
    client_env = harness.environment(False)
    try:
        for _ in range(100):  # 10 s at most
            ready = ["pg_isready", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
            if subprocess.run(ready, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        bench = ["pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
        r = subprocess.run(bench + ["-i", "postgres"], capture_output=True, text=True,
                           timeout=120, env=client_env)
        assert r.returncode == 0, r.stdout + r.stderr + log.read_text()
        r = subprocess.run(bench + ["-c", "10", "-t", "200", "postgres"], capture_output=True,
                           text=True, timeout=300, env=client_env)
        assert r.returncode == 0, r.stdout + r.stderr + log.read_text()
        assert "number of transactions actually processed: 2000/2000" in r.stdout, r.stdout
        q = ("select sum(abalance) = (select sum(bbalance) from pgbench_branches) and "
             "sum(abalance) = (select sum(tbalance) from pgbench_tellers) from pgbench_accounts")
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-Atc",
                            q, "postgres"], capture_output=True, text=True, timeout=60,
                           env=client_env)
        assert r.stdout.strip() == "t", r.stdout + r.stderr
    finally:
        pid = subprocess.run(["head", "-1", str(data / "postmaster.pid")], capture_output=True,
                             text=True).stdout.strip()
        if pid.isdigit():
            os.kill(int(pid), signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    text = log.read_text()
    assert "database system is shut down" in text, text
    bad = [line for line in text.splitlines()
           if any(w in line for w in ("ERROR", "PANIC", "terminated by signal"))
           or ("FATAL" in line and "the database system is starting up" not in line)]
    assert not bad, "\n".join(bad)
