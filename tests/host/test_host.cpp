// Host unit tests: the pieces of the front end that decide pass/fail or shape what the guest gets.
#include <cstring>
#include <functional>
#include <string>

#include <sched.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "cmd/bench.hpp"
#include "cmd/compare.hpp"
#include "analyze/compare.hpp"
#include "analyze/effect.hpp"
#include "report/report.hpp"
#include "analyze/results.hpp"
#include "analyze/stats.hpp"
#include "run/cell.hpp"
#include "base/process.hpp"
#include "cmd/test.hpp"
#include "provision/initramfs.hpp"
#include "provision/kbuild.hpp"
#include "provision/kernel.hpp"
#include "run/qemu.hpp"

using namespace xua;

TEST(Cpio, NewcLayoutAlignmentAndTrailer)
{
	CpioWriter w;
	w.dir("/bin");
	w.file("/bin/x", "hello", 0755);
	w.symlink("/bin/sh", "busybox");
	auto a = w.finish();
	ASSERT_GE(a.size(), 110u);
	EXPECT_EQ(a.substr(0, 6), "070701");
	EXPECT_EQ(a.size() % 4, 0u);
	// Entry 2: header at an aligned offset, name without the leading slash, mode 0100755, size 5.
	auto pos = a.find("070701", 6);
	ASSERT_NE(pos, std::string::npos);
	EXPECT_EQ(pos % 4, 0u);
	EXPECT_EQ(a.substr(pos + 14, 8), "000081ED");
	EXPECT_EQ(a.substr(pos + 54, 8), "00000005");
	EXPECT_EQ(a.substr(pos + 110, 6), std::string("bin/x\0", 6));
	EXPECT_NE(a.find("hello"), std::string::npos);
	EXPECT_NE(a.find(std::string("TRAILER!!!\0", 11)), std::string::npos);
	EXPECT_NE(a.find("0000A1FF"), std::string::npos) << "symlink mode 0120777";
}

TEST(BzImage, FindsPayloadFromSetupHeader)
{
	std::string img(8192, '\0');
	img[0x1f1] = 3;  // setup_sects: payload base at (3+1)*512 = 2048
	std::memcpy(&img[0x202], "HdrS", 4);
	uint32_t off = 100, len = 600;
	std::memcpy(&img[0x248], &off, 4);
	std::memcpy(&img[0x24c], &len, 4);
	std::memcpy(&img[2048 + 100], "\xfd" "7zXZ\0", 6);
	auto p = bzimage_payload(img);
	EXPECT_EQ(p.offset, 2148u);
	EXPECT_EQ(p.length, 600u);
	EXPECT_EQ(p.compression, "xz");
	EXPECT_THROW(bzimage_payload(std::string(8192, '\0')), Error);
	len = 1u << 30;
	std::memcpy(&img[0x24c], &len, 4);
	EXPECT_THROW(bzimage_payload(img), Error);
}

// Real console text from PLATFORM.md's observations, trimmed.
const char *x86_smap_oops = R"([   12.345678] BUG: unable to handle page fault for address: 00007ffd1234abcd
[   12.345700] #PF: supervisor write access in kernel mode
[   12.345710] #PF: error_code(0x0003) - permissions violation
[   12.345720] PGD 800000000 P4D 800000000
[   12.345730] Oops: 0003 [#1] PREEMPT SMP NOPTI
[   12.345800] ---[ end trace 0000000000000000 ]---
[   12.346000] xuaccess-init: done
)";
const char *arm64_pan_oops = R"([    3.100000] Unable to handle kernel access to user memory outside uaccess routines at virtual address 0000ffffa1b2c3d4
[    3.100100]   FSC = 0x0f: level 3 permission fault
[    3.100200] Internal error: Oops: 000000009600004f [#1] SMP
[    3.100300] pstate: 60400005 (nZCv daif +PAN -UAO -TCO -DIT -SSBS BTYPE=--)
)";

