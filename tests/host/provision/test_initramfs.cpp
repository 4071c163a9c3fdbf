// host/provision/initramfs: the newc cpio writer, and the guest's dynamic loader and libc taken from one glibc.
#include <string>

#include <gtest/gtest.h>

#include "provision/initramfs.hpp"
#include "provision/matrix.hpp"

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
