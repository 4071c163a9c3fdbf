// host/analyze/results: a run's JSON read into rows (every repetition in its unit, the boots as the samples), a
// corrupt cell skipped with its path, and the labels that say where the figures come from.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analyze/results.hpp"
#include "report/report.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

TEST(Results, RowsKeepEveryRepetitionInTheRightUnit)
{
	auto j = nlohmann::json::parse(R"({"context": {"xua_accel": "tcg"}, "benchmarks": [
	  {"name": "transfer/copy/to_user/4096/manual_time", "run_name": "transfer/copy/to_user/4096/manual_time",
	   "run_type": "iteration", "bytes_per_second": 1048576.0, "real_time": 1.0},
	  {"name": "transfer/copy/to_user/4096/manual_time", "run_name": "transfer/copy/to_user/4096/manual_time",
	   "run_type": "iteration", "bytes_per_second": 3145728.0, "real_time": 1.0},
	  {"name": "transfer/copy/to_user/4096/manual_time", "run_name": "transfer/copy/to_user/4096/manual_time",
	   "run_type": "iteration", "bytes_per_second": 2097152.0, "real_time": 1.0},
	  {"name": "transfer/copy/to_user/4096/manual_time_median", "run_name": "transfer/copy/to_user/4096/manual_time",
	   "run_type": "aggregate", "aggregate_name": "median", "bytes_per_second": 9e9, "real_time": 1.0},
	  {"name": "guard/toggle/manual_time", "run_name": "guard/toggle/manual_time", "run_type": "iteration",
	   "items_per_second": 40000000.0, "real_time": 250000.0},
	  {"name": "latency/copy/to_user/64", "run_name": "latency/copy/to_user/64", "run_type": "iteration",
	   "bytes_per_second": 1.0e8, "items_per_second": 1.0e6, "real_time": 950.0},
	  {"name": "broken", "run_name": "broken", "error_occurred": true, "real_time": 1.0}
	]})");
	auto c = parse_cell("x86_64-6.1-on", j);
	ASSERT_TRUE(c.rows.count("transfer/copy/to_user/4096"));
	const auto &t = c.rows.at("transfer/copy/to_user/4096");
	EXPECT_EQ(t.values, (std::vector<double>{1, 3, 2})) << "MiB/s per repetition; aggregates are not repetitions";
	EXPECT_DOUBLE_EQ(t.median, 2.0);
	EXPECT_DOUBLE_EQ(t.cv, 0.5) << "sample stddev 1 over mean 2";
	EXPECT_TRUE(t.throughput);
	EXPECT_DOUBLE_EQ(t.time_per_unit(), 0.5);
	EXPECT_DOUBLE_EQ(c.rows.at("guard/toggle").median, 25.0) << "ns per pair";
	EXPECT_DOUBLE_EQ(c.rows.at("latency/copy/to_user/64").median, 950.0) << "ns per call, wall clock";
	EXPECT_FALSE(c.rows.at("latency/copy/to_user/64").throughput);
	EXPECT_FALSE(c.rows.count("broken"));
	EXPECT_EQ(c.repetitions, 1) << "the smallest count of any row";
	EXPECT_EQ(c.group(), "x86_64-6.1");
	EXPECT_EQ(c.protection(), "on");
	EXPECT_EQ(c.accel_label(), "emulated (TCG)");
	EXPECT_THROW(parse_cell("x", nlohmann::json::parse(R"({"benchmarks": []})")), Error);
	EXPECT_THROW(parse_cell("x", nlohmann::json::parse(R"({"context": {}})")), Error);
}

TEST(Results, BootsAreTheSamples)
{
	// Boot 0 around 100, boot 1 around 200, boot 2 around 150: three samples, the boots' medians.
	auto c = boot_cell("x86_64-6.1-on", 3, 3, [](int b, int r) { return (b == 0 ? 100 : b == 1 ? 200 : 150) + r; });
	const auto &row = c.rows.at("latency/copy/to_user/64");
	EXPECT_EQ(row.values.size(), 9u);
	EXPECT_EQ(row.samples, (std::vector<double>{101, 201, 151}));
	EXPECT_DOUBLE_EQ(row.median, 151);
	EXPECT_EQ(c.boots, 3);
	EXPECT_EQ(c.samples, 3);
	EXPECT_TRUE(c.per_boot());
	EXPECT_EQ(c.sampling(), "3 boots x 3 repetition(s)");
	// One boot: the repetitions are the samples.
	auto one = boot_cell("x86_64-6.1-on", 1, 4, [](int, int r) { return 10.0 + r; });
	EXPECT_EQ(one.rows.at("latency/copy/to_user/64").samples.size(), 4u);
	EXPECT_FALSE(one.per_boot());
	EXPECT_EQ(one.sampling(), "4 repetition(s) in 1 boot");
}

