// green::StreamServer and green::DatagramServer over real 127.0.0.1 sockets.
#include <green/greenlet.hpp>
#include <green/server.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "api_fixture.h"
#include "hub/pool.h"

using namespace std::chrono_literals;

using Server = GreenTest;

namespace {

const green::Address kAnyPort("127.0.0.1", 0);

void echo_lines(green::Socket& s, const green::Address&) {
  for (std::string line; !(line = s.readline()).empty();) s.sendall(line);
}

green::Socket connect_to(const green::BaseServer& server) {
  return green::create_connection("127.0.0.1", server.address().port(), 5s);
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) n++;
  return n;
}

// The lowest free descriptor: with it as the limit no new one can be had.
int lowest_free_fd() {
  int fd = dup(0);
  close(fd);
  return fd;
}

template <class E>
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

}  // namespace

TEST_F(Server, EchoesLinesForManyClientsAtOnce) {
  green::StreamServer server(kAnyPort, echo_lines);
  server.start();
  EXPECT_TRUE(server.started());
  EXPECT_NE(server.address().port(), 0);
  std::vector<green::Greenlet<int>> clients;
  for (int i = 0; i < 50; i++) {
    clients.push_back(green::spawn([&server, i] {
      green::Socket s = connect_to(server);
      int echoed = 0;
      for (int j = 0; j < 5; j++) {
        std::string line = "client " + std::to_string(i) + " line " + std::to_string(j) + "\n";
        s.sendall(line);
        if (s.readline(green::Socket::kLineLimit, 5s) == line) echoed++;
      }
      return echoed;
    }));
  }
  for (auto& c : clients) EXPECT_EQ(c.get(), 5);
  server.stop();
  EXPECT_FALSE(server.started());
  EXPECT_EQ(server.handlers(), 0u);
}

TEST_F(Server, EachConnectionHasItsOwnGreenlet) {
  green::StreamServer server(kAnyPort, echo_lines);
  server.set_max_accept(1);
  server.start();
  green::Socket quiet = connect_to(server);  // its handler waits in readline
  green::Socket busy = connect_to(server);
  busy.sendall("hello\n");
  EXPECT_EQ(busy.readline(green::Socket::kLineLimit, 5s), "hello\n");
  EXPECT_EQ(server.handlers(), 2u);
  server.stop(0s);
}

TEST_F(Server, StopWaitsForHandlersThenKillsTheRest) {
  int finished = 0, killed = 0;
  green::StreamServer server(kAnyPort, [&](green::Socket& s, const green::Address&) {
    try {
      if (s.readline() == "quick\n") {
        green::sleep(5ms);  // still running when stop() begins
        finished++;
        return;
      }
      s.readline();  // blocks: nothing more comes
    } catch (const green::GreenletExit&) {
      killed++;
      throw;
    }
  });
  server.start();
  green::Socket quick = connect_to(server), stuck = connect_to(server);
  quick.sendall("quick\n");
  stuck.sendall("stuck\n");
  green::sleep(2ms);
  server.stop(500ms);
  EXPECT_EQ(finished, 1);
  EXPECT_EQ(killed, 1);
  EXPECT_EQ(server.handlers(), 0u);
  EXPECT_EQ(stuck.recv(1, 5s), "");  // its connection was closed
  int port = server.address().port();
  try {
    green::create_connection("127.0.0.1", port, 5s);
    FAIL() << "the listener is still open";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ECONNREFUSED);
  }
}

TEST_F(Server, ServeForeverReturnsOnceStopped) {
  green::StreamServer server(kAnyPort, echo_lines);
  auto serving = green::spawn([&] { server.serve_forever(); });
  green::sleep(1ms);
  ASSERT_TRUE(server.started());
  green::Socket c = connect_to(server);
  c.sendall("x\n");
  EXPECT_EQ(c.readline(), "x\n");
  server.stop(100ms);
  serving.get();   // serve_forever returned
  server.start();  // and it can start again
  server.stop(0s);
}

TEST_F(Server, AHandlerMayStopItsOwnServer) {
  green::StreamServer* self = nullptr;
  green::StreamServer server(kAnyPort, [&](green::Socket& s, const green::Address&) {
    s.readline();
    self->stop(1s);
    s.sendall("stopped\n");
  });
  self = &server;
  auto serving = green::spawn([&] { server.serve_forever(); });
  green::sleep(1ms);
  green::Socket c = connect_to(server);
  c.sendall("stop\n");
  EXPECT_EQ(c.readline(green::Socket::kLineLimit, 5s), "stopped\n");
  serving.get();
  EXPECT_FALSE(server.started());
}

