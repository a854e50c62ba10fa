// green::http::Server over real 127.0.0.1 sockets: requests written byte for
// byte by a raw client (so malformed, pipelined and chunked ones can be
// sent), replies parsed with the same parser the client uses. stop(10ms):
// a keep-alive connection a test still holds would be waited for (1 s).
#include <green/event.hpp>
#include <green/greenlet.hpp>
#include <green/http.hpp>
#include <green/socket.hpp>
#include <green/timeout.hpp>

#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "api_fixture.h"
#include "hub/http_parse.h"

using namespace std::chrono_literals;
namespace http = green::http;
using State = http::detail::MessageParser::State;

using HttpServer = GreenTest;

namespace {

const green::Address kAnyPort("127.0.0.1", 0);

// One client connection: raw bytes out, parsed replies in.
class Conn {
 public:
  explicit Conn(const green::BaseServer& server)
      : s_(green::create_connection("127.0.0.1", server.address().port(), 5s)) {}
  void send(std::string_view bytes) { s_.sendall(bytes); }
  // The next reply (bytes after it stay for the next call).
  http::Reply reply() {
    for (;;) {
      if (start_ < buf_.size()) {
        start_ += parser_.feed(buf_.data() + start_, buf_.size() - start_);
        if (parser_.state() == State::kDone) return parser_.take_reply();
        if (parser_.state() != State::kIncomplete) throw std::runtime_error("bad reply");
      }
      std::string more = s_.recv(65536);
      if (more.empty()) {
        parser_.finish();
        if (parser_.state() == State::kDone) return parser_.take_reply();
        throw std::runtime_error("closed before a reply");
      }
      buf_ = buf_.substr(start_) + more;
      start_ = 0;
    }
  }
  // Whether the server closed the connection (after what was read).
  bool closed() { return start_ == buf_.size() && s_.recv(1, 5s).empty(); }
  green::Socket& socket() { return s_; }

 private:
  green::Socket s_;
  http::detail::MessageParser parser_{false, 1 << 24};
  std::string buf_;
  size_t start_ = 0;
};

// Answers "METHOD TARGET BODY".
http::Response echo(const http::Request& r) {
  return http::Response(200, {{"Content-Type", "text/plain"}},
                        r.method + " " + r.target + " " + r.body);
}

std::string content_length(const http::Reply& r) {
  const std::string* v = r.header("Content-Length");
  return v ? *v : "(none)";
}

}  // namespace

TEST_F(HttpServer, AnswersTheClient) {
  http::Server server(kAnyPort, echo);
  server.start();
  std::string base = "http://127.0.0.1:" + std::to_string(server.address().port());
  http::Reply r = http::get(base + "/hello?x=1", 5s);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "GET /hello?x=1 ");
  EXPECT_EQ(*r.header("content-type"), "text/plain");
  EXPECT_EQ(content_length(r), "15");
  EXPECT_NE(r.header("Date"), nullptr);
  server.stop(10ms);
}

TEST_F(HttpServer, TheHeadersExample) {
  green::http::Server server({"127.0.0.1", 0}, [](const green::http::Request& r) {
    return green::http::Response{200, {{"Content-Type", "text/plain"}}, "hello " + r.path()};
  });
  server.start();
  auto page =
      green::http::get("http://127.0.0.1:" + std::to_string(server.address().port()) + "/x", 5s);
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.body, "hello /x");
  server.stop(10ms);
}

