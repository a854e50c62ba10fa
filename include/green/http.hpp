// green::http: an HTTP/1.1 server (gevent's WSGIServer in C++) and a small
// client, on green sockets. Both parse with Debian's libhttp-parser.
//
//   green::http::Server server({"127.0.0.1", 8080}, [](const green::http::Request& r) {
//     return green::http::Response{200, {{"Content-Type", "text/plain"}}, "hello " + r.path()};
//   });
//   server.serve_forever();
//
//   auto page = green::http::get("http://127.0.0.1:8080/x", 5s);  // page.status, page.body
//
// The server runs one green thread per connection and calls the handler once
// per request, in order (keep-alive, pipelining). A request's body arrives
// whole, Content-Length or chunked. A response goes out with Content-Length,
// or chunked when it has a `chunks` generator (HTTP/1.0 peers: the body, then
// the connection closes). A request the parser refuses gets 400, one bigger
// than ServerOptions::max_request_size gets 413; either closes the connection.
// A handler ends the connection after its response with a "Connection:
// close" header; the server writes Connection, Content-Length and
// Transfer-Encoding itself (a handler's own are dropped). A handler that
// throws gets its peer a 500 (and the error on stderr) and the connection
// closes; a kill (GreenletExit) passes through.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "green/core.hpp"
#include "green/server.hpp"
#include "green/socket.hpp"

namespace green::http {

struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

// The value of the first header called name (case-insensitive), or nullptr.
const std::string* find_header(const Headers& headers, std::string_view name);

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/path?query"
  int http_major = 1;
  int http_minor = 1;
  Headers headers;
  std::string body;          // de-chunked
  bool keep_alive = true;    // what the request asks for (version, Connection)
  Address peer;              // the client's address (the server's side)
  std::string path() const;  // target up to '?'
  const std::string* header(std::string_view name) const { return find_header(headers, name); }
};

struct Response {
  Response(int status_ = 200, Headers headers_ = {}, std::string body_ = {})  // NOLINT: implicit
      : status(status_), headers(std::move(headers_)), body(std::move(body_)) {}
  int status;
  Headers headers;
  std::string body;
  // When set, the body goes out chunked: body first (if not empty), then
  // every piece chunks() stores until it returns false. Each is sent as it
  // comes, so a handler can stream. Ignored by the client.
  std::function<bool(std::string& piece)> chunks;
  const std::string* header(std::string_view name) const { return find_header(headers, name); }
};

// "OK" for 200, ...; "Unknown" for codes it does not know.
const char* reason_phrase(int status);

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  size_t max_request_size = 1 << 20;  // request line + headers + body, as received
  // A keep-alive connection idle (or a request arriving) this long is closed.
  Duration idle_timeout = std::chrono::seconds(60);
};

// The server: a StreamServer whose connections speak HTTP/1.1. start(),
// serve_forever(), stop(timeout), address() and the rest are StreamServer's:
// stop(timeout) waits that long for every connection, idle keep-alive ones
// included, then kills what is left.
// Bad input: an empty handler, a max_request_size of 0 or a negative
// idle_timeout throws std::invalid_argument naming it.
class Server : public StreamServer {
 public:
  using Handler = http::Handler;  // not StreamServer's
  Server(Address address, Handler handler, ServerOptions options = {});
  ~Server() override;  // stops it (zero timeout) before the handler goes
  const ServerOptions& options() const { return options_; }

 private:
  void serve_connection(Socket& connection, const Address& peer);
  Handler handler_;
  ServerOptions options_;
};

// The client's answer: status, headers and the whole (de-chunked) body.
struct Reply {
  int status = 0;
  Headers headers;
  std::string body;
  const std::string* header(std::string_view name) const { return find_header(headers, name); }
};

// GET url ("http://host[:port]/path", http only). timeout bounds the whole
// exchange (connect, send, the reply): green::TimeoutError (from(nullptr))
// when it passes. A green::Timeout around the call works as well. Throws
// std::invalid_argument for a URL it cannot use, std::system_error for a
// connection that fails, green::Error for a reply it cannot parse.
Reply get(std::string_view url, Duration timeout = Duration::forever());

}  // namespace green::http
