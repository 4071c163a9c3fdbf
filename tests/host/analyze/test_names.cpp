// host/analyze/names: a benchmark's name parsed in one place (family, method, direction, size) and the unit of
// its row.
#include <gtest/gtest.h>

#include "analyze/names.hpp"

using namespace xua;

TEST(Names, ParsedInOnePlace)
{
	auto t = parse_bench_name("transfer/copy/to_user/4096/manual_time");
	EXPECT_EQ(t.name, "transfer/copy/to_user/4096");
	EXPECT_EQ(t.family, "transfer");
	EXPECT_EQ(t.method, "copy");
	EXPECT_EQ(t.direction, "to_user");
	EXPECT_EQ(t.size, 4096u);
	EXPECT_EQ(t.stem, "transfer/copy/to_user");
	auto g = parse_bench_name("guard/toggle/manual_time");
	EXPECT_EQ(g.family, "guard");
	EXPECT_FALSE(g.size);
	EXPECT_EQ(g.stem, "guard/toggle");
	auto b = parse_bench_name("baseline/getppid");
	EXPECT_EQ(b.method, "getppid");
	EXPECT_EQ(row_kind(b, false).unit, "ns");
	EXPECT_EQ(row_kind(t, true).unit, "MiB/s");
	EXPECT_EQ(row_kind(parse_bench_name("batch/user_access/16"), false).unit, "ns/item");
	EXPECT_EQ(parse_bench_name("mmap/produce+read/4096/real_time").name, "mmap/produce+read/4096");
	EXPECT_EQ(row_kind(parse_bench_name("latency/copy/to_user/64"), true).unit, "ns") << "latency is per call";
}
