#include "cmd/bench.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "analyze/names.hpp"
#include "shared/results_schema.hpp"
#include "provision/kbuild.hpp"
#include "provision/own_kernel.hpp"
#include "provision/prepare.hpp"
#include "provision/source_kernel.hpp"
#include "report/report.hpp"
#include "run/host_description.hpp"
#include "base/host_machine.hpp"
#include "run/boots.hpp"
#include "run/host_module.hpp"
#include "run/judge.hpp"
#include "base/process.hpp"

namespace xua {
namespace {

std::string qemu_version(const Arch &a)
{
	auto r = run({a.qemu, "--version"});
	auto lines = split_lines(r.output);
	return lines.empty() ? "unknown" : trim(lines.front());
}

void progress(const std::string &text)
{
	static const bool tty = isatty(2);
	if (tty)
		fmt::print(stderr, "\r\033[K{}", text);
	else
		fmt::print(stderr, "{}\n", text);
	std::fflush(stderr);
}

// Keeps the last progress line on a terminal (where progress() overwrites it).
void end_progress_line()
{
	if (isatty(2))
		fmt::print(stderr, "\n");
}

std::string cpu_model()
{
	for (auto &line : split_lines(read_file("/proc/cpuinfo")))
		if (starts_with(line, "model name") || starts_with(line, "CPU part"))
			return trim(line.substr(line.find(':') + 1));
	return "unknown";
}

// Where the figures come from: the machine running the guests (or, with --host, the suites themselves).
void describe_host_machine(CellContext &ctx)
{
	const auto &m = this_machine();
	ctx.host_machine = m.description;
	ctx.host_machine_evidence = m.evidence;
	ctx.host_arch = Matrix::get().host();
	ctx.host_os = host_os();  // the guest programs' compiler and libraries are this release's
}

}  // namespace

std::vector<std::string> bench_args(const BenchOptions &o)
{
	// Regex characters are fine; what the kernel command line and xua.args use as separators is not.
	if (o.filter.find_first_of(" ,\t\n\"") != std::string::npos)
		fail("--filter must not contain spaces, commas or quotes (it travels on the guest kernel command line): '{}'",
		     o.filter);
	if (o.repetitions < 1 || o.repetitions > 50)
		fail("--repetitions must be 1..50, not {}", o.repetitions);
	try {
		parse<Clock>(o.clock, "--clock");
	} catch (const SchemaError &e) {
		fail("{}", e.what());
	}
	std::vector<std::string> args = {"--benchmark_repetitions=" + std::to_string(o.quick ? 1 : o.repetitions),
					 o.quick ? "--quick"
						 // icount: guest seconds are instructions, and runs repeat each other to a few
						 // 1e-4 (README): 20 M instructions a benchmark keep the full icount bench
						 // under 3 minutes
						 : o.clock == "icount" ? "--xua-min-time=0.02" : "--xua-min-time=0.05"};
	if (!o.filter.empty())
		args.push_back("--xua-filter=" + o.filter);
	if (o.clock == "icount")  // instruction counts do not depend on the machine's pace (analyze/results.hpp)
		args.push_back("--xua-no-pace");
	return args;
}

std::string kbuf_for(const BenchOptions &o, const std::string &accel)
{
	if (o.kbuf != "auto" && o.kbuf != "vmalloc" && o.kbuf != "linear")
		fail("--kbuf must be auto, vmalloc or linear, not '{}'", o.kbuf);
	if (o.kbuf != "auto")
		return o.kbuf;
	// icount: linear, because a vmalloc buffer's cost moves from boot to boot: x86_64 transfer/copy/to_user/8
	// cost 8 instructions a call more in one boot of three (+2.9 %), while three boots with linear buffers gave
	// identical counts. Most likely copy_*_user's hardened-usercopy check, which looks the buffer up among the
	// kernel's vmalloc areas in as many steps as the boot's other allocations make (docs/bench.md).
	return accel == "tcg" && o.clock != "icount" ? "vmalloc" : "linear";
}

nlohmann::json to_json(const BenchOptions &o)
{
	return {{"arches", o.sel.arches}, {"kernels", o.sel.kernels}, {"protections", o.sel.protections},
		{"filter", o.filter},     {"boots", o.boots},           {"repetitions", o.repetitions},
		{"quick", o.quick},       {"accel", o.accel},           {"inactivity_s", o.inactivity.count()},
		{"clock", o.clock},       {"seed", o.seed},             {"kbuf", o.kbuf},
		{"jobs", o.jobs},         {"extra_boots", o.extra_boots}};
}

BenchOptions bench_options_from_json(const nlohmann::json &j)
{
	BenchOptions o;
	o.sel = {j.at("arches"), j.at("kernels"), j.at("protections")};
	o.filter = j.at("filter");
	o.boots = j.at("boots");
	o.repetitions = j.at("repetitions");
	o.quick = j.at("quick");
	o.accel = j.at("accel");
	o.inactivity = std::chrono::seconds(j.value("inactivity_s", 120));
	o.clock = j.value("clock", "time");
	o.seed = j.value("seed", uint64_t{0});
	o.kbuf = j.value("kbuf", "auto");
	o.jobs = j.value("jobs", 0);
	o.extra_boots = j.value("extra_boots", 0);  // runs saved before extra boots existed had none
	return o;
}

// The context of a --host run (in `j`): the protection as the module found it (verified, not assumed: on;
// off-kernel when the CPU has the guard and the kernel does not use it, x86's clearcpuid=smap; sw for arm64's
// software PAN; off), the kernel parameters that set it, the machine; returns the result's name.
namespace {
std::string describe_host_run(nlohmann::json &j, const BenchOptions &o, const std::string &release,
			      const HostDescription &described)
{
	auto ctx = j["context"].get<CellContext>();
	const Protection found = ctx.guard_enabled == "true"   ? (ctx.guard_software == "true" ? Protection::sw : Protection::on)
				 : ctx.guard_present == "true" ? Protection::off_kernel
							       : Protection::off;
	const std::string prot(name_of(found));
	std::vector<std::string> prot_params;
	for (auto &w : split_words(read_file("/proc/cmdline")))
		if (w == "clearcpuid=smap" || w == "nosmap" || starts_with(w, "arm64.nopan") || starts_with(w, "id_aa64mmfr1.pan"))
			prot_params.push_back(w);
	const auto name = "host-" + release + "-" + prot;
	ctx.cell = name;
	ctx.emulated = this_machine().virtualised() ? "yes: the running kernel of a " + this_machine().description + ", not silicon"
						    : "no (real silicon, the running kernel)";
	ctx.accel = Accel::host;
	describe_host_machine(ctx);
	record(described, ctx);  // governor, frequencies, boost, SMT, isolation, pinned CPU, mitigations, OS
	ctx.host_cpu = cpu_model();
	ctx.bench_args = fmt::format("{}", fmt::join(bench_args(o), " "));
	ctx.protection_requested = found;  // as booted, and verified by the module (INFO)
	ctx.protection_verified = prot;
	ctx.protection_cmdline = fmt::format("{}", fmt::join(prot_params, " "));
	ctx.date_utc = utc_now("%Y-%m-%dT%H:%M:%SZ");
	j["context"] = ctx;
	return name;
}
}  // namespace

int run_host_bench(const BenchOptions &o, bool confirmed)
{
	utsname u{};
	uname(&u);
	const std::string release = u.release;
	const Arch &arch = Matrix::get().arch(host_arch());
	const fs::path headers = fs::path("/lib/modules") / release / "build";
	const auto out = o.out.empty() ? Matrix::paths().source / "results" / utc_now("%Y%m%d-%H%M%S") : o.out;
	const auto ko = Matrix::paths().build / "module" / ("host-" + release) / "xuaccess.ko";
	const auto bench = Matrix::paths().build / "bench" / "xuaccess-bench";
	fmt::print("xuaccess bench --host will, on THIS machine (kernel {}, {}):\n"
		   "  1. build xuaccess.ko against {}\n"
		   "  2. load it into the running kernel: this taints it (out-of-tree, unsigned) and creates /dev/xuaccess\n"
		   "     (root only); UNSAFE_DEREF stays disabled (allow_unsafe_deref is not set)\n"
		   "  3. run {} natively: the same suites as in the guests, on this machine ({})\n"
		   "  4. unload the module and write {}/host-{}-<protection as the module finds it>.json\n",
		   release, cpu_model(), headers.string(), bench.string(), this_machine().description, out.string(),
		   release);
	if (this_machine().virtualised())
		fmt::print("  Note: this machine is itself a {} ({}): its figures say what that machine costs, not what "
			   "silicon does\n",
			   this_machine().description, this_machine().evidence);
	if (!confirmed) {
		fmt::print(stderr, "xuaccess: not done: loading a module into this machine's kernel needs "
				   "--yes-load-module-into-this-kernel\n");
		return 2;
	}
	if (geteuid() != 0)
		fail("--host needs root: it loads a kernel module");
	if (!fs::exists(headers / "Makefile"))
		fail("no headers for the running kernel at {}: apt-get install linux-headers-{}", headers.string(), release);
	if (fs::exists("/sys/module/xuaccess"))
		fail("a module called xuaccess is already loaded: unload it first (rmmod xuaccess)");
	std::vector<std::string> argv = {bench.string()};
	for (auto &a : bench_args(o))
		argv.push_back(a);
	prepare({});
	kbuild({.arch = &arch, .series = release, .out = ko, .headers = headers});

	HostModule mod(ko, "kbuf=" + kbuf_for(o, "host"));
	// One CPU, said in the results: the benchmark (a child, which inherits the affinity) runs there alone.
	const int cpu = choose_bench_cpu();
	if (cpu >= 0)
		pin_to_cpu(cpu);
	const auto described = describe_host("/", cpu);  // before the run: the frequency it starts at
	auto r = run(argv, {.env = {{"XUA_CELL", "host-" + release}}, .merge_stderr = false});
	if (!r.ok())
		fail("xuaccess-bench failed (exit {}):\n{}", r.status, last_lines(r.output, 20));
	nlohmann::json j;
	try {
		j = nlohmann::json::parse(r.output);  // stdout only: the suites print their JSON there
	} catch (const nlohmann::json::exception &e) {
		fail("{} printed no parsable benchmark JSON: {}", bench.string(), e.what());
	}
	annotate_rows(j);
	const auto name = describe_host_run(j, o, release, described);
	fs::create_directories(out);
	write_file(out / (name + ".json"), j.dump(2) + "\n");
	fmt::print("xuaccess: the {} guard is {} on this machine (module INFO); wrote {}\n", arch.guard,
		   j["context"].get<CellContext>().protection_verified,
		   (out / (name + ".json")).string());
	print_report(out);
	return 0;
}

unsigned bench_jobs(const BenchOptions &o)
{
	if (o.jobs > 0)
		return static_cast<unsigned>(o.jobs);
	return o.clock == "icount" ? usable_cpus() : 1;
}

std::vector<int> pinned_cpus(const BenchOptions &o)
{
	const unsigned jobs = bench_jobs(o);
	if (o.clock == "icount" || jobs <= 1)
		return {};
	auto cpus = usable_cpu_list();
	if (cpus.size() < jobs)
		fail("--jobs {} with --clock time: one boot per usable CPU, and this process may use {}", jobs, cpus.size());
	cpus.resize(jobs);
	return cpus;
}

namespace {

// The context keys that make a cell's JSON describe itself: compare and report read these, not the matrix.
void describe_cell(nlohmann::json &context, const Cell &c, const BenchOptions &o, const std::string &accel,
		   const std::vector<std::string> &args)
{
	auto ctx = context.get<CellContext>();
	ctx.emulated = o.clock == "icount"
			       ? "icount (TCG): instructions counted by QEMU, one ns of guest time per instruction; not "
				 "time, and blind to what SMAP/PAN cost a CPU"
			       : accel == "tcg"             ? "emulated (TCG): guard costs are emulator costs, not silicon"
			       : this_machine().virtualised() ? "yes: " + machine_label("kvm", this_machine().description) +
								  ", not silicon"
							      : "no (KVM on real silicon: the guest runs on this CPU)";
	ctx.accel = parse<Accel>(accel);
	describe_host_machine(ctx);
	ctx.clock = parse<Clock>(o.clock);
	ctx.order = fmt::format("boots of every protection interleaved per arch and kernel, order seed {}", o.seed);
	if (auto pins = pinned_cpus(o); !pins.empty())
		ctx.boots_side_by_side = fmt::format("{} (pinned one boot per CPU: {})", pins.size(), fmt::join(pins, ", "));
	ctx.seed = o.seed;
	ctx.qemu_version = qemu_version(*c.arch);
	// The module's compiler (provision/prepare: module_cc).
	std::string cc = module_cc(c, c.kernel_path.empty() ? fs::path() : own_kernel(c.kernel_path).headers);
	ctx.module_cc = split_lines(run_checked({cc.empty() ? c.arch->cross_compile + "gcc" : cc, "--version"})).front();
	ctx.host_cpu = cpu_model();  // the machine running QEMU: TCG figures depend on it too
	ctx.bench_args = fmt::format("{}", fmt::join(args, " "));
	ctx.qemu_cpu = c.cpu(accel);
	// The arch's on/off pair of models under this accelerator, by the rule the cells' own -cpu follows
	// (Cell::cpu: arm64 KVM -cpu host and no off model; x86 KVM nested in TCG without XSAVE).
	auto model = [&](const std::string &p) -> std::string {
		const auto &k = c.arch->kvm_cpu;
		if (accel == "kvm" && !k.empty() && !k.count(p))
			return "none under KVM";
		Cell other = c;
		other.protection = p;
		return other.cpu(accel);
	};
	ctx.cpu_on = model("on");
	ctx.cpu_off = model("off");
	ctx.cpu_off_note = c.arch->cpu_off_note;
	ctx.qemu_machine = c.machine(accel);
	ctx.qemu_memory = GuestRun{}.memory;
	ctx.kernel_series = c.kernel;
	ctx.kernel_cmdline_extra = fmt::format("{}", fmt::join(c.arch->append, " "));
	ctx.protection_requested = parse<Protection>(c.protection);
	ctx.protection_verified = "true";  // the judge failed the boot otherwise
	ctx.date_utc = utc_now("%Y-%m-%dT%H:%M:%SZ");
	context = ctx;
}

// One cell's state while the boots of all cells run interleaved.
struct CellRun {
	std::string accel;             // resolved: tcg or kvm
	bool done_before = false;      // its JSON is there from an earlier run
	std::vector<nlohmann::json> boots;
	std::optional<CellImage> image;
	std::string why;               // why it failed
	std::string again;             // the boots run again because one ran slow (xua_reboots)
	double seconds = 0;
};

// A bench run over the selected cells: accelerators chosen, images built, boots run in the schedule's order
// (saved as each finishes), each cell's boots merged into its JSON, then the report.
class BenchRun {
public:
	BenchRun(const BenchOptions &o, const fs::path &out)
		: o_(o), out_(out), icount_(o.clock == "icount"), boots_(o.quick || icount_ ? 1 : o.boots),
		  cells_(Matrix::get().select(o.sel.arches, o.sel.kernels, o.sel.protections)), runs_(cells_.size()),
		  args_(bench_args(o))
	{
	}

