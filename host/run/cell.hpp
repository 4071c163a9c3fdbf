// One cell of the matrix: boot it from the artifacts provision/ made (kernel, initramfs), run a job in the
// guest, and collect what came back (console, results port, kernel problems). Deciding whether that
// outcome is a pass is run/judge.hpp's job.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shared/protocol.hpp"
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
std::string protection_mismatch(const Cell &cell, const nlohmann::json &info, const std::string &accel = "tcg");

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

// Why /dev/kvm cannot run guests on this machine (it must open, speak API 12, create a VM; x86: the CPU
// shows VMX or SVM); empty when it can. Asks the kernel: tests pass a probe of their own instead.
std::string kvm_probe(const Arch &arch);
using KvmProbe = std::function<std::string(const Arch &)>;
// Why KVM cannot run this guest, before asking /dev/kvm: an arch other than the machine's own (Arch::native),
// or (cell) a protection the KVM CPU model cannot give (Arch::kvm_cpu). Empty when eligible.
std::string kvm_ineligible(const Arch &arch);
std::string kvm_ineligible(const Cell &cell);
// Empty when `accel` can run a guest of this arch (cell) here, else why not.
std::string accel_unusable(const std::string &accel, const Arch &arch, const KvmProbe &probe = kvm_probe);
std::string accel_unusable(const std::string &accel, const Cell &cell, const KvmProbe &probe = kvm_probe);
// "auto": kvm when usable for this arch here (same arch as this machine, /dev/kvm usable), else tcg.
// Any other value is returned as it is.
std::string resolve_accel(const std::string &accel, const Arch &arch, const KvmProbe &probe = kvm_probe);
// The accelerator of each cell (same order) for a bench or test run. "auto" decides per arch x kernel: kvm
// when every cell of that group can run under KVM here, else tcg for all of them (the cells of a group are
// compared with each other, and compare refuses two accelerators). `why_tcg`, when given, receives per
// group name why auto chose TCG. Other values are kept as they are (accel_unusable says if they cannot run).
std::vector<std::string> resolve_accels(const std::string &accel, const std::vector<Cell> &cells,
					const KvmProbe &probe = kvm_probe,
					std::map<std::string, std::string> *why_tcg = nullptr);

}  // namespace xua
