// Kernels built from source (host/provision/source_kernel.*), the debug kernels' reports in the kernel-log
// matcher and the judge, and the off-kernel / sw protections.
#include <gtest/gtest.h>

#include "provision/source_kernel.hpp"
#include "run/judge.hpp"
#include "run/qemu.hpp"

using namespace xua;

namespace {

// Reports as the 6.1 debug kernels print them (lines from the planted-bug runs, timestamps shortened).
const char *kLockdepCircular = R"([   20.10] ======================================================
[   20.10] WARNING: possible circular locking dependency detected
[   20.10] 6.1.192 #1 Tainted: G           O
[   20.10] ------------------------------------------------------
[   20.10] xuaccess-tests/80 is trying to acquire lock:
[   20.10] ffff888003a1c0b8 (&dev->lock_b){+.+.}-{3:3}, at: xua_ioctl+0x1a/0x60 [xuaccess]
[   20.10] 
[   20.10] but task is already holding lock:
[   20.10] ffff888003a1c070 (&dev->lock_a){+.+.}-{3:3}, at: xua_ioctl+0x10/0x60 [xuaccess]
[   20.10] 
[   20.10]  Possible unsafe locking scenario:
)";
const char *kLockdepRecursive = "[ 9.1] ============================================\n"
				"[ 9.1] WARNING: possible recursive locking detected\n"
				"[ 9.1] 6.1.192 #1 Tainted: G           O\n";
const char *kKasan = R"([   31.00] ==================================================================
[   31.00] BUG: KASAN: slab-out-of-bounds in xua_selftest+0x2b/0x90 [xuaccess]
[   31.00] Write of size 1 at addr ffff888004a6e940 by task xuaccess-tests/81
[   31.00] 
[   31.00] The buggy address belongs to the object at ffff888004a6e900
[   31.00] ==================================================================
xuaccess-init: job exited 1
)";
const char *kUbsan = R"([   12.00] ================================================================================
[   12.00] UBSAN: array-index-out-of-bounds in /root/xuaccess/common/device.c:123:9
[   12.00] index 8 is out of range for type 'u8 [8]'
[   12.00] CPU: 0 PID: 77 Comm: xuaccess-tests Tainted: G           O       6.1.192 #1
[   12.00] ================================================================================
)";
const char *kKfence = "[ 40.0] ==================================================================\n"
		      "[ 40.0] BUG: KFENCE: out-of-bounds write in xua_selftest+0x44/0x90 [xuaccess]\n"
		      "[ 40.0] Out-of-bounds write at 0x00000000b1e3b7a4 (64B right of kfence-#12):\n"
		      "[ 40.0] ==================================================================\n";
const char *kSleep = "[ 7.0] BUG: sleeping function called from invalid context at mm/slab.h:723\n"
		     "[ 7.0] in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 79, name: xuaccess-tests\n"
		     "[ 7.0] preempt_count: 1, expected: 0\n";
const char *kHung = "[ 52.0] INFO: task xuaccess-tests:82 blocked for more than 10 seconds.\n"
		    "[ 52.0]       Tainted: G           O       6.1.192 #1\n"
		    "[ 52.0] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.\n";

}  // namespace

