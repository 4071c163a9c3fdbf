// The machine the front end runs on, as guest/machine_kind.hpp describes it: real silicon, or itself a virtual
// or emulated machine. Recorded in every result (xua_host_machine) and used in the labels.
#pragma once

#include "machine_kind.hpp"

namespace xua {

inline const MachineKind &this_machine()
{
	static const MachineKind m = describe_machine(read_machine_facts());
	return m;
}

// What a result's figures come from, from its accelerator (tcg, kvm, host) and the xua_host_machine it
// recorded ("" in files from before it was recorded): "KVM on real silicon", "KVM inside an emulated machine
// (QEMU TCG)", "host kernel on a QEMU TCG-emulated machine", ... TCG's own label stays "emulated (TCG)".
std::string machine_label(const std::string &accel, const std::string &machine);

}  // namespace xua
