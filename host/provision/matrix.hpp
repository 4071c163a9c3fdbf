// The matrix of cells: guest architectures x Debian kernel series x protection on/off (ci/matrix.json),
// and the paths of the project (source tree, build tree, per-arch build directories).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "provision/debian_archive.hpp"
#include "base/util.hpp"

namespace xua {

// A Debian kernel series (ci/matrix.json "kernels"): where its packages come from, whatever the host runs.
struct Series {
	std::string name;        // 6.1, 6.12
	std::string suite;       // the Debian suite its image, headers and linux-source come from (bookworm)
	std::string image_meta;  // the meta package naming the series' current image, {flavour} to fill in
	std::string gcc;         // major version of the gcc Debian built it with: kbuild uses <prefix>gcc-<gcc>
};

// One thing a guest kernel's .config must hold for a cell to run (ci/matrix.json "kernel_needs", checked in a
// kernel given as a path before it boots): CONFIG_<symbol> <op> <value>, op "=" (absent counts as n) or ">="
// (a number), and why the guest needs it.
struct KconfigNeed {
	std::string symbol, op, value, why;
	std::string text() const { return "CONFIG_" + symbol + op + value; }
};

struct Arch {
	std::string name;           // x86_64, arm64
	std::string debian_arch;    // amd64, arm64
	std::string flavour;        // Debian kernel flavour
	std::string kbuild_arch;    // ARCH= for kbuild, also the arch/ directory name
	std::string gnu_triplet;
	// Set by the matrix for the machine it was loaded for (Matrix::load's `host`), never by matrix.json:
	std::string host;           // the machine's arch (x86_64, arm64)
	bool native = false;        // this arch is the machine's own: built by the native Meson build, KVM-eligible
	std::string cross_compile;  // CROSS_COMPILE= for kbuild and the kernel build: "" when native, else
				    // "<gnu_triplet>-" (Debian's cross toolchain)
	std::string guard;          // SMAP, PAN
	std::string guard_fault_signature;  // in the oops of a plain user dereference under the guard
	std::string qemu, machine, console, boot_image;
	std::map<std::string, std::string> cpu;  // protection -> QEMU -cpu (the protections this arch offers)
	// Under KVM the guest gets the host's CPU: where the TCG models cannot run under KVM (arm64 accepts only
	// -cpu host), kvm_cpu names the model for the protections KVM can give, and a protection missing from
	// it cannot run under KVM. Empty: KVM uses `cpu` (x86_64: max and max,-smap are CPUID masks).
	std::map<std::string, std::string> kvm_cpu;
	std::string kvm_machine;    // -M under KVM when it differs from `machine` (arm64: the host's GIC version)
	std::vector<std::string> kvm_host_cpu_flags;  // /proc/cpuinfo flags, one of which KVM needs (x86: vmx, svm)
	std::string kvm_nested_in_tcg_cpu;  // added to -cpu under KVM nested in a TCG-emulated machine (x86: ,-xsave)
	std::string image_machine;  // -M of the machine images (test --suite machines); empty: `machine`
	std::map<std::string, std::vector<std::string>> protection_append;  // protection -> extra kernel parameters
	std::map<std::string, std::string> kconfig;  // protection -> ci/kconfig fragment (needs a source kernel)
	// Kernel variants built from source that only some arches offer (arm64 mte: <series>-mte), with the QEMU
	// CPU and machine their cells need instead of cpu.on and `machine`. Such a kernel offers protection on
	// alone, runs under TCG only, and exists for the series listed (series_note: why not the others).
	struct Variant {
		std::string cpu, machine, why;
		std::vector<std::string> series;
		std::string series_note;
		std::string needs_qemu, needs_qemu_note;  // the oldest QEMU (major.minor) that runs its cells, and why
	};
	std::map<std::string, Variant> variants;
	std::string cpu_off_note;   // what else the "off" CPU model changes besides the guard, if anything
	std::vector<std::string> append;
	std::vector<std::string> results_qemu;
	std::string results_tty;
	std::string kconfig_arch;   // the symbol a .config of this arch sets (X86_64, ARM64)
	std::vector<KconfigNeed> kernel_needs;  // every arch's and this arch's
	std::vector<std::string> protections() const;  // the keys of cpu
};

struct Cell {
	const Arch *arch;
	// Debian series (6.1, 6.12), a kernel built from source (6.1-src, 6.1-debug), or the label of a kernel given
	// as a path (tree-<release>, deb-<release>; provision/own_kernel.hpp)
	std::string kernel;
	std::string protection;  // on, off, off-kernel, sw
	fs::path kernel_path;    // a kernel given as a path: the tree or .deb directory (canonical), else empty
	std::string name() const { return fmt::format("{}-{}-{}", arch->name, kernel, protection); }
	std::string cpu() const;
	// The arch-specific kernel variant (Arch::variants) this cell's kernel is built as, else nullptr.
	const Arch::Variant *variant() const;
	// The -cpu and -M for a guest of this cell under `accel` (tcg or kvm), on this machine (cpu(accel): whether
	// it is itself TCG-emulated, from this_machine(); the two-argument form says it, for tests).
	std::string cpu(const std::string &accel) const;
	std::string cpu(const std::string &accel, bool host_emulated) const;
	std::string machine(const std::string &accel) const;
	// The guard is enforced in this cell (on, and arm64's software PAN).
	bool guarded() const { return protection == "on" || protection == "sw"; }
};

struct Paths {
	fs::path source;  // the repository
	fs::path build;   // the native Meson build directory
	// Where the guest programs for this arch are built: the native build for the machine's own arch,
	// build/cross-<arch> (ci/cross/<arch>.ini) for the other.
	fs::path guest_build(const Arch &a) const;
	fs::path cache() const { return build / "cache"; }
};

// The names a command line may give for --arch, --protection and --kernel (a Debian series; <series>-src,
// <series>-debug and paths are told by their form), sorted: what host/cmd/help/usage-values.txt holds.
struct UsageValues {
	std::vector<std::string> arches, protections, kernels;
	std::string text() const;  // the file's content
};

// The cells a command line asked for (--arch, --kernel, --protection), as given; Matrix::select finds them.
struct Selection {
	std::vector<std::string> arches, kernels, protections;
	// Repeated values count once, in the order first given (--arch x86_64,x86_64 is one arch); kernels given as
	// paths become absolute (bench saves them for --resume).
	void dedupe();
};

class Matrix {
public:
	// The matrix of ci/matrix.json for this machine (host_arch()).
	static const Matrix &get();
	static const Paths &paths();
	// The matrix in `file` as seen from a machine of arch `host` (x86_64, arm64): which arch is native and
	// which is cross-built follows it. Tests pass another host; everything else uses get().
	static Matrix load(const fs::path &file, const std::string &host);

