// green::http's message parser (libhttp-parser underneath) and the bytes the
// server writes, on byte buffers: no sockets.
#include <gtest/gtest.h>

#include <string>

#include "hub/http_parse.h"
#include "hub/http_write.h"

namespace http = green::http;
using http::detail::Framing;
using http::detail::MessageParser;
using State = MessageParser::State;

namespace {

// Feeds all of text in pieces of step bytes; returns the bytes consumed.
size_t feed_in_steps(MessageParser& p, const std::string& text, size_t step) {
  size_t at = 0;
  while (at < text.size() && p.state() == State::kIncomplete) {
    size_t n = std::min(step, text.size() - at);
    at += p.feed(text.data() + at, n);
  }
  return at;
}

TEST(HttpParse, SimpleGet) {
  MessageParser p(true, 1 << 20);
  std::string text = "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-Two: 2\r\n\r\n";
  EXPECT_EQ(p.feed(text.data(), text.size()), text.size());
  ASSERT_EQ(p.state(), State::kDone);
  http::Request r = p.take_request();
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/a/b?x=1");
  EXPECT_EQ(r.path(), "/a/b");
  EXPECT_EQ(r.http_minor, 1);
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(*r.header("host"), "h");
  EXPECT_EQ(*r.header("X-TWO"), "2");
  EXPECT_EQ(r.header("missing"), nullptr);
  EXPECT_TRUE(r.body.empty());
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(p.state(), State::kIncomplete);
  EXPECT_FALSE(p.started());
}

TEST(HttpParse, ByteAtATimeGivesTheSameRequest) {
  MessageParser p(true, 1 << 20);
  std::string text =
      "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n"
      "hello world";
  EXPECT_EQ(feed_in_steps(p, text, 1), text.size());
  ASSERT_EQ(p.state(), State::kDone);
  http::Request r = p.take_request();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(*r.header("content-type"), "text/plain");
  EXPECT_EQ(r.body, "hello world");
}

TEST(HttpParse, ChunkedRequestBody) {
  MessageParser p(true, 1 << 20);
  std::string text =
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n";
  EXPECT_EQ(feed_in_steps(p, text, 3), text.size());
  ASSERT_EQ(p.state(), State::kDone);
  EXPECT_EQ(p.take_request().body, "hello world");
}

TEST(HttpParse, PipelinedRequestsStopAtEachEnd) {
  MessageParser p(true, 1 << 20);
  std::string one = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string two = "POST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
  std::string three = "GET /3 HTTP/1.1\r\nConnection: close\r\n\r\n";
  std::string all = one + two + three;
  size_t at = p.feed(all.data(), all.size());
  EXPECT_EQ(at, one.size());
  ASSERT_EQ(p.state(), State::kDone);
  EXPECT_EQ(p.take_request().target, "/1");
  at += p.feed(all.data() + at, all.size() - at);
  EXPECT_EQ(at, one.size() + two.size());
  ASSERT_EQ(p.state(), State::kDone);
  http::Request r2 = p.take_request();
  EXPECT_EQ(r2.target, "/2");
  EXPECT_EQ(r2.body, "abc");
  EXPECT_TRUE(r2.keep_alive);
  at += p.feed(all.data() + at, all.size() - at);
  EXPECT_EQ(at, all.size());
  ASSERT_EQ(p.state(), State::kDone);
  http::Request r3 = p.take_request();
  EXPECT_EQ(r3.target, "/3");
  EXPECT_FALSE(r3.keep_alive);
}

TEST(HttpParse, KeepAliveFollowsVersionAndConnection) {
  struct Case {
    const char* text;
    bool keep_alive;
  } cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
  };
  for (const Case& c : cases) {
    MessageParser p(true, 1 << 20);
    std::string text = c.text;
    p.feed(text.data(), text.size());
    ASSERT_EQ(p.state(), State::kDone) << c.text;
    EXPECT_EQ(p.keep_alive(), c.keep_alive) << c.text;
    EXPECT_EQ(p.take_request().keep_alive, c.keep_alive) << c.text;
  }
}

