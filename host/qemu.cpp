#include "qemu.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <regex>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace xua {
namespace {

std::atomic<bool> g_stop{false};

std::string replace_all(std::string s, const std::string &from, const std::string &to)
{
	for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
		s.replace(pos, from.size(), to);
	return s;
}

}  // namespace

void request_stop()
{
	g_stop = true;
}

bool stop_requested()
{
	return g_stop;
}

std::vector<std::string> qemu_argv(const GuestRun &g)
{
	const Arch &a = *g.cell->arch;
	std::vector<std::string> append = {"console=" + a.console, "panic=-1", "quiet"};
	append.insert(append.end(), a.append.begin(), a.append.end());
	append.insert(append.end(), g.cmdline.begin(), g.cmdline.end());
	std::string app;
	for (auto &s : append)
		app += (app.empty() ? "" : " ") + s;

	std::vector<std::string> argv = {a.qemu, "-M", a.machine, "-accel", g.accel, "-cpu", g.cell->cpu(),
					 "-smp", "1", "-m", g.memory, "-nodefaults", "-no-reboot", "-nographic",
					 "-serial", "stdio"};
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

}  // namespace

GuestOutcome run_guest(const GuestRun &g)
{
	GuestOutcome out;
	out.argv = qemu_argv(g);
	fs::create_directories(g.console_log.parent_path());
	fs::remove(g.results);
	std::ofstream log(g.console_log, std::ios::trunc | std::ios::binary);
	log << "# " << shell_quote(out.argv) << "\n";

	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0)
		fail("pipe: {}", std::strerror(errno));
	std::vector<char *> cargv;
	for (auto &s : out.argv)
		cargv.push_back(s.data());
	cargv.push_back(nullptr);
	auto t0 = std::chrono::steady_clock::now();
	const auto cpu0 = host_cpu_times();
	pid_t pid = fork();
	if (pid < 0)
		fail("fork: {}", std::strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);  // Ctrl-C on the terminal reaches the front end, which stops QEMU itself
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execvp(cargv[0], cargv.data());
		dprintf(2, "cannot run %s: %s\n", cargv[0], std::strerror(errno));
		_exit(127);
	}
	close(pfd[1]);

	std::string partial;
	auto deadline = t0 + g.timeout;
	bool eof = false;
	while (!eof) {
		if (g_stop) {
			out.interrupted = true;
			break;
		}
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
		if (left.count() <= 0) {
			out.timed_out = true;
			break;
		}
		pollfd p{pfd[0], POLLIN, 0};
		int n = poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 200)));
		if (n < 0 && errno != EINTR)
			fail("poll: {}", std::strerror(errno));
		if (n <= 0)
			continue;
		char buf[8192];
		ssize_t r = read(pfd[0], buf, sizeof(buf));
		if (r <= 0) {
			eof = r == 0 || errno != EINTR;
			continue;
		}
		log.write(buf, r);
		log.flush();
		for (ssize_t i = 0; i < r; ++i) {
			char c = buf[i];
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
	if (!eof) {
		kill(pid, SIGTERM);
		for (int i = 0; i < 20 && waitpid(pid, nullptr, WNOHANG) == 0; ++i)
			usleep(50000);
		kill(pid, SIGKILL);
	}
	close(pfd[0]);
	int st = 0;
	rusage ru{};
	while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
	}
	out.qemu_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	out.seconds = seconds_since(t0);
	if (auto cpu1 = host_cpu_times(); cpu0.total > 0 && cpu1.total > cpu0.total && out.seconds > 0) {
		auto tv = [](const timeval &t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
		double qemu_cpu = tv(ru.ru_utime) + tv(ru.ru_stime);
		out.host_other_cores = std::max(0.0, (cpu1.busy - cpu0.busy) - qemu_cpu) / out.seconds;
		out.host_steal = (cpu1.steal - cpu0.steal) / (cpu1.total - cpu0.total);
	}
	if (out.qemu_status == 127 && out.console.find("cannot run") != std::string::npos)
		fail("{}", trim(out.console));
	return out;
}

std::vector<KernelProblem> kernel_problems(const std::string &console, size_t context)
{
	static const std::vector<std::pair<std::regex, std::string>> sigs = {
		{std::regex(R"(Kernel panic - not syncing)"), "panic"},
		{std::regex(R"(BUG: (unable to handle|kernel NULL|scheduling while|sleeping function|KASAN|soft lockup))"), "oops"},
		{std::regex(R"(Unable to handle kernel )"), "oops"},
		{std::regex(R"(Internal error: Oops)"), "oops"},
		{std::regex(R"(general protection fault)"), "oops"},
		{std::regex(R"(kernel BUG at )"), "BUG"},
		{std::regex(R"((^|\] )BUG: )"), "BUG"},
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
			if (l.find("---[ end") != std::string::npos) {
				++j;
				break;
			}
		}
		found.push_back(std::move(p));
		i = j - 1;
	}
	return found;
}

std::string last_lines(const std::string &text, size_t n)
{
	auto lines = split_lines(text);
	std::string out;
	for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i)
		out += lines[i] + "\n";
	return out;
}

}  // namespace xua
