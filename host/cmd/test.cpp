#include "cmd/test.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "provision/own_kernel.hpp"
#include "provision/prepare.hpp"
#include "run/cell.hpp"
#include "base/host_machine.hpp"
#include "base/process.hpp"
#include "base/tap.hpp"

namespace xua {
CaseCounts count_test_output(const std::string &out, bool test_ok, const std::string &protocol)
{
	static const std::regex gtest_pass(R"(^\[  PASSED  \] (\d+) test)");
	static const std::regex gtest_fail(R"(^\[  FAILED  \] (\d+) test)");
	static const std::regex gtest_skip(R"(^\[  SKIPPED \] (\d+) test)");
	CaseCounts t;
	if (protocol != "tap" && protocol != "gtest") {  // exitcode: the test is one case, told by its status
		(test_ok ? t.passed : t.failed) = 1;
		return t;
	}
	std::smatch m;
	std::optional<int> plan;
	bool gtest_summary = false;
	for (auto &l : split_lines(out)) {
		if (protocol == "tap") {
			auto line = tap::parse(l);
			if (line.kind == tap::Line::Kind::plan)
				plan = line.plan;
			else if (line.kind == tap::Line::Kind::test)
				++(!line.directive.empty() ? t.skipped : line.ok ? t.passed : t.failed);
		} else if (std::regex_search(l, m, gtest_pass)) {
			t.passed += std::stoi(m[1]);
			gtest_summary = true;
		} else if (std::regex_search(l, m, gtest_fail)) {
			t.failed += std::stoi(m[1]);
		} else if (std::regex_search(l, m, gtest_skip)) {
			t.skipped += std::stoi(m[1]);
		}
	}
	// Output that is not what the test's protocol promises (no TAP plan, no GoogleTest summary) is a failure,
	// whatever the exit status: a test that says nothing recognisable has shown nothing. Cases a TAP plan
	// announces but the output lacks (a guest that stopped half way) count as failed.
	int seen = t.passed + t.failed + t.skipped;
	if (protocol == "tap" && !plan)
		++t.failed;
	else if (protocol == "tap" && *plan > seen)
		t.failed += *plan - seen;
	else if (protocol == "gtest" && !gtest_summary)
		++t.failed;
	if (!test_ok && t.failed == 0)
		t.failed = 1;  // e.g. crashed or timed out after reporting only passes
	return t;
}

std::map<std::string, std::string> test_protocols(const std::string &intro_tests_json)
{
	std::map<std::string, std::string> out;
	for (auto &t : nlohmann::json::parse(intro_tests_json))
		out[t.at("name").get<std::string>()] = t.value("protocol", "exitcode");
	return out;
}

CaseCounts count_cases(const std::string &testlog, const std::map<std::string, std::string> &protocols)
{
	CaseCounts c;
	for (auto &line : split_lines(testlog)) {
		if (trim(line).empty())
			continue;
		auto j = nlohmann::json::parse(line);
		std::string result = j.value("result", "");
		bool test_ok = result == "OK" || result == "EXPECTEDFAIL" || result == "SKIP";
		// testlog.json names a test "<project>:<suites> / <name>"; intro-tests.json by its name alone.
		std::string name = j.value("name", "");
		if (auto slash = name.rfind(" / "); slash != std::string::npos)
			name = name.substr(slash + 3);
		auto p = protocols.find(name);
		// Meson 1.0's testlog.json does not record the protocol; meson-info/intro-tests.json does.
		c += count_test_output(j.value("stdout", ""), test_ok, p == protocols.end() ? "exitcode" : p->second);
	}
	return c;
}

namespace {

// Cells of a kernel given as a path have no Meson test (Meson's tests are fixed when the build is configured):
// their sparse check and their cells run here, one at a time after Meson's, through the plumbing commands
// Meson's tests run (kbuild --sparse, cell). Each one's output is kept in build/cells/<cell>/.
CaseCounts run_path_cells(const std::vector<Cell> &cells, const std::string &accel, bool thorough)
{
	const auto &p = Matrix::paths();
	const auto host = (p.build / "host" / "xuaccess-host").string();
	CaseCounts total;
	std::set<std::string> sparse_done;
	auto one = [&](const std::string &name, const std::vector<std::string> &argv, const fs::path &log) {
		auto t0 = std::chrono::steady_clock::now();
		fmt::print("xuaccess: {}: {}\n", name, shell_quote(argv));
		std::fflush(stdout);
		auto r = run(argv);
		fs::create_directories(log.parent_path());
		write_file(log, r.output);
		auto c = count_test_output(r.output, r.ok(), name.starts_with("cell-") ? "tap" : "exitcode");
		fmt::print("{:<40} {} {:.1f}s ({} passed, {} failed, {} skipped; output: {})\n", name, r.ok() ? "OK  " : "FAIL",
			   seconds_since(t0), c.passed, c.failed, c.skipped, log.string());
		if (!r.ok())
			fmt::print("{}\n", r.output);
		total += c;
	};
	for (auto &c : cells) {
		auto key = c.arch->name + "-" + c.kernel + (c.arch->kconfig.count(c.protection) ? "-" + c.protection : "");
		if (sparse_done.insert(key).second) {
			auto out = cell_module_path(c).parent_path() / "sparse.txt";
			one("sparse-" + key,
			    {host, "kbuild", "--arch", c.arch->name, "--kernel", c.kernel_path.string(), "--protection", c.protection,
			     "--sparse", "--out", out.string()},
			    p.build / "cells" / ("sparse-" + key + ".log"));
		}
		std::vector<std::string> argv = {host, "cell", "--arch", c.arch->name, "--kernel", c.kernel_path.string(),
						 "--protection", c.protection, "--accel", accel};
		if (thorough)
			argv.push_back("--thorough");
		one("cell-" + c.name(), argv, p.build / "cells" / c.name() / "tap.txt");
	}
	return total;
}

}  // namespace

int run_tests(const Selection &sel, const std::string &accel, bool thorough)
{
	const auto &m = Matrix::get();
	const auto &p = Matrix::paths();
	auto t0 = std::chrono::steady_clock::now();
	auto cells = m.select(sel.arches, sel.kernels, sel.protections);
	// Refused before anything is built: every cell must be able to run under what was asked.
	if (accel == "kvm")
		for (auto &c : cells)
			if (auto why = accel_unusable("kvm", c); !why.empty())
				fail("--accel kvm cannot run cell {}: {}", c.name(), why);
	for (auto &c : cells)
		check_cell_runs_here(c);
	std::set<std::string> accels;
	for (auto &c : cells)  // as the cell plumbing decides it, one cell at a time
		accels.insert(resolve_accels(accel, {c}).front());
	fmt::print(stderr, "xuaccess: building for {} cell(s)\n", cells.size());
	prepare(cells);
	double build_s = seconds_since(t0);

	std::vector<std::string> names = {"host-unit", "host-unit-waits"};  // tests/host/meson.build
	std::set<std::string> sparse;
	std::vector<Cell> path_cells;
	for (auto &c : cells) {
		if (!c.kernel_path.empty()) {
			path_cells.push_back(c);
			continue;
		}
		// A protection with its own kernel config (arm64 off-kernel, sw) has its own sparse check.
		auto k = c.arch->name + "-" + c.kernel + (c.arch->kconfig.count(c.protection) ? "-" + c.protection : "");
		if (sparse.insert(k).second)
			names.push_back("sparse-" + k);
	}
	for (auto &c : cells)
		if (c.kernel_path.empty())
			names.push_back("cell-" + c.name());
	std::vector<std::string> argv = {"meson", "test", "-C", p.build.string(), "--no-rebuild", "--print-errorlogs"};
	if (int scale = guest_time_scale(); scale > 1) {  // the cells scale their guests' limit the same way
		argv.push_back("--timeout-multiplier");
		argv.push_back(std::to_string(scale));
		fmt::print(stderr, "xuaccess: this machine is a {}: guests and tests get {}x their time limits\n",
			   this_machine().description, scale);
	}
	argv.insert(argv.end(), names.begin(), names.end());
	fmt::print(stderr, "xuaccess: running {}\n", shell_quote(argv));
	std::fflush(stderr);
	// The cell plumbing Meson runs reads both from the environment.
	auto r = run(argv, {.env = {{"XUACCESS_ACCEL", accel}, {"XUACCESS_TIER", thorough ? "thorough" : "default"}},
			    .capture = false,
			    .grace = std::chrono::seconds(5)});  // meson ends its tests on SIGTERM
	auto log = p.build / "meson-logs" / "testlog.json";
	CaseCounts c;
	if (fs::exists(log))
		c = count_cases(read_file(log), test_protocols(read_file(p.build / "meson-info" / "intro-tests.json")));
	else
		c.failed = 1;
	if (!path_cells.empty())
		c += run_path_cells(path_cells, accel, thorough);
	double total_s = seconds_since(t0);
	std::vector<std::string> how;
	for (auto &a : accels)
		how.push_back(a == "kvm" ? "under KVM" : "emulated under TCG");
	fmt::print("\nxuaccess test: {} cells ({} tier), build/prepare {:.1f} s, total {:.1f} s ({})\n", cells.size(),
		   thorough ? "thorough" : "default", build_s, total_s, fmt::format("{}", fmt::join(how, " and ")));
	fmt::print("Per-case results: {}/meson-logs/testlog.txt; guest consoles: {}/cells/<cell>/console.log\n",
		   p.build.string(), p.build.string());
	fmt::print("{} passed, {} failed, {} skipped\n", c.passed, c.failed, c.skipped);
	return r.ok() && c.failed == 0 ? 0 : 1;
}

}  // namespace xua
