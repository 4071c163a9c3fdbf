// The effect layer (host/analyze/effect.hpp): Hodges-Lehmann shifts and ratios with R's wilcox.test
// intervals, the split-half A/A and the regression check. The statistics core below it (distributions,
// ranks, p, q) is tested in test_stats.cpp, and against R itself in test_stats_r.cpp.
//
// Where the expected figures come from (written before R was installed here; test_stats_r.cpp now checks
// the same functions against R itself):
//   - R's own documentation: the Hollander & Wolfe (1973, p. 69) example of ?wilcox.test, W = 35 and
//     one-sided p = 0.1272061 (as R prints it), HL estimate 0.305 (Geyer's Stat 5601 notes, from R);
//   - hand derivations from the Wilcoxon distribution (counts of U for 5 vs 5: 1, 1, 2, 3, ... of 252);
//   - a line-by-line Python port of R's classic two-sample wilcox.test code (exact branch with
//     qwilcox/pwilcox from src/nmath/wilcox.c, normal branch with R_zeroin2 from zeroin.c), p.adjust "BH",
//     run with Debian's python3-scipy 1.10.1; its p-values and W agree with scipy.stats.mannwhitneyu
//     (method "exact" and "asymptotic") in every case below, and its interval bounds in the normal branch
//     lie within uniroot's tolerance of a pairwise difference (where the step function W(d) crosses).
// The figures are printed by that port to 17 significant digits and copied here.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "analyze/effect.hpp"
#include "analyze/stats.hpp"

using namespace xua;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const std::vector<double> kHwX = {0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46};  // term
const std::vector<double> kHwY = {1.15, 0.88, 0.90, 0.74, 1.21};                                // 12-26 weeks
}  // namespace

TEST(EffectShift, RDocumentedExampleExact)
{
	// wilcox.test(x, y, conf.int = TRUE) on ?wilcox.test's Hollander & Wolfe data: 10 vs 5, no ties.
	const ShiftEstimate e = wilcox_shift(kHwX, kHwY);
	EXPECT_TRUE(e.exact);
	EXPECT_EQ(e.w, 35);
	EXPECT_NEAR(e.p, 0.2544122544122544, 1e-15);   // twice the documented 0.1272061
	EXPECT_NEAR(e.estimate, 0.305, 1e-12);          // median of the 50 differences
	EXPECT_NEAR(e.lo, -0.15, 1e-12);                // D(9): qwilcox(0.025, 10, 5) = 9
	EXPECT_NEAR(e.hi, 0.76, 1e-12);                 // D(42)
	EXPECT_EQ(e.achieved_level, 0.95);
	EXPECT_NEAR(e.coverage, 0.9600399600399601, 1e-15);  // 1 - 2 P(U <= 8)
	EXPECT_FALSE(e.limited);
	EXPECT_TRUE(e.note.empty()) << e.note;
	EXPECT_FALSE(e.excludes(0));
	// The p-value is the Mann-Whitney test's where both use the exact distribution (n <= 8 on a side).
	EXPECT_NEAR(e.p, rank_sum_test(kHwX, kHwY).p, 0);
}

TEST(EffectShift, FiveVsFiveByHand)
{
	// The 25 differences x - y, sorted: -5 -3 -1 -1 1 1 1 3 3 3 5 5 6 7 7 8 9 9 10 11 12 13 14 15 17.
	// qwilcox(0.025, 5, 5) = 3, so the interval is [D(3), D(23)] = [-1, 14]; the estimate D(13) = 6;
	// coverage 1 - 2 * 4/252. U of x = 21 of 25: p = 2 P(U >= 21) = 2 * 12/252.
	const ShiftEstimate e = wilcox_shift({10, 12, 14, 16, 18}, {1, 4, 9, 11, 15});
	EXPECT_TRUE(e.exact);
	EXPECT_EQ(e.estimate, 6);
	EXPECT_EQ(e.lo, -1);
	EXPECT_EQ(e.hi, 14);
	EXPECT_EQ(e.w, 21);
	EXPECT_NEAR(e.p, 24.0 / 252, 1e-15);
	EXPECT_NEAR(e.coverage, 1 - 8.0 / 252, 1e-15);
	EXPECT_EQ(e.achieved_level, 0.95);
}

