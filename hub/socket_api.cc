// green::Socket (include/green/socket.hpp) over the hub's fd waits.
//
// Every system call here runs inside a RuntimeScope: under the preload the
// hooks then call straight through to libc (the socket is non-blocking and
// the waiting is done here, as an API blocking point), and the fd table is
// kept by this file alone, the same with and without the preload.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <green/socket.hpp>
#include <new>
#include <utility>

#include "hub/api_block.h"
#include "hub/fd_table.h"
#include "hub/runtime.h"

namespace green {
namespace {

constexpr size_t kFillChunk = 16384;  // the read buffer's first size

[[noreturn]] void fail(int err, const char* what) {
  throw std::system_error(err, std::system_category(), what);
}

bool would_block(int err) {
  return err == EAGAIN || err == EWOULDBLOCK;
}

int socket_type(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
  return type;
}

}  // namespace

// The one waiting loop of every call.
struct Socket::Io {
  static FdEntry* entry(const Socket& s, const char* what) {
    detail::self(what);  // a hub's green thread, or green::Error
    auto* e = static_cast<FdEntry*>(s.entry_);
    if (s.fd_ < 0 || !e || e->generation != s.generation_) fail(EBADF, what);
    return e;
  }

  // attempt() makes the call without blocking: >= 0 is its result, -1 an
  // error in errno. Between attempts that would block, parks until the fd
  // is ready in direction dir, the deadline (SocketTimeout), a kill or a
  // green::Timeout; a close by another green thread is EBADF.
  template <class Attempt>
  static ssize_t run(Socket& s, Direction dir, int64_t deadline, const char* what,
                     Attempt&& attempt) {
    FdEntry* e = entry(s, what);
    if (e->maybe_ready[dir]) {
      ssize_t r = attempt();
      if (r >= 0) return r;
      if (!would_block(errno)) fail(errno, what);
      e->maybe_ready[dir] = false;
    }
    ApiBlock block(what, deadline);
    const uint32_t generation = s.generation_;
    for (;;) {
      WakeReason why = wait_fd(e, dir == kRead ? kWantRead : kWantWrite, block.until(), false);
      if (why == WakeReason::kClosed || e->generation != generation) fail(EBADF, what);
      ssize_t r = attempt();
      if (r >= 0) return r;
      if (!would_block(errno)) fail(errno, what);
      e->maybe_ready[dir] = false;
      if (why != WakeReason::kReady && block.expired()) throw SocketTimeout(what);
    }
  }

