// The statistics core's distributions against R's own nmath (Debian's r-mathlib: libRmath, the C library
// R's pwilcox, qwilcox, pnorm and qnorm are built from), over whole grids rather than a few copied figures.
// Built when meson finds libRmath (the bootstrap installs r-mathlib); each test says so and is skipped
// otherwise.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "analyze/stats.hpp"

#ifdef XUA_HAVE_RMATH
#define MATHLIB_STANDALONE
#include <Rmath.h>
// Rmath.h maps qnorm/pnorm to qnorm5/pnorm5 with macros; the core's xua::qnorm must keep its name here.
#undef qnorm
#undef pnorm
#endif

using namespace xua;

namespace {

#ifdef XUA_HAVE_RMATH
// |a - b| relative to max(1, |b|): probabilities near 0 compare absolutely, quantiles relatively.
double diff(double a, double b)
{
	if (std::isinf(a) || std::isinf(b))
		return a == b ? 0 : HUGE_VAL;
	return std::fabs(a - b) / std::max(1.0, std::fabs(b));
}

// Every (m, n) up to 12 a side, and every m = n up to 49 (the largest exact case) with a few lopsided pairs.
std::vector<std::pair<size_t, size_t>> sizes()
{
	std::vector<std::pair<size_t, size_t>> s;
	for (size_t m = 1; m <= 12; ++m)
		for (size_t n = 1; n <= 12; ++n)
			s.emplace_back(m, n);
	for (size_t m = 13; m <= 49; ++m)
		s.emplace_back(m, m);
	for (auto mn : {std::pair<size_t, size_t>{2, 49}, {49, 3}, {17, 31}, {40, 9}, {25, 48}})
		s.push_back(mn);
	return s;
}
#endif

}  // namespace

#ifdef XUA_HAVE_RMATH
TEST(StatsRmath, RankSumDistributionIsPwilcoxAndQwilcox)
{
	double worst_p = 0;
	size_t values = 0;
	std::vector<std::string> boundary;
	for (auto [m, n] : sizes()) {
		const RankSumDistribution d(m, n);
		const double dm = static_cast<double>(m), dn = static_cast<double>(n), mn = dm * dn;
		for (double q = -1; q <= mn + 1; q += 1) {  // every U, both tails, and one step outside
			for (bool lower : {true, false}) {
				// Relative to R's value: tails go down to 1e-57 (49 vs 49), and a relative error there is
				// what a p-value carries into BH.
				const double ours = d.p(q, lower), r = ::pwilcox(q, dm, dn, lower, 0);
				const double rel = r > 0 ? std::fabs(ours - r) / r : std::fabs(ours);
				worst_p = std::max(worst_p, rel);
				ASSERT_LE(rel, 1e-12) << "pwilcox(" << q << ", " << m << ", " << n << ", " << lower << ")";
				++values;
			}
		}
		for (double p : {0.0, 1e-9, 0.001, 0.005, 0.0125, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975, 0.995,
				 1.0}) {
			const double ours = d.q(p), r = ::qwilcox(p, dm, dn, 1, 0);
			++values;
			if (ours == r)
				continue;
			// The one place the two may part: p is exactly a value of the distribution function (0.5 when m n
			// is odd), and whether the running sum reaches p - 10 DBL_EPSILON depends on the last bit of
			// C(m + n, n) (R: exp(lchoose()) from 30 a side; here the sum of the counts). One step, no more.
			ASSERT_EQ(std::fabs(ours - r), 1) << "qwilcox(" << p << ", " << m << ", " << n << ")";
			ASSERT_NEAR(::pwilcox(std::min(ours, r), dm, dn, 1, 0), p, 1e-12)
				<< "qwilcox(" << p << ", " << m << ", " << n << "): ours " << ours << ", R " << r;
			boundary.push_back(fmt::format("qwilcox({}, {}, {}): {} here, {} in R", p, m, n, ours, r));
		}
		EXPECT_NEAR(pwilcox(3, m, n), ::pwilcox(3, dm, dn, 1, 0), 1e-12 * ::pwilcox(3, dm, dn, 1, 0));
	}
	::wilcox_free();
	std::printf("pwilcox/qwilcox: %zu values of %zu (m, n) pairs, largest relative difference of pwilcox %.3g; qwilcox "
		    "equal but for %zu boundary case(s)%s%s\n",
		    values, sizes().size(), worst_p, boundary.size(), boundary.empty() ? "" : ": ",
		    fmt::format("{}", fmt::join(boundary, "; ")).c_str());
	// None of them at the levels the intervals use (alpha / 2 for 80 % to 99 %).
	for (const auto &b : boundary)
		EXPECT_NE(b.rfind("qwilcox(0.5,", 0), std::string::npos) << b;
}

TEST(StatsRmath, NormalQuantileAndTailAreQnormAndPnorm)
{
	double worst_q = 0, worst_p = 0;
	size_t values = 0;
	std::vector<double> ps = {0, 1, 0.5, 1e-300, 1e-100, 1e-20, 1e-12, 1e-8, 1e-5, 0.025, 0.975, 1 - 1e-12};
	for (int i = 1; i < 2000; ++i)
		ps.push_back(i / 2000.0);  // both of AS 241's outer branches and the central one
	for (double p : ps)
		for (bool lower : {true, false}) {
			const double ours = qnorm(p, lower), r = ::qnorm5(p, 0, 1, lower, 0);
			worst_q = std::max(worst_q, diff(ours, r));
			ASSERT_LE(diff(ours, r), 1e-15) << "qnorm(" << p << ", lower " << lower << ")";
			++values;
		}
	// The upper tail, relative to R's value (erfc here, Cody's algorithm in R): to 2e-14 down to p = 1e-23
	// (z = 10), to 1e-12 in the far tail down to 1e-300.
	double worst_far = 0;
	for (int i = -800; i <= 3700; ++i) {
		const double z = i / 100.0;
		const double ours = pnorm_upper(z), r = ::pnorm5(z, 0, 1, 0, 0);
		const double rel = r > 0 ? std::fabs(ours - r) / r : std::fabs(ours);
		(z <= 10 ? worst_p : worst_far) = std::max(z <= 10 ? worst_p : worst_far, rel);
		ASSERT_LE(rel, z <= 10 ? 2e-14 : 1e-12) << "pnorm(" << z << ", lower.tail = FALSE)";
		++values;
	}
	std::printf("qnorm/pnorm: %zu values, largest difference %.3g (qnorm, relative to max(1, |q|)), %.3g (upper tail "
		    "to z = 10, relative), %.3g (beyond)\n",
		    values, worst_q, worst_p, worst_far);
}

TEST(StatsRmath, SmallestReachablePIsTwicePwilcoxOfZero)
{
	for (auto [m, n] : sizes()) {
		const double r = std::min(1.0, 2 * ::pwilcox(0, static_cast<double>(m), static_cast<double>(n), 1, 0));
		ASSERT_LE(diff(wilcox_min_p(m, n), r), 1e-15) << m << " vs " << n;
	}
	::wilcox_free();
}
#else
TEST(StatsRmath, NotBuilt)
{
	GTEST_SKIP() << "meson found no libRmath (Debian package r-mathlib) when this build was configured: the "
			"distributions were not checked against R's nmath";
}
#endif
