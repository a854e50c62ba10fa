"""Issue 9: Debian's MariaDB server under LD_PRELOAD=libgreen.so.

MariaDB runs a thread per connection and keeps the connection's THD in a
thread_local (current_thd): with thread-local storage shared between green
threads it crashed in the parser on another connection's THD. Each run gets
its own datadir (mariadb-install-db), 127.0.0.1 and a free port, and
--innodb-use-native-aio=0: InnoDB's io_uring reaper would block the hub's
OS thread in liburing's inline io_uring_enter system calls, which no
preload can see. Then:
- mariadb-slap --concurrency=50,200 --iterations=3 --auto-generate-sql
  completes;
- 50 concurrent clients (mariadb, the command-line client) insert 100 rows
  each: 5,000 rows, 100 per client;
- the error log has no "Aborted connection", no [ERROR] and no crash
  report, and the server shuts down cleanly (mariadb-admin shutdown);
- the server's OS threads, sampled while the load runs: natively one per
  connection (200+ at 200 clients); under the preload the hub's, its
  watchdog's and its pool's (MariaDB's own helper threads are green too).
The native run is the check that the set-up works, and gives the timings
to compare."""

import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import harness
import realprog

MARIADBD = shutil.which("mariadbd") or ("/usr/sbin/mariadbd"
                                        if os.path.exists("/usr/sbin/mariadbd") else None)
INSTALL_DB = shutil.which("mariadb-install-db")
CLIENT = shutil.which("mariadb")
SLAP = shutil.which("mariadb-slap")
ADMIN = shutil.which("mariadb-admin")

TIME_LIMIT = 170.0  # seconds for one whole run: the budget is 3 minutes
WRITERS = 50
ROWS_EACH = 100
# A thread per connection: 200+ at --concurrency=200, but the 20 ms samples
# can miss the peak.
NATIVE_MIN_THREADS = 100


def require_mariadb():
    missing = [name for name, path in (("mariadbd", MARIADBD), ("mariadb-install-db", INSTALL_DB),
                                       ("mariadb", CLIENT), ("mariadb-slap", SLAP),
                                       ("mariadb-admin", ADMIN)) if not path]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (Debian packages mariadb-server and "
                    f"mariadb-client; scripts/setup installs them)")