TEST(EffectShift, ThreeVsThreeCannotReachTheLevel)
{
	// R: qwilcox(0.025, 3, 3) = 0 -> 1; achieved alpha = 2 P(U <= 0) = 2/20; 0.1 - 0.05 > 0.025, so R warns
	// "Requested conf.level not achievable" and reports conf.level 0.9 for [min, max] of the differences.
	const ShiftEstimate e = wilcox_shift({4.0, 5.0, 6.5}, {1.0, 2.5, 3.0});
	EXPECT_TRUE(e.exact);
	EXPECT_TRUE(e.limited);
	EXPECT_NEAR(e.achieved_level, 0.9, 1e-15);
	EXPECT_NEAR(e.coverage, 0.9, 1e-15);
	EXPECT_EQ(e.lo, 1.0);  // 4 - 3
	EXPECT_EQ(e.hi, 5.5);  // 6.5 - 1
	EXPECT_EQ(e.estimate, 3.0);
	EXPECT_NEAR(e.p, 0.1, 1e-15);  // the smallest p 3 vs 3 can give
	EXPECT_NE(e.note.find("cannot give a 95 % interval"), std::string::npos) << e.note;
	EXPECT_NE(e.note.find("90 %"), std::string::npos) << e.note;

	// 3 vs 4 is achievable by R's rule (alpha 0.057 is within 1.5 x 0.05) with coverage 0.943; 4 vs 4 reaches 0.971.
	const ShiftEstimate e34 = wilcox_shift({4.0, 5.0, 6.5}, {1.0, 2.5, 3.0, 3.5});
	EXPECT_FALSE(e34.limited);
	EXPECT_EQ(e34.achieved_level, 0.95);
	EXPECT_NEAR(e34.coverage, 0.9428571428571428, 1e-15);
	EXPECT_EQ(e34.lo, 0.5);
	EXPECT_EQ(e34.hi, 5.5);
	EXPECT_EQ(e34.estimate, 2.75);
	const ShiftEstimate e44 = wilcox_shift({4.0, 5.0, 6.5, 7.0}, {1.0, 2.5, 3.0, 3.5});
	EXPECT_NEAR(e44.coverage, 0.9714285714285714, 1e-15);
	EXPECT_EQ(e44.lo, 0.5);
	EXPECT_EQ(e44.hi, 6.0);

	// One value a side: R's interval is the one difference, at conf.level 0.
	const ShiftEstimate e11 = wilcox_shift({2.0}, {1.0});
	EXPECT_TRUE(e11.limited);
	EXPECT_EQ(e11.achieved_level, 0.0);
	EXPECT_EQ(e11.lo, 1.0);
	EXPECT_EQ(e11.hi, 1.0);
}

TEST(EffectShift, TiesUseTheNormalApproximationWithUniroot)
{
	// Ties (1.1 and 2.2 on both sides): R falls back to the normal approximation with the tie and
	// continuity corrections, and finds the bounds with uniroot (tol 1e-4). The port's figures; the
	// bounds are within the tolerance of the pairwise differences 0.5 - 1.1 and 5.1 - 1.9. R's estimate
	// is where the uncorrected statistic is 0 (1.2322), not the median of the differences (1.25).
	const std::vector<double> x = {1.1, 2.2, 2.2, 3.5, 4.0, 5.1}, y = {0.5, 1.1, 1.9, 2.2, 2.8};
	const ShiftEstimate e = wilcox_shift(x, y);
	EXPECT_FALSE(e.exact);
	EXPECT_EQ(e.w, 23.5);
	EXPECT_NEAR(e.p, 0.13954714372531585, 1e-14);  // = scipy mannwhitneyu(method="asymptotic")
	EXPECT_NEAR(e.p, rank_sum_test(x, y).p, 0) << "the one p rule (stats.hpp)";
	EXPECT_NEAR(e.lo, -0.600001707809035, 1e-12);
	EXPECT_NEAR(e.hi, 3.1999447025831604, 1e-12);
	EXPECT_NEAR(e.lo, 0.5 - 1.1, 1e-4);
	EXPECT_NEAR(e.hi, 5.1 - 1.9, 1e-4);
	EXPECT_NEAR(e.estimate, 1.2322241077514098, 1e-12);
	EXPECT_EQ(e.achieved_level, 0.95);
	EXPECT_FALSE(e.limited);
}

