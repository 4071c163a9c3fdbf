// See effect.hpp. The R code this follows is quoted by name (wilcox.test.default, pwilcox, qwilcox, qnorm,
// uniroot / R_zeroin2, p.adjust) so that each step can be checked against its source.
#include "analyze/effect.hpp"

#include <algorithm>
#include <cfloat>
#include <numeric>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace xua {

namespace {

double sign(double v)
{
	return v > 0 ? 1 : (v < 0 ? -1 : 0);
}

// R's median of a sorted vector (the mean of the two middle values in long double, as R's mean does).
double sorted_median(const std::vector<double> &v)
{
	const size_t n = v.size();
	if (n % 2)
		return v[n / 2];
	return static_cast<double>((static_cast<long double>(v[n / 2 - 1]) + v[n / 2]) / 2);
}

// R_zeroin2 (src/library/stats/src/zeroin.c, Brent's method as in Forsythe, Malcolm and Moler), as
// uniroot(f, lower = ax, upper = bx, f.lower = fa, f.upper = fb, tol, maxiter = 1000) calls it.
template <class F>
double zeroin2(double ax, double bx, double fa, double fb, F &&f, double tol, int max_iter = 1000)
{
	double a = ax, b = bx, c = a, fc = fa;
	if (fa == 0.0)
		return a;
	if (fb == 0.0)
		return b;
	for (int it = max_iter + 1; it-- > 0;) {
		const double prev_step = b - a;
		if (std::fabs(fc) < std::fabs(fb)) {
			a = b;
			b = c;
			c = a;
			fa = fb;
			fb = fc;
			fc = fa;
		}
		const double tol_act = 2 * DBL_EPSILON * std::fabs(b) + tol / 2;
		double new_step = (c - b) / 2;
		if (std::fabs(new_step) <= tol_act || fb == 0.0)
			return b;
		if (std::fabs(prev_step) >= tol_act && std::fabs(fa) > std::fabs(fb)) {
			double p, q;
			const double cb = c - b;
			if (a == c) {
				const double t1 = fb / fa;
				p = cb * t1;
				q = 1.0 - t1;
			} else {
				q = fa / fc;
				const double t1 = fb / fc, t2 = fb / fa;
				p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0));
				q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0);
			}
			if (p > 0)
				q = -q;
			else
				p = -p;
			if (p < (0.75 * cb * q - std::fabs(tol_act * q) / 2) && p < std::fabs(prev_step * q / 2))
				new_step = p / q;
		}
		if (std::fabs(new_step) < tol_act)
			new_step = new_step > 0 ? tol_act : -tol_act;
		a = b;
		fa = fb;
		b += new_step;
		fb = f(b);
		if ((fb > 0 && fc > 0) || (fb < 0 && fc < 0)) {
			c = a;
			fc = fa;
		}
	}
	return b;  // not converged (R: iter = -1, a warning)
}

std::vector<double> finite_only(const std::vector<double> &v)
{
	std::vector<double> out;
	out.reserve(v.size());
	for (double x : v)
		if (std::isfinite(x))
			out.push_back(x);
	return out;
}

bool all_equal(const std::vector<double> &v)
{
	return std::all_of(v.begin(), v.end(), [&](double x) { return x == v.front(); });
}

// Adds to the estimate's note, "; " between notes.
void add_note(ShiftEstimate &r, const std::string &s)
{
	r.note += (r.note.empty() ? "" : "; ") + s;
}

// wilcox.test.default, exact two-sample branch, alternative "two.sided": the interval from the sorted pairwise
// differences at the rank-sum distribution's quantiles, the estimate their median.
void exact_shift(ShiftEstimate &r, const std::vector<double> &x, const std::vector<double> &y, double conf_level)
{
	const double alpha = 1 - conf_level;
	const double nx = static_cast<double>(r.nx), ny = static_cast<double>(r.ny);
	std::vector<double> diffs;
	diffs.reserve(r.nx * r.ny);
	for (double xi : x)
		for (double yj : y)
			diffs.push_back(xi - yj);
	std::sort(diffs.begin(), diffs.end());
	const RankSumDistribution d(r.nx, r.ny);
	double qu = d.q(alpha / 2);
	if (qu == 0)
		qu = 1;
	const double ql = nx * ny - qu;
	const double achieved_alpha = 2 * d.p(std::trunc(qu) - 1);
	r.lo = diffs[static_cast<size_t>(qu) - 1];  // diffs[qu] in R's 1-based indexing
	r.hi = diffs[static_cast<size_t>(ql)];      // diffs[ql + 1]
	r.coverage = 1 - achieved_alpha;
	r.limited = achieved_alpha - alpha > alpha / 2;
	r.achieved_level = r.limited ? 1 - achieved_alpha : conf_level;
	if (r.limited)
		add_note(r, fmt::format("{} vs {} values cannot give a {:g} % interval: this one is {:.3g} % "
					"(the smallest and largest of the pairwise differences)",
					r.nx, r.ny, 100 * conf_level, 100 * r.achieved_level));
	r.estimate = sorted_median(diffs);
}

