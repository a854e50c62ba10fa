// The HTTP benchmark's green server: green::http::Server answering every
// request with the same small static body (the body nginx serves beside it).
//   http_hello HOST PORT    prints "listening on ADDR" once it does
#include <cstdio>
#include <green/http.hpp>
#include <stdexcept>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
    return 2;
  }
  const std::string body = "Hello, World!\n";
  green::Address address;
  try {
    address = green::Address::parse(argv[1], argv[2]);
  } catch (const std::invalid_argument& e) {
    fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 2;
  }
  green::http::Server server(address, [&](const green::http::Request&) {
    return green::http::Response(200, {{"Content-Type", "text/plain"}}, body);
  });
  server.set_max_accept(1000);
  server.start();
  printf("listening on %s\n", server.address().str().c_str());
  fflush(stdout);
  server.serve_forever();
  return 0;
}
