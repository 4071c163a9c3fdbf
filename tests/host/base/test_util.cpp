// host/base/util: atomic file writes, shell quoting (the shell reads every argument back), and the CPU count a
// build's -j comes from.
#include <sched.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/process.hpp"
#include "base/util.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

TEST(AtomicWrite, ReplacesWholeAndLeavesNoTemporaries)
{
	TempDir scratch("write");
	const auto dir = scratch.path;
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

TEST(UsableCpus, CountsTheAffinityMaskAsNprocDoes)
{
	// What the kernel build's -j comes from: the CPUs this process may run on, which nproc also counts.
	auto nproc = std::stoul(trim(run_checked({"nproc"})));
	EXPECT_EQ(usable_cpus(), nproc);
	// Narrowed to one CPU (as taskset or a container's cpuset would), it says 1.
	cpu_set_t saved, one;
	ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; ++c)
		if (CPU_ISSET(c, &saved)) {
			CPU_SET(c, &one);
			break;
		}
	ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
	EXPECT_EQ(usable_cpus(), 1u);
	ASSERT_EQ(sched_setaffinity(0, sizeof saved, &saved), 0);
}
