// Launching one QEMU guest: command line from the matrix row, console capture, a hard timeout and an
// inactivity watchdog that end the guest and keep the last console lines, and recognition of kernel
// oopses and panics. QEMU runs as a Child (base/process.hpp): it never outlives the front end.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "shared/protocol.hpp"
#include "provision/matrix.hpp"

namespace xua {

struct GuestRun {
	const Cell *cell;  // null when argv is given
	fs::path boot_image, initramfs;
	fs::path console_log, results;  // where the console and the results port are written
	std::vector<std::string> cmdline;  // extra kernel parameters (xua.* job description)
	std::string accel = "tcg";
	// The deterministic instruction clock (TCG only): -icount shift=0,sleep=off makes the guest's clock advance
	// one ns per executed instruction, so kernel-timed figures are instruction counts, equal in every boot.
	bool icount = false;
	// 512 MiB: with 256 MiB the arm64 6.12 guest (about 170 MiB free after boot) OOM-killed a stress test
	// process now and then (each open fd may hold 8 MiB of vmalloc plus its mmap buffer).
	std::string memory = "512M";
	std::chrono::seconds timeout{180};
	// Ends the guest when the console stays silent and the results port does not grow this long (0: no
	// watchdog). Bench guests print a progress record per benchmark, so a silent one is stuck, not slow.
	std::chrono::seconds inactivity{0};
	std::string first_line_marker{protocol::kStarted};  // printed by the guest init
	// Called for each complete console line as it arrives (progress display). May be empty.
	std::function<void(const std::string &)> on_line;
	// A complete QEMU command line (the machine images, run/machine.hpp); empty: built from the cell.
	std::vector<std::string> argv;
};

struct GuestOutcome {
	bool timed_out = false;     // the hard timeout or the inactivity watchdog ended it
	std::string timeout_reason; // which, and after how long
	int qemu_status = -1;
	double qemu_cpu_seconds = -1;  // QEMU's own CPU time (user + system)
	double seconds = 0;         // QEMU start to exit
	double first_output = -1;   // QEMU start to the guest init's first line, -1 if never seen
	// What else the host did while the guest ran (a TCG guest slows down when it has to share a core):
	// other processes' CPU time in cores on average, and the share of time the hypervisor under this
	// machine took away (steal). -1 when unknown.
	double host_other_cores = -1;
	double host_steal = -1;
	std::string console;        // the whole console, \r stripped
	std::vector<std::string> argv;
};

std::vector<std::string> qemu_argv(const GuestRun &g);
GuestOutcome run_guest(const GuestRun &g);

// The first kernel oops/panic/BUG/WARN report in a console log, with the lines that follow it
// (up to `context`); empty when there is none.
struct KernelProblem {
	std::string kind;  // "panic", "oops", "BUG", "WARNING"
	std::string text;
};
std::vector<KernelProblem> kernel_problems(const std::string &console, size_t context = 40);


}  // namespace xua
