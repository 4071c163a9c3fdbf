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

#include "analyze/summary.hpp"
#include "report/comparison.hpp"
#include "report/format.hpp"

namespace xua {

// Writes every file above into dir and returns the summary text.
std::string write_report(const fs::path &dir);
// write_report, then prints the summary and where the files are.
void print_report(const fs::path &dir);

}  // namespace xua
