// Debian 12 machine images that stand in for a user's machine (README: "Machines"): Debian's own kernel,
// its headers, the packages ./xuaccess installs, systemd, and this checkout with its build, booted under
// QEMU so that `./xuaccess bench --host` and `--accel kvm` run end to end somewhere other than this host.
//
// Cache (outside the checkout, shared by fresh clones and CI on this machine):
//   ${XDG_CACHE_HOME:-$HOME/.cache}/xuaccess/machines/<arch>-<key>/
//     rootfs/      Debian bookworm from mmdebstrap (key = package list + the image's configuration)
//     base.raw     ext4 image of rootfs (the machine's /), booted through a qcow2 overlay per run
//     tree/        the checkout (git's files) and its Meson build, built in a chroot of rootfs
//     tree.raw     ext4 image of tree/, the machine's /opt/xuaccess (remade when the tree changed)
//     image.json   written last: what the image holds
// Prebuilt, and why: the checkout's build (C++ front end, tests, benchmarks, guest programs) and the cells'
// Debian kernel, because a TCG-emulated machine compiles the C++ far slower. For the host's own arch they are
// built in a chroot of the image; for another arch cross-built on this host at the image's native paths
// (qemu-user in a chroot compiled ~10x slower; see cross_build_tree). The kernel module is NOT prebuilt:
// `bench --host` builds it inside the machine against its running kernel, as on a user's machine.
#pragma once

#include <string>
#include <vector>

#include "provision/matrix.hpp"

namespace xua {

struct MachineImage {
	const Arch *arch = nullptr;
	fs::path dir;             // the cache directory above
	fs::path rootfs, base_disk, tree, tree_disk;
	fs::path kernel, initrd;  // Debian's, copied out of the image's /boot
	std::string release;      // the image kernel's uname -r
	std::string key;
};

// The Debian packages of an image for this arch: a bootable Debian 12 with its kernel and headers, plus
// every package `./xuaccess` installs on a machine of that arch (the bootstrap's own list).
std::vector<std::string> machine_packages(const Arch &arch);

// Builds the image's Debian system (mmdebstrap, cached by key) and returns where it is. An image of another
// arch than the host's runs its maintainer scripts through qemu-user (installed and registered with
// binfmt_misc on demand).
MachineImage ensure_machine_image(const Arch &arch, bool quiet = false);

// Copies this checkout into the image's tree (git's tracked and untracked-not-ignored files), builds it for
// the image (front end, tests, benchmarks, guest programs, the cells' Debian kernel `series`; in a chroot for
// the host's arch, cross at native paths for the other), and remakes tree.raw. Incremental: unchanged files
// keep their times, so ninja rebuilds only what changed.
void refresh_machine_tree(MachineImage &m, const std::string &series, bool quiet = false);

}  // namespace xua
