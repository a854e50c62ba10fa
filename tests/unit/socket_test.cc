// green::Socket, green::Address and create_connection over real 127.0.0.1
// sockets.
#include <green/greenlet.hpp>
#include <green/socket.hpp>
#include <green/timeout.hpp>
#include <netinet/tcp.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <stdexcept>
#include <string>

#include "api_fixture.h"
#include "loopback.h"
#include "hub/pool.h"

using namespace std::chrono_literals;

using Socket = GreenTest;

namespace {

// A connected pair: (client, server side).
std::pair<green::Socket, green::Socket> connected_pair() {
  green::Socket l = loopback_listener();
  auto acceptor = green::spawn([&] { return l.accept(); });
  green::Socket client = green::create_connection("127.0.0.1", l.local_address().port(), 5s);
  green::Socket server = std::move(acceptor.get());
  return {std::move(client), std::move(server)};
}

int error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::system_error& e) {
    return e.code().value();
  }
  return 0;
}

}  // namespace

TEST_F(Socket, AddressParsesAndPrints) {
  green::Address v4("127.0.0.1", 8000);
  EXPECT_EQ(v4.family(), AF_INET);
  EXPECT_EQ(v4.port(), 8000);
  EXPECT_EQ(v4.str(), "127.0.0.1:8000");
  green::Address v6("::1", 80);
  EXPECT_EQ(v6.family(), AF_INET6);
  EXPECT_EQ(v6.str(), "[::1]:80");
  EXPECT_EQ(green::Address("", 1).host(), "0.0.0.0");
  std::ostringstream out;
  out << green::Address::parse("10.0.0.1", "65535");
  EXPECT_EQ(out.str(), "10.0.0.1:65535");
  EXPECT_EQ(green::Address::parse("127.0.0.1", "9"), green::Address("127.0.0.1", 9));
  EXPECT_TRUE(green::Address().empty());
  try {
    green::Address("example.org", 80);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("example.org"), std::string::npos) << e.what();
  }
  for (const char* bad : {"", "x", "65536", "-1", "80x"}) {
    try {
      green::Address::parse("127.0.0.1", bad);
      FAIL() << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("port"), std::string::npos) << e.what();
    }
  }
}

TEST_F(Socket, EchoesOverLoopback) {
  green::Socket l = loopback_listener();
  green::Address peer;
  auto server = green::spawn([&] {
    green::Socket c = l.accept(&peer);
    char buf[100];
    size_t total = 0;
    for (size_t n; (n = c.recv(buf, sizeof buf)) > 0; total += n) c.sendall(buf, n);
    return total;
  });
  green::Socket client = green::create_connection("127.0.0.1", l.local_address().port());
  client.set_option(IPPROTO_TCP, TCP_NODELAY, 1);
  EXPECT_EQ(client.option(IPPROTO_TCP, TCP_NODELAY), 1);
  client.sendall("hello, green");
  EXPECT_EQ(client.read(12), "hello, green");
  EXPECT_EQ(client.peer_address(), l.local_address());
  client.shutdown(SHUT_WR);
  EXPECT_EQ(client.recv(), "");  // the server saw the end and closed
  EXPECT_EQ(server.get(), 12u);
  EXPECT_EQ(peer, client.local_address());
}

TEST_F(Socket, ReadlineSplitsLinesAndReturnsTheRestAtEof) {
  auto [client, server] = connected_pair();
  server.sendall("one\ntwo\nthree");
  server.close();
  EXPECT_EQ(client.readline(), "one\n");
  EXPECT_EQ(client.buffered(), 9u);  // what one fill read past the line
  char c;
  EXPECT_EQ(client.recv(&c, 1), 1u);  // recv takes buffered bytes first
  EXPECT_EQ(c, 't');
  EXPECT_EQ(client.readline(), "wo\n");
  EXPECT_EQ(client.readline(), "three");
  EXPECT_EQ(client.readline(), "");
  EXPECT_EQ(client.read(10), "");
}

TEST_F(Socket, ReadlineBoundsTheLineLength) {
  auto [client, server] = connected_pair();
  server.sendall(std::string(10, 'x') + "\n");
  EXPECT_EQ(client.readline(4), "xxxx");
  EXPECT_EQ(client.readline(4), "xxxx");
  EXPECT_EQ(client.readline(4), "xx\n");
}

