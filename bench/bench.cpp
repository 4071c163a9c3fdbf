// xuaccess-bench: the Google Benchmark suites, run inside a guest (or on a real host).
//
// Families (names are what --filter matches):
//   transfer/<method>/<dir>/<bytes>   kernel-timed throughput: the module runs the loop and times it
//                                     (UseManualTime), so the syscall is outside the figure
//   latency/<method>/<dir>/<bytes>    one ioctl per call, wall clock, syscall included (copy at every size:
//                                     the rival of the mmap rows; the other methods up to 4 KiB)
//   mmap/<produce+read|write+consume>/<bytes>  the shared buffer, end to end
//   guard/toggle                      one open/close pair of the user-access window, kernel-timed
//   batch/<get_user|user_access>/<words>  N separate get_user calls vs one user_access_begin + N unsafe reads
//                                     (4, 16, 256 words: 1 and 64 words would repeat transfer rows of 8 and 512 B)
//   baseline/<kernel_memcpy|user_memcpy|null_ioctl|getppid>[/<bytes>]
//
// Kernel-timed rows carry Google Benchmark's "/manual_time" suffix, wall-clock rows "/real_time" (their rates
// are per wall-clock second, not per CPU second).
// Output: Google Benchmark JSON on stdout; a progress line per benchmark on /dev/console when it exists
// ("xua-progress k/N name"). Options of its own: --quick, --xua-filter=REGEX, --xua-min-time=S, --xua-no-pace;
// every --benchmark_* flag is Google Benchmark's.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "device.hpp"
#include "shared/results_schema.hpp"

