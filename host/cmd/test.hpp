// What `./xuaccess test` (and later `bench`) does after the bootstrap: build what the selected cells need,
// run them through Meson's test runner, and summarise.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "provision/matrix.hpp"

namespace xua {

// Runs host unit tests, sparse checks and the selected cells under `accel` (tcg, kvm, auto: kvm for the
// cells it can run); returns the process exit status. kvm is refused (Error) for a cell it cannot run.
// `thorough` runs the in-guest tests' long tier (docs/testing.md#tiers).
int run_tests(const Selection &sel, const std::string &accel = "tcg", bool thorough = false);

struct CaseCounts {
	int passed = 0, failed = 0, skipped = 0;
	CaseCounts &operator+=(const CaseCounts &o)
	{
		passed += o.passed;
		failed += o.failed;
		skipped += o.skipped;
		return *this;
	}
};
// Counts the cases in one test's output under its Meson protocol: "tap" (its plan and cases), "gtest"
// (GoogleTest's summary), anything else the test itself by its exit status. Output the protocol does not
// recognise (no plan, no summary) counts as a failure, and so do cases a TAP plan announces but never reports.
CaseCounts count_test_output(const std::string &output, bool test_ok, const std::string &protocol);
// Each test's protocol, from Meson's meson-info/intro-tests.json.
std::map<std::string, std::string> test_protocols(const std::string &intro_tests_json);
// Counts the individual cases in Meson's testlog.json, each test under its protocol.
CaseCounts count_cases(const std::string &testlog_jsonl, const std::map<std::string, std::string> &protocols);

}  // namespace xua
