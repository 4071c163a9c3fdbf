// report.md: the cells, how to read the figures, and per group the comparison, notes, plots and headline table.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "analyze/summary.hpp"

namespace xua {

std::string markdown(const fs::path &dir, const std::vector<CellResults> &cells, const std::vector<Group> &groups,
		     const std::map<std::string, std::vector<std::string>> &pngs);

}  // namespace xua
