// green::http::get against canned servers on real 127.0.0.1 sockets: each
// test's server is a greenlet that accepts one connection, reads the request
// and writes the bytes the test gives it.
#include <green/event.hpp>
#include <green/greenlet.hpp>
#include <green/http.hpp>
#include <green/socket.hpp>
#include <green/timeout.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

#include "api_fixture.h"
#include "loopback.h"

using namespace std::chrono_literals;
namespace http = green::http;

using HttpClient = GreenTest;

namespace {

std::string url_of(const green::Socket& l, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(l.local_address().port()) + path;
}

// Accepts one connection, reads the request head and answers with reply
// (in pieces of step bytes, so the client parses across reads), then
// closes. Returns the request head it read.
green::Greenlet<std::string> canned(green::Socket& l, std::string reply, size_t step = 1 << 20) {
  return green::spawn([&l, reply, step] {
    green::Socket c = l.accept();
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      std::string line = c.readline();
      if (line.empty()) break;
      head += line;
    }
    for (size_t at = 0; at < reply.size(); at += step) {
      c.sendall(std::string_view(reply).substr(at, step));
      if (step < reply.size()) green::sleep(1ms);
    }
    return head;
  });
}

// Accepts one connection and reads its first line, then never answers: it
// holds the connection until done is set (5 s at most).
green::Greenlet<void> silent(green::Socket& l, green::Event& done) {
  return green::spawn([&l, &done] {
    green::Socket c = l.accept();
    c.readline();
    done.wait(5s);
  });
}

}  // namespace

TEST_F(HttpClient, ContentLengthReply) {
  green::Socket l = loopback_listener();
  auto server = canned(l, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Y: z\r\n\r\nhello");
  http::Reply r = http::get(url_of(l, "/a/b?c=d"), 5s);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(*r.header("x-y"), "z");
  std::string head = server.get();
  EXPECT_EQ(head.rfind("GET /a/b?c=d HTTP/1.1\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nHost: 127.0.0.1:"), std::string::npos) << head;
}

TEST_F(HttpClient, ChunkedReplyAcrossReads) {
  green::Socket l = loopback_listener();
  auto server = canned(l,
                       "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "4\r\nabcd\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n",
                       7);
  http::Reply r = http::get(url_of(l, "/"), 5s);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "abcd0123456789abcdef");
  server.get();
}

TEST_F(HttpClient, ReplyToTheClose) {
  green::Socket l = loopback_listener();
  auto server = canned(l, "HTTP/1.0 404 Not Found\r\n\r\nnot here");
  http::Reply r = http::get(url_of(l, "/x"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "not here");
  server.get();
}

TEST_F(HttpClient, InterimReplyIsSkipped) {
  green::Socket l = loopback_listener();
  auto server =
      canned(l, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  http::Reply r = http::get(url_of(l, "/"), 5s);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  server.get();
}

TEST_F(HttpClient, TruncatedOrBadReplyThrows) {
  for (const char* reply :
       {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "NOT HTTP\r\n\r\n", ""}) {
    green::Socket l = loopback_listener();
    auto server = canned(l, reply);
    EXPECT_THROW(http::get(url_of(l, "/"), 5s), green::Error) << reply;
    server.get();
  }
}

TEST_F(HttpClient, TimeoutArgumentBoundsTheExchange) {
  green::Socket l = loopback_listener();
  green::Event done;
  auto server = silent(l, done);
  try {
    http::get(url_of(l, "/"), 50ms);
    FAIL() << "no timeout";
  } catch (const green::TimeoutError& e) {
    EXPECT_TRUE(e.from(nullptr));
  }
  done.set();
  server.get();
}

TEST_F(HttpClient, GreenTimeoutAroundTheCall) {
  green::Socket l = loopback_listener();
  green::Event done;
  auto server = silent(l, done);
  {
    green::Timeout t(50ms);
    try {
      http::get(url_of(l, "/"), 10s);
      FAIL() << "no timeout";
    } catch (const green::TimeoutError& e) {
      EXPECT_TRUE(e.from(t)) << "the caller's Timeout fired, not get's own";
    }
  }
  done.set();
  server.get();
}

TEST_F(HttpClient, KillDuringGet) {
  green::Socket l = loopback_listener();
  green::Event done;
  auto server = silent(l, done);
  auto client = green::spawn([&] { return http::get(url_of(l, "/")); });
  green::sleep(20ms);
  client.kill();
  EXPECT_TRUE(client.ready());
  EXPECT_THROW(client.get(), green::GreenletExit);
  done.set();
  server.get();
}

TEST_F(HttpClient, RefusedConnectionThrows) {
  uint16_t port;
  {
    green::Socket l = loopback_listener();
    port = l.local_address().port();
  }  // closed: nothing listens there now
  EXPECT_THROW(http::get("http://127.0.0.1:" + std::to_string(port) + "/", 5s), std::system_error);
}

TEST_F(HttpClient, BadArguments) {
  for (const char* url :
       {"https://127.0.0.1/", "ftp://h/", "127.0.0.1/x", "http:///x", "http://h:0/", ""}) {
    try {
      http::get(url, 1s);
      FAIL() << url;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("green::http::get"), std::string::npos) << e.what();
    }
  }
  try {
    http::get("http://127.0.0.1:1/", -1s);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("timeout"), std::string::npos) << e.what();
  }
}
