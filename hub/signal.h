// Signals and parked green threads. Natively a handled signal interrupts the
// blocking call of the thread it is delivered to (the main thread, when it
// does not block the signal): the call fails with EINTR, or restarts when
// every handler that ran has SA_RESTART and the call is restartable. The
// preload's sigaction wrapper reports each handled signal here; the hub then
// interrupts the adopted (main) green thread if it is parked in an
// interruptible call that began before the signal.
#pragma once
#include <cstdint>

namespace green {

struct Hub;

// Async-signal-safe: called from the signal handler wrapper after the
// program's handler returned.
void signal_note(bool restart);
uint64_t signal_seq();

void signal_attach_hub(Hub* hub);  // the hub whose adopted thread receives signals
void deliver_signals(Hub* hub);    // on the hub, after the async wake-up

struct GreenThread;
// Whether a handled signal came for t since its current park counts from:
// one for the process when t is the adopted thread, or one of its own
// (pthread_kill). Sets t->signal_restart to whether every such handler had
// SA_RESTART.
bool signal_since_park(GreenThread* t);

}  // namespace green
