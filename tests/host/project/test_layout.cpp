// The host front end's layers (host/meson.build, docs/development.md#layout): base/ below provision/ -> run/ ->
// analyze/ -> report/, with cmd/ on top. An include may point down that list or stay in its folder, never up;
// host code reaches the guest programs' code only through shared/.
#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "base/util.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

const std::vector<std::string> kLayers = {"base", "provision", "run", "analyze", "report", "cmd"};

int layer_of(const std::string &folder)
{
	auto it = std::find(kLayers.begin(), kLayers.end(), folder);
	return it == kLayers.end() ? -1 : int(it - kLayers.begin());
}

// One line per include that breaks the rule: "FILE includes TARGET (up from LAYER to LAYER)". `includes` maps a
// file's path under host/ ("run/qemu.cpp") to the quoted includes it has.
std::vector<std::string> layer_violations(const std::map<std::string, std::vector<std::string>> &includes)
{
	std::vector<std::string> out;
	for (const auto &[file, targets] : includes) {
		int from = layer_of(fs::path(file).begin()->string());
		for (const auto &t : targets) {
			std::string top = fs::path(t).begin()->string();
			if (top == "shared" || top == "xuaccess")  // shared/ headers, the module's uapi
				continue;
			int to = layer_of(top);
			if (to < 0)
				out.push_back(file + " includes " + t + " (not a host layer: host code reaches guest code only "
							"through shared/)");
			else if (from < 0 || to > from)
				out.push_back(file + " includes " + t + " (up from " + (from < 0 ? "?" : kLayers[from]) + " to " +
					      kLayers[to] + ")");
		}
	}
	return out;
}

std::map<std::string, std::vector<std::string>> host_includes()
{
	static const std::regex inc(R"re(^\s*#\s*include\s+"([^"]+)")re");
	std::map<std::string, std::vector<std::string>> out;
	for (auto &e : fs::recursive_directory_iterator(kSource / "host")) {
		auto ext = e.path().extension();
		if (ext != ".cpp" && ext != ".hpp")
			continue;
		auto &v = out[fs::relative(e.path(), kSource / "host").string()];
		std::ifstream in(e.path());
		std::smatch m;
		for (std::string line; std::getline(in, line);)
			if (std::regex_search(line, m, inc))
				v.push_back(m[1]);
	}
	return out;
}

}  // namespace

TEST(Layout, HostIncludesPointDownThePipeline)
{
	auto inc = host_includes();
	ASSERT_GT(inc.size(), 50u) << "host/ sources not found under " << kSource;
	ASSERT_TRUE(inc.count("base/process.cpp"));
	for (const auto &[file, _] : inc)
		EXPECT_GE(layer_of(fs::path(file).begin()->string()), 0) << file << " is in no layer of host/";
	auto bad = layer_violations(inc);
	EXPECT_TRUE(bad.empty()) << fmt::format("{}", fmt::join(bad, "\n"));
}

TEST(Layout, TheCheckCatchesAPlantedUpwardInclude)
{
	// Positive controls: provision reaching up into run, base into cmd, and host code into guest/.
	std::map<std::string, std::vector<std::string>> planted = {
		{"provision/kernel.cpp", {"provision/kernel.hpp", "base/process.hpp", "run/qemu.hpp"}},
		{"base/util.cpp", {"base/util.hpp", "cmd/main.hpp"}},
		{"run/cell.cpp", {"shared/protocol.hpp", "device.hpp"}},
		{"cmd/bench.cpp", {"report/report.hpp", "analyze/results.hpp", "base/util.hpp"}},
	};
	auto bad = layer_violations(planted);
	ASSERT_EQ(bad.size(), 3u) << fmt::format("{}", fmt::join(bad, "\n"));
	EXPECT_EQ(bad[0], "base/util.cpp includes cmd/main.hpp (up from base to cmd)");
	EXPECT_EQ(bad[1], "provision/kernel.cpp includes run/qemu.hpp (up from provision to run)");
	EXPECT_NE(bad[2].find("run/cell.cpp includes device.hpp (not a host layer"), std::string::npos);
}
