/* A library ie_tls_dlopen loads with dlopen after its threads exist. Its
 * thread-local variables use the initial-exec model, so glibc places them in
 * the static TLS area of every thread (not on demand through the DTV) and
 * initialises them in each thread that exists at the dlopen. */
#define IE __attribute__((tls_model("initial-exec")))

static __thread long counter IE = 42;
static __thread char name[16] IE = "ie-plugin";
static __thread long zeroed[4] IE;

long ie_counter(void) {
  return counter;
}

long ie_add(long n) {
  return counter += n;
}

const char* ie_name(void) {
  return name;
}

long ie_zeroed_sum(void) {
  return zeroed[0] + zeroed[1] + zeroed[2] + zeroed[3];
}

void ie_dirty(long v) {
  zeroed[0] = zeroed[3] = v;
}
