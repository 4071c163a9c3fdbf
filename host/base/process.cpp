#include "base/process.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace xua {
namespace {

std::atomic<int> g_stop_signal{0};

void on_stop_signal(int sig)
{
	int expected = 0;
	g_stop_signal.compare_exchange_strong(expected, sig);
}

int pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

ProcessExit to_exit(int st, const rusage &ru)
{
	ProcessExit e;
	if (WIFEXITED(st)) {
		e.status = WEXITSTATUS(st);
	} else {
		e.term_signal = WTERMSIG(st);
		e.status = 128 + e.term_signal;
	}
	auto tv = [](const timeval &t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
	e.cpu_seconds = tv(ru.ru_utime) + tv(ru.ru_stime);
	return e;
}

}  // namespace

void install_signal_handlers()
{
	struct sigaction sa{};
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;  // no SA_RESTART: blocking reads and waits return EINTR and look at the flag
	for (int sig : {SIGINT, SIGTERM, SIGHUP})
		sigaction(sig, &sa, nullptr);
	std::signal(SIGPIPE, SIG_IGN);
}

int stop_signal()
{
	return g_stop_signal.load();
}

void throw_if_interrupted()
{
	if (int sig = stop_signal())
		throw Interrupted(sig);
}

void clear_stop_signal()
{
	g_stop_signal = 0;
}

void die_with_parent(int sig)
{
	pid_t parent = getppid();
	prctl(PR_SET_PDEATHSIG, sig);
	// The parent may have died before prctl: then we were re-parented and nobody will send the signal.
	if (getppid() != parent)
		_exit(128 + sig);
}

namespace {

// Everything the child needs between fork and exec, prepared before fork: in between only async-signal-safe
// calls. Not copied or moved: argv and envp point into the strings.
struct ExecPlan {
	std::vector<std::string> envs;   // the inherited environment, less what opt.env overrides, plus opt.env
	std::vector<char *> argv, envp;  // null-terminated
	const char *cwd = nullptr, *out_file = nullptr;
	pid_t parent = getpid();

	ExecPlan(const std::vector<std::string> &args, const SpawnOptions &opt)
	{
		for (char **e = environ; *e; ++e) {
			std::string_view kv(*e);
			if (!opt.env.count(std::string(kv.substr(0, kv.find('=')))))
				envs.emplace_back(kv);
		}
		for (const auto &[k, v] : opt.env)
			envs.push_back(k + "=" + v);
		for (const auto &a : args)
			argv.push_back(const_cast<char *>(a.c_str()));
		argv.push_back(nullptr);
		for (auto &e : envs)
			envp.push_back(e.data());
		envp.push_back(nullptr);
		cwd = opt.cwd ? opt.cwd->c_str() : nullptr;
		out_file = opt.out == SpawnOptions::Out::file ? opt.out_file.c_str() : nullptr;
	}
	ExecPlan(const ExecPlan &) = delete;
	ExecPlan &operator=(const ExecPlan &) = delete;
};

// In the child, after a failed step: the stage (1 output file, 2 directory, 3 exec) and errno to the
// exec-error pipe, for the parent's message.
[[noreturn]] void child_failed(int err_pipe, int stage)
{
	int err[2] = {stage, errno};
	[[maybe_unused]] auto n = write(err_pipe, err, sizeof(err));
	_exit(127);
}

// The child's side of fork: its stdin, stdout and stderr, its directory, then exec.
[[noreturn]] void exec_child(const ExecPlan &plan, const SpawnOptions &opt, int out_pipe, int err_pipe)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != plan.parent)  // the front end died before prctl
		_exit(127);
	if (opt.own_process_group)
		setpgid(0, 0);
	// Handlers are reset by exec; an ignored SIGPIPE would not be: give the program the default back.
	::signal(SIGPIPE, SIG_DFL);
	int devnull = open("/dev/null", O_RDWR);
	dup2(devnull, 0);
	int out = -1;
	switch (opt.out) {
	case SpawnOptions::Out::inherit: break;
	case SpawnOptions::Out::pipe: out = out_pipe; break;
	case SpawnOptions::Out::null: out = devnull; break;
	case SpawnOptions::Out::file:
		out = open(plan.out_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out < 0)
			child_failed(err_pipe, 1);
		break;
	}
	if (out >= 0) {
		dup2(out, 1);
		if (opt.stderr_to_out)
			dup2(out, 2);
		else if (opt.out == SpawnOptions::Out::file && opt.stderr_to_pipe)
			dup2(out_pipe, 2);
	}
	if (plan.cwd && chdir(plan.cwd) != 0)
		child_failed(err_pipe, 2);
	execvpe(plan.argv[0], plan.argv.data(), plan.envp.data());
	child_failed(err_pipe, 3);
}

