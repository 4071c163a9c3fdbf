// What makes a host's own timings move, and what a reader needs to trust them (`bench --host`): the CPU
// frequency governor and frequencies, turbo/boost, SMT, isolated CPUs, the CPU the benchmark was pinned to,
// the kernel's mitigations and the distribution. Everything is read under a root directory, so tests run on a
// fake /sys and /etc tree; a file the machine does not have (a VM often has no cpufreq) reads "not exposed",
// never a guessed value. The fields and how compare treats them are in shared/results_schema.hpp.
#pragma once

#include <string>

#include "shared/results_schema.hpp"
#include "base/util.hpp"

namespace xua {

constexpr const char *kNotExposed = "not exposed";

struct HostDescription {
	std::string governor;     // cpu<N>/cpufreq/scaling_governor
	std::string freq_cur_khz; // cpu<N>/cpufreq/scaling_cur_freq
	std::string freq_max_khz; // cpu<N>/cpufreq/cpuinfo_max_freq
	std::string boost;        // "on"/"off" (intel_pstate/no_turbo inverted, cpufreq/boost), else not exposed
	std::string smt;          // smt/control: on, off, forceoff, notsupported, notimplemented
	std::string isolated;     // the isolated list ("" in the file: "none")
	std::string mitigations;  // "<name>: <state>; ..." over vulnerabilities/*, sorted by name
	std::string os;           // etc/os-release PRETTY_NAME
	int cpu = -1;             // the CPU the benchmark runs on
};

// Reads the description under `root` ("/" on the machine itself) for CPU `cpu`.
HostDescription describe_host(const fs::path &root, int cpu);
// Writes it into a cell's context (xua_host_cpufreq_governor, ..., xua_host_os, xua_host_bench_cpu).
void record(const HostDescription &d, CellContext &c);

// The CPU to pin the benchmark to: the first isolated CPU this process may run on, else the last CPU it may
// run on (CPU 0 takes most interrupts). -1 when the affinity cannot be read.
int choose_bench_cpu(const fs::path &root = "/");
// Pins this process (and the children it starts from now on) to `cpu`; throws Error when it cannot.
void pin_to_cpu(int cpu);

}  // namespace xua
