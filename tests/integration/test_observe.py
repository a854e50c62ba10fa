"""Issue 11: seeing inside. green-run, the blocking monitor, the green-thread
dump, statistics, the stack-overflow report, and their bad input. The
workloads are tests/legacy/observe (plain C, never linked with libgreen)."""

import json
import os
import re
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
# The rule: a stall is time without a switch. With time slices on (the
# default), a thread computing in its own code is preempted every slice and
# never stalls the hub; what a slice cannot end is reported: computing in
# libc, a system call no hook sees.

def monitor_run(mode, **env):
    return harness.preloaded("observe", (mode,), env={"GREEN_MONITOR_MS": "100", **env})


def reports(r):
    return [l for l in r.stderr.splitlines() if "has held the hub" in l]


def ends(r):
    return [l for l in r.stderr.splitlines() if "the hub ran again after a stall" in l]


def test_monitor_reports_computing_in_libc_once_with_its_stack():
    n = harness.native("observe", ("libcsort",))
    r = monitor_run("libcsort")
    assert r.returncode == 0 and r.stdout == n.stdout == "sorted in libc: yes\n", r.describe()
    assert len(reports(r)) == 1, r.describe()
    assert '"sorter"' in reports(r)[0], r.describe()
    stack = r.stderr.split("computing", 1)[1]
    assert "qsort" in stack and "sort_in_libc" in stack, r.describe()
    assert len(ends(r)) == 1, r.describe()


def test_monitor_folds_a_recursion_and_shows_the_frames_under_it():
    # qsort's merge sort is about 20 frames deep, and the program's own
    # recursion 40 more: each is one line, and the thread's first function
    # is still shown under them.
    r = monitor_run("deepsort")
    assert r.returncode == 0 and r.stdout == "sorted in libc: yes\n", r.describe()
    assert len(reports(r)) == 1, r.describe()
    stack = r.stderr.split("computing", 1)[1]
    folded = [l for l in stack.splitlines() if "recursion)" in l]
    assert any("msort" in l for l in folded), r.describe()
    assert any("more frames in descend" in l for l in folded), r.describe()
    for frame in ("qsort", "sort_in_libc", "sort_deep"):
        assert frame in stack, r.describe()
    assert "more frames not shown" not in stack, r.describe()


def test_monitor_folds_a_recursion_without_debug_information_by_its_call_site(tmp_path):
    # Stripped, the program's frames have no names: only frames returning to
    # the same instruction count as one function (dladdr's nearest exported
    # symbol would lump different functions together).
    stripped = tmp_path / "observe"
    subprocess.run(["strip", "-o", str(stripped), harness.program("observe")], check=True)
    r = harness.run([str(stripped), "deepsort"], preload=True, env={"GREEN_MONITOR_MS": "100"})
    assert r.returncode == 0 and r.stdout == "sorted in libc: yes\n", r.describe()
    stack = r.stderr.split("computing", 1)[1]
    folded = [l for l in stack.splitlines() if "recursion)" in l]
    assert any("more frames like it" in l for l in folded), r.describe()
    assert "more frames not shown" not in stack, r.describe()


def test_monitor_leaves_a_preempted_spinner_alone():
    r = monitor_run("spin")
    assert r.returncode == 0 and r.stdout == "spun 300 ms\n", r.describe()
    assert reports(r) == [], r.describe()


def test_monitor_without_time_slices_reports_a_spinning_thread_once_with_its_stack():
    r = monitor_run("spin", GREEN_TIMESLICE="off")
    assert r.returncode == 0 and r.stdout == "spun 300 ms\n", r.describe()
    assert len(reports(r)) == 1, r.describe()
    assert '"spinner"' in reports(r)[0], r.describe()
    assert "computing" in r.stderr and "spinner" in r.stderr.split("computing", 1)[1], r.describe()
    assert len(ends(r)) == 1, r.describe()


