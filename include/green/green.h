// libgreen's native C++ API: green threads on the calling OS thread's hub.
// The first call from an OS thread turns it into a green thread with a hub of
// its own (under LD_PRELOAD the program's main thread is adopted the same way
// on its first hooked call). Everything here must be called from that OS thread.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>

namespace green {

struct GreenThread;

// A joinable green thread, like std::thread.
class Thread {
 public:
  Thread() = default;
  Thread(Thread&& other) noexcept : t_(other.t_) { other.t_ = nullptr; }
  Thread& operator=(Thread&& other) noexcept;
  ~Thread();  // detaches a thread that was not joined
  bool joinable() const { return t_ != nullptr; }
  void join();

 private:
  friend Thread spawn(std::function<void()>, size_t);
  explicit Thread(GreenThread* t) : t_(t) {}
  GreenThread* t_ = nullptr;
};

// Starts fn on a new green thread; it first runs when the caller parks or
// yields. stack_size 0 means the default (256 KiB). Throws std::system_error
// (EAGAIN) when no stack can be had.
Thread spawn(std::function<void()> fn, size_t stack_size = 0);

void yield();
void sleep_for(std::chrono::nanoseconds duration);

// Parks until fd is readable (writable), or the timeout passes. Returns false
// on timeout. A negative timeout waits as long as it takes.
bool wait_readable(int fd, std::chrono::nanoseconds timeout = std::chrono::nanoseconds(-1));
bool wait_writable(int fd, std::chrono::nanoseconds timeout = std::chrono::nanoseconds(-1));

// Green threads of this hub that have not finished (the adopted one included).
size_t live_threads();

}  // namespace green
