// TRANSFER: data integrity for every method, mode and direction at sizes 1 B to 4 MiB and odd
// alignments; fault semantics on a buffer running into a PROT_NONE page; every bad input.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include <gtest/gtest.h>
#include <sys/mman.h>

#include "helpers.hpp"

using namespace xua;
using namespace xua::test;

namespace {

constexpr size_t kMiB = 1 << 20;

struct Size {
	size_t len;
	std::vector<size_t> aligns;
};

const std::vector<Size> &sizes()
{
	static const std::vector<Size> s = {
		{1, {0, 1, 3, 7}},       {7, {0, 1, 3, 7}},         {8, {0, 1, 3, 7}},
		{9, {0, 1, 3, 7}},       {63, {0, 1, 5}},           {64, {0, 3}},
		{4095, {0, 1}},          {4096, {0, 1, 7}},         {4097, {0, 3}},
		{65536 + 3, {0, 5}},     {kMiB, {0, 1}},            {4 * kMiB, {0, 3}},
	};
	return s;
}

class TransferTest : public ::testing::Test {
protected:
	Device dev;
	xua_info info = dev.info();
};

// Kernel -> user: the kernel buffer is set with copy_from_user, then every method copies it out.
TEST_F(TransferTest, ToUserIntegrityEveryMethodSizeAlignment)
{
	auto src = pattern(4 * kMiB + 8, 1);
	std::vector<uint8_t> dst(4 * kMiB + 16);
	for (const auto &m : user_methods(info)) {
		for (const auto &s : sizes()) {
			ASSERT_EQ(dev.load_kernel_buffer(src.data(), s.len), 0);
			for (size_t a : s.aligns) {
				SCOPED_TRACE(m.name + " len " + std::to_string(s.len) + " align " + std::to_string(a));
				std::fill(dst.begin(), dst.end(), 0xee);
				int err = 0;
				auto t = dev.transfer(m.method, XUA_DIR_TO_USER, dst.data() + a, s.len, 1, m.mode, &err);
				ASSERT_EQ(err, 0);
				EXPECT_EQ(t.not_copied, 0u);
				EXPECT_EQ(t.iterations_done, 1u);
				EXPECT_EQ(t.bytes_moved, s.len);
				ASSERT_EQ(std::memcmp(dst.data() + a, src.data(), s.len), 0);
				EXPECT_TRUE(std::all_of(dst.begin(), dst.begin() + a, [](uint8_t c) { return c == 0xee; }));
				EXPECT_EQ(dst[a + s.len], 0xee) << "wrote past the end";
			}
		}
	}
}

// User -> kernel: every method copies in, the kernel buffer is read back with copy_to_user.
TEST_F(TransferTest, FromUserIntegrityEveryMethodSizeAlignment)
{
	std::vector<uint8_t> src(4 * kMiB + 16), back(4 * kMiB);
	uint32_t seed = 10;
	for (const auto &m : user_methods(info)) {
		for (const auto &s : sizes()) {
			for (size_t a : s.aligns) {
				SCOPED_TRACE(m.name + " len " + std::to_string(s.len) + " align " + std::to_string(a));
				fill(src.data() + a, s.len, ++seed);
				int err = 0;
				auto t = dev.transfer(m.method, XUA_DIR_FROM_USER, src.data() + a, s.len, 1, m.mode, &err);
				ASSERT_EQ(err, 0);
				EXPECT_EQ(t.not_copied, 0u);
				EXPECT_EQ(t.bytes_moved, s.len);
				ASSERT_EQ(dev.read_kernel_buffer(back.data(), s.len), 0);
				ASSERT_EQ(std::memcmp(back.data(), src.data() + a, s.len), 0);
			}
		}
	}
}

TEST_F(TransferTest, IterationsAndMemcpyFloor)
{
	std::vector<uint8_t> buf(65536);
	for (uint32_t dir : {XUA_DIR_TO_USER, XUA_DIR_FROM_USER}) {
		int err = 0;
		auto t = dev.transfer(XUA_METHOD_COPY, dir, buf.data(), buf.size(), 100, 0, &err);
		ASSERT_EQ(err, 0);
		EXPECT_EQ(t.iterations_done, 100u);
		EXPECT_EQ(t.bytes_moved, 100u * buf.size());
		EXPECT_GT(t.elapsed_ns, 0u);
		EXPECT_EQ(t.out_flags & ~uint32_t(XUA_OUT_PREEMPTED), 0u) << "only a preemption may be flagged";
		// The floor touches no user memory: even a NULL address is fine.
		auto f = dev.transfer(XUA_METHOD_MEMCPY, dir, nullptr, 4096, 1000, 0, &err);
		ASSERT_EQ(err, 0);
		EXPECT_EQ(f.bytes_moved, 4096u * 1000);
		EXPECT_GT(f.elapsed_ns, 0u);
	}
}

// Data crossing between two kernel buffers: memcpy from_user copies buffer 2 into buffer 1.
TEST_F(TransferTest, MemcpyMovesBetweenKernelBuffers)
{
	auto a = pattern(8192, 77);
	std::vector<uint8_t> back(8192);
	ASSERT_EQ(dev.load_kernel_buffer(a.data(), a.size()), 0);
	int err = 0;
	dev.transfer(XUA_METHOD_MEMCPY, XUA_DIR_TO_USER, nullptr, a.size(), 1, 0, &err);  // buf1 -> buf2
	ASSERT_EQ(err, 0);
	std::vector<uint8_t> zeros(8192, 0);
	ASSERT_EQ(dev.load_kernel_buffer(zeros.data(), zeros.size()), 0);
	dev.transfer(XUA_METHOD_MEMCPY, XUA_DIR_FROM_USER, nullptr, a.size(), 1, 0, &err);  // buf2 -> buf1
	ASSERT_EQ(err, 0);
	ASSERT_EQ(dev.read_kernel_buffer(back.data(), back.size()), 0);
	EXPECT_EQ(back, a);
}

// A copy running into a PROT_NONE page returns EFAULT. The module's raw copy, in every mode, is exact:
// it copies every accessible byte and reports the rest. The kernel's copy_{to,from}_user is held to the
// uaccess contract (at least the inaccessible bytes reported, every byte it reports copied is right):
// on x86 it is exact too, on arm64 it can stop earlier (its fixup reports where its chunk faulted).
// Both zero the uncopied tail of a copy from user. Cases where the two differ are counted.
TEST_F(TransferTest, FaultSemanticsExactAndKernelCompatible)
{
	GuardedBuffer g(2);
	const size_t ps = page_size();
	auto src = pattern(2 * ps, 5);
	auto user = pattern(2 * ps, 6);
	int cases = 0, kernel_short = 0;
	std::vector<size_t> befores;
	for (size_t b = 1; b <= 24; ++b)
		befores.push_back(b);
	for (size_t b : {31, 32, 33, 63, 64, 65, 100, 255, 256, 257, 4095})
		befores.push_back(b);
	int grid = 0;
	for (size_t before : befores) {
		for (size_t beyond : {1, 7, 8, 9, 64, 5000}) {
			grid += 2;
			const size_t len = before + beyond;
			uint8_t *start = g.end() - before;
			SCOPED_TRACE("len " + std::to_string(len) + ", " + std::to_string(before) + " B before the guard");
			for (uint32_t dir : {XUA_DIR_TO_USER, XUA_DIR_FROM_USER}) {
				std::vector<Method> ms = {{XUA_METHOD_COPY, 0, "copy", false}};
				for (uint32_t mode = 0; mode < info.nr_modes; ++mode)
					ms.push_back({XUA_METHOD_RAW, mode, std::string("raw/") + info.modes[mode].name, false});
				uint64_t kernel_left = 0;
				for (const auto &m : ms) {
					SCOPED_TRACE(m.name + " " + dir_name(dir));
					const bool is_kernel = m.method == XUA_METHOD_COPY;
					int err = 0;
					xua_transfer t;
					if (dir == XUA_DIR_TO_USER) {
						ASSERT_EQ(dev.load_kernel_buffer(src.data(), len), 0);
						std::fill(g.begin(), g.end(), 0);
						t = dev.transfer(m.method, dir, start, len, 1, m.mode, &err);
						const size_t done = len - t.not_copied;
						EXPECT_EQ(std::memcmp(start, src.data(), std::min(done, before)), 0);
						EXPECT_TRUE(std::all_of(g.begin(), start, [](uint8_t c) { return c == 0; }));
					} else {
						std::copy(user.begin(), user.begin() + 2 * ps, g.begin());
						t = dev.transfer(m.method, dir, start, len, 1, m.mode, &err);
						std::vector<uint8_t> kernel(len);
						ASSERT_EQ(dev.read_kernel_buffer(kernel.data(), len), 0);
						const size_t done = len - t.not_copied;
						EXPECT_EQ(std::memcmp(kernel.data(), start, done), 0) << "copied prefix";
						EXPECT_TRUE(std::all_of(kernel.begin() + done, kernel.end(), [](uint8_t c) { return c == 0; }))
							<< "uncopied tail zeroed";
					}
					EXPECT_EQ(err, -EFAULT);
					EXPECT_EQ(t.bytes_moved, len - t.not_copied);
					if (is_kernel) {
						EXPECT_GE(t.not_copied, beyond);
						EXPECT_LE(t.not_copied, len);
						kernel_left = t.not_copied;
						kernel_short += t.not_copied != beyond;
					} else {
						EXPECT_EQ(t.not_copied, beyond) << "the raw copy is exact";
						EXPECT_LE(t.not_copied, kernel_left) << "copies at least what the kernel copies";
					}
					++cases;
				}
			}
		}
	}
	std::printf("# fault semantics: %d cases; kernel copy_{to,from}_user stopped before the first "
		    "inaccessible byte in %d of %d\n", cases, kernel_short, grid);
	RecordProperty("cases", cases);
}

// Word-granular methods stop at the first word that faults and report the rest.
TEST_F(TransferTest, WordMethodsFaultAtWordGranularity)
{
	GuardedBuffer g(1);
	for (const auto &m : user_methods(info)) {
		if (!m.word_granular)
			continue;
		for (uint32_t dir : {XUA_DIR_TO_USER, XUA_DIR_FROM_USER}) {
			SCOPED_TRACE(m.name + " " + dir_name(dir));
			int err = 0;
			// 20 bytes starting 12 before the guard: word 0 ok, word 1 straddles -> 12 left.
			auto t = dev.transfer(m.method, dir, g.end() - 12, 20, 1, m.mode, &err);
			EXPECT_EQ(err, -EFAULT);
			EXPECT_EQ(t.not_copied, 12u);
			EXPECT_EQ(t.bytes_moved, 8u);
		}
	}
}

TEST_F(TransferTest, BadPointersGiveEFAULTWithNotCopied)
{
	const size_t ps = page_size();
	Mapping ro(ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
	ASSERT_TRUE(ro.ok());
	Mapping gone(ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	ASSERT_TRUE(gone.ok());
	void *unmapped = gone.data();
	gone = Mapping();  // unmapped now
	struct Case {
		const char *name;
		void *p;
		uint32_t dir;  // directions that must fault
		bool both;
	};
	const Case cases[] = {
		{"NULL", nullptr, 0, true},
		{"kernel address", reinterpret_cast<void *>(~uint64_t(0) - 2 * ps + 1), 0, true},
		{"unmapped", unmapped, 0, true},
		{"read-only (write)", ro.data(), XUA_DIR_TO_USER, false},
		{"non-canonical", reinterpret_cast<void *>(uint64_t(1) << 62), 0, true},
	};
	for (const auto &m : user_methods(info)) {
		for (const auto &c : cases) {
			for (uint32_t dir : {XUA_DIR_TO_USER, XUA_DIR_FROM_USER}) {
				if (!c.both && dir != c.dir)
					continue;
				SCOPED_TRACE(m.name + " " + dir_name(dir) + " " + c.name);
				int err = 0;
				auto t = dev.transfer(m.method, dir, c.p, 64, 1, m.mode, &err);
				EXPECT_EQ(err, -EFAULT);
				EXPECT_EQ(t.not_copied, 64u);
				EXPECT_EQ(t.bytes_moved, 0u);
			}
		}
	}
	// Reading from a read-only page is fine.
	int err = 0;
	dev.transfer(XUA_METHOD_COPY, XUA_DIR_FROM_USER, ro.data(), 64, 1, 0, &err);
	EXPECT_EQ(err, 0);
}

TEST_F(TransferTest, PageStraddlingIsFineWhenBothPagesAreMapped)
{
	Mapping two(2 * page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	ASSERT_TRUE(two.ok());
	auto src = pattern(100, 9);
	ASSERT_EQ(dev.load_kernel_buffer(src.data(), src.size()), 0);
	for (const auto &m : user_methods(info)) {
		SCOPED_TRACE(m.name);
		uint8_t *p = two.data() + page_size() - 37;
		std::memset(p, 0, 100);
		int err = 0;
		dev.transfer(m.method, XUA_DIR_TO_USER, p, 100, 1, m.mode, &err);
		ASSERT_EQ(err, 0);
		EXPECT_EQ(std::memcmp(p, src.data(), 100), 0);
	}
}

TEST_F(TransferTest, InvalidArgumentsAreEINVAL)
{
	std::vector<uint8_t> buf(4096);
	auto good = make_arg<xua_transfer>();
	good.method = XUA_METHOD_COPY;
	good.user_addr = addr(buf.data());
	good.len = buf.size();
	good.iterations = 1;
	ASSERT_EQ(dev.transfer(good), 0);

	// A refused call writes nothing back: the out fields keep what the caller put there.
	good.elapsed_ns = good.not_copied = good.bytes_moved = 0x5a5a5a5a5a5a5a5aull;
	auto expect_einval = [&](const char *what, auto mutate) {
		auto t = good;
		mutate(t);
		auto sent = t;
		EXPECT_EQ(dev.transfer(t), -EINVAL) << what;
		EXPECT_EQ(std::memcmp(&t, &sent, sizeof(t)), 0) << what << ": a refused call wrote its argument back";
	};
	expect_einval("size", [](auto &t) { t.size -= 8; });
	expect_einval("version", [](auto &t) { t.version = 0; });
	expect_einval("method", [](auto &t) { t.method = XUA_NR_METHODS; });
	expect_einval("method huge", [](auto &t) { t.method = ~0u; });
	expect_einval("dir", [](auto &t) { t.dir = 2; });
	expect_einval("mode on non-raw", [](auto &t) { t.mode = 1; });
	expect_einval("raw mode", [&](auto &t) {
		t.method = XUA_METHOD_RAW;
		t.mode = info.nr_modes;
	});
	expect_einval("flags", [](auto &t) { t.flags = 1; });
	expect_einval("len 0", [](auto &t) { t.len = 0; });
	expect_einval("len > max", [&](auto &t) { t.len = info.max_len + 1; });
	expect_einval("len huge", [](auto &t) { t.len = ~uint64_t(0); });
	expect_einval("iterations 0", [](auto &t) { t.iterations = 0; });
	expect_einval("iterations > max", [&](auto &t) { t.iterations = info.max_iterations + 1; });
	// The argument struct itself at a bad address.
	EXPECT_EQ(dev.ioctl(XUA_IOC_TRANSFER, static_cast<xua_transfer *>(nullptr)), -EFAULT);
}

// The loop's bookkeeping runs every check_interval iterations (about 1 MiB apart), never in between.
TEST_F(TransferTest, BookkeepingIsAmortised)
{
	std::vector<uint8_t> buf(1 << 20);
	struct Case {
		uint64_t len, iterations, interval;
	};
	for (auto c : {Case{1 << 20, 20, 1}, Case{4096, 1000, 256}, Case{8, 100000, 65536}, Case{1, 10, 65536}}) {
		SCOPED_TRACE(std::to_string(c.len) + " B x " + std::to_string(c.iterations));
		int err = 0;
		auto t = dev.transfer(XUA_METHOD_RAW, XUA_DIR_TO_USER, buf.data(), c.len, c.iterations, 0, &err);
		ASSERT_EQ(err, 0);
		EXPECT_EQ(t.check_interval, c.interval);
		// A step after every interval-th iteration but the last.
		EXPECT_EQ(t.checks, (c.iterations - 1) / c.interval);
		EXPECT_GT(t.ticks, 0u);
		EXPECT_EQ(t.out_flags & XUA_OUT_PREEMPTED ? 1 : 0, t.nvcsw + t.nivcsw > 0 ? 1 : 0);
	}
}

// Huge lengths with pointer + length wrapping around: EINVAL (above the bound) never an oops.
TEST_F(TransferTest, PointerPlusLengthOverflow)
{
	for (const auto &m : user_methods(info)) {
		SCOPED_TRACE(m.name);
		int err = 0;
		auto t = dev.transfer(m.method, XUA_DIR_TO_USER, reinterpret_cast<void *>(~uint64_t(0) - 15), 64, 1,
				      m.mode, &err);
		EXPECT_EQ(err, -EFAULT);
		EXPECT_EQ(t.not_copied, 64u);
	}
}

}  // namespace
