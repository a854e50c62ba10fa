// read/write and the socket send/recv family on green sockets and pipes.
// Sockets are never switched to O_NONBLOCK: each attempt uses MSG_DONTWAIT.
// Pipes have no per-call flag, so an attempt polls first (zero timeout) and
// writes at most PIPE_BUF bytes, which a writable pipe takes without blocking.
#include <climits>
#include <vector>

#include "hooks/io_retry.h"
#include "hub/stats.h"

extern "C" [[noreturn]] void __chk_fail(void);

namespace green {
namespace {

// A pipe end (or FIFO) opened for the other direction is never ready for
// this one: natively the call fails at once with EBADF (design.md trap 19).
bool wrong_direction(int fd, short events) {
  int flags = REAL(fcntl)(fd, F_GETFL);
  if (flags < 0) return false;
  return (flags & O_ACCMODE) == (events == POLLIN ? O_WRONLY : O_RDONLY);
}

// On a pipe the program left blocking, call() runs only when a zero-timeout
// poll says it will not block (or when it will fail at once). An eventfd, timerfd or signalfd (not
// a stream) can block even then (an eventfd write that would overflow the counter): the call runs
// with the fd non-blocking for its duration.
template <class Call>
ssize_t pipe_attempt(FdEntry* e, short events, Call&& call) {
  if (e->nonblock()) return call();
  if (!e->stream) {
    int on = 1, off = 0;
    REAL(ioctl)(e->fd, FIONBIO, &on);
    ssize_t r = call();
    int err = errno;
    REAL(ioctl)(e->fd, FIONBIO, &off);
    errno = err;
    return r;
  }
  if (!poll_ready(e->fd, events) && !wrong_direction(e->fd, events)) return would_block();
  return call();
}

size_t pipe_chunk(const FdEntry* e, size_t n) {
  return e->nonblock() ? n : std::min(n, size_t(PIPE_BUF));
}

size_t iov_total(const iovec* iov, int count) {
  size_t total = 0;
  for (int i = 0; i < count; i++) total += iov[i].iov_len;
  return total;
}

// The part of iov from byte `skip` on, at most `limit` bytes.
std::vector<iovec> iov_slice(const iovec* iov, int count, size_t skip, size_t limit) {
  std::vector<iovec> out;
  for (int i = 0; i < count && limit > 0; i++) {
    size_t len = iov[i].iov_len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    size_t take = std::min(len - skip, limit);
    out.push_back(iovec{static_cast<char*>(iov[i].iov_base) + skip, take});
    limit -= take;
    skip = 0;
  }
  return out;
}

bool blocking_stream(const FdEntry* e) {
  return e->stream && !e->nonblock();
}

ssize_t green_read(FdEntry* e, void* buf, size_t n) {
  return io_retry(io_call(e, kRead, n), [&]() -> ssize_t {
    if (e->kind == FdKind::kSocket) return REAL(recv)(e->fd, buf, n, MSG_DONTWAIT);
    return pipe_attempt(e, POLLIN, [&] { return REAL(read)(e->fd, buf, n); });
  });
}

ssize_t green_write(FdEntry* e, const void* buf, size_t n) {
  auto step = [&](size_t done) -> ssize_t {
    const char* p = static_cast<const char*>(buf) + done;
    if (e->kind == FdKind::kSocket) return REAL(send)(e->fd, p, n - done, MSG_DONTWAIT);
    return pipe_attempt(e, POLLOUT, [&] { return REAL(write)(e->fd, p, pipe_chunk(e, n - done)); });
  };
  if (!blocking_stream(e)) return io_retry(io_call(e, kWrite), [&] { return step(0); });
  return io_transfer(io_call(e, kWrite), n, step);
}

ssize_t green_readv(FdEntry* e, const iovec* iov, int count) {
  return io_retry(io_call(e, kRead, iov_total(iov, count)), [&]() -> ssize_t {
    if (e->kind == FdKind::kSocket) {
      msghdr msg{};
      msg.msg_iov = const_cast<iovec*>(iov);
      msg.msg_iovlen = size_t(count);
      return REAL(recvmsg)(e->fd, &msg, MSG_DONTWAIT);
    }
    return pipe_attempt(e, POLLIN, [&] { return REAL(readv)(e->fd, iov, count); });
  });
}

ssize_t green_writev(FdEntry* e, const iovec* iov, int count) {
  size_t total = iov_total(iov, count);
  auto step = [&](size_t done) -> ssize_t {
    bool socket = e->kind == FdKind::kSocket;
    std::vector<iovec> part = iov_slice(iov, count, done, socket ? total : pipe_chunk(e, total));
    if (socket) {
      msghdr msg{};
      msg.msg_iov = part.data();
      msg.msg_iovlen = part.size();
      return REAL(sendmsg)(e->fd, &msg, MSG_DONTWAIT);
    }
    return pipe_attempt(e, POLLOUT,
                        [&] { return REAL(writev)(e->fd, part.data(), int(part.size())); });
  };
  if (!blocking_stream(e)) return io_retry(io_call(e, kWrite), [&] { return step(0); });
  return io_transfer(io_call(e, kWrite), total, step);
}

// recv/recvfrom: MSG_DONTWAIT from the program is its own one-shot
// non-blocking call; MSG_WAITALL on a stream keeps reading until full.
ssize_t green_recvfrom(FdEntry* e, void* buf, size_t n, int flags, sockaddr* addr,
                       socklen_t* addr_len) {
  auto step = [&](size_t done) {
    return REAL(recvfrom)(e->fd, static_cast<char*>(buf) + done, n - done, flags | MSG_DONTWAIT,
                          addr, addr_len);
  };
  if ((flags & MSG_WAITALL) && blocking_stream(e))
    return io_transfer(io_call(e, kRead, n), n, step);
  return io_retry(io_call(e, kRead, n), [&] { return step(0); });
}

ssize_t green_sendto(FdEntry* e, const void* buf, size_t n, int flags, const sockaddr* addr,
                     socklen_t addr_len) {
  auto step = [&](size_t done) {
    return REAL(sendto)(e->fd, static_cast<const char*>(buf) + done, n - done, flags | MSG_DONTWAIT,
                        addr, addr_len);
  };
  if (!blocking_stream(e)) return io_retry(io_call(e, kWrite), [&] { return step(0); });
  return io_transfer(io_call(e, kWrite), n, step);
}

ssize_t green_sendmsg(FdEntry* e, const msghdr* msg, int flags) {
  size_t total = iov_total(msg->msg_iov, int(msg->msg_iovlen));
  auto step = [&](size_t done) {
    if (done == 0) return REAL(sendmsg)(e->fd, msg, flags | MSG_DONTWAIT);
    // The rest of a partly sent message: ancillary data went with the first part.
    std::vector<iovec> part = iov_slice(msg->msg_iov, int(msg->msg_iovlen), done, total);
    msghdr rest = *msg;
    rest.msg_iov = part.data();
    rest.msg_iovlen = part.size();
    rest.msg_control = nullptr;
    rest.msg_controllen = 0;
    return REAL(sendmsg)(e->fd, &rest, flags | MSG_DONTWAIT);
  };
  if (!blocking_stream(e)) return io_retry(io_call(e, kWrite), [&] { return step(0); });
  return io_transfer(io_call(e, kWrite), total, step);
}

// A stale entry (the fd was closed behind the runtime's back and reused)
// can call a non-socket a socket: look again once.
template <class Call>
ssize_t with_fresh_entry(int fd, FdEntry* e, Call&& call) {
  ssize_t r = call(e);
  if (r < 0 && errno == ENOTSOCK && e->kind == FdKind::kSocket) {
    e = fd_reclassify(fd);
    if (!e) return r;
    return call(e);
  }
  return r;
}

}  // namespace
}  // namespace green

