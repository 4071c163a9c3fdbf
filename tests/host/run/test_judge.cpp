// host/run/judge: the one decision of a cell's outcome, for every kind of outcome (boot, insmod, protection,
// cases, oopses announced or not, OOM kills, panics, timeouts, a bench's JSON) and the debug kernels' reports.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "run/judge.hpp"
#include "shared/protocol.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

const char *kSmapOops = "[ 12.3] BUG: unable to handle page fault for address: 00007ffd1234abcd\n"
			"[ 12.3] #PF: error_code(0x0003) - permissions violation\n"
			"[ 12.3] ---[ end trace 0000000000000000 ]---\n";

Failure judged(const Outcome &x)
{
	return judge(x.make()).primary();
}

}  // namespace

TEST(Judge, EachOutcomeHasOneDecision)
{
	Outcome healthy;
	auto v = judge(healthy.make());
	EXPECT_TRUE(v.ok()) << v.reason();
	EXPECT_EQ(v.primary(), Failure::none);

	// An announced oops with the guard's signature is a pass; the same oops unannounced is not.
	Outcome announced;
	announced.job_output = "# xua-expected-oops SMAP\nok 1 - Seed.Bug\n1..1\n";
	announced.console += kSmapOops;
	EXPECT_EQ(judged(announced), Failure::none);
	Outcome unannounced;
	unannounced.console += kSmapOops;
	EXPECT_EQ(judged(unannounced), Failure::unexpected_oops);
	Outcome missing_oops;
	missing_oops.job_output = announced.job_output;
	EXPECT_EQ(judged(missing_oops), Failure::announced_missing);

	Outcome oom;
	oom.console += "[ 5.0] Out of memory: Killed process 79 (xuaccess-tests) total-vm:317456kB\n";
	EXPECT_EQ(judged(oom), Failure::oom_kill);

	Outcome panic;
	panic.console += "[ 5.0] Kernel panic - not syncing: Fatal exception\n";
	panic.exit = "";
	panic.done = false;
	EXPECT_EQ(judged(panic), Failure::panic) << "the panic explains the missing job exit";

	Outcome timeout;
	timeout.timed_out = true;
	timeout.job_output = "ok 1 - A.b\n";
	timeout.exit = "";
	timeout.done = false;
	auto tv = judge(timeout.make());
	EXPECT_EQ(tv.primary(), Failure::timeout);
	EXPECT_NE(tv.reason().find("inactivity watchdog"), std::string::npos) << tv.reason();

	Outcome no_boot;
	no_boot.booted = false;
	EXPECT_EQ(judged(no_boot), Failure::no_boot);

	Outcome insmod;
	insmod.insmod = "error 8 Exec format error";
	auto iv = judge(insmod.make());
	EXPECT_EQ(iv.primary(), Failure::insmod);
	EXPECT_NE(iv.reason().find("Exec format error"), std::string::npos);

	Outcome mismatch;
	mismatch.info = R"({"guard":"SMAP","guard_present":true,"guard_enabled":false,"window_open":false})";
	EXPECT_EQ(judged(mismatch), Failure::protection);

	Outcome missing_cases;
	missing_cases.job_output = "ok 1 - A.b\n1..3\n";
	EXPECT_EQ(judged(missing_cases), Failure::missing_cases);

	Outcome failed_case;
	failed_case.job_output = "not ok 1 - A.b\n1..1\n";
	failed_case.exit = "1";
	EXPECT_EQ(judged(failed_case), Failure::job_failed);

	Outcome not_done;
	not_done.done = false;
	EXPECT_EQ(judged(not_done), Failure::not_done);
}

// Each guest case's time (tests/guest/tap_main.cpp) goes into its name, and the cell's last comment sums them.
TEST(Judge, CaseTimesAreShownAndSummed)
{
	Outcome timed;
	timed.job_output = "ok 1 - A.b\n# time 1500 ms A.b\nok 2 - A.c # SKIP not here\n# time 0 ms A.c\n"
			   "ok 3 - A.d\n# time 250 ms A.d\n1..3\n";
	auto v = judge(timed.make());
	EXPECT_TRUE(v.ok()) << v.reason();
	std::vector<std::string> names;
	for (auto &c : v.checks)
		names.push_back(c.what);
	EXPECT_NE(std::ranges::find(names, "x86_64-6.1-on: A.b (1.5 s)"), names.end()) << fmt::format("{}", fmt::join(names, "\n"));
	EXPECT_NE(std::ranges::find(names, "x86_64-6.1-on: A.c # SKIP not here"), names.end());
	EXPECT_NE(std::ranges::find(names, "x86_64-6.1-on: A.d (0.2 s)"), names.end());
	for (auto &c : v.checks)
		for (auto &l : c.comments)
			EXPECT_EQ(l.find("time "), std::string::npos) << "a time line left as a comment: " << l;
	ASSERT_FALSE(v.trailing_comments.empty());
	EXPECT_EQ(v.trailing_comments.back(), "time: boot to init 1.5 s, 3 cases 1.8 s (slowest: A.b 1.5 s, A.d 0.2 s, "
					      "A.c 0.0 s), powered off at 9.0 s");
}

TEST(Judge, BenchNeedsItsJsonIntact)
{
	Outcome bench;
	bench.job = "bench";
	bench.job_output = "";
	EXPECT_EQ(judged(bench), Failure::no_results) << "no benchmark-json block";
	bench.extra_blocks = protocol::block(protocol::kBenchmarkJson, R"({"context": {}, "benchmarks": []})");
	EXPECT_EQ(judged(bench), Failure::none);
	bench.extra_blocks = protocol::block(protocol::kBenchmarkJson, R"({"context": {}, "bench)");
	EXPECT_EQ(judged(bench), Failure::no_results) << "does not parse";
	auto good = protocol::block(protocol::kBenchmarkJson, R"({"context": {}, "benchmarks": []})");
	bench.extra_blocks = good.substr(0, good.size() - 25);
	bench.done = false;
	EXPECT_EQ(judged(bench), Failure::no_results) << "truncated";
}

TEST(Judge, DebugKernelReportFailsTheCellWithItsText)
{
	for (const char *report : {kLockdepCircular, kKasan, kUbsan, kKfence, kSleep, kHung}) {
		Outcome o;
		o.info = R"({"guard":"SMAP","guard_present":true,"guard_enabled":true,"guard_kernel_uses":true,)"
			 R"("window_open":false})";
		// Lockdep warns at KERN_WARNING, below 'quiet': these reports come in the guest's kernel log.
		o.dmesg = report;
		auto v = judge(o.make());
		EXPECT_EQ(v.primary(), Failure::unexpected_oops) << report;
		auto first = split_lines(report)[1];
		EXPECT_NE(v.reason().find(first.substr(first.find(']') + 2)), std::string::npos) << v.reason();
	}
}
