// xuaccess guest init (PID 1 in the initramfs).
//
// Takes its job from the kernel command line (xua.job=test|bench|shell, xua.cell=NAME, xua.prot=on|off,
// xua.results=TTY, xua.args=...), loads the module, runs the job with its output on the results port
// (a second serial line, byte-exact), appends the kernel log, and powers the guest off.
//
// The results port protocol (records and framed blocks) is defined in protocol.hpp, shared with the host.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <linux/reboot.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "device.hpp"
#include "kernel.hpp"
#include "shared/machine_kind.hpp"
#include "shared/protocol.hpp"

namespace {

FILE *g_results = stdout;

namespace protocol = xua::protocol;

// One record or block of the results protocol, written at once.
void say(const std::string &text)
{
	std::fwrite(text.data(), 1, text.size(), g_results);
	std::fflush(g_results);
}

std::string slurp(const char *path)
{
	std::ifstream in(path);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

std::map<std::string, std::string> parse_cmdline(const std::string &cmdline)
{
	std::map<std::string, std::string> kv;
	std::istringstream in(cmdline);
	std::string word;
	while (in >> word) {
		if (word.rfind("xua.", 0) != 0)
			continue;
		auto eq = word.find('=');
		kv[word.substr(4, eq == std::string::npos ? std::string::npos : eq - 4)] =
			eq == std::string::npos ? "" : word.substr(eq + 1);
	}
	return kv;
}

FILE *open_results(const std::string &tty)
{
	int fd = open(tty.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		std::printf("xuaccess-init: cannot open results port %s: %s; using the console\n", tty.c_str(),
			    std::strerror(errno));
		return stdout;
	}
	termios t{};
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		cfsetospeed(&t, B115200);
		tcsetattr(fd, TCSANOW, &t);
	}
	return fdopen(fd, "w");
}

// What the guest sees of the CPU, independently of the module.
nlohmann::json guest_facts()
{
	utsname u{};
	uname(&u);
	auto cpuinfo = slurp("/proc/cpuinfo");
	nlohmann::json j = {{"uname_release", u.release}, {"uname_machine", u.machine}};
	std::istringstream in(cpuinfo);
	std::string line;
	while (std::getline(in, line)) {
		auto colon = line.find(':');
		if (colon == std::string::npos)
			continue;
		auto key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
		auto val = colon + 2 <= line.size() ? line.substr(colon + 2) : std::string();
		if (key == "flags" || key == "Features") {
			j["cpuinfo_flags"] = val;
			if (key == "flags")  // x86
				j["cpuinfo_smap"] = (" " + val + " ").find(" smap ") != std::string::npos;
		} else if ((key == "model name" || key == "CPU part" || key == "CPU implementer") &&
			   !j.contains("cpuinfo_" + key)) {
			j["cpuinfo_" + key] = val;
		}
	}
	auto log = xua::kernel_log();
	j["dmesg_pan_detected"] = log.find("Privileged Access Never") != std::string::npos;
	j["dmesg_smap_detected"] = log.find("Supervisor Mode Access Prevention") != std::string::npos;
	// What a guest shows of being virtual (CPUID, DMI, device tree): the host's detection of an emulated
	// machine is checked against it.
	auto facts = xua::read_machine_facts();
	auto kind = xua::describe_machine(facts);
	j["machine"] = {{"description", kind.description}, {"evidence", kind.evidence}};
	if (facts.cpuid)
		j["machine"]["cpuid_max_leaf_40000000"] = facts.cpuid->max_leaf;
	return j;
}

// Runs the job with its stdout and stderr on the results port, or its stdout into `stdout_file` when given.
int run_program(const std::vector<std::string> &argv, const std::map<std::string, std::string> &env,
		const char *stdout_file = nullptr)
{
	std::fflush(g_results);
	pid_t pid = fork();
	if (pid == 0) {
		int out = fileno(g_results);
		int file = stdout_file ? open(stdout_file, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
		dup2(file >= 0 ? file : out, 1);
		dup2(out, 2);
		for (auto &[k, v] : env)
			setenv(k.c_str(), v.c_str(), 1);
		std::vector<char *> a;
		for (auto &s : argv)
			a.push_back(const_cast<char *>(s.c_str()));
		a.push_back(nullptr);
		execv(a[0], a.data());
		std::printf("xuaccess-init: cannot exec %s: %s\n", a[0], std::strerror(errno));
		_exit(127);
	}
	int st = 0;
	// PID 1 also reaps orphans: wait until our child is the one that ended.
	for (;;) {
		pid_t w = wait(&st);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::vector<std::string> split_args(const std::string &s)
{
	// xua.args uses ',' between arguments (the kernel command line splits on spaces).
	std::vector<std::string> out;
	std::string cur;
	for (char c : s) {
		if (c == ',') {
			if (!cur.empty())
				out.push_back(cur);
			cur.clear();
		} else {
			cur += c;
		}
	}
	if (!cur.empty())
		out.push_back(cur);
	return out;
}

[[noreturn]] void power_off()
{
	sync();
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	for (;;)
		pause();
}

}  // namespace

int main()
{
	mount("proc", "/proc", "proc", 0, nullptr);
	mount("sysfs", "/sys", "sysfs", 0, nullptr);
	mount("devtmpfs", "/dev", "devtmpfs", 0, nullptr);
	mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777");
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, nullptr);
	setenv("PATH", "/bin", 1);

	auto opt = parse_cmdline(slurp("/proc/cmdline"));
	std::printf("%s cell=%s job=%s\n", std::string(protocol::kStarted).c_str(), opt["cell"].c_str(), opt["job"].c_str());
	std::fflush(stdout);
	if (opt["job"] == "shell") {
		// Interactive debugging on the console: the module is not loaded, do it by hand.
		execl("/bin/busybox", "sh", nullptr);
		power_off();
	}
	g_results = open_results(opt.count("results") ? opt["results"] : "/dev/ttyS1");

	int err = xua::load_module("/lib/xuaccess.ko", opt["modparams"].c_str());
	if (err) {
		say(protocol::record(protocol::kInsmod, "error " + std::to_string(-err) + " " + std::strerror(-err)));
		std::printf("xuaccess-init: insmod /lib/xuaccess.ko failed: %s\n", std::strerror(-err));
	} else {
		say(protocol::record(protocol::kInsmod, "ok"));
		nlohmann::json info;
		try {
			info = xua::to_json(xua::Device().info());
		} catch (const std::exception &e) {
			info = {{"error", e.what()}};
		}
		info["guest"] = guest_facts();
		say(protocol::record(protocol::kInfo, info.dump()));

		std::map<std::string, std::string> env = {{"XUA_PROTECTION", opt["prot"]},
							  {"XUA_CELL", opt["cell"]},
							  {"XUA_MODULE", "/lib/xuaccess.ko"}};
		std::vector<std::string> argv;
		if (opt["job"] == "test")
			argv = {"/bin/xuaccess-tests"};
		else if (opt["job"] == "bench") {
			argv = {"/bin/xuaccess-bench"};
			// Same addresses every run: no ASLR for the measurements.
			std::ofstream("/proc/sys/kernel/randomize_va_space") << "0\n";
		}
		say(protocol::record(protocol::kJobBegin, opt["job"]));
		if (argv.empty()) {
			say("unknown job '" + opt["job"] + "'\n");
			say(protocol::job_end(2));
		} else {
			for (auto &a : split_args(opt["args"]))
				argv.push_back(a);
			// The benchmark JSON goes into a file and then over the port as one framed block; the job's
			// stderr stays live on the port.
			const char *json = opt["job"] == "bench" ? "/tmp/xua-benchmark.json" : nullptr;
			int st = run_program(argv, env, json);
			say(protocol::job_end(st));
			if (json)
				say(protocol::block(protocol::kBenchmarkJson, slurp(json)));
		}
	}
	say(protocol::block(protocol::kDmesg, xua::kernel_log()));
	say(protocol::record(protocol::kDone));
	std::printf("xuaccess-init: done\n");
	std::fflush(stdout);
	power_off();
}
