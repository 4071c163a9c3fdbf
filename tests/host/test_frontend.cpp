// Host unit tests of the front end's machinery: child processes, the guest protocol, the judgement of a
// cell, atomic writes, shell quoting, benchmark names, the boot merge and the bench arguments.
#include <cerrno>
#include <csignal>
#include <fstream>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "analyze/compare.hpp"
#include "analyze/names.hpp"
#include "analyze/results.hpp"
#include "cmd/bench.hpp"
#include "run/boots.hpp"
#include "report/report.hpp"
#include "report/tap.hpp"
#include "shared/protocol.hpp"
#include "run/judge.hpp"
#include "base/process.hpp"

using namespace xua;

namespace {

fs::path temp_dir(const std::string &name)
{
	auto d = fs::temp_directory_path() / fmt::format("xua-{}-{}", name, getpid());
	fs::remove_all(d);
	fs::create_directories(d);
	return d;
}

// Gone: no such process, or a zombie nobody reaped yet (its parent died; the container's init may not reap).
bool process_gone(pid_t pid)
{
	if (kill(pid, 0) != 0)
		return errno == ESRCH;
	std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
	std::string pid_s, comm, state;
	stat >> pid_s >> comm >> state;
	return state == "Z" || state == "X";
}

// Waits (bounded, generous) for a process to go; the bound is a hang guard, not a speed assertion.
bool wait_gone(pid_t pid)
{
	for (int i = 0; i < 600; ++i) {
		if (process_gone(pid))
			return true;
		usleep(50000);
	}
	return false;
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
	auto dir = temp_dir("interrupt");
	auto pidfile = dir / "pid";
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
	fs::remove_all(dir);
}

TEST(Protocol, RecordsAndBlocksRoundTrip)
{
	std::string json = "{\n  \"benchmarks\": []\n}\n";
	std::string port = protocol::record(protocol::kInsmod, "ok") + protocol::record(protocol::kInfo, "{\"a\":1}") +
			   protocol::record(protocol::kJobBegin, "bench") + "stderr line\n" +
			   protocol::record(protocol::kJobExit, "0") + protocol::block(protocol::kBenchmarkJson, json) +
			   protocol::block(protocol::kDmesg, "[ 1.0] x\n[ 2.0] y") + protocol::record(protocol::kDone);
	auto r = protocol::parse(port);
	EXPECT_TRUE(r.insmod_ok);
	EXPECT_EQ(r.info, "{\"a\":1}");
	EXPECT_EQ(r.job, "bench");
	ASSERT_EQ(r.job_output.size(), 1u);
	EXPECT_EQ(r.job_exit, 0);
	ASSERT_TRUE(r.blocks.count("benchmark-json"));
	EXPECT_TRUE(r.blocks["benchmark-json"].complete);
	EXPECT_EQ(r.blocks["benchmark-json"].content, json) << "byte-exact, a line that is only '{' or '}' included";
	EXPECT_EQ(r.blocks["dmesg"].content, "[ 1.0] x\n[ 2.0] y");
	EXPECT_TRUE(r.done);
	EXPECT_TRUE(r.problems.empty());

	// Through a console (\r\n) with printk lines around the records: the same.
	std::string noisy;
	for (char c : "[ 0.5] random: crng init done\n" + port + "[ 9.9] reboot: Power down\n")
		noisy += c == '\n' ? std::string("\r\n") : std::string(1, c);
	auto n = protocol::parse(noisy);
	EXPECT_TRUE(n.done);
	EXPECT_TRUE(n.blocks["benchmark-json"].complete);
	EXPECT_EQ(n.blocks["benchmark-json"].content, json);
}

// A job whose last output line has no newline (Google Benchmark 1.9 logs "-- LOG(0): ..." without one): the
// exit record still stands on a line of its own, and the output keeps its lines.
TEST(Protocol, JobOutputWithoutAFinalNewline)
{
	for (std::string out : {"-- LOG(0): Value passed to --benchmark_min_time should have a suffix.", "done\n", ""}) {
		auto port = protocol::record(protocol::kJobBegin, "bench") + out + protocol::job_end(0) +
			    protocol::record(protocol::kDone);
		auto r = protocol::parse(port);
		EXPECT_EQ(r.job_exit, 0) << out;
		auto want = out.empty() ? std::vector<std::string>{} : std::vector<std::string>{out.substr(0, out.find('\n'))};
		EXPECT_EQ(r.job_output, want) << out;
	}
	// The fault this guards against: the record glued to the end of an unfinished line is not seen.
	auto glued = protocol::record(protocol::kJobBegin, "bench") + "-- LOG(0): x" +
		     protocol::record(protocol::kJobExit, "0") + protocol::record(protocol::kDone);
	EXPECT_EQ(protocol::parse(glued).job_exit, -1);
}

TEST(Protocol, TruncatedAndInterleavedBlocksAreRecognised)
{
	std::string json = "{\"benchmarks\": [1, 2, 3]}";
	auto full = protocol::block(protocol::kBenchmarkJson, json);
	auto cut = protocol::parse(full.substr(0, full.size() - 30));
	EXPECT_FALSE(cut.blocks["benchmark-json"].complete);
	EXPECT_NE(cut.blocks["benchmark-json"].problem.find("truncated"), std::string::npos);
	EXPECT_FALSE(cut.done);

	// A printk line inside the payload: the length no longer matches, and the parser says so.
	auto pos = full.find("[1, 2");
	auto mixed = full.substr(0, pos) + "\n[ 3.1] xuaccess: hello\n" + full.substr(pos) + "xua-done\n";
	auto m = protocol::parse(mixed);
	EXPECT_FALSE(m.blocks["benchmark-json"].complete);
	EXPECT_NE(m.blocks["benchmark-json"].problem.find("announced"), std::string::npos)
		<< m.blocks["benchmark-json"].problem;
	EXPECT_TRUE(m.done) << "parsing goes on after the damaged block";

	auto bad = protocol::parse("xua-block-begin dmesg lots\nxua-done\n");
	EXPECT_FALSE(bad.problems.empty());
	EXPECT_TRUE(bad.done);
}

namespace {

const char *kSmapOops = "[ 12.3] BUG: unable to handle page fault for address: 00007ffd1234abcd\n"
			"[ 12.3] #PF: error_code(0x0003) - permissions violation\n"
			"[ 12.3] ---[ end trace 0000000000000000 ]---\n";

const std::string kInfoOn = R"({"guard":"SMAP","guard_present":true,"guard_enabled":true,"window_open":false,)"
			    R"("guest":{"cpuinfo_smap":true}})";

struct Outcome {
	std::string job = "test";
	std::string console = "xuaccess-init: started cell=x job=test\n";
	std::string insmod = "ok";
	std::string info = kInfoOn;
	std::string job_output = "ok 1 - A.b\n1..1\n";
	std::string exit = "0";
	std::string extra_blocks;
	bool done = true, booted = true, timed_out = false;

