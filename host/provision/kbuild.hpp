// Builds the kernel module with kbuild against a cached Debian kernel's headers. Meson drives this
// (custom targets module-<arch>-<series> and sparse-<arch>-<series>); a depfile makes ninja rebuild on
// any source change.
#pragma once

#include "provision/kernel.hpp"

namespace xua {

struct KbuildRequest {
	const Arch *arch;
	std::string series;   // kernel series (6.1, 6.12); with `headers`, the running kernel's release
	fs::path out;      // the .ko to produce (debug info stripped); with sparse, a one-line report
	fs::path stamp;    // written last on success (the file ninja tracks), or empty
	fs::path depfile;  // ninja depfile for `stamp`, or empty
	bool sparse = false;  // run sparse (C=2) and fail on any warning it prints
	fs::path headers;     // build against these headers (--host: the running kernel's) instead of the cache
	bool quiet = false;
};

void kbuild(const KbuildRequest &req);

// Where the module for (arch, series) is built by Meson.
fs::path module_path(const Arch &arch, const std::string &series);

// The lines of a kbuild log that sparse or the compiler flagged (warnings and errors).
std::vector<std::string> diagnostics(std::string_view log);

}  // namespace xua
