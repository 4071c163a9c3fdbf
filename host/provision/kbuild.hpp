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
	std::string cc;       // CC= with `headers` (kernel_cc of a kernel built from source); empty: kbuild's gcc.
			      // Without `headers` it is always kernel_cc of the series.
	bool quiet = false;
};

void kbuild(const KbuildRequest &req);

// Where the module for (arch, series) is built by Meson.
fs::path module_path(const Arch &arch, const std::string &series);

// The C compiler for kernel code of `kernel` (a series or <series>-src/-debug) on `arch`: <cross prefix>gcc-<N>,
// the gcc Debian built that series with (ci/matrix.json "gcc"), whatever the host's default gcc is (Debian 13's
// is 14): the module and the kernels built from source come out the same on Debian 12 and 13. Fails naming
// the package to install when it is missing.
std::string kernel_cc(const Arch &arch, const std::string &kernel);
// The Debian package that holds `cc` (gcc-12, gcc-12-aarch64-linux-gnu, gcc-12-x86-64-linux-gnu).
std::string kernel_cc_package(const Arch &arch, const std::string &gcc_major);

// The compiler a kernel tree says it was built with: the first word of CONFIG_CC_VERSION_TEXT in its .config
// (gcc-12, aarch64-linux-gnu-gcc-12: gcc names itself as it was invoked) when this machine has that program,
// else "" (kbuild's default gcc). A module built with another gcc than its kernel's may not load or build.
std::string config_cc(const fs::path &dot_config);

// The lines of a kbuild log that sparse or the compiler flagged (warnings and errors).
std::vector<std::string> diagnostics(std::string_view log);

}  // namespace xua
