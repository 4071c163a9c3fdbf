// Child processes: every program the front end starts (QEMU, meson, ninja, apt-get, dpkg-deb, gnuplot, ...)
// is owned by one Child object, which kills and reaps it when it goes out of scope, however that happens
// (return, exception, interruption). Children also die with the front end itself: each sets
// PR_SET_PDEATHSIG(SIGKILL) before exec, so not even SIGKILL of the front end leaves a QEMU behind.
//
// Interruption: SIGINT/SIGTERM (and SIGHUP) only record the signal. Blocking waits in this file notice it
// and throw Interrupted; the destructors on the way out end the children; main() exits 128 + signal.
#pragma once

#include <chrono>
#include <csignal>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "base/util.hpp"

namespace xua {

// Thrown by blocking waits once SIGINT/SIGTERM arrived. Not an Error: nothing catches it on the way to main().
struct Interrupted : std::exception {
	int signal;
	explicit Interrupted(int sig) : signal(sig) {}
	const char *what() const noexcept override { return "interrupted"; }
};

// Installs the SIGINT/SIGTERM/SIGHUP handlers (no SA_RESTART, so blocking calls return EINTR) and ignores
// SIGPIPE (a closed stdout becomes a write error, handled like any other).
void install_signal_handlers();
// The signal that asked the front end to stop, or 0.
int stop_signal();
// Throws Interrupted when a stop signal arrived.
void throw_if_interrupted();
// For tests: forget a recorded stop signal.
void clear_stop_signal();

// Makes this process die with its parent (for plumbing commands run by meson, which is run by the front end).
// Exits at once when the parent is already gone.
void die_with_parent(int sig = SIGKILL);

struct ProcessExit {
	int status = -1;          // exit code, or 128 + signal
	int term_signal = 0;      // the signal that ended it, 0 when it exited
	double cpu_seconds = 0;   // user + system time of the child (and its reaped descendants)
	bool ok() const { return status == 0; }
};

struct SpawnOptions {
	std::optional<fs::path> cwd;
	std::map<std::string, std::string> env;  // added to the inherited environment
	enum class Out { inherit, pipe, file, null };
	Out out = Out::pipe;                     // stdout
	fs::path out_file;                       // with Out::file
	bool stderr_to_out = true;               // stderr goes where stdout goes (else inherited)
	bool stderr_to_pipe = false;             // with Out::file: stderr into the pipe (output_fd) instead
	bool own_process_group = false;          // a group of its own: terminal Ctrl-C reaches only the front end,
	                                         // and kill() ends the child's own children too
	// How long the destructor lets the child end on SIGTERM before SIGKILL (0: SIGKILL at once).
	std::chrono::milliseconds grace{0};
};

// One running (or finished, not yet destroyed) child. Move-only.
class Child {
public:
	// Starts argv[0] (searched in PATH). Throws Error naming the program when it cannot be started.
	Child(const std::vector<std::string> &argv, const SpawnOptions &opt = {});
	Child(Child &&other) noexcept;
	Child &operator=(Child &&other) noexcept;
	Child(const Child &) = delete;
	Child &operator=(const Child &) = delete;
	~Child();  // terminate() unless already reaped; never throws

	pid_t pid() const { return pid_; }
	int output_fd() const { return out_; }  // read end of the stdout pipe (Out::pipe), else -1
	void close_output();
	bool reaped() const { return exit_.has_value(); }
	const std::optional<ProcessExit> &exit() const { return exit_; }

	// Reaps the child if it has ended; never blocks.
	std::optional<ProcessExit> poll();
	// Waits until the child ends. Throws Interrupted on a stop signal (the destructor then ends the child).
	ProcessExit wait();
	// Waits at most `timeout`; nullopt when still running. Not interruptible (used on the way out).
	std::optional<ProcessExit> wait_for(std::chrono::milliseconds timeout);
	// Sends a signal (to the group with own_process_group) unless the child was already reaped: a reaped pid
	// may belong to another process by now.
	void signal(int sig);
	// SIGTERM, up to `grace` to end, then SIGKILL; reaps. Returns the exit.
	ProcessExit terminate(std::chrono::milliseconds grace);

private:
	void release() noexcept;
	pid_t pid_ = -1;
	int pidfd_ = -1;
	int out_ = -1;
	bool group_ = false;
	std::chrono::milliseconds grace_{0};
	std::optional<ProcessExit> exit_;
};

struct RunOptions {
	std::optional<fs::path> cwd;
	std::map<std::string, std::string> env;  // added to the inherited environment
	std::optional<fs::path> stdout_file;     // redirect stdout to this file
	bool capture = true;                     // capture stdout+stderr into Result::output
	bool merge_stderr = true;                // with capture: stderr goes into output too
	std::chrono::milliseconds grace{0};      // SIGTERM grace when interrupted (meson: let it end its tests)
};

struct RunResult {
	int status = -1;  // exit code, or 128+signal
	std::string output;
	bool ok() const { return status == 0; }
};

// Runs argv (no shell), waits for it. Throws Error only when the program cannot be started.
RunResult run(const std::vector<std::string> &argv, const RunOptions &opt = {});
// Runs argv and throws an Error carrying its output when it fails.
std::string run_checked(const std::vector<std::string> &argv, const RunOptions &opt = {});

// Runs a long step (a kernel build, mmdebstrap, ...) with its stdout and stderr in `log`, in its own process
// group, polled once a second so that Ctrl-C ends it at once (the whole group goes); calls `progress` with the
// seconds so far every 30 s when it is set. Throws an Error naming `what` with the log's last 30 lines when
// the step fails.
void run_logged(const std::vector<std::string> &argv, const fs::path &log, const std::string &what,
		const std::function<void(double)> &progress, const RunOptions &opt = {});

}  // namespace xua
