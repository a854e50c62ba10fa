#include "hub/preempt.h"

#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <execinfo.h>

#include <algorithm>

#include "hub/hub.h"
#include "hub/log.h"
#include "hub/monitor.h"
#include "hub/tcb.h"

namespace green {

int64_t g_timeslice_ns = 0;
int64_t g_monitor_ns = 0;
int g_dump_signal = 0;
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

// What the program (through the hooks) installed for the signals libgreen
// keeps for itself: the time-slice signal and the dump signal.
struct OwnedSignal {
  int sig = 0;
  struct sigaction program;
  std::atomic<bool> installed{false};
};
OwnedSignal g_owned[3];  // [0] kPreemptSignal, [1] g_dump_signal, [2] SIGSEGV

OwnedSignal* owned(int sig) {
  for (OwnedSignal& o : g_owned)
    if (o.sig == sig && sig != 0 && o.installed.load()) return &o;
  return nullptr;
}

// The program's handler, when it has one: SIGURG's default is to ignore it,
// and the dump signal's default (often to end the process) is replaced by
// the dump.
void forward_to_program(int sig, siginfo_t* info, void* context) {
  OwnedSignal* o = owned(sig);
  if (!o) return;
  struct sigaction act = o->program;
  bool siginfo = act.sa_flags & SA_SIGINFO;
  if (siginfo ? act.sa_sigaction == nullptr
              : act.sa_handler == SIG_DFL || act.sa_handler == SIG_IGN)
    return;
  if (act.sa_flags & SA_RESETHAND) o->program.sa_handler = SIG_DFL;
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

constexpr int kMaxHubs = 64;
std::atomic<Hub*> g_hubs[kMaxHubs];
std::atomic<int> g_hub_count{0};
std::atomic<bool> g_watchdog_running{false};

// Is the OS thread on a CPU (or ready for one), rather than asleep in a
// system call that the signal would only interrupt?
bool os_thread_running(pid_t tid) {
  char buf[512];
  if (!read_task_file(tid, "stat", buf, sizeof buf)) return false;
  const char* end = strrchr(buf, ')');
  return end && end[1] == ' ' && end[2] == 'R';
}

struct Watch {
  uint64_t last = 0;
  int64_t since_ns = 0;  // when it last switched
  int64_t asked_ns = 0;  // the last preemption request
  MonitorWatch monitor;
};

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Something for the hub to do: I/O ready on its epoll fd, or a park
// deadline due (the thread it wakes would natively preempt a thread that
// has run its share, as the kernel's wake-up preemption does).
bool hub_has_work(Hub* h, int64_t now) {
  if (now >= h->next_deadline.load(std::memory_order_relaxed)) return true;
  pollfd p{h->loop.backend_fd, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

// What the kernel would call the wake-up granularity: a thread that has
// run this long gives way to a woken one.
constexpr int64_t kWakeupGranularityNs = 1000000;

// Something else could use the hub: threads ready, or preempted ones that
// wait for the next poll (racy reads from the watchdog: a hint), or a
// pending cancel that asynchronous cancellation must act on.
bool others_wait(Hub* h) {
  if (h->ready_count > 0 || h->preempted_head != nullptr) return true;
  GreenThread* t = h->running.load(std::memory_order_relaxed);
  return t && t->cancel_pending && t->cancel_async;
}

// libuv hands the kernel a new or changed watcher only when it next polls:
// until then the epoll fd cannot show that descriptor ready (a racy read
// from the watchdog: a hint).
bool watchers_pending(Hub* h) {
  void* const* queue = reinterpret_cast<void* const*>(&h->loop.watcher_queue);
  return queue[0] != static_cast<const void*>(&h->loop.watcher_queue);
}

// Has a thread that has run `ran` ns without a switch had its share?
//   - a fifth of a slice while other threads wait to run: they share the
//     CPU as under the kernel's fair scheduler (a thread that spins waiting
//     for another gives way sooner);
//   - a tenth of a slice (at least 1 ms) while I/O or a deadline waits for
//     the hub: the kernel's wake-up preemption;
//   - a whole slice while libuv has watchers to hand the kernel (a thread
//     that parked on a descriptor just before this one ran), which
//     hub_has_work cannot see.
// A lone thread with nothing else to do is otherwise left alone, however
// long it runs: interrupting it would only show the hub an empty poll.
bool slice_over(Hub* h, int64_t ran, int64_t now) {
  if (ran < std::min(kWakeupGranularityNs, g_timeslice_ns)) return false;
  if (ran >= g_timeslice_ns / 5 && others_wait(h)) return true;
  if (ran >= g_timeslice_ns / 10 && hub_has_work(h, now)) return true;
  return ran >= g_timeslice_ns && watchers_pending(h);
}

// ---- the hub's own timer ----

// On a loaded machine the watchdog is often scheduled late (5 to 20 ms on
// this 2-core VM with the kernel's autogroups), and each of its looks needs
// two threads to run: the watchdog's and the hub's. So once the watchdog has
// ended one slice, the hub's OS thread gets a kernel timer of its own
// (SIGEV_THREAD_ID, every millisecond) and the handler looks at the slice
// itself, for as long as a thread keeps running long while something waits.
// It disarms itself as soon as the hub switches freely again, sleeps, or has
// nothing for anyone else: then it costs nothing.
//
// The timer runs on the OS thread's CPU clock, not the wall clock: a green
// thread blocked in a call libgreen does not hook (System V semop, msgrcv)
// uses no CPU, so no shot comes to interrupt it. Those calls the kernel
// never restarts after a handler, whatever SA_RESTART says: a wall-clock
// shot made them fail with EINTR where natively nothing came (legacy
// sysv_waits). The kernel checks CPU timers at its tick (4 ms at HZ=250),
// so a shot comes 1 to 4 ms of computing apart: still sooner than a late
// watchdog.
constexpr int64_t kShotNs = 1000000;
struct Shots {
  timer_t timer;
  bool made = false;
  bool armed = false;
  uint64_t last = ~0ull;  // the switch count the last shot saw
  int64_t since = 0;      // when that count was first seen
  int moved = 0;          // shots in a row that saw the hub switch
};
Shots g_shots[kMaxHubs];  // by the hub's slot in g_hubs; used on the hub's own OS thread

Shots* shots_of(Hub* h) {
  int n = g_hub_count.load(std::memory_order_relaxed);
  for (int i = 0; i < n; i++)
    if (g_hubs[i].load(std::memory_order_relaxed) == h)
      return g_shots[i].made ? &g_shots[i] : nullptr;
  return nullptr;
}

void shots_make(Hub* h, Shots* s) {
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = kPreemptSignal;
  ev.sigev_value.sival_ptr = s;  // how the handler tells its shots from the program's timers
  ev._sigev_un._tid = h->kernel_tid;
  *s = Shots{};
  // the calling thread's CPU clock: this is the hub's own OS thread
  s->made = timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &s->timer) == 0;
}

void shots_arm(Shots* s, bool on) {
  if (!s || s->armed == on) return;
  s->armed = on;
  s->moved = 0;
  s->last = ~0ull;
  itimerspec its{{0, on ? kShotNs : 0}, {0, on ? kShotNs : 0}};
  timer_settime(s->timer, 0, &its, nullptr);
}

// One shot, in the handler: true when the running thread's slice is over
// (preempt_at is then set, as the watchdog sets it).
bool shot_over(Hub* h, Shots* s) {
  int64_t now = now_ns();
  uint64_t switches = h->switches.load(std::memory_order_relaxed);
  // The hub runs or sleeps; or the thread waits for a safe point, maybe in a
  // system call that a shot would only interrupt: the watchdog looks on.
  if (!h->green_running.load(std::memory_order_relaxed) || tls.preempt_pending) {
    shots_arm(s, false);
    return false;
  }
  if (switches != s->last) {
    s->last = switches;
    s->since = now;  // it has run at least since now: a late shot only errs short
    if (++s->moved >= 3) shots_arm(s, false);
    return false;
  }
  s->moved = 0;
  if (slice_over(h, now - s->since, now)) {
    h->preempt_at.store(switches);
    return true;
  }
  // Nothing ready and no deadline within a slice: the watchdog's looks at
  // the epoll fd cost this thread nothing.
  if (!others_wait(h) && h->next_deadline.load(std::memory_order_relaxed) > now + g_timeslice_ns)
    shots_arm(s, false);
  return false;
}

// ---- the handler ----

void on_preempt_signal(int sig, siginfo_t* info, void* context) {
  Hub* h = tls.hub;
  Shots* shots = h && g_timeslice_ns ? shots_of(h) : nullptr;
  bool shot = shots && info->si_code == SI_TIMER && info->si_value.sival_ptr == shots;
  bool ours =
      shot ||
      (info->si_code == SI_TKILL && info->si_pid == getpid() && h &&
       (h->preempt_at.load(std::memory_order_relaxed) != ~0ull || h->stack_request.load() == 1));
  if (!ours) {
    forward_to_program(sig, info, context);
    return;
  }
  tls.own_signals++;  // a zero-timeout poll it interrupts is made again (hooks/hook.h)
  if (monitor_capture_stack(h, reinterpret_cast<void*>(
                                   static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP])))
    return;
  if (shot) {
    int saved_errno = errno;  // its system calls must not show in the thread's errno
    bool over;
    {
      // Its calls (poll of the epoll fd, /proc reads) must go straight to
      // libc: libgreen's own hook of poll would yield from inside this
      // handler, wherever the thread was (once: inside fork, with every
      // malloc arena locked, and the hub then waited on an arena forever).
      RuntimeScope runtime;
      over = shot_over(h, shots);
    }
    errno = saved_errno;
    if (!over) return;
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
  shots_arm(shots, true);  // it computes: look again from this thread, not only the watchdog's
  g_preempt_stats.preempted.fetch_add(1, std::memory_order_relaxed);
  if (!self->preempted_once) {
    self->preempted_once = true;
    // In the program's own code here, not inside libc: formatting is safe.
    log_line(LogLevel::kDebug, "green thread %d \"%s\" preempted after a %lld ms time slice",
             self->tid, self->name, (long long)(g_timeslice_ns / 1000000));
  }
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

void on_dump(int sig, siginfo_t* info, void* context) {
  on_dump_signal(sig);
  forward_to_program(sig, info, context);
}

void install(OwnedSignal* o, int sig, void (*handler)(int, siginfo_t*, void*), int flags) {
  if (o->installed.load() || sig == 0) return;
  struct sigaction act;
  memset(&act, 0, sizeof act);
  act.sa_sigaction = handler;
  sigemptyset(&act.sa_mask);
  act.sa_flags = SA_SIGINFO | flags;
  o->sig = sig;
  g_kernel_sigaction(sig, &act, &o->program);
  o->installed.store(true);
}

void install_handlers() {
  // SA_NODEFER: the mask stays as it was while the handler switches away.
  if (g_timeslice_ns || g_monitor_ns)
    install(&g_owned[0], kPreemptSignal, on_preempt_signal, SA_RESTART | SA_NODEFER);
  install(&g_owned[1], g_dump_signal, on_dump, SA_RESTART);
}

// ---- the watchdog ----

// True while a thread has run long without a switch (the watchdog then
// looks more often).
bool look_at(Hub* h, Watch* w) {
  int64_t now = now_ns();
  uint64_t switches = h->switches.load(std::memory_order_relaxed);
  bool running = h->green_running.load(std::memory_order_relaxed);
  if (g_monitor_ns) monitor_look(h, &w->monitor, switches, running, now);
  if (switches != w->last || !running) {
    w->last = switches;
    w->since_ns = now;
    return false;
  }
  if (!g_timeslice_ns) return false;
  int64_t ran = now - w->since_ns;
  // Asked again every 2 ms (at most every half slice) until it switches.
  bool over = slice_over(h, ran, now);
  if (over &&
      now - w->asked_ns >= std::min<int64_t>(g_timeslice_ns / 2, kWakeupGranularityNs * 2) &&
      os_thread_running(h->kernel_tid)) {
    w->asked_ns = now;
    h->preempt_at.store(switches);
    syscall(SYS_tgkill, getpid(), h->kernel_tid, kPreemptSignal);
  }
  return ran >= kWakeupGranularityNs;
}

// Often enough for both: a quarter of a slice (a slice then ends within a
// quarter of its length), a quarter of the monitor's limit; every
// millisecond while a thread runs long, for the wake-up check.
timespec tick(bool busy) {
  int64_t ns = 1000000000;
  if (g_timeslice_ns) ns = std::min<int64_t>(ns, busy ? kWakeupGranularityNs : g_timeslice_ns / 4);
  if (g_monitor_ns) ns = std::min<int64_t>(ns, g_monitor_ns / 4);
  ns = std::max<int64_t>(ns, 500000);
  return timespec{time_t(ns / 1000000000), long(ns % 1000000000)};
}

void* watchdog(void*) {
  Watch watches[kMaxHubs];
  bool busy = false;
  for (;;) {
    timespec period = tick(busy);
    clock_nanosleep(CLOCK_MONOTONIC, 0, &period, nullptr);
    busy = false;
    int n = g_hub_count.load();
    for (int i = 0; i < n; i++)
      if (Hub* h = g_hubs[i].load()) busy |= look_at(h, &watches[i]);
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

namespace {

// ---- stack overflow ----

// A fault in the guard page below the running green thread's stack: one
// line that says which thread, its stack size and how to raise it; then
// the default action, so the exit status and core dump are as natively.
void on_segv(int sig, siginfo_t* info, void* context) {
  GreenThread* t = tls.current;
  uintptr_t addr = uintptr_t(info->si_addr);
  uintptr_t bottom = t ? uintptr_t(t->stack.bottom) : 0;
  size_t page = size_t(sysconf(_SC_PAGESIZE));
  if (t && !t->adopted && info->si_code > 0 && addr < bottom && addr + 16 * page >= bottom) {
    char line[256];
    int n = snprintf(line, sizeof line,
                     "libgreen: green thread %d \"%s\" ran off its %zu KiB stack (ask for more "
                     "with pthread_attr_setstacksize, GREEN_STACK_SIZE or green-run "
                     "--stack-size)\n",
                     t->tid, t->name, t->stack.size / 1024);
    ssize_t ignored = write(STDERR_FILENO, line, size_t(n));
    (void)ignored;
  } else if (owned(SIGSEGV) && (g_owned[2].program.sa_flags & SA_SIGINFO
                                    ? g_owned[2].program.sa_sigaction != nullptr
                                    : g_owned[2].program.sa_handler != SIG_DFL)) {
    forward_to_program(sig, info, context);  // the program's own handler decides
    return;
  }
  // Return into the fault with the default action: the kernel ends the
  // process with SIGSEGV, as it would have natively.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  g_kernel_sigaction(SIGSEGV, &dfl, nullptr);
  // One sent by kill or raise does not come again on return: send it again.
  if (info->si_code <= 0) syscall(SYS_rt_tgsigqueueinfo, getpid(), kernel_tid(), sig, info);
}

void install_overflow_handler() {
  static char alt_stack[64 * 1024];
  stack_t ss;
  memset(&ss, 0, sizeof ss);
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  sigaltstack(&ss, nullptr);  // the hub's OS thread: a full stack cannot run the handler
  install(&g_owned[2], SIGSEGV, on_segv, SA_ONSTACK | SA_NODEFER);
}

}  // namespace

void preempt_adopted(Hub*) {
  RuntimeScope runtime;
  install_overflow_handler();
}

void preempt_watch(Hub* h) {
  RuntimeScope runtime;
  h->watched = true;
  if (g_range_count == 0) dl_iterate_phdr(note_runtime_code, nullptr);
  if (g_monitor_ns) {
    void* warm[1];
    backtrace(warm, 1);  // loads the unwinder now, not in a signal handler
  }
  g_track_states = g_dump_signal != 0;
  install_handlers();
  if (!g_timeslice_ns && !g_monitor_ns) return;  // the dump needs no watchdog
  int slot = g_hub_count.load();
  if (slot < kMaxHubs) {
    if (g_timeslice_ns) shots_make(h, &g_shots[slot]);  // on the hub's own OS thread
    g_hubs[slot].store(h);
    g_hub_count.store(slot + 1);
  }
  start_watchdog();
}

void preempt_forked_child(Hub* h) {
  for (auto& hub : g_hubs) hub.store(nullptr);
  for (Shots& shots : g_shots) shots = Shots{};  // a child inherits no timer
  g_hub_count.store(0);
  g_watchdog_running.store(false);
  h->watched = false;
  h->preempt_at.store(~0ull);
}

bool preempt_signal_action(int sig, const struct sigaction* act, struct sigaction* old) {
  OwnedSignal* o = owned(sig);
  if (!o) return false;
  if (old) *old = o->program;
  if (act) o->program = *act;
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
