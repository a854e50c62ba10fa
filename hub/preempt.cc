#include "hub/preempt.h"

#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "hub/hub.h"
#include "hub/tcb.h"

namespace green {

int64_t g_timeslice_ns = 0;
PreemptStats g_preempt_stats;
int (*g_kernel_sigaction)(int, const struct sigaction*, struct sigaction*) = ::sigaction;

namespace {

// ---- where the handler may switch ----

// The code of libc, the loader, libgreen and what libgreen is built on:
// the handler never switches with the PC in one of these.
struct Range {
  uintptr_t begin, end;
};
constexpr int kMaxRanges = 32;
Range g_runtime_code[kMaxRanges];
int g_range_count = 0;

bool is_runtime_library(const char* name) {
  static const char* const kNames[] = {"/libc.so",     "/ld-linux",     "/libgreen.so",
                                       "/libuv.so",    "/libboost_",    "/libstdc++.so",
                                       "/libgcc_s.so", "/libpthread.so"};
  for (const char* n : kNames)
    if (strstr(name, n)) return true;
  return false;
}

int note_runtime_code(dl_phdr_info* info, size_t, void*) {
  if (!info->dlpi_name || !is_runtime_library(info->dlpi_name)) return 0;
  for (int i = 0; i < info->dlpi_phnum && g_range_count < kMaxRanges; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    g_runtime_code[g_range_count++] = Range{begin, begin + ph.p_memsz};
  }
  return 0;
}

bool in_runtime_code(uintptr_t pc) {
  for (int i = 0; i < g_range_count; i++)
    if (pc >= g_runtime_code[i].begin && pc < g_runtime_code[i].end) return true;
  return false;
}

// ---- the program's own SIGURG ----

struct sigaction g_program_action;  // what the program (through the hooks) installed
std::atomic<bool> g_handler_installed{false};

void forward_to_program(int sig, siginfo_t* info, void* context) {
  struct sigaction act = g_program_action;
  bool siginfo = act.sa_flags & SA_SIGINFO;
  if (siginfo ? act.sa_sigaction == nullptr
              : act.sa_handler == SIG_DFL || act.sa_handler == SIG_IGN)
    return;  // SIGURG's default action is to ignore it
  if (act.sa_flags & SA_RESETHAND) g_program_action.sa_handler = SIG_DFL;
  sigset_t old;
  {
    RuntimeScope runtime;
    pthread_sigmask(SIG_BLOCK, &act.sa_mask, &old);  // what the kernel would block meanwhile
  }
  if (siginfo)
    act.sa_sigaction(sig, info, context);
  else
    act.sa_handler(sig);
  RuntimeScope runtime;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// ---- the handler ----

void on_preempt_signal(int sig, siginfo_t* info, void* context) {
  Hub* h = tls.hub;
  bool ours = info->si_code == SI_TKILL && info->si_pid == getpid() && h &&
              h->preempt_at.load(std::memory_order_relaxed) != ~0ull;
  if (!ours) {
    forward_to_program(sig, info, context);
    return;
  }
  uint64_t request = h->preempt_at.exchange(~0ull);
  GreenThread* self = tls.current;
  // The thread it was meant for has switched meanwhile, or the hub runs.
  if (!self || request != h->switches.load(std::memory_order_relaxed)) return;
  auto* uc = static_cast<ucontext_t*>(context);
  uintptr_t pc = uintptr_t(uc->uc_mcontext.gregs[REG_RIP]);
  // Interrupted above the outermost handler's frame: it was left by a jump.
  if (tls.in_signal_handler &&
      uintptr_t(uc->uc_mcontext.gregs[REG_RSP]) > uintptr_t(tls.handler_frame))
    tls.in_signal_handler = 0;
  if (tls.in_runtime || tls.no_preempt || tls.in_signal_handler || in_runtime_code(pc)) {
    tls.preempt_pending = true;
    g_preempt_stats.deferred.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  int saved_errno = errno;
  g_preempt_stats.preempted.fetch_add(1, std::memory_order_relaxed);
  preempt_yield();
  async_cancellation_point();
  // Others ran meanwhile and may have changed the OS thread's mask (a thread
  // that blocks a signal, one that exited): sigreturn must not bring back
  // the mask of the moment the signal came.
  {
    RuntimeScope runtime;
    pthread_sigmask(SIG_SETMASK, nullptr, &uc->uc_sigmask);
  }
  errno = saved_errno;
}

void install_handler() {
  if (g_handler_installed.load()) return;
  struct sigaction act;
  memset(&act, 0, sizeof act);
  act.sa_sigaction = on_preempt_signal;
  sigemptyset(&act.sa_mask);
  // SA_NODEFER: the mask stays as it was while the handler switches away.
  act.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
  g_kernel_sigaction(kPreemptSignal, &act, &g_program_action);
  g_handler_installed.store(true);
}

// ---- the watchdog ----

constexpr int kMaxHubs = 64;
std::atomic<Hub*> g_hubs[kMaxHubs];
std::atomic<int> g_hub_count{0};
std::atomic<bool> g_watchdog_running{false};

// Is the OS thread on a CPU (or ready for one), rather than asleep in a
// system call that the signal would only interrupt?
bool os_thread_running(pid_t tid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  FILE* f = fopen(path, "re");
  if (!f) return false;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char* end = strrchr(buf, ')');
  return end && end[1] == ' ' && end[2] == 'R';
}

struct Watch {
  uint64_t last = 0;
  int quiet = 0;  // half slices without a switch while a green thread ran
};

void look_at(Hub* h, Watch* w) {
  uint64_t now = h->switches.load(std::memory_order_relaxed);
  if (now != w->last || !h->green_running.load(std::memory_order_relaxed)) {
    w->last = now;
    w->quiet = 0;
    return;
  }
  if (++w->quiet < 2 || !os_thread_running(h->kernel_tid)) return;
  w->quiet = 1;  // asked again every half slice until it switches
  h->preempt_at.store(now);
  syscall(SYS_tgkill, getpid(), h->kernel_tid, kPreemptSignal);
}

void* watchdog(void*) {
  Watch watches[kMaxHubs];
  timespec half{0, long(g_timeslice_ns / 2)};
  half.tv_sec = half.tv_nsec / 1000000000;
  half.tv_nsec %= 1000000000;
  for (;;) {
    clock_nanosleep(CLOCK_MONOTONIC, 0, &half, nullptr);
    int n = g_hub_count.load();
    for (int i = 0; i < n; i++)
      if (Hub* h = g_hubs[i].load()) look_at(h, &watches[i]);
  }
  return nullptr;
}

void start_watchdog() {
  if (g_watchdog_running.exchange(true)) return;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // Every signal blocked: a process-directed signal must never pick it.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t thread;
  if (pthread_create(&thread, &attr, watchdog, nullptr) != 0) g_watchdog_running.store(false);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
}

}  // namespace

void preempt_watch(Hub* h) {
  RuntimeScope runtime;
  h->watched = true;
  if (g_range_count == 0) dl_iterate_phdr(note_runtime_code, nullptr);
  install_handler();
  int slot = g_hub_count.load();
  if (slot < kMaxHubs) {
    g_hubs[slot].store(h);
    g_hub_count.store(slot + 1);
  }
  start_watchdog();
}

void preempt_forked_child(Hub* h) {
  for (auto& hub : g_hubs) hub.store(nullptr);
  g_hub_count.store(0);
  g_watchdog_running.store(false);
  h->watched = false;
  h->preempt_at.store(~0ull);
}

bool preempt_signal_action(int sig, const struct sigaction* act, struct sigaction* old) {
  if (sig != kPreemptSignal || !g_handler_installed.load()) return false;
  if (old) *old = g_program_action;
  if (act) g_program_action = *act;
  return true;
}

void preempt_safe_point() {
  tls.preempt_pending = false;
  preempt_yield();
}

NoPreempt::NoPreempt() {
  tls.no_preempt++;
}
NoPreempt::~NoPreempt() {
  tls.no_preempt--;
}

}  // namespace green
