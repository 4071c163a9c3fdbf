// host/base/tap: the one TAP line reader (plans, test lines, directives) and writer.
#include <gtest/gtest.h>

#include "base/tap.hpp"

using namespace xua;

TEST(Tap, ReadsPlansTestLinesAndDirectives)
{
	auto plan = tap::parse("1..12");
	EXPECT_EQ(plan.kind, tap::Line::Kind::plan);
	EXPECT_EQ(plan.plan, 12);
	EXPECT_EQ(tap::parse("1..0 # SKIP nothing to run").plan, 0);

	auto ok = tap::parse("ok 3 - Transfer.CopyRoundTrips (0.4 s)");
	EXPECT_EQ(ok.kind, tap::Line::Kind::test);
	EXPECT_TRUE(ok.ok);
	EXPECT_EQ(ok.number, 3);
	EXPECT_EQ(ok.text, "Transfer.CopyRoundTrips (0.4 s)");
	EXPECT_EQ(ok.directive, "");

	auto bad = tap::parse("not ok 4 - Fuzz.RandomCommandsNeverHurtTheKernel");
	EXPECT_FALSE(bad.ok);
	EXPECT_EQ(bad.number, 4);

	auto skip = tap::parse("ok 5 - Review.UserSetAc # SKIP no 32-bit entry");
	EXPECT_TRUE(skip.ok);
	EXPECT_EQ(skip.directive, "SKIP");
	EXPECT_EQ(skip.text, "Review.UserSetAc # SKIP no 32-bit entry") << "the reason stays in the text";
	EXPECT_EQ(tap::parse("not ok 6 - later # todo").directive, "TODO");
	EXPECT_EQ(tap::parse("ok 7 a bare description").text, "a bare description");
	EXPECT_EQ(tap::parse("ok").kind, tap::Line::Kind::test);

	for (auto other : {"# ok 1 - a comment", "okay 1 - not TAP", "  ok 1 - indented: a subtest", "1..x", "", "Bail out!"})
		EXPECT_EQ(tap::parse(other).kind, tap::Line::Kind::other) << other;
}

TEST(Tap, WritesWhatItReads)
{
	EXPECT_EQ(tap::test_line(true, 1, "boot"), "ok 1 - boot");
	EXPECT_EQ(tap::test_line(false, 2, "insmod"), "not ok 2 - insmod");
	EXPECT_EQ(tap::plan_line(2), "1..2");
	auto back = tap::parse(tap::test_line(false, 9, "cell # SKIP why"));
	EXPECT_FALSE(back.ok);
	EXPECT_EQ(back.number, 9);
	EXPECT_EQ(back.text, "cell # SKIP why");
	EXPECT_EQ(back.directive, "SKIP");
}