def test_monitor_names_a_raw_system_call_and_its_fd():
    r = monitor_run("rawread")
    assert r.returncode == 0 and r.stdout == "the raw read returned 1\n", r.describe()
    assert len(reports(r)) == 1, r.describe()
    assert "in the system call read (0) on fd" in r.stderr, r.describe()


@pytest.mark.parametrize("mode,out", [("green", "the token went around: t\n"),
                                      ("idle", "slept 300 ms\n")])
def test_monitor_is_silent_for_green_io_and_an_idle_hub(mode, out):
    r = monitor_run(mode)
    assert r.returncode == 0 and r.stdout == out, r.describe()
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
    # a recursion is one entry with its count, and the frame under it is shown
    diver = [l for l in lines if '"diver" parked on fd' in l][0]
    m = re.search(r" at [^<]+ < (observe\+0x[0-9a-f]+) \(x(\d+)\) < observe\+0x[0-9a-f]+", diver)
    assert m and int(m.group(2)) >= 25, r.describe()


def test_dump_of_10000_threads_lists_each():
    r = harness.preloaded("observe", ("many",), env={"GREEN_DUMP_SIGNAL": "SIGQUIT"})
    assert r.returncode == 0 and r.stdout == "10000 threads dumped and joined\n", r.describe()
    lines = r.stderr.splitlines()
    parked = [l for l in lines if l.startswith("libgreen: dump:   thread ") and
              "parked on fd" in l and "for reading" in l and " at " in l]
    assert len(parked) == 10000, r.describe()
    assert len({l.split()[3] for l in parked}) == 10000, "a thread listed twice"
    end = [l for l in lines if l.startswith("libgreen: dump: end (10001 threads listed in")]
    assert len(end) == 1, r.describe()
    print(end[0])  # the time it took (the issue asks under a second; not asserted)


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


# ---- bad input, from the configuration table ----
# Every GREEN_* variable and its green-run option, with the values the table
# (preload/config.cc, through green-symbols --config) says it must refuse:
# a new variable enters these tests by being in the table, and one without
# bad examples fails test_every_variable_has_test_values.

