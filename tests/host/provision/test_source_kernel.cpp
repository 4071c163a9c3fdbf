// host/provision/source_kernel: kernels built from Debian's source: their names, the kconfig fragments of each
// cell, and .config files parsed, checked against a want and compared.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "provision/matrix.hpp"
#include "provision/source_kernel.hpp"

using namespace xua;

TEST(SourceKernel, Names)
{
	auto a = parse_source_kernel("6.1-debug");
	ASSERT_TRUE(a);
	EXPECT_EQ(a->series, "6.1");
	EXPECT_EQ(a->variant, "debug");
	EXPECT_TRUE(is_source_kernel("6.12-src"));
	EXPECT_EQ(parse_source_kernel("6.12-mte")->variant, "mte");
	EXPECT_FALSE(is_source_kernel("6.1"));
	EXPECT_FALSE(is_source_kernel("6.1-kasan"));
	EXPECT_FALSE(is_source_kernel("/home/me/linux/out"));
}

TEST(SourceKernel, FragmentsPerCell)
{
	const auto &m = Matrix::get();
	EXPECT_EQ(kconfig_fragments(m.arch("x86_64"), "src", "on"), (std::vector<std::string>{"base", "x86_64"}));
	EXPECT_EQ(kconfig_fragments(m.arch("x86_64"), "debug", "off-kernel"),
		  (std::vector<std::string>{"base", "x86_64", "debug"}))
		<< "x86 off-kernel is a kernel parameter, not a config";
	EXPECT_EQ(kconfig_fragments(m.arch("arm64"), "src", "off-kernel"),
		  (std::vector<std::string>{"base", "arm64", "pan-off"}));
	EXPECT_EQ(kconfig_fragments(m.arch("arm64"), "debug", "sw"),
		  (std::vector<std::string>{"base", "arm64", "debug", "sw-pan"}));
	EXPECT_EQ(kconfig_fragments(m.arch("arm64"), "mte", "on"), (std::vector<std::string>{"base", "arm64", "mte"}));
	EXPECT_EQ(variant_fragment_count("src"), 2u);
	EXPECT_EQ(variant_fragment_count("mte"), 3u);
	// Every fragment named exists and parses to at least one assignment.
	for (auto f : {"base", "x86_64", "arm64", "debug", "mte", "pan-off", "sw-pan"}) {
		auto p = Matrix::paths().source / "ci" / "kconfig" / (std::string(f) + ".config");
		ASSERT_TRUE(fs::exists(p)) << p;
		EXPECT_FALSE(parse_kconfig(read_file(p)).empty()) << p;
	}
}

TEST(SourceKernel, KconfigParseUnmetAndDiff)
{
	auto want = parse_kconfig("# comment\nCONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\nCONFIG_N=2\nCONFIG_B=n\n");
	EXPECT_EQ(want.at("A"), "y");
	EXPECT_EQ(want.at("B"), "n") << "later lines win";
	EXPECT_EQ(want.at("C"), "n");
	auto cfg = parse_kconfig("CONFIG_A=y\nCONFIG_C=y\nCONFIG_N=2\n");
	EXPECT_EQ(kconfig_unmet(want, cfg), (std::vector<std::string>{"CONFIG_C=n (got: y)"}));
	cfg.erase("C");
	EXPECT_TRUE(kconfig_unmet(want, cfg).empty()) << "absent counts as not set";
	auto on = parse_kconfig("CONFIG_ARM64_PAN=y\nCONFIG_ARM64_EPAN=y\nCONFIG_X=y\n");
	auto off = parse_kconfig("# CONFIG_ARM64_PAN is not set\nCONFIG_X=y\n");
	EXPECT_EQ(kconfig_diff(on, off),
		  (std::vector<std::string>{"CONFIG_ARM64_EPAN: y -> n", "CONFIG_ARM64_PAN: y -> n"}));
	EXPECT_TRUE(kconfig_diff(on, on).empty());
}
