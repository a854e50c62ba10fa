// The echo server, as gevent's: every line a client sends comes back.
//
//   usage: echo_server HOST PORT    (numeric HOST; PORT 0 lets the kernel choose)
//
// Prints one line, "listening on HOST:PORT", once it listens; nothing before.
#include <cstdio>
#include <green/server.hpp>

void echo(green::Socket& sock, const green::Address&) {
  for (std::string line; !(line = sock.readline()).empty();) sock.sendall(line);
}

int main(int argc, char** argv) {
  try {
    if (argc != 3) throw std::invalid_argument("two arguments are needed");
    green::StreamServer server(green::Address::parse(argv[1], argv[2]), echo);
    server.start();
    std::printf("listening on %s\n", server.address().str().c_str());
    std::fflush(stdout);
    server.serve_forever();
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "usage: %s HOST PORT (%s)\n", argv[0], e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
}
