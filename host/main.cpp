// xuaccess-host: the C++ front end behind ./xuaccess.
//
// Person-facing commands: test, bench, compare, report. Plumbing used by Meson: kbuild (module targets, sparse tests),
// cell (one QEMU cell as a TAP test), fetch-kernel.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "bench.hpp"
#include "compare.hpp"
#include "cell.hpp"
#include "frontend.hpp"
#include "kbuild.hpp"
#include "kernel.hpp"
#include "report.hpp"

namespace {

void on_signal(int)
{
	xua::request_stop();
}

void add_selection(CLI::App *cmd, xua::Selection &sel)
{
	cmd->add_option("--arch", sel.arches, "Guest architectures (x86_64, arm64); repeat or comma-separate")
		->delimiter(',');
	cmd->add_option("--protection", sel.protections, "on, off or both (default both)")->delimiter(',');
	cmd->add_option("--kernel", sel.kernels, "Debian kernel series: 6.1 (default), 6.12")->delimiter(',');
}

}  // namespace

int main(int argc, char **argv)
{
	struct sigaction sa{};
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, nullptr);
	sigaction(SIGTERM, &sa, nullptr);

	CLI::App app{"xuaccess: kernel/user data transfer under x86 SMAP and arm64 PAN, measured in QEMU guests"};
	app.require_subcommand(1);

	xua::Selection sel;
	auto *test = app.add_subcommand("test", "Build everything, then run host unit tests, sparse and the QEMU cells");
	add_selection(test, sel);

	xua::BenchOptions bo;
	std::string bench_out;
	auto *bench = app.add_subcommand("bench", "Run the benchmark suites in every cell (the project's main job)");
	add_selection(bench, bo.sel);
	bench->add_option("--filter", bo.filter, "regex over benchmark names, e.g. 'transfer/copy' or '^guard'");
	bench->add_option("--boots", bo.boots,
			  "guest boots per cell (default 5): each boot is one sample of the on/off U test, since boots of one "
			  "cell differ by far more than repetitions inside a boot")
		->check(CLI::Range(1, 50));
	bench->add_option("--repetitions", bo.repetitions, "repetitions per benchmark in each boot (default 2)")
		->check(CLI::Range(1, 50));
	bench->add_flag("--quick", bo.quick, "smoke run for CI: a few sizes, short min time, 1 boot, 1 repetition");
	bench->add_option("--out", bench_out, "results directory (default results/<UTC timestamp>)");
	bool host = false, host_yes = false;
	bench->add_flag("--host", host, "run on this machine's own kernel instead of QEMU (real silicon; loads the module)");
	bench->add_flag("--yes-load-module-into-this-kernel", host_yes, "the confirmation --host requires");
	bench->add_option("--accel", bo.accel, "tcg (default), or kvm for cells of this machine's arch when /dev/kvm is usable")
		->check(CLI::IsMember({"tcg", "kvm"}));

	std::string report_dir;
	auto *report = app.add_subcommand("report", "Regenerate summary.txt, compare-*.txt/json, plots/ and report.md of a "
						    "results directory from its JSON, and print the summary");
	report->add_option("dir", report_dir, "results/<run> of a ./xuaccess bench")->required()->check(CLI::ExistingDirectory);

	std::string cmp_a, cmp_b, cmp_json;
	xua::CompareOptions co;
	auto *cmp = app.add_subcommand("compare", "Compare two cells' benchmark JSON row by row: B/A time, spread, "
						  "Mann-Whitney U over the repetitions");
	cmp->add_option("A", cmp_a, "the baseline, e.g. results/<run>/x86_64-6.1-off.json")->required()->check(CLI::ExistingFile);
	cmp->add_option("B", cmp_b, "compared against A, e.g. results/<run>/x86_64-6.1-on.json")->required()->check(CLI::ExistingFile);
	cmp->add_option("--alpha", co.alpha, "significance level of the U test (default 0.05)")->check(CLI::Range(1e-9, 0.5));
	cmp->add_flag("--allow-mismatch", co.allow_mismatch,
		      "compare cells that differ in more than the protection (arch, kernel, CPU, accel, command line, ...)");
	cmp->add_option("--json", cmp_json, "also write the comparison as JSON to this file");

	std::string arch, kernel, protection = "on", out, stamp, depfile;
	bool sparse = false;
	int timeout = 240;
	auto *kb = app.add_subcommand("kbuild", "(plumbing) build the module for one arch and kernel series");
	kb->add_option("--arch", arch)->required();
	kb->add_option("--kernel", kernel)->required();
	kb->add_option("--out", out, "the .ko to write (with --sparse: the report)")->required();
	kb->add_option("--stamp", stamp);
	kb->add_option("--depfile", depfile);
	kb->add_flag("--sparse", sparse, "check with sparse (C=2) and fail on any warning");

	auto *cell = app.add_subcommand("cell", "(plumbing) boot one cell, run the in-guest tests, print TAP");
	cell->add_option("--arch", arch)->required();
	cell->add_option("--kernel", kernel)->required();
	cell->add_option("--protection", protection)->check(CLI::IsMember({"on", "off"}));
	cell->add_option("--timeout", timeout, "seconds before the guest is killed")->check(CLI::Range(5, 3600));
	std::vector<std::string> guest_args;
	cell->add_option("--guest-args", guest_args, "arguments for the guest program, e.g. --gtest_filter=Mmap*")
		->delimiter(',');

	auto *fk = app.add_subcommand("fetch-kernel", "(plumbing) fetch and unpack a Debian kernel into the cache");
	fk->add_option("--arch", arch)->required();
	fk->add_option("--kernel", kernel)->required();

	CLI11_PARSE(app, argc, argv);

	try {
		const auto &m = xua::Matrix::get();
		if (*test)
			return xua::run_tests(sel);
		if (*bench) {
			bo.out = bench_out;
			if (host)
				return xua::run_host_bench(bo, host_yes);
			if (host_yes)
				throw xua::Error("--yes-load-module-into-this-kernel goes with --host only");
			return xua::run_bench(bo);
		}
		if (*report) {
			xua::print_report(report_dir);
			return 0;
		}
		if (*cmp)
			return xua::run_compare(cmp_a, cmp_b, co, cmp_json);
		if (*kb) {
			xua::kbuild({.arch = &m.arch(arch), .series = kernel, .out = out, .stamp = stamp,
				     .depfile = depfile, .sparse = sparse});
			if (sparse)
				std::printf("%s", xua::read_file(out).c_str());
			return 0;
		}
		if (*fk) {
			auto k = xua::ensure_kernel(m.arch(arch), kernel, xua::Resolve::always);
			std::printf("%s", xua::read_file(k.stamp).c_str());
			return 0;
		}
		if (*cell) {
			auto cells = m.select({arch}, {kernel}, {protection});
			xua::CellJob job;
			job.timeout = std::chrono::seconds(timeout);
			job.args = guest_args;
			auto o = xua::run_cell(cells.front(), job);
			return xua::print_tap(o, stdout) == 0 ? 0 : 1;
		}
	} catch (const xua::Error &e) {
		if (*cell)  // a TAP consumer (Meson) reads stdout: say why the cell could not run
			std::printf("Bail out! %s\n", e.what());
		std::fprintf(stderr, "xuaccess: %s\n", e.what());
		return 1;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "xuaccess: internal error: %s\n", e.what());
		return 1;
	}
	return 0;
}
