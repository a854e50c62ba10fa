/* Counting one's open descriptors as a leak check or a test harness does
 * (CPython's fd_status.py, a daemon's sanity check): fstat of every number,
 * and the *at calls on a directory fd. A program sees exactly the
 * descriptors it opened, also when it runs with a RLIMIT_NOFILE lowered
 * below descriptors it inherited. It knows nothing of libgreen.
 *
 * stat:    the fds 0..RLIMIT_NOFILE that fstat, fstatat(AT_EMPTY_PATH),
 *          statx(AT_EMPTY_PATH) and fstatat(fd, ".") see: 0-2 and the
 *          program's own three, while threads run.
 * listing: the fds a listing of /proc/self/fd, /dev/fd and /proc/PID/fd
 *          (opendir, and fdopendir) names: the same, the listing's own
 *          fd among them.
 * lowered: 40 fds opened, the 14 lowest of them closed, RLIMIT_NOFILE
 *          lowered to 29 (below the highest), then a child exec'd: it
 *          lists what fstat sees of 0..highest (the 26 inherited, and
 *          nothing else), opens two files (fds 3 and 4, the lowest free),
 *          then forks a grandchild that closes every fd from 3
 *          (close_range, or a close loop to the highest inherited) and
 *          execs a lister: only 0, 1 and 2.
 * raw:     syscall(SYS_close_range, 3, ~0U, 0), as programs from before
 *          glibc's wrapper close every fd: then a thread's sleep and a pipe
 *          between threads still work.
 * Output is deterministic: fd lists and verdicts. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "legacy.h"

static const char* self_path;

/* The fds in [0, last] that the probe says are open, as "0,1,2,...". */
static void list_open(const char* what, int last, int (*probe)(int)) {
  char line[4096];
  size_t n = 0;
  line[0] = 0;
  for (int fd = 0; fd <= last && n + 16 < sizeof line; fd++)
    if (probe(fd)) n += (size_t)snprintf(line + n, sizeof line - n, "%s%d", n ? "," : "", fd);
  printf("  %s: %s\n", what, line);
}

static int by_fstat(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 || errno != EBADF;
}

static int by_fstatat_empty(int fd) {
  struct stat st;
  return fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 || errno != EBADF;
}

static int by_statx_empty(int fd) {
  struct statx st;
  return statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &st) == 0 || errno != EBADF;
}

/* "." relative to a non-directory gives ENOTDIR, to one never opened EBADF. */
static int by_fstatat_dot(int fd) {
  struct stat st;
  return fstatat(fd, ".", &st, 0) == 0 || errno != EBADF;
}

static void* sleeper(void* arg) {
  (void)arg;
  msleep(200);
  return NULL;
}

static void phase_stat(void) {
  printf("stat\n");
  pthread_t t;
  pthread_create(&t, NULL, sleeper, NULL);
  int p[2];
  if (pipe(p) != 0) return;
  int dir = open("/", O_RDONLY | O_DIRECTORY);
  int last = fd_limit() - 1;
  list_open("fstat", last, by_fstat);
  list_open("fstatat(AT_EMPTY_PATH)", last, by_fstatat_empty);
  list_open("statx(AT_EMPTY_PATH)", last, by_statx_empty);
  list_open("fstatat(fd, \".\")", last, by_fstatat_dot);
  struct stat st;
  printf("  fstatat(AT_FDCWD, \".\"): %d\n", fstatat(AT_FDCWD, ".", &st, 0));
  printf("  fstatat of an absolute path on fd 99999: %d\n", fstatat(99999, "/", &st, 0));
  pthread_join(t, NULL);
  close(p[0]);
  close(p[1]);
  close(dir);
}

/* ---- listing ---- */

static int cmp_int(const void* a, const void* b) {
  return *(const int*)a - *(const int*)b;
}

/* One entry of a listing into fds (numbers only); 0 at the end. */
static int next_fd_entry(DIR* dir, int* fds, int* n) {
  struct dirent* d = readdir(dir);
  if (!d) return 0;
  if (d->d_name[0] >= '0' && d->d_name[0] <= '9' && *n < 256) fds[(*n)++] = atoi(d->d_name);
  return 1;
}

static void list_dir(const char* what, DIR* dir) {
  int fds[256], n = 0;
  if (!dir) {
    printf("  %s: cannot open (%s)\n", what, errname(errno));
    return;
  }
  while (next_fd_entry(dir, fds, &n)) {
  }
  closedir(dir);
  qsort(fds, (size_t)n, sizeof fds[0], cmp_int);
  printf("  %s:", what);
  for (int i = 0; i < n; i++) printf("%s%d", i ? "," : " ", fds[i]);
  printf("\n");
}

