#include "hub/fiber_stack.h"

#include <dlfcn.h>
#include <ucontext.h>

#include <cstdint>
#include <cstring>

namespace green {
namespace {

// libunwind's local-unwinding entry points (x86_64). A cursor is 127 words
// (UNW_TDEP_CURSOR_LEN) and the context a ucontext_t.
struct Cursor {
  uint64_t opaque[127];
};
constexpr int kRegIp = 16;  // UNW_REG_IP (UNW_X86_64_RIP)

struct Libunwind {
  int (*init_local)(Cursor*, ucontext_t*) = nullptr;
  int (*step)(Cursor*) = nullptr;
  int (*get_reg)(Cursor*, int, uint64_t*) = nullptr;
  bool tried = false;
};
Libunwind g_unw;

bool load_libunwind() {
  if (!g_unw.tried) {
    g_unw.tried = true;
    void* lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (lib) {
      g_unw.init_local =
          reinterpret_cast<decltype(g_unw.init_local)>(dlsym(lib, "_ULx86_64_init_local"));
      g_unw.step = reinterpret_cast<decltype(g_unw.step)>(dlsym(lib, "_ULx86_64_step"));
      g_unw.get_reg = reinterpret_cast<decltype(g_unw.get_reg)>(dlsym(lib, "_ULx86_64_get_reg"));
    }
  }
  return g_unw.init_local && g_unw.step && g_unw.get_reg;
}

// Boost 1.74's jump_fcontext (x86_64 SysV) leaves, at the suspended
// context's address: the MXCSR and x87 control words, r12, r13, r14, r15,
// rbx, rbp, then the return address; the stack pointer after its return
// is 0x40 above.
struct SavedFrame {
  uint32_t mxcsr, x87cw;
  uint64_t r12, r13, r14, r15, rbx, rbp, rip;
};

}  // namespace

int fiber_backtrace(const boost::context::fiber& fiber, void** frames, int max) {
  static_assert(sizeof(boost::context::fiber) == sizeof(void*), "a fiber is its fcontext_t");
  void* fctx;
  memcpy(&fctx, &fiber, sizeof fctx);
  if (!fctx || !load_libunwind()) return 0;
  const auto* saved = static_cast<const SavedFrame*>(fctx);
  ucontext_t uc;
  memset(&uc, 0, sizeof uc);
  greg_t* r = uc.uc_mcontext.gregs;
  r[REG_R12] = greg_t(saved->r12);
  r[REG_R13] = greg_t(saved->r13);
  r[REG_R14] = greg_t(saved->r14);
  r[REG_R15] = greg_t(saved->r15);
  r[REG_RBX] = greg_t(saved->rbx);
  r[REG_RBP] = greg_t(saved->rbp);
  r[REG_RIP] = greg_t(saved->rip);
  r[REG_RSP] = greg_t(uintptr_t(fctx) + 0x40);
  Cursor cursor;
  if (g_unw.init_local(&cursor, &uc) != 0) return 0;
  int n = 0;
  do {
    uint64_t ip = 0;
    if (g_unw.get_reg(&cursor, kRegIp, &ip) != 0 || ip == 0) break;
    frames[n++] = reinterpret_cast<void*>(ip);
  } while (n < max && g_unw.step(&cursor) > 0);
  return n;
}

}  // namespace green