TEST(EffectShift, FiftyValuesUseTheNormalApproximation)
{
	// 50 vs 55 values without ties: R's exact branch needs fewer than 50 on both sides. Deterministic data
	// (Python random.Random(12), N(102, 3) and N(100, 3) rounded to 1e-3); the port's figures.
	const std::vector<double> x = {
		97.664, 102.699, 101.166, 100.56, 104.901, 102.198, 101.177, 107.408, 100.516, 98.211, 97.877, 100.422, 103.975,
		104.557, 105.417, 107.557, 107.171, 104.003, 106.079, 104.066, 100.412, 104.61, 102.319, 101.514, 108.182,
		104.483, 100.692, 101.927, 109.241, 101.413, 104.393, 104.044, 103.717, 103.949, 100.704, 100.761, 101.681,
		101.08, 104.621, 106.855, 99.465, 103.829, 99.188, 100.064, 101.441, 102.495, 100.836, 94.235, 106.379, 101.343};
	const std::vector<double> y = {
		98.234, 102.237, 98.35, 95.824, 101.658, 101.44, 97.654, 102.718, 101.303, 96.717, 105.492, 100.981, 96.714,
		101.542, 100.551, 103.119, 96.062, 103.331, 103.03, 102.278, 102.022, 104.164, 102.35, 100.554, 97.618, 103.544,
		103.15, 101.069, 100.625, 102.36, 92.509, 101.126, 92.558, 100.892, 103.374, 105.921, 98.722, 101.464, 99.939,
		93.385, 102.369, 100.099, 100.355, 97.279, 100.021, 100.394, 104.037, 101.037, 110.76, 98.902, 99.34, 99.985,
		97.679, 104.742, 102.11};
	const ShiftEstimate e = wilcox_shift(x, y);
	EXPECT_FALSE(e.exact);
	EXPECT_EQ(e.w, 1857);
	EXPECT_NEAR(e.p, 0.002005924662317256, 1e-14);
	EXPECT_NEAR(e.p, rank_sum_test(x, y).p, 0) << "the one p rule (stats.hpp)";
	EXPECT_NEAR(e.lo, 0.622936382788229, 1e-10);
	EXPECT_NEAR(e.hi, 3.1110418098628614, 1e-10);
	EXPECT_NEAR(e.estimate, 1.815800478495968, 1e-10);
	EXPECT_TRUE(e.excludes(0));
}

TEST(EffectShift, IdenticalValuesOnEachSideAreAnExactShift)
{
	// An exact clock: every boot bit-identical. R stops ("all observations are tied"); here the shift is exact.
	const ShiftEstimate e = wilcox_shift({5, 5, 5}, {3, 3, 3});
	EXPECT_EQ(e.estimate, 2);
	EXPECT_EQ(e.lo, 2);
	EXPECT_EQ(e.hi, 2);
	EXPECT_FALSE(e.exact);
	// R's p (normal approximation, ties 3 and 3): z = (4.5 - 0.5) / sqrt(9/12 (7 - 48/30)).
	EXPECT_NEAR(e.p, 0.04685417760387376, 1e-14);
	EXPECT_NE(e.note.find("identical"), std::string::npos);
	const ShiftEstimate same = wilcox_shift({7, 7}, {7, 7, 7});
	EXPECT_EQ(same.estimate, 0);
	EXPECT_EQ(same.p, 1);  // R: NaN (0/0)
}

