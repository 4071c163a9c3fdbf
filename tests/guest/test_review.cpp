// Issue 22, the review's findings: one test (or a few) per finding, each of which failed on the module
// before the fix. What the old module printed is in the commit messages and the README.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers.hpp"

using namespace xua;
using namespace xua::test;
using namespace std::chrono_literals;

namespace {

#if defined(__x86_64__)
constexpr unsigned long kEflagsAC = 0x40000;
constexpr long kNrIoctl32 = 54;  // __NR_ioctl of the i386 table, which int $0x80 uses

// ioctl(fd, cmd, arg) through the 32-bit compat entry (int $0x80) with EFLAGS.AC set by user space, as
// the review did (pushfq; orq $0x40000,(%rsp); popfq). The 64-bit syscall entry masks AC; int $0x80 only
// runs ASM_CLAC, a NOP where the kernel does not use SMAP. AC is cleared again right after the call: in
// user mode it turns on alignment checking.
long int80_ioctl_with_ac(int fd, unsigned long cmd, uint32_t arg)
{
	long ret = kNrIoctl32;
	asm volatile("pushfq\n\t"
		     "orq $0x40000, (%%rsp)\n\t"
		     "popfq\n\t"
		     "int $0x80\n\t"
		     "pushfq\n\t"
		     "andq $~0x40000, (%%rsp)\n\t"
		     "popfq"
		     : "+a"(ret)
		     : "b"(fd), "c"(static_cast<uint32_t>(cmd)), "d"(arg)
		     : "memory", "cc", "r8", "r9", "r10", "r11");
	return ret;
}
#endif

#if defined(__aarch64__)
// MTE's user ABI (Documentation/arch/arm64/memory-tagging-extension.rst), spelled out so that older headers do.
constexpr unsigned long kHwcap2Mte = 1ul << 18;  // HWCAP2_MTE
constexpr int kProtMte = 0x20;                    // PROT_MTE
constexpr unsigned long kTaggedAddrEnable = 1ul << 0, kMteTcfSync = 1ul << 1, kMteTagShift = 3;

// The pointer with logical tag `tag` in bits 59:56 (the tagged-address ABI lets the kernel take it).
uint8_t *with_tag(uint8_t *p, unsigned tag)
{
	return reinterpret_cast<uint8_t *>((reinterpret_cast<uintptr_t>(p) & ~(0xfull << 56)) |
					   (uintptr_t(tag) << 56));
}

// STG: the 16-byte granule at p gets p's logical tag as its allocation tag. Encoded by hand: the guest
// programs are built for ARMv8.0, and ".arch_extension memtag" alone does not let gas take STG there.
void set_memory_tag(uint8_t *p)
{
	register uint8_t *x0 asm("x0") = p;
	asm volatile(".inst 0xd9200800  // stg x0, [x0]" : : "r"(x0) : "memory");
}
#endif

// 1. User space must not be able to make the window check count a leak the module never caused.
TEST(Review, UserSetAcThroughInt80IsNotAViolation)
{
#if !defined(__x86_64__)
	GTEST_SKIP() << "EFLAGS.AC and int $0x80 are x86";
#else
	// A kernel without the 32-bit entry (CONFIG_IA32_EMULATION=n: the project's debug kernels) answers
	// int $0x80 with a general protection fault. Its entry is entry_INT80_compat up to 6.6, int80_emulation
	// from 6.7.
	if (!kernel_has_symbol({"entry_INT80_compat", "int80_emulation", "asm_int80_emulation"}))
		GTEST_SKIP() << "this kernel has no int $0x80 entry (CONFIG_IA32_EMULATION=n)";
	Device dev;
	const auto before = dev.info();
	for (int i = 0; i < 3; ++i)
		ASSERT_EQ(int80_ioctl_with_ac(dev.fd(), XUA_IOC_NULL, 0), 0) << "call " << i;
	const auto after = dev.info();
	std::printf("# int $0x80 + AC, 3 x XUA_IOC_NULL: violations %llu -> %llu (kernel %s SMAP)\n",
		    (unsigned long long)before.violations, (unsigned long long)after.violations,
		    before.prot_flags & XUA_PROT_KERNEL_USES ? "uses" : "does not use");
	EXPECT_EQ(after.violations, before.violations) << "user space's own EFLAGS.AC counted as the module's leak";

	// The fault really reached the module: INFO through the same path reads RFLAGS. Where the kernel does
	// not use SMAP, AC arrives set; where it does, the entry's clac cleared it. (INFO's argument must be a
	// 32-bit address for the compat path.)
	auto *low = static_cast<xua_info *>(
		mmap(nullptr, page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0));
	ASSERT_NE(low, MAP_FAILED);
	*low = make_arg<xua_info>();
	ASSERT_EQ(int80_ioctl_with_ac(dev.fd(), XUA_IOC_INFO, static_cast<uint32_t>(addr(low))), 0);
	bool ac_in_module = low->arch_regs[XUA_X86_REG_RFLAGS] & kEflagsAC;
	std::printf("# INFO through int $0x80 with AC set: RFLAGS 0x%llx in the module, window_open %d\n",
		    (unsigned long long)low->arch_regs[XUA_X86_REG_RFLAGS],
		    (low->prot_flags & XUA_PROT_WINDOW_OPEN) != 0);
	EXPECT_EQ(ac_in_module, !(before.prot_flags & XUA_PROT_KERNEL_USES))
		<< "AC reaches the module exactly where the kernel does not use SMAP";
	EXPECT_FALSE(low->prot_flags & XUA_PROT_WINDOW_OPEN) << "user space's AC reported as an open window";
	munmap(low, page_size());
	EXPECT_EQ(dev.info().violations, before.violations);

	// The positive control still fires: SELFTEST plants a leak and the detector sees it.
	xua_selftest st{};
	int err = 0;
	auto report = dev.selftest(st, &err);
	ASSERT_EQ(err, 0);
	const auto end = dev.info();
	std::printf("# SELFTEST after it: controls_seen %llu -> %llu, violations %llu\n",
		    (unsigned long long)after.controls_seen, (unsigned long long)end.controls_seen,
		    (unsigned long long)end.violations);
	EXPECT_EQ(end.controls_seen, after.controls_seen + 1) << report;
	EXPECT_EQ(end.violations, before.violations);
#endif
}

// 3. Every iteration of a timed loop is checked, not a sample: a leak planted after iteration 3 of 10
// (not the first, not a bookkeeping step, not the last) is seen right there, before iteration 4's own
// primitive would close it.
TEST(Review, APlantedLeakInATimedLoopIsSeenWhereItIs)
{
	Device dev;
	const auto info = dev.info();
	const bool live = info.prot_flags & XUA_PROT_KERNEL_USES;
	std::vector<uint8_t> buf(64);
	for (uint32_t method : {uint32_t(XUA_METHOD_RAW), uint32_t(XUA_METHOD_RAW_GET_PUT), uint32_t(XUA_METHOD_COPY)}) {
		const auto before = dev.info();
		auto t = make_arg<xua_transfer>();
		t.method = method;
		t.dir = XUA_DIR_TO_USER;
		t.user_addr = addr(buf.data());
		t.len = buf.size();
		t.iterations = 10;
		t.flags = XUA_TRANSFER_F_PLANT_LEAK;
		t.plant_at = 3;
		ASSERT_EQ(dev.transfer(t), 0) << method_name(info, method);
		const auto after = dev.info();
		std::printf("# %s, leak planted after iteration 3 of 10: seen %d, controls_seen +%llu, violations +%llu\n",
			    method_name(info, method).c_str(), (t.out_flags & XUA_OUT_PLANT_SEEN) != 0,
			    (unsigned long long)(after.controls_seen - before.controls_seen),
			    (unsigned long long)(after.violations - before.violations));
		EXPECT_EQ(t.checks, 0u) << "no bookkeeping step in 10 iterations of 64 bytes";
		EXPECT_EQ((t.out_flags & XUA_OUT_PLANT_SEEN) != 0, live) << method_name(info, method);
		EXPECT_EQ(after.controls_seen - before.controls_seen, live ? 1u : 0u);
		EXPECT_EQ(after.violations, before.violations) << "a planted leak is a control, not a violation";
		EXPECT_EQ(t.iterations_done, 10u);
	}
	auto bad = make_arg<xua_transfer>();
	bad.method = XUA_METHOD_COPY;
	bad.user_addr = addr(buf.data());
	bad.len = buf.size();
	bad.iterations = 10;
	bad.flags = XUA_TRANSFER_F_PLANT_LEAK;
	bad.plant_at = 11;
	EXPECT_EQ(dev.transfer(bad), -EINVAL) << "plant after the last iteration";
	bad.plant_at = 0;
	EXPECT_EQ(dev.transfer(bad), -EINVAL);
	bad.flags = 0;
	bad.plant_at = 3;
	EXPECT_EQ(dev.transfer(bad), -EINVAL) << "plant_at without the flag";
	EXPECT_GT(info.window_check_ps, 0u) << "the check's cost is measured";
	std::printf("# one window check: %llu ps (measured at load)\n", (unsigned long long)info.window_check_ps);
}

// 6. A timed loop that sees a pending signal stops and returns 0 with its partial figures and a flag, not
// EINTR: signal_pending() is also true with no signal to deliver (freezer, cgroup freeze, io_uring's
// notify signal).
TEST(Review, SignalStopsATimedLoopWithItsResults)
{
	struct sigaction sa{}, old{};
	sa.sa_handler = count_usr1;  // no SA_RESTART
	ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
	g_usr1 = 0;
	Device dev;
	std::vector<uint8_t> buf(65536);
	pthread_t self = pthread_self();
	std::thread killer([self] {
		std::this_thread::sleep_for(150ms);
		pthread_kill(self, SIGUSR1);
	});
	int err = 0;
	auto t = dev.transfer(XUA_METHOD_COPY, XUA_DIR_TO_USER, buf.data(), buf.size(), 1000000000, 0, &err);
	killer.join();
	sigaction(SIGUSR1, &old, nullptr);
	std::printf("# interrupted loop: err %d, iterations_done %llu, out_flags 0x%x\n", err,
		    (unsigned long long)t.iterations_done, t.out_flags);
	EXPECT_EQ(err, 0) << "the loop's work is reported, not thrown away as EINTR";
	EXPECT_TRUE(t.out_flags & XUA_OUT_INTERRUPTED);
	EXPECT_FALSE(t.out_flags & XUA_OUT_TRUNCATED);
	EXPECT_GT(t.iterations_done, 0u);
	EXPECT_LT(t.iterations_done, 1000000000u);
	EXPECT_EQ(t.bytes_moved, t.iterations_done * buf.size());
	EXPECT_EQ(g_usr1.load(), 1) << "the signal is delivered on the way out";
}

// 6. The one EINTR left: a wait for another thread's command on the same file, interrupted by a handled
// signal without SA_RESTART. Nothing was done, so nothing is written back (the header says so).
TEST(Review, InterruptedLockWaitIsEintrWithNothingWritten)
{
	struct sigaction sa{}, old{};
	sa.sa_handler = count_usr1;
	ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
	Device dev;
	std::vector<uint8_t> a(65536), b(65536);
	std::atomic<bool> started{false};
	std::thread holder([&] {
		started = true;
		int err = 0;
		dev.transfer(XUA_METHOD_COPY, XUA_DIR_TO_USER, a.data(), a.size(), 1000000000, 0, &err);
	});
	while (!started)
		std::this_thread::sleep_for(1ms);
	std::this_thread::sleep_for(100ms);  // the holder is inside its (1 s) loop, holding the file's lock
	pthread_t self = pthread_self();
	std::thread killer([self] {
		std::this_thread::sleep_for(200ms);
		pthread_kill(self, SIGUSR1);
	});
	auto t = make_arg<xua_transfer>();
	t.method = XUA_METHOD_COPY;
	t.dir = XUA_DIR_TO_USER;
	t.user_addr = addr(b.data());
	t.len = b.size();
	t.iterations = 1;
	t.elapsed_ns = t.iterations_done = t.bytes_moved = 0xabcdef;
	t.out_flags = 0xabcdef;
	int err = dev.transfer(t);
	killer.join();
	holder.join();
	sigaction(SIGUSR1, &old, nullptr);
	std::printf("# lock wait: err %d, iterations_done 0x%llx\n", err, (unsigned long long)t.iterations_done);
	EXPECT_EQ(err, -EINTR);
	EXPECT_EQ(t.iterations_done, 0xabcdefu) << "written back although nothing was done";
	EXPECT_EQ(t.elapsed_ns, 0xabcdefu);
	EXPECT_EQ(t.out_flags, 0xabcdefu);
}

// 6. The cgroup freezer makes signal_pending() true with no signal at all: a frozen and thawed call must
// not fail with EINTR.
TEST(Review, CgroupFreezeIsNotEintr)
{
	const std::string root = "/sys/fs/cgroup";
	if (access((root + "/cgroup.controllers").c_str(), F_OK) != 0) {
		mkdir(root.c_str(), 0755);
		if (mount("none", root.c_str(), "cgroup2", 0, nullptr) != 0)
			GTEST_SKIP() << "no cgroup2 here: " << std::strerror(errno);
	}
	const std::string cg = root + "/xua-freeze";
	rmdir(cg.c_str());
	ASSERT_EQ(mkdir(cg.c_str(), 0755), 0) << std::strerror(errno);
	if (access((cg + "/cgroup.freeze").c_str(), F_OK) != 0) {
		rmdir(cg.c_str());
		GTEST_SKIP() << "this kernel's cgroup2 has no cgroup.freeze";
	}
	int pfd[2];
	ASSERT_EQ(pipe(pfd), 0);
	pid_t child = fork();
	if (child == 0) {
		close(pfd[0]);
		Device dev;
		std::vector<uint8_t> buf(65536);
		int err = 0;
		char go = 1;
		if (write(pfd[1], &go, 1) != 1)
			_exit(98);
		auto t = dev.transfer(XUA_METHOD_COPY, XUA_DIR_TO_USER, buf.data(), buf.size(), 1000000000, 0, &err);
		int r = write(pfd[1], &err, sizeof(err));
		uint32_t f = t.out_flags;
		r += write(pfd[1], &f, sizeof(f));
		_exit(r == 8 ? 0 : 97);
	}
	close(pfd[1]);
	auto put = [](const std::string &path, const std::string &v) {
		std::ofstream f(path);
		f << v;
		f.flush();
		return f.good();
	};
	ASSERT_TRUE(put(cg + "/cgroup.procs", std::to_string(child)));
	char go = 0;
	ASSERT_EQ(read(pfd[0], &go, 1), 1);
	std::this_thread::sleep_for(200ms);
	ASSERT_TRUE(put(cg + "/cgroup.freeze", "1"));
	std::this_thread::sleep_for(300ms);
	ASSERT_TRUE(put(cg + "/cgroup.freeze", "0"));
	int err = 1;
	uint32_t flags = 0;
	ASSERT_EQ(read(pfd[0], &err, sizeof(err)), static_cast<ssize_t>(sizeof(err)));
	ASSERT_EQ(read(pfd[0], &flags, sizeof(flags)), static_cast<ssize_t>(sizeof(flags)));
	int st = 0;
	waitpid(child, &st, 0);
	close(pfd[0]);
	put(root + "/cgroup.procs", std::to_string(getpid()));
	rmdir(cg.c_str());
	std::printf("# frozen and thawed during a timed loop: err %d, out_flags 0x%x\n", err, flags);
	EXPECT_EQ(err, 0) << "EINTR with no signal at all";
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

// 4. arm64: the raw modes that clear PAN (pan-off, toggle) access user memory with privileged LDP/STP. On
// PROT_MTE memory through a pointer whose tag does not match the memory's, such an access must not be
// tag-checked: the kernel sets PSTATE.TCO around its privileged user accesses (uaccess_enable_privileged()),
// and a kernel with hardware tag-based KASAN checks its own accesses (SCTLR_EL1.TCF sync), so without TCO the
// copy faults half-way. The kernel's copy (LDTR, checked with the task's own TCF0) refuses the same pointer:
// that is the control that tags are checked at all. Runs where the CPU has MTE: the arm64 <series>-mte cells
// (-cpu max, virt,mte=on; ci/kconfig/mte.config).
TEST(Review, PrivilegedCopiesOfTaggedUserMemoryAreNotTagChecked)
{
#if !defined(__aarch64__)
	GTEST_SKIP() << "arm64 only (MTE)";
#else
	if (!(getauxval(AT_HWCAP2) & kHwcap2Mte))
		GTEST_SKIP() << "this CPU has no MTE (the arm64 <series>-mte cells have: -cpu max, virt,mte=on)";
	ASSERT_EQ(prctl(PR_SET_TAGGED_ADDR_CTRL, kTaggedAddrEnable | kMteTcfSync | (0xfffeul << kMteTagShift), 0, 0, 0),
		  0)
	    << std::strerror(errno);
	struct Untag {  // the later tests run in this process: back to no tagged addresses, however this one ends
		~Untag() { prctl(PR_SET_TAGGED_ADDR_CTRL, 0, 0, 0, 0); }
	} untag;
	const size_t n = page_size();
	Mapping m(n, PROT_READ | PROT_WRITE | kProtMte, MAP_PRIVATE | MAP_ANONYMOUS);
	ASSERT_TRUE(m.ok());
	uint8_t *right = with_tag(m.data(), 3), *wrong = with_tag(m.data(), 5);
	for (size_t off = 0; off < n; off += 16)
		set_memory_tag(right + off);
	Device dev;
	auto info = dev.info();
	auto want = pattern(n, 41), back = std::vector<uint8_t>(n);

	int err = 0;
	dev.transfer(XUA_METHOD_COPY, XUA_DIR_FROM_USER, wrong, n, 1, 0, &err);
	EXPECT_EQ(err, -EFAULT) << "copy_from_user through a mismatched tag: the task asked for synchronous tag checks";
	int privileged = 0;
	for (uint32_t mode = 0; mode < info.nr_modes; ++mode) {
		if (!(info.modes[mode].flags & XUA_MODE_TOGGLES_GUARD))
			continue;  // ldtr: LDTR, checked as copy is
		++privileged;
		const char *name = info.modes[mode].name;
		std::memcpy(right, want.data(), n);
		ASSERT_EQ(dev.load_kernel_buffer(std::vector<uint8_t>(n).data(), n), 0);
		auto t = dev.transfer(XUA_METHOD_RAW, XUA_DIR_FROM_USER, wrong, n, 1, mode, &err);
		std::printf("# raw/%s from_user through tag 5 on tag-3 memory: err %d, not_copied %llu\n", name, err,
			    (unsigned long long)t.not_copied);
		EXPECT_EQ(err, 0) << name << ": a privileged read was tag-checked (PSTATE.TCO not set)";
		ASSERT_EQ(dev.read_kernel_buffer(back.data(), n), 0);
		EXPECT_EQ(back, want) << name << " from_user";

		auto other = pattern(n, 42);
		ASSERT_EQ(dev.load_kernel_buffer(other.data(), n), 0);
		std::memset(right, 0, n);
		t = dev.transfer(XUA_METHOD_RAW, XUA_DIR_TO_USER, wrong, n, 1, mode, &err);
		std::printf("# raw/%s to_user through tag 5 on tag-3 memory: err %d, not_copied %llu\n", name, err,
			    (unsigned long long)t.not_copied);
		EXPECT_EQ(err, 0) << name << ": a privileged write was tag-checked (PSTATE.TCO not set)";
		EXPECT_EQ(std::memcmp(right, other.data(), n), 0) << name << " to_user";
	}
	EXPECT_GT(privileged, 0) << "no raw mode clears PAN on this CPU";
#endif
}

// 4, FEAT_EPAN. Where the kernel uses EPAN it maps PROT_EXEC-only memory execute-only: LDTR (copy, raw/ldtr)
// cannot read it, while a privileged load with PAN clear (raw/pan-off, raw/toggle) can, as the kernel's own
// privileged accesses can. That difference is named in uapi.h and docs/module.md; this holds the module to what
// they say where the CPU has EPAN (QEMU 8.1 and later, -cpu max: the arm64 <series>-mte cells on Debian 13), told
// by its effect: copy_from_user refuses a PROT_EXEC-only page. Elsewhere such a page is readable and this skips.
TEST(Review, ExecuteOnlyPagesAreReadableToPrivilegedModesOnly)
{
#if !defined(__aarch64__)
	GTEST_SKIP() << "arm64 only (FEAT_EPAN)";
#else
	const size_t n = page_size();
	Mapping m(n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	ASSERT_TRUE(m.ok());
	auto want = pattern(n, 43), back = std::vector<uint8_t>(n);
	std::memcpy(m.data(), want.data(), n);
	ASSERT_EQ(mprotect(m.data(), n, PROT_EXEC), 0) << std::strerror(errno);
	Device dev;
	auto info = dev.info();
	int err = 0;
	dev.transfer(XUA_METHOD_COPY, XUA_DIR_FROM_USER, m.data(), n, 1, 0, &err);
	if (err == 0)
		GTEST_SKIP() << "copy_from_user reads a PROT_EXEC-only page: no execute-only mappings here (no FEAT_EPAN)";
	EXPECT_EQ(err, -EFAULT);
	for (uint32_t mode = 0; mode < info.nr_modes; ++mode) {
		bool privileged = info.modes[mode].flags & XUA_MODE_TOGGLES_GUARD;
		ASSERT_EQ(dev.load_kernel_buffer(std::vector<uint8_t>(n).data(), n), 0);
		dev.transfer(XUA_METHOD_RAW, XUA_DIR_FROM_USER, m.data(), n, 1, mode, &err);
		std::printf("# raw/%s from_user of an execute-only page: err %d\n", info.modes[mode].name, err);
		if (!privileged) {
			EXPECT_EQ(err, -EFAULT) << info.modes[mode].name << ": LDTR reads as EL0 does";
			continue;
		}
		EXPECT_EQ(err, 0) << info.modes[mode].name << ": uapi.h says a privileged load reads it";
		ASSERT_EQ(dev.read_kernel_buffer(back.data(), n), 0);
		EXPECT_EQ(back, want) << info.modes[mode].name;
	}
#endif
}

// 8. INFO's raw registers (CR4, RFLAGS; SCTLR, TTBR0 under software PAN: a physical address) only for
// CAP_SYS_ADMIN, also when a privileged opener hands the fd to anyone.
TEST(Review, RawRegistersOnlyForCapSysAdmin)
{
	Device dev;
	auto mine = dev.info();
	bool any = false;
	for (auto r : mine.arch_regs)
		any |= r != 0;
	EXPECT_TRUE(any) << "root sees the registers";
	int fd = dev.fd();
	int st = as_nobody([fd] {
		auto i = make_arg<xua_info>();
		if (ioctl(fd, XUA_IOC_INFO, &i) != 0)
			return 2;
		int nonzero = 0;
		for (auto r : i.arch_regs)
			nonzero += r != 0;
		std::printf("# INFO without CAP_SYS_ADMIN: %d non-zero raw registers (0x%llx 0x%llx 0x%llx 0x%llx)\n",
			    nonzero, (unsigned long long)i.arch_regs[0], (unsigned long long)i.arch_regs[1],
			    (unsigned long long)i.arch_regs[2], (unsigned long long)i.arch_regs[3]);
		std::fflush(stdout);
		if (nonzero)
			return 1;
		return i.flags & XUA_INFO_REGS_HIDDEN ? 0 : 3;
	});
	EXPECT_EQ(st, 0) << "1: raw registers reached a caller without CAP_SYS_ADMIN; 3: not flagged hidden";
}

// 9. A shared mapping of a read-only fd is a shared mapping (VM_MAYSHARE; VM_SHARED is cleared for it).
TEST(Review, SharedMappingOfAReadOnlyFd)
{
	Device ro(XUA_DEVICE, O_RDONLY | O_CLOEXEC);
	auto m = ro.map(page_size(), 0, PROT_READ, MAP_SHARED);
	std::printf("# MAP_SHARED PROT_READ of an O_RDONLY fd: %s\n", m.ok() ? "mapped" : std::strerror(m.error()));
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	EXPECT_EQ(m.data()[0], 0);
	auto w = ro.map(page_size(), 0, PROT_READ | PROT_WRITE, MAP_SHARED);
	EXPECT_FALSE(w.ok()) << "a writable shared mapping of a read-only fd";
}

// 9. MADV_DONTNEED on the shared buffer drops the page-table entries, not the buffer: the next access sees
// the same bytes (no SIGBUS).
TEST(Review, DontneedKeepsTheSharedBuffer)
{
	Device dev;
	const size_t len = 4 * page_size();
	auto m = dev.map(len);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	fill(m.data(), len, 22);
	pid_t pid = fork();
	if (pid == 0) {
		if (madvise(m.data(), len, MADV_DONTNEED) != 0)
			_exit(2);
		auto want = pattern(len, 22);
		_exit(std::memcmp(m.data(), want.data(), len) == 0 ? 0 : 1);
	}
	int st = 0;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	std::printf("# access after MADV_DONTNEED: %s\n",
		    WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : WEXITSTATUS(st) == 0 ? "same bytes" : "wrong bytes");
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

// 9. SELFTEST maps its pages into the caller's address space: another thread of the caller could change
// its results, and its final munmap would remove what that thread mapped there. It refuses a shared mm.
TEST(Review, SelftestRefusesASharedAddressSpace)
{
	Device dev;
	std::mutex mu;
	std::condition_variable cv;
	bool done = false;
	std::thread sibling([&] {
		std::unique_lock<std::mutex> lk(mu);
		cv.wait(lk, [&] { return done; });
	});
	auto st = make_arg<xua_selftest>();
	std::vector<char> buf(65536);
	st.report_addr = addr(buf.data());
	st.report_len = buf.size();
	int err = dev.ioctl(XUA_IOC_SELFTEST, &st);
	{
		std::lock_guard<std::mutex> lk(mu);
		done = true;
	}
	cv.notify_all();
	sibling.join();
	std::printf("# SELFTEST with a sibling thread: %d (%s)\n", err, err ? std::strerror(-err) : "ran");
	EXPECT_EQ(err, -EBUSY);
	// Alone again: it runs. (A joined thread drops its hold on the mm a moment after pthread_join
	// returns: the kernel wakes the joiner in mm_release(), before exit_mm()'s mmput.)
	xua_selftest ok{};
	for (int i = 0; i < 100; ++i) {
		dev.selftest(ok, &err);
		if (err != -EBUSY)
			break;
		std::this_thread::sleep_for(10ms);
	}
	EXPECT_EQ(err, 0);
	EXPECT_EQ(ok.failed, 0u);
}

// 10. The ABI moved off ioctl magic 0xB6 (DFL_FPGA_MAGIC); a caller built against ABI 2 gets a clear
// error (EPROTO, and a kernel log line naming both versions) instead of a foreign command's answer.
TEST(Review, OldAbiCallersGetAClearError)
{
	static_assert(XUA_IOC_MAGIC != 0xB6, "0xB6 is DFL_FPGA_MAGIC");
	Device dev;
	// ABI 2's INFO: _IOWR(0xB6, 0, struct xua_info) with its 552-byte struct, { size, version = 2 }.
	std::vector<uint8_t> v2(552, 0);
	uint32_t hdr[2] = {552, 2};
	std::memcpy(v2.data(), hdr, sizeof(hdr));
	unsigned long cmd = _IOC(_IOC_READ | _IOC_WRITE, 0xB6, 0x00, 552);
	int r = ::ioctl(dev.fd(), cmd, v2.data()) == 0 ? 0 : -errno;
	std::printf("# ABI 2 INFO on this module: %d (%s)\n", r, r ? std::strerror(-r) : "answered");
	EXPECT_EQ(r, -EPROTO);
	// ABI 2's NULL.
	r = ::ioctl(dev.fd(), _IO(0xB6, 0x07)) == 0 ? 0 : -errno;
	EXPECT_EQ(r, -EPROTO);
	// Anything else under 0xB6 is simply not ours.
	r = ::ioctl(dev.fd(), _IO(0xB6, 0x40)) == 0 ? 0 : -errno;
	EXPECT_EQ(r, -ENOTTY);
}

}  // namespace
