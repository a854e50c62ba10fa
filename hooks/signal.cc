// sigaction and signal, the per-thread masks and pending sets (pthread_kill,
// raise, sigpending, pthread_sigmask, sigprocmask) and the longjmp family.
// The program's handlers run through a wrapper that runs them where the
// signal arrived when that is a green thread running the program's code
// and not blocking it; otherwise the signal is held for a green thread that
// takes it (hub/signal.h). The program always sees its own handler and
// flags in the old action.
#include <setjmp.h>
#include <ucontext.h>

#include <atomic>
#include <cstring>

#include "hooks/hook.h"
#include "hub/preempt.h"
#include "hub/signal.h"

using namespace green;

namespace {

struct sigaction g_user[NSIG];  // the program's actions for wrapped signals
std::atomic<bool> g_wrapped[NSIG];
// Held with SA_RESETHAND: the kernel has reset the action, but the handler
// still runs once, when a thread takes the signal.
std::atomic<bool> g_once[NSIG];

// A fault the kernel raised on the instruction that caused it: its handler
// must run at once, wherever it arrived (returning would fault again).
bool synchronous(int sig, const siginfo_t* info) {
  bool fault = sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
               sig == SIGTRAP || sig == SIGSYS;
  return fault && info && info->si_code > 0;
}

// A signal for the thread that caused it: a fault; one the thread sent
// itself inside libc (abort's SIGABRT, glibc's own raise: tgkill); a write
// to a broken pipe (it comes as if the process had sent it to itself). It
// goes to the running thread, or is held for it when it blocks it.
bool for_this_thread(int sig, const siginfo_t* info) {
  if (synchronous(sig, info)) return true;
  if (!info) return false;
  if (info->si_code == SI_TKILL) return true;
  return sig == SIGPIPE && info->si_code == SI_USER &&
         (info->si_pid == 0 || info->si_pid == getpid());
}

void call(const struct sigaction& act, int sig, siginfo_t* info, void* context) {
  if (act.sa_flags & SA_SIGINFO)
    act.sa_sigaction(sig, info, context);
  else
    act.sa_handler(sig);
}

void wrapper(int sig, siginfo_t* info, void* context) {
  const struct sigaction act = g_user[sig];
  if (act.sa_flags & SA_RESETHAND) g_wrapped[sig].store(false);  // the kernel reset it to SIG_DFL
  GreenThread* t = nullptr;
  if (signal_on_hub_thread()) {
    t = signal_safe_thread();
    bool own = for_this_thread(sig, info);
    GreenThread* target = own ? t : signal_process_target(t, sig);
    if (!synchronous(sig, info) &&
        (!t || target != t || (sigset_bits(t->sigmask) & sig_bit(sig)))) {
      if (act.sa_flags & SA_RESETHAND) g_once[sig].store(true);
      signal_hold(sig, info, t && own ? t : nullptr);
      return;
    }
  }
  // A time slice never switches away inside a handler (hub/preempt.h). The
  // frame tells a handler left by longjmp from one still running.
  ThreadState& state = tls;
  if (state.in_signal_handler++ == 0) state.handler_frame = __builtin_frame_address(0);
  try {
    HandlerScope scope(t, 0);  // the kernel applied the handler's mask
    call(act, sig, info, context);
    tls.in_signal_handler--;
  } catch (...) {
    tls.in_signal_handler--;
    // pthread_exit: the thread leaves for good and the kernel never restores
    // the OS thread's mask, which the other green threads share.
    if (t) {
      RuntimeScope runtime;
      apply_signal_masks(t->hub);
    }
    throw;
  }
  if (t) signal_count(t, act.sa_flags & SA_RESTART);
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

// What the default action of sig does to a process: ignore it or not.
bool ignored_by_default(int sig) {
  return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT;
}

// The program's action for sig now: its own when the wrapper stands in.
struct sigaction current_action(int sig) {
  struct sigaction current;
  kernel_sigaction(sig, nullptr, &current);
  if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == wrapper) return g_user[sig];
  return current;
}

bool ignored(const struct sigaction& act, int sig) {
  if (act.sa_flags & SA_SIGINFO) return false;
  return act.sa_handler == SIG_IGN || (act.sa_handler == SIG_DFL && ignored_by_default(sig));
}

// The default action that ends or stops the process: the kernel takes it,
// with sig let through this OS thread's mask for the moment.
void default_action(int sig) {
  sigset_t one, old;
  bits_sigset(sig_bit(sig), &one);
  RuntimeScope runtime;
  REAL(pthread_sigmask)(SIG_UNBLOCK, &one, &old);
  REAL(raise)(sig);
  REAL(pthread_sigmask)(SIG_SETMASK, &old, nullptr);
}

// Runs sig's action on t, the caller (g_handler_runner).
int run_action(GreenThread* t, int sig, const siginfo_t* info) {
  struct sigaction act = g_once[sig].exchange(false) ? g_user[sig] : current_action(sig);
  if (ignored(act, sig)) return 0;
  if (!(act.sa_flags & SA_SIGINFO) && act.sa_handler == SIG_DFL) {
    default_action(sig);
    return 0;
  }
  if ((act.sa_flags & SA_RESETHAND) && g_wrapped[sig].load()) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    kernel_sigaction(sig, &dfl, nullptr);
    g_wrapped[sig].store(false);
  }
  uint64_t block = sigset_bits(act.sa_mask) | ((act.sa_flags & SA_NODEFER) ? 0 : sig_bit(sig));
  siginfo_t copy = *info;
  ucontext_t context;
  getcontext(&context);
  {
    HandlerScope scope(t, block);
    call(act, sig, &copy, &context);
  }
  return (act.sa_flags & SA_RESTART) ? 1 : 2;
}