TEST(EffectShift, MissingAndNonFiniteValues)
{
	const ShiftEstimate none = wilcox_shift({}, {1, 2});
	EXPECT_FALSE(none.valid());
	EXPECT_FALSE(none.note.empty());
	// Non-finite values are dropped, as R does: the result is the 5 vs 5 case above.
	const ShiftEstimate e = wilcox_shift({10, kNaN, 12, 14, 16, 18}, {1, 4, 9, 11, 15, std::numeric_limits<double>::infinity()});
	EXPECT_EQ(e.nx, 5u);
	EXPECT_EQ(e.ny, 5u);
	EXPECT_EQ(e.estimate, 6);
	EXPECT_NE(e.note.find("2 non-finite"), std::string::npos) << e.note;
	EXPECT_THROW(wilcox_shift({1}, {2}, 1.0), std::invalid_argument);
}

TEST(EffectRatio, LogScaleHodgesLehmann)
{
	// B about 10 % slower than A, 6 boots each: wilcox.test(log(B), log(A), conf.int = TRUE), exponentiated
	// (the port). With 36 pairwise ratios b/a the estimate is the geometric mean of the middle two
	// (109.1 / 99.2 and 110.9 / 100.8): exp of the mean of their logarithms.
	const std::vector<double> a = {100.0, 101.5, 99.2, 100.8, 98.9, 100.3};
	const std::vector<double> b = {110.4, 111.0, 109.1, 110.9, 108.7, 110.2};
	const ShiftEstimate e = time_ratio(a, b);
	EXPECT_TRUE(e.ratio);
	EXPECT_TRUE(e.exact);
	EXPECT_NEAR(e.estimate, 1.099998381713421, 1e-12);
	EXPECT_NEAR(e.estimate, std::sqrt(109.1 / 99.2 * (110.9 / 100.8)), 1e-15);
	EXPECT_NEAR(e.lo, 1.0857142857142863, 1e-12);       // the pairwise ratio 110.2 / 101.5
	EXPECT_NEAR(e.hi, 1.1142568250758342, 1e-12);
	EXPECT_NEAR(e.p, 0.0021645021645021645, 1e-15);     // 2 / C(12, 6): complete separation
	EXPECT_TRUE(e.excludes(1));
	// The same call through wilcox_ratio (x = B, y = A).
	EXPECT_EQ(wilcox_ratio(b, a).estimate, e.estimate);
	// Zero or negative times have no ratio.
	const ShiftEstimate bad = time_ratio({1, 2, 0}, {1, 2, 3});
	EXPECT_FALSE(bad.valid());
	EXPECT_NE(bad.note.find("zero or negative"), std::string::npos);
}

TEST(EffectDifference, ShiftInNanosecondsForToggleRows)
{
	// guard/toggle: "off" is a patched NOP (~1 ns), so on - off in ns is reported, not a ratio.
	const ShiftEstimate e = time_difference({1.02, 0.98, 1.01, 0.99, 1.00}, {31.0, 29.5, 30.2, 30.8, 29.9});
	EXPECT_TRUE(e.exact);
	EXPECT_FALSE(e.ratio);
	// The 25 differences b - a run from 28.48 to 30.02; with 5 vs 5 the interval is [D(3), D(23)] (the port).
	EXPECT_NEAR(e.lo, 28.5, 1e-12);  // 29.5 - 1.00
	EXPECT_NEAR(e.hi, 30.0, 1e-12);  // 31.0 - 1.00
	EXPECT_NEAR(e.estimate, 29.2, 1e-12);
	EXPECT_NEAR(e.p, 2.0 / 252, 1e-15);
	EXPECT_TRUE(e.excludes(0));
}

TEST(EffectAA, SplitsBootsInterleaved)
{
	auto h = split_interleaved(std::vector<int>{0, 1, 2, 3, 4});
	EXPECT_EQ(h.even, (std::vector<int>{0, 2, 4}));
	EXPECT_EQ(h.odd, (std::vector<int>{1, 3}));
	auto v = split_interleaved(std::vector<std::vector<double>>{{1, 2}, {3}, {4}});
	EXPECT_EQ(v.even.size(), 2u);
	EXPECT_EQ(v.odd.front(), std::vector<double>{3});
}

