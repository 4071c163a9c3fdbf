// Whole comparisons against R itself: compare() on the fixtures and on a few hundred made-up rows (every
// sample size from 2 to 60 a side, with and without ties, shifted or not, ratio, difference and throughput
// rows), the split-half A/A of each cell, all written to build/stats-r-crosscheck.tsv with their samples;
// tests/host/analyze/r/crosscheck.R recomputes each row with R's wilcox.test(conf.int = TRUE) and
// p.adjust("BH") and prints the largest difference of every figure. To rerun it by hand after this test:
//   Rscript tests/host/analyze/r/crosscheck.R build/stats-r-crosscheck.tsv
// R comes from Debian's r-base-core (the bootstrap installs it); without Rscript on PATH the test is skipped.
#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "analyze/compare.hpp"
#include "analyze/results.hpp"
#include "base/process.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

const fs::path kScript = kSource / "tests/host/analyze/r/crosscheck.R";

std::string rscript()
{
	const char *path = std::getenv("PATH");
	std::stringstream ss(path ? path : "");
	for (std::string dir; std::getline(ss, dir, ':');)
		if (!dir.empty() && fs::exists(fs::path(dir) / "Rscript"))
			return (fs::path(dir) / "Rscript").string();
	return "";
}

std::string num(double v)
{
	return std::isnan(v) ? "NA" : fmt::format("{:.17g}", v);
}

std::string joined(const std::vector<double> &v)
{
	std::string s;
	for (double x : v)
		s += fmt::format("{}{:.17g}", s.empty() ? "" : ",", x);
	return s;
}

// One compare() of B against A (and each cell's A/A when it has one), as rows of the table.
void add_comparison(std::string &tsv, const std::string &source, const CellResults &a, const CellResults &b)
{
	const Comparison c = compare(a, b, {.allow_mismatch = true});
	for (const auto &r : c.rows) {
		const auto &e = r.effect;
		tsv += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", source, r.name,
				   r.difference ? "difference" : "ratio", joined(r.a->time_samples()),
				   joined(r.b->time_samples()), num(e.estimate), num(e.lo), num(e.hi), num(e.achieved_level),
				   r.p ? num(*r.p) : "NA", r.q ? num(*r.q) : "NA");
	}
	for (const auto &[cell, aa] : {std::pair{&a, c.noise_a}, std::pair{&b, c.noise_b}}) {
		if (!aa)
			continue;
		for (const auto &[name, p] : aa->p) {
			const auto h = split_interleaved(cell->rows.at(name).time_samples());
			tsv += fmt::format("{} A/A\t{}\taa\t{}\t{}\tNA\tNA\tNA\tNA\t{}\t{}\n", source + " " + cell->name, name,
					   joined(h.even), joined(h.odd), num(p), num(aa->q.at(name)));
		}
	}
}

// Made-up cells: `rows` rows of every kind, from a fixed seed.
std::pair<CellResults, CellResults> synthetic_pair(unsigned seed, int rows)
{
	std::mt19937_64 rng(seed);
	auto uniform = [&](double lo, double hi) { return lo + (hi - lo) * (static_cast<double>(rng() >> 11) * 0x1p-53); };
	const int sizes[] = {2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 20, 30, 49, 50, 60};
	const double shifts[] = {1, 1, 1.003, 1.02, 1.1, 1.5};
	const double spreads[] = {0.001, 0.01, 0.05, 0.2};
	CellResults a, b;
	a.context = b.context = nlohmann::json::object();
	a.name = "synthetic-off";
	b.name = "synthetic-on";
	a.boots = b.boots = 2;  // per boot: the A/A runs
	a.samples = b.samples = 2;
	for (int i = 0; i < rows; ++i) {
		const int kind = i % 4;  // 0, 1: ns rows; 2: MiB/s rows; 3: guard/ rows (B - A in ns)
		const std::string name = fmt::format("{}/{}", kind == 3 ? "guard/toggle" : kind == 2 ? "transfer/copy" : "latency/row", i);
		const int na = sizes[rng() % std::size(sizes)], nb = (rng() % 3) ? na : sizes[rng() % std::size(sizes)];
		const double base = std::pow(10, uniform(0, 4)), shift = shifts[rng() % std::size(shifts)];
		const double spread = spreads[rng() % std::size(spreads)];
		const bool ties = rng() % 4 == 0;  // values rounded to 2 significant digits: many ties
		auto sample = [&](int n, double scale) {
			std::vector<double> v;
			for (int k = 0; k < n; ++k) {
				double x = scale * (1 + spread * uniform(-1, 1));
				if (ties) {
					const double unit = std::pow(10, std::floor(std::log10(scale)) - 1);
					x = std::round(x / unit) * unit;
				}
				v.push_back(x);
			}
			return v;
		};
		for (auto [cell, n, scale] : {std::tuple{&a, na, base}, std::tuple{&b, nb, kind == 2 ? base / shift : base * shift}}) {
			Row r;
			r.name = name;
			r.throughput = kind == 2;
			r.unit_name = r.throughput ? "MiB/s" : "ns";
			r.samples = sample(n, scale);
			r.values = r.samples;
			r.median = median(r.samples);
			cell->rows[name] = r;
		}
	}
	return {a, b};
}

}  // namespace

TEST(StatsR, ComparisonsAgreeWithWilcoxTestAndPAdjust)
{
	const std::string r = rscript();
	if (r.empty())
		GTEST_SKIP() << "no Rscript on PATH (Debian package r-base-core): the cross-check against R did not run";
	std::string tsv = "source\tname\tkind\ta\tb\testimate\tlo\thi\tlevel\tp\tq\n";
	for (const char *dir : {"shift", "none"})
		add_comparison(tsv, dir, load_cell(fixture("compare/" + std::string(dir) + "/x86_64-6.1-off.json")),
			       load_cell(fixture("compare/" + std::string(dir) + "/x86_64-6.1-on.json")));
	for (unsigned seed : {1u, 2u}) {
		auto [a, b] = synthetic_pair(seed, 240);
		add_comparison(tsv, fmt::format("synthetic-{}", seed), a, b);
	}
	const fs::path table = kBuild / "stats-r-crosscheck.tsv";
	write_file(table, tsv);
	const RunResult out = run({r, kScript.string(), table.string()});
	std::printf("%s", out.output.c_str());
	EXPECT_EQ(out.status, 0) << out.output;
	EXPECT_NE(out.output.find("OK: within"), std::string::npos) << out.output;

	// Positive control: the same table with one p off by one part in 1e9 must fail the check.
	std::stringstream lines(tsv);
	std::string planted, line;
	bool done = false;
	while (std::getline(lines, line)) {
		if (!done && line.rfind("shift\t", 0) == 0) {
			auto cut = line.rfind('\t');                 // q
			auto pstart = line.rfind('\t', cut - 1) + 1;  // p
			const double p = std::stod(line.substr(pstart, cut - pstart));
			line = fmt::format("{}{:.17g}{}", line.substr(0, pstart), p * (1 + 1e-9), line.substr(cut));
			done = true;
		}
		planted += fmt::format("{}\n", line);
	}
	ASSERT_TRUE(done);
	const fs::path bad = kBuild / "stats-r-crosscheck-planted.tsv";
	write_file(bad, planted);
	const RunResult ctl = run({r, kScript.string(), bad.string()});
	EXPECT_EQ(ctl.status, 1) << "the cross-check did not see a p off by 1e-9:\n" << ctl.output;
	EXPECT_NE(ctl.output.find("DISAGREE p"), std::string::npos) << ctl.output;
}
