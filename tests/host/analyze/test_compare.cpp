// host/analyze/compare: two cells paired and each row tested, on fixtures with a known answer
// (tests/fixtures/compare/) and on made-up boots; what it refuses, accepts (off-kernel, --across kernel) and
// warns about. Every Compare.* test is here; the statistics below it: test_stats*.cpp, test_effect.cpp.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analyze/compare.hpp"
#include "analyze/effect.hpp"
#include "analyze/results.hpp"
#include "analyze/stats.hpp"
#include "cmd/compare.hpp"
#include "report/comparison.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

// A cell with no rows, only its context.
CellResults cell_of(std::string name, const nlohmann::json &ctx)
{
	CellResults c;
	c.name = std::move(name);
	c.update_context(ctx);
	return c;
}

// An arm64 6.1-src cell's context with `ctx` over it.
CellResults cell_with(const std::string &name, nlohmann::json ctx)
{
	nlohmann::json base = {{"xua_arch", "arm64"},           {"xua_kernel_series", "6.1-src"},
			       {"xua_kernel_release", "6.1.192"}, {"xua_kernel_package", "linux-source-6.1 6.1.192-2"},
			       {"xua_accel", "tcg"},              {"xua_kernel_cmdline", "console=ttyAMA0 panic=-1 quiet nokaslr"},
			       {"xua_cpu_on", "cortex-a76"},      {"xua_cpu_off", "cortex-a72"}};
	base.update(ctx);
	return cell_of(name, base);
}

}  // namespace

// tests/fixtures/compare/README.md says how the fixtures were made and what the answer is.
TEST(Compare, MarksTheKnownShiftAndNothingElse)
{
	auto off = load_cell(fixture("compare/shift/x86_64-6.1-off.json"));
	auto on = load_cell(fixture("compare/shift/x86_64-6.1-on.json"));
	auto c = compare(off, on, {});
	EXPECT_TRUE(c.mismatches.empty()) << "max vs max,-smap is the matrix's own x86_64 pair";
	EXPECT_TRUE(c.warnings.empty()) << "the control row did not move";
	ASSERT_EQ(c.rows.size(), 6u);
	// Shifted well beyond the repetitions' spread: every repetition of B slower than every one of A.
	const std::map<std::string, double> shift = {{"transfer/copy/to_user/4096", 1.05},
						     {"guard/toggle", 20.0},
						     {"latency/copy/to_user/64", 1.10},
						     {"batch/get_user/16", 1.5}};
	for (auto &r : c.rows) {
		ASSERT_TRUE(r.p.has_value()) << r.name;
		if (shift.count(r.name)) {
			EXPECT_TRUE(r.significant) << r.name;
			EXPECT_NEAR(*r.p, 2.0 / 48620, 1e-15) << r.name << ": R's exact p for full separation, 9 vs 9";
			EXPECT_NEAR(r.time_ratio, shift.at(r.name), 1e-9) << r.name;
		} else if (r.name == "baseline/kernel_memcpy/4096") {  // the same values as the "none" pair
			EXPECT_FALSE(r.significant) << r.name;
			EXPECT_NEAR(*r.p, 0.73044014808720681, 1e-15) << r.name;  // R: wilcox.test(on, off)
		} else {  // +0.3 % inside a +-1 % spread: too small for 9 repetitions to tell
			EXPECT_EQ(r.name, "transfer/raw_window/to_user/4096");
			EXPECT_FALSE(r.significant) << r.name << " p " << *r.p;
			EXPECT_NEAR(r.time_ratio, 1.003, 1e-9) << r.name;
		}
	}
	EXPECT_EQ(c.significant(), 4);

	auto noff = load_cell(fixture("compare/none/x86_64-6.1-off.json"));
	auto non = load_cell(fixture("compare/none/x86_64-6.1-on.json"));
	auto n = compare(noff, non, {});
	ASSERT_EQ(n.rows.size(), 4u);
	for (auto &r : n.rows) {
		EXPECT_FALSE(r.significant) << r.name;
		EXPECT_NEAR(*r.p, 0.73044014808720681, 1e-15) << r.name;  // R: wilcox.test(on, off)
		EXPECT_NEAR(r.time_ratio, 1.0, 0.02) << r.name;
	}
	auto text = format_comparison(c);
	EXPECT_NE(text.find("guard/toggle"), std::string::npos);
	// guard/toggle: "off" is a patched NOP, so a difference in ns with its interval, not a ratio of 20.
	EXPECT_NE(text.find("+456.0 ns ["), std::string::npos) << text;
	for (auto &r : c.rows) {
		EXPECT_EQ(r.difference, r.name == "guard/toggle") << r.name;
		// Every marked row's interval excludes "no effect"; q >= p.
		if (r.significant) {
			EXPECT_TRUE(r.effect.excludes(r.difference ? 0.0 : 1.0)) << r.name << " " << r.effect_text();
		}
		ASSERT_TRUE(r.q.has_value()) << r.name;
		EXPECT_GE(*r.q, *r.p) << r.name;
	}
	// The shifted transfer row is 5 % slower: its interval holds 1.05 and not 1.
	for (auto &r : c.rows)
		if (r.name == "transfer/copy/to_user/4096") {  // NOLINT(bugprone-branch-clone)
			EXPECT_LT(r.effect.lo, 1.05);
			EXPECT_GT(r.effect.hi, 1.05);
			EXPECT_GT(r.effect.lo, 1.0);
		}
	EXPECT_NE(text.find(" *"), std::string::npos) << text;
	EXPECT_EQ(format_comparison(n).find(" *\n"), std::string::npos) << format_comparison(n);
	auto j = comparison_json(c);
	EXPECT_EQ(j["significant_rows"], 4);
	EXPECT_EQ(j["rows"].size(), 6u);

	// A stricter alpha than the q of full separation (6 / 4 x 4.1e-5) marks nothing.
	auto strict = compare(off, on, {.alpha = 5e-5});
	EXPECT_EQ(strict.significant(), 0);
}

