// Thread-specific data, names and attributes of green threads. All green
// threads share one OS thread, so glibc's per-thread slots would be shared
// too: each green thread (other than the adopted main thread, which keeps
// the OS thread's own) gets its own values, destructors run when it exits.
#include <cstring>

#include "hooks/hook.h"
#include "hooks/thread_sched.h"

using namespace green;

namespace {

using Destructor = void (*)(void*);
std::atomic<Destructor> g_destructors[PTHREAD_KEYS_MAX];

// A green thread with values of its own (not the adopted main thread).
GreenThread* own_values_thread() {
  GreenThread* self = hook_self();
  return self && !self->adopted ? self : nullptr;
}

GreenThread* green_target(pthread_t thread) {
  if (!hook_self()) return nullptr;
  GreenThread* t = find_thread(thread);
  return t && !t->adopted ? t : nullptr;
}

// As glibc: up to PTHREAD_DESTRUCTOR_ITERATIONS rounds while values remain.
void run_destructors(GreenThread* t) {
  for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
    bool ran = false;
    for (size_t key = 0; key < t->specific.size(); key++) {
      void* value = t->specific[key];
      Destructor destructor = g_destructors[key].load();
      if (!value || !destructor) continue;
      t->specific[key] = nullptr;
      destructor(value);
      ran = true;
    }
    if (!ran) break;
  }
  t->specific.clear();
  t->specific.shrink_to_fit();
}

[[maybe_unused]] const bool g_registered = [] {
  g_thread_exit_hook = run_destructors;
  return true;
}();

}  // namespace

extern "C" int pthread_key_create(pthread_key_t* key, void (*destructor)(void*)) noexcept {
  // glibc hands out the key and runs destructors for native threads.
  int r = REAL(pthread_key_create)(key, destructor);
  if (r == 0 && *key < PTHREAD_KEYS_MAX) g_destructors[*key].store(destructor);
  return r;
}

extern "C" int pthread_key_delete(pthread_key_t key) noexcept {
  int r = REAL(pthread_key_delete)(key);
  if (r == 0 && key < PTHREAD_KEYS_MAX) g_destructors[key].store(nullptr);
  return r;
}

extern "C" void* pthread_getspecific(pthread_key_t key) noexcept {
  GreenThread* self = own_values_thread();
  if (!self) return REAL(pthread_getspecific)(key);
  return key < self->specific.size() ? self->specific[key] : nullptr;
}

extern "C" int pthread_setspecific(pthread_key_t key, const void* value) noexcept {
  GreenThread* self = own_values_thread();
  if (!self) return REAL(pthread_setspecific)(key, value);
  if (key >= PTHREAD_KEYS_MAX) return EINVAL;
  if (key >= self->specific.size()) self->specific.resize(key + 1, nullptr);
  self->specific[key] = const_cast<void*>(value);
  return 0;
}

extern "C" int pthread_setname_np(pthread_t thread, const char* name) noexcept {
  GreenThread* t = green_target(thread);
  if (!t) return REAL(pthread_setname_np)(thread, name);
  size_t len = strlen(name);
  if (len >= sizeof t->name) return ERANGE;
  memcpy(t->name, name, len + 1);
  return 0;
}

extern "C" int pthread_getname_np(pthread_t thread, char* buf, size_t len) noexcept {
  GreenThread* t = green_target(thread);
  if (!t) return REAL(pthread_getname_np)(thread, buf, len);
  size_t need = strlen(t->name) + 1;
  if (len < need) return ERANGE;
  memcpy(buf, t->name, need);
  return 0;
}

extern "C" int pthread_getattr_np(pthread_t thread, pthread_attr_t* attr) noexcept {
  GreenThread* t = green_target(thread);
  if (!t) return REAL(pthread_getattr_np)(thread, attr);
  pthread_attr_init(attr);
  pthread_attr_setstack(attr, const_cast<void*>(t->stack.bottom), t->stack.size);
  pthread_attr_setdetachstate(attr,
                              t->detached ? PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE);
  sched_fill_attr(t, attr);
  return 0;
}
