// The front end on either host arch: which guest build is native and which is cross, the kernel build's
// CROSS_COMPILE, which cells KVM may run, the QEMU command line under KVM, and the bootstrap's package list.
// The host arch is a parameter here (Matrix::load, the KVM probe, --print-packages ARCH): these tests plan
// an arm64 host on this x86_64 machine and the other way round.
#include <gtest/gtest.h>

#include "provision/matrix.hpp"
#include "run/cell.hpp"
#include "base/process.hpp"
#include "run/qemu.hpp"

using namespace xua;

namespace {

Matrix matrix_for(const std::string &host)
{
	return Matrix::load(Matrix::paths().source / "ci" / "matrix.json", host);
}

const KvmProbe kvm_works = [](const Arch &) { return std::string(); };
const KvmProbe no_kvm = [](const Arch &) { return std::string("/dev/kvm is not usable here (test)"); };

std::vector<std::string> qemu_for(const Cell &c, const std::string &accel)
{
	GuestRun g{&c, "/k", "/i", "/c", "/r"};
	g.accel = accel;
	return qemu_argv(g);
}

std::string after(const std::vector<std::string> &argv, const std::string &flag)
{
	for (size_t i = 0; i + 1 < argv.size(); ++i)
		if (argv[i] == flag)
			return argv[i + 1];
	return "";
}

std::vector<std::string> packages(const std::string &dpkg_arch, int *status = nullptr)
{
	auto r = run({"bash", (Matrix::paths().source / "xuaccess").string(), "--print-packages", dpkg_arch},
		     {.merge_stderr = false});
	if (status)
		*status = r.status;
	return split_lines(r.output);
}

bool has(const std::vector<std::string> &v, const std::string &x)
{
	return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

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

TEST(HostArch, Arm64HostKvmOnlyForArm64Cells)
{
	auto m = matrix_for("arm64");
	EXPECT_EQ(kvm_ineligible(m.arch("arm64")), "");
	EXPECT_NE(kvm_ineligible(m.arch("x86_64")).find("own arch (arm64), not x86_64"), std::string::npos);
	EXPECT_EQ(accel_unusable("kvm", m.arch("arm64"), kvm_works), "");
	EXPECT_NE(accel_unusable("kvm", m.arch("x86_64"), kvm_works), "");
	EXPECT_EQ(resolve_accel("auto", m.arch("x86_64"), kvm_works), "tcg");
	EXPECT_EQ(resolve_accel("auto", m.arch("arm64"), kvm_works), "kvm");
	EXPECT_EQ(resolve_accel("auto", m.arch("arm64"), no_kvm), "tcg");

	// The default bench (both arches, on and off): x86 cells under TCG. arm64 KVM gets -cpu host, whose PAN
	// no QEMU property removes: off cannot run under KVM, so auto keeps the arm64 pair together under TCG.
	auto cells = m.select({}, {"6.1"}, {"on", "off"});
	std::map<std::string, std::string> why;
	auto acc = resolve_accels("auto", cells, kvm_works, &why);
	ASSERT_EQ(acc.size(), 4u);
	for (size_t i = 0; i < cells.size(); ++i)
		EXPECT_EQ(acc[i], "tcg") << cells[i].name();
	EXPECT_NE(why["arm64-6.1"].find("PAN"), std::string::npos) << why["arm64-6.1"];
	EXPECT_NE(why["x86_64-6.1"].find("own arch"), std::string::npos) << why["x86_64-6.1"];

	// --protection on alone: arm64 under KVM, x86_64 still TCG.
	auto on = m.select({}, {"6.1"}, {"on"});
	auto acc_on = resolve_accels("auto", on, kvm_works);
	for (size_t i = 0; i < on.size(); ++i)
		EXPECT_EQ(acc_on[i], on[i].arch->name == "arm64" ? "kvm" : "tcg") << on[i].name();
	// Without a usable /dev/kvm everything is TCG.
	for (auto &a : resolve_accels("auto", on, no_kvm))
		EXPECT_EQ(a, "tcg");
	// --accel kvm for the arm64 off cell is refused with the reason.
	auto off = m.select({"arm64"}, {"6.1"}, {"off"});
	EXPECT_NE(accel_unusable("kvm", off[0], kvm_works).find("cannot run under KVM"), std::string::npos);
}

TEST(HostArch, X86HostKvmOnlyForX86Cells)
{
	auto m = matrix_for("x86_64");
	auto cells = m.select({}, {"6.1"}, {"on", "off"});
	auto acc = resolve_accels("auto", cells, kvm_works);
	for (size_t i = 0; i < cells.size(); ++i)
		EXPECT_EQ(acc[i], cells[i].arch->name == "x86_64" ? "kvm" : "tcg") << cells[i].name();
	EXPECT_NE(kvm_ineligible(m.arch("arm64")).find("own arch (x86_64), not arm64"), std::string::npos);
}

TEST(HostArch, QemuUnderKvmAndTcg)
{
	auto m = matrix_for("arm64");
	auto arm = m.select({"arm64"}, {"6.1"}, {"on"});
	auto tcg = qemu_for(arm[0], "tcg"), kvm = qemu_for(arm[0], "kvm");
	EXPECT_EQ(tcg.front(), "qemu-system-aarch64");
	EXPECT_EQ(after(tcg, "-cpu"), "cortex-a76");
	EXPECT_EQ(after(tcg, "-M"), "virt");
	EXPECT_EQ(after(kvm, "-cpu"), "host");
	EXPECT_EQ(after(kvm, "-M"), "virt,gic-version=max");
	EXPECT_EQ(after(kvm, "-accel"), "kvm");
	auto x86 = m.select({"x86_64"}, {"6.1"}, {"off"});
	auto xt = qemu_for(x86[0], "tcg");
	EXPECT_EQ(xt.front(), "qemu-system-x86_64");
	EXPECT_EQ(after(xt, "-cpu"), "max,-smap");
	EXPECT_EQ(after(xt, "-accel"), "tcg");
	// x86 under KVM (on an x86_64 host) keeps its CPUID masks; nested in a TCG-emulated machine it also drops
	// XSAVE (QEMU's emulated SVM gives the guest an inconsistent CPUID leaf 0xD).
	auto xm = matrix_for("x86_64");
	auto xoff = xm.select({"x86_64"}, {"6.1"}, {"off"})[0];
	EXPECT_EQ(xoff.cpu("kvm", false), "max,-smap");
	EXPECT_EQ(xoff.cpu("kvm", true), "max,-smap,-xsave");
	EXPECT_EQ(xoff.cpu("tcg", true), "max,-smap");
	auto xk = qemu_for(xoff, "kvm");
	EXPECT_EQ(after(xk, "-cpu"), xoff.cpu("kvm"));
	EXPECT_EQ(after(xk, "-M"), "pc");
}

TEST(HostArch, BootstrapPackagesForAnArm64Host)
{
	auto p = packages("arm64");
	for (auto *want : {"qemu-system-x86", "qemu-system-arm", "gcc", "g++", "meson", "sparse", "gcc-x86-64-linux-gnu",
			   "g++-x86-64-linux-gnu", "binutils-x86-64-linux-gnu", "libbenchmark-dev:arm64",
			   "libgtest-dev:arm64", "libbenchmark-dev:amd64", "libgtest-dev:amd64", "libcli11-dev",
			   "nlohmann-json3-dev", "libfmt-dev", "libyaml-cpp-dev", "gnuplot-nox"})
		EXPECT_TRUE(has(p, want)) << want;
	for (auto &x : p)
		EXPECT_EQ(x.find("aarch64-linux-gnu"), std::string::npos) << x << ": an arm64 host needs no arm64 cross toolchain";
}

TEST(HostArch, BootstrapPackagesForAnAmd64Host)
{
	auto p = packages("amd64");
	for (auto *want : {"gcc-aarch64-linux-gnu", "g++-aarch64-linux-gnu", "binutils-aarch64-linux-gnu",
			   "libbenchmark-dev:amd64", "libgtest-dev:amd64", "libbenchmark-dev:arm64", "libgtest-dev:arm64",
			   "r-mathlib", "r-base-core"})  // R: the statistics tests' oracle (docs/statistics.md)
		EXPECT_TRUE(has(p, want)) << want;
	for (auto &x : p)
		EXPECT_EQ(x.find("x86-64-linux-gnu"), std::string::npos) << x;
	int status = 0;
	auto bad = packages("riscv64", &status);
	EXPECT_NE(status, 0);
	EXPECT_TRUE(bad.empty());
}
