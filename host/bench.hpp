// `./xuaccess bench`: the benchmark suites in every selected cell, one cell at a time, written as Google
// Benchmark JSON (one file per cell, with the cell's context), then a per-arch summary.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "frontend.hpp"

namespace xua {

struct BenchOptions {
	Selection sel;
	std::string filter;     // regex over benchmark names
	int repetitions = 3;
	bool quick = false;
	fs::path out;           // default results/<UTC timestamp>
	std::string accel = "tcg";
};

int run_bench(const BenchOptions &o);

// --host: the same suites on this machine's running kernel. States what it will do; does nothing more
// unless `confirmed` (--yes-load-module-into-this-kernel). Never used by the tests.
int run_host_bench(const BenchOptions &o, bool confirmed);

// The summary of a results directory (every <cell>.json in it): per arch and kernel, on and off side by
// side, the raw-copy-vs-copy_*_user figures and the noise of the kernel-timed rows.
std::string bench_report(const fs::path &dir);
// Prints that summary and writes it to DIR/summary.txt.
void print_report(const fs::path &dir);

// The JSON object in a guest's benchmark output (which may carry other lines around it).
nlohmann::json extract_benchmark_json(const std::vector<std::string> &lines);

// One summary value of a benchmark row: the median over repetitions (or the single run).
struct RowValue {
	double value = 0;  // MiB/s for throughput rows, ns for time rows
	double cv = -1;    // coefficient of variation over repetitions, -1 when unknown
	bool throughput = false;
};
std::map<std::string, RowValue> summarise(const nlohmann::json &results);

// The per-arch summary table: rows x cells (on/off side by side), with the off/on ratio.
std::string summary_table(const std::string &title, const std::vector<std::string> &cell_names,
			  const std::vector<std::map<std::string, RowValue>> &cells, const std::vector<std::string> &rows);

}  // namespace xua
