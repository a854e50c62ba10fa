/* A call that succeeds leaves errno as it was (PostgreSQL's postmaster reads
 * errno after an interrupted select and shut down at start-up when a
 * successful sigprocmask had set it). Each line sets errno to a marker, makes
 * one successful call and prints whether errno kept the marker; natively
 * glibc keeps it for every call here. The calls run twice: on the main
 * thread and on a second thread. It knows nothing of libgreen. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "legacy.h"

#define MARK 4242

static int changed;

static void report(const char* where, const char* what, int ok, int err) {
  if (!ok) {
    printf("%s %s: FAILED (%s)\n", where, what, errname(err));
    changed++;
  } else if (err != MARK) {
    printf("%s %s: errno changed to %s\n", where, what, errname(err));
    changed++;
  }
}

/* ok: the expression that must hold for the call to have succeeded. */
#define CHECK(what, call, ok)      \
  do {                             \
    errno = MARK;                  \
    long r_ = (long)(call);        \
    int e_ = errno;                \
    report(where, what, (ok), e_); \
    (void)r_;                      \
  } while (0)
#define R r_

static void on_usr1(int sig) {
  (void)sig;
}

static void* nothing(void* arg) {
  return arg;
}

/* Stays alive until the creator unlocks the gate. */
static void* gated(void* arg) {
  pthread_mutex_lock(arg);
  pthread_mutex_unlock(arg);
  return NULL;
}

static void once_routine(void) {}

