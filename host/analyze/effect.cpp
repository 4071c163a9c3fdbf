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

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The number of arrangements of m x-values and n y-values whose U is k, k = 0..m*n (R's cwilcox, by the
// recurrence f(m, n, k) = f(m-1, n, k-n) + f(m, n-1, k)); doubles, as in R (they pass 2^53 at m = n = 30).
std::vector<double> wilcox_counts(size_t m, size_t n)
{
	// prev[j] = f(i-1, j, .), cur[j] = f(i, j, .)
	std::vector<std::vector<double>> prev(n + 1), cur(n + 1);
	for (size_t j = 0; j <= n; ++j)
		prev[j] = {1.0};
	for (size_t i = 1; i <= m; ++i) {
		for (size_t j = 0; j <= n; ++j) {
			cur[j].assign(i * j + 1, 0.0);
			for (size_t k = 0; k <= i * j; ++k) {
				double a = (k >= j && k - j < prev[j].size()) ? prev[j][k - j] : 0.0;
				double b = (j > 0 && k < cur[j - 1].size()) ? cur[j - 1][k] : 0.0;
				cur[j][k] = a + b;
			}
		}
		std::swap(prev, cur);
	}
	return prev[n];
}

struct WilcoxDist {
	size_t m, n;
	std::vector<double> count;
	double total;  // choose(m + n, n)
	WilcoxDist(size_t m_, size_t n_) : m(m_), n(n_), count(wilcox_counts(m_, n_))
	{
		total = std::accumulate(count.begin(), count.end(), 0.0);
	}

	// R's pwilcox(q, m, n, lower_tail): sums over the shorter tail.
	double p(double q, bool lower_tail = true) const
	{
		const double mn = static_cast<double>(m * n);
		q = std::floor(q + 1e-7);
		if (q < 0)
			return lower_tail ? 0 : 1;
		if (q >= mn)
			return lower_tail ? 1 : 0;
		double s = 0;
		if (q <= mn / 2) {
			for (size_t i = 0; i <= static_cast<size_t>(q); ++i)
				s += count[i] / total;
		} else {
			q = mn - q;
			for (size_t i = 0; i < static_cast<size_t>(q); ++i)
				s += count[i] / total;
			lower_tail = !lower_tail;
		}
		return lower_tail ? s : 0.5 - s + 0.5;
	}

	// R's qwilcox(x, m, n): the smallest q with P(U <= q) >= x, with R's fuzz of 10 DBL_EPSILON.
	double q(double x) const
	{
		const size_t mn = m * n;
		if (x == 0)
			return 0;
		if (x == 1)
			return static_cast<double>(mn);
		double s = 0;
		size_t k = 0;
		if (x <= 0.5) {
			x = x - 10 * DBL_EPSILON;
			for (;; ++k) {
				s += count[k] / total;
				if (s >= x)
					break;
			}
		} else {
			x = 1 - x + 10 * DBL_EPSILON;
			for (;; ++k) {
				s += count[k] / total;
				if (s > x) {
					k = mn - k;
					break;
				}
			}
		}
		return static_cast<double>(k);
	}
};

// Mid-ranks (R's rank, ties.method "average") and the tie term sum(t^3 - t) over tie groups.
struct Ranks {
	std::vector<double> rank;
	double tie_term = 0;
	bool ties = false;
};
Ranks mid_ranks(const std::vector<double> &v)
{
	const size_t n = v.size();
	std::vector<size_t> order(n);
	std::iota(order.begin(), order.end(), size_t{0});
	std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
	Ranks r;
	r.rank.resize(n);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[order[j + 1]] == v[order[i]])
			++j;
		const double t = static_cast<double>(j - i + 1);
		for (size_t k = i; k <= j; ++k)
			r.rank[order[k]] = (static_cast<double>(i + j) + 2) / 2;
		r.tie_term += t * t * t - t;
		r.ties |= t > 1;
		i = j + 1;
	}
	return r;
}

double sign(double v)
{
	return v > 0 ? 1 : (v < 0 ? -1 : 0);
}