TEST_F(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::set<std::string> peers;
  int calls = 0;
  http::Server server(kAnyPort, [&](const http::Request& r) {
    peers.insert(r.peer.str());
    calls++;
    return echo(r);
  });
  server.start();
  Conn c(server);
  for (int i = 0; i < 5; i++) {
    std::string body = "body" + std::to_string(i);
    c.send("POST /n/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body);
    http::Reply r = c.reply();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "POST /n/" + std::to_string(i) + " " + body);
    EXPECT_EQ(r.header("Connection"), nullptr) << "HTTP/1.1 keeps alive without saying so";
  }
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(peers.size(), 1u) << "one connection for all";
  EXPECT_EQ(server.handlers(), 1u);
  // Connection: close on the last one ends it after the reply.
  c.send("GET /last HTTP/1.1\r\nConnection: close\r\n\r\n");
  http::Reply r = c.reply();
  EXPECT_EQ(r.body, "GET /last ");
  EXPECT_EQ(*r.header("Connection"), "close");
  EXPECT_TRUE(c.closed());
  server.stop(10ms);
}

TEST_F(HttpServer, HandlerCanCloseTheConnection) {
  http::Server server(kAnyPort, [](const http::Request& r) {
    return http::Response(200, {{"Connection", "Close"}}, r.path());
  });
  server.start();
  Conn c(server);
  c.send("GET /bye HTTP/1.1\r\n\r\n");
  http::Reply r = c.reply();
  EXPECT_EQ(r.body, "/bye");
  EXPECT_EQ(*r.header("Connection"), "close");
  EXPECT_TRUE(c.closed());
  server.stop(10ms);
}