	const std::string &host() const { return host_; }
	const Arch &arch(const std::string &name) const;
	std::vector<std::string> arch_names() const;
	std::vector<std::string> kernel_names() const;
	// Whether a source-kernel variant is one only some arches offer (Arch::variants), and which arches do.
	bool is_arch_variant(const std::string &variant) const;
	std::vector<std::string> arch_variant_offers(const std::string &variant) const;
	UsageValues usage_values() const;
	std::string image_meta(const std::string &kernel, const Arch &a) const;
	// The series of a kernel name (6.1, 6.1-src, 6.1-debug -> 6.1); fails on an unknown one.
	const Series &series(const std::string &kernel) const;
	// Debian's mirrors and keyring for the private archives (ci/matrix.json "debian"), suite left empty.
	const ArchiveSpec &debian() const { return debian_; }
	const std::string &default_kernel() const { return default_kernel_; }
	// All cells matching the filters; an empty filter matches everything (kernel: the default series).
	std::vector<Cell> select(const std::vector<std::string> &arches, const std::vector<std::string> &kernels,
				 const std::vector<std::string> &protections) const;

private:
	std::map<std::string, Arch> arches_;
	std::map<std::string, Series> series_;
	ArchiveSpec debian_;
	std::string default_kernel_;
	std::string host_;
};

// The machine's own architecture in the matrix's naming (x86_64 or arm64), from the running kernel
// (uname). The one place the front end asks; everything else takes it from Matrix::host() or, in tests,
// as a parameter. Fails on an architecture the project does not run on.
std::string host_arch();
// uname's machine name in the matrix's naming: x86_64 -> x86_64, aarch64/arm64 -> arm64, else "".
std::string arch_of_machine(const std::string &uname_machine);

}  // namespace xua
