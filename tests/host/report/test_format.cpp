// host/report/format: mmap against the copy ioctl, said as runs of sizes.
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analyze/results.hpp"
#include "report/format.hpp"

using namespace xua;

TEST(Report, MmapAgainstCopyAsRunsOfSizes)
{
	// MiB/s per size: mmap ahead at the small sizes, behind in the middle, level (a tie counts for mmap) at the end.
	auto row = [](const std::string &name, double mib) {
		return nlohmann::json{{"name", name + "/manual_time"}, {"run_type", "iteration"}, {"real_time", 1.0},
				      {"bytes_per_second", mib * (1 << 20)}};
	};
	nlohmann::json j = {{"context", nlohmann::json::object()}, {"benchmarks", nlohmann::json::array()}};
	const std::vector<std::tuple<int, double, double>> points = {
		{8, 5, 4}, {64, 30, 29}, {4096, 250, 420}, {32768, 34, 500}, {1048576, 500, 500}};
	for (auto [size, mm, copy] : points) {
		j["benchmarks"].push_back(row(fmt::format("mmap/produce+read/{}", size), mm));
		j["benchmarks"].push_back(row(fmt::format("mmap/copy_to_user/{}", size), copy));
	}
	auto c = parse_cell("x86_64-6.1-on", j);
	EXPECT_EQ(mmap_vs_copy(c, true), "mmap faster at 8 B-64 B, copy ioctl faster at 4 KiB-32 KiB, mmap faster at 1 MiB");
	EXPECT_EQ(mmap_vs_copy(c, false), "not measured");
}
