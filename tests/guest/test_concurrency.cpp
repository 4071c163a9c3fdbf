// Threads and processes sharing ONE open file of the device. The mix that deadlocked the module before
// 0.3.0: a long TRANSFER into a private buffer whose pages another thread drops with MADV_DONTNEED (every
// iteration page-faults, taking mmap_lock for reading), while a third thread mmaps and munmaps the same fd
// (mmap runs with mmap_lock held for writing). Everything runs in a child process watched by the parent:
// with the kernel's hung-task detector armed at 10 s, a deadlock ends the test as a failure that names the
// blocked tasks, instead of hanging the suite.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "helpers.hpp"
#include "kernel.hpp"

using namespace xua;
using namespace xua::test;
using namespace std::chrono_literals;

namespace {

constexpr const char *kHungTaskTimeout = "/proc/sys/kernel/hung_task_timeout_secs";

std::string read_file(const std::string &path)
{
	std::ifstream in(path);
	std::stringstream s;
	s << in.rdbuf();
	return s.str();
}

// Arms the hung-task detector at `secs` for the lifetime of the object (restored after).
class HungTaskDetector {
public:
	explicit HungTaskDetector(int secs) : old_(read_file(kHungTaskTimeout))
	{
		std::ofstream(kHungTaskTimeout) << secs;
		armed_ = std::stoi(read_file(kHungTaskTimeout).empty() ? "0" : read_file(kHungTaskTimeout)) == secs;
	}
	~HungTaskDetector()
	{
		if (!old_.empty())
			std::ofstream(kHungTaskTimeout) << old_;
	}
	bool armed() const { return armed_; }

private:
	std::string old_;
	bool armed_ = false;
};

// Threads of `pid` in uninterruptible sleep, with the kernel function each waits in.
std::string blocked_tasks(pid_t pid)
{
	std::string out;
	std::string dir = "/proc/" + std::to_string(pid) + "/task";
	DIR *d = opendir(dir.c_str());
	if (!d)
		return out;
	while (auto *e = readdir(d)) {
		if (e->d_name[0] == '.')
			continue;
		std::string stat = read_file(dir + "/" + e->d_name + "/stat");
		auto rp = stat.rfind(')');
		if (rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] == 'D')
			out += std::string(" tid ") + e->d_name + " in " + read_file(dir + "/" + e->d_name + "/wchan");
	}
	closedir(d);
	return out;
}

