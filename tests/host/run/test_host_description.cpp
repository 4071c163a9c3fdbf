// bench --host's description of the machine (host/run/host_description): read from fake /sys trees and from this
// machine's own, recorded in the results, and held against another machine's by compare.
#include <string>

#include <gtest/gtest.h>

#include "analyze/compare.hpp"
#include "analyze/results.hpp"
#include "run/host_description.hpp"
#include "shared/results_schema.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

// A machine with cpufreq, intel_pstate, SMT, isolated CPUs, two vulnerabilities and an os-release.
void plant_machine(const TempDir &t, const std::string &governor, const std::string &spectre)
{
	const std::string cpu = "sys/devices/system/cpu/";
	t.put(cpu + "cpu3/cpufreq/scaling_governor", governor + "\n");
	t.put(cpu + "cpu3/cpufreq/scaling_cur_freq", "2800000\n");
	t.put(cpu + "cpu3/cpufreq/cpuinfo_max_freq", "4700000\n");
	t.put(cpu + "intel_pstate/no_turbo", "1\n");
	t.put(cpu + "smt/control", "on\n");
	t.put(cpu + "isolated", "2-3\n");
	t.put(cpu + "vulnerabilities/meltdown", "Not affected\n");
	t.put(cpu + "vulnerabilities/spectre_v2", spectre + "\n");
	t.put("etc/os-release", "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n");
}

}  // namespace

TEST(HostDescription, ReadsAFakeSysfsTree)
{
	TempDir t("sysfs");
	plant_machine(t, "performance", "Mitigation: Retpolines");
	auto d = describe_host(t.path, 3);
	EXPECT_EQ(d.governor, "performance");
	EXPECT_EQ(d.freq_cur_khz, "2800000");
	EXPECT_EQ(d.freq_max_khz, "4700000");
	EXPECT_EQ(d.boost, "off (intel_pstate no_turbo)");
	EXPECT_EQ(d.smt, "on");
	EXPECT_EQ(d.isolated, "2-3");
	EXPECT_EQ(d.mitigations, "meltdown: Not affected; spectre_v2: Mitigation: Retpolines");
	EXPECT_EQ(d.os, "Debian GNU/Linux 13 (trixie)");
	CellContext c;
	record(d, c);
	EXPECT_EQ(c.host_bench_cpu, "3 (pinned with sched_setaffinity)");
	auto j = nlohmann::json(c);
	EXPECT_EQ(j.value(keys::host_governor, ""), "performance");
	// cpufreq's own boost file, when intel_pstate is not there.
	fs::remove_all(t.path / "sys/devices/system/cpu/intel_pstate");
	t.put("sys/devices/system/cpu/cpufreq/boost", "1\n");
	EXPECT_EQ(describe_host(t.path, 3).boost, "on");
}

TEST(HostDescription, AbsentFilesAreNotExposedNotGuessed)
{
	TempDir t("empty");  // a VM: no cpufreq, no SMT control, nothing
	auto d = describe_host(t.path, 0);
	for (auto *v : {&d.governor, &d.freq_cur_khz, &d.freq_max_khz, &d.boost, &d.smt, &d.isolated, &d.mitigations})
		EXPECT_EQ(*v, kNotExposed);
	EXPECT_TRUE(d.os.starts_with("unknown (no ")) << d.os;
	t.put("sys/devices/system/cpu/isolated", "\n");  // the file is there and empty: no CPU isolated
	EXPECT_EQ(describe_host(t.path, 0).isolated, "none");
}

TEST(HostDescription, CompareRefusesAnotherGovernorOrMitigationAndWarnsOnSmt)
{
	TempDir a("host-a"), b("host-b");
	plant_machine(a, "performance", "Mitigation: Retpolines");
	plant_machine(b, "powersave", "Mitigation: Retpolines");
	auto host_cell = [](const fs::path &root, const std::string &prot) {
		auto c = load_cell(fixture("results-0.3.0/x86_64-6.1-" + prot + ".json"));
		CellContext ctx = c.meta;
		ctx.accel = Accel::host;
		ctx.qemu_cpu = ctx.cpu_on = ctx.cpu_off = "";  // a host has no CPU model
		record(describe_host(root, 3), ctx);
		c.update_context(nlohmann::json(ctx));
		c.update_context({{keys::qemu_cpu, ""}, {keys::cpu_on, ""}, {keys::cpu_off, ""}});
		return c;
	};
	auto off = host_cell(a.path, "off"), on_same = host_cell(a.path, "on"), on_other = host_cell(b.path, "on");
	EXPECT_TRUE(mismatches(off, on_same).empty()) << fmt::format("{}", fmt::join(mismatches(off, on_same), "\n"));
	auto m = fmt::format("{}", fmt::join(mismatches(off, on_other), "\n"));
	EXPECT_NE(m.find("governor"), std::string::npos) << m;
	EXPECT_NE(m.find("'performance' vs 'powersave'"), std::string::npos) << m;
	EXPECT_THROW(compare(off, on_other, {}), Error);

	b.put("sys/devices/system/cpu/cpu3/cpufreq/scaling_governor", "performance\n");
	b.put("sys/devices/system/cpu/vulnerabilities/spectre_v2", "Vulnerable\n");
	b.put("sys/devices/system/cpu/smt/control", "off\n");
	on_other = host_cell(b.path, "on");
	m = fmt::format("{}", fmt::join(mismatches(off, on_other), "\n"));
	EXPECT_NE(m.find(keys::host_mitigations), std::string::npos) << m;
	EXPECT_EQ(m.find("governor"), std::string::npos) << m;
	auto w = field_warnings(off, on_other);
	ASSERT_EQ(w.size(), 1u);
	EXPECT_NE(w[0].find("SMT"), std::string::npos) << w[0];
}

// This machine's own /sys, read as bench --host would (without loading anything): printed for the record.
TEST(HostDescription, ReadsThisMachine)
{
	const int cpu = choose_bench_cpu();
	ASSERT_GE(cpu, 0);
	CellContext c;
	record(describe_host("/", cpu), c);
	auto j = nlohmann::json(c);
	for (auto &[k, v] : j.items())
		fmt::print("  {}: {}\n", k, v.get<std::string>());
	EXPECT_FALSE(c.host_mitigations.empty());
	EXPECT_FALSE(c.host_os.empty());
}