TEST(KernelProblems, RecognisesSmapAndPanOopsesAndPanics)
{
	auto x = kernel_problems(x86_smap_oops);
	ASSERT_EQ(x.size(), 1u);
	EXPECT_EQ(x[0].kind, "oops");
	EXPECT_NE(x[0].text.find("permissions violation"), std::string::npos);
	EXPECT_EQ(x[0].text.find("xuaccess-init: done"), std::string::npos) << "report must stop at its end marker";

	auto a = kernel_problems(arm64_pan_oops);
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

TEST(Frontend, CountsCasesFromMesonLog)
{
	// The shape of Meson 1.0's testlog.json lines (no protocol field: it comes from intro-tests.json, which
	// names tests without testlog.json's "<project>:<suites> / " prefix).
	auto log = std::string(R"({"name": "cell-a", "result": "OK", "stdout": "ok 1 - a\nok 2 - b # SKIP no\n1..2\n"})") + "\n" +
		   R"({"name": "cell-b", "result": "FAIL", "stdout": "ok 1 - a\nnot ok 2 - b\n1..2\n"})" + "\n" +
		   R"({"name": "xuaccess:host+default / host-unit", "result": "OK", "stdout": "[==========] 9 tests\n[  PASSED  ] 9 tests.\n"})" + "\n" +
		   R"({"name": "sparse", "result": "FAIL", "stdout": "warning"})" + "\n" +
		   R"({"name": "xuaccess:cells+x86_64 / cell-c", "result": "TIMEOUT", "stdout": "ok 1 - boot\n1..3\n"})" + "\n";
	auto protocols = test_protocols(R"([{"name": "cell-a", "protocol": "tap"}, {"name": "cell-b", "protocol": "tap"},
		{"name": "host-unit", "protocol": "gtest"}, {"name": "sparse", "protocol": "exitcode"},
		{"name": "cell-c", "protocol": "tap"}])");
	auto c = count_cases(log, protocols);
	EXPECT_EQ(c.passed, 1 + 1 + 9 + 1);
	EXPECT_EQ(c.failed, 1 + 1 + 2);  // cell-c: 2 of its 3 planned cases never reported
	EXPECT_EQ(c.skipped, 1);
}

// Output a test's protocol does not recognise is a failure, whatever the exit status (it used to count as a
// pass): a TAP test without a plan, a GoogleTest binary without its summary, a TAP plan with cases missing.
TEST(Frontend, UnrecognisedTestOutputIsNotAPass)
{
	auto tap_garbage = count_test_output("qemu-system-x86_64: something odd\n", true, "tap");
	EXPECT_EQ(tap_garbage.passed, 0);
	EXPECT_EQ(tap_garbage.failed, 1);
	auto tap_no_plan = count_test_output("ok 1 - boot\nok 2 - insmod\n", true, "tap");
	EXPECT_EQ(tap_no_plan.passed, 2);
	EXPECT_EQ(tap_no_plan.failed, 1);
	auto tap_short = count_test_output("1..5\nok 1 - boot\nok 2 - insmod\n", true, "tap");
	EXPECT_EQ(tap_short.passed, 2);
	EXPECT_EQ(tap_short.failed, 3);
	auto gtest_garbage = count_test_output("[==========] Running 9 tests\nSegmentation fault\n", true, "gtest");
	EXPECT_EQ(gtest_garbage.passed, 0);
	EXPECT_EQ(gtest_garbage.failed, 1);
	auto empty = count_test_output("", true, "gtest");
	EXPECT_EQ(empty.failed, 1);
	auto ok = count_test_output("1..2\nok 1 - a\nok 2 - b\n", true, "tap");
	EXPECT_EQ(ok.passed, 2);
	EXPECT_EQ(ok.failed, 0);
	auto exitcode = count_test_output("anything at all", true, "exitcode");
	EXPECT_EQ(exitcode.passed, 1);
	EXPECT_EQ(exitcode.failed, 0);
}

// run_guest against a stand-in for QEMU (a shell script that ignores QEMU's arguments): the hard timeout
// and the inactivity watchdog end a hung guest, reap it (its exit status and CPU time are its own, not an
// ECHILD's zeros) and keep what it printed.
TEST(RunGuest, TimeoutAndWatchdogEndHungGuestAndKeepConsole)
{
	auto dir = fs::temp_directory_path() / ("xua-test-" + std::to_string(getpid()));
	fs::create_directories(dir);
	auto fake = dir / "fake-qemu";
	write_file(fake, "#!/bin/sh\necho $$ > " + (dir / "pid").string() +
				 "\necho 'SeaBIOS'\necho 'xuaccess-init: started cell=t job=test'\n"
				 "echo 'last words'\nexec sleep 60\n");
	fs::permissions(fake, fs::perms::owner_all);
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
		write_file(writer, "#!/bin/sh\necho 'xuaccess-init: started cell=t job=bench'\nfor i in 1 2 3 4 5 6; do echo x >> " +
					   (dir / "results.txt").string() + "; sleep 0.5; done\n");
		fs::permissions(writer, fs::perms::owner_all);
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
	write_file(fake, "#!/bin/sh\nfor i in 1 2 3 4 5 6; do echo tick $i; sleep 0.3; done\n");
	fs::permissions(fake, fs::perms::owner_all);
	GuestRun g{&c, "/nonexistent", "/nonexistent", dir / "console.log", dir / "results.txt"};
	g.inactivity = std::chrono::seconds(1);
	auto o = run_guest(g);
	EXPECT_FALSE(o.timed_out) << o.timeout_reason;
	EXPECT_EQ(o.qemu_status, 0);
	fs::remove_all(dir);
}

// A long step's output goes to its log; a failure names the step, its exit status and the log's last lines.
TEST(RunLogged, LogAndFailure)
{
	auto log = fs::temp_directory_path() / ("xua-run-logged-" + std::to_string(getpid()) + ".log");
	int calls = 0;
	EXPECT_NO_THROW(run_logged({"sh", "-c", "echo fine"}, log, "a short step", [&](double) { ++calls; }));
	EXPECT_EQ(read_file(log), "fine\n");
	EXPECT_EQ(calls, 0) << "no progress line before 30 s";
	try {
		run_logged({"sh", "-c", "echo first; echo broke >&2; exit 3"}, log, "the step", {});
		ADD_FAILURE() << "a failing step did not throw";
	} catch (const Error &e) {
		std::string what = e.what();
		EXPECT_NE(what.find("the step failed (exit 3)"), std::string::npos) << what;
		EXPECT_NE(what.find("first\nbroke"), std::string::npos) << what;
	}
	fs::remove(log);
}

TEST(UsableCpus, CountsTheAffinityMaskAsNprocDoes)
{
	// What the kernel build's -j comes from: the CPUs this process may run on, which nproc also counts.
	auto nproc = std::stoul(trim(run_checked({"nproc"})));
	EXPECT_EQ(usable_cpus(), nproc);
	// Narrowed to one CPU (as taskset or a container's cpuset would), it says 1.
	cpu_set_t saved, one;
	ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; ++c)
		if (CPU_ISSET(c, &saved)) {
			CPU_SET(c, &one);
			break;
		}
	ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
	EXPECT_EQ(usable_cpus(), 1u);
	ASSERT_EQ(sched_setaffinity(0, sizeof saved, &saved), 0);
}