	int run()
	{
		auto t0 = std::chrono::steady_clock::now();
		for (auto &c : cells_)  // refused before the run directory is made
			check_cell_runs_here(c);
		choose_accels();
		fs::create_directories(out_ / "boots");
		write_file(out_ / "boots" / "run.json", to_json(o_).dump(2) + "\n");
		progress(fmt::format("xuaccess bench: building for {} cell(s)", cells_.size()));
		prepare(cells_);
		end_progress_line();
		announce();
		find_finished();
		order_ = schedule(cells_, boots_, o_.seed);
		for (size_t i = 0; i < cells_.size(); ++i)
			if (!runs_[i].done_before)
				runs_[i].image = provision_cell(cells_[i], "bench",
								Matrix::paths().build / "cells" / (cells_[i].name() + "-bench"));
		const unsigned jobs = bench_jobs(o_);
		const auto pins = pinned_cpus(o_);
		if (jobs > 1)
			fmt::print(stderr, "xuaccess bench: {} boots side by side ({})\n", jobs,
				   icount_ ? "instruction counts do not depend on host load"
					   : fmt::format("pinned one boot per CPU: {}; --jobs 1 runs them one at a time",
							 fmt::join(pins, ", ")));
		run_slots(order_.size(), jobs, [this](size_t n) { boot(n); }, pins);
		boot_again_where_slow();
		end_progress_line();
		auto [done, failed] = write_cells();
		if (done)
			print_report(out_);
		fmt::print("Results: {} (one Google Benchmark JSON per cell; compare any two with ./xuaccess compare A.json "
			   "B.json)\n", out_.string());
		fmt::print("xuaccess bench: {} cell(s) done, {} failed, {:.0f} s in all ({})\n", done, failed,
			   seconds_since(t0),
			   icount_ ? "icount: instructions, under TCG"
			   : o_.accel == "tcg" ? "emulated under TCG" : "accelerator per cell above");
		return failed ? 1 : 0;
	}

private:
	// Each cell's accelerator (--accel auto: KVM where it can run, said why not where it cannot), refusing
	// what cannot run before anything is built.
	void choose_accels()
	{
		const auto accels = resolve_accels(icount_ && o_.accel == "auto" ? "tcg" : o_.accel, cells_, kvm_probe,
						   &why_tcg_);
		for (size_t i = 0; i < cells_.size(); ++i) {
			runs_[i].accel = accels[i];
			if (auto why = accel_unusable(runs_[i].accel, cells_[i]); !why.empty())
				fail("--accel {}: {}", o_.accel, why);
			if (icount_ && runs_[i].accel != "tcg")
				fail("--clock icount counts instructions under TCG only, not with --accel {}", runs_[i].accel);
		}
	}

