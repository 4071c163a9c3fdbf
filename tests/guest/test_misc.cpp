// TOGGLE, SELFTEST, the time budget and signals, concurrency, unprivileged callers, NULL.
#include <atomic>
#include <csignal>
#include <cstring>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/wait.h>

#include "helpers.hpp"

using namespace xua;
using namespace xua::test;

namespace {

TEST(Toggle, PairsRunAndSayWhetherTheyToggle)
{
	Device dev;
	auto info = dev.info();
	int err = 0;
	auto t = dev.toggle(100000, &err);
	ASSERT_EQ(err, 0);
	EXPECT_EQ(t.iterations_done, 100000u);
	EXPECT_GT(t.elapsed_ns, 0u);
	// Only a hardware guard is toggled (stac/clac, msr pan): under arm64 software PAN the pairs are the
	// kernel's no-op alternatives and the window is TTBR0, switched around each primitive instead.
	bool live = (info.prot_flags & XUA_PROT_KERNEL_USES) && !(info.prot_flags & XUA_PROT_SOFTWARE);
	EXPECT_EQ((t.out_flags & XUA_OUT_GUARD_TOGGLED) != 0, live)
		<< "pairs toggle the guard exactly when the kernel uses the hardware guard on this CPU";
	EXPECT_EQ(t.check_interval, 1024u);
	EXPECT_EQ(t.checks, 100000u / 1024) << "one bookkeeping step after every chunk but the last";
	dev.toggle(0, &err);
	EXPECT_EQ(err, -EINVAL);
	auto bad = make_arg<xua_toggle>();
	bad.iterations = 1;
	bad.flags = 2;
	EXPECT_EQ(dev.ioctl(XUA_IOC_TOGGLE, &bad), -EINVAL);
}

TEST(Info, ModesMethodsAndBounds)
{
	Device dev;
	auto info = dev.info();
	EXPECT_EQ(info.abi_version, static_cast<uint32_t>(XUA_ABI_VERSION));
	EXPECT_EQ(info.methods, (1u << XUA_NR_METHODS) - 1);
	ASSERT_EQ(info.nr_methods, static_cast<uint32_t>(XUA_NR_METHODS));
	std::vector<std::string> methods, modes;
	for (uint32_t i = 0; i < info.nr_methods; ++i)
		methods.push_back(info.method_desc[i].name);
	EXPECT_EQ(methods, (std::vector<std::string>{"get_put", "copy", "user_access", "raw", "raw_get_put", "memcpy",
						      "kernel_raw"}));
	EXPECT_EQ(info.method_desc[XUA_METHOD_RAW].flags, static_cast<uint32_t>(XUA_METHOD_F_MODES));
	EXPECT_TRUE(info.method_desc[XUA_METHOD_MEMCPY].flags & XUA_METHOD_F_NO_USER);
	EXPECT_TRUE(info.method_desc[XUA_METHOD_GET_PUT].flags & XUA_METHOD_F_WORD);
	for (uint32_t i = 0; i < info.nr_modes; ++i)
		modes.push_back(info.modes[i].name);
	bool live = info.prot_flags & XUA_PROT_KERNEL_USES;
	bool hw = live && !(info.prot_flags & XUA_PROT_SOFTWARE);  // modes toggle only a hardware guard
	if (info.arch == XUA_ARCH_X86_64) {
		EXPECT_EQ(modes, (std::vector<std::string>{"window", "per-access"}));
		for (uint32_t i = 0; i < info.nr_modes; ++i)
			EXPECT_EQ((info.modes[i].flags & XUA_MODE_TOGGLES_GUARD) != 0, live) << modes[i];
	} else {
		EXPECT_EQ(modes, (std::vector<std::string>{"ldtr", "pan-off", "toggle"}));
		EXPECT_EQ(info.modes[0].flags & XUA_MODE_TOGGLES_GUARD, 0u) << "ldtr never clears PAN";
		EXPECT_EQ((info.modes[1].flags & XUA_MODE_TOGGLES_GUARD) != 0, hw);
		EXPECT_EQ((info.modes[2].flags & XUA_MODE_TOGGLES_GUARD) != 0, hw);
	}
	// The kernel uses the guard exactly where the cell asked for it: on (the CPU has it), sw (arm64 software
	// PAN on a CPU without PAN); not off (the CPU lacks it) nor off-kernel (clearcpuid=smap, ARM64_PAN=n).
	if (protection().empty())
		EXPECT_EQ(live, (info.prot_flags & XUA_PROT_PRESENT) != 0) << "outside a cell: a stock kernel";
	else
		EXPECT_EQ(live, protection() == "on" || protection() == "sw") << "protection " << protection();
	EXPECT_EQ((info.prot_flags & XUA_PROT_SOFTWARE) != 0, protection() == "sw");
	EXPECT_EQ(info.max_len, 4u << 20);
	EXPECT_GE(info.max_iterations, 1000000u);
	EXPECT_EQ(info.mmap_max, 4u << 20);
	EXPECT_EQ(info.kbuf_kind, static_cast<uint32_t>(XUA_KBUF_VMALLOC));
	EXPECT_GT(info.tick_hz, 0u);
	EXPECT_GT(info.check_ns, 0u);
	EXPECT_EQ(info.violations, 0u) << "a primitive left the user-access window open";
}

// Nothing the module does not set reaches user space: the module is built with pattern-initialised
// locals (0xfe bytes), so a field it forgot would show here instead of hiding as Debian's zero.
TEST(Info, EveryByteIsSetByTheModule)
{
	Device dev;
	xua_info a{}, b{};
	std::memset(&a, 0xa5, sizeof(a));
	std::memset(&b, 0x3c, sizeof(b));
	for (auto *i : {&a, &b}) {
		i->size = sizeof(xua_info);
		i->version = XUA_ABI_VERSION;
		ASSERT_EQ(dev.ioctl(XUA_IOC_INFO, i), 0);
	}
	constexpr uint32_t known = XUA_PROT_PRESENT | XUA_PROT_ENABLED | XUA_PROT_WINDOW_OPEN | XUA_PROT_SOFTWARE |
				   XUA_PROT_KERNEL_USES;
	EXPECT_EQ(a.prot_flags & ~known, 0u) << "prot_flags 0x" << std::hex << a.prot_flags;
	// Registers the backend does not fill are 0 (x86 fills CR4 and RFLAGS; arm64 MMFR1, SCTLR, PAN
	// and, under software PAN only, TTBR0). They are read live (RFLAGS, PAN, ...): not compared.
	size_t used = a.arch == XUA_ARCH_X86_64 ? 2 : (a.prot_flags & XUA_PROT_SOFTWARE) ? 4 : 3;
	for (size_t r = used; r < XUA_NR_ARCH_REGS; ++r)
		EXPECT_EQ(a.arch_regs[r], 0u) << "arch_regs[" << r << "] is not one of the backend's registers: 0x"
					      << std::hex << a.arch_regs[r];
	std::memcpy(b.arch_regs, a.arch_regs, sizeof(a.arch_regs));
	b.violations = a.violations;
	b.controls_seen = a.controls_seen;
	EXPECT_EQ(std::memcmp(&a, &b, sizeof(a)), 0) << "INFO left bytes the caller had put there";
	for (uint32_t m = 0; m < XUA_MAX_METHODS; ++m)
		EXPECT_EQ(a.method_desc[m].reserved, 0u);
	for (uint32_t m = 0; m < XUA_MAX_MODES; ++m)
		EXPECT_EQ(a.modes[m].reserved, 0u);
	for (size_t c = std::strlen(a.kernel_release); c < sizeof(a.kernel_release); ++c)
		ASSERT_EQ(a.kernel_release[c], '\0') << "byte " << c << " after the release string";
}

TEST(Null, IsTheSyscallFloor)
{
	Device dev;
	for (int i = 0; i < 1000; ++i)
		ASSERT_EQ(dev.null(), 0);
}

TEST(Selftest, EveryMethodAgreesWithTheKernel)
{
	Device dev;
	xua_selftest st{};
	int err = 0;
	const auto before = dev.info();
	auto report = dev.selftest(st, &err);
	ASSERT_EQ(err, 0);
	EXPECT_EQ(report.rfind("KTAP version 1\n", 0), 0u);
	EXPECT_GT(st.passed, 20u);
	EXPECT_EQ(st.failed, 0u) << report;
	EXPECT_EQ(st.report_bytes, report.size());
	// The plan counts every group, and every group has its line.
	auto plan = report.find("\n1..");
	ASSERT_NE(plan, std::string::npos);
	EXPECT_EQ(std::stoul(report.substr(plan + 4)), st.passed + st.failed);
	// The positive control: the window check saw a leak planted on purpose. x86 can always set
	// EFLAGS.AC; arm64 has a window only where the kernel uses PAN (hardware or software).
	const std::string control = "window check sees a planted leak (positive control)";
	auto line = report.find(control);
	ASSERT_NE(line, std::string::npos) << report;
	auto eol = report.find('\n', line);
	bool window_exists = before.arch == XUA_ARCH_X86_64 || (before.prot_flags & XUA_PROT_KERNEL_USES);
	EXPECT_EQ(report.substr(line + control.size(), eol - line - control.size()).find("# SKIP") == std::string::npos,
		  window_exists) << report.substr(report.rfind('\n', line) + 1, eol - report.rfind('\n', line));
	const auto after = dev.info();
	EXPECT_EQ(after.controls_seen - before.controls_seen, window_exists ? 1u : 0u);
	EXPECT_EQ(after.violations, before.violations) << "the planted leak counted as a violation";
	// A short report buffer is truncated and NUL-terminated, never overrun.
	std::vector<char> small(40, 'x');
	small.push_back('\x7f');
	auto s2 = make_arg<xua_selftest>();
	s2.report_addr = addr(small.data());
	s2.report_len = 40;
	ASSERT_EQ(dev.ioctl(XUA_IOC_SELFTEST, &s2), 0);
	EXPECT_EQ(small[39], '\0');
	EXPECT_EQ(small[40], '\x7f');
	EXPECT_EQ(std::string(small.data()), report.substr(0, 39));
	s2.report_len = 0;
	EXPECT_EQ(dev.ioctl(XUA_IOC_SELFTEST, &s2), -EINVAL);
	s2.report_len = 100;
	s2.report_addr = 0;
	EXPECT_EQ(dev.ioctl(XUA_IOC_SELFTEST, &s2), -EFAULT);
}

// No call runs much longer than a second: a huge iteration count stops early and says so.
TEST(Budget, HugeIterationCountsAreTruncated)
{
	Device dev;
	std::vector<uint8_t> buf(1 << 20);
	int err = 0;
	auto t = dev.transfer(XUA_METHOD_COPY, XUA_DIR_TO_USER, buf.data(), buf.size(), 1000000000, 0, &err);
	ASSERT_EQ(err, 0);
	EXPECT_TRUE(t.out_flags & XUA_OUT_TRUNCATED);
	EXPECT_LT(t.iterations_done, 1000000000u);
	EXPECT_EQ(t.bytes_moved, t.iterations_done * buf.size());
	// Without the guard the pairs are patched to nothing and may finish within the budget.
	auto g = dev.toggle(1000000000, &err);
	ASSERT_EQ(err, 0);
	if (g.out_flags & XUA_OUT_TRUNCATED)
		EXPECT_LT(g.iterations_done, 1000000000u);
	else
		EXPECT_EQ(g.iterations_done, 1000000000u);
}

// A pending signal stops a long call, which reports what it did (0, XUA_OUT_INTERRUPTED): not EINTR.
TEST(Budget, SignalInterruptsALongCall)
{
	struct sigaction sa{};
	sa.sa_handler = count_usr1;  // no SA_RESTART
	ASSERT_EQ(sigaction(SIGUSR1, &sa, nullptr), 0);
	g_usr1 = 0;
	Device dev;
	std::vector<uint8_t> buf(65536);
	pthread_t self = pthread_self();
	std::thread killer([self] {
		std::this_thread::sleep_for(std::chrono::milliseconds(150));
		pthread_kill(self, SIGUSR1);
	});
	int err = 0;
	auto t = dev.transfer(XUA_METHOD_COPY, XUA_DIR_TO_USER, buf.data(), buf.size(), 1000000000, 0, &err);
	killer.join();
	EXPECT_EQ(err, 0);
	EXPECT_TRUE(t.out_flags & XUA_OUT_INTERRUPTED);
	EXPECT_GT(t.iterations_done, 0u) << "partial results are reported";
	EXPECT_EQ(g_usr1.load(), 1);
	signal(SIGUSR1, SIG_DFL);
}

// Threads on one shared fd and on their own fds, and a second process: every transfer sees its own bytes.
TEST(Concurrency, ThreadsAndProcessesKeepTheirData)
{
	Device shared;
	auto info = shared.info();
	auto methods = user_methods(info);
	std::atomic<int> bad{0};
	auto worker = [&](int id, bool own_fd) {
		Device mine;
		const Device &d = own_fd ? mine : shared;
		std::vector<uint8_t> src(4096 + id), dst(4096 + id);
		for (int i = 0; i < 200; ++i) {
			const auto &m = methods[static_cast<size_t>(i + id) % methods.size()];
			fill(src.data(), src.size(), static_cast<uint32_t>(id * 1000 + i));
			if (own_fd) {
				// Own kernel buffer: in with the method, out with copy_to_user.
				int e1 = 0;
				d.transfer(m.method, XUA_DIR_FROM_USER, src.data(), src.size(), 1, m.mode, &e1);
				int e2 = d.read_kernel_buffer(dst.data(), dst.size());
				if (e1 || e2 || dst != src)
					bad++;
			} else {
				// Shared kernel buffer: only check that every call succeeds.
				int e1 = 0;
				d.transfer(m.method, i % 2 ? XUA_DIR_TO_USER : XUA_DIR_FROM_USER, src.data(), src.size(),
					   1, m.mode, &e1);
				if (e1)
					bad++;
			}
		}
	};
	pid_t pid = fork();
	if (pid == 0) {
		std::thread a(worker, 100, true), b(worker, 101, false);
		a.join();
		b.join();
		_exit(bad.load() == 0 ? 0 : 1);
	}
	std::vector<std::thread> ts;
	for (int i = 0; i < 4; ++i)
		ts.emplace_back(worker, i, i % 2 == 0);
	for (auto &t : ts)
		t.join();
	int st = 0;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "child process saw wrong data or errors";
	EXPECT_EQ(bad.load(), 0);
}

TEST(Security, UnprivilegedUserCannotOpen)
{
	int st = as_nobody([] {
		int fd = open(XUA_DEVICE, O_RDWR);
		return fd < 0 && errno == EACCES ? 0 : 1;
	});
	EXPECT_EQ(st, 0) << "an unprivileged open must fail with EACCES";
}

TEST(Security, UnsafeDerefNeedsParameterAndCapability)
{
	Device dev;  // opened as root, used after dropping privileges
	auto info = dev.info();
	uint64_t word = 0;
	auto op = make_arg<xua_unsafe>();
	op.user_addr = addr(&word);
	op.dir = XUA_DIR_FROM_USER;
	int fd = dev.fd();
	int st = as_nobody([fd, op]() mutable { return ioctl(fd, XUA_IOC_UNSAFE_DEREF, &op) != 0 && errno == EPERM ? 0 : 1; });
	EXPECT_EQ(st, 0) << "without CAP_SYS_ADMIN: EPERM";
	if (!(info.flags & XUA_INFO_UNSAFE_ALLOWED)) {
		EXPECT_EQ(dev.ioctl(XUA_IOC_UNSAFE_DEREF, &op), -EPERM) << "without allow_unsafe_deref: EPERM";
	}
}

}  // namespace
