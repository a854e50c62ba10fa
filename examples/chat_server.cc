// The telnet chat server, as gevent's: each user picks a name, then every
// line anyone types goes to everyone, through a green::Queue per user.
//
//   usage: chat_server HOST PORT    (numeric HOST; PORT 0 lets the kernel choose)
//
// Prints one line, "listening on HOST:PORT", once it listens; nothing before.
#include <cstdio>
#include <green/green.hpp>
#include <map>

std::map<std::string, green::Queue<std::string>*> users;

void broadcast(const std::string& msg) {
  for (auto& [name, queue] : users) queue->put(msg);
}

std::string strip(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t\r\n"), end = s.find_last_not_of(" \t\r\n");
  return begin == std::string::npos ? "" : s.substr(begin, end - begin + 1);
}

// Asks until the user gives a name nobody has; throws if the user leaves first.
std::string read_name(green::Socket& sock) {
  for (;;) {
    sock.sendall("Please enter your name: ");
    std::string line = sock.readline();
    if (line.empty()) throw green::GreenletExit();
    std::string name = strip(line);
    if (name.empty()) continue;
    if (!users.count(name)) return name;
    sock.sendall("That name is taken.\r\n");
  }
}

void handle(green::Socket& sock, const green::Address& peer) {
  std::string name = read_name(sock);
  broadcast("## " + name + " joined from " + peer.host() + "\r\n");
  green::Queue<std::string> queue;
  users[name] = &queue;
  auto writer = green::spawn([&] {
    for (;;) sock.sendall(queue.get());
  });
  try {  // this greenlet is the user's reader
    for (std::string line; !(line = sock.readline()).empty();)
      broadcast(name + "> " + strip(line) + "\r\n");
  } catch (const std::system_error&) {  // a broken connection: the user left too
  }
  users.erase(name);
  writer.kill();
  broadcast("## " + name + " left the chat\r\n");
}

int main(int argc, char** argv) {
  try {
    if (argc != 3) throw std::invalid_argument("two arguments are needed");
    green::StreamServer server(green::Address::parse(argv[1], argv[2]), handle);
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