using namespace green;

extern "C" ssize_t read(int fd, void* buf, size_t n) {
  if (FdEntry* e = green_fd(fd)) {
    CancelPoint cp(tls.current);
    return cp.done(with_fresh_entry(fd, e, [&](FdEntry* f) -> ssize_t {
      if (f->kind != FdKind::kSocket && f->kind != FdKind::kPipe) {
        stats_blocking_call("read");
        return REAL(read)(fd, buf, n);
      }
      return green_read(f, buf, n);
    }));
  }
  if (file_on_pool(fd)) return on_pool([&] { return REAL(read)(fd, buf, n); });
  if (hook_self()) stats_blocking_call("read");  // a file or a tty, on the OS thread
  return REAL(read)(fd, buf, n);
}

extern "C" ssize_t write(int fd, const void* buf, size_t n) {
  if (FdEntry* e = green_fd(fd)) {
    CancelPoint cp(tls.current);
    return cp.done(with_fresh_entry(fd, e, [&](FdEntry* f) -> ssize_t {
      if (f->kind != FdKind::kSocket && f->kind != FdKind::kPipe) return REAL(write)(fd, buf, n);
      return green_write(f, buf, n);
    }));
  }
  if (file_on_pool(fd)) return on_pool([&] { return REAL(write)(fd, buf, n); });
  if (hook_self()) stats_blocking_call("write");  // a file or a tty, on the OS thread
  return REAL(write)(fd, buf, n);
}

