// green::Address (include/green/socket.hpp): numeric IPv4/IPv6 addresses.
#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <green/socket.hpp>
#include <stdexcept>

namespace green {
namespace {

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

}  // namespace

Address::Address(std::string_view host, uint16_t port) {
  std::string h(host.empty() ? "0.0.0.0" : host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss_);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len_ = sizeof *v4;
  } else if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len_ = sizeof *v6;
  } else {
    throw std::invalid_argument("green::Address: the host " + quoted(host) +
                                " is not a numeric IPv4 or IPv6 address (green::resolve "
                                "looks names up)");
  }
}

Address::Address(const sockaddr* sa, socklen_t len) {
  if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) || len > sizeof ss_)
    throw std::invalid_argument("green::Address: the address is not IPv4 or IPv6");
  std::memcpy(&ss_, sa, len);
  len_ = len;
}

Address Address::parse(std::string_view host, std::string_view port) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    throw std::invalid_argument("green::Address: the port " + quoted(port) +
                                " is not a number from 0 to 65535");
  return Address(host, uint16_t(value));
}

uint16_t Address::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss_)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_port);
  return 0;
}

std::string Address::host() const {
  char text[INET6_ADDRSTRLEN] = "";
  if (family() == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss_)->sin_addr, text, sizeof text);
  else if (family() == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_addr, text, sizeof text);
  return text;
}

std::string Address::str() const {
  if (empty()) return "(none)";
  std::string h = host();
  if (family() == AF_INET6) h = "[" + h + "]";
  return h + ":" + std::to_string(port());
}

std::ostream& operator<<(std::ostream& out, const Address& a) {
  return out << a.str();
}

}  // namespace green
