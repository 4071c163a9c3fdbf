// Debian kernels for the guests: resolved from Debian's meta packages at set-up time in the series' own Debian
// suite (provision/debian_archive.hpp), downloaded and unpacked into the build cache (never installed system-wide).
#pragma once

#include <string>
#include <vector>

#include "provision/matrix.hpp"

namespace xua {

struct Kernel {
	std::string release;      // uname -r inside the guest, e.g. 6.1.0-56-amd64
	std::string version;      // Debian package version, e.g. 6.1.192-2
	std::string image_pkg;    // the concrete package, e.g. linux-image-6.1.0-56-amd64
	fs::path dir;             // cache directory of this (arch, series)
	fs::path boot_image;      // what QEMU's -kernel gets (x86: ELF vmlinux; arm64: Image)
	fs::path headers;         // the flavour headers directory to run kbuild in
	fs::path stamp;           // kernel.json: changes whenever the kernel does
};

// always: resolve the current concrete kernel for (arch, series) from Debian's meta package (set-up time);
// if_missing: use the cached kernel when there is one (builds and cells, after set-up resolved it).
enum class Resolve { always, if_missing };

// Fetches and unpacks the kernel when the cache does not hold that exact version, and returns where
// everything is. Safe to call concurrently (file lock).
Kernel ensure_kernel(const Arch &arch, const std::string &series, Resolve resolve, bool quiet = false);

// Unpacks a Debian kernel's packages (linux-image-<release>: /boot only; the headers, -common headers and
// linux-kbuild: whole) into `root`, points the flavour headers' Makefile at the -common headers under
// `final_root` (where the caller moves root afterwards; may be root itself), and writes what QEMU boots to
// `boot_image` (x86: the ELF vmlinux extracted from the bzImage; arm64: the Image).
void unpack_debian_kernel(const Arch &arch, const std::string &release, const std::vector<fs::path> &debs,
			  const fs::path &root, const fs::path &final_root, const fs::path &boot_image);
// Flavour headers are usable when the -common Makefile they include and the kbuild scripts exist.
bool headers_complete(const fs::path &headers);

// The concrete image package and version a series' meta package depends on (its apt control stanza), refused
// (Refused: exit 2) when that kernel is not of `series`. Exposed for the unit tests.
std::pair<std::string, std::string> resolve_series_meta(const std::string &meta, const std::string &stanza,
							const std::string &series, const std::string &suite);

// Extracts the ELF vmlinux from an x86 bzImage (setup header payload_offset/payload_length).
// Exposed for the unit tests.
struct BzPayload {
	size_t offset = 0, length = 0;
	std::string compression;  // xz, gzip, zstd, lz4, lzma, bzip2, lzo, or "" when unknown
};
BzPayload bzimage_payload(std::string_view image);

}  // namespace xua
