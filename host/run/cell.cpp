#include "run/cell.hpp"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <regex>

#include <unistd.h>


namespace xua {
namespace {

std::string strip_timestamp(const std::string &line)
{
	// console: "[    9.16] BUG: ..."; the guest's klogctl dump: "<1>[    9.16] BUG: ..." (kernels built from source
	// have no CONFIG_PRINTK_TIME: "BUG: ..." and "<1>BUG: ...")
	static const std::regex ts(R"(^(<\d+>)?(\[\s*[0-9.]+\]\s*)?)");
	return std::regex_replace(line, ts, "");
}

}  // namespace

std::string GuestReport::dmesg() const
{
	auto it = blocks.find(std::string(protocol::kDmesg));
	return it == blocks.end() ? std::string() : it->second.content;
}

GuestReport parse_results(const std::string &results)
{
	GuestReport r{protocol::parse(results), {}};
	if (!r.info.empty()) {
		try {
			r.info_json = nlohmann::json::parse(r.info);
		} catch (const nlohmann::json::exception &e) {
			r.info_json = {{"error", std::string("unparsable xua-info: ") + e.what()}};
		}
	}
	return r;
}

std::string protection_mismatch(const Cell &cell, const nlohmann::json &info, const std::string &accel)
{
	if (info.is_null() || info.contains("error"))
		return "no INFO readout from the module: " + (info.is_null() ? std::string("none") : info["error"].dump());
	const auto &guard = cell.arch->guard;
	// What each protection means, as the module reports it: on = the CPU has the guard and the kernel uses
	// and enforces it; off = the CPU lacks it; off-kernel = the CPU has it and the kernel does not use it
	// (clearcpuid=smap, CONFIG_ARM64_PAN=n); sw = arm64 software PAN enforced on a CPU without PAN.
	const auto &p = cell.protection;
	bool want_present = p == "on" || p == "off-kernel";
	bool want_uses = p == "on" || p == "sw";
	bool want_enabled = want_uses;
	bool want_software = p == "sw";
	bool present = info.value("guard_present", false), enabled = info.value("guard_enabled", false);
	bool uses = info.value("guard_kernel_uses", enabled), software = info.value("guard_software", false);
	if (present != want_present || enabled != want_enabled || uses != want_uses || software != want_software)
		return fmt::format("requested {} {} (-cpu {}), the module saw present={} kernel_uses={} enabled={} "
				   "software={} (expected {} {} {} {})",
				   guard, p, cell.cpu(accel), present, uses, enabled, software, want_present, want_uses,
				   want_enabled, want_software);
	if (info.value("window_open", true))
		return fmt::format("{} window reported open inside an ioctl", guard);
	// Cross-check with what the guest's own kernel interfaces say, where they say anything: both show the
	// hardware guard in use by the kernel (clearcpuid=smap hides the cpuinfo flag too).
	bool hw_used = p == "on";
	const auto &g = info.value("guest", nlohmann::json::object());
	if (guard == "SMAP" && g.contains("cpuinfo_smap") && g["cpuinfo_smap"].get<bool>() != hw_used)
		return fmt::format("/proc/cpuinfo smap flag is {}, but {} was requested", g["cpuinfo_smap"].dump(), p);
	// arm64 announces software PAN too: "CPU features: emulated: Privileged Access Never (PAN) using TTBR0_EL1
	// switching".
	if (guard == "PAN" && g.contains("dmesg_pan_detected") && g["dmesg_pan_detected"].get<bool>() != (hw_used || p == "sw"))
		return fmt::format("dmesg 'Privileged Access Never' detected={}, but {} was requested",
				   g["dmesg_pan_detected"].dump(), p);
	return {};
}

std::vector<KernelProblem> merge_problems(const std::string &console, const std::string &dmesg)
{
	// The console shows oopses and panics (printed verbosely whatever the log level); the guest's
	// kernel log also holds WARNs, which 'quiet' keeps off the console. A report in both counts once: each
	// console report stands for at most one kernel-log report with the same first line, since two reports can
	// share it (the seed-bug test oopses twice at one address) and the console may have lost one of them.
	auto problems = kernel_problems(console);
	auto head = [](const KernelProblem &p) { return strip_timestamp(split_lines(p.text).front()); };
	std::vector<std::optional<std::string>> unmatched;  // the console reports' heads, reset once matched
	for (auto &p : problems)
		unmatched.push_back(head(p));
	for (auto &p : kernel_problems(dmesg)) {
		auto it = std::find(unmatched.begin(), unmatched.end(), head(p));
		if (it != unmatched.end())
			it->reset();
		else
			problems.push_back(p);
	}
	return problems;
}

CellOutcome run_cell(const Cell &cell, const CellImage &image, const CellJob &job, const fs::path &dir)
{
	CellOutcome o{cell, job.accel, image.kernel, job.job, {}, {}, {}, dir};
	if (auto why = accel_unusable(job.accel, cell); !why.empty())
		fail("{}: {}", cell.name(), why);
	const Arch &arch = *cell.arch;
	GuestRun g{&o.cell, image.kernel.boot_image, image.initramfs, dir / "console.log", dir / "results.txt"};
	g.cmdline = {"xua.job=" + job.job, "xua.cell=" + cell.name(), "xua.prot=" + cell.protection,
		     "xua.results=" + arch.results_tty};
	if (!job.args.empty())
		g.cmdline.push_back(fmt::format("xua.args={}", fmt::join(job.args, ",")));
	if (!job.modparams.empty())
		g.cmdline.push_back("xua.modparams=" + job.modparams);
	g.timeout = job.timeout;
	g.inactivity = job.inactivity;
	g.accel = job.accel;
	g.icount = job.icount;
	if (job.icount && job.accel != "tcg")
		fail("{}: the icount clock needs TCG, not {}", cell.name(), job.accel);
	g.on_line = job.on_line;
	o.guest = run_guest(g);
	o.report = parse_results(fs::exists(g.results) ? read_file(g.results) : std::string());
	o.problems = merge_problems(o.guest.console, o.report.dmesg());
	return o;
}

std::string kvm_ineligible(const Arch &arch)
{
	if (!arch.native)
		return fmt::format("KVM runs only guests of this machine's own arch ({}), not {}: use --arch {}", arch.host,
				   arch.name, arch.host);
	return {};
}

std::string kvm_ineligible(const Cell &cell)
{
	if (auto why = kvm_ineligible(*cell.arch); !why.empty())
		return why;
	const auto &k = cell.arch->kvm_cpu;
	if (!k.empty() && !k.count(cell.protection))
		return fmt::format("{} {} cannot run under KVM: the guest gets this machine's CPU (-cpu {}), and no "
				   "QEMU property removes {} from it",
				   cell.arch->name, cell.protection, k.begin()->second, cell.arch->guard);
	return {};
}

std::string resolve_accel(const std::string &accel, const Arch &arch, const KvmProbe &probe)
{
	if (accel != "auto")
		return accel;
	return accel_unusable("kvm", arch, probe).empty() ? "kvm" : "tcg";
}

std::vector<std::string> resolve_accels(const std::string &accel, const std::vector<Cell> &cells,
					const KvmProbe &probe, std::map<std::string, std::string> *why_tcg)
{
	std::vector<std::string> out(cells.size(), accel);
	if (accel != "auto")
		return out;
	std::map<std::string, std::string> why;  // group -> why not KVM ("" = KVM)
	for (auto &c : cells) {
		auto g = c.arch->name + "-" + c.kernel;
		if (why.count(g) && !why[g].empty())
			continue;
		why[g] = accel_unusable("kvm", c, probe);
	}
	for (size_t i = 0; i < cells.size(); ++i) {
		const auto &w = why[cells[i].arch->name + "-" + cells[i].kernel];
		out[i] = w.empty() ? "kvm" : "tcg";
	}
	if (why_tcg)
		for (auto &[g, w] : why)
			if (!w.empty())
				(*why_tcg)[g] = w;
	return out;
}

std::string accel_unusable(const std::string &accel, const Cell &cell, const KvmProbe &probe)
{
	if (accel == "kvm")
		if (auto why = kvm_ineligible(cell); !why.empty())
			return why;
	return accel_unusable(accel, *cell.arch, probe);
}

std::string accel_unusable(const std::string &accel, const Arch &arch, const KvmProbe &probe)
{
	if (accel == "tcg")
		return {};
	if (accel != "kvm")
		return fmt::format("unknown accelerator '{}' (expected tcg or kvm)", accel);
	if (auto why = kvm_ineligible(arch); !why.empty())
		return why;
	return probe(arch);
}

std::string kvm_probe(const Arch &arch)
{
	// /dev/kvm may exist without working: it must open, speak API 12 and create a VM; and on x86 the CPU
	// must show VMX or SVM. (Seen on this project's sandboxed machines: a /dev/kvm that creates VMs but
	// has no VMX/SVM, where QEMU then dies setting MSRs.)
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fmt::format("/dev/kvm is not usable here ({}): use --accel tcg", std::strerror(errno));
	int api = ioctl(fd, KVM_GET_API_VERSION, 0);
	int vm = api == KVM_API_VERSION ? ioctl(fd, KVM_CREATE_VM, 0) : -1;
	int vm_errno = errno;
	if (vm >= 0)
		close(vm);
	close(fd);
	if (api != KVM_API_VERSION)
		return fmt::format("/dev/kvm speaks KVM API {}, not {}: use --accel tcg", api, KVM_API_VERSION);
	if (vm < 0)
		return fmt::format("/dev/kvm cannot create a VM ({}): use --accel tcg", std::strerror(vm_errno));
	if (!arch.kvm_host_cpu_flags.empty()) {
		auto cpuinfo = read_file("/proc/cpuinfo");
		bool any = std::ranges::any_of(arch.kvm_host_cpu_flags, [&](const std::string &f) {
			return cpuinfo.find(" " + f) != std::string::npos;
		});
		if (!any)
			return fmt::format("this CPU shows none of the flags {} in /proc/cpuinfo, so /dev/kvm cannot run guests: "
					   "use --accel tcg", fmt::join(arch.kvm_host_cpu_flags, ", "));
	}
	return {};
}

}  // namespace xua
