// One cell of the matrix: boot it from the artifacts provision/ made (kernel, initramfs), run a job in the
// guest, and collect what came back (console, results port, kernel problems). Deciding whether that
// outcome is a pass is run/judge.hpp's job.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol.hpp"
#include "provision/prepare.hpp"
#include "run/qemu.hpp"

namespace xua {

struct CellJob {
	std::string job = "test";            // guest job: test, bench
	std::vector<std::string> args;       // arguments for the guest program
	std::string modparams;               // module parameters
	std::chrono::seconds timeout{240};
	std::chrono::seconds inactivity{0};  // console silence that ends the guest (0: none)
	std::string accel = "tcg";           // tcg, or kvm for a guest of the host's own arch
	bool icount = false;                 // the instruction clock (GuestRun::icount; TCG only)
	std::function<void(const std::string &)> on_line;  // console lines as they come
};

// What the results port said (protocol.hpp), with the info record's JSON parsed.
struct GuestReport : protocol::Report {
	nlohmann::json info_json;  // null if absent; {"error": ...} when it does not parse
	std::string dmesg() const;
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
	std::string job;
	GuestOutcome guest;
	GuestReport report;
	std::vector<KernelProblem> problems;  // from the console and the guest's kernel log
	fs::path dir;                          // where console.log and results.txt are
};

// Boots the cell once. `dir` receives console.log and results.txt.
CellOutcome run_cell(const Cell &cell, const CellImage &image, const CellJob &job, const fs::path &dir);

// Empty when `accel` can run a guest of this arch here, else why not (kvm: /dev/kvm usable, same arch).
std::string accel_unusable(const std::string &accel, const Arch &arch);
// "auto": kvm when usable for this arch here (same arch as this machine, /dev/kvm usable), else tcg.
// Any other value is returned as it is.
std::string resolve_accel(const std::string &accel, const Arch &arch);

}  // namespace xua
