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

// The rows the summary shows (the JSON files hold every row).
std::vector<std::string> summary_rows(const std::vector<std::map<std::string, RowValue>> &cells)
{
	std::set<std::string> names;
	for (auto &c : cells)
		for (auto &[k, _] : c)
			names.insert(k);
	static const std::regex keep(
		R"(^(transfer/[^/]+/[^/]+/(64|4096|1048576)|guard/toggle|latency/[^/]+/to_user/64|mmap/[^/]+/(4096|1048576)|batch/[^/]+/(1|16|256)|baseline/[^/]+(/(4096|1048576))?)$)");
	std::vector<std::string> rows;
	for (auto &n : names)
		if (std::regex_match(n, keep))
			rows.push_back(n);
	return rows;
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
					 o.quick ? "--quick" : "--xua-min-time=0.1"};
	if (!o.filter.empty())
		args.push_back("--xua-filter=" + o.filter);
	return args;
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

std::map<std::string, RowValue> summarise(const nlohmann::json &results)
{
	std::map<std::string, RowValue> out;
	std::map<std::string, double> cv;
	for (auto &b : results.value("benchmarks", nlohmann::json::array())) {
		std::string name = b.value("run_name", b.value("name", ""));
		if (auto pos = name.find("/manual_time"); pos != std::string::npos)
			name.erase(pos);
		std::string agg = b.value("aggregate_name", "");
		std::string run_type = b.value("run_type", "iteration");
		if (b.contains("error_occurred") && b["error_occurred"].get<bool>())
			continue;
		// What a row means decides its unit: per-call latencies and syscall floors in ns of wall clock,
		// window pairs and batches in ns per item (kernel-timed), everything else as throughput.
		RowValue v;
		auto per_item = [&] {
			return b.contains("items_per_second") ? 1e9 / b["items_per_second"].get<double>() : 0.0;
		};
		if (starts_with(name, "latency/") || name == "baseline/null_ioctl" || name == "baseline/getppid") {
			v.value = b.value("real_time", 0.0);
		} else if (starts_with(name, "guard/") || starts_with(name, "batch/")) {
			v.value = per_item();
		} else if (b.contains("bytes_per_second")) {
			v.throughput = true;
			v.value = b["bytes_per_second"].get<double>() / (1 << 20);
		} else {
			v.value = b.value("real_time", 0.0);
		}
		if (run_type == "aggregate") {
			if (agg == "median")
				out[name] = {v.value, out.count(name) ? out[name].cv : -1, v.throughput};
			else if (agg == "cv")
				cv[name] = b.value("real_time", 0.0);  // a ratio for cv aggregates
		} else if (!out.count(name)) {
			out[name] = v;  // a single run (or the first repetition until the median comes)
		}
	}
	for (auto &[name, c] : cv)
		if (out.count(name))
			out[name].cv = c;
	return out;
}

std::string summary_table(const std::string &title, const std::vector<std::string> &cell_names,
			  const std::vector<std::map<std::string, RowValue>> &cells, const std::vector<std::string> &rows)
{
	std::string t = title + "\n";
	size_t w = 10;
	for (auto &r : rows)
		w = std::max(w, r.size());
	t += fmt::format("{:<{}} {:>6}", "benchmark", w, "unit");
	for (auto &c : cell_names)
		t += fmt::format(" {:>18}", c);
	bool ratio = cells.size() == 2;
	if (ratio)
		t += fmt::format(" {:>8}", "off/on");
	t += "\n";
	for (auto &r : rows) {
		const RowValue *first = nullptr;
		for (auto &c : cells)
			if (c.count(r))
				first = first ? first : &c.at(r);
		if (!first)
			continue;
		t += fmt::format("{:<{}} {:>6}", r, w, first->throughput ? "MiB/s" : "ns");
		for (auto &c : cells) {
			if (!c.count(r)) {
				t += fmt::format(" {:>18}", "-");
				continue;
			}
			auto &v = c.at(r);
			std::string cv = v.cv >= 0 ? fmt::format(" ±{:.1f}%", v.cv * 100) : "";
			t += fmt::format(" {:>18}", fmt::format("{:.1f}{}", v.value, cv));
		}
		if (ratio && cells[0].count(r) && cells[1].count(r) && cells[0].at(r).value > 0)
			t += fmt::format(" {:>8.3f}", cells[1].at(r).value / cells[0].at(r).value);
		t += "\n";
	}
	return t;
}

