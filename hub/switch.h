// The one context switch of the runtime: Boost.Context's jump_fcontext,
// entered so that the CPU's return stack stays balanced (switch_x86_64.S).
#pragma once
#include <boost/context/fiber.hpp>
#include <type_traits>
#include <utility>

extern "C" void* green_switch_fcontext(void* to);

namespace green {

// A fiber is its suspended context and nothing else (Boost 1.74 and later):
// the raw fcontext_t, null while the fiber runs or once it has finished.
static_assert(sizeof(boost::context::fiber) == sizeof(void*));
static_assert(std::is_standard_layout_v<boost::context::fiber>);
inline void*& fiber_context(boost::context::fiber& f) {
  return *reinterpret_cast<void**>(&f);
}

// Resumes `to`, as std::move(to).resume() would, and returns the raw context
// of whoever resumes the caller later (null when that one has finished).
inline void* switch_to(boost::context::fiber& to) {
  return green_switch_fcontext(std::exchange(fiber_context(to), nullptr));
}

}  // namespace green
