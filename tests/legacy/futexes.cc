// Futexes reached through libc's syscall(), as hand-written locks do and as
// the C++ runtime itself does (libstdc++'s std::atomic<T>::wait, std::latch,
// std::counting_semaphore and the guards of function-local statics all call
// syscall(SYS_futex, ...)). It knows nothing of libgreen.
//
// A ticker thread counts 10 ms sleeps throughout: where a call blocks, the
// program says whether the ticker advanced meanwhile (natively it does, with
// real threads; a green runtime must keep running the other threads).
//
// Phase 1: FUTEX_WAIT/FUTEX_WAKE, private and shared, and the _BITSET forms
//          (a wake with a disjoint bitset wakes nobody); timeouts, relative
//          and absolute on both clocks (ETIMEDOUT); a changed value (EAGAIN);
//          bad arguments (EINVAL, ENOSYS, EFAULT); other syscall numbers pass
//          through unchanged.
// Phase 2: 100 threads wait on one futex word ("ready" is printed while they
//          all wait): FUTEX_WAKE of 3 wakes 3, then the rest.
// Phase 3: std::atomic<int>::wait/notify_one/notify_all, atomic_flag,
//          std::latch, std::binary_semaphore (with a timed acquire) and a
//          1,000-round ping-pong between two threads.
// Phase 4: function-local statics: the initialiser blocks reading a pipe
//          that another thread writes 150 ms later while 10 threads want the
//          same static; an initialiser that throws once is run again by the
//          next caller.
// Output is deterministic: counts, errno names and verdicts.
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "legacy.h"

