#include "preload/real.h"

#include <dlfcn.h>

namespace green::real {

#define GREEN_HOOK(family, name, doc) decltype(&::name) name = nullptr;
#include "preload/symbols.def"
#undef GREEN_HOOK

void resolve_all() {
#define GREEN_HOOK(family, name, doc) \
  if (!name) name = reinterpret_cast<decltype(name)>(dlsym(RTLD_NEXT, #name));
#include "preload/symbols.def"
#undef GREEN_HOOK
}

}  // namespace green::real
