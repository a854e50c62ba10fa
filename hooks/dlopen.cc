// dlopen: glibc initialises the static TLS of a module it loads into every
// thread on its own lists; green threads are not on them, so the hook does
// it for their blocks (hub/tcb.h).
//
// glibc's dlopen takes its caller from its own return address: the calling
// object's RUNPATH and RPATH are searched, $ORIGIN is the caller's directory,
// the caller's namespace is used. A plain call from here would make
// libgreen the caller (the sanitizers' dlopen interceptor has this bug). So
// the real dlopen is entered with a return address inside the caller's own
// code: a `ret` byte of the caller's executable segment, which returns on
// into the trampoline below.
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

// A 0xc3 byte (ret) in the executable segment that holds pc, the nearest
// one after it.
int find_ret(dl_phdr_info* info, size_t, void* arg) {
  auto* q = static_cast<RetSearch*>(arg);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t begin = info->dlpi_addr + ph.p_vaddr, end = begin + ph.p_filesz;
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) || !(ph.p_flags & PF_R) || q->pc < begin ||
        q->pc >= end)
      continue;
    for (uintptr_t p = q->pc; p < end && !q->ret; p++)
      if (*reinterpret_cast<const unsigned char*>(p) == 0xc3) q->ret = reinterpret_cast<void*>(p);
    for (uintptr_t p = q->pc; p-- > begin && !q->ret;)
      if (*reinterpret_cast<const unsigned char*>(p) == 0xc3) q->ret = reinterpret_cast<void*>(p);
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
