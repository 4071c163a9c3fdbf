// This checkout as a set of files, copied into another root (a machine image's tree, a Debian root of another
// release that stands in for a user's host).
#pragma once

#include <vector>

#include "base/util.hpp"

namespace xua {

// The checkout's files relative to its top: git's tracked and untracked-not-ignored files, or (not a git
// checkout) every regular file outside build/ and results/.
std::vector<fs::path> checkout_files(const fs::path &top);

// Makes `to` hold exactly `files` of `from` (outside to/build), copying only what differs, times kept.
// Returns how many files were copied.
size_t sync_tree(const fs::path &from, const fs::path &to, const std::vector<fs::path> &files);

}  // namespace xua
