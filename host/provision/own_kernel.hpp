// Kernels given as a path (--kernel PATH): the user's own kernel, in one of two forms.
//
//   A build tree: the O= directory (or the source directory of an in-tree build) with the boot image built and
//   `make modules_prepare` done. QEMU boots what tree_boot_image() says (x86_64: the ELF vmlinux through its PVH
//   entry, or arch/x86/boot/bzImage; arm64: arch/arm64/boot/Image); the module is built against the tree.
//
//   A directory of Debian-style packages: one linux-image-<release>_*.deb, its linux-headers-<release>_*.deb
//   and the packages those headers depend on among linux-headers-*-common and linux-kbuild-*. They are unpacked
//   into the cache the way Debian's own kernels are (unpack_debian_kernel).
//
// The arch comes from the .config (Arch::kconfig_arch: CONFIG_X86_64, CONFIG_ARM64), the release (uname -r)
// from include/config/kernel.release (tree) or the image package's name (packages). Before anything is built
// or booted, the .config is checked against the arch's kernel_needs (ci/matrix.json): what is missing is refused
// with the list (Refused, exit 2), instead of a guest that hangs or never reports.
//
// Cells name the kernel by its label, tree-<release> or deb-<release> (any character but [A-Za-z0-9._+-] as
// '_'): results/<run>/<arch>-tree-6.1.192-on.json. Their context records the path, the release, the .config's
// SHA-256 and the `git describe` of the source tree when it is a git tree (an O= tree's `source` link), or the
// packages' version.
//
// Cache, outside the checkout as for kernels built from source:
//   ${XDG_CACHE_HOME:-$HOME/.cache}/xuaccess/kernels/<label>-<key>/
//     kernel.json (written last), and for packages root/ (unpacked) and the boot image.
// <key> hashes the path, the boot image's size and mtime and the .config (tree), or every package's name, size
// and mtime (packages): a rebuilt tree or other packages are another kernel, with a module built afresh.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "provision/kernel.hpp"

namespace xua {

struct OwnKernel {
	enum class Form { tree, debs };
	Form form = Form::tree;
	fs::path path;  // canonical
	const Arch *arch = nullptr;
	std::string release;  // uname -r
	std::string label;    // tree-<release> / deb-<release>: the cell's kernel name
	std::string key;      // see above
	std::map<std::string, std::string> config;  // the .config, parsed
	std::string config_sha256;
	fs::path boot_image;  // tree: in the tree; packages: where ensure_own_kernel() puts it
	fs::path headers;     // what kbuild runs in (tree: the tree; packages: the unpacked flavour headers)
	std::vector<fs::path> debs;        // packages: image, headers and what the headers depend on
	std::string image_pkg, version;    // packages: the image package and its version
	fs::path dir;         // the cache directory
};

// A --kernel value is a path when it holds a '/' (./obj, /home/me/linux/out, debs/).
bool is_kernel_path(const std::string &name);

// "tree-6.1.192", "deb-6.1.0-56-amd64": filesystem-safe (any character but [A-Za-z0-9._+-] becomes '_').
std::string own_kernel_label(OwnKernel::Form form, const std::string &release);

// Reads the path and checks it (cheap: nothing is unpacked or built). Refuses (Refused) with every problem found:
// neither a tree nor packages, no arch in the .config, the image or modules_prepare missing, a package missing,
// options the guest needs.
OwnKernel inspect_own_kernel(const fs::path &path);
// inspect_own_kernel() once per path and process: a run works on one snapshot of the tree.
const OwnKernel &own_kernel(const fs::path &path);

// The kernel for a cell. Packages are unpacked into the cache the first time; kernel.json is written when
// missing and, with Resolve::always (set-up time), again (the tree's git describe may have changed).
Kernel ensure_own_kernel(const OwnKernel &ok, Resolve resolve, bool quiet = false);

// The context keys of such a kernel's results (xua_kernel_path, _form, _config_sha256, _git_describe), from its
// kernel.json.
nlohmann::json own_kernel_context(const Kernel &k);

}  // namespace xua
