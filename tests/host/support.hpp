// What several host test files share: the source and build trees with their committed fixtures, scratch
// directories that remove themselves, stand-in programs, polling, git in a scratch tree, and cells and guest
// outcomes built from a few values. Header only; every test file of tests/host may include it.
#pragma once

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

#include "analyze/results.hpp"
#include "base/process.hpp"
#include "base/util.hpp"
#include "provision/matrix.hpp"
#include "run/cell.hpp"
#include "run/judge.hpp"
#include "shared/protocol.hpp"

namespace xua::tests {

inline const fs::path kSource = XUACCESS_SOURCE_DIR;
inline const fs::path kBuild = XUACCESS_BUILD_DIR;
inline const fs::path kFrontEnd = kBuild / "host" / "xuaccess-host";  // the front end as Meson built it

// A committed fixture, tests/fixtures/<rel>: each folder's README.md says where its files come from.
inline fs::path fixture(const std::string &rel)
{
	return kSource / "tests" / "fixtures" / rel;
}

// A captured guest log of tests/fixtures/console/, as run_guest hands a console over (\r stripped).
inline std::string console_fixture(const std::string &name)
{
	auto text = read_file(fixture("console/" + name));
	std::erase(text, '\r');
	return text;
}

// A scratch directory, xua-<tag>-<pid> in the system's temp directory, removed with its content at the end of
// the scope (a failed assertion included).
struct TempDir {
	fs::path path;
	explicit TempDir(const std::string &tag)
	    : path(fs::temp_directory_path() / fmt::format("xua-{}-{}", tag, getpid()))
	{
		fs::remove_all(path);
		fs::create_directories(path);
	}
	~TempDir()
	{
		std::error_code ec;
		fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
		fs::remove_all(path, ec);
	}
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;
	// `text` written to `rel` under it, with the directories on the way.
	void put(const std::string &rel, const std::string &text) const
	{
		fs::create_directories((path / rel).parent_path());
		write_file(path / rel, text);
	}
};

// An executable shell script standing in for a program (QEMU, gnuplot, apt-get, ...).
inline void write_script(const fs::path &p, const std::string &body)
{
	write_file(p, "#!/bin/sh\n" + body);
	fs::permissions(p, fs::perms::owner_all);
}

// Polls `ok` every 100 ms for at most `limit` (a hang guard, not a speed assertion).
template <typename F>
bool eventually(F ok, std::chrono::seconds limit)
{
	for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end; usleep(100000))
		if (ok())
			return true;
	return ok();
}

// Gone: no such process, or a zombie nobody reaped yet (its parent died; the container's init may not reap).
inline bool process_gone(pid_t pid)
{
	if (kill(pid, 0) != 0)
		return errno == ESRCH;
	std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
	std::string pid_s, comm, state;
	stat >> pid_s >> comm >> state;
	return state == "Z" || state == "X";
}

// git in the work tree `dir`, with an identity of its own; its output, trimmed.
inline std::string git_in(const fs::path &dir, std::vector<std::string> args)
{
	args.insert(args.begin(), {"git", "-C", dir.string(), "-c", "user.name=t", "-c", "user.email=t@t"});
	return trim(run_checked(args));
}

// The project's matrix as a front end on a `host` machine ("x86_64", "arm64") would load it.
inline Matrix matrix_for(const std::string &host)
{
	return Matrix::load(Matrix::paths().source / "ci" / "matrix.json", host);
}

// A cell of `boots` boots x `reps` repetitions of one ns row, value(boot, repetition) each.
inline CellResults boot_cell(const std::string &name, int boots, int reps, const std::function<double(int, int)> &value)
{
	nlohmann::json j = {{"context", {{"xua_accel", "tcg"}}}, {"benchmarks", nlohmann::json::array()}};
	for (int b = 0; b < boots; ++b)
		for (int r = 0; r < reps; ++r)
			j["benchmarks"].push_back({{"name", "latency/copy/to_user/64"}, {"run_type", "iteration"},
						   {"real_time", value(b, r)}, {"xua_boot", b}});
	return parse_cell(name, j);
}

// Console samples of the run/ tests (oops recognition, merging, the judge).

