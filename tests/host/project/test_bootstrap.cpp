// The bootstrap (./xuaccess, bash): --help with nothing built, usage errors said before it installs or builds
// anything (as the front end says them), and the packages it installs on either host arch.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/process.hpp"
#include "base/util.hpp"
#include "provision/kbuild.hpp"
#include "provision/matrix.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

// What `./xuaccess --print-packages ARCH` would install on a host of that Debian arch, one package a line.
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

// The bootstrap answers --help before it looks at packages or builds anything: with no build tree at all it
// prints the committed text (and would fail trying to build in a directory that cannot exist otherwise).
TEST(Workflow, BootstrapHelpNeedsNoBuild)
{
	const auto script = (kSource / "xuaccess").string();
	for (std::string cmd : {"bench", "compare"}) {
		auto r = run({script, cmd, "--help"}, {.env = {{"XUACCESS_BUILD", "/nonexistent/xua-build"}}});
		EXPECT_EQ(r.status, 0) << r.output;
		EXPECT_EQ(r.output, read_file(kSource / "host/cmd/help" / (cmd + ".txt")));
	}
	auto top = run({script}, {.env = {{"XUACCESS_BUILD", "/nonexistent/xua-build"}}});
	EXPECT_EQ(top.output, read_file(kSource / "host/cmd/help/xuaccess.txt"));
	EXPECT_FALSE(fs::exists("/nonexistent/xua-build"));
}

// Usage errors exit 2 and are said by the bootstrap before it installs, configures or builds anything (on a
// fresh clone that would take minutes): stand-ins for dpkg, apt-get, meson and ninja say when they are called.
// The bootstrap reads the front end's tables as committed (host/cmd/help/): usage-values.txt must be the
// front end's own, and on each bad command line both say the same thing. Good command lines get past the
// check (to the stand-in dpkg).
TEST(Workflow, BootstrapRejectsUsageErrorsFirst)
{
	EXPECT_EQ(read_file(kSource / "host/cmd/help/usage-values.txt"), Matrix::get().usage_values().text())
		<< "host/cmd/help/usage-values.txt is stale: write the text above into it";
	TempDir scratch("fakebin");
	const auto bin = scratch.path;
	for (std::string tool : {"dpkg-query", "dpkg", "apt-get", "meson", "ninja"})
		write_script(bin / tool, "echo 'STAND-IN " + tool + " called' >&2\nexit 1\n");
	const RunOptions opt{.env = {{"PATH", bin.string() + ":/usr/bin:/bin"}, {"XUACCESS_BUILD", "/nonexistent/xua-build"}}};
	const auto script = (kSource / "xuaccess").string();
	const auto host = kFrontEnd.string();
	for (std::vector<std::string> bad : {std::vector<std::string>{"bench", "--arch", "sparc"},
					     {"bench", "--protection", "maybe"},
					     {"test", "--kernel", "5.10"},
					     {"test", "--kernel", "6.1,5.10-debug"},
					     {"bench", "--arch=x86_64,mips"},
					     {"bench", "--clock", "sundial"},
					     {"bench", "--frobnicate"},
					     {"bisect", "--frobnicate"},
					     {"bisect", "--arch", "mips"},
					     {"frobnicate"}}) {
		auto args = bad;
		args.insert(args.begin(), script);
		auto r = run(args, opt);
		EXPECT_EQ(r.status, 2) << shell_quote(args) << "\n" << r.output;
		EXPECT_EQ(r.output.find("STAND-IN"), std::string::npos) << shell_quote(args) << " went on:\n" << r.output;
		args[0] = host;
		auto f = run(args);
		EXPECT_EQ(f.status, 2) << shell_quote(args) << "\n" << f.output;
		auto first = [](const std::string &t) { return t.substr(0, t.find('\n')); };
		if (bad[0] == "frobnicate" || bad[1].starts_with("--arch") || bad[1] == "--protection" || bad[1] == "--kernel") {
			EXPECT_EQ(first(r.output), first(f.output)) << "bootstrap and front end say it differently";
		}
	}
	EXPECT_NE(run({script, "frobnicate"}, opt).output.find("expected one of: test, bench, report, compare"),
		  std::string::npos);
	for (std::vector<std::string> good : {std::vector<std::string>{"bench", "--arch", "x86_64", "arm64", "--quick"},
					      {"bench", "--protection=on,off-kernel", "--kernel", "6.1-src,./my-tree,6.12"},
					      {"bench", "--filter", "-x", "--clock", "icount", "--seed", "3"},
					      {"test", "--suite", "machines", "--accel", "kvm"},
					      {"compare", "--across", "kernel", "a.json", "b.json"},
					      {"bisect", "--tree", "t", "--good", "a", "--bad", "b", "--row", "r", "--arch", "arm64"},
					      {"report", "results/x"},
					      {"kbuild", "--whatever"}}) {
		good.insert(good.begin(), script);
		auto r = run(good, opt);
		EXPECT_NE(r.output.find("STAND-IN dpkg"), std::string::npos) << shell_quote(good) << " was refused:\n"
									    << r.output;
	}
	EXPECT_FALSE(fs::exists("/nonexistent/xua-build"));
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

// The bootstrap installs, on either host arch, the gcc every series' kernel code is built with and its cross
// twin (provision/kbuild: kernel_cc), by the package names kernel_cc_package gives.
TEST(DebianArchive, BootstrapInstallsTheKernelCompilers)
{
	for (auto [host, dpkg_arch] : {std::pair{"x86_64", "amd64"}, std::pair{"arm64", "arm64"}}) {
		auto m = matrix_for(host);
		int status = -1;
		auto pkgs = packages(dpkg_arch, &status);
		ASSERT_EQ(status, 0) << "./xuaccess --print-packages " << dpkg_arch;
		for (auto &k : m.kernel_names())
			for (auto &a : m.arch_names()) {
				auto want = kernel_cc_package(m.arch(a), m.series(k).gcc);
				EXPECT_NE(std::find(pkgs.begin(), pkgs.end(), want), pkgs.end())
					<< want << " for " << a << " " << k << " on an " << host << " host";
			}
	}
	auto m = matrix_for("x86_64");
	EXPECT_EQ(kernel_cc_package(m.arch("x86_64"), "12"), "gcc-12");
	EXPECT_EQ(kernel_cc_package(m.arch("arm64"), "12"), "gcc-12-aarch64-linux-gnu");
	EXPECT_EQ(kernel_cc_package(matrix_for("arm64").arch("x86_64"), "12"), "gcc-12-x86-64-linux-gnu");
}
