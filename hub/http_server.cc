// green::http::Server: one green thread per connection (StreamServer's),
// reading requests with MessageParser and answering each in turn.
#include <green/http.hpp>
#include <strings.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "hub/http_parse.h"
#include "hub/http_write.h"

namespace green::http {
namespace {

using detail::Framing;
using detail::MessageParser;

constexpr size_t kReadSize = 16384;
// After an error answer, what the peer still sends is read and dropped for
// this long (at most kDrainBytes), so that closing with unread bytes does
// not reset the connection before the peer has read the answer.
constexpr auto kDrainTime = std::chrono::milliseconds(500);
constexpr size_t kDrainBytes = 1 << 20;

void check(const Handler& handler, const ServerOptions& options) {
  if (!handler) throw std::invalid_argument("green::http::Server: the handler is empty");
  if (options.max_request_size == 0)
    throw std::invalid_argument("green::http::Server: max_request_size is 0");
  if (options.idle_timeout.negative())
    throw std::invalid_argument("green::http::Server: idle_timeout is negative");
}

// Answers 400 or 413 and ends the connection: a lingering close.
void refuse(Socket& s, int status, const char* why) {
  Response r(status, {{"Content-Type", "text/plain"}},
             std::string(reason_phrase(status)) + ": " + why + "\n");
  std::string out;
  detail::append_response_head(out, r, 1, false, Framing::kLength, r.body.size());
  out += r.body;
  try {
    s.sendall(out, kDrainTime);
    s.shutdown(SHUT_WR);
    char sink[4096];
    size_t drained = 0;
    int64_t until = green::detail::now_ns() + std::chrono::nanoseconds(kDrainTime).count();
    while (drained < kDrainBytes) {
      int64_t left = until - green::detail::now_ns();
      if (left <= 0) break;
      size_t n = s.recv(sink, sizeof sink, std::chrono::nanoseconds(left));
      if (n == 0) break;
      drained += n;
    }
  } catch (const std::system_error&) {
    // The peer went away or is slow: it is being closed either way.
  }
}

// What the handler answered, or 500 when it threw (reported on stderr).
// A kill passes through.
Response call(const Handler& handler, const Request& req, bool* failed) {
  try {
    return handler(req);
  } catch (const GreenletExit&) {
    throw;
  } catch (const std::exception& e) {
    green::detail::report("green::http::Server: the handler failed on " + req.method + " " +
                          req.target + ": " + e.what());
  }
  *failed = true;
  return Response(500, {{"Content-Type", "text/plain"}}, "Internal Server Error\n");
}

// Sends the rest of a streamed body; false when the stream failed midway
// (the body is then cut short: the connection must close).
bool send_chunks(Socket& s, Response& r, const Request& req, bool chunked) {
  std::string piece, out;
  for (;;) {
    piece.clear();
    try {
      if (!r.chunks(piece)) break;
    } catch (const GreenletExit&) {
      throw;
    } catch (const std::exception& e) {
      green::detail::report("green::http::Server: the body stream failed on " + req.method + " " +
                            req.target + ": " + e.what());
      return false;
    }
    out.clear();
    if (chunked) {
      detail::append_chunk(out, piece);
      s.sendall(out);
    } else {
      s.sendall(piece);
    }
  }
  if (chunked) {
    out.clear();
    detail::append_last_chunk(out);
    s.sendall(out);
  }
  return true;
}

// Writes the answer to req (out: the connection's buffer, reused); returns
// whether the connection goes on.
bool respond(Socket& s, const Handler& handler, const Request& req, std::string& out) {
  bool failed = false;
  Response r = call(handler, req, &failed);
  if (r.status < 100 || r.status > 999) {
    green::detail::report("green::http::Server: the handler answered " + req.method + " " +
                          req.target + " with status " + std::to_string(r.status));
    r = Response(500, {{"Content-Type", "text/plain"}}, "Internal Server Error\n");
    failed = true;
  }
  // The handler may end the connection itself with "Connection: close".
  const std::string* connection = r.header("Connection");
  bool keep_alive =
      req.keep_alive && !failed && !(connection && strcasecmp(connection->c_str(), "close") == 0);
  Framing framing = Framing::kLength;
  size_t length = r.body.size();
  if (detail::no_body(r.status, req.method)) {
    framing = Framing::kNone;
    if (r.status < 200 || r.status == 204 || r.status == 304 || r.chunks) length = 0;
  } else if (r.chunks) {
    framing = req.http_minor >= 1 ? Framing::kChunked : Framing::kClose;
    if (framing == Framing::kClose) keep_alive = false;
  }
  out.clear();
  detail::append_response_head(out, r, req.http_minor, keep_alive, framing, length);
  if (framing == Framing::kChunked) {
    detail::append_chunk(out, r.body);
  } else if (framing != Framing::kNone) {
    out += r.body;
  }
  s.sendall(out);
  if (r.chunks && framing != Framing::kNone &&
      !send_chunks(s, r, req, framing == Framing::kChunked))
    return false;
  return keep_alive;
}

}  // namespace

Server::Server(Address address, Handler handler, ServerOptions options)
    : StreamServer(
          std::move(address),
          [this](Socket& connection, const Address& peer) { serve_connection(connection, peer); }),
      handler_(std::move(handler)),
      options_(options) {
  check(handler_, options_);
}

Server::~Server() {
  try {
    stop(Duration(std::chrono::seconds(0)));
  } catch (...) {  // no hub here: nothing can be waited for
  }
}

// Requests are read into one buffer; pipelined ones are parsed from what is
// left of it before the socket is read again.
void Server::serve_connection(Socket& s, const Address& peer) {
  MessageParser parser(true, options_.max_request_size);
  std::string buf(kReadSize, '\0');
  std::string out;
  size_t start = 0, end = 0;
  for (;;) {
    if (start == end) {
      start = end = 0;
      try {
        end = s.recv(buf.data(), buf.size(), options_.idle_timeout);
      } catch (const SocketTimeout&) {
        return;  // idle (or too slow a request): closed
      }
      if (end == 0) {
        parser.finish();  // the peer closed: a request cut short has no answer
        return;
      }
    }
    start += parser.feed(buf.data() + start, end - start);
    if (parser.take_continue()) s.sendall("HTTP/1.1 100 Continue\r\n\r\n");
    switch (parser.state()) {
      case MessageParser::State::kIncomplete:
        continue;
      case MessageParser::State::kBad:
        return refuse(s, 400, parser.error());
      case MessageParser::State::kTooLarge:
        return refuse(s, 413, "the request is larger than the server takes");
      case MessageParser::State::kDone:
        break;
    }
    Request req = parser.take_request();
    req.peer = peer;
    if (!respond(s, handler_, req, out)) return;
  }
}

}  // namespace green::http