	CellOutcome make() const
	{
		static const auto cells = Matrix::get().select({"x86_64"}, {"6.1"}, {"on"});
		CellOutcome o{cells.at(0), "tcg", {}, job, {}, {}, {}, "/tmp/xua-judge"};
		o.guest.first_output = booted ? 1.5 : -1;
		o.guest.seconds = 9;
		o.guest.timed_out = timed_out;
		o.guest.timeout_reason = timed_out ? "no console output for 120 s (inactivity watchdog)" : "";
		o.guest.console = console;
		std::string port = protocol::record(protocol::kInsmod, insmod);
		if (insmod == "ok")
			port += protocol::record(protocol::kInfo, info) + protocol::record(protocol::kJobBegin, job) + job_output +
				(exit.empty() ? "" : protocol::record(protocol::kJobExit, exit)) + extra_blocks;
		if (done)
			port += protocol::block(protocol::kDmesg, "") + protocol::record(protocol::kDone);
		o.report = parse_results(booted ? port : "");
		o.problems = merge_problems(o.guest.console, o.report.dmesg());
		return o;
	}
};

Failure judged(const Outcome &x)
{
	return judge(x.make()).primary();
}

}  // namespace

TEST(Judge, EachOutcomeHasOneDecision)
{
	Outcome healthy;
	auto v = judge(healthy.make());
	EXPECT_TRUE(v.ok()) << v.reason();
	EXPECT_EQ(v.primary(), Failure::none);

	// An announced oops with the guard's signature is a pass; the same oops unannounced is not.
	Outcome announced;
	announced.job_output = "# xua-expected-oops SMAP\nok 1 - Seed.Bug\n1..1\n";
	announced.console += kSmapOops;
	EXPECT_EQ(judged(announced), Failure::none);
	Outcome unannounced;
	unannounced.console += kSmapOops;
	EXPECT_EQ(judged(unannounced), Failure::unexpected_oops);
	Outcome missing_oops;
	missing_oops.job_output = announced.job_output;
	EXPECT_EQ(judged(missing_oops), Failure::announced_missing);

	Outcome oom;
	oom.console += "[ 5.0] Out of memory: Killed process 79 (xuaccess-tests) total-vm:317456kB\n";
	EXPECT_EQ(judged(oom), Failure::oom_kill);

	Outcome panic;
	panic.console += "[ 5.0] Kernel panic - not syncing: Fatal exception\n";
	panic.exit = "";
	panic.done = false;
	EXPECT_EQ(judged(panic), Failure::panic) << "the panic explains the missing job exit";

	Outcome timeout;
	timeout.timed_out = true;
	timeout.job_output = "ok 1 - A.b\n";
	timeout.exit = "";
	timeout.done = false;
	auto tv = judge(timeout.make());
	EXPECT_EQ(tv.primary(), Failure::timeout);
	EXPECT_NE(tv.reason().find("inactivity watchdog"), std::string::npos) << tv.reason();

	Outcome no_boot;
	no_boot.booted = false;
	EXPECT_EQ(judged(no_boot), Failure::no_boot);

	Outcome insmod;
	insmod.insmod = "error 8 Exec format error";
	auto iv = judge(insmod.make());
	EXPECT_EQ(iv.primary(), Failure::insmod);
	EXPECT_NE(iv.reason().find("Exec format error"), std::string::npos);

	Outcome mismatch;
	mismatch.info = R"({"guard":"SMAP","guard_present":true,"guard_enabled":false,"window_open":false})";
	EXPECT_EQ(judged(mismatch), Failure::protection);

	Outcome missing_cases;
	missing_cases.job_output = "ok 1 - A.b\n1..3\n";
	EXPECT_EQ(judged(missing_cases), Failure::missing_cases);

	Outcome failed_case;
	failed_case.job_output = "not ok 1 - A.b\n1..1\n";
	failed_case.exit = "1";
	EXPECT_EQ(judged(failed_case), Failure::job_failed);

	Outcome not_done;
	not_done.done = false;
	EXPECT_EQ(judged(not_done), Failure::not_done);
}

TEST(Judge, TapShowsEveryCheckWithTheGuestsComments)
{
	Outcome failed_case;
	failed_case.job_output = "# a guest comment\nok 1 - A.b\nnot ok 2 - A.c\nok 3 - A.d # SKIP not here\n1..3\n";
	failed_case.exit = "1";
	auto o = failed_case.make();
	auto v = judge(o);
	std::FILE *f = std::tmpfile();
	ASSERT_NE(f, nullptr);
	EXPECT_EQ(print_tap(o, v, f), 2) << "the failed case and the job check";
	std::rewind(f);
	std::string tap;
	for (int ch; (ch = std::fgetc(f)) != EOF;)
		tap += static_cast<char>(ch);
	std::fclose(f);
	EXPECT_NE(tap.find("# a guest comment\nok 4 - x86_64-6.1-on: A.b\n"), std::string::npos) << tap;
	EXPECT_NE(tap.find("not ok 5 - x86_64-6.1-on: A.c\n"), std::string::npos) << tap;
	EXPECT_NE(tap.find("ok 6 - x86_64-6.1-on: A.d # SKIP not here\n"), std::string::npos) << tap;
	EXPECT_NE(tap.find("not ok 7 - x86_64-6.1-on: guest job completed (exit 1, 3 of 3 cases reported)"),
		  std::string::npos) << tap;
	EXPECT_NE(tap.find("\n1..9\n"), std::string::npos) << tap;
	EXPECT_EQ(tap.rfind("# x86_64-6.1-on: kernel", 0), 0u) << "the cell's description heads the stream";
}

// Each guest case's time (tests/guest/tap_main.cpp) goes into its name, and the cell's last comment sums them.
TEST(Judge, CaseTimesAreShownAndSummed)
{
	Outcome timed;
	timed.job_output = "ok 1 - A.b\n# time 1500 ms A.b\nok 2 - A.c # SKIP not here\n# time 0 ms A.c\n"
			   "ok 3 - A.d\n# time 250 ms A.d\n1..3\n";
	auto v = judge(timed.make());
	EXPECT_TRUE(v.ok()) << v.reason();
	std::vector<std::string> names;
	for (auto &c : v.checks)
		names.push_back(c.what);
	EXPECT_NE(std::ranges::find(names, "x86_64-6.1-on: A.b (1.5 s)"), names.end()) << fmt::format("{}", fmt::join(names, "\n"));
	EXPECT_NE(std::ranges::find(names, "x86_64-6.1-on: A.c # SKIP not here"), names.end());
	EXPECT_NE(std::ranges::find(names, "x86_64-6.1-on: A.d (0.2 s)"), names.end());
	for (auto &c : v.checks)
		for (auto &l : c.comments)
			EXPECT_EQ(l.find("time "), std::string::npos) << "a time line left as a comment: " << l;
	ASSERT_FALSE(v.trailing_comments.empty());
	EXPECT_EQ(v.trailing_comments.back(), "time: boot to init 1.5 s, 3 cases 1.8 s (slowest: A.b 1.5 s, A.d 0.2 s, "
					      "A.c 0.0 s), powered off at 9.0 s");
}

TEST(Judge, BenchNeedsItsJsonIntact)
{
	Outcome bench;
	bench.job = "bench";
	bench.job_output = "";
	EXPECT_EQ(judged(bench), Failure::no_results) << "no benchmark-json block";
	bench.extra_blocks = protocol::block(protocol::kBenchmarkJson, R"({"context": {}, "benchmarks": []})");
	EXPECT_EQ(judged(bench), Failure::none);
	bench.extra_blocks = protocol::block(protocol::kBenchmarkJson, R"({"context": {}, "bench)");
	EXPECT_EQ(judged(bench), Failure::no_results) << "does not parse";
	auto good = protocol::block(protocol::kBenchmarkJson, R"({"context": {}, "benchmarks": []})");
	bench.extra_blocks = good.substr(0, good.size() - 25);
	bench.done = false;
	EXPECT_EQ(judged(bench), Failure::no_results) << "truncated";
}

TEST(AtomicWrite, ReplacesWholeAndLeavesNoTemporaries)
{
	auto dir = temp_dir("write");
	auto f = dir / "cell.json";
	write_file(f, "old\n");
	write_file(f, "new content\n");
	EXPECT_EQ(read_file(f), "new content\n");
	int entries = 0;
	for ([[maybe_unused]] auto &e : fs::directory_iterator(dir))
		++entries;
	EXPECT_EQ(entries, 1) << "a temporary file was left behind";

	// A failed write names the file and leaves the old content alone.
	write_file(dir / "blocker", "a file, not a directory\n");
	try {
		write_file(dir / "blocker" / "x.json", "data");
		FAIL() << "no error";
	} catch (const std::exception &e) {
		EXPECT_NE(std::string(e.what()).find("blocker"), std::string::npos) << e.what();
	}
	if (geteuid() != 0) {  // root writes into read-only directories anyway
		fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
		EXPECT_THROW(write_file(f, "lost"), Error);
		fs::permissions(dir, fs::perms::owner_all);
		EXPECT_EQ(read_file(f), "new content\n");
	}
	fs::remove_all(dir);
}

TEST(ShellQuote, TheShellReadsBackEveryArgument)
{
	std::vector<std::string> args = {"plain", "a b", "it's", "|;&*?()<>~#", "$HOME", "`x`", "back\\slash",
					 "new\nline", "", "-append", "console=ttyS0 xua.args=--a,--b", "!x", "{a,b}", "tab\there"};
	auto line = shell_quote(args);
	EXPECT_EQ(shell_quote({"qemu-system-x86_64", "-m", "512M", "file:/a/b.txt"}), "qemu-system-x86_64 -m 512M file:/a/b.txt");
	auto r = run({"sh", "-c", "for a in " + line + "; do printf '%s\\0' \"$a\"; done"});
	ASSERT_TRUE(r.ok()) << r.output;
	std::vector<std::string> back;
	for (size_t pos = 0, nul; (nul = r.output.find('\0', pos)) != std::string::npos; pos = nul + 1)
		back.push_back(r.output.substr(pos, nul - pos));
	EXPECT_EQ(back, args);
}

TEST(Names, ParsedInOnePlace)
{
	auto t = parse_bench_name("transfer/copy/to_user/4096/manual_time");
	EXPECT_EQ(t.name, "transfer/copy/to_user/4096");
	EXPECT_EQ(t.family, "transfer");
	EXPECT_EQ(t.method, "copy");
	EXPECT_EQ(t.direction, "to_user");
	EXPECT_EQ(t.size, 4096u);
	EXPECT_EQ(t.stem, "transfer/copy/to_user");
	auto g = parse_bench_name("guard/toggle/manual_time");
	EXPECT_EQ(g.family, "guard");
	EXPECT_FALSE(g.size);
	EXPECT_EQ(g.stem, "guard/toggle");
	auto b = parse_bench_name("baseline/getppid");
	EXPECT_EQ(b.method, "getppid");
	EXPECT_EQ(row_kind(b, false).unit, "ns");
	EXPECT_EQ(row_kind(t, true).unit, "MiB/s");
	EXPECT_EQ(row_kind(parse_bench_name("batch/user_access/16"), false).unit, "ns/item");
	EXPECT_EQ(parse_bench_name("mmap/produce+read/4096/real_time").name, "mmap/produce+read/4096");
	EXPECT_EQ(row_kind(parse_bench_name("latency/copy/to_user/64"), true).unit, "ns") << "latency is per call";
}

TEST(Bench, ArgumentsAreCheckedAndBootsMerge)
{
	BenchOptions o;
	auto a = bench_args(o);
	EXPECT_EQ(a, (std::vector<std::string>{"--benchmark_repetitions=1", "--xua-min-time=0.05"}));
	o.quick = true;
	o.filter = "^transfer/copy|guard";
	EXPECT_EQ(bench_args(o),
		  (std::vector<std::string>{"--benchmark_repetitions=1", "--quick", "--xua-filter=^transfer/copy|guard"}));
	o.filter = "a,b";
	EXPECT_THROW(bench_args(o), Error);
	o.filter = "a b";
	EXPECT_THROW(bench_args(o), Error);
	o.filter = "";
	o.clock = "wall";
	EXPECT_THROW(bench_args(o), Error);
	auto round = bench_options_from_json(to_json(BenchOptions{.filter = "x", .boots = 3, .clock = "icount", .seed = 42}));
	EXPECT_EQ(round.filter, "x");
	EXPECT_EQ(round.boots, 3);
	EXPECT_EQ(round.clock, "icount");
	EXPECT_EQ(round.seed, 42u) << "--resume replays the same order";
	EXPECT_EQ(bench_options_from_json(to_json(BenchOptions{.clock = "icount", .jobs = 3})).jobs, 3);
	EXPECT_EQ(bench_jobs(BenchOptions{.clock = "icount"}), usable_cpus()) << "icount boots: one per core";
	EXPECT_EQ(bench_jobs(BenchOptions{.clock = "time"}), 1u) << "time boots: one at a time";
	EXPECT_EQ(bench_jobs(BenchOptions{.clock = "icount", .jobs = 1}), 1u);

	auto boot = [](double t, double load) {
		return nlohmann::json{{"context", {{"xua_host_other_cores", load}}},
				      {"benchmarks",
				       {{{"name", "baseline/getppid"}, {"run_name", "baseline/getppid"}, {"run_type", "iteration"}, {"real_time", t}},
					{{"name", "baseline/getppid_median"}, {"run_name", "baseline/getppid"}, {"run_type", "aggregate"}, {"real_time", t}}}}};
	};
	auto one = merge_boots({boot(100, 0.1)});
	EXPECT_EQ(one["benchmarks"].size(), 2u) << "one boot keeps Google Benchmark's aggregates";
	auto j = merge_boots({boot(100, 0.1), boot(110, 0.5), boot(120, 0.2)});
	ASSERT_EQ(j["benchmarks"].size(), 3u) << "aggregates dropped with several boots";
	EXPECT_EQ(j["benchmarks"][2]["xua_boot"], 2);
	EXPECT_EQ(j["benchmarks"][0]["xua_unit"], "ns");
	auto ic = merge_boots({boot(100, 0.1)}, true);
	EXPECT_EQ(ic["benchmarks"][0]["xua_unit"], "insn") << "the icount clock counts instructions";
	EXPECT_EQ(j["context"]["xua_boots"], 3);
	EXPECT_DOUBLE_EQ(j["context"]["xua_host_other_cores"].get<double>(), 0.5);
	auto cell = parse_cell("x86_64-6.1-on", j);
	EXPECT_EQ(cell.boots, 3);
	EXPECT_DOUBLE_EQ(cell.rows.at("baseline/getppid").median, 110);
}

TEST(Selection, RepeatedValuesCountOnce)
{
	Selection s{{"x86_64", "arm64", "x86_64"}, {"6.1", "6.1"}, {"on"}};
	s.dedupe();
	EXPECT_EQ(s.arches, (std::vector<std::string>{"x86_64", "arm64"}));
	EXPECT_EQ(s.kernels, (std::vector<std::string>{"6.1"}));
	EXPECT_EQ(s.protections, (std::vector<std::string>{"on"}));
}

TEST(Results, CorruptCellIsSkippedWithItsPath)
{
	auto dir = temp_dir("corrupt");
	write_file(dir / "x86_64-6.1-on.json",
		   R"({"context": {"xua_arch": "x86_64", "xua_kernel_series": "6.1", "xua_protection_requested": "on"},
		       "benchmarks": [{"name": "baseline/getppid", "run_type": "iteration", "real_time": 5}]})");
	write_file(dir / "x86_64-6.1-off.json", R"({"context": {}, "benchmarks": [{"name": "base)");
	std::vector<std::string> skipped;
	auto cells = load_results(dir, &skipped);
	ASSERT_EQ(cells.size(), 1u);
	EXPECT_EQ(cells[0].group(), "x86_64-6.1");
	EXPECT_EQ(cells[0].protection(), "on");
	ASSERT_EQ(skipped.size(), 1u);
	EXPECT_NE(skipped[0].find((dir / "x86_64-6.1-off.json").string()), std::string::npos) << skipped[0];
	// The report goes on without it, and says so.
	auto summary = write_report(dir);
	EXPECT_NE(summary.find("WARNING: skipped " + (dir / "x86_64-6.1-off.json").string()), std::string::npos) << summary;
	EXPECT_TRUE(fs::exists(dir / "report.md"));
	fs::remove_all(dir / "plots");
	for (auto f : {"report.md", "summary.txt"})
		fs::remove(dir / f);
	fs::remove(dir / "x86_64-6.1-on.json");
	EXPECT_THROW(load_results(dir, &skipped), Error) << "nothing readable left";
	fs::remove_all(dir);
}

