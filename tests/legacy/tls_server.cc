// A thread-per-connection server that keeps each connection's context in a
// thread_local (as MariaDB keeps current_thd) and checks it after every
// blocking read: 200 client threads, 20 request/reply rounds each.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

constexpr int kClients = 200;
constexpr int kRounds = 20;

struct Context {
  int conn = -1;
  std::string last;
  long requests = 0;
};
thread_local Context current;

std::atomic<int> mismatches{0}, served{0}, replies_ok{0};
sockaddr_in server_addr;

bool read_line(int fd, std::string* line) {
  line->clear();
  char c;
  for (;;) {
    ssize_t n = read(fd, &c, 1);
    if (n <= 0) return false;
    if (c == '\n') return true;
    *line += c;
  }
}

void* serve(void* arg) {
  int fd = int(reinterpret_cast<long>(arg));
  std::string line;
  if (!read_line(fd, &line)) return nullptr;  // "hello N"
  int conn = atoi(line.c_str() + 6);
  current.conn = conn;
  while (read_line(fd, &line)) {
    if (current.conn != conn || (current.requests > 0 && current.last.empty())) mismatches++;
    current.last = line;
    current.requests++;
    std::string reply =
        std::to_string(current.conn) + " " + std::to_string(current.requests) + "\n";
    write(fd, reply.data(), reply.size());
  }
  if (current.requests == kRounds) served++;
  close(fd);
  return nullptr;
}

void* client(void* arg) {
  int id = int(reinterpret_cast<long>(arg));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&server_addr), sizeof server_addr) != 0) {
    perror("connect");
    return nullptr;
  }
  std::string hello = "hello " + std::to_string(id) + "\n";
  write(fd, hello.data(), hello.size());
  int good = 0;
  std::string line;
  for (int i = 1; i <= kRounds; i++) {
    std::string req = "request " + std::to_string(i) + "\n";
    write(fd, req.data(), req.size());
    if (read_line(fd, &line) && line == std::to_string(id) + " " + std::to_string(i)) good++;
  }
  if (good == kRounds) replies_ok++;
  close(fd);
  return nullptr;
}

void* accept_loop(void* arg) {
  int listener = int(reinterpret_cast<long>(arg));
  for (int i = 0; i < kClients; i++) {
    int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) break;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &attr, serve, reinterpret_cast<void*>(long(fd)));
    pthread_attr_destroy(&attr);
  }
  return nullptr;
}

}  // namespace

int main() {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  server_addr.sin_family = AF_INET;
  server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof server_addr;
  if (bind(listener, reinterpret_cast<sockaddr*>(&server_addr), sizeof server_addr) != 0 ||
      listen(listener, 256) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&server_addr), &len) != 0) {
    perror("listen");
    return 1;
  }
  pthread_t acceptor, clients[kClients];
  pthread_create(&acceptor, nullptr, accept_loop, reinterpret_cast<void*>(long(listener)));
  for (long i = 0; i < kClients; i++) pthread_create(&clients[i], nullptr, client, (void*)i);
  for (auto& t : clients) pthread_join(t, nullptr);
  pthread_join(acceptor, nullptr);
  for (int i = 0; i < 200 && served.load() < kClients; i++) usleep(10000);
  printf("clients answered with their own connection's context: %d of %d\n", replies_ok.load(),
         kClients);
  printf("connections served to the end: %d; context mismatches after a read: %d\n", served.load(),
         mismatches.load());
  return 0;
}
