// `./xuaccess compare A.json B.json`.
#pragma once

#include "analyze/compare.hpp"

namespace xua {

// The compare command: prints the table; returns 0, or 2 when refused.
int run_compare(const fs::path &a, const fs::path &b, const CompareOptions &o, const fs::path &json_out);

}  // namespace xua