TEST(KernelProblems, ConsoleAndKernelLogCountOnce)
{
	auto p = merge_problems(x86_smap_oops,
				"<1>[   12.345678] BUG: unable to handle page fault for address: 00007ffd1234abcd\n"
				"<1>[   12.345710] #PF: error_code(0x0003) - permissions violation\n"
				"<4>[   13.000000] WARNING: CPU: 0 PID: 7 at mm/slub.c:1 f+0x1/0x2\n");
	ASSERT_EQ(p.size(), 2u);
	EXPECT_EQ(p[0].kind, "oops");
	EXPECT_EQ(p[1].kind, "WARNING");
}

// The dynamic loader and libc.so.6 placed in a guest come from the same directory, hence the same glibc
// build (a loader from the cross toolchain with the multiarch libc hung every fork() on arm64).
TEST(Initramfs, LoaderAndLibcFromOneGlibc)
{
	int checked = 0;
	for (auto &name : Matrix::get().arch_names()) {
		const auto &a = Matrix::get().arch(name);
		auto prog = Matrix::paths().guest_build(a) / "tests" / "guest" / "xuaccess-tests";
		if (!fs::exists(prog))
			continue;
		fs::path loader, libc;
		for (auto &f : shared_library_closure(a, prog)) {
			if (f.guest.filename().string().rfind("ld-linux", 0) == 0)
				loader = f.host;
			if (f.guest.filename() == "libc.so.6")
				libc = f.host;
		}
		ASSERT_FALSE(loader.empty()) << name;
		ASSERT_FALSE(libc.empty()) << name;
		EXPECT_EQ(fs::canonical(loader).parent_path(), fs::canonical(libc).parent_path()) << name;
		++checked;
	}
	if (checked == 0)
		GTEST_SKIP() << "no guest test program built yet";
}

TEST(Results, RowsKeepEveryRepetitionInTheRightUnit)
{
	auto j = nlohmann::json::parse(R"({"context": {"xua_accel": "tcg"}, "benchmarks": [
	  {"name": "transfer/copy/to_user/4096/manual_time", "run_name": "transfer/copy/to_user/4096/manual_time",
	   "run_type": "iteration", "bytes_per_second": 1048576.0, "real_time": 1.0},
	  {"name": "transfer/copy/to_user/4096/manual_time", "run_name": "transfer/copy/to_user/4096/manual_time",
	   "run_type": "iteration", "bytes_per_second": 3145728.0, "real_time": 1.0},
	  {"name": "transfer/copy/to_user/4096/manual_time", "run_name": "transfer/copy/to_user/4096/manual_time",
	   "run_type": "iteration", "bytes_per_second": 2097152.0, "real_time": 1.0},
	  {"name": "transfer/copy/to_user/4096/manual_time_median", "run_name": "transfer/copy/to_user/4096/manual_time",
	   "run_type": "aggregate", "aggregate_name": "median", "bytes_per_second": 9e9, "real_time": 1.0},
	  {"name": "guard/toggle/manual_time", "run_name": "guard/toggle/manual_time", "run_type": "iteration",
	   "items_per_second": 40000000.0, "real_time": 250000.0},
	  {"name": "latency/copy/to_user/64", "run_name": "latency/copy/to_user/64", "run_type": "iteration",
	   "bytes_per_second": 1.0e8, "items_per_second": 1.0e6, "real_time": 950.0},
	  {"name": "broken", "run_name": "broken", "error_occurred": true, "real_time": 1.0}
	]})");
	auto c = parse_cell("x86_64-6.1-on", j);
	ASSERT_TRUE(c.rows.count("transfer/copy/to_user/4096"));
	const auto &t = c.rows.at("transfer/copy/to_user/4096");
	EXPECT_EQ(t.values, (std::vector<double>{1, 3, 2})) << "MiB/s per repetition; aggregates are not repetitions";
	EXPECT_DOUBLE_EQ(t.median, 2.0);
	EXPECT_DOUBLE_EQ(t.cv, 0.5) << "sample stddev 1 over mean 2";
	EXPECT_TRUE(t.throughput);
	EXPECT_DOUBLE_EQ(t.time_per_unit(), 0.5);
	EXPECT_DOUBLE_EQ(c.rows.at("guard/toggle").median, 25.0) << "ns per pair";
	EXPECT_DOUBLE_EQ(c.rows.at("latency/copy/to_user/64").median, 950.0) << "ns per call, wall clock";
	EXPECT_FALSE(c.rows.at("latency/copy/to_user/64").throughput);
	EXPECT_FALSE(c.rows.count("broken"));
	EXPECT_EQ(c.repetitions, 1) << "the smallest count of any row";
	EXPECT_EQ(c.group(), "x86_64-6.1");
	EXPECT_EQ(c.protection(), "on");
	EXPECT_EQ(c.accel_label(), "emulated (TCG)");
	EXPECT_THROW(parse_cell("x", nlohmann::json::parse(R"({"benchmarks": []})")), Error);
	EXPECT_THROW(parse_cell("x", nlohmann::json::parse(R"({"context": {}})")), Error);
}

