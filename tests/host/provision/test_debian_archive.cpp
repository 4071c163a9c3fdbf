// Where the cells' Debian packages come from, whatever the host runs (host/provision/debian_archive): the
// private apt configuration per suite, a series that must resolve to a kernel of that series, and each series'
// suite and gcc. That the bootstrap installs those compilers: project/test_bootstrap.cpp.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

#include <pwd.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/process.hpp"
#include "provision/debian_archive.hpp"
#include "provision/matrix.hpp"
#include "provision/source_kernel.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

// apt-cache show of a meta package as Debian 13 (trixie) prints it: its default kernel is 6.12.
const char *kTrixieMeta = "Package: linux-image-amd64\n"
			  "Source: linux-signed-amd64 (6.12.117+1)\n"
			  "Version: 6.12.117-1\n"
			  "Depends: linux-image-6.12.117+deb13-amd64 (= 6.12.117-1)\n";
const char *kBookwormMeta = "Package: linux-image-amd64\n"
			    "Version: 6.1.192-3\n"
			    "Installed-Size: 13\n"
			    "Depends: linux-image-6.1.0-57-amd64 (= 6.1.192-3)\n";

}  // namespace

TEST(DebianArchive, ASeriesResolvesToThatSeriesOrIsRefused)
{
	auto [pkg, version] = resolve_series_meta("linux-image-amd64:amd64", kBookwormMeta, "6.1", "bookworm");
	EXPECT_EQ(pkg, "linux-image-6.1.0-57-amd64");
	EXPECT_EQ(version, "6.1.192-3");
	// The default meta package of a release that moved on to 6.12 must not boot in a cell named 6.1.
	EXPECT_THROW(resolve_series_meta("linux-image-amd64:amd64", kTrixieMeta, "6.1", "trixie"), Refused);
	try {
		resolve_series_meta("linux-image-amd64:amd64", kTrixieMeta, "6.1", "trixie");
	} catch (const Refused &e) {
		EXPECT_NE(std::string(e.what()).find("not a 6.1 kernel"), std::string::npos) << e.what();
	}
	// 6.1.x is no 6.12 kernel either (a prefix test without the dot would take it).
	EXPECT_THROW(resolve_series_meta("m", kBookwormMeta, "6.12", "bookworm"), Refused);
	EXPECT_EQ(resolve_series_meta("m", kTrixieMeta, "6.12", "trixie").second, "6.12.117-1");
	EXPECT_THROW(resolve_series_meta("m", "Package: m\nVersion: 1\n", "6.1", "bookworm"), Error);
}

TEST(DebianArchive, ControlFields)
{
	EXPECT_EQ(control_field(kBookwormMeta, "Version"), "6.1.192-3");
	EXPECT_EQ(control_field(kBookwormMeta, "Installed-Size"), "13");
	EXPECT_EQ(control_field(kBookwormMeta, "Provides"), "");
}

TEST(DebianArchive, SourcesPinTheSuiteAndCheckSignatures)
{
	ArchiveSpec s{"bookworm", {"amd64", "arm64"}, "http://m.example/debian", "http://m.example/debian-security",
		      "/usr/share/keyrings/debian-archive-keyring.gpg"};
	auto src = archive_sources(s);
	EXPECT_NE(src.find("URIs: http://m.example/debian\nSuites: bookworm bookworm-updates\n"), std::string::npos)
		<< src;
	EXPECT_NE(src.find("URIs: http://m.example/debian-security\nSuites: bookworm-security\n"), std::string::npos)
		<< src;
	EXPECT_NE(src.find("Architectures: amd64 arm64\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg"),
		  std::string::npos)
		<< src;
	EXPECT_EQ(src.find("trixie"), std::string::npos);
}

// The configuration as apt itself reads it: every place packages come from or state is kept is ours, and the
// host's own sources and pins are not consulted.
TEST(DebianArchive, AptReadsThePrivateConfiguration)
{
	TempDir scratch("apt");
	const auto dir = scratch.path;
	ArchiveSpec s{"bookworm", {"amd64", "arm64"}, "http://deb.debian.org/debian",
		      "http://deb.debian.org/debian-security", "/usr/share/keyrings/debian-archive-keyring.gpg"};
	write_file(dir / "apt.conf", archive_apt_conf(s, dir));
	auto r = run({"apt-config", "-c", (dir / "apt.conf").string(), "dump"});
	ASSERT_TRUE(r.ok()) << r.output;
	// apt-config prints its own spelling of a known key (Dir::Etc::sourcelist): compare without case.
	auto lower = [](std::string t) {
		std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
		return t;
	};
	auto has = [&](const std::string &line) {
		EXPECT_NE(lower(r.output).find("\n" + lower(line) + "\n"), std::string::npos) << line << " in:\n"
												 << r.output;
	};
	has(fmt::format("Dir::Etc::SourceParts \"{}\";", (dir / "sources.list.d").string()));
	has(fmt::format("Dir::Etc::SourceList \"{}\";", (dir / "sources.list").string()));
	has(fmt::format("Dir::Etc::PreferencesParts \"{}\";", (dir / "preferences.d").string()));
	has(fmt::format("Dir::State \"{}\";", (dir / "state").string()));
	has(fmt::format("Dir::State::status \"{}\";", (dir / "state/status").string()));
	has("APT::Architectures:: \"amd64\";");
	has("APT::Architectures:: \"arm64\";");
	has("Acquire::Languages:: \"none\";");
}

TEST(DebianArchive, EverySeriesNamesItsSuiteAndCompiler)
{
	auto m = matrix_for("x86_64");
	for (auto &k : m.kernel_names()) {
		const auto &s = m.series(k);
		EXPECT_EQ(s.name, k);
		EXPECT_FALSE(s.suite.empty()) << k;
		EXPECT_FALSE(s.gcc.empty()) << k;
		EXPECT_EQ(&m.series(k + "-debug"), &s);
		EXPECT_EQ(&m.series(k + "-src"), &s);
	}
	EXPECT_THROW(m.series("5.10"), Error);
	auto arches = m.debian().arches;
	std::sort(arches.begin(), arches.end());
	EXPECT_EQ(arches, (std::vector<std::string>{"amd64", "arm64"}));
}

// The private archives and kernel caches live under user_cache(); a systemd service (the machine images' job)
// has no HOME, and the cache is then the user's home from the password database (it used to fail there).
TEST(DebianArchive, CacheWithoutHome)
{
	std::string home = getenv("HOME") ? getenv("HOME") : "", xdg = getenv("XDG_CACHE_HOME") ? getenv("XDG_CACHE_HOME") : "";
	unsetenv("HOME");
	unsetenv("XDG_CACHE_HOME");
	fs::path got;
	EXPECT_NO_THROW(got = user_cache());
	if (!home.empty())
		setenv("HOME", home.c_str(), 1);
	if (!xdg.empty())
		setenv("XDG_CACHE_HOME", xdg.c_str(), 1);
	const passwd *pw = getpwuid(geteuid());
	ASSERT_NE(pw, nullptr);
	EXPECT_EQ(got, fs::path(pw->pw_dir) / ".cache" / "xuaccess");
}
