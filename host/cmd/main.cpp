// xuaccess-host: the C++ front end behind ./xuaccess.
//
// Person-facing commands: test, bench, compare, report. Plumbing used by Meson: kbuild (module targets, sparse tests),
// cell (one QEMU cell as a TAP test), fetch-kernel.
//
// Exit codes: 0 ok, 1 failure, 2 usage error (unknown subcommand, option or name), refused comparison or refused
// kernel, 128 + signal when interrupted (130 for Ctrl-C, 143 for SIGTERM). Every child process dies with the front end (base/process.hpp).
#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <memory>

#include <CLI/CLI.hpp>

#include "analyze/compare.hpp"
#include "cmd/bench.hpp"
#include "cmd/bisect.hpp"
#include "cmd/bisect_suite.hpp"
#include "cmd/compare.hpp"
#include "cmd/host_release.hpp"
#include "cmd/machines.hpp"
#include "cmd/test.hpp"
#include "provision/kbuild.hpp"
#include "provision/kernel.hpp"
#include "provision/own_kernel.hpp"
#include "provision/source_kernel.hpp"
#include "provision/prepare.hpp"
#include "report/report.hpp"
#include "report/tap.hpp"
#include "run/cell.hpp"
#include "base/host_machine.hpp"
#include "run/judge.hpp"
#include "base/process.hpp"

namespace {

void add_selection(CLI::App *cmd, xua::Selection &sel)
{
	cmd->add_option("--arch", sel.arches, "Guest architectures (x86_64, arm64); repeat or comma-separate")
		->delimiter(',');
	cmd->add_option("--protection", sel.protections,
			"on, off (default both), off-kernel, sw (docs/testing.md#cells)")
		->delimiter(',');
	cmd->add_option("--kernel", sel.kernels,
			"Debian's 6.1 (default), 6.12; built from source: 6.1-src, 6.1-debug, 6.12-mte (arm64), ...; "
			"or your own, as a path (with a '/'): a build tree (O= dir, image built, modules_prepare done) "
			"or a directory of .debs")
		->delimiter(',');
}

// A usage error found after parsing (a combination of options CLI11 cannot express): said, exit status 2.
int usage(const char *what)
{
	std::fprintf(stderr, "xuaccess: %s\n", what);
	return 2;
}

// One subcommand: its options, registered on the command line in the constructor, and what it does once the
// line parsed (`go`, run with the front end's exit-status rules around it).
struct Command {
	CLI::App *sub = nullptr;
	virtual ~Command() = default;
	virtual int go() = 0;
};

struct TestCommand : Command {
	xua::Selection sel;
	std::string accel = "tcg", suite = "cells";
	bool thorough = false;

	explicit TestCommand(CLI::App &app)
	{
		sub = app.add_subcommand("test", "Build everything, then run host unit tests, sparse and the QEMU cells");
		add_selection(sub, sel);
		sub->add_option("--suite", suite,
				"cells (default: host unit tests, sparse and the QEMU cells), machines (Debian 12 machine "
				"images: bench --host and --accel kvm end to end inside them; docs/machines.md) or debian13 (a "
				"fresh Debian 13 root runs ./xuaccess test and bench --quick from scratch; docs/ci.md) or bisect "
				"(./xuaccess bisect over a synthetic kernel history; docs/bisect.md)")
			->check(CLI::IsMember({"cells", "machines", "debian13", "bisect"}));
		sub->add_option("--accel", accel,
				"tcg (default: every cell emulated, as in CI), kvm (cells of this machine's arch under KVM; "
				"refused when /dev/kvm cannot run them), or auto (kvm where usable, else tcg)")
			->check(CLI::IsMember({"auto", "tcg", "kvm"}));
		sub->add_flag("--thorough", thorough,
			      "the long tier (CI runs it): 1e5 fuzz calls, 8 s of stress, 6 s of shared-fd load, 100 load "
			      "cycles per cell instead of 1e4, 2 s, 2 s, 20 (docs/testing.md#tiers)");
	}

