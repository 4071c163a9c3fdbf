#include "cmd/test.hpp"

#include <algorithm>
#include <chrono>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "provision/prepare.hpp"
#include "run/cell.hpp"
#include "run/process.hpp"

namespace xua {
void Selection::dedupe()
{
	for (auto *v : {&arches, &kernels, &protections}) {
		std::vector<std::string> out;
		for (auto &s : *v)
			if (std::find(out.begin(), out.end(), s) == out.end())
				out.push_back(s);
		*v = std::move(out);
	}
}

CaseCounts count_cases(const std::string &testlog)
{
	static const std::regex tap_re(R"(^(not ok|ok)\b[^#]*(#\s*(SKIP|skip|TODO))?)");
	static const std::regex gtest_pass(R"(^\[  PASSED  \] (\d+) test)");
	static const std::regex gtest_fail(R"(^\[  FAILED  \] (\d+) test)");
	static const std::regex gtest_skip(R"(^\[  SKIPPED \] (\d+) test)");
	CaseCounts c;
	for (auto &line : split_lines(testlog)) {
		if (trim(line).empty())
			continue;
		auto j = nlohmann::json::parse(line);
		// Meson 1.0's testlog.json does not record the protocol: recognise it from the output.
		std::string out = j.value("stdout", "");
		static const std::regex tap_plan(R"((^|\n)1\.\.\d+(\n|$))");
		std::string proto = out.find("[==========]") != std::string::npos ? "gtest"
				    : std::regex_search(out, tap_plan)              ? "tap"
										    : "exitcode";
		std::string result = j.value("result", "");
		CaseCounts t;
		std::smatch m;
		for (auto &l : split_lines(out)) {
			if (proto == "tap" && std::regex_search(l, m, tap_re)) {
				if (m[3].matched)
					++t.skipped;
				else if (m[1] == "ok")
					++t.passed;
				else
					++t.failed;
			} else if (proto == "gtest") {
				if (std::regex_search(l, m, gtest_pass))
					t.passed += std::stoi(m[1]);
				else if (std::regex_search(l, m, gtest_fail))
					t.failed += std::stoi(m[1]);
				else if (std::regex_search(l, m, gtest_skip))
					t.skipped += std::stoi(m[1]);
			}
		}
		bool test_ok = result == "OK" || result == "EXPECTEDFAIL" || result == "SKIP";
		if (t.passed + t.failed + t.skipped == 0)
			(test_ok ? t.passed : t.failed) = 1;
		else if (!test_ok && t.failed == 0)
			t.failed = 1;  // e.g. crashed or timed out after reporting only passes
		c.passed += t.passed;
		c.failed += t.failed;
		c.skipped += t.skipped;
	}
	return c;
}

int run_tests(const Selection &sel, const std::string &accel)
{
	const auto &m = Matrix::get();
	const auto &p = Matrix::paths();
	auto t0 = std::chrono::steady_clock::now();
	auto cells = m.select(sel.arches, sel.kernels, sel.protections);
	// Refused before anything is built: every cell must be able to run under what was asked.
	std::set<std::string> accels;
	for (auto &c : cells) {
		if (accel == "kvm")
			if (auto why = accel_unusable("kvm", *c.arch); !why.empty())
				fail("--accel kvm cannot run the {} cells: {}", c.arch->name, why);
		accels.insert(resolve_accel(accel, *c.arch));
	}
	fmt::print(stderr, "xuaccess: building for {} cell(s)\n", cells.size());
	prepare(cells);
	double build_s = seconds_since(t0);

	std::vector<std::string> names = {"host-unit"};
	std::set<std::string> sparse;
	for (auto &c : cells) {
		// A protection with its own kernel config (arm64 off-kernel, sw) has its own sparse check.
		auto k = c.arch->name + "-" + c.kernel + (c.arch->kconfig.count(c.protection) ? "-" + c.protection : "");
		if (sparse.insert(k).second)
			names.push_back("sparse-" + k);
	}
	for (auto &c : cells)
		names.push_back("cell-" + c.name());
	std::vector<std::string> argv = {"meson", "test", "-C", p.build.string(), "--no-rebuild", "--print-errorlogs"};
	argv.insert(argv.end(), names.begin(), names.end());
	fmt::print(stderr, "xuaccess: running {}\n", shell_quote(argv));
	std::fflush(stderr);
	auto r = run(argv, {.env = {{"XUACCESS_ACCEL", accel}},  // read by the cell plumbing
			    .capture = false,
			    .grace = std::chrono::seconds(5)});  // meson ends its tests on SIGTERM
	double total_s = seconds_since(t0);

	auto log = p.build / "meson-logs" / "testlog.json";
	CaseCounts c;
	if (fs::exists(log))
		c = count_cases(read_file(log));
	else
		c.failed = 1;
	std::vector<std::string> how;
	for (auto &a : accels)
		how.push_back(a == "kvm" ? "under KVM" : "emulated under TCG");
	fmt::print("\nxuaccess test: {} cells, build/prepare {:.1f} s, total {:.1f} s ({})\n", cells.size(), build_s,
		   total_s, fmt::format("{}", fmt::join(how, " and ")));
	fmt::print("Per-case results: {}/meson-logs/testlog.txt; guest consoles: {}/cells/<cell>/console.log\n",
		   p.build.string(), p.build.string());
	fmt::print("{} passed, {} failed, {} skipped\n", c.passed, c.failed, c.skipped);
	return r.ok() && c.failed == 0 ? 0 : 1;
}

}  // namespace xua
