#include "provision/machine.hpp"

#include "provision/checkout.hpp"
#include "provision/debian_archive.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include <sys/mount.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "provision/source_kernel.hpp"
#include "base/process.hpp"

namespace xua {
namespace {

// Bumped whenever what configure_rootfs() writes changes (part of the image key).
constexpr int kImageLayout = 1;

// The job unit: runs /job/run from the 9p share "job" (run/machine.cpp writes it) once the machine is up,
// its output on the console, then powers off. Without the share (a person booting the image) it does nothing.
constexpr const char *kJobUnit = R"([Unit]
Description=xuaccess machine job (/job/run from the 9p share "job")
After=multi-user.target network-online.target
Wants=network-online.target
ConditionPathExists=/sys/bus/virtio/drivers/9pnet_virtio

[Service]
Type=oneshot
ExecStartPre=/bin/mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 job /job
ExecStart=/bin/bash -c 'echo "xuaccess-job: start"; /job/run; echo "xuaccess-job: exit $?"'
ExecStopPost=/bin/systemctl --no-block poweroff
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
)";

constexpr const char *kNetwork = "[Match]\nName=en* eth*\n[Network]\nDHCP=yes\n";
constexpr const char *kFstab = "LABEL=xuaccess-root / ext4 defaults,errors=remount-ro 0 1\n"
			       "LABEL=xuaccess /opt/xuaccess ext4 defaults,nofail 0 2\n";

// A long step with its output in `log` and, unless quiet, a progress line every 30 s (run_logged).
void run_step(const std::vector<std::string> &argv, const fs::path &log, const std::string &label, bool quiet,
	      const std::map<std::string, std::string> &env = {})
{
	std::function<void(double)> progress;
	if (!quiet)
		progress = [&](double s) { fmt::print(stderr, "xuaccess: {}: {:.0f} s\n", label, s); };
	run_logged(argv, log, label, progress, {.env = env});
}

// /proc, /sys, /dev and the tree mounted into a rootfs for a chroot, unmounted (in reverse) however it ends.
class ChrootMounts {
public:
	ChrootMounts(const fs::path &root, const fs::path &tree)
	{
		bind(tree, root / "opt" / "xuaccess");
		for (const char *m : {"proc", "sys", "dev", "dev/pts"})
			bind(fs::path("/") / m, root / m);
	}
	// umount2() directly: no child process, nothing that could throw while an interruption unwinds the stack.
	~ChrootMounts()
	{
		for (auto it = mounted_.rbegin(); it != mounted_.rend(); ++it)
			if (::umount2(it->c_str(), 0) != 0 && ::umount2(it->c_str(), MNT_DETACH) != 0)
				fmt::print(stderr, "xuaccess: could not unmount {}: {}\n", it->string(), std::strerror(errno));
	}
	ChrootMounts(const ChrootMounts &) = delete;
	ChrootMounts &operator=(const ChrootMounts &) = delete;

private:
	void bind(const fs::path &from, const fs::path &to)
	{
		fs::create_directories(to);
		run_checked({"mount", "--bind", from.string(), to.string()});
		mounted_.push_back(to);
	}
	std::vector<fs::path> mounted_;
};

void configure_rootfs(const fs::path &r)
{
	write_file(r / "etc" / "fstab", kFstab);
	write_file(r / "etc" / "hostname", "xuaccess-machine\n");
	write_file(r / "etc" / "systemd" / "network" / "20-wired.network", kNetwork);
	write_file(r / "etc" / "systemd" / "system" / "xuaccess-job.service", kJobUnit);
	fs::create_directories(r / "job");
	fs::create_directories(r / "opt" / "xuaccess");
	run_checked({"chroot", r.string(), "systemctl", "enable", "systemd-networkd", "xuaccess-job.service"});
	run_checked({"chroot", r.string(), "passwd", "-d", "root"});  // console login for a person debugging it
}

fs::path newest(const fs::path &dir, const std::string &prefix)
{
	fs::path best;
	for (auto &e : fs::directory_iterator(dir))
		if (starts_with(e.path().filename().string(), prefix) && (best.empty() || e.path() > best))
			best = e.path();
	if (best.empty())
		fail("no {}* in {}", prefix, dir.string());
	return best;
}

// An image of another arch runs its maintainer scripts (mmdebstrap, configure_rootfs's chroot) through
// qemu-user: Debian's qemu-user-static, registered with binfmt_misc (fix-binary flag, so it works inside the
// chroot). Installed and registered on demand, with a notice: the registration lasts until the host reboots.
void ensure_foreign_chroot(const Arch &arch, bool quiet)
{
	const std::string qarch = arch.qemu.substr(arch.qemu.rfind('-') + 1);  // qemu-system-aarch64 -> aarch64
	const fs::path misc = "/proc/sys/fs/binfmt_misc";
	const fs::path conf = "/usr/lib/binfmt.d/qemu-" + qarch + ".conf";
	// qemu-user-static runs the other arch's programs; arch-test is how mmdebstrap checks that it can.
	if (!fs::exists(conf) || !fs::exists("/usr/bin/arch-test")) {
		if (geteuid() != 0)
			fail("a {} machine image on this {} host needs qemu-user-static and arch-test (apt-get install "
			     "qemu-user-static arch-test)",
			     arch.name, host_arch());
		if (!quiet)
			fmt::print(stderr, "xuaccess: installing qemu-user-static and arch-test (for the {} image)\n", arch.name);
		run_checked({"apt-get", "install", "-y", "-qq", "--no-install-recommends", "qemu-user-static", "arch-test"});
	}
	if (!fs::exists(misc / "register"))
		run_checked({"mount", "-t", "binfmt_misc", "binfmt_misc", misc.string()});
	if (!fs::exists(misc / ("qemu-" + qarch))) {
		if (!quiet)
			fmt::print(stderr, "xuaccess: registering qemu-{} with binfmt_misc ({}; until the host reboots)\n", qarch,
				   conf.string());
		std::ofstream reg(misc / "register");
		reg << trim(read_file(conf)) << "\n";
		reg.close();
		if (!reg || !fs::exists(misc / ("qemu-" + qarch)))
			fail("registering {} with binfmt_misc failed", conf.string());
	}
}

// The tree of an image of another arch, cross-built on this host: its C++ under qemu-user compiles ~10x
// slower than here (5 of ~80 objects in 6.5 min). The build runs in a private mount namespace (nothing is
// mounted on the host) that looks, to the compiler and to ninja, like the machine: the tree at /opt/xuaccess,
// and the image's own /usr/include, /usr/lib/<triplet> and /usr/lib/gcc/<triplet> at their native paths (the
// host's GCC directory stays beside it). With ci/cross/machine-<arch>.ini the compiler searches exactly the
// image's native include list, so every path the build records (sources, headers, libraries, the front end's
// compiled-in paths) is the machine's, ninja in the machine finds the tree up to date, and the machine's own
// g++ (named like the cross one there) rebuilds whatever changes; the image's own ninja, run in a chroot
// through qemu-user, checks that it finds nothing to do. The cells' Debian kernel and its module are fetched
// and built in that chroot (the kernel headers' tools are the image's arch); the module `--host` loads is
// built in the machine, as on a user's.
void cross_build_tree(const MachineImage &m, const std::string &series, bool quiet)
{
	const auto &mt = m.arch->gnu_triplet;
	const auto ht = Matrix::get().arch(host_arch()).gnu_triplet;
	const auto script = fmt::format(
		R"(set -e
root='{root}'
mount -t tmpfs xuaccess-build /opt
mkdir -p /opt/xuaccess /opt/host-gcc
mount --bind '{tree}' /opt/xuaccess
mount --bind /usr/lib/gcc /opt/host-gcc
mount -t tmpfs xuaccess-build /usr/lib/gcc
mkdir /usr/lib/gcc/{ht} /usr/lib/gcc/{mt}
mount --bind /opt/host-gcc/{ht} /usr/lib/gcc/{ht}
mount --bind "$root/usr/lib/gcc/{mt}" /usr/lib/gcc/{mt}
mount --bind "$root/usr/include" /usr/include
mount --bind "$root/usr/lib/{mt}" /usr/lib/{mt}
# The cross toolchain's own libc and libstdc++ (searched before the multiarch directories) hidden: every library
# Meson and the linker find is then the image's, at its native path.
mount -t tmpfs xuaccess-build /usr/{mt}/lib
cd /opt/xuaccess
# A build directory of another kind (an earlier native build in a chroot) is set up again.
grep -qs 'machine-{arch}.ini' build/meson-private/cmd_line.txt || rm -rf build
[ -f build/build.ninja ] || meson setup --cross-file ci/cross/machine-{arch}.ini -Dfront_end=enabled build
ninja -C build
# In a chroot of the image (qemu-user), as in the machine: the cells' Debian kernel (its headers' build tools are
# the image's arch) and the module for it; the namespace takes these mounts away when it ends.
mount --bind /opt/xuaccess "$root/opt/xuaccess"
for d in proc sys dev dev/pts; do mount --bind "/$d" "$root/$d"; done
chroot "$root" /bin/bash -c 'cd /opt/xuaccess && export XUACCESS_TOP=/opt/xuaccess XUACCESS_BUILD=/opt/xuaccess/build &&
	build/host/xuaccess-host fetch-kernel --arch {arch} --kernel {series} >/dev/null && ninja -C build --quiet host/module-{arch}-{series}'
# The proof: the image's own ninja finds nothing to do at the machine's paths. A path of this host's left in
# the build (a cross library, a header) would make it rebuild, or fail on the missing file.
out=$(chroot "$root" ninja -C /opt/xuaccess/build -n 2>&1) || true
case $out in
*'no work to do'*) echo "in the image: $out" ;;
*) printf 'the tree is not up to date at the machine'"'"'s paths (its ninja -n says):\n%s\n' "$out"; exit 1 ;;
esac
)",
		fmt::arg("root", m.rootfs.string()), fmt::arg("tree", m.tree.string()), fmt::arg("ht", ht),
		fmt::arg("mt", mt), fmt::arg("arch", m.arch->name),
		fmt::arg("series", series));
	run_step({"unshare", "--mount", "--propagation", "private", "/bin/bash", "-c", script}, m.dir / "tree-build.log",
		 "cross-building the checkout for the " + m.arch->name + " image", quiet,
		 {{"XUACCESS_TOP", ""}, {"XUACCESS_BUILD", ""}});
}

}  // namespace

