// The one decision of a cell's outcome: every check, in order, with why it failed. The TAP output of a test
// cell (report/tap.hpp) prints the checks; bench keeps a boot's figures only when the verdict is ok.
#pragma once

#include <string>
#include <vector>

#include "run/cell.hpp"

namespace xua {

// What went wrong, for callers that act on it (and the tests that pin each case).
enum class Failure {
	none,
	no_boot,           // the guest init never printed its first line
	timeout,           // the hard timeout or the inactivity watchdog ended the guest
	panic,             // a kernel panic (the guest then powers off early)
	insmod,            // the module did not load
	protection,        // the guard state seen in the guest differs from the request
	unexpected_oops,   // an oops, BUG or WARN nobody announced, or an announced one with the wrong signature
	oom_kill,          // the OOM killer ended a process
	announced_missing, // the guest announced a guard oops that did not come
	job_failed,        // the guest program exited non-zero
	missing_cases,     // fewer test cases reported than planned
	no_results,        // a bench job's benchmark JSON is missing, truncated or does not parse
	not_done,          // the init did not run to its end (no xua-done)
};
const char *to_string(Failure f);

struct Check {
	std::string what;                   // "x86_64-6.1-on: insmod xuaccess.ko"
	bool ok = true;
	bool skip = false;                  // a guest case that skipped itself
	Failure failure = Failure::none;    // when !ok
	std::string diag;                   // when !ok: what a person needs to see
	std::vector<std::string> comments;  // lines the guest printed before this check (TAP comments)
};

struct Verdict {
	std::vector<Check> checks;
	std::vector<std::string> trailing_comments;
	int failed() const;
	bool ok() const { return failed() == 0; }
	// The failure that explains the others (a timeout explains the missing cases), none when ok.
	Failure primary() const;
	// One paragraph for a person: the primary failure's check and its diagnostics.
	std::string reason() const;
};

// Oopses the guest test announced before triggering them on purpose ("# xua-expected-oops").
int announced_oopses(const GuestReport &r);

Verdict judge(const CellOutcome &o);

}  // namespace xua