	// Says how each cell runs and how its boots are ordered.
	void announce()
	{
		for (size_t i = 0; i < cells_.size(); ++i) {
			auto why = why_tcg_.find(cells_[i].arch->name + "-" + cells_[i].kernel);
			fmt::print(stderr, "xuaccess bench: {} under {}{}\n", cells_[i].name(),
				   runs_[i].accel == "kvm" ? "KVM" : "TCG",
				   icount_ ? std::string(" with the icount clock (instructions)")
				   : o_.accel == "auto" && runs_[i].accel == "tcg" && why != why_tcg_.end()
					   ? fmt::format(" (--accel auto: {})", why->second)
					   : std::string());
		}
		if (boots_ > 1)
			fmt::print(stderr, "xuaccess bench: {} boots per cell, the protections of each arch and kernel "
					   "interleaved in a random order: seed {} (--seed {} replays it)\n",
				   boots_, o_.seed, o_.seed);
	}

	// Makes room for each cell's boots and marks the cells an earlier run finished (their JSON is there).
	void find_finished()
	{
		for (size_t i = 0; i < cells_.size(); ++i) {
			runs_[i].boots.resize(static_cast<size_t>(boots_));
			runs_[i].done_before = fs::exists(out_ / (cells_[i].name() + ".json"));
			if (runs_[i].done_before) {
				progress(fmt::format("{}: done in an earlier run -> {}", cells_[i].name(),
						     (out_ / (cells_[i].name() + ".json")).string()));
				end_progress_line();
			}
		}
	}