namespace {

// A cell of `boots` boots of two rows; boot b's figures and pace probes (ns) as given.
nlohmann::json paced_cell(int boots, const std::function<double(int)> &figure, const std::function<double(int)> &pace)
{
	nlohmann::json j = {{"context", {{"xua_accel", "tcg"}}}, {"benchmarks", nlohmann::json::array()}};
	for (const char *name : {"latency/copy/to_user/64", "baseline/null_ioctl"})
		for (int b = 0; b < boots; ++b)
			j["benchmarks"].push_back({{"name", name}, {"run_name", name}, {"run_type", "iteration"},
						   {"real_time", figure(b)}, {"xua_boot", b},
						   {"pace_before_ns", 1e6}, {"pace_after_ns", pace(b)}});
	return j;
}

}  // namespace

// The pace rule: a boot whose probe says the machine ran 1.5x slower is left out of the samples, in every row,
// and said per boot; probes within kPaceSlowedBy leave everything in; results without probes are read as before.
TEST(Results, ValuesMeasuredWhileTheMachineRanSlowAreLeftOut)
{
	auto slow_boot_3 = [](int b) { return b == 3 ? 1.5e6 : 1e6 + 1000 * b; };
	auto c = parse_cell("x86_64-6.1-off", paced_cell(8, [](int b) { return b == 3 ? 150.0 : 100.0 + b; }, slow_boot_3));
	const auto &row = c.rows.at("latency/copy/to_user/64");
	EXPECT_EQ(row.values.size(), 8u) << "every value is kept as read";
	EXPECT_EQ(row.samples, (std::vector<double>{100, 101, 102, 104, 105, 106, 107})) << "boot 3 left out";
	EXPECT_EQ(row.slowed, 1);
	EXPECT_DOUBLE_EQ(row.median, 104);
	EXPECT_LT(row.cv, 0.03);
	EXPECT_EQ(c.slowed_values, 2);
	EXPECT_EQ(c.values, 16);
	EXPECT_EQ(c.slowed_by_boot, (std::map<int, int>{{3, 2}}));
	EXPECT_EQ(c.boots, 8) << "the cell still has 8 boots";
	EXPECT_NE(c.pace_summary().find("per MiB; 2 of 16 values left out (probe > 1.10x): boot 3: 2"), std::string::npos)
		<< c.pace_summary();

	// Within the rule's margin (1.09x): nothing is left out, the slow boot counts.
	auto c2 = parse_cell("x", paced_cell(8, [](int b) { return b == 3 ? 150.0 : 100.0; },
					     [](int b) { return b == 3 ? 1.09e6 : 1e6; }));
	EXPECT_EQ(c2.rows.at("latency/copy/to_user/64").samples.size(), 8u);
	EXPECT_EQ(c2.slowed_values, 0);

	// Two boots, one slow: leaving it out would leave one sample, so both stay, and the row says so.
	auto c3 = parse_cell("x", paced_cell(2, [](int b) { return 100.0 + 50 * b; }, [](int b) { return b ? 2e6 : 1e6; }));
	EXPECT_EQ(c3.rows.at("latency/copy/to_user/64").samples.size(), 2u);
	EXPECT_TRUE(c3.rows.at("latency/copy/to_user/64").slowed_kept);
	EXPECT_EQ(c3.slowed_values, 0);

	// Results without probes (written before the probe existed): read as before.
	auto old = boot_cell("x86_64-6.1-on", 3, 1, [](int b, int) { return b == 1 ? 500.0 : 100.0; });
	EXPECT_EQ(old.pace_ns, 0);
	EXPECT_EQ(old.rows.at("latency/copy/to_user/64").samples.size(), 3u);
	EXPECT_NE(old.pace_summary().find("no pace probes"), std::string::npos);
}

// A boot that ran slow throughout (bench boots its arch and kernel again for it): more than half of its values
// over the pace rule. A boot slowed in half of its rows is not one; the note of the boots run again is said with
// the pace line.
TEST(Results, BootsThatRanSlowThroughoutAreNamed)
{
	auto figure = [](int b) { return 100.0 + b; };
	auto c = parse_cell("x", paced_cell(8, figure, [](int b) { return b == 3 || b == 6 ? 1.5e6 : 1e6; }));
	EXPECT_EQ(c.slow_boots(), (std::vector<int>{3, 6}));
	EXPECT_EQ(c.values_by_boot.at(3), 2);

	auto half = paced_cell(8, figure, [](int b) { return b == 5 ? 1.5e6 : 1e6; });
	for (auto &b : half["benchmarks"])
		if (b["name"] == "baseline/null_ioctl" && b["xua_boot"] == 5)
			b["pace_after_ns"] = 1e6;
	auto h = parse_cell("x", half);
	EXPECT_EQ(h.slowed_by_boot, (std::map<int, int>{{5, 1}})) << "one of its two rows was slow";
	EXPECT_TRUE(h.slow_boots().empty());

	EXPECT_EQ(c.pace_summary().find("booted again"), std::string::npos);
	c.update_context({{"xua_reboots", "boot(s) 3, 6 ran slow throughout"}});
	EXPECT_NE(c.pace_summary().find("boot 6: 2; booted again: boot(s) 3, 6 ran slow throughout"), std::string::npos)
		<< c.pace_summary();
}

