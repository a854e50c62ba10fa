#include "hub/monitor.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "hub/fiber_stack.h"
#include "hub/hub.h"
#include "hub/log.h"
#include "hub/preempt.h"
#include "hub/stats.h"

namespace green {

bool g_track_states = false;

namespace {
std::atomic<bool> g_reporting{false};  // the watchdog is writing a report
std::atomic<int> g_open_stalls{0};     // reported, and not yet seen to end
}  // namespace

bool read_task_file(pid_t tid, const char* name, char* buf, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/%s", tid, name);
  FILE* f = fopen(path, "re");
  if (!f) return false;
  size_t n = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[n] = '\0';
  return true;
}

namespace {

struct SyscallName {
  int number;
  const char* name;
  bool fd;  // its first argument is a descriptor
};

// The calls a green thread can be found stuck in (x86_64 numbers).
const SyscallName kSyscalls[] = {
    {0, "read", true},
    {1, "write", true},
    {3, "close", true},
    {7, "poll", false},
    {16, "ioctl", true},
    {17, "pread64", true},
    {18, "pwrite64", true},
    {19, "readv", true},
    {20, "writev", true},
    {23, "select", false},
    {34, "pause", false},
    {35, "nanosleep", false},
    {42, "connect", true},
    {43, "accept", true},
    {44, "sendto", true},
    {45, "recvfrom", true},
    {46, "sendmsg", true},
    {47, "recvmsg", true},
    {61, "wait4", false},
    {65, "semop", false},
    {70, "msgrcv", false},
    {73, "flock", true},
    {74, "fsync", true},
    {75, "fdatasync", true},
    {128, "rt_sigtimedwait", false},
    {130, "rt_sigsuspend", false},
    {202, "futex", false},
    {230, "clock_nanosleep", false},
    {232, "epoll_wait", true},
    {247, "waitid", false},
    {257, "openat", false},
    {270, "pselect6", false},
    {271, "ppoll", false},
    {281, "epoll_pwait", true},
    {288, "accept4", true},
    {426, "io_uring_enter", true},
    {441, "epoll_pwait2", true},
};

const SyscallName* syscall_name(long number) {
  for (const SyscallName& s : kSyscalls)
    if (s.number == number) return &s;
  return nullptr;
}

// "N arg0 ..." while the thread is in system call N, else "running".
bool in_syscall(pid_t tid, long* number, long* arg0) {
  char buf[256];
  if (!read_task_file(tid, "syscall", buf, sizeof buf)) return false;
  char* end = nullptr;
  *number = strtol(buf, &end, 10);
  if (end == buf || *number < 0) return false;
  *arg0 = strtol(end, nullptr, 16);
  return true;
}

const char* thread_name(const GreenThread* t) {
  return t->name[0] ? t->name : (t->adopted ? "main" : "");
}

// What addr2line says of the frames: " function at file:line" where the
// module has debug information, else empty. One addr2line per module, not
// per frame: the report must be out before a short stall's program exits.
// Static buffers: only the watchdog's thread reports, on a small stack.
// Every captured frame is resolved, so that a deep recursion (qsort's merge
// sort on a large array is 20 frames) can be folded and the program's own
// frames under it still shown.
constexpr int kFrames = Hub::kStackFrames;
constexpr int kShownLines = 24;
char g_where[kFrames][600];
char g_function[kFrames][256];  // addr2line's function name, or empty
char g_command[16384];

void source_lines(void* const* pcs, int n) {
  Dl_info info[kFrames];
  bool known[kFrames], done[kFrames] = {};
  for (int i = 0; i < n; i++) {
    g_where[i][0] = '\0';
    g_function[i][0] = '\0';
    known[i] = dladdr(pcs[i], &info[i]) && info[i].dli_fname && info[i].dli_fname[0];
  }
  for (int i = 0; i < n; i++) {
    if (done[i] || !known[i]) continue;
    int group[kFrames], members = 0;
    size_t used =
        size_t(snprintf(g_command, sizeof g_command, "addr2line -C -f -e '%s'", info[i].dli_fname));
    for (int j = i; j < n && used + 24 < sizeof g_command; j++) {
      if (done[j] || !known[j] || info[j].dli_fbase != info[i].dli_fbase) continue;
      // A return address: the call is the instruction before it (frame 0
      // is the interrupted instruction itself).
      uintptr_t offset = uintptr_t(pcs[j]) - uintptr_t(info[j].dli_fbase) - (j ? 1 : 0);
      used += size_t(
          snprintf(g_command + used, sizeof g_command - used, " 0x%lx", (unsigned long)offset));
      group[members++] = j;
      done[j] = true;
    }
    snprintf(g_command + used, sizeof g_command - used, " 2>/dev/null");
    FILE* p = popen(g_command, "re");
    if (!p) continue;
    for (int k = 0; k < members; k++) {
      char function[256], where[300];
      if (!fgets(function, sizeof function, p) || !fgets(where, sizeof where, p)) break;
      function[strcspn(function, "\n")] = '\0';
      where[strcspn(where, "\n")] = '\0';
      if (strncmp(where, "??", 2) != 0) {
        snprintf(g_where[group[k]], sizeof g_where[0], " %s at %s", function, where);
        snprintf(g_function[group[k]], sizeof g_function[0], "%s", function);
      }
    }
    pclose(p);
  }
}

// Frames i and j are in the same function: by addr2line's name where there
// is debug information; without it only when they return to the same
// instruction (one call site calling itself). dladdr's symbol would not do:
// it is the nearest exported one, which the static functions after it share.
bool same_function(void* const* pcs, int i, int j) {
  if (g_function[i][0] || g_function[j][0]) return strcmp(g_function[i], g_function[j]) == 0;
  return pcs[i] == pcs[j];
}

void print_frame(char** symbols, int i) {
  log_line(LogLevel::kError, "monitor:   #%d %s%s", i, symbols ? symbols[i] : "?", g_where[i]);
}

// Innermost first. A run of frames in one function (a recursion) shows its
// first and last frame and one line for those between, so the frames below
// it stay within the lines shown; the last one is kept because it may be
// the library's entry point inlined into the function (qsort_r into
// msort_with_tmp).
void print_frames(void* const* pcs, char** symbols, int n) {
  int lines = 0, i = 0;
  while (i < n && lines < kShownLines) {
    int run = 1;
    while (i + run < n && same_function(pcs, i, i + run)) run++;
    if (run < 4) {
      print_frame(symbols, i++);
      lines++;
      continue;
    }
    print_frame(symbols, i);
    if (g_function[i][0])
      log_line(LogLevel::kError, "monitor:   #%d-#%d (%d more frames in %s: recursion)", i + 1,
               i + run - 2, run - 2, g_function[i]);
    else
      log_line(LogLevel::kError, "monitor:   #%d-#%d (%d more frames like it: recursion)", i + 1,
               i + run - 2, run - 2);
    print_frame(symbols, i + run - 1);
    i += run;
    lines += 3;
  }
  if (i < n) log_line(LogLevel::kError, "monitor:   (%d more frames not shown)", n - i);
}

void print_stack(Hub* h) {
  h->stack_request.store(1);
  h->preempt_at.store(~0ull);
  syscall(SYS_tgkill, getpid(), h->kernel_tid, kPreemptSignal);
  for (int i = 0; i < 200 && h->stack_request.load() != 2; i++) usleep(1000);
  if (h->stack_request.exchange(0) != 2) {
    log_line(LogLevel::kError, "monitor:   (its stack could not be captured)");
    return;
  }
  int n = std::min(h->stack_depth, kFrames);
  char** symbols = backtrace_symbols(h->stack_frames, n);
  source_lines(h->stack_frames, n);
  print_frames(h->stack_frames, symbols, n);
  free(symbols);
}

void report(Hub* h, int64_t held_ns) {
  GreenThread* t = h->running.load();
  if (!t) return;
  long number = -1, arg0 = 0;
  log_line(LogLevel::kError, "monitor: green thread %d \"%s\" has held the hub for %lld ms",
           t->tid ? t->tid : t->hub->kernel_tid, thread_name(t), (long long)(held_ns / 1000000));
  if (in_syscall(h->kernel_tid, &number, &arg0)) {
    const SyscallName* s = syscall_name(number);
    if (s && s->fd)
      log_line(LogLevel::kError, "monitor:   in the system call %s (%ld) on fd %ld", s->name,
               number, arg0);
    else
      log_line(LogLevel::kError, "monitor:   in the system call %s (%ld)", s ? s->name : "?",
               number);
    return;
  }
  log_line(LogLevel::kError, "monitor:   computing, at:");
  print_stack(h);
}

}  // namespace

// With time slices on, a thread computing in its own code is preempted
// after one slice: that is not a stall, however short GREEN_MONITOR_MS is.
// Two slices without a switch mean the slice could not end it (libc code,
// a signal handler, a system call no hook sees).
int64_t monitor_limit_ns() {
  return g_timeslice_ns ? std::max(g_monitor_ns, 2 * g_timeslice_ns) : g_monitor_ns;
}

void monitor_look(Hub* h, MonitorWatch* w, uint64_t switches, bool running, int64_t now_ns) {
  if (switches != w->switches || !running || w->since_ns == 0) {
    if (w->reported) {
      log_line(LogLevel::kError, "monitor: the hub ran again after a stall of %lld ms",
               (long long)((now_ns - w->since_ns) / 1000000));
      g_open_stalls.fetch_sub(1);
    }
    w->switches = switches;
    w->since_ns = now_ns;
    w->reported = false;
    return;
  }
  if (w->reported || now_ns - w->since_ns < monitor_limit_ns()) return;
  w->reported = true;
  g_open_stalls.fetch_add(1);
  g_reporting.store(true);
  report(h, now_ns - w->since_ns);
  g_reporting.store(false);
}

void monitor_wait_at_exit() {
  for (int i = 0; i < 2000 && g_reporting.load(); i++) usleep(1000);
  // The stall may have ended just now: the watchdog's next look says so.
  int64_t wait_ms = std::min<int64_t>(g_monitor_ns / 2000000, 100);
  for (int64_t i = 0; i < wait_ms && g_open_stalls.load() > 0; i++) usleep(1000);
}

bool monitor_capture_stack(Hub* h, void* interrupted_pc) {
  if (h->stack_request.load() != 1) return false;
  // libgcc's unwinder takes a pthread mutex (its registered-frames lock):
  // the hook must call libc, never park or take a pending time slice here,
  // with the thread stopped anywhere (inside libc, say).
  RuntimeScope runtime;
  // The interrupted instruction first, then what the unwinder finds above
  // the handler (it may stop at the signal frame).
  h->stack_frames[0] = interrupted_pc;
  void* frames[Hub::kStackFrames];
  int n = backtrace(frames, Hub::kStackFrames);
  int depth = 1;
  bool past_handler = false;
  for (int i = 0; i < n && depth < Hub::kStackFrames; i++) {
    if (frames[i] == interrupted_pc) {
      past_handler = true;
      continue;
    }
    if (past_handler) h->stack_frames[depth++] = frames[i];
  }
  h->stack_depth = depth;
  h->stack_request.store(2);
  return true;
}

namespace {

const char* state_name(const GreenThread* t) {
  switch (t->state) {
    case RunState::kReady:
      return "ready";
    case RunState::kRunning:
      return "running";
    case RunState::kParked:
      return "parked";
    case RunState::kFinished:
      return "finished, not joined";
    default:
      return "gone";
  }
}

void describe_wait(const GreenThread* t, char* out, size_t size) {
  out[0] = '\0';
  if (t->state != RunState::kParked) return;
  if (t->waiting_fd >= 0)
    snprintf(out, size, " on fd %d for %s", t->waiting_fd,
             t->waiting_events & 2 ? (t->waiting_events & 1 ? "reading and writing" : "writing")
                                   : "reading");
  else if (t->waiting_fd == -2)
    snprintf(out, size, " on several fds (poll/select)");
  else if (t->waiting_on)
    snprintf(out, size, " waiting on %s %p", t->waiting_on, t->waiting_addr);
  else if (t->deadline != kNoDeadline)
    snprintf(out, size, " sleeping, %lld ms left",
             (long long)((t->deadline - monotonic_ns()) / 1000000));
}

}  // namespace

namespace {

// What dladdr says of a return address. dladdr searches a module's symbol
// table, so 10,000 threads parked at the same few frames would pay for the
// same search many times: the last answers are kept, in a fixed table
// outside any stack (only the hub that dumps uses it).
struct Frame {
  void* pc = nullptr;
  bool found = false;
  bool skipped = false;  // the runtime's own (libgreen, Boost.Context)
  const char* module = nullptr;
  const char* symbol = nullptr;
  uintptr_t offset = 0;  // from the symbol, or from the module without one
};
constexpr size_t kFrameCache = 512;  // a power of two
Frame g_frame_cache[kFrameCache];

const Frame& frame_info(void* pc) {
  Frame& f = g_frame_cache[(uintptr_t(pc) >> 4) & (kFrameCache - 1)];
  if (f.pc == pc) return f;
  f = Frame{};
  f.pc = pc;
  Dl_info info;
  if (!dladdr(pc, &info)) return f;
  f.found = true;
  f.skipped = info.dli_fname &&
              (strstr(info.dli_fname, "libgreen.so") || strstr(info.dli_fname, "libboost_context"));
  const char* slash = info.dli_fname ? strrchr(info.dli_fname, '/') : nullptr;
  f.module = slash ? slash + 1 : (info.dli_fname ? info.dli_fname : "?");
  f.symbol = info.dli_sname;
  f.offset = uintptr_t(pc) - uintptr_t(info.dli_sname ? info.dli_saddr : info.dli_fbase);
  return f;
}

// "at f+0x12 < g+0x40 (x30) < ...": the suspended thread's frames, innermost
// first, without the runtime's own (the park that suspended it). Frames that
// return to the same instruction (a recursion) are one entry with a count,
// so that the frames under it are shown too.
void describe_stack(const GreenThread* t, char* out, size_t size) {
  out[0] = '\0';
  if (t->state == RunState::kFinished || t->state == RunState::kRunning) return;
  void* frames[64];
  int n = fiber_backtrace(t->ctx, frames, 64);
  size_t used = 0;
  int shown = 0;
  for (int i = 0; i < n && shown < 8 && used + 1 < size; i++) {
    const Frame& f = frame_info(frames[i]);
    if (!f.found || f.skipped) continue;
    int same = 1;
    while (i + same < n && frames[i + same] == frames[i]) same++;
    int w = snprintf(out + used, size - used, "%s%s+%#lx", shown ? " < " : " at ",
                     f.symbol ? f.symbol : f.module, (unsigned long)f.offset);
    if (w >= 0 && same > 1 && used + size_t(w) < size)
      w += snprintf(out + used + size_t(w), size - used - size_t(w), " (x%d)", same);
    if (w < 0) break;
    used += size_t(w);
    shown++;
    i += same - 1;
  }
  if (used >= size) out[size - 1] = '\0';
}

}  // namespace

// On the hub's stack: a fixed frame per thread listed (two line buffers,
// the unwinder's cursor), whatever the number of threads.
void dump_threads(Hub* h) {
  uint64_t now = uv_hrtime();
  log_line(LogLevel::kError, "dump: %zu green threads (%zu alive)", h->threads.size(), h->live);
  for (auto& [id, t] : h->threads) {
    char wait[128], stack[512];
    describe_wait(t, wait, sizeof wait);
    describe_stack(t, stack, sizeof stack);
    long long ms = t->state_since ? (long long)((now - t->state_since) / 1000000) : -1;
    log_line(LogLevel::kError, "dump:   thread %d \"%s\" %s%s, for %lld ms%s",
             t->tid ? t->tid : h->kernel_tid, thread_name(t), state_name(t), wait, ms, stack);
  }
  log_line(LogLevel::kError, "dump: end (%zu threads listed in %llu ms)", h->threads.size(),
           (unsigned long long)((uv_hrtime() - now) / 1000000));
  if (g_stats_enabled) stats_sample_stacks(h);
}

void on_dump_signal(int) {
  Hub* h = first_hub();
  if (!h) return;
  h->dump_requested.store(true);
  uv_async_send(&h->async);
}

}  // namespace green
