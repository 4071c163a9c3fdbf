// Launching one QEMU guest: command line from the matrix row, console capture, a hard timeout that
// kills the guest and keeps the last console lines, and recognition of kernel oopses and panics.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "matrix.hpp"

namespace xua {

struct GuestRun {
	const Cell *cell;
	fs::path boot_image, initramfs;
	fs::path console_log, results;  // where the console and the results port are written
	std::vector<std::string> cmdline;  // extra kernel parameters (xua.* job description)
	std::string accel = "tcg";
	// 512 MiB: with 256 MiB the arm64 6.12 guest (about 170 MiB free after boot) OOM-killed a stress test
	// process now and then (each open fd may hold 8 MiB of vmalloc plus its mmap buffer).
	std::string memory = "512M";
	std::chrono::seconds timeout{180};
	std::string first_line_marker = "xuaccess-init: started";  // printed by the guest init
	// Called for each complete console line as it arrives (progress display). May be empty.
	std::function<void(const std::string &)> on_line;
};

struct GuestOutcome {
	bool timed_out = false;
	bool interrupted = false;   // stopped by SIGINT/SIGTERM on the host
	int qemu_status = -1;
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

std::string last_lines(const std::string &text, size_t n);

// Set by the front end's SIGINT/SIGTERM handler: running guests are stopped.
void request_stop();
bool stop_requested();

}  // namespace xua
