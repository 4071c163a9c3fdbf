// host/run/cell: the results port parsed, the guard state checked against the cell's request, which accelerator
// a cell may use (on this machine and planned for the other host arch), and kernel problems from the console and
// the guest's kernel log counted once (made up, and captured from real cells: tests/fixtures/console/).
#include <map>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "provision/matrix.hpp"
#include "run/cell.hpp"
#include "run/qemu.hpp"
#include "shared/protocol.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

const KvmProbe kvm_works = [](const Arch &) { return std::string(); };
const KvmProbe no_kvm = [](const Arch &) { return std::string("/dev/kvm is not usable here (test)"); };

}  // namespace

TEST(Results, ParsesEveryRecord)
{
	auto r = parse_results("xua-insmod ok\nxua-info {\"guard\":\"SMAP\",\"guard_present\":true}\n"
			       "xua-job-begin test\nok 1 - A.b\nnot ok 2 - A.c\n1..2\nxua-job-exit 1\n" +
			       protocol::block("dmesg", "[ 1.0] hello\n") + "xua-done\n");
	EXPECT_TRUE(r.insmod_ok);
	EXPECT_EQ(r.info_json["guard"], "SMAP");
	ASSERT_EQ(r.job_output.size(), 3u);
	EXPECT_EQ(r.job_output[1], "not ok 2 - A.c");
	EXPECT_EQ(r.job_exit, 1);
	EXPECT_EQ(r.dmesg(), "[ 1.0] hello\n");
	EXPECT_TRUE(r.done);

	auto bad = parse_results("xua-insmod error 8 Exec format error\n");
	EXPECT_FALSE(bad.insmod_ok);
	EXPECT_EQ(bad.insmod_error, "8 Exec format error");
	EXPECT_FALSE(bad.done);
	EXPECT_EQ(bad.job_exit, -1);
}

TEST(Protection, MismatchIsReported)
{
	const auto &m = Matrix::get();
	auto cells = m.select({"x86_64"}, {"6.1"}, {"on", "off"});
	ASSERT_EQ(cells.size(), 2u);
	nlohmann::json on = {{"guard", "SMAP"}, {"guard_present", true}, {"guard_enabled", true},
			     {"window_open", false}, {"guest", {{"cpuinfo_smap", true}}}};
	EXPECT_EQ(protection_mismatch(cells[0], on), "");
	EXPECT_NE(protection_mismatch(cells[1], on), "") << "off requested, SMAP seen";
	auto off = on;
	off["guard_present"] = false;
	off["guard_enabled"] = false;
	off["guest"]["cpuinfo_smap"] = false;
	EXPECT_EQ(protection_mismatch(cells[1], off), "");
	EXPECT_NE(protection_mismatch(cells[0], off), "");
	auto lying_cpuinfo = off;
	lying_cpuinfo["guest"]["cpuinfo_smap"] = true;
	EXPECT_NE(protection_mismatch(cells[1], lying_cpuinfo), "");
	EXPECT_NE(protection_mismatch(cells[0], nlohmann::json()), "");
	auto open = on;
	open["window_open"] = true;
	EXPECT_NE(protection_mismatch(cells[0], open), "");
}

TEST(Protection, OffKernelAndSoftware)
{
	const auto &m = Matrix::get();
	auto x = m.select({"x86_64"}, {"6.1"}, {"on", "off-kernel"});
	nlohmann::json on = {{"guard", "SMAP"},         {"guard_present", true}, {"guard_enabled", true},
			     {"guard_kernel_uses", true}, {"window_open", false},  {"guest", {{"cpuinfo_smap", true}}}};
	auto offk = on;
	offk["guard_enabled"] = false;
	offk["guard_kernel_uses"] = false;
	offk["guest"]["cpuinfo_smap"] = false;  // clearcpuid=smap hides the flag
	EXPECT_EQ(protection_mismatch(x[0], on), "");
	EXPECT_EQ(protection_mismatch(x[1], offk), "");
	EXPECT_NE(protection_mismatch(x[1], on), "") << "the kernel still uses SMAP";
	EXPECT_NE(protection_mismatch(x[0], offk), "");
	auto off = offk;
	off["guard_present"] = false;
	EXPECT_NE(protection_mismatch(x[1], off), "") << "off-kernel needs the CPU to have the guard";

	auto a = m.select({"arm64"}, {"6.1-src"}, {"off-kernel", "sw"});
	nlohmann::json sw = {{"guard", "PAN"},          {"guard_present", false}, {"guard_enabled", true},
			     {"guard_kernel_uses", true}, {"guard_software", true}, {"window_open", false},
			     {"guest", {{"dmesg_pan_detected", true}}}};  // "emulated: Privileged Access Never (PAN) ..."
	EXPECT_EQ(protection_mismatch(a[1], sw), "");
	auto silent = sw;
	silent["guest"]["dmesg_pan_detected"] = false;
	EXPECT_NE(protection_mismatch(a[1], silent), "") << "the kernel did not say it emulates PAN";
	auto hw = sw;
	hw["guard_software"] = false;
	EXPECT_NE(protection_mismatch(a[1], hw), "") << "sw requested, software PAN not in use";
	nlohmann::json panoff = {{"guard", "PAN"},           {"guard_present", true},  {"guard_enabled", false},
				 {"guard_kernel_uses", false}, {"guard_software", false}, {"window_open", false},
				 {"guest", {{"dmesg_pan_detected", false}}}};
	EXPECT_EQ(protection_mismatch(a[0], panoff), "");
	auto detected = panoff;
	detected["guest"]["dmesg_pan_detected"] = true;
	EXPECT_NE(protection_mismatch(a[0], detected), "") << "dmesg says the kernel enabled PAN";
}

