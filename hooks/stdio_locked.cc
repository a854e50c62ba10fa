// The stdio calls that can wait, or that change a stream's buffer, take the
// stream's green lock before glibc's (see hooks/stdio_stream.h for why).
// On any stream that is not green each is glibc's own call plus one lookup.
// The _unlocked calls take no lock, natively or here: their callers hold
// flockfile, which is hooked below.
#include <stdarg.h>
#include <stdio.h>

#include "hooks/hook.h"
#include "hooks/stdio_stream.h"

using namespace green;

// One stream call under fp's green lock.
#define LOCKED(fp, call)    \
  StreamGuard guard_((fp)); \
  return call

// A one-character call, which its buffer may serve without the lock.
#define LOCKED_CHAR(fp, use, call) \
  StreamGuard guard_((fp), (use)); \
  return call

// A variadic one: the same under the lock, through its va_list form.
#define LOCKED_VA(fp, last, call) \
  va_list ap;                     \
  va_start(ap, last);             \
  StreamGuard guard_((fp));       \
  auto r_ = call;                 \
  va_end(ap);                     \
  return r_

// Writing.
extern "C" int fputc(int c, FILE* fp) {
  LOCKED_CHAR(fp, Buffered::kWrite, REAL(fputc)(c, fp));
}
extern "C" int putc(int c, FILE* fp) {
  LOCKED_CHAR(fp, Buffered::kWrite, REAL(putc)(c, fp));
}
extern "C" int _IO_putc(int c, FILE* fp) {
  LOCKED_CHAR(fp, Buffered::kWrite, REAL(_IO_putc)(c, fp));
}
extern "C" int putchar(int c) {
  LOCKED_CHAR(stdout, Buffered::kWrite, REAL(putchar)(c));
}
extern "C" int fputs(const char* s, FILE* fp) {
  LOCKED(fp, REAL(fputs)(s, fp));
}
extern "C" int puts(const char* s) {
  LOCKED(stdout, REAL(puts)(s));
}
extern "C" size_t fwrite(const void* p, size_t size, size_t n, FILE* fp) {
  LOCKED(fp, REAL(fwrite)(p, size, n, fp));
}
extern "C" int vfprintf(FILE* fp, const char* f, va_list ap) {
  LOCKED(fp, REAL(vfprintf)(fp, f, ap));
}
extern "C" int vprintf(const char* f, va_list ap) {
  LOCKED(stdout, REAL(vprintf)(f, ap));
}
extern "C" int fprintf(FILE* fp, const char* f, ...) {
  LOCKED_VA(fp, f, REAL(vfprintf)(fp, f, ap));
}
extern "C" int printf(const char* f, ...) {
  LOCKED_VA(stdout, f, REAL(vprintf)(f, ap));
}
extern "C" int __vfprintf_chk(FILE* fp, int flag, const char* f, va_list ap) {
  LOCKED(fp, REAL(__vfprintf_chk)(fp, flag, f, ap));
}
extern "C" int __vprintf_chk(int flag, const char* f, va_list ap) {
  LOCKED(stdout, REAL(__vprintf_chk)(flag, f, ap));
}
extern "C" int __fprintf_chk(FILE* fp, int flag, const char* f, ...) {
  LOCKED_VA(fp, f, REAL(__vfprintf_chk)(fp, flag, f, ap));
}
extern "C" int __printf_chk(int flag, const char* f, ...) {
  LOCKED_VA(stdout, f, REAL(__vprintf_chk)(flag, f, ap));
}

extern "C" int fflush(FILE* fp) {
  if (fp) {
    LOCKED(fp, REAL(fflush)(fp));
  }
  AllStreamsGuard all;
  return REAL(fflush)(nullptr);
}

