// Formatting shared by the report's text, markdown and plots: sizes, labels, escapes, notes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analyze/results.hpp"

namespace xua {

std::string size_label(uint64_t bytes);           // "4 KiB", "1 MiB", "24 B"
std::string banner(const CellResults &c);          // "EMULATED (QEMU TCG), not silicon" and the like
std::string guard_name(const CellResults &c);      // SMAP, PAN ("guard" when unknown)
std::string kernel_of(const CellResults &c);       // the kernel release ("?" when unknown); a path kernel's label
std::string prot_title(const CellResults &c);      // "SMAP on", "PAN as booted"
std::string direction_title(const std::string &dir);
std::string md_escape(const std::string &s);
std::string value_cv(const Row &r);                // "123.4 ±1.2%"
// The matrix's note on what the off CPU model changes besides the guard, when a and b are on vs off on two
// CPU models; "" for pairs on one CPU model (on vs off-kernel, sw vs off).
std::string cpu_off_note(const CellResults &a, const CellResults &b);

// Where the mmap'ed shared buffer beats the copy ioctl of the same size, end to end, for one direction of a
// cell, as runs of measured sizes: "mmap faster at 8 B-512 B, copy ioctl faster at 4 KiB-4 MiB" (ties go
// to mmap); "not measured" without the mmap rows.
std::string mmap_vs_copy(const CellResults &c, bool to_user);

// The module's raw copy against copy_{to,from}_user at >= 4 KiB, and the noise of the kernel-timed rows:
// the targets the benchmarks issue set, reported and never asserted.
std::vector<std::string> cell_notes(const CellResults &c);

}  // namespace xua
