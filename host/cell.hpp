// One cell of the matrix: build its initramfs, boot it, run a job in the guest, and judge the outcome
// (boot, module load, protection verified against the request, the job's own results, kernel problems).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernel.hpp"
#include "qemu.hpp"

namespace xua {

struct CellJob {
	std::string job = "test";            // guest job: test, bench
	std::vector<std::string> args;       // arguments for the guest program
	std::string modparams;               // module parameters
	std::chrono::seconds timeout{240};
	std::string accel = "tcg";           // tcg, or kvm for a guest of the host's own arch
	std::function<void(const std::string &)> on_line;  // console lines as they come
};

// What the results port said, parsed.
struct GuestReport {
	bool insmod_ok = false;
	std::string insmod_error;
	nlohmann::json info;           // xua-info record, null if absent
	std::vector<std::string> job_output;  // lines between xua-info and xua-job-exit
	int job_exit = -1;             // -1: never reported
	std::string dmesg;
	bool done = false;             // xua-done seen: the init ran to the end
};
GuestReport parse_results(const std::string &results);

// The guard state the module and guest saw, checked against the cell's request. Empty when it matches,
// otherwise the reason it does not.
std::string protection_mismatch(const Cell &cell, const nlohmann::json &info);

// Kernel problems from the console and the guest's kernel log, each report counted once.
std::vector<KernelProblem> merge_problems(const std::string &console, const std::string &dmesg);

struct CellOutcome {
	Cell cell;
	std::string accel;
	Kernel kernel;
	GuestOutcome guest;
	GuestReport report;
	std::vector<KernelProblem> problems;  // from the console and the guest's kernel log
	fs::path dir;                          // build/cells/<cell>/: console.log, results.txt, initramfs
};

CellOutcome run_cell(const Cell &cell, const CellJob &job);

// Empty when `accel` can run a guest of this arch here, else why not (kvm: /dev/kvm usable, same arch).
std::string accel_unusable(const std::string &accel, const Arch &arch);

// Oopses the guest test announced before triggering them on purpose.
int announced_oopses(const GuestReport &r);
// Splits the kernel problems into the oopses the guest announced ("# xua-expected-oops", the seed-bug
// test) that carry the guard's fault signature, and everything else.
std::pair<std::vector<const KernelProblem *>, std::vector<const KernelProblem *>>
classify_problems(const CellOutcome &o);

// Prints the cell's outcome as TAP (one line per check and per guest test case) and returns the number
// of failed checks.
int print_tap(const CellOutcome &o, std::FILE *out);

// A one-line description of the cell for reports: arch, kernel, QEMU CPU, verified guard state.
std::string describe(const CellOutcome &o);

}  // namespace xua
