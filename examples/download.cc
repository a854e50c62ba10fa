// 100 downloads through a Pool(20): gevent's classic example in C++.
//
//   download http://127.0.0.1:8000 [COUNT]
//
// GETs BASE/item/0 ... BASE/item/COUNT-1 (100 by default), at most 20 at a
// time, and checks every body: the test's server answers /item/N with the
// path repeated N % 50 + 1 times. Prints one line per failure and a summary;
// exits 0 only when every download is right.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <green/green.hpp>
#include <green/http.hpp>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

std::string expected_body(const std::string& path, int n) {
  std::string body;
  for (int i = 0; i < n % 50 + 1; i++) body += path + "\n";
  return body;
}

// One download: "" when right, else what went wrong.
std::string fetch(const std::string& base, int n) {
  std::string path = "/item/" + std::to_string(n);
  try {
    green::http::Reply r = green::http::get(base + path, 10s);
    if (r.status != 200) return path + ": status " + std::to_string(r.status);
    if (r.body != expected_body(path, n))
      return path + ": wrong body (" + std::to_string(r.body.size()) + " bytes)";
    return "";
  } catch (const std::exception& e) {
    return path + ": " + e.what();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s BASE_URL [COUNT]\n", argv[0]);
    return 2;
  }
  std::string base = argv[1];
  while (!base.empty() && base.back() == '/') base.pop_back();
  int count = argc == 3 ? atoi(argv[2]) : 100;
  if (count <= 0) {
    fprintf(stderr, "%s: COUNT must be a positive number\n", argv[0]);
    return 2;
  }
  std::vector<int> items;
  for (int i = 0; i < count; i++) items.push_back(i);

  auto start = std::chrono::steady_clock::now();
  green::Pool pool(20);
  std::vector<std::string> errors = pool.map([&](int n) { return fetch(base, n); }, items);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  int bad = 0;
  for (const std::string& e : errors) {
    if (e.empty()) continue;
    printf("FAILED %s\n", e.c_str());
    bad++;
  }
  printf("%d downloads, %d correct, %d failed, %.2f s\n", count, count - bad, bad, secs);
  return bad ? 1 : 0;
}