TEST(Compare, WarnsWhenTheControlRowsOrTheHostMoved)
{
	auto off = load_cell(fixture("compare/shift/x86_64-6.1-off.json"));
	auto on = load_cell(fixture("compare/shift/x86_64-6.1-on.json"));
	auto &ctl = on.rows.at("baseline/kernel_memcpy/4096");
	ctl.median /= 1.25;  // MiB/s: the kernel's own memcpy 25 % slower in B
	auto c = compare(off, on, {});
	ASSERT_EQ(c.warnings.size(), 1u);
	EXPECT_NE(c.warnings[0].find("control rows baseline/kernel_memcpy/"), std::string::npos) << c.warnings[0];
	EXPECT_NE(c.warnings[0].find("x1.25"), std::string::npos) << c.warnings[0];
	EXPECT_NE(format_comparison(c).find("WARNING: the control rows"), std::string::npos);
	ctl.median *= 1.25;
	on.update_context({{"xua_host_other_cores", 0.9}});
	c = compare(off, on, {});
	ASSERT_EQ(c.warnings.size(), 1u);
	EXPECT_NE(c.warnings[0].find("the host was busy while x86_64-6.1-on ran (0.90 cores"), std::string::npos)
		<< c.warnings[0];
}

TEST(Compare, RefusesCellsThatDifferInMoreThanTheProtection)
{
	auto x86 = load_cell(fixture("compare/shift/x86_64-6.1-off.json"));
	auto arm = load_cell(fixture("compare/mismatch/arm64-6.1-on.json"));
	auto m = mismatches(x86, arm);
	ASSERT_FALSE(m.empty());
	auto all = fmt::format("{}", fmt::join(m, "\n"));
	EXPECT_NE(all.find("architecture"), std::string::npos) << all;
	EXPECT_NE(all.find("kernel"), std::string::npos) << all;
	EXPECT_NE(all.find("CPU model"), std::string::npos) << all;
	EXPECT_THROW(compare(x86, arm, {}), Error);
	auto forced = compare(x86, arm, {.allow_mismatch = true});
	EXPECT_EQ(forced.mismatches, m);
	EXPECT_NE(format_comparison(forced).find("COMPARED DESPITE A MISMATCH"), std::string::npos);
	EXPECT_EQ(run_compare(fixture("compare/shift/x86_64-6.1-off.json"),
			      fixture("compare/mismatch/arm64-6.1-on.json"), {}, {}),
		  2);

	// Same arch and kernel, but one boot with KPTI and another CPU model: refused as well.
	auto on = x86;
	on.name = "x86_64-6.1-on";
	on.update_context({{"xua_protection_requested", "on"}});
	on.update_context({{"xua_qemu_cpu", "max"}});
	EXPECT_TRUE(mismatches(x86, on).empty());
	on.update_context({{"xua_kpti", "Mitigation: PTI"}});
	on.update_context({{"xua_qemu_cpu", "Skylake-Client"}});
	on.update_context({{"xua_host_cpu", "another host"}});
	auto three = mismatches(x86, on);
	ASSERT_EQ(three.size(), 3u);
	EXPECT_NE(fmt::format("{}", fmt::join(three, "\n")).find("host CPU"), std::string::npos);
}

