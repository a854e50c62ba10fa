// fcntl, ioctl, setsockopt: every call reaches the kernel unchanged; the
// runtime only notes what the program set (its O_NONBLOCK, its socket
// timeouts) so parked calls honour it.
#include <cstdarg>
#include <cstdint>

#include "hooks/hook.h"
#include "hub/own_fds.h"

using namespace green;

namespace {

int after_fcntl(int fd, int cmd, void* arg, int r) {
  if (r < 0 || !hook_self()) return r;
  if (cmd == F_SETFL) fd_set_nonblock(fd, (reinterpret_cast<intptr_t>(arg) & O_NONBLOCK) != 0);
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) fd_duplicated(fd, r);
  return r;
}

// A record lock that would block parks and tries again (lock_retry).
template <class Real>
int call_fcntl(int fd, int cmd, void* arg, Real real) {
  if (own_fd_hidden(fd)) {  // the runtime's: never opened, to the program
    errno = EBADF;
    return -1;
  }
  if ((cmd == F_SETLKW || cmd == F_OFD_SETLKW) && hook_self()) {
    int try_cmd = cmd == F_SETLKW ? F_SETLK : F_OFD_SETLK;
    return lock_retry([&] { return real(fd, try_cmd, arg); },
                      [](int err) { return err == EAGAIN || err == EACCES; });
  }
  return after_fcntl(fd, cmd, arg, real(fd, cmd, arg));
}

}  // namespace

// glibc's own wrapper also reads the optional argument as a pointer.
extern "C" int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return call_fcntl(fd, cmd, arg, REAL(fcntl));
}

extern "C" int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return call_fcntl(fd, cmd, arg, REAL(fcntl64));
}

extern "C" int ioctl(int fd, unsigned long request, ...) noexcept {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  int r = REAL(ioctl)(fd, request, arg);
  if (r == 0 && request == FIONBIO && arg && hook_self())
    fd_set_nonblock(fd, *static_cast<const int*>(arg) != 0);
  return r;
}

extern "C" int setsockopt(int fd, int level, int name, const void* value, socklen_t len) noexcept {
  int r = REAL(setsockopt)(fd, level, name, value, len);
  if (r != 0 || level != SOL_SOCKET || !hook_self()) return r;
  // SO_RCVTIMEO_OLD/_NEW take a timeval (64-bit fields on x86_64 either way).
  bool rcv = name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW;
  bool snd = name == SO_SNDTIMEO_OLD || name == SO_SNDTIMEO_NEW;
  if ((rcv || snd) && len >= 2 * sizeof(int64_t)) {
    const auto* tv = static_cast<const int64_t*>(value);
    fd_set_timeout(fd, rcv ? kRead : kWrite, tv[0] * 1000000000 + tv[1] * 1000);
  }
  return r;
}
