// green::http::get: one GET on a connection of its own (Connection: close).
#include <http_parser.h>
#include <strings.h>

#include <green/http.hpp>
#include <green/timeout.hpp>

#include <optional>
#include <stdexcept>
#include <string>

#include "hub/http_parse.h"
#include "hub/http_write.h"

namespace green::http {
namespace {

constexpr size_t kReadSize = 65536;
constexpr size_t kMaxReply = size_t(1) << 30;  // a bound, not a policy

struct Target {
  std::string host;
  uint16_t port = 80;
  std::string path;  // path and query
};

Target parse_url(std::string_view url) {
  http_parser_url u;
  http_parser_url_init(&u);
  auto bad = [&](const char* why) {
    return std::invalid_argument("green::http::get: " + std::string(why) + ": " + std::string(url));
  };
  if (http_parser_parse_url(url.data(), url.size(), 0, &u) != 0) throw bad("not a URL");
  auto field = [&](int f) {
    return (u.field_set & (1 << f)) ? url.substr(u.field_data[f].off, u.field_data[f].len)
                                    : std::string_view();
  };
  std::string_view schema = field(UF_SCHEMA);
  if (schema.size() != 4 || strncasecmp(schema.data(), "http", 4) != 0)
    throw bad("only http:// URLs are supported");
  Target t;
  t.host = field(UF_HOST);
  if (t.host.empty()) throw bad("no host");
  if (u.field_set & (1 << UF_PORT)) {
    if (u.port == 0) throw bad("port 0");
    t.port = u.port;
  }
  t.path = field(UF_PATH);
  if (t.path.empty()) t.path = "/";
  if (u.field_set & (1 << UF_QUERY)) t.path += "?" + std::string(field(UF_QUERY));
  return t;
}

Reply read_reply(Socket& s) {
  detail::MessageParser parser(false, kMaxReply);
  std::string buf(kReadSize, '\0');
  for (;;) {
    size_t n = s.recv(buf.data(), buf.size());
    size_t at = 0;
    if (n == 0) {
      parser.finish();
    }
    // Interim answers (100 Continue) come before the real one.
    while (at < n || parser.state() == detail::MessageParser::State::kDone) {
      if (parser.state() == detail::MessageParser::State::kIncomplete)
        at += parser.feed(buf.data() + at, n - at);
      if (parser.state() == detail::MessageParser::State::kBad)
        throw Error(std::string("green::http::get: a bad reply: ") + parser.error());
      if (parser.state() == detail::MessageParser::State::kTooLarge)
        throw Error("green::http::get: the reply is too large");
      if (parser.state() != detail::MessageParser::State::kDone) break;
      Reply r = parser.take_reply();
      if (r.status >= 200 || r.status == 101) return r;
    }
    if (n == 0) throw Error("green::http::get: the connection closed before a reply");
  }
}

Reply exchange(const Target& t, Duration timeout) {
  Socket s = create_connection(t.host, t.port, timeout);
  s.sendall(detail::get_request(t.host, t.port, t.path));
  return read_reply(s);
}

}  // namespace

// The whole exchange runs under one Timeout; the socket's own per-call
// timeouts are the same length, so whichever passes, it is this call's.
Reply get(std::string_view url, Duration timeout) {
  Target t = parse_url(url);
  if (timeout.negative()) throw std::invalid_argument("green::http::get: the timeout is negative");
  if (timeout.ns() == Duration::kForever) return exchange(t, timeout);
  Timeout own(timeout);
  try {
    return exchange(t, timeout);
  } catch (const TimeoutError& e) {
    if (!e.from(own)) throw;
  } catch (const SocketTimeout&) {
  }
  throw TimeoutError(nullptr);
}

}  // namespace green::http
