// One HTTP/1.x message at a time out of a byte stream, with libhttp-parser.
// The server feeds it requests, the client responses. Bytes after a complete
// message are left unconsumed: they belong to the next one (pipelining).
#pragma once
#include <http_parser.h>

#include <cstddef>
#include <string>

#include <green/http.hpp>

namespace green::http::detail {

class MessageParser {
 public:
  enum class State {
    kIncomplete,  // feed more (or finish() at the end of the stream)
    kDone,        // a whole message: take it
    kBad,         // the parser refused the bytes (error() says why)
    kTooLarge,    // more than max_size bytes, or a Content-Length that says so
  };

  // request: parse requests (else responses). max_size bounds one message
  // as received: start line, headers, body and its chunk framing.
  MessageParser(bool request, size_t max_size);
  MessageParser(const MessageParser&) = delete;
  MessageParser& operator=(const MessageParser&) = delete;

  // Consumes bytes up to the end of the current message; returns how many.
  // Call only in kIncomplete.
  size_t feed(const char* data, size_t len);
  // The peer closed: ends a response whose body runs to the end of the
  // stream; anything else unfinished is kBad.
  void finish();

  State state() const { return state_; }
  const char* error() const { return error_; }
  bool started() const { return size_ > 0; }  // some of a message has arrived
  bool keep_alive() const { return keep_alive_; }
  // True once per request that sent "Expect: 100-continue" and has a body
  // still to come: the server answers "100 Continue" so that it is sent.
  bool take_continue() {
    bool c = continue_;
    continue_ = false;
    return c;
  }

  // The finished message; the parser is then ready for the next one.
  Request take_request();
  Reply take_reply();

 private:
  static int on_message_begin(http_parser* p);
  static int on_url(http_parser* p, const char* at, size_t len);
  static int on_header_field(http_parser* p, const char* at, size_t len);
  static int on_header_value(http_parser* p, const char* at, size_t len);
  static int on_headers_complete(http_parser* p);
  static int on_body(http_parser* p, const char* at, size_t len);
  static int on_message_complete(http_parser* p);
  static const http_parser_settings kSettings;
  void reset();

  http_parser parser_;
  size_t max_size_;
  size_t size_ = 0;  // bytes of the current message consumed so far
  State state_ = State::kIncomplete;
  const char* error_ = "";
  bool in_value_ = false;  // the last header callback was for a value
  bool keep_alive_ = true;
  bool continue_ = false;
  std::string target_;
  Headers headers_;
  std::string body_;
};

}  // namespace green::http::detail
