// Wide-character stdio on stdin and stdout. Natively a standard stream has no
// orientation until its first call, and a wide call makes it wide; a green
// stream is byte-oriented from the start (fopencookie's are). So a wide call
// on a green stdin or stdout that nothing has been read from or written to
// yet first gives the stream back to glibc (hooks/stdio_std.cc), and the
// call then runs on glibc's stream, where it waits as natively: blocking
// every green thread. On a green stream already used for bytes (or any
// other green stream) a wide call fails, as on a byte-oriented stream.
#include <stdarg.h>
#include <wchar.h>

#include <type_traits>

#include "hooks/hook.h"
#include "hooks/stdio_stream.h"

using namespace green;

namespace {

// A green stream has no wide side: fopencookie leaves a poison value where
// glibc's character calls look for it. So a wide call on a green stream
// that is not given back fails at once, as a wide call on a byte-oriented
// stream fails natively: -1, WEOF or null.
template <class R>
R refused() {
  if constexpr (std::is_pointer_v<R>)
    return nullptr;
  else
    return R(-1);
}

}  // namespace

// One wide call on fp, or on glibc's stream if fp is given back.
#define WIDE(fp, call)                                      \
  FILE* wide_ = std_stream_for_wide((fp));                  \
  if (stream_find(wide_)) return refused<decltype(call)>(); \
  return call

// A variadic one, through its va_list form.
#define WIDE_VA(fp, last, call)                             \
  FILE* wide_ = std_stream_for_wide((fp));                  \
  va_list ap;                                               \
  if (stream_find(wide_)) return refused<decltype(call)>(); \
  va_start(ap, last);                                       \
  auto r_ = call;                                           \
  va_end(ap);                                               \
  return r_

extern "C" int fwide(FILE* fp, int mode) noexcept {
  if (mode == 0 && std_stream_unused(fp)) return 0;  // no orientation yet, as natively
  if (mode > 0) fp = std_stream_for_wide(fp);
  return REAL(fwide)(fp, mode);
}

// Writing.
extern "C" wint_t fputwc(wchar_t c, FILE* fp) {
  WIDE(fp, REAL(fputwc)(c, wide_));
}
extern "C" wint_t putwc(wchar_t c, FILE* fp) {
  WIDE(fp, REAL(putwc)(c, wide_));
}
extern "C" wint_t putwchar(wchar_t c) {
  WIDE(stdout, REAL(putwchar)(c));
}
extern "C" int fputws(const wchar_t* s, FILE* fp) {
  WIDE(fp, REAL(fputws)(s, wide_));
}
extern "C" int vfwprintf(FILE* fp, const wchar_t* f, va_list ap) {
  WIDE(fp, REAL(vfwprintf)(wide_, f, ap));
}
extern "C" int vwprintf(const wchar_t* f, va_list ap) {
  WIDE(stdout, REAL(vwprintf)(f, ap));
}
extern "C" int fwprintf(FILE* fp, const wchar_t* f, ...) {
  WIDE_VA(fp, f, REAL(vfwprintf)(wide_, f, ap));
}
extern "C" int wprintf(const wchar_t* f, ...) {
  WIDE_VA(stdout, f, REAL(vwprintf)(f, ap));
}
extern "C" int __vfwprintf_chk(FILE* fp, int flag, const wchar_t* f, va_list ap) {
  WIDE(fp, REAL(__vfwprintf_chk)(wide_, flag, f, ap));
}
extern "C" int __vwprintf_chk(int flag, const wchar_t* f, va_list ap) {
  WIDE(stdout, REAL(__vwprintf_chk)(flag, f, ap));
}
extern "C" int __fwprintf_chk(FILE* fp, int flag, const wchar_t* f, ...) {
  WIDE_VA(fp, f, REAL(__vfwprintf_chk)(wide_, flag, f, ap));
}
extern "C" int __wprintf_chk(int flag, const wchar_t* f, ...) {
  WIDE_VA(stdout, f, REAL(__vwprintf_chk)(flag, f, ap));
}

// Reading.
extern "C" wint_t fgetwc(FILE* fp) {
  WIDE(fp, REAL(fgetwc)(wide_));
}
extern "C" wint_t getwc(FILE* fp) {
  WIDE(fp, REAL(getwc)(wide_));
}
extern "C" wint_t getwchar() {
  WIDE(stdin, REAL(getwchar)());
}
extern "C" wint_t ungetwc(wint_t c, FILE* fp) {
  WIDE(fp, REAL(ungetwc)(c, wide_));
}
extern "C" wchar_t* fgetws(wchar_t* s, int n, FILE* fp) {
  WIDE(fp, REAL(fgetws)(s, n, wide_));
}
extern "C" wchar_t* __fgetws_chk(wchar_t* s, size_t size, int n, FILE* fp) {
  WIDE(fp, REAL(__fgetws_chk)(s, size, n, wide_));
}

// The wscanf family, defined under its symbol names as the scanf family is
// (hooks/stdio_locked.cc).
extern "C" int plain_vfwscanf(FILE* fp, const wchar_t* f, va_list ap) __asm__("vfwscanf");
extern "C" int plain_vwscanf(const wchar_t* f, va_list ap) __asm__("vwscanf");
extern "C" int plain_fwscanf(FILE* fp, const wchar_t* f, ...) __asm__("fwscanf");
extern "C" int plain_wscanf(const wchar_t* f, ...) __asm__("wscanf");
extern "C" int plain_vfwscanf(FILE* fp, const wchar_t* f, va_list ap) {
  WIDE(fp, REAL(vfwscanf)(wide_, f, ap));
}
extern "C" int plain_vwscanf(const wchar_t* f, va_list ap) {
  WIDE(stdin, REAL(vwscanf)(f, ap));
}
extern "C" int plain_fwscanf(FILE* fp, const wchar_t* f, ...) {
  WIDE_VA(fp, f, REAL(vfwscanf)(wide_, f, ap));
}
extern "C" int plain_wscanf(const wchar_t* f, ...) {
  WIDE_VA(stdin, f, REAL(vwscanf)(f, ap));
}
extern "C" int __isoc99_vfwscanf(FILE* fp, const wchar_t* f, va_list ap) {
  WIDE(fp, REAL(__isoc99_vfwscanf)(wide_, f, ap));
}
extern "C" int __isoc99_vwscanf(const wchar_t* f, va_list ap) {
  WIDE(stdin, REAL(__isoc99_vwscanf)(f, ap));
}
extern "C" int __isoc99_fwscanf(FILE* fp, const wchar_t* f, ...) {
  WIDE_VA(fp, f, REAL(__isoc99_vfwscanf)(wide_, f, ap));
}
extern "C" int __isoc99_wscanf(const wchar_t* f, ...) {
  WIDE_VA(stdin, f, REAL(__isoc99_vwscanf)(f, ap));
}
