// What kind of machine this is: real silicon, or itself virtual or emulated. Shared by the host front end
// (recorded in every result as xua_host_machine and used in its labels) and the guest init (which reports
// what a QEMU guest shows, the check that the detection sees what it should).
//
// The evidence, most specific first:
//   x86 CPUID leaf 1 ECX bit 31 (hypervisor present) and the hypervisor's signature at leaf 0x40000000
//   ("TCGTCGTCGTCG" QEMU TCG, "KVMKVMKVM\0\0\0" KVM, "Microsoft Hv", "VMwareVMware", ...);
//   an arm64 device tree's /hypervisor node; /sys/hypervisor/type (Xen);
//   DMI (/sys/class/dmi/id/sys_vendor, product_name: "QEMU", "VMware, Inc.", ...);
//   an arm64 device tree compatible "linux,dummy-virt" (QEMU's virt board).
// "real silicon" only when none of them says otherwise. Everything is read under a root directory and
// CPUID values are passed in, so tests run on fake /sys and /proc trees and fake CPUID values.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace xua {

struct Cpuid {
	bool hypervisor_bit = false;  // leaf 1 ECX bit 31
	std::string signature;        // leaf 0x40000000 EBX ECX EDX, 12 bytes, trailing NULs dropped
	uint32_t max_leaf = 0;        // leaf 0x40000000 EAX
};

// The CPUID of the CPU this runs on; nullopt where there is no CPUID (arm64).
inline std::optional<Cpuid> native_cpuid()
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned a = 0, b = 0, c = 0, d = 0;
	Cpuid r;
	if (__get_cpuid(1, &a, &b, &c, &d))
		r.hypervisor_bit = (c >> 31) & 1;
	// Leaves 0x40000000+ are not range-checked by __get_cpuid (they are not basic or extended leaves): ask
	// directly. On silicon without a hypervisor they return whatever the highest basic leaf holds, so the
	// signature counts only with the hypervisor bit (see describe_machine).
	__cpuid(0x40000000, a, b, c, d);
	char sig[13] = {};
	std::memcpy(sig, &b, 4);
	std::memcpy(sig + 4, &c, 4);
	std::memcpy(sig + 8, &d, 4);
	r.signature = std::string(sig, 12);
	while (!r.signature.empty() && r.signature.back() == '\0')
		r.signature.pop_back();
	r.max_leaf = a;
	return r;
#else
	return std::nullopt;
#endif
}

struct MachineFacts {
	std::optional<Cpuid> cpuid;
	std::string dmi_vendor, dmi_product;  // /sys/class/dmi/id/sys_vendor, product_name
	std::string dt_compatible;            // /proc/device-tree/compatible, NULs as spaces
	std::string dt_hypervisor;            // /proc/device-tree/hypervisor/compatible (exists: a hypervisor)
	bool dt_hypervisor_node = false;
	std::string sys_hypervisor;           // /sys/hypervisor/type
};

struct MachineKind {
	enum Kind { silicon, emulated, kvm, virtual_machine } kind = silicon;
	// "real silicon", "QEMU TCG-emulated machine", "KVM guest", "virtual machine (hypervisor: VMware)"
	std::string description;
	std::string evidence;  // what said so (or what was looked at, for real silicon)
	bool virtualised() const { return kind != silicon; }
};

namespace machine_detail {

inline std::string read_trimmed(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		return {};
	std::stringstream ss;
	ss << in.rdbuf();
	std::string s = ss.str();
	std::replace(s.begin(), s.end(), '\0', ' ');  // device-tree string lists
	while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
		s.pop_back();
	return s;
}

inline bool exists(const std::string &path)
{
	std::ifstream in(path);
	return static_cast<bool>(in);
}

inline std::string printable(const std::string &s)
{
	std::string o;
	for (unsigned char c : s)
		o += c >= 0x20 && c < 0x7f ? std::string(1, static_cast<char>(c)) : "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
	return o;
}

inline bool contains(const std::string &hay, const std::string &needle)
{
	return hay.find(needle) != std::string::npos;
}

}  // namespace machine_detail

// The facts under `root` ("/" on a live system; a fake tree in tests), with `cpuid` as given.
inline MachineFacts read_machine_facts(const std::string &root = "/", std::optional<Cpuid> cpuid = native_cpuid())
{
	using namespace machine_detail;
	std::string r = root.empty() || root.back() != '/' ? root + "/" : root;
	MachineFacts f;
	f.cpuid = std::move(cpuid);
	f.dmi_vendor = read_trimmed(r + "sys/class/dmi/id/sys_vendor");
	f.dmi_product = read_trimmed(r + "sys/class/dmi/id/product_name");
	// /proc/device-tree is a link to /sys/firmware/devicetree/base; read either.
	for (const char *dt : {"proc/device-tree/", "sys/firmware/devicetree/base/"}) {
		if (f.dt_compatible.empty())
			f.dt_compatible = read_trimmed(r + dt + "compatible");
		if (!f.dt_hypervisor_node && (exists(r + dt + "hypervisor/compatible") || exists(r + dt + "hypervisor/name"))) {
			f.dt_hypervisor_node = true;
			f.dt_hypervisor = read_trimmed(r + dt + "hypervisor/compatible");
		}
	}
	f.sys_hypervisor = read_trimmed(r + "sys/hypervisor/type");
	return f;
}

