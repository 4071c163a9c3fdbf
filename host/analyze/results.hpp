// A results directory of `./xuaccess bench`: one Google Benchmark JSON per cell (with the cell's context),
// read back into rows that keep every repetition. Summary, compare and report all read results here.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shared/results_schema.hpp"
#include "base/util.hpp"

namespace xua {

// The pace rule. Every row of a bench is bracketed by the pace probe (bench/bench.cpp: the same kernel memcpy
// before and after each benchmark, about 1.5 ms, in ns per MiB). On a shared machine the emulator runs slower
// for stretches of seconds up to whole boots (measured: 1.1-1.8x on runs of consecutive rows, the probe slowed
// alike), which made a row's boots bimodal. A value whose slower probe exceeds the cell's reference pace (the
// median of all its probes) by more than kPaceSlowedBy is left out of the row's samples; on and off cells alike,
// each against its own reference. When that would leave a row fewer than two samples, the row keeps them all.
inline constexpr double kPaceSlowedBy = 1.10;

// One benchmark of one cell, in the unit a person reads it in.
//
// A cell may hold several boots of its guest (`./xuaccess bench --boots N`), each with its repetitions.
// Under TCG the boot is the unit that varies: two boots of one cell differ by far more than the
// repetitions inside one boot (measured: up to 38 %, against a cv of 0.2-0.8 % within a boot). So with
// two boots or more, a row's samples are its boots' medians; with one boot, its repetitions.
struct Row {
	std::string name;             // the benchmark's name without Google Benchmark's "/manual_time"
	std::string unit_name = "ns"; // "MiB/s" (higher is faster), "ns" or "ns/item" (lower is faster): from the
	std::string kind;             // row's xua_unit / xua_kind in the JSON (older files: from its name)
	bool throughput = false;      // unit MiB/s
	std::vector<double> values;   // one per repetition (all boots), in the row's unit
	std::vector<double> samples;  // per-boot medians with two boots or more, else the repetitions (the values
	                              // the pace rule leaves out are not in them)
	int slowed = 0;               // values the pace rule left out of the samples
	bool slowed_kept = false;     // the pace rule would have left fewer than two samples: all were kept
	double median = 0;            // over the samples
	double cv = -1;               // over the samples; -1 with fewer than two
	const char *unit() const { return unit_name.c_str(); }
	// Nanoseconds per unit of work (per byte for throughput rows, per call or item otherwise): what
	// ratios between cells are taken of, so that > 1 always means slower.
	double time_per_unit() const { return throughput ? (median > 0 ? 1 / median : 0) : median; }
	// The samples as time per unit of work (lower is faster), what intervals and regression checks use.
	std::vector<double> time_samples() const;
};

struct CellResults {
	std::string name;             // the file's stem: <arch>-<kernel>-<on|off> (or host-<release>-asbooted)
	fs::path file;
	nlohmann::json context;       // Google Benchmark's context plus the xua_* keys the harness adds, as read
	CellContext meta;             // the same context, typed (shared/results_schema.hpp): what compare and report read
	std::map<std::string, Row> rows;
	int repetitions = 1;          // the smallest number of repetitions of any row (all boots)
	int boots = 1;                // the smallest number of boots of any row
	int samples = 1;              // the smallest number of samples of any row
	double pace_ns = 0;           // the reference pace, ns per MiB (median of every probe); 0: no probes (older results)
	std::map<int, int> slowed_by_boot;  // boot -> values the pace rule left out
	std::map<int, int> values_by_boot;  // boot -> its values
	int slowed_values = 0, values = 0;  // left out by the pace rule, of all values
	// "pace probe 1.82 ms per MiB; 38 of 1672 values left out (probe > 1.10x): boot 0: 12, boot 3: 11": what the
	// rule did.
	std::string pace_summary() const;
	// The boots that ran slow throughout: the pace rule left more than half of their values out.
	std::vector<int> slow_boots() const;
	bool per_boot() const { return boots >= 2; }
	// "5 boots x 2 repetitions" or "9 repetitions in 1 boot": what the samples are.
	std::string sampling() const;
	std::string context_string(const std::string &key) const;
	// Sets the keys of `patch` in the context and reads `meta` from it again (tests plant differences so).
	void update_context(const nlohmann::json &patch);
	// "emulated (TCG)", "icount (...)", "KVM on real silicon", "KVM inside an emulated machine (...)",
	// "host kernel on real silicon", "host kernel on a QEMU TCG-emulated machine" (machine_label)
	std::string accel_label() const;
	// The kernel, as truthfully as the context says: "'<package> <version>' (<release>)", and for a kernel given
	// as a path "<label> (<form> <path>, release <release>, <git describe or package>)".
	std::string kernel_description() const;
	// Cells are paired by what their context says, not by file names: group() is <arch>-<kernel series>
	// (same arch, kernel and accelerator), protection() the protection requested. Files without those
	// keys fall back to the name <arch>-<kernel>-<on|off>.
	std::string group() const;
	std::string protection() const;     // "on", "off" or "" when neither the context nor the name says
	// The clock the figures were taken with: "icount" (exact instruction counts, one ns per instruction)
	// or "time" (TCG, KVM or host time).
	std::string clock() const;
	bool exact_clock() const { return clock() == "icount"; }
};

// Reads one cell's JSON (rows with error_occurred are left out). Throws Error when it does not parse or
// holds no benchmarks.
CellResults load_cell(const fs::path &file);
CellResults parse_cell(const std::string &name, const nlohmann::json &j);
// Every <cell>.json of a results directory (compare-*.json and other files the report writes are not
// cells), sorted by name. A file that does not parse is left out with a warning naming it (in `skipped`
// when given, else printed to stderr). Throws Error when no cell is left.
std::vector<CellResults> load_results(const fs::path &dir, std::vector<std::string> *skipped = nullptr);

// What a result's figures come from, from its accelerator (tcg, kvm, host) and the xua_host_machine it
// recorded ("" in files from before it was recorded): "KVM on real silicon", "KVM inside an emulated machine
// (QEMU TCG)", "host kernel on a QEMU TCG-emulated machine", ... TCG's own label stays "emulated (TCG)".
std::string machine_label(const std::string &accel, const std::string &machine);

// One cell's boots (each a Google Benchmark JSON, in boot order) as one JSON: every boot's iteration rows,
// each marked with its boot ("xua_boot"); Google Benchmark's per-boot aggregates dropped with several boots
// (compare computes its own); the context of the first boot, with the busiest boot's host load. Rows get
// their unit and kind (instruction units with `icount`).
nlohmann::json merge_boots(const std::vector<nlohmann::json> &boots, bool icount = false);

}  // namespace xua
