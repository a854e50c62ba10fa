// green-symbols: prints, as Markdown, what libgreen interposes and which
// GREEN_* variables it reads. scripts/gen-readme puts the output into the
// README, so the documentation is generated from the same lists as the code.
// With --config it lists the variables for the tests instead.
#include <cstdio>
#include <cstring>

#include "preload/config.h"

// --config: the GREEN_* variables one a line, tab-separated, for the tests:
// name, green-run option, bare value (or -), a valid value, the invalid
// values ('|'-separated), what it accepts.
static int print_config() {
  for (size_t i = 0; i < green::kConfigVarCount; i++) {
    const green::ConfigVar& v = green::kConfigVars[i];
    std::printf("%s\t%s\t%s\t%s\t%s\t%s\n", v.name, v.option, v.bare ? v.bare : "-",
                v.valid ? v.valid : "", v.invalid ? v.invalid : "", v.accepts);
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--config") == 0) return print_config();
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
