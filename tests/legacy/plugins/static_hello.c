/* Statically linked: no dynamic loader, so LD_PRELOAD cannot apply. */
#include <stdio.h>

int main(void) {
  printf("hello from a static binary\n");
  return 0;
}
