"""Issue 11: seeing inside. green-run, the blocking monitor, the green-thread
dump, statistics, the stack-overflow report, and their bad input. The
workloads are tests/legacy/observe (plain C, never linked with libgreen)."""

import json
import os
import shutil
import stat
import subprocess

import pytest

import harness
from test_issue4 import assert_rejected

GREEN_RUN = harness.BUILD / "green-run"
OBSERVE = harness.program("observe")


def green_run(*args, env=None, timeout=60):
    e = harness.environment(False, env)
    return subprocess.run([str(GREEN_RUN), *map(str, args)], env=e, capture_output=True,
                          text=True, timeout=timeout)


# ---- green-run ----

def test_green_run_runs_the_program_green_with_its_own_status():
    native = subprocess.run([str(harness.program("exit_paths")), "exit"], capture_output=True,
                            text=True, timeout=60)
    r = green_run(harness.program("exit_paths"), "exit")
    assert r.returncode == native.returncode == 7, r
    assert r.stdout == native.stdout, r


def test_green_run_prepends_to_ld_preload():
    r = green_run("/usr/bin/env", env={"LD_PRELOAD": "libc.so.6"})
    line = [l for l in r.stdout.splitlines() if l.startswith("LD_PRELOAD=")]
    assert line == [f"LD_PRELOAD={harness.LIB}:libc.so.6"], r.stdout


def test_green_run_options_become_variables():
    r = green_run("--stats", "--timeslice=5", "--tls=shared", "--", "/usr/bin/env")
    env = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)
    assert env.get("GREEN_STATS") == "1" and env.get("GREEN_TIMESLICE") == "5", r.stdout
    assert env.get("GREEN_TLS") == "shared", r.stdout


def test_green_run_help_and_version():
    h = green_run("--help")
    assert h.returncode == 0 and "--timeslice" in h.stdout and "--monitor" in h.stdout, h
    v = green_run("--version")
    assert v.returncode == 0 and "green-run" in v.stdout, v


@pytest.mark.parametrize("args", [["--bogus", "/bin/true"], ["--timeslice=0", "/bin/true"],
                                  ["--stack-size", "/bin/true"], ["--log=loud", "/bin/true"],
                                  ["--monitor=abc", "/bin/true"], []])
def test_green_run_bad_input_is_one_line_and_status_2(args):
    r = green_run(*args)
    assert r.returncode == 2, r
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("green-run: "), r


def test_green_run_missing_and_unrunnable_programs(tmp_path):
    assert green_run("no-such-program-here").returncode == 127
    plain = tmp_path / "plain"
    plain.write_text("not a program\n")
    assert green_run(plain).returncode == 126


def test_check_says_when_the_preload_takes_effect(tmp_path):
    ok = green_run("--check", "/bin/ls")
    assert ok.returncode == 0 and "takes effect" in ok.stdout, ok
    static = green_run("--check", harness.program("static_hello"))
    assert static.returncode == 1 and "statically linked" in static.stderr, static
    setuid = tmp_path / "setuid_ls"
    shutil.copy("/bin/ls", setuid)
    os.chmod(setuid, 0o755 | stat.S_ISUID)
    s = green_run("--check", setuid)
    assert s.returncode == 1 and "set-user-ID" in s.stderr, s


def test_check_warns_of_liburing():
    mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    if not os.path.exists(mariadbd):
        pytest.skip("mariadbd (Debian's mariadb-server, linked with liburing) is not installed")
    r = green_run("--check", mariadbd)
    assert r.returncode == 0 and "liburing" in r.stderr, r


def test_a_static_program_is_said_and_still_runs():
    r = green_run(harness.program("static_hello"))
    assert r.returncode == 0 and r.stdout == "hello from a static binary\n", r
    assert "will not take effect" in r.stderr, r


# ---- the monitor ----

def monitor_run(mode):
    return harness.preloaded("observe", (mode,),
                             env={"GREEN_MONITOR_MS": "100", "GREEN_TIMESLICE": "off"})


def reports(r):
    return [l for l in r.stderr.splitlines() if "has held the hub" in l]