std::string bench_report(const fs::path &dir)
{
	std::map<std::string, std::map<std::string, RowValue>> results;  // cell -> rows
	std::map<std::string, std::string> emulated;
	std::map<std::string, int> repetitions;
	for (auto &e : fs::directory_iterator(dir)) {
		if (e.path().extension() != ".json")
			continue;
		nlohmann::json j;
		try {
			j = nlohmann::json::parse(read_file(e.path()));
		} catch (const nlohmann::json::exception &ex) {
			fail("{} does not parse: {}", e.path().string(), ex.what());
		}
		auto cell = e.path().stem().string();
		const auto &ctx = j.value("context", nlohmann::json::object());
		emulated[cell] = ctx.value("xua_accel", "tcg") == "tcg" ? "emulated (TCG)"
									: "accel " + ctx.value("xua_accel", std::string("?"));
		int reps = 1;
		for (auto &b : j.value("benchmarks", nlohmann::json::array()))
			reps = std::max(reps, b.value("repetitions", 1));
		repetitions[cell] = reps;
		results[cell] = summarise(j);
	}
	if (results.empty())
		fail("no benchmark JSON files in {}", dir.string());
	// Per arch and kernel: on and off side by side.
	std::string report;
	std::set<std::string> groups;
	for (auto &[name, _] : results)
		groups.insert(name.substr(0, name.rfind('-')));
	for (auto &g : groups) {
		std::vector<std::string> names;
		std::vector<std::map<std::string, RowValue>> cols;
		for (auto prot : {"on", "off"}) {
			auto n = g + "-" + prot;
			if (results.count(n)) {
				names.push_back(n);
				cols.push_back(results[n]);
			}
		}
		if (cols.empty())
			continue;
		auto rows = summary_rows(cols);
		report += summary_table(fmt::format("{} — {}, median of {} repetition(s) ± cv; "
						    "MiB/s: higher is faster, ns: lower is faster",
						    g, emulated[names.front()], repetitions[names.front()]),
					names, cols, rows);
		// The targets the issue sets, reported (never asserted): the module's raw copy vs copy_{to,from}_user.
		for (auto &n : names) {
			auto &r = results[n];
			std::string line;
			for (auto &[k, v] : r) {
				static const std::regex raw_re(R"(^transfer/raw_(?!get_put)([^/]+)/([^/]+)/(\d+)$)");
				std::smatch mm;
				if (!std::regex_match(k, mm, raw_re) || std::stoull(mm[3]) < 4096)
					continue;
				auto copy = fmt::format("transfer/copy/{}/{}", mm[2].str(), mm[3].str());
				if (r.count(copy) && r[copy].value > 0)
					line += fmt::format(" {}/{}/{}={:+.1f}%", mm[1].str(), mm[2].str(), mm[3].str(),
							    (v.value / r[copy].value - 1) * 100);
			}
			if (!line.empty())
				report += fmt::format("{}: raw copy vs copy_*_user throughput:{}\n", n, line);
			// Noise of the kernel-timed rows at 4 KiB and up (target: cv <= 3 %).
			std::vector<double> cvs;
			static const std::regex kt_re(R"(^(transfer/[^/]+/[^/]+|baseline/kernel_memcpy)/(\d+)$)");
			for (auto &[k, v] : r) {
				std::smatch mm;
				if (v.cv >= 0 && std::regex_match(k, mm, kt_re) && std::stoull(mm[2]) >= 4096)
					cvs.push_back(v.cv);
			}
			if (!cvs.empty()) {
				std::sort(cvs.begin(), cvs.end());
				auto over = std::count_if(cvs.begin(), cvs.end(), [](double c) { return c > 0.03; });
				report += fmt::format("{}: kernel-timed rows >= 4 KiB: {} rows, cv median {:.1f}%, max {:.1f}%, "
						      "{} above 3%\n",
						      n, cvs.size(), cvs[cvs.size() / 2] * 100, cvs.back() * 100, over);
			}
		}
		report += "\n";
	}
	return report;
}

