#include "run/qemu.hpp"

#include "base/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <regex>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace xua {
namespace {

std::string replace_all(std::string s, const std::string &from, const std::string &to)
{
	for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
		s.replace(pos, from.size(), to);
	return s;
}

}  // namespace

std::vector<std::string> qemu_argv(const GuestRun &g)
{
	const Arch &a = *g.cell->arch;
	std::vector<std::string> append = {"console=" + a.console, "panic=-1", "quiet"};
	append.insert(append.end(), a.append.begin(), a.append.end());
	if (auto it = a.protection_append.find(g.cell->protection); it != a.protection_append.end())
		append.insert(append.end(), it->second.begin(), it->second.end());
	append.insert(append.end(), g.cmdline.begin(), g.cmdline.end());
	std::string app;
	for (auto &s : append)
		app += (app.empty() ? "" : " ") + s;

	std::vector<std::string> argv = {a.qemu, "-M", g.cell->machine(g.accel), "-accel", g.accel, "-cpu", g.cell->cpu(g.accel),
					 "-smp", "1", "-m", g.memory, "-nodefaults", "-no-reboot", "-nographic",
					 "-serial", "stdio"};
	if (g.icount)
		argv.insert(argv.end(), {"-icount", "shift=0,sleep=off"});
	for (auto &r : a.results_qemu)
		argv.push_back(replace_all(r, "{path}", g.results.string()));
	argv.insert(argv.end(), {"-kernel", g.boot_image.string(), "-initrd", g.initramfs.string(), "-append", app});
	return argv;
}

namespace {

// The host's CPU time so far from /proc/stat, in seconds summed over all CPUs.
struct CpuTimes {
	double busy = 0, steal = 0, total = 0;
};

CpuTimes host_cpu_times()
{
	CpuTimes t;
	std::ifstream in("/proc/stat");
	std::string cpu;
	double v[8] = {};  // user nice system idle iowait irq softirq steal
	if (!(in >> cpu) || cpu != "cpu")
		return t;
	for (double &x : v)
		in >> x;
	const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
	for (double x : v)
		t.total += x / hz;
	t.steal = v[7] / hz;
	t.busy = t.total - (v[3] + v[4]) / hz - t.steal;
	return t;
}

using TimePoint = std::chrono::steady_clock::time_point;

// The console log, its first line the QEMU command line.
std::ofstream open_console_log(const fs::path &file, const std::vector<std::string> &argv)
{
	std::ofstream log(file, std::ios::trunc | std::ios::binary);
	log << "# " << shell_quote(argv) << "\n";
	if (!log)
		fail("cannot write {}: {}", file.string(), std::strerror(errno));
	return log;
}

// Why the guest is to be ended now (the hard timeout, or the inactivity watchdog); "" while neither applies.
std::string watchdog(const GuestRun &g, TimePoint now, TimePoint deadline, TimePoint last_output)
{
	if (now >= deadline)
		return fmt::format("timed out after {} s", g.timeout.count());
	if (g.inactivity.count() > 0 && now >= last_output + g.inactivity)
		return fmt::format("no console output for {} s (inactivity watchdog)", g.inactivity.count());
	return {};
}

// Adds a chunk of QEMU's output to the console (CRs dropped) and hands each complete line to g.on_line; the
// line with the guest init's marker dates its first output.
void take_console(const GuestRun &g, TimePoint t0, std::string_view chunk, std::string &partial, GuestOutcome &out)
{
	for (char c : chunk) {
		if (c == '\r')
			continue;
		out.console += c;
		if (c != '\n') {
			partial += c;
			continue;
		}
		if (out.first_output < 0 && partial.find(g.first_line_marker) != std::string::npos)
			out.first_output = seconds_since(t0);
		if (g.on_line)
			g.on_line(partial);
		partial.clear();
	}
}

// Reads QEMU's console (fd) into the log and `out` until QEMU closes it or a watchdog ends the guest.
void follow_console(const GuestRun &g, int fd, std::ofstream &log, TimePoint t0, GuestOutcome &out)
{
	std::string partial;
	const auto deadline = t0 + g.timeout;
	auto last_output = t0;
	std::uintmax_t results_size = 0;
	for (bool eof = false; !eof;) {
		throw_if_interrupted();  // Child's destructor ends QEMU on the way out
		const auto now = std::chrono::steady_clock::now();
		if (auto why = watchdog(g, now, deadline, last_output); !why.empty()) {
			out.timed_out = true;
			out.timeout_reason = why;
			break;
		}
		// A guest writing its results port is busy, not stuck, even when its console is silent (under KVM
		// nested in an emulated machine the port moves about 250 bytes a second).
		if (std::error_code ec; g.inactivity.count() > 0 && !g.results.empty()) {
			auto size = fs::file_size(g.results, ec);
			if (!ec && size > results_size) {
				results_size = size;
				last_output = now;
			}
		}
		pollfd p{fd, POLLIN, 0};
		int n = poll(&p, 1, 200);
		if (n < 0 && errno != EINTR)
			fail("poll on QEMU's console: {}", std::strerror(errno));
		if (n <= 0)
			continue;
		char buf[8192];
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			eof = true;
			continue;
		}
		last_output = std::chrono::steady_clock::now();
		log.write(buf, r);
		log.flush();
		take_console(g, t0, std::string_view(buf, static_cast<size_t>(r)), partial, out);
	}
}

}  // namespace

