// Kernels built from Debian's source packages (linux-source-6.1, linux-source-6.12) with a small config
// made for the QEMU machines: `make allnoconfig` with the fragments in ci/kconfig/ as KCONFIG_ALLCONFIG
// (base + arch + variant + protection), every fragment line checked in the resulting .config.
//
// Names on the command line: <series>-src (the base config), <series>-debug (lockdep, KASAN, UBSAN,
// KFENCE, ...) and, arm64 only, <series>-mte (MTE and hardware tag-based KASAN; ci/matrix.json "variants").
// The protections off-kernel (arm64: CONFIG_ARM64_PAN=n) and sw (arm64: CONFIG_ARM64_SW_TTBR0_PAN=y) add one
// fragment each.
//
// Cache, outside the checkout so fresh clones and CI on this machine share it:
//   ${XDG_CACHE_HOME:-$HOME/.cache}/xuaccess/
//     kernel-src/<version>/linux-source-<series>/   the unpacked source (apt-get download + dpkg -x + tar)
//     kernels/<series>-<arch>-<variant>-<key>/      obj/ (the O= tree: image, modules_prepare done),
//                                                   config.fragment, build.log, kernel.json (written last)
//     ccache/                                       CCACHE_DIR
// <key> hashes the source package version, the arch, the compiler version and every fragment's text.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "provision/kernel.hpp"

namespace xua {

struct SourceKernelName {
	std::string series;   // 6.1, 6.12
	std::string variant;  // src, debug, mte
};
// "6.1-src" -> {6.1, src}; nullopt for anything else (Debian's prebuilt series, paths).
std::optional<SourceKernelName> parse_source_kernel(const std::string &name);
bool is_source_kernel(const std::string &name);

// The fragment names (ci/kconfig/<name>.config), in the order they apply, for a cell: base, the arch, the
// variant's own (none for src; variant_fragment_count says how many come before the protection's), then the
// protection's.
size_t variant_fragment_count(const std::string &variant);
std::vector<std::string> kconfig_fragments(const Arch &arch, const std::string &variant,
					   const std::string &protection);

// Kconfig assignments of a fragment or .config: symbol (without CONFIG_) -> value, "n" for "is not set".
// Later lines win, as in kconfig.
std::map<std::string, std::string> parse_kconfig(std::string_view text);
// The assignments `want` asks for that `config` does not hold, as "CONFIG_X=y (got: n)".
std::vector<std::string> kconfig_unmet(const std::map<std::string, std::string> &want,
				       const std::map<std::string, std::string> &config);
// The assignments on which two configs differ, as "CONFIG_X: a -> b" (a symbol absent counts as n).
std::vector<std::string> kconfig_diff(const std::map<std::string, std::string> &a,
				      const std::map<std::string, std::string> &b);

// The needs (ci/matrix.json kernel_needs) that `config` does not meet, as "CONFIG_X=y (got: n): why".
std::vector<std::string> kconfig_needs_unmet(const std::vector<KconfigNeed> &needs,
					     const std::map<std::string, std::string> &config);

// What QEMU boots from a kernel's O= tree with this config: arm64 arch/arm64/boot/Image; x86_64 the ELF
// vmlinux through its PVH entry (no decompression under TCG) when the config has CONFIG_PVH and no KASAN
// (6.1's PVH entry, xen_prepare_pvh(), is KASAN-instrumented and triple-faults on the shadow that does not
// exist yet), else arch/x86/boot/bzImage.
fs::path tree_boot_image(const Arch &arch, const fs::path &obj, const std::map<std::string, std::string> &config);

// SHA-256 in hex of a file and of a text (sha256sum).
std::string sha256_file(const fs::path &file);
std::string sha256_text(std::string_view text);

// ${XDG_CACHE_HOME:-$HOME/.cache}/xuaccess
fs::path user_cache();

// The kernel's KUnit tool directory (tools/testing/kunit: kunit_parser.py and what it imports) of
// linux-source-<series>: from an unpacked tree in the cache when there is one (source kernels), else only
// that directory, unpacked once from the package into kernel-src/<version>/kunit/ (one pass over the
// tarball, no full tree on disk).
fs::path ensure_kunit_tools(const std::string &series, bool quiet = false);

// The unpacked source tree of linux-source-<series> and its package version: fetched from the series' Debian
// suite, unpacked with dpkg -x and tar into kernel-src/<version>/ once per version. Offline, the newest
// unpacked version is used.
std::pair<fs::path, std::string> ensure_source(const std::string &series, bool quiet = false);

// The fragments (ci/kconfig/<name>.config) as one text after `header` and a "# fragments ..." line: what
// allnoconfig is given as KCONFIG_ALLCONFIG, and (with a header naming source, arch and compiler) a cache key.
std::string merge_fragments(const std::vector<std::string> &frags, const std::string &header);

// One kernel build of a source tree into an O= directory: allnoconfig with `fragment` (a merged fragment file)
// as KCONFIG_ALLCONFIG, every line of it checked in the .config (Error naming the ones that did not hold),
// then the boot image, modules and modules_prepare (niced, -j the usable CPUs, CC="ccache <cc>" with the
// cache's ccache, reproducible version strings). The make output goes to `log`; Error when make fails.
struct TreeBuild {
	const Arch *arch = nullptr;
	fs::path src, obj, fragment, log;
	std::string cc;            // kernel_cc() of the series
	std::string label;         // what messages call it
	std::string image_target;  // tree_boot_image()'s file name: vmlinux, bzImage or Image
	bool quiet = false;
};
void build_kernel_tree(const TreeBuild &b);

// Builds (or finds in the cache) the kernel for this arch, source-kernel name and protection, and returns
// it like ensure_kernel() does for Debian's: headers = the O= tree to build modules in.
Kernel ensure_source_kernel(const Arch &arch, const std::string &name, const std::string &protection,
			    bool quiet = false);

}  // namespace xua
