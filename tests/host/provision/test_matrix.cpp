// host/provision/matrix: ci/matrix.json's rows, the selection of cells (the off-kernel and software-PAN cells
// too), and the plan on either host arch (native and cross builds, CROSS_COMPILE), with the host arch a parameter.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "provision/matrix.hpp"
#include "provision/prepare.hpp"
#include "run/qemu.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

TEST(Matrix, RowsAndSelection)
{
	const auto &m = Matrix::get();
	const auto &x = m.arch("x86_64");
	EXPECT_EQ(x.cpu.at("on"), "max");
	EXPECT_EQ(x.cpu.at("off"), "max,-smap");
	const auto &a = m.arch("arm64");
	EXPECT_EQ(a.cpu.at("on"), "cortex-a76");
	EXPECT_EQ(a.cpu.at("off"), "cortex-a72");
	EXPECT_NE(std::find(a.append.begin(), a.append.end(), "nokaslr"), a.append.end());
	EXPECT_EQ(m.select({}, {}, {}).size(), 4u) << "default: every arch x on/off, default kernel";
	EXPECT_EQ(m.image_meta("6.12", a), "linux-image-6.12-arm64");
	EXPECT_THROW(m.select({"riscv64"}, {}, {}), Error);
	EXPECT_THROW(m.select({}, {"5.10"}, {}), Error);
	EXPECT_THROW(m.select({}, {}, {"maybe"}), Error);
}

TEST(Matrix, OffKernelAndSoftwarePanCells)
{
	const auto &m = Matrix::get();
	// x86 off-kernel: the same CPU as on, SMAP disabled by a kernel parameter (works on Debian's kernels).
	auto x = m.select({"x86_64"}, {"6.1"}, {"on", "off-kernel"});
	ASSERT_EQ(x.size(), 2u);
	EXPECT_EQ(x[0].cpu(), x[1].cpu());
	GuestRun g{&x[1], "/k", "/i", "/c", "/r"};
	auto argv = qemu_argv(g);
	EXPECT_NE(argv.back().find("clearcpuid=smap"), std::string::npos) << argv.back();
	GuestRun gon{&x[0], "/k", "/i", "/c", "/r"};
	EXPECT_EQ(qemu_argv(gon).back().find("clearcpuid"), std::string::npos);
	// arm64 off-kernel and sw need a kernel built from source.
	EXPECT_THROW(m.select({"arm64"}, {"6.1"}, {"off-kernel"}), Error);
	auto a = m.select({"arm64"}, {"6.1-src"}, {"on", "off-kernel", "sw"});
	ASSERT_EQ(a.size(), 3u);
	EXPECT_EQ(a[0].cpu(), a[1].cpu()) << "off-kernel runs on the same CPU as on";
	EXPECT_EQ(a[2].cpu(), "cortex-a72");
	EXPECT_TRUE(a[2].guarded());
	EXPECT_FALSE(a[1].guarded());
	// x86 has no software SMAP: alone it is an error, with arm64 it is left out.
	EXPECT_THROW(m.select({"x86_64"}, {"6.1-src"}, {"sw"}), Error);
	auto both = m.select({"x86_64", "arm64"}, {"6.1-src"}, {"sw"});
	ASSERT_EQ(both.size(), 1u);
	EXPECT_EQ(both[0].arch->name, "arm64");
	EXPECT_THROW(m.select({"x86_64"}, {"6.1"}, {"halfway"}), Error);
	EXPECT_THROW(m.select({"x86_64"}, {"6.1-kasan"}, {"on"}), Error);
}