fs::path fixture(const std::string &rel)
{
	return fs::path(XUACCESS_SOURCE_DIR) / "tests/fixtures/compare" / rel;
}

// tests/fixtures/compare/README.md says how the fixtures were made and what the answer is.
TEST(Compare, MarksTheKnownShiftAndNothingElse)
{
	auto off = load_cell(fixture("shift/x86_64-6.1-off.json")), on = load_cell(fixture("shift/x86_64-6.1-on.json"));
	auto c = compare(off, on, {});
	EXPECT_TRUE(c.mismatches.empty()) << "max vs max,-smap is the matrix's own x86_64 pair";
	EXPECT_TRUE(c.warnings.empty()) << "the control row did not move";
	ASSERT_EQ(c.rows.size(), 6u);
	// Shifted well beyond the repetitions' spread: every repetition of B slower than every one of A.
	const std::map<std::string, double> shift = {{"transfer/copy/to_user/4096", 1.05},
						     {"guard/toggle", 20.0},
						     {"latency/copy/to_user/64", 1.10},
						     {"batch/get_user/16", 1.5}};
	for (auto &r : c.rows) {
		ASSERT_TRUE(r.p.has_value()) << r.name;
		if (shift.count(r.name)) {
			EXPECT_TRUE(r.significant) << r.name;
			EXPECT_NEAR(*r.p, 2.0 / 48620, 1e-15) << r.name << ": R's exact p for full separation, 9 vs 9";
			EXPECT_NEAR(r.time_ratio, shift.at(r.name), 1e-9) << r.name;
		} else if (r.name == "baseline/kernel_memcpy/4096") {  // the same values as the "none" pair
			EXPECT_FALSE(r.significant) << r.name;
			EXPECT_NEAR(*r.p, 0.73044014808720681, 1e-15) << r.name;  // R: wilcox.test(on, off)
		} else {  // +0.3 % inside a +-1 % spread: too small for 9 repetitions to tell
			EXPECT_EQ(r.name, "transfer/raw_window/to_user/4096");
			EXPECT_FALSE(r.significant) << r.name << " p " << *r.p;
			EXPECT_NEAR(r.time_ratio, 1.003, 1e-9) << r.name;
		}
	}
	EXPECT_EQ(c.significant(), 4);

	auto noff = load_cell(fixture("none/x86_64-6.1-off.json")), non = load_cell(fixture("none/x86_64-6.1-on.json"));
	auto n = compare(noff, non, {});
	ASSERT_EQ(n.rows.size(), 4u);
	for (auto &r : n.rows) {
		EXPECT_FALSE(r.significant) << r.name;
		EXPECT_NEAR(*r.p, 0.73044014808720681, 1e-15) << r.name;  // R: wilcox.test(on, off)
		EXPECT_NEAR(r.time_ratio, 1.0, 0.02) << r.name;
	}
	auto text = format_comparison(c);
	EXPECT_NE(text.find("guard/toggle"), std::string::npos);
	// guard/toggle: "off" is a patched NOP, so a difference in ns with its interval, not a ratio of 20.
	EXPECT_NE(text.find("+456.0 ns ["), std::string::npos) << text;
	for (auto &r : c.rows) {
		EXPECT_EQ(r.difference, r.name == "guard/toggle") << r.name;
		// Every marked row's interval excludes "no effect"; q >= p.
		if (r.significant) {
			EXPECT_TRUE(r.effect.excludes(r.difference ? 0.0 : 1.0)) << r.name << " " << r.effect_text();
		}
		ASSERT_TRUE(r.q.has_value()) << r.name;
		EXPECT_GE(*r.q, *r.p) << r.name;
	}
	// The shifted transfer row is 5 % slower: its interval holds 1.05 and not 1.
	for (auto &r : c.rows)
		if (r.name == "transfer/copy/to_user/4096") {  // NOLINT(bugprone-branch-clone)
			EXPECT_LT(r.effect.lo, 1.05);
			EXPECT_GT(r.effect.hi, 1.05);
			EXPECT_GT(r.effect.lo, 1.0);
		}
	EXPECT_NE(text.find(" *"), std::string::npos) << text;
	EXPECT_EQ(format_comparison(n).find(" *\n"), std::string::npos) << format_comparison(n);
	auto j = comparison_json(c);
	EXPECT_EQ(j["significant_rows"], 4);
	EXPECT_EQ(j["rows"].size(), 6u);

	// A stricter alpha than the q of full separation (6 / 4 x 4.1e-5) marks nothing.
	auto strict = compare(off, on, {.alpha = 5e-5});
	EXPECT_EQ(strict.significant(), 0);
}

TEST(Compare, WarnsWhenTheControlRowsOrTheHostMoved)
{
	auto off = load_cell(fixture("shift/x86_64-6.1-off.json")), on = load_cell(fixture("shift/x86_64-6.1-on.json"));
	auto &ctl = on.rows.at("baseline/kernel_memcpy/4096");
	ctl.median /= 1.25;  // MiB/s: the kernel's own memcpy 25 % slower in B
	auto c = compare(off, on, {});
	ASSERT_EQ(c.warnings.size(), 1u);
	EXPECT_NE(c.warnings[0].find("control rows baseline/kernel_memcpy/"), std::string::npos) << c.warnings[0];
	EXPECT_NE(c.warnings[0].find("x1.25"), std::string::npos) << c.warnings[0];
	EXPECT_NE(format_comparison(c).find("WARNING: the control rows"), std::string::npos);
	ctl.median *= 1.25;
	on.update_context({{"xua_host_other_cores", 0.9}});
	c = compare(off, on, {});
	ASSERT_EQ(c.warnings.size(), 1u);
	EXPECT_NE(c.warnings[0].find("the host was busy while x86_64-6.1-on ran (0.90 cores"), std::string::npos)
		<< c.warnings[0];
}