	int go() override
	{
		sel.dedupe();
		// The other suites run fixed steps of their own: only cells takes the selection's other options.
		const bool cell_options = !sel.kernels.empty() || !sel.protections.empty() || accel != "tcg" || thorough;
		if (suite == "machines")
			return cell_options ? usage("--suite machines takes only --arch (each machine runs its own fixed steps)")
					    : xua::run_machine_suite(sel.arches);
		if (suite == "bisect")
			return cell_options ? usage("--suite bisect takes only --arch") : xua::run_bisect_suite(sel.arches);
		if (suite == "debian13")
			return cell_options || !sel.arches.empty()
				       ? usage("--suite debian13 takes no other option (it runs the README's commands as they are)")
				       : xua::run_host_release_suite(suite);
		return xua::run_tests(sel, accel, thorough);
	}
};

struct BenchCommand : Command {
	xua::BenchOptions bo;
	std::string out, resume;
	bool host = false, host_yes = false;
	CLI::Option *boots = nullptr;

	explicit BenchCommand(CLI::App &app)
	{
		sub = app.add_subcommand("bench", "Run the benchmark suites in every cell (the project's main job)");
		add_selection(sub, bo.sel);
		auto *filter = sub->add_option("--filter", bo.filter,
					       "regex over benchmark names, e.g. 'transfer/copy' or '^guard'; no spaces, commas "
					       "or quotes (it travels on the guest kernel command line)");
		boots = sub->add_option("--boots", bo.boots,
					"guest boots per cell (default 8): each boot is one sample of the on/off test, since "
					"boots of one cell differ by far more than repetitions inside a boot; on and off boots "
					"alternate in a seeded random order")
				->check(CLI::Range(1, 50));
		auto *reps = sub->add_option("--repetitions", bo.repetitions, "repetitions per benchmark in each boot (default 1)")
				     ->check(CLI::Range(1, 50));
		auto *clock = sub->add_option("--clock", bo.clock,
					      "time (default), or icount: QEMU counts instructions (one ns of guest time each; "
					      "TCG, one boot per cell, since every boot gives the same figures)")
				      ->check(CLI::IsMember({"time", "icount"}));
		auto *seed = sub->add_option("--seed", bo.seed, "the order of the interleaved boots (default: drawn and printed)")
				     ->check(CLI::Range(uint64_t{1}, UINT64_MAX));
		auto *kbuf = sub->add_option("--kbuf", bo.kbuf,
					     "the module's kernel buffers: auto (default: linear on KVM, --host and with --clock "
					     "icount, vmalloc under TCG with --clock time), vmalloc, or linear (the linear map, as "
					     "kmalloc memory)")
				     ->check(CLI::IsMember({"auto", "vmalloc", "linear"}));
		auto *quick = sub->add_flag("--quick", bo.quick,
					    "smoke run for CI (about 30 s per cell): a few sizes, short min time, 1 boot, 1 "
					    "repetition");
		quick->excludes(boots)->excludes(reps);
		auto *out_opt = sub->add_option("--out", out, "results directory (default results/<UTC timestamp>)");
		auto *host_flag = sub->add_flag("--host", host,
						"run on this machine's own kernel instead of QEMU (loads the module; results say "
						"whether this machine is real silicon or itself virtual or emulated)");
		sub->add_flag("--yes-load-module-into-this-kernel", host_yes, "the confirmation --host requires")
			->needs(host_flag);
		auto *accel = sub->add_option("--accel", bo.accel,
					      "auto (default: kvm for cells of this machine's own arch, x86_64 or arm64, when "
					      "/dev/kvm is usable and every cell of that arch and kernel can run under it, else "
					      "tcg), tcg, or kvm")
				      ->check(CLI::IsMember({"auto", "tcg", "kvm"}));
		auto *jobs = sub->add_option("--jobs", bo.jobs,
					     "boots side by side (default: every usable core with --clock icount, whose counts do "
					     "not depend on host load; 1 with --clock time, which takes at most one per usable CPU, "
					     "each boot pinned to its own)")
				     ->check(CLI::Range(1, 1024));
		auto *extra = sub->add_option("--extra-boots", bo.extra_boots,
					      "with --clock time, boot every protection of an arch and kernel again when a whole "
					      "boot of one ran slow (most of its rows over the pace rule), at most this many "
					      "times (default 1; 0: never)")
				      ->check(CLI::Range(0, 50));
		auto *res = sub->add_option("--resume", resume,
					    "continue the interrupted run in this results directory with its own options "
					    "(boots already on disk are kept)")
				    ->check(CLI::ExistingDirectory);
		for (auto *o : {filter, boots, reps, quick, out_opt, host_flag, accel, clock, seed, kbuf, jobs, extra})
			res->excludes(o);
	}

