// green::Socket: a socket whose blocking calls park the calling green thread
// (gevent's cooperative socket), plus green::Address and create_connection.
//
//   green::Socket s = green::create_connection("example.org", 80, 5s);
//   s.sendall("GET / HTTP/1.0\r\n\r\n");
//   std::string status = s.readline();  // "HTTP/1.0 200 OK\r\n"
//
// Every call that waits (connect, accept, recv, recvfrom, send, sendall,
// readline, read) is a blocking point of the API: a kill() or a green::Timeout
// reaches it. Each also has a timeout of its own: the last argument, or when
// it is not given the socket's (set_timeout; none at first). A call that
// passes it throws green::SocketTimeout (a std::system_error, ETIMEDOUT); a
// zero timeout tries once. readline, read and sendall count their timeout
// over the whole call, not per system call.
//
// Errors are std::system_error with the native errno as the code value, and
// the call's name. Another green thread closing the socket wakes a call
// blocked on it with EBADF. send and sendall never raise SIGPIPE (a peer
// that went away is EPIPE).
//
// recv, read and readline share one read buffer (the seed's makefile()):
// bytes readline has read past the line are what the next recv returns.
// Nothing read is lost when a call is interrupted (timeout, kill).
//
// The descriptor is non-blocking (O_NONBLOCK) for its whole life. A Socket
// belongs to its hub's OS thread, like every API object.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "green/core.hpp"

namespace green {

// An IPv4 or IPv6 address and a port. Printed "ADDR:PORT" ("[ADDR]:PORT"
// for IPv6).
class Address {
 public:
  Address() = default;  // empty: family() is AF_UNSPEC
  // A numeric host ("127.0.0.1", "::1", "0.0.0.0", "::"; an empty host is
  // 0.0.0.0). Throws std::invalid_argument naming the host otherwise.
  Address(std::string_view host, uint16_t port);
  Address(const sockaddr* sa, socklen_t len);  // AF_INET or AF_INET6
  // As (host, port) with the port given as text ("8000"): for command lines.
  // Throws std::invalid_argument naming what is wrong.
  static Address parse(std::string_view host, std::string_view port);

  int family() const { return ss_.ss_family; }
  bool empty() const { return len_ == 0; }
  uint16_t port() const;
  std::string host() const;  // "127.0.0.1", "::1"
  std::string str() const;   // "127.0.0.1:8000", "[::1]:8000"
  const sockaddr* data() const { return reinterpret_cast<const sockaddr*>(&ss_); }
  socklen_t size() const { return len_; }
  bool operator==(const Address& o) const { return str() == o.str(); }

 private:
  sockaddr_storage ss_{};
  socklen_t len_ = 0;
};

std::ostream& operator<<(std::ostream& out, const Address& a);

// A socket call's own timeout passed.
class SocketTimeout : public std::system_error {
 public:
  explicit SocketTimeout(const std::string& what)
      : std::system_error(ETIMEDOUT, std::system_category(), what) {}
};

class Socket {
 public:
  // A call's timeout: given, or (empty) the socket's own.
  using CallTimeout = std::optional<Duration>;
  static constexpr size_t kLineLimit = 65536;

  Socket() = default;  // no socket: is_open() is false
  // A new socket (socket(2)); throws std::system_error.
  Socket(int family, int type, int protocol = 0);
  // Takes over fd (an open socket), making it non-blocking.
  static Socket adopt(int fd);
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();  // close(), errors ignored

  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  explicit operator bool() const { return is_open(); }
  // Gives up the descriptor without closing it (buffered bytes are dropped;
  // the hub no longer watches it).
  int release();

  // The default timeout of every call (Duration::forever() for none).
  // A negative one throws std::invalid_argument.
  void set_timeout(Duration timeout);
  Duration timeout() const { return timeout_; }

