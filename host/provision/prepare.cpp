#include "provision/prepare.hpp"

#include <set>

#include "provision/initramfs.hpp"
#include "provision/kbuild.hpp"
#include "provision/source_kernel.hpp"
#include "run/process.hpp"

namespace xua {
namespace {

void ninja(const fs::path &dir, const std::vector<std::string> &targets)
{
	std::vector<std::string> argv = {"ninja", "-C", dir.string(), "--quiet"};
	argv.insert(argv.end(), targets.begin(), targets.end());
	auto r = run(argv);
	if (!r.ok())
		fail("build failed in {}:\n{}", dir.string(), trim(r.output));
}

void ensure_guest_build(const Arch &arch)
{
	const auto &p = Matrix::paths();
	auto dir = p.guest_build(arch);
	if (dir == p.build)
		return;  // the native build, done by prepare()
	if (!fs::exists(dir / "build.ninja")) {
		auto cross = p.source / "ci" / "cross" / (arch.name + ".ini");
		if (!fs::exists(cross))
			fail("no Meson cross file {} for {}", cross.string(), arch.name);
		auto r = run({"meson", "setup", "--cross-file", cross.string(), dir.string(), p.source.string()});
		if (!r.ok())
			fail("meson setup for {} failed:\n{}", arch.name, trim(r.output));
	}
	ninja(dir, {});
}

}  // namespace

void prepare(const std::vector<Cell> &cells)
{
	const auto &p = Matrix::paths();
	ninja(p.build, {});  // host programs, host tests and the host arch's guest programs
	std::set<std::string> arches, kernels;
	for (auto &c : cells)
		if (arches.insert(c.arch->name).second)
			ensure_guest_build(*c.arch);
	std::vector<std::string> modules;
	for (auto &c : cells) {
		auto key = c.arch->name + "-" + c.kernel;
		if (is_source_kernel(c.kernel)) {
			// Built from source (cached by config); the module is rebuilt incrementally every time.
			if (kernels.insert(cell_module_path(c).string()).second)
				build_source_module(c, cell_kernel(c, Resolve::always), false);
			continue;
		}
		if (!kernels.insert(key).second)
			continue;
		ensure_kernel(*c.arch, c.kernel, Resolve::always);
		modules.push_back("host/module-" + key);
	}
	ninja(p.build, modules);
}

CellImage provision_cell(const Cell &cell, const std::string &job, const fs::path &dir)
{
	const Arch &arch = *cell.arch;
	CellImage img{cell_kernel(cell, Resolve::if_missing, true), dir / "initramfs.cpio"};
	auto module = cell_module_path(cell);
	if (!fs::exists(module)) {
		if (is_source_kernel(cell.kernel))
			build_source_module(cell, img.kernel, true);
		else
			kbuild({.arch = &arch, .series = cell.kernel, .out = module, .quiet = true});
	}
	auto gb = Matrix::paths().guest_build(arch);
	InitramfsSpec spec{&arch, module, {}, gb / "guest" / "xuaccess-init"};
	spec.programs.push_back(job == "test" ? gb / "tests" / "guest" / "xuaccess-tests" : gb / "bench" / "xuaccess-bench");
	for (auto &p : spec.programs)
		if (!fs::exists(p))
			fail("{} is missing: the guest programs for {} are not built (run ./xuaccess, which builds them)",
			     p.string(), arch.name);
	fs::create_directories(dir);
	build_initramfs(spec, img.initramfs);
	return img;
}

}  // namespace xua
