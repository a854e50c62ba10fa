// Time slices: a green thread that runs longer than GREEN_TIMESLICE without
// parking is preempted, as the kernel would deschedule a native thread.
//
// A watchdog (a real OS thread, made with the real pthread_create) looks at
// each hub's switch counter every half slice. When it has not moved for a
// whole slice while a green thread runs, and the hub's OS thread is running
// (not asleep in a system call, which a signal would only interrupt), it
// sends the hub's OS thread kPreemptSignal. The handler runs on the
// interrupted green thread's own stack and TLS and decides:
//   - the thread is in the program's own code (not libc, the loader,
//     libgreen or the libraries it is built on), outside the runtime, not
//     in one of the program's signal handlers and not in a no-preempt
//     region: it yields from the handler, so the hub runs timers, I/O and
//     the other ready threads; when it runs again the handler returns and
//     the kernel restores every register, SSE/AVX state included;
//   - otherwise the request waits for a safe point: the thread's next
//     hooked call yields first (hook_self()).
// Why switching from the handler is safe with glibc's locks: the switch
// happens only with the PC in program code, so no libc function is on the
// innermost frame: malloc's arena lock, stdio's FILE lock and the loader's
// lock are taken and released inside libc calls, which are never
// interrupted this way. A callback that libc runs with one of its locks
// held (dl_iterate_phdr's) is marked no-preempt by its hook. The signal
// mask does not change on the way in (SA_NODEFER, empty sa_mask), and on the
// way out the handler hands the kernel today's mask, so sigreturn does not
// bring back a stale one.
#pragma once
#include <signal.h>

#include <atomic>
#include <cstdint>

namespace green {

struct Hub;
struct GreenThread;

// Not SIGURG's default meaning: natively it is ignored, and a program's own
// SIGURG handler is still called (the sigaction hook keeps it).
constexpr int kPreemptSignal = 23;  // SIGURG

extern int64_t g_timeslice_ns;  // GREEN_TIMESLICE; 0: off
extern int64_t g_monitor_ns;    // GREEN_MONITOR_MS; 0: off
extern int g_dump_signal;       // GREEN_DUMP_SIGNAL; 0: off

// How the handler is installed for real (the preload's real sigaction: the
// hooked one would wrap it as a program handler).
extern int (*g_kernel_sigaction)(int, const struct sigaction*, struct sigaction*);

struct PreemptStats {
  std::atomic<uint64_t> preempted{0};  // switched away from the handler
  std::atomic<uint64_t> deferred{0};   // left to the next safe point
};
extern PreemptStats g_preempt_stats;

// Installs the handler and starts the watchdog for h, once (on the first
// green thread spawned: a single thread has nobody to yield to).
void preempt_watch(Hub* h);

// When a hub adopts its OS thread: the stack-overflow report (a SIGSEGV
// handler on an alternate stack, for faults in a green thread's guard page).
void preempt_adopted(Hub* h);

// In a forked child the watchdog thread does not exist: it is started again
// on the child's first spawn.
void preempt_forked_child(Hub* h);

// The program's own SIGURG action (the sigaction hook keeps it here instead
// of replacing libgreen's handler). Returns false when sig is not ours.
bool preempt_signal_action(int sig, const struct sigaction* act, struct sigaction* old);

// A stretch of code that must not be preempted from the handler (a libc
// callback that holds a libc lock).
struct NoPreempt {
  NoPreempt();
  ~NoPreempt();
  NoPreempt(const NoPreempt&) = delete;
  NoPreempt& operator=(const NoPreempt&) = delete;
};

}  // namespace green