// One p rule (issue 21): a row's p is the p of the wilcox.test that gave its interval, where scipy's rule
// (compare.py) would differ: 12 vs 12 boots without ties, exact in R, normal in scipy 1.10.
TEST(Compare, RowPIsTheIntervalsOwnTest)
{
	auto off = boot_cell("x86_64-6.1-off", 12, 1, [](int b, int) { return 1000.0 + 7 * ((b * 5) % 12); });
	auto on = boot_cell("x86_64-6.1-on", 12, 1, [](int b, int) { return 1030.0 + 7 * ((b * 7) % 12) + 0.5; });
	auto c = compare(off, on, {.allow_mismatch = true});
	ASSERT_EQ(c.rows.size(), 1u);
	const auto &r = c.rows[0];
	ASSERT_TRUE(r.p.has_value());
	EXPECT_TRUE(r.effect.exact);
	EXPECT_EQ(*r.p, r.effect.p);
	EXPECT_EQ(*r.p, rank_sum_test(r.b->time_samples(), r.a->time_samples()).p);
	// The A/A of each cell uses the same function.
	ASSERT_TRUE(c.noise_a.has_value());
	auto h = split_interleaved(off.rows.begin()->second.time_samples());
	EXPECT_EQ(c.noise_a->p.begin()->second, rank_sum_test(h.even, h.odd).p);
}

// --max-regression decides on the comparison's own intervals: moving one moves the verdict.
TEST(Compare, MaxRegressionUsesTheComparisonsIntervals)
{
	auto off = load_cell(fixture("compare/shift/x86_64-6.1-off.json"));
	auto on = load_cell(fixture("compare/shift/x86_64-6.1-on.json"));
	auto c = compare(off, on, {});
	auto verdict = [&](const Comparison &cc, const std::string &name) {
		for (auto &row : regression(cc, 10).rows)
			if (row.name == name)
				return row.verdict;
		return RegressionVerdict::untestable;
	};
	EXPECT_EQ(verdict(c, "transfer/copy/to_user/4096"), RegressionVerdict::within);
	for (auto &r : c.rows)
		if (r.name == "transfer/copy/to_user/4096") {
			EXPECT_EQ(r.ratio.estimate, r.effect.estimate);  // a ratio row: the same estimate
			r.ratio.lo = 1.2;
			r.ratio.hi = 1.3;
		}
	EXPECT_EQ(verdict(c, "transfer/copy/to_user/4096"), RegressionVerdict::slower);
	// guard/toggle shows B - A in ns, and is checked on its ratio all the same.
	for (auto &r : c.rows)
		if (r.name == "guard/toggle") {
			EXPECT_TRUE(r.difference);
			EXPECT_NEAR(r.ratio.estimate, 20, 1e-6);
		}
}

