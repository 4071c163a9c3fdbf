// The GitHub Actions workflow (.github/workflows/ci.yml): valid in shape, its matrix is the project's matrix, and it
// runs nothing but the README's commands (through the thin scripts in ci/), with options the front end accepts.
#include <regex>
#include <set>

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "base/process.hpp"
#include "base/util.hpp"
#include "provision/matrix.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

std::set<std::string> strings(const YAML::Node &seq)
{
	std::set<std::string> out;
	for (const auto &n : seq)
		out.insert(n.as<std::string>());
	return out;
}

// README.md and every page of docs/: where a user reads what a command does.
std::string user_docs()
{
	std::string text = read_file(kSource / "README.md");
	for (auto &e : fs::directory_iterator(kSource / "docs"))
		if (e.path().extension() == ".md")
			text += "\n" + read_file(e.path());
	return text;
}

// The options of a `./xuaccess SUB ...` command line that no `./xuaccess SUB ...` command line of `docs` shows
// (in a code block or inline code): an option must be documented with its own subcommand, not just appear
// somewhere (every page says --out for bench; that says nothing about test --out).
std::vector<std::string> undocumented_options(const std::string &command, const std::string &docs)
{
	std::smatch mm;
	if (!std::regex_search(command, mm, std::regex(R"(^\./xuaccess ([a-z-]+))")))
		return {"(not a ./xuaccess command: " + command + ")"};
	const std::string sub = mm[1].str();
	std::set<std::string> shown;
	const std::regex doc_cmd(R"(\./xuaccess )" + sub + R"(\b[^`\n]*)"), opt(R"(--[a-z][a-z-]+)");
	for (auto it = std::sregex_iterator(docs.begin(), docs.end(), doc_cmd); it != std::sregex_iterator(); ++it) {
		auto line = it->str();
		for (auto o = std::sregex_iterator(line.begin(), line.end(), opt); o != std::sregex_iterator(); ++o)
			shown.insert(o->str());
	}
	std::vector<std::string> missing;
	for (auto o = std::sregex_iterator(command.begin(), command.end(), opt); o != std::sregex_iterator(); ++o)
		if (!shown.count(o->str()))
			missing.push_back(o->str());
	return missing;
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
	// The machine images of every arch (.ci/run leaves them out for now: docs/ci.md says why).
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

// The check below can fail: an option shown only with another subcommand, or only in prose, is not documented.
TEST(Workflow, UndocumentedOptionsAreFound)
{
	const std::string docs = "Run `./xuaccess bench --boots 6` or\n```\n./xuaccess test --out x --arch arm64\n```\n"
				 "bench writes to `--out DIR`.\n";
	EXPECT_EQ(undocumented_options("./xuaccess bench --boots 6 --out results/ci", docs),
		  std::vector<std::string>{"--out"});
	EXPECT_TRUE(undocumented_options("./xuaccess test --arch x86_64 --out y", docs).empty());
	EXPECT_EQ(undocumented_options("./xuaccess report --arch x", docs), std::vector<std::string>{"--arch"});
}

TEST(Workflow, RunsOnlyTheReadmeCommands)
{
	auto wf = YAML::LoadFile((kSource / ".github/workflows/ci.yml").string());
	const auto readme = user_docs();
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
			EXPECT_NE(readme.find("./xuaccess " + sub), std::string::npos) << "README/docs do not give " << sub;
			// Every option the script passes is shown with its subcommand in README/docs, and is in the front
			// end's own help of that subcommand.
			EXPECT_EQ(undocumented_options(line, readme), std::vector<std::string>{})
				<< "options of `" << line << "` (" << s.filename().string()
				<< ") that no `./xuaccess " << sub << " ...` command in README.md or docs/ shows";
			auto help = run({kFrontEnd.string(), sub, "--help"});
			ASSERT_TRUE(help.ok()) << help.output;
			std::regex opt(R"(--[a-z][a-z-]+)");
			for (auto it = std::sregex_iterator(line.begin(), line.end(), opt); it != std::sregex_iterator(); ++it)
				EXPECT_NE(help.output.find(it->str()), std::string::npos) << it->str() << " is not an option of " << sub;
		}
	EXPECT_EQ(subcommands, (std::set<std::string>{"test", "bench", "report"}));
}