// sqrt((nx ny / 12) ((nx + ny + 1) - sum(t^3 - t) / ((nx + ny)(nx + ny - 1)))): wilcox.test's SIGMA.
double rank_sum_sigma(double nx, double ny, double tie_term)
{
	return std::sqrt((nx * ny / 12) * ((nx + ny + 1) - tie_term / ((nx + ny) * (nx + ny - 1))));
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

// wilcox.test's W and two-sided p.value for finite, non-empty x and y; `exact` says which branch ran.
struct RankSumTest {
	double w = 0, p = kNaN;
	bool exact = false;
};
RankSumTest rank_sum_test(const std::vector<double> &x, const std::vector<double> &y)
{
	const size_t nx = x.size(), ny = y.size();
	std::vector<double> xy(x);
	xy.insert(xy.end(), y.begin(), y.end());
	const Ranks r = mid_ranks(xy);
	const double dnx = static_cast<double>(nx), dny = static_cast<double>(ny);
	RankSumTest t;
	t.w = std::accumulate(r.rank.begin(), r.rank.begin() + static_cast<long>(nx), 0.0) - dnx * (dnx + 1) / 2;
	t.exact = nx < 50 && ny < 50 && !r.ties;
	if (t.exact) {
		const WilcoxDist d(nx, ny);
		const double p = t.w > dnx * dny / 2 ? d.p(t.w - 1, false) : d.p(t.w);
		t.p = std::min(2 * p, 1.0);
	} else {
		const double z = t.w - dnx * dny / 2;
		const double s = rank_sum_sigma(dnx, dny, r.tie_term);
		// All values tied: R's z is 0/0 (p = NaN); no difference can be seen, so p = 1.
		t.p = s > 0 ? std::min(1.0, 2 * pnorm_upper(std::fabs((z - sign(z) * 0.5) / s))) : 1.0;
	}
	return t;
}

}  // namespace

double pwilcox(double q, size_t m, size_t n, bool lower_tail)
{
	if (!m || !n)
		return kNaN;
	return WilcoxDist(m, n).p(q, lower_tail);
}

double qwilcox(double p, size_t m, size_t n)
{
	if (!m || !n || !(p >= 0 && p <= 1))
		return kNaN;
	return WilcoxDist(m, n).q(p);
}

double qnorm(double p, bool lower_tail)
{
	// Wichura (1988), Algorithm AS 241 (PPND16), as R's qnorm(p, lower.tail) for non-log p.
	constexpr double inf = std::numeric_limits<double>::infinity();
	if (std::isnan(p) || p < 0 || p > 1)
		return kNaN;
	if (p == 0)
		return lower_tail ? -inf : inf;
	if (p == 1)
		return lower_tail ? inf : -inf;
	const double p_ = lower_tail ? p : 0.5 - p + 0.5;  // R_DT_qIv
	const double q = p_ - 0.5;
	double r, val;
	if (std::fabs(q) <= .425) {
		r = .180625 - q * q;
		return q *
		       (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r + 67265.770927008700853) * r +
			    45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r +
			 133.14166789178437745) * r + 3.387132872796366608) /
		       (((((((r * 5226.495278852854561 + 28729.085735721942674) * r + 39307.89580009271061) * r +
			    21213.794301586595867) * r + 5394.1960214247511077) * r + 687.1870074920579083) * r +
			 42.313330701600911252) * r + 1.0);
	}
	r = q > 0 ? (lower_tail ? 0.5 - p + 0.5 : p) : p_;  // R_DT_CIv(p) : p_
	r = std::sqrt(-std::log(r));
	if (r <= 5) {
		r -= 1.6;
		val = (((((((r * 7.7454501427834140764e-4 + .0227238449892691845833) * r + .24178072517745061177) * r +
			   1.27045825245236838258) * r + 3.64784832476320460504) * r + 5.7694972214606914055) * r +
			4.6303378461565452959) * r + 1.42343711074968357734) /
		      (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r + .0151986665636164571966) * r +
			   .14810397642748007459) * r + .68976733498510000455) * r + 1.6763848301838038494) * r +
			2.05319162663775882187) * r + 1.0);
	} else {
		r -= 5.;
		val = (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r + .0012426609473880784386) * r +
			   .026532189526576123093) * r + .29656057182850489123) * r + 1.7848265399172913358) * r +
			5.4637849111641143699) * r + 6.6579046435011037772) /
		      (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r +
			   7.868691311456132591e-4) * r + .0148753612908506148525) * r + .13692988092273580531) * r +
			.59983220655588793769) * r + 1.0);
	}
	return q < 0 ? -val : val;
}

