// Effects with intervals, multiple-comparison control, the run's own noise and the regression check
// (issue 12): pure functions over samples, no I/O.
//
// The interval is the one R prints for `wilcox.test(x, y, conf.int = TRUE, conf.level = 0.95)` (R's
// classic two-sample code, unchanged from R 2.x to 4.5; R-devel rewrote it in 2025 to use the exact
// conditional distribution under ties, which this does not follow):
//   - exact (the Wilcoxon distribution, qwilcox/pwilcox) when both samples have fewer than 50 values and
//     the pooled sample has no ties: the interval is [D(k), D(mn+1-k)] of the m*n sorted pairwise
//     differences x_i - y_j with k = qwilcox(alpha/2, m, n) (raised to 1 when 0), the estimate their
//     median (Hodges-Lehmann). When no k reaches the level (R: "Requested conf.level not achievable",
//     e.g. 3 vs 3 values), the level that is achieved is reported instead;
//   - otherwise the normal approximation with tie correction: each bound is where the continuity-corrected
//     standardised rank sum of (x - d, y) crosses the normal quantile, found with R's uniroot (Brent's
//     zeroin, ported line by line, tolerance 1e-4 in the units of the data), and the estimate where the
//     uncorrected statistic crosses 0.
// Ratios are taken on the logarithms of the values and exponentiated: the HL ratio of B over A is the
// median of the pairwise ratios b_j / a_i, and its interval comes from the same order statistics.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "analyze/stats.hpp"
#include "shared/results_schema.hpp"