// --max-regression on fixtures with a known answer (tests/fixtures/compare/README.md).
TEST(Compare, MaxRegressionHasAKnownAnswer)
{
	auto off = load_cell(fixture("compare/shift/x86_64-6.1-off.json"));
	auto on = load_cell(fixture("compare/shift/x86_64-6.1-on.json"));
	auto c = compare(off, on, {});
	// Time clock, 10 %: x1.5 and x20 are slower beyond it for sure; x1.10 sits on the limit (its interval
	// holds 1.10 and less); x1.05 and the unshifted rows are within.
	auto r = regression(c, 10);
	std::map<std::string, RegressionVerdict> v;
	for (auto &row : r.rows)
		v[row.name] = row.verdict;
	EXPECT_EQ(v.at("batch/get_user/16"), RegressionVerdict::slower);
	EXPECT_EQ(v.at("guard/toggle"), RegressionVerdict::slower);
	EXPECT_EQ(v.at("latency/copy/to_user/64"), RegressionVerdict::inconclusive);
	EXPECT_EQ(v.at("transfer/copy/to_user/4096"), RegressionVerdict::within);
	EXPECT_EQ(v.at("transfer/raw_window/to_user/4096"), RegressionVerdict::within);
	EXPECT_EQ(v.at("baseline/kernel_memcpy/4096"), RegressionVerdict::within);
	EXPECT_TRUE(r.failed());
	EXPECT_FALSE(regression(c, 2000).failed()) << "nothing is 20x slower beyond 2000 %";
	EXPECT_EQ(run_compare(fixture("compare/shift/x86_64-6.1-off.json"), fixture("compare/shift/x86_64-6.1-on.json"),
			      {}, {}, 10.0),
		  1);
	EXPECT_EQ(run_compare(fixture("compare/none/x86_64-6.1-off.json"), fixture("compare/none/x86_64-6.1-on.json"),
			      {}, {}, 1.0),
		  0);

	// Exact clock (icount): one boot, values compared as they are (within kExactTolerance).
	auto exact = [](const std::string &name, double v) {
		auto cell = boot_cell(name, 1, 1, [v](int, int) { return v; });
		cell.update_context({{"xua_clock", "icount"}});
		return cell;
	};
	auto a = exact("x86_64-6.1-off", 1000), b6 = exact("x86_64-6.1-on", 1060), b4 = exact("x86_64-6.1-on", 1040),
	     same = exact("x86_64-6.1-on", 1000.02);
	auto c6 = compare(a, b6, {.allow_mismatch = true}), c4 = compare(a, b4, {.allow_mismatch = true}),
	     c0 = compare(a, same, {.allow_mismatch = true});
	EXPECT_TRUE(c6.exact);
	EXPECT_TRUE(regression(c6, 5).failed()) << "+6 % > 5 %";
	EXPECT_FALSE(regression(c4, 5).failed()) << "+4 % <= 5 %";
	EXPECT_TRUE(c6.rows[0].significant);
	EXPECT_FALSE(c0.rows[0].significant) << "2e-5 apart: what two icount boots differ by";
	EXPECT_FALSE(c0.noise_a.has_value()) << "no split-half A/A under an exact clock";
}