TEST(KernelProblems, RecognisesDebugKernelReports)
{
	struct Case {
		const char *text, *kind, *must_contain;
	} cases[] = {
		{kLockdepCircular, "lockdep", "possible circular locking dependency"},
		{kLockdepRecursive, "lockdep", "possible recursive locking"},
		{kKasan, "KASAN", "slab-out-of-bounds"},
		{kUbsan, "UBSAN", "index 8 is out of range"},
		{kKfence, "KFENCE", "Out-of-bounds write"},
		{kSleep, "sleep in atomic", "preempt_count: 1"},
		{kHung, "hung task", "blocked for more than 10 seconds"},
	};
	for (auto &c : cases) {
		auto p = kernel_problems(c.text);
		ASSERT_EQ(p.size(), 1u) << c.text;
		EXPECT_EQ(p[0].kind, c.kind) << c.text;
		EXPECT_NE(p[0].text.find(c.must_contain), std::string::npos) << p[0].text;
	}
	// A sanitizer report ends at its closing rule: what follows is not part of it.
	auto k = kernel_problems(kKasan);
	EXPECT_EQ(k[0].text.find("job exited"), std::string::npos) << k[0].text;
	EXPECT_NE(k[0].text.find("belongs to the object"), std::string::npos) << k[0].text;
	// The guest's kernel log of a kernel without printk timestamps: "<3>UBSAN: ...", "<3>BUG: Bad page state".
	auto raw = kernel_problems("<3>UBSAN: shift-out-of-bounds in common/x.c:1:2\n<1>BUG: Bad page state in process a\n");
	ASSERT_EQ(raw.size(), 2u);
	EXPECT_EQ(raw[0].kind, "UBSAN");
	EXPECT_EQ(raw[1].kind, "BUG");
	// Two reports back to back stay two.
	auto two = kernel_problems(std::string(kUbsan) + kKfence);
	ASSERT_EQ(two.size(), 2u);
	EXPECT_EQ(two[0].kind, "UBSAN");
	EXPECT_EQ(two[1].kind, "KFENCE");
	// Negative controls: the lines a healthy debug kernel prints.
	EXPECT_TRUE(kernel_problems("[ 0.0] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar\n"
				    "[ 0.0] kasan: KernelAddressSanitizer initialized (generic)\n"
				    "[ 0.1] kfence: initialized - using 2097152 bytes for 255 objects\n"
				    "[ 0.2] ======================================================\n")
			    .empty());
}

TEST(Judge, DebugKernelReportFailsTheCellWithItsText)
{
	static const auto cells = Matrix::get().select({"x86_64"}, {"6.1"}, {"on"});
	for (const char *report : {kLockdepCircular, kKasan, kUbsan, kKfence, kSleep, kHung}) {
		CellOutcome o{cells.at(0), "tcg", {}, "test", {}, {}, {}, "/tmp/xua-judge"};
		o.guest.first_output = 1.5;
		o.guest.seconds = 9;
		o.guest.console = "xuaccess-init: started cell=x job=test\n";
		// Lockdep warns at KERN_WARNING, below 'quiet': these reports come in the guest's kernel log.
		std::string port = protocol::record(protocol::kInsmod, "ok") +
				   protocol::record(protocol::kInfo, R"({"guard":"SMAP","guard_present":true,)"
								     R"("guard_enabled":true,"guard_kernel_uses":true,)"
								     R"("window_open":false})") +
				   protocol::record(protocol::kJobBegin, "test") + "ok 1 - A.b\n1..1\n" +
				   protocol::record(protocol::kJobExit, "0") + protocol::block(protocol::kDmesg, report) +
				   protocol::record(protocol::kDone);
		o.report = parse_results(port);
		o.problems = merge_problems(o.guest.console, o.report.dmesg());
		auto v = judge(o);
		EXPECT_EQ(v.primary(), Failure::unexpected_oops) << report;
		auto first = split_lines(report)[1];
		EXPECT_NE(v.reason().find(first.substr(first.find(']') + 2)), std::string::npos) << v.reason();
	}
}

