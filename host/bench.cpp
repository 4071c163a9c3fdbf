#include "bench.hpp"

#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <regex>
#include <algorithm>
#include <set>

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cell.hpp"
#include "kbuild.hpp"
#include "report.hpp"

namespace xua {
namespace {

std::string utc_now(const char *fmt)
{
	std::time_t t = std::time(nullptr);
	std::tm tm{};
	gmtime_r(&t, &tm);
	char buf[64];
	std::strftime(buf, sizeof(buf), fmt, &tm);
	return buf;
}

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

// The arguments of xuaccess-bench for these options, after checking them (the guest gets them on its
// kernel command line, where spaces and commas separate other things).
std::vector<std::string> bench_args(const BenchOptions &o)
{
	if (o.filter.find_first_of(" ,") != std::string::npos)
		fail("--filter must not contain spaces or commas (it travels on the guest kernel command line): '{}'",
		     o.filter);
	if (o.repetitions < 1 || o.repetitions > 50)
		fail("--repetitions must be 1..50, not {}", o.repetitions);
	std::vector<std::string> args = {"--benchmark_repetitions=" + std::to_string(o.quick ? 1 : o.repetitions),
					 o.quick ? "--quick" : "--xua-min-time=0.05"};
	if (!o.filter.empty())
		args.push_back("--xua-filter=" + o.filter);
	return args;
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

// Why one boot of a bench cell gave no figures, or "" when it did.
std::string bench_failure(const Cell &c, const CellOutcome &oc)
{
	auto [expected, unexpected] = classify_problems(oc);
	if (oc.guest.interrupted)
		return "interrupted";
	if (oc.guest.timed_out)
		return fmt::format("timed out after {:.0f} s; last console lines:\n{}", oc.guest.seconds,
				   last_lines(oc.guest.console, 20));
	if (!oc.report.insmod_ok)
		return "insmod failed: " + oc.report.insmod_error;
	if (auto mm = protection_mismatch(c, oc.report.info); !mm.empty())
		return "protection not as requested: " + mm;
	if (!unexpected.empty())
		return fmt::format("kernel {}:\n{}", unexpected.front()->kind, unexpected.front()->text);
	if (oc.report.job_exit != 0)
		return fmt::format("xuaccess-bench exited {}:\n{}", oc.report.job_exit,
				   last_lines(fmt::format("{}", fmt::join(oc.report.job_output, "\n")), 15));
	return "";
}

}  // namespace

nlohmann::json extract_benchmark_json(const std::vector<std::string> &lines)
{
	size_t first = lines.size(), last = lines.size();
	for (size_t i = 0; i < lines.size(); ++i) {
		if (first == lines.size() && lines[i] == "{")
			first = i;
		if (lines[i] == "}")
			last = i;
	}
	if (first == lines.size() || last == lines.size() || last < first)
		fail("no benchmark JSON in the guest's output");
	std::string text;
	for (size_t i = first; i <= last; ++i)
		text += lines[i] + "\n";
	try {
		return nlohmann::json::parse(text);
	} catch (const nlohmann::json::exception &e) {
		fail("the guest's benchmark JSON does not parse: {}", e.what());
	}
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
		   "  3. run {} natively: the same suites as in the guests, on real silicon\n"
		   "  4. unload the module and write {}/host-{}-asbooted.json\n",
		   release, cpu_model(), headers.string(), bench.string(), out.string(), release);
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
		long r = syscall(SYS_finit_module, fd, "", 0);
		int err = errno;
		close(fd);
		if (r != 0)
			fail("loading {} failed: {} (see dmesg)", ko.string(), std::strerror(err));
		mod.loaded = true;
	}
	for (int i = 0; i < 50 && !fs::exists("/dev/xuaccess"); ++i)  // devtmpfs/udev creates the node
		usleep(100000);
	auto r = run(argv, {.env = {{"XUA_CELL", "host-" + release}}, .merge_stderr = false});
	if (!r.ok())
		fail("xuaccess-bench failed (exit {}):\n{}", r.status, last_lines(r.output, 20));
	auto j = extract_benchmark_json(split_lines(r.output));
	auto &ctx = j["context"];
	ctx["xua_emulated"] = "no (real silicon, the running kernel)";
	ctx["xua_accel"] = "host";
	ctx["xua_host_cpu"] = cpu_model();
	ctx["xua_bench_args"] = fmt::format("{}", fmt::join(bench_args(o), " "));
	ctx["xua_protection_requested"] = "as booted";
	ctx["xua_date_utc"] = utc_now("%Y-%m-%dT%H:%M:%SZ");
	fs::create_directories(out);
	write_file(out / ("host-" + release + "-asbooted.json"), j.dump(2) + "\n");
	print_report(out);
	return 0;
}

