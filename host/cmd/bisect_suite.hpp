// `./xuaccess test --suite bisect`: `./xuaccess bisect` over a synthetic kernel history made from Debian's
// linux-source-6.1, per arch: names the planted commit and its instruction count, skips the revision that
// does not build, leaves the repository as it found it (docs/bisect.md). TAP cases per step.
#pragma once

#include <string>
#include <vector>

namespace xua {

// Returns the process exit status (0 when every case passed). Empty `arches`: every arch of the matrix.
int run_bisect_suite(const std::vector<std::string> &arches);

}  // namespace xua
