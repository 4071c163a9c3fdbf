// The report's plots: one gnuplot script per plot with its data inline (plots/<name>.gp, so that
// `gnuplot X.gp` redraws X.png alone), then gnuplot over all of them. A plot gnuplot cannot draw, or warns
// about, is a warning: the text and the comparisons stand without it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "analyze/summary.hpp"

namespace xua {

// Writes the scripts of every group's plots into `plots`, runs gnuplot, and returns the PNG names per group.
std::map<std::string, std::vector<std::string>> draw_plots(const std::vector<Group> &groups, const fs::path &plots);

}  // namespace xua
