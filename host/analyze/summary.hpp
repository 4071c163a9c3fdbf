// What the report shows, as data: cells paired by their context, the points of a benchmark family over
// sizes, the headline rows, the families a comparison marks, where mmap beats the copy ioctl, the raw copy
// against copy_*_user, and the noise of the kernel-timed rows. Formatting is report/'s.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "analyze/compare.hpp"
#include "analyze/results.hpp"

namespace xua {

// A pair of cells of one (arch, kernel series, accelerator) that a report compares: the cell with the guard
// (protection on, or sw) and its partner without it (off, or off-kernel), guarded first; or, when a cell has
// no partner in the directory, the cells left alone (guarded and unguarded null, cells hold them).
struct Group {
	std::string name;  // the context ("arm64-6.1"), "<context>-<guarded>-vs-<unguarded>" for pairs besides on/off
	std::vector<const CellResults *> cells;
	const CellResults *guarded = nullptr, *unguarded = nullptr;
	std::optional<Comparison> cmp;  // B = guarded, A = unguarded, when compare() accepts the pair
	std::string refused;            // why the pair was not compared
	const CellResults &first() const { return *cells.front(); }
	std::string pair_title() const;  // "on vs off", "on vs off-kernel", "sw vs off"
};
// The pairs compared within one context, guarded protection first: on vs off (the matrix's two CPU models),
// on vs off-kernel (one CPU, the guard not used by the kernel), sw vs off (software PAN against none, one CPU).
inline constexpr std::pair<const char *, const char *> kProtectionPairs[] = {
	{"on", "off"}, {"on", "off-kernel"}, {"sw", "off"}};
// The protections a cell of protection p is compared with ("off" for sw), for saying what a lone cell lacks.
std::vector<std::string> partner_protections(const std::string &p);
// Groups the cells by their context (CellResults::group()) and compares every pair of kProtectionPairs found.
std::vector<Group> pair_cells(const std::vector<CellResults> &cells);

// Sorted (size, median) points of the rows "<stem>/<size>" of a cell, e.g. stem "transfer/copy/to_user".
std::vector<std::pair<double, double>> series(const CellResults &c, const std::string &stem);
// The methods of a family's sized rows, in name order ("transfer" -> copy, raw_..., ...).
std::vector<std::string> methods(const std::vector<const CellResults *> &cells, const std::string &family);

// The headline rows of the printed summary (the files hold every row).
std::vector<std::string> headline_rows(const CellResults &c);

// Per benchmark family (the name without its size), the rows a comparison marks significant.
struct FamilyEffect {
	std::string name;  // "transfer/copy/to_user/*"
	int rows = 0, marked = 0;
	double lo = 0, hi = 0, q = 1;  // range of the marked rows' ratios, their smallest q (0: exact clock)
};
// Families with marked rows, the largest effect first.
std::vector<FamilyEffect> significant_families(const Comparison &c);

// The copy ioctl end to end, in MiB/s over sizes: the latency/copy/<dir> rows (wall clock per call at each
// size); results from before 0.3.0 had the same figures as mmap/copy_{to,from}_user rows.
std::vector<std::pair<double, double>> copy_ioctl_series(const CellResults &c, bool to_user);

// Runs of measured sizes where the mmap'ed buffer beats the copy ioctl (ties go to mmap), or the reverse.
struct SizeRun {
	bool mmap;
	double from, to;
};
std::vector<SizeRun> mmap_vs_copy_runs(const CellResults &c, bool to_user);

// The module's raw copy against copy_{to,from}_user at >= 4 KiB: percent throughput difference per row.
struct RawVsCopy {
	std::string method, direction;
	uint64_t size;
	double percent;
};
std::vector<RawVsCopy> raw_vs_copy(const CellResults &c);

// The spread of the kernel-timed rows >= 4 KiB over the samples: the cvs, sorted.
std::vector<double> kernel_timed_cvs(const CellResults &c);

}  // namespace xua