TEST_F(HttpServer, PipelinedRequestsAnsweredInOrder) {
  http::Server server(kAnyPort, echo);
  server.start();
  Conn c(server);
  c.send(
      "GET /1 HTTP/1.1\r\n\r\n"
      "POST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
      "GET /3 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(c.reply().body, "GET /1 ");
  EXPECT_EQ(c.reply().body, "POST /2 abc");
  EXPECT_EQ(c.reply().body, "GET /3 ");
  server.stop(10ms);
}

TEST_F(HttpServer, Http10ClosesUnlessKeptAlive) {
  http::Server server(kAnyPort, echo);
  server.start();
  {
    Conn c(server);
    c.send("GET /old HTTP/1.0\r\n\r\n");
    http::Reply r = c.reply();
    EXPECT_EQ(r.body, "GET /old ");
    EXPECT_TRUE(c.closed());
  }
  {
    Conn c(server);
    c.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    http::Reply r = c.reply();
    EXPECT_EQ(*r.header("Connection"), "keep-alive");
    c.send("GET /b HTTP/1.0\r\n\r\n");
    EXPECT_EQ(c.reply().body, "GET /b ");
    EXPECT_TRUE(c.closed());
  }
  server.stop(10ms);
}

TEST_F(HttpServer, ChunkedRequestBody) {
  http::Server server(kAnyPort, echo);
  server.start();
  Conn c(server);
  c.send("POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  green::sleep(5ms);  // the rest in a later segment
  c.send("6\r\n world\r\n0\r\n\r\n");
  http::Reply r = c.reply();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "POST /up hello world");
  server.stop(10ms);
}

TEST_F(HttpServer, ChunkedResponseIsStreamed) {
  green::Event go;
  http::Server server(kAnyPort, [&](const http::Request&) {
    http::Response r(200, {}, "first ");
    int n = 0;
    r.chunks = [&go, n](std::string& piece) mutable {
      if (n == 1) go.wait(5s);  // the client has seen the start before the rest is made
      if (n == 3) return false;
      piece = "piece" + std::to_string(n++) + " ";
      return true;
    };
    return r;
  });
  server.start();
  Conn c(server);
  c.send("GET /stream HTTP/1.1\r\n\r\n");
  std::string start;
  while (start.find("piece0 \r\n") == std::string::npos) {
    std::string more = c.socket().recv(65536, 5s);
    ASSERT_FALSE(more.empty());
    start += more;
  }
  EXPECT_NE(start.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << start;
  EXPECT_EQ(start.find("Content-Length"), std::string::npos) << start;
  go.set();
  // The client assembles the whole body.
  std::string base = "http://127.0.0.1:" + std::to_string(server.address().port());
  http::Reply r = http::get(base + "/again", 5s);
  EXPECT_EQ(r.body, "first piece0 piece1 piece2 ");
  server.stop(10ms);
}

TEST_F(HttpServer, StreamToAnHttp10PeerRunsToTheClose) {
  http::Server server(kAnyPort, [](const http::Request&) {
    http::Response r;
    int n = 0;
    r.chunks = [n](std::string& piece) mutable {
      piece = std::string(1000, char('a' + n));
      return n++ < 3;
    };
    return r;
  });
  server.start();
  Conn c(server);
  c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  http::Reply r = c.reply();
  EXPECT_EQ(r.body, std::string(1000, 'a') + std::string(1000, 'b') + std::string(1000, 'c'));
  EXPECT_EQ(r.header("Transfer-Encoding"), nullptr);
  server.stop(10ms);
}

TEST_F(HttpServer, MalformedRequestGets400AndTheConnectionCloses) {
  int calls = 0;
  http::Server server(kAnyPort, [&](const http::Request& r) {
    calls++;
    return echo(r);
  });
  server.start();
  for (const char* bad : {"GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
                          "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                          "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    Conn c(server);
    c.send(bad);
    http::Reply r = c.reply();
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(*r.header("Connection"), "close");
    EXPECT_TRUE(c.closed()) << bad;
  }
  // A good request first, then garbage on the same connection.
  Conn c(server);
  c.send("GET /ok HTTP/1.1\r\n\r\nBAD\x01\r\n\r\n");
  EXPECT_EQ(c.reply().status, 200);
  EXPECT_EQ(c.reply().status, 400);
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(calls, 1);
  server.stop(10ms);
}

TEST_F(HttpServer, RequestOverTheLimitGets413) {
  int calls = 0;
  http::ServerOptions options;
  options.max_request_size = 4096;
  http::Server server(
      kAnyPort,
      [&](const http::Request& r) {
        calls++;
        return echo(r);
      },
      options);
  server.start();
  {  // Declared too large: refused before the body is sent.
    Conn c(server);
    c.send("POST / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n");
    http::Reply r = c.reply();
    EXPECT_EQ(r.status, 413);
    EXPECT_TRUE(c.closed());
  }
  {  // Chunked: too large once the chunks add up, even though some were sent.
    Conn c(server);
    std::string req = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 10; i++) req += "400\r\n" + std::string(1024, 'x') + "\r\n";
    c.send(req);
    EXPECT_EQ(c.reply().status, 413);
    EXPECT_TRUE(c.closed());
  }
  {  // Headers alone too large.
    Conn c(server);
    c.send("GET / HTTP/1.1\r\nX-Big: " + std::string(5000, 'y') + "\r\n\r\n");
    EXPECT_EQ(c.reply().status, 413);
    EXPECT_TRUE(c.closed());
  }
  {  // Under the limit is served.
    Conn c(server);
    c.send("POST / HTTP/1.1\r\nContent-Length: 3000\r\n\r\n" + std::string(3000, 'z'));
    EXPECT_EQ(c.reply().status, 200);
  }
  EXPECT_EQ(calls, 1);
  server.stop(10ms);
}

TEST_F(HttpServer, HandlerThatThrowsGets500AndTheConnectionCloses) {
  http::Server server(kAnyPort, [](const http::Request& r) -> http::Response {
    if (r.path() == "/boom") throw std::runtime_error("boom");
    return echo(r);
  });
  server.start();
  Conn c(server);
  testing::internal::CaptureStderr();
  c.send("GET /boom HTTP/1.1\r\n\r\n");
  http::Reply r = c.reply();
  EXPECT_TRUE(c.closed());
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(err.find("GET /boom: boom"), std::string::npos) << err;
  server.stop(10ms);
}

TEST_F(HttpServer, ImpossibleStatusGets500) {
  http::Server server(kAnyPort, [](const http::Request&) { return http::Response(42); });
  server.start();
  Conn c(server);
  testing::internal::CaptureStderr();
  c.send("GET /x HTTP/1.1\r\n\r\n");
  http::Reply r = c.reply();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(err.find("status 42"), std::string::npos) << err;
  server.stop(10ms);
}

TEST_F(HttpServer, HeadAndNoContentHaveNoBody) {
  http::Server server(kAnyPort, [](const http::Request& r) {
    if (r.path() == "/empty") return http::Response(204, {}, "ignored");
    return http::Response(200, {}, "twelve bytes");
  });
  server.start();
  Conn c(server);
  c.send("HEAD /x HTTP/1.1\r\n\r\n");
  // The parser of a response to HEAD must not expect the body: read raw.
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) head += c.socket().recv(65536, 5s);
  EXPECT_NE(head.find("Content-Length: 12\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.substr(head.find("\r\n\r\n") + 4), "");
  c.send("GET /empty HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n");
  http::Reply r = c.reply();
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.header("Content-Length"), nullptr);
  EXPECT_EQ(c.reply().body, "twelve bytes") << "the 204 had no body to confuse the next reply";
  server.stop(10ms);
}

TEST_F(HttpServer, ExpectContinueIsAnswered) {
  http::Server server(kAnyPort, echo);
  server.start();
  Conn c(server);
  c.send("PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  http::Reply interim = c.reply();
  EXPECT_EQ(interim.status, 100);
  c.send("data");
  EXPECT_EQ(c.reply().body, "PUT /f data");
  server.stop(10ms);
}

TEST_F(HttpServer, IdleConnectionIsClosed) {
  http::ServerOptions options;
  options.idle_timeout = 50ms;
  http::Server server(kAnyPort, echo, options);
  server.start();
  Conn c(server);
  c.send("GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(c.reply().status, 200);
  EXPECT_TRUE(c.closed()) << "closed after 50 ms of nothing";
  server.stop(10ms);
}

TEST_F(HttpServer, StopEndsKeepAliveConnectionsAndBusyHandlers) {
  green::Event never;
  http::Server server(kAnyPort, [&](const http::Request& r) {
    if (r.path() == "/hang") never.wait();
    return echo(r);
  });
  server.start();
  Conn idle(server);
  idle.send("GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(idle.reply().status, 200);
  Conn busy(server);
  busy.send("GET /hang HTTP/1.1\r\n\r\n");
  green::sleep(10ms);
  EXPECT_EQ(server.handlers(), 2u);
  server.stop(10ms);
  EXPECT_EQ(server.handlers(), 0u);
  EXPECT_TRUE(idle.closed());
  EXPECT_TRUE(busy.closed());
}

TEST_F(HttpServer, ManyClientsAtOnce) {
  http::Server server(kAnyPort, [](const http::Request& r) {
    green::sleep(1ms);
    return http::Response(200, {}, r.path());
  });
  server.start();
  std::string base = "http://127.0.0.1:" + std::to_string(server.address().port());
  std::vector<green::Greenlet<std::string>> clients;
  for (int i = 0; i < 50; i++)
    clients.push_back(
        green::spawn([&, i] { return http::get(base + "/c" + std::to_string(i), 10s).body; }));
  for (int i = 0; i < 50; i++) EXPECT_EQ(clients[i].get(), "/c" + std::to_string(i));
  server.stop(10ms);
}

TEST_F(HttpServer, BadArguments) {
  auto message = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "(nothing thrown)";
  };
  EXPECT_NE(message([] { http::Server s(kAnyPort, nullptr); }).find("handler"), std::string::npos);
  http::ServerOptions zero;
  zero.max_request_size = 0;
  EXPECT_NE(message([&] { http::Server s(kAnyPort, echo, zero); }).find("max_request_size"),
            std::string::npos);
  http::ServerOptions negative;
  negative.idle_timeout = -1s;
  EXPECT_NE(message([&] { http::Server s(kAnyPort, echo, negative); }).find("idle_timeout"),
            std::string::npos);
}