TEST_F(Server, BacksOffOnEmfileAndKeepsServing) {
  green::StreamServer server(kAnyPort, echo_lines);
  server.start();
  std::vector<green::Socket> clients;
  for (int i = 0; i < 3; i++) clients.emplace_back(AF_INET, SOCK_STREAM);  // their fds exist now
  testing::internal::CaptureStderr();
  rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = rlim_t(lowest_free_fd());  // no new descriptor can be had
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  for (auto& c : clients) {
    c.connect(server.address(), 5s);  // the kernel's backlog takes it
    c.sendall("waiting\n");
  }
  green::sleep(100ms);  // accept fails with EMFILE, again and again
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  for (auto& c : clients) EXPECT_EQ(c.readline(green::Socket::kLineLimit, 10s), "waiting\n");
  EXPECT_TRUE(server.started());
  server.stop(0s);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(count(err, "Too many open files"), 1u) << err;  // said once
  EXPECT_NE(err.find("green::StreamServer 127.0.0.1:"), std::string::npos) << err;
}

TEST_F(Server, AHandlersExceptionIsReportedAndServingGoesOn) {
  int calls = 0;
  green::StreamServer server(kAnyPort, [&](green::Socket& s, const green::Address& a) {
    if (calls++ == 0) throw std::runtime_error("the first handler fails");
    echo_lines(s, a);
  });
  server.start();
  testing::internal::CaptureStderr();
  {
    green::Socket first = connect_to(server);
    EXPECT_EQ(first.recv(1, 5s), "");  // closed by the failed handler
  }
  green::Socket second = connect_to(server);
  second.sendall("ok\n");
  EXPECT_EQ(second.readline(green::Socket::kLineLimit, 5s), "ok\n");
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("the first handler fails"), std::string::npos) << err;
  server.stop(0s);
}

TEST_F(Server, DestroyingAStartedServerStopsIt) {
  bool killed = false;
  green::Socket c;
  {
    green::StreamServer server(kAnyPort, [&](green::Socket& s, const green::Address&) {
      try {
        s.readline();
      } catch (const green::GreenletExit&) {
        killed = true;
        throw;
      }
    });
    server.start();
    c = connect_to(server);
    green::sleep(2ms);
  }
  EXPECT_TRUE(killed);
}

TEST_F(Server, BadInputIsRefusedNamingIt) {
  auto h = green::StreamServer::Handler();
  EXPECT_NE(message_of<std::invalid_argument>([&] {
              green::StreamServer s(kAnyPort, h);
            }).find("handler"),
            std::string::npos);
  EXPECT_NE(message_of<std::invalid_argument>([] {
              green::DatagramServer s(kAnyPort, green::DatagramServer::Handler());
            }).find("handler"),
            std::string::npos);
  green::StreamServer server(kAnyPort, echo_lines);
  EXPECT_NE(message_of<std::invalid_argument>([&] { server.stop(-1ms); }).find("timeout"),
            std::string::npos);
  EXPECT_NE(
      message_of<std::invalid_argument>([&] { server.set_stop_timeout(-1s); }).find("timeout"),
      std::string::npos);
  EXPECT_NE(message_of<std::invalid_argument>([&] { server.set_max_accept(0); }).find("max_accept"),
            std::string::npos);
  server.start();
  EXPECT_NE(message_of<green::Error>([&] { server.start(); }).find("already started"),
            std::string::npos);
  green::StreamServer clash(server.address(), echo_lines);
  try {
    clash.start();
    FAIL() << "two servers on one port";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EADDRINUSE);
  }
  server.stop(0s);
}

TEST_F(Server, WithoutAHubIsGreenError) {
  green::StreamServer server(kAnyPort, echo_lines);
  std::string start, stop, forever;
  green::run_on_pool([&] {  // a libuv pool thread: native, it cannot have a hub
    start = message_of<green::Error>([&] { server.start(); });
    stop = message_of<green::Error>([&] { server.stop(); });
    forever = message_of<green::Error>([&] { server.serve_forever(); });
  });
  EXPECT_NE(start.find("green::StreamServer::start"), std::string::npos) << start;
  EXPECT_NE(stop.find("green::StreamServer::stop"), std::string::npos) << stop;
  EXPECT_NE(forever.find("green::StreamServer::serve_forever"), std::string::npos) << forever;
}

TEST_F(Server, DatagramServerAnswersEachDatagram) {
  green::DatagramServer* self = nullptr;
  green::DatagramServer server(kAnyPort, [&](std::string_view data, const green::Address& peer) {
    self->sendto("re: " + std::string(data), peer);
  });
  self = &server;
  server.start();
  green::Socket client(AF_INET, SOCK_DGRAM);
  client.bind(kAnyPort);
  for (int i = 0; i < 3; i++) {
    std::string msg = "datagram " + std::to_string(i);
    client.sendto(msg, server.address());
    char buf[100];
    green::Address from;
    size_t n = client.recvfrom(buf, sizeof buf, &from, 5s);
    EXPECT_EQ(std::string(buf, n), "re: " + msg);
    EXPECT_EQ(from, server.address());
  }
  server.stop(1s);
  EXPECT_EQ(server.handlers(), 0u);
}