std::vector<std::string> machine_packages(const Arch &arch)
{
	std::vector<std::string> pkgs = {"linux-image-" + arch.flavour, "linux-headers-" + arch.flavour,
					 "systemd-sysv", "udev", "kmod", "iproute2", "build-essential", "git",
					 "ca-certificates"};
	auto top = Matrix::paths().source;
	auto listed = run_checked({"bash", (top / "xuaccess").string(), "--print-packages", arch.debian_arch});
	for (auto &p : split_lines(listed))
		if (!trim(p).empty())
			pkgs.push_back(trim(p));
	return pkgs;
}

MachineImage ensure_machine_image(const Arch &arch, bool quiet)
{
	if (arch.name != host_arch())
		ensure_foreign_chroot(arch, quiet);
	const auto pkgs = machine_packages(arch);
	std::set<std::string> foreign;
	for (auto &p : pkgs)
		if (auto c = p.find(':'); c != std::string::npos && p.substr(c + 1) != arch.debian_arch)
			foreign.insert(p.substr(c + 1));
	const auto root = user_cache() / "machines";
	fs::create_directories(root);
	const auto spec = fmt::format("layout {}\narch {}\nforeign {}\npackages {}\n{}{}{}", kImageLayout,
				      arch.debian_arch, fmt::join(foreign, ","), fmt::join(pkgs, ","), kJobUnit,
				      kNetwork, kFstab);
	MachineImage m;
	m.arch = &arch;
	m.key = sha256_text(spec).substr(0, 16);
	m.dir = root / (arch.name + "-" + m.key);
	m.rootfs = m.dir / "rootfs";
	m.base_disk = m.dir / "base.raw";
	m.tree = m.dir / "tree";
	m.tree_disk = m.dir / "tree.raw";
	FileLock lock(m.dir.string() + ".lock");
	const auto stamp = m.dir / "image.json";
	if (!fs::exists(stamp)) {
		auto t0 = std::chrono::steady_clock::now();
		fs::remove_all(m.dir);
		fs::create_directories(m.dir);
		const auto tmp = m.dir / "rootfs.tmp";
		std::vector<std::string> argv = {"mmdebstrap", "--mode=root", "--variant=important",
						 "--skip=cleanup/apt/lists",  // apt-cache show works offline in the image
						 "--architectures=" + arch.debian_arch};
		for (auto &f : foreign)
			argv.back() += "," + f;
		argv.push_back("--include=" + fmt::format("{}", fmt::join(pkgs, ",")));
		// A Debian 12 machine whatever the host runs: the default series' suite and its mirrors (the private
		// archive's, provision/debian_archive.hpp), not the host's own sources (trixie's on a Debian 13 host).
		const auto &mx = Matrix::get();
		const auto &spec = DebianArchive::suite(mx.series(mx.default_kernel()).suite).spec();
		argv.push_back(spec.suite);
		argv.push_back(tmp.string());
		argv.push_back(fmt::format("deb {} {} main", spec.mirror, spec.suite));
		argv.push_back(fmt::format("deb {} {}-updates main", spec.mirror, spec.suite));
		argv.push_back(fmt::format("deb {} {}-security main", spec.security_mirror, spec.suite));
		if (!quiet)
			fmt::print(stderr, "xuaccess: building the {} machine image (mmdebstrap, {} packages) in {}\n",
				   arch.name, pkgs.size(), m.dir.string());
		run_step(argv, m.dir / "mmdebstrap.log", "mmdebstrap " + arch.name, quiet);
		configure_rootfs(tmp);
		fs::rename(tmp, m.rootfs);
		run_step({"mke2fs", "-q", "-t", "ext4", "-L", "xuaccess-root", "-d", m.rootfs.string(),
			  (m.dir / "base.raw.tmp").string(), "12G"},
			 m.dir / "mke2fs.log", "mke2fs base " + arch.name, quiet);
		fs::rename(m.dir / "base.raw.tmp", m.base_disk);
		auto kernel = newest(m.rootfs / "boot", "vmlinuz-");
		m.release = kernel.filename().string().substr(std::string("vmlinuz-").size());
		fs::copy_file(kernel, m.dir / kernel.filename(), fs::copy_options::overwrite_existing);
		fs::copy_file(m.rootfs / "boot" / ("initrd.img-" + m.release), m.dir / ("initrd.img-" + m.release),
			      fs::copy_options::overwrite_existing);
		nlohmann::json j = {{"arch", arch.name},
				    {"release", m.release},
				    {"packages", pkgs},
				    {"foreign_architectures", foreign},
				    {"build_seconds", seconds_since(t0)},
				    {"built_utc", utc_now("%Y-%m-%dT%H:%M:%SZ")}};
		write_file(stamp, j.dump(2) + "\n");
		if (!quiet)
			fmt::print(stderr, "xuaccess: {} machine image built in {:.0f} s\n", arch.name, seconds_since(t0));
	}
	auto j = nlohmann::json::parse(read_file(stamp));
	m.release = j.at("release");
	m.kernel = m.dir / ("vmlinuz-" + m.release);
	m.initrd = m.dir / ("initrd.img-" + m.release);
	return m;
}