inline MachineKind describe_machine(const MachineFacts &f)
{
	using namespace machine_detail;
	MachineKind m;
	std::vector<std::string> seen;
	if (f.cpuid) {
		if (f.cpuid->hypervisor_bit)
			seen.push_back("CPUID hypervisor bit set, leaf 0x40000000 signature '" + printable(f.cpuid->signature) + "'");
		else
			seen.push_back("CPUID hypervisor bit clear");
	}
	if (!f.dmi_vendor.empty() || !f.dmi_product.empty())
		seen.push_back("DMI '" + f.dmi_vendor + "' / '" + f.dmi_product + "'");
	if (!f.dt_compatible.empty())
		seen.push_back("device tree compatible '" + f.dt_compatible + "'");
	if (f.dt_hypervisor_node)
		seen.push_back("device tree /hypervisor '" + f.dt_hypervisor + "'");
	if (!f.sys_hypervisor.empty())
		seen.push_back("/sys/hypervisor/type '" + f.sys_hypervisor + "'");
	if (seen.empty())
		seen.push_back("no CPUID, DMI, device tree or /sys/hypervisor facts");
	for (auto &s : seen)
		m.evidence += (m.evidence.empty() ? "" : "; ") + s;

	auto vm = [&](const std::string &what) {
		m.kind = MachineKind::virtual_machine;
		m.description = "virtual machine (hypervisor: " + what + ")";
		return m;
	};
	// 1. CPUID: the hypervisor says who it is.
	if (f.cpuid && f.cpuid->hypervisor_bit) {
		const auto &s = f.cpuid->signature;
		if (s == "TCGTCGTCGTCG") {
			m.kind = MachineKind::emulated;
			m.description = "QEMU TCG-emulated machine";
			return m;
		}
		if (s == "KVMKVMKVM") {
			m.kind = MachineKind::kvm;
			m.description = "KVM guest";
			return m;
		}
		static const std::array<std::pair<const char *, const char *>, 8> known = {{
			{"Microsoft Hv", "Microsoft Hyper-V"},
			{"VMwareVMware", "VMware"},
			{"XenVMMXenVMM", "Xen"},
			{"VBoxVBoxVBox", "VirtualBox"},
			{" lrpepyh  vr", "Parallels"},
			{"ACRNACRNACRN", "ACRN"},
			{"bhyve bhyve ", "bhyve"},
			{"QNXQVMBSQG", "QNX"},
		}};
		for (auto &[sig, name] : known)
			if (s == sig)
				return vm(name);
		return vm(s.empty() ? std::string("unnamed: CPUID hypervisor bit set, no signature")
				    : "CPUID signature '" + printable(s) + "'");
	}
	// 2. A hypervisor node in the device tree (Xen on arm64), /sys/hypervisor (Xen).
	if (f.dt_hypervisor_node)
		return vm(f.dt_hypervisor.empty() ? std::string("device tree /hypervisor node") : f.dt_hypervisor);
	if (!f.sys_hypervisor.empty())
		return vm(f.sys_hypervisor);
	// 3. DMI of the virtual firmware.
	const auto &v = f.dmi_vendor, &p = f.dmi_product;
	if (v == "QEMU" || contains(p, "QEMU"))
		return vm(std::string("QEMU (") + (f.cpuid ? "CPUID names no accelerator" : "TCG or KVM, not told apart") + ")");
	if (contains(v, "VMware"))
		return vm("VMware");
	if (contains(v, "innotek") || contains(p, "VirtualBox"))
		return vm("VirtualBox");
	if (v == "Xen" || contains(p, "HVM domU"))
		return vm("Xen");
	if (v == "Microsoft Corporation" && p == "Virtual Machine")
		return vm("Microsoft Hyper-V");
	if (contains(v, "Parallels"))
		return vm("Parallels");
	if (v == "BHYVE")
		return vm("bhyve");
	if (p == "Google Compute Engine")
		return vm("Google Compute Engine");
	if (v == "Amazon EC2" && !p.ends_with(".metal"))  // .metal instances are bare metal
		return vm("Amazon EC2 (Nitro)");
	if (contains(p, "OpenStack"))
		return vm("OpenStack");
	if (contains(p, "KubeVirt"))
		return vm("KubeVirt");
	// 4. QEMU's virt board (arm64 direct kernel boot has no DMI).
	if (contains(f.dt_compatible, "linux,dummy-virt"))
		return vm("QEMU virt board; TCG or KVM, not told apart");
	m.kind = MachineKind::silicon;
	m.description = "real silicon";
	return m;
}

}  // namespace xua
