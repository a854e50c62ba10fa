// What every hook shares: the green-thread check and the fd lookup.
#pragma once
#include <algorithm>
#include <cerrno>

#include "hub/api_interrupt.h"
#include "hub/fd_table.h"
#include "hub/hub.h"
#include "hub/pool.h"
#include "hub/runtime.h"
#include "preload/real.h"

namespace green {

// The entry for fd when the caller is a green thread and fd is a socket or
// a pipe; null when the call should go straight to libc.
inline FdEntry* green_fd(int fd) {
  if (!hook_self()) return nullptr;
  FdEntry* e = fd_entry(fd);
  return e && (e->kind == FdKind::kSocket || e->kind == FdKind::kPipe) ? e : nullptr;
}

// GREEN_FILE_IO=threadpool: true when fd is a regular file whose I/O a green
// thread should hand to the thread pool.
extern bool g_file_io_pool;
bool file_on_pool(int fd);

// A lock that would block (flock, fcntl F_SETLKW): try_lock() is its
// non-blocking form, retried after growing green sleeps (1 to 16 ms) while
// busy(errno) says it is held. A handled signal interrupts the wait (EINTR)
// unless its handler has SA_RESTART, as the kernel's lock waits do.
template <class Try, class Busy>
int lock_retry(Try&& try_lock, Busy&& busy) {
  BlockingCall call(tls.current);
  const int entry_errno = errno;
  for (int64_t backoff = 1000000;; backoff = std::min<int64_t>(backoff * 2, 16000000)) {
    int r = try_lock();
    if (r == 0) {
      errno = entry_errno;
      return 0;
    }
    if (!busy(errno)) return r;
    if (sleep_until(deadline_after(backoff)) == WakeReason::kSignal &&
        !tls.current->signal_restart) {
      errno = EINTR;
      return -1;
    }
  }
}

// Runs call() on the thread pool and returns its result, errno included.
template <class Call>
auto on_pool(Call&& call) {
  decltype(call()) result{};
  run_on_pool([&] { result = call(); });
  return result;
}

inline FdEntry* green_socket(int fd) {
  FdEntry* e = green_fd(fd);
  return e && e->kind == FdKind::kSocket ? e : nullptr;
}

// Would a call on fd in this direction return without blocking? A zero
// timeout poll, for calls that have no per-call non-blocking flag (pipes,
// accept, connect). POLLERR/POLLHUP/POLLNVAL count as ready: the call
// then reports them.
inline bool poll_ready(int fd, short events) {
  pollfd p{fd, events, 0};
  return REAL(poll)(&p, 1, 0) > 0;
}

// Marks a hooked call that is a cancellation point: a pending
// pthread_cancel is acted on when the call begins, and when a cancel woke
// the call (which then reports ECANCELED, or for pthread calls returns it).
// Acting means the thread exits with PTHREAD_CANCELED, its stack unwinding.
// The C++ API's kill and green::Timeout end the call's park the same way
// (hub/api_interrupt.h): their exception is thrown out of the hooked call.
class CancelPoint {
 public:
  explicit CancelPoint(GreenThread* self) : t_(self), call_(self) {
    if (!t_) return;
    cancellation_point();
    if (t_->in_cancel_point == 0 && api_armed()) api_call_begins(t_);
    t_->in_cancel_point++;
  }
  ~CancelPoint() {
    if (t_) leave(t_);
  }
  CancelPoint(const CancelPoint&) = delete;
  CancelPoint& operator=(const CancelPoint&) = delete;

  template <class R>
  R done(R result) {  // for calls that return -1 and set errno
    if (t_ && result == R(-1) && errno == ECANCELED) act();
    return result;
  }
  int done_errno(int err) {  // for calls that return the error number
    if (t_ && err == ECANCELED) act();
    return err;
  }
  void act() {
    GreenThread* t = t_;
    t_ = nullptr;
    leave(t);
    if (t->cancel_pending) cancellation_point();
    if (api_armed()) api_interrupt(t);
  }

 private:
  static void leave(GreenThread* t) {
    if (--t->in_cancel_point == 0 && api_armed()) api_call_ends(t);
  }
  GreenThread* t_;
  BlockingCall call_;  // every cancellation point is a blocking call
};

// A poll that does not wait, or a non-blocking call that found nothing to
// do: natively such a loop waits for a peer running on another core. Here
// the peer is a green thread of this OS thread: the ready ones run first,
// and if the hub has not looked at timers and I/O for kPollingYieldNs (the
// peer may be asleep or waiting for input), it looks now. A lone thread
// pays nothing.
constexpr uint64_t kPollingYieldNs = 1000000;

inline bool let_others_run() {
  GreenThread* self = tls.current;
  if (!self) return false;
  Hub* h = self->hub;
  if (h->ready_count == 0 && (h->live < 2 || uv_hrtime() - h->last_poll < kPollingYieldNs))
    return false;
  yield_thread();
  return true;
}

// One zero-timeout poll, made again when only the runtime's own time-slice
// signal interrupted it: the kernel never restarts poll, select or
// epoll_wait, and natively no signal came, so the program must not see
// EINTR. (Were a program's signal to come in the same call too, its EINTR
// would be lost: the call returns what the second try finds.)
template <class Poll>
int poll_once_whole(Poll& poll_once) {
  for (;;) {
    unsigned seen = tls.own_signals;
    int r = poll_once();
    if (r >= 0 || errno != EINTR || tls.own_signals == seen) return r;
  }
}

// A zero-timeout poll of some kind: once, and once more after the ready
// threads ran if nothing was ready.
template <class Poll>
int poll_now(Poll&& poll_once) {
  int r = poll_once_whole(poll_once);
  if (r == 0 && hook_self() && let_others_run()) r = poll_once_whole(poll_once);
  return r;
}

inline ssize_t would_block() {
  errno = EAGAIN;
  return -1;
}

}  // namespace green