[[maybe_unused]] const bool g_registered = [] {
  g_handler_runner = run_action;
  return true;
}();

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
    // POSIX: ignoring a pending signal discards it.
    if (r == 0 && act && ignored(*act, sig) && hook_self()) signal_discard(sig);
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

// A signal for one green thread, as the kernel keeps it for a thread: while
// the thread blocks it, it stays pending for that thread (sigpending shows
// it); otherwise its handler runs on that thread's stack (at once when it is
// the caller) and a call it is parked in is interrupted as natively (EINTR,
// or a restart with SA_RESTART). An action that ignores it drops it, one
// that ends the process ends it at once.
extern "C" int pthread_kill(pthread_t thread, int sig) noexcept {
  GreenThread* t = hook_self() ? find_thread(thread) : nullptr;
  if (!t) return REAL(pthread_kill)(thread, sig);
  if (sig < 0 || sig >= NSIG || sig == 32 || sig == 33) return EINVAL;  // 32, 33: glibc's own
  if (finished(t)) return ESRCH;
  if (sig == 0) return 0;
  bool blocked = sigset_bits(t->sigmask) & sig_bit(sig);
  if (!blocked) {
    struct sigaction act = current_action(sig);
    if (ignored(act, sig)) return 0;
    if (!(act.sa_flags & SA_SIGINFO) && act.sa_handler == SIG_DFL) {
      default_action(sig);  // ends (or stops) the whole process, as natively
      return 0;
    }
  }
  signal_for_thread(t, sig);
  return 0;
}

extern "C" int raise(int sig) noexcept {
  if (!hook_self()) return REAL(raise)(sig);
  int err = pthread_kill(pthread_self(), sig);
  if (err == 0) return 0;
  errno = err;
  return -1;
}

extern "C" int sigpending(sigset_t* set) noexcept {
  GreenThread* self = hook_self();
  if (!self) return REAL(sigpending)(set);
  int r = REAL(sigpending)(set);  // what every green thread blocks is the kernel's
  if (r == 0) bits_sigset(sigset_bits(*set) | signal_pending(self), set);
  return r;
}

namespace {

// The caller's own mask changes; the OS thread's follows (apply_signal_masks),
// and a pending signal it no longer blocks is delivered before the call
// returns, as natively.
int set_green_mask(GreenThread* self, int how, const sigset_t* set, sigset_t* old) {
  if (set && how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK) return EINVAL;
  sigset_t previous = self->sigmask;
  if (set) {
    uint64_t mask = sigset_bits(self->sigmask), bits = sigset_bits(*set);
    mask = how == SIG_BLOCK ? mask | bits : how == SIG_UNBLOCK ? mask & ~bits : bits;
    bits_sigset(blockable(mask), &self->sigmask);
    signal_mask_changed(self);
  }
  if (old) *old = previous;
  return 0;
}

// A longjmp out of a handler: the thread leaves the handler (and the call
// it interrupted) for good. glibc restores the mask saved by sigsetjmp into
// the OS thread's mask; the thread's own mask becomes the one from before
// the handler, and the OS thread keeps the mask of every thread (the kernel
// never restores it after a handler that does not return).
void leaving_for(struct __jmp_buf_tag* env) {
  GreenThread* self = hook_self();
  if (!self) return;
  bool restore = env->__mask_was_saved, in_handler = self->handler_depth > 0;
  if (!restore && !in_handler) return;
  if (in_handler) {
    self->handler_depth = 0;
    if (restore) bits_sigset(self->handler_mask_before, &self->sigmask);
  }
  RuntimeScope runtime;
  note_signal_mask(self);
  apply_signal_masks(self->hub);
  if (restore) REAL(pthread_sigmask)(SIG_BLOCK, nullptr, &env->__saved_mask);
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

extern "C" void longjmp(struct __jmp_buf_tag env[1], int val) noexcept {
  leaving_for(env);
  REAL(longjmp)(env, val);
  __builtin_unreachable();
}

extern "C" void _longjmp(struct __jmp_buf_tag env[1], int val) noexcept {
  leaving_for(env);
  REAL(_longjmp)(env, val);
  __builtin_unreachable();
}

extern "C" void siglongjmp(struct __jmp_buf_tag env[1], int val) noexcept {
  leaving_for(env);
  REAL(siglongjmp)(env, val);
  __builtin_unreachable();
}

extern "C" void __longjmp_chk(struct __jmp_buf_tag env[1], int val) {
  leaving_for(env);
  REAL(__longjmp_chk)(env, val);
  __builtin_unreachable();
}
