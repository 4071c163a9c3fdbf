// Booting a Debian machine image (provision/machine.hpp) with one job: a bash script run as root in the
// machine's /opt/xuaccess once it is up, its output on the console, files it writes to /job/out shared with
// the host over 9p. The machine powers off when the job ends; a hard timeout and an inactivity watchdog end
// it otherwise, keeping the last console lines (run/qemu.hpp).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "provision/machine.hpp"
#include "run/qemu.hpp"

namespace xua {

struct MachineJob {
	std::string name;                  // directory under the run's directory
	std::string script;                // bash, run as root in /opt/xuaccess
	std::vector<std::string> cmdline;  // extra kernel parameters (e.g. clearcpuid=smap)
	std::string cpu;                   // QEMU -cpu; empty: the arch's default for machines
	std::chrono::seconds timeout{3600};
	std::chrono::seconds inactivity{900};
	std::function<void(const std::string &)> on_line;
};

struct MachineOutcome {
	GuestOutcome guest;
	int status = -1;                     // the job's exit status ("xuaccess-job: exit N"), -1 if never seen
	fs::path dir, out;                   // console.log is in dir; out is the machine's /job/out
	std::vector<KernelProblem> problems; // oopses, panics, ... on the machine's console
	bool ok() const { return !guest.timed_out && status == 0 && problems.empty(); }
	std::string why_not() const;         // what went wrong, with the last console lines
};

// The QEMU command line: the arch's machine with 2 CPUs and 6 GiB, Debian's kernel and initrd from the
// image, the image's disks through per-run qcow2 overlays (the cache stays pristine), the job share, and
// user-mode networking (Debian's archive is reachable as on the host).
std::vector<std::string> machine_argv(const MachineImage &m, const MachineJob &job, const fs::path &dir);

MachineOutcome run_machine(const MachineImage &m, const MachineJob &job, const fs::path &dir);

}  // namespace xua
