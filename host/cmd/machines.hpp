// `./xuaccess test --suite machines`: the real-silicon paths run end to end in Debian 12 machine images
// (provision/machine.hpp) standing in for a user's machine. Per arch, TAP cases per step: image built,
// checkout built in it, `bench --host` with the guard on (module built against the machine's own kernel,
// loaded, suites run, unloaded), again with the guard off, `compare` reading the pair, and `test`/`bench`
// with `--accel kvm` inside the machine (KVM nested in the emulated machine).
#pragma once

#include <string>
#include <vector>

namespace xua {

// Returns the process exit status (0 when every step passed).
int run_machine_suite(const std::vector<std::string> &arches);

}  // namespace xua
