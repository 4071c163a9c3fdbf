// A fresh Debian root of another release that stands in for a user's host (test --suite debian13): this
// checkout's README test command runs in it, in a chroot on this machine's kernel, so that the bootstrap's
// package installation, the C++ build under that release's compilers and libraries, and the cells under its
// QEMU are exercised as a new user on that release would meet them.
//
// Cache (outside the checkout, shared by clones and CI):
//   ${XDG_CACHE_HOME:-$HOME/.cache}/xuaccess/hosts/
//     <suite>/root/        mmdebstrap --variant=apt <suite>, plus git: the pristine root, remade weekly
//     <suite>/root.json    written last: when and how it was made
//     <suite>-run/         the root of the current run: a copy of the pristine root, this checkout in
//                          /opt/xuaccess; thrown away by the next run
//     <suite>-run.lock     held while a run uses <suite>-run: a second run (another clone, CI beside a person's
//                          run) waits for it instead of removing the root under it
//     <suite>-debs/        the release's .debs the bootstrap installs (apt's archive cache, kept across runs)
#pragma once

#include <memory>
#include <string>

#include "base/util.hpp"

namespace xua {

struct HostRoot {
	std::string suite;     // trixie
	fs::path pristine;     // the cached root as mmdebstrap made it
	fs::path run;          // a fresh copy of it for one run
	fs::path debs;         // apt's archive cache, bind-mounted at the run root's /var/cache/apt/archives
	double build_seconds;  // what making the pristine root took (0: it came from the cache)
	std::shared_ptr<FileLock> run_lock;  // <suite>-run.lock, held as long as a copy of this HostRoot lives
};

// Makes (or takes from the cache) the pristine root of `suite` and a fresh run copy of it holding this checkout
// (git's tracked and untracked files) at /opt/xuaccess. Needs root (mmdebstrap --mode=root, chroot). Waits
// while another run holds the run root.
HostRoot prepare_host_root(const std::string &suite, bool quiet = false);

// The argv that runs `command` (a shell command line) in the run root: a private mount namespace with /dev,
// /proc and /sys, this machine's xuaccess and ccache caches at the same paths (the same kernels, lists and
// compiler cache), the .deb cache, and a clean environment (HOME, PATH, CI, XDG_CACHE_HOME, CCACHE_DIR).
std::vector<std::string> host_root_command(const HostRoot &r, const std::string &command);

}  // namespace xua
