// The scheduling policy and parameters of green threads (hooks/thread_sched.cc).
#pragma once
#include <pthread.h>

namespace green {

struct GreenThread;

// pthread_create's check of an attribute asking for PTHREAD_EXPLICIT_SCHED:
// the error glibc's pthread_create gives (EINVAL, EPERM), or 0.
int sched_attr_check(const pthread_attr_t* attr);
// Records what the new green thread t was created with: the attribute's
// policy and parameters, or (PTHREAD_INHERIT_SCHED) its creator's.
void sched_created(GreenThread* t, const pthread_attr_t* attr);
// pthread_getattr_np: t's inherit-sched flag, policy and parameters.
void sched_fill_attr(GreenThread* t, pthread_attr_t* attr);

// (hooks/thread.cc) True when id is not a thread at all for a green caller:
// a green thread already joined (its memory is gone) or a value that is not
// glibc's thread descriptor either. glibc says ESRCH for such an id.
bool not_a_thread(pthread_t id);

}  // namespace green