	int go() override
	{
		if (!resume.empty())
			return xua::resume_bench(resume);
		bo.sel.dedupe();
		bo.out = out;
		if (bo.clock == "icount" && boots->count() && bo.boots != 1)
			return usage("--clock icount takes one boot per cell: every boot of a cell gives the same instruction "
				     "counts, so more boots add nothing");
		if (bo.clock != "icount" && bo.jobs > static_cast<int>(xua::usable_cpus()))
			return usage(fmt::format("--jobs {} with --clock time: at most one boot per usable CPU, and this "
						 "process may use {} (its CPU affinity)", bo.jobs, xua::usable_cpus())
					     .c_str());
		if (host && bo.clock == "icount")
			return usage("--clock icount needs QEMU (TCG); --host runs on this machine's CPU");
		return host ? xua::run_host_bench(bo, host_yes) : xua::run_bench(bo);
	}
};

struct ReportCommand : Command {
	std::string dir;

	explicit ReportCommand(CLI::App &app)
	{
		sub = app.add_subcommand("report", "Regenerate summary.txt, compare-*.txt/json, plots/ and report.md of a "
						   "results directory from its JSON, and print the summary");
		sub->add_option("dir", dir, "results/<run> of a ./xuaccess bench")->required()->check(CLI::ExistingDirectory);
	}

	int go() override
	{
		xua::print_report(dir);
		return 0;
	}
};

struct CompareCommand : Command {
	std::string a, b, json;
	xua::CompareOptions co;
	double max_regression = 0;
	CLI::Option *max_reg = nullptr;

	explicit CompareCommand(CLI::App &app)
	{
		sub = app.add_subcommand("compare", "Compare two cells' benchmark JSON row by row: B/A time with its interval, "
						    "spread, Mann-Whitney U over the boots (over the repetitions for one-boot "
						    "cells) and Benjamini-Hochberg q-values");
		sub->add_option("A", a, "the baseline, e.g. results/<run>/x86_64-6.1-off.json")->required()->check(CLI::ExistingFile);
		sub->add_option("B", b, "compared against A, e.g. results/<run>/x86_64-6.1-on.json")->required()->check(CLI::ExistingFile);
		sub->add_option("--alpha", co.alpha, "rows are marked at q < alpha (default 0.05)")->check(CLI::Range(1e-9, 0.5));
		sub->add_flag("--allow-mismatch", co.allow_mismatch,
			      "compare cells that differ in more than the protection (arch, kernel, CPU, accel, host machine, "
			      "command line, ...)");
		sub->add_option("--across", co.across,
				"kernel: compare one protection on two kernels (same arch, CPU, everything else), a kernel A/B")
			->check(CLI::IsMember({"kernel"}));
		sub->add_option("--json", json, "also write the comparison as JSON to this file");
		max_reg = sub->add_option("--max-regression", max_regression,
					  "exit 1 when a row of B is slower than A by more than PCT percent (icount: exactly; "
					  "time: beyond the interval's lower bound)")
				  ->check(CLI::Range(0.0, 1000.0));
	}

