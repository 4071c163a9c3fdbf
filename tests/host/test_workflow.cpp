// The GitHub Actions workflow: valid in shape, its matrix is the project's matrix, and it runs nothing but
// the README's commands (through the thin scripts in ci/), with options the front end accepts.
#include <regex>
#include <set>

#include <sys/stat.h>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "provision/matrix.hpp"
#include "run/process.hpp"
#include "util.hpp"

using namespace xua;

namespace {

const fs::path kSource = XUACCESS_SOURCE_DIR;

std::set<std::string> strings(const YAML::Node &seq)
{
	std::set<std::string> out;
	for (const auto &n : seq)
		out.insert(n.as<std::string>());
	return out;
}

// The ./xuaccess command lines of a script (its other lines are plumbing).
std::vector<std::string> xuaccess_lines(const fs::path &script)
{
	std::vector<std::string> out;
	for (auto &line : split_lines(read_file(script))) {
		auto pos = line.find("./xuaccess ");
		if (pos != std::string::npos && trim(line).rfind('#', 0) != 0)
			out.push_back(trim(line.substr(pos)));
	}
	return out;
}

}  // namespace

TEST(Workflow, ShapeAndMatrix)
{
	YAML::Node wf;
	ASSERT_NO_THROW(wf = YAML::LoadFile((kSource / ".github/workflows/ci.yml").string()));
	ASSERT_TRUE(wf["name"]);
	ASSERT_TRUE(wf["on"]) << "a workflow needs its triggers";
	ASSERT_TRUE(wf["jobs"] && wf["jobs"].IsMap());
	for (const auto &job : wf["jobs"]) {
		auto name = job.first.as<std::string>();
		const auto &j = job.second;
		EXPECT_TRUE(j["runs-on"]) << name;
		EXPECT_TRUE(j["timeout-minutes"]) << name << ": a hung guest must not hold a runner for 6 hours";
		ASSERT_TRUE(j["steps"] && j["steps"].IsSequence()) << name;
		for (const auto &step : j["steps"])
			EXPECT_NE(static_cast<bool>(step["uses"]), static_cast<bool>(step["run"]))
				<< name << ": a step has either uses or run";
		if (j["needs"]) {
			EXPECT_TRUE(wf["jobs"][j["needs"].as<std::string>()]) << name << " needs an unknown job";
		}
	}
	const auto &m = wf["jobs"]["cell"]["strategy"]["matrix"];
	ASSERT_TRUE(m) << "the cell job runs the matrix";
	auto arches = Matrix::get().arch_names(), kernels = Matrix::get().kernel_names();
	EXPECT_EQ(strings(m["arch"]), std::set<std::string>(arches.begin(), arches.end()));
	EXPECT_EQ(strings(m["kernel"]), std::set<std::string>(kernels.begin(), kernels.end()));
	EXPECT_EQ(strings(m["protection"]), (std::set<std::string>{"on", "off"}));
	// The benchmark pairs: one job per arch x kernel holds both protections (one runner, one host CPU: compare
	// refuses cells from two machines), so the matrix has no protection axis.
	const auto &p = wf["jobs"]["onoff"]["strategy"]["matrix"];
	ASSERT_TRUE(p) << "the onoff job benchmarks each pair on one runner";
	EXPECT_EQ(strings(p["arch"]), std::set<std::string>(arches.begin(), arches.end()));
	EXPECT_EQ(strings(p["kernel"]), std::set<std::string>(kernels.begin(), kernels.end()));
	EXPECT_FALSE(p["protection"]) << "on and off must run in the same job";
	EXPECT_EQ(wf["jobs"]["report"]["needs"].as<std::string>(), "onoff");
	// The machine images of every arch (.ci/run runs only the host arch's).
	const auto &mi = wf["jobs"]["machines"]["strategy"]["matrix"];
	ASSERT_TRUE(mi) << "the machines job runs each arch's machine image";
	EXPECT_EQ(strings(mi["arch"]), std::set<std::string>(arches.begin(), arches.end()));
	// Enough boots for the on/off test to reach alpha, and the icount run.
	auto script = read_file(kSource / "ci/github-cell");
	std::smatch mm;
	ASSERT_TRUE(std::regex_search(script, mm, std::regex(R"(--boots ([0-9]+))")));
	EXPECT_GE(std::stoi(mm[1].str()), 4) << "3 vs 3 boots can never reach p < 0.05";
	EXPECT_NE(script.find("--clock icount"), std::string::npos);
}

