// Seeing inside the hub: the blocking monitor (GREEN_MONITOR_MS) and the
// green-thread dump (GREEN_DUMP_SIGNAL).
//
// The monitor runs on the watchdog's OS thread (hub/preempt.cc). When one
// green thread has held a hub longer than GREEN_MONITOR_MS it reports, once
// per stall: which thread, for how long, and what it is doing: the system
// call its OS thread is in (/proc/self/task/TID/syscall: name, number, fd),
// or, when it computes, its stack, captured on the hub's thread by a signal
// and symbolized (file:line through addr2line where debug information
// exists). When the stall ends it says how long it lasted.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace green {

struct Hub;

extern bool g_track_states;  // the dump is on: threads note when their state changed

// /proc/self/task/TID/NAME into buf (NUL-terminated); false when unreadable.
bool read_task_file(pid_t tid, const char* name, char* buf, size_t size);

struct MonitorWatch {
  uint64_t switches = 0;
  int64_t since_ns = 0;  // when the hub last switched (or went idle)
  bool reported = false;
};

// How long a green thread must hold the hub to be reported: GREEN_MONITOR_MS,
// and with time slices on at least two slices.
int64_t monitor_limit_ns();

// One look at h by the watchdog at time now_ns (CLOCK_MONOTONIC).
void monitor_look(Hub* h, MonitorWatch* w, uint64_t switches, bool running, int64_t now_ns);

// At exit (GREEN_MONITOR_MS): a report being written is finished first, for
// at most 2 s, and a reported stall gets up to 100 ms to be seen to end: the
// stall that ends just before the program does is the one the user asked
// about, and its stack takes addr2line a moment.
void monitor_wait_at_exit();

// In the time-slice signal's handler, on the hub's thread: a stack the
// monitor asked for. True when that is what the signal was for.
bool monitor_capture_stack(Hub* h, void* interrupted_pc);

// On the hub (its async callback): the dump the signal asked for.
void dump_threads(Hub* h);

// The dump signal's handler (any thread may take a process-directed one).
void on_dump_signal(int sig);

}  // namespace green
