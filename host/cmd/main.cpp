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
			"Debian's 6.1 (default), 6.12; built from source: 6.1-src, 6.1-debug, ...; or your own, as a path "
			"(with a '/'): a build tree (O= dir, image built, modules_prepare done) or a directory of .debs")
		->delimiter(',');
}

int run(int argc, char **argv)
{
	CLI::App app{"xuaccess: kernel/user data transfer under x86 SMAP and arm64 PAN, measured in QEMU guests", "xuaccess"};
	app.require_subcommand(1);
	app.footer("Exit status: 0 ok, 1 failure, 2 usage error, refused comparison or refused kernel, 130 interrupted (143 "
		   "on SIGTERM).");

	xua::Selection sel;
	auto *test = app.add_subcommand("test", "Build everything, then run host unit tests, sparse and the QEMU cells");
	add_selection(test, sel);
	std::string test_accel = "tcg", test_suite = "cells";
	bool test_thorough = false;
	test->add_option("--suite", test_suite,
			 "cells (default: host unit tests, sparse and the QEMU cells), machines (Debian 12 machine "
			 "images: bench --host and --accel kvm end to end inside them; docs/machines.md) or debian13 (a "
			 "fresh Debian 13 root runs ./xuaccess test and bench --quick from scratch; docs/ci.md) or bisect "
			 "(./xuaccess bisect over a synthetic kernel history; docs/bisect.md)")
		->check(CLI::IsMember({"cells", "machines", "debian13", "bisect"}));
	test->add_option("--accel", test_accel,
			 "tcg (default: every cell emulated, as in CI), kvm (cells of this machine's arch under KVM; "
			 "refused when /dev/kvm cannot run them), or auto (kvm where usable, else tcg)")
		->check(CLI::IsMember({"auto", "tcg", "kvm"}));
	test->add_flag("--thorough", test_thorough,
		       "the long tier (CI runs it): 1e5 fuzz calls, 8 s of stress, 6 s of shared-fd load, 100 load cycles "
		       "per cell instead of 1e4, 2 s, 2 s, 20 (docs/testing.md#tiers)");

	xua::BenchOptions bo;
	std::string bench_out, resume;
	auto *bench = app.add_subcommand("bench", "Run the benchmark suites in every cell (the project's main job)");
	add_selection(bench, bo.sel);
	auto *filter = bench->add_option("--filter", bo.filter,
					 "regex over benchmark names, e.g. 'transfer/copy' or '^guard'; no spaces, commas or "
					 "quotes (it travels on the guest kernel command line)");
	auto *boots = bench->add_option("--boots", bo.boots,
					"guest boots per cell (default 8): each boot is one sample of the on/off test, since "
					"boots of one cell differ by far more than repetitions inside a boot; on and off boots "
					"alternate in a seeded random order")
			      ->check(CLI::Range(1, 50));
	auto *reps = bench->add_option("--repetitions", bo.repetitions, "repetitions per benchmark in each boot (default 1)")
			     ->check(CLI::Range(1, 50));
	auto *clock = bench->add_option("--clock", bo.clock,
					"time (default), or icount: QEMU counts instructions (one ns of guest time each; TCG, "
					"one boot per cell, since every boot gives the same figures)")
			      ->check(CLI::IsMember({"time", "icount"}));
	auto *seed = bench->add_option("--seed", bo.seed, "the order of the interleaved boots (default: drawn and printed)")
			     ->check(CLI::Range(uint64_t{1}, UINT64_MAX));
	auto *kbuf = bench->add_option("--kbuf", bo.kbuf,
				       "the module's kernel buffers: auto (default: linear on KVM and --host, vmalloc under "
				       "TCG), vmalloc, or linear (the linear map, as kmalloc memory)")
			     ->check(CLI::IsMember({"auto", "vmalloc", "linear"}));
	auto *quick = bench->add_flag("--quick", bo.quick,
				      "smoke run for CI (about 30 s per cell): a few sizes, short min time, 1 boot, 1 repetition");
	quick->excludes(boots)->excludes(reps);
	auto *out = bench->add_option("--out", bench_out, "results directory (default results/<UTC timestamp>)");
	bool host = false, host_yes = false;
	auto *host_flag = bench->add_flag("--host", host,
					  "run on this machine's own kernel instead of QEMU (loads the module; results say whether "
					  "this machine is real silicon or itself virtual or emulated)");
	bench->add_flag("--yes-load-module-into-this-kernel", host_yes, "the confirmation --host requires")->needs(host_flag);
	auto *accel = bench->add_option("--accel", bo.accel,
					"auto (default: kvm for cells of this machine's own arch, x86_64 or arm64, when /dev/kvm is "
					"usable and every cell of that arch and kernel can run under it, else tcg), tcg, or kvm")
			      ->check(CLI::IsMember({"auto", "tcg", "kvm"}));
	auto *jobs = bench->add_option("--jobs", bo.jobs,
				       "boots side by side (default: every usable core with --clock icount, whose counts do "
				       "not depend on host load; 1 with --clock time, the only value it takes)")
			     ->check(CLI::Range(1, 1024));
	auto *res = bench->add_option("--resume", resume,
				      "continue the interrupted run in this results directory with its own options "
				      "(boots already on disk are kept)")
			    ->check(CLI::ExistingDirectory);
	for (auto *o : {filter, boots, reps, quick, out, host_flag, accel, clock, seed, kbuf, jobs})
		res->excludes(o);

	std::string report_dir;
	auto *report = app.add_subcommand("report", "Regenerate summary.txt, compare-*.txt/json, plots/ and report.md of a "
						    "results directory from its JSON, and print the summary");
	report->add_option("dir", report_dir, "results/<run> of a ./xuaccess bench")->required()->check(CLI::ExistingDirectory);

	std::string cmp_a, cmp_b, cmp_json;
	xua::CompareOptions co;
	auto *cmp = app.add_subcommand("compare", "Compare two cells' benchmark JSON row by row: B/A time with its interval, "
						  "spread, Mann-Whitney U over the boots (over the repetitions for one-boot "
						  "cells) and Benjamini-Hochberg q-values");
	cmp->add_option("A", cmp_a, "the baseline, e.g. results/<run>/x86_64-6.1-off.json")->required()->check(CLI::ExistingFile);
	cmp->add_option("B", cmp_b, "compared against A, e.g. results/<run>/x86_64-6.1-on.json")->required()->check(CLI::ExistingFile);
	cmp->add_option("--alpha", co.alpha, "rows are marked at q < alpha (default 0.05)")->check(CLI::Range(1e-9, 0.5));
	cmp->add_flag("--allow-mismatch", co.allow_mismatch,
		      "compare cells that differ in more than the protection (arch, kernel, CPU, accel, host machine, command "
		      "line, ...)");
	cmp->add_option("--across", co.across,
			"kernel: compare one protection on two kernels (same arch, CPU, everything else), a kernel A/B")
		->check(CLI::IsMember({"kernel"}));
	cmp->add_option("--json", cmp_json, "also write the comparison as JSON to this file");
	double max_regression = 0;
	auto *max_reg = cmp->add_option("--max-regression", max_regression,
					 "exit 1 when a row of B is slower than A by more than PCT percent (icount: exactly; "
					 "time: beyond the interval's lower bound)")
			      ->check(CLI::Range(0.0, 1000.0));

	xua::BisectOptions bi;
	std::string bisect_resume, bisect_out;
	double bisect_pct = 0;
	auto *bisect = app.add_subcommand("bisect", "Find the commit of a kernel git tree that changed one benchmark row's "
						    "cost, with git bisect and the instruction clock (docs/bisect.md)");
	auto *b_tree = bisect->add_option("--tree", bi.tree, "your kernel git tree (never changed: the bisection runs in a "
							    "clone of it in the cache)");
	auto *b_good = bisect->add_option("--good", bi.good, "a revision with the old cost");
	auto *b_bad = bisect->add_option("--bad", bi.bad, "a later revision with the new cost");
	auto *b_row = bisect->add_option("--row", bi.row, "the benchmark row, e.g. transfer/copy/to_user/64");
	auto *b_arch = bisect->add_option("--arch", bi.arch, "x86_64 (default) or arm64");
	auto *b_prot = bisect->add_option("--protection", bi.protection, "on (default), off, off-kernel, sw");
	auto *b_clock = bisect->add_option("--clock", bi.clock,
					   "icount (default: instructions, one boot a revision) or time (--boots boots a "
					   "revision and the interval rule: slower and less certain)")
				->check(CLI::IsMember({"icount", "time"}));
	auto *b_thr = bisect->add_option("--threshold", bisect_pct,
					 "PCT: a revision is bad when the row moved by more than this percentage of the good "
					 "value (default 0.1 with icount, its repeatability; 2 with time)")
			      ->check(CLI::Range(1e-6, 100.0));
	auto *b_boots = bisect->add_option("--boots", bi.boots, "boots a revision with --clock time (default 4)")
				->check(CLI::Range(2, 50));
	auto *b_out = bisect->add_option("--out", bisect_out, "results directory (default results/bisect-<UTC timestamp>)");
	auto *b_res = bisect->add_option("--resume", bisect_resume,
					 "continue an interrupted bisection in this directory (measured revisions are kept)")
			      ->check(CLI::ExistingDirectory);
	for (auto *o : {b_tree, b_good, b_bad, b_row, b_arch, b_prot, b_clock, b_thr, b_boots, b_out})
		b_res->excludes(o);

	std::string arch, kernel, protection = "on", kout, stamp, depfile;
	bool sparse = false;
	int timeout = 240;
	auto *kb = app.add_subcommand("kbuild", "(plumbing) build the module for one arch and kernel series");
	kb->add_option("--arch", arch)->required();
	kb->add_option("--kernel", kernel, "a kernel series, <series>-src/-debug, or a path (a build tree or .deb directory)")
		->required();
	kb->add_option("--out", kout, "the .ko to write (with --sparse: the report)")->required();
	kb->add_option("--stamp", stamp);
	kb->add_option("--depfile", depfile);
	kb->add_flag("--sparse", sparse, "check with sparse (C=2) and fail on any warning");
	kb->add_option("--protection", protection, "for a kernel built from source or given as a path: the protection's config")
		->check(CLI::IsMember({"on", "off", "off-kernel", "sw"}));

	auto *cell = app.add_subcommand("cell", "(plumbing) boot one cell, run the in-guest tests, print TAP");
	cell->add_option("--arch", arch)->required();
	cell->add_option("--kernel", kernel, "a kernel series, <series>-src/-debug, or a path (a build tree or .deb directory)")
		->required();
	cell->add_option("--protection", protection)->check(CLI::IsMember({"on", "off", "off-kernel", "sw"}));
	cell->add_option("--timeout", timeout, "seconds before the guest is killed")->check(CLI::Range(5, 3600));
	// `./xuaccess test --accel` reaches its cells (run by Meson) through the environment.
	const char *accel_env = std::getenv("XUACCESS_ACCEL");
	std::string cell_accel = accel_env && *accel_env ? accel_env : "tcg";
	cell->add_option("--accel", cell_accel, "tcg (default, or $XUACCESS_ACCEL), kvm or auto")
		->check(CLI::IsMember({"auto", "tcg", "kvm"}));
	std::vector<std::string> guest_args;
	cell->add_option("--guest-args", guest_args, "arguments for the guest program, e.g. --gtest_filter=Mmap*")
		->delimiter(',');
	// `./xuaccess test --thorough` reaches its cells the same way.
	const char *tier_env = std::getenv("XUACCESS_TIER");
	bool cell_thorough = tier_env && std::string(tier_env) == "thorough";
	cell->add_flag("--thorough", cell_thorough, "the in-guest tests' long tier (or $XUACCESS_TIER=thorough)");

	auto *fk = app.add_subcommand("fetch-kernel", "(plumbing) fetch and unpack a Debian kernel into the cache");
	fk->add_option("--arch", arch)->required();
	fk->add_option("--kernel", kernel)->required();

	// An unknown subcommand is named as such, with the valid ones (CLI11 would say "A subcommand is required").
	if (argc > 1 && argv[1][0] != '-') {
		std::vector<std::string> known, plumbing;
		for (auto *s : app.get_subcommands([](CLI::App *) { return true; }))
			(s->get_description().starts_with("(plumbing)") ? plumbing : known).push_back(s->get_name());
		if (std::find(known.begin(), known.end(), argv[1]) == known.end() &&
		    std::find(plumbing.begin(), plumbing.end(), argv[1]) == plumbing.end()) {
			std::fprintf(stderr, "xuaccess: unknown subcommand '%s' (expected one of: %s; plumbing: %s)\n", argv[1],
				     fmt::format("{}", fmt::join(known, ", ")).c_str(),
				     fmt::format("{}", fmt::join(plumbing, ", ")).c_str());
			return 2;
		}
	}
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		int code = app.exit(e);  // prints the help, or the error and a hint
		return code == 0 ? 0 : 2;  // CLI11's own 105-109 are usage errors
	}
	sel.dedupe();
	bo.sel.dedupe();

	try {
		const auto &m = xua::Matrix::get();
		if (*test) {
			if (test_suite == "machines") {
				if (!sel.kernels.empty() || !sel.protections.empty() || test_accel != "tcg" || test_thorough) {
					std::fprintf(stderr, "xuaccess: --suite machines takes only --arch (each machine runs its "
							     "own fixed steps)\n");
					return 2;
				}
				return xua::run_machine_suite(sel.arches);
			}
			if (test_suite == "bisect") {
				if (!sel.kernels.empty() || !sel.protections.empty() || test_accel != "tcg" || test_thorough) {
					std::fprintf(stderr, "xuaccess: --suite bisect takes only --arch\n");
					return 2;
				}
				return xua::run_bisect_suite(sel.arches);
			}
			if (test_suite == "debian13") {
				if (!sel.arches.empty() || !sel.kernels.empty() || !sel.protections.empty() || test_accel != "tcg" ||
				    test_thorough) {
					std::fprintf(stderr, "xuaccess: --suite debian13 takes no other option (it runs the README's "
							     "commands as they are)\n");
					return 2;
				}
				return xua::run_host_release_suite(test_suite);
			}
			return xua::run_tests(sel, test_accel, test_thorough);
		}
		if (*bench) {
			if (!resume.empty())
				return xua::resume_bench(resume);
			bo.out = bench_out;
			if (bo.clock == "icount" && boots->count() && bo.boots != 1) {
				std::fprintf(stderr, "xuaccess: --clock icount takes one boot per cell: every boot of a cell gives "
						     "the same instruction counts, so more boots add nothing\n");
				return 2;
			}
			if (bo.clock != "icount" && bo.jobs > 1) {
				std::fprintf(stderr, "xuaccess: --jobs %d needs --clock icount: time figures of boots side by side "
						     "would measure their sharing of this machine's cores and caches\n", bo.jobs);
				return 2;
			}
			if (host && bo.clock == "icount") {
				std::fprintf(stderr, "xuaccess: --clock icount needs QEMU (TCG); --host runs on this machine's CPU\n");
				return 2;
			}
			if (host)
				return xua::run_host_bench(bo, host_yes);
			return xua::run_bench(bo);
		}
		if (*bisect) {
			if (!bisect_resume.empty())
				return xua::resume_bisect(bisect_resume);
			m.select({bi.arch}, {}, {bi.protection});  // refused as every command refuses them
			for (auto *o : {b_tree, b_good, b_bad, b_row})
				if (!o->count()) {
					std::fprintf(stderr, "xuaccess: bisect needs --tree, --good, --bad and --row (or --resume DIR); "
							     "%s is missing\n", o->get_name().c_str());
					return 2;
				}
			if (b_boots->count() && bi.clock != "time") {
				std::fprintf(stderr, "xuaccess: --boots is for --clock time (icount needs one boot a revision)\n");
				return 2;
			}
			bi.threshold = bisect_pct / 100;
			bi.out = bisect_out;
			return xua::run_bisect(bi);
		}
		if (*report) {
			xua::print_report(report_dir);
			return 0;
		}
		if (*cmp)
			return xua::run_compare(cmp_a, cmp_b, co, cmp_json,
						max_reg->count() ? std::optional<double>(max_regression) : std::nullopt);
		if (*kb) {
			xua::die_with_parent(SIGTERM);  // run by ninja, run by the front end
			if (xua::is_source_kernel(kernel) || xua::is_kernel_path(kernel)) {
				// Against a kernel built from source (built now if the cache lacks it) or given as a path.
				auto c = m.select({arch}, {kernel}, {protection}).front();
				auto k = xua::cell_kernel(c, xua::Resolve::if_missing);
				xua::kbuild({.arch = c.arch, .series = k.release, .out = kout, .sparse = sparse,
					     .headers = k.headers,
					     .cc = xua::module_cc(c, k.headers)});
				if (sparse)
					std::printf("%s", xua::read_file(kout).c_str());
				return 0;
			}
			xua::kbuild({.arch = &m.arch(arch), .series = kernel, .out = kout, .stamp = stamp,
				     .depfile = depfile, .sparse = sparse});
			if (sparse)
				std::printf("%s", xua::read_file(kout).c_str());
			return 0;
		}
		if (*fk) {
			auto k = xua::ensure_kernel(m.arch(arch), kernel, xua::Resolve::always);
			std::printf("%s", xua::read_file(k.stamp).c_str());
			return 0;
		}
		if (*cell) {
			xua::die_with_parent(SIGTERM);  // run by meson, run by the front end: QEMU goes when they go
			try {
				auto c = m.select({arch}, {kernel}, {protection}).front();
				xua::CellJob job;
				job.timeout = std::chrono::seconds(timeout * xua::guest_time_scale());
				job.args = guest_args;
				if (cell_thorough)
					job.args.push_back("--thorough");
				job.accel = xua::resolve_accels(cell_accel, {c}).front();
				auto dir = xua::Matrix::paths().build / "cells" / c.name();
				auto image = xua::provision_cell(c, job.job, dir);
				auto o = xua::run_cell(c, image, job, dir);
				return xua::print_tap(o, xua::judge(o), stdout) == 0 ? 0 : 1;
			} catch (const xua::Error &e) {
				std::printf("Bail out! %s\n", e.what());  // a TAP consumer (Meson) reads stdout
				throw;
			}
		}
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
