"""One xfail marker per capability of issue 4 ("the rest of the blocking
surface"). Every preloaded test that needs a capability's runtime work
carries its marker; remove a marker (or set it to a plain no-op) when that
part lands. They are strict: a marked test that passes fails, which is the
sign that the marker can go.

    needs_dns        getaddrinfo and friends on the hub's thread pool
    needs_epoll      epoll_*, eventfd, timerfd, signalfd (and memcached)
    needs_stdio      FILE* streams on sockets and pipes, stdin/stdout
    needs_files      GREEN_FILE_IO, file locks, sendfile/splice/tee
    needs_futex      syscall(SYS_futex), C++ atomic waits, static guards
    needs_processes  fork, the wait family, system, popen, exec
    needs_signals    pause, sigsuspend, the sigwait family, alarm timeouts
"""

import pytest


def _pending(what):
    return pytest.mark.xfail(strict=True, reason=f"issue 4: {what} not finished")


def _done(what):
    """A capability that has landed: its tests must pass, plainly."""
    return pytest.mark.usefixtures()


needs_dns = _done("DNS on the thread pool")
needs_epoll = _done("the program's own event loop (epoll, eventfd, timerfd, signalfd)")
needs_stdio = _done("stdio on sockets and pipes, stdin and stdout")
needs_files = _done("regular files, file locks and zero-copy calls")
needs_futex = _done("futexes through syscall()")
needs_processes = _done("fork, wait, system, popen and exec")
needs_signals = _done("waiting for signals and alarm-driven timeouts")
