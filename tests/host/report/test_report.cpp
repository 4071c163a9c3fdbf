// host/report/report: a results directory's report (compare-*.json, plots, report.md, summary.txt), each
// protection paired with its partner on the same CPU.
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analyze/results.hpp"
#include "analyze/summary.hpp"
#include "report/format.hpp"
#include "report/report.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

TEST(Report, WritesComparisonsPlotsAndMarkdown)
{
	auto dir = fs::path(XUACCESS_BUILD_DIR) / "test-report";
	fs::remove_all(dir);
	fs::create_directories(dir);
	for (auto f : {"x86_64-6.1-off.json", "x86_64-6.1-on.json"})
		fs::copy_file(fixture(std::string("compare/shift/") + f), dir / f);
	fs::copy_file(fixture("compare/mismatch/arm64-6.1-on.json"), dir / "arm64-6.1-on.json");
	auto summary = write_report(dir);
	EXPECT_NE(summary.find("x86_64-6.1-on (B) against x86_64-6.1-off (A)"), std::string::npos) << summary;
	EXPECT_NE(summary.find("no off or off-kernel partner in this directory"), std::string::npos)
		<< "arm64 has only an on cell";
	auto cmp = nlohmann::json::parse(read_file(dir / "compare-x86_64-6.1.json"));
	EXPECT_EQ(cmp["significant_rows"], 4);
	EXPECT_FALSE(fs::exists(dir / "compare-arm64-6.1.json"));
	for (auto png : {"throughput-x86_64-6.1.png", "guard-x86_64-6.1.png", "mmap-x86_64-6.1.png", "batch-x86_64-6.1.png",
			 "throughput-arm64-6.1.png"}) {
		auto p = dir / "plots" / png;
		ASSERT_TRUE(fs::exists(p)) << p;
		EXPECT_EQ(read_file(p).substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << p;
		EXPECT_GT(fs::file_size(p), 10000u) << p;
	}
	EXPECT_FALSE(fs::exists(dir / "plots" / "guard-arm64-6.1.png")) << "no pair, no guard cost";
	auto md = read_file(dir / "report.md");
	EXPECT_NE(md.find("**Emulated.**"), std::string::npos);
	EXPECT_NE(md.find("![guard-x86_64-6.1.png](plots/guard-x86_64-6.1.png)"), std::string::npos);
	EXPECT_NE(md.find("4 of 6 rows marked"), std::string::npos) << md;
	EXPECT_NE(md.find("Benjamini-Hochberg"), std::string::npos) << md;
	EXPECT_NE(read_file(dir / "plots" / "guard-x86_64-6.1.gp").find("EMULATED"), std::string::npos);
	// The compare-*.json files the report writes are not cells: a second run reads the same cells.
	EXPECT_EQ(write_report(dir), summary);
}

// The report compares each protection with its partner on the same CPU: on vs off, on vs off-kernel, sw vs off.
TEST(Report, PairsEachProtectionWithItsPartner)
{
	auto cell = [](const std::string &prot) {
		nlohmann::json j = {{"context",
				     {{"xua_accel", "tcg"}, {"xua_arch", "arm64"}, {"xua_kernel_series", "6.1-src"},
				      {"xua_protection_requested", prot},
				      {"xua_qemu_cpu", prot == "on" || prot == "off-kernel" ? "cortex-a76" : "cortex-a72"},
				      {"xua_cpu_on", "cortex-a76"}, {"xua_cpu_off", "cortex-a72"},
				      {"xua_cpu_off_note", "cortex-a72 also lacks LSE"}}},
				    {"benchmarks", nlohmann::json::array()}};
		for (int b = 0; b < 3; ++b)
			j["benchmarks"].push_back({{"name", "latency/copy/to_user/64"}, {"run_type", "iteration"},
						   {"real_time", 100.0 + b + (prot == "on" || prot == "sw" ? 50 : 0)},
						   {"xua_boot", b}});
		return std::pair{"arm64-6.1-src-" + prot, j};
	};
	auto titles = [](const std::vector<Group> &groups) {
		std::vector<std::string> out;
		for (auto &g : groups)
			out.push_back(g.name + ": " + (g.guarded ? g.pair_title() + (g.cmp ? ", compared" : ", " + g.refused)
								 : fmt::format("{} alone", g.cells.size())));
		return out;
	};
	std::vector<CellResults> all;
	for (auto p : {"on", "off", "off-kernel", "sw"}) {
		auto [name, j] = cell(p);
		all.push_back(parse_cell(name, j));
	}
	EXPECT_EQ(titles(pair_cells(all)),
		  (std::vector<std::string>{"arm64-6.1-src: on vs off, compared",
					    "arm64-6.1-src-on-vs-off-kernel: on vs off-kernel, compared",
					    "arm64-6.1-src-sw-vs-off: sw vs off, compared"}));
	// The off CPU model's caveat belongs to on vs off alone: the other pairs run one CPU model.
	EXPECT_EQ(cpu_off_note(all[1], all[0]), "cortex-a72 also lacks LSE");
	EXPECT_EQ(cpu_off_note(all[2], all[0]), "") << "on vs off-kernel: one CPU";
	EXPECT_EQ(cpu_off_note(all[1], all[3]), "") << "sw vs off: one CPU";
	EXPECT_EQ(partner_protections("on"), (std::vector<std::string>{"off", "off-kernel"}));
	EXPECT_EQ(partner_protections("off"), (std::vector<std::string>{"on", "sw"}));
	EXPECT_EQ(partner_protections("sw"), std::vector<std::string>{"off"});

	// Without off: on pairs with off-kernel; sw has no partner, and the report says which one it lacks.
	auto dir = fs::path(XUACCESS_BUILD_DIR) / "test-report-pairs";
	fs::remove_all(dir);
	fs::create_directories(dir);
	for (auto p : {"on", "off-kernel", "sw"}) {
		auto [name, j] = cell(p);
		write_file(dir / (name + ".json"), j.dump());
	}
	auto summary = write_report(dir);
	EXPECT_NE(summary.find("arm64-6.1-src-on (B) against arm64-6.1-src-off-kernel (A)"), std::string::npos) << summary;
	EXPECT_NE(summary.find("arm64-6.1-src-sw: emulated (TCG), 3 boots"), std::string::npos) << summary;
	EXPECT_NE(summary.find("(no off partner in this directory)"), std::string::npos) << summary;
	EXPECT_TRUE(fs::exists(dir / "compare-arm64-6.1-src-on-vs-off-kernel.json"));
	EXPECT_TRUE(fs::exists(dir / "plots" / "guard-arm64-6.1-src-on-vs-off-kernel.png"));
	EXPECT_FALSE(fs::exists(dir / "plots" / "guard-arm64-6.1-src-unpaired.png")) << "a lone cell has no guard cost";
	auto md = read_file(dir / "report.md");
	EXPECT_NE(md.find("**guard on vs off-kernel:**"), std::string::npos) << md;
	EXPECT_NE(md.find("| guard off-kernel | guard on | on/off-kernel"), std::string::npos) << md;
	EXPECT_NE(md.find("arm64-6.1-src-sw is not compared: no off cell"), std::string::npos) << md;
}
