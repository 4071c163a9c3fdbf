// host/run/judge: the one decision of a cell's outcome, for every kind of outcome (boot, insmod, protection,
// cases, oopses announced or not, OOM kills, panics, timeouts, a bench's JSON) and the debug kernels' reports, and
// on cells captured from real runs (tests/fixtures/console/).
#include <algorithm>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "provision/matrix.hpp"
#include "run/cell.hpp"
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

// A captured cell of tests/fixtures/console/ as run_cell collects it: its console, and its results port (the
// job's records, then the guest's kernel log and the end record), with `edit` applied to the job's records.
CellOutcome captured(const std::string &cell, const std::function<std::string(std::string)> &edit = {})
{
	static const auto cells = Matrix::get().select({"x86_64", "arm64"}, {"6.1"}, {"on"});
	auto it = std::ranges::find_if(cells, [&](const Cell &c) { return c.name() == cell; });
	if (it == cells.end())
		throw std::runtime_error("no cell " + cell + " in the matrix");
	CellOutcome o{*it, "tcg", {}, "test", {}, {}, {}, "/tmp/xua-judge"};
	o.guest.first_output = 1.0;
	o.guest.seconds = 90;
	o.guest.console = console_fixture(cell + "/console.log");
	auto job = read_file(fixture("console/" + cell + "/results-job.txt"));
	if (edit)
		job = edit(job);
	o.report = parse_results(job + protocol::block(protocol::kDmesg, console_fixture(cell + "/dmesg.txt")) +
				 protocol::record(protocol::kDone));
	o.problems = merge_problems(o.guest.console, o.report.dmesg());
	return o;
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

// Captured cells (tests/fixtures/console/): the seed-bug test announced two oopses on x86_64 (SMAP) and arm64
// (PAN) and got them, on the console and in the kernel log. The cell passes, every check of it.
TEST(Judge, CapturedSeedBugCellsPass)
{
	for (std::string cell : {"x86_64-6.1-on", "arm64-6.1-on"}) {
		auto o = captured(cell);
		EXPECT_EQ(announced_oopses(o.report), 2) << cell;
		auto v = judge(o);
		EXPECT_TRUE(v.ok()) << cell << ": " << v.reason();
		EXPECT_EQ(v.failed(), 0) << cell;
		const auto expected = cell + ": " + o.cell.arch->guard + " oops on a plain user dereference, as expected (2 of 2)";
		EXPECT_NE(std::ranges::find_if(v.checks, [&](const Check &c) { return c.ok && c.what == expected; }),
			  v.checks.end())
			<< cell;
		EXPECT_EQ(v.checks.size(), 57u) << cell << ": boot, insmod, protection, 50 cases, job, the announced oopses, "
						   "no other problem, power-off";
	}
}

// The same cells without the announcements: the two oopses fail the cell, with their text.
TEST(Judge, CapturedOopsesUnannouncedFailTheCell)
{
	auto unannounce = [](std::string job) {
		std::string out;
		for (auto &l : split_lines(job))
			if (!l.starts_with("# xua-expected-oops"))
				out += l + "\n";
		return out;
	};
	for (std::string cell : {"x86_64-6.1-on", "arm64-6.1-on"}) {
		auto o = captured(cell, unannounce);
		EXPECT_EQ(announced_oopses(o.report), 0) << cell;
		auto v = judge(o);
		EXPECT_EQ(v.primary(), Failure::unexpected_oops) << cell << ": " << v.reason();
		EXPECT_NE(v.reason().find(cell == "arm64-6.1-on" ? "Unable to handle kernel access to user memory"
								 : "BUG: unable to handle page fault"),
			  std::string::npos)
			<< v.reason();
	}
}