static void signal_calls(const char* where) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  CHECK("sigprocmask block", sigprocmask(SIG_BLOCK, &set, &old), R == 0);
  CHECK("sigprocmask query", sigprocmask(SIG_BLOCK, NULL, &old), R == 0);
  CHECK("sigprocmask unblock", sigprocmask(SIG_UNBLOCK, &set, NULL), R == 0);
  CHECK("pthread_sigmask block", pthread_sigmask(SIG_BLOCK, &set, &old), R == 0);
  CHECK("pthread_sigmask setmask", pthread_sigmask(SIG_SETMASK, &old, NULL), R == 0);
  sigfillset(&set);
  CHECK("pthread_sigmask fill", pthread_sigmask(SIG_SETMASK, &set, &old), R == 0);
  CHECK("pthread_sigmask restore", pthread_sigmask(SIG_SETMASK, &old, NULL), R == 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  CHECK("sigaction", sigaction(SIGUSR1, &sa, NULL), R == 0);
  CHECK("signal", signal(SIGUSR1, on_usr1), R != (long)SIG_ERR);
  CHECK("sigpending", sigpending(&set), R == 0);
  CHECK("pthread_kill 0", pthread_kill(pthread_self(), 0), R == 0);
  CHECK("pthread_kill", pthread_kill(pthread_self(), SIGUSR1), R == 0);
  CHECK("raise", raise(SIGUSR1), R == 0);
  CHECK("tgkill", tgkill(getpid(), gettid(), SIGUSR1), R == 0);
  cpu_set_t cpus;
  CHECK("sched_getaffinity", sched_getaffinity(0, sizeof cpus, &cpus), R == 0);
  CHECK("pthread_getaffinity_np", pthread_getaffinity_np(pthread_self(), sizeof cpus, &cpus),
        R == 0);
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  raise(SIGUSR2);
  int sig = 0;
  CHECK("sigwait", sigwait(&set, &sig), R == 0 && sig == SIGUSR2);
  raise(SIGUSR2);
  struct timespec ts = {1, 0};
  CHECK("sigtimedwait", sigtimedwait(&set, NULL, &ts), R == SIGUSR2);
  raise(SIGUSR2);
  CHECK("sigwaitinfo", sigwaitinfo(&set, NULL), R == SIGUSR2);
  int sfd = -1;
  CHECK("signalfd", sfd = signalfd(-1, &set, SFD_CLOEXEC), R >= 0);
  close(sfd);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static void fd_calls(const char* where) {
  int p[2], s[2];
  char buf[64];
  CHECK("pipe", pipe(p), R == 0);
  CHECK("write pipe", write(p[1], "abc", 3), R == 3);
  CHECK("read pipe", read(p[0], buf, sizeof buf), R == 3);
  struct iovec iov = {(void*)"xy", 2};
  CHECK("writev pipe", writev(p[1], &iov, 1), R == 2);
  iov.iov_base = buf;
  iov.iov_len = sizeof buf;
  CHECK("readv pipe", readv(p[0], &iov, 1), R == 2);
  CHECK("fcntl F_GETFL", fcntl(p[0], F_GETFL), R >= 0);
  CHECK("fcntl F_SETFL", fcntl(p[0], F_SETFL, O_NONBLOCK), R == 0);
  int off = 0;
  CHECK("ioctl FIONBIO", ioctl(p[0], FIONBIO, &off), R == 0);
  int d = -1;
  CHECK("dup", d = dup(p[0]), R >= 0);
  CHECK("dup2", dup2(p[0], d), R == d);
  CHECK("dup3", dup3(p[0], d, O_CLOEXEC), R == d);
  CHECK("close dup", close(d), R == 0);
  write(p[1], "z", 1);
  struct pollfd pf = {p[0], POLLIN, 0};
  CHECK("poll", poll(&pf, 1, 1000), R == 1);
  struct timespec ts = {1, 0};
  CHECK("ppoll", ppoll(&pf, 1, &ts, NULL), R == 1);
  fd_set rs;
  FD_ZERO(&rs);
  FD_SET(p[0], &rs);
  struct timeval tv = {1, 0};
  CHECK("select", select(p[0] + 1, &rs, NULL, NULL, &tv), R == 1);
  CHECK("pselect", pselect(p[0] + 1, &rs, NULL, NULL, &ts, NULL), R == 1);
  int ep = -1;
  CHECK("epoll_create1", ep = epoll_create1(EPOLL_CLOEXEC), R >= 0);
  struct epoll_event ev = {EPOLLIN, {0}};
  CHECK("epoll_ctl", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), R == 0);
  CHECK("epoll_wait", epoll_wait(ep, &ev, 1, 1000), R == 1);
  CHECK("epoll_pwait", epoll_pwait(ep, &ev, 1, 1000, NULL), R == 1);
  close(ep);
  read(p[0], buf, sizeof buf);
  int efd = -1;
  CHECK("eventfd", efd = eventfd(1, 0), R >= 0);
  uint64_t v;
  CHECK("read eventfd", read(efd, &v, sizeof v), R == 8);
  close(efd);
  int tfd = -1;
  CHECK("timerfd_create", tfd = timerfd_create(CLOCK_MONOTONIC, 0), R >= 0);
  struct itimerspec its = {{0, 0}, {0, 1000000}};
  timerfd_settime(tfd, 0, &its, NULL);
  CHECK("read timerfd", read(tfd, &v, sizeof v), R == 8);
  close(tfd);
  CHECK("close pipe", close(p[0]), R == 0);
  close(p[1]);
  CHECK("pipe2", pipe2(p, O_CLOEXEC), R == 0);
  close(p[0]);
  close(p[1]);

  CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, s), R == 0);
  CHECK("send", send(s[0], "abc", 3, 0), R == 3);
  CHECK("recv", recv(s[1], buf, sizeof buf, 0), R == 3);
  CHECK("sendto", sendto(s[0], "abc", 3, 0, NULL, 0), R == 3);
  CHECK("recvfrom", recvfrom(s[1], buf, sizeof buf, 0, NULL, NULL), R == 3);
  struct msghdr m;
  memset(&m, 0, sizeof m);
  iov.iov_base = (void*)"abcd";
  iov.iov_len = 4;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  CHECK("sendmsg", sendmsg(s[0], &m, 0), R == 4);
  iov.iov_base = buf;
  iov.iov_len = sizeof buf;
  CHECK("recvmsg", recvmsg(s[1], &m, 0), R == 4);
  CHECK("write socket", write(s[0], "ab", 2), R == 2);
  CHECK("read socket", read(s[1], buf, sizeof buf), R == 2);
  CHECK("shutdown", shutdown(s[0], SHUT_WR), R == 0);
  close(s[0]);
  close(s[1]);

  int t[2];
  tcp_pair(t);
  CHECK("send tcp", send(t[0], "abc", 3, 0), R == 3);
  CHECK("recv tcp", recv(t[1], buf, 3, MSG_WAITALL), R == 3);
  close(t[0]);
  close(t[1]);
  int l = -1;
  CHECK("socket", l = socket(AF_INET, SOCK_STREAM, 0), R >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(l, (struct sockaddr*)&a, sizeof a);
  listen(l, 4);
  getsockname(l, (struct sockaddr*)&a, &len);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK("connect", connect(c, (struct sockaddr*)&a, sizeof a), R == 0);
  int acc = -1;
  CHECK("accept", acc = accept(l, NULL, NULL), R >= 0);
  close(acc);
  int c2 = socket(AF_INET, SOCK_STREAM, 0);
  connect(c2, (struct sockaddr*)&a, sizeof a);
  CHECK("accept4", acc = accept4(l, NULL, NULL, SOCK_CLOEXEC), R >= 0);
  close(acc);
  close(c2);
  close(c);
  close(l);

  struct addrinfo* ai = NULL;
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_flags = AI_NUMERICHOST;
  hints.ai_socktype = SOCK_STREAM;
  CHECK("getaddrinfo numeric", getaddrinfo("127.0.0.1", "80", &hints, &ai), R == 0);
  if (ai) freeaddrinfo(ai);
}

