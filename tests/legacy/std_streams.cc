// stdin and stdout shared by threads, as a threaded server of 2001 uses them:
// eight threads printf into stdout while it is a pipe read late, four
// threads fgets lines from stdin, iostreams and stdio mix on one stdout,
// stdout is freopen'ed onto a file and back, and a fork child flushes what
// its parent had buffered. A ticker thread proves that the waits let other
// threads run. Plain C++ and pthreads; it prints only what must be the same
// natively and under any runtime.
#include <pthread.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "legacy.h"

static std::atomic<int> ticks;
static std::atomic<bool> ticker_stop;

static void* ticker_main(void*) {
  while (!ticker_stop) {
    msleep(1);
    ticks++;
  }
  return nullptr;
}

static void ticker_verdict(const char* what, int before) {
  printf("  other threads ran while %s: %s\n", what, yes(ticks.load() - before >= 5));
}

// ---- phase 1: eight threads printf into stdout, a pipe read after 100 ms ----

enum { kWriters = 8, kLines = 2000 };

struct Drain {
  int fd;
  int next[kWriters];  // the line each writer should send next
  int whole;           // lines that arrived whole and in order
};

static void* drain_main(void* arg) {
  auto* d = static_cast<Drain*>(arg);
  msleep(100);
  FILE* in = fdopen(d->fd, "r");
  char line[128];
  while (fgets(line, sizeof line, in)) {
    int w, n;
    char tail[64];
    if (sscanf(line, "writer %d line %d %63s", &w, &n, tail) == 3 && w >= 0 && w < kWriters &&
        n == d->next[w] && strcmp(tail, "..............................") == 0) {
      d->next[w]++;
      d->whole++;
    }
  }
  fclose(in);
  return nullptr;
}

static void* writer_main(void* arg) {
  long w = (long)arg;
  for (int i = 0; i < kLines; i++)
    printf("writer %ld line %d ..............................\n", w, i);
  return nullptr;
}

static void phase_shared_stdout() {
  printf("phase 1: %d threads printf into stdout, a pipe read after 100 ms\n", kWriters);
  fflush(stdout);
  int saved = dup(1), p[2];
  if (saved < 0 || pipe(p) < 0) exit(1);
  Drain d = {p[0], {}, 0};
  pthread_t drainer, writers[kWriters];
  pthread_create(&drainer, nullptr, drain_main, &d);
  dup2(p[1], 1);
  close(p[1]);
  int before = ticks.load();
  for (long w = 0; w < kWriters; w++) pthread_create(&writers[w], nullptr, writer_main, (void*)w);
  for (auto& t : writers) pthread_join(t, nullptr);
  int fl = fflush(stdout);
  dup2(saved, 1);  // the pipe's last write end closes: the drainer sees EOF
  close(saved);
  pthread_join(drainer, nullptr);
  printf("  fflush %d; %d lines arrived whole and in order: %s\n", fl, d.whole,
         yes(d.whole == kWriters * kLines));
  ticker_verdict("printf waited for the pipe", before);
}

// ---- phase 2: iostreams and stdio on one stdout ----

static void phase_mixed() {
  printf("phase 2: cout and printf on one stdout\n");
  std::cout << "  cout 1, ";
  printf("printf 2, ");
  std::cout << "cout 3" << std::endl;
  puts("  puts 4");
  std::cout << "  cout " << 5 << '\n';
  fputs("  fputs 6\n", stdout);
  fflush(stdout);
}

// ---- phase 3: four threads fgets from stdin, a pipe written in bursts ----

enum { kReaders = 4, kInLines = 400 };

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static int seen[kInLines];

static void* stdin_writer(void* arg) {
  int fd = *static_cast<int*>(arg);
  char line[32];
  for (int i = 0; i < kInLines; i++) {
    if (i % 100 == 0) msleep(20);
    int n = snprintf(line, sizeof line, "input line %03d\n", i);
    if (write(fd, line, n) != n) exit(1);
  }
  close(fd);
  return nullptr;
}

static void* stdin_reader(void*) {
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    int n;
    char end;
    if (sscanf(line, "input line %d%c", &n, &end) == 2 && end == '\n' && n >= 0 && n < kInLines) {
      pthread_mutex_lock(&seen_lock);
      seen[n]++;
      pthread_mutex_unlock(&seen_lock);
    }
  }
  return nullptr;
}

static void phase_shared_stdin() {
  printf("phase 3: %d threads fgets from stdin, a pipe written in bursts\n", kReaders);
  int saved = dup(0), q[2];
  if (saved < 0 || pipe(q) < 0) exit(1);
  dup2(q[0], 0);
  close(q[0]);
  clearerr(stdin);
  int before = ticks.load();
  pthread_t writer, readers[kReaders];
  pthread_create(&writer, nullptr, stdin_writer, &q[1]);
  for (auto& t : readers) pthread_create(&t, nullptr, stdin_reader, nullptr);
  for (auto& t : readers) pthread_join(t, nullptr);
  pthread_join(writer, nullptr);
  int once = 0;
  for (int n : seen) once += n == 1;
  printf("  every line read whole, exactly once: %s; feof(stdin) %d\n", yes(once == kInLines),
         feof(stdin) != 0);
  ticker_verdict("fgets(stdin) waited", before);
  dup2(saved, 0);
  close(saved);
  clearerr(stdin);
}

// ---- phase 4: freopen(stdout) onto a file, then back ----

static void phase_freopen() {
  printf("phase 4: freopen(stdout) onto a file, then dup2 back\n");
  fflush(stdout);
  int saved = dup(1);
  char path[] = "/tmp/std_streams_XXXXXX";
  int fd = mkstemp(path);
  if (saved < 0 || fd < 0) exit(1);
  close(fd);
  FILE* before = stdout;
  FILE* r = freopen(path, "w", stdout);
  printf("into the file\n");
  long pos = ftell(stdout);
  int fl = fflush(stdout);
  dup2(saved, 1);
  close(saved);
  FILE* f = fopen(path, "r");
  char text[64] = "";
  if (!f || !fgets(text, sizeof text, f)) exit(1);
  fclose(f);
  unlink(path);
  printf("  freopen gave stdout back: %s, ftell %ld, fflush %d, the file holds: %s",
         yes(r == before), pos, fl, text);
  fflush(stdout);
}

// ---- phase 5: a fork child flushes its copy of the parent's buffer ----

static void phase_fork() {
  printf("phase 5: fork with output still buffered\n");
  printf("  buffered before fork\n");
  pid_t pid = fork();
  if (pid == 0) {
    printf("  in the child\n");
    exit(0);  // flushes the child's copy
  }
  int status = -1;
  waitpid(pid, &status, 0);
  printf("  after the child, which exited %d\n", WEXITSTATUS(status));
  fflush(stdout);
}

int main() {
  pthread_t ticker;
  pthread_create(&ticker, nullptr, ticker_main, nullptr);
  phase_shared_stdout();
  phase_mixed();
  phase_shared_stdin();
  phase_freopen();
  phase_fork();
  ticker_stop = true;
  pthread_join(ticker, nullptr);
  printf("done\n");
  return 0;
}
