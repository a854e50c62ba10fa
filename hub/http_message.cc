// What the server and the client share about messages: header lookup, the
// request's path, reason phrases.
#include <http_parser.h>
#include <strings.h>

#include <green/http.hpp>

namespace green::http {

const std::string* find_header(const Headers& headers, std::string_view name) {
  for (const Header& h : headers) {
    if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0)
      return &h.value;
  }
  return nullptr;
}

std::string Request::path() const {
  return target.substr(0, target.find('?'));
}

const char* reason_phrase(int status) {
  if (status < 100 || status > 999) return "Unknown";
  // libhttp-parser knows the registered codes; it says "<unknown>" otherwise.
  const char* s = http_status_str(static_cast<http_status>(status));
  return s[0] == '<' ? "Unknown" : s;
}

}  // namespace green::http