// The oops console text of an x86 SMAP fault (PLATFORM.md's observations, trimmed), with the guest init's next
// line after its end marker.
inline const char *const kX86SmapOops = R"([   12.345678] BUG: unable to handle page fault for address: 00007ffd1234abcd
[   12.345700] #PF: supervisor write access in kernel mode
[   12.345710] #PF: error_code(0x0003) - permissions violation
[   12.345720] PGD 800000000 P4D 800000000
[   12.345730] Oops: 0003 [#1] PREEMPT SMP NOPTI
[   12.345800] ---[ end trace 0000000000000000 ]---
[   12.346000] xuaccess-init: done
)";

// Reports as the 6.1 debug kernels print them (lines from the planted-bug runs, timestamps shortened).
inline const char *const kLockdepCircular = R"([   20.10] ======================================================
[   20.10] WARNING: possible circular locking dependency detected
[   20.10] 6.1.192 #1 Tainted: G           O
[   20.10] ------------------------------------------------------
[   20.10] xuaccess-tests/80 is trying to acquire lock:
[   20.10] ffff888003a1c0b8 (&dev->lock_b){+.+.}-{3:3}, at: xua_ioctl+0x1a/0x60 [xuaccess]
[   20.10] 
[   20.10] but task is already holding lock:
[   20.10] ffff888003a1c070 (&dev->lock_a){+.+.}-{3:3}, at: xua_ioctl+0x10/0x60 [xuaccess]
[   20.10] 
[   20.10]  Possible unsafe locking scenario:
)";
inline const char *const kLockdepRecursive =
	"[ 9.1] ============================================\n"
	"[ 9.1] WARNING: possible recursive locking detected\n"
	"[ 9.1] 6.1.192 #1 Tainted: G           O\n";
inline const char *const kKasan = R"([   31.00] ==================================================================
[   31.00] BUG: KASAN: slab-out-of-bounds in xua_selftest+0x2b/0x90 [xuaccess]
[   31.00] Write of size 1 at addr ffff888004a6e940 by task xuaccess-tests/81
[   31.00] 
[   31.00] The buggy address belongs to the object at ffff888004a6e900
[   31.00] ==================================================================
xuaccess-init: job exited 1
)";
inline const char *const kUbsan = R"([   12.00] ================================================================================
[   12.00] UBSAN: array-index-out-of-bounds in /root/xuaccess/common/device.c:123:9
[   12.00] index 8 is out of range for type 'u8 [8]'
[   12.00] CPU: 0 PID: 77 Comm: xuaccess-tests Tainted: G           O       6.1.192 #1
[   12.00] ================================================================================
)";
inline const char *const kKfence =
	"[ 40.0] ==================================================================\n"
	"[ 40.0] BUG: KFENCE: out-of-bounds write in xua_selftest+0x44/0x90 [xuaccess]\n"
	"[ 40.0] Out-of-bounds write at 0x00000000b1e3b7a4 (64B right of kfence-#12):\n"
	"[ 40.0] ==================================================================\n";
inline const char *const kSleep =
	"[ 7.0] BUG: sleeping function called from invalid context at mm/slab.h:723\n"
	"[ 7.0] in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 79, name: xuaccess-tests\n"
	"[ 7.0] preempt_count: 1, expected: 0\n";
inline const char *const kHung =
	"[ 52.0] INFO: task xuaccess-tests:82 blocked for more than 10 seconds.\n"
	"[ 52.0]       Tainted: G           O       6.1.192 #1\n"
	"[ 52.0] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.\n";

inline const std::string kInfoOn = R"({"guard":"SMAP","guard_present":true,"guard_enabled":true,"window_open":false,)"
				   R"("guest":{"cpuinfo_smap":true}})";

// The outcome of one x86_64-6.1-on test cell, healthy unless a field says otherwise: what judge() and the TAP
// output decide on.
struct Outcome {
	std::string job = "test";
	std::string console = "xuaccess-init: started cell=x job=test\n";
	std::string insmod = "ok";
	std::string info = kInfoOn;
	std::string job_output = "ok 1 - A.b\n1..1\n";
	std::string exit = "0";
	std::string extra_blocks;
	std::string dmesg;  // the guest's kernel log (sent when done)
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
			port += protocol::block(protocol::kDmesg, dmesg) + protocol::record(protocol::kDone);
		o.report = parse_results(booted ? port : "");
		o.problems = merge_problems(o.guest.console, o.report.dmesg());
		return o;
	}
};

}  // namespace xua::tests
