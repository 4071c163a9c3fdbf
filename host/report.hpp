// The report of a results directory: what `./xuaccess bench` prints at its end and writes next to its
// JSON, and what `./xuaccess report DIR` regenerates from that JSON alone.
//   summary.txt               the printed text: per arch and kernel the headline rows, off vs on with the U test
//   compare-<arch>-<kernel>.txt/.json   every row of each on/off pair (compare's table and data)
//   plots/*.gp, plots/*.png   gnuplot scripts (data inline) and what they draw: throughput vs size, guard
//                             cost, mmap vs copy, batching
//   report.md                 all of it for people, plots included
#pragma once

#include <string>
#include <vector>

#include "compare.hpp"
#include "results.hpp"

namespace xua {

// The headline rows of the printed summary (the files hold every row).
std::vector<std::string> headline_rows(const CellResults &c);

// The on/off pairs of a results directory: (off, on) per arch and kernel, so that B/A = on/off.
std::vector<std::pair<const CellResults *, const CellResults *>> protection_pairs(const std::vector<CellResults> &cells);

// Where the mmap shared buffer overtakes the copy ioctl for one direction of a cell: the smallest
// measured size from which mmap is at least as fast at every larger size, or 0 if it never is.
uint64_t mmap_crossover(const CellResults &c, bool to_user);

// Writes every file above into dir and returns the summary text.
std::string write_report(const fs::path &dir);
// write_report, then prints the summary and where the files are.
void print_report(const fs::path &dir);

}  // namespace xua
