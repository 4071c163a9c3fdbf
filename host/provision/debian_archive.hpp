// Debian's archive as the cells see it, whatever the host runs: a private apt configuration of the project's
// own (its own sources list, state and cache directories, Debian's archive keyring with signatures checked),
// one per Debian suite that ci/matrix.json names for a kernel series. Every package the cells take from Debian
// (kernel images and headers, linux-kbuild, linux-source, busybox-static) is resolved and downloaded through
// it, never through the host's own sources: a Debian 13 host boots the same bookworm kernel package as a
// Debian 12 host, and a host with apt and debian-archive-keyring but another distribution could too.
//
// Cache (outside the checkout, shared by clones and CI):
//   ${XDG_CACHE_HOME:-$HOME/.cache}/xuaccess/apt/<suite>/
//     apt.conf, sources.list.d/debian.sources   written on every use (the configuration)
//     state/lists/                                the suite's package lists (apt-get update)
//     state/updated                               written after a successful update (its time decides staleness)
//     cache/                                      apt's own cache (pkgcache.bin)
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/util.hpp"

namespace xua {

struct ArchiveSpec {
	std::string suite;                  // e.g. bookworm: with <suite>-updates and <suite>-security
	std::vector<std::string> arches;    // dpkg architectures whose lists are fetched (amd64, arm64)
	std::string mirror;                 // e.g. http://deb.debian.org/debian
	std::string security_mirror;        // e.g. http://deb.debian.org/debian-security
	fs::path keyring;                   // Debian's archive keyring (Signed-By)
};

// The deb822 sources file of a spec (exposed for the tests).
std::string archive_sources(const ArchiveSpec &spec);
// The apt configuration that points every directory apt uses at `dir` (exposed for the tests).
std::string archive_apt_conf(const ArchiveSpec &spec, const fs::path &dir);

class DebianArchive {
public:
	// The archive of `suite` with the mirrors and keyring of ci/matrix.json ("debian"), overridable with
	// XUACCESS_DEBIAN_MIRROR / XUACCESS_DEBIAN_SECURITY_MIRROR (a local mirror or proxy).
	static const DebianArchive &suite(const std::string &suite);
	DebianArchive(ArchiveSpec spec, fs::path dir);

	const ArchiveSpec &spec() const { return spec_; }
	const fs::path &dir() const { return dir_; }

	// `apt-cache show --no-all-versions PKG` in this suite: the candidate's control fields. Refreshes the
	// package lists first when they are missing or older than a day (offline with lists: a warning, and the
	// lists at hand). Fails with apt's words when the suite has no such package.
	std::string show(const std::string &pkg) const;
	// One field of show(pkg) ("Version", "Depends", ...), "" when absent.
	std::string field(const std::string &pkg, const std::string &name) const;
	// `apt-get download` of PKG[=VERSION]... into `dir`. When a download fails (the archive dropped an old
	// version since the lists were fetched), refreshes the lists once and tries again.
	void download(const std::vector<std::string> &pkgs, const fs::path &dir) const;
	// apt-get update on the private configuration (under a lock). `max_age`: skip when the lists are younger.
	void update(std::chrono::hours max_age) const;

private:
	std::vector<std::string> apt(const std::string &tool) const;
	void write_config() const;
	ArchiveSpec spec_;
	fs::path dir_;
};

// The first field `name` of an apt control stanza ("" when absent).
std::string control_field(std::string_view stanza, std::string_view name);

}  // namespace xua
