// Detection of the machine xuaccess runs on (shared/machine_kind.hpp): fake /sys and /proc trees and fake CPUID
// values, with positive controls both ways (a machine that looks like silicon says so, one that looks
// emulated does not). The labels that use it: analyze/test_results.cpp; compare refusing two host machines:
// analyze/test_compare.cpp; this machine: base/test_host_machine.cpp.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "shared/machine_kind.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

// A fake root: files relative to it, each with its content (device-tree strings keep their NULs).
struct FakeRoot : TempDir {
	explicit FakeRoot(const std::string &name) : TempDir("machine-" + name) {}
	FakeRoot &file(const std::string &rel, const std::string &content)
	{
		put(rel, content);
		return *this;
	}
	MachineKind describe(std::optional<Cpuid> cpuid) const
	{
		return describe_machine(read_machine_facts(path, cpuid));
	}
};

Cpuid cpuid(bool hv, const std::string &sig = "")
{
	return Cpuid{hv, sig, hv ? 0x40000001u : 0u};
}

// An x86 server: real DMI of a vendor, no hypervisor bit.
FakeRoot &x86_silicon(FakeRoot &r)
{
	return r.file("sys/class/dmi/id/sys_vendor", "Dell Inc.\n").file("sys/class/dmi/id/product_name", "PowerEdge R650\n");
}

}  // namespace

TEST(Machine, RealSiliconOnlyWhenNothingSaysOtherwise)
{
	// Positive control, silicon: an x86 server with the hypervisor bit clear.
	FakeRoot r("silicon");
	x86_silicon(r);
	auto m = r.describe(cpuid(false));
	EXPECT_EQ(m.kind, MachineKind::silicon);
	EXPECT_EQ(m.description, "real silicon");
	EXPECT_FALSE(m.virtualised());
	EXPECT_NE(m.evidence.find("hypervisor bit clear"), std::string::npos) << m.evidence;
	EXPECT_NE(m.evidence.find("PowerEdge"), std::string::npos) << m.evidence;
	// An arm64 server: a device tree of a real board, no CPUID.
	FakeRoot a("silicon-arm");
	a.file("proc/device-tree/compatible", std::string("ampere,mtjade\0ampere,altra\0", 27));
	EXPECT_EQ(a.describe(std::nullopt).description, "real silicon");
	// ACPI arm64 server: no device tree, DMI of the vendor.
	FakeRoot g("silicon-acpi");
	g.file("sys/class/dmi/id/sys_vendor", "Amazon EC2").file("sys/class/dmi/id/product_name", "c7g.metal");
	EXPECT_EQ(g.describe(std::nullopt).description, "real silicon") << ".metal instances are bare metal";
	// Nothing at all to look at (a minimal container): nothing says otherwise.
	FakeRoot e("empty");
	EXPECT_EQ(e.describe(std::nullopt).description, "real silicon");
}

TEST(Machine, QemuTcgIsEmulated)
{
	// Positive control, emulated: what an x86_64 -cpu max guest under QEMU 7.2 TCG shows (README: verified in
	// a guest), and it must not say silicon.
	FakeRoot r("tcg");
	r.file("sys/class/dmi/id/sys_vendor", "QEMU\n").file("sys/class/dmi/id/product_name", "Standard PC (i440FX + PIIX, 1996)\n");
	auto m = r.describe(cpuid(true, "TCGTCGTCGTCG"));
	EXPECT_EQ(m.kind, MachineKind::emulated);
	EXPECT_EQ(m.description, "QEMU TCG-emulated machine");
	EXPECT_TRUE(m.virtualised());
	EXPECT_NE(m.evidence.find("TCGTCGTCGTCG"), std::string::npos) << m.evidence;
	// The same DMI without the hypervisor bit (a CPU model that hides it): still not silicon.
	auto q = r.describe(cpuid(false));
	EXPECT_TRUE(q.virtualised());
	EXPECT_NE(q.description.find("QEMU"), std::string::npos) << q.description;
}

TEST(Machine, KvmAndOtherHypervisors)
{
	FakeRoot r("kvm");
	r.file("sys/class/dmi/id/sys_vendor", "QEMU\n");
	auto k = r.describe(cpuid(true, std::string("KVMKVMKVM")));
	EXPECT_EQ(k.kind, MachineKind::kvm);
	EXPECT_EQ(k.description, "KVM guest");
	FakeRoot plain("hv");
	const std::vector<std::pair<std::string, std::string>> sigs = {{"Microsoft Hv", "Microsoft Hyper-V"},
								       {"VMwareVMware", "VMware"},
								       {"XenVMMXenVMM", "Xen"},
								       {"VBoxVBoxVBox", "VirtualBox"}};
	for (auto &[sig, name] : sigs) {
		auto m = plain.describe(cpuid(true, sig));
		EXPECT_EQ(m.kind, MachineKind::virtual_machine) << sig;
		EXPECT_EQ(m.description, "virtual machine (hypervisor: " + name + ")");
	}
	auto odd = plain.describe(cpuid(true, "NewHypervsr!"));
	EXPECT_EQ(odd.description, "virtual machine (hypervisor: CPUID signature 'NewHypervsr!')");
	EXPECT_TRUE(plain.describe(cpuid(true, "")).virtualised()) << "the hypervisor bit alone is enough";
	// The signature leaf means nothing without the hypervisor bit (silicon returns other leaves' data there).
	EXPECT_FALSE(plain.describe(cpuid(false, "KVMKVMKVM")).virtualised());
	// DMI alone (no CPUID: an arm64 VM booted with UEFI).
	FakeRoot v("vmware");
	v.file("sys/class/dmi/id/sys_vendor", "VMware, Inc.");
	EXPECT_EQ(v.describe(std::nullopt).description, "virtual machine (hypervisor: VMware)");
	FakeRoot x("xen");
	x.file("sys/hypervisor/type", "xen\n");
	EXPECT_EQ(x.describe(std::nullopt).description, "virtual machine (hypervisor: xen)");
	FakeRoot gce("gce");
	gce.file("sys/class/dmi/id/sys_vendor", "Google").file("sys/class/dmi/id/product_name", "Google Compute Engine");
	EXPECT_TRUE(gce.describe(std::nullopt).virtualised());
}

TEST(Machine, Arm64DeviceTree)
{
	// QEMU's arm64 virt board with a direct kernel boot: no DMI, device tree "linux,dummy-virt".
	FakeRoot r("virt");
	r.file("proc/device-tree/compatible", std::string("linux,dummy-virt\0", 17));
	auto m = r.describe(std::nullopt);
	EXPECT_EQ(m.kind, MachineKind::virtual_machine);
	EXPECT_EQ(m.description, "virtual machine (hypervisor: QEMU virt board; TCG or KVM, not told apart)");
	EXPECT_NE(m.evidence.find("linux,dummy-virt"), std::string::npos) << m.evidence;
	// Read through /sys/firmware/devicetree/base as well (where /proc/device-tree points).
	FakeRoot s("virt-sys");
	s.file("sys/firmware/devicetree/base/compatible", std::string("linux,dummy-virt\0", 17));
	EXPECT_TRUE(s.describe(std::nullopt).virtualised());
	// Xen on arm64: a /hypervisor node.
	FakeRoot x("dt-xen");
	x.file("proc/device-tree/compatible", std::string("arm,juno\0", 9))
		.file("proc/device-tree/hypervisor/compatible", std::string("xen,xen-4.17\0xen,xen\0", 21));
	EXPECT_EQ(x.describe(std::nullopt).description, "virtual machine (hypervisor: xen,xen-4.17 xen,xen)");
}
