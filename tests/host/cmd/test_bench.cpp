// host/cmd/bench: the arguments a bench passes to the guests (checked, saved for --resume), how many boots run
// at once, the kernel buffers each cell gets.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/util.hpp"
#include "cmd/bench.hpp"

using namespace xua;

TEST(Bench, ArgumentsAreChecked)
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
	o.quick = false;
	o.clock = "icount";
	EXPECT_EQ(bench_args(o), (std::vector<std::string>{"--benchmark_repetitions=1", "--xua-min-time=0.02",
							   "--xua-no-pace"}))
		<< "no pace probe under icount: it would count the same instructions every time";
	o.clock = "wall";
	EXPECT_THROW(bench_args(o), Error);
	auto round = bench_options_from_json(to_json(BenchOptions{.filter = "x", .boots = 3, .clock = "icount", .seed = 42}));
	EXPECT_EQ(round.filter, "x");
	EXPECT_EQ(round.boots, 3);
	EXPECT_EQ(round.clock, "icount");
	EXPECT_EQ(round.seed, 42u) << "--resume replays the same order";
	EXPECT_EQ(bench_options_from_json(to_json(BenchOptions{.clock = "icount", .jobs = 3})).jobs, 3);
	EXPECT_EQ(bench_options_from_json(to_json(BenchOptions{.extra_boots = 5})).extra_boots, 5);
	auto saved = to_json(BenchOptions{});
	saved.erase("extra_boots");
	EXPECT_EQ(bench_options_from_json(saved).extra_boots, 0) << "a run saved before extra boots resumes without";
	EXPECT_EQ(bench_jobs(BenchOptions{.clock = "icount"}), usable_cpus()) << "icount boots: one per core";
	EXPECT_EQ(bench_jobs(BenchOptions{.clock = "time"}), 1u) << "time boots: one at a time";
	EXPECT_EQ(bench_jobs(BenchOptions{.clock = "icount", .jobs = 1}), 1u);
	EXPECT_TRUE(pinned_cpus(BenchOptions{.clock = "time"}).empty()) << "one boot at a time: not pinned";
	EXPECT_TRUE(pinned_cpus(BenchOptions{.clock = "icount", .jobs = 2}).empty()) << "icount: counts, not pinned";
	if (usable_cpus() >= 2) {
		EXPECT_EQ(pinned_cpus(BenchOptions{.clock = "time", .jobs = 2}).size(), 2u);
	}
	EXPECT_THROW(pinned_cpus(BenchOptions{.clock = "time", .jobs = static_cast<int>(usable_cpus()) + 1}), Error)
		<< "time: one boot per usable CPU at most";
	EXPECT_EQ(kbuf_for(BenchOptions{}, "tcg"), "vmalloc");
	EXPECT_EQ(kbuf_for(BenchOptions{.clock = "icount"}, "tcg"), "linear") << "icount: counts that do not move by boot";
	EXPECT_EQ(kbuf_for(BenchOptions{}, "kvm"), "linear");
	EXPECT_EQ(kbuf_for(BenchOptions{}, "host"), "linear");
	EXPECT_EQ(kbuf_for(BenchOptions{.clock = "icount", .kbuf = "vmalloc"}, "tcg"), "vmalloc") << "--kbuf wins";
	EXPECT_THROW(kbuf_for(BenchOptions{.kbuf = "huge"}, "tcg"), Error);
}
