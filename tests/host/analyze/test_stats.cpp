// The statistics core (host/analyze/stats.hpp): the rank-sum distribution, the normal quantile and tail,
// mid-ranks, the one p rule (R's wilcox.test), the smallest reachable p and Benjamini-Hochberg.
//
// Figures here are derivations by hand (counts of U out of C(m + n, m)) and R 4.2.2's own output
// (Debian bookworm r-base-core: Rscript -e 'wilcox.test(x, y)$p.value', printed with digits = 17).
// test_stats_rmath.cpp checks the distributions against R's libRmath over whole grids, and
// test_stats_r.cpp checks whole comparisons against wilcox.test(conf.int = TRUE) and p.adjust("BH").
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "analyze/stats.hpp"

using namespace xua;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

TEST(Stats, MedianMeanAndSpread)
{
	EXPECT_DOUBLE_EQ(median({3, 1, 2, 10}), 2.5);
	EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2);
	EXPECT_DOUBLE_EQ(mean({1, 2, 6}), 3);
	EXPECT_DOUBLE_EQ(coefficient_of_variation({4}), -1);
	EXPECT_NEAR(coefficient_of_variation({1, 2, 3}), 0.5, 1e-15);
}

TEST(Stats, MidRanksAndTieTerm)
{
	const Ranks r = mid_ranks({10, 20, 20, 5, 20});
	EXPECT_EQ(r.rank, (std::vector<double>{2, 4, 4, 1, 4}));  // R: rank(c(10, 20, 20, 5, 20))
	EXPECT_DOUBLE_EQ(r.tie_term, 24);                         // one group of 3: 27 - 3
	EXPECT_TRUE(r.ties);
	EXPECT_FALSE(mid_ranks({3, 1, 2}).ties);
}

TEST(Stats, WilcoxonQuantilesAndTails)
{
	// 5 vs 5: C(10, 5) = 252 arrangements; U = 0, 1, 2, 3 have 1, 1, 2, 3 of them.
	EXPECT_DOUBLE_EQ(pwilcox(2, 5, 5), 4.0 / 252);
	EXPECT_DOUBLE_EQ(pwilcox(3, 5, 5), 7.0 / 252);
	EXPECT_EQ(qwilcox(0.025, 5, 5), 3);   // 4/252 < 0.025 <= 7/252
	EXPECT_EQ(qwilcox(0.975, 5, 5), 22);  // symmetric: 25 - 3
	EXPECT_EQ(qwilcox(0.025, 3, 3), 0);   // P(U = 0) = 1/20 already exceeds 0.025
	EXPECT_EQ(qwilcox(0.025, 10, 5), 9);  // the port
	// ?wilcox.test: "W = 35, p-value = 0.1272" for alternative "greater"; P(U >= 35) = P(U <= 15).
	EXPECT_NEAR(pwilcox(15, 10, 5), 0.1272061272061272, 1e-15);
	EXPECT_NEAR(pwilcox(34, 10, 5, false), 0.1272061272061272, 1e-15);
	// Largest exact case: 49 vs 49 (the port, exact integer counts).
	EXPECT_EQ(qwilcox(0.025, 49, 49), 925);
	EXPECT_NEAR(pwilcox(900, 49, 49), 0.016308863525874268, 1e-13);
}

TEST(Stats, NormalQuantileIsAs241)
{
	// scipy.special.ndtri: 1.959963984540054 (R prints qnorm(0.975) as 1.959964).
	EXPECT_NEAR(qnorm(0.975), 1.959963984540054, 1e-15);
	EXPECT_NEAR(qnorm(0.025), -1.9599639845400545, 1e-15);
	EXPECT_NEAR(qnorm(0.995), 2.5758293035489004, 1e-15);
	EXPECT_NEAR(qnorm(1e-12), -7.034483825301131, 1e-13);
	EXPECT_NEAR(qnorm(0.5), 0.0, 0);
	EXPECT_EQ(qnorm(0.025, false), -qnorm(0.025));  // R's upper tail: same branch, r = p
	EXPECT_NEAR(qnorm(0.3, false), -qnorm(0.3), 1e-15);
	EXPECT_NEAR(pnorm_upper(1.959963984540054), 0.025, 1e-16);
}