TEST_F(Socket, ReadlineGrowsItsBufferForLongLines) {
  auto [client, server] = connected_pair();
  std::string line(100000, 'y');
  line += '\n';
  auto writer = green::spawn([&, s = &server] { s->sendall(line); });
  EXPECT_EQ(client.readline(200000), line);
  writer.get();
}

TEST_F(Socket, TimeoutFiresInsideReadlineAndNothingIsLost) {
  auto [client, server] = connected_pair();
  server.sendall("abc");  // no newline yet
  {
    green::Timeout t(20ms);
    try {
      client.readline();
      FAIL() << "readline returned";
    } catch (const green::TimeoutError& e) {
      EXPECT_TRUE(e.from(t));
    }
  }
  server.sendall("def\n");
  EXPECT_EQ(client.readline(), "abcdef\n");
}

TEST_F(Socket, TimeoutsPerCallAndPerSocket) {
  auto [client, server] = connected_pair();
  char buf[8];
  try {
    client.recv(buf, sizeof buf, 5ms);
    FAIL();
  } catch (const green::SocketTimeout& e) {
    EXPECT_EQ(e.code().value(), ETIMEDOUT);
    EXPECT_NE(std::string(e.what()).find("green::Socket::recv"), std::string::npos) << e.what();
  }
  EXPECT_THROW(client.recv(buf, sizeof buf, 0ms), green::SocketTimeout);  // zero: one try
  client.set_timeout(5ms);
  EXPECT_THROW(client.readline(), green::SocketTimeout);
  EXPECT_THROW(client.read(1), green::SocketTimeout);
  server.sendall("z");
  EXPECT_EQ(client.recv(buf, sizeof buf, green::Duration::forever()), 1u);
  EXPECT_THROW(client.set_timeout(-1ms), std::invalid_argument);
  try {
    client.recv(buf, sizeof buf, -1ms);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("timeout"), std::string::npos) << e.what();
  }
}

TEST_F(Socket, AcceptAndConnectHaveTimeoutsToo) {
  green::Socket l = loopback_listener();
  EXPECT_THROW(l.accept(nullptr, 5ms), green::SocketTimeout);
  {
    green::Timeout t(5ms);
    EXPECT_THROW(l.accept(), green::TimeoutError);
  }
  green::Socket c(AF_INET, SOCK_STREAM);
  c.connect(l.local_address(), 5s);  // the backlog takes it at once
  EXPECT_EQ(l.accept(nullptr, 5s).peer_address(), c.local_address());
}

TEST_F(Socket, ShutdownEndsABlockedRecv) {
  auto [client, server] = connected_pair();
  auto reader = green::spawn([s = &server] { return s->recv(10); });
  green::sleep(2ms);
  EXPECT_FALSE(reader.ready());
  server.shutdown(SHUT_RD);
  EXPECT_EQ(reader.get(), "");  // end of file
}

TEST_F(Socket, KillReachesAGreenletBlockedInRecv) {
  auto [client, server] = connected_pair();
  bool unwound = false;
  auto reader = green::spawn([&, c = &client] {
    struct Mark {
      bool* b;
      ~Mark() { *b = true; }
    } mark{&unwound};
    char buf[8];
    c->recv(buf, sizeof buf);
  });
  green::sleep(2ms);
  EXPECT_FALSE(reader.ready());
  EXPECT_TRUE(reader.kill());
  EXPECT_THROW(reader.get(), green::GreenletExit);
  EXPECT_TRUE(unwound);
  server.sendall("k");  // the socket still works
  EXPECT_EQ(client.recv(1), "k");
}

TEST_F(Socket, CloseWakesABlockedCallWithEbadf) {
  auto [client, server] = connected_pair();
  auto reader = green::spawn([c = &client] { return error_of([c] { c->readline(); }); });
  green::sleep(2ms);
  client.close();
  client.close();  // idempotent
  EXPECT_EQ(reader.get(), EBADF);
  EXPECT_EQ(error_of([&] { client.recv(1); }), EBADF);
}