void refresh_machine_tree(MachineImage &m, const std::string &series, bool quiet)
{
	FileLock lock(m.dir.string() + ".lock");
	const auto top = Matrix::paths().source;
	fs::create_directories(m.tree);
	auto copied = sync_tree(top, m.tree, checkout_files(top));
	if (!quiet)
		fmt::print(stderr, "xuaccess: {} machine: checkout synced ({} files changed), building it {}\n", m.arch->name,
			   copied, m.arch->native ? "in the image" : "for the image (cross, at native paths)");
	if (!m.arch->native) {
		cross_build_tree(m, series, quiet);
	} else {
		ChrootMounts mounts(m.rootfs, m.tree);
		// The bootstrap (packages present: it installs nothing), the whole build, the cells' Debian kernel
		// and its module, all as a person would run them on that machine.
		auto script = fmt::format("set -e; cd /opt/xuaccess; ./xuaccess fetch-kernel --arch {0} --kernel {1} >/dev/null; "
					  "ninja -C build --quiet; ninja -C build --quiet host/module-{0}-{1}",
					  m.arch->name, series);
		run_step({"chroot", m.rootfs.string(), "/bin/bash", "-c", script}, m.dir / "tree-build.log",
			 "building the checkout in the " + m.arch->name + " image", quiet,
			 {{"HOME", "/root"}, {"XUACCESS_TOP", ""}, {"XUACCESS_BUILD", ""}});
	}
	fs::remove(m.dir / "tree.raw.tmp");
	run_step({"mke2fs", "-q", "-t", "ext4", "-L", "xuaccess", "-d", m.tree.string(), (m.dir / "tree.raw.tmp").string(),
		  "8G"},
		 m.dir / "mke2fs.log", "mke2fs tree " + m.arch->name, quiet);
	fs::rename(m.dir / "tree.raw.tmp", m.tree_disk);
}

}  // namespace xua