GuestOutcome run_guest(const GuestRun &g)
{
	GuestOutcome out;
	out.argv = g.argv.empty() ? qemu_argv(g) : g.argv;
	fs::create_directories(g.console_log.parent_path());
	fs::remove(g.results);
	std::ofstream log = open_console_log(g.console_log, out.argv);

	auto t0 = std::chrono::steady_clock::now();
	const auto cpu0 = host_cpu_times();
	// A process group of its own: Ctrl-C on the terminal reaches the front end, which ends QEMU itself.
	Child qemu(out.argv, {.out = SpawnOptions::Out::pipe, .own_process_group = true});
	follow_console(g, qemu.output_fd(), log, t0, out);
	qemu.close_output();
	// After EOF QEMU is exiting on its own; otherwise end it (a short grace lets it flush the results file).
	auto ex = out.timed_out ? qemu.terminate(std::chrono::milliseconds(1000)) : qemu.wait();
	out.qemu_status = ex.status;
	out.qemu_cpu_seconds = ex.cpu_seconds;
	out.seconds = seconds_since(t0);
	if (auto cpu1 = host_cpu_times(); cpu0.total > 0 && cpu1.total > cpu0.total && out.seconds > 0) {
		out.host_other_cores = std::max(0.0, (cpu1.busy - cpu0.busy) - ex.cpu_seconds) / out.seconds;
		out.host_steal = (cpu1.steal - cpu0.steal) / (cpu1.total - cpu0.total);
	}
	return out;
}

std::vector<KernelProblem> kernel_problems(const std::string &console, size_t context)
{
	// First match wins: the debug kernels' reports (lockdep, KASAN, UBSAN, KFENCE, sleep in atomic, hung
	// task) before the generic BUG/WARNING lines they would otherwise fall under.
	static const std::vector<std::pair<std::regex, std::string>> sigs = {
		{std::regex(R"(Kernel panic - not syncing)"), "panic"},
		{std::regex(R"(BUG: KASAN: )"), "KASAN"},
		{std::regex(R"(BUG: KFENCE: )"), "KFENCE"},
		{std::regex(R"((^|\] |>)UBSAN: )"), "UBSAN"},
		{std::regex(R"(WARNING: (possible (circular|recursive) locking|inconsistent lock state|bad unlock balance|)"
			    R"(held lock freed|lock held when returning|suspicious RCU usage|possible irq lock inversion|)"
			    R"(\S+-safe -> \S+-unsafe lock order)|BUG: (held lock freed|bad unlock balance))"),
		 "lockdep"},
		{std::regex(R"(BUG: sleeping function called from invalid context)"), "sleep in atomic"},
		{std::regex(R"(INFO: task \S+:\d+ blocked for more than \d+ seconds)"), "hung task"},
		{std::regex(R"(BUG: (unable to handle|kernel NULL|scheduling while|sleeping function|KASAN|soft lockup))"), "oops"},
		{std::regex(R"(Unable to handle kernel )"), "oops"},
		{std::regex(R"(Internal error: Oops)"), "oops"},
		{std::regex(R"(general protection fault)"), "oops"},
		{std::regex(R"(kernel BUG at )"), "BUG"},
		{std::regex(R"((^|\] |>)BUG: )"), "BUG"},
		{std::regex(R"(WARNING: CPU: \d+ PID: \d+ at )"), "WARNING"},
		{std::regex(R"(Out of memory: Killed process)"), "OOM kill"},
	};
	auto kind_of = [&](const std::string &line) -> std::string {
		for (auto &[re, kind] : sigs)
			if (std::regex_search(line, re))
				return kind;
		return {};
	};
	auto lines = split_lines(console);
	std::vector<KernelProblem> found;
	for (size_t i = 0; i < lines.size(); ++i) {
		auto kind = kind_of(lines[i]);
		if (kind.empty())
			continue;
		// The report runs to its end marker, the guest init's next line, or the start of another report
		// (a WARN or panic after an oops, an oops after an OOM kill, a second oops). Only arm64's
		// "Internal error: Oops", which follows its "Unable to handle kernel ...", stays in an oops report.
		static const std::regex oops_body(R"(Internal error: Oops)");
		KernelProblem p{kind, lines[i] + "\n"};
		size_t j = i + 1;
		for (; j < lines.size() && j < i + context; ++j) {
			const auto &l = lines[j];
			auto k = kind_of(l);
			bool continues = kind == "oops" && std::regex_search(l, oops_body);
			if (l.find("xuaccess-init:") != std::string::npos || (!k.empty() && !continues))
				break;
			p.text += l + "\n";
			// WARN/BUG end with "---[ end trace"; KASAN, UBSAN and KFENCE reports close with a line of '='.
			static const std::regex rule(R"((^|\] )={20,}\s*$)");
			if (l.find("---[ end") != std::string::npos || std::regex_search(l, rule)) {
				++j;
				break;
			}
		}
		found.push_back(std::move(p));
		i = j - 1;
	}
	return found;
}

}  // namespace xua