// On and off boots of one arch x kernel alternate round by round, in an order fixed by the seed.
TEST(Bench, ScheduleInterleavesOnAndOffBySeed)
{
	const auto &m = Matrix::get();
	auto cells = m.select({"x86_64", "arm64"}, {"6.1"}, {"on", "off"});
	ASSERT_EQ(cells.size(), 4u);
	auto s1 = schedule(cells, 8, 7), s2 = schedule(cells, 8, 7), s3 = schedule(cells, 8, 8);
	ASSERT_EQ(s1.size(), 32u);
	auto key = [](const std::vector<Slot> &s) {
		std::vector<std::pair<size_t, int>> v;
		for (auto &x : s)
			v.push_back({x.cell, x.boot});
		return v;
	};
	EXPECT_EQ(key(s1), key(s2)) << "same seed, same order";
	EXPECT_NE(key(s1), key(s3)) << "another seed, another order";
	// Each round holds both cells of its arch x kernel once, with the same boot index; across the rounds
	// both orders occur (on first and off first), so neither side always runs first.
	int on_first = 0;
	for (size_t n = 0; n < s1.size(); n += 2) {
		const auto &x = s1[n], &y = s1[n + 1];
		EXPECT_EQ(x.boot, y.boot);
		EXPECT_NE(x.cell, y.cell);
		EXPECT_EQ(cells[x.cell].arch->name, cells[y.cell].arch->name);
		on_first += cells[x.cell].protection == "on";
	}
	EXPECT_GT(on_first, 0);
	EXPECT_LT(on_first, 16);
	std::map<size_t, int> per_cell;
	for (auto &x : s1)
		per_cell[x.cell]++;
	for (auto &[c, n] : per_cell)
		EXPECT_EQ(n, 8) << cells[c].name();
}