// The normal approximation (ties, or 50 values or more on a side): the interval's ends and the estimate are
// the roots of the standardised rank sum of (x - d, y), found by uniroot between the extreme differences.
void normal_shift(ShiftEstimate &r, const std::vector<double> &x, const std::vector<double> &y, double conf_level)
{
	const double alpha = 1 - conf_level;
	const double nx = static_cast<double>(r.nx), ny = static_cast<double>(r.ny);
	if (all_equal(x) && all_equal(y)) {
		// R stops here ("cannot compute confidence interval when all observations are tied"); with no
		// spread on either side the shift is known exactly.
		r.estimate = r.lo = r.hi = x.front() - y.front();
		r.achieved_level = conf_level;
		r.coverage = 1;
		add_note(r, "every value of each side is identical: the shift is exact, no interval");
		return;
	}
	const double mumin = *std::min_element(x.begin(), x.end()) - *std::max_element(y.begin(), y.end());
	const double mumax = *std::max_element(x.begin(), x.end()) - *std::min_element(y.begin(), y.end());
	// W(d): the standardised rank sum of (x - d, y), continuity-corrected or not.
	std::vector<double> xy(x.size() + y.size());
	std::copy(y.begin(), y.end(), xy.begin() + static_cast<long>(r.nx));
	auto W = [&](double dd, bool correct) {
		for (size_t i = 0; i < r.nx; ++i)
			xy[i] = x[i] - dd;
		const Ranks rk = mid_ranks(xy);
		const double dz = std::accumulate(rk.rank.begin(), rk.rank.begin() + static_cast<long>(r.nx), 0.0) -
				  nx * (nx + 1) / 2 - nx * ny / 2;
		const double corr = correct ? sign(dz) * 0.5 : 0;
		return (dz - corr) / rank_sum_sigma(nx, ny, rk.tie_term);
	};
	const double w_min = W(mumin, true), w_max = W(mumax, true);
	bool clipped = false;
	auto root = [&](double zq) {
		const double f_lower = w_min - zq;
		if (f_lower <= 0) {
			clipped = true;
			return mumin;
		}
		const double f_upper = w_max - zq;
		if (f_upper >= 0) {
			clipped = true;
			return mumax;
		}
		return zeroin2(mumin, mumax, f_lower, f_upper, [&](double dd) { return W(dd, true) - zq; }, 1e-4);
	};
	r.lo = root(qnorm(alpha / 2, false));
	r.hi = root(qnorm(alpha / 2));
	r.achieved_level = r.coverage = conf_level;
	if (clipped)
		add_note(r, "the interval reaches the range of the pairwise differences: its level may be lower than stated");
	r.estimate = zeroin2(mumin, mumax, W(mumin, false), W(mumax, false), [&](double dd) { return W(dd, false); },
			     1e-4);
}

}  // namespace

ShiftEstimate wilcox_shift(const std::vector<double> &x_in, const std::vector<double> &y_in, double conf_level)
{
	if (!(conf_level > 0 && conf_level < 1))
		throw std::invalid_argument("conf_level must be between 0 and 1");
	ShiftEstimate r;
	r.requested_level = conf_level;
	const std::vector<double> x = finite_only(x_in), y = finite_only(y_in);
	r.nx = x.size();
	r.ny = y.size();
	if (x.empty() || y.empty()) {
		r.note = fmt::format("no finite values on {} side", x.empty() ? "the first" : "the second");
		return r;
	}
	const RankSumTest t = rank_sum_test(x, y);
	r.w = t.w;
	r.p = t.p;
	r.exact = t.exact;
	if (x.size() + y.size() < x_in.size() + y_in.size())
		r.note = fmt::format("{} non-finite values dropped", x_in.size() + y_in.size() - x.size() - y.size());
	if (t.exact)
		exact_shift(r, x, y, conf_level);
	else
		normal_shift(r, x, y, conf_level);
	return r;
}

