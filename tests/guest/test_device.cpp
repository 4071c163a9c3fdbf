// In-guest tests: the device node, INFO, the ABI header checks, and that the guard the module reads
// from the hardware is the one this cell asked QEMU for.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>

#include "device.hpp"

namespace {

std::string cpuinfo()
{
	std::ifstream in("/proc/cpuinfo");
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

TEST(Device, NodeIsRootOnlyCharDevice)
{
	struct stat st{};
	ASSERT_EQ(stat(XUA_DEVICE, &st), 0) << std::strerror(errno);
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(st.st_mode & 07777, 0600u) << "mode " << std::oct << (st.st_mode & 07777);
	EXPECT_EQ(st.st_uid, 0u);
}

TEST(Info, ReportsThisKernelAndArch)
{
	xua::Device dev;
	auto info = dev.info();
	utsname u{};
	ASSERT_EQ(uname(&u), 0);
	EXPECT_EQ(info.abi_version, static_cast<unsigned>(XUA_ABI_VERSION));
	EXPECT_STREQ(info.kernel_release, u.release);
	std::string machine = u.machine;
	if (machine == "x86_64") {
		EXPECT_EQ(info.arch, static_cast<unsigned>(XUA_ARCH_X86_64));
		EXPECT_STREQ(info.arch_name, "x86_64");
		EXPECT_STREQ(info.guard_name, "SMAP");
	} else {
		ASSERT_EQ(machine, "aarch64");
		EXPECT_EQ(info.arch, static_cast<unsigned>(XUA_ARCH_ARM64));
		EXPECT_STREQ(info.arch_name, "arm64");
		EXPECT_STREQ(info.guard_name, "PAN");
	}
	EXPECT_GT(std::strlen(info.module_version), 0u);
}

TEST(Info, RejectsWrongSizeOrVersion)
{
	xua::Device dev;
	auto bad_size = xua::make_arg<xua_info>();
	bad_size.size -= 8;
	EXPECT_EQ(dev.ioctl(XUA_IOC_INFO, &bad_size), -EINVAL);
	auto bad_version = xua::make_arg<xua_info>();
	bad_version.version = XUA_ABI_VERSION + 1;
	EXPECT_EQ(dev.ioctl(XUA_IOC_INFO, &bad_version), -EINVAL);
	auto zero = xua_info{};
	EXPECT_EQ(dev.ioctl(XUA_IOC_INFO, &zero), -EINVAL);
}

TEST(Info, RejectsBadPointers)
{
	xua::Device dev;
	EXPECT_EQ(dev.ioctl(XUA_IOC_INFO, static_cast<xua_info *>(nullptr)), -EFAULT);
	// A kernel-space address is never a valid user pointer.
	auto *kaddr = reinterpret_cast<xua_info *>(~0UL - 4095);
	EXPECT_EQ(dev.ioctl(XUA_IOC_INFO, kaddr), -EFAULT);
}

TEST(Device, UnknownCommandIsENOTTY)
{
	xua::Device dev;
	int dummy = 0;
	EXPECT_EQ(dev.ioctl(_IOWR(XUA_IOC_MAGIC, 0x7f, int), &dummy), -ENOTTY);
	EXPECT_EQ(dev.ioctl(_IO('T', 0x01), &dummy), -ENOTTY);
}

// Whether the guard matches the cell's request is checked by the host from the xua-info record (so a
// cell fails even when this program cannot run); here: the module's flags agree with the raw registers.
TEST(Protection, AgreesWithRegistersAndCpuinfo)
{
	xua::Device dev;
	auto info = dev.info();
	bool present = info.prot_flags & XUA_PROT_PRESENT;
	bool enabled = info.prot_flags & XUA_PROT_ENABLED;
	EXPECT_FALSE(info.prot_flags & XUA_PROT_WINDOW_OPEN) << "user access open inside an ioctl";
	if (info.arch == XUA_ARCH_X86_64) {
		const uint64_t cr4 = info.arch_regs[XUA_X86_REG_CR4];
		EXPECT_EQ(enabled, (cr4 >> 21) & 1) << "CR4 = 0x" << std::hex << cr4;
		auto flags = cpuinfo();
		// /proc/cpuinfo shows the kernel's view: clearcpuid=smap (off-kernel) hides a flag the CPU has.
		bool uses = info.prot_flags & XUA_PROT_KERNEL_USES;
		EXPECT_EQ(uses, flags.find(" smap") != std::string::npos) << "/proc/cpuinfo disagrees";
		EXPECT_TRUE(present || !uses) << "the kernel uses SMAP the CPU lacks";
		EXPECT_EQ(info.arch_regs[XUA_X86_REG_RFLAGS] & (1u << 18), 0u) << "EFLAGS.AC set in an ioctl";
	} else {
		const uint64_t mmfr1 = info.arch_regs[XUA_ARM64_REG_ID_AA64MMFR1];
		EXPECT_EQ(present, ((mmfr1 >> 20) & 0xf) != 0) << "ID_AA64MMFR1_EL1 = 0x" << std::hex << mmfr1;
		// PSTATE.PAN is set on kernel entry only when the kernel uses hardware PAN (SCTLR_EL1.SPAN=0);
		// a kernel built with CONFIG_ARM64_PAN=n leaves it clear on a CPU that has it.
		bool hw = present && (info.prot_flags & XUA_PROT_KERNEL_USES) && !(info.prot_flags & XUA_PROT_SOFTWARE);
		if (hw)
			EXPECT_NE(info.arch_regs[XUA_ARM64_REG_PAN] & (1u << 22), 0u) << "PSTATE.PAN clear in an ioctl";
		else
			EXPECT_EQ(info.arch_regs[XUA_ARM64_REG_PAN] & (1u << 22), 0u) << "PSTATE.PAN set, PAN unused";
	}
}

}  // namespace
