// host/cmd/main: the front end's --help texts are the committed ones of host/cmd/help/ (what the bootstrap prints
// on a fresh clone), and every usage error exits 2.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/process.hpp"
#include "base/util.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

// ./xuaccess --help works on a fresh machine (no packages, no build) from the committed help texts: they
// must be what the front end itself prints. And every usage error exits 2, not CLI11's 105-109.
TEST(Workflow, CommittedHelpIsTheFrontEndsAndUsageErrorsExit2)
{
	const auto host = kFrontEnd.string();
	for (std::string cmd : {"xuaccess", "test", "bench", "compare", "report"}) {
		std::vector<std::string> argv = {host};
		if (cmd != "xuaccess")
			argv.push_back(cmd);
		argv.push_back("--help");
		auto r = run(argv, {.merge_stderr = false});
		EXPECT_EQ(r.status, 0) << cmd;
		EXPECT_EQ(r.output, read_file(kSource / "host/cmd/help" / (cmd + ".txt")))
			<< "host/cmd/help/" << cmd << ".txt is stale: regenerate it with xuaccess-host " << cmd << " --help";
	}
	for (std::vector<std::string> bad : {std::vector<std::string>{"bench", "--quick", "--boots", "3"},
					     {"bench", "--quick", "--repetitions", "3"},
					     {"bench", "--yes-load-module-into-this-kernel"},
					     {"bench", "--boots", "0"},
					     {"no-such-command"},
					     {"compare", "/nonexistent.json", "/nonexistent2.json"},
					     {"test", "--kernel", "/nonexistent/xua-kernel-tree"}}) {
		bad.insert(bad.begin(), host);
		EXPECT_EQ(run(bad).status, 2) << shell_quote(bad);
	}
}