ShiftEstimate wilcox_ratio(const std::vector<double> &x, const std::vector<double> &y, double conf_level)
{
	auto logs = [](const std::vector<double> &v, size_t &bad) {
		std::vector<double> out;
		out.reserve(v.size());
		for (double e : v) {
			if (std::isnan(e) || std::isinf(e))
				continue;  // dropped, as wilcox_shift would
			if (e <= 0)
				++bad;
			out.push_back(std::log(e));
		}
		return out;
	};
	size_t bad = 0;
	const std::vector<double> lx = logs(x, bad), ly = logs(y, bad);
	if (bad) {
		ShiftEstimate r;
		r.requested_level = conf_level;
		r.ratio = true;
		r.note = fmt::format("{} values are zero or negative: no ratio", bad);
		return r;
	}
	ShiftEstimate r = wilcox_shift(lx, ly, conf_level);
	r.ratio = true;
	r.estimate = std::exp(r.estimate);
	r.lo = std::exp(r.lo);
	r.hi = std::exp(r.hi);
	if (x.size() + y.size() > r.nx + r.ny && r.note.empty())
		r.note = fmt::format("{} non-finite values dropped", x.size() + y.size() - r.nx - r.ny);
	return r;
}

std::string SplitHalfAA::summary() const
{
	std::string s = fmt::format("the same cell against itself (even boots against odd boots): {} of {} rows marked "
				    "at q < {:g}",
				    marked, rows, alpha);
	if (rows && !can_mark)
		s += fmt::format(" (halves this small cannot reach p < {:g}: the smallest possible p is {:.3g}; more boots "
				 "are needed before this says anything)",
				 alpha, min_p);
	if (skipped)
		s += fmt::format("; {} rows with fewer than two boots left out", skipped);
	return s;
}

SplitHalfAA split_half_aa(const RowSamples &rows, double alpha)
{
	SplitHalfAA aa;
	aa.alpha = alpha;
	std::vector<std::string> names;
	std::vector<double> ps;
	for (const auto &[name, boots] : rows) {
		const auto h = split_interleaved(finite_only(boots));
		if (h.even.empty() || h.odd.empty()) {
			++aa.skipped;
			continue;
		}
		names.push_back(name);
		ps.push_back(rank_sum_test(h.even, h.odd).p);
		aa.min_p = std::min(aa.min_p, wilcox_min_p(h.even.size(), h.odd.size()));
	}
	aa.rows = names.size();
	aa.can_mark = aa.rows && aa.min_p < alpha;
	const auto q = bh_qvalues(ps);
	for (size_t i = 0; i < q.size(); ++i) {
		aa.p[names[i]] = ps[i];
		aa.q[names[i]] = q[i];
	}
	for (size_t i = 0; i < q.size(); ++i)
		if (q[i] < alpha) {
			++aa.marked;
			aa.marked_rows.push_back(names[i]);
		}
	return aa;
}

const char *to_string(RegressionVerdict v)
{
	switch (v) {
	case RegressionVerdict::slower:
		return "slower";
	case RegressionVerdict::within:
		return "within";
	case RegressionVerdict::inconclusive:
		return "inconclusive";
	case RegressionVerdict::untestable:
		return "untestable";
	case RegressionVerdict::inconsistent:
		return "inconsistent";
	}
	return "?";
}

size_t RegressionCheck::count(RegressionVerdict v) const
{
	return static_cast<size_t>(std::count_if(rows.begin(), rows.end(), [&](const auto &r) { return r.verdict == v; }));
}

