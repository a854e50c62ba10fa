// green::resolve and green::create_connection (include/green/socket.hpp):
// names are looked up by getaddrinfo on the thread pool, so the hub runs the
// other green threads meanwhile.
#include <netdb.h>

#include <green/socket.hpp>
#include <green/threadpool.hpp>
#include <memory>

namespace green {
namespace {

class ResolverCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int code) const override { return gai_strerror(code); }
};

// A lookup's outcome, made on a pool thread (no API calls there).
struct Lookup {
  int status = 0;
  int err = 0;  // errno for EAI_SYSTEM
  std::vector<Address> addresses;
};

Lookup lookup(const std::string& host, uint16_t port, int type) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = type;
  addrinfo* list = nullptr;
  Lookup out;
  std::string service = std::to_string(port);
  out.status = getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  out.err = errno;
  for (addrinfo* a = out.status == 0 ? list : nullptr; a; a = a->ai_next)
    if (a->ai_family == AF_INET || a->ai_family == AF_INET6)
      out.addresses.emplace_back(a->ai_addr, a->ai_addrlen);
  if (list) freeaddrinfo(list);
  return out;
}

bool numeric(std::string_view host, uint16_t port, std::vector<Address>& out) {
  try {
    out.emplace_back(host, port);
    return true;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

}  // namespace

const std::error_category& resolver_category() {
  static ResolverCategory category;
  return category;
}

std::vector<Address> resolve(std::string_view host, uint16_t port, int type, Duration timeout) {
  const char* what = "green::resolve";
  std::vector<Address> out;
  if (timeout.negative()) throw std::invalid_argument("green::resolve: the timeout is negative");
  if (!host.empty() && numeric(host, port, out)) return out;
  std::string name(host.empty() ? "localhost" : host);
  Lookup found;
  try {
    // On timeout the lookup finishes on its own; its greenlet drops the result.
    found = threadpool::run(lookup, name, port, type).get(timeout);
  } catch (const TimeoutError& e) {
    if (!e.from(nullptr)) throw;  // a green::Timeout of the caller's
    throw SocketTimeout(std::string(what) + ": " + name);
  }
  if (found.status == EAI_SYSTEM)
    throw std::system_error(found.err, std::system_category(), std::string(what) + ": " + name);
  if (found.status != 0)
    throw std::system_error(found.status, resolver_category(), std::string(what) + ": " + name);
  if (found.addresses.empty())
    throw std::system_error(EAI_NONAME, resolver_category(), std::string(what) + ": " + name);
  return found.addresses;
}

Socket create_connection(std::string_view host, uint16_t port, Duration timeout) {
  if (timeout.negative())
    throw std::invalid_argument("green::create_connection: the timeout is negative");
  std::exception_ptr last;
  for (const Address& a : resolve(host, port, SOCK_STREAM, timeout)) {
    try {
      Socket s(a.family(), SOCK_STREAM);
      s.set_timeout(timeout);
      s.connect(a);
      return s;
    } catch (const std::system_error&) {
      last = std::current_exception();  // try the next address
    }
  }
  std::rethrow_exception(last);
}

}  // namespace green
