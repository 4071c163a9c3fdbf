// Everything a set of cells needs before one boots: the host and guest programs built (configuring
// build/cross-ARCH when needed), the kernels fetched, the modules built. run_cell() only boots from
// what this made.
#pragma once

#include <vector>

#include "provision/kernel.hpp"

namespace xua {

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
