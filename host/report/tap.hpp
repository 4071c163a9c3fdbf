// A cell's verdict as TAP: one line per check and per guest test case, the guest's comments in between.
#pragma once

#include <cstdio>

#include "run/judge.hpp"

namespace xua {

// Prints the verdict and returns the number of failed checks.
int print_tap(const Verdict &v, std::FILE *out);

}  // namespace xua