namespace {

constexpr long long kMs = 1000000LL;

long long now_ns(clockid_t clock = CLOCK_MONOTONIC) {
  timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void msleep(long ms) {
  timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

const char* yes(bool ok) {
  return ok ? "yes" : "NO";
}

// ---- the ticker ----

std::atomic<int> ticks{0};
std::atomic<bool> ticker_stop{false};

void ticker_main() {
  for (int i = 0; i < 3000 && !ticker_stop.load(); i++) {
    msleep(10);
    ticks.fetch_add(1);
  }
}

void ticker_verdict(const char* what, int before, int at_least) {
  printf("  ticker advanced while %s: %s\n", what, yes(ticks.load() - before >= at_least));
}

// ---- raw futexes ----

long futex(void* addr, int op, uint32_t val, const timespec* ts = nullptr, uint32_t val3 = 0) {
  return syscall(SYS_futex, addr, op, val, ts, nullptr, val3);
}

struct Outcome {
  long ret = -2;
  int err = 0;
  long long took = 0;
};

// Waits on word (expected 0) with op and bitset on its own thread.
std::thread waiter(uint32_t* word, int op, uint32_t bitset, Outcome* out) {
  return std::thread([=] {
    long long t0 = now_ns();
    errno = 0;
    out->ret = futex(word, op, 0, nullptr, bitset);
    out->err = errno;
    out->took = now_ns() - t0;
  });
}

void phase_raw() {
  printf("phase 1: raw futexes through syscall()\n");
  struct Kind {
    const char* name;
    int wait, wake;
  } kinds[] = {
      {"FUTEX_WAIT_PRIVATE/FUTEX_WAKE_PRIVATE", FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE},
      {"FUTEX_WAIT/FUTEX_WAKE (shared)", FUTEX_WAIT, FUTEX_WAKE},
      {"FUTEX_WAIT_BITSET_PRIVATE/FUTEX_WAKE_BITSET_PRIVATE", FUTEX_WAIT_BITSET_PRIVATE,
       FUTEX_WAKE_BITSET_PRIVATE},
      {"FUTEX_WAIT_BITSET/FUTEX_WAKE_BITSET (shared)", FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET},
  };
  for (const Kind& k : kinds) {
    alignas(4) static uint32_t word;
    word = 0;
    Outcome o;
    int before = ticks.load();
    std::thread t = waiter(&word, k.wait, 0x1, &o);
    msleep(100);
    long other = 0;
    bool bitset = k.wake == FUTEX_WAKE_BITSET_PRIVATE || k.wake == FUTEX_WAKE_BITSET;
    if (bitset) other = futex(&word, k.wake, INT_MAX, nullptr, 0x2);  // a disjoint bitset
    __atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
    long woke = futex(&word, k.wake, INT_MAX, nullptr, 0x1);
    t.join();
    if (bitset)
      printf(
          "  %s: wake with a disjoint bitset woke %ld, the matching one %ld; the waiter got %ld "
          "%s\n",
          k.name, other, woke, o.ret, errname(o.ret < 0 ? o.err : 0));
    else
      printf("  %s: wake woke %ld; the waiter got %ld %s\n", k.name, woke, o.ret,
             errname(o.ret < 0 ? o.err : 0));
    ticker_verdict("the waiter was parked", before, 5);
  }

  alignas(4) static uint32_t word = 7;
  errno = 0;
  long r = futex(&word, FUTEX_WAIT_PRIVATE, 8);
  printf("  FUTEX_WAIT when the value differs: %ld %s\n", r, errname(errno));
  printf("  FUTEX_WAKE with nobody waiting: %ld\n", futex(&word, FUTEX_WAKE_PRIVATE, 1));

  timespec rel = {0, 100 * kMs};
  int before = ticks.load();
  long long t0 = now_ns();
  errno = 0;
  r = futex(&word, FUTEX_WAIT_PRIVATE, 7, &rel);
  int e = errno;
  long long took = now_ns() - t0;
  printf("  FUTEX_WAIT with a 100 ms timeout: %ld %s, after 100 ms: %s\n", r, errname(e),
         yes(took >= 100 * kMs && took < 2000 * kMs));
  ticker_verdict("FUTEX_WAIT timed out", before, 5);
  for (int realtime = 0; realtime < 2; realtime++) {
    clockid_t clock = realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC;
    long long at = now_ns(clock) + 100 * kMs;
    timespec abs = {static_cast<time_t>(at / 1000000000LL), static_cast<long>(at % 1000000000LL)};
    errno = 0;
    r = futex(&word, FUTEX_WAIT_BITSET_PRIVATE | (realtime ? FUTEX_CLOCK_REALTIME : 0), 7, &abs,
              FUTEX_BITSET_MATCH_ANY);
    e = errno;
    printf("  FUTEX_WAIT_BITSET until %s + 100 ms: %ld %s, not before then: %s\n",
           realtime ? "CLOCK_REALTIME" : "CLOCK_MONOTONIC", r, errname(e),
           yes(now_ns(clock) >= at));
  }

  // bad arguments
  alignas(8) static char raw[8];
  errno = 0;
  r = futex(raw + 1, FUTEX_WAIT_PRIVATE, 0);
  printf("  FUTEX_WAIT on a misaligned address: %ld %s\n", r, errname(errno));
  errno = 0;
  r = futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 7, nullptr, 0);
  printf("  FUTEX_WAIT_BITSET with bitset 0: %ld %s\n", r, errname(errno));
  timespec bad = {0, 2000000000L};
  errno = 0;
  r = futex(&word, FUTEX_WAIT_PRIVATE, 7, &bad);
  printf("  FUTEX_WAIT with tv_nsec 2e9: %ld %s\n", r, errname(errno));
  errno = 0;
  r = futex(&word, 99, 0);
  printf("  futex op 99: %ld %s\n", r, errname(errno));
  errno = 0;
  r = futex(nullptr, FUTEX_WAIT_PRIVATE, 0);
  printf("  FUTEX_WAIT on NULL: %ld %s\n", r, errname(errno));

  // other system calls pass through
  int p[2];
  if (pipe(p) < 0) return;
  long w = syscall(SYS_write, p[1], "abc", 3);
  char buf[8] = "";
  long rd = syscall(SYS_read, p[0], buf, sizeof buf);
  printf("  syscall(SYS_write) %ld, syscall(SYS_read) %ld \"%.*s\"\n", w, rd, (int)rd, buf);
  printf("  syscall(SYS_getpid) is getpid(): %s, syscall(SYS_getppid) is getppid(): %s\n",
         yes(syscall(SYS_getpid) == getpid()), yes(syscall(SYS_getppid) == getppid()));
  errno = 0;
  r = syscall(SYS_close, 999);
  printf("  syscall(SYS_close, 999): %ld %s\n", r, errname(errno));
  close(p[0]);
  close(p[1]);
}

// ---- many waiters on one word ----

constexpr int kWaiters = 100;

void phase_many() {
  printf("phase 2: %d threads wait on one futex word\n", kWaiters);
  alignas(4) static uint32_t word = 0;
  std::atomic<int> arrived{0}, woke{0}, odd{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWaiters; i++)
    threads.emplace_back([&] {
      arrived.fetch_add(1);
      long r = futex(&word, FUTEX_WAIT_PRIVATE, 0);
      if (r != 0) odd.fetch_add(1);
      woke.fetch_add(1);
    });
  for (int i = 0; i < 300 && arrived.load() < kWaiters; i++) msleep(10);
  msleep(100);  // let the last ones reach FUTEX_WAIT
  printf("ready\n");
  fflush(stdout);
  long first = futex(&word, FUTEX_WAKE_PRIVATE, 3);
  msleep(100);
  int after_first = woke.load();
  long rest = futex(&word, FUTEX_WAKE_PRIVATE, INT_MAX);
  for (auto& t : threads) t.join();
  printf(
      "  FUTEX_WAKE(3) woke %ld (%d ran), FUTEX_WAKE(INT_MAX) woke %ld; %d returned other than 0\n",
      first, after_first, rest, odd.load());
}

// ---- the C++ library's waits ----

void phase_atomic() {
  printf("phase 3: std::atomic wait/notify, atomic_flag, latch, semaphore\n");
  std::atomic<int> a{0};
  int before = ticks.load();
  long long took = 0;
  std::thread t([&] {
    long long t0 = now_ns();
    a.wait(0);
    took = now_ns() - t0;
  });
  msleep(100);
  a.store(1);
  a.notify_one();
  t.join();
  printf("  atomic<int>::wait woken by notify_one 100 ms later: %s\n", yes(took >= 90 * kMs));
  ticker_verdict("atomic<int>::wait blocked", before, 5);

  std::atomic<int> gate{0};
  std::atomic<int> through{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 10; i++)
    ts.emplace_back([&] {
      gate.wait(0);
      through.fetch_add(1);
    });
  msleep(100);
  int early = through.load();
  gate.store(1);
  gate.notify_all();
  for (auto& x : ts) x.join();
  printf("  10 threads in atomic<int>::wait: %d through before notify_all, %d after\n", early,
         through.load());

  std::atomic_flag flag;
  before = ticks.load();
  std::thread tf([&] { flag.wait(false); });
  msleep(100);
  flag.test_and_set();
  flag.notify_one();
  tf.join();
  ticker_verdict("atomic_flag::wait blocked", before, 5);

  std::latch latch(5);
  std::atomic<int> passed{0};
  ts.clear();
  for (int i = 0; i < 4; i++)
    ts.emplace_back([&] {
      latch.arrive_and_wait();
      passed.fetch_add(1);
    });
  msleep(100);
  int early_latch = passed.load();
  latch.arrive_and_wait();
  for (auto& x : ts) x.join();
  printf("  std::latch(5): %d passed before the fifth arrived, %d after\n", early_latch,
         passed.load());

  std::binary_semaphore sem(0);
  before = ticks.load();
  long long t0 = now_ns();
  bool got = sem.try_acquire_for(std::chrono::milliseconds(100));
  took = now_ns() - t0;
  printf(
      "  binary_semaphore::try_acquire_for(100 ms) with nobody releasing: %s, after 100 ms: %s\n",
      got ? "ACQUIRED" : "false", yes(took >= 100 * kMs));
  ticker_verdict("try_acquire_for waited", before, 5);
  std::thread tr([&] {
    msleep(100);
    sem.release();
  });
  t0 = now_ns();
  sem.acquire();
  took = now_ns() - t0;
  tr.join();
  printf("  binary_semaphore::acquire released 100 ms later: %s\n", yes(took >= 90 * kMs));

  // ping-pong: each side waits for the other's value
  std::atomic<int> ball{0};
  constexpr int kRounds = 1000;
  std::thread pong([&] {
    for (int i = 0; i < kRounds; i++) {
      ball.wait(2 * i);
      ball.store(2 * i + 2);
      ball.notify_one();
    }
  });
  for (int i = 0; i < kRounds; i++) {
    ball.store(2 * i + 1);
    ball.notify_one();
    ball.wait(2 * i + 1);
  }
  pong.join();
  printf("  ping-pong of %d rounds through atomic<int>::wait: final value %d\n", kRounds,
         ball.load());
}

// ---- function-local statics ----

int config_pipe[2];
std::atomic<int> config_inits{0};

struct Config {
  std::string value;
  Config() {
    config_inits.fetch_add(1);
    char buf[64];
    ssize_t n = read(config_pipe[0], buf, sizeof buf);  // blocks until the writer comes
    value.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
  }
};

const Config& config() {
  static Config c;
  return c;
}

std::atomic<int> flaky_attempts{0};

struct Flaky {
  int value;
  Flaky() {
    int attempt = flaky_attempts.fetch_add(1);
    msleep(100);
    if (attempt == 0) throw std::runtime_error("first attempt fails");
    value = 42;
  }
};

const Flaky& flaky() {
  static Flaky f;
  return f;
}

void phase_statics() {
  printf("phase 4: function-local statics whose initialiser blocks\n");
  if (pipe(config_pipe) < 0) return;
  std::vector<std::thread> ts;
  std::vector<std::string> seen(10);
  int before = ticks.load();
  for (int i = 0; i < 10; i++) ts.emplace_back([&, i] { seen[i] = config().value; });
  msleep(150);
  write(config_pipe[1], "from the pipe", 13);
  for (auto& t : ts) t.join();
  int same = 0;
  for (auto& s : seen) same += s == "from the pipe";
  printf("  10 threads got the static: %d saw \"from the pipe\", the initialiser ran %d time(s)\n",
         same, config_inits.load());
  ticker_verdict("the initialiser blocked in read()", before, 10);

  std::atomic<int> ok{0}, threw{0};
  ts.clear();
  for (int i = 0; i < 5; i++)
    ts.emplace_back([&] {
      try {
        if (flaky().value == 42) ok.fetch_add(1);
      } catch (const std::exception&) {
        threw.fetch_add(1);
      }
    });
  for (auto& t : ts) t.join();
  printf("  an initialiser that throws once: %d threw, %d got the value, %d attempts\n",
         threw.load(), ok.load(), flaky_attempts.load());
  close(config_pipe[0]);
  close(config_pipe[1]);
}

}  // namespace

int main() {
  std::thread ticker(ticker_main);
  phase_raw();
  phase_many();
  phase_atomic();
  phase_statics();
  ticker_stop.store(true);
  ticker.join();
  printf("done\n");
  return 0;
}