int run_bench(const BenchOptions &o)
{
	const auto &m = Matrix::get();
	auto t0 = std::chrono::steady_clock::now();
	auto cells = m.select(o.sel.arches, o.sel.kernels, o.sel.protections);
	for (auto &c : cells)
		if (auto why = accel_unusable(o.accel, *c.arch); !why.empty())
			fail("--accel {}: {}", o.accel, why);
	const auto args = bench_args(o);
	auto out = o.out.empty() ? Matrix::paths().source / "results" / utc_now("%Y%m%d-%H%M%S") : o.out;
	fs::create_directories(out);
	progress(fmt::format("xuaccess bench: building for {} cell(s)", cells.size()));
	prepare(cells);

	int failed = 0, done = 0;
	for (size_t i = 0; i < cells.size(); ++i) {
		if (stop_requested())
			break;
		const auto &c = cells[i];
		const int boots = o.quick ? 1 : o.boots;
		auto tag = fmt::format("[{}/{}] {}", i + 1, cells.size(), c.name());
		nlohmann::json j;
		std::string why;
		double seconds = 0, first_boot = -1, other_cores = -1, steal = -1;
		std::string kernel_package;
		for (int k = 0; k < boots && why.empty(); ++k) {
			if (stop_requested()) {
				why = "interrupted";
				break;
			}
			auto btag = boots > 1 ? fmt::format("{} boot {}/{}", tag, k + 1, boots) : tag;
			progress(btag + ": booting");
			CellJob job;
			job.job = "bench";
			job.args = args;
			job.timeout = std::chrono::seconds(o.quick ? 600 : 1800);
			job.accel = o.accel;
			job.on_line = [&](const std::string &line) {
				auto pos = line.find("xua-progress ");
				if (pos != std::string::npos)
					progress(fmt::format("{}: benchmark {}", btag, line.substr(pos + 13)));
			};
			auto oc = run_cell(c, job);
			seconds += oc.guest.seconds;
			why = bench_failure(c, oc);
			nlohmann::json one;
			if (why.empty()) {
				try {
					one = extract_benchmark_json(oc.report.job_output);
				} catch (const Error &e) {
					why = e.what();
				}
			}
			if (!why.empty())
				break;
			// One file per cell: every boot's repetitions, each marked with its boot. Google Benchmark's
			// per-boot aggregates (mean, median, ...) would repeat under one name: they are left out when
			// there are several boots (compare computes its own from the repetitions).
			for (auto &b : one["benchmarks"])
				b["xua_boot"] = k;
			if (k == 0) {
				j = std::move(one);
				first_boot = oc.guest.first_output;
				kernel_package = oc.kernel.image_pkg + " " + oc.kernel.version;
			} else {
				for (auto &b : one["benchmarks"])
					j["benchmarks"].push_back(std::move(b));
			}
			other_cores = std::max(other_cores, oc.guest.host_other_cores);
			steal = std::max(steal, oc.guest.host_steal);
		}
		if (!why.empty()) {
			progress(fmt::format("{}: FAILED ({:.0f} s)", tag, seconds));
			fmt::print(stderr, "\n{}\n", why);
			++failed;
			continue;
		}
		if (boots > 1) {
			auto &all = j["benchmarks"];
			all.erase(std::remove_if(all.begin(), all.end(),
						 [](const nlohmann::json &b) { return b.value("run_type", "iteration") != "iteration"; }),
				  all.end());
		}
		auto &ctx = j["context"];
		ctx["xua_emulated"] = o.accel == "tcg" ? "emulated (TCG): guard costs are emulator costs, not silicon"
						       : "no (KVM: the guest runs on this CPU)";
		ctx["xua_accel"] = o.accel;
		ctx["xua_qemu_version"] = qemu_version(*c.arch);
		ctx["xua_host_cpu"] = cpu_model();  // the machine running QEMU: TCG figures depend on it too
		ctx["xua_bench_args"] = fmt::format("{}", fmt::join(args, " "));
		ctx["xua_qemu_cpu"] = c.cpu();
		ctx["xua_qemu_machine"] = c.arch->machine;
		ctx["xua_qemu_memory"] = GuestRun{}.memory;
		ctx["xua_kernel_package"] = kernel_package;
		ctx["xua_kernel_cmdline_extra"] = fmt::format("{}", fmt::join(c.arch->append, " "));
		ctx["xua_protection_requested"] = c.protection;
		ctx["xua_protection_verified"] = true;
		ctx["xua_date_utc"] = utc_now("%Y-%m-%dT%H:%M:%SZ");
		ctx["xua_boots"] = boots;
		ctx["xua_boot_seconds"] = first_boot;                // QEMU start to the init's first line, first boot
		ctx["xua_host_other_cores"] = other_cores;           // the busiest boot's
		ctx["xua_host_steal"] = steal;
		auto file = out / (c.name() + ".json");
		write_file(file, j.dump(2) + "\n");
		++done;
		progress(fmt::format("{}: done in {:.0f} s, {} rows -> {}", tag, seconds,
				     j["benchmarks"].size(), file.string()));
		if (isatty(2))
			fmt::print(stderr, "\n");
	}

	if (done)
		print_report(out);
	fmt::print("Results: {} (one Google Benchmark JSON per cell; compare any two with ./xuaccess compare A.json B.json)\n",
		   out.string());
	fmt::print("xuaccess bench: {} cell(s) done, {} failed, {:.0f} s in all ({})\n", done, failed,
		   seconds_since(t0), o.accel == "tcg" ? "emulated under TCG" : "under KVM");
	return failed || stop_requested() ? 1 : 0;
}

}  // namespace xua
