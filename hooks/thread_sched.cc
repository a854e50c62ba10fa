// pthread_getschedparam, pthread_setschedparam and pthread_setschedprio on
// green threads. Every green thread of a hub runs on one OS thread, whose
// kernel policy they share, so a green thread's policy and priority are
// bookkeeping: what it was created with (the attribute's, with
// PTHREAD_EXPLICIT_SCHED, else its creator's) or last set to, checked as
// the kernel checks them (a priority outside the policy's range is EINVAL, a
// real-time policy without the privilege EPERM). They do not change how the
// hub schedules it. The adopted main thread is a real OS thread: glibc and
// the kernel handle it.
#include "hooks/thread_sched.h"

#include <linux/capability.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <cstring>
#include <unordered_map>

#include "hooks/hook.h"
#include "hub/spin_lock.h"

using namespace green;

namespace {

struct Sched {
  int policy = SCHED_OTHER;
  int priority = 0;
  bool explicit_sched = false;  // created with PTHREAD_EXPLICIT_SCHED
};

// Only threads whose values are not the defaults have an entry; an entry is
// replaced when a new thread gets the same GreenThread address.
SpinLock g_lock;
std::unordered_map<const GreenThread*, Sched>& table() {
  static auto* t = new std::unordered_map<const GreenThread*, Sched>();  // used until exit
  return *t;
}

Sched sched_of(const GreenThread* t) {
  if (t->adopted) {  // the OS thread's own
    Sched s;
    sched_param param{};
    if (REAL(pthread_getschedparam)(t->id, &s.policy, &param) == 0)
      s.priority = param.sched_priority;
    return s;
  }
  RuntimeScope runtime;
  g_lock.lock();
  auto it = table().find(t);
  Sched s = it == table().end() ? Sched{} : it->second;
  g_lock.unlock();
  return s;
}

void set_sched(const GreenThread* t, const Sched& s) {
  RuntimeScope runtime;
  g_lock.lock();
  if (s.policy == SCHED_OTHER && s.priority == 0 && !s.explicit_sched)
    table().erase(t);
  else
    table()[t] = s;
  g_lock.unlock();
}

bool privileged_for(int priority) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (REAL(syscall)(SYS_capget, &header, data) == 0 && (data[0].effective & (1u << CAP_SYS_NICE)))
    return true;
  rlimit limit{};
  return getrlimit(RLIMIT_RTPRIO, &limit) == 0 && rlim_t(priority) <= limit.rlim_cur;
}

// What sched_setscheduler(2) says to this policy and priority.
int check(int policy, int priority) {
  switch (policy) {
    case SCHED_OTHER:
    case SCHED_BATCH:
    case SCHED_IDLE:
    case SCHED_FIFO:
    case SCHED_RR:
      break;
    default:
      return EINVAL;
  }
  if (priority < sched_get_priority_min(policy) || priority > sched_get_priority_max(policy))
    return EINVAL;
  if ((policy == SCHED_FIFO || policy == SCHED_RR) && !privileged_for(priority)) return EPERM;
  return 0;
}

bool explicit_in(const pthread_attr_t* attr) {
  int inherit = PTHREAD_INHERIT_SCHED;
  return attr && pthread_attr_getinheritsched(attr, &inherit) == 0 &&
         inherit == PTHREAD_EXPLICIT_SCHED;
}

Sched from_attr(const pthread_attr_t* attr) {
  Sched s;
  sched_param param{};
  pthread_attr_getschedpolicy(attr, &s.policy);
  pthread_attr_getschedparam(attr, &param);
  s.priority = param.sched_priority;
  s.explicit_sched = true;
  return s;
}

// The green thread `thread` names; null when it is not one.
GreenThread* green_target(pthread_t thread) {
  return hook_self() ? find_thread(thread) : nullptr;
}

bool gone(pthread_t thread) {
  return hook_self() && not_a_thread(thread);
}

}  // namespace

int green::sched_attr_check(const pthread_attr_t* attr) {
  if (!explicit_in(attr)) return 0;
  Sched s = from_attr(attr);
  return check(s.policy, s.priority);
}

void green::sched_created(GreenThread* t, const pthread_attr_t* attr) {
  Sched s = explicit_in(attr) ? from_attr(attr) : sched_of(tls.current);
  if (!explicit_in(attr)) s.explicit_sched = false;
  set_sched(t, s);
}

namespace {

// glibc's pthread_getattr_np copies the thread's policy into the attribute
// as it is, SCHED_BATCH or SCHED_IDLE too, which pthread_attr_setschedpolicy
// refuses: write it where glibc keeps it (struct pthread_attr: the
// sched_param, then the policy), once that place is checked.
constexpr size_t kAttrPolicyOffset = sizeof(sched_param);

bool policy_layout_checked() {
  static const bool ok = [] {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setschedpolicy(&attr, SCHED_RR);
    int raw = 0;
    memcpy(&raw, reinterpret_cast<const char*>(&attr) + kAttrPolicyOffset, sizeof raw);
    pthread_attr_destroy(&attr);
    return raw == SCHED_RR;
  }();
  return ok;
}

}  // namespace

void green::sched_fill_attr(GreenThread* t, pthread_attr_t* attr) {
  Sched s = sched_of(t);
  pthread_attr_setinheritsched(attr,
                               s.explicit_sched ? PTHREAD_EXPLICIT_SCHED : PTHREAD_INHERIT_SCHED);
  if (pthread_attr_setschedpolicy(attr, s.policy) != 0 && policy_layout_checked())
    memcpy(reinterpret_cast<char*>(attr) + kAttrPolicyOffset, &s.policy, sizeof s.policy);
  sched_param param{};
  param.sched_priority = s.priority;
  pthread_attr_setschedparam(attr, &param);
}

extern "C" int pthread_getschedparam(pthread_t thread, int* policy, sched_param* param) noexcept {
  GreenThread* t = green_target(thread);
  if (!t && gone(thread)) return ESRCH;
  if (!t || t->adopted) return REAL(pthread_getschedparam)(thread, policy, param);
  Sched s = sched_of(t);
  *policy = s.policy;
  *param = sched_param{};
  param->sched_priority = s.priority;
  return 0;
}

extern "C" int pthread_setschedparam(pthread_t thread, int policy,
                                     const sched_param* param) noexcept {
  GreenThread* t = green_target(thread);
  if (!t && gone(thread)) return ESRCH;
  if (!t || t->adopted) return REAL(pthread_setschedparam)(thread, policy, param);
  if (int err = check(policy, param->sched_priority)) return err;
  Sched s = sched_of(t);
  s.policy = policy;
  s.priority = param->sched_priority;
  set_sched(t, s);
  return 0;
}

extern "C" int pthread_setschedprio(pthread_t thread, int priority) noexcept {
  GreenThread* t = green_target(thread);
  if (!t && gone(thread)) return ESRCH;
  if (!t || t->adopted) return REAL(pthread_setschedprio)(thread, priority);
  Sched s = sched_of(t);
  if (int err = check(s.policy, priority)) return err;
  s.priority = priority;
  set_sched(t, s);
  return 0;
}
