// One version number: the project's (meson.build) is the module's (XUA_MODULE_VERSION in common/xua.h).
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "base/util.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

// One version number: the project's (meson.build) is the module's (XUA_MODULE_VERSION, which INFO reports and
// results record). Meson 1.0 cannot read it from a file, so this test keeps the two equal.
TEST(Workflow, OneVersionNumber)
{
	std::smatch mv, hv;
	const auto meson = read_file(kSource / "meson.build"), header = read_file(kSource / "common/xua.h");
	ASSERT_TRUE(std::regex_search(meson, mv, std::regex(R"re(project\([^)]*?version: '([^']+)')re")));
	ASSERT_TRUE(std::regex_search(header, hv, std::regex(R"re(#define XUA_MODULE_VERSION "([^"]+)")re")));
	EXPECT_EQ(mv[1].str(), hv[1].str()) << "meson.build says " << mv[1] << ", common/xua.h " << hv[1];
}