// Reads what a child that could not run its program wrote to the exec-error pipe (exec closes the pipe
// instead); false when the exec succeeded.
bool read_exec_error(int fd, int (&err)[2])
{
	ssize_t n;
	while ((n = read(fd, err, sizeof(err))) < 0 && errno == EINTR) {
	}
	return n == sizeof(err);
}

// What the child could not do, from the stage and errno it reported (read_exec_error).
std::string exec_failure(const int (&err)[2], const std::string &program, const SpawnOptions &opt)
{
	static const char *what[] = {"", "cannot open its output file", "cannot enter", "cannot run"};
	std::string detail = err[0] == 1 ? opt.out_file.string() : err[0] == 2 ? opt.cwd->string() : "";
	return fmt::format("{} {}{}: {}", what[err[0] & 3], err[0] == 3 ? program : detail,
			   err[0] == 3 ? "" : fmt::format(" (for {})", program), std::strerror(err[1]));
}

}  // namespace

Child::Child(const std::vector<std::string> &argv, const SpawnOptions &opt) : group_(opt.own_process_group), grace_(opt.grace)
{
	if (argv.empty())
		fail("internal: Child started with no program");
	const ExecPlan plan(argv, opt);
	int outp[2] = {-1, -1}, errp[2] = {-1, -1};  // output pipe; exec-error pipe (closed by a successful exec)
	const bool want_pipe = opt.out == SpawnOptions::Out::pipe || (opt.out == SpawnOptions::Out::file && opt.stderr_to_pipe);
	if (want_pipe && pipe2(outp, O_CLOEXEC) != 0)
		fail("pipe for {}: {}", argv[0], std::strerror(errno));
	if (pipe2(errp, O_CLOEXEC) != 0)
		fail("pipe for {}: {}", argv[0], std::strerror(errno));

	pid_ = fork();
	if (pid_ < 0) {
		int err = errno;
		for (int fd : {outp[0], outp[1], errp[0], errp[1]})
			if (fd >= 0)
				close(fd);
		fail("fork for {}: {}", argv[0], std::strerror(err));
	}
	if (pid_ == 0)
		exec_child(plan, opt, outp[1], errp[1]);
	close(errp[1]);
	if (outp[1] >= 0)
		close(outp[1]);
	out_ = outp[0];
	pidfd_ = pidfd_open(pid_);
	if (pidfd_ >= 0)
		fcntl(pidfd_, F_SETFD, FD_CLOEXEC);
	int err[2] = {0, 0};
	const bool exec_failed = read_exec_error(errp[0], err);
	close(errp[0]);
	if (exec_failed) {
		// It has exited 127 already: reap it and release what this object holds (no destructor runs for an
		// object whose constructor throws).
		while (!wait_for(std::chrono::seconds(10))) {
		}
		close_output();
		if (pidfd_ >= 0)
			close(pidfd_);
		pidfd_ = -1;
		fail("{}", exec_failure(err, argv[0], opt));
	}
}

Child::Child(Child &&o) noexcept
	: pid_(o.pid_), pidfd_(o.pidfd_), out_(o.out_), group_(o.group_), grace_(o.grace_), exit_(o.exit_)
{
	o.pid_ = -1;
	o.pidfd_ = o.out_ = -1;
}

Child &Child::operator=(Child &&o) noexcept
{
	if (this != &o) {
		release();
		pid_ = o.pid_;
		pidfd_ = o.pidfd_;
		out_ = o.out_;
		group_ = o.group_;
		grace_ = o.grace_;
		exit_ = o.exit_;
		o.pid_ = -1;
		o.pidfd_ = o.out_ = -1;
	}
	return *this;
}

Child::~Child()
{
	release();
}

void Child::release() noexcept
{
	if (pid_ > 0 && !exit_) {
		try {
			terminate(grace_);
		} catch (...) {
		}
	}
	close_output();
	if (pidfd_ >= 0)
		close(pidfd_);
	pidfd_ = -1;
	pid_ = -1;
}

void Child::close_output()
{
	if (out_ >= 0)
		close(out_);
	out_ = -1;
}

std::optional<ProcessExit> Child::poll()
{
	if (exit_ || pid_ <= 0)
		return exit_;
	int st = 0;
	rusage ru{};
	pid_t r;
	while ((r = wait4(pid_, &st, WNOHANG, &ru)) < 0 && errno == EINTR) {
	}
	if (r == pid_)
		exit_ = to_exit(st, ru);
	else if (r < 0)  // ECHILD: cannot happen while we own it; record it rather than signal a stranger later
		exit_ = ProcessExit{.status = -1};
	return exit_;
}

