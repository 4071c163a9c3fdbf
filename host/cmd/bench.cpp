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

// Unloads the module when the host run ends, however it ends.
struct HostModule {
	bool loaded = false;
	~HostModule()
	{
		if (loaded && syscall(SYS_delete_module, "xuaccess", O_NONBLOCK) != 0)
			fmt::print(stderr, "xuaccess: could not unload the module: {} (rmmod xuaccess)\n", std::strerror(errno));
	}
};

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
	return args;
}

std::string kbuf_for(const BenchOptions &o, const std::string &accel)
{
	if (o.kbuf != "auto" && o.kbuf != "vmalloc" && o.kbuf != "linear")
		fail("--kbuf must be auto, vmalloc or linear, not '{}'", o.kbuf);
	if (o.kbuf != "auto")
		return o.kbuf;
	return accel == "tcg" ? "vmalloc" : "linear";
}

std::vector<Slot> schedule(const std::vector<Cell> &cells, int boots, uint64_t seed)
{
	// splitmix64: a generator whose sequence is fixed by the seed on every platform and library.
	uint64_t state = seed;
	auto next = [&state] {
		uint64_t z = (state += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		return z ^ (z >> 31);
	};
	std::vector<std::vector<size_t>> groups;  // cells of one arch x kernel, in the cells' order
	std::map<std::string, size_t> group_of;
	for (size_t i = 0; i < cells.size(); ++i) {
		auto key = cells[i].arch->name + "-" + cells[i].kernel;
		auto [it, fresh] = group_of.emplace(key, groups.size());
		if (fresh)
			groups.emplace_back();
		groups[it->second].push_back(i);
	}
	std::vector<Slot> order;
	for (auto &g : groups)
		for (int k = 0; k < boots; ++k) {
			auto round = g;
			for (size_t i = round.size(); i > 1; --i)  // Fisher-Yates
				std::swap(round[i - 1], round[next() % i]);
			for (size_t c : round)
				order.push_back({c, k});
		}
	return order;
}

nlohmann::json merge_boots(const std::vector<nlohmann::json> &boots, bool icount)
{
	if (boots.empty())
		fail("internal: merge_boots with no boot");
	nlohmann::json j = boots.front();
	j["benchmarks"] = nlohmann::json::array();
	double other = -1, steal = -1;
	for (size_t k = 0; k < boots.size(); ++k) {
		for (auto b : boots[k].value("benchmarks", nlohmann::json::array())) {
			if (boots.size() > 1 && b.value("run_type", "iteration") != "iteration")
				continue;
			b[keys::row_boot] = k;
			j["benchmarks"].push_back(std::move(b));
		}
		auto ctx = boots[k].value("context", nlohmann::json::object()).get<CellContext>();
		other = std::max(other, ctx.host_other_cores.value_or(-1.0));
		steal = std::max(steal, ctx.host_steal.value_or(-1.0));
	}
	annotate_rows(j, icount);
	auto ctx = j["context"].get<CellContext>();
	ctx.boots = static_cast<int>(boots.size());
	ctx.host_other_cores = other;  // the busiest boot's
	ctx.host_steal = steal;
	j["context"] = ctx;
	return j;
}

nlohmann::json to_json(const BenchOptions &o)
{
	return {{"arches", o.sel.arches}, {"kernels", o.sel.kernels}, {"protections", o.sel.protections},
		{"filter", o.filter},     {"boots", o.boots},           {"repetitions", o.repetitions},
		{"quick", o.quick},       {"accel", o.accel},           {"inactivity_s", o.inactivity.count()},
		{"clock", o.clock},       {"seed", o.seed},             {"kbuf", o.kbuf},
		{"jobs", o.jobs}};
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
	return o;
}

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

	HostModule mod;
	{
		int fd = open(ko.c_str(), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fail("cannot open {}: {}", ko.string(), std::strerror(errno));
		const auto params = "kbuf=" + kbuf_for(o, "host");
		long r = syscall(SYS_finit_module, fd, params.c_str(), 0);
		int err = errno;
		close(fd);
		if (r != 0)
			fail("loading {} failed: {} (see dmesg)", ko.string(), std::strerror(err));
		mod.loaded = true;
	}
	for (int i = 0; i < 50 && !fs::exists("/dev/xuaccess"); ++i)  // devtmpfs/udev creates the node
		usleep(100000);
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
	auto ctx = j["context"].get<CellContext>();
	// The protection as the module found it (verified, not assumed): on; off-kernel when the CPU has the
	// guard and the kernel does not use it (x86: clearcpuid=smap); sw for arm64's software PAN; off.
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
	fs::create_directories(out);
	write_file(out / (name + ".json"), j.dump(2) + "\n");
	fmt::print("xuaccess: the {} guard is {} on this machine (module INFO); wrote {}\n", arch.guard, prot,
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

fs::path boot_file(const fs::path &out, const Cell &c, int k)
{
	return out / "boots" / c.name() / fmt::format("boot-{}.json", k);
}

// A boot saved by an earlier (interrupted) run, or null when there is none or it is unreadable.
nlohmann::json saved_boot(const fs::path &file)
{
	if (!fs::exists(file))
		return nullptr;
	try {
		return nlohmann::json::parse(read_file(file));
	} catch (const nlohmann::json::exception &e) {
		fmt::print(stderr, "\nxuaccess: warning: {} does not parse ({}): that boot runs again\n", file.string(), e.what());
		return nullptr;
	}
}

// One cell's state while the boots of all cells run interleaved.
struct CellRun {
	std::string accel;             // resolved: tcg or kvm
	bool done_before = false;      // its JSON is there from an earlier run
	std::vector<nlohmann::json> boots;
	std::optional<CellImage> image;
	std::string why;               // why it failed
	double seconds = 0;
};

int bench_cells(const BenchOptions &o, const fs::path &out)
{
	const auto &m = Matrix::get();
	auto t0 = std::chrono::steady_clock::now();
	auto cells = m.select(o.sel.arches, o.sel.kernels, o.sel.protections);
	const bool icount = o.clock == "icount";
	std::vector<CellRun> runs(cells.size());
	std::map<std::string, std::string> why_tcg;  // arch-kernel -> why --accel auto chose TCG
	const auto accels = resolve_accels(icount && o.accel == "auto" ? "tcg" : o.accel, cells, kvm_probe, &why_tcg);
	for (size_t i = 0; i < cells.size(); ++i) {
		auto &r = runs[i];
		r.accel = accels[i];
		if (auto why = accel_unusable(r.accel, cells[i]); !why.empty())
			fail("--accel {}: {}", o.accel, why);
		if (icount && r.accel != "tcg")
			fail("--clock icount counts instructions under TCG only, not with --accel {}", r.accel);
	}
	const auto args = bench_args(o);
	fs::create_directories(out / "boots");
	write_file(out / "boots" / "run.json", to_json(o).dump(2) + "\n");
	progress(fmt::format("xuaccess bench: building for {} cell(s)", cells.size()));
	prepare(cells);
	end_progress_line();
	for (size_t i = 0; i < cells.size(); ++i) {
		auto why = why_tcg.find(cells[i].arch->name + "-" + cells[i].kernel);
		fmt::print(stderr, "xuaccess bench: {} under {}{}\n", cells[i].name(), runs[i].accel == "kvm" ? "KVM" : "TCG",
			   icount ? std::string(" with the icount clock (instructions)")
			   : o.accel == "auto" && runs[i].accel == "tcg" && why != why_tcg.end()
				   ? fmt::format(" (--accel auto: {})", why->second)
				   : std::string());
	}

	const int boots = o.quick || icount ? 1 : o.boots;
	if (boots > 1)
		fmt::print(stderr, "xuaccess bench: {} boots per cell, the protections of each arch and kernel interleaved in a random order: seed {} "
				   "(--seed {} replays it)\n", boots, o.seed, o.seed);
	for (size_t i = 0; i < cells.size(); ++i) {
		runs[i].boots.resize(static_cast<size_t>(boots));
		runs[i].done_before = fs::exists(out / (cells[i].name() + ".json"));
		if (runs[i].done_before) {
			progress(fmt::format("{}: done in an earlier run -> {}", cells[i].name(),
					     (out / (cells[i].name() + ".json")).string()));
			end_progress_line();
		}
	}
	const auto order = schedule(cells, boots, o.seed);
	for (size_t i = 0; i < cells.size(); ++i)
		if (!runs[i].done_before)
			runs[i].image = provision_cell(cells[i], "bench", Matrix::paths().build / "cells" / (cells[i].name() + "-bench"));
	const unsigned jobs = bench_jobs(o);
	if (jobs > 1)
		fmt::print(stderr, "xuaccess bench: {} boots side by side (instruction counts do not depend on host load)\n",
			   jobs);
	std::mutex mu;  // guards runs[] and the progress line once boots run side by side
	auto run_slot = [&](size_t n) {
		const auto [i, k] = order[n];
		const auto &c = cells[i];
		auto &r = runs[i];
		auto btag = fmt::format("[{}/{}] {}{}", n + 1, order.size(), c.name(),
					boots > 1 ? fmt::format(" boot {}/{}", k + 1, boots) : "");
		{
			std::lock_guard lock(mu);
			if (r.done_before || !r.why.empty())
				return;
			if (auto saved = saved_boot(boot_file(out, c, k)); !saved.is_null()) {
				r.boots[static_cast<size_t>(k)] = std::move(saved);
				return;
			}
			progress(btag + ": booting");
		}
		CellJob job;
		job.job = "bench";
		job.args = args;
		job.timeout = std::chrono::seconds(o.quick ? 600 : 1800);
		job.inactivity = o.inactivity;
		job.accel = r.accel;
		job.icount = icount;
		job.modparams = "kbuf=" + kbuf_for(o, r.accel);
		job.on_line = [&](const std::string &line) {
			auto pos = line.find(protocol::kProgress);
			if (pos != std::string::npos) {
				std::lock_guard lock(mu);
				progress(fmt::format("{}: benchmark {}", btag, line.substr(pos + protocol::kProgress.size() + 1)));
			}
		};
		auto oc = run_cell(c, *r.image, job, boot_file(out, c, k).parent_path() / fmt::format("boot-{}", k));
		auto verdict = judge(oc);
		std::lock_guard lock(mu);
		r.seconds += oc.guest.seconds;
		if (!verdict.ok()) {
			r.why = fmt::format("{}: {}\n(console: {})", to_string(verdict.primary()), verdict.reason(),
					    (oc.dir / "console.log").string());
			progress(fmt::format("{}: FAILED", btag));
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
		ctx.run_position = fmt::format("{} of {}", n + 1, order.size());
		one["context"] = ctx;
		one["context"].update(kernel_context(c, oc.kernel));  // config hash and fragments of a kernel built from source
		write_file(boot_file(out, c, k), one.dump(1) + "\n");  // kept even if the run stops now
		r.boots[static_cast<size_t>(k)] = std::move(one);
	};
	if (jobs <= 1) {
		for (size_t n = 0; n < order.size(); ++n)
			run_slot(n);
	} else {
		// Each worker takes the next boot in the schedule's order; an interruption ends every QEMU (each
		// run_cell watches the stop signal) and the workers with them.
		std::atomic<size_t> next{0};
		std::vector<std::jthread> workers;
		for (unsigned w = 0; w < jobs; ++w)
			workers.emplace_back([&] {
				for (size_t n; (n = next++) < order.size() && !stop_signal();)
					run_slot(n);
			});
	}
	end_progress_line();

	int failed = 0, done = 0;
	for (size_t i = 0; i < cells.size(); ++i) {
		const auto &c = cells[i];
		auto &r = runs[i];
		auto file = out / (c.name() + ".json");
		if (r.done_before) {
			++done;
			continue;
		}
		if (!r.why.empty()) {
			fmt::print(stderr, "{}: FAILED ({:.0f} s): {}\n", c.name(), r.seconds, r.why);
			++failed;
			continue;
		}
		auto j = merge_boots(r.boots, icount);
		describe_cell(j["context"], c, o, r.accel, args);
		write_file(file, j.dump(2) + "\n");
		++done;
		fmt::print(stderr, "{}: done in {:.0f} s, {} rows -> {}\n", c.name(), r.seconds, j["benchmarks"].size(),
			   file.string());
	}

	if (done)
		print_report(out);
	fmt::print("Results: {} (one Google Benchmark JSON per cell; compare any two with ./xuaccess compare A.json B.json)\n",
		   out.string());
	fmt::print("xuaccess bench: {} cell(s) done, {} failed, {:.0f} s in all ({})\n", done, failed, seconds_since(t0),
		   icount ? "icount: instructions, under TCG" : o.accel == "tcg" ? "emulated under TCG" : "accelerator per cell above");
	return failed ? 1 : 0;
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
