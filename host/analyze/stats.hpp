// Statistics over benchmark repetitions: location, spread and the Mann-Whitney U test that Google
// Benchmark's compare.py applies (scipy.stats.mannwhitneyu, two-sided, method "auto").
#pragma once

#include <string>
#include <vector>

namespace xua {

double median(std::vector<double> v);
double mean(const std::vector<double> &v);
// Sample standard deviation / mean (Google Benchmark's "cv" aggregate); -1 with fewer than two values.
double coefficient_of_variation(const std::vector<double> &v);

struct UTest {
	double u1 = 0;       // U of the first sample
	double p = 1;        // two-sided p-value
	bool exact = false;  // exact null distribution (small samples, no ties) or the normal approximation
};

// Two-sided Mann-Whitney U test, computed as scipy 1.10 does by default: the exact distribution when
// one sample has at most 8 values and there are no ties, else the normal approximation with tie and
// continuity corrections. Needs at least one value on each side.
UTest mann_whitney_u(const std::vector<double> &x, const std::vector<double> &y);

// The smallest two-sided p that test can give for samples of n1 and n2 values (complete separation,
// no ties): below alpha only when there are enough values to mark anything at all.
double mann_whitney_min_p(size_t n1, size_t n2);

}  // namespace xua
