// `./xuaccess compare A.json B.json`, and the on/off comparison at the end of every bench: per benchmark
// row, B's time per unit of work over A's as a Hodges-Lehmann estimate with its 95 % confidence interval
// (R's wilcox.test(conf.int = TRUE), effect.hpp), both cells' spread, the two-sided p of that same test
// (Wilcoxon rank-sum = Mann-Whitney U, p by R's rule: stats.hpp) over the rows' samples -- the boots'
// medians when both cells have two boots or more, else the repetitions (results.hpp says why) -- and
// Benjamini-Hochberg q-values over the
// rows, marked at q < alpha. Rows whose "off" figure is a patched-out NOP (guard/toggle) get a difference in
// ns instead of a ratio. Under an exact clock (icount: every boot of a cell is bit-identical) there is no
// test: a row differs or it does not. Each cell's boots are also split into two interleaved halves and
// compared with each other, the run's own noise (split-half A/A). Two cells are only compared when they
// differ in nothing but the protection.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyze/effect.hpp"
#include "analyze/results.hpp"

namespace xua {

// Why the samples are boots, as measured on the project's machine (README "Samples are boots"): two
// single-boot runs of one cell, compared with each other.
constexpr const char *kBootToBootNoise =
	"two boots of x86_64-6.1-on marked 130 of 205 rows at p < 0.05, by up to 38 %, against a cv of 0.2-0.8 % "
	"inside a boot";

constexpr int kUTestMinRepetitions = 2;      // compare.py's UTEST_MIN_REPETITIONS
constexpr int kUTestOptimalRepetitions = 9;  // compare.py's UTEST_OPTIMAL_REPETITIONS

struct CompareOptions {
	double alpha = 0.05;          // compare.py's default; marks rows at q < alpha
	double level = 0.95;          // confidence level of the intervals
	bool allow_mismatch = false;  // compare cells that differ in more than the protection
	std::string across;           // "" (the protection differs) or "kernel" (one protection, two kernels)
};

// Under icount, two runs of one cell agree to a few 1e-4 in every row, not bit for bit (measured here: at
// most 5e-5 with 50 M instructions a benchmark, 6e-4 with 10 M; no arch or kernel setting tried removed it,
// README "The clocks"). Differences below this share of A are taken as equal.
constexpr double kExactTolerance = 1e-3;

// Rows whose ratio means nothing because "off" is a patched-out NOP of about 1 ns: a difference in ns.
bool difference_row(const std::string &name);

struct RowComparison {
	std::string name;
	const Row *a = nullptr, *b = nullptr;
	double time_ratio = 0;        // B's median time per unit / A's: > 1 means B is slower
	bool difference = false;      // `effect` is B - A in the row's unit (ns, or insn under icount), not B/A
	ShiftEstimate effect;         // Hodges-Lehmann B/A time (or B - A) with its interval, over the samples
	ShiftEstimate ratio;          // B/A time with its interval: `effect` itself unless `difference`
	                              // (what --max-regression decides on)
	std::optional<double> p;      // effect.p (wilcox.test, two-sided); none with fewer than
	                              // kUTestMinRepetitions samples a side, without an estimate, or on an exact clock
	std::optional<double> q;      // Benjamini-Hochberg over the rows that have a p
	bool significant = false;     // q < alpha; exact clock: B differs from A at all
	// The estimate as a person reads it: "1.978 [1.950, 2.010]", "+21.3 ns [21.0, 21.6]" or, under icount,
	// "+0.05 insn".
	std::string effect_text() const;
};

struct Comparison {
	const CellResults *a = nullptr, *b = nullptr;
	double alpha = 0.05;
	std::vector<std::string> mismatches;  // what differs besides the protection (compared anyway if allowed)
	std::vector<std::string> accepted;    // the one difference a protection like off-kernel or sw is (said so)
	std::vector<std::string> warnings;    // why the ratios may carry more than the protection (host load, ...)
	std::vector<std::string> test_notes;  // what limits the U test here (one boot, too few samples)
	std::vector<RowComparison> rows;      // benchmarks present in both cells
	std::vector<std::string> only_a, only_b;
	// This run's own noise: each cell's even boots against its odd boots (rows marked at q < alpha when
	// nothing differs). Unset with fewer than two boots, or under an exact clock.
	std::optional<SplitHalfAA> noise_a, noise_b;
	bool exact = false;                   // both cells on an exact clock (icount)
	int samples() const { return std::min(a->samples, b->samples); }
	bool per_boot() const { return a->per_boot() && b->per_boot(); }
	int significant() const;
	// What the marks mean, in one sentence.
	std::string mark_rule() const;
};

// Everything in the two cells' contexts that differs besides the protection: arch, kernel, CPU (other
// than the matrix's own on/off pair of CPU models for that arch), accelerator, QEMU, kernel command line
// (KASLR, KPTI, ...), page-table isolation, benchmark settings. Empty when the two may be compared.
std::vector<std::string> mismatches(const CellResults &a, const CellResults &b, const std::string &across = "");
// The fields whose difference is a warning, not a refusal (FieldRule::warn: SMT, isolated CPUs, the pinned CPU).
std::vector<std::string> field_warnings(const CellResults &a, const CellResults &b);
// The difference that off-kernel and sw are, when that is all there is besides the CPU pair: one kernel
// parameter (x86 clearcpuid=smap) or one kernel config fragment (arm64 CONFIG_ARM64_PAN=n, software PAN).
std::vector<std::string> accepted_differences(const CellResults &a, const CellResults &b);

// Host load while a cell ran above which compare warns: other work in cores on average, steal share.
constexpr double kBusyHostCores = 0.3;
constexpr double kBusyHostSteal = 0.03;
// The control rows: memcpy in user space and in the kernel, touching no user memory from the kernel,
// so the guard has nothing to do with them; when one family's median ratio is further from 1 than the
// tolerance, the two cells ran at different speeds.
constexpr const char *kControlStems[] = {"baseline/user_memcpy", "baseline/kernel_memcpy"};  // /<bytes>
constexpr double kControlTolerance = 0.10;

// Compares B against A. Throws Error, listing the mismatches, when the cells differ in more than the
// protection and o.allow_mismatch is not set.
Comparison compare(const CellResults &a, const CellResults &b, const CompareOptions &o);
// A Comparison points into its cells: they must outlive it.
Comparison compare(CellResults &&, const CellResults &, const CompareOptions &) = delete;
Comparison compare(const CellResults &, CellResults &&, const CompareOptions &) = delete;

}  // namespace xua