TEST(Compare, RefusesCellsThatDifferInMoreThanTheProtection)
{
	auto x86 = load_cell(fixture("shift/x86_64-6.1-off.json"));
	auto arm = load_cell(fixture("mismatch/arm64-6.1-on.json"));
	auto m = mismatches(x86, arm);
	ASSERT_FALSE(m.empty());
	auto all = fmt::format("{}", fmt::join(m, "\n"));
	EXPECT_NE(all.find("architecture"), std::string::npos) << all;
	EXPECT_NE(all.find("kernel"), std::string::npos) << all;
	EXPECT_NE(all.find("CPU model"), std::string::npos) << all;
	EXPECT_THROW(compare(x86, arm, {}), Error);
	auto forced = compare(x86, arm, {.allow_mismatch = true});
	EXPECT_EQ(forced.mismatches, m);
	EXPECT_NE(format_comparison(forced).find("COMPARED DESPITE A MISMATCH"), std::string::npos);
	EXPECT_EQ(run_compare(fixture("shift/x86_64-6.1-off.json"), fixture("mismatch/arm64-6.1-on.json"), {}, {}), 2);

	// Same arch and kernel, but one boot with KPTI and another CPU model: refused as well.
	auto on = x86;
	on.name = "x86_64-6.1-on";
	on.update_context({{"xua_protection_requested", "on"}});
	on.update_context({{"xua_qemu_cpu", "max"}});
	EXPECT_TRUE(mismatches(x86, on).empty());
	on.update_context({{"xua_kpti", "Mitigation: PTI"}});
	on.update_context({{"xua_qemu_cpu", "Skylake-Client"}});
	on.update_context({{"xua_host_cpu", "another host"}});
	auto three = mismatches(x86, on);
	ASSERT_EQ(three.size(), 3u);
	EXPECT_NE(fmt::format("{}", fmt::join(three, "\n")).find("host CPU"), std::string::npos);
}