TEST(Results, CorruptCellIsSkippedWithItsPath)
{
	TempDir scratch("corrupt");
	const auto dir = scratch.path;
	write_file(dir / "x86_64-6.1-on.json",
		   R"({"context": {"xua_arch": "x86_64", "xua_kernel_series": "6.1", "xua_protection_requested": "on"},
		       "benchmarks": [{"name": "baseline/getppid", "run_type": "iteration", "real_time": 5}]})");
	write_file(dir / "x86_64-6.1-off.json", R"({"context": {}, "benchmarks": [{"name": "base)");
	std::vector<std::string> skipped;
	auto cells = load_results(dir, &skipped);
	ASSERT_EQ(cells.size(), 1u);
	EXPECT_EQ(cells[0].group(), "x86_64-6.1");
	EXPECT_EQ(cells[0].protection(), "on");
	ASSERT_EQ(skipped.size(), 1u);
	EXPECT_NE(skipped[0].find((dir / "x86_64-6.1-off.json").string()), std::string::npos) << skipped[0];
	// The report goes on without it, and says so.
	auto summary = write_report(dir);
	EXPECT_NE(summary.find("WARNING: skipped " + (dir / "x86_64-6.1-off.json").string()), std::string::npos) << summary;
	EXPECT_TRUE(fs::exists(dir / "report.md"));
	fs::remove_all(dir / "plots");
	for (auto f : {"report.md", "summary.txt"})
		fs::remove(dir / f);
	fs::remove(dir / "x86_64-6.1-on.json");
	EXPECT_THROW(load_results(dir, &skipped), Error) << "nothing readable left";
}

TEST(Machine, LabelsSayWhereTheFiguresComeFrom)
{
	EXPECT_EQ(machine_label("kvm", "real silicon"), "KVM on real silicon");
	EXPECT_EQ(machine_label("kvm", "QEMU TCG-emulated machine"), "KVM inside an emulated machine (QEMU TCG-emulated machine)");
	EXPECT_EQ(machine_label("kvm", "virtual machine (hypervisor: VMware)"), "KVM inside a virtual machine (hypervisor: VMware)");
	EXPECT_EQ(machine_label("host", "real silicon"), "host kernel on real silicon");
	EXPECT_EQ(machine_label("host", "QEMU TCG-emulated machine"), "host kernel on a QEMU TCG-emulated machine");
	EXPECT_EQ(machine_label("host", ""), "host kernel (machine not recorded)");
	EXPECT_EQ(machine_label("tcg", "QEMU TCG-emulated machine"), "emulated (TCG)") << "TCG cells unchanged";

	nlohmann::json j = {{"context", {{"xua_accel", "host"}, {"xua_host_machine", "QEMU TCG-emulated machine"}}},
			    {"benchmarks", {{{"name", "baseline/getppid"}, {"real_time", 400.0}, {"time_unit", "ns"}}}}};
	EXPECT_EQ(parse_cell("host-6.1.0-asbooted", j).accel_label(), "host kernel on a QEMU TCG-emulated machine");
	j["context"]["xua_accel"] = "kvm";
	j["context"]["xua_host_machine"] = "real silicon";
	EXPECT_EQ(parse_cell("x86_64-6.1-on", j).accel_label(), "KVM on real silicon");
	j["context"]["xua_accel"] = "tcg";
	EXPECT_EQ(parse_cell("x86_64-6.1-on", j).accel_label(), "emulated (TCG)");
}

// A cell's boots merged into one JSON: every boot's rows marked with their boot, the aggregates dropped with
// several boots, the busiest boot's load, units by clock.
TEST(Results, BootsMergeIntoOneCell)
{
	auto boot = [](double t, double load) {
		return nlohmann::json{{"context", {{"xua_host_other_cores", load}}},
				      {"benchmarks",
				       {{{"name", "baseline/getppid"}, {"run_name", "baseline/getppid"}, {"run_type", "iteration"}, {"real_time", t}},
					{{"name", "baseline/getppid_median"}, {"run_name", "baseline/getppid"}, {"run_type", "aggregate"}, {"real_time", t}}}}};
	};
	auto one = merge_boots({boot(100, 0.1)});
	EXPECT_EQ(one["benchmarks"].size(), 2u) << "one boot keeps Google Benchmark's aggregates";
	auto j = merge_boots({boot(100, 0.1), boot(110, 0.5), boot(120, 0.2)});
	ASSERT_EQ(j["benchmarks"].size(), 3u) << "aggregates dropped with several boots";
	EXPECT_EQ(j["benchmarks"][2]["xua_boot"], 2);
	EXPECT_EQ(j["benchmarks"][0]["xua_unit"], "ns");
	auto ic = merge_boots({boot(100, 0.1)}, true);
	EXPECT_EQ(ic["benchmarks"][0]["xua_unit"], "insn") << "the icount clock counts instructions";
	EXPECT_EQ(j["context"]["xua_boots"], 3);
	EXPECT_DOUBLE_EQ(j["context"]["xua_host_other_cores"].get<double>(), 0.5);
	auto cell = parse_cell("x86_64-6.1-on", j);
	EXPECT_EQ(cell.boots, 3);
	EXPECT_DOUBLE_EQ(cell.rows.at("baseline/getppid").median, 110);
}
