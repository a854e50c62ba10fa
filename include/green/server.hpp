// green::StreamServer and green::DatagramServer, as gevent.server.
//
//   green::StreamServer server(green::Address("127.0.0.1", 8000),
//                              [](green::Socket& s, const green::Address& peer) {
//                                for (std::string line; !(line = s.readline()).empty();)
//                                  s.sendall(line);
//                              });
//   server.serve_forever();
//
// start() binds (SO_REUSEADDR for a stream server), listens and starts a
// greenlet that accepts connections (or receives datagrams), then returns.
// Each connection (datagram) is handled on a greenlet of its own; the
// connection's socket is closed when its handler returns, throws or is
// killed. A handler's exception is reported on stderr (a peer that went away,
// ECONNRESET or EPIPE, is not) and ends only that handler.
//
// stop(timeout) closes the listener, waits up to timeout for the handlers
// that run, then kills those that are left and waits for them to end.
// serve_forever() starts the server if it is not started and returns once
// it is stopped: by stop() from another green thread, or because its socket
// failed (reported on stderr); it then stops the server with stop_timeout().
// Destroying a started server stops it with a zero timeout.
//
// When accept fails for want of descriptors or memory (EMFILE, ENFILE,
// ENOBUFS, ENOMEM), the server pauses accepting (10 ms, doubling up to 1 s
// while it goes on failing), says so once on stderr, and keeps serving the
// connections it has.
//
// Bad input: an empty handler, a max_accept of 0 or a negative timeout
// throws std::invalid_argument naming it. start(), stop() and
// serve_forever() throw green::Error on a thread that has no hub and cannot
// get one; start() throws std::system_error when the socket cannot be bound.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "green/core.hpp"
#include "green/event.hpp"
#include "green/greenlet.hpp"
#include "green/pool.hpp"
#include "green/socket.hpp"

namespace green {

class BaseServer {
 public:
  BaseServer(const BaseServer&) = delete;
  BaseServer& operator=(const BaseServer&) = delete;
  virtual ~BaseServer();

  void start();
  void serve_forever();
  void stop(Duration timeout = std::chrono::seconds(1));
  bool started() const { return state_ == State::kRunning; }

  // The address it serves on: once started, the bound one (the port the
  // kernel chose for port 0).
  const Address& address() const { return address_; }
  // Handlers that have not finished.
  size_t handlers() const { return handlers_.size(); }
  // The listening (or datagram) socket while started.
  Socket& socket() { return listener_; }

  // How many connections (datagrams) it takes in a row before it lets the
  // handlers run (gevent's max_accept, 100 at first).
  void set_max_accept(size_t n);
  size_t max_accept() const { return max_accept_; }
  // The timeout serve_forever() stops with (1 s at first).
  void set_stop_timeout(Duration timeout);
  Duration stop_timeout() const { return stop_timeout_; }

 protected:
  BaseServer(Address address, int type, const char* kind);
  virtual void serve() = 0;  // the loop on the server's greenlet
  virtual void open();       // makes listener_ (bound) from address_
  // After an accept/receive error: pauses (and returns true) when it is
  // for want of resources, returns false when the socket is no good.
  bool back_off(const std::system_error& e);
  void took_one();  // counts toward max_accept; yields when it is reached
  void report_handler_error(const Address& peer);
  void end_all() noexcept;   // for destructors: stops it, kills every handler left
  std::string name() const;  // "green::StreamServer 127.0.0.1:8000"

  Address address_;
  Socket listener_;
  Group handlers_;

 private:
  enum class State { kStopped, kRunning, kStopping };
  const char* kind_;
  int type_;
  State state_ = State::kStopped;
  GreenletRef loop_;
  Event loop_ended_;
  Event stopped_;
  size_t max_accept_ = 100;
  size_t burst_ = 0;
  Duration stop_timeout_ = std::chrono::seconds(1);
  std::chrono::milliseconds delay_{0};  // the next pause after a resource error
  bool pause_reported_ = false;
};

class StreamServer : public BaseServer {
 public:
  using Handler = std::function<void(Socket& connection, const Address& peer)>;
  StreamServer(Address address, Handler handler);
  ~StreamServer() override;

  // The listen(2) backlog (SOMAXCONN at first); applies at the next start().
  void set_backlog(int backlog) { backlog_ = backlog; }

 protected:
  void open() override;
  void serve() override;

 private:
  void handle(Socket& connection, const Address& peer);
  Handler handler_;
  int backlog_ = SOMAXCONN;
};

class DatagramServer : public BaseServer {
 public:
  using Handler = std::function<void(std::string_view data, const Address& peer)>;
  DatagramServer(Address address, Handler handler);
  ~DatagramServer() override;

  // Sends one datagram from the server's socket (a reply, typically).
  size_t sendto(std::string_view data, const Address& to) { return listener_.sendto(data, to); }

 protected:
  void serve() override;

 private:
  void handle(std::string_view data, const Address& peer);
  Handler handler_;
};

}  // namespace green
