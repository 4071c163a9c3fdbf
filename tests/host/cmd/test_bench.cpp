// host/cmd/bench: the arguments a bench passes to the guests (checked, saved for --resume), how many boots run
// at once, the boots of a cell merged into one, and the seeded order that interleaves on and off.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analyze/results.hpp"
#include "base/util.hpp"
#include "cmd/bench.hpp"
#include "provision/matrix.hpp"

using namespace xua;

TEST(Bench, ArgumentsAreCheckedAndBootsMerge)
{
	BenchOptions o;
	auto a = bench_args(o);
	EXPECT_EQ(a, (std::vector<std::string>{"--benchmark_repetitions=1", "--xua-min-time=0.05"}));
	o.quick = true;
	o.filter = "^transfer/copy|guard";
	EXPECT_EQ(bench_args(o),
		  (std::vector<std::string>{"--benchmark_repetitions=1", "--quick", "--xua-filter=^transfer/copy|guard"}));
	o.filter = "a,b";
	EXPECT_THROW(bench_args(o), Error);
	o.filter = "a b";
	EXPECT_THROW(bench_args(o), Error);
	o.filter = "";
	o.clock = "wall";
	EXPECT_THROW(bench_args(o), Error);
	auto round = bench_options_from_json(to_json(BenchOptions{.filter = "x", .boots = 3, .clock = "icount", .seed = 42}));
	EXPECT_EQ(round.filter, "x");
	EXPECT_EQ(round.boots, 3);
	EXPECT_EQ(round.clock, "icount");
	EXPECT_EQ(round.seed, 42u) << "--resume replays the same order";
	EXPECT_EQ(bench_options_from_json(to_json(BenchOptions{.clock = "icount", .jobs = 3})).jobs, 3);
	EXPECT_EQ(bench_jobs(BenchOptions{.clock = "icount"}), usable_cpus()) << "icount boots: one per core";
	EXPECT_EQ(bench_jobs(BenchOptions{.clock = "time"}), 1u) << "time boots: one at a time";
	EXPECT_EQ(bench_jobs(BenchOptions{.clock = "icount", .jobs = 1}), 1u);

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

// On and off boots of one arch x kernel alternate round by round, in an order fixed by the seed.
TEST(Bench, ScheduleInterleavesOnAndOffBySeed)
{
	const auto &m = Matrix::get();
	auto cells = m.select({"x86_64", "arm64"}, {"6.1"}, {"on", "off"});
	ASSERT_EQ(cells.size(), 4u);
	auto s1 = schedule(cells, 8, 7), s2 = schedule(cells, 8, 7), s3 = schedule(cells, 8, 8);
	ASSERT_EQ(s1.size(), 32u);
	auto key = [](const std::vector<Slot> &s) {
		std::vector<std::pair<size_t, int>> v;
		for (auto &x : s)
			v.push_back({x.cell, x.boot});
		return v;
	};
	EXPECT_EQ(key(s1), key(s2)) << "same seed, same order";
	EXPECT_NE(key(s1), key(s3)) << "another seed, another order";
	// Each round holds both cells of its arch x kernel once, with the same boot index; across the rounds
	// both orders occur (on first and off first), so neither side always runs first.
	int on_first = 0;
	for (size_t n = 0; n < s1.size(); n += 2) {
		const auto &x = s1[n], &y = s1[n + 1];
		EXPECT_EQ(x.boot, y.boot);
		EXPECT_NE(x.cell, y.cell);
		EXPECT_EQ(cells[x.cell].arch->name, cells[y.cell].arch->name);
		on_first += cells[x.cell].protection == "on";
	}
	EXPECT_GT(on_first, 0);
	EXPECT_LT(on_first, 16);
	std::map<size_t, int> per_cell;
	for (auto &x : s1)
		per_cell[x.cell]++;
	for (auto &[c, n] : per_cell)
		EXPECT_EQ(n, 8) << cells[c].name();
}