	// Slot n of the schedule: one boot of one cell, unless its cell is done or failed or the boot was saved
	// by an earlier run. Runs on several threads with --jobs: runs_ and the progress line under mu_.
	void boot(size_t n)
	{
		const auto [i, k] = order_[n];
		const auto &c = cells_[i];
		auto &r = runs_[i];
		auto tag = fmt::format("[{}/{}] {}{}", n + 1, order_.size(), c.name(),
				       k >= boots_  ? fmt::format(" boot {} (one more: a slow boot)", k + 1)
				       : boots_ > 1 ? fmt::format(" boot {}/{}", k + 1, boots_)
						    : "");
		{
			std::lock_guard lock(mu_);
			if (r.done_before || !r.why.empty())
				return;
			if (auto saved = saved_boot(boot_file(out_, c, k)); !saved.is_null()) {
				r.boots[static_cast<size_t>(k)] = std::move(saved);
				return;
			}
			progress(tag + ": booting");
		}
		auto oc = run_cell(c, *r.image, job_for(r, tag), boot_file(out_, c, k).parent_path() / fmt::format("boot-{}", k));
		auto verdict = judge(oc);
		std::lock_guard lock(mu_);
		r.seconds += oc.guest.seconds;
		if (!verdict.ok()) {
			r.why = fmt::format("{}: {}\n(console: {})", to_string(verdict.primary()), verdict.reason(),
					    (oc.dir / "console.log").string());
			progress(fmt::format("{}: FAILED", tag));
			end_progress_line();
			fmt::print(stderr, "{}\n", r.why);
			return;
		}
		auto one = nlohmann::json::parse(oc.report.blocks.at(std::string(protocol::kBenchmarkJson)).content);
		auto ctx = one["context"].get<CellContext>();
		ctx.boot_seconds = oc.guest.first_output;  // QEMU start to the init's first line
		ctx.host_other_cores = oc.guest.host_other_cores;
		ctx.host_steal = oc.guest.host_steal;
		ctx.kernel_package = oc.kernel.image_pkg + " " + oc.kernel.version;
		ctx.run_position = fmt::format("{} of {}", n + 1, order_.size());
		one["context"] = ctx;
		one["context"].update(kernel_context(c, oc.kernel));  // config hash and fragments of a kernel built from source
		write_file(boot_file(out_, c, k), one.dump(1) + "\n");  // kept even if the run stops now
		r.boots[static_cast<size_t>(k)] = std::move(one);
	}