double pnorm_upper(double z)
{
	return 0.5 * std::erfc(z / std::sqrt(2.0));
}

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
	const double alpha = 1 - conf_level;
	const double nx = static_cast<double>(r.nx), ny = static_cast<double>(r.ny);
	const RankSumTest t = rank_sum_test(x, y);
	r.w = t.w;
	r.p = t.p;
	r.exact = t.exact;
	if (x.size() + y.size() < x_in.size() + y_in.size())
		r.note = fmt::format("{} non-finite values dropped", x_in.size() + y_in.size() - x.size() - y.size());
	auto add_note = [&](const std::string &s) { r.note += (r.note.empty() ? "" : "; ") + s; };

	if (t.exact) {
		// wilcox.test.default, exact two-sample branch, alternative "two.sided".
		std::vector<double> diffs;
		diffs.reserve(r.nx * r.ny);
		for (double xi : x)
			for (double yj : y)
				diffs.push_back(xi - yj);
		std::sort(diffs.begin(), diffs.end());
		const WilcoxDist d(r.nx, r.ny);
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
			add_note(fmt::format("{} vs {} values cannot give a {:g} % interval: this one is {:.3g} % "
					     "(the smallest and largest of the pairwise differences)",
					     r.nx, r.ny, 100 * conf_level, 100 * r.achieved_level));
		r.estimate = sorted_median(diffs);
		return r;
	}

	// Normal approximation (ties, or 50 values or more on a side).
	if (all_equal(x) && all_equal(y)) {
		// R stops here ("cannot compute confidence interval when all observations are tied"); with no
		// spread on either side the shift is known exactly.
		r.estimate = r.lo = r.hi = x.front() - y.front();
		r.achieved_level = conf_level;
		r.coverage = 1;
		add_note("every value of each side is identical: the shift is exact, no interval");
		return r;
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
		add_note("the interval reaches the range of the pairwise differences: its level may be lower than stated");
	r.estimate = zeroin2(mumin, mumax, W(mumin, false), W(mumax, false), [&](double dd) { return W(dd, false); },
			     1e-4);
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

double wilcox_min_p(size_t nx, size_t ny)
{
	if (!nx || !ny)
		return 1;
	std::vector<double> x(nx), y(ny);
	std::iota(x.begin(), x.end(), 0.0);
	std::iota(y.begin(), y.end(), static_cast<double>(nx));
	return rank_sum_test(x, y).p;
}

std::vector<double> bh_qvalues(const std::vector<double> &p)
{
	// p.adjust(p, "BH"): n counts the non-NA p-values only (lazy default n = length(p) after p[nna]).
	std::vector<size_t> idx;
	for (size_t i = 0; i < p.size(); ++i)
		if (!std::isnan(p[i]))
			idx.push_back(i);
	std::vector<double> q(p.size(), kNaN);
	const size_t n = idx.size();
	if (n <= 1) {
		for (size_t i : idx)
			q[i] = p[i];
		return q;
	}
	// order(p, decreasing = TRUE) is stable: ties keep their input order.
	std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
	double running = std::numeric_limits<double>::infinity();
	for (size_t k = 0; k < n; ++k) {
		const double rank = static_cast<double>(n - k);  // i <- lp:1L
		running = std::min(running, static_cast<double>(n) / rank * p[idx[k]]);
		q[idx[k]] = std::min(1.0, running);
	}
	return q;
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
			     double limit, double max_pct, double conf_level)
{
	RegressionRow row;
	row.name = name;
	if (a.size() < 2 || b.size() < 2) {
		row.reason = fmt::format("{} vs {} samples: a time clock needs at least two a side", a.size(), b.size());
		return row;
	}
	const ShiftEstimate e = time_ratio(a, b, conf_level);
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

RegressionCheck check_regression(const RowSamples &a, const RowSamples &b, double max_pct, Clock clock,
				 double conf_level)
{
	if (!(max_pct >= 0) || !std::isfinite(max_pct))
		throw std::invalid_argument("max_pct must be a non-negative number");
	RegressionCheck c;
	c.max_pct = max_pct;
	c.clock = clock;
	const double limit = 1 + max_pct / 100;
	for (const auto &[name, av] : a) {
		auto it = b.find(name);
		if (it == b.end()) {
			c.only_a.push_back(name);
			continue;
		}
		c.rows.push_back(clock == Clock::exact ? check_exact_row(name, av, it->second, limit, max_pct)
						       : check_time_row(name, av, it->second, limit, max_pct, conf_level));
	}
	for (const auto &[name, bv] : b)
		if (!a.count(name))
			c.only_b.push_back(name);
	return c;
}

}  // namespace xua
