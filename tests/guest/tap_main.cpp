// main() for the in-guest GoogleTest program: reports every test case as TAP on stdout (the guest's
// results port), so the host re-emits each case and Meson's TAP runner shows it.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace {

class TapListener : public testing::EmptyTestEventListener {
public:
	void OnTestPartResult(const testing::TestPartResult &r) override
	{
		if (!r.failed())
			return;
		// Failure details as TAP diagnostics, one "# " line per message line.
		std::string msg = std::string(r.file_name() ? r.file_name() : "?") + ":" +
				  std::to_string(r.line_number()) + ": " + r.message();
		size_t pos = 0;
		while (pos <= msg.size()) {
			auto nl = msg.find('\n', pos);
			std::printf("# %s\n", msg.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos).c_str());
			if (nl == std::string::npos)
				break;
			pos = nl + 1;
		}
	}

	void OnTestEnd(const testing::TestInfo &t) override
	{
		++n_;
		const auto *r = t.result();
		std::string name = std::string(t.test_suite_name()) + "." + t.name();
		if (r->Skipped())
			std::printf("ok %d - %s # SKIP %s\n", n_, name.c_str(), skip_reason(*r).c_str());
		else
			std::printf("%s %d - %s\n", r->Passed() ? "ok" : "not ok", n_, name.c_str());
		// Where a cell's time goes, case by case (guest clock): the host sums these per cell.
		std::printf("# time %lld ms %s\n", static_cast<long long>(r->elapsed_time()), name.c_str());
		std::fflush(stdout);
	}

	void OnTestProgramEnd(const testing::UnitTest &) override
	{
		std::printf("1..%d\n", n_);
		std::fflush(stdout);
	}

private:
	static std::string skip_reason(const testing::TestResult &r)
	{
		for (int i = 0; i < r.total_part_count(); ++i)
			if (r.GetTestPartResult(i).skipped())
				return r.GetTestPartResult(i).message();
		return {};
	}
	int n_ = 0;
};

}  // namespace

int main(int argc, char **argv)
{
	testing::InitGoogleTest(&argc, argv);
	// What GoogleTest leaves: --fuzz-seed=N, --fuzz-calls=N, --fuzz-seconds=N (replay a fuzz run with
	// `xuaccess-host cell ... --guest-args=--fuzz-seed=N`) and --thorough (the long tier, helpers.hpp).
	for (int i = 1; i < argc; ++i) {
		std::string a = argv[i];
		bool known = a == "--thorough";
		if (known)
			setenv("XUA_THOROUGH", "1", 1);
		for (auto [flag, env] : {std::pair{"--fuzz-seed=", "XUA_FUZZ_SEED"}, std::pair{"--fuzz-calls=", "XUA_FUZZ_CALLS"},
					 std::pair{"--fuzz-seconds=", "XUA_FUZZ_SECONDS"}})
			if (a.rfind(flag, 0) == 0) {
				setenv(env, a.c_str() + std::strlen(flag), 1);
				known = true;
			}
		if (!known) {
			std::printf("Bail out! unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	auto &listeners = testing::UnitTest::GetInstance()->listeners();
	delete listeners.Release(listeners.default_result_printer());
	listeners.Append(new TapListener);  // owned by GoogleTest
	return RUN_ALL_TESTS();
}
