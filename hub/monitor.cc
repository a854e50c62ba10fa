#include "hub/monitor.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "hub/fiber_stack.h"
#include "hub/hub.h"
#include "hub/log.h"
#include "hub/preempt.h"

namespace green {

bool g_track_states = false;

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

// A frame as addr2line sees it: "function at file:line", when the module
// has debug information; empty otherwise.
void source_line(void* pc, char* out, size_t size) {
  out[0] = '\0';
  Dl_info info;
  if (!dladdr(pc, &info) || !info.dli_fname || !info.dli_fname[0]) return;
  uintptr_t offset = uintptr_t(pc) - uintptr_t(info.dli_fbase) - 1;  // the call, not the return
  char command[1024];
  snprintf(command, sizeof command, "addr2line -C -f -e '%s' 0x%lx 2>/dev/null", info.dli_fname,
           (unsigned long)offset);
  FILE* p = popen(command, "re");
  if (!p) return;
  char function[256] = {}, where[512] = {};
  if (fgets(function, sizeof function, p) && fgets(where, sizeof where, p)) {
    function[strcspn(function, "\n")] = '\0';
    where[strcspn(where, "\n")] = '\0';
    if (strncmp(where, "??", 2) != 0) snprintf(out, size, " %s at %s", function, where);
  }
  pclose(p);
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
  char** symbols = backtrace_symbols(h->stack_frames, h->stack_depth);
  for (int i = 0; i < h->stack_depth && i < 24; i++) {
    char line[600];
    source_line(h->stack_frames[i], line, sizeof line);
    log_line(LogLevel::kError, "monitor:   #%d %s%s", i, symbols ? symbols[i] : "?", line);
  }
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

void monitor_look(Hub* h, MonitorWatch* w, uint64_t switches, bool running, int64_t now_ns) {
  if (switches != w->switches || !running || w->since_ns == 0) {
    if (w->reported)
      log_line(LogLevel::kError, "monitor: the hub ran again after a stall of %lld ms",
               (long long)((now_ns - w->since_ns) / 1000000));
    w->switches = switches;
    w->since_ns = now_ns;
    w->reported = false;
    return;
  }
  if (w->reported || now_ns - w->since_ns < g_monitor_ns) return;
  w->reported = true;
  report(h, now_ns - w->since_ns);
}

bool monitor_capture_stack(Hub* h, void* interrupted_pc) {
  if (h->stack_request.load() != 1) return false;
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

// "at f+0x12 < g+0x40 < ...": the suspended thread's frames, innermost
// first, without the runtime's own (the park that suspended it).
void describe_stack(const GreenThread* t, char* out, size_t size) {
  out[0] = '\0';
  if (t->state == RunState::kFinished || t->state == RunState::kRunning) return;
  void* frames[24];
  int n = fiber_backtrace(t->ctx, frames, 24);
  size_t used = 0;
  int shown = 0;
  for (int i = 0; i < n && shown < 8 && used + 1 < size; i++) {
    Dl_info info;
    if (!dladdr(frames[i], &info)) continue;
    if (info.dli_fname && strstr(info.dli_fname, "libgreen.so")) continue;
    if (info.dli_fname && strstr(info.dli_fname, "libboost_context")) continue;
    int w;
    if (info.dli_sname)
      w = snprintf(out + used, size - used, "%s%s+%#lx", shown ? " < " : " at ", info.dli_sname,
                   (unsigned long)(uintptr_t(frames[i]) - uintptr_t(info.dli_saddr)));
    else
      w = snprintf(out + used, size - used, "%s%s+%#lx", shown ? " < " : " at ",
                   info.dli_fname ? strrchr(info.dli_fname, '/') + 1 : "?",
                   (unsigned long)(uintptr_t(frames[i]) - uintptr_t(info.dli_fbase)));
    if (w < 0) break;
    used += size_t(w);
    shown++;
  }
  if (used >= size) out[size - 1] = '\0';
}

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
}

void on_dump_signal(int) {
  Hub* h = first_hub();
  if (!h) return;
  h->dump_requested.store(true);
  uv_async_send(&h->async);
}

}  // namespace green
