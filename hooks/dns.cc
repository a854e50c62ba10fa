// The resolver: glibc's getaddrinfo and friends send and receive inside libc,
// out of the hooks' reach, so on a green thread each call runs whole on the
// hub's thread pool (the real function, on a native thread) while the green
// thread parks. errno and h_errno come back with the result. The
// non-reentrant gethostby* keep their result in a buffer of the calling green
// thread, as glibc keeps one per OS thread.
#include <arpa/inet.h>
#include <netdb.h>

#include <cstdlib>
#include <cstring>

#include "hooks/hook.h"
#include "hub/pool.h"

using namespace green;

namespace {

// Runs the real call on the pool when the caller is a green thread.
template <class Call>
auto resolve(Call&& call) {
  decltype(call()) result{};
  int herr = 0;
  run_on_pool([&] {
    result = call();
    herr = h_errno;
  });
  int saved = errno;
  h_errno = herr;
  errno = saved;
  return result;
}

// A green thread's static result for gethostbyname and gethostbyaddr.
struct HostBuffer {
  hostent entry;
  char data[8192];
};

// Made on first use, per green thread (the main thread's lives as long as
// the process): a thread_local one would be 8 KiB in every green thread's
// TLS block, touched or not, since glibc zeroes each block whole.
HostBuffer* host_buffer(GreenThread* self) {
  if (!self->host_buffer) self->host_buffer = calloc(1, sizeof(HostBuffer));
  return static_cast<HostBuffer*>(self->host_buffer);
}

// gethostbyname and friends through their _r twins, into the caller's buffer.
template <class Call>
hostent* host_lookup(GreenThread* self, Call&& reentrant) {
  HostBuffer* b = host_buffer(self);
  if (!b) {
    h_errno = NETDB_INTERNAL;
    errno = ENOMEM;
    return nullptr;
  }
  hostent* result = nullptr;
  int herr = 0;
  int r = resolve([&] { return reentrant(&b->entry, b->data, sizeof b->data, &result, &herr); });
  h_errno = herr;
  if (r == ERANGE) errno = ERANGE;
  return r == 0 ? result : nullptr;
}

// Calls that need no lookup: numeric addresses and ports (a proxy resolves
// its peers' "127.0.0.1" and prints their addresses several times per
// request). glibc answers them at once (AI_ADDRCONFIG asks the kernel over
// netlink, which answers at once too), so they run on the green thread:
// on the pool they would queue behind every real lookup of the other
// threads, and an accept loop that prints each client's address would fall
// behind its listen queue.
bool numeric_host(const char* node, const addrinfo* hints) {
  if (!node || (hints && (hints->ai_flags & AI_NUMERICHOST))) return true;
  unsigned char addr[sizeof(in6_addr)];
  return inet_pton(AF_INET, node, addr) == 1 || inet_pton(AF_INET6, node, addr) == 1;
}

bool numeric_service(const char* service, const addrinfo* hints) {
  if (!service || (hints && (hints->ai_flags & AI_NUMERICSERV))) return true;
  if (!*service) return false;
  for (const char* c = service; *c; c++)
    if (*c < '0' || *c > '9') return false;
  return true;
}

}  // namespace

extern "C" int getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                           addrinfo** res) {
  if (!hook_self() || (numeric_host(node, hints) && numeric_service(service, hints)))
    return REAL(getaddrinfo)(node, service, hints, res);
  return resolve([&] { return REAL(getaddrinfo)(node, service, hints, res); });
}

extern "C" int getnameinfo(const sockaddr* addr, socklen_t addr_len, char* host, socklen_t host_len,
                           char* serv, socklen_t serv_len, int flags) {
  bool numeric = (!host || (flags & NI_NUMERICHOST)) && (!serv || (flags & NI_NUMERICSERV));
  if (!hook_self() || numeric)
    return REAL(getnameinfo)(addr, addr_len, host, host_len, serv, serv_len, flags);
  return resolve(
      [&] { return REAL(getnameinfo)(addr, addr_len, host, host_len, serv, serv_len, flags); });
}

extern "C" int gethostbyname_r(const char* name, hostent* ret, char* buf, size_t len,
                               hostent** result, int* herr) {
  if (!hook_self()) return REAL(gethostbyname_r)(name, ret, buf, len, result, herr);
  return resolve([&] { return REAL(gethostbyname_r)(name, ret, buf, len, result, herr); });
}

extern "C" int gethostbyname2_r(const char* name, int af, hostent* ret, char* buf, size_t len,
                                hostent** result, int* herr) {
  if (!hook_self()) return REAL(gethostbyname2_r)(name, af, ret, buf, len, result, herr);
  return resolve([&] { return REAL(gethostbyname2_r)(name, af, ret, buf, len, result, herr); });
}

extern "C" int gethostbyaddr_r(const void* addr, socklen_t addr_len, int type, hostent* ret,
                               char* buf, size_t len, hostent** result, int* herr) {
  if (!hook_self()) return REAL(gethostbyaddr_r)(addr, addr_len, type, ret, buf, len, result, herr);
  return resolve(
      [&] { return REAL(gethostbyaddr_r)(addr, addr_len, type, ret, buf, len, result, herr); });
}

extern "C" hostent* gethostbyname(const char* name) {
  GreenThread* self = hook_self();
  if (!self) return REAL(gethostbyname)(name);
  return host_lookup(self, [&](hostent* ret, char* buf, size_t len, hostent** result, int* herr) {
    return REAL(gethostbyname_r)(name, ret, buf, len, result, herr);
  });
}

extern "C" hostent* gethostbyname2(const char* name, int af) {
  GreenThread* self = hook_self();
  if (!self) return REAL(gethostbyname2)(name, af);
  return host_lookup(self, [&](hostent* ret, char* buf, size_t len, hostent** result, int* herr) {
    return REAL(gethostbyname2_r)(name, af, ret, buf, len, result, herr);
  });
}

extern "C" hostent* gethostbyaddr(const void* addr, socklen_t addr_len, int type) {
  GreenThread* self = hook_self();
  if (!self) return REAL(gethostbyaddr)(addr, addr_len, type);
  return host_lookup(self, [&](hostent* ret, char* buf, size_t len, hostent** result, int* herr) {
    return REAL(gethostbyaddr_r)(addr, addr_len, type, ret, buf, len, result, herr);
  });
}