// A plot gnuplot warns about or cannot draw costs that plot, not the report (nor a 13-minute bench).
TEST(Report, GnuplotWarningsAndFailuresAreWarnings)
{
	auto dir = temp_dir("gnuplot");
	auto bin = dir / "bin", run_dir = dir / "run";
	fs::create_directories(bin);
	fs::create_directories(run_dir);
	for (auto f : {"x86_64-6.1-off.json", "x86_64-6.1-on.json"})
		fs::copy_file(fs::path(XUACCESS_SOURCE_DIR) / "tests/fixtures/compare/shift" / f, run_dir / f);
	const std::string old_path = getenv("PATH");
	for (std::string behaviour : {"echo 'warning: font not found' >&2; : > \"${1%.gp}.png\"", "echo 'broken' >&2; exit 1"}) {
		write_file(bin / "gnuplot", "#!/bin/sh\n" + behaviour + "\n");
		fs::permissions(bin / "gnuplot", fs::perms::owner_all);
		setenv("PATH", (bin.string() + ":" + old_path).c_str(), 1);
		testing::internal::CaptureStderr();
		std::string summary;
		EXPECT_NO_THROW(summary = write_report(run_dir)) << behaviour;
		auto err = testing::internal::GetCapturedStderr();
		setenv("PATH", old_path.c_str(), 1);
		EXPECT_NE(err.find("xuaccess: warning: gnuplot"), std::string::npos) << err;
		EXPECT_NE(summary.find("x86_64-6.1-on (B) against x86_64-6.1-off (A)"), std::string::npos);
		EXPECT_TRUE(fs::exists(run_dir / "report.md"));
	}
	fs::remove_all(dir);
}