	int go() override
	{
		return xua::run_compare(a, b, co, json, max_reg->count() ? std::optional<double>(max_regression) : std::nullopt);
	}
};

struct BisectCommand : Command {
	xua::BisectOptions bi;
	std::string resume, out;
	double pct = 0;
	std::vector<CLI::Option *> required;
	CLI::Option *boots = nullptr;

	explicit BisectCommand(CLI::App &app)
	{
		sub = app.add_subcommand("bisect", "Find the commit of a kernel git tree that changed one benchmark row's "
						   "cost, with git bisect and the instruction clock (docs/bisect.md)");
		auto *tree = sub->add_option("--tree", bi.tree, "your kernel git tree (never changed: the bisection runs in a "
								"clone of it in the cache)");
		auto *good = sub->add_option("--good", bi.good, "a revision with the old cost");
		auto *bad = sub->add_option("--bad", bi.bad, "a later revision with the new cost");
		auto *row = sub->add_option("--row", bi.row, "the benchmark row, e.g. transfer/copy/to_user/64");
		required = {tree, good, bad, row};
		auto *arch = sub->add_option("--arch", bi.arch, "x86_64 (default) or arm64");
		auto *prot = sub->add_option("--protection", bi.protection, "on (default), off, off-kernel, sw");
		auto *clock = sub->add_option("--clock", bi.clock,
					      "icount (default: instructions, one boot a revision) or time (--boots boots a "
					      "revision and the interval rule: slower and less certain)")
				      ->check(CLI::IsMember({"icount", "time"}));
		auto *thr = sub->add_option("--threshold", pct,
					    "PCT: a revision is bad when the row moved by more than this percentage of the good "
					    "value (default 0.1 with icount, its repeatability; 2 with time)")
				    ->check(CLI::Range(1e-6, 100.0));
		boots = sub->add_option("--boots", bi.boots, "boots a revision with --clock time (default 4)")
				->check(CLI::Range(2, 50));
		auto *out_opt = sub->add_option("--out", out, "results directory (default results/bisect-<UTC timestamp>)");
		auto *res = sub->add_option("--resume", resume,
					    "continue an interrupted bisection in this directory (measured revisions are kept)")
				    ->check(CLI::ExistingDirectory);
		for (auto *o : {tree, good, bad, row, arch, prot, clock, thr, boots, out_opt})
			res->excludes(o);
	}

	int go() override
	{
		if (!resume.empty())
			return xua::resume_bisect(resume);
		xua::Matrix::get().select({bi.arch}, {}, {bi.protection});  // refused as every command refuses them
		for (auto *o : required)
			if (!o->count()) {
				std::fprintf(stderr, "xuaccess: bisect needs --tree, --good, --bad and --row (or --resume DIR); "
						     "%s is missing\n", o->get_name().c_str());
				return 2;
			}
		if (boots->count() && bi.clock != "time")
			return usage("--boots is for --clock time (icount needs one boot a revision)");
		bi.threshold = pct / 100;
		bi.out = out;
		return xua::run_bisect(bi);
	}
};

// The plumbing commands name one cell or kernel: --arch, --kernel (and --protection where it matters).
struct OneCell {
	std::string arch, kernel, protection = "on";

	void add_arch_and_kernel(CLI::App *sub)
	{
		sub->add_option("--arch", arch)->required();
		sub->add_option("--kernel", kernel,
				"a kernel series, <series>-src/-debug/-mte, or a path (a build tree or .deb directory)")
			->required();
	}
};

struct KbuildCommand : Command {
	OneCell one;
	std::string out, stamp, depfile;
	bool sparse = false;