  void bind(const Address& address);
  void listen(int backlog = 1024);
  void connect(const Address& address, CallTimeout timeout = std::nullopt);
  // A connected socket; peer (if given) receives the peer's address.
  Socket accept(Address* peer = nullptr, CallTimeout timeout = std::nullopt);

  // Up to len bytes (buffered ones first); 0 at end of file.
  size_t recv(void* buf, size_t len, CallTimeout timeout = std::nullopt);
  // Up to max bytes as a string; empty at end of file.
  std::string recv(size_t max = kLineLimit, CallTimeout timeout = std::nullopt);
  // One datagram (or stream chunk) and its sender.
  size_t recvfrom(void* buf, size_t len, Address* from, CallTimeout timeout = std::nullopt);
  // One send: returns how many bytes went (at least 1 unless len is 0).
  size_t send(const void* buf, size_t len, CallTimeout timeout = std::nullopt);
  size_t send(std::string_view data, CallTimeout timeout = std::nullopt) {
    return send(data.data(), data.size(), timeout);
  }
  size_t sendto(const void* buf, size_t len, const Address& to, CallTimeout timeout = std::nullopt);
  size_t sendto(std::string_view data, const Address& to, CallTimeout timeout = std::nullopt) {
    return sendto(data.data(), data.size(), to, timeout);
  }
  // Every byte, or throws (then some may have gone).
  void sendall(const void* buf, size_t len, CallTimeout timeout = std::nullopt);
  void sendall(std::string_view data, CallTimeout timeout = std::nullopt) {
    sendall(data.data(), data.size(), timeout);
  }

  // The next line with its "\n"; at most limit bytes (a longer line comes
  // in pieces); at end of file what is left ("" when nothing is).
  std::string readline(size_t limit = kLineLimit, CallTimeout timeout = std::nullopt);
  // n bytes, fewer only at end of file.
  std::string read(size_t n, CallTimeout timeout = std::nullopt);
  // Bytes read from the socket that no call has returned yet.
  size_t buffered() const { return rend_ - rstart_; }

  // shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR. Calls blocked on the socket
  // in the directions shut down return (recv: end of file).
  void shutdown(int how = SHUT_RDWR);
  // Closes it (idempotent). Calls of other green threads blocked on it
  // throw EBADF.
  void close();

  Address local_address() const;
  Address peer_address() const;
  void set_option(int level, int name, int value);  // setsockopt with an int
  int option(int level, int name) const;            // getsockopt of an int

 private:
  struct Io;
  friend struct Io;
  Socket(int fd, bool stream, bool adopted);
  int64_t deadline(CallTimeout timeout, const char* what) const;
  std::string take(size_t n);                     // n bytes from the read buffer
  bool fill(int64_t deadline, const char* what);  // false at end of file
  void drop_buffer();

  int fd_ = -1;
  void* entry_ = nullptr;  // the hub's record of the fd (hub/fd_table.h)
  uint32_t generation_ = 0;
  Duration timeout_ = Duration::forever();
  // The read buffer: bytes [rstart_, rend_) of rbuf_ are read, not returned.
  char* rbuf_ = nullptr;
  size_t rcap_ = 0;
  size_t rstart_ = 0;
  size_t rend_ = 0;
};

// The category of resolver errors: the code is getaddrinfo's EAI_* value.
const std::error_category& resolver_category();

// The addresses host resolves to for port (numeric hosts at once; names by
// getaddrinfo on the thread pool, so the hub goes on meanwhile). Throws
// std::system_error (resolver_category()) or
// green::SocketTimeout.
std::vector<Address> resolve(std::string_view host, uint16_t port, int type = SOCK_STREAM,
                             Duration timeout = Duration::forever());

// A TCP connection to host:port: resolves it off the hub, then tries each
// address in turn until one connects; throws the last error. timeout bounds
// the resolution and each connect, and becomes the socket's own timeout
// (as Python's socket.create_connection).
Socket create_connection(std::string_view host, uint16_t port,
                         Duration timeout = Duration::forever());

}  // namespace green
