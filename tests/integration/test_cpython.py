"""CPython's own regression tests under LD_PRELOAD=libgreen.so, as gevent
runs them: Debian's /usr/bin/python3.11 and its libpython3.11-testsuite, one
pytest test per file of the suite, each file one `python3.11 -m test -v -u
network FILE` run under the preload (vsock tests left out: they hang in this
sandbox natively too).

A hang fails one test, never the whole run: the harness reads regrtest's
verbose output as it comes, and when one test has run PER_TEST_LIMIT seconds
it kills the run's whole process tree (process_tree.py), records that test as
hung, and starts the file again without it and without the tests already
done. A file gets FILE_LIMIT seconds over all its runs. Two files run at
once (the machine has two cores); the slowest start first.

cpython_expected_failures.txt lists the tests that may fail, each with the
issue that fixes it; every other test must pass, and an entry whose tests
pass fails the run until it is removed. Entries marked `hang` are left out
of the file's run and checked on their own (each test at most CHECK_LIMIT
seconds), so a known hang costs seconds, not a file's limit.

Logs: $GREEN_BUILD_DIR/cpython-logs/ (one per file and per check, and
summary.txt with each file's verdict and wall time).
GREEN_CPYTHON_NATIVE=1 runs the same natively (no preload, no expected
failures): the baseline, where every test passes."""

import fnmatch
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import harness
import process_tree

HERE = Path(__file__).resolve().parent
EXPECTED_FILE = HERE / "cpython_expected_failures.txt"
TESTDIR = Path("/usr/lib/python3.11/test")  # Debian's libpython3.11-testsuite
NATIVE = os.environ.get("GREEN_CPYTHON_NATIVE") == "1"
LOGS = harness.BUILD / ("cpython-logs-native" if NATIVE else "cpython-logs")

# Seconds under the preload on this 2-core machine (natively most take about
# 2/3 of that; test_concurrent_futures, with its process pools, 160 s natively
# and 175 s here): the order the files start in, slowest first, so two at a
# time end together.
FILES = {
    "test_concurrent_futures": 175, "test_subprocess": 75, "test_signal": 50,
    "test_threading": 40, "test_socket": 35, "test_socketserver": 25, "test_selectors": 15,
    "test_httpservers": 10, "test_poll": 10, "test_select": 10, "test_urllib2_localnet": 10,
    "test_queue": 10, "test_thread": 5, "test_threadsignals": 5, "test_timeout": 5,
    "test_threading_local": 2, "test_epoll": 2,
}
JOBS = 2
PER_TEST_LIMIT = 90.0  # natively the slowest test takes 30 s (test_siginterrupt_off)
CHECK_LIMIT = 30.0  # a hang entry's tests take at most 7 s each natively
FILE_LIMIT = 450.0  # one file over all its runs (test_concurrent_futures: 175-215 s here)
MAX_RESTARTS = 8
ALWAYS_IGNORED = ["*VSOCK*"]

# regrtest -v: "test_x (test.test_f.Class.test_x) ... ok"; a docstring puts
# the status on the next line; failing subtests add indented "... FAIL" lines;
# the closing report has "FAIL: test_x (id)" headers; doctests are "name ()".
START = re.compile(r"^(\w+) \(((?:\w+\.)*\w*)\)")
STATUS = re.compile(r"\.\.\. (ok|FAIL|ERROR|skipped|expected failure|unexpected success)\b")
HEADER = re.compile(r"^(FAIL|ERROR): (\w+) \(((?:\w+\.)*\w*)\)")
FAILING = {"FAIL", "ERROR", "unexpected success", "hang", "crash"}


def _test_id(name, dotted):
    """The test id; for class and module fixtures (setUpClass (test.f.C))
    the fixture's name is appended so it reads as a test of its own."""
    if not dotted:  # a doctest: "_threading_local ()"
        return name
    return dotted if dotted.endswith("." + name) else f"{dotted}.{name}"


# ---- the expected failures ----


