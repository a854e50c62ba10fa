// MessageParser: libhttp-parser's callbacks gather one message; the parser is
// paused at its end so that what follows stays in the caller's buffer.
#include "hub/http_parse.h"

#include <strings.h>

#include <utility>

namespace green::http::detail {
namespace {

MessageParser* self(http_parser* p) {
  return static_cast<MessageParser*>(p->data);
}

http_parser_settings make_settings(http_cb begin, http_data_cb url, http_data_cb field,
                                   http_data_cb value, http_cb headers, http_data_cb body,
                                   http_cb complete) {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = begin;
  s.on_url = url;
  s.on_header_field = field;
  s.on_header_value = value;
  s.on_headers_complete = headers;
  s.on_body = body;
  s.on_message_complete = complete;
  return s;
}

}  // namespace

const http_parser_settings MessageParser::kSettings =
    make_settings(on_message_begin, on_url, on_header_field, on_header_value, on_headers_complete,
                  on_body, on_message_complete);

MessageParser::MessageParser(bool request, size_t max_size) : max_size_(max_size) {
  http_parser_init(&parser_, request ? HTTP_REQUEST : HTTP_RESPONSE);
  parser_.data = this;
}

size_t MessageParser::feed(const char* data, size_t len) {
  size_t n = http_parser_execute(&parser_, &kSettings, data, len);
  size_ += n;
  if (state_ == State::kTooLarge) return n;  // a Content-Length said so
  auto err = HTTP_PARSER_ERRNO(&parser_);
  if (err == HPE_HEADER_OVERFLOW) {
    state_ = State::kTooLarge;  // libhttp-parser's own bound on the headers (80 KiB)
  } else if (err != HPE_OK && err != HPE_PAUSED) {
    state_ = State::kBad;
    error_ = http_errno_description(err);
  } else if (size_ > max_size_) {
    state_ = State::kTooLarge;
  } else if (state_ == State::kIncomplete && n < len) {
    // Only an upgrade stops the parser early without an error; we do not
    // speak the protocol that follows.
    state_ = State::kBad;
    error_ = "protocol upgrade";
  }
  return n;
}

void MessageParser::finish() {
  if (state_ != State::kIncomplete || !started()) return;
  http_parser_execute(&parser_, &kSettings, nullptr, 0);  // completes a body read to EOF
  if (state_ == State::kIncomplete) {
    state_ = State::kBad;
    error_ = "the stream ended inside a message";
  }
}

void MessageParser::reset() {
  size_ = 0;
  continue_ = false;
  state_ = State::kIncomplete;
  error_ = "";
  in_value_ = false;
  target_.clear();
  headers_.clear();
  body_.clear();
  http_parser_pause(&parser_, 0);
}

Request MessageParser::take_request() {
  Request r;
  r.method = http_method_str(static_cast<http_method>(parser_.method));
  r.target = std::move(target_);
  r.http_major = parser_.http_major;
  r.http_minor = parser_.http_minor;
  r.headers = std::move(headers_);
  r.body = std::move(body_);
  r.keep_alive = keep_alive_;
  reset();
  return r;
}

Reply MessageParser::take_reply() {
  Reply r;
  r.status = parser_.status_code;
  r.headers = std::move(headers_);
  r.body = std::move(body_);
  reset();
  return r;
}

int MessageParser::on_message_begin(http_parser* p) {
  self(p)->keep_alive_ = true;
  return 0;
}

int MessageParser::on_url(http_parser* p, const char* at, size_t len) {
  self(p)->target_.append(at, len);
  return 0;
}

// Either callback may come in pieces (a header split across two reads).
int MessageParser::on_header_field(http_parser* p, const char* at, size_t len) {
  MessageParser* m = self(p);
  if (m->in_value_ || m->headers_.empty()) m->headers_.emplace_back();
  m->in_value_ = false;
  m->headers_.back().name.append(at, len);
  return 0;
}

int MessageParser::on_header_value(http_parser* p, const char* at, size_t len) {
  MessageParser* m = self(p);
  m->in_value_ = true;
  m->headers_.back().value.append(at, len);
  return 0;
}

// A declared body bigger than the limit is refused before it is read.
int MessageParser::on_headers_complete(http_parser* p) {
  MessageParser* m = self(p);
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > m->max_size_) {
    m->state_ = State::kTooLarge;
    return -1;
  }
  const std::string* expect = find_header(m->headers_, "Expect");
  m->continue_ =
      p->type == HTTP_REQUEST && expect && strcasecmp(expect->c_str(), "100-continue") == 0 &&
      ((p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) && p->content_length > 0));
  return 0;
}

int MessageParser::on_body(http_parser* p, const char* at, size_t len) {
  self(p)->body_.append(at, len);
  return 0;
}

int MessageParser::on_message_complete(http_parser* p) {
  MessageParser* m = self(p);
  m->keep_alive_ = http_should_keep_alive(p) && !p->upgrade;
  m->state_ = State::kDone;
  http_parser_pause(p, 1);
  return 0;
}

}  // namespace green::http::detail
