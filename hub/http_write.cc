// The server's response heads and chunks, the client's request.
#include "hub/http_write.h"

#include <strings.h>
#include <time.h>

#include <charconv>

namespace green::http::detail {
namespace {

// The Date header's value, formatted once a second (one hub per OS thread,
// hence thread_local).
const std::string& http_date() {
  thread_local time_t last = 0;
  thread_local std::string text;
  time_t now = time(nullptr);
  if (now != last) {
    struct tm tm;
    gmtime_r(&now, &tm);
    char buf[64];
    size_t n = strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    text.assign(buf, n);
    last = now;
  }
  return text;
}

// Headers the server writes itself, from the framing it chose.
bool framing_header(const std::string& name) {
  return strcasecmp(name.c_str(), "Content-Length") == 0 ||
         strcasecmp(name.c_str(), "Transfer-Encoding") == 0 ||
         strcasecmp(name.c_str(), "Connection") == 0;
}

// Numbers without printf: this runs once or twice per response.
void append_number(std::string& out, size_t n, int base) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n, base);
  out.append(buf, end);
}

}  // namespace

bool no_body(int status, std::string_view method) {
  return (status >= 100 && status < 200) || status == 204 || status == 304 || method == "HEAD";
}

void append_response_head(std::string& out, const Response& r, int http_minor, bool keep_alive,
                          Framing framing, size_t length) {
  out += http_minor ? "HTTP/1.1 " : "HTTP/1.0 ";
  append_number(out, r.status, 10);
  out += ' ';
  out += reason_phrase(r.status);
  out += "\r\nDate: ";
  out += http_date();
  out += "\r\n";
  bool has_server = false;
  for (const Header& h : r.headers) {
    if (framing_header(h.name)) continue;
    has_server = has_server || strcasecmp(h.name.c_str(), "Server") == 0;
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
  if (!has_server) out += "Server: libgreen\r\n";
  if (framing == Framing::kLength || (framing == Framing::kNone && length > 0)) {
    out += "Content-Length: ";
    append_number(out, length, 10);
    out += "\r\n";
  } else if (framing == Framing::kChunked) {
    out += "Transfer-Encoding: chunked\r\n";
  }
  // HTTP/1.1 keeps alive unless told; HTTP/1.0 closes unless told.
  if (!keep_alive && http_minor) out += "Connection: close\r\n";
  if (keep_alive && !http_minor) out += "Connection: keep-alive\r\n";
  out += "\r\n";
}

void append_chunk(std::string& out, std::string_view piece) {
  if (piece.empty()) return;  // an empty chunk would end the body
  append_number(out, piece.size(), 16);
  out += "\r\n";
  out += piece;
  out += "\r\n";
}

std::string get_request(std::string_view host, int port, std::string_view target) {
  std::string out = "GET ";
  out += target.empty() ? std::string_view("/") : target;
  out += " HTTP/1.1\r\nHost: ";
  bool v6 = host.find(':') != std::string_view::npos;  // an IPv6 literal: in brackets
  if (v6) out += '[';
  out += host;
  if (v6) out += ']';
  if (port != 80) out += ":" + std::to_string(port);
  out += "\r\nUser-Agent: libgreen\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  return out;
}

}  // namespace green::http::detail