TEST_F(Socket, ErrorsCarryTheNativeErrno) {
  int port;
  {
    green::Socket l = loopback_listener();
    port = l.local_address().port();
  }  // closed: nobody listens there now
  EXPECT_EQ(error_of([&] { green::create_connection("127.0.0.1", port, 5s); }), ECONNREFUSED);
  green::Socket s(AF_INET, SOCK_STREAM);
  EXPECT_EQ(error_of([&] { s.connect(green::Address("127.0.0.1", port)); }), ECONNREFUSED);
  green::Socket l = loopback_listener();
  green::Socket again(AF_INET, SOCK_STREAM);
  EXPECT_EQ(error_of([&] { again.bind(l.local_address()); }), EADDRINUSE);
  try {
    again.bind(l.local_address());
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("green::Socket::bind"), std::string::npos) << e.what();
  }
}

TEST_F(Socket, SendallWaitsForAPeerThatReadsSlowly) {
  auto [client, server] = connected_pair();
  const size_t size = 8 << 20;  // far more than the socket buffers hold
  auto writer = green::spawn([c = &client, size] {
    c->sendall(std::string(size, 'q'));
    c->shutdown(SHUT_WR);
  });
  size_t got = 0;
  for (std::string chunk; !(chunk = server.recv(65536)).empty();) got += chunk.size();
  EXPECT_EQ(got, size);
  writer.get();
}

TEST_F(Socket, SendToAPeerThatLeftIsEpipeNotSigpipe) {
  auto [client, server] = connected_pair();
  server.close();
  int err = 0;
  for (int i = 0; i < 100 && !err; i++)  // the first sends may still go out
    err = error_of([c = &client] { c->sendall(std::string(65536, 'p')); });
  EXPECT_TRUE(err == EPIPE || err == ECONNRESET) << err;
}

TEST_F(Socket, CreateConnectionResolvesNamesOffTheHub) {
  green::Socket l = loopback_listener();
  // "localhost" may resolve to ::1 first: that one is refused, 127.0.0.1 is tried next.
  auto acceptor = green::spawn([&] { return l.accept(); });
  green::Socket client = green::create_connection("localhost", l.local_address().port(), 5s);
  green::Socket server = std::move(acceptor.get());
  EXPECT_EQ(client.timeout().ns(), green::Duration(5s).ns());  // it keeps the timeout
  client.sendall("x");
  EXPECT_EQ(server.recv(1), "x");
  auto found = green::resolve("localhost", 80);
  ASSERT_FALSE(found.empty());
  EXPECT_EQ(found[0].port(), 80);
  EXPECT_EQ(green::resolve("::1", 7).at(0).str(), "[::1]:7");
}

TEST_F(Socket, DatagramsWithTheirSender) {
  green::Socket a(AF_INET, SOCK_DGRAM), b(AF_INET, SOCK_DGRAM);
  a.bind(green::Address("127.0.0.1", 0));
  b.bind(green::Address("127.0.0.1", 0));
  auto receiver = green::spawn([&] {
    char buf[64];
    green::Address from;
    size_t n = b.recvfrom(buf, sizeof buf, &from);
    return std::make_pair(std::string(buf, n), from);
  });
  green::sleep(1ms);
  EXPECT_EQ(a.sendto("ping", b.local_address()), 4u);
  auto [data, from] = receiver.get();
  EXPECT_EQ(data, "ping");
  EXPECT_EQ(from, a.local_address());
}

TEST_F(Socket, AdoptAndReleaseAnFd) {
  auto [client, server] = connected_pair();
  int fd = server.release();
  EXPECT_FALSE(server.is_open());
  green::Socket again = green::Socket::adopt(fd);
  EXPECT_EQ(again.fd(), fd);
  client.sendall("a");
  EXPECT_EQ(again.recv(1), "a");
  EXPECT_EQ(error_of([] { green::Socket::adopt(-1); }), EBADF);
}

TEST_F(Socket, WithoutAHubIsGreenError) {
  std::string message;
  green::run_on_pool([&] {  // a libuv pool thread: native, it cannot have a hub
    try {
      green::Socket s(AF_INET, SOCK_STREAM);
    } catch (const green::Error& e) {
      message = e.what();
    }
  });
  EXPECT_NE(message.find("green::Socket"), std::string::npos) << message;
}