namespace {

RegressionRow check_exact_row(const std::string &name, const std::vector<double> &a, const std::vector<double> &b,
			      double limit, double max_pct)
{
	RegressionRow row;
	row.name = name;
	if (a.empty() || b.empty()) {
		row.reason = "no samples on one side";
		return row;
	}
	auto positive = [](const std::vector<double> &v) {
		return std::all_of(v.begin(), v.end(), [](double e) { return std::isfinite(e) && e > 0; });
	};
	if (!positive(a) || !positive(b)) {
		row.reason = "a time per unit that is not a positive number";
		return row;
	}
	for (const auto *side : {&a, &b}) {
		if (!all_equal(*side)) {
			const auto [lo, hi] = std::minmax_element(side->begin(), side->end());
			row.verdict = RegressionVerdict::inconsistent;
			row.reason = fmt::format("{}'s {} boots differ ({:g} to {:g}): not an exact clock", side == &a ? "A" : "B",
						 side->size(), *lo, *hi);
			return row;
		}
	}
	row.ratio = b.front() / a.front();
	row.lo = row.hi = row.ratio;
	row.level = 1;
	row.verdict = row.ratio > limit ? RegressionVerdict::slower : RegressionVerdict::within;
	row.reason = fmt::format("exact clock: B/A = {:.4f} {} {:.4f} (B {:+.2f} %, limit {:g} %)", row.ratio,
				 row.ratio > limit ? ">" : "<=", limit, 100 * (row.ratio - 1), max_pct);
	return row;
}

RegressionRow check_time_row(const std::string &name, const std::vector<double> &a, const std::vector<double> &b,
			     const ShiftEstimate &e, double limit, double max_pct)
{
	RegressionRow row;
	row.name = name;
	if (a.size() < 2 || b.size() < 2) {
		row.reason = fmt::format("{} vs {} samples: a time clock needs at least two a side", a.size(), b.size());
		return row;
	}
	const double conf_level = e.requested_level;
	row.ratio = e.estimate;
	row.lo = e.lo;
	row.hi = e.hi;
	row.level = e.achieved_level;
	if (!e.valid() || std::isnan(e.lo)) {
		row.reason = e.note.empty() ? "no interval" : e.note;
		return row;
	}
	if (e.limited) {
		row.reason = fmt::format("{} vs {} samples reach at most a {:.3g} % interval, not {:g} %: add boots", e.ny,
					 e.nx, 100 * e.achieved_level, 100 * conf_level);
		return row;
	}
	const std::string ci = fmt::format("B/A {:.4f} [{:.4f}, {:.4f}] ({:g} %{})", e.estimate, e.lo, e.hi,
					   100 * e.achieved_level, e.exact ? ", exact" : ", normal approximation");
	if (e.lo > limit) {
		row.verdict = RegressionVerdict::slower;
		row.reason = fmt::format("{}: lower bound above {:.4f} (B slower by more than {:g} %)", ci, limit, max_pct);
	} else if (e.hi <= limit) {
		row.verdict = RegressionVerdict::within;
		row.reason = fmt::format("{}: upper bound at most {:.4f}", ci, limit);
	} else {
		row.verdict = RegressionVerdict::inconclusive;
		row.reason = fmt::format("{}: the interval holds {:.4f} and values below it", ci, limit);
	}
	if (!e.note.empty())
		row.reason += "; " + e.note;
	return row;
}

}  // namespace

RegressionCheck check_regression(const std::vector<RegressionInput> &rows, double max_pct, Clock clock)
{
	if (!(max_pct >= 0) || !std::isfinite(max_pct))
		throw std::invalid_argument("max_pct must be a non-negative number");
	RegressionCheck c;
	c.max_pct = max_pct;
	c.clock = clock;
	const double limit = 1 + max_pct / 100;
	for (const auto &r : rows)
		c.rows.push_back(clock == Clock::icount ? check_exact_row(r.name, r.a, r.b, limit, max_pct)
						       : check_time_row(r.name, r.a, r.b, r.ratio, limit, max_pct));
	return c;
}

RegressionCheck check_regression(const RowSamples &a, const RowSamples &b, double max_pct, Clock clock,
				 double conf_level)
{
	std::vector<RegressionInput> rows;
	std::vector<std::string> only_a, only_b;
	for (const auto &[name, av] : a) {
		auto it = b.find(name);
		if (it == b.end()) {
			only_a.push_back(name);
			continue;
		}
		rows.push_back({name, av, it->second, clock == Clock::icount ? ShiftEstimate{} : time_ratio(av, it->second, conf_level)});
	}
	for (const auto &[name, bv] : b)
		if (!a.count(name))
			only_b.push_back(name);
	RegressionCheck c = check_regression(rows, max_pct, clock);
	c.only_a = std::move(only_a);
	c.only_b = std::move(only_b);
	return c;
}

}  // namespace xua
