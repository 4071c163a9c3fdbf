// host/cmd/test: the cases of `./xuaccess test` counted from Meson's log, each test by its own protocol, and
// output a protocol does not recognise counted as a failure.
#include <string>

#include <gtest/gtest.h>

#include "cmd/test.hpp"

using namespace xua;

TEST(Frontend, CountsCasesFromMesonLog)
{
	// The shape of Meson 1.0's testlog.json lines (no protocol field: it comes from intro-tests.json, which
	// names tests without testlog.json's "<project>:<suites> / " prefix).
	auto log = std::string(R"({"name": "cell-a", "result": "OK", "stdout": "ok 1 - a\nok 2 - b # SKIP no\n1..2\n"})") + "\n" +
		   R"({"name": "cell-b", "result": "FAIL", "stdout": "ok 1 - a\nnot ok 2 - b\n1..2\n"})" + "\n" +
		   R"({"name": "xuaccess:host+default / host-unit", "result": "OK", "stdout": "[==========] 9 tests\n[  PASSED  ] 9 tests.\n"})" + "\n" +
		   R"({"name": "sparse", "result": "FAIL", "stdout": "warning"})" + "\n" +
		   R"({"name": "xuaccess:cells+x86_64 / cell-c", "result": "TIMEOUT", "stdout": "ok 1 - boot\n1..3\n"})" + "\n";
	auto protocols = test_protocols(R"([{"name": "cell-a", "protocol": "tap"}, {"name": "cell-b", "protocol": "tap"},
		{"name": "host-unit", "protocol": "gtest"}, {"name": "sparse", "protocol": "exitcode"},
		{"name": "cell-c", "protocol": "tap"}])");
	auto c = count_cases(log, protocols);
	EXPECT_EQ(c.passed, 1 + 1 + 9 + 1);
	EXPECT_EQ(c.failed, 1 + 1 + 2);  // cell-c: 2 of its 3 planned cases never reported
	EXPECT_EQ(c.skipped, 1);
}

// Output a test's protocol does not recognise is a failure, whatever the exit status (it used to count as a
// pass): a TAP test without a plan, a GoogleTest binary without its summary, a TAP plan with cases missing.
TEST(Frontend, UnrecognisedTestOutputIsNotAPass)
{
	auto tap_garbage = count_test_output("qemu-system-x86_64: something odd\n", true, "tap");
	EXPECT_EQ(tap_garbage.passed, 0);
	EXPECT_EQ(tap_garbage.failed, 1);
	auto tap_no_plan = count_test_output("ok 1 - boot\nok 2 - insmod\n", true, "tap");
	EXPECT_EQ(tap_no_plan.passed, 2);
	EXPECT_EQ(tap_no_plan.failed, 1);
	auto tap_short = count_test_output("1..5\nok 1 - boot\nok 2 - insmod\n", true, "tap");
	EXPECT_EQ(tap_short.passed, 2);
	EXPECT_EQ(tap_short.failed, 3);
	auto gtest_garbage = count_test_output("[==========] Running 9 tests\nSegmentation fault\n", true, "gtest");
	EXPECT_EQ(gtest_garbage.passed, 0);
	EXPECT_EQ(gtest_garbage.failed, 1);
	auto empty = count_test_output("", true, "gtest");
	EXPECT_EQ(empty.failed, 1);
	auto ok = count_test_output("1..2\nok 1 - a\nok 2 - b\n", true, "tap");
	EXPECT_EQ(ok.passed, 2);
	EXPECT_EQ(ok.failed, 0);
	auto exitcode = count_test_output("anything at all", true, "exitcode");
	EXPECT_EQ(exitcode.passed, 1);
	EXPECT_EQ(exitcode.failed, 0);
}