	// The boots of cell i that ran slow throughout (CellResults::slow_boots).
	std::vector<int> slow_boots(size_t i) const
	{
		return parse_cell(cells_[i].name(), merge_boots(runs_[i].boots, icount_)).slow_boots();
	}

	// A boot that ran slow throughout keeps few of its values (the pace rule leaves the others out), so its
	// rows have fewer samples. Each such boot is made up for by one more round of its arch x kernel: every
	// protection boots once more, on and off alike, in an order drawn from the seed, at most --extra-boots
	// rounds. What the saved boots say decides it, so --resume repeats the same rounds (their boots are saved).
	void boot_again_where_slow()
	{
		if (icount_ || boots_ < 2 || o_.extra_boots <= 0)
			return;
		std::map<std::string, std::vector<size_t>> groups;  // arch-kernel -> its running cells
		for (size_t i = 0; i < cells_.size(); ++i)
			if (!runs_[i].done_before && runs_[i].why.empty())
				groups[cells_[i].arch->name + "-" + cells_[i].kernel].push_back(i);
		for (const auto &[group, members] : groups) {
			int rounds = 0;
			size_t slowest = 0;
			std::map<size_t, std::vector<int>> slow_of;  // member -> its slow boots, after the last round
			for (;; ++rounds) {
				slowest = 0;
				for (size_t i : members)
					if (runs_[i].why.empty())
						slowest = std::max(slowest, (slow_of[i] = slow_boots(i)).size());
				if (slowest <= static_cast<size_t>(rounds) || rounds == o_.extra_boots)
					break;
				boot_round(members, boots_ + rounds);
			}
			if (rounds == 0)
				continue;
			for (size_t i : members) {
				const auto &slow = slow_of[i];
				runs_[i].again = fmt::format(
					"{} ran slow throughout (more than half of the values over the pace rule); {} more "
					"boot(s) of every protection of {} ({}){}",
					slow.empty() ? std::string("no boot of this cell") : fmt::format("boot(s) {}", fmt::join(slow, ", ")),
					rounds, group,
					rounds == 1 ? fmt::format("boot-{}.json", boots_)
						    : fmt::format("boot-{}.json to boot-{}.json", boots_, boots_ + rounds - 1),
					slowest > static_cast<size_t>(rounds)
						? fmt::format("; the limit for the arch and kernel (--extra-boots {}) reached", o_.extra_boots)
						: "");
				progress(fmt::format("{}: {}", cells_[i].name(), runs_[i].again));
				end_progress_line();
			}
		}
	}

