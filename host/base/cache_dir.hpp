// The stamps of the cache directories (~/.cache/xuaccess: the kernels fetched or built, ...). A directory is
// checked and rebuilt under its lock file (FileLock), and its stamp, a JSON file, is written last: a directory
// whose rebuild was interrupted has no stamp (or still the old one beside its old content) and is rebuilt.
#pragma once

#include <functional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/util.hpp"

namespace xua {

// Hands the stamp's JSON to `take`. False when there is no stamp, and, after a warning that ends with what happens
// `instead` ("building again"), when it does not parse or lacks what `take` reads (a nlohmann::json exception).
bool read_stamp(const fs::path &stamp, std::string_view instead,
		const std::function<void(const nlohmann::json &)> &take);

// Writes the stamp, indented JSON and a newline, atomically (write_file): once everything else is in place.
void write_stamp(const fs::path &stamp, const nlohmann::json &j);

}  // namespace xua
