"""tests/legacy/fork_pool: children of a process that has resolved names
(its thread pool started) exit and resolve names themselves, as PostgreSQL's
start-up process and backends do. Found by test_postgres.py.

Both used to fail under the preload (issue 8 item 9): the child's exit()
died with SIGSEGV (libuv's exit-time uv_library_shutdown joined pool threads
the child does not have), and the child's getnameinfo never returned: the
parking lot still queued the parent's pool threads as waiters on libuv's
pool condition variable. Now the pool's joins of absent threads return and
the parking lot is emptied in the child."""

import harness

NAME = "fork_pool"


def test_native():
    r = harness.native(NAME)
    assert not r.timed_out and r.returncode == 0, r.describe()
    assert r.stdout == harness.golden(NAME), harness.diff(harness.golden(NAME), r.stdout)


def test_preload():
    n = harness.native(NAME)
    r = harness.preloaded(NAME)
    assert not r.timed_out, r.describe()
    assert r.stdout == n.stdout, harness.diff(n.stdout, r.stdout, "native", "preloaded")
    assert r.returncode == n.returncode, r.describe()
