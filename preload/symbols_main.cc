// green-symbols: prints, as Markdown, what libgreen interposes and which
// GREEN_* variables it reads. scripts/gen-readme puts the output into the
// README, so the documentation is generated from the same lists as the code.
#include <cstdio>
#include <cstring>

#include "preload/config.h"

int main() {
  std::printf("| family | call | on a green thread |\n|---|---|---|\n");
#define GREEN_HOOK(family, name, doc) std::printf("| %s | `%s` | %s |\n", #family, #name, doc);
#include "preload/symbols.def"
#undef GREEN_HOOK
  std::printf("\n| variable | accepts | default |\n|---|---|---|\n");
  for (size_t i = 0; i < green::kConfigVarCount; i++) {
    const green::ConfigVar& v = green::kConfigVars[i];
    std::printf("| `%s` | %s | %s |\n", v.name, v.accepts, v.default_value);
  }
  return 0;
}
