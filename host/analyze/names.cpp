#include "analyze/names.hpp"

#include <charconv>
#include <vector>

#include "shared/results_schema.hpp"

namespace xua {

BenchName parse_bench_name(std::string_view full)
{
	BenchName n;
	std::string s(full);
	for (const char *suffix : {"/manual_time", "/real_time"})  // Google Benchmark's timing suffixes
		if (auto pos = s.find(suffix); pos != std::string::npos)
			s.erase(pos);
	n.name = s;
	std::vector<std::string> parts;
	for (size_t start = 0;;) {
		auto slash = s.find('/', start);
		parts.push_back(s.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
		if (slash == std::string::npos)
			break;
		start = slash + 1;
	}
	n.stem = s;
	if (parts.size() >= 2) {
		uint64_t v = 0;
		const auto &last = parts.back();
		auto [p, ec] = std::from_chars(last.data(), last.data() + last.size(), v);
		if (ec == std::errc() && p == last.data() + last.size() && !last.empty()) {
			n.size = v;
			parts.pop_back();
			n.stem = s.substr(0, s.rfind('/'));
		}
	}
	n.family = parts[0];
	if (parts.size() >= 2)
		n.method = parts[1];
	if (parts.size() >= 3 && (parts[2] == "to_user" || parts[2] == "from_user"))
		n.direction = parts[2];
	return n;
}

RowKind row_kind(const BenchName &n, bool has_bytes)
{
	if (n.family == "latency" || (n.family == "baseline" && (n.method == "null_ioctl" || n.method == "getppid")))
		return {"ns", "wall clock per call (syscall included)"};
	if (n.family == "guard")
		return {"ns/item", "kernel-timed, per window open+close"};
	if (n.family == "batch")
		return {"ns/item", "kernel-timed, per call of N words"};
	bool kernel_timed = n.family == "transfer" || (n.family == "baseline" && n.method == "kernel_memcpy");
	if (has_bytes)
		return {"MiB/s", kernel_timed ? "kernel-timed throughput" : "wall-clock throughput (syscall included)"};
	return {"ns", kernel_timed ? "kernel-timed per call" : "wall clock per call"};
}

RowKind icount_kind(const RowKind &k)
{
	if (k.unit == "MiB/s")
		return {"insn/B", "instructions per byte (icount), " + k.kind};
	if (k.unit == "ns/item")
		return {"insn/item", "instructions per item (icount), " + k.kind};
	return {"insn", "instructions per call (icount), " + k.kind};
}

void annotate_rows(nlohmann::json &j, bool icount)
{
	if (!j.contains("benchmarks") || !j["benchmarks"].is_array())
		return;
	for (auto &b : j["benchmarks"]) {
		if (b.contains(keys::row_unit))
			continue;
		auto k = row_kind(parse_bench_name(b.value("run_name", b.value("name", ""))), b.contains("bytes_per_second"));
		if (icount)
			k = icount_kind(k);
		b[keys::row_unit] = k.unit;
		b[keys::row_kind] = k.kind;
	}
}

namespace {

// Google Benchmark's time_unit: the factor to nanoseconds.
double ns_per_time_unit(const nlohmann::json &b)
{
	auto u = b.value("time_unit", "ns");
	return u == "s" ? 1e9 : u == "ms" ? 1e6 : u == "us" ? 1e3 : 1.0;
}

}  // namespace

double row_figure(const RowKind &k, const nlohmann::json &b)
{
	if (k.unit == "MiB/s")
		return b.value("bytes_per_second", 0.0) / (1 << 20);
	if (k.unit == "insn/B") {  // bytes per guest second = bytes per 1e9 instructions
		double bps = b.value("bytes_per_second", 0.0);
		return bps > 0 ? 1e9 / bps : 0.0;
	}
	if (k.unit == "ns/item" || k.unit == "insn/item") {
		double ips = b.value("items_per_second", 0.0);
		return ips > 0 ? 1e9 / ips : 0.0;
	}
	return b.value("real_time", 0.0) * ns_per_time_unit(b);
}

}  // namespace xua
