// shared/protocol.hpp, the results port between guest and host: records and blocks round trip byte-exact
// (through a console too), a job's last line without a newline, truncated and interleaved blocks.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "shared/protocol.hpp"

using namespace xua;

TEST(Protocol, RecordsAndBlocksRoundTrip)
{
	std::string json = "{\n  \"benchmarks\": []\n}\n";
	std::string port = protocol::record(protocol::kInsmod, "ok") + protocol::record(protocol::kInfo, "{\"a\":1}") +
			   protocol::record(protocol::kJobBegin, "bench") + "stderr line\n" +
			   protocol::record(protocol::kJobExit, "0") + protocol::block(protocol::kBenchmarkJson, json) +
			   protocol::block(protocol::kDmesg, "[ 1.0] x\n[ 2.0] y") + protocol::record(protocol::kDone);
	auto r = protocol::parse(port);
	EXPECT_TRUE(r.insmod_ok);
	EXPECT_EQ(r.info, "{\"a\":1}");
	EXPECT_EQ(r.job, "bench");
	ASSERT_EQ(r.job_output.size(), 1u);
	EXPECT_EQ(r.job_exit, 0);
	ASSERT_TRUE(r.blocks.count("benchmark-json"));
	EXPECT_TRUE(r.blocks["benchmark-json"].complete);
	EXPECT_EQ(r.blocks["benchmark-json"].content, json) << "byte-exact, a line that is only '{' or '}' included";
	EXPECT_EQ(r.blocks["dmesg"].content, "[ 1.0] x\n[ 2.0] y");
	EXPECT_TRUE(r.done);
	EXPECT_TRUE(r.problems.empty());

	// Through a console (\r\n) with printk lines around the records: the same.
	std::string noisy;
	for (char c : "[ 0.5] random: crng init done\n" + port + "[ 9.9] reboot: Power down\n")
		noisy += c == '\n' ? std::string("\r\n") : std::string(1, c);
	auto n = protocol::parse(noisy);
	EXPECT_TRUE(n.done);
	EXPECT_TRUE(n.blocks["benchmark-json"].complete);
	EXPECT_EQ(n.blocks["benchmark-json"].content, json);
}

// A job whose last output line has no newline (Google Benchmark 1.9 logs "-- LOG(0): ..." without one): the
// exit record still stands on a line of its own, and the output keeps its lines.
TEST(Protocol, JobOutputWithoutAFinalNewline)
{
	for (std::string out : {"-- LOG(0): Value passed to --benchmark_min_time should have a suffix.", "done\n", ""}) {
		auto port = protocol::record(protocol::kJobBegin, "bench") + out + protocol::job_end(0) +
			    protocol::record(protocol::kDone);
		auto r = protocol::parse(port);
		EXPECT_EQ(r.job_exit, 0) << out;
		auto want = out.empty() ? std::vector<std::string>{} : std::vector<std::string>{out.substr(0, out.find('\n'))};
		EXPECT_EQ(r.job_output, want) << out;
	}
	// The fault this guards against: the record glued to the end of an unfinished line is not seen.
	auto glued = protocol::record(protocol::kJobBegin, "bench") + "-- LOG(0): x" +
		     protocol::record(protocol::kJobExit, "0") + protocol::record(protocol::kDone);
	EXPECT_EQ(protocol::parse(glued).job_exit, -1);
}

TEST(Protocol, TruncatedAndInterleavedBlocksAreRecognised)
{
	std::string json = "{\"benchmarks\": [1, 2, 3]}";
	auto full = protocol::block(protocol::kBenchmarkJson, json);
	auto cut = protocol::parse(full.substr(0, full.size() - 30));
	EXPECT_FALSE(cut.blocks["benchmark-json"].complete);
	EXPECT_NE(cut.blocks["benchmark-json"].problem.find("truncated"), std::string::npos);
	EXPECT_FALSE(cut.done);

	// A printk line inside the payload: the length no longer matches, and the parser says so.
	auto pos = full.find("[1, 2");
	auto mixed = full.substr(0, pos) + "\n[ 3.1] xuaccess: hello\n" + full.substr(pos) + "xua-done\n";
	auto m = protocol::parse(mixed);
	EXPECT_FALSE(m.blocks["benchmark-json"].complete);
	EXPECT_NE(m.blocks["benchmark-json"].problem.find("announced"), std::string::npos)
		<< m.blocks["benchmark-json"].problem;
	EXPECT_TRUE(m.done) << "parsing goes on after the damaged block";

	auto bad = protocol::parse("xua-block-begin dmesg lots\nxua-done\n");
	EXPECT_FALSE(bad.problems.empty());
	EXPECT_TRUE(bad.done);
}
