#include "provision/debian_archive.hpp"

#include "provision/matrix.hpp"
#include "provision/source_kernel.hpp"
#include "base/process.hpp"

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <unistd.h>

namespace xua {

std::string archive_sources(const ArchiveSpec &s)
{
	auto stanza = [&](const std::string &uri, const std::string &suites) {
		return fmt::format("Types: deb\nURIs: {}\nSuites: {}\nComponents: main\nArchitectures: {}\n"
				   "Signed-By: {}\n",
				   uri, suites, fmt::join(s.arches, " "), s.keyring.string());
	};
	return fmt::format("# Written by xuaccess: the cells' Debian suite, not the host's.\n{}\n{}",
			   stanza(s.mirror, fmt::format("{0} {0}-updates", s.suite)),
			   stanza(s.security_mirror, fmt::format("{}-security", s.suite)));
}

std::string archive_apt_conf(const ArchiveSpec &s, const fs::path &dir)
{
	auto q = [](const fs::path &p) { return fmt::format("\"{}\"", p.string()); };
	std::string arches;
	for (auto &a : s.arches)
		arches += fmt::format("\"{}\"; ", a);
	// Read after the host's own configuration (apt -c): proxies and the like still apply, everything that
	// says where packages come from and what is installed is ours. No host pinning, no host lists, an empty
	// dpkg status (apt must not weigh what the host has installed), no translations.
	return fmt::format("Dir::Etc::SourceList {};\nDir::Etc::SourceParts {};\nDir::Etc::Preferences {};\n"
			   "Dir::Etc::PreferencesParts {};\nDir::State {};\nDir::State::status {};\nDir::Cache {};\n"
			   "APT::Architectures {{ {}}};\nAcquire::Languages \"none\";\n"
			   "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled \"false\";\n{}",
			   q(dir / "sources.list"), q(dir / "sources.list.d"), q(dir / "preferences"),
			   q(dir / "preferences.d"), q(dir / "state"), q(dir / "state/status"), q(dir / "cache"), arches,
			   // As root, apt downloads as the _apt user, who cannot reach a cache under root's home.
			   geteuid() == 0 ? "APT::Sandbox::User \"root\";\n" : "");
}

std::string control_field(std::string_view stanza, std::string_view name)
{
	auto key = fmt::format("{}:", name);
	for (auto &line : split_lines(stanza))
		if (starts_with(line, key))
			return trim(std::string_view(line).substr(key.size()));
	return {};
}

const DebianArchive &DebianArchive::suite(const std::string &suite)
{
	static std::mutex mu;
	static std::map<std::string, std::unique_ptr<DebianArchive>> archives;
	std::lock_guard g(mu);
	auto &a = archives[suite];
	if (!a) {
		ArchiveSpec spec = Matrix::get().debian();
		spec.suite = suite;
		if (auto *m = std::getenv("XUACCESS_DEBIAN_MIRROR"); m && *m)
			spec.mirror = m;
		if (auto *m = std::getenv("XUACCESS_DEBIAN_SECURITY_MIRROR"); m && *m)
			spec.security_mirror = m;
		a = std::make_unique<DebianArchive>(spec, user_cache() / "apt" / suite);
	}
	return *a;
}

DebianArchive::DebianArchive(ArchiveSpec spec, fs::path dir) : spec_(std::move(spec)), dir_(std::move(dir)) {}

void DebianArchive::write_config() const
{
	if (!fs::exists(spec_.keyring))
		fail("Debian's archive keyring {} is missing: the cells' kernels are fetched from Debian's {} with "
		     "signatures checked (apt-get install debian-archive-keyring; ./xuaccess installs it)",
		     spec_.keyring.string(), spec_.suite);
	for (auto d : {"sources.list.d", "preferences.d", "state/lists/partial", "cache/archives/partial"})
		fs::create_directories(dir_ / d);
	auto put = [](const fs::path &p, const std::string &text) {
		if (!fs::exists(p) || read_file(p) != text)
			write_file(p, text);
	};
	put(dir_ / "sources.list", "");
	put(dir_ / "preferences", "");
	put(dir_ / "state/status", "");
	put(dir_ / "sources.list.d/debian.sources", archive_sources(spec_));
	put(dir_ / "apt.conf", archive_apt_conf(spec_, dir_));
}

std::vector<std::string> DebianArchive::apt(const std::string &tool) const
{
	return {tool, "-c", (dir_ / "apt.conf").string()};
}

void DebianArchive::update(std::chrono::hours max_age) const
{
	fs::create_directories(dir_);
	FileLock lock(dir_ / "lock");
	write_config();
	auto stamp = dir_ / "state/updated";
	bool have = fs::exists(stamp) && read_file(stamp) == archive_sources(spec_);
	if (have && fs::file_time_type::clock::now() - fs::last_write_time(stamp) < max_age)
		return;
	auto argv = apt("apt-get");
	argv.insert(argv.end(), {"-q", "update"});
	auto r = run(argv);
	// apt-get update exits 0 even when some index failed ("W: Failed to fetch"); a missing or unsigned
	// Release is an error ("E:"), which is what matters: nothing unverified is used.
	bool errors = !r.ok() || r.output.find("\nE: ") != std::string::npos || starts_with(r.output, "E: ");
	if (errors) {
		if (have) {
			fmt::print(stderr, "xuaccess: warning: cannot refresh Debian {}'s package lists ({}); using "
					   "those of {}\n",
				   spec_.suite, last_lines(trim(r.output), 1).substr(0, 200), dir_.string());
			return;
		}
		fail("apt-get update of Debian {} (xuaccess's own apt configuration in {}) failed:\n{}\n(is {} "
		     "reachable? a local mirror: XUACCESS_DEBIAN_MIRROR)",
		     spec_.suite, dir_.string(), trim(r.output), spec_.mirror);
	}
	write_file(stamp, archive_sources(spec_));
}

std::string DebianArchive::show(const std::string &pkg) const
{
	update(std::chrono::hours(24));
	auto argv = apt("apt-cache");
	argv.insert(argv.end(), {"show", "--no-all-versions", pkg});
	auto r = run(argv, {.merge_stderr = true});
	if (!r.ok() || trim(r.output).empty())
		fail("Debian {} has no package {}: {}", spec_.suite, pkg, trim(r.output));
	return r.output;
}

std::string DebianArchive::field(const std::string &pkg, const std::string &name) const
{
	return control_field(show(pkg), name);
}

void DebianArchive::download(const std::vector<std::string> &pkgs, const fs::path &dir) const
{
	update(std::chrono::hours(24));
	auto argv = apt("apt-get");
	argv.insert(argv.end(), {"download", "-q"});
	argv.insert(argv.end(), pkgs.begin(), pkgs.end());
	fs::create_directories(dir);
	auto r = run(argv, {.cwd = dir});
	if (!r.ok()) {
		update(std::chrono::hours(0));
		r = run(argv, {.cwd = dir});
	}
	if (!r.ok())
		fail("downloading {} from Debian {} failed:\n{}\n(is {} reachable?)", fmt::join(pkgs, " "), spec_.suite,
		     trim(r.output), spec_.mirror);
}

}  // namespace xua
