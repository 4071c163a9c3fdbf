// `./xuaccess compare A.json B.json`, and the on/off comparison at the end of every bench: per benchmark
// row, B's time per unit of work over A's, both cells' spread, and a two-sided Mann-Whitney U test (what
// Google Benchmark's compare.py runs) over the rows' samples: the boots' medians when both cells have two
// boots or more, else the repetitions (results.hpp says why), with the rows that differ significantly
// marked. Two cells are only compared when they differ in nothing but the protection.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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
	double alpha = 0.05;          // compare.py's default
	bool allow_mismatch = false;  // compare cells that differ in more than the protection
	std::string across;           // "" (the protection differs) or "kernel" (one protection, two kernels)
};

struct RowComparison {
	std::string name;
	const Row *a = nullptr, *b = nullptr;
	double time_ratio = 0;        // B's time per unit / A's: > 1 means B is slower
	std::optional<double> p;      // over the rows' samples; none with fewer than kUTestMinRepetitions on a side
	bool significant = false;     // p < alpha
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
	int samples() const { return std::min(a->samples, b->samples); }
	bool per_boot() const { return a->per_boot() && b->per_boot(); }
	int significant() const;
	// How many rows p < alpha marks when nothing differs, e.g. "~10" or "~0.3".
	std::string marked_by_chance() const;
};

// Everything in the two cells' contexts that differs besides the protection: arch, kernel, CPU (other
// than the matrix's own on/off pair of CPU models for that arch), accelerator, QEMU, kernel command line
// (KASLR, KPTI, ...), page-table isolation, benchmark settings. Empty when the two may be compared.
std::vector<std::string> mismatches(const CellResults &a, const CellResults &b, const std::string &across = "");
// The difference that off-kernel and sw are, when that is all there is besides the CPU pair: one kernel
// parameter (x86 clearcpuid=smap) or one kernel config fragment (arm64 CONFIG_ARM64_PAN=n, software PAN).
std::vector<std::string> accepted_differences(const CellResults &a, const CellResults &b);

// Host load while a cell ran above which compare warns: other work in cores on average, steal share.
constexpr double kBusyHostCores = 0.3;
constexpr double kBusyHostSteal = 0.03;
// The control rows: memcpy in user space and in the kernel, touching no user memory from the kernel,
// so the guard has nothing to do with them; when one family's median ratio is further from 1 than the
// tolerance, the two cells ran at different speeds.
constexpr const char *kControlPrefixes[] = {"baseline/user_memcpy/", "baseline/kernel_memcpy/"};
constexpr double kControlTolerance = 0.10;

// Compares B against A. Throws Error, listing the mismatches, when the cells differ in more than the
// protection and o.allow_mismatch is not set.
Comparison compare(const CellResults &a, const CellResults &b, const CompareOptions &o);
// A Comparison points into its cells: they must outlive it.
Comparison compare(CellResults &&, const CellResults &, const CompareOptions &) = delete;
Comparison compare(const CellResults &, CellResults &&, const CompareOptions &) = delete;

}  // namespace xua
