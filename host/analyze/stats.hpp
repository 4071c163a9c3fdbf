// The statistics core: every rank and distribution computation of the host side is defined here once,
// and everything else (effect.hpp's intervals, compare's p and q, the split-half A/A, the regression
// check) calls it.
//
// The p-value rule is R's wilcox.test (two-sided, two samples, R's classic code, unchanged from R 2.x to
// 4.5): the exact Wilcoxon distribution when both samples have fewer than 50 values and the pooled sample
// has no ties, else the normal approximation with tie and continuity corrections. docs/statistics.md says
// why this rule and not scipy's (the one Google Benchmark's compare.py calls). The distributions follow
// R's nmath (src/nmath/wilcox.c, qnorm.c); tests/host/analyze/test_stats_rmath.cpp checks them against
// Debian's libRmath, and tests/host/analyze/r/ checks whole comparisons against R's wilcox.test and
// p.adjust.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace xua {

double median(std::vector<double> v);
double mean(const std::vector<double> &v);
// Sample standard deviation / mean (Google Benchmark's "cv" aggregate); -1 with fewer than two values.
double coefficient_of_variation(const std::vector<double> &v);

// Mid-ranks (R's rank, ties.method "average") and the tie term sum(t^3 - t) over tie groups.
struct Ranks {
	std::vector<double> rank;
	double tie_term = 0;
	bool ties = false;
};
Ranks mid_ranks(const std::vector<double> &v);

// sqrt((nx ny / 12) ((nx + ny + 1) - sum(t^3 - t) / ((nx + ny)(nx + ny - 1)))): wilcox.test's SIGMA, the
// standard deviation of the rank sum under the null hypothesis, corrected for ties.
double rank_sum_sigma(double nx, double ny, double tie_term);

// The null distribution of the Wilcoxon rank-sum statistic U (= R's W) for samples of m and n values
// without ties: the number of arrangements with U = k, k = 0..m*n (R's cwilcox, by the recurrence
// f(m, n, k) = f(m-1, n, k-n) + f(m, n-1, k)), in doubles as in R.
class RankSumDistribution {
public:
	RankSumDistribution(size_t m, size_t n);
	double p(double q, bool lower_tail = true) const;  // R's pwilcox(q, m, n, lower_tail)
	double q(double x) const;                          // R's qwilcox(x, m, n) (lower tail)

private:
	size_t m_, n_;
	std::vector<double> count_;
	double total_;  // choose(m + n, n)
};
// The same as free functions: NaN for an empty sample (or p outside [0, 1]).
double pwilcox(double q, size_t m, size_t n, bool lower_tail = true);  // P(U <= q), R's pwilcox
double qwilcox(double p, size_t m, size_t n);                          // R's qwilcox (lower tail)

// The standard normal quantile (Wichura's AS 241, as R's qnorm(p, lower.tail)) and upper tail P(Z > z)
// (R's pnorm(z, lower.tail = FALSE) to a few units in the last place).
double qnorm(double p, bool lower_tail = true);
double pnorm_upper(double z);

// wilcox.test(x, y)'s W (the Mann-Whitney U of x) and two-sided p-value for finite, non-empty x and y,
// by the rule above; `exact` says which branch ran. All values tied (R: p = NaN) gives p = 1: no
// difference can be seen. Throws std::invalid_argument when a sample is empty.
struct RankSumTest {
	double w = 0, p = 1;
	bool exact = false;
};
RankSumTest rank_sum_test(const std::vector<double> &x, const std::vector<double> &y);

// The smallest two-sided p rank_sum_test can give for nx vs ny values (complete separation, no ties):
// below alpha only when there are enough values to mark anything at all. 1 when a side is empty.
double wilcox_min_p(size_t nx, size_t ny);

// Benjamini-Hochberg q-values, as R's p.adjust(p, "BH"): NaN p-values are left out of the count m and
// come back NaN; tied p-values get equal q-values; q = min(1, min over j >= rank of m p_(j) / j).
std::vector<double> bh_qvalues(const std::vector<double> &p);

}  // namespace xua
