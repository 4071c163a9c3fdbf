// `./xuaccess bisect` (host/cmd/bisect) without a kernel: the verdict rule, a step's record, and what it refuses
// before anything is built. The bisection itself runs for real in `./xuaccess test --suite bisect`
// (docs/bisect.md); the compiler a kernel tree names: provision/test_kbuild.cpp.
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cmd/bisect.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

TEST(Bisect, IcountVerdictIsTheThresholdOnTheShare)
{
	EXPECT_EQ(icount_verdict(341, 341.2, 1e-3), "good") << "within the clock's repeatability";
	EXPECT_EQ(icount_verdict(341, 345, 1e-3), "bad") << "four instructions more";
	EXPECT_EQ(icount_verdict(341, 337, 1e-3), "bad") << "fewer instructions is a change too";
	EXPECT_EQ(icount_verdict(1000, 1001, 1e-3), "good") << "exactly at the threshold is not beyond it";
}

TEST(Bisect, StepsRoundTripForResume)
{
	BisectStep s{.rev = "abc", .subject = "x: y", .verdict = "skip", .why = "does not build (log)", .value = {},
		     .unit = "", .build_seconds = 12.5, .boot_seconds = 0};
	auto back = nlohmann::json(s).get<BisectStep>();
	EXPECT_EQ(back.rev, "abc");
	EXPECT_EQ(back.verdict, "skip");
	EXPECT_FALSE(back.value.has_value());
	EXPECT_EQ(back.why, s.why);
	s.value = 345.25;
	s.unit = "insn";
	back = nlohmann::json(s).get<BisectStep>();
	ASSERT_TRUE(back.value.has_value());
	EXPECT_DOUBLE_EQ(*back.value, 345.25);
	EXPECT_EQ(back.unit, "insn");
}

// What is refused before any clone or build: exit 2 for the front end (Refused).
TEST(Bisect, RefusesWhatItCannotBisect)
{
	TempDir scratch("bisect-refuse");
	const auto dir = scratch.path;
	auto git = [&](std::vector<std::string> args) { return git_in(dir, std::move(args)); };
	BisectOptions o{.tree = dir, .good = "HEAD~1", .bad = "HEAD", .row = "transfer/copy/to_user/64",
			.out = dir / "out"};
	EXPECT_THROW(run_bisect(o), Refused) << "not a git work tree";
	git({"init", "-q", "-b", "main"});
	write_file(dir / "a", "1\n");
	git({"add", "a"});
	git({"commit", "-q", "-m", "one"});
	auto one = git({"rev-parse", "HEAD"});
	write_file(dir / "a", "2\n");
	git({"commit", "-q", "-a", "-m", "two"});
	auto two = git({"rev-parse", "HEAD"});
	o.good = "no-such-rev";
	EXPECT_THROW(run_bisect(o), Refused) << "a revision that is not a commit";
	o.good = two;
	o.bad = one;
	EXPECT_THROW(run_bisect(o), Refused) << "good must be an ancestor of bad";
	o.good = one;
	o.bad = one;
	EXPECT_THROW(run_bisect(o), Refused) << "the same commit at both ends";
	o.bad = two;
	o.protection = "sw";
	o.arch = "x86_64";
	EXPECT_THROW(run_bisect(o), Refused) << "x86_64 has no software-PAN kernel config";
	EXPECT_EQ(git({"status", "--porcelain"}), "") << "the tree was only read";
	EXPECT_FALSE(fs::exists(dir / "out")) << "nothing written before the checks passed";
}
