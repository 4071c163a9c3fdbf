// host/base/process: child processes reaped and reported, ended by their owner's destructor and with the front
// end itself (even on SIGKILL), a stop signal that ends the wait and the child, run() and run_logged().
#include <csignal>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/process.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

// Waits (bounded, generous) for a process to go; the bound is a hang guard, not a speed assertion.
bool wait_gone(pid_t pid)
{
	return eventually([&] { return process_gone(pid); }, std::chrono::seconds(30));
}

}  // namespace

TEST(Process, ReapsAndReportsTheExit)
{
	Child c({"sh", "-c", "echo hi; exit 3"});
	auto e = c.wait();
	EXPECT_EQ(e.status, 3);
	EXPECT_EQ(e.term_signal, 0);
	EXPECT_TRUE(c.reaped());
	// Signalling a reaped child does nothing (its pid may be another process's by now).
	c.signal(SIGKILL);
	EXPECT_EQ(c.exit()->status, 3);

	Child k({"sleep", "60"});
	auto ke = k.terminate(std::chrono::milliseconds(0));
	EXPECT_EQ(ke.term_signal, SIGKILL);
	EXPECT_EQ(ke.status, 128 + SIGKILL);
	EXPECT_GE(ke.cpu_seconds, 0.0);
}

TEST(Process, DestructorEndsARunningChild)
{
	pid_t pid;
	{
		Child c({"sleep", "60"});
		pid = c.pid();
		ASSERT_FALSE(process_gone(pid));
	}
	EXPECT_TRUE(process_gone(pid)) << "the destructor must kill and reap";
}

TEST(Process, ChildDiesWithTheFrontEndEvenOnSigkill)
{
	// A stand-in front end (a forked copy of this test) starts a child, reports its pid, then is SIGKILLed.
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	pid_t fe = fork();
	ASSERT_GE(fe, 0);
	if (fe == 0) {
		close(p[0]);
		Child c({"sleep", "60"});
		pid_t pid = c.pid();
		[[maybe_unused]] auto n = write(p[1], &pid, sizeof(pid));
		pause();
		_exit(0);
	}
	close(p[1]);
	pid_t child = -1;
	ASSERT_EQ(read(p[0], &child, sizeof(child)), static_cast<ssize_t>(sizeof(child)));
	close(p[0]);
	ASSERT_FALSE(process_gone(child));
	kill(fe, SIGKILL);
	waitpid(fe, nullptr, 0);
	EXPECT_TRUE(wait_gone(child)) << "PR_SET_PDEATHSIG must end the child with its parent";
}

TEST(Process, CannotRunNamesTheProgram)
{
	try {
		Child c({"/nonexistent/xua-no-such-program"});
		FAIL() << "no error";
	} catch (const Error &e) {
		EXPECT_NE(std::string(e.what()).find("/nonexistent/xua-no-such-program"), std::string::npos) << e.what();
	}
	auto r = run({"sh", "-c", "echo out; echo err >&2; exit 4"});
	EXPECT_EQ(r.status, 4);
	EXPECT_NE(r.output.find("out"), std::string::npos);
	EXPECT_NE(r.output.find("err"), std::string::npos);
	EXPECT_THROW(run_checked({"false"}), Error);
}

TEST(Process, AStopSignalEndsTheWaitAndTheChild)
{
	install_signal_handlers();
	TempDir dir("interrupt");
	auto pidfile = dir.path / "pid";
	raise(SIGTERM);  // recorded, not fatal
	ASSERT_EQ(stop_signal(), SIGTERM);
	try {
		run({"sh", "-c", "echo $$ > " + pidfile.string() + "; exec sleep 60"});
		FAIL() << "not interrupted";
	} catch (const Interrupted &e) {
		EXPECT_EQ(e.signal, SIGTERM);
	}
	clear_stop_signal();
	// The shell may not have written its pid before it was killed; when it did, it is gone.
	if (fs::exists(pidfile) && !trim(read_file(pidfile)).empty()) {
		EXPECT_TRUE(process_gone(std::stoi(read_file(pidfile))));
	}
	// The signal arriving while run() waits on a silent child (the usual case: Ctrl-C during a build step).
	Child killer({"sh", "-c", "sleep 0.5; kill -TERM " + std::to_string(getpid())});
	try {
		run({"sleep", "30"});
		FAIL() << "not interrupted while waiting";
	} catch (const Interrupted &e) {
		EXPECT_EQ(e.signal, SIGTERM);
	}
	clear_stop_signal();
	// Positive control: without a stop signal the same wait runs to the end.
	EXPECT_EQ(run({"sh", "-c", "exit 0"}).status, 0);
}

// A long step's output goes to its log; a failure names the step, its exit status and the log's last lines.
TEST(RunLogged, LogAndFailure)
{
	TempDir dir("run-logged");
	auto log = dir.path / "step.log";
	int calls = 0;
	EXPECT_NO_THROW(run_logged({"sh", "-c", "echo fine"}, log, "a short step", [&](double) { ++calls; }));
	EXPECT_EQ(read_file(log), "fine\n");
	EXPECT_EQ(calls, 0) << "no progress line before 30 s";
	try {
		run_logged({"sh", "-c", "echo first; echo broke >&2; exit 3"}, log, "the step", {});
		ADD_FAILURE() << "a failing step did not throw";
	} catch (const Error &e) {
		std::string what = e.what();
		EXPECT_NE(what.find("the step failed (exit 3)"), std::string::npos) << what;
		EXPECT_NE(what.find("first\nbroke"), std::string::npos) << what;
	}
}
