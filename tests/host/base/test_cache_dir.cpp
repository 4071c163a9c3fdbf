// The cache directories' stamps (host/base/cache_dir.hpp): what a stamp that is missing, does not parse or lacks
// a field gives, the warning for the last two, and the bytes a stamp is written as (caches written by earlier
// versions must still be found, so the format is pinned).
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include "base/cache_dir.hpp"

using namespace xua;

namespace {

fs::path temp_dir(const std::string &name)
{
	auto d = fs::temp_directory_path() / fmt::format("xua-{}-{}", name, getpid());
	fs::remove_all(d);
	fs::create_directories(d);
	return d;
}

}  // namespace

TEST(CacheDir, StampIsWrittenAsIndentedJsonAndReadBack)
{
	auto dir = temp_dir("stamp-roundtrip");
	const auto stamp = dir / "kernel.json";
	const nlohmann::json j = {{"release", "6.1.0-56-amd64"}, {"packages", {"a", "b"}}, {"build_seconds", 1.5}};
	write_stamp(stamp, j);
	EXPECT_EQ(read_file(stamp), "{\n  \"build_seconds\": 1.5,\n  \"packages\": [\n    \"a\",\n    \"b\"\n  ],\n"
				    "  \"release\": \"6.1.0-56-amd64\"\n}\n");
	nlohmann::json got;
	testing::internal::CaptureStderr();
	EXPECT_TRUE(read_stamp(stamp, "building again", [&](const nlohmann::json &s) { got = s; }));
	EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
	EXPECT_EQ(got, j);
	fs::remove_all(dir);
}

TEST(CacheDir, MissingStampIsNoCacheWithoutAWarning)
{
	auto dir = temp_dir("stamp-missing");
	bool taken = false;
	testing::internal::CaptureStderr();
	EXPECT_FALSE(read_stamp(dir / "kernel.json", "building again", [&](const nlohmann::json &) { taken = true; }));
	EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
	EXPECT_FALSE(taken);
	fs::remove_all(dir);
}

TEST(CacheDir, BrokenStampIsNoCacheWithAWarning)
{
	auto dir = temp_dir("stamp-broken");
	const auto stamp = dir / "kernel.json";
	write_file(stamp, "{\"release\": \"6.1");  // a stamp cut short
	bool taken = false;
	testing::internal::CaptureStderr();
	EXPECT_FALSE(read_stamp(stamp, "fetching the kernel again", [&](const nlohmann::json &) { taken = true; }));
	auto err = testing::internal::GetCapturedStderr();
	EXPECT_FALSE(taken);
	EXPECT_TRUE(err.starts_with("xuaccess: warning: " + stamp.string() + " does not parse (")) << err;
	EXPECT_TRUE(err.ends_with("): fetching the kernel again\n")) << err;
	EXPECT_TRUE(fs::exists(stamp)) << "what to do with it is the caller's";
	fs::remove_all(dir);
}

// A stamp that parses but lacks what the caller reads from it counts as broken; other errors are not absorbed.
TEST(CacheDir, StampLackingAFieldIsNoCacheWithAWarning)
{
	auto dir = temp_dir("stamp-field");
	const auto stamp = dir / "kernel.json";
	write_stamp(stamp, {{"version", "6.1.192-2"}});
	std::string release;
	testing::internal::CaptureStderr();
	EXPECT_FALSE(read_stamp(stamp, "building again", [&](const nlohmann::json &s) { release = s.at("release"); }));
	auto err = testing::internal::GetCapturedStderr();
	EXPECT_NE(err.find("does not parse ("), std::string::npos) << err;
	EXPECT_NE(err.find("'release' not found"), std::string::npos) << err;
	EXPECT_TRUE(err.ends_with("): building again\n")) << err;
	EXPECT_EQ(release, "");
	auto other = [](const nlohmann::json &) { fail("not a JSON problem"); };
	EXPECT_THROW(read_stamp(stamp, "building again", other), Error);
	fs::remove_all(dir);
}
