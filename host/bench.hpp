// `./xuaccess bench`: the benchmark suites in every selected cell, one cell at a time, written as Google
// Benchmark JSON (one file per cell, with the cell's context), then the report (report.hpp).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "frontend.hpp"

namespace xua {

struct BenchOptions {
	Selection sel;
	std::string filter;     // regex over benchmark names
	int boots = 5;          // guest boots per cell: the samples of compare's U test (5 vs 5: p down to 0.008)
	int repetitions = 2;    // per boot; their median is the boot's sample
	bool quick = false;
	fs::path out;           // default results/<UTC timestamp>
	std::string accel = "tcg";
};

int run_bench(const BenchOptions &o);

// --host: the same suites on this machine's running kernel. States what it will do; does nothing more
// unless `confirmed` (--yes-load-module-into-this-kernel). Never used by the tests.
int run_host_bench(const BenchOptions &o, bool confirmed);

// The JSON object in a guest's benchmark output (which may carry other lines around it).
nlohmann::json extract_benchmark_json(const std::vector<std::string> &lines);

}  // namespace xua
