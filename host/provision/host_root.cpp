#include "provision/host_root.hpp"

#include <cstdlib>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "provision/checkout.hpp"
#include "provision/debian_archive.hpp"
#include "provision/matrix.hpp"
#include "provision/source_kernel.hpp"
#include "base/process.hpp"

namespace xua {
namespace {

constexpr auto kMaxAge = std::chrono::hours(24 * 7);  // a week: the release's point updates reach the root

fs::path ccache_dir()
{
	if (const char *d = std::getenv("CCACHE_DIR"); d && *d == '/')
		return d;
	return user_cache().parent_path() / "ccache";
}

}  // namespace

HostRoot prepare_host_root(const std::string &suite, bool quiet)
{
	if (geteuid() != 0)
		fail("a Debian {} root needs root (mmdebstrap --mode=root, mount, chroot)", suite);
	HostRoot r;
	r.suite = suite;
	auto base = user_cache() / "hosts";
	auto dir = base / suite;
	r.pristine = dir / "root";
	r.run = base / (suite + "-run");
	r.debs = base / (suite + "-debs");
	r.build_seconds = 0;
	fs::create_directories(dir);
	fs::create_directories(r.debs);
	FileLock lock(dir.string() + ".lock");

	const auto &spec = DebianArchive::suite(suite).spec();  // the mirrors, with their overrides
	auto tmp = dir / "root.tmp";
	// One sources line per suite: the release, its updates and its security archive, as a user's host has them.
	const std::vector<std::string> argv = {"mmdebstrap", "--mode=root", "--variant=apt",
					       "--include=git,ca-certificates", suite, tmp.string(),
					       fmt::format("deb {} {} main", spec.mirror, suite),
					       fmt::format("deb {} {}-updates main", spec.mirror, suite),
					       fmt::format("deb {} {}-security main", spec.security_mirror, suite)};
	auto stamp = dir / "root.json";
	bool fresh = false;
	if (fs::exists(stamp) && fs::exists(r.pristine) &&
	    fs::file_time_type::clock::now() - fs::last_write_time(stamp) < kMaxAge) {
		try {
			fresh = nlohmann::json::parse(read_file(stamp)).value("argv", std::vector<std::string>{}) == argv;
		} catch (const nlohmann::json::exception &) {
		}
	}
	if (!fresh) {
		auto t0 = std::chrono::steady_clock::now();
		fs::remove_all(tmp);
		fs::remove(stamp);
		if (!quiet)
			fmt::print(stderr, "xuaccess: making a fresh Debian {} root (mmdebstrap) in {}\n", suite,
				   dir.string());
		run_logged(argv, dir / "mmdebstrap.log", "mmdebstrap " + suite, nullptr);
		fs::remove_all(r.pristine);
		fs::rename(tmp, r.pristine);
		r.build_seconds = seconds_since(t0);
		nlohmann::json j = {{"suite", suite},
				    {"argv", argv},
				    {"debian_version", trim(read_file(r.pristine / "etc/debian_version"))},
				    {"build_seconds", r.build_seconds},
				    {"built_utc", utc_now("%Y-%m-%dT%H:%M:%SZ")}};
		write_file(stamp, j.dump(2) + "\n");
	}

	// Every run starts from the pristine root: the bootstrap installs its packages as on a new machine. One run
	// at a time: the lock is taken before the pristine one is let go, and kept as long as r lives.
	r.run_lock = std::make_shared<FileLock>(r.run.string() + ".lock");
	fs::remove_all(r.run);
	run_checked({"cp", "-a", "--reflink=auto", r.pristine.string(), r.run.string()});
	auto top = Matrix::paths().source;
	sync_tree(top, r.run / "opt/xuaccess", checkout_files(top));
	return r;
}

std::vector<std::string> host_root_command(const HostRoot &r, const std::string &command)
{
	auto cache = user_cache(), cc = ccache_dir();
	fs::create_directories(cache);
	fs::create_directories(cc);
	// In the new mount namespace only: the mounts go when the last process in it ends.
	auto script = fmt::format(
		"set -e\nR={}\n"
		"for d in dev proc sys; do mount --rbind /$d \"$R/$d\"; done\n"
		"mkdir -p \"$R{}\" \"$R{}\" \"$R/var/cache/apt/archives\"\n"
		"mount --bind {} \"$R{}\"\nmount --bind {} \"$R{}\"\nmount --bind {} \"$R/var/cache/apt/archives\"\n"
		"cp /etc/resolv.conf \"$R/etc/resolv.conf\" 2>/dev/null || true\n"
		"exec chroot \"$R\" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb LANG=C.UTF-8 "
		"CI={} XDG_CACHE_HOME={} CCACHE_DIR={} bash -c {}\n",
		shell_quote({r.run.string()}), cache.string(), cc.string(), shell_quote({cache.string()}),
		cache.string(), shell_quote({cc.string()}), cc.string(), shell_quote({r.debs.string()}),
		std::getenv("CI") ? shell_quote({std::getenv("CI")}) : "", shell_quote({cache.parent_path().string()}),
		shell_quote({cc.string()}), shell_quote({command}));
	return {"unshare", "--mount", "--propagation", "private", "--", "bash", "-c", script};
}

}  // namespace xua