TEST(Accel, KvmOnlyForTheHostArchAndWithDevKvm)
{
	// On this machine, whichever arch it is (the plan for the other host arch: HostArch.* below).
	const auto &m = Matrix::get();
	const std::string own = m.host(), other = own == "x86_64" ? "arm64" : "x86_64";
	EXPECT_EQ(accel_unusable("tcg", m.arch(other)), "");
	EXPECT_NE(accel_unusable("kvm", m.arch(other)).find("own arch"), std::string::npos);
	EXPECT_NE(accel_unusable("hvf", m.arch(own)).find("unknown"), std::string::npos);
	// A /dev/kvm that opens is not enough: this project's machines have one that creates VMs on a CPU
	// without VMX/SVM, and QEMU then dies setting MSRs. KVM counts as usable only with VMX or SVM shown.
	auto why = accel_unusable("kvm", m.arch(own));
	auto cpuinfo = read_file("/proc/cpuinfo");
	bool virt = cpuinfo.find(" vmx") != std::string::npos || cpuinfo.find(" svm") != std::string::npos;
	if (own == "x86_64" && !virt) {
		EXPECT_FALSE(why.empty()) << "KVM judged usable on a CPU without VMX/SVM";
	}
	if (access("/dev/kvm", F_OK) != 0) {
		EXPECT_NE(why.find("/dev/kvm"), std::string::npos) << why;
	}
	// --accel auto: KVM exactly where it is usable, never for a foreign arch.
	EXPECT_EQ(resolve_accel("auto", m.arch(own)), why.empty() ? "kvm" : "tcg");
	EXPECT_EQ(resolve_accel("auto", m.arch(other)), "tcg");
	EXPECT_EQ(resolve_accel("tcg", m.arch(own)), "tcg");
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

TEST(KernelProblems, ConsoleAndKernelLogCountOnce)
{
	auto p = merge_problems(kX86SmapOops,
				"<1>[   12.345678] BUG: unable to handle page fault for address: 00007ffd1234abcd\n"
				"<1>[   12.345710] #PF: error_code(0x0003) - permissions violation\n"
				"<4>[   13.000000] WARNING: CPU: 0 PID: 7 at mm/slub.c:1 f+0x1/0x2\n");
	ASSERT_EQ(p.size(), 2u);
	EXPECT_EQ(p[0].kind, "oops");
	EXPECT_EQ(p[1].kind, "WARNING");
}

TEST(KernelProblems, ConsoleAndKernelLogCountOnceWithoutTimestamps)
{
	// The kernels built from source print no timestamps: the console line and the guest's klogctl dump
	// line ("<1>" prefix) of one oops are still one report (seen: the seed-bug oops counted twice).
	auto p = merge_problems("BUG: unable to handle page fault for address: 00007fff74fca5b0\n"
				"#PF: error_code(0x0003) - permissions violation\n",
				"<1>BUG: unable to handle page fault for address: 00007fff74fca5b0\n"
				"<1>#PF: error_code(0x0003) - permissions violation\n");
	EXPECT_EQ(p.size(), 1u);
	auto two = merge_problems("BUG: unable to handle page fault for address: 1\n",
				  "<1>BUG: unable to handle page fault for address: 2\n");
	EXPECT_EQ(two.size(), 2u) << "different reports stay two";
	// Two reports with one first line (the seed-bug test oopses twice at one address): a console that lost
	// one of them still leaves two, the kernel log's second among them.
	const std::string oops = "BUG: unable to handle page fault for address: 00007fff74fca5b0\n";
	EXPECT_EQ(merge_problems(oops, "<1>" + oops + "<1>" + oops).size(), 2u) << "one console report absorbs one";
	EXPECT_EQ(merge_problems(oops + oops, "<1>" + oops + "<1>" + oops).size(), 2u);
}

// Captured cells (tests/fixtures/console/): each oops is on the console and in the guest's kernel log (with a
// <level> prefix, and on the kernels built from source without timestamps); merged, each counts once.
TEST(KernelProblems, CapturedConsoleAndKernelLogCountOnce)
{
	for (std::string cell : {"x86_64-6.1-on", "arm64-6.1-on", "x86_64-6.1-debug-on"}) {
		const auto console = console_fixture(cell + "/console.log");
		const auto dmesg = console_fixture(cell + "/dmesg.txt");
		ASSERT_EQ(kernel_problems(console).size(), 2u) << cell;
		ASSERT_EQ(kernel_problems(dmesg).size(), 2u) << cell;
		auto p = merge_problems(console, dmesg);
		ASSERT_EQ(p.size(), 2u) << cell;
		EXPECT_EQ(p[0].text, kernel_problems(console)[0].text) << cell << ": the console's text is kept";
		EXPECT_NE(p[1].text.find("[#2]"), std::string::npos) << cell << ": " << p[1].text;
	}
	// Positive control: another cell's kernel log holds other reports, which stay.
	const auto x86 = console_fixture("x86_64-6.1-on/console.log");
	EXPECT_EQ(merge_problems(x86, console_fixture("arm64-6.1-on/dmesg.txt")).size(), 4u);
	// A clean console with a kernel log that has the reports: they come from the log.
	const auto clean = console_fixture("x86_64-6.1-off/console.log");
	auto from_log = merge_problems(clean, console_fixture("x86_64-6.1-on/dmesg.txt"));
	ASSERT_EQ(from_log.size(), 2u);
	EXPECT_TRUE(from_log[0].text.starts_with("<1>[   91.841333] BUG: unable to handle page fault"))
		<< from_log[0].text;
}
