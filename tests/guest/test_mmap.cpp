// The mmap'ed shared buffer: PRODUCE (kernel fills it, user reads with no copy), CONSUME (user writes,
// kernel reads), and the bounds of mmap.
#include <cstring>

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "helpers.hpp"

using namespace xua;
using namespace xua::test;

namespace {

class MmapTest : public ::testing::Test {
protected:
	Device dev;
	xua_info info = dev.info();
};

TEST_F(MmapTest, ProduceBeforeMmapIsENXIO)
{
	int err = 0;
	dev.mmap_op(true, 0, 64, 1, &err);
	EXPECT_EQ(err, -ENXIO);
	dev.mmap_op(false, 0, 64, 1, &err);
	EXPECT_EQ(err, -ENXIO);
}

TEST_F(MmapTest, FreshBufferReadsZeros)
{
	auto m = dev.map(info.mmap_max);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	for (size_t i = 0; i < m.size(); ++i)
		ASSERT_EQ(m.data()[i], 0) << "uninitialised kernel memory at " << i;
	// The kernel buffer of a fresh file is zeroed too.
	std::vector<uint8_t> back(info.max_len, 0xff);
	ASSERT_EQ(dev.read_kernel_buffer(back.data(), back.size()), 0);
	for (size_t i = 0; i < back.size(); ++i)
		ASSERT_EQ(back[i], 0) << "uninitialised kernel buffer at " << i;
}

TEST_F(MmapTest, ProduceDeliversKernelBytes)
{
	auto m = dev.map(1 << 20);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	for (size_t len : {size_t(1), size_t(4096), size_t(12345), size_t(1 << 20)}) {
		for (size_t off : {size_t(0), size_t(7)}) {
			if (off + len > m.size())
				continue;
			SCOPED_TRACE("len " + std::to_string(len) + " off " + std::to_string(off));
			auto src = pattern(len, static_cast<uint32_t>(len + off));
			ASSERT_EQ(dev.load_kernel_buffer(src.data(), len), 0);
			int err = 0;
			auto op = dev.mmap_op(true, off, len, 3, &err);
			ASSERT_EQ(err, 0);
			EXPECT_EQ(op.iterations_done, 3u);
			EXPECT_EQ(op.bytes_moved, 3 * len);
			EXPECT_EQ(std::memcmp(m.data() + off, src.data(), len), 0);
		}
	}
}

TEST_F(MmapTest, ConsumeReadsUserBytes)
{
	auto m = dev.map(1 << 20);
	ASSERT_TRUE(m.ok());
	for (size_t len : {size_t(1), size_t(4097), size_t(1 << 20)}) {
		SCOPED_TRACE("len " + std::to_string(len));
		fill(m.data(), len, static_cast<uint32_t>(len));
		int err = 0;
		dev.mmap_op(false, 0, len, 1, &err);
		ASSERT_EQ(err, 0);
		std::vector<uint8_t> back(len);
		ASSERT_EQ(dev.read_kernel_buffer(back.data(), len), 0);
		EXPECT_EQ(std::memcmp(back.data(), m.data(), len), 0);
	}
}

TEST_F(MmapTest, BoundsAreEnforced)
{
	const size_t ps = page_size();
	// Larger than the module parameter allows.
	auto big = dev.map(info.mmap_max + ps);
	EXPECT_FALSE(big.ok());
	EXPECT_EQ(big.error(), EINVAL);
	// The first mapping sizes the buffer and must start at offset 0.
	auto off = dev.map(ps, static_cast<off_t>(ps));
	EXPECT_FALSE(off.ok());
	EXPECT_EQ(off.error(), EINVAL);
	// Private mappings of the shared buffer are refused.
	auto priv = dev.map(ps, 0, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	EXPECT_FALSE(priv.ok());
	EXPECT_EQ(priv.error(), EINVAL);

	auto m = dev.map(4 * ps);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	// Later mappings must fit inside it.
	auto inside = dev.map(2 * ps, static_cast<off_t>(2 * ps));
	EXPECT_TRUE(inside.ok()) << std::strerror(inside.error());
	auto past = dev.map(2 * ps, static_cast<off_t>(3 * ps));
	EXPECT_FALSE(past.ok());
	EXPECT_EQ(past.error(), EINVAL);
	auto far = dev.map(ps, static_cast<off_t>(1000 * ps));
	EXPECT_FALSE(far.ok());
	EXPECT_EQ(far.error(), EINVAL);
	// It cannot be grown with mremap.
	void *grown = mremap(m.data(), m.size(), 8 * ps, MREMAP_MAYMOVE);
	EXPECT_EQ(grown, MAP_FAILED);

	int err = 0;
	dev.mmap_op(true, 4 * ps, 1, 1, &err);
	EXPECT_EQ(err, -EINVAL) << "offset at the end";
	dev.mmap_op(true, 0, 4 * ps + 1, 1, &err);
	EXPECT_EQ(err, -EINVAL) << "longer than the buffer";
	dev.mmap_op(true, ~uint64_t(0), 2, 1, &err);
	EXPECT_EQ(err, -EINVAL) << "offset + len overflow";
	dev.mmap_op(true, 0, 0, 1, &err);
	EXPECT_EQ(err, -EINVAL) << "len 0";
	dev.mmap_op(true, 0, 1, 0, &err);
	EXPECT_EQ(err, -EINVAL) << "iterations 0";
	auto op = make_arg<xua_mmap_op>();
	op.len = 1;
	op.iterations = 1;
	op.flags = 1;
	EXPECT_EQ(dev.mmap_op(true, op), -EINVAL) << "flags";
	op.flags = 0;
	op.size = 8;
	EXPECT_EQ(dev.mmap_op(true, op), -EINVAL) << "size";
}

// The mapping outlives the fd, and a forked child sees the same shared pages.
// The shared buffer is data: no PROT_EXEC mapping, and no mprotect to executable later.
TEST_F(MmapTest, NeverExecutable)
{
	Mapping x(page_size(), PROT_READ | PROT_EXEC, MAP_SHARED, dev.fd());
	EXPECT_FALSE(x.ok());
	EXPECT_EQ(x.error(), EPERM);
	auto m = dev.map(page_size());
	ASSERT_TRUE(m.ok());
	EXPECT_NE(mprotect(m.data(), page_size(), PROT_READ | PROT_EXEC), 0);
	EXPECT_EQ(errno, EACCES);
}

TEST_F(MmapTest, MappingSurvivesCloseAndFork)
{
	Mapping m;
	{
		Device d2;
		m = d2.map(page_size());
		ASSERT_TRUE(m.ok());
		auto src = pattern(page_size(), 3);
		ASSERT_EQ(d2.load_kernel_buffer(src.data(), src.size()), 0);
		int err = 0;
		d2.mmap_op(true, 0, page_size(), 1, &err);
		ASSERT_EQ(err, 0);
	}  // fd closed; the mapping holds the file
	auto src = pattern(page_size(), 3);
	EXPECT_EQ(std::memcmp(m.data(), src.data(), page_size()), 0);
	pid_t pid = fork();
	if (pid == 0) {
		m.data()[0] = 0x42;  // shared: the parent sees it
		_exit(std::memcmp(m.data() + 1, src.data() + 1, page_size() - 1) == 0 ? 0 : 1);
	}
	int st = 0;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT_EQ(m.data()[0], 0x42);
}

}  // namespace
