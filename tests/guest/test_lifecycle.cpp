// Unload and reload, then the seed bug. Linked last: these tests reload the module (the last load keeps
// allow_unsafe_deref=1) and, with the guard on, oops the kernel on purpose in a child process.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers.hpp"
#include "kernel.hpp"

using namespace xua;
using namespace xua::test;

namespace {

const char *module_path()
{
	const char *p = std::getenv("XUA_MODULE");
	return p ? p : "/lib/xuaccess.ko";
}

int unload()
{
	return unload_module("xuaccess");
}

int load(const char *params)
{
	return load_module(module_path(), params);
}

TEST(Lifecycle, UnloadRefusedWhileInUseThenReload)
{
	{
		std::optional<Device> d(std::in_place);
		EXPECT_EQ(unload(), -EWOULDBLOCK) << "unload while a file is open";
		auto m = d->map(page_size());
		ASSERT_TRUE(m.ok());
		d.reset();  // the fd is closed; the mapping still holds the file
		EXPECT_EQ(unload(), -EWOULDBLOCK) << "unload while a mapping is alive";
	}
	ASSERT_EQ(unload(), 0);
	struct stat st{};
	EXPECT_NE(stat(XUA_DEVICE, &st), 0) << "device node still there after unload";
	EXPECT_EQ(load("mmap_max_bytes=0"), -EINVAL) << "out-of-range parameter refused";
	ASSERT_EQ(load(""), 0);
	Device d;
	auto info = d.info();
	EXPECT_EQ(info.flags & XUA_INFO_UNSAFE_ALLOWED, 0u);
	uint64_t w = 0;
	auto op = make_arg<xua_unsafe>();
	op.user_addr = addr(&w);
	EXPECT_EQ(d.ioctl(XUA_IOC_UNSAFE_DEREF, &op), -EPERM) << "not allowed without the parameter, even for root";
	std::vector<uint8_t> buf(4096);
	int err = 0;
	d.transfer(XUA_METHOD_COPY, XUA_DIR_TO_USER, buf.data(), buf.size(), 1, 0, &err);
	EXPECT_EQ(err, 0);
}

// Kernel memory counters from /proc/meminfo, in KiB.
uint64_t meminfo(const std::string &key)
{
	std::ifstream in("/proc/meminfo");
	std::string k;
	uint64_t v = 0;
	std::string unit;
	while (in >> k >> v) {
		std::getline(in, unit);
		if (k == key + ":")
			return v;
	}
	return 0;
}

// Load/unload cycles (20; 100 in the thorough tier), each using the module's buffers: memory comes back.
// A KASAN kernel: its allocator hooks are in /proc/kallsyms (root reads the names).
bool kasan_kernel()
{
	return kernel_has_symbol({"kasan_quarantine_put", "__kasan_slab_free"});
}

TEST(Lifecycle, LoadCyclesGiveTheMemoryBack)
{
	auto cycle = [] {
		if (unload() != 0 || load("") != 0)
			return false;
		Device d;
		std::vector<uint8_t> buf(1 << 20);
		int err = 0;
		d.transfer(XUA_METHOD_MEMCPY, XUA_DIR_TO_USER, nullptr, 4096, 1, 0, &err);  // both kernel buffers
		auto m = d.map(1 << 20);
		d.mmap_op(true, 0, 4096, 1, &err);
		d.transfer(XUA_METHOD_COPY, XUA_DIR_TO_USER, buf.data(), buf.size(), 1, 0, &err);
		return m.ok() && err == 0;
	};
	ASSERT_TRUE(cycle());  // warm up: first-use allocations outside the module settle
	std::ofstream("/proc/sys/vm/drop_caches") << "3\n";
	const uint64_t slab0 = meminfo("SUnreclaim"), free0 = meminfo("MemFree"), vmalloc0 = meminfo("VmallocUsed");
	int failed = 0;
	const int cycles = tiered(20, 100);
	for (int i = 0; i < cycles; ++i)
		failed += cycle() ? 0 : 1;
	std::ofstream("/proc/sys/vm/drop_caches") << "3\n";
	const uint64_t slab1 = meminfo("SUnreclaim"), free1 = meminfo("MemFree"), vmalloc1 = meminfo("VmallocUsed");
	std::printf("# %d load cycles: SUnreclaim %llu -> %llu KiB, VmallocUsed %llu -> %llu KiB, MemFree %llu -> %llu KiB\n",
		    cycles, (unsigned long long)slab0, (unsigned long long)slab1, (unsigned long long)vmalloc0,
		    (unsigned long long)vmalloc1, (unsigned long long)free0, (unsigned long long)free1);
	EXPECT_EQ(failed, 0);
	// Each cycle allocates 9 MiB (two 4 MiB buffers and the 1 MiB shared one): a leak of one cycle's worth
	// would show as 9 MiB, of every cycle's as 180 MiB (900 MiB in the thorough tier).
	// KASAN keeps freed slab objects in its quarantine (up to 1/32 of memory) before it really frees them,
	// so on a KASAN kernel SUnreclaim lags: seen +868 KiB over 100 cycles on arm64 6.12-debug, +0 on the
	// next run. There the bound is 4 MiB (still far below one cycle's 9 MiB); leaks proper are KASAN's job.
	// MemFree swings there too, both ways: -10.4 MiB and +11.0 MiB over 100 cycles on arm64 6.12-debug (the
	// off and on cells of one run; KASAN's deferred frees, not analysed further). There its bound is 32 MiB:
	// a leak of a third of a MiB per cycle fails it in the thorough tier (100 cycles), and a one-cycle leak,
	// or a quarter MiB per cycle over the default 20, is caught by this same test on the non-KASAN kernels,
	// which run the same module code.
	const bool kasan = kasan_kernel();
	const uint64_t slab_slack = kasan ? 4096 : 512, free_slack = kasan ? 32768 : 4096;
	EXPECT_LT(slab1, slab0 + slab_slack) << "unreclaimable slab grew";
	EXPECT_LT(vmalloc1, vmalloc0 + 2048) << "vmalloc use grew";
	EXPECT_GT(free1 + free_slack, free0) << "free memory did not come back";
}

// The bug from the seed documents: `*uptr = value` in the kernel without opening the user-access
// window. With SMAP/PAN enforced it oopses and kills the caller; the kernel survives and the proper
// copy_to_user still works. Without the guard it silently succeeds.
TEST(SeedBug, PlainDereferenceOfAUserPointer)
{
	if (unload() != 0 || load("allow_unsafe_deref=1") != 0)
		FAIL() << "cannot reload the module with allow_unsafe_deref=1";
	Device dev;
	auto info = dev.info();
	ASSERT_TRUE(info.flags & XUA_INFO_UNSAFE_ALLOWED);
	const bool guarded = info.prot_flags & XUA_PROT_ENABLED;
	EXPECT_EQ(guarded, protection() == "on" || protection() == "sw") << "protection " << protection();

	auto op = make_arg<xua_unsafe>();
	op.dir = XUA_DIR_FROM_USER;
	op.user_addr = ~uint64_t(0) - 4095;
	EXPECT_EQ(dev.ioctl(XUA_IOC_UNSAFE_DEREF, &op), -EFAULT) << "kernel addresses are never dereferenced";
	op.user_addr = 3;
	EXPECT_EQ(dev.ioctl(XUA_IOC_UNSAFE_DEREF, &op), -EINVAL) << "unaligned";

	for (uint32_t dir : {XUA_DIR_TO_USER, XUA_DIR_FROM_USER}) {
		SCOPED_TRACE(dir_name(dir));
		if (guarded) {
			// Tell the host this oops is expected (it checks it has the guard's signature).
			std::printf("# xua-expected-oops: UNSAFE_DEREF %s\n", dir_name(dir));
			std::fflush(stdout);
		}
		pid_t pid = fork();
		if (pid == 0) {
			volatile uint64_t word = 0x1111;
			auto u = make_arg<xua_unsafe>();
			u.dir = dir;
			u.user_addr = addr(const_cast<uint64_t *>(&word));
			u.value = 0xfeedface;
			int r = ioctl(dev.fd(), XUA_IOC_UNSAFE_DEREF, &u);
			bool ok = r == 0 && (dir == XUA_DIR_TO_USER ? word == 0xfeedface : u.value == 0x1111);
			_exit(ok ? 0 : 1);
		}
		int st = 0;
		ASSERT_EQ(waitpid(pid, &st, 0), pid);
		if (guarded) {
			EXPECT_TRUE(WIFSIGNALED(st)) << "the oops must kill the caller; status " << st;
		} else {
			EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "without the guard it succeeds; status " << st;
		}
	}
	auto log = kernel_log();
	if (guarded) {
		const char *sig = info.arch == XUA_ARCH_X86_64 ? "permissions violation"
							       : "access to user memory outside uaccess routines";
		EXPECT_NE(log.find(sig), std::string::npos) << "no '" << sig << "' in the kernel log";
	} else {
		EXPECT_EQ(log.find("Oops"), std::string::npos);
	}
	// The kernel is alive and the proper path still works.
	Device after;
	auto src = pattern(4096, 42);
	std::vector<uint8_t> back(4096);
	ASSERT_EQ(after.load_kernel_buffer(src.data(), src.size()), 0);
	ASSERT_EQ(after.read_kernel_buffer(back.data(), back.size()), 0);
	EXPECT_EQ(back, src);
}

}  // namespace
