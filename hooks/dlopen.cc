// dlopen: glibc initialises the static TLS of a module it loads into every
// thread on its own lists; green threads are not on them, so the hook does
// it for their blocks (hub/tcb.h).
//
// glibc's dlopen takes its caller from its own return address: the calling
// object's RUNPATH and RPATH are searched, $ORIGIN is the caller's directory,
// the caller's namespace is used. A plain call from here would make
// libgreen the caller (the sanitizers' dlopen interceptor has this bug). So
// the real dlopen is entered with a return address inside the caller's own
// code: a `ret` of the caller's executable segment, which returns on into
// the trampoline below.
#include <dlfcn.h>
#include <link.h>

#include <cstdint>

#include "hooks/hook.h"
#include "hub/tcb.h"

using namespace green;

// void* green_call_returning_via(fn, file, mode, ret): fn(file, mode) with
// ret as its return address; ret must be a `ret` instruction.
extern "C" void* green_call_returning_via(void* (*fn)(const char*, int), const char* file, int mode,
                                          const void* ret);
asm(R"(
  .text
  .globl green_call_returning_via
  .hidden green_call_returning_via
  .type green_call_returning_via, @function
green_call_returning_via:
  .cfi_startproc
  endbr64
  push %rbp
  .cfi_def_cfa_offset 16
  .cfi_offset %rbp, -16
  mov %rsp, %rbp
  .cfi_def_cfa_register %rbp
  and $-16, %rsp
  sub $8, %rsp
  lea 1f(%rip), %rax
  push %rax
  push %rcx
  mov %rdi, %rax
  mov %rsi, %rdi
  mov %edx, %esi
  jmp *%rax
1:
  mov %rbp, %rsp
  pop %rbp
  .cfi_def_cfa %rsp, 8
  ret
  .cfi_endproc
  .size green_call_returning_via, .-green_call_returning_via
)");

namespace {

struct RetSearch {
  uintptr_t pc;
  const void* ret = nullptr;
};

// A function's closing ret: a pop before it, padding or the next function's
// endbr64 after it. There the caller's unwind tables say what the
// trampoline's frame needs (CFA = rsp + 8), so an unwinder walking out of
// dlopen (a constructor's exception, a backtrace) steps through it.
bool closing_ret(const unsigned char* p, const unsigned char* begin, const unsigned char* end) {
  if (p[0] != 0xc3 || p == begin || p + 1 >= end) return false;
  bool popped = p[-1] >= 0x58 && p[-1] <= 0x5f;  // pop %rax..%rdi (and %r8..%r15 with 0x41)
  bool padded = p[1] == 0x90 || p[1] == 0x66 || p[1] == 0x0f || p[1] == 0xcc || p[1] == 0xf3;
  return popped && padded;
}

// A ret (0xc3) in the executable segment that holds pc: the nearest closing
// one after pc, else any.
int find_ret(dl_phdr_info* info, size_t, void* arg) {
  auto* q = static_cast<RetSearch*>(arg);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t begin = info->dlpi_addr + ph.p_vaddr, end = begin + ph.p_filesz;
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) || !(ph.p_flags & PF_R) || q->pc < begin ||
        q->pc >= end)
      continue;
    auto* b = reinterpret_cast<const unsigned char*>(begin);
    auto* e = reinterpret_cast<const unsigned char*>(end);
    auto* pc = reinterpret_cast<const unsigned char*>(q->pc);
    for (const unsigned char* p = pc; p < e && !q->ret; p++)
      if (closing_ret(p, b, e)) q->ret = p;
    for (const unsigned char* p = pc; p-- > b && !q->ret;)
      if (closing_ret(p, b, e)) q->ret = p;
    for (const unsigned char* p = b; p < e && !q->ret; p++)
      if (*p == 0xc3) q->ret = p;
    return 1;
  }
  return 0;
}

void* open_as(const char* file, int mode, const void* caller) {
  RetSearch q{reinterpret_cast<uintptr_t>(caller)};
  dl_iterate_phdr(find_ret, &q);
  if (!q.ret) return REAL(dlopen)(file, mode);  // no such byte: libgreen is the caller
  return green_call_returning_via(REAL(dlopen), file, mode, q.ret);
}

}  // namespace

extern "C" void* dlopen(const char* file, int mode) noexcept {
  return tcb_dlopen(open_as, file, mode, __builtin_return_address(0));
}
