// host/report/tap: a cell's verdict as TAP for Meson: the cell's description first, every check with the guest's
// comments before it, the plan at the end.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "report/tap.hpp"
#include "run/judge.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

TEST(Judge, TapShowsEveryCheckWithTheGuestsComments)
{
	// (Initialised, not assigned: GCC 12 -O3 warns falsely about an overlapping memcpy in the assignment here.)
	Outcome failed_case{.job_output = "# a guest comment\nok 1 - A.b\nnot ok 2 - A.c\nok 3 - A.d # SKIP not here\n1..3\n",
			    .exit = "1"};
	auto o = failed_case.make();
	auto v = judge(o);
	std::FILE *f = std::tmpfile();
	ASSERT_NE(f, nullptr);
	EXPECT_EQ(print_tap(o, v, f), 2) << "the failed case and the job check";
	std::rewind(f);
	std::string tap;
	for (int ch; (ch = std::fgetc(f)) != EOF;)
		tap += static_cast<char>(ch);
	std::fclose(f);
	EXPECT_NE(tap.find("# a guest comment\nok 4 - x86_64-6.1-on: A.b\n"), std::string::npos) << tap;
	EXPECT_NE(tap.find("not ok 5 - x86_64-6.1-on: A.c\n"), std::string::npos) << tap;
	EXPECT_NE(tap.find("ok 6 - x86_64-6.1-on: A.d # SKIP not here\n"), std::string::npos) << tap;
	EXPECT_NE(tap.find("not ok 7 - x86_64-6.1-on: guest job completed (exit 1, 3 of 3 cases reported)"),
		  std::string::npos) << tap;
	EXPECT_NE(tap.find("\n1..9\n"), std::string::npos) << tap;
	EXPECT_EQ(tap.rfind("# x86_64-6.1-on: kernel", 0), 0u) << "the cell's description heads the stream";
}