@dataclass
class Entry:
    pattern: str
    kind: str  # "fail" or "hang"
    why: str
    section: str
    line: int

    @property
    def file(self):
        return self.pattern.split(".")[1]

    def matches(self, test_id):
        return fnmatch.fnmatchcase(test_id, self.pattern)

    def __str__(self):
        return f"{EXPECTED_FILE.name}:{self.line}: {self.pattern} ({self.kind}, {self.why})"


def load_entries():
    entries, section = [], None
    for n, raw in enumerate(EXPECTED_FILE.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line in ("[expected]", "[pending]"):
            section = line[1:-1]
            continue
        m = re.fullmatch(r"(test\.(test_\w+)\.\S+)\s+(fail|hang)\s+(.+)", line)
        if not m or section is None or m.group(2) not in FILES:
            raise ValueError(f"{EXPECTED_FILE}:{n}: not PATTERN fail|hang WHY in a section "
                             f"of a known file: {raw!r}")
        entries.append(Entry(m.group(1), m.group(3), m.group(4), section, n))
    return entries


# ---- one regrtest process, watched test by test ----


class Watch:
    """Parses regrtest's verbose output as it arrives: which test runs now,
    since when, and each test's statuses."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = {}  # id -> set of statuses
        self.current = None
        self.last_event = time.monotonic()
        self._partial = ""

    def feed(self, text):
        with self.lock:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
            for line in lines:
                self._line(line)
            # "test_x (id) ... " stays unfinished while test_x runs
            m = START.match(self._partial)
            if m:
                self._start(_test_id(m.group(1), m.group(2)))

    def _start(self, key):
        if key != self.current:
            self.current = key
            self.statuses.setdefault(key, set())
            self.last_event = time.monotonic()

    def _line(self, line):
        header = HEADER.match(line)
        if header:
            self.statuses.setdefault(_test_id(header.group(2), header.group(3)),
                                     set()).add(header.group(1))
            return
        m = START.match(line)
        rest = line
        if m:
            self._start(_test_id(m.group(1), m.group(2)))
            rest = line[m.end():]
        s = STATUS.search(rest)
        if s and self.current:
            self.statuses[self.current].add(s.group(1))
            self.last_event = time.monotonic()

    def snapshot(self):
        with self.lock:
            running = self.current if self.current and not self.statuses[self.current] else None
            return running, self.last_event


@dataclass
class RunResult:
    statuses: dict
    returncode: int
    stuck: str = ""  # why the run was killed, if it was
    stuck_test: str = ""  # the test that was running then (hung or crashed)
    crashed: bool = False  # ended by a signal, not killed by us
    elapsed: float = 0.0


def regrtest(file, log, workdir, per_test_limit, deadline, match=(), ignore=(), skip_ids=()):
    """One `python3.11 -m test -v FILE` run under the preload, its output
    appended to log; killed (whole tree) when one test runs per_test_limit
    seconds or the deadline passes."""
    argv = [harness.PYTHON, "-m", "test", "-v", "-u", "network"]
    for p in ALWAYS_IGNORED + list(ignore):
        argv += ["-i", p]
    for p in match:
        argv += ["-m", p]
    if skip_ids:
        skip_file = Path(workdir) / f"skip-{time.monotonic_ns()}.txt"
        skip_file.write_text("".join(f"{t}\n" for t in skip_ids))
        argv += ["--ignorefile", str(skip_file)]
    argv.append(file)
    tmp = tempfile.mkdtemp(dir=workdir)
    env = harness.environment(not NATIVE, {"PYTHONDONTWRITEBYTECODE": "1",
                                           "PYTHONUNBUFFERED": "1", "TMPDIR": tmp})
    watch = Watch()
    start = time.monotonic()
    with open(log, "a") as out:
        out.write(f"\n==== {' '.join(argv)}\n")
        out.flush()
        proc = process_tree.start(argv, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, env=env, cwd=tmp)
        _live.add(proc)

        def read():
            while True:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    return
                text = chunk.decode(errors="replace")
                out.write(text)
                out.flush()
                watch.feed(text)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        stuck, stuck_test = "", ""
        while proc.poll() is None:
            time.sleep(0.25)
            running, last = watch.snapshot()
            now = time.monotonic()
            if now >= deadline:
                stuck, stuck_test = "the file's time limit passed", running or ""
            elif now - last >= per_test_limit:
                stuck = f"no test ended for {per_test_limit:.0f} s"
                stuck_test = running or ""
            if stuck:
                where = process_tree.members(proc.pid)
                out.write(f"\n==== harness: {stuck} (running: {running or 'between tests'}); "
                          f"killing processes {sorted(where)}\n")
                break
        process_tree.wait_and_reap(proc, 0)
        _live.discard(proc)
        reader.join(10)
        proc.stdout.close()
        crashed = not stuck and proc.returncode < 0
        if crashed:
            running, _ = watch.snapshot()
            stuck, stuck_test = f"killed by signal {-proc.returncode}", running or ""
        out.write(f"\n==== exit status {proc.returncode}, {time.monotonic() - start:.1f} s\n")
    shutil.rmtree(tmp, ignore_errors=True)
    return RunResult(watch.statuses, proc.returncode, stuck, stuck_test, crashed,
                     time.monotonic() - start)


_live = set()  # regrtest processes running now, killed if pytest stops early


# ---- a file: its run, restarted past each hang ----


@dataclass
class FileResult:
    file: str
    statuses: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)  # run-level failures (no test id)
    elapsed: float = 0.0
    runs: int = 0


def run_file(file, entries, workdir):
    result = FileResult(file)
    start = time.monotonic()
    deadline = start + FILE_LIMIT
    log = LOGS / f"{file}.log"
    log.write_text("")
    hangs = [e.pattern for e in entries if e.kind == "hang"]
    while True:
        result.runs += 1
        r = regrtest(file, log, workdir, PER_TEST_LIMIT, deadline, ignore=hangs,
                     skip_ids=sorted(result.statuses))
        for key, st in r.statuses.items():
            result.statuses.setdefault(key, set()).update(st)
        if r.stuck and r.stuck_test and time.monotonic() < deadline:
            result.statuses[r.stuck_test].add("crash" if r.crashed else "hang")
            if result.runs <= MAX_RESTARTS:
                continue
            result.problems.append(f"more than {MAX_RESTARTS} tests hung or crashed")
        elif r.stuck:
            result.problems.append(f"{r.stuck} (after {r.stuck_test or 'the last test'})")
        elif r.returncode != 0 and not failing(result.statuses) and result.runs == 1:
            result.problems.append(f"regrtest exit status {r.returncode} with no failed test")
        break
    result.elapsed = time.monotonic() - start
    return result


def failing(statuses):
    return sorted(k for k, st in statuses.items() if st & FAILING)


def check_hang_entry(entry, index, workdir):
    """Runs a hang entry's tests alone; the entry holds while one of them
    fails, hangs or crashes. Returns (still broken, what happened)."""
    log = LOGS / f"check-{index:02d}-{entry.file}.log"
    log.write_text(f"checking {entry}\n")
    r = regrtest(entry.file, log, workdir, CHECK_LIMIT, time.monotonic() + FILE_LIMIT,
                 match=[entry.pattern])
    ran = [k for k in r.statuses if entry.matches(k)]
    bad = failing(r.statuses)
    if r.stuck:
        return True, f"{r.stuck} in {r.stuck_test or 'between tests'} ({r.elapsed:.0f} s)"
    if bad:
        return True, f"{len(bad)} failed, e.g. {bad[0]} ({r.elapsed:.0f} s)"
    if not ran:
        return False, f"matches no test (exit status {r.returncode})"
    if r.returncode != 0:
        return True, f"regrtest exit status {r.returncode} ({r.elapsed:.0f} s)"
    return False, f"all {len(ran)} pass now ({r.elapsed:.0f} s)"


# ---- pytest: every selected file and check starts at once, two at a time ----


@pytest.fixture(scope="module")
def jobs(request):
    if not (TESTDIR / "test_threading.py").exists():
        pytest.fail(f"{TESTDIR} has no tests: install libpython3.11-testsuite (scripts/setup)")
    if not NATIVE:
        harness.require_lib()
    entries = [] if NATIVE else load_entries()
    selected = {item.callspec.params["file"] for item in request.session.items
                if item.module.__name__ == __name__ and hasattr(item, "callspec")}
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / "summary.txt").write_text("")
    # A shell's background job starts with SIGINT ignored, and exec keeps
    # an ignored signal ignored: test_signal's KeyboardInterrupt tests would
    # fail. A handler here becomes SIG_DFL in every child at its exec.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    workdir = tempfile.mkdtemp(prefix="green-cpython-")
    pool = ThreadPoolExecutor(JOBS)
    work = []  # (estimated seconds, file, submit)
    for file in selected:
        mine = [e for e in entries if e.file == file]
        work.append((FILES[file], file, lambda f=file, m=mine: ("main", f, run_file(f, m, workdir))))
        for e in mine:
            if e.kind == "hang":
                i = entries.index(e)
                work.append((CHECK_LIMIT, file,
                             lambda e=e, i=i: ("check", e, check_hang_entry(e, i, workdir))))
    futures = {}
    start = time.monotonic()
    for _, file, fn in sorted(work, key=lambda w: -w[0]):
        futures.setdefault(file, []).append(pool.submit(fn))
    yield {"entries": entries, "futures": futures}
    for fs in futures.values():
        for f in fs:
            f.cancel()
    for proc in list(_live):
        process_tree.kill_tree(proc.pid)
    pool.shutdown(wait=True)
    shutil.rmtree(workdir, ignore_errors=True)
    with open(LOGS / "summary.txt", "a") as s:
        s.write(f"total wall time {time.monotonic() - start:.1f} s for {len(selected)} files "
                f"({'natively' if NATIVE else 'under the preload'}), {JOBS} at a time\n")


def summary_line(text):
    with open(LOGS / "summary.txt", "a") as s:
        s.write(text + "\n")


@pytest.mark.parametrize("file", list(FILES))
def test_cpython(jobs, file):
    entries = [e for e in jobs["entries"] if e.file == file]
    main, checks = None, []
    for f in jobs["futures"][file]:
        kind, what, outcome = f.result()
        if kind == "main":
            main = outcome
        else:
            checks.append((what, outcome))
    counts = {}
    for st in main.statuses.values():
        word = "failed" if st & FAILING else "skipped" if "skipped" in st else "ok"
        counts[word] = counts.get(word, 0) + 1

    fail_entries = [e for e in entries if e.kind == "fail"]
    unexpected = [k for k in failing(main.statuses)
                  if not any(e.matches(k) for e in fail_entries)]
    stale = []
    for e in fail_entries:
        ran = [k for k in main.statuses if e.matches(k)]
        if not ran:
            stale.append(f"{e}: matches no test that ran")
        elif not any(main.statuses[k] & FAILING for k in ran):
            stale.append(f"{e}: passes now, remove it")
    for e, (broken, what) in checks:
        if not broken:
            stale.append(f"{e}: {what}, remove it")

    verdict = "PASS" if not (unexpected or stale or main.problems) else "FAIL"
    summary_line(
        f"{file}: {verdict} in {main.elapsed:.1f} s ({main.runs} run(s)): "
        + ", ".join(f"{n} {w}" for w, n in sorted(counts.items()))
        + "".join(f"; check {e.pattern}: {'holds' if b else 'STALE'}: {w}"
                  for e, (b, w) in checks))
    report = []
    if main.problems:
        report.append("the run itself: " + "; ".join(main.problems))
    if unexpected:
        report.append("tests that must pass but did not:\n  " + "\n  ".join(
            f"{k}: {', '.join(sorted(main.statuses[k]))}" for k in unexpected))
    if stale:
        report.append("expected failures that no longer fail (the list only shrinks):\n  "
                      + "\n  ".join(stale))
    assert not report, (f"{file} under {'no preload' if NATIVE else 'LD_PRELOAD'}: "
                        + "\n".join(report) + f"\nlog: {LOGS / (file + '.log')}")