namespace {

using xua::Device;

struct Options {
	bool quick = false;
	std::string filter = ".*";
	double min_time = 0.2;
	bool pace = true;  // --xua-no-pace: no pace probe (icount)
};

Device &dev()
{
	static Device d;
	return d;
}

uint64_t check_ns()
{
	static uint64_t ns = dev().info().check_ns;
	return ns;
}

// One window check (after every iteration, and after every primitive of the module's own), picoseconds.
uint64_t window_check_ps()
{
	static uint64_t ps = dev().info().window_check_ps;
	return ps;
}

// Window checks per iteration of a TRANSFER: one after the iteration, plus one per primitive of the
// module's own methods (a raw copy; raw_get_put's word and byte accesses).
uint64_t window_checks_per_iteration(uint32_t method, uint64_t bytes)
{
	if (method == XUA_METHOD_RAW)
		return 2;
	if (method == XUA_METHOD_RAW_GET_PUT)
		return 1 + bytes / 8 + bytes % 8;
	return 1;
}

std::vector<uint8_t> &user_buffer()
{
	static std::vector<uint8_t> b(4 << 20, 0x5a);
	return b;
}

// Inner iterations per ioctl so that one call lasts long enough for the kernel clock and short enough
// for Google Benchmark to repeat it: about 256 KiB moved, within [1, 4096].
uint64_t inner_iterations(uint64_t bytes)
{
	return std::clamp<uint64_t>((256u << 10) / std::max<uint64_t>(bytes, 1), 1, 4096);
}

void report_error(benchmark::State &state, const char *what, int err)
{
	state.SkipWithError((std::string(what) + ": " + std::strerror(-err)).c_str());
}

// Kernel-timed TRANSFER: each benchmark iteration is one ioctl running `inner` transfers of `bytes` in
// the kernel; its manual time is the kernel's figure for them. items_per_second counts transfers, so
// 1e9 / items_per_second is the time of one transfer.
void bm_transfer(benchmark::State &state, uint32_t method, uint32_t mode, uint32_t dir, uint64_t bytes)
{
	const uint64_t inner = inner_iterations(bytes);
	void *buf = method == XUA_METHOD_MEMCPY ? nullptr : user_buffer().data();
	uint64_t done = 0, checks = 0, elapsed = 0, preempted = 0;
	for (auto _ : state) {
		int err = 0;
		auto t = dev().transfer(method, dir, buf, bytes, inner, mode, &err);
		if (err || t.iterations_done == 0) {
			report_error(state, "TRANSFER", err ? err : -EIO);
			break;
		}
		done += t.iterations_done;
		checks += t.checks;
		elapsed += t.elapsed_ns;
		preempted += (t.out_flags & XUA_OUT_PREEMPTED) != 0;
		state.SetIterationTime(static_cast<double>(t.elapsed_ns) / 1e9);
	}
	state.SetItemsProcessed(static_cast<int64_t>(done));
	state.SetBytesProcessed(static_cast<int64_t>(done * bytes));
	state.counters["inner"] = static_cast<double>(inner);
	// The loop's bookkeeping inside the figure (share of the kernel time, INFO's check_ns per step),
	// and the calls during which the task was switched out (their time includes another task's).
	state.counters["bookkeeping_share"] =
		elapsed ? static_cast<double>(checks) * static_cast<double>(check_ns()) / static_cast<double>(elapsed) : 0;
	state.counters["preempted_calls"] = static_cast<double>(preempted);
	// The window checks inside the figure (INFO's window_check_ps each), as a share of the kernel time.
	state.counters["window_check_share"] =
		elapsed ? static_cast<double>(done * window_checks_per_iteration(method, bytes)) *
				  static_cast<double>(window_check_ps()) / 1000.0 / static_cast<double>(elapsed)
			: 0;
}

// One ioctl per iteration, wall clock.
void bm_latency(benchmark::State &state, uint32_t method, uint32_t mode, uint32_t dir, uint64_t bytes)
{
	auto t = xua::make_arg<xua_transfer>();
	t.method = method;
	t.mode = mode;
	t.dir = dir;
	t.user_addr = xua::addr(user_buffer().data());
	t.len = bytes;
	t.iterations = 1;
	for (auto _ : state) {
		if (int err = dev().transfer(t); err) {
			report_error(state, "TRANSFER", err);
			break;
		}
	}
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

xua::Mapping &shared_mapping()
{
	static xua::Mapping m = dev().map(4 << 20);
	return m;
}

// produce+read: the kernel fills the shared buffer, the user reads every byte (copies it out);
// write+consume: the user writes, the kernel takes it. The copy ioctl at the same size is the rival.
void bm_mmap(benchmark::State &state, bool produce, uint64_t bytes)
{
	auto &m = shared_mapping();
	if (!m.ok()) {
		state.SkipWithError("mmap of /dev/xuaccess failed");
		return;
	}
	auto &local = user_buffer();
	for (auto _ : state) {
		int err = 0;
		if (produce) {
			dev().mmap_op(true, 0, bytes, 1, &err);
			std::memcpy(local.data(), m.data(), bytes);
			benchmark::DoNotOptimize(local.data());
		} else {
			std::memcpy(m.data(), local.data(), bytes);
			benchmark::ClobberMemory();
			dev().mmap_op(false, 0, bytes, 1, &err);
		}
		if (err) {
			report_error(state, produce ? "PRODUCE" : "CONSUME", err);
			break;
		}
	}
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

void bm_toggle(benchmark::State &state)
{
	const uint64_t inner = 10000;
	bool toggled = false;
	uint64_t done = 0;
	for (auto _ : state) {
		int err = 0;
		auto t = dev().toggle(inner, &err);
		if (err || !t.iterations_done) {
			report_error(state, "TOGGLE", err ? err : -EIO);
			break;
		}
		toggled = t.out_flags & XUA_OUT_GUARD_TOGGLED;
		done += t.iterations_done;
		state.SetIterationTime(static_cast<double>(t.elapsed_ns) / 1e9);
	}
	state.SetItemsProcessed(static_cast<int64_t>(done));  // pairs
	state.counters["inner"] = static_cast<double>(inner);
	state.SetLabel(toggled ? "guard toggled" : "no guard on this CPU: empty pairs");
}

void bm_user_memcpy(benchmark::State &state, uint64_t bytes)
{
	static std::vector<uint8_t> src(4 << 20, 1), dst(4 << 20);
	for (auto _ : state) {
		std::memcpy(dst.data(), src.data(), bytes);
		benchmark::DoNotOptimize(dst.data());
		benchmark::ClobberMemory();
	}
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

void bm_null_ioctl(benchmark::State &state)
{
	for (auto _ : state)
		if (int err = dev().null(); err) {
			report_error(state, "NULL", err);
			break;
		}
}

void bm_getppid(benchmark::State &state)
{
	for (auto _ : state)
		benchmark::DoNotOptimize(syscall(SYS_getppid));
}

std::string dir_name(uint32_t dir)
{
	return dir == XUA_DIR_TO_USER ? "to_user" : "from_user";
}

// Registers the suites; returns how many benchmarks (for the progress line).
int register_all(const Options &o, const xua_info &info)
{
	std::regex filter(o.filter);
	int n = 0;
	auto add = [&](const std::string &name, auto fn, bool manual) {
		if (!std::regex_search(name, filter))
			return;
		auto *b = benchmark::RegisterBenchmark(name.c_str(), fn);
		b->Unit(benchmark::kNanosecond);
		// Kernel-timed rows take the module's time; the others the wall clock (Google Benchmark would
		// otherwise divide their bytes and items by the process's CPU time).
		if (manual)
			b->UseManualTime();
		else
			b->UseRealTime();
		++n;
	};
	// Every user-memory method of the module's table (INFO), the raw copy once per arch mode.
	struct M {
		uint32_t method, mode;
		std::string name;
	};
	std::vector<M> methods;
	for (uint32_t m = 0; m < info.nr_methods; ++m) {
		const auto &d = info.method_desc[m];
		if (d.flags & XUA_METHOD_F_NO_USER)
			continue;
		if (d.flags & XUA_METHOD_F_MODES)
			for (uint32_t mode = 0; mode < info.nr_modes; ++mode)
				methods.push_back({m, mode, std::string(d.name) + "_" + info.modes[mode].name});
		else
			methods.push_back({m, 0, d.name});
	}
	// Latency rows (one ioctl per call) for the methods a driver calls; kernel_raw's difference from
	// copy is the checks copy adds, which the kernel-timed rows show without the syscall's noise.
	auto latency_method = [](const M &m) { return m.method != XUA_METHOD_KERNEL_RAW; };

	const std::vector<uint64_t> sizes = o.quick ? std::vector<uint64_t>{64, 4096, 1 << 20}
						    : std::vector<uint64_t>{8, 64, 512, 4096, 32768, 262144, 1 << 20, 4 << 20};
	const std::vector<uint64_t> small = o.quick ? std::vector<uint64_t>{64} : std::vector<uint64_t>{8, 64, 512, 4096};

	for (uint32_t dir : {XUA_DIR_TO_USER, XUA_DIR_FROM_USER})
		for (auto &m : methods)
			for (auto sz : sizes)
				add("transfer/" + m.name + "/" + dir_name(dir) + "/" + std::to_string(sz),
				    [=](benchmark::State &s) { bm_transfer(s, m.method, m.mode, dir, sz); }, true);
	for (auto sz : sizes)  // the floor of every copy: the same kernel loop with no user memory
		add("baseline/kernel_memcpy/" + std::to_string(sz),
		    [=](benchmark::State &s) { bm_transfer(s, XUA_METHOD_MEMCPY, 0, XUA_DIR_TO_USER, sz); }, true);
	for (uint32_t dir : {XUA_DIR_TO_USER, XUA_DIR_FROM_USER})
		for (auto &m : methods)
			for (auto sz : m.method == XUA_METHOD_COPY ? sizes : small)  // copy: also the mmap rows' rival
				if (latency_method(m))
					add("latency/" + m.name + "/" + dir_name(dir) + "/" + std::to_string(sz),
					    [=](benchmark::State &s) { bm_latency(s, m.method, m.mode, dir, sz); }, false);
	for (auto sz : sizes) {
		add("mmap/produce+read/" + std::to_string(sz), [=](benchmark::State &s) { bm_mmap(s, true, sz); }, false);
		add("mmap/write+consume/" + std::to_string(sz), [=](benchmark::State &s) { bm_mmap(s, false, sz); }, false);
		add("baseline/user_memcpy/" + std::to_string(sz), [=](benchmark::State &s) { bm_user_memcpy(s, sz); }, false);
	}
	add("guard/toggle", bm_toggle, true);
	for (uint64_t words : o.quick ? std::vector<uint64_t>{16} : std::vector<uint64_t>{4, 16, 256}) {
		add("batch/get_user/" + std::to_string(words),
		    [=](benchmark::State &s) { bm_transfer(s, XUA_METHOD_GET_PUT, 0, XUA_DIR_FROM_USER, words * 8); }, true);
		add("batch/user_access/" + std::to_string(words),
		    [=](benchmark::State &s) { bm_transfer(s, XUA_METHOD_USER_ACCESS, 0, XUA_DIR_FROM_USER, words * 8); },
		    true);
	}
	add("baseline/null_ioctl", bm_null_ioctl, false);
	add("baseline/getppid", bm_getppid, false);
	return n;
}

// The pace probe: the same fixed piece of kernel work before and after every benchmark, so that a stretch of
// the run in which the machine ran slower (on a shared host, the emulator's thread got less of a core for a
// while) shows in the probes around the rows it slowed. The work: the module's kernel memcpy of 4 KiB (no user
// memory, kernel-timed), repeated so that one probe lasts about 1.5 ms (256 to 16384 times, chosen once per boot:
// under TCG 1 MiB took 1.8 ms on x86_64 and 0.2 ms on arm64 here, and a short probe is noisy), three times; the
// median, in ns per MiB copied, so that boots which chose another count still compare.
class PaceProbe {
public:
	PaceProbe()
	{
		const double ns_per_mib = measure();
		if (std::isfinite(ns_per_mib) && ns_per_mib > 0)
			iterations_ = std::clamp<uint64_t>(static_cast<uint64_t>(1.5e6 / ns_per_mib * 256) / 256 * 256, 256,
							   16384);
	}
	double measure() const
	{
		double t[3];
		for (double &x : t) {
			int err = 0;
			auto r = dev().transfer(XUA_METHOD_MEMCPY, XUA_DIR_TO_USER, nullptr, 4096, iterations_, 0, &err);
			x = err || r.iterations_done != iterations_
				    ? NAN
				    : static_cast<double>(r.elapsed_ns) * 256.0 / static_cast<double>(iterations_);
		}
		std::sort(std::begin(t), std::end(t));
		return t[1];
	}

private:
	uint64_t iterations_ = 256;  // of 4 KiB: 256 is 1 MiB
};

// JSON to stdout, and a progress line per finished benchmark to the console.
class Reporter : public benchmark::JSONReporter {
public:
	// pace: bracket every benchmark with the pace probe (not under icount, where it would count the same
	// instructions every time).
	Reporter(int total, bool pace) : total_(total), console_("/dev/console")
	{
		if (pace) {
			probe_.emplace();
			pace_ = probe_->measure();
		}
	}
	// Called once per repetition and once for the aggregates: count each benchmark once.
	void ReportRuns(const std::vector<Run> &runs) override
	{
		// The cv aggregate of a counter that is 0 in every repetition (no bookkeeping step, no
		// preemption) is 0/0: Google Benchmark would write NaN, which is not JSON. There is no
		// variation to report: 0.
		std::vector<Run> fixed = runs;
		for (auto &r : fixed)
			if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "cv")
				for (auto &[name, c] : r.counters)
					if (!std::isfinite(c.value))
						c.value = 0;
		// The pace probes on either side of what was just measured; the host leaves a row out when they say
		// the machine ran slow (analyze/results.hpp, kPaceSlowedBy).
		if (probe_ &&
		    std::any_of(fixed.begin(), fixed.end(), [](const Run &r) { return r.run_type == Run::RT_Iteration; })) {
			const double before = pace_;
			pace_ = probe_->measure();
			if (std::isfinite(before) && std::isfinite(pace_))
				for (auto &r : fixed)
					if (r.run_type == Run::RT_Iteration) {
						r.counters[xua::keys::row_pace_before] = before;
						r.counters[xua::keys::row_pace_after] = pace_;
					}
		}
		JSONReporter::ReportRuns(fixed);
		if (runs.empty() || !console_)
			return;
		const auto &name = runs.front().run_name.function_name;
		if (name == last_)
			return;
		last_ = name;
		console_ << "xua-progress " << ++done_ << "/" << total_ << " " << name << std::endl;
	}

private:
	int total_, done_ = 0;
	std::string last_;
	std::ofstream console_;
	std::optional<PaceProbe> probe_;
	double pace_ = NAN;  // the last pace probe, ns per MiB
};

// The first line of a file, or "" when it cannot be read.
std::string first_line(const char *path)
{
	std::ifstream in(path);
	std::string line;
	std::getline(in, line);
	return line;
}

// The kernel command line without the harness's own per-cell xua.* words (they name the cell and its
// protection, which compare expects to differ): what is left is what makes two boots comparable
// (nokaslr, kpti=, clearcpuid=, ...).
std::string comparable_cmdline()
{
	std::istringstream in(first_line("/proc/cmdline"));
	std::string word, out;
	while (in >> word)
		if (word.rfind("xua.", 0) != 0)
			out += (out.empty() ? "" : " ") + word;
	return out;
}

}  // namespace

int main(int argc, char **argv)
{
	Options o;
	std::vector<char *> rest = {argv[0]};
	for (int i = 1; i < argc; ++i) {
		std::string a = argv[i];
		if (a == "--quick")
			o.quick = true, o.min_time = 0.02;
		else if (a.rfind("--xua-filter=", 0) == 0)
			o.filter = a.substr(13);
		else if (a == "--xua-no-pace")
			o.pace = false;
		else if (a.rfind("--xua-min-time=", 0) == 0)
			o.min_time = std::atof(a.c_str() + 15);
		else
			rest.push_back(argv[i]);
	}
	// The minimum time goes in as Google Benchmark's own flag (per-benchmark MinTime() would add
	// "/min_time:..." to every name).
	// Google Benchmark 1.8 and later take the unit with the number ("0.5s"; a bare number is deprecated).
	std::string min_time_flag = "--benchmark_min_time=" + std::to_string(o.min_time) +
				    (XUA_BENCHMARK_MIN_TIME_HAS_UNIT ? "s" : "");
	rest.insert(rest.begin() + 1, min_time_flag.data());
	int rargc = static_cast<int>(rest.size());
	benchmark::Initialize(&rargc, rest.data());
	if (benchmark::ReportUnrecognizedArguments(rargc, rest.data()))
		return 2;

	xua_info info;
	try {
		info = dev().info();
	} catch (const std::exception &e) {
		std::fprintf(stderr, "xuaccess-bench: %s\n", e.what());
		return 1;
	}
	// The context keys are the results schema's (results_schema.hpp); the host adds the run's part.
	namespace keys = xua::keys;
	auto ctx = xua::to_json(info);
	auto add = [](const char *key, const std::string &value) { benchmark::AddCustomContext(key, value); };
	add(keys::benchmark_version, XUA_BENCHMARK_VERSION);
	add(keys::arch, ctx["arch"].get<std::string>());
	add(keys::kernel_release, ctx["kernel_release"].get<std::string>());
	add(keys::module_version, ctx["module_version"].get<std::string>());
	add(keys::guard, ctx["guard"].get<std::string>());
	add(keys::guard_present, ctx["guard_present"].dump());
	add(keys::guard_enabled, ctx["guard_enabled"].dump());
	add(keys::modes, ctx["modes"].dump());
	add(keys::methods, ctx["methods"].dump());
	add(keys::guard_kernel_uses, ctx["guard_kernel_uses"].dump());
	add(keys::guard_software, ctx["guard_software"].dump());
	// The module's clocks and buffers: what its kernel-timed figures are made of.
	add(keys::kbuf, ctx["kbuf"].get<std::string>());
	add(keys::tick_hz, std::to_string(info.tick_hz));
	add(keys::check_ns, std::to_string(info.check_ns));
	add(keys::clocksource, first_line("/sys/devices/system/clocksource/clocksource0/current_clocksource"));
	// What decides whether two cells may be compared beyond the guard itself: the kernel's command line
	// (KASLR, KPTI and friends are set there) and the page-table isolation the kernel chose.
	add(keys::kernel_cmdline, comparable_cmdline());
	add(keys::kpti, first_line("/sys/devices/system/cpu/vulnerabilities/meltdown"));
	for (auto [env, key] : {std::pair{"XUA_PROTECTION", keys::protection_requested}, std::pair{"XUA_CELL", keys::cell}})
		if (const char *v = std::getenv(env))
			add(key, v);

	int total = 0;
	try {
		total = register_all(o, info);
	} catch (const std::regex_error &e) {
		std::fprintf(stderr, "xuaccess-bench: bad --xua-filter '%s': %s\n", o.filter.c_str(), e.what());
		return 2;
	}
	Reporter rep(total, o.pace);
	benchmark::RunSpecifiedBenchmarks(&rep);
	benchmark::Shutdown();
	// Protection integrity over the whole run: no primitive may have left the window open.
	auto violations = dev().info().violations;
	if (violations) {
		std::fprintf(stderr, "xuaccess-bench: %llu primitives left the user-access window open\n",
			     static_cast<unsigned long long>(violations));
		return 3;
	}
	return 0;
}