class MariaDB(realprog.Server):
    def __init__(self, preload, budget):
        self.dir = tempfile.TemporaryDirectory(prefix="green-mariadb-")
        d = self.dir.name
        self.datadir = os.path.join(d, "data")
        self.errlog = os.path.join(d, "error.log")
        self.port = realprog.free_port()
        user = ["--user=root"] if os.geteuid() == 0 else []
        install = realprog.run_tool([INSTALL_DB, "--no-defaults", f"--datadir={self.datadir}",
                                     *user, "--auth-root-authentication-method=normal",
                                     "--skip-test-db"], timeout=budget.left(60))
        if install.returncode != 0 or install.timed_out:
            self.dir.cleanup()
            raise AssertionError("mariadb-install-db failed:\n" + install.describe())
        super().__init__([MARIADBD, "--no-defaults", f"--datadir={self.datadir}",
                          f"--socket={d}/mysqld.sock", f"--pid-file={d}/mysqld.pid",
                          f"--log-error={self.errlog}", "--bind-address=127.0.0.1",
                          f"--port={self.port}", "--innodb-use-native-aio=0",
                          "--innodb-buffer-pool-size=64M", "--max-connections=400",
                          "--skip-log-bin", *user], preload=preload, cwd=d)
        try:
            self.wait_ready(budget.left(60))
        except AssertionError as e:
            self.kill()
            raise AssertionError(f"{e}\n--- error log ---\n{self.error_log()[-3000:]}") from None

    def wait_ready(self, timeout):
        """Until mariadb-admin ping answers. (A bare connect and close, as
        wait_port does, is logged as an aborted connection.)"""
        deadline = time.monotonic() + timeout
        while True:
            r = realprog.run_tool([ADMIN, *self.client_args(), "--connect-timeout=2", "ping"],
                                  timeout=10)
            if r.returncode == 0:
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"mariadbd ended with status {self.proc.returncode} at "
                                     f"start:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"mariadbd did not answer a ping within {timeout:.0f} s:\n"
                                     f"{r.describe()}")
            time.sleep(0.1)

    def error_log(self):
        try:
            with open(self.errlog, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def client_args(self):
        return ["-h", "127.0.0.1", "-P", str(self.port), "-u", "root"]

    def sql(self, statement, budget):
        r = realprog.run_tool([CLIENT, *self.client_args(), "--batch", "-N", "-e", statement],
                              timeout=budget.left(60))
        assert r.returncode == 0 and not r.timed_out, r.describe()
        return r.out

    def kill(self):
        super().kill()
        self.dir.cleanup()


def slap(server, budget):
    r = realprog.run_tool([SLAP, *server.client_args(), "--concurrency=50,200", "--iterations=3",
                           "--auto-generate-sql"], timeout=budget.left(120))
    averages = [float(s) for s in
                re.findall(r"Average number of seconds to run all queries: ([\d.]+)", r.out)]
    return r, averages


def writers(server, budget):
    """WRITERS clients at once, each ROWS_EACH single-row autocommitted
    inserts; then the rows per client as the server counts them."""
    server.sql("CREATE DATABASE load_test; CREATE TABLE load_test.rows (id INT AUTO_INCREMENT "
               "PRIMARY KEY, client INT NOT NULL, n INT NOT NULL, note VARCHAR(64)) ENGINE=InnoDB",
               budget)
    procs = []
    try:
        for c in range(WRITERS):
            script = "".join(f"INSERT INTO load_test.rows (client, n, note) VALUES "
                             f"({c}, {i}, 'row {i} of client {c}');\n" for i in range(ROWS_EACH))
            out = tempfile.TemporaryFile()
            p = subprocess.Popen([CLIENT, *server.client_args(), "--batch"],
                                 stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True, env=harness.environment(False))
            procs.append((p, out))
            p.stdin.write(script.encode())  # about 6 KiB: the pipe holds it all
            p.stdin.close()
        failed = []
        for p, out in procs:
            try:
                status = p.wait(timeout=budget.left(90))
            except subprocess.TimeoutExpired:
                status = "killed after the time ran out"
            if status != 0:
                out.seek(0)
                failed.append(f"client status {status}: {out.read().decode(errors='replace')}")
    finally:
        for p, _ in procs:
            if p.poll() is None:
                realprog.kill_group(p)
    counts = server.sql("SELECT client, COUNT(*) FROM load_test.rows GROUP BY client", budget)
    per_client = {int(a): int(b) for a, b in (line.split() for line in counts.splitlines())}
    return failed, per_client


def shutdown(server, budget):
    r = realprog.run_tool([ADMIN, *server.client_args(), "shutdown"], timeout=budget.left(30))
    status = server.wait(budget.left(60))
    return r, status


def run_mariadb(preload):
    require_mariadb()
    budget = realprog.Budget(TIME_LIMIT)
    start = time.monotonic()
    with MariaDB(preload, budget) as server:
        at_start = server.threads()
        r_slap, averages = slap(server, budget)
        slap_threads = server.sampler.peak
        failed, per_client = writers(server, budget)
        names = server.thread_names()
        r_down, status = shutdown(server, budget)
        log = server.error_log()
        how = "under the preload" if preload else "natively"
        report = (f"mariadbd {how}: {at_start} OS threads at start, peak {server.sampler.peak} "
                  f"({slap_threads} during mariadb-slap; after the writers {names}); "
                  f"mariadb-slap averages (50, 200 clients) {averages} s; "
                  f"exit status after shutdown {status}; {time.monotonic() - start:.1f} s\n"
                  f"{r_slap.describe()}\n" + "\n".join(failed[:5]) +
                  f"\n--- error log ---\n{log[-4000:]}\n--- output ---\n{server.output()[-2000:]}")
        print(report)
        assert r_slap.returncode == 0 and not r_slap.timed_out and len(averages) == 2, report
        assert not failed, report
        assert per_client == {c: ROWS_EACH for c in range(WRITERS)}, \
            f"rows per client: {per_client}\n{report}"
        assert "Aborted connection" not in log, report
        assert "[ERROR]" not in log, report
        assert not re.search(r"got signal|crashed|Assertion .* failed", log), report
        assert r_down.returncode == 0 and status == 0, report
        assert "Shutdown complete" in log, report
        return server, slap_threads


def test_mariadb_native():
    server, slap_threads = run_mariadb(preload=False)
    assert slap_threads >= NATIVE_MIN_THREADS, \
        f"natively a thread per connection: only {slap_threads} OS threads at 200 clients"


def test_mariadb_preload():
    server, slap_threads = run_mariadb(preload=True)
    assert server.sampler.peak <= realprog.HUB_THREADS + realprog.POOL_THREADS, \
        (f"{server.sampler.peak} OS threads under the preload: expected at most the hub's "
         f"{realprog.HUB_THREADS} and the pool's {realprog.POOL_THREADS}")