	explicit KbuildCommand(CLI::App &app)
	{
		sub = app.add_subcommand("kbuild", "(plumbing) build the module for one arch and kernel series");
		one.add_arch_and_kernel(sub);
		sub->add_option("--out", out, "the .ko to write (with --sparse: the report)")->required();
		sub->add_option("--stamp", stamp);
		sub->add_option("--depfile", depfile);
		sub->add_flag("--sparse", sparse, "check with sparse (C=2) and fail on any warning");
		sub->add_option("--protection", one.protection,
				"for a kernel built from source or given as a path: the protection's config")
			->check(CLI::IsMember({"on", "off", "off-kernel", "sw"}));
	}

	int go() override
	{
		xua::die_with_parent(SIGTERM);  // run by ninja, run by the front end
		const auto &m = xua::Matrix::get();
		if (xua::is_source_kernel(one.kernel) || xua::is_kernel_path(one.kernel)) {
			// Against a kernel built from source (built now if the cache lacks it) or given as a path.
			auto c = m.select({one.arch}, {one.kernel}, {one.protection}).front();
			auto k = xua::cell_kernel(c, xua::Resolve::if_missing);
			xua::kbuild({.arch = c.arch, .series = k.release, .out = out, .sparse = sparse, .headers = k.headers,
				     .cc = xua::module_cc(c, k.headers)});
		} else {
			xua::kbuild({.arch = &m.arch(one.arch), .series = one.kernel, .out = out, .stamp = stamp,
				     .depfile = depfile, .sparse = sparse});
		}
		if (sparse)
			std::printf("%s", xua::read_file(out).c_str());
		return 0;
	}
};

struct CellCommand : Command {
	OneCell one;
	int timeout = 240;
	std::string accel;
	std::vector<std::string> guest_args;
	bool thorough = false;

	explicit CellCommand(CLI::App &app)
	{
		sub = app.add_subcommand("cell", "(plumbing) boot one cell, run the in-guest tests, print TAP");
		one.add_arch_and_kernel(sub);
		sub->add_option("--protection", one.protection)->check(CLI::IsMember({"on", "off", "off-kernel", "sw"}));
		sub->add_option("--timeout", timeout, "seconds before the guest is killed")->check(CLI::Range(5, 3600));
		// `./xuaccess test --accel` reaches its cells (run by Meson) through the environment.
		const char *accel_env = std::getenv("XUACCESS_ACCEL");
		accel = accel_env && *accel_env ? accel_env : "tcg";
		sub->add_option("--accel", accel, "tcg (default, or $XUACCESS_ACCEL), kvm or auto")
			->check(CLI::IsMember({"auto", "tcg", "kvm"}));
		sub->add_option("--guest-args", guest_args, "arguments for the guest program, e.g. --gtest_filter=Mmap*")
			->delimiter(',');
		// `./xuaccess test --thorough` reaches its cells the same way.
		const char *tier_env = std::getenv("XUACCESS_TIER");
		thorough = tier_env && std::string(tier_env) == "thorough";
		sub->add_flag("--thorough", thorough, "the in-guest tests' long tier (or $XUACCESS_TIER=thorough)");
	}

	int go() override
	{
		xua::die_with_parent(SIGTERM);  // run by meson, run by the front end: QEMU goes when they go
		try {
			auto c = xua::Matrix::get().select({one.arch}, {one.kernel}, {one.protection}).front();
			xua::CellJob job;
			job.timeout = std::chrono::seconds(timeout * xua::guest_time_scale());
			job.args = guest_args;
			if (thorough)
				job.args.push_back("--thorough");
			job.accel = xua::resolve_accels(accel, {c}).front();
			auto dir = xua::Matrix::paths().build / "cells" / c.name();
			auto image = xua::provision_cell(c, job.job, dir);
			auto o = xua::run_cell(c, image, job, dir);
			return xua::print_tap(o, xua::judge(o), stdout) == 0 ? 0 : 1;
		} catch (const xua::Error &e) {
			std::printf("Bail out! %s\n", e.what());  // a TAP consumer (Meson) reads stdout
			throw;
		}
	}
};

struct FetchKernelCommand : Command {
	OneCell one;