def config_table():
    out = subprocess.run([str(harness.BUILD / "green-symbols"), "--config"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    rows = []
    for line in out.splitlines():
        name, option, bare, valid, invalid, accepts = line.split("\t")
        rows.append(dict(name=name, option=option, bare=None if bare == "-" else bare,
                         valid=valid, invalid=invalid.split("|") if invalid else [],
                         accepts=accepts))
    return rows


CONFIG = config_table()
BAD_VALUES = [(v["name"], v["option"], bad, v["accepts"]) for v in CONFIG
              for bad in v["invalid"] + [""]]


def test_every_variable_has_test_values():
    assert len(CONFIG) >= 11
    for v in CONFIG:
        assert v["valid"] and len(v["invalid"]) >= 3, v


def test_every_green_run_option_is_in_the_table():
    text = green_run("--help").stdout
    options = {w.split("=")[0].split("[")[0] for w in text.split() if w.startswith("--")}
    assert options == {"--" + v["option"] for v in CONFIG} | {"--check", "--help", "--version"}


@pytest.mark.parametrize("var,option,value,accepts", BAD_VALUES)
def test_bad_variable_value_is_one_line_and_status_2(var, option, value, accepts):
    r = harness.preloaded("observe", ("green",), env={var: value})
    assert not r.timed_out and r.returncode == 2, f"{var}={value!r}\n" + r.describe()
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and r.stdout == "", f"{var}={value!r}\n" + r.describe()
    assert lines[0] == f"libgreen: {var}='{value}' is not valid: expected {accepts}", lines[0]


@pytest.mark.parametrize("var,option,value,accepts", BAD_VALUES)
def test_bad_option_value_is_one_line_and_status_2(var, option, value, accepts):
    r = green_run(f"--{option}={value}", "/bin/true")
    assert r.returncode == 2 and r.stdout == "", r
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"green-run: --{option}='{value}'"), r
    assert accepts in lines[0], r


@pytest.mark.parametrize("v", CONFIG, ids=lambda v: v["option"])
def test_option_without_its_value(v):
    r = green_run(f"--{v['option']}", "/usr/bin/env")
    if v["bare"] is None:
        assert r.returncode == 2 and r.stdout == "", r
        assert len(r.stderr.splitlines()) == 1 and f"--{v['option']} needs a value" in r.stderr, r
    else:
        assert r.returncode == 0 and f"{v['name']}={v['bare']}" in r.stdout.splitlines(), r


@pytest.mark.parametrize("v", CONFIG, ids=lambda v: v["name"])
def test_valid_values_are_taken(v):
    r = green_run(f"--{v['option']}={v['valid']}", "/usr/bin/env")
    assert r.returncode == 0 and f"{v['name']}={v['valid']}" in r.stdout.splitlines(), r
    p = harness.preloaded("observe", ("green",), env={v["name"]: v["valid"]})
    assert p.returncode == 0 and p.stdout == "the token went around: t\n", p.describe()


@pytest.mark.parametrize("typo,meant", [("GREEN_MONTIOR_MS", "GREEN_MONITOR_MS"),
                                        ("GREEN_TSL", "GREEN_TLS"),
                                        ("green_timeslice", "GREEN_TIMESLICE")])
def test_misspelt_variable_is_one_line_and_status_2(typo, meant):
    r = harness.preloaded("observe", ("green",), env={typo: "5"})
    assert r.returncode == 2 and r.stdout == "", r.describe()
    assert r.stderr.splitlines() == [
        f"libgreen: {typo} is not a variable libgreen reads: did you mean {meant}?"], r.describe()
    # far from every name: someone else's variable, left alone
    r = harness.preloaded("observe", ("green",), env={"GREEN_BUILD_DIR": "/x"})
    assert r.returncode == 0 and r.stdout == "the token went around: t\n", r.describe()


def test_a_stats_path_too_long_is_refused():
    value = "/tmp/" + "x" * 600 + ".json"
    r = harness.preloaded("observe", ("green",), env={"GREEN_STATS": value})
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, r.describe()
    assert green_run(f"--stats={value}", "/bin/true").returncode == 2


@pytest.mark.parametrize("args", [
    ["--bogus", "/bin/true"], ["--STATS", "/bin/true"], ["-x", "/bin/true"], ["-h"],
    ["--help=1"], ["--version=2"], ["--check=yes", "/bin/true"], ["--=1", "/bin/true"],
    ["--timeslice=0", "/bin/true"], ["--stack-size", "/bin/true"],
    [], ["--"], ["--stats"], ["--check"], ["--log=info", "--"]])
def test_green_run_bad_input_is_one_line_and_status_2(args):
    r = green_run(*args)
    assert r.returncode == 2 and r.stdout == "", r
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("green-run: "), r


def test_green_run_missing_and_unrunnable_programs(tmp_path):
    for missing in ["no-such-program-here", str(tmp_path / "absent"), ""]:
        r = green_run(missing)
        assert r.returncode == 127 and len(r.stderr.splitlines()) == 1, r
    plain = tmp_path / "plain"
    plain.write_text("not a program\n")
    r = green_run(plain)
    assert r.returncode == 126 and len(r.stderr.splitlines()) == 1, r
    r = green_run(tmp_path)  # a directory
    assert r.returncode == 126 and len(r.stderr.splitlines()) == 1, r
    r = green_run("plain", env={"PATH": str(tmp_path)})  # found in PATH, not executable
    assert r.returncode == 126 and len(r.stderr.splitlines()) == 1, r


@pytest.mark.parametrize("var,value,accepted", [
    ("GREEN_LOG", "loud", ("debug", "info", "warn", "error", "off")),
    ("GREEN_MONITOR_MS", "0", ("off", "60000")),
    ("GREEN_DUMP_SIGNAL", "SIGKILL", ("off", "SIGQUIT")),
    ("GREEN_STATS", "yes", ("off", ".json")),
])
def test_bad_observability_values(var, value, accepted):
    assert_rejected(var, value, accepted, "threads")
