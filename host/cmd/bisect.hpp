// `./xuaccess bisect`: the commit of a kernel git tree that changed one benchmark row's cost, found with git
// bisect and, by default, the instruction clock (icount: two runs of a row agree to 1e-3, so one boot per
// revision decides).
//
// The user's tree is never touched: the bisection runs in a clone of it that shares its objects (git clone
// --shared) in ${XDG_CACHE_HOME:-~/.cache}/xuaccess/bisect/<tree key>/src, whatever the tree's branch, index or
// worktree state, and Ctrl-C leaves the tree as it was. The clone and its kernel build trees (O=, one per arch
// and protection) stay in the cache, so the next bisection of the same tree rebuilds only what changed.
//
// Each revision: the kernel built with the project's small config for the arch (allnoconfig + the source
// kernels' fragments, ci/kconfig/; ccache), the module built against it, one cell booted with the row alone
// (`bench --kernel <O= tree> --filter '^row$'`), the row's value compared with the good end's. Verdicts:
// bad when the row moved by more than the threshold (icount: a share of the good value, default 1e-3, the
// clock's repeatability; time: the 95 % interval of the ratio excludes 1 and the estimate moved by more than
// the threshold, default 0.02), skip when the revision does not build or the cell fails.
//
// Results in DIR (default results/bisect-<UTC timestamp>): bisect.json and bisect.txt (the first bad commit with
// its subject, the row at good, bad, the culprit and its parent, every step with its value, verdict, build
// and boot time), steps/<sha>.json per revision (what --resume reuses), steps/<sha>/ (the bench results) and
// the build and bench logs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/util.hpp"

namespace xua {

struct BisectOptions {
	fs::path tree;              // the user's kernel git tree
	std::string good, bad;      // revisions as given; resolved to commits before anything is built
	std::string row;            // a benchmark row's name, e.g. transfer/copy/to_user/64
	std::string arch = "x86_64";
	std::string protection = "on";
	std::string clock = "icount";  // or time: N boots per revision, the interval rule
	double threshold = 0;       // 0: the clock's default (icount 1e-3, time 0.02)
	int boots = 4;              // per revision with --clock time
	fs::path out;               // default results/bisect-<UTC timestamp>
	double effective_threshold() const { return threshold > 0 ? threshold : clock == "icount" ? 1e-3 : 0.02; }
};

// One revision measured.
struct BisectStep {
	std::string rev, subject;
	std::string verdict;          // good, bad, skip
	std::string why;              // for skip: why (does not build, the cell failed)
	std::optional<double> value;  // the row's median in its unit
	std::string unit;
	double build_seconds = 0, boot_seconds = 0;
};
void to_json(nlohmann::json &j, const BisectStep &s);
void from_json(const nlohmann::json &j, BisectStep &s);

// Good or bad for `value` against the good end's value by the icount rule (|value/good - 1| > threshold).
std::string icount_verdict(double good, double value, double threshold);

// Runs a bisection (o.out is created); returns the exit status. Refused (exit 2) for a tree that is not a
// git work tree, a revision that does not name a commit, or a good revision that is not an ancestor of the bad.
int run_bisect(const BisectOptions &o);
// Continues the bisection saved in `dir` with its own options, reusing every revision already measured.
int resume_bisect(const fs::path &dir);

}  // namespace xua
