// socket, socketpair, accept, accept4, connect, shutdown.
#include <sys/ioctl.h>

#include "hooks/io_retry.h"

namespace green {
namespace {

bool is_stream(int type) {
  return (type & 0xf) == SOCK_STREAM;
}

int green_accept(FdEntry* e, sockaddr* addr, socklen_t* addr_len, int flags) {
  int fd = e->fd;
  int r = int(io_retry(io_call(e, kRead), [&]() -> ssize_t {
    // accept has no per-call non-blocking flag: look before calling.
    if (!e->nonblock() && !poll_ready(fd, POLLIN)) return would_block();
    return REAL(accept4)(fd, addr, addr_len, flags);
  }));
  if (r >= 0) {
    // Linux: the new socket does not inherit O_NONBLOCK, but it does inherit
    // the listener's SO_RCVTIMEO and SO_SNDTIMEO.
    FdEntry* conn = fd_created(r, FdKind::kSocket, e->stream, flags & SOCK_NONBLOCK);
    conn->file->timeout_ns[kRead] = e->timeout_ns(kRead);
    conn->file->timeout_ns[kWrite] = e->timeout_ns(kWrite);
  }
  return r;
}

// Starts a connect without blocking: the socket is non-blocking for this one
// call only (nothing else of the program runs meanwhile).
int start_connect(int fd, const sockaddr* addr, socklen_t len) {
  int on = 1, off = 0;
  REAL(ioctl)(fd, FIONBIO, &on);
  int r = REAL(connect)(fd, addr, len);
  int err = errno;
  REAL(ioctl)(fd, FIONBIO, &off);
  errno = err;
  return r;
}

int green_connect(FdEntry* e, const sockaddr* addr, socklen_t len) {
  int fd = e->fd;
  const int entry_errno = errno;
  IoCall call = io_call(e, kWrite);
  int r = start_connect(fd, addr, len);
  // AF_UNIX with a full backlog says EAGAIN where a blocking connect waits;
  // nothing signals when room appears, so look again every millisecond.
  while (r < 0 && errno == EAGAIN) {
    if (sleep_until(std::min(call.deadline, deadline_after(1000000))) == WakeReason::kSignal &&
        !(call.restartable && tls.current->signal_restart)) {
      errno = EINTR;
      return -1;
    }
    if (monotonic_ns() >= call.deadline) {
      errno = EAGAIN;
      return -1;
    }
    r = start_connect(fd, addr, len);
  }
  if (r == 0 || errno != EINPROGRESS) return r;
  ssize_t done =
      io_retry(call, [&]() -> ssize_t { return poll_ready(fd, POLLOUT) ? 0 : would_block(); });
  if (done < 0) {
    if (errno == EAGAIN) errno = EINPROGRESS;  // SO_SNDTIMEO expired, as natively
    return -1;
  }
  int err = 0;
  socklen_t err_len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
  if (err != 0) {
    errno = err;
    return -1;
  }
  errno = entry_errno;
  return 0;
}

}  // namespace
}  // namespace green

using namespace green;

extern "C" int socket(int domain, int type, int protocol) noexcept {
  int fd = REAL(socket)(domain, type, protocol);
  if (fd >= 0 && hook_self())
    fd_created(fd, FdKind::kSocket, is_stream(type), type & SOCK_NONBLOCK);
  return fd;
}

extern "C" int socketpair(int domain, int type, int protocol, int fds[2]) noexcept {
  int r = REAL(socketpair)(domain, type, protocol, fds);
  if (r == 0 && hook_self()) {
    for (int i = 0; i < 2; i++)
      fd_created(fds[i], FdKind::kSocket, is_stream(type), type & SOCK_NONBLOCK);
  }
  return r;
}

extern "C" int accept(int fd, sockaddr* addr, socklen_t* addr_len) {
  if (FdEntry* e = green_socket(fd))
    return CancelPoint(tls.current).done(green_accept(e, addr, addr_len, 0));
  return REAL(accept)(fd, addr, addr_len);
}

extern "C" int accept4(int fd, sockaddr* addr, socklen_t* addr_len, int flags) {
  if (FdEntry* e = green_socket(fd))
    return CancelPoint(tls.current).done(green_accept(e, addr, addr_len, flags));
  return REAL(accept4)(fd, addr, addr_len, flags);
}

extern "C" int connect(int fd, const sockaddr* addr, socklen_t len) {
  if (FdEntry* e = green_socket(fd); e && !e->nonblock())
    return CancelPoint(tls.current).done(green_connect(e, addr, len));
  return REAL(connect)(fd, addr, len);
}

extern "C" int shutdown(int fd, int how) noexcept {
  int r = REAL(shutdown)(fd, how);
  // Parked readers and writers are woken by the poll (the socket reports
  // hang-up); the next call must try rather than assume "drained".
  if (r == 0) {
    if (FdEntry* e = green_socket(fd)) e->maybe_ready[kRead] = e->maybe_ready[kWrite] = true;
  }
  return r;
}