TEST(SourceKernel, Names)
{
	auto a = parse_source_kernel("6.1-debug");
	ASSERT_TRUE(a);
	EXPECT_EQ(a->series, "6.1");
	EXPECT_EQ(a->variant, "debug");
	EXPECT_TRUE(is_source_kernel("6.12-src"));
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
	// Every fragment named exists and parses to at least one assignment.
	for (auto f : {"base", "x86_64", "arm64", "debug", "pan-off", "sw-pan"}) {
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
}

#include "analyze/compare.hpp"

namespace {

CellResults cell_with(const std::string &name, nlohmann::json ctx)
{
	CellResults c;
	c.name = name;
	nlohmann::json base = {{"xua_arch", "arm64"},           {"xua_kernel_series", "6.1-src"},
			       {"xua_kernel_release", "6.1.192"}, {"xua_kernel_package", "linux-source-6.1 6.1.192-2"},
			       {"xua_accel", "tcg"},              {"xua_kernel_cmdline", "console=ttyAMA0 panic=-1 quiet nokaslr"},
			       {"xua_cpu_on", "cortex-a76"},      {"xua_cpu_off", "cortex-a72"}};
	base.update(ctx);
	c.update_context(base);
	return c;
}

}  // namespace

TEST(Compare, OffKernelIsAcceptedAsItsOneConfigDifference)
{
	auto on = cell_with("arm64-6.1-src-on", {{"xua_protection_requested", "on"}, {"xua_qemu_cpu", "cortex-a76"},
						  {"xua_kernel_config_sha256", "aaa"}});
	auto offk = cell_with("arm64-6.1-src-off-kernel",
			      {{"xua_protection_requested", "off-kernel"}, {"xua_qemu_cpu", "cortex-a76"},
			       {"xua_kernel_config_sha256", "bbb"}, {"xua_kernel_base_config_sha256", "aaa"},
			       {"xua_kernel_config_diff", "CONFIG_ARM64_EPAN: y -> n, CONFIG_ARM64_PAN: y -> n"},
			       {"xua_kernel_protection_fragment", "pan-off"}});
	EXPECT_TRUE(mismatches(offk, on).empty()) << fmt::format("{}", fmt::join(mismatches(offk, on), "\n"));
	auto acc = accepted_differences(offk, on);
	ASSERT_EQ(acc.size(), 1u);
	EXPECT_NE(acc[0].find("CONFIG_ARM64_PAN: y -> n"), std::string::npos) << acc[0];
	// A kernel whose base is another config (a second difference) is refused.
	auto other = offk;
	other.update_context({{"xua_kernel_base_config_sha256", "ccc"}});
	EXPECT_FALSE(mismatches(other, on).empty());
	EXPECT_TRUE(accepted_differences(other, on).empty());
	// Two "on" cells on different configs are refused too.
	auto on2 = on;
	on2.update_context({{"xua_kernel_config_sha256", "bbb"}});
	EXPECT_FALSE(mismatches(on, on2).empty());
}

TEST(Compare, X86OffKernelIsAcceptedAsItsOneKernelParameter)
{
	auto on = cell_with("x86_64-6.1-on", {{"xua_arch", "x86_64"}, {"xua_protection_requested", "on"},
					       {"xua_qemu_cpu", "max"}, {"xua_kernel_cmdline", "console=ttyS0 quiet"}});
	auto offk = cell_with("x86_64-6.1-off-kernel",
			      {{"xua_arch", "x86_64"}, {"xua_protection_requested", "off-kernel"}, {"xua_qemu_cpu", "max"},
			       {"xua_kernel_cmdline", "console=ttyS0 quiet clearcpuid=smap"},
			       {"xua_protection_cmdline", "clearcpuid=smap"}});
	EXPECT_TRUE(mismatches(on, offk).empty()) << fmt::format("{}", fmt::join(mismatches(on, offk), "\n"));
	ASSERT_EQ(accepted_differences(on, offk).size(), 1u);
	auto more = offk;
	more.update_context({{"xua_kernel_cmdline", "console=ttyS0 quiet clearcpuid=smap nopti"}});
	EXPECT_FALSE(mismatches(on, more).empty()) << "a second parameter is a mismatch";
}

TEST(Compare, AcrossKernelComparesOneProtectionOnTwoKernels)
{
	auto a = cell_with("x86_64-6.1-on", {{"xua_arch", "x86_64"}, {"xua_protection_requested", "on"},
					      {"xua_qemu_cpu", "max"}, {"xua_kernel_release", "6.1.0-56-amd64"},
					      {"xua_kernel_package", "linux-image-6.1.0-56-amd64 6.1.192-2"}});
	auto b = a;
	b.name = "x86_64-6.12-on";
	b.update_context({{"xua_kernel_release", "6.12.57+deb12-amd64"}});
	b.update_context({{"xua_kernel_package", "linux-image-6.12.57+deb12-amd64 6.12.57-1~deb12u1"}});
	EXPECT_FALSE(mismatches(a, b).empty()) << "without --across kernel, two kernels are a mismatch";
	EXPECT_TRUE(mismatches(a, b, "kernel").empty()) << fmt::format("{}", fmt::join(mismatches(a, b, "kernel"), "\n"));
	auto c = compare(a, b, {.across = "kernel"});
	ASSERT_EQ(c.accepted.size(), 1u);
	EXPECT_NE(c.accepted[0].find("kernel A/B"), std::string::npos);
	auto off = b;
	off.update_context({{"xua_protection_requested", "off"}});
	off.update_context({{"xua_qemu_cpu", "max,-smap"}});
	EXPECT_FALSE(mismatches(a, off, "kernel").empty()) << "a kernel A/B keeps the protection";
	EXPECT_THROW(compare(a, off, {.across = "kernel"}), Error);
}
