// sigaction and signal: the program's handlers run as installed, through a
// wrapper that afterwards tells the hub a handled signal arrived, so the
// parked call it interrupted returns EINTR (or restarts, with SA_RESTART).
// The program always sees its own handler and flags in the old action.
#include <atomic>
#include <cstring>

#include "hooks/hook.h"
#include "hub/preempt.h"
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
  // A time slice never switches away inside a handler (hub/preempt.h). The
  // frame tells a handler left by longjmp from one still running.
  ThreadState& state = tls;
  if (state.in_signal_handler++ == 0) state.handler_frame = __builtin_frame_address(0);
  if (flags & SA_SIGINFO)
    action(sig, info, context);
  else
    handler(sig);
  tls.in_signal_handler--;
  signal_note(flags & SA_RESTART);
}

// The kernel's action for sig, as the program may set and see it: for the
// time-slice signal, the program's own is kept beside libgreen's handler.
int kernel_sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  if (preempt_signal_action(sig, act, old)) return 0;
  return REAL(sigaction)(sig, act, old);
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
    r = kernel_sigaction(sig, &wrapped, &kernel_old);
    if (r == 0)
      g_wrapped[sig].store(true);
    else
      g_user[sig] = previous_user;
  } else {
    r = kernel_sigaction(sig, act, &kernel_old);
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

namespace {

// Runs the handler for sig on the calling green thread, as the kernel would
// have run it on the target thread. Returns its SA_RESTART.
bool run_handler(int sig) {
  struct sigaction current;
  kernel_sigaction(sig, nullptr, &current);
  const struct sigaction& act =
      (current.sa_flags & SA_SIGINFO) && current.sa_sigaction == wrapper ? g_user[sig] : current;
  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_signo = sig;
  info.si_code = SI_TKILL;
  info.si_pid = getpid();
  info.si_uid = getuid();
  if (act.sa_flags & SA_SIGINFO)
    act.sa_sigaction(sig, &info, nullptr);
  else
    act.sa_handler(sig);
  return act.sa_flags & SA_RESTART;
}

// Counted, so that the blocking call the thread is in sees them
// (signal_since_park) even when they did not wake it.
void run_pending(GreenThread* t) {
  while (uint64_t pending = t->pending_signals) {
    int sig = __builtin_ctzll(pending);
    t->pending_signals &= ~(uint64_t(1) << sig);
    bool restart = run_handler(sig);
    t->own_signals++;
    if (!restart) t->own_no_restart = t->own_signals;
  }
}

[[maybe_unused]] const bool g_registered = [] {
  g_signal_runner = run_pending;
  return true;
}();

// What the default action of sig does to a process: ignore it or not.
bool ignored_by_default(int sig) {
  return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT;
}

}  // namespace

// A signal for one green thread: its handler runs on that thread's stack
// (at once when it is the caller), and a call it is parked in is interrupted
// as natively (EINTR, or a restart with SA_RESTART).
extern "C" int pthread_kill(pthread_t thread, int sig) noexcept {
  GreenThread* t = hook_self() ? find_thread(thread) : nullptr;
  if (!t || t->adopted) return REAL(pthread_kill)(thread, sig);
  if (sig < 0 || sig >= NSIG) return EINVAL;
  if (t->state == RunState::kFinished) return ESRCH;
  if (sig == 0) return 0;
  struct sigaction current;
  kernel_sigaction(sig, nullptr, &current);
  bool handled = (current.sa_flags & SA_SIGINFO)
                     ? current.sa_sigaction != nullptr
                     : current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN;
  if (!handled) {
    if (current.sa_handler == SIG_IGN || ignored_by_default(sig)) return 0;
    raise(sig);  // the default action ends (or stops) the whole process, as natively
    return 0;
  }
  if (t == tls.current) {
    run_handler(sig);
    return 0;
  }
  t->pending_signals |= uint64_t(1) << sig;
  bool restart = (current.sa_flags & SA_SIGINFO) && current.sa_sigaction == wrapper
                     ? (g_user[sig].sa_flags & SA_RESTART)
                     : (current.sa_flags & SA_RESTART);
  if (t->state == RunState::kParked) {
    t->signal_restart = restart;
    unpark(t, WakeReason::kSignal);
  }
  return 0;
}

namespace {

// The caller's own mask changes; the OS thread's follows (apply_signal_masks).
int set_green_mask(GreenThread* self, int how, const sigset_t* set, sigset_t* old) {
  if (set && how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK) return EINVAL;
  sigset_t previous = self->sigmask;
  if (set) {
    for (int sig = 1; sig < NSIG; sig++) {
      if (!sigismember(set, sig)) {
        if (how == SIG_SETMASK) sigdelset(&self->sigmask, sig);
        continue;
      }
      if (how == SIG_UNBLOCK)
        sigdelset(&self->sigmask, sig);
      else
        sigaddset(&self->sigmask, sig);
    }
    sigdelset(&self->sigmask, SIGKILL);  // never blocked, as the kernel says
    sigdelset(&self->sigmask, SIGSTOP);
    apply_signal_masks(self->hub);
  }
  if (old) *old = previous;
  return 0;
}

}  // namespace

// Each green thread has its own signal mask; the OS thread blocks a signal
// only while every live green thread does.
extern "C" int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) noexcept {
  GreenThread* self = hook_self();
  if (!self) return REAL(pthread_sigmask)(how, set, old);
  int saved = errno;  // glibc's sigdelset sets EINVAL for its internal signals 32 and 33
  int err = set_green_mask(self, how, set, old);
  errno = saved;
  return err;
}

extern "C" int sigprocmask(int how, const sigset_t* set, sigset_t* old) noexcept {
  GreenThread* self = hook_self();
  if (!self) return REAL(sigprocmask)(how, set, old);
  int saved = errno;  // glibc's sigdelset sets EINVAL for its internal signals 32 and 33
  int err = set_green_mask(self, how, set, old);
  errno = saved;
  if (err == 0) return 0;
  errno = err;
  return -1;
}
