// Benchmark names, parsed in one place. The suites (bench/bench.cpp) name their rows
//   transfer/<method>/<dir>/<bytes>, latency/<method>/<dir>/<bytes>, mmap/<kind>/<bytes>, guard/toggle,
//   batch/<get_user|user_access>/<words>, baseline/<what>[/<bytes>]
// with Google Benchmark's "/manual_time" appended to kernel-timed rows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace xua {

struct BenchName {
	std::string name;                // without "/manual_time"
	std::string family;              // transfer, latency, mmap, guard, batch, baseline
	std::string method;              // transfer/latency: the method; mmap: the kind; batch: get_user|user_access;
	                                 // baseline: kernel_memcpy, user_memcpy, null_ioctl, getppid; guard: toggle
	std::string direction;           // to_user, from_user, or "" (transfer and latency only)
	std::optional<uint64_t> size;    // the trailing number: bytes (words for batch), when there is one
	std::string stem;                // the name without its size: "transfer/copy/to_user"
};
BenchName parse_bench_name(std::string_view name);

// What a row measures and in which unit its figures are read; written into each row of the results JSON at
// bench time ("xua_unit", "xua_kind") so that compare and report read it from the file.
struct RowKind {
	std::string unit;  // "MiB/s" (higher is faster), "ns" per call, "ns/item"; under the icount clock
	                   // (one ns of guest time per instruction): "insn/B", "insn" per call, "insn/item"
	std::string kind;  // e.g. "kernel-timed throughput", "wall clock per call (syscall included)"
	bool throughput() const { return unit == "MiB/s"; }
};
RowKind row_kind(const BenchName &n, bool has_bytes_per_second);
// The same row counted in instructions (the icount clock): lower is fewer instructions.
RowKind icount_kind(const RowKind &time_kind);

// Adds xua_unit and xua_kind to every row of a Google Benchmark JSON that lacks them; with `icount`, the
// instruction units.
void annotate_rows(nlohmann::json &benchmark_json, bool icount = false);

// The row's figure in its unit, from a Google Benchmark JSON row.
double row_figure(const RowKind &k, const nlohmann::json &row);

}  // namespace xua
