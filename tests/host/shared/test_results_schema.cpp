// The results schema (shared/results_schema.hpp): its parsers, its field table as compare applies it, a
// committed file of the 0.3.0 format read and compared, and bench --host's description of the machine
// (host/run/host_description.hpp) read from fake /sys trees and from this machine's own.
#include <set>

#include <gtest/gtest.h>

#include "analyze/compare.hpp"
#include "analyze/results.hpp"
#include "shared/results_schema.hpp"
#include "run/host_description.hpp"

using namespace xua;

namespace {

fs::path results_030(const std::string &name)
{
	return fs::path(XUACCESS_SOURCE_DIR) / "tests/fixtures/results-0.3.0" / name;
}

// A temp directory that removes itself.
struct TempTree {
	fs::path root;
	explicit TempTree(const std::string &tag)
	{
		root = fs::temp_directory_path() / fmt::format("xua-schema-{}-{}", tag, getpid());
		fs::remove_all(root);
		fs::create_directories(root);
	}
	~TempTree() { fs::remove_all(root); }
	void put(const std::string &rel, const std::string &text) const
	{
		fs::create_directories((root / rel).parent_path());
		write_file(root / rel, text);
	}
};

// A machine with cpufreq, intel_pstate, SMT, isolated CPUs, two vulnerabilities and an os-release.
void plant_machine(const TempTree &t, const std::string &governor, const std::string &spectre)
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

TEST(Schema, EachEnumHasOneParserThatNamesTheAllowedValues)
{
	EXPECT_EQ(parse<Protection>("off-kernel"), Protection::off_kernel);
	EXPECT_EQ(parse<Accel>("kvm"), Accel::kvm);
	EXPECT_EQ(parse<Clock>("icount"), Clock::icount);
	for (auto &[v, n] : EnumNames<Protection>::names)
		EXPECT_EQ(parse<Protection>(name_of(v)), v) << n;
	try {
		parse<Protection>("maybe", "--protection");
		FAIL() << "no error for 'maybe'";
	} catch (const SchemaError &e) {
		EXPECT_STREQ(e.what(), "--protection must be one of on, off, off-kernel, sw, not 'maybe'");
	}
	EXPECT_THROW(parse<Accel>("hvf"), SchemaError);
	try {
		parse<Clock>("cycles");
		FAIL() << "no error for 'cycles'";
	} catch (const SchemaError &e) {
		EXPECT_STREQ(e.what(), "clock must be one of time, icount, not 'cycles'");
	}
	EXPECT_FALSE(lookup<Accel>("TCG"));
}

TEST(Schema, EveryKeyIsListedOnceAndIsAnXuaKey)
{
	std::set<std::string> seen;
	for (auto &f : context_fields()) {
		EXPECT_TRUE(std::string(f.key).starts_with("xua_")) << f.key;
		EXPECT_TRUE(seen.insert(f.key).second) << f.key << " listed twice";
		EXPECT_GT(std::string(f.meaning).size(), 3u) << f.key;
	}
	for (const char *typed : {keys::accel, keys::clock, keys::protection_requested, keys::boots, keys::seed})
		EXPECT_FALSE(seen.count(typed)) << typed << " is typed and a string field too";
}

// A results file of the current (0.3.0) format: tests/fixtures/compare/none/*.json with the context a 0.3.0
// bench writes (module 0.3.0, xua_host_os, xua_module_cc, seed, order, clock, kbuf, ...); see that README.
TEST(Schema, A030ResultsFileReadsRoundTripsAndCompares)
{
	auto off = load_cell(results_030("x86_64-6.1-off.json")), on = load_cell(results_030("x86_64-6.1-on.json"));
	EXPECT_EQ(on.meta.module_version, "0.3.0");
	EXPECT_EQ(on.meta.protection_requested, Protection::on);
	EXPECT_EQ(off.meta.protection_requested, Protection::off);
	EXPECT_EQ(on.meta.accel, Accel::tcg);
	EXPECT_EQ(on.meta.clock, Clock::time);
	EXPECT_EQ(on.meta.boots, 9);
	EXPECT_EQ(on.meta.seed, 12345u);
	EXPECT_EQ(on.meta.num_cpus, 1);
	EXPECT_EQ(on.meta.host_os, "Debian GNU/Linux 12 (bookworm)");
	EXPECT_EQ(on.meta.protection_verified, "true");
	EXPECT_EQ(on.meta.other.value("library_build_type", ""), "debug");  // Google Benchmark's keys are kept
	// Written back, the context is the file's, key for key (empty values and the JSON true included).
	EXPECT_EQ(nlohmann::json(on.meta), on.context) << nlohmann::json(on.meta).dump(1);
	EXPECT_EQ(nlohmann::json(off.meta), off.context);
	EXPECT_TRUE(mismatches(off, on).empty()) << fmt::format("{}", fmt::join(mismatches(off, on), "\n"));
	auto c = compare(off, on, {});
	EXPECT_EQ(c.rows.size(), off.rows.size());
	EXPECT_EQ(c.significant(), 0);  // the none/ fixture's answer
	EXPECT_TRUE(c.mismatches.empty());
}

// The table as compare applies it: a difference planted in each field refuses, warns or passes by its rule.
TEST(Schema, ComparePlantedDifferenceInEachFieldFollowsItsRule)
{
	const auto off = load_cell(results_030("x86_64-6.1-off.json")), on0 = load_cell(results_030("x86_64-6.1-on.json"));
	int refused = 0, warned = 0;
	for (auto &f : context_fields()) {
		auto on = on0;
		on.update_context({{f.key, "planted " + std::string(f.key)}});
		auto m = mismatches(off, on), w = field_warnings(off, on);
		auto all = fmt::format("{}", fmt::join(m, "\n"));
		switch (f.rule) {
		case FieldRule::refuse: case FieldRule::refuse_but_kernel: case FieldRule::refuse_unless_explained:
		case FieldRule::refuse_but_kernel_unless_explained:
			EXPECT_NE(all.find(f.key), std::string::npos) << f.key << " not refused: " << all;
			++refused;
			break;
		case FieldRule::warn:
			EXPECT_TRUE(m.empty()) << f.key << ": " << all;
			ASSERT_EQ(w.size(), 1u) << f.key;
			EXPECT_NE(w[0].find(f.key), std::string::npos) << w[0];
			++warned;
			break;
		case FieldRule::describes:
			EXPECT_TRUE(m.empty()) << f.key << ": " << all;
			EXPECT_TRUE(w.empty()) << f.key;
			break;
		case FieldRule::special:  // the CPU model: a planted one is not the on/off pair
			EXPECT_NE(all.find("CPU model"), std::string::npos) << f.key << ": " << all;
			break;
		}
		if (f.rule == FieldRule::refuse_but_kernel || f.rule == FieldRule::refuse_but_kernel_unless_explained) {
			auto on_off = on;
			on_off.update_context({{keys::protection_requested, "off"}, {keys::qemu_cpu, off.meta.qemu_cpu}});
			EXPECT_TRUE(mismatches(off, on_off, "kernel").empty()) << f.key << " refused in a kernel A/B";
		}
	}
	EXPECT_GE(refused, 20);
	EXPECT_EQ(warned, 3);
}

TEST(HostDescription, ReadsAFakeSysfsTree)
{
	TempTree t("sysfs");
	plant_machine(t, "performance", "Mitigation: Retpolines");
	auto d = describe_host(t.root, 3);
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
	fs::remove_all(t.root / "sys/devices/system/cpu/intel_pstate");
	t.put("sys/devices/system/cpu/cpufreq/boost", "1\n");
	EXPECT_EQ(describe_host(t.root, 3).boost, "on");
}

TEST(HostDescription, AbsentFilesAreNotExposedNotGuessed)
{
	TempTree t("empty");  // a VM: no cpufreq, no SMT control, nothing
	auto d = describe_host(t.root, 0);
	for (auto *v : {&d.governor, &d.freq_cur_khz, &d.freq_max_khz, &d.boost, &d.smt, &d.isolated, &d.mitigations})
		EXPECT_EQ(*v, kNotExposed);
	EXPECT_TRUE(d.os.starts_with("unknown (no ")) << d.os;
	t.put("sys/devices/system/cpu/isolated", "\n");  // the file is there and empty: no CPU isolated
	EXPECT_EQ(describe_host(t.root, 0).isolated, "none");
}

TEST(HostDescription, CompareRefusesAnotherGovernorOrMitigationAndWarnsOnSmt)
{
	TempTree a("a"), b("b");
	plant_machine(a, "performance", "Mitigation: Retpolines");
	plant_machine(b, "powersave", "Mitigation: Retpolines");
	auto host_cell = [](const fs::path &root, const std::string &prot) {
		auto c = load_cell(results_030("x86_64-6.1-" + prot + ".json"));
		CellContext ctx = c.meta;
		ctx.accel = Accel::host;
		ctx.qemu_cpu = ctx.cpu_on = ctx.cpu_off = "";  // a host has no CPU model
		record(describe_host(root, 3), ctx);
		c.update_context(nlohmann::json(ctx));
		c.update_context({{keys::qemu_cpu, ""}, {keys::cpu_on, ""}, {keys::cpu_off, ""}});
		return c;
	};
	auto off = host_cell(a.root, "off"), on_same = host_cell(a.root, "on"), on_other = host_cell(b.root, "on");
	EXPECT_TRUE(mismatches(off, on_same).empty()) << fmt::format("{}", fmt::join(mismatches(off, on_same), "\n"));
	auto m = fmt::format("{}", fmt::join(mismatches(off, on_other), "\n"));
	EXPECT_NE(m.find("governor"), std::string::npos) << m;
	EXPECT_NE(m.find("'performance' vs 'powersave'"), std::string::npos) << m;
	EXPECT_THROW(compare(off, on_other, {}), Error);

	b.put("sys/devices/system/cpu/cpu3/cpufreq/scaling_governor", "performance\n");
	b.put("sys/devices/system/cpu/vulnerabilities/spectre_v2", "Vulnerable\n");
	b.put("sys/devices/system/cpu/smt/control", "off\n");
	on_other = host_cell(b.root, "on");
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