TEST(Stats, OneRuleForP)
{
	// R 4.2.2: suppressWarnings(wilcox.test(x, y))[c("statistic", "p.value")].
	struct Case {
		std::vector<double> x, y;
		double w, p;
		bool exact;
	};
	const std::vector<Case> cases = {
		{{1, 2, 3}, {4, 5, 6}, 0, 0.10000000000000001, true},
		{{1.1, 2.3, 0.7, 5.5, 3.3}, {2.2, 6.1, 7.4, 4.4, 8.8, 9.9}, 4, 0.051948051948051951, true},
		{{1, 2, 2, 3, 4}, {2, 3, 3, 5, 6, 7}, 6, 0.11390314458853068, false},  // ties: normal approximation
		// 12 vs 10 without ties: exact in R (scipy 1.10's mannwhitneyu, which compare.py calls, goes normal
		// above 8 a side and says 0.0272; the project used that rule for a row's p until issue 21).
		{{3.1, 4.7, 2.2, 9.5, 6.1, 5.8, 7.7, 1.9, 8.4, 6.6, 3.9, 5.2},
		 {4.4, 7.1, 8.8, 9.1, 6.9, 10.2, 5.5, 7.9, 9.7, 8.1}, 26, 0.024916260210377857, true},
		{{2}, {1}, 1, 1, true},
	};
	for (const auto &c : cases) {
		const RankSumTest t = rank_sum_test(c.x, c.y);
		EXPECT_EQ(t.w, c.w);
		EXPECT_NEAR(t.p, c.p, 1e-15) << "W " << c.w;
		EXPECT_EQ(t.exact, c.exact) << "W " << c.w;
	}
	// Fifty values on a side: the normal approximation. R: wilcox.test(1:50, 51:100 + 0.5)$p.value.
	std::vector<double> lo(50), hi(50);
	for (int i = 0; i < 50; ++i) {
		lo[static_cast<size_t>(i)] = 1 + i;
		hi[static_cast<size_t>(i)] = 51.5 + i;
	}
	const RankSumTest big = rank_sum_test(lo, hi);
	EXPECT_FALSE(big.exact);
	EXPECT_NEAR(big.p / 7.0660719303889642e-18, 1, 1e-12);
	// Every value tied: R's p is NaN (0/0); no difference can be seen, so 1.
	EXPECT_EQ(rank_sum_test({5, 5, 5}, {5, 5, 5, 5}).p, 1);
	EXPECT_THROW(rank_sum_test({}, {1.0}), std::invalid_argument);
}

TEST(Stats, SmallestReachableP)
{
	EXPECT_NEAR(wilcox_min_p(3, 3), 0.1, 1e-15);
	EXPECT_NEAR(wilcox_min_p(4, 4), 2.0 / 70, 1e-15);
	EXPECT_NEAR(wilcox_min_p(5, 5), 2.0 / 252, 1e-15);
	EXPECT_NEAR(wilcox_min_p(9, 9), 2.0 / 48620, 1e-18);  // R: 4.1135335252982309e-05
	EXPECT_NEAR(wilcox_min_p(3, 2), 0.2, 1e-15);
	EXPECT_EQ(wilcox_min_p(0, 4), 1);
}

TEST(Stats, BenjaminiHochbergByHand)
{
	// m = 5 (NaN left out). Sorted: .005 .01 .03 .04 .2 -> m p / i = .025 .025 .05 .05 .2; the running minimum
	// from the top leaves them so.
	auto q = bh_qvalues({0.01, 0.04, 0.03, 0.005, kNaN, 0.2});
	ASSERT_EQ(q.size(), 6u);
	EXPECT_DOUBLE_EQ(q[0], 0.025);
	EXPECT_DOUBLE_EQ(q[1], 0.05);
	EXPECT_DOUBLE_EQ(q[2], 0.05);
	EXPECT_DOUBLE_EQ(q[3], 0.025);
	EXPECT_TRUE(std::isnan(q[4]));
	EXPECT_DOUBLE_EQ(q[5], 0.2);
	// Ties: three equal p get p; {.01, .01, .9}: 3/2 .01 = .015 for both (not 3 * .01).
	for (double v : bh_qvalues({0.02, 0.02, 0.02}))
		EXPECT_DOUBLE_EQ(v, 0.02);
	q = bh_qvalues({0.01, 0.01, 0.9});
	EXPECT_DOUBLE_EQ(q[0], 0.015);
	EXPECT_DOUBLE_EQ(q[1], 0.015);
	EXPECT_DOUBLE_EQ(q[2], 0.9);
	// Capped at 1; a single p (R: n <= 1) comes back unchanged; empty and all-NaN inputs.
	q = bh_qvalues({0.6, 0.7});
	EXPECT_DOUBLE_EQ(q[0], 0.7);
	EXPECT_DOUBLE_EQ(q[1], 0.7);
	EXPECT_DOUBLE_EQ(bh_qvalues({0.03})[0], 0.03);
	EXPECT_DOUBLE_EQ(bh_qvalues({kNaN, 0.03})[1], 0.03);
	EXPECT_TRUE(bh_qvalues({}).empty());
	EXPECT_TRUE(std::isnan(bh_qvalues({kNaN, kNaN})[1]));
	EXPECT_DOUBLE_EQ(bh_qvalues({0.9, 0.95, 0.99})[0], 0.99);
}