// The guard plot's key says what its `*` marks, as the tables do: q < alpha (Benjamini-Hochberg over the
// comparison's rows), not a bare U-test p. (It used to say "* p < 0.05 (U test)" while marking q < 0.05.)
TEST(Report, GuardPlotMarksWhatTheTablesMark)
{
	auto dir = temp_dir("guardplot");
	auto bin = dir / "bin", run_dir = dir / "run";
	fs::create_directories(bin);
	fs::create_directories(run_dir);
	for (auto f : {"x86_64-6.1-off.json", "x86_64-6.1-on.json"})
		fs::copy_file(fs::path(XUACCESS_SOURCE_DIR) / "tests/fixtures/compare/shift" / f, run_dir / f);
	write_file(bin / "gnuplot", "#!/bin/sh\nfor f; do : > \"${f%.gp}.png\"; done\n");
	fs::permissions(bin / "gnuplot", fs::perms::owner_all);
	const std::string old_path = getenv("PATH");
	setenv("PATH", (bin.string() + ":" + old_path).c_str(), 1);
	std::string summary = write_report(run_dir);
	setenv("PATH", old_path.c_str(), 1);
	EXPECT_NE(summary.find("* = q < 0.05"), std::string::npos) << "the tables mark q";
	int guard_plots = 0;
	for (auto &e : fs::directory_iterator(run_dir / "plots")) {
		if (!e.path().filename().string().starts_with("guard-") || e.path().extension() != ".gp")
			continue;
		++guard_plots;
		auto gp = read_file(e.path());
		EXPECT_NE(gp.find("* q < 0.05"), std::string::npos) << e.path() << " does not say its marks are q < 0.05";
		EXPECT_EQ(gp.find("p < "), std::string::npos) << e.path() << " says its marks are p";
	}
	EXPECT_GT(guard_plots, 0);
	fs::remove_all(dir);
}

// A difference row (guard/toggle) says its unit: instructions under icount, not "ns" (it printed "+0.0 ns").
TEST(Compare, DifferenceRowsSayTheirUnit)
{
	Row a{.name = "guard/toggle", .unit_name = "insn/item", .samples = {4.10}, .median = 4.10};
	Row b{.name = "guard/toggle", .unit_name = "insn/item", .samples = {4.15}, .median = 4.15};
	RowComparison r{.name = "guard/toggle", .a = &a, .b = &b, .difference = true};
	EXPECT_EQ(r.effect_text(), "+0.05 insn");
	r.effect = ShiftEstimate{.estimate = 2.0, .lo = 1.5, .hi = 2.5};
	EXPECT_EQ(r.effect_text(), "+2.00 insn [+1.50, +2.50]");
	a.unit_name = b.unit_name = "ns/item";
	EXPECT_EQ(r.effect_text(), "+2.0 ns [+1.5, +2.5]");
}