extern "C" ssize_t readv(int fd, const iovec* iov, int count) {
  if (FdEntry* e = green_fd(fd); e && count > 0 && count <= IOV_MAX) {
    CancelPoint cp(tls.current);
    return cp.done(with_fresh_entry(fd, e, [&](FdEntry* f) -> ssize_t {
      if (f->kind != FdKind::kSocket && f->kind != FdKind::kPipe)
        return REAL(readv)(fd, iov, count);
      return green_readv(f, iov, count);
    }));
  }
  if (file_on_pool(fd)) return on_pool([&] { return REAL(readv)(fd, iov, count); });
  return REAL(readv)(fd, iov, count);
}

extern "C" ssize_t writev(int fd, const iovec* iov, int count) {
  if (FdEntry* e = green_fd(fd); e && count > 0 && count <= IOV_MAX) {
    CancelPoint cp(tls.current);
    return cp.done(with_fresh_entry(fd, e, [&](FdEntry* f) -> ssize_t {
      if (f->kind != FdKind::kSocket && f->kind != FdKind::kPipe)
        return REAL(writev)(fd, iov, count);
      return green_writev(f, iov, count);
    }));
  }
  if (file_on_pool(fd)) return on_pool([&] { return REAL(writev)(fd, iov, count); });
  return REAL(writev)(fd, iov, count);
}

extern "C" ssize_t recv(int fd, void* buf, size_t n, int flags) {
  if (FdEntry* e = green_socket(fd); e && !(flags & MSG_DONTWAIT))
    return CancelPoint(tls.current).done(green_recvfrom(e, buf, n, flags, nullptr, nullptr));
  return REAL(recv)(fd, buf, n, flags);
}

extern "C" ssize_t recvfrom(int fd, void* buf, size_t n, int flags, sockaddr* addr,
                            socklen_t* addr_len) {
  if (FdEntry* e = green_socket(fd); e && !(flags & MSG_DONTWAIT))
    return CancelPoint(tls.current).done(green_recvfrom(e, buf, n, flags, addr, addr_len));
  return REAL(recvfrom)(fd, buf, n, flags, addr, addr_len);
}

extern "C" ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  if (FdEntry* e = green_socket(fd); e && !(flags & MSG_DONTWAIT)) {
    size_t want = iov_total(msg->msg_iov, int(msg->msg_iovlen));
    CancelPoint cp(tls.current);
    return cp.done(io_retry(io_call(e, kRead, want),
                            [&] { return REAL(recvmsg)(fd, msg, flags | MSG_DONTWAIT); }));
  }
  return REAL(recvmsg)(fd, msg, flags);
}

extern "C" ssize_t send(int fd, const void* buf, size_t n, int flags) {
  if (FdEntry* e = green_socket(fd); e && !(flags & MSG_DONTWAIT))
    return CancelPoint(tls.current).done(green_sendto(e, buf, n, flags, nullptr, 0));
  return REAL(send)(fd, buf, n, flags);
}

extern "C" ssize_t sendto(int fd, const void* buf, size_t n, int flags, const sockaddr* addr,
                          socklen_t addr_len) {
  if (FdEntry* e = green_socket(fd); e && !(flags & MSG_DONTWAIT))
    return CancelPoint(tls.current).done(green_sendto(e, buf, n, flags, addr, addr_len));
  return REAL(sendto)(fd, buf, n, flags, addr, addr_len);
}

extern "C" ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  if (FdEntry* e = green_socket(fd); e && !(flags & MSG_DONTWAIT))
    return CancelPoint(tls.current).done(green_sendmsg(e, msg, flags));
  return REAL(sendmsg)(fd, msg, flags);
}

extern "C" ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  if (n > buflen) __chk_fail();
  return read(fd, buf, n);
}

extern "C" ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags) {
  if (n > buflen) __chk_fail();
  return recv(fd, buf, n, flags);
}

extern "C" ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags,
                                  sockaddr* addr, socklen_t* addr_len) {
  if (n > buflen) __chk_fail();
  return recvfrom(fd, buf, n, flags, addr, addr_len);
}
