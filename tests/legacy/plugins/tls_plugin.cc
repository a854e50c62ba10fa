// A shared library the tls_objects program dlopens: its thread_local lives
// in a TLS block given out on demand (through the DTV), not at start-up.
#include <cstdio>
#include <cstring>

namespace {

struct PluginLocal {
  char log[64] = "";
  long value = 0;
  char* out = nullptr;  // where the destructor reports, the thread's own slot
  PluginLocal() { value = 1000; }
  ~PluginLocal() {
    if (out) snprintf(out, 64, "plugin local destroyed with %ld", value);
  }
};

thread_local PluginLocal local;

}  // namespace

extern "C" long plugin_add(long n, char* report) {
  local.out = report;
  local.value += n;
  return local.value;
}
