// The one mechanism behind every blocking hook: try the call without
// blocking; if it would block and the program did not ask for non-blocking
// I/O, park until the fd is ready, the deadline passes, the fd is closed or a
// signal arrives; then try again.
#pragma once
#include <sys/types.h>

#include "hooks/hook.h"
#include "hub/stats.h"

namespace green {

struct IoCall {
  FdEntry* e;
  Direction dir;
  Deadline deadline;  // SO_RCVTIMEO / SO_SNDTIMEO, else none
  bool restartable;   // SA_RESTART restarts it (man 7 signal: not with a socket timeout)
  size_t want;        // bytes asked for; a shorter read means the fd is drained
};

inline IoCall io_call(FdEntry* e, Direction dir, size_t want = 0) {
  int64_t timeout = e->timeout_ns(dir);
  return IoCall{e, dir, timeout ? deadline_after(timeout) : kNoDeadline, timeout == 0, want};
}

// attempt() makes the call without blocking and returns its result, with
// errno EAGAIN when it would block. Returns what the blocking call would.
template <class Attempt>
ssize_t io_retry(const IoCall& c, Attempt&& attempt) {
  FdEntry* e = c.e;
  const int entry_errno = errno;  // a call that succeeds leaves errno alone, as natively
  const uint32_t generation = e->generation;
  const int events = c.dir == kRead ? kWantRead : kWantWrite;
  bool wait_first = !e->nonblock() && !e->maybe_ready[c.dir];
  for (;;) {
    if (!wait_first) {
      ssize_t r = attempt();
      if (r >= 0) {
        if (c.dir == kRead && e->stream && r > 0 && size_t(r) < c.want)
          e->maybe_ready[kRead] = false;
        (c.dir == kRead ? g_stats.io_bytes_read : g_stats.io_bytes_written) += uint64_t(r);
        errno = entry_errno;
        return r;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) return r;
      e->maybe_ready[c.dir] = false;
      if (e->nonblock()) {
        let_others_run();  // a program polling with non-blocking calls waits for a peer
        errno = EAGAIN;
        return r;
      }
    }
    wait_first = false;
    WakeReason why = wait_fd(e, events, c.deadline, true);
    if (e->generation != generation) why = WakeReason::kClosed;
    switch (why) {
      case WakeReason::kClosed:
        errno = EBADF;
        return -1;
      case WakeReason::kTimeout: {
        ssize_t r = attempt();  // one last look: natively data that came in time wins
        if (r >= 0) errno = entry_errno;
        return r;
      }
      case WakeReason::kSignal:
        if (c.restartable && tls.current->signal_restart) continue;
        errno = EINTR;
        return -1;
      case WakeReason::kCancel:  // pthread_cancel, or the C++ API's kill or Timeout
        errno = ECANCELED;       // CancelPoint::done acts on it (exits, or throws)
        return -1;
      default:
        continue;
    }
  }
}

// A blocking stream write delivers every byte, and a MSG_WAITALL read fills
// the buffer: step(done) moves bytes from offset `done` without blocking, and
// is retried until `total` bytes moved, end of file, an error, the deadline
// or a signal. Once bytes have moved the count is returned and a signal no
// longer restarts the call, as the kernel does.
template <class Step>
ssize_t io_transfer(IoCall c, size_t total, Step&& step) {
  const int entry_errno = errno;
  size_t done = 0;
  for (;;) {
    ssize_t r = io_retry(c, [&] { return step(done); });
    if (r < 0) {
      if (done == 0) return -1;
      errno = entry_errno;
      return ssize_t(done);
    }
    done += size_t(r);
    if (r == 0 || done >= total) return ssize_t(done);
    c.restartable = false;
  }
}

}  // namespace green
