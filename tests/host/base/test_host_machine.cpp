// host/base/host_machine: the machine the front end runs on, as shared/machine_kind.hpp describes it, and how
// much longer guests may take there.
#include <cstdio>

#include <gtest/gtest.h>

#include "base/host_machine.hpp"
#include "base/util.hpp"

using namespace xua;

// Guests nested in an emulated machine get longer limits; nowhere else (a hang must still end soon there).
TEST(Machine, GuestTimeScale)
{
	using K = xua::MachineKind;
	EXPECT_EQ(xua::guest_time_scale({K::emulated, "QEMU TCG-emulated machine", ""}), 4);
	EXPECT_EQ(xua::guest_time_scale({K::virtual_machine, "virtual machine (hypervisor: QEMU virt board; TCG or KVM, "
									"not told apart)", ""}),
		  4);
	EXPECT_EQ(xua::guest_time_scale({K::virtual_machine, "virtual machine (hypervisor: Microsoft Hyper-V)", ""}), 1);
	EXPECT_EQ(xua::guest_time_scale({K::kvm, "KVM guest", ""}), 1);
	EXPECT_EQ(xua::guest_time_scale({K::silicon, "real silicon", ""}), 1);
}

TEST(Machine, ThisMachine)
{
	// Whatever this machine is, it is described with its evidence (printed for the record).
	const auto &m = this_machine();
	EXPECT_FALSE(m.description.empty());
	EXPECT_FALSE(m.evidence.empty());
	std::printf("this machine: %s (%s)\n", m.description.c_str(), m.evidence.c_str());
#if defined(__x86_64__)
	auto c = native_cpuid();
	ASSERT_TRUE(c.has_value());
	if (read_file("/proc/cpuinfo").find(" hypervisor") != std::string::npos) {
		EXPECT_TRUE(c->hypervisor_bit) << "/proc/cpuinfo shows the hypervisor flag; CPUID must too";
	}
	EXPECT_EQ(m.virtualised(), c->hypervisor_bit || m.kind != MachineKind::silicon);
#endif
}
