"""Start a command in a session of its own, and kill everything it started.

The big integration tests (CPython's regression tests, PostgreSQL) start
processes that start others, some in process groups or sessions of their
own (regrtest's workers, a postmaster's backends, test children that call
setsid). A hang must never outlive its test: kill_tree stops and kills the
command, every process of its session, and every descendant found through
/proc, whatever group or session it moved to."""

import os
import signal
import subprocess


def start(argv, **kwargs):
    """Popen in a new session: the child leads its own session and process
    group, so its id names both."""
    return subprocess.Popen(argv, start_new_session=True, **kwargs)


def _snapshot():
    """pid -> (ppid, session) for every process we can see."""
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name (field 2) may hold spaces and parentheses
        fields = stat[stat.rfind(")") + 2:].split()
        procs[int(name)] = (int(fields[1]), int(fields[3]))
    return procs


def members(leader):
    """The leader (if alive), every process in its session, and every
    descendant of either, however it regrouped."""
    procs = _snapshot()
    found = {pid for pid, (_, sid) in procs.items() if sid == leader}
    if leader in procs:
        found.add(leader)
    children = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    found.discard(os.getpid())
    return found


def kill_tree(leader):
    """SIGSTOP everything first (so nothing forks or reparents while we
    look), then SIGKILL it; a few rounds for processes caught mid-fork."""
    for _ in range(5):
        victims = members(leader)
        if not victims:
            return
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in victims:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass


def wait_and_reap(proc, timeout):
    """proc.wait(timeout); on a timeout kill the whole tree. Afterwards kill
    whatever the command left behind in its session. True if it ended by
    itself in time."""
    try:
        proc.wait(timeout=timeout)
        ended = True
    except subprocess.TimeoutExpired:
        ended = False
    kill_tree(proc.pid)
    proc.wait()
    return ended
