// A comparison (analyze/compare.hpp) for people and programs: the text table and the JSON.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyze/compare.hpp"

namespace xua {

// A table of the comparison: every shared row, or those matching `rows` when given.
std::string format_comparison(const Comparison &c, const std::vector<std::string> &rows = {});
nlohmann::json comparison_json(const Comparison &c);

}  // namespace xua
