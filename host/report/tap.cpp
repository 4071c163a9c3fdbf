#include "report/tap.hpp"

#include "base/tap.hpp"

namespace xua {

std::string describe(const CellOutcome &o)
{
	const auto &info = o.report.info_json;
	std::string state = "not verified";
	if (!info.is_null() && !info.contains("error"))
		state = fmt::format("{} present={} enabled={}", info.value("guard", "?"), info.value("guard_present", false),
				    info.value("guard_enabled", false));
	return fmt::format("{}: kernel {} ({}), qemu {} -cpu {}, accel {}, protection requested {}, seen {}",
			   o.cell.name(), o.kernel.release, o.kernel.version, o.cell.arch->qemu, o.cell.cpu(o.accel),
			   o.accel == "tcg" ? "tcg (emulated)" : o.accel, o.cell.protection, state);
}

int print_tap(const CellOutcome &o, const Verdict &v, std::FILE *out)
{
	auto comment = [&](const std::string &text) {
		for (auto &l : split_lines(text))
			std::fprintf(out, "# %s\n", l.c_str());
	};
	comment(describe(o));
	comment(fmt::format("console: {}", (o.dir / "console.log").string()));
	int n = 0;
	for (auto &c : v.checks) {
		for (auto &l : c.comments)
			comment(l);
		std::fprintf(out, "%s\n", tap::test_line(c.ok, ++n, c.what).c_str());
		if (!c.ok)
			comment(c.diag);
	}
	for (auto &l : v.trailing_comments)
		comment(l);
	std::fprintf(out, "%s\n", tap::plan_line(n).c_str());
	std::fflush(out);
	return v.failed();
}

void TapSteps::result(bool ok, const std::string &what, const std::string &detail)
{
	++n;
	failed += !ok;
	fmt::print("{}\n", tap::test_line(ok, n, what));
	for (auto &l : split_lines(trim(detail)))
		fmt::print("  # {}\n", l);
	std::fflush(stdout);
}

bool TapSteps::step(const std::string &what, const std::function<std::string()> &fn)
{
	auto t0 = std::chrono::steady_clock::now();
	try {
		auto detail = fn();
		result(true, fmt::format("{} ({:.0f} s)", what, seconds_since(t0)), detail);
		return true;
	} catch (const Error &e) {
		result(false, fmt::format("{} ({:.0f} s)", what, seconds_since(t0)), e.what());
		return false;
	}
}

int TapSteps::finish(const std::string &suite, double seconds)
{
	fmt::print("{}\n", tap::plan_line(n));
	fmt::print("\nxuaccess test --suite {}: {} steps in {:.0f} s\n{} passed, {} failed, 0 skipped\n", suite, n,
		   seconds, n - failed, failed);
	return failed == 0 ? 0 : 1;
}

}  // namespace xua
