// The preload's entry point: resolve the real functions, read the GREEN_*
// configuration, then let hooks turn the main thread green on its first call.
#include <sys/single_threaded.h>

#include <pthread.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>

#include "hub/hub.h"
#include "hub/own_fds.h"
#include "hub/parking_lot.h"
#include "hub/pool.h"
#include "hub/runtime.h"
#include "hub/log.h"
#include "hub/monitor.h"
#include "hub/preempt.h"
#include "hub/stats.h"
#include "hub/tcb.h"
#include "hooks/hook.h"
#include "hooks/stdio_stream.h"
#include "preload/config.h"
#include "preload/real.h"

namespace {

const char* get_env(const char* name) {
  return getenv(name);
}

// The start-up thread also shows libgreen what a native thread's block
// holds (hub/tcb.h), so no second thread is made for that.
void* first_thread(void*) {
  if (green::g_private_tls) green::tcb_note_native_thread();
  return nullptr;
}

// glibc's first pthread_create does more than clear __libc_single_threaded:
// it installs the handler of SIGRT_1, by which setuid, setgid, setgroups and
// the rest change the credentials of every thread (the kernel keeps them per
// thread). Clearing the flag alone means that handler never comes, and the
// first set*id after the thread pool started kills the process with signal
// 33. So one real thread is created and joined, through glibc (about 50 us).
void become_multithreaded() {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN);
  pthread_t thread;
  if (REAL(pthread_create)(&thread, &attr, first_thread, nullptr) == 0)
    REAL(pthread_join)(thread, nullptr);
  pthread_attr_destroy(&attr);
  __libc_single_threaded = 0;  // in case the thread could not be created
}

// The child has one thread: the runtime's state of the others goes.
void after_fork_child() {
  green::own_fds_after_fork();
  green::parking_lot_after_fork();
  green::pool_after_fork();
}

pid_t g_started_as = 0;

// GREEN_STATS: at exit of the process that started under it (a forked
// child that exits does not write over its parent's figures).
void report_stats() {
  if (getpid() == g_started_as) green::stats_report(green::config().stats);
}

__attribute__((constructor(101))) void green_init() {
  g_started_as = getpid();
  green::real::resolve_all();
  green::Config config;
  std::string error;
  if (!green::load_config(get_env, &config, &error) ||
      !green::check_config_names(environ, &error)) {
    error += '\n';
    REAL(write)(STDERR_FILENO, error.data(), error.size());
    _exit(2);
  }
  green::set_config(config);
  green::g_deadlock_abort = config.deadlock_abort;
  green::g_pool_size = config.pool_size;
  green::g_file_io_pool = config.file_io_pool;
  green::g_timeslice_ns = int64_t(config.timeslice_ms) * 1000000;
  green::g_monitor_ns = int64_t(config.monitor_ms) * 1000000;
  green::g_dump_signal = config.dump_signal;
  green::g_stats_enabled = config.stats[0] != '\0';
  green::g_log_level = green::LogLevel(config.log_level);
  green::g_kernel_sigaction = REAL(sigaction);
  if (!config.shared_tls) {
    const char* why = nullptr;
    if (!green::tcb_init(&why)) {
      std::string line = std::string("libgreen: GREEN_TLS=private is not possible here: ") + why +
                         " (GREEN_TLS=shared runs with shared thread-local storage)\n";
      REAL(write)(STDERR_FILENO, line.data(), line.size());
      _exit(2);
    }
    green::g_private_tls = true;
  }
  // glibc believes a process is single-threaded until its own pthread_create
  // runs, which under libgreen it never does; libstdc++ then skips locking
  // and treats a static initialiser in progress as recursion. Green threads
  // interleave: tell libraries the truth, the way glibc learns it.
  become_multithreaded();
  green::g_adopt_main_thread = true;
  // Registered before the program's own exit handlers, so they run after them.
  if (config.stats[0]) atexit(report_stats);
  if (config.monitor_ms) atexit(green::monitor_wait_at_exit);
  atexit(green::hold_streams_at_exit);
  // In every forked child, ours or glibc's own (daemon()), before libuv's
  // child handler (registered at the first loop) and the program's.
  pthread_atfork(nullptr, nullptr, after_fork_child);
  green::std_streams_start();
}

}  // namespace