TEST(Compare, TestsOverBootsAndSaysWhatLimitsTheTest)
{
	EXPECT_NEAR(wilcox_min_p(3, 3), 0.1, 1e-12);
	EXPECT_NEAR(wilcox_min_p(4, 4), 2.0 / 70, 1e-12);
	EXPECT_NEAR(wilcox_min_p(5, 5), 2.0 / 252, 1e-12);
	// Repetitions inside each boot barely move; the boots of one cell move a lot, and B's boots are all
	// slower than A's by 10 %: 5 vs 5 boots, fully separated, p = 2/252.
	auto off = boot_cell("x86_64-6.1-off", 5, 2, [](int b, int r) { return 1000 * (1 + 0.01 * b) + r * 0.1; });
	auto on = boot_cell("x86_64-6.1-on", 5, 2, [](int b, int r) { return 1100 * (1 + 0.01 * b) + r * 0.1; });
	auto c = compare(off, on, {.allow_mismatch = true});
	ASSERT_EQ(c.rows.size(), 1u);
	EXPECT_TRUE(c.per_boot());
	EXPECT_TRUE(c.test_notes.empty()) << c.test_notes.front();
	EXPECT_NEAR(*c.rows[0].p, 2.0 / 252, 1e-12);
	EXPECT_TRUE(c.rows[0].significant);
	// Interleaved boots: the same repetitions would separate cleanly inside one boot, the boots do not.
	auto on2 = boot_cell("x86_64-6.1-on", 5, 2, [](int b, int r) { return 1000 * (1.005 + 0.01 * b) + r * 0.1; });
	auto c2 = compare(off, on2, {.allow_mismatch = true});
	EXPECT_FALSE(c2.rows[0].significant) << *c2.rows[0].p;
	// 3 vs 3 boots cannot reach 0.05; one boot says that the test sees only that boot.
	auto off3 = boot_cell("x86_64-6.1-off", 3, 2, [](int b, int) { return 100.0 + b; });
	auto on3 = boot_cell("x86_64-6.1-on", 3, 2, [](int b, int) { return 200.0 + b; });
	auto few = compare(off3, on3, {.allow_mismatch = true});
	ASSERT_EQ(few.test_notes.size(), 2u);
	EXPECT_NE(few.test_notes[0].find("no row can reach p < 0.05"), std::string::npos) << few.test_notes[0];
	EXPECT_NE(few.test_notes[1].find("the intervals are at 90 % (not 95 %)"), std::string::npos) << few.test_notes[1];
	EXPECT_FALSE(few.rows[0].significant);
	auto off1 = boot_cell("x86_64-6.1-off", 1, 9, [](int, int r) { return 100.0 + r; });
	auto on1 = boot_cell("x86_64-6.1-on", 1, 9, [](int, int r) { return 200.0 + r; });
	auto single = compare(off1, on1, {.allow_mismatch = true});
	ASSERT_EQ(single.test_notes.size(), 2u);
	EXPECT_NE(single.test_notes[0].find("x86_64-6.1-off has one boot"), std::string::npos) << single.test_notes[0];
	EXPECT_NE(format_comparison(single).find("WARNING: x86_64-6.1-on has one boot"), std::string::npos);
}

// A difference row (guard/toggle) says its unit: instructions under icount, not "ns" (it printed "+0.0 ns").
TEST(Compare, DifferenceRowsSayTheirUnit)
{
	Row a{.name = "guard/toggle", .unit_name = "insn/item", .samples = {4.10}, .median = 4.10};
	Row b{.name = "guard/toggle", .unit_name = "insn/item", .samples = {4.15}, .median = 4.15};
	RowComparison r{.name = "guard/toggle", .a = &a, .b = &b, .difference = true};
	EXPECT_EQ(r.effect_text(), "+0.05 insn");
	r.effect = ShiftEstimate{.estimate = 2.0, .lo = 1.5, .hi = 2.5};
	EXPECT_EQ(r.effect_text(), "+2.00 insn [+1.50, +2.50]");
	a.unit_name = b.unit_name = "ns/item";
	EXPECT_EQ(r.effect_text(), "+2.0 ns [+1.5, +2.5]");
}

