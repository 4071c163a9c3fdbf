// `./xuaccess test --suite debian13`: this checkout as a new user on Debian 13 meets it. A fresh Debian 13
// root (provision/host_root.hpp) runs the README's commands from scratch: the bootstrap installs the packages
// by what that release calls them, builds with its compilers and libraries, and `./xuaccess test` and
// `./xuaccess bench --quick` run the cells under its QEMU. TAP cases per step; the last checks that the
// cells there booted the same Debian kernel packages as this machine's own cells.
#pragma once

#include <string>

namespace xua {

// Returns the process exit status (0 when every step passed).
int run_host_release_suite(const std::string &suite_name);

}  // namespace xua
