#include "run/host_description.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sched.h>

namespace xua {
namespace {

// The first line of root/rel, trimmed, or "not exposed" when there is no such file.
std::string sys_value(const fs::path &root, const std::string &rel)
{
	auto p = root / rel;
	std::error_code ec;
	if (!fs::is_regular_file(p, ec))
		return kNotExposed;
	try {
		auto lines = split_lines(read_file(p));
		return lines.empty() ? "" : trim(lines.front());
	} catch (const Error &) {
		return kNotExposed;
	}
}

// A CPU list as the kernel writes it ("0-3,8"), expanded.
std::vector<int> cpu_list(const std::string &s)
{
	std::vector<int> out;
	size_t pos = 0;
	while (pos < s.size()) {
		auto comma = s.find(',', pos);
		auto item = trim(s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
		pos = comma == std::string::npos ? s.size() : comma + 1;
		if (item.empty())
			continue;
		try {
			auto dash = item.find('-');
			int lo = std::stoi(item.substr(0, dash));
			int hi = dash == std::string::npos ? lo : std::stoi(item.substr(dash + 1));
			for (int c = lo; c <= hi; ++c)
				out.push_back(c);
		} catch (const std::exception &) {
		}
	}
	return out;
}

}  // namespace

HostDescription describe_host(const fs::path &root, int cpu)
{
	HostDescription d;
	d.cpu = cpu;
	const std::string sys = "sys/devices/system/cpu/";
	const std::string freq = sys + fmt::format("cpu{}/cpufreq/", std::max(cpu, 0));
	d.governor = sys_value(root, freq + "scaling_governor");
	d.freq_cur_khz = sys_value(root, freq + "scaling_cur_freq");
	d.freq_max_khz = sys_value(root, freq + "cpuinfo_max_freq");
	// intel_pstate says it the other way round (no_turbo 1 = boost off); other drivers have cpufreq/boost.
	if (auto nt = sys_value(root, sys + "intel_pstate/no_turbo"); nt != kNotExposed)
		d.boost = nt == "0" ? "on (intel_pstate)" : "off (intel_pstate no_turbo)";
	else if (auto b = sys_value(root, sys + "cpufreq/boost"); b != kNotExposed)
		d.boost = b == "1" ? "on" : "off";
	else
		d.boost = kNotExposed;
	d.smt = sys_value(root, sys + "smt/control");
	d.isolated = sys_value(root, sys + "isolated");
	if (d.isolated.empty())
		d.isolated = "none";
	std::vector<std::string> mitigations;
	std::error_code ec;
	if (fs::is_directory(root / (sys + "vulnerabilities"), ec))
		for (auto &e : fs::directory_iterator(root / (sys + "vulnerabilities"), ec))
			mitigations.push_back(e.path().filename().string() + ": " +
					      sys_value(root, sys + "vulnerabilities/" + e.path().filename().string()));
	std::sort(mitigations.begin(), mitigations.end());
	d.mitigations = mitigations.empty() ? std::string(kNotExposed) : fmt::format("{}", fmt::join(mitigations, "; "));
	d.os = host_os(root / "etc/os-release");
	return d;
}

void record(const HostDescription &d, CellContext &c)
{
	c.host_governor = d.governor;
	c.host_freq_cur = d.freq_cur_khz;
	c.host_freq_max = d.freq_max_khz;
	c.host_boost = d.boost;
	c.host_smt = d.smt;
	c.host_isolated = d.isolated;
	c.host_mitigations = d.mitigations;
	c.host_os = d.os;
	c.host_bench_cpu = d.cpu >= 0 ? fmt::format("{} (pinned with sched_setaffinity)", d.cpu) : "not pinned";
}

int choose_bench_cpu(const fs::path &root)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return -1;
	auto isolated = cpu_list(sys_value(root, "sys/devices/system/cpu/isolated"));
	for (int c : isolated)
		if (c >= 0 && c < CPU_SETSIZE && CPU_ISSET(c, &set))
			return c;
	for (int c = CPU_SETSIZE - 1; c >= 0; --c)
		if (CPU_ISSET(c, &set))
			return c;
	return -1;
}

void pin_to_cpu(int cpu)
{
	if (cpu < 0 || cpu >= CPU_SETSIZE)
		fail("cannot pin to CPU {}", cpu);
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		fail("sched_setaffinity to CPU {}: {}", cpu, std::strerror(errno));
}

}  // namespace xua
