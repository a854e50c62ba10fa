// thread_local objects with constructors and destructors, and C++ exception
// state, per thread, as natively.
//
// Phase 1: 50 threads each touch two thread_local objects (constructed on
//   first use), block, and check them; their destructors run at thread
//   exit in reverse order of construction and report into the thread's
//   slot. One in a library loaded with dlopen by the program.
// Phase 2: 50 threads each throw, and inside the catch block make blocking
//   calls while the others throw and catch too; each still sees its own
//   exception (current_exception, uncaught_exceptions) and rethrows it.
#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

namespace {

constexpr int kThreads = 50;
char reports[kThreads][4][64];
int wake_pipes[kThreads][2];  // each thread blocks on its own, woken in thread order

struct Local {
  int id = -1;
  int slot;
  char* out = nullptr;
  explicit Local(int s) : slot(s) {}
  ~Local() {
    if (out) snprintf(out + slot * 64, 64, "local %d destroyed with id %d", slot, id);
  }
};

thread_local Local first(0);
thread_local Local second(1);

using PluginAdd = long (*)(long, char*);
PluginAdd plugin_add;

void block_a_little(int id) {
  char c;
  if (read(wake_pipes[id][0], &c, 1) != 1) perror("read");
}

void* with_locals(void* arg) {
  int id = int(reinterpret_cast<long>(arg));
  char* out = &reports[id][0][0];
  first.id = id;
  first.out = out;
  block_a_little(id);
  second.id = id * 2;
  second.out = out;
  long v = plugin_add(id, reports[id][2]);
  block_a_little(id);
  v = plugin_add(id, reports[id][2]);
  bool ok = first.id == id && second.id == id * 2 && v == 1000 + 2 * id;
  snprintf(reports[id][3], 64, "values own: %s", ok ? "yes" : "NO");
  return nullptr;
}

std::atomic<int> exceptions_ok{0};

void* with_exception(void* arg) {
  int id = int(reinterpret_cast<long>(arg));
  try {
    try {
      throw std::runtime_error("thread " + std::to_string(id));
    } catch (const std::runtime_error& e) {
      block_a_little(id);
      std::exception_ptr p = std::current_exception();
      bool same = std::string(e.what()) == "thread " + std::to_string(id);
      try {
        std::rethrow_exception(p);
      } catch (const std::runtime_error& again) {
        block_a_little(id);
        same = same && std::string(again.what()) == "thread " + std::to_string(id);
      }
      if (same && std::uncaught_exceptions() == 0) throw;
    }
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()) == "thread " + std::to_string(id)) exceptions_ok++;
  }
  return nullptr;
}

void run_threads(void* (*body)(void*), int wakeups) {
  pthread_t threads[kThreads];
  for (long i = 0; i < kThreads; i++) pthread_create(&threads[i], nullptr, body, (void*)i);
  usleep(20000);
  for (int round = 0; round < wakeups; round++) {
    for (auto& p : wake_pipes) write(p[1], "x", 1);
    usleep(5000);
  }
  for (auto& t : threads) pthread_join(t, nullptr);
}

std::string plugin_path() {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return "";
  exe[n] = '\0';
  std::string dir(exe);
  return dir.substr(0, dir.rfind('/')) + "/plugins/libtls_plugin.so";
}

}  // namespace

int main() {
  for (auto& p : wake_pipes)
    if (pipe(p) != 0) return 1;
  void* plugin = dlopen(plugin_path().c_str(), RTLD_NOW);
  if (!plugin || !(plugin_add = reinterpret_cast<PluginAdd>(dlsym(plugin, "plugin_add")))) {
    printf("dlopen: %s\n", dlerror());
    return 1;
  }
  run_threads(with_locals, 2);
  int good = 0;
  for (int i = 0; i < kThreads; i++) {
    char expect[4][64];
    snprintf(expect[0], 64, "local 0 destroyed with id %d", i);
    snprintf(expect[1], 64, "local 1 destroyed with id %d", i * 2);
    snprintf(expect[2], 64, "plugin local destroyed with %d", 1000 + 2 * i);
    snprintf(expect[3], 64, "values own: yes");
    bool all = true;
    for (int k = 0; k < 4; k++) all = all && strcmp(reports[i][k], expect[k]) == 0;
    if (all) good++;
    if (!all && i < 3)
      printf("  thread %d: [%s] [%s] [%s] [%s]\n", i, reports[i][0], reports[i][1], reports[i][2],
             reports[i][3]);
  }
  printf("phase 1: threads whose thread_locals were their own and destroyed at exit: %d of %d\n",
         good, kThreads);
  printf("phase 1: main's thread_local untouched: %s\n", first.id == -1 ? "yes" : "NO");
  run_threads(with_exception, 2);
  printf("phase 2: threads that kept their own exception across blocking calls: %d of %d\n",
         exceptions_ok.load(), kThreads);
  return 0;
}