TEST(Compare, OffKernelIsAcceptedAsItsOneConfigDifference)
{
	auto on = cell_with("arm64-6.1-src-on", {{"xua_protection_requested", "on"}, {"xua_qemu_cpu", "cortex-a76"},
						  {"xua_kernel_config_sha256", "aaa"}});
	auto offk = cell_with("arm64-6.1-src-off-kernel",
			      {{"xua_protection_requested", "off-kernel"}, {"xua_qemu_cpu", "cortex-a76"},
			       {"xua_kernel_config_sha256", "bbb"}, {"xua_kernel_base_config_sha256", "aaa"},
			       {"xua_kernel_config_diff", "CONFIG_ARM64_EPAN: y -> n, CONFIG_ARM64_PAN: y -> n"},
			       {"xua_kernel_protection_fragment", "pan-off"}});
	EXPECT_TRUE(mismatches(offk, on).empty()) << fmt::format("{}", fmt::join(mismatches(offk, on), "\n"));
	auto acc = accepted_differences(offk, on);
	ASSERT_EQ(acc.size(), 1u);
	EXPECT_NE(acc[0].find("CONFIG_ARM64_PAN: y -> n"), std::string::npos) << acc[0];
	// A kernel whose base is another config (a second difference) is refused.
	auto other = offk;
	other.update_context({{"xua_kernel_base_config_sha256", "ccc"}});
	EXPECT_FALSE(mismatches(other, on).empty());
	EXPECT_TRUE(accepted_differences(other, on).empty());
	// Two "on" cells on different configs are refused too.
	auto on2 = on;
	on2.update_context({{"xua_kernel_config_sha256", "bbb"}});
	EXPECT_FALSE(mismatches(on, on2).empty());
}

TEST(Compare, X86OffKernelIsAcceptedAsItsOneKernelParameter)
{
	auto on = cell_with("x86_64-6.1-on", {{"xua_arch", "x86_64"}, {"xua_protection_requested", "on"},
					       {"xua_qemu_cpu", "max"}, {"xua_kernel_cmdline", "console=ttyS0 quiet"}});
	auto offk = cell_with("x86_64-6.1-off-kernel",
			      {{"xua_arch", "x86_64"}, {"xua_protection_requested", "off-kernel"}, {"xua_qemu_cpu", "max"},
			       {"xua_kernel_cmdline", "console=ttyS0 quiet clearcpuid=smap"},
			       {"xua_protection_cmdline", "clearcpuid=smap"}});
	EXPECT_TRUE(mismatches(on, offk).empty()) << fmt::format("{}", fmt::join(mismatches(on, offk), "\n"));
	ASSERT_EQ(accepted_differences(on, offk).size(), 1u);
	auto more = offk;
	more.update_context({{"xua_kernel_cmdline", "console=ttyS0 quiet clearcpuid=smap nopti"}});
	EXPECT_FALSE(mismatches(on, more).empty()) << "a second parameter is a mismatch";
}

TEST(Compare, AcrossKernelComparesOneProtectionOnTwoKernels)
{
	auto a = cell_with("x86_64-6.1-on", {{"xua_arch", "x86_64"}, {"xua_protection_requested", "on"},
					      {"xua_qemu_cpu", "max"}, {"xua_kernel_release", "6.1.0-56-amd64"},
					      {"xua_kernel_package", "linux-image-6.1.0-56-amd64 6.1.192-2"}});
	auto b = a;
	b.name = "x86_64-6.12-on";
	b.update_context({{"xua_kernel_release", "6.12.57+deb12-amd64"}});
	b.update_context({{"xua_kernel_package", "linux-image-6.12.57+deb12-amd64 6.12.57-1~deb12u1"}});
	EXPECT_FALSE(mismatches(a, b).empty()) << "without --across kernel, two kernels are a mismatch";
	EXPECT_TRUE(mismatches(a, b, "kernel").empty()) << fmt::format("{}", fmt::join(mismatches(a, b, "kernel"), "\n"));
	auto c = compare(a, b, {.across = "kernel"});
	ASSERT_EQ(c.accepted.size(), 1u);
	EXPECT_NE(c.accepted[0].find("kernel A/B"), std::string::npos);
	auto off = b;
	off.update_context({{"xua_protection_requested", "off"}});
	off.update_context({{"xua_qemu_cpu", "max,-smap"}});
	EXPECT_FALSE(mismatches(a, off, "kernel").empty()) << "a kernel A/B keeps the protection";
	EXPECT_THROW(compare(a, off, {.across = "kernel"}), Error);
}

