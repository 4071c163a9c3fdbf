#include "report/format.hpp"

#include <cmath>

#include <algorithm>

#include "analyze/summary.hpp"

namespace xua {

std::string size_label(uint64_t bytes)
{
	if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
		return fmt::format("{} MiB", bytes >> 20);
	if (bytes >= 1024 && bytes % 1024 == 0)
		return fmt::format("{} KiB", bytes >> 10);
	return fmt::format("{} B", bytes);
}

std::string banner(const CellResults &c)
{
	if (c.meta.accel == Accel::kvm || c.meta.accel == Accel::host) {
		auto m = c.meta.host_machine;
		auto label = c.accel_label();
		return m.empty() || m == "real silicon" ? label : label + ": NOT silicon";
	}
	return "EMULATED (QEMU TCG), not silicon";
}

std::string guard_name(const CellResults &c)
{
	auto g = c.meta.guard;
	return g.empty() ? "guard" : g;
}

std::string kernel_of(const CellResults &c)
{
	if (!c.meta.kernel_path.empty())  // tree-<release>, deb-<release>: says where it came from
		return c.meta.kernel_series;
	auto k = c.meta.kernel_release;
	return k.empty() ? "?" : k;
}

std::string cpu_off_note(const CellResults &a, const CellResults &b)
{
	if (a.protection() != b.protection() && (a.protection() == "off" || b.protection() == "off") &&
	    a.meta.qemu_cpu != b.meta.qemu_cpu)
		return a.meta.cpu_off_note;
	return {};
}

std::string prot_title(const CellResults &c)
{
	return fmt::format("{} {}", guard_name(c), c.protection().empty() ? "as booted" : c.protection());
}

std::string direction_title(const std::string &dir)
{
	return dir == "to_user" ? "kernel -> user (to_user)" : "user -> kernel (from_user)";
}

std::string md_escape(const std::string &s)
{
	std::string o;
	for (char ch : s)
		o += ch == '|' ? std::string("\\|") : std::string(1, ch);
	return o;
}

std::string value_cv(const Row &r)
{
	// Small figures (instructions per byte, ns per item) keep four significant digits.
	auto v = std::abs(r.median) < 100 ? fmt::format("{:.4g}", r.median) : fmt::format("{:.1f}", r.median);
	return r.cv >= 0 ? fmt::format("{} ±{:.1f}%", v, r.cv * 100) : v;
}

std::string mmap_vs_copy(const CellResults &c, bool to_user)
{
	auto runs = mmap_vs_copy_runs(c, to_user);
	if (runs.empty())
		return "not measured";
	std::vector<std::string> parts;
	for (auto &r : runs) {
		auto range = r.from == r.to ? size_label(static_cast<uint64_t>(r.from))
					    : fmt::format("{}-{}", size_label(static_cast<uint64_t>(r.from)),
							  size_label(static_cast<uint64_t>(r.to)));
		parts.push_back(fmt::format("{} {}", r.mmap ? "mmap faster at" : "copy ioctl faster at", range));
	}
	return fmt::format("{}", fmt::join(parts, ", "));
}

std::vector<std::string> cell_notes(const CellResults &c)
{
	std::vector<std::string> out;
	std::string line;
	for (auto &r : raw_vs_copy(c))
		line += fmt::format(" {}/{}/{}={:+.1f}%", r.method, r.direction, size_label(r.size), r.percent);
	if (!line.empty())
		out.push_back(fmt::format("{}: raw copy vs copy_*_user throughput:{}", c.name, line));
	if (auto cvs = kernel_timed_cvs(c); !cvs.empty()) {
		auto over = std::count_if(cvs.begin(), cvs.end(), [](double x) { return x > 0.03; });
		out.push_back(fmt::format("{}: kernel-timed rows >= 4 KiB: {} rows, cv median {:.1f}%, max {:.1f}%, {} above 3%",
					  c.name, cvs.size(), cvs[cvs.size() / 2] * 100, cvs.back() * 100, over));
	}
	return out;
}

}  // namespace xua
