// host/report/plots: a plot gnuplot warns about or cannot draw is a warning, not a failed report, and the guard
// plot marks what the tables mark (q, not p). gnuplot is a stand-in script here.
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "report/report.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

// A plot gnuplot warns about or cannot draw costs that plot, not the report (nor a 13-minute bench).
TEST(Report, GnuplotWarningsAndFailuresAreWarnings)
{
	TempDir dir("gnuplot");
	auto bin = dir.path / "bin", run_dir = dir.path / "run";
	fs::create_directories(bin);
	fs::create_directories(run_dir);
	for (auto f : {"x86_64-6.1-off.json", "x86_64-6.1-on.json"})
		fs::copy_file(fixture("compare/shift") / f, run_dir / f);
	const std::string old_path = getenv("PATH");
	for (std::string behaviour : {"echo 'warning: font not found' >&2; : > \"${1%.gp}.png\"", "echo 'broken' >&2; exit 1"}) {
		write_script(bin / "gnuplot", behaviour + "\n");
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
}

// The guard plot's key says what its `*` marks, as the tables do: q < alpha (Benjamini-Hochberg over the
// comparison's rows), not a bare U-test p. (It used to say "* p < 0.05 (U test)" while marking q < 0.05.)
TEST(Report, GuardPlotMarksWhatTheTablesMark)
{
	TempDir dir("guardplot");
	auto bin = dir.path / "bin", run_dir = dir.path / "run";
	fs::create_directories(bin);
	fs::create_directories(run_dir);
	for (auto f : {"x86_64-6.1-off.json", "x86_64-6.1-on.json"})
		fs::copy_file(fixture("compare/shift") / f, run_dir / f);
	write_script(bin / "gnuplot", "for f; do : > \"${f%.gp}.png\"; done\n");
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
}
