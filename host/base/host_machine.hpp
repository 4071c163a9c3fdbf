// The machine the front end runs on, as shared/machine_kind.hpp describes it: real silicon, or itself a virtual
// or emulated machine. Recorded in every result (xua_host_machine) and used in the labels.
#pragma once

#include "shared/machine_kind.hpp"

namespace xua {

inline const MachineKind &this_machine()
{
	static const MachineKind m = describe_machine(read_machine_facts());
	return m;
}

// How many times longer guests may take on this machine: 4 when it is itself TCG-emulated, or a QEMU machine
// that cannot say whether it is TCG or KVM (arm64 virt); 1 elsewhere (real silicon, KVM guests, cloud VMs).
// Guests nested in an emulated machine run several times slower: under KVM inside the arm64 machine image a
// cell passed 46 of its 47 cases and then met its 240-s limit before powering off.
inline int guest_time_scale(const MachineKind &m = this_machine())
{
	bool qemu_unsure = m.kind == MachineKind::virtual_machine && m.description.find("QEMU") != std::string::npos;
	return m.kind == MachineKind::emulated || qemu_unsure ? 4 : 1;
}

}  // namespace xua
