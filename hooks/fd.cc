// close, dup, dup2, dup3, pipe, pipe2: keep the fd table in step with the
// kernel's, and wake threads parked on an fd that goes away.
#include "hooks/hook.h"
#include "hooks/stdio_stream.h"

using namespace green;

extern "C" int close(int fd) {
  // Before the real close: libuv must stop watching an fd while it is open,
  // and parked threads wake with EBADF instead of waiting on a reused number.
  if (hook_self()) {
    int saved = errno;  // libuv's epoll_ctl may leave its own errno behind
    fd_closing(fd);
    errno = saved;
  }
  return REAL(close)(fd);
}

extern "C" int dup(int fd) noexcept {
  int r = REAL(dup)(fd);
  if (r >= 0 && hook_self()) fd_duplicated(fd, r);
  if (r >= 0) std_stream_replaced(r);
  return r;
}

// dup2/dup3 close `to` only when `from` is valid.
static void before_replace(int from, int to) {
  if (from != to && hook_self() && REAL(fcntl)(from, F_GETFD) >= 0) fd_closing(to);
}

extern "C" int dup2(int from, int to) noexcept {
  before_replace(from, to);
  int r = REAL(dup2)(from, to);
  if (r >= 0 && from != to && hook_self()) fd_duplicated(from, r);
  if (r >= 0) std_stream_replaced(r);
  return r;
}

extern "C" int dup3(int from, int to, int flags) noexcept {
  before_replace(from, to);
  int r = REAL(dup3)(from, to, flags);
  if (r >= 0 && hook_self()) fd_duplicated(from, r);
  if (r >= 0) std_stream_replaced(r);
  return r;
}

static void record_pipe(const int fds[2], int flags) {
  if (!hook_self()) return;
  for (int i = 0; i < 2; i++) fd_created(fds[i], FdKind::kPipe, true, flags & O_NONBLOCK);
}

extern "C" int pipe(int fds[2]) noexcept {
  int r = REAL(pipe)(fds);
  if (r == 0) record_pipe(fds, 0);
  return r;
}

extern "C" int pipe2(int fds[2], int flags) noexcept {
  int r = REAL(pipe2)(fds, flags);
  if (r == 0) record_pipe(fds, flags);
  return r;
}
