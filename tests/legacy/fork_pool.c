/* A process that has resolved names forks; its children resolve names and
 * exit, as a pre-forking server's do (PostgreSQL's postmaster resolves its
 * listen address, then forks the start-up process and every backend, which
 * call getnameinfo on the client's address and exit()).
 *
 * Each child has 5 s (alarm) to report, so a hang shows as SIGALRM. */
#include <netdb.h>
#include <sys/wait.h>

#include "legacy.h"

static int lookup(char* host, size_t size) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(5432);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return getnameinfo((struct sockaddr*)&sa, sizeof sa, host, size, NULL, 0, NI_NUMERICHOST);
}

static void report(const char* what, pid_t pid) {
  int status;
  if (waitpid(pid, &status, 0) != pid)
    printf("%s: waitpid failed\n", what);
  else if (WIFSIGNALED(status))
    printf("%s: child killed by signal %d\n", what, WTERMSIG(status));
  else
    printf("%s: child exit status %d\n", what, WEXITSTATUS(status));
}

int main(void) {
  char host[64];
  int r = lookup(host, sizeof host);
  printf("parent getnameinfo: %d %s\n", r, r == 0 ? host : "");
  fflush(stdout);

  pid_t pid = fork();
  if (pid == 0) {
    alarm(5);
    exit(3); /* exit handlers run: libuv's would join the parent's pool threads */
  }
  report("exit() in a forked child", pid);
  fflush(stdout);

  pid = fork();
  if (pid == 0) {
    alarm(5);
    r = lookup(host, sizeof host);
    printf("child getnameinfo: %d %s\n", r, r == 0 ? host : "");
    fflush(stdout);
    _exit(4);
  }
  report("getnameinfo in a forked child", pid);
  return 0;
}
