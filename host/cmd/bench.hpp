// `./xuaccess bench`: the benchmark suites in every selected cell, one boot at a time (icount: one per core). Each boot's figures
// are saved as it finishes (DIR/boots/<cell>/boot-<k>.json), so an interrupted run keeps them and
// `--resume DIR` continues it; a cell's boots are merged into DIR/<cell>.json (Google Benchmark JSON with
// the cell's context, self-describing), then the report (report/report.hpp) is written.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "provision/matrix.hpp"

namespace xua {

struct BenchOptions {
	Selection sel;
	std::string filter;     // regex over benchmark names
	// Guest boots per cell: the samples of compare's U test (8 vs 8: p down to 0.0002), and 4 vs 4 for the
	// split-half A/A that states the run's own noise (3 vs 3 could never mark a row at 0.05).
	int boots = 8;
	int repetitions = 1;    // per boot; their median is the boot's sample
	bool quick = false;
	fs::path out;           // default results/<UTC timestamp>
	std::string accel = "auto";  // auto: KVM for cells of this machine's arch when /dev/kvm is usable, else TCG
	std::string clock = "time";  // time, or icount: QEMU's instruction counter (TCG, one boot, exact)
	uint64_t seed = 0;      // the order of the interleaved boots; 0: drawn at random (and printed)
	// The module's kernel buffers (its kbuf parameter): vmalloc, linear (the linear map, where real callers'
	// buffers live), or auto: linear on silicon (KVM, --host) and under icount, vmalloc under TCG time.
	std::string kbuf = "auto";
	std::chrono::seconds inactivity{120};  // a guest silent this long is ended (progress records every benchmark)
	// Boots run side by side (--jobs): 0 is the default, every usable core for --clock icount (instruction
	// counts do not depend on host load) and 1 for time; with time, at most one per usable CPU, each pinned to
	// its own (docs/bench.md#how-a-run-is-scheduled: the A/A that measured what it costs).
	int jobs = 0;
	// Boots of a cell run again when a whole boot ran slow (time clock, two boots or more): at most this many
	// extra rounds per arch x kernel, each booting every protection of it once more (bench.md#the-pace-probe).
	int extra_boots = 1;
};

// How many boots run side by side for these options.
unsigned bench_jobs(const BenchOptions &o);
// The CPUs time-clock boots side by side are pinned to, one each (empty: not pinned, for one job or icount).
// Throws Error when --jobs asks for more than the CPUs this process may use.
std::vector<int> pinned_cpus(const BenchOptions &o);

// Starts a run in o.out (an earlier run there is started over).
int run_bench(const BenchOptions &o);
// Continues the run in `dir` with the options it was started with (DIR/boots/run.json).
int resume_bench(const fs::path &dir);

// --host: the same suites on this machine's running kernel. States what it will do; does nothing more
// unless `confirmed` (--yes-load-module-into-this-kernel). Never used by the tests.
int run_host_bench(const BenchOptions &o, bool confirmed);

// The kbuf parameter for a cell run with `accel` (tcg, kvm or host): --kbuf, or for auto linear on silicon and
// under icount, vmalloc under TCG time.
std::string kbuf_for(const BenchOptions &o, const std::string &accel);

// The arguments of xuaccess-bench for these options, after checking them (they travel on the guest's
// kernel command line, where spaces separate parameters and commas separate arguments).
std::vector<std::string> bench_args(const BenchOptions &o);

// The options as saved in DIR/boots/run.json, and back.
nlohmann::json to_json(const BenchOptions &o);
BenchOptions bench_options_from_json(const nlohmann::json &j);

}  // namespace xua
