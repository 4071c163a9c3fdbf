// host/run/boots: the seeded order that interleaves on and off boots, and the slot runner (in order, or on
// several threads with the first exception carried out).
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <sched.h>

#include <gtest/gtest.h>

#include "base/process.hpp"
#include "base/util.hpp"
#include "provision/matrix.hpp"
#include "run/boots.hpp"

using namespace xua;

// On and off boots of one arch x kernel alternate round by round, in an order fixed by the seed.
TEST(Boots, ScheduleInterleavesOnAndOffBySeed)
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

TEST(Boots, SlotsRunOnceEachInOrderOrSideBySide)
{
	std::vector<size_t> seen;
	run_slots(5, 1, [&](size_t n) { seen.push_back(n); });
	EXPECT_EQ(seen, (std::vector<size_t>{0, 1, 2, 3, 4})) << "one job: the schedule's order";
	std::mutex mu;
	std::multiset<size_t> side;
	run_slots(50, 3, [&](size_t n) {
		std::lock_guard lock(mu);
		side.insert(n);
	});
	ASSERT_EQ(side.size(), 50u);
	for (size_t n = 0; n < 50; ++n)
		EXPECT_EQ(side.count(n), 1u) << n;
}

// Pinned (time-clock boots side by side): every slot runs on one CPU of the list, and a process it starts
// inherits that; unpinned, a slot may run on every CPU the front end may use (the control).
TEST(Boots, PinnedSlotsAndTheirChildrenRunOnOneCpuEach)
{
	auto cpus = usable_cpu_list();
	ASSERT_EQ(cpus.size(), usable_cpus());
	auto mask = [] {
		cpu_set_t set;
		CPU_ZERO(&set);
		EXPECT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
		std::vector<int> on;
		for (int c = 0; c < CPU_SETSIZE; ++c)
			if (CPU_ISSET(c, &set))
				on.push_back(c);
		return on;
	};
	std::mutex mu;
	std::vector<std::vector<int>> masks;
	std::vector<std::string> children;
	auto slot = [&](size_t) {
		auto m = mask();
		auto own = run_checked({"sh", "-c", "taskset -cp $$"});  // a process started by this thread
		std::lock_guard lock(mu);
		masks.push_back(m);
		children.push_back(own);
	};
	run_slots(4, 1, slot);
	for (auto &m : masks)
		EXPECT_EQ(m, cpus) << "unpinned: every usable CPU";
	if (cpus.size() < 2)
		GTEST_SKIP() << "one usable CPU: nothing to pin apart";
	masks.clear();
	children.clear();
	const std::vector<int> two = {cpus[0], cpus[1]};
	run_slots(6, 2, slot, two);
	ASSERT_EQ(masks.size(), 6u);
	std::set<int> used;
	for (size_t k = 0; k < masks.size(); ++k) {
		ASSERT_EQ(masks[k].size(), 1u) << "slot thread pinned to one CPU";
		used.insert(masks[k][0]);
		EXPECT_NE(children[k].find(fmt::format("current affinity list: {}\n", masks[k][0])), std::string::npos)
			<< "a child of the slot's thread: " << children[k];
	}
	EXPECT_EQ(used, (std::set<int>{two.begin(), two.end()}));
	EXPECT_EQ(mask(), cpus) << "the calling thread keeps its own mask";
	EXPECT_THROW(run_slots(3, 3, slot, two), Error) << "more jobs than CPUs to pin them to";
}

TEST(Boots, AFailingSlotStopsTheOthersAndItsErrorComesOut)
{
	std::atomic<int> ran{0};
	// Every other slot takes 2 ms, so that all 1000 would take a third of a second on three threads: the
	// failure of slot 3 must stop the others long before that.
	auto slot = [&](size_t n) {
		++ran;
		if (n == 3)
			fail("slot {} failed", n);
		std::this_thread::sleep_for(std::chrono::milliseconds(2));
	};
	for (unsigned jobs : {1u, 3u}) {
		ran = 0;
		try {
			run_slots(1000, jobs, slot);
			ADD_FAILURE() << "no exception with " << jobs << " jobs";
		} catch (const Error &e) {
			EXPECT_STREQ(e.what(), "slot 3 failed");
		}
		EXPECT_LT(ran.load(), 500) << "the others stop taking slots (" << jobs << " jobs)";
	}
}