// arm64's mte kernels (MTE + hardware tag-based KASAN) need a CPU and machine with MTE: their cells boot the
// variant's -cpu/-M, offer protection on alone, and exist on arm64 only.
TEST(Matrix, ArchVariantCells)
{
	const auto &m = Matrix::get();
	EXPECT_TRUE(m.is_arch_variant("mte"));
	EXPECT_FALSE(m.is_arch_variant("debug"));
	auto both = m.select({}, {"6.12-mte"}, {});
	ASSERT_EQ(both.size(), 1u) << "x86_64 left out, and off with it";
	EXPECT_EQ(both[0].name(), "arm64-6.12-mte-on");
	EXPECT_EQ(both[0].cpu(), "max,pauth-impdef=on");
	EXPECT_EQ(both[0].machine("tcg"), "virt,mte=on");
	EXPECT_THROW(both[0].cpu("kvm"), Error) << "TCG only";
	GuestRun g{&both[0], "/k", "/i", "/c", "/r"};
	auto argv = qemu_argv(g);
	auto dash_m = std::find(argv.begin(), argv.end(), "-M");
	ASSERT_TRUE(dash_m != argv.end() && dash_m + 1 != argv.end());
	EXPECT_EQ(dash_m[1], "virt,mte=on");
	EXPECT_THROW(m.select({"x86_64"}, {"6.12-mte"}, {"on"}), Error) << "asked for alone on an arch without it";
	EXPECT_THROW(m.select({"arm64"}, {"6.12-mte"}, {"off"}), Error) << "protection on only";
	EXPECT_THROW(m.select({"arm64"}, {"6.1-mte"}, {"on"}), Error) << "6.1's source does not build KASAN_HW_TAGS";
	// QEMU 7.2 misemulates MTE under this kernel: such a machine refuses the cell before building anything.
	EXPECT_THROW(check_cell_runs_here(both[0], "QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)"),
		     Error);
	EXPECT_NO_THROW(check_cell_runs_here(both[0], "QEMU emulator version 10.0.6 (Debian 1:10.0.6+ds-0+deb13u2)"));
	EXPECT_THROW(check_cell_runs_here(both[0], "no version here"), Error);
	auto src = m.select({"arm64"}, {"6.1-src"}, {"on"});
	ASSERT_EQ(src.size(), 1u);
	EXPECT_EQ(src[0].variant(), nullptr);
	EXPECT_EQ(src[0].cpu(), "cortex-a76") << "other kernels keep cpu.on";
	EXPECT_NO_THROW(check_cell_runs_here(src[0], "QEMU emulator version 7.2.19"));
}

TEST(Selection, RepeatedValuesCountOnce)
{
	Selection s{{"x86_64", "arm64", "x86_64"}, {"6.1", "6.1"}, {"on"}};
	s.dedupe();
	EXPECT_EQ(s.arches, (std::vector<std::string>{"x86_64", "arm64"}));
	EXPECT_EQ(s.kernels, (std::vector<std::string>{"6.1"}));
	EXPECT_EQ(s.protections, (std::vector<std::string>{"on"}));
}

TEST(HostArch, UnameNamesMapToTheMatrix)
{
	EXPECT_EQ(arch_of_machine("x86_64"), "x86_64");
	EXPECT_EQ(arch_of_machine("aarch64"), "arm64");
	EXPECT_EQ(arch_of_machine("arm64"), "arm64");
	EXPECT_EQ(arch_of_machine("riscv64"), "");
	EXPECT_EQ(Matrix::get().host(), host_arch());
	EXPECT_FALSE(host_arch().empty());
}

TEST(HostArch, Arm64HostBuildsArm64NativelyAndX86Cross)
{
	auto m = matrix_for("arm64");
	const auto &arm = m.arch("arm64"), &x86 = m.arch("x86_64");
	EXPECT_TRUE(arm.native);
	EXPECT_FALSE(x86.native);
	EXPECT_EQ(arm.cross_compile, "") << "the arm64 module and kernels build with the host's own gcc";
	EXPECT_EQ(x86.cross_compile, "x86_64-linux-gnu-");
	const auto &p = Matrix::paths();
	EXPECT_EQ(p.guest_build(arm), p.build);
	EXPECT_EQ(p.guest_build(x86), p.build / "cross-x86_64");
	EXPECT_TRUE(fs::exists(p.source / "ci" / "cross" / "x86_64.ini"));
	EXPECT_EQ(m.arch_names().front(), "arm64") << "the host's own arch runs first";
}

TEST(HostArch, X86HostBuildsX86NativelyAndArm64Cross)
{
	auto m = matrix_for("x86_64");
	const auto &arm = m.arch("arm64"), &x86 = m.arch("x86_64");
	EXPECT_TRUE(x86.native);
	EXPECT_FALSE(arm.native);
	EXPECT_EQ(x86.cross_compile, "");
	EXPECT_EQ(arm.cross_compile, "aarch64-linux-gnu-");
	const auto &p = Matrix::paths();
	EXPECT_EQ(p.guest_build(x86), p.build);
	EXPECT_EQ(p.guest_build(arm), p.build / "cross-arm64");
	EXPECT_TRUE(fs::exists(p.source / "ci" / "cross" / "arm64.ini"));
	EXPECT_EQ(m.arch_names().front(), "x86_64");
}