namespace {

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

}  // namespace

void print_report(const fs::path &out)
{
	auto report = bench_report(out);
	fmt::print("\n{}", report);
	write_file(out / "summary.txt", report);
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
	ctx["xua_cpu_model"] = cpu_model();
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
		auto tag = fmt::format("[{}/{}] {}", i + 1, cells.size(), c.name());
		progress(tag + ": booting");
		CellJob job;
		job.job = "bench";
		job.args = args;
		job.timeout = std::chrono::seconds(o.quick ? 600 : 1800);
		job.accel = o.accel;
		job.on_line = [&](const std::string &line) {
			auto pos = line.find("xua-progress ");
			if (pos != std::string::npos)
				progress(fmt::format("{}: benchmark {}", tag, line.substr(pos + 13)));
		};
		auto oc = run_cell(c, job);
		std::string why;
		auto [expected, unexpected] = classify_problems(oc);
		if (oc.guest.interrupted)
			why = "interrupted";
		else if (oc.guest.timed_out)
			why = fmt::format("timed out after {:.0f} s; last console lines:\n{}", oc.guest.seconds,
					  last_lines(oc.guest.console, 20));
		else if (!oc.report.insmod_ok)
			why = "insmod failed: " + oc.report.insmod_error;
		else if (auto mm = protection_mismatch(c, oc.report.info); !mm.empty())
			why = "protection not as requested: " + mm;
		else if (!unexpected.empty())
			why = fmt::format("kernel {}:\n{}", unexpected.front()->kind, unexpected.front()->text);
		else if (oc.report.job_exit != 0)
			why = fmt::format("xuaccess-bench exited {}:\n{}", oc.report.job_exit,
					  last_lines(fmt::format("{}", fmt::join(oc.report.job_output, "\n")), 15));
		nlohmann::json j;
		if (why.empty()) {
			try {
				j = extract_benchmark_json(oc.report.job_output);
			} catch (const Error &e) {
				why = e.what();
			}
		}
		if (!why.empty()) {
			progress(fmt::format("{}: FAILED ({:.0f} s)", tag, oc.guest.seconds));
			fmt::print(stderr, "\n{}\n", why);
			++failed;
			continue;
		}
		auto &ctx = j["context"];
		ctx["xua_emulated"] = o.accel == "tcg" ? "emulated (TCG): guard costs are emulator costs, not silicon"
						       : "no (KVM: the guest runs on this CPU)";
		ctx["xua_accel"] = o.accel;
		ctx["xua_qemu_version"] = qemu_version(*c.arch);
		ctx["xua_qemu_cpu"] = c.cpu();
		ctx["xua_qemu_machine"] = c.arch->machine;
		ctx["xua_kernel_package"] = oc.kernel.image_pkg + " " + oc.kernel.version;
		ctx["xua_kernel_cmdline_extra"] = fmt::format("{}", fmt::join(c.arch->append, " "));
		ctx["xua_protection_requested"] = c.protection;
		ctx["xua_protection_verified"] = true;
		ctx["xua_date_utc"] = utc_now("%Y-%m-%dT%H:%M:%SZ");
		ctx["xua_boot_seconds"] = oc.guest.first_output;
		auto file = out / (c.name() + ".json");
		write_file(file, j.dump(2) + "\n");
		++done;
		progress(fmt::format("{}: done in {:.0f} s, {} rows -> {}", tag, oc.guest.seconds,
				     j["benchmarks"].size(), file.string()));
		if (isatty(2))
			fmt::print(stderr, "\n");
	}

	if (done)
		print_report(out);
	fmt::print("Results: {} (one Google Benchmark JSON per cell; compare two with "
		   "/usr/bin/python3 /usr/share/benchmark/compare.py benchmarks A.json B.json)\n",
		   out.string());
	fmt::print("xuaccess bench: {} cell(s) done, {} failed, {:.0f} s in all (emulated under TCG)\n",
		   done, failed, seconds_since(t0));
	return failed || stop_requested() ? 1 : 0;
}

}  // namespace xua