namespace xua {

// What wilcox.test(x, y, conf.int = TRUE, conf.level = L) returns, for a shift (x - y) or a ratio (x / y).
struct ShiftEstimate {
	static constexpr double nan = std::numeric_limits<double>::quiet_NaN();
	double estimate = nan;         // Hodges-Lehmann: location of x minus (or over) that of y
	double lo = nan, hi = nan;     // the confidence interval
	double requested_level = 0.95;
	double achieved_level = nan;   // R's attr(conf.int, "conf.level"): the requested one unless not achievable
	double coverage = nan;         // exact: the interval's exact coverage (>= achieved_level, or slightly
	                               // below the requested one where R still calls it achievable, e.g. 3 vs 4:
	                               // 0.943); normal approximation: the nominal level
	double p = nan;                // two-sided p-value of wilcox.test (rank_sum_test, stats.hpp): the p of
	                               // compare's rows and of the split-half A/A
	double w = nan;                // R's W statistic: the Mann-Whitney U of x
	bool exact = false;            // the exact distribution was used
	bool limited = false;          // the requested level is not achievable with these sample sizes
	bool ratio = false;            // estimate and interval are ratios x / y
	size_t nx = 0, ny = 0;         // values used (finite; positive for ratios)
	std::string note;              // why the result is limited or missing; empty when neither
	bool valid() const { return !std::isnan(estimate); }
	// Whether the interval excludes v (0 for a shift, 1 for a ratio): "the samples differ".
	bool excludes(double v) const { return valid() && !std::isnan(lo) && (lo > v || hi < v); }
};

// Shift of x relative to y (x - y), as wilcox.test(x, y, conf.int = TRUE, conf.level). Non-finite values
// are dropped, as R does. With every value of x equal and every value of y equal (an exact clock), the
// shift is known exactly: estimate = lo = hi = x0 - y0, p = 1 (R stops with "cannot compute confidence
// interval when all observations are tied").
ShiftEstimate wilcox_shift(const std::vector<double> &x, const std::vector<double> &y,
			   double conf_level = 0.95);
// Ratio x / y: wilcox_shift on the logarithms, estimate and bounds exponentiated. Values must be positive
// (the result is invalid, with a note, otherwise).
ShiftEstimate wilcox_ratio(const std::vector<double> &x, const std::vector<double> &y,
			   double conf_level = 0.95);

// The benchmark readings: B against A in time per unit of work (lower is faster).
// B's time over A's (> 1: B slower), e.g. guard on over guard off.
inline ShiftEstimate time_ratio(const std::vector<double> &a, const std::vector<double> &b,
				double conf_level = 0.95)
{
	return wilcox_ratio(b, a, conf_level);
}
// B's time minus A's in the values' unit (ns), for rows where a ratio means nothing (guard/toggle: its
// "off" is a patched NOP of about 1 ns).
inline ShiftEstimate time_difference(const std::vector<double> &a, const std::vector<double> &b,
				     double conf_level = 0.95)
{
	return wilcox_shift(b, a, conf_level);
}

// A row's samples, one per boot in boot order (or any per-boot object), by benchmark name.
using RowSamples = std::map<std::string, std::vector<double>>;

// A cell's boots split into two interleaved halves: boots 0, 2, 4, ... and 1, 3, 5, ... Interleaving
// spreads any drift over the run evenly between the halves.
template <class T>
struct Halves {
	std::vector<T> even, odd;
};
template <class T>
Halves<T> split_interleaved(const std::vector<T> &boots)
{
	Halves<T> h;
	for (size_t i = 0; i < boots.size(); ++i)
		(i % 2 ? h.odd : h.even).push_back(boots[i]);
	return h;
}

// The same cell against itself: each row's even boots against its odd boots with wilcox.test, q-values
// over the rows, rows marked at q < alpha. Nothing differs between the halves, so every mark is noise:
// this is the run's own false-positive count. It has half the boots per side of the real comparison, so
// it is a floor rather than a copy of that comparison's noise; `can_mark` says whether the halves are big
// enough to mark anything at all.
struct SplitHalfAA {
	double alpha = 0.05;
	size_t rows = 0;                    // rows compared (both halves non-empty)
	size_t skipped = 0;                 // rows with fewer than two boots
	size_t marked = 0;                  // rows at q < alpha
	std::vector<std::string> marked_rows;
	std::map<std::string, double> p, q;  // each compared row's p (rank_sum_test, the rows' rule) and q
	double min_p = 1;                   // the smallest p the smallest pair of halves can give
	bool can_mark = false;              // min_p < alpha
	std::string summary() const;        // "the same cell against itself: 0 of 205 rows marked at q < 0.05 ..."
};
SplitHalfAA split_half_aa(const RowSamples &rows, double alpha = 0.05);

// `compare A B --max-regression PCT`: is B slower than A by more than PCT percent in some row?
// The clock is the results schema's (results_schema.hpp): Clock::time (wall or TCG time: boots vary, decide on
// the interval of the B/A time ratio) or Clock::icount (exact: compare the values themselves).
enum class RegressionVerdict {
	slower,        // B slower than A by more than PCT (exact: B/A > 1 + PCT/100; time: the interval's lower
	               // bound > 1 + PCT/100): the check fails
	within,        // not slower by more than PCT (exact: B/A <= 1 + PCT/100; time: the upper bound is)
	inconclusive,  // time: the interval holds both 1 + PCT/100 and values below it
	untestable,    // no samples, non-positive values, or too few samples for the requested level
	inconsistent,  // exact clock, but a side's boots differ: not an exact clock
};
const char *to_string(RegressionVerdict v);

struct RegressionRow {
	std::string name;
	RegressionVerdict verdict = RegressionVerdict::untestable;
	double ratio = ShiftEstimate::nan;       // B/A: exact value, or the HL estimate
	double lo = ShiftEstimate::nan, hi = ShiftEstimate::nan;  // the interval (time clock)
	double level = ShiftEstimate::nan;       // its level
	std::string reason;
};
struct RegressionCheck {
	double max_pct = 0;
	Clock clock = Clock::time;
	std::vector<RegressionRow> rows;         // rows in both, by name
	std::vector<std::string> only_a, only_b;
	size_t count(RegressionVerdict v) const;
	bool failed() const { return count(RegressionVerdict::slower) > 0; }
};
// One row present in both cells: its samples in time per unit of work (lower is faster; MiB/s converted),
// one per boot, and the B/A time ratio with its interval already computed from them (time_ratio(a, b)):
// a comparison holds it (RowComparison::ratio), so the check decides on the comparison's own interval.
struct RegressionInput {
	std::string name;
	std::vector<double> a, b;
	ShiftEstimate ratio;
};
// Time clock: the verdict from each row's interval; exact clock: from the values themselves.
RegressionCheck check_regression(const std::vector<RegressionInput> &rows, double max_pct, Clock clock);
// From samples alone: each row's ratio computed at conf_level, then as above; rows in one of a and b only
// are listed in only_a / only_b.
RegressionCheck check_regression(const RowSamples &a, const RowSamples &b, double max_pct, Clock clock,
				 double conf_level = 0.95);

}  // namespace xua