	// Boot k (k >= --boots) of every cell of `members`, in an order drawn from the seed as in the schedule, side
	// by side as the scheduled boots ran (--jobs).
	void boot_round(const std::vector<size_t> &members, int k)
	{
		std::vector<Cell> round;
		for (size_t i : members)
			round.push_back(cells_[i]);
		const size_t first = order_.size();
		for (const auto &s : schedule(round, 1, o_.seed + static_cast<uint64_t>(k))) {
			const size_t i = members[s.cell];
			if (!runs_[i].why.empty())
				continue;
			runs_[i].boots.resize(static_cast<size_t>(k) + 1);
			order_.push_back({i, k});
		}
		run_slots(order_.size() - first, bench_jobs(o_), [this, first](size_t n) { boot(first + n); },
			  pinned_cpus(o_));
	}

	CellJob job_for(const CellRun &r, const std::string &tag)
	{
		CellJob job;
		job.job = "bench";
		job.args = args_;
		job.timeout = std::chrono::seconds(o_.quick ? 600 : 1800);
		job.inactivity = o_.inactivity;
		job.accel = r.accel;
		job.icount = icount_;
		job.modparams = "kbuf=" + kbuf_for(o_, r.accel);
		job.on_line = [this, tag](const std::string &line) {
			auto pos = line.find(protocol::kProgress);
			if (pos != std::string::npos) {
				std::lock_guard lock(mu_);
				progress(fmt::format("{}: benchmark {}", tag, line.substr(pos + protocol::kProgress.size() + 1)));
			}
		};
		return job;
	}

