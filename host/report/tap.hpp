// A cell's verdict as TAP: one line per check and per guest test case, the guest's comments in between.
#pragma once

#include <cstdio>
#include <functional>
#include <string>

#include "run/judge.hpp"

namespace xua {

// A one-line description of the cell: arch, kernel, QEMU CPU, verified guard state.
std::string describe(const CellOutcome &o);

// Prints the cell's description, where its console is, and the verdict; returns the number of failed checks.
int print_tap(const CellOutcome &o, const Verdict &v, std::FILE *out);

// A suite of steps as TAP on stdout (test --suite machines, debian13): one case per step with its time, the
// step's detail as comments; a failed step says why.
struct TapSteps {
	int n = 0, failed = 0;
	void result(bool ok, const std::string &what, const std::string &detail = {});
	// Runs a step; an Error fails it with its message. Returns whether it passed.
	bool step(const std::string &what, const std::function<std::string()> &fn);
	// "1..N" and the closing "N passed, N failed, 0 skipped" line; returns the exit status.
	int finish(const std::string &suite, double seconds);
};

}  // namespace xua
