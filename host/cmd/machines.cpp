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

// Whether the guard-off machine runs another CPU model than the guard-on one: where the arch has no kernel
// parameter for its off-kernel cells (arm64: none turns PAN off). Compare refuses that pair unless told.
bool guard_off_changes_cpu(const Arch &a)
{
	return !a.protection_append.count("off-kernel");
}

// The guard-off boot of a machine: the kernel parameters of the arch's off-kernel cells where it has them
// (x86: clearcpuid=smap, the same CPU and kernel); else the cells' off CPU model (compare says so, and the
// matrix's cpu_off_note says what else differs).
MachineJob guard_off(const Arch &a, MachineJob j)
{
	if (guard_off_changes_cpu(a)) {
		j.cpu = a.cpu.at("off");
	} else {
		const auto &params = a.protection_append.at("off-kernel");
		j.cmdline.insert(j.cmdline.end(), params.begin(), params.end());
	}
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

// The steps of one arch's machine: image, checkout, the two host boots and their results, the KVM boot and its
// results. Every step is reported, also those a failed step before them leaves unrun (the plan is fixed).
class MachineSteps {
public:
	MachineSteps(TapSteps &tap, const Arch &arch)
		: tap_(tap), arch_(arch), series_(Matrix::get().default_kernel()),
		  dir_(Matrix::paths().build / "machines" / arch.name)
	{
	}

	void run()
	{
		build();
		host_pair();
		kvm();
	}

private:
	void build()
	{
		bool have_image = tap_.step(arch_.name + ": Debian 12 machine image built (mmdebstrap, cached)", [&] {
			img_ = ensure_machine_image(arch_);
			return fmt::format("{} (kernel {})", img_.dir.string(), img_.release);
		});
		const std::string step = arch_.name + (arch_.native ? ": this checkout built inside the image (chroot)"
								    : ": this checkout built for the image (cross, at its native paths)");
		built_ = have_image && tap_.step(step, [&] {
			refresh_machine_tree(img_, series_);
			return std::string();
		});
		if (!have_image)
			tap_.result(false, step, "not run: needs the image");
	}

	std::pair<bool, MachineOutcome> boot(const std::string &what, const MachineJob &job)
	{
		if (!built_) {
			tap_.result(false, arch_.name + ": " + what, "not run: needs the image and its checkout (above)");
			return {false, MachineOutcome{}};
		}
		MachineOutcome o;
		bool ok = tap_.step(arch_.name + ": " + what, [&] {
			o = run_machine(img_, job, dir_ / job.name);
			if (!o.ok())
				fail("{}", o.why_not());
			return fmt::format("booted in {:.0f} s to the job; machine ran {:.0f} s", o.guest.first_output,
					   o.guest.seconds);
		});
		return {ok, o};
	}

	// bench --host with the guard on and off, what the two results say, and compare over them.
	void host_pair()
	{
		MachineJob on{.name = "host-on", .script = host_bench_script("/job/out/host"), .on_line = progress};
		auto [on_ok, on_o] = boot("bench --host, guard on: module built, loaded, suites run, unloaded", on);
		auto off_job = guard_off(arch_, on);
		off_job.name = "host-off";
		auto [off_ok, off_o] = boot("bench --host, guard off: the same on the guard-off boot", off_job);
		fs::path on_json, off_json;
		tap_.step(arch_.name + ": the two host results say what they ran with", [&] {
			if (!on_ok || !off_ok)
				fail("needs both host boots");
			on_json = the_json(on_o.out / "host");
			off_json = the_json(off_o.out / "host");
			return check_host_results(on_json, off_json);
		});
		tap_.step(arch_.name + ": compare reads the host on/off pair", [&] {
			if (on_json.empty() || off_json.empty())
				fail("needs both host results");
			CompareOptions co;
			// arm64's guard-off machine is another CPU model: compare refuses it unless told (and says why).
			co.allow_mismatch = guard_off_changes_cpu(arch_);
			auto st = run_compare(on_json, off_json, co, dir_ / "compare-host.json");
			if (st != 0)
				fail("compare exited {}", st);
			return "compare JSON: " + (dir_ / "compare-host.json").string();
		});
	}

	static std::string check_host_results(const fs::path &on_json, const fs::path &off_json)
	{
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
				   a.emulated, off_json.filename().string(), b.emulated, a.host_governor, a.host_boost, a.host_smt,
				   a.host_bench_cpu, a.host_os);
	}

	// test and bench --accel kvm inside the machine, and what the KVM results say.
	void kvm()
	{
		const auto prots = kvm_protections(arch_);
		MachineJob kvm{.name = "kvm",
			       .script = fmt::format("set -e\ntrap 'mkdir -p /job/out/inner; cp -r build/cells build/meson-logs /job/out/inner/ 2>/dev/null' EXIT\n"
						     "modprobe kvm_amd 2>/dev/null || modprobe kvm_intel 2>/dev/null || modprobe kvm\n"
						     "ls -l /dev/kvm\n"
						     "./xuaccess test --accel kvm --arch {0} --kernel {1} --protection on\n"
						     // A few rows: the nested guest's results port moves ~250 bytes a second.
						     "./xuaccess bench --accel kvm --arch {0} --kernel {1} --protection {2} --quick "
						     "--filter '^(guard/toggle|transfer/copy/)' --out /job/out/kvm\n",
						     arch_.name, series_, fmt::join(prots, ",")),
			       .on_line = progress};
		auto [ok, o] = boot("test and bench --accel kvm inside the machine (KVM nested in the emulated machine)", kvm);
		tap_.step(arch_.name + ": the KVM results say what they ran on", [&] {
			if (!ok)
				fail("needs the KVM boot");
			return check_kvm_results(o.out / "kvm", prots);
		});
	}

	std::string check_kvm_results(const fs::path &dir, const std::vector<std::string> &prots) const
	{
		std::string said;
		for (auto &prot : prots) {
			auto file = dir / fmt::format("{}-{}-{}.json", arch_.name, series_, prot);
			if (!fs::exists(file))
				fail("{} is missing", file.string());
			auto j = nlohmann::json::parse(read_file(file));
			auto ctx = j.at("context").get<CellContext>();
			if (ctx.accel != Accel::kvm)
				fail("{}: {} is '{}', not kvm", file.string(), keys::accel, ctx.accel ? name_of(*ctx.accel) : "?");
			if (ctx.emulated.find("KVM inside") == std::string::npos)
				fail("{}: labelled '{}', not as KVM inside this emulated machine", file.string(), ctx.emulated);
			if (j.value("benchmarks", nlohmann::json::array()).empty())
				fail("{} holds no benchmark rows", file.string());
			said += fmt::format("{}: {} ({} rows)\n", file.filename().string(), ctx.emulated, j["benchmarks"].size());
		}
		// bench pairs its on and off cells itself: refusing them would mean their contexts disagree.
		if (prots.size() < 2)
			return said + fmt::format("(on only: {} under KVM has no guard-off CPU)", arch_.name);
		auto summary = read_file(dir / "summary.txt");
		if (auto at = summary.find("not compared"); at != std::string::npos)
			fail("bench did not compare on with off: {}", summary.substr(at, summary.find('\n', at) - at));
		return said;
	}

	TapSteps &tap_;
	const Arch &arch_;
	const std::string series_;
	const fs::path dir_;
	MachineImage img_;
	bool built_ = false;
};

}  // namespace

int run_machine_suite(const std::vector<std::string> &arches_in)
{
	auto arches = arches_in.empty() ? std::vector<std::string>{host_arch()} : arches_in;
	TapSteps tap;
	fmt::print("TAP version 13\n");
	auto t_all = std::chrono::steady_clock::now();
	for (auto &name : arches)
		MachineSteps(tap, Matrix::get().arch(name)).run();
	return tap.finish("machines", seconds_since(t_all));
}

}  // namespace xua