	// Each cell's boots merged into DIR/<cell>.json; returns {cells done, cells failed}.
	std::pair<int, int> write_cells()
	{
		int failed = 0, done = 0;
		for (size_t i = 0; i < cells_.size(); ++i) {
			const auto &c = cells_[i];
			auto &r = runs_[i];
			auto file = out_ / (c.name() + ".json");
			if (r.done_before) {
				++done;
				continue;
			}
			if (!r.why.empty()) {
				fmt::print(stderr, "{}: FAILED ({:.0f} s): {}\n", c.name(), r.seconds, r.why);
				++failed;
				continue;
			}
			auto j = merge_boots(r.boots, icount_);
			describe_cell(j["context"], c, o_, r.accel, args_);
			if (!r.again.empty()) {
				auto ctx = j["context"].get<CellContext>();
				ctx.reboots = r.again;
				j["context"] = ctx;
			}
			write_file(file, j.dump(2) + "\n");
			++done;
			fmt::print(stderr, "{}: done in {:.0f} s, {} rows -> {}\n", c.name(), r.seconds, j["benchmarks"].size(),
				   file.string());
		}
		return {done, failed};
	}

	const BenchOptions &o_;
	const fs::path out_;
	const bool icount_;
	const int boots_;
	const std::vector<Cell> cells_;
	std::vector<CellRun> runs_;
	const std::vector<std::string> args_;
	std::map<std::string, std::string> why_tcg_;  // arch-kernel -> why --accel auto chose TCG
	std::vector<Slot> order_;
	std::mutex mu_;
};

int bench_cells(const BenchOptions &o, const fs::path &out)
{
	return BenchRun(o, out).run();
}

// bench_cells, saying on the way out of an interruption where the finished boots are and how to go on.
int bench_or_say_how_to_resume(const BenchOptions &o, const fs::path &out)
{
	try {
		return bench_cells(o, out);
	} catch (const Interrupted &) {
		fmt::print(stderr, "\nxuaccess: the boots that finished are in {}; ./xuaccess bench --resume {} continues\n",
			   (out / "boots").string(), out.string());
		throw;
	}
}

}  // namespace

int run_bench(const BenchOptions &opt)
{
	BenchOptions o = opt;
	if (o.seed == 0)  // drawn now and saved with the run: --resume keeps the same order
		o.seed = (static_cast<uint64_t>(std::random_device{}()) << 32 | std::random_device{}()) | 1;
	auto out = o.out.empty() ? Matrix::paths().source / "results" / utc_now("%Y%m%d-%H%M%S") : o.out;
	// A new run in a directory that holds one starts over (as CI does with a fixed --out); --resume continues.
	if (fs::exists(out / "boots")) {
		fmt::print(stderr, "xuaccess: {} holds an earlier run: starting over (./xuaccess bench --resume {} continues "
				   "a run instead)\n", out.string(), out.string());
		fs::remove_all(out / "boots");
		for (auto &c : Matrix::get().select(o.sel.arches, o.sel.kernels, o.sel.protections))
			fs::remove(out / (c.name() + ".json"));
	}
	return bench_or_say_how_to_resume(o, out);
}

int resume_bench(const fs::path &dir)
{
	auto run_json = dir / "boots" / "run.json";
	if (!fs::exists(run_json))
		fail("{} is not a bench run to resume (no {})", dir.string(), run_json.string());
	BenchOptions o;
	try {
		o = bench_options_from_json(nlohmann::json::parse(read_file(run_json)));
	} catch (const nlohmann::json::exception &e) {
		fail("{} does not hold bench options: {}", run_json.string(), e.what());
	}
	fmt::print(stderr, "xuaccess: resuming {} ({})\n", dir.string(), fmt::join(bench_args(o), " "));
	return bench_or_say_how_to_resume(o, dir);
}

}  // namespace xua
