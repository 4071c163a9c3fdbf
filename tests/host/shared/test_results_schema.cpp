// The results schema (shared/results_schema.hpp): its parsers, its field table as compare applies it, and a
// committed file of the 0.3.0 format (tests/fixtures/results-0.3.0/) read and compared.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "analyze/compare.hpp"
#include "analyze/results.hpp"
#include "shared/results_schema.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

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
	auto off = load_cell(fixture("results-0.3.0/x86_64-6.1-off.json"));
	auto on = load_cell(fixture("results-0.3.0/x86_64-6.1-on.json"));
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
	const auto off = load_cell(fixture("results-0.3.0/x86_64-6.1-off.json"));
	const auto on0 = load_cell(fixture("results-0.3.0/x86_64-6.1-on.json"));
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
	EXPECT_EQ(warned, 4);  // SMT, isolated CPUs, the benchmark's CPU, time-clock boots side by side
}
