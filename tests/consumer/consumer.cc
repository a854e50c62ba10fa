// An out-of-tree program of the green C++ API, built against an installed
// libgreen (tests/integration/test_install.py builds it with find_package
// and with pkg-config). It links libgreen.so and runs with or without
// LD_PRELOAD of the same library: one runtime either way.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <green/green.hpp>
#include <set>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

// How many different libgreen.so files the process has mapped: 1 when the
// preload and the linked library are the same file.
size_t libgreen_copies() {
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> paths;
  for (std::string line; std::getline(maps, line);) {
    size_t slash = line.find('/');
    if (slash != std::string::npos && line.find("libgreen.so") != std::string::npos)
      paths.insert(line.substr(slash));
  }
  return paths.size();
}

void greenlets() {
  auto g = green::spawn(
      [](int x) {
        green::sleep(5ms);
        return x * 2;
      },
      21);
  std::printf("spawn/get: %d\n", g.get());
  auto failing = green::spawn([]() -> int { throw std::runtime_error("boom"); });
  failing.join();
  try {
    failing.get();
  } catch (const std::runtime_error& e) {
    std::printf("get rethrows: %s\n", e.what());
  }
}

void queue() {
  green::Queue<int> q(2);
  auto producer = green::spawn([&q] {
    for (int i = 1; i <= 5; i++) q.put(i);
  });
  int sum = 0;
  for (int i = 0; i < 5; i++) sum += q.get();
  producer.join();
  std::printf("queue sum: %d\n", sum);
}

void timeouts() {
  green::Queue<int> q;
  try {
    green::Timeout t(20ms);
    q.get();
    std::printf("timeout: not fired\n");
  } catch (const green::TimeoutError&) {
    std::printf("timeout: fired around Queue::get\n");
  }
  // A libc call through the hooks: the linked library interposes them too.
  int fds[2];
  if (pipe(fds) != 0) return;
  char c;
  try {
    green::Timeout t(20ms);
    ssize_t n = ::read(fds[0], &c, 1);
    std::printf("timeout: read returned %zd\n", n);
  } catch (const green::TimeoutError&) {
    std::printf("timeout: fired around ::read\n");
  }
  close(fds[0]);
  close(fds[1]);
}

// A plain std::thread (a green thread of the same hub) blocked in ::read,
// fed by a greenlet.
void plain_thread() {
  int fds[2];
  if (pipe(fds) != 0) return;
  char got = 0;
  std::thread reader([&] {
    if (::read(fds[0], &got, 1) != 1) got = '?';
  });
  auto writer = green::spawn([&] {
    green::sleep(5ms);
    if (::write(fds[1], "x", 1) != 1) std::perror("write");
  });
  writer.join();
  reader.join();
  std::printf("std::thread read: %c\n", got);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace

int main() {
  greenlets();
  queue();
  timeouts();
  plain_thread();
  green::Pool pool(3);
  std::vector<int> in{1, 2, 3, 4, 5, 6};
  auto out = pool.map([](int x) { return x * x; }, in);
  int total = 0;
  for (int v : out) total += v;
  std::printf("pool map total: %d\n", total);
  std::printf("libgreen copies mapped: %zu\n", libgreen_copies());
  return 0;
}