static void phase_listing(void) {
  printf("listing\n");
  int p[2];
  if (pipe(p) != 0) return;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", (int)getpid());
  list_dir("/proc/self/fd", opendir("/proc/self/fd"));
  list_dir("/dev/fd", opendir("/dev/fd"));
  list_dir("/proc/PID/fd", opendir(path));
  list_dir("fdopendir(/proc/self/fd)", fdopendir(open("/proc/self/fd", O_RDONLY | O_DIRECTORY)));
  close(p[0]);
  close(p[1]);
  close(s);
}

/* ---- lowered ---- */

static int fstat_lister(int last) {
  printf("  grandchild (close-all, exec'd) sees: ");
  fflush(stdout);
  char arg[16];
  snprintf(arg, sizeof arg, "%d", last);
  execl(self_path, self_path, "list", arg, (char*)NULL);
  _exit(127);
}

static void lowered_child(int last) {
  list_open("child (limit 29) sees", last, by_fstat);
  int a = open("/dev/null", O_RDONLY), b = open("/dev/null", O_RDONLY);
  printf("  child's first new fds: %d and %d\n", a, b);
  close(a);
  close(b);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    /* close-all as CPython's close_fds and most daemons do it */
    if (close_range(3, ~0U, 0) != 0)
      for (int fd = 3; fd <= last; fd++) close(fd);
    fstat_lister(last);
  }
  int status;
  waitpid(pid, &status, 0);
  printf("  grandchild exit status: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void phase_lowered(void) {
  printf("lowered\n");
  int fds[40], n = 0;
  for (int i = 0; i < 40; i++) fds[n++] = open("/dev/null", O_RDONLY);
  for (int i = 0; i < 14; i++) close(fds[i]); /* the lowest ones, opened first */
  int last = fds[39];
  printf("  inherited: %d fds, %d..%d\n", 26, fds[14], last);
  struct rlimit rl, low;
  getrlimit(RLIMIT_NOFILE, &rl);
  low = rl;
  low.rlim_cur = 29;
  if (setrlimit(RLIMIT_NOFILE, &low) != 0) return;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    char arg[16];
    snprintf(arg, sizeof arg, "%d", last);
    execl(self_path, self_path, "lowered-child", arg, (char*)NULL);
    _exit(127);
  }
  setrlimit(RLIMIT_NOFILE, &rl);
  int status;
  waitpid(pid, &status, 0);
  printf("  child exit status: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  for (int i = 14; i < 40; i++) close(fds[i]);
}

static void list_main(int last) {
  char line[4096];
  size_t n = 0;
  line[0] = 0;
  for (int fd = 0; fd <= last && n + 16 < sizeof line; fd++)
    if (by_fstat(fd)) n += (size_t)snprintf(line + n, sizeof line - n, "%s%d", n ? "," : "", fd);
  printf("%s\n", line);
}

/* ---- raw ---- */

static int raw_pipe[2];

static void* sleep_then_write(void* arg) {
  (void)arg;
  msleep(5);
  return (void*)(long)(write(raw_pipe[1], "x", 1) == 1);
}

static void phase_raw(void) {
  printf("raw\n");
  int s = socket(AF_INET, SOCK_STREAM, 0);
  long r = syscall(SYS_close_range, 3, ~0U, 0);
  printf("  syscall(SYS_close_range, 3, ~0U, 0): %ld; fd %d closed: %s\n", r, s,
         yes(fcntl(s, F_GETFD) < 0 && errno == EBADF));
  if (pipe(raw_pipe) != 0) return;
  pthread_t t;
  pthread_create(&t, NULL, sleep_then_write, NULL);
  char c = 0;
  ssize_t n = read(raw_pipe[0], &c, 1);
  void* wrote;
  pthread_join(t, &wrote);
  printf("  then a thread sleeps and writes a pipe that main reads: %s\n",
         yes(n == 1 && c == 'x' && wrote));
  printf("  a new socket: fd %d\n", socket(AF_INET, SOCK_STREAM, 0));
}

int main(int argc, char** argv) {
  self_path = argv[0];
  if (argc == 3 && strcmp(argv[1], "list") == 0) {
    list_main(atoi(argv[2]));
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "lowered-child") == 0) {
    lowered_child(atoi(argv[2]));
    return 0;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  phase_stat();
  phase_listing();
  phase_lowered();
  phase_raw();
  return 0;
}