ProcessExit Child::wait()
{
	while (!poll()) {
		throw_if_interrupted();
		if (pidfd_ >= 0) {
			pollfd p{pidfd_, POLLIN, 0};
			::poll(&p, 1, 200);  // EINTR on a signal; the timeout covers a signal just before the call
		} else {
			usleep(20000);  // no pidfd (kernel < 5.3): poll() above reaps
		}
	}
	return *exit_;
}

std::optional<ProcessExit> Child::wait_for(std::chrono::milliseconds timeout)
{
	auto deadline = std::chrono::steady_clock::now() + timeout;
	while (!poll()) {
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
		if (left.count() <= 0)
			return std::nullopt;
		if (pidfd_ >= 0) {
			pollfd p{pidfd_, POLLIN, 0};
			::poll(&p, 1, static_cast<int>(left.count()));
		} else {
			usleep(static_cast<useconds_t>(std::min<long>(left.count(), 20) * 1000));
		}
	}
	return exit_;
}

void Child::signal(int sig)
{
	if (pid_ <= 0 || poll())
		return;  // reaped: the pid is no longer ours to signal
	if (group_)
		kill(-pid_, sig);
	if (pidfd_ >= 0) {
#ifdef SYS_pidfd_send_signal
		if (syscall(SYS_pidfd_send_signal, pidfd_, sig, nullptr, 0) == 0)
			return;
#endif
	}
	kill(pid_, sig);
}

ProcessExit Child::terminate(std::chrono::milliseconds grace)
{
	if (auto e = poll())
		return *e;
	if (grace.count() > 0) {
		signal(SIGTERM);
		if (auto e = wait_for(grace))
			return *e;
	}
	signal(SIGKILL);
	while (!wait_for(std::chrono::milliseconds(1000))) {
		// SIGKILL always ends a process; a child in uninterruptible sleep takes a moment.
	}
	return *exit_;
}

void run_logged(const std::vector<std::string> &argv, const fs::path &log, const std::string &what,
		const std::function<void(double)> &progress, const RunOptions &opt)
{
	SpawnOptions so{.cwd = opt.cwd, .env = opt.env};
	so.out = SpawnOptions::Out::file;
	so.out_file = log;
	so.own_process_group = true;
	so.grace = std::chrono::milliseconds(2000);
	constexpr auto every = std::chrono::seconds(30);
	const auto t0 = std::chrono::steady_clock::now();
	Child c(argv, so);
	std::optional<ProcessExit> ex;
	auto next = t0 + every;
	while (!(ex = c.wait_for(std::chrono::seconds(1)))) {
		throw_if_interrupted();  // the Child's destructor ends the step's process group
		if (progress && std::chrono::steady_clock::now() >= next) {
			next += every;
			progress(seconds_since(t0));
		}
	}
	if (!ex->ok())
		fail("{} failed (exit {}); last lines of {}:\n{}", what, ex->status, log.string(), last_lines(read_file(log), 30));
}

RunResult run(const std::vector<std::string> &argv, const RunOptions &opt)
{
	SpawnOptions so{.cwd = opt.cwd, .env = opt.env};
	so.grace = opt.grace;
	if (opt.stdout_file) {
		so.out = SpawnOptions::Out::file;
		so.out_file = *opt.stdout_file;
		so.stderr_to_out = false;
		so.stderr_to_pipe = opt.capture && opt.merge_stderr;
	} else if (!opt.capture) {
		so.out = SpawnOptions::Out::inherit;
		so.stderr_to_out = false;
	}
	so.stderr_to_out = so.stderr_to_out && opt.merge_stderr && !opt.stdout_file;
	Child child(argv, so);
	RunResult r;
	if (child.output_fd() >= 0) {
		char buf[65536];
		for (;;) {
			// A stop signal that came before the read would not interrupt it: look at the flag, and wake up
			// now and then to look again.
			throw_if_interrupted();
			pollfd p{child.output_fd(), POLLIN, 0};
			if (::poll(&p, 1, 200) <= 0)  // timeout, or EINTR: look at the flag again
				continue;
			ssize_t n = read(child.output_fd(), buf, sizeof(buf));
			if (n > 0) {
				r.output.append(buf, static_cast<size_t>(n));
				continue;
			}
			if (n == 0 || errno != EINTR)
				break;
			throw_if_interrupted();
		}
		child.close_output();
	}
	r.status = child.wait().status;
	return r;
}

std::string run_checked(const std::vector<std::string> &argv, const RunOptions &opt)
{
	auto r = run(argv, opt);
	if (!r.ok())
		fail("command failed (exit {}): {}\n{}", r.status, shell_quote(argv), trim(r.output));
	return r.output;
}

}  // namespace xua
