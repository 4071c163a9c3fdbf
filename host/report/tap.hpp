// A cell's verdict as TAP: one line per check and per guest test case, the guest's comments in between.
#pragma once

#include <cstdio>

#include "run/judge.hpp"

namespace xua {

// A one-line description of the cell: arch, kernel, QEMU CPU, verified guard state.
std::string describe(const CellOutcome &o);

// Prints the cell's description, where its console is, and the verdict; returns the number of failed checks.
int print_tap(const CellOutcome &o, const Verdict &v, std::FILE *out);

}  // namespace xua
