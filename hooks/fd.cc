// close, close_range, closefrom, dup, dup2, dup3, pipe, pipe2: keep the fd
// table in step with the kernel's, and wake threads parked on an fd that goes
// away. The runtime's own fds (own_fds.h) are ones the program never opened.
#include <dirent.h>
#include <linux/close_range.h>

#include "hooks/hook.h"
#include "hooks/stdio_stream.h"
#include "hub/own_fds.h"

using namespace green;

static int bad_fd() {
  errno = EBADF;
  return -1;
}

extern "C" int close(int fd) {
  if (own_fd_hidden(fd)) return bad_fd();
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
  if (own_fd_hidden(fd)) return bad_fd();
  int r = REAL(dup)(fd);
  if (r >= 0 && hook_self()) fd_duplicated(fd, r);
  if (r >= 0) std_stream_replaced(r);
  return r;
}

// dup2/dup3 close `to` only when `from` is valid. A descriptor of the
// runtime's there moves away first.
static void before_replace(int from, int to) {
  if (from == to || REAL(fcntl)(from, F_GETFD) < 0) return;
  own_fd_make_room(to);
  if (hook_self()) fd_closing(to);
}

extern "C" int dup2(int from, int to) noexcept {
  if (own_fd_hidden(from)) return bad_fd();
  before_replace(from, to);
  int r = REAL(dup2)(from, to);
  if (r >= 0 && from != to && hook_self()) fd_duplicated(from, r);
  if (r >= 0) std_stream_replaced(r);
  return r;
}

extern "C" int dup3(int from, int to, int flags) noexcept {
  if (own_fd_hidden(from)) return bad_fd();
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
  if (r != 0) return r;
  int mine[2] = {fds[0], fds[1]};
  own_pipe_created(fds, flags, __builtin_return_address(0));  // libuv's own
  if (fds[0] == mine[0]) record_pipe(fds, flags);
  return r;
}

// Closes [first, last] but for the runtime's fds: the parts between them, each
// with one close_range, after waking the threads parked on the fds there.
extern "C" int close_range(unsigned first, unsigned last, int flags) noexcept {
  if (first > last || tls.in_runtime) return REAL(close_range)(first, last, flags);
  return own_fds_each_gap(first, last, [flags](unsigned a, unsigned b) {
    if (!(flags & CLOSE_RANGE_CLOEXEC) && hook_self()) fd_closing_range(a, b);
    return REAL(close_range)(a, b, flags);
  });
}

// glibc's closefrom is close_range to the end, or on a kernel without it, a
// close of each fd /proc/self/fd lists.
extern "C" void closefrom(int first) noexcept {
  unsigned from = first < 0 ? 0 : unsigned(first);
  if (close_range(from, ~0U, 0) == 0) return;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return;
  int own = dirfd(dir);
  while (dirent* d = readdir(dir)) {
    int fd = atoi(d->d_name);
    if (d->d_name[0] >= '0' && d->d_name[0] <= '9' && fd >= int(from) && fd != own) close(fd);
  }
  closedir(dir);
}
