#include "analyze/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
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

// Number of arrangements of m x-values and n y-values whose U statistic is k, for k = 0..m*n
// (Mann & Whitney 1947: f(m, n, k) = f(m-1, n, k-n) + f(m, n-1, k)), divided by C(m+n, m).
std::vector<double> u_null_pmf(size_t m, size_t n)
{
	// f[i][j] over k, built up row by row: prev = f(i-1, *, *), cur = f(i, *, *).
	std::vector<std::vector<double>> prev(n + 1), cur(n + 1);
	for (size_t j = 0; j <= n; ++j)
		prev[j] = {1.0};  // f(0, j, 0) = 1
	for (size_t i = 1; i <= m; ++i) {
		for (size_t j = 0; j <= n; ++j) {
			cur[j].assign(i * j + 1, 0.0);
			for (size_t k = 0; k <= i * j; ++k) {
				double a = (k >= j && k - j < prev[j].size()) ? prev[j][k - j] : 0.0;  // f(i-1, j, k-j)
				double b = (j > 0 && k < cur[j - 1].size()) ? cur[j - 1][k] : 0.0;     // f(i, j-1, k)
				cur[j][k] = a + b;
			}
		}
		std::swap(prev, cur);
	}
	auto pmf = prev[n];
	double total = std::accumulate(pmf.begin(), pmf.end(), 0.0);  // C(m+n, m)
	for (auto &p : pmf)
		p /= total;
	return pmf;
}

double normal_sf(double z)
{
	return 0.5 * std::erfc(z / std::sqrt(2.0));
}

}  // namespace

UTest mann_whitney_u(const std::vector<double> &x, const std::vector<double> &y)
{
	const size_t n1 = x.size(), n2 = y.size(), n = n1 + n2;
	if (!n1 || !n2)
		throw std::invalid_argument("mann_whitney_u needs values on both sides");
	// Mid-ranks of the pooled sample.
	std::vector<std::pair<double, size_t>> xy;
	for (size_t i = 0; i < n1; ++i)
		xy.emplace_back(x[i], i);
	for (size_t i = 0; i < n2; ++i)
		xy.emplace_back(y[i], n1 + i);
	std::sort(xy.begin(), xy.end());
	std::vector<double> rank(n);
	double tie_term = 0;
	bool ties = false;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && xy[j + 1].first == xy[i].first)
			++j;
		double t = static_cast<double>(j - i + 1);
		for (size_t k = i; k <= j; ++k)
			rank[xy[k].second] = (static_cast<double>(i + j) + 2) / 2;
		tie_term += t * t * t - t;
		ties |= t > 1;
		i = j + 1;
	}
	double r1 = 0;
	for (size_t i = 0; i < n1; ++i)
		r1 += rank[i];
	UTest r;
	r.u1 = r1 - static_cast<double>(n1 * (n1 + 1)) / 2;
	const double mn = static_cast<double>(n1 * n2);
	const double u = std::max(r.u1, mn - r.u1);
	r.exact = (n1 <= 8 || n2 <= 8) && !ties;
	double sf;
	if (r.exact) {
		// P(U >= u) = P(U <= mn - u) by symmetry.
		auto pmf = u_null_pmf(n1, n2);
		auto k = static_cast<size_t>(std::llround(mn - u));
		sf = std::accumulate(pmf.begin(), pmf.begin() + static_cast<long>(k) + 1, 0.0);
	} else {
		const double nn = static_cast<double>(n);
		double s = std::sqrt(mn / 12 * ((nn + 1) - tie_term / (nn * (nn - 1))));
		double z = (u - mn / 2 - 0.5) / s;
		sf = s > 0 ? normal_sf(z) : (u - mn / 2 - 0.5 > 0 ? 0.0 : 1.0);
	}
	r.p = std::clamp(2 * sf, 0.0, 1.0);
	return r;
}

double mann_whitney_min_p(size_t n1, size_t n2)
{
	if (!n1 || !n2)
		return 1;
	std::vector<double> x(n1), y(n2);
	for (size_t i = 0; i < n1; ++i)
		x[i] = static_cast<double>(i);
	for (size_t i = 0; i < n2; ++i)
		y[i] = static_cast<double>(n1 + i);
	return mann_whitney_u(x, y).p;
}

}  // namespace xua
