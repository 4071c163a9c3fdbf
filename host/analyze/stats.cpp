#include "analyze/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <cfloat>
#include <limits>
#include <stdexcept>

namespace xua {

double median(std::vector<double> v)
{
	if (v.empty())
		return 0;
	std::sort(v.begin(), v.end());
	size_t n = v.size();
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double mean(const std::vector<double> &v)
{
	return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double coefficient_of_variation(const std::vector<double> &v)
{
	if (v.size() < 2)
		return -1;
	double m = mean(v), ss = 0;
	for (double x : v)
		ss += (x - m) * (x - m);
	return m == 0 ? -1 : std::sqrt(ss / static_cast<double>(v.size() - 1)) / m;
}

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

}  // namespace

// ---- ranks ----

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

double rank_sum_sigma(double nx, double ny, double tie_term)
{
	return std::sqrt((nx * ny / 12) * ((nx + ny + 1) - tie_term / ((nx + ny) * (nx + ny - 1))));
}

// ---- the rank-sum distribution (R's src/nmath/wilcox.c) ----

RankSumDistribution::RankSumDistribution(size_t m, size_t n) : m_(m), n_(n), count_(wilcox_counts(m, n))
{
	total_ = std::accumulate(count_.begin(), count_.end(), 0.0);
}

// R's pwilcox(q, m, n, lower_tail): sums over the shorter tail.
double RankSumDistribution::p(double q, bool lower_tail) const
{
	const double mn = static_cast<double>(m_ * n_);
	q = std::floor(q + 1e-7);
	if (q < 0)
		return lower_tail ? 0 : 1;
	if (q >= mn)
		return lower_tail ? 1 : 0;
	double s = 0;
	if (q <= mn / 2) {
		for (size_t i = 0; i <= static_cast<size_t>(q); ++i)
			s += count_[i] / total_;
	} else {
		q = mn - q;
		for (size_t i = 0; i < static_cast<size_t>(q); ++i)
			s += count_[i] / total_;
		lower_tail = !lower_tail;
	}
	return lower_tail ? s : 0.5 - s + 0.5;
}

// R's qwilcox(x, m, n): the smallest q with P(U <= q) >= x, with R's fuzz of 10 DBL_EPSILON.
double RankSumDistribution::q(double x) const
{
	const size_t mn = m_ * n_;
	if (x == 0)
		return 0;
	if (x == 1)
		return static_cast<double>(mn);
	double s = 0;
	size_t k = 0;
	if (x <= 0.5) {
		x = x - 10 * DBL_EPSILON;
		for (;; ++k) {
			s += count_[k] / total_;
			if (s >= x)
				break;
		}
	} else {
		x = 1 - x + 10 * DBL_EPSILON;
		for (;; ++k) {
			s += count_[k] / total_;
			if (s > x) {
				k = mn - k;
				break;
			}
		}
	}
	return static_cast<double>(k);
}

double pwilcox(double q, size_t m, size_t n, bool lower_tail)
{
	if (!m || !n)
		return kNaN;
	return RankSumDistribution(m, n).p(q, lower_tail);
}

double qwilcox(double p, size_t m, size_t n)
{
	if (!m || !n || !(p >= 0 && p <= 1))
		return kNaN;
	return RankSumDistribution(m, n).q(p);
}

// ---- the normal distribution (R's src/nmath/qnorm.c) ----

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

// ---- the test (R's wilcox.test.default, two samples, two-sided) ----

RankSumTest rank_sum_test(const std::vector<double> &x, const std::vector<double> &y)
{
	const size_t nx = x.size(), ny = y.size();
	if (!nx || !ny)
		throw std::invalid_argument("rank_sum_test needs values on both sides");
	std::vector<double> xy(x);
	xy.insert(xy.end(), y.begin(), y.end());
	const Ranks r = mid_ranks(xy);
	const double dnx = static_cast<double>(nx), dny = static_cast<double>(ny);
	RankSumTest t;
	t.w = std::accumulate(r.rank.begin(), r.rank.begin() + static_cast<long>(nx), 0.0) - dnx * (dnx + 1) / 2;
	t.exact = nx < 50 && ny < 50 && !r.ties;
	if (t.exact) {
		const RankSumDistribution d(nx, ny);
		const double p = t.w > dnx * dny / 2 ? d.p(t.w - 1, false) : d.p(t.w);
		t.p = std::min(2 * p, 1.0);
	} else {
		const double z = t.w - dnx * dny / 2;
		const double s = rank_sum_sigma(dnx, dny, r.tie_term);
		const double correction = z > 0 ? 0.5 : (z < 0 ? -0.5 : 0);
		// All values tied: R's z is 0/0 (p = NaN); no difference can be seen, so p = 1.
		t.p = s > 0 ? std::min(1.0, 2 * pnorm_upper(std::fabs((z - correction) / s))) : 1.0;
	}
	return t;
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

// ---- multiple comparisons (R's p.adjust) ----

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

}  // namespace xua
