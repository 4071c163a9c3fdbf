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

#include <gtest/gtest.h>

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