TEST(EffectAA, CountsRowsMarkedAgainstItself)
{
	// 20 boots per row: 10 against 10, smallest p 2 / C(20, 10) = 1.08e-5.
	RowSamples rows;
	for (int r = 0; r < 9; ++r) {
		std::vector<double> boots;
		for (int i = 0; i < 20; ++i)  // no parity pattern: a slow wave over the run
			boots.push_back(100 + r + std::sin(0.7 * i + r) + 0.01 * i);
		rows["row" + std::to_string(r)] = boots;
	}
	std::vector<double> drift;
	for (int i = 0; i < 20; ++i)  // odd boots all slower: a parity effect the A/A must see
		drift.push_back(i % 2 ? 200 + i : 100 + i);
	rows["parity"] = drift;
	rows["one-boot"] = {5.0};
	const SplitHalfAA aa = split_half_aa(rows);
	EXPECT_EQ(aa.rows, 10u);
	EXPECT_EQ(aa.skipped, 1u);
	EXPECT_TRUE(aa.can_mark);
	EXPECT_NEAR(aa.min_p, 2.0 / 184756, 1e-15);
	EXPECT_EQ(aa.marked, 1u);
	ASSERT_EQ(aa.marked_rows.size(), 1u);
	EXPECT_EQ(aa.marked_rows[0], "parity");
	EXPECT_NE(aa.summary().find("1 of 10 rows marked at q < 0.05"), std::string::npos) << aa.summary();

	// 5 boots: 3 against 2 can give p = 0.2 at best, so nothing can be marked, and the summary says so.
	const SplitHalfAA few = split_half_aa({{"r", {1, 2, 3, 4, 5}}});
	EXPECT_FALSE(few.can_mark);
	EXPECT_NEAR(few.min_p, 0.2, 1e-15);
	EXPECT_EQ(few.marked, 0u);
	EXPECT_NE(few.summary().find("cannot reach p < 0.05"), std::string::npos) << few.summary();

	// An exact clock: identical boots give p = 1 everywhere, nothing marked.
	const SplitHalfAA icount = split_half_aa({{"a", std::vector<double>(8, 883.7)}, {"b", std::vector<double>(8, 2.5)}});
	EXPECT_EQ(icount.rows, 2u);
	EXPECT_EQ(icount.marked, 0u);
}