	explicit FetchKernelCommand(CLI::App &app)
	{
		sub = app.add_subcommand("fetch-kernel", "(plumbing) fetch and unpack a Debian kernel into the cache");
		sub->add_option("--arch", one.arch)->required();
		sub->add_option("--kernel", one.kernel)->required();
	}

	int go() override
	{
		auto k = xua::ensure_kernel(xua::Matrix::get().arch(one.arch), one.kernel, xua::Resolve::always);
		std::printf("%s", xua::read_file(k.stamp).c_str());
		return 0;
	}
};

// An unknown subcommand is named as such, with the valid ones (CLI11 would say "A subcommand is required").
bool unknown_subcommand(CLI::App &app, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return false;
	std::vector<std::string> known, plumbing;
	for (auto *s : app.get_subcommands([](CLI::App *) { return true; }))
		(s->get_description().starts_with("(plumbing)") ? plumbing : known).push_back(s->get_name());
	if (std::find(known.begin(), known.end(), argv[1]) != known.end() ||
	    std::find(plumbing.begin(), plumbing.end(), argv[1]) != plumbing.end())
		return false;
	std::fprintf(stderr, "xuaccess: unknown subcommand '%s' (expected one of: %s; plumbing: %s)\n", argv[1],
		     fmt::format("{}", fmt::join(known, ", ")).c_str(), fmt::format("{}", fmt::join(plumbing, ", ")).c_str());
	return true;
}

int run(int argc, char **argv)
{
	CLI::App app{"xuaccess: kernel/user data transfer under x86 SMAP and arm64 PAN, measured in QEMU guests", "xuaccess"};
	app.require_subcommand(1);
	app.footer("Exit status: 0 ok, 1 failure, 2 usage error, refused comparison or refused kernel, 130 interrupted (143 "
		   "on SIGTERM).");
	// In the order --help lists them.
	std::vector<std::unique_ptr<Command>> commands;
	commands.push_back(std::make_unique<TestCommand>(app));
	commands.push_back(std::make_unique<BenchCommand>(app));
	commands.push_back(std::make_unique<ReportCommand>(app));
	commands.push_back(std::make_unique<CompareCommand>(app));
	commands.push_back(std::make_unique<BisectCommand>(app));
	commands.push_back(std::make_unique<KbuildCommand>(app));
	commands.push_back(std::make_unique<CellCommand>(app));
	commands.push_back(std::make_unique<FetchKernelCommand>(app));

	if (unknown_subcommand(app, argc, argv))
		return 2;
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		int code = app.exit(e);  // prints the help, or the error and a hint
		return code == 0 ? 0 : 2;  // CLI11's own 105-109 are usage errors
	}
	try {
		for (auto &c : commands)
			if (*c->sub)
				return c->go();
	} catch (const xua::Refused &e) {
		std::fprintf(stderr, "xuaccess: %s\n", e.what());
		return 2;
	} catch (const xua::Error &e) {
		std::fprintf(stderr, "xuaccess: %s\n", e.what());
		return 1;
	}
	return 0;
}

}  // namespace

int main(int argc, char **argv)
{
	xua::install_signal_handlers();
	try {
		return run(argc, argv);
	} catch (const xua::Interrupted &e) {
		// The children were ended on the way here (their destructors); say so on the terminal.
		std::fprintf(stderr, "\nxuaccess: interrupted (%s); child processes ended\n", strsignal(e.signal));
		return 128 + e.signal;
	} catch (const std::system_error &e) {
		// Typically writing to a closed stdout (./xuaccess bench | head): nothing more can be said there.
		std::fprintf(stderr, "xuaccess: %s\n", e.what());
		return 1;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "xuaccess: unexpected error (a bug; please report it with the command line): %s\n",
			     e.what());
		return 1;
	}
}