static void file_calls(const char* where) {
  char path[] = "/tmp/errno_kept_XXXXXX";
  int fd = mkstemp(path);
  char buf[16];
  CHECK("write file", write(fd, "hello", 5), R == 5);
  CHECK("pwrite", pwrite(fd, "HE", 2, 0), R == 2);
  CHECK("pread", pread(fd, buf, 5, 0), R == 5);
  CHECK("read file", read(fd, buf, sizeof buf), R == 0);
  CHECK("fsync", fsync(fd), R == 0);
  CHECK("fdatasync", fdatasync(fd), R == 0);
  CHECK("flock", flock(fd, LOCK_EX), R == 0);
  CHECK("flock unlock", flock(fd, LOCK_UN), R == 0);
  int fd2 = -1;
  CHECK("open", fd2 = open(path, O_RDONLY), R >= 0);
  close(fd2);
  CHECK("openat", fd2 = openat(AT_FDCWD, path, O_RDONLY), R >= 0);
  close(fd2);
  CHECK("close file", close(fd), R == 0);
  unlink(path);
}

static void sync_calls(const char* where) {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  CHECK("mutex_lock", pthread_mutex_lock(&mu), R == 0);
  CHECK("mutex_unlock", pthread_mutex_unlock(&mu), R == 0);
  CHECK("mutex_trylock", pthread_mutex_trylock(&mu), R == 0);
  pthread_mutex_unlock(&mu);
  struct timespec soon;
  clock_gettime(CLOCK_REALTIME, &soon);
  soon.tv_sec += 1;
  CHECK("mutex_timedlock", pthread_mutex_timedlock(&mu, &soon), R == 0);
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  struct timespec past;
  clock_gettime(CLOCK_REALTIME, &past);
  CHECK("cond_timedwait timeout", pthread_cond_timedwait(&cv, &mu, &past), R == ETIMEDOUT);
  pthread_mutex_unlock(&mu);
  CHECK("cond_signal", pthread_cond_signal(&cv), R == 0);
  CHECK("cond_broadcast", pthread_cond_broadcast(&cv), R == 0);
  pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
  CHECK("rwlock_rdlock", pthread_rwlock_rdlock(&rw), R == 0);
  CHECK("rwlock_unlock", pthread_rwlock_unlock(&rw), R == 0);
  CHECK("rwlock_wrlock", pthread_rwlock_wrlock(&rw), R == 0);
  pthread_rwlock_unlock(&rw);
  sem_t sem;
  CHECK("sem_init", sem_init(&sem, 0, 1), R == 0);
  CHECK("sem_wait", sem_wait(&sem), R == 0);
  CHECK("sem_post", sem_post(&sem), R == 0);
  CHECK("sem_trywait", sem_trywait(&sem), R == 0);
  sem_post(&sem);
  CHECK("sem_timedwait", sem_timedwait(&sem, &soon), R == 0);
  int value = -1;
  CHECK("sem_getvalue", sem_getvalue(&sem, &value), R == 0);
  CHECK("sem_destroy", sem_destroy(&sem), R == 0);
  pthread_barrier_t b;
  CHECK("barrier_init", pthread_barrier_init(&b, NULL, 1), R == 0);
  CHECK("barrier_wait", pthread_barrier_wait(&b), R == PTHREAD_BARRIER_SERIAL_THREAD);
  CHECK("barrier_destroy", pthread_barrier_destroy(&b), R == 0);
  pthread_once_t once = PTHREAD_ONCE_INIT;
  CHECK("once", pthread_once(&once, once_routine), R == 0);
  pthread_spinlock_t spin;
  CHECK("spin_init", pthread_spin_init(&spin, 0), R == 0);
  CHECK("spin_lock", pthread_spin_lock(&spin), R == 0);
  CHECK("spin_unlock", pthread_spin_unlock(&spin), R == 0);
  pthread_key_t key;
  CHECK("key_create", pthread_key_create(&key, NULL), R == 0);
  CHECK("setspecific", pthread_setspecific(key, &key), R == 0);
  CHECK("getspecific", pthread_getspecific(key), R == (long)&key);
  CHECK("key_delete", pthread_key_delete(key), R == 0);
}