  // A short read of a stream drained it: the next read waits first.
  static void read_done(const Socket& s, ssize_t got, size_t asked) {
    auto* e = static_cast<FdEntry*>(s.entry_);
    if (e->stream && got > 0 && size_t(got) < asked) e->maybe_ready[kRead] = false;
  }
};

Socket::Socket(int fd, bool stream, bool adopted) : fd_(fd) {
  if (adopted) {
    RuntimeScope runtime;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
      fail(errno, "green::Socket::adopt");
  }
  FdEntry* e = fd_created(fd, FdKind::kSocket, stream, true);
  entry_ = e;
  generation_ = e->generation;
}

Socket::Socket(int family, int type, int protocol) {
  const char* what = "green::Socket";
  detail::self(what);
  int fd;
  {
    RuntimeScope runtime;
    fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  }
  if (fd < 0) fail(errno, what);
  *this = Socket(fd, (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM, false);
}

Socket Socket::adopt(int fd) {
  detail::self("green::Socket::adopt");
  if (fd < 0 || fcntl(fd, F_GETFD) < 0) fail(EBADF, "green::Socket::adopt");
  return Socket(fd, socket_type(fd) == SOCK_STREAM, true);
}

Socket::Socket(Socket&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      entry_(std::exchange(o.entry_, nullptr)),
      generation_(o.generation_),
      timeout_(o.timeout_),
      rbuf_(std::exchange(o.rbuf_, nullptr)),
      rcap_(std::exchange(o.rcap_, 0)),
      rstart_(std::exchange(o.rstart_, 0)),
      rend_(std::exchange(o.rend_, 0)) {}

Socket& Socket::operator=(Socket&& o) noexcept {
  if (this != &o) {
    close();
    std::free(rbuf_);
    fd_ = std::exchange(o.fd_, -1);
    entry_ = std::exchange(o.entry_, nullptr);
    generation_ = o.generation_;
    timeout_ = o.timeout_;
    rbuf_ = std::exchange(o.rbuf_, nullptr);
    rcap_ = std::exchange(o.rcap_, 0);
    rstart_ = std::exchange(o.rstart_, 0);
    rend_ = std::exchange(o.rend_, 0);
  }
  return *this;
}

Socket::~Socket() {
  close();
  std::free(rbuf_);
}

int Socket::release() {
  drop_buffer();
  auto* e = static_cast<FdEntry*>(std::exchange(entry_, nullptr));
  int fd = std::exchange(fd_, -1);
  // The hub stops watching it: whoever takes it may close it behind our back.
  if (fd >= 0 && e && e->generation == generation_) fd_closing(fd);
  return fd;
}

void Socket::close() {
  if (fd_ < 0) return;
  int fd = std::exchange(fd_, -1);
  auto* e = static_cast<FdEntry*>(std::exchange(entry_, nullptr));
  drop_buffer();
  // The fd was closed behind our back (a hooked close() of the program):
  // its number may already be someone else's.
  if (!e || e->generation != generation_) return;
  fd_closing(fd);  // wakes the calls of other green threads blocked on it
  RuntimeScope runtime;
  ::close(fd);
}

void Socket::set_timeout(Duration timeout) {
  if (timeout.negative())
    throw std::invalid_argument("green::Socket::set_timeout: the timeout is negative");
  timeout_ = timeout;
}

int64_t Socket::deadline(CallTimeout timeout, const char* what) const {
  return detail::deadline_for(timeout ? *timeout : timeout_, what);
}

void Socket::bind(const Address& address) {
  const char* what = "green::Socket::bind";
  Io::entry(*this, what);
  RuntimeScope runtime;
  if (::bind(fd_, address.data(), address.size()) != 0) fail(errno, what);
}

void Socket::listen(int backlog) {
  const char* what = "green::Socket::listen";
  Io::entry(*this, what);
  RuntimeScope runtime;
  if (::listen(fd_, backlog) != 0) fail(errno, what);
}

void Socket::connect(const Address& address, CallTimeout timeout) {
  const char* what = "green::Socket::connect";
  int64_t until = deadline(timeout, what);
  FdEntry* e = Io::entry(*this, what);
  int r;
  {
    RuntimeScope runtime;
    r = ::connect(fd_, address.data(), address.size());
  }
  if (r == 0) return;
  if (errno != EINPROGRESS) fail(errno, what);
  e->maybe_ready[kWrite] = false;
  // Writable means the handshake is over; SO_ERROR says how it went.
  Io::run(*this, kWrite, until, what, [&]() -> ssize_t {
    RuntimeScope runtime;
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, 0) == 0) {
      errno = EAGAIN;
      return -1;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return -1;
    errno = err;
    return err ? -1 : 0;
  });
}

Socket Socket::accept(Address* peer, CallTimeout timeout) {
  const char* what = "green::Socket::accept";
  int64_t until = deadline(timeout, what);
  sockaddr_storage ss;
  socklen_t len = 0;
  ssize_t fd = Io::run(*this, kRead, until, what, [&]() -> ssize_t {
    len = sizeof ss;
    RuntimeScope runtime;
    return ::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  });
  Socket conn(int(fd), static_cast<FdEntry*>(entry_)->stream, false);
  if (peer) {
    int family = len ? reinterpret_cast<sockaddr*>(&ss)->sa_family : AF_UNSPEC;
    *peer = family == AF_INET || family == AF_INET6 ? Address(reinterpret_cast<sockaddr*>(&ss), len)
                                                    : Address();
  }
  return conn;
}

size_t Socket::recv(void* buf, size_t len, CallTimeout timeout) {
  const char* what = "green::Socket::recv";
  if (buffered()) {
    size_t n = std::min(len, buffered());
    std::memcpy(buf, rbuf_ + rstart_, n);
    rstart_ += n;
    return n;
  }
  int64_t until = deadline(timeout, what);
  ssize_t r = Io::run(*this, kRead, until, what, [&] {
    RuntimeScope runtime;
    return ::recv(fd_, buf, len, 0);
  });
  Io::read_done(*this, r, len);
  return size_t(r);
}

std::string Socket::recv(size_t max, CallTimeout timeout) {
  const char* what = "green::Socket::recv";
  if (!buffered() && max > 0 && !fill(deadline(timeout, what), what)) return {};
  return take(std::min(max, buffered()));
}

size_t Socket::recvfrom(void* buf, size_t len, Address* from, CallTimeout timeout) {
  const char* what = "green::Socket::recvfrom";
  int64_t until = deadline(timeout, what);
  sockaddr_storage ss;
  socklen_t slen = 0;
  ssize_t r = Io::run(*this, kRead, until, what, [&] {
    slen = sizeof ss;
    RuntimeScope runtime;
    return ::recvfrom(fd_, buf, len, 0, reinterpret_cast<sockaddr*>(&ss), &slen);
  });
  if (from) {
    int family = slen ? reinterpret_cast<sockaddr*>(&ss)->sa_family : AF_UNSPEC;
    *from = family == AF_INET || family == AF_INET6
                ? Address(reinterpret_cast<sockaddr*>(&ss), slen)
                : Address();
  }
  return size_t(r);
}

size_t Socket::send(const void* buf, size_t len, CallTimeout timeout) {
  const char* what = "green::Socket::send";
  int64_t until = deadline(timeout, what);
  return size_t(Io::run(*this, kWrite, until, what, [&] {
    RuntimeScope runtime;
    return ::send(fd_, buf, len, MSG_NOSIGNAL);
  }));
}

size_t Socket::sendto(const void* buf, size_t len, const Address& to, CallTimeout timeout) {
  const char* what = "green::Socket::sendto";
  int64_t until = deadline(timeout, what);
  return size_t(Io::run(*this, kWrite, until, what, [&] {
    RuntimeScope runtime;
    return ::sendto(fd_, buf, len, MSG_NOSIGNAL, to.data(), to.size());
  }));
}

void Socket::sendall(const void* buf, size_t len, CallTimeout timeout) {
  const char* what = "green::Socket::sendall";
  int64_t until = deadline(timeout, what);
  auto* p = static_cast<const char*>(buf);
  size_t done = 0;
  do {
    size_t left = len - done;
    ssize_t r = Io::run(*this, kWrite, until, what, [&] {
      RuntimeScope runtime;
      return ::send(fd_, p + done, left, MSG_NOSIGNAL);
    });
    // A short write filled the send buffer: wait before the next try.
    if (size_t(r) < left) static_cast<FdEntry*>(entry_)->maybe_ready[kWrite] = false;
    done += size_t(r);
  } while (done < len);
}

// Reads what the socket has into the buffer (growing it when full).
bool Socket::fill(int64_t until, const char* what) {
  if (rstart_ == rend_) rstart_ = rend_ = 0;
  if (rend_ == rcap_) {
    if (rstart_ > 0) {
      std::memmove(rbuf_, rbuf_ + rstart_, rend_ - rstart_);
      rend_ -= rstart_;
      rstart_ = 0;
    } else {
      size_t cap = rcap_ ? rcap_ * 2 : kFillChunk;
      auto* grown = static_cast<char*>(std::realloc(rbuf_, cap));
      if (!grown) throw std::bad_alloc();
      rbuf_ = grown;
      rcap_ = cap;
    }
  }
  size_t room = rcap_ - rend_;
  ssize_t r = Io::run(*this, kRead, until, what, [&] {
    RuntimeScope runtime;
    return ::recv(fd_, rbuf_ + rend_, room, 0);
  });
  Io::read_done(*this, r, room);
  rend_ += size_t(r);
  return r > 0;
}

std::string Socket::take(size_t n) {
  std::string out(rbuf_ + rstart_, n);
  rstart_ += n;
  return out;
}

void Socket::drop_buffer() {
  rstart_ = rend_ = 0;
}

std::string Socket::readline(size_t limit, CallTimeout timeout) {
  const char* what = "green::Socket::readline";
  int64_t until = deadline(timeout, what);
  size_t scanned = 0;  // bytes already looked at for a newline
  for (;;) {
    size_t look = std::min(buffered(), limit);
    const char* base = rbuf_ + rstart_;
    if (look > scanned) {
      if (auto* nl = static_cast<const char*>(std::memchr(base + scanned, '\n', look - scanned)))
        return take(size_t(nl - base) + 1);
    }
    if (buffered() >= limit) return take(limit);
    scanned = look;
    if (!fill(until, what)) return take(buffered());
  }
}

std::string Socket::read(size_t n, CallTimeout timeout) {
  const char* what = "green::Socket::read";
  int64_t until = deadline(timeout, what);
  while (buffered() < n)
    if (!fill(until, what)) break;
  return take(std::min(n, buffered()));
}

void Socket::shutdown(int how) {
  const char* what = "green::Socket::shutdown";
  FdEntry* e = Io::entry(*this, what);
  {
    RuntimeScope runtime;
    if (::shutdown(fd_, how) != 0) fail(errno, what);
  }
  e->maybe_ready[kRead] = e->maybe_ready[kWrite] = true;
}

namespace {

// getsockname or getpeername of fd, as an Address; failures thrown as what's.
Address name_of(int fd, int (*get)(int, sockaddr*, socklen_t*), const char* what) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (get(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) fail(errno, what);
  return Address(reinterpret_cast<sockaddr*>(&ss), len);
}

}  // namespace

Address Socket::local_address() const {
  const char* what = "green::Socket::local_address";
  Io::entry(*this, what);
  return name_of(fd_, getsockname, what);
}

Address Socket::peer_address() const {
  const char* what = "green::Socket::peer_address";
  Io::entry(*this, what);
  return name_of(fd_, getpeername, what);
}

void Socket::set_option(int level, int name, int value) {
  const char* what = "green::Socket::set_option";
  Io::entry(*this, what);
  RuntimeScope runtime;  // SO_RCVTIMEO and the like are not the hooks' business here
  if (setsockopt(fd_, level, name, &value, sizeof value) != 0) fail(errno, what);
}

int Socket::option(int level, int name) const {
  const char* what = "green::Socket::option";
  Io::entry(*this, what);
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd_, level, name, &value, &len) != 0) fail(errno, what);
  return value;
}

}  // namespace green
