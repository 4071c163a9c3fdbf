// TAP (the Test Anything Protocol, version 13 as Meson and the guest programs speak it): one reader of a line
// and one writer of the lines xuaccess prints. The cell verdicts (report/tap) and the suites' steps write
// through it; the judge (the guest's cases) and the test summary (Meson's test output) read through it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace xua::tap {

struct Line {
	enum class Kind { other, plan, test } kind = Kind::other;
	int plan = 0;             // plan: 1..N
	bool ok = false;          // test: ok / not ok
	int number = 0;           // test: its number, 0 when the line has none
	std::string text;         // test: everything after "ok N - ", its directive included
	std::string directive;    // test: SKIP or TODO (upper case), or empty
};

// One line of TAP; a line that is neither a plan nor a test line (comments, diagnostics, anything else) is
// Kind::other. Directives are recognised in either case (# SKIP, # skip, # TODO).
Line parse(std::string_view line);

// "ok N - text" / "not ok N - text", and the plan "1..N".
std::string test_line(bool ok, int number, std::string_view text);
std::string plan_line(int count);

}  // namespace xua::tap