static void thread_calls(const char* where) {
  pthread_t t;
  pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&gate);
  CHECK("pthread_create", pthread_create(&t, NULL, gated, &gate), R == 0);
  CHECK("pthread_setname_np", pthread_setname_np(t, "worker"), R == 0);
  char name[16];
  CHECK("pthread_getname_np", pthread_getname_np(t, name, sizeof name), R == 0);
  pthread_attr_t attr;
  CHECK("pthread_getattr_np", pthread_getattr_np(t, &attr), R == 0);
  pthread_attr_destroy(&attr);
  pthread_mutex_unlock(&gate);
  CHECK("pthread_join", pthread_join(t, NULL), R == 0);
  pthread_create(&t, NULL, nothing, NULL);
  CHECK("pthread_detach", pthread_detach(t), R == 0);
  CHECK("sched_yield", sched_yield(), R == 0);
  int old;
  CHECK("setcancelstate", pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old), R == 0);
  CHECK("setcanceltype", pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old), R == 0);
  struct timespec ts = {0, 1000000};
  CHECK("nanosleep", nanosleep(&ts, NULL), R == 0);
  CHECK("clock_nanosleep", clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL), R == 0);
  CHECK("usleep", usleep(1000), R == 0);
}

static void process_calls(const char* where) {
  pid_t pid = fork();
  if (pid == 0) _exit(3);
  int status = 0;
  CHECK("waitpid", waitpid(pid, &status, 0), R == pid);
  pid = fork();
  if (pid == 0) _exit(0);
  CHECK("wait", wait(&status), R == pid);
  int p[2];
  pipe(p);
  FILE* f = NULL;
  CHECK("fdopen", f = fdopen(p[1], "w"), R != 0);
  CHECK("fprintf", fprintf(f, "x\n"), R == 2);
  CHECK("fflush", fflush(f), R == 0);
  CHECK("fclose", fclose(f), R == 0);
  close(p[0]);
}

static void more_calls(const char* where) {
  FILE* f = NULL;
  CHECK("popen", f = popen("echo hi", "r"), R != 0);
  char line[64];
  CHECK("fgets", fgets(line, sizeof line, f), R != 0);
  CHECK("pclose", pclose(f), R == 0);
  CHECK("system", system("true"), R == 0);
  int p[2];
  pipe(p);
  f = fdopen(p[1], "w");
  CHECK("fputs", fputs("abc\n", f), R >= 0);
  CHECK("fwrite", fwrite("de\n", 1, 3, f), R == 3);
  CHECK("puts to a pipe stream", fflush(f), R == 0);
  fclose(f);
  f = fdopen(p[0], "r");
  char* buf = NULL;
  size_t n = 0;
  CHECK("getline", getline(&buf, &n, f), R == 4);
  CHECK("fread", fread(line, 1, 3, f), R == 3);
  free(buf);
  fclose(f);
  /* (gethostbyname is left out: natively glibc sets errno to 0 in it) */
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char host[64], serv[16];
  CHECK("getnameinfo",
        getnameinfo((struct sockaddr*)&a, sizeof a, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV),
        R == 0);
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status;
  CHECK("wait4", wait4(pid, &status, 0, NULL), R == pid);
  pid = fork();
  if (pid == 0) _exit(0);
  siginfo_t si;
  CHECK("waitid", waitid(P_PID, pid, &si, WEXITED), R == 0);
  pthread_t t;
  pthread_create(&t, NULL, nothing, NULL);
  struct timespec soon;
  clock_gettime(CLOCK_REALTIME, &soon);
  soon.tv_sec += 2;
  CHECK("pthread_timedjoin_np", pthread_timedjoin_np(t, NULL, &soon), R == 0);
  CHECK("sleep 0", sleep(0), R == 0);
}

static void all_calls(const char* where) {
  more_calls(where);
  signal_calls(where);
  fd_calls(where);
  file_calls(where);
  sync_calls(where);
  thread_calls(where);
  process_calls(where);
}

static void* second_thread(void* arg) {
  all_calls("thread");
  return arg;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  all_calls("main");
  pthread_t t;
  pthread_create(&t, NULL, second_thread, NULL);
  pthread_join(t, NULL);
  printf("errno kept by every successful call: %s\n", yes(changed == 0));
  return 0;
}