// Reading.
extern "C" int fgetc(FILE* fp) {
  LOCKED_CHAR(fp, Buffered::kRead, REAL(fgetc)(fp));
}
extern "C" int getc(FILE* fp) {
  LOCKED_CHAR(fp, Buffered::kRead, REAL(getc)(fp));
}
extern "C" int _IO_getc(FILE* fp) {
  LOCKED_CHAR(fp, Buffered::kRead, REAL(_IO_getc)(fp));
}
extern "C" int getchar() {
  LOCKED_CHAR(stdin, Buffered::kRead, REAL(getchar)());
}
extern "C" int ungetc(int c, FILE* fp) {
  LOCKED(fp, REAL(ungetc)(c, fp));
}
extern "C" char* fgets(char* s, int n, FILE* fp) {
  LOCKED(fp, REAL(fgets)(s, n, fp));
}
extern "C" char* __fgets_chk(char* s, size_t size, int n, FILE* fp) {
  LOCKED(fp, REAL(__fgets_chk)(s, size, n, fp));
}
extern "C" size_t fread(void* p, size_t size, size_t n, FILE* fp) {
  LOCKED(fp, REAL(fread)(p, size, n, fp));
}
extern "C" size_t __fread_chk(void* p, size_t len, size_t size, size_t n, FILE* fp) {
  LOCKED(fp, REAL(__fread_chk)(p, len, size, n, fp));
}
extern "C" ssize_t getdelim(char** line, size_t* n, int delim, FILE* fp) {
  LOCKED(fp, REAL(getdelim)(line, n, delim, fp));
}
extern "C" ssize_t __getdelim(char** line, size_t* n, int delim, FILE* fp) {
  LOCKED(fp, REAL(__getdelim)(line, n, delim, fp));
}
extern "C" ssize_t getline(char** line, size_t* n, FILE* fp) {
  LOCKED(fp, REAL(getline)(line, n, fp));
}
// C++ sees the plain scanf names as the C99 ones (glibc's headers redirect
// them to __isoc99_*), so the plain symbols, which programs built with
// _GNU_SOURCE call, are defined under their symbol names.
extern "C" int plain_vfscanf(FILE* fp, const char* f, va_list ap) __asm__("vfscanf");
extern "C" int plain_vscanf(const char* f, va_list ap) __asm__("vscanf");
extern "C" int plain_fscanf(FILE* fp, const char* f, ...) __asm__("fscanf");
extern "C" int plain_scanf(const char* f, ...) __asm__("scanf");
extern "C" int plain_vfscanf(FILE* fp, const char* f, va_list ap) {
  LOCKED(fp, REAL(vfscanf)(fp, f, ap));
}
extern "C" int plain_vscanf(const char* f, va_list ap) {
  LOCKED(stdin, REAL(vscanf)(f, ap));
}
extern "C" int plain_fscanf(FILE* fp, const char* f, ...) {
  LOCKED_VA(fp, f, REAL(vfscanf)(fp, f, ap));
}
extern "C" int plain_scanf(const char* f, ...) {
  LOCKED_VA(stdin, f, REAL(vscanf)(f, ap));
}
extern "C" int __isoc99_vfscanf(FILE* fp, const char* f, va_list ap) {
  LOCKED(fp, REAL(__isoc99_vfscanf)(fp, f, ap));
}
extern "C" int __isoc99_vscanf(const char* f, va_list ap) {
  LOCKED(stdin, REAL(__isoc99_vscanf)(f, ap));
}
extern "C" int __isoc99_fscanf(FILE* fp, const char* f, ...) {
  LOCKED_VA(fp, f, REAL(__isoc99_vfscanf)(fp, f, ap));
}
extern "C" int __isoc99_scanf(const char* f, ...) {
  LOCKED_VA(stdin, f, REAL(__isoc99_vscanf)(f, ap));
}

// Positioning flushes first.
extern "C" int fseek(FILE* fp, long off, int whence) {
  LOCKED(fp, REAL(fseek)(fp, off, whence));
}
extern "C" int fseeko(FILE* fp, off_t off, int whence) {
  LOCKED(fp, REAL(fseeko)(fp, off, whence));
}
extern "C" int fseeko64(FILE* fp, off64_t off, int whence) {
  LOCKED(fp, REAL(fseeko64)(fp, off, whence));
}
extern "C" void rewind(FILE* fp) {
  LOCKED(fp, REAL(rewind)(fp));
}
extern "C" int fsetpos(FILE* fp, const fpos_t* pos) {
  LOCKED(fp, REAL(fsetpos)(fp, pos));
}
extern "C" int fsetpos64(FILE* fp, const fpos64_t* pos) {
  LOCKED(fp, REAL(fsetpos64)(fp, pos));
}

// The program's own stream locks: the green lock first, held with glibc's.
extern "C" void flockfile(FILE* fp) noexcept {
  if (Stream* s = stream_find(fp)) stream_lock(s);
  REAL(flockfile)(fp);
}
extern "C" int ftrylockfile(FILE* fp) noexcept {
  Stream* s = stream_find(fp);
  if (s && !stream_trylock(s)) return 1;
  int r = REAL(ftrylockfile)(fp);
  if (r != 0 && s) stream_unlock(s);
  return r;
}
extern "C" void funlockfile(FILE* fp) noexcept {
  REAL(funlockfile)(fp);
  if (Stream* s = stream_find(fp)) stream_unlock(s);
}
