// The bytes of HTTP/1.1 messages: a response's head and chunks (the server),
// a GET request (the client).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include <green/http.hpp>

namespace green::http::detail {

// How a response's body goes out.
enum class Framing {
  kLength,   // Content-Length: n
  kChunked,  // Transfer-Encoding: chunked
  kClose,    // the body runs to the close (an HTTP/1.0 peer and a stream)
  kNone,     // no body allowed (1xx, 204, 304) or asked for (HEAD): no body
};

// Does a status (or a HEAD request) forbid a body?
bool no_body(int status, std::string_view method);

// Appends the status line and headers, with Date, Connection and the
// framing header (which the handler's headers must not carry; they are
// dropped). length is the body's for kLength and for a HEAD's kNone.
void append_response_head(std::string& out, const Response& r, int http_minor, bool keep_alive,
                          Framing framing, size_t length);

// One chunk of a chunked body (nothing for an empty piece), and the last.
void append_chunk(std::string& out, std::string_view piece);
inline void append_last_chunk(std::string& out) {
  out += "0\r\n\r\n";
}

// A GET request for target on host[:port].
std::string get_request(std::string_view host, int port, std::string_view target);

}  // namespace green::http::detail
