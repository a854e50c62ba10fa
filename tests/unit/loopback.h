// What the socket, server and HTTP tests share: a listening green::Socket on
// 127.0.0.1 at a port the kernel chose.
#pragma once
#include <sys/socket.h>

#include <green/socket.hpp>

inline green::Socket loopback_listener() {
  green::Socket s(AF_INET, SOCK_STREAM);
  s.bind(green::Address("127.0.0.1", 0));
  s.listen();
  return s;
}