TEST(EffectRegression, TimeClockFixture)
{
	// Time per unit, 6 boots a side; the interval figures are the port's (see EffectRatio above).
	const std::vector<double> base = {100.0, 101.5, 99.2, 100.8, 98.9, 100.3};
	const RowSamples a = {
		{"slow10", base},
		{"slow2", base},
		{"faster", base},
		{"noisy", {100, 90, 110, 95, 105, 100.5}},
		{"boots3", {100.0, 101.0, 99.0}},
		{"tied", {100.0, 100.0, 101.0, 99.0, 100.5, 99.5}},
		{"only-in-a", base},
	};
	const RowSamples b = {
		{"slow10", {110.4, 111.0, 109.1, 110.9, 108.7, 110.2}},  // 1.100 [1.0857, 1.1143]: slower
		{"slow2", {102.3, 103.1, 101.0, 102.9, 100.7, 102.4}},   // 1.020 [1.0070, 1.0344]: within 5 %
		{"faster", {90.1, 91.0, 89.5, 90.7, 89.9, 90.2}},        // 0.901 [0.8919, 0.9110]
		{"noisy", {104, 94, 116, 99, 112, 103}},                  // 1.041 [0.94, 1.1556]: inconclusive
		{"boots3", {120.0, 121.0, 119.5}},                        // 20 % slower, but 3 vs 3 reach only 90 %
		{"tied", {108.0, 108.0, 109.5, 107.0, 108.5, 110.0}},    // ties: 1.085 [1.0700, 1.1000], normal approx.
		{"only-in-b", base},
	};
	const RegressionCheck c = check_regression(a, b, 5, Clock::time);
	ASSERT_EQ(c.rows.size(), 6u);
	EXPECT_EQ(c.only_a, std::vector<std::string>{"only-in-a"});
	EXPECT_EQ(c.only_b, std::vector<std::string>{"only-in-b"});
	auto row = [&](const std::string &n) -> const RegressionRow & {
		for (const auto &r : c.rows)
			if (r.name == n)
				return r;
		throw std::runtime_error("no row " + n);
	};
	EXPECT_EQ(row("slow10").verdict, RegressionVerdict::slower) << row("slow10").reason;
	EXPECT_NEAR(row("slow10").lo, 1.0857142857142863, 1e-12);
	EXPECT_EQ(row("slow2").verdict, RegressionVerdict::within) << row("slow2").reason;
	EXPECT_NEAR(row("slow2").hi, 1.0343781597573307, 1e-12);
	EXPECT_EQ(row("faster").verdict, RegressionVerdict::within);
	EXPECT_EQ(row("noisy").verdict, RegressionVerdict::inconclusive) << row("noisy").reason;
	EXPECT_EQ(row("boots3").verdict, RegressionVerdict::untestable);
	EXPECT_NE(row("boots3").reason.find("90 %"), std::string::npos) << row("boots3").reason;
	EXPECT_EQ(row("tied").verdict, RegressionVerdict::slower) << row("tied").reason;
	EXPECT_NEAR(row("tied").lo, 1.0700165874348664, 1e-9);
	EXPECT_NE(row("tied").reason.find("normal approximation"), std::string::npos);
	EXPECT_EQ(c.count(RegressionVerdict::slower), 2u);
	EXPECT_TRUE(c.failed());
	// At 10 %, slow10's lower bound 1.0857 no longer clears the limit (its upper bound 1.114 is above it).
	const RegressionCheck c10 = check_regression(a, b, 10, Clock::time);
	EXPECT_EQ(c10.count(RegressionVerdict::slower), 0u);
	EXPECT_FALSE(c10.failed());
}

TEST(EffectRegression, ExactClockComparesValues)
{
	const RowSamples a = {
		{"copy_to_user/4096", {1000, 1000}},
		{"copy_from_user/4096", {1000, 1000}},
		{"pipe/rtt", {500}},
		{"drifting", {10, 10}},
		{"zero", {0}},
	};
	const RowSamples b = {
		{"copy_to_user/4096", {1060, 1060}},   // +6 %: slower at 5 %
		{"copy_from_user/4096", {1040, 1040}}, // +4 %: within
		{"pipe/rtt", {525}},                   // exactly +5 %: not more than 5 %
		{"drifting", {10, 10.5}},              // boots differ: not an exact clock
		{"zero", {1}},
	};
	const RegressionCheck c = check_regression(a, b, 5, Clock::icount);
	ASSERT_EQ(c.rows.size(), 5u);
	for (const auto &r : c.rows) {
		if (r.name == "copy_to_user/4096") {
			EXPECT_EQ(r.verdict, RegressionVerdict::slower) << r.reason;
			EXPECT_DOUBLE_EQ(r.ratio, 1.06);
		} else if (r.name == "copy_from_user/4096") {
			EXPECT_EQ(r.verdict, RegressionVerdict::within) << r.reason;
		} else if (r.name == "pipe/rtt") {
			EXPECT_EQ(r.verdict, RegressionVerdict::within) << r.reason;
		} else if (r.name == "drifting") {
			EXPECT_EQ(r.verdict, RegressionVerdict::inconsistent);
			EXPECT_NE(r.reason.find("not an exact clock"), std::string::npos) << r.reason;
		} else {
			EXPECT_EQ(r.verdict, RegressionVerdict::untestable) << r.reason;
		}
	}
	EXPECT_EQ(c.count(RegressionVerdict::slower), 1u);
	EXPECT_TRUE(c.failed());
	EXPECT_STREQ(to_string(RegressionVerdict::inconclusive), "inconclusive");
	EXPECT_THROW(check_regression(a, b, -1, Clock::icount), std::invalid_argument);
}
