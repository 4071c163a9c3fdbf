// The front end killed in the middle of a bench and of a test run (SIGINT, SIGTERM, SIGKILL): no QEMU may
// be left, the boots that finished are on disk, and `bench --resume` completes the interrupted run.
// Real QEMU guests (x86_64, 6.1): meson suite 'kill', not in the default run (a few minutes). host/cmd/main's
// signal handling and host/base/process's children, seen from outside.
#include <csignal>
#include <fstream>
#include <functional>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/process.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

// Processes whose command line mentions `needle` (QEMU's names the cell directory or the results path).
std::vector<pid_t> processes_mentioning(const std::string &needle)
{
	std::vector<pid_t> out;
	for (auto &e : fs::directory_iterator("/proc")) {
		auto name = e.path().filename().string();
		if (name.find_first_not_of("0123456789") != std::string::npos)
			continue;
		std::ifstream in(e.path() / "cmdline", std::ios::binary);
		std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
		if (cmd.find("qemu-system") == std::string::npos || cmd.find(needle) == std::string::npos)
			continue;
		std::ifstream stat(e.path() / "stat");
		std::string pid, comm, state;
		stat >> pid >> comm >> state;
		if (state != "Z")
			out.push_back(std::stoi(name));
	}
	return out;
}

struct Killed {
	int status;
	bool qemu_left;
};

// Starts the front end, waits until `ready` and a QEMU mentioning `needle` runs, sends `sig`, waits for the
// front end, and reports whether a QEMU mentioning `needle` is left.
Killed kill_during(const std::vector<std::string> &argv, const std::function<bool()> &ready, const std::string &needle,
		   int sig)
{
	Child fe(argv, {.out = SpawnOptions::Out::null});
	bool running = eventually([&] { return fe.poll() || (ready() && !processes_mentioning(needle).empty()); },
				  std::chrono::seconds(600));
	EXPECT_TRUE(running && !fe.poll()) << "the run never got to a running guest; front end exit "
					   << (fe.poll() ? fe.poll()->status : -1) << ": " << shell_quote(argv);
	EXPECT_FALSE(processes_mentioning(needle).empty()) << "positive control: the QEMU finder sees the guest";
	fe.signal(sig);
	auto ex = fe.wait_for(std::chrono::seconds(60));
	EXPECT_TRUE(ex.has_value()) << "the front end did not end on signal " << sig;
	bool gone = eventually([&] { return processes_mentioning(needle).empty(); }, std::chrono::seconds(30));
	return {ex ? ex->status : -1, !gone};
}

}  // namespace

TEST(Kill, BenchKeepsFinishedBootsAndLeavesNoQemuAndResumes)
{
	for (int sig : {SIGINT, SIGTERM, SIGKILL}) {
		auto out = fs::temp_directory_path() / fmt::format("xua-kill-bench-{}-{}", getpid(), sig);
		fs::remove_all(out);
		auto boot0 = out / "boots" / "x86_64-6.1-on" / "boot-0.json";
		auto k = kill_during({kFrontEnd.string(), "bench", "--arch", "x86_64", "--protection", "on", "--boots",
				      "3", "--repetitions", "1", "--filter", "^baseline/getppid", "--out", out.string()},
				     [&] { return fs::exists(boot0); }, out.string(), sig);
		EXPECT_FALSE(k.qemu_left) << "QEMU outlived the front end (signal " << sig << ")";
		EXPECT_EQ(k.status, 128 + sig);
		EXPECT_TRUE(fs::exists(boot0)) << "the finished boot was lost";
		EXPECT_FALSE(fs::exists(out / "x86_64-6.1-on.json")) << "the cell cannot be complete yet";
		if (sig == SIGINT) {
			auto r = run({kFrontEnd.string(), "bench", "--resume", out.string()});
			EXPECT_EQ(r.status, 0) << r.output;
			auto j = nlohmann::json::parse(read_file(out / "x86_64-6.1-on.json"));
			EXPECT_EQ(j["context"]["xua_boots"], 3);
			EXPECT_TRUE(fs::exists(out / "report.md"));
		}
		fs::remove_all(out);
	}
}

TEST(Kill, TestRunLeavesNoQemu)
{
	const auto cell_dir = (kBuild / "cells" / "x86_64-6.1-off").string();
	for (int sig : {SIGINT, SIGTERM, SIGKILL}) {
		auto k = kill_during({kFrontEnd.string(), "test", "--arch", "x86_64", "--protection", "off"},
				     [] { return true; }, cell_dir, sig);
		EXPECT_FALSE(k.qemu_left) << "QEMU outlived the front end (signal " << sig << ")";
		EXPECT_EQ(k.status, 128 + sig);
	}
}
