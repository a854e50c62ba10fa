// The call stack of a green thread that is not running: where its fiber
// was suspended, for the thread dump. Boost.Context keeps a suspended
// fiber's callee-saved registers and return address at the top of its
// stack; libunwind (libunwind8, opened privately on first use so that its
// _Unwind_* functions never stand in for libgcc's) unwinds from there.
#pragma once
#include <boost/context/fiber.hpp>

namespace green {

// Up to max return addresses, innermost first; 0 when the fiber is not
// suspended or libunwind cannot be had.
int fiber_backtrace(const boost::context::fiber& fiber, void** frames, int max);

}  // namespace green