TEST(Compare, AcrossKernelPathKernelAgainstDebian)
{
	nlohmann::json common = {{"xua_arch", "x86_64"}, {"xua_protection_requested", "on"}, {"xua_qemu_cpu", "max"}};
	auto deb = common;
	deb.update({{"xua_kernel_series", "6.1"},
		    {"xua_kernel_release", "6.1.0-56-amd64"},
		    {"xua_kernel_package", "linux-image-6.1.0-56-amd64 6.1.192-2"}});
	auto own = common;
	own.update({{"xua_kernel_series", "tree-6.1.192"},
		    {"xua_kernel_release", "6.1.192"},
		    {"xua_kernel_package", "kernel tree /src/obj: not a git tree"},
		    {"xua_kernel_path", "/src/obj"},
		    {"xua_kernel_form", "build tree"},
		    {"xua_kernel_git_describe", ""},
		    {"xua_kernel_config_sha256", "ac07"}});
	auto a = cell_of("x86_64-6.1-on", deb), b = cell_of("x86_64-tree-6.1.192-on", own);
	EXPECT_FALSE(mismatches(a, b).empty()) << "two kernels without --across kernel";
	EXPECT_TRUE(mismatches(a, b, "kernel").empty()) << fmt::format("{}", fmt::join(mismatches(a, b, "kernel"), "\n"));
	auto c = compare(a, b, {.across = "kernel"});
	ASSERT_EQ(c.accepted.size(), 1u);
	EXPECT_EQ(c.accepted[0], "kernel A/B: 'linux-image-6.1.0-56-amd64 6.1.192-2' (6.1.0-56-amd64) vs tree-6.1.192 "
				 "(build tree /src/obj, release 6.1.192, not a git tree)");
	b.update_context({{"xua_kernel_git_describe", "v6.1.192-3-gabc"}});
	EXPECT_NE(b.kernel_description().find("git v6.1.192-3-gabc"), std::string::npos) << b.kernel_description();
	// The same packages from a directory: the package names the kernel, the path where it came from.
	auto d = cell_of("x86_64-deb-6.1.0-56-amd64-on", deb);
	d.update_context({{"xua_kernel_series", "deb-6.1.0-56-amd64"},
			  {"xua_kernel_path", "/debs"},
			  {"xua_kernel_form", "Debian packages"}});
	EXPECT_EQ(d.kernel_description(), "deb-6.1.0-56-amd64 (Debian packages /debs, release 6.1.0-56-amd64, "
					  "linux-image-6.1.0-56-amd64 6.1.192-2)");
	EXPECT_FALSE(mismatches(a, d).empty()) << "the same package from a path is still another origin";
	EXPECT_TRUE(mismatches(a, d, "kernel").empty());
	// The protection still has to be the same.
	auto off = b;
	off.update_context({{"xua_protection_requested", "off"}});
	off.update_context({{"xua_qemu_cpu", "max,-smap"}});
	EXPECT_THROW(compare(a, off, {.across = "kernel"}), Error);
}

TEST(Machine, CompareRefusesTwoHostMachines)
{
	nlohmann::json j = {{"context", {{"xua_accel", "host"}, {"xua_host_machine", "real silicon"}}},
			    {"benchmarks", {{{"name", "baseline/getppid"}, {"real_time", 400.0}, {"time_unit", "ns"}}}}};
	auto a = parse_cell("host-a", j);
	j["context"]["xua_host_machine"] = "QEMU TCG-emulated machine";
	auto b = parse_cell("host-b", j);
	auto m = mismatches(a, b);
	ASSERT_EQ(m.size(), 1u) << fmt::format("{}", fmt::join(m, "\n"));
	EXPECT_NE(m[0].find("host machine"), std::string::npos) << m[0];
	EXPECT_THROW(compare(a, b, {}), Error);
	EXPECT_TRUE(mismatches(a, a).empty());
}