// The workload, run in a child process: returns the exit status for _exit().
int shared_fd_workload(std::chrono::seconds budget)
{
	Device dev;  // ONE fd, shared by every thread here and by the forked process below
	auto shared = dev.map(1 << 20);
	if (!shared.ok())
		return 10;
	constexpr size_t kLen = 1 << 20;
	Mapping priv(kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	if (!priv.ok())
		return 11;
	std::atomic<bool> stop{false};
	std::atomic<uint64_t> progress[5] = {};
	std::atomic<int> bad{0};
	auto deadline = std::chrono::steady_clock::now() + budget;
	std::vector<std::thread> ts;
	// 0: long transfers into the private buffer (fault on every iteration once its pages are dropped).
	ts.emplace_back([&] {
		xua_info info = dev.info();
		uint32_t round = 0;
		while (!stop) {
			uint32_t method = round % 3 == 0 ? XUA_METHOD_COPY : XUA_METHOD_RAW;
			uint32_t mode = method == XUA_METHOD_RAW ? round % info.nr_modes : 0;
			uint32_t dir = round % 2 ? XUA_DIR_FROM_USER : XUA_DIR_TO_USER;
			int err = 0;
			dev.transfer(method, dir, priv.data(), kLen, 200, mode, &err);
			if (err != 0 && err != -EINTR)
				bad++;
			progress[0]++;
			round++;
		}
	});
	// 1: drop the private buffer's pages.
	ts.emplace_back([&] {
		while (!stop) {
			madvise(priv.data(), kLen, MADV_DONTNEED);
			progress[1]++;
		}
	});
	// 2: mmap and munmap the same fd.
	ts.emplace_back([&] {
		while (!stop) {
			auto m = dev.map(page_size() * (1 + progress[2] % 8));
			if (!m.ok())
				bad++;
			else
				m.data()[0] = 1;
			progress[2]++;
		}
	});
	// 3: the shared buffer's commands on the same fd.
	ts.emplace_back([&] {
		while (!stop) {
			int err = 0;
			dev.mmap_op(progress[3] % 2 == 0, 0, 1 << 20, 20, &err);
			if (err)
				bad++;
			progress[3]++;
		}
	});
	// 4: INFO, TOGGLE and SELFTEST, which take no user pages but share the file.
	ts.emplace_back([&] {
		while (!stop) {
			int err = 0;
			dev.toggle(1000, &err);
			dev.info();
			if (err)
				bad++;
			progress[4]++;
		}
	});
	// A second process sharing the same open file (fork duplicates the fd, not the file).
	pid_t child = fork();
	if (child == 0) {
		std::vector<uint8_t> buf(kLen);
		while (std::chrono::steady_clock::now() < deadline) {
			int err = 0;
			dev.transfer(XUA_METHOD_COPY, XUA_DIR_TO_USER, buf.data(), kLen, 50, 0, &err);
			auto m = dev.map(page_size());
			if ((err && err != -EINTR) || !m.ok())
				_exit(1);
		}
		_exit(0);
	}
	auto last = std::chrono::steady_clock::now();
	while (std::chrono::steady_clock::now() < deadline) {
		std::this_thread::sleep_for(100ms);
		if (std::chrono::steady_clock::now() - last >= 1s) {
			last = std::chrono::steady_clock::now();
			std::printf("# shared fd: transfers %llu, dontneed %llu, mmaps %llu, mmap ops %llu, toggles %llu\n",
				    (unsigned long long)progress[0], (unsigned long long)progress[1],
				    (unsigned long long)progress[2], (unsigned long long)progress[3],
				    (unsigned long long)progress[4]);
			std::fflush(stdout);
		}
	}
	stop = true;
	for (auto &t : ts)
		t.join();
	int st = 0;
	if (child < 0 || waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 12;
	for (auto &p : progress)
		if (p == 0)
			return 13;
	return bad ? 14 : 0;
}

TEST(SharedFd, ThreadsAndProcessesNeverDeadlock)
{
	HungTaskDetector hung(10);
	if (!hung.armed())
		ADD_FAILURE() << "could not arm the hung-task detector (" << kHungTaskTimeout << ")";
	const auto budget = tiered(2s, 6s);
	const std::string log_before = kernel_log();
	std::fflush(stdout);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(shared_fd_workload(budget));
	// The workload takes `budget`; allow far more, then call it a deadlock. The detector reports tasks
	// blocked for 10 s within 20 s.
	auto deadline = std::chrono::steady_clock::now() + budget + 25s;
	int st = 0;
	pid_t r = 0;
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline)
		std::this_thread::sleep_for(200ms);
	if (r == pid) {
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
			<< "workload status " << st << " (exit codes: 10-11 set-up, 12 forked process, "
			<< "13 a thread made no progress, 14 an unexpected errno)";
	} else {
		std::string blocked = blocked_tasks(pid);
		std::string log = kernel_log().substr(std::min(log_before.size(), kernel_log().size()));
		bool hung_report = log.find("blocked for more than") != std::string::npos;
		ADD_FAILURE() << "the shared-fd workload did not finish within " << (budget + 25s).count()
			      << " s: deadlock. Tasks in D state:" << (blocked.empty() ? " none" : blocked)
			      << (hung_report ? "; the hung-task detector reported it" : "");
		kill(pid, SIGKILL);
		// D-state tasks are unkillable: do not wait for them forever.
		for (int i = 0; i < 10 && waitpid(pid, &st, WNOHANG) == 0; ++i)
			std::this_thread::sleep_for(100ms);
	}
	EXPECT_EQ(kernel_log().find("blocked for more than", log_before.size()), std::string::npos)
		<< "the hung-task detector reported a blocked task";
	EXPECT_EQ(Device().info().violations, 0u);
}

}  // namespace
