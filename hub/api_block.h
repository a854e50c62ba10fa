// One blocking call of the green API, whatever it parks on (a WaitList, an
// fd): the rules that make it a blocking point. A kill wakes it and is
// thrown; a green::Timeout bounds its deadline and throws when it passes.
#pragma once
#include "hub/clock.h"

namespace green {

struct GreenThread;
namespace detail {
struct ApiThread;
}

class ApiBlock {
 public:
  // Throws green::Error (no hub), a pending kill or a passed Timeout's error.
  ApiBlock(const char* what, Deadline deadline);
  ~ApiBlock();
  ApiBlock(const ApiBlock&) = delete;
  ApiBlock& operator=(const ApiBlock&) = delete;

  GreenThread* self() const { return self_; }
  Deadline until() const { return until_; }  // the call's deadline or a Timeout's, the earlier
  // After a park that did not succeed: throws a kill or a passed Timeout's
  // error; returns whether the call's own deadline has passed.
  bool expired();

 private:
  GreenThread* self_;
  detail::ApiThread* rec_;
  Deadline deadline_;
  Deadline until_;
};

}  // namespace green