TEST(Report, WritesComparisonsPlotsAndMarkdown)
{
	auto dir = fs::path(XUACCESS_BUILD_DIR) / "test-report";
	fs::remove_all(dir);
	fs::create_directories(dir);
	for (auto f : {"x86_64-6.1-off.json", "x86_64-6.1-on.json"})
		fs::copy_file(fixture(std::string("shift/") + f), dir / f);
	fs::copy_file(fixture("mismatch/arm64-6.1-on.json"), dir / "arm64-6.1-on.json");
	auto summary = write_report(dir);
	EXPECT_NE(summary.find("x86_64-6.1-on (B) against x86_64-6.1-off (A)"), std::string::npos) << summary;
	EXPECT_NE(summary.find("no off or off-kernel partner in this directory"), std::string::npos)
		<< "arm64 has only an on cell";
	auto cmp = nlohmann::json::parse(read_file(dir / "compare-x86_64-6.1.json"));
	EXPECT_EQ(cmp["significant_rows"], 4);
	EXPECT_FALSE(fs::exists(dir / "compare-arm64-6.1.json"));
	for (auto png : {"throughput-x86_64-6.1.png", "guard-x86_64-6.1.png", "mmap-x86_64-6.1.png", "batch-x86_64-6.1.png",
			 "throughput-arm64-6.1.png"}) {
		auto p = dir / "plots" / png;
		ASSERT_TRUE(fs::exists(p)) << p;
		EXPECT_EQ(read_file(p).substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << p;
		EXPECT_GT(fs::file_size(p), 10000u) << p;
	}
	EXPECT_FALSE(fs::exists(dir / "plots" / "guard-arm64-6.1.png")) << "no pair, no guard cost";
	auto md = read_file(dir / "report.md");
	EXPECT_NE(md.find("**Emulated.**"), std::string::npos);
	EXPECT_NE(md.find("![guard-x86_64-6.1.png](plots/guard-x86_64-6.1.png)"), std::string::npos);
	EXPECT_NE(md.find("4 of 6 rows marked"), std::string::npos) << md;
	EXPECT_NE(md.find("Benjamini-Hochberg"), std::string::npos) << md;
	EXPECT_NE(read_file(dir / "plots" / "guard-x86_64-6.1.gp").find("EMULATED"), std::string::npos);
	// The compare-*.json files the report writes are not cells: a second run reads the same cells.
	EXPECT_EQ(write_report(dir), summary);
}

// The report compares each protection with its partner on the same CPU: on vs off, on vs off-kernel, sw vs off.
TEST(Report, PairsEachProtectionWithItsPartner)
{
	auto cell = [](const std::string &prot) {
		nlohmann::json j = {{"context",
				     {{"xua_accel", "tcg"}, {"xua_arch", "arm64"}, {"xua_kernel_series", "6.1-src"},
				      {"xua_protection_requested", prot},
				      {"xua_qemu_cpu", prot == "on" || prot == "off-kernel" ? "cortex-a76" : "cortex-a72"},
				      {"xua_cpu_on", "cortex-a76"}, {"xua_cpu_off", "cortex-a72"},
				      {"xua_cpu_off_note", "cortex-a72 also lacks LSE"}}},
				    {"benchmarks", nlohmann::json::array()}};
		for (int b = 0; b < 3; ++b)
			j["benchmarks"].push_back({{"name", "latency/copy/to_user/64"}, {"run_type", "iteration"},
						   {"real_time", 100.0 + b + (prot == "on" || prot == "sw" ? 50 : 0)},
						   {"xua_boot", b}});
		return std::pair{"arm64-6.1-src-" + prot, j};
	};
	auto titles = [](const std::vector<Group> &groups) {
		std::vector<std::string> out;
		for (auto &g : groups)
			out.push_back(g.name + ": " + (g.guarded ? g.pair_title() + (g.cmp ? ", compared" : ", " + g.refused)
								 : fmt::format("{} alone", g.cells.size())));
		return out;
	};
	std::vector<CellResults> all;
	for (auto p : {"on", "off", "off-kernel", "sw"}) {
		auto [name, j] = cell(p);
		all.push_back(parse_cell(name, j));
	}
	EXPECT_EQ(titles(pair_cells(all)),
		  (std::vector<std::string>{"arm64-6.1-src: on vs off, compared",
					    "arm64-6.1-src-on-vs-off-kernel: on vs off-kernel, compared",
					    "arm64-6.1-src-sw-vs-off: sw vs off, compared"}));
	// The off CPU model's caveat belongs to on vs off alone: the other pairs run one CPU model.
	EXPECT_EQ(cpu_off_note(all[1], all[0]), "cortex-a72 also lacks LSE");
	EXPECT_EQ(cpu_off_note(all[2], all[0]), "") << "on vs off-kernel: one CPU";
	EXPECT_EQ(cpu_off_note(all[1], all[3]), "") << "sw vs off: one CPU";
	EXPECT_EQ(partner_protections("on"), (std::vector<std::string>{"off", "off-kernel"}));
	EXPECT_EQ(partner_protections("off"), (std::vector<std::string>{"on", "sw"}));
	EXPECT_EQ(partner_protections("sw"), std::vector<std::string>{"off"});

	// Without off: on pairs with off-kernel; sw has no partner, and the report says which one it lacks.
	auto dir = fs::path(XUACCESS_BUILD_DIR) / "test-report-pairs";
	fs::remove_all(dir);
	fs::create_directories(dir);
	for (auto p : {"on", "off-kernel", "sw"}) {
		auto [name, j] = cell(p);
		write_file(dir / (name + ".json"), j.dump());
	}
	auto summary = write_report(dir);
	EXPECT_NE(summary.find("arm64-6.1-src-on (B) against arm64-6.1-src-off-kernel (A)"), std::string::npos) << summary;
	EXPECT_NE(summary.find("arm64-6.1-src-sw: emulated (TCG), 3 boots"), std::string::npos) << summary;
	EXPECT_NE(summary.find("(no off partner in this directory)"), std::string::npos) << summary;
	EXPECT_TRUE(fs::exists(dir / "compare-arm64-6.1-src-on-vs-off-kernel.json"));
	EXPECT_TRUE(fs::exists(dir / "plots" / "guard-arm64-6.1-src-on-vs-off-kernel.png"));
	EXPECT_FALSE(fs::exists(dir / "plots" / "guard-arm64-6.1-src-unpaired.png")) << "a lone cell has no guard cost";
	auto md = read_file(dir / "report.md");
	EXPECT_NE(md.find("**guard on vs off-kernel:**"), std::string::npos) << md;
	EXPECT_NE(md.find("| guard off-kernel | guard on | on/off-kernel"), std::string::npos) << md;
	EXPECT_NE(md.find("arm64-6.1-src-sw is not compared: no off cell"), std::string::npos) << md;
}

// A cell of `boots` boots x `reps` repetitions of one ns row, value(boot, repetition) each.
CellResults boot_cell(const std::string &name, int boots, int reps, const std::function<double(int, int)> &value)
{
	nlohmann::json j = {{"context", {{"xua_accel", "tcg"}}}, {"benchmarks", nlohmann::json::array()}};
	for (int b = 0; b < boots; ++b)
		for (int r = 0; r < reps; ++r)
			j["benchmarks"].push_back({{"name", "latency/copy/to_user/64"}, {"run_type", "iteration"},
						   {"real_time", value(b, r)}, {"xua_boot", b}});
	return parse_cell(name, j);
}

// One p rule (issue 21): a row's p is the p of the wilcox.test that gave its interval, where scipy's rule
// (compare.py) would differ: 12 vs 12 boots without ties, exact in R, normal in scipy 1.10.
TEST(Compare, RowPIsTheIntervalsOwnTest)
{
	auto off = boot_cell("x86_64-6.1-off", 12, 1, [](int b, int) { return 1000.0 + 7 * ((b * 5) % 12); });
	auto on = boot_cell("x86_64-6.1-on", 12, 1, [](int b, int) { return 1030.0 + 7 * ((b * 7) % 12) + 0.5; });
	auto c = compare(off, on, {.allow_mismatch = true});
	ASSERT_EQ(c.rows.size(), 1u);
	const auto &r = c.rows[0];
	ASSERT_TRUE(r.p.has_value());
	EXPECT_TRUE(r.effect.exact);
	EXPECT_EQ(*r.p, r.effect.p);
	EXPECT_EQ(*r.p, rank_sum_test(r.b->time_samples(), r.a->time_samples()).p);
	// The A/A of each cell uses the same function.
	ASSERT_TRUE(c.noise_a.has_value());
	auto h = split_interleaved(off.rows.begin()->second.time_samples());
	EXPECT_EQ(c.noise_a->p.begin()->second, rank_sum_test(h.even, h.odd).p);
}

// --max-regression decides on the comparison's own intervals: moving one moves the verdict.
TEST(Compare, MaxRegressionUsesTheComparisonsIntervals)
{
	auto off = load_cell(fixture("shift/x86_64-6.1-off.json")), on = load_cell(fixture("shift/x86_64-6.1-on.json"));
	auto c = compare(off, on, {});
	auto verdict = [&](const Comparison &cc, const std::string &name) {
		for (auto &row : regression(cc, 10).rows)
			if (row.name == name)
				return row.verdict;
		return RegressionVerdict::untestable;
	};
	EXPECT_EQ(verdict(c, "transfer/copy/to_user/4096"), RegressionVerdict::within);
	for (auto &r : c.rows)
		if (r.name == "transfer/copy/to_user/4096") {
			EXPECT_EQ(r.ratio.estimate, r.effect.estimate);  // a ratio row: the same estimate
			r.ratio.lo = 1.2;
			r.ratio.hi = 1.3;
		}
	EXPECT_EQ(verdict(c, "transfer/copy/to_user/4096"), RegressionVerdict::slower);
	// guard/toggle shows B - A in ns, and is checked on its ratio all the same.
	for (auto &r : c.rows)
		if (r.name == "guard/toggle") {
			EXPECT_TRUE(r.difference);
			EXPECT_NEAR(r.ratio.estimate, 20, 1e-6);
		}
}

// --max-regression on fixtures with a known answer (tests/fixtures/compare/README.md).
TEST(Compare, MaxRegressionHasAKnownAnswer)
{
	auto off = load_cell(fixture("shift/x86_64-6.1-off.json")), on = load_cell(fixture("shift/x86_64-6.1-on.json"));
	auto c = compare(off, on, {});
	// Time clock, 10 %: x1.5 and x20 are slower beyond it for sure; x1.10 sits on the limit (its interval
	// holds 1.10 and less); x1.05 and the unshifted rows are within.
	auto r = regression(c, 10);
	std::map<std::string, RegressionVerdict> v;
	for (auto &row : r.rows)
		v[row.name] = row.verdict;
	EXPECT_EQ(v.at("batch/get_user/16"), RegressionVerdict::slower);
	EXPECT_EQ(v.at("guard/toggle"), RegressionVerdict::slower);
	EXPECT_EQ(v.at("latency/copy/to_user/64"), RegressionVerdict::inconclusive);
	EXPECT_EQ(v.at("transfer/copy/to_user/4096"), RegressionVerdict::within);
	EXPECT_EQ(v.at("transfer/raw_window/to_user/4096"), RegressionVerdict::within);
	EXPECT_EQ(v.at("baseline/kernel_memcpy/4096"), RegressionVerdict::within);
	EXPECT_TRUE(r.failed());
	EXPECT_FALSE(regression(c, 2000).failed()) << "nothing is 20x slower beyond 2000 %";
	EXPECT_EQ(run_compare(fixture("shift/x86_64-6.1-off.json"), fixture("shift/x86_64-6.1-on.json"), {}, {}, 10.0), 1);
	EXPECT_EQ(run_compare(fixture("none/x86_64-6.1-off.json"), fixture("none/x86_64-6.1-on.json"), {}, {}, 1.0), 0);

	// Exact clock (icount): one boot, values compared as they are (within kExactTolerance).
	auto exact = [](const std::string &name, double v) {
		auto cell = boot_cell(name, 1, 1, [v](int, int) { return v; });
		cell.update_context({{"xua_clock", "icount"}});
		return cell;
	};
	auto a = exact("x86_64-6.1-off", 1000), b6 = exact("x86_64-6.1-on", 1060), b4 = exact("x86_64-6.1-on", 1040),
	     same = exact("x86_64-6.1-on", 1000.02);
	auto c6 = compare(a, b6, {.allow_mismatch = true}), c4 = compare(a, b4, {.allow_mismatch = true}),
	     c0 = compare(a, same, {.allow_mismatch = true});
	EXPECT_TRUE(c6.exact);
	EXPECT_TRUE(regression(c6, 5).failed()) << "+6 % > 5 %";
	EXPECT_FALSE(regression(c4, 5).failed()) << "+4 % <= 5 %";
	EXPECT_TRUE(c6.rows[0].significant);
	EXPECT_FALSE(c0.rows[0].significant) << "2e-5 apart: what two icount boots differ by";
	EXPECT_FALSE(c0.noise_a.has_value()) << "no split-half A/A under an exact clock";
}

TEST(Results, BootsAreTheSamples)
{
	// Boot 0 around 100, boot 1 around 200, boot 2 around 150: three samples, the boots' medians.
	auto c = boot_cell("x86_64-6.1-on", 3, 3, [](int b, int r) { return (b == 0 ? 100 : b == 1 ? 200 : 150) + r; });
	const auto &row = c.rows.at("latency/copy/to_user/64");
	EXPECT_EQ(row.values.size(), 9u);
	EXPECT_EQ(row.samples, (std::vector<double>{101, 201, 151}));
	EXPECT_DOUBLE_EQ(row.median, 151);
	EXPECT_EQ(c.boots, 3);
	EXPECT_EQ(c.samples, 3);
	EXPECT_TRUE(c.per_boot());
	EXPECT_EQ(c.sampling(), "3 boots x 3 repetition(s)");
	// One boot: the repetitions are the samples.
	auto one = boot_cell("x86_64-6.1-on", 1, 4, [](int, int r) { return 10.0 + r; });
	EXPECT_EQ(one.rows.at("latency/copy/to_user/64").samples.size(), 4u);
	EXPECT_FALSE(one.per_boot());
	EXPECT_EQ(one.sampling(), "4 repetition(s) in 1 boot");
}

TEST(Compare, TestsOverBootsAndSaysWhatLimitsTheTest)
{
	EXPECT_NEAR(wilcox_min_p(3, 3), 0.1, 1e-12);
	EXPECT_NEAR(wilcox_min_p(4, 4), 2.0 / 70, 1e-12);
	EXPECT_NEAR(wilcox_min_p(5, 5), 2.0 / 252, 1e-12);
	// Repetitions inside each boot barely move; the boots of one cell move a lot, and B's boots are all
	// slower than A's by 10 %: 5 vs 5 boots, fully separated, p = 2/252.
	auto off = boot_cell("x86_64-6.1-off", 5, 2, [](int b, int r) { return 1000 * (1 + 0.01 * b) + r * 0.1; });
	auto on = boot_cell("x86_64-6.1-on", 5, 2, [](int b, int r) { return 1100 * (1 + 0.01 * b) + r * 0.1; });
	auto c = compare(off, on, {.allow_mismatch = true});
	ASSERT_EQ(c.rows.size(), 1u);
	EXPECT_TRUE(c.per_boot());
	EXPECT_TRUE(c.test_notes.empty()) << c.test_notes.front();
	EXPECT_NEAR(*c.rows[0].p, 2.0 / 252, 1e-12);
	EXPECT_TRUE(c.rows[0].significant);
	// Interleaved boots: the same repetitions would separate cleanly inside one boot, the boots do not.
	auto on2 = boot_cell("x86_64-6.1-on", 5, 2, [](int b, int r) { return 1000 * (1.005 + 0.01 * b) + r * 0.1; });
	auto c2 = compare(off, on2, {.allow_mismatch = true});
	EXPECT_FALSE(c2.rows[0].significant) << *c2.rows[0].p;
	// 3 vs 3 boots cannot reach 0.05; one boot says that the test sees only that boot.
	auto off3 = boot_cell("x86_64-6.1-off", 3, 2, [](int b, int) { return 100.0 + b; });
	auto on3 = boot_cell("x86_64-6.1-on", 3, 2, [](int b, int) { return 200.0 + b; });
	auto few = compare(off3, on3, {.allow_mismatch = true});
	ASSERT_EQ(few.test_notes.size(), 2u);
	EXPECT_NE(few.test_notes[0].find("no row can reach p < 0.05"), std::string::npos) << few.test_notes[0];
	EXPECT_NE(few.test_notes[1].find("the intervals are at 90 % (not 95 %)"), std::string::npos) << few.test_notes[1];
	EXPECT_FALSE(few.rows[0].significant);
	auto off1 = boot_cell("x86_64-6.1-off", 1, 9, [](int, int r) { return 100.0 + r; });
	auto on1 = boot_cell("x86_64-6.1-on", 1, 9, [](int, int r) { return 200.0 + r; });
	auto single = compare(off1, on1, {.allow_mismatch = true});
	ASSERT_EQ(single.test_notes.size(), 2u);
	EXPECT_NE(single.test_notes[0].find("x86_64-6.1-off has one boot"), std::string::npos) << single.test_notes[0];
	EXPECT_NE(format_comparison(single).find("WARNING: x86_64-6.1-on has one boot"), std::string::npos);
}

TEST(Report, MmapAgainstCopyAsRunsOfSizes)
{
	// MiB/s per size: mmap ahead at the small sizes, behind in the middle, level (a tie counts for mmap) at the end.
	auto row = [](const std::string &name, double mib) {
		return nlohmann::json{{"name", name + "/manual_time"}, {"run_type", "iteration"}, {"real_time", 1.0},
				      {"bytes_per_second", mib * (1 << 20)}};
	};
	nlohmann::json j = {{"context", nlohmann::json::object()}, {"benchmarks", nlohmann::json::array()}};
	const std::vector<std::tuple<int, double, double>> points = {
		{8, 5, 4}, {64, 30, 29}, {4096, 250, 420}, {32768, 34, 500}, {1048576, 500, 500}};
	for (auto [size, mm, copy] : points) {
		j["benchmarks"].push_back(row(fmt::format("mmap/produce+read/{}", size), mm));
		j["benchmarks"].push_back(row(fmt::format("mmap/copy_to_user/{}", size), copy));
	}
	auto c = parse_cell("x86_64-6.1-on", j);
	EXPECT_EQ(mmap_vs_copy(c, true), "mmap faster at 8 B-64 B, copy ioctl faster at 4 KiB-32 KiB, mmap faster at 1 MiB");
	EXPECT_EQ(mmap_vs_copy(c, false), "not measured");
}

TEST(Accel, KvmOnlyForTheHostArchAndWithDevKvm)
{
	// On this machine, whichever arch it is (the plan for the other host arch: HostArch.* in test_hostarch.cpp).
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
