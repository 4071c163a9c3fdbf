// `./xuaccess compare A.json B.json`.
#pragma once

#include <optional>

#include "analyze/compare.hpp"

namespace xua {

// --max-regression PCT: is B slower than A by more than PCT percent in some row? Exact clocks (icount)
// compare the values; time clocks decide on the interval of B/A (slower only when its lower bound is above
// 1 + PCT/100). Prints one line per row that is slower or cannot be decided, and a summary line.
RegressionCheck regression(const Comparison &c, double max_pct);
std::string format_regression(const RegressionCheck &r);

// The compare command: prints the table; returns 0, 2 when refused, 1 when --max-regression finds a row of B
// slower than A by more than the limit.
int run_compare(const fs::path &a, const fs::path &b, const CompareOptions &o, const fs::path &json_out,
		std::optional<double> max_regression_pct = std::nullopt);

}  // namespace xua
