#include "cmd/machines.hpp"

#include <functional>

#include "cmd/compare.hpp"
#include "report/tap.hpp"
#include "provision/machine.hpp"
#include "run/machine.hpp"
#include "base/process.hpp"

#include "shared/results_schema.hpp"

namespace xua {
namespace {

void progress(const std::string &line)
{
	if (starts_with(line, "xua-progress") || starts_with(line, "xuaccess") || starts_with(line, "ok ") ||
	    starts_with(line, "not ok") || line.find(" passed, ") != std::string::npos)
		fmt::print(stderr, "  | {}\n", line);
}

// The guard-off boot of a machine: x86 clears SMAP with a kernel parameter (the same CPU and kernel);
// arm64 has no such parameter, so the machine boots the cells' CPU model without PAN (another CPU: compare
// says so, and the matrix's cpu_off_note says what else differs).
MachineJob guard_off(const Arch &a, MachineJob j)
{
	if (a.name == "x86_64")
		j.cmdline.push_back("clearcpuid=smap");
	else
		j.cpu = a.cpu.at("off");
	return j;
}

std::string host_bench_script(const std::string &out)
{
	return fmt::format(
		"set -e\necho \"machine: $(uname -r)\"\n"
		"./xuaccess bench --host --yes-load-module-into-this-kernel --quick --out {}\n"
		"if grep -q '^xuaccess ' /proc/modules; then echo 'xuaccess-check: module still loaded'; exit 3; fi\n"
		"echo 'xuaccess-check: module unloaded'\n",
		out);
}

// The protections the KVM step benches inside a machine of this arch: what KVM can give on Debian's kernel.
// x86_64: on and off (-cpu max / max,-smap are CPUID masks). arm64: on only; the guest gets the machine's
// CPU (-cpu host) and nothing hides PAN from it, and off-kernel needs a kernel built from source (too slow
// to build inside an emulated machine).
std::vector<std::string> kvm_protections(const Arch &a)
{
	std::vector<std::string> v;
	for (const char *p : {"on", "off"})
		if (a.kvm_cpu.empty() || a.kvm_cpu.count(p))
			v.push_back(p);
	return v;
}

fs::path the_json(const fs::path &dir)
{
	if (fs::exists(dir))
		for (auto &e : fs::directory_iterator(dir))
			if (e.path().extension() == ".json" && starts_with(e.path().filename().string(), "host-"))
				return e.path();
	fail("no host-*.json in {}", dir.string());
}

}  // namespace

int run_machine_suite(const std::vector<std::string> &arches_in)
{
	auto arches = arches_in.empty() ? std::vector<std::string>{host_arch()} : arches_in;
	const auto &m = Matrix::get();
	const auto runs = Matrix::paths().build / "machines";
	TapSteps tap;
	fmt::print("TAP version 13\n");
	auto t_all = std::chrono::steady_clock::now();
	for (auto &name : arches) {
		const Arch &arch = m.arch(name);
		const auto series = m.default_kernel();
		MachineImage img;
		auto dir = runs / arch.name;
		bool have_image = tap.step(arch.name + ": Debian 12 machine image built (mmdebstrap, cached)", [&] {
			img = ensure_machine_image(arch);
			return fmt::format("{} (kernel {})", img.dir.string(), img.release);
		});
		const std::string build_step = arch.name + (arch.native ? ": this checkout built inside the image (chroot)"
								      : ": this checkout built for the image (cross, at its native paths)");
		bool built = have_image && tap.step(build_step, [&] {
			refresh_machine_tree(img, series);
			return std::string();
		});
		if (!have_image)
			tap.result(false, build_step, "not run: needs the image");
		auto boot = [&](const std::string &what, const MachineJob &job) {
			MachineOutcome o;
			bool ok = tap.step(arch.name + ": " + what, [&] {
				o = run_machine(img, job, dir / job.name);
				if (!o.ok())
					fail("{}", o.why_not());
				return fmt::format("booted in {:.0f} s to the job; machine ran {:.0f} s",
						   o.guest.first_output, o.guest.seconds);
			});
			return std::pair{ok, o};
		};
		// Every step is reported, also those a failed step before them leaves unrun (the plan is fixed).
		auto boot_if_built = [&](const std::string &what, const MachineJob &job) {
			if (built)
				return boot(what, job);
			tap.result(false, arch.name + ": " + what, "not run: needs the image and its checkout (above)");
			return std::pair{false, MachineOutcome{}};
		};
		MachineJob on{.name = "host-on", .script = host_bench_script("/job/out/host"), .on_line = progress};
		auto [on_ok, on_o] = boot_if_built("bench --host, guard on: module built, loaded, suites run, unloaded", on);
		auto off_job = guard_off(arch, on);
		off_job.name = "host-off";
		auto [off_ok, off_o] = boot_if_built("bench --host, guard off: the same on the guard-off boot", off_job);
		fs::path on_json, off_json;
		tap.step(arch.name + ": the two host results say what they ran with", [&] {
			if (!on_ok || !off_ok)
				fail("needs both host boots");
			on_json = the_json(on_o.out / "host");
			off_json = the_json(off_o.out / "host");
			auto ctx = [](const fs::path &p) { return nlohmann::json::parse(read_file(p)).at("context").get<CellContext>(); };
			auto a = ctx(on_json), b = ctx(off_json);
			if (a.protection_verified != "on")
				fail("guard-on boot: the module found '{}', not on", a.protection_verified);
			if (b.protection_verified == "on")
				fail("guard-off boot: the module found the guard on");
			// What makes host timings move, as bench --host recorded it (issue 20): present in both.
			for (auto *c : {&a, &b})
				if (c->host_governor.empty() || c->host_mitigations.empty() || c->host_bench_cpu.empty())
					fail("a host result lacks the host description (governor, mitigations, pinned CPU)");
			return fmt::format("{}: {} | {}: {} | governor {}, boost {}, SMT {}, CPU {}, {}", on_json.filename().string(),
					   a.emulated, off_json.filename().string(), b.emulated, a.host_governor, a.host_boost,
					   a.host_smt, a.host_bench_cpu, a.host_os);
		});
		tap.step(arch.name + ": compare reads the host on/off pair", [&] {
			if (on_json.empty() || off_json.empty())
				fail("needs both host results");
			CompareOptions co;
			// arm64's guard-off machine is another CPU model: compare refuses it unless told (and says why).
			co.allow_mismatch = arch.name != "x86_64";
			auto st = run_compare(on_json, off_json, co, dir / "compare-host.json");
			if (st != 0)
				fail("compare exited {}", st);
			return "compare JSON: " + (dir / "compare-host.json").string();
		});
		const auto kvm_prots = kvm_protections(arch);
		MachineJob kvm{.name = "kvm",
			       .script = fmt::format("set -e\ntrap 'mkdir -p /job/out/inner; cp -r build/cells build/meson-logs /job/out/inner/ 2>/dev/null' EXIT\n"
						     "modprobe kvm_amd 2>/dev/null || modprobe kvm_intel 2>/dev/null || modprobe kvm\n"
						     "ls -l /dev/kvm\n"
						     "./xuaccess test --accel kvm --arch {0} --kernel {1} --protection on\n"
						     // A few rows: the nested guest's results port moves ~250 bytes a second.
						     "./xuaccess bench --accel kvm --arch {0} --kernel {1} --protection {2} --quick "
						     "--filter '^(guard/toggle|transfer/copy/)' --out /job/out/kvm\n",
						     arch.name, series, fmt::join(kvm_prots, ",")),
			       .on_line = progress};
		auto [kvm_ok, kvm_o] =
			boot_if_built("test and bench --accel kvm inside the machine (KVM nested in the emulated machine)", kvm);
		tap.step(arch.name + ": the KVM results say what they ran on", [&] {
			if (!kvm_ok)
				fail("needs the KVM boot");
			std::string said;
			for (auto &prot : kvm_prots) {
				auto file = kvm_o.out / "kvm" / fmt::format("{}-{}-{}.json", arch.name, series, prot);
				if (!fs::exists(file))
					fail("{} is missing", file.string());
				auto j = nlohmann::json::parse(read_file(file));
				auto ctx = j.at("context").get<CellContext>();
				if (ctx.accel != Accel::kvm)
					fail("{}: {} is '{}', not kvm", file.string(), keys::accel,
					     ctx.accel ? name_of(*ctx.accel) : "?");
				if (ctx.emulated.find("KVM inside") == std::string::npos)
					fail("{}: labelled '{}', not as KVM inside this emulated machine", file.string(), ctx.emulated);
				if (j.value("benchmarks", nlohmann::json::array()).empty())
					fail("{} holds no benchmark rows", file.string());
				said += fmt::format("{}: {} ({} rows)\n", file.filename().string(), ctx.emulated,
						    j["benchmarks"].size());
			}
			// bench pairs its on and off cells itself: refusing them would mean their contexts disagree.
			if (kvm_prots.size() < 2)
				return said + fmt::format("(on only: {} under KVM has no guard-off CPU)", arch.name);
			auto summary = read_file(kvm_o.out / "kvm" / "summary.txt");
			if (auto at = summary.find("not compared"); at != std::string::npos)
				fail("bench did not compare on with off: {}", summary.substr(at, summary.find('\n', at) - at));
			return said;
		});
	}
	return tap.finish("machines", seconds_since(t_all));
}

}  // namespace xua
