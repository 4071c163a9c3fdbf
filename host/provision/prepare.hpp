// Everything a set of cells needs before one boots: the host and guest programs built (configuring
// build/cross-ARCH when needed), the kernels fetched, the modules built. run_cell() only boots from
// what this made.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "provision/kernel.hpp"

namespace xua {

// The kernel a cell boots: Debian's prebuilt series (kernel.hpp), one built from source with the protection's
// fragment if it has one (source_kernel.hpp), or one given as a path (own_kernel.hpp).
Kernel cell_kernel(const Cell &cell, Resolve resolve, bool quiet = false);
// Where the module for a cell's kernel is built: Debian series: module_path() (Meson's targets); a kernel built
// from source or given as a path: one directory per kernel (a rebuilt tree is another), rebuilt incrementally
// by prepare().
fs::path cell_module_path(const Cell &cell);
// What a result's context records about the kernel and protection beyond its package: for a kernel built
// from source its .config hash, fragments and (with a protection fragment) the base config's hash and the
// difference; for one given as a path its path, form, .config hash and git describe; the protection's extra
// kernel parameters. Keys xua_kernel_* / xua_protection_cmdline.
nlohmann::json kernel_context(const Cell &cell, const Kernel &k);
// Builds the module against a kernel built from source or given as a path (kbuild is incremental: ~3 s when
// nothing changed).
void build_cell_module(const Cell &cell, const Kernel &k, bool quiet);

// The compiler a cell's module is built with: the series' gcc (kernel_cc) for Debian's kernels and those built
// from source, on every host; for a kernel given as a path, the one its .config in `headers` names (config_cc;
// "" is kbuild's default gcc).
std::string module_cc(const Cell &cell, const fs::path &headers);

// Refuses (exit 2) a cell this machine's QEMU cannot run (a kernel variant's needs_qemu, ci/matrix.json), with
// the reason. test and bench call it for their cells before anything is built, provision_cell() for the one it
// makes. `qemu_version_line` is `qemu-system-* --version`'s first line; empty: asks the arch's QEMU.
void check_cell_runs_here(const Cell &cell, const std::string &qemu_version_line = "");

void prepare(const std::vector<Cell> &cells);

// What one boot of a cell needs: the kernel and an initramfs with the module, the init and the job's program.
struct CellImage {
	Kernel kernel;
	fs::path initramfs;
};
// Builds the cell's initramfs into dir/initramfs.cpio for `job` (test, bench) from what prepare() made
// (the cached kernel, the module, the guest programs); builds the module when it is missing.
CellImage provision_cell(const Cell &cell, const std::string &job, const fs::path &dir);

}  // namespace xua
