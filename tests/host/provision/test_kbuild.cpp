// host/provision/kbuild: the diagnostics found in a module build's log, and the compiler a kernel tree's .config
// names (for own kernels and bisect's trees).
#include <string>

#include <gtest/gtest.h>

#include "provision/kbuild.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

TEST(Kbuild, DiagnosticsAreFound)
{
	auto d = diagnostics("  CC [M]  /x/common/main.o\n"
			     "/x/common/main.c:42:17: warning: incorrect type in argument 1 (different address spaces)\n"
			     "/x/arch/x86/prot.c:7: error: oops\n  LD [M]  xuaccess.ko\n"
			     "xuaccess.o: warning: objtool: xua_x(): call to foo() with UACCESS enabled\n"
			     "WARNING: modpost: missing MODULE_LICENSE()\n"
			     "Skipping BTF generation for xuaccess.ko due to unavailability of vmlinux\n");
	ASSERT_EQ(d.size(), 4u);
	EXPECT_NE(d[0].find("different address spaces"), std::string::npos);
}

// A kernel tree's compiler, for building the module with it (own kernels, bisect's trees).
TEST(Bisect, ModuleCompilerIsTheOneTheTreeNames)
{
	TempDir scratch("config-cc");
	const auto dir = scratch.path;
	write_file(dir / ".config", "CONFIG_CC_VERSION_TEXT=\"gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0\"\nCONFIG_X=y\n");
	EXPECT_EQ(config_cc(dir / ".config"), "gcc-12");
	write_file(dir / ".config", "CONFIG_CC_VERSION_TEXT=\"no-such-gcc-99 (x) 99\"\n");
	EXPECT_EQ(config_cc(dir / ".config"), "") << "a compiler this machine lacks: kbuild's default";
	EXPECT_EQ(config_cc(dir / "missing"), "");
}
