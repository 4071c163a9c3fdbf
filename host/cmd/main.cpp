// xuaccess-host: the C++ front end behind ./xuaccess.
//
// Person-facing commands: test, bench, compare, report. Plumbing used by Meson: kbuild (module targets, sparse tests),
// cell (one QEMU cell as a TAP test), fetch-kernel.
//
// Exit codes: 0 ok, 1 failure, 2 usage error (unknown subcommand, option or name), refused comparison or refused
// kernel, 128 + signal when interrupted (130 for Ctrl-C, 143 for SIGTERM). Every child process dies with the front end (run/process.hpp).
#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "analyze/compare.hpp"
#include "cmd/bench.hpp"
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
#include "run/host_machine.hpp"
#include "run/judge.hpp"
#include "run/process.hpp"

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
	test->add_option("--suite", test_suite,
			 "cells (default: host unit tests, sparse and the QEMU cells), machines (Debian 12 machine "
			 "images: bench --host and --accel kvm end to end inside them; docs/machines.md) or debian13 (a "
			 "fresh Debian 13 root runs ./xuaccess test and bench --quick from scratch; docs/ci.md)")
		->check(CLI::IsMember({"cells", "machines", "debian13"}));
	test->add_option("--accel", test_accel,
			 "tcg (default: every cell emulated, as in CI), kvm (cells of this machine's arch under KVM; "
			 "refused when /dev/kvm cannot run them), or auto (kvm where usable, else tcg)")
		->check(CLI::IsMember({"auto", "tcg", "kvm"}));

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
	auto *res = bench->add_option("--resume", resume,
				      "continue the interrupted run in this results directory with its own options "
				      "(boots already on disk are kept)")
			    ->check(CLI::ExistingDirectory);
	for (auto *o : {filter, boots, reps, quick, out, host_flag, accel, clock, seed, kbuf})
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
				if (!sel.kernels.empty() || !sel.protections.empty() || test_accel != "tcg") {
					std::fprintf(stderr, "xuaccess: --suite machines takes only --arch (each machine runs its "
							     "own fixed steps)\n");
					return 2;
				}
				return xua::run_machine_suite(sel.arches);
			}
			if (test_suite == "debian13") {
				if (!sel.arches.empty() || !sel.kernels.empty() || !sel.protections.empty() || test_accel != "tcg") {
					std::fprintf(stderr, "xuaccess: --suite debian13 takes no other option (it runs the README's "
							     "commands as they are)\n");
					return 2;
				}
				return xua::run_host_release_suite(test_suite);
			}
			return xua::run_tests(sel, test_accel);
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
			if (host && bo.clock == "icount") {
				std::fprintf(stderr, "xuaccess: --clock icount needs QEMU (TCG); --host runs on this machine's CPU\n");
				return 2;
			}
			if (host)
				return xua::run_host_bench(bo, host_yes);
			return xua::run_bench(bo);
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
					     .cc = xua::is_source_kernel(kernel) ? xua::kernel_cc(*c.arch, kernel) : ""});
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
