// host/run/qemu: the QEMU command line (from the matrix row, under TCG and KVM), a guest run against a stand-in
// QEMU (hard timeout, inactivity watchdog, the guest reaped), and the recognition of kernel problems in a console
// or kernel log, made up and captured from real cells (tests/fixtures/console/).
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "provision/matrix.hpp"
#include "run/qemu.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

// The arm64 console text of a PAN fault (PLATFORM.md's observations, trimmed).
const char *const kArm64PanOops = R"([    3.100000] Unable to handle kernel access to user memory outside uaccess routines at virtual address 0000ffffa1b2c3d4
[    3.100100]   FSC = 0x0f: level 3 permission fault
[    3.100200] Internal error: Oops: 000000009600004f [#1] SMP
[    3.100300] pstate: 60400005 (nZCv daif +PAN -UAO -TCO -DIT -SSBS BTYPE=--)
)";

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

}  // namespace

TEST(KernelProblems, RecognisesSmapAndPanOopsesAndPanics)
{
	auto x = kernel_problems(kX86SmapOops);
	ASSERT_EQ(x.size(), 1u);
	EXPECT_EQ(x[0].kind, "oops");
	EXPECT_NE(x[0].text.find("permissions violation"), std::string::npos);
	EXPECT_EQ(x[0].text.find("xuaccess-init: done"), std::string::npos) << "report must stop at its end marker";

	auto a = kernel_problems(kArm64PanOops);
	ASSERT_GE(a.size(), 1u);
	EXPECT_EQ(a[0].kind, "oops");
	EXPECT_NE(a[0].text.find("+PAN"), std::string::npos);

	auto p = kernel_problems("[    1.5] Kernel panic - not syncing: VFS: Unable to mount root fs\n");
	ASSERT_EQ(p.size(), 1u);
	EXPECT_EQ(p[0].kind, "panic");

	auto k = kernel_problems("<1>[    9.169164] BUG: unable to handle page fault for address: 00007fff78acef18\n"
				 "<1>[    9.169705] #PF: error_code(0x0001) - permissions violation\n");
	ASSERT_EQ(k.size(), 1u) << "klogctl dump lines carry a <level> prefix";

	auto oom = kernel_problems("[ 1.6] Out of memory: Killed process 79 (xuaccess-tests) total-vm:317456kB\n");
	ASSERT_EQ(oom.size(), 1u);
	EXPECT_EQ(oom[0].kind, "OOM kill");

	// Reports that follow each other closely stay apart: an OOM kill, then two announced PAN oopses
	// (seen in an arm64 6.12 cell: the first oops was swallowed by the OOM report and went unmatched).
	auto seq = kernel_problems("[22.68] Out of memory: Killed process 244 (xuaccess-tests) total-vm:321644kB\n"
				   "[28.00] xuaccess: mmap_max_bytes=0 out of range (1..268435456)\n"
				   "[31.92] Unable to handle kernel access to user memory outside uaccess routines at virtual address 1\n"
				   "[31.92] Mem abort info:\n"
				   "[31.92] Internal error: Oops: 0000000096000000f [#1] SMP\n"
				   "[31.93] Unable to handle kernel access to user memory outside uaccess routines at virtual address 2\n"
				   "[31.93] Internal error: Oops: 0000000096000000f [#2] SMP\n");
	ASSERT_EQ(seq.size(), 3u);
	EXPECT_EQ(seq[0].kind, "OOM kill");
	EXPECT_EQ(seq[0].text.find("Unable to handle"), std::string::npos) << seq[0].text;
	EXPECT_EQ(seq[1].kind, "oops");
	EXPECT_NE(seq[1].text.find("[#1]"), std::string::npos) << seq[1].text;
	EXPECT_EQ(seq[1].text.find("address 2"), std::string::npos) << seq[1].text;
	EXPECT_EQ(seq[2].kind, "oops");

	auto w = kernel_problems("[ 2.0] WARNING: CPU: 0 PID: 51 at mm/slub.c:123 foo+0x1/0x2\n");
	ASSERT_EQ(w.size(), 1u);
	EXPECT_EQ(w[0].kind, "WARNING");
}

TEST(KernelProblems, CleanBootHasNone)
{
	EXPECT_TRUE(kernel_problems("[ 0.0] Linux version 6.1.0\n[ 1.0] xuaccess: loaded: arch x86_64, SMAP present\n"
				    "xuaccess-init: started cell=x job=test\n[ 1.6] reboot: Power down\n")
			    .empty());
}

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