TEST(HttpParse, MalformedRequestsAreBad) {
  const char* cases[] = {
      "GARBAGE\r\n\r\n",
      "GET / HTTP/1.1\r\nHost h\r\n\r\n",                                   // no colon
      "GET / HTTP/x.1\r\n\r\n",                                             // version
      "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",                     // length
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",        // chunk size
      "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",  // two lengths
  };
  for (const char* c : cases) {
    MessageParser p(true, 1 << 20);
    std::string text = c;
    p.feed(text.data(), text.size());
    EXPECT_EQ(p.state(), State::kBad) << c;
    EXPECT_STRNE(p.error(), "") << c;
  }
}

TEST(HttpParse, UpgradeIsRefused) {
  MessageParser p(true, 1 << 20);
  std::string text = "CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\nbinary";
  p.feed(text.data(), text.size());
  // Either the message is done and not kept alive, or refused: never more.
  if (p.state() == State::kDone) {
    EXPECT_FALSE(p.keep_alive());
  } else {
    EXPECT_EQ(p.state(), State::kBad);
  }
}

TEST(HttpParse, TooLargeByContentLengthBeforeTheBody) {
  MessageParser p(true, 1000);
  std::string text = "POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n";
  p.feed(text.data(), text.size());
  EXPECT_EQ(p.state(), State::kTooLarge);
}

TEST(HttpParse, TooLargeByChunkedBody) {
  MessageParser p(true, 1000);
  std::string text = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 50; i++) text += "20\r\n" + std::string(32, 'x') + "\r\n";
  feed_in_steps(p, text, 100);
  EXPECT_EQ(p.state(), State::kTooLarge);
}

TEST(HttpParse, TooLargeByHeaders) {
  MessageParser p(true, 1000);
  std::string text = "GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'y') + "\r\n\r\n";
  feed_in_steps(p, text, 256);
  EXPECT_EQ(p.state(), State::kTooLarge);
}

TEST(HttpParse, HeadersOverTheParsersOwnBoundAreTooLarge) {
  MessageParser p(true, 1 << 24);
  std::string text = "GET / HTTP/1.1\r\nX-Big: " + std::string(100 * 1024, 'y') + "\r\n\r\n";
  feed_in_steps(p, text, 4096);
  EXPECT_EQ(p.state(), State::kTooLarge);
}

TEST(HttpParse, AtTheLimitIsFine) {
  std::string text = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789";
  MessageParser p(true, text.size());
  p.feed(text.data(), text.size());
  EXPECT_EQ(p.state(), State::kDone);
}

TEST(HttpParse, ResponseWithLength) {
  MessageParser p(false, 1 << 20);
  std::string text = "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nX: y\r\n\r\nnope";
  EXPECT_EQ(feed_in_steps(p, text, 5), text.size());
  ASSERT_EQ(p.state(), State::kDone);
  http::Reply r = p.take_reply();
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(*r.header("x"), "y");
  EXPECT_EQ(r.body, "nope");
}

TEST(HttpParse, ChunkedResponse) {
  MessageParser p(false, 1 << 20);
  std::string text =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
      "chunked\r\n\r\n3\r\nabc\r\na\r\n0123456789\r\n0\r\n\r\n";
  EXPECT_EQ(feed_in_steps(p, text, 7), text.size());
  ASSERT_EQ(p.state(), State::kDone);
  EXPECT_EQ(p.take_reply().body, "abc0123456789");
}

TEST(HttpParse, ResponseToTheEndOfTheStream) {
  MessageParser p(false, 1 << 20);
  std::string text = "HTTP/1.0 200 OK\r\n\r\nall of it";
  p.feed(text.data(), text.size());
  EXPECT_EQ(p.state(), State::kIncomplete);
  p.finish();
  ASSERT_EQ(p.state(), State::kDone);
  EXPECT_EQ(p.take_reply().body, "all of it");
}

TEST(HttpParse, TruncatedResponseIsBad) {
  MessageParser p(false, 1 << 20);
  std::string text = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
  p.feed(text.data(), text.size());
  p.finish();
  EXPECT_EQ(p.state(), State::kBad);
}

TEST(HttpParse, FinishBeforeAnyByteIsNotAMessage) {
  MessageParser p(true, 1 << 20);
  p.finish();
  EXPECT_EQ(p.state(), State::kIncomplete);
  EXPECT_FALSE(p.started());
}

