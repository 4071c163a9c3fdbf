// SELFTEST's KTAP, read by the kernel's own parser (tools/testing/kunit/kunit_parser.py of Debian's
// linux-source-6.1, unpacked once into the cache): the module's result lines (common/include/xua_ktap.h,
// the same code the module runs) must give fixed test names, each failure's diagnostic on the failed
// test, and no parse error. The positive control: the stream in the shape the module printed before
// (diagnostic after "not ok", names with the outcome in them) fails the same check.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "provision/source_kernel.hpp"
#include "base/process.hpp"
#include "base/util.hpp"
#include "support.hpp"
#include "xua_ktap.h"

using namespace xua;
using namespace xua::tests;

namespace {

struct Group {
	std::string name;
	unsigned cases, bad;
	std::string first;
	const char *skip;
};

const std::vector<Group> kGroups = {
	{"window check sees a planted leak (positive control)", 1, 0, "", nullptr},
	{"integrity to-user raw/window", 100, 3, "len 7 off 3: left 0 or bytes differ", nullptr},
	{"edge to-user raw/window", 100, 0, "", nullptr},
	{"sized get/put vs get_user/put_user", 36, 0, "", "no user-access window on this CPU and kernel"},
	{"window pairs close the window", 16, 1, "window left open after pair 4", nullptr},
};

// The stream as SELFTEST writes it: header, plan, each group's lines from xua_ktap_result().
std::string module_stream()
{
	std::string s = XUA_KTAP_VERSION_LINE + fmt::format("1..{}\n", kGroups.size());
	unsigned n = 0;
	for (auto &g : kGroups) {
		char buf[512];
		int len = xua_ktap_result(buf, sizeof(buf), ++n, g.name.c_str(), g.cases, g.bad, g.first.c_str(), g.skip);
		s.append(buf, static_cast<size_t>(len));
	}
	return s;
}

// The same results in the shape of ABI 2's module (the review's finding).
std::string old_stream()
{
	std::string s = fmt::format("KTAP version 1\n1..{}\n", kGroups.size());
	unsigned n = 0;
	for (auto &g : kGroups) {
		++n;
		if (g.skip && !g.bad)
			s += fmt::format("ok {} {} # SKIP {}\n", n, g.name, g.skip);
		else if (g.bad)
			s += fmt::format("not ok {} {} ({} of {} cases differ)\n# first: {}\n", n, g.name, g.bad, g.cases,
					 g.first);
		else
			s += fmt::format("ok {} {} ({} cases)\n", n, g.name, g.cases);
	}
	return s;
}

// kunit_parser.parse_run_tests() over the stream: the top test's status and error count, and every
// subtest's name, status and log (the diagnostic lines the parser attached to it).
nlohmann::json parse_with_kunit(const std::string &stream)
{
	static const fs::path kunit = ensure_kunit_tools("6.1");
	TempDir scratch("ktap");
	const auto dir = scratch.path;
	write_file(dir / "stream.ktap", stream);
	write_file(dir / "parse.py", R"(import json, sys
sys.path.insert(0, sys.argv[1])
import kunit_parser
with open(sys.argv[2]) as f:
    t = kunit_parser.parse_run_tests(f.read().splitlines(keepends=True))
print('@@XUA@@' + json.dumps({'status': t.status.name, 'errors': t.counts.errors,
    'subtests': [{'name': s.name, 'status': s.status.name, 'log': [l.rstrip('\n') for l in s.log]} for s in t.subtests]}))
)");
	auto r = run({"python3", (dir / "parse.py").string(), kunit.string(), (dir / "stream.ktap").string()});
	auto at = r.output.find("@@XUA@@");
	if (!r.ok() || at == std::string::npos)
		throw std::runtime_error("kunit_parser.py failed:\n" + r.output);
	return nlohmann::json::parse(r.output.substr(at + 7, r.output.find('\n', at) - at - 7));
}

// What the check wants of a parsed stream, as a list of problems (empty: good).
std::vector<std::string> ktap_problems(const nlohmann::json &p)
{
	std::vector<std::string> why;
	if (p["errors"].get<int>() != 0)
		why.push_back(fmt::format("{} parse errors", p["errors"].get<int>()));
	const auto &subs = p["subtests"];
	if (subs.size() != kGroups.size())
		return {fmt::format("{} tests parsed, {} written", subs.size(), kGroups.size())};
	for (size_t i = 0; i < kGroups.size(); ++i) {
		const auto &g = kGroups[i];
		const auto &t = subs[i];
		auto name = t["name"].get<std::string>();
		if (name != g.name)
			why.push_back(fmt::format("test {}: name '{}', not the fixed '{}'", i + 1, name, g.name));
		auto want = g.bad ? "FAILURE" : g.skip ? "SKIPPED" : "SUCCESS";
		if (t["status"] != want)
			why.push_back(fmt::format("test {}: status {}, not {}", i + 1, t["status"].get<std::string>(), want));
		std::string log;
		for (auto &l : t["log"])
			log += l.get<std::string>() + "\n";
		if (g.bad && log.find(g.first) == std::string::npos)
			why.push_back(fmt::format("test {} failed but its log lacks its diagnostic '{}' (log: '{}')", i + 1,
						  g.first, log));
		for (size_t j = 0; j < kGroups.size(); ++j)
			if (j != i && kGroups[j].bad && log.find(kGroups[j].first) != std::string::npos)
				why.push_back(fmt::format("test {} carries test {}'s diagnostic", i + 1, j + 1));
	}
	return why;
}

TEST(Ktap, SelftestStreamReadsRightWithTheKernelsParser)
{
	auto stream = module_stream();
	auto parsed = parse_with_kunit(stream);
	auto why = ktap_problems(parsed);
	EXPECT_TRUE(why.empty()) << fmt::format("{}\nstream:\n{}\nparsed: {}", fmt::join(why, "\n"), stream,
						 parsed.dump(1));
	EXPECT_EQ(parsed["status"], "FAILURE");
}

// The positive control: the check fails the old shape, for both of the review's reasons.
TEST(Ktap, OldShapeFailsTheCheck)
{
	auto stream = old_stream();
	auto why = ktap_problems(parse_with_kunit(stream));
	auto all = fmt::format("{}", fmt::join(why, "\n"));
	std::printf("# the old stream's problems:\n# %s\n", fmt::format("{}", fmt::join(why, "\n# ")).c_str());
	EXPECT_NE(all.find("name '"), std::string::npos) << all;
	EXPECT_NE(all.find("carries test 2's diagnostic"), std::string::npos) << all;
	EXPECT_NE(all.find("test 2 failed but its log lacks"), std::string::npos) << all;
}

}  // namespace