TEST(QemuArgv, FromTheMatrixRow)
{
	auto cells = Matrix::get().select({"arm64"}, {"6.1"}, {"off"});
	GuestRun g{&cells[0], "/k/Image", "/k/initrd", "/c/console.log", "/c/results.txt"};
	g.cmdline = {"xua.job=test"};
	auto argv = qemu_argv(g);
	auto joined = shell_quote(argv);
	EXPECT_EQ(argv.front(), "qemu-system-aarch64");
	EXPECT_NE(joined.find("-cpu cortex-a72"), std::string::npos);
	EXPECT_NE(joined.find("file,id=results,path=/c/results.txt"), std::string::npos);
	EXPECT_NE(joined.find("nokaslr"), std::string::npos);
	EXPECT_NE(joined.find("xua.job=test"), std::string::npos);
	EXPECT_NE(joined.find("-smp 1"), std::string::npos);
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

// run_guest against a stand-in for QEMU (a shell script that ignores QEMU's arguments): the hard timeout
// and the inactivity watchdog end a hung guest, reap it (its exit status and CPU time are its own, not an
// ECHILD's zeros) and keep what it printed.
TEST(RunGuest, TimeoutAndWatchdogEndHungGuestAndKeepConsole)
{
	TempDir scratch("run-guest");
	const auto dir = scratch.path;
	auto fake = dir / "fake-qemu";
	write_script(fake, "echo $$ > " + (dir / "pid").string() +
				   "\necho 'SeaBIOS'\necho 'xuaccess-init: started cell=t job=test'\n"
				   "echo 'last words'\nexec sleep 60\n");
	Arch a = Matrix::get().arch("x86_64");
	a.qemu = fake.string();
	Cell c{&a, "6.1", "on"};
	for (bool watchdog : {false, true}) {
		GuestRun g{&c, "/nonexistent", "/nonexistent", dir / "console.log", dir / "results.txt"};
		g.timeout = std::chrono::seconds(watchdog ? 600 : 2);
		g.inactivity = std::chrono::seconds(watchdog ? 1 : 0);
		auto o = run_guest(g);
		EXPECT_TRUE(o.timed_out);
		EXPECT_NE(o.timeout_reason.find(watchdog ? "inactivity" : "timed out after 2 s"), std::string::npos)
			<< o.timeout_reason;
		pid_t pid = std::stoi(read_file(dir / "pid"));
		EXPECT_NE(kill(pid, 0), 0) << "the stand-in was not ended and reaped";
		EXPECT_EQ(o.qemu_status, 128 + SIGTERM) << "the guest's own exit status";
		EXPECT_GE(o.qemu_cpu_seconds, 0.0);
		EXPECT_GE(o.first_output, 0.0);
		EXPECT_NE(last_lines(o.console, 2).find("last words"), std::string::npos);
		auto log = read_file(dir / "console.log");
		EXPECT_NE(log.find("last words"), std::string::npos);
		EXPECT_EQ(log.rfind("# " + fake.string() + " -M pc", 0), 0u) << "the command line heads the log";
	}
	// A guest whose console is silent while its results port grows is busy, not stuck: the watchdog
	// (1 s) leaves it alone for the 3 s it writes, and it exits on its own.
	{
		auto writer = dir / "fake-writer";
		write_script(writer, "echo 'xuaccess-init: started cell=t job=bench'\nfor i in 1 2 3 4 5 6; do echo x >> " +
					     (dir / "results.txt").string() + "; sleep 0.5; done\n");
		a.qemu = writer.string();
		fs::remove(dir / "results.txt");
		GuestRun g{&c, "/nonexistent", "/nonexistent", dir / "console.log", dir / "results.txt"};
		g.timeout = std::chrono::seconds(600);
		g.inactivity = std::chrono::seconds(1);
		auto o = run_guest(g);
		EXPECT_FALSE(o.timed_out) << o.timeout_reason;
		EXPECT_EQ(o.qemu_status, 0);
		a.qemu = fake.string();
	}
	// An exception in a console callback leaves run_guest early: the guest still goes with it.
	{
		fs::remove(dir / "pid");
		GuestRun g{&c, "/nonexistent", "/nonexistent", dir / "console.log", dir / "results.txt"};
		g.on_line = [](const std::string &line) {
			if (line.find("last words") != std::string::npos)
				throw std::runtime_error("callback failed");
		};
		EXPECT_THROW(run_guest(g), std::runtime_error);
		pid_t pid = std::stoi(read_file(dir / "pid"));
		EXPECT_NE(kill(pid, 0), 0) << "the guest outlived the exception";
	}
	// Positive control: a guest that keeps talking and then powers off is not ended by the watchdog.
	write_script(fake, "for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.3; done\n");
	GuestRun g{&c, "/nonexistent", "/nonexistent", dir / "console.log", dir / "results.txt"};
	g.inactivity = std::chrono::seconds(1);
	auto o = run_guest(g);
	EXPECT_FALSE(o.timed_out) << o.timeout_reason;
	EXPECT_EQ(o.qemu_status, 0);
}

// Captured consoles (tests/fixtures/console/README.md says where each comes from). The seed-bug test of an
// x86_64 cell of Debian's 6.1 with SMAP: a store, then a load, to a user address, two oopses.
TEST(KernelProblems, CapturedX86SmapOopses)
{
	const auto console = console_fixture("x86_64-6.1-on/console.log");
	auto p = kernel_problems(console);
	ASSERT_EQ(p.size(), 2u);
	const auto &signature = Matrix::get().arch("x86_64").guard_fault_signature;
	for (auto &r : p) {
		EXPECT_EQ(r.kind, "oops");
		EXPECT_NE(r.text.find(signature), std::string::npos) << r.text;
		EXPECT_NE(r.text.find("RIP: 0010:xua_ioctl_unsafe_deref"), std::string::npos) << r.text;
		EXPECT_NE(r.text.find("Call Trace:"), std::string::npos) << r.text;
		EXPECT_EQ(r.text.find("xuaccess-init:"), std::string::npos) << r.text;
		EXPECT_EQ(r.text.find("UNSAFE_DEREF: plain load"), std::string::npos) << "the module's next line\n" << r.text;
	}
	const std::string bug = "] BUG: unable to handle page fault for address: 00007ffcfb3916e0\n";
	EXPECT_TRUE(p[0].text.starts_with("[   91.841333" + bug)) << p[0].text;
	EXPECT_NE(p[0].text.find("#PF: supervisor write access in kernel mode"), std::string::npos);
	EXPECT_NE(p[0].text.find("Oops: 0003 [#1]"), std::string::npos);
	EXPECT_EQ(p[0].text.find("[#2]"), std::string::npos) << "the second oops is a report of its own";
	EXPECT_TRUE(p[1].text.starts_with("[   91.891744" + bug)) << p[1].text;
	EXPECT_NE(p[1].text.find("#PF: supervisor read access in kernel mode"), std::string::npos);
	EXPECT_NE(p[1].text.find("Oops: 0001 [#2]"), std::string::npos);
	// The file as QEMU wrote it (\r\n) reads the same.
	auto raw = kernel_problems(read_file(fixture("console/x86_64-6.1-on/console.log")));
	ASSERT_EQ(raw.size(), 2u);
	EXPECT_EQ(raw[0].text, p[0].text);
	EXPECT_EQ(raw[1].text, p[1].text);
}

// The same test on arm64 with PAN: "Unable to handle kernel access to user memory ..." and, a dozen lines on,
// "Internal error: Oops": one report each, not two.
TEST(KernelProblems, CapturedArm64PanOopses)
{
	auto p = kernel_problems(console_fixture("arm64-6.1-on/console.log"));
	ASSERT_EQ(p.size(), 2u);
	const auto &signature = Matrix::get().arch("arm64").guard_fault_signature;
	for (auto &r : p) {
		EXPECT_EQ(r.kind, "oops");
		EXPECT_NE(split_lines(r.text).front().find("Unable to handle kernel " + signature), std::string::npos)
			<< r.text;
		EXPECT_NE(r.text.find("FSC = 0x0f: level 3 permission fault"), std::string::npos) << r.text;
		EXPECT_NE(r.text.find("pstate: 60400005 (nZCv daif +PAN"), std::string::npos) << r.text;
		EXPECT_NE(r.text.find("pc : xua_ioctl_unsafe_deref"), std::string::npos) << r.text;
		EXPECT_NE(r.text.find("Call trace:"), std::string::npos) << r.text;
		EXPECT_EQ(r.text.find("UNSAFE_DEREF: plain load"), std::string::npos) << r.text;
	}
	EXPECT_NE(p[0].text.find("WnR = 1"), std::string::npos) << "the store";
	EXPECT_NE(p[0].text.find("Internal error: Oops: 000000009600004f [#1] SMP"), std::string::npos) << p[0].text;
	EXPECT_EQ(p[0].text.find("[#2]"), std::string::npos) << p[0].text;
	EXPECT_NE(p[1].text.find("WnR = 0"), std::string::npos) << "the load";
	EXPECT_NE(p[1].text.find("Internal error: Oops: 000000009600000f [#2] SMP"), std::string::npos) << p[1].text;
}

// A kernel built from Debian's source with KASAN and lockdep: the same two SMAP oopses, without timestamps, and
// with "KASAN" in the oops banner, which does not make them KASAN reports.
TEST(KernelProblems, CapturedDebugKernelOopsesWithoutTimestamps)
{
	auto p = kernel_problems(console_fixture("x86_64-6.1-debug-on/console.log"));
	ASSERT_EQ(p.size(), 2u);
	EXPECT_EQ(p[0].kind, "oops");
	EXPECT_EQ(p[1].kind, "oops");
	EXPECT_TRUE(p[0].text.starts_with("BUG: unable to handle page fault for address: 00007ffd0f2e6050\n"))
		<< p[0].text;
	EXPECT_NE(p[0].text.find("error_code(0x0003) - permissions violation"), std::string::npos);
	EXPECT_NE(p[0].text.find("Oops: 0003 [#1] SMP KASAN"), std::string::npos);
	EXPECT_EQ(p[0].text.find("[#2]"), std::string::npos) << p[0].text;
	EXPECT_NE(p[1].text.find("error_code(0x0001) - permissions violation"), std::string::npos);
	EXPECT_NE(p[1].text.find("Oops: 0001 [#2] SMP KASAN"), std::string::npos);
}

// The guests' kernel logs of the same cells ("<1>[ ...] BUG: ...", arm64's "<0>... Internal error: Oops"): the same
// reports.
TEST(KernelProblems, CapturedKernelLogsWithLevelPrefixes)
{
	for (std::string cell : {"x86_64-6.1-on", "arm64-6.1-on", "x86_64-6.1-debug-on"}) {
		auto p = kernel_problems(console_fixture(cell + "/dmesg.txt"));
		ASSERT_EQ(p.size(), 2u) << cell;
		for (auto &r : p) {
			EXPECT_EQ(r.kind, "oops") << cell;
			EXPECT_TRUE(r.text.starts_with("<1>")) << cell << ": " << r.text;
		}
		EXPECT_NE(p[0].text.find("[#1]"), std::string::npos) << cell << ": " << p[0].text;
		EXPECT_EQ(p[0].text.find("[#2]"), std::string::npos) << cell << ": " << p[0].text;
		EXPECT_NE(p[1].text.find("[#2]"), std::string::npos) << cell << ": " << p[1].text;
	}
	auto arm = kernel_problems(console_fixture("arm64-6.1-on/dmesg.txt"));
	EXPECT_NE(arm[0].text.find("<0>[   38.021851] Internal error: Oops: 000000009600004f [#1] SMP"),
		  std::string::npos);
}

// Healthy cells: the "off" cells ran the same plain dereferences without a guard to stop them
// ("UNSAFE_DEREF: plain store to a user address" and nothing after it), and a debug kernel's boot says that
// KASAN, lockdep and KFENCE are on. None of it is a problem.
TEST(KernelProblems, CapturedHealthyLogsHaveNone)
{
	for (auto name : {"x86_64-6.1-off/console.log", "arm64-6.1-off/console.log",
			  "arm64-6.1-src-off-kernel/console.log", "x86_64-6.1-off/dmesg.txt", "arm64-6.1-off/dmesg.txt",
			  "x86_64-6.1-debug-on/dmesg-boot.txt"}) {
		auto log = console_fixture(name);
		ASSERT_GT(split_lines(log).size(), 3u) << name;
		auto p = kernel_problems(log);
		EXPECT_TRUE(p.empty()) << name << ": " << p.front().kind << ":\n" << p.front().text;
	}
	EXPECT_NE(console_fixture("x86_64-6.1-off/dmesg.txt").find("UNSAFE_DEREF: plain store"), std::string::npos);
	EXPECT_NE(console_fixture("x86_64-6.1-debug-on/dmesg-boot.txt").find("Lock dependency validator"),
		  std::string::npos);
}