TEST(HttpParse, ExpectContinueOncePerRequestWithABody) {
  MessageParser p(true, 1 << 20);
  std::string head = "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n";
  p.feed(head.data(), head.size());
  EXPECT_EQ(p.state(), State::kIncomplete);
  EXPECT_TRUE(p.take_continue());
  EXPECT_FALSE(p.take_continue());
  p.feed("ok", 2);
  ASSERT_EQ(p.state(), State::kDone);
  EXPECT_EQ(p.take_request().body, "ok");
  std::string get = "GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n";
  p.feed(get.data(), get.size());
  EXPECT_FALSE(p.take_continue()) << "no body: nothing to ask for";
}

TEST(HttpWrite, ResponseHeadWithLength) {
  http::Response r{201, {{"X-A", "1"}, {"Content-Length", "999"}}, "body"};
  std::string out;
  http::detail::append_response_head(out, r, 1, true, Framing::kLength, r.body.size());
  EXPECT_EQ(out.rfind("HTTP/1.1 201 Created\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("\r\nX-A: 1\r\n"), std::string::npos);
  EXPECT_NE(out.find("\r\nContent-Length: 4\r\n"), std::string::npos);
  EXPECT_EQ(out.find("999"), std::string::npos) << "the handler's framing header is dropped";
  EXPECT_NE(out.find("\r\nDate: "), std::string::npos);
  EXPECT_EQ(out.find("Connection"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
  // What it writes parses back as what it meant.
  out += r.body;
  MessageParser p(false, 1 << 20);
  EXPECT_EQ(p.feed(out.data(), out.size()), out.size());
  ASSERT_EQ(p.state(), State::kDone);
  http::Reply back = p.take_reply();
  EXPECT_EQ(back.status, 201);
  EXPECT_EQ(back.body, "body");
}

TEST(HttpWrite, ChunkedResponseParsesBack) {
  http::Response r{200, {}, ""};
  std::string out;
  http::detail::append_response_head(out, r, 1, false, Framing::kChunked, 0);
  EXPECT_NE(out.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
  http::detail::append_chunk(out, "hello ");
  http::detail::append_chunk(out, "");  // skipped: it would end the body
  http::detail::append_chunk(out, std::string(300, 'z'));
  http::detail::append_last_chunk(out);
  MessageParser p(false, 1 << 20);
  EXPECT_EQ(p.feed(out.data(), out.size()), out.size());
  ASSERT_EQ(p.state(), State::kDone);
  EXPECT_EQ(p.take_reply().body, "hello " + std::string(300, 'z'));
}

TEST(HttpWrite, Http10KeepAliveSaysSo) {
  http::Response r;
  std::string out;
  http::detail::append_response_head(out, r, 0, true, Framing::kLength, 0);
  EXPECT_EQ(out.rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
  EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
}

TEST(HttpWrite, NoBodyStatuses) {
  EXPECT_TRUE(http::detail::no_body(204, "GET"));
  EXPECT_TRUE(http::detail::no_body(304, "GET"));
  EXPECT_TRUE(http::detail::no_body(101, "GET"));
  EXPECT_TRUE(http::detail::no_body(200, "HEAD"));
  EXPECT_FALSE(http::detail::no_body(200, "GET"));
}

TEST(HttpWrite, GetRequestParses) {
  std::string out = http::detail::get_request("127.0.0.1", 8080, "/x?y=1");
  MessageParser p(true, 1 << 20);
  EXPECT_EQ(p.feed(out.data(), out.size()), out.size());
  ASSERT_EQ(p.state(), State::kDone);
  http::Request r = p.take_request();
  EXPECT_EQ(r.target, "/x?y=1");
  EXPECT_EQ(*r.header("host"), "127.0.0.1:8080");
  EXPECT_FALSE(r.keep_alive);
}

TEST(HttpWrite, GetRequestBracketsAnIpv6Host) {
  std::string out = http::detail::get_request("::1", 8080, "/");
  EXPECT_NE(out.find("\r\nHost: [::1]:8080\r\n"), std::string::npos) << out;
}

TEST(HttpMessage, ReasonPhrases) {
  EXPECT_STREQ(http::reason_phrase(200), "OK");
  EXPECT_STREQ(http::reason_phrase(413), "Payload Too Large");
  EXPECT_STREQ(http::reason_phrase(799), "Unknown");
  EXPECT_STREQ(http::reason_phrase(-1), "Unknown");
}

}  // namespace