TEST(Workflow, RunsOnlyTheReadmeCommands)
{
	auto wf = YAML::LoadFile((kSource / ".github/workflows/ci.yml").string());
	const auto readme = read_file(kSource / "README.md");
	std::set<fs::path> scripts;
	for (const auto &job : wf["jobs"])
		for (const auto &step : job.second["steps"]) {
			if (!step["run"])
				continue;
			auto run = trim(step["run"].as<std::string>());
			std::smatch mm;
			ASSERT_TRUE(std::regex_match(run, mm, std::regex(R"(^(ci/github-[a-z]+)( .*)?$)")))
				<< "steps run the scripts in ci/, not commands of their own: " << run;
			auto script = kSource / mm[1].str();
			struct stat st {};
			ASSERT_EQ(stat(script.c_str(), &st), 0) << script;
			EXPECT_TRUE(st.st_mode & S_IXUSR) << script << " is not executable";
			scripts.insert(script);
		}
	ASSERT_FALSE(scripts.empty());
	std::set<std::string> subcommands;
	for (auto &s : scripts)
		for (auto &line : xuaccess_lines(s)) {
			std::smatch mm;
			ASSERT_TRUE(std::regex_search(line, mm, std::regex(R"(^\./xuaccess ([a-z]+))"))) << line;
			auto sub = mm[1].str();
			subcommands.insert(sub);
			EXPECT_NE(readme.find("./xuaccess " + sub), std::string::npos) << "README does not give " << sub;
			// Every option the script passes is in the README and in the front end's own help.
			auto help = run({(fs::path(XUACCESS_BUILD_DIR) / "host/xuaccess-host").string(), sub, "--help"});
			ASSERT_TRUE(help.ok()) << help.output;
			std::regex opt(R"(--[a-z][a-z-]+)");
			for (auto it = std::sregex_iterator(line.begin(), line.end(), opt); it != std::sregex_iterator(); ++it) {
				auto o = it->str();
				EXPECT_NE(readme.find(o), std::string::npos) << o << " (from " << s << ") is not in the README";
				EXPECT_NE(help.output.find(o), std::string::npos) << o << " is not an option of " << sub;
			}
		}
	EXPECT_EQ(subcommands, (std::set<std::string>{"test", "bench", "report"}));
}

// ./xuaccess --help works on a fresh machine (no packages, no build) from the committed help texts: they
// must be what the front end itself prints. And every usage error exits 2, not CLI11's 105-109.
TEST(Workflow, CommittedHelpIsTheFrontEndsAndUsageErrorsExit2)
{
	const auto host = (fs::path(XUACCESS_BUILD_DIR) / "host/xuaccess-host").string();
	for (std::string cmd : {"xuaccess", "test", "bench", "compare", "report"}) {
		std::vector<std::string> argv = {host};
		if (cmd != "xuaccess")
			argv.push_back(cmd);
		argv.push_back("--help");
		auto r = run(argv, {.merge_stderr = false});
		EXPECT_EQ(r.status, 0) << cmd;
		EXPECT_EQ(r.output, read_file(kSource / "host/cmd/help" / (cmd + ".txt")))
			<< "host/cmd/help/" << cmd << ".txt is stale: regenerate it with xuaccess-host " << cmd << " --help";
	}
	for (std::vector<std::string> bad : {std::vector<std::string>{"bench", "--quick", "--boots", "3"},
					     {"bench", "--quick", "--repetitions", "3"},
					     {"bench", "--yes-load-module-into-this-kernel"},
					     {"bench", "--boots", "0"},
					     {"no-such-command"},
					     {"compare", "/nonexistent.json", "/nonexistent2.json"},
					     {"test", "--kernel", "/nonexistent/xua-kernel-tree"}}) {
		bad.insert(bad.begin(), host);
		EXPECT_EQ(run(bad).status, 2) << shell_quote(bad);
	}
}

// The bootstrap answers --help before it looks at packages or builds anything: with no build tree at all it
// prints the committed text (and would fail trying to build in a directory that cannot exist otherwise).
TEST(Workflow, BootstrapHelpNeedsNoBuild)
{
	const auto script = (kSource / "xuaccess").string();
	for (std::string cmd : {"bench", "compare"}) {
		auto r = run({script, cmd, "--help"}, {.env = {{"XUACCESS_BUILD", "/nonexistent/xua-build"}}});
		EXPECT_EQ(r.status, 0) << r.output;
		EXPECT_EQ(r.output, read_file(kSource / "host/cmd/help" / (cmd + ".txt")));
	}
	auto top = run({script}, {.env = {{"XUACCESS_BUILD", "/nonexistent/xua-build"}}});
	EXPECT_EQ(top.output, read_file(kSource / "host/cmd/help/xuaccess.txt"));
	EXPECT_FALSE(fs::exists("/nonexistent/xua-build"));
}
