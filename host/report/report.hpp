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

#include "analyze/compare.hpp"
#include "report/comparison.hpp"
#include "analyze/results.hpp"

namespace xua {

// The headline rows of the printed summary (the files hold every row).
std::vector<std::string> headline_rows(const CellResults &c);

// Where the mmap'ed shared buffer beats the copy ioctl of the same size, end to end, for one direction of a
// cell, as runs of measured sizes: "mmap faster at 8 B-512 B, copy ioctl faster at 4 KiB-4 MiB" (ties go
// to mmap); "not measured" without the mmap rows.
std::string mmap_vs_copy(const CellResults &c, bool to_user);

// Writes every file above into dir and returns the summary text.
std::string write_report(const fs::path &dir);
// write_report, then prints the summary and where the files are.
void print_report(const fs::path &dir);

}  // namespace xua
