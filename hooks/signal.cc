// sigaction and signal: the program's handlers run as installed, through a
// wrapper that afterwards tells the hub a handled signal arrived, so the
// parked call it interrupted returns EINTR (or restarts, with SA_RESTART).
// The program always sees its own handler and flags in the old action.
#include <atomic>
#include <cstring>

#include "hooks/hook.h"
#include "hub/signal.h"

using namespace green;

namespace {

struct sigaction g_user[NSIG];  // the program's actions for wrapped signals
std::atomic<bool> g_wrapped[NSIG];

void wrapper(int sig, siginfo_t* info, void* context) {
  const struct sigaction& act = g_user[sig];
  int flags = act.sa_flags;
  auto handler = act.sa_handler;
  auto action = act.sa_sigaction;
  if (flags & SA_RESETHAND) g_wrapped[sig].store(false);  // the kernel reset it to SIG_DFL
  if (flags & SA_SIGINFO)
    action(sig, info, context);
  else
    handler(sig);
  signal_note(flags & SA_RESTART);
}

bool is_handler(const struct sigaction* act) {
  if (act->sa_flags & SA_SIGINFO) return act->sa_sigaction != nullptr;
  return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
}

}  // namespace

extern "C" int sigaction(int sig, const struct sigaction* act, struct sigaction* old) noexcept {
  if (sig <= 0 || sig >= NSIG) return REAL(sigaction)(sig, act, old);
  struct sigaction previous_user = g_user[sig];
  bool was_wrapped = g_wrapped[sig].load();
  struct sigaction kernel_old;
  int r;
  if (act && is_handler(act)) {
    struct sigaction wrapped = *act;
    wrapped.sa_flags |= SA_SIGINFO;
    wrapped.sa_sigaction = wrapper;
    g_user[sig] = *act;
    r = REAL(sigaction)(sig, &wrapped, &kernel_old);
    if (r == 0)
      g_wrapped[sig].store(true);
    else
      g_user[sig] = previous_user;
  } else {
    r = REAL(sigaction)(sig, act, &kernel_old);
    if (r == 0 && act) g_wrapped[sig].store(false);
  }
  if (r == 0 && old) {
    *old = kernel_old;
    if (was_wrapped && (kernel_old.sa_flags & SA_SIGINFO) && kernel_old.sa_sigaction == wrapper)
      *old = previous_user;
  }
  return r;
}

// glibc's signal() has BSD semantics: SA_RESTART, the signal blocked in its
// own handler.
extern "C" sighandler_t signal(int sig, sighandler_t handler) noexcept {
  struct sigaction act, old;
  memset(&act, 0, sizeof act);
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  if (sig > 0 && sig < NSIG) sigaddset(&act.sa_mask, sig);
  act.sa_flags = SA_RESTART;
  if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}