def test_monitor_reports_a_spinning_thread_once_with_its_stack():
    r = monitor_run("spin")
    assert r.returncode == 0 and r.stdout == "spun 300 ms\n", r.describe()
    assert len(reports(r)) == 1, r.describe()
    assert '"spinner"' in reports(r)[0], r.describe()
    assert "computing" in r.stderr and "spinner" in r.stderr.split("computing", 1)[1], r.describe()


def test_monitor_names_a_raw_system_call_and_its_fd():
    r = monitor_run("rawread")
    assert r.returncode == 0 and r.stdout == "the raw read returned 1\n", r.describe()
    assert len(reports(r)) == 1, r.describe()
    assert "in the system call read (0) on fd" in r.stderr, r.describe()


def test_monitor_is_silent_for_green_io():
    r = monitor_run("green")
    assert r.returncode == 0 and r.stdout == "the token went around: t\n", r.describe()
    assert reports(r) == [], r.describe()


# ---- the dump ----

def test_dump_lists_every_thread_and_the_program_goes_on():
    r = harness.preloaded("observe", ("dump",), env={"GREEN_DUMP_SIGNAL": "SIGQUIT"})
    assert r.returncode == 0 and r.stdout == "still running after the dump\n", r.describe()
    lines = [l for l in r.stderr.splitlines() if "dump:" in l]
    text = "\n".join(lines)
    assert '"reader" parked on fd' in text and "for reading" in text, r.describe()
    assert '"napper" parked sleeping' in text, r.describe()
    assert '"locker" parked waiting on mutex' in text, r.describe()
    assert '"main"' in text, r.describe()
    # each parked thread's stack, from where its fiber was suspended
    main_line = [l for l in lines if '"main"' in l][0]
    assert " at " in main_line and "__libc_start_main" in main_line, r.describe()


# ---- statistics ----

def test_stats_json_counts_a_known_workload(tmp_path):
    path = tmp_path / "stats.json"
    r = harness.preloaded("observe", ("threads",), env={"GREEN_STATS": str(path)})
    assert r.returncode == 0 and path.exists(), r.describe()
    stats = json.loads(path.read_text())
    assert stats["threads_created"] == 1000, stats
    assert stats["threads_peak_alive"] >= 1000, stats
    assert stats["io_bytes_read"] >= 1000 and stats["io_bytes_written"] >= 1000, stats
    assert stats["parks"]["ready"] >= 1, stats
    # each thread wrote 64 KiB of its stack, and all of them were alive at once
    assert stats["stack_peak_bytes"] >= 1000 * 64 * 1024, stats
    assert stats["stack_peak_bytes"] < 1000 * 1024 * 1024, stats


def test_stats_table_on_stderr():
    r = harness.preloaded("observe", ("green",), env={"GREEN_STATS": "1"})
    assert r.returncode == 0, r.describe()
    assert "libgreen: statistics at exit" in r.stderr, r.describe()
    assert any(l.split()[-1] == "20" for l in r.stderr.splitlines() if "threads_created" in l)


# ---- stack overflow ----

def test_stack_overflow_is_named_and_dies_as_natively():
    n = harness.native("observe", ("overflow",))
    r = harness.preloaded("observe", ("overflow",))
    assert n.returncode == r.returncode == -11, r.describe()
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "ran off its 2" in lines[0] and "GREEN_STACK_SIZE" in lines[0], (
        r.describe())


# ---- bad values ----

@pytest.mark.parametrize("var,value,accepted", [
    ("GREEN_LOG", "loud", ("debug", "info", "warn", "error", "off")),
    ("GREEN_MONITOR_MS", "0", ("off", "60000")),
    ("GREEN_MONITOR_MS", "fast", ("off", "60000")),
    ("GREEN_DUMP_SIGNAL", "SIGKILL", ("off", "SIGQUIT")),
    ("GREEN_DUMP_SIGNAL", "NOPE", ("off", "SIGQUIT")),
    ("GREEN_STATS", "yes", ("off", ".json")),
])
def test_bad_observability_values(var, value, accepted):
    assert_rejected(var, value, accepted, "threads")
