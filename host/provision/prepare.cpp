#include "provision/prepare.hpp"

#include <algorithm>
#include <future>
#include <regex>
#include <set>

#include "provision/initramfs.hpp"
#include "provision/kbuild.hpp"
#include "provision/own_kernel.hpp"
#include "provision/source_kernel.hpp"
#include "base/process.hpp"

#include "shared/results_schema.hpp"

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

Kernel cell_kernel(const Cell &cell, Resolve resolve, bool quiet)
{
	if (!cell.kernel_path.empty())
		return ensure_own_kernel(own_kernel(cell.kernel_path), resolve, quiet);
	if (is_source_kernel(cell.kernel))
		return ensure_source_kernel(*cell.arch, cell.kernel, cell.protection, quiet);
	return ensure_kernel(*cell.arch, cell.kernel, resolve, quiet);
}

fs::path cell_module_path(const Cell &cell)
{
	auto dir = Matrix::paths().build / "module";
	if (!cell.kernel_path.empty())
		return dir / (cell.arch->name + "-" + cell.kernel + "-" + own_kernel(cell.kernel_path).key) /
		       "xuaccess.ko";
	if (!is_source_kernel(cell.kernel))
		return module_path(*cell.arch, cell.kernel);
	auto sk = parse_source_kernel(cell.kernel);
	auto frags = kconfig_fragments(*cell.arch, sk->variant, cell.protection);
	std::string name = cell.arch->name + "-" + cell.kernel;
	for (size_t i = variant_fragment_count(sk->variant); i < frags.size(); ++i)
		name += "-" + frags[i];
	return dir / name / "xuaccess.ko";
}

nlohmann::json kernel_context(const Cell &cell, const Kernel &k)
{
	nlohmann::json ctx = nlohmann::json::object();
	if (auto it = cell.arch->protection_append.find(cell.protection); it != cell.arch->protection_append.end())
		ctx[keys::protection_cmdline] = fmt::format("{}", fmt::join(it->second, " "));
	if (!cell.kernel_path.empty()) {
		ctx.update(own_kernel_context(k));
		return ctx;
	}
	if (!is_source_kernel(cell.kernel) || !fs::exists(k.stamp))
		return ctx;
	auto j = nlohmann::json::parse(read_file(k.stamp));
	ctx[keys::kernel_config_sha256] = j.value("config_sha256", "");
	ctx[keys::kernel_fragments] = fmt::format("{}", fmt::join(j.value("fragments", std::vector<std::string>{}), " "));
	ctx[keys::kernel_protection_fragment] = j.value("protection_fragment", "");
	if (j.contains("base_config_sha256")) {
		ctx[keys::kernel_base_config_sha256] = j["base_config_sha256"];
		ctx[keys::kernel_config_diff] =
			fmt::format("{}", fmt::join(j.value("config_diff_from_base", std::vector<std::string>{}), ", "));
	}
	return ctx;
}

std::string module_cc(const Cell &cell, const fs::path &headers)
{
	return cell.kernel_path.empty() ? kernel_cc(*cell.arch, cell.kernel) : config_cc(headers / ".config");
}

void build_cell_module(const Cell &cell, const Kernel &k, bool quiet)
{
	kbuild({.arch = cell.arch, .series = k.release, .out = cell_module_path(cell), .headers = k.headers,
		.cc = module_cc(cell, k.headers), .quiet = quiet});
}

void check_cell_runs_here(const Cell &cell, const std::string &qemu_version_line)
{
	const auto *v = cell.variant();
	if (!v || v->needs_qemu.empty())
		return;
	auto line = qemu_version_line;
	if (line.empty()) {
		auto lines = split_lines(run({cell.arch->qemu, "--version"}).output);
		line = lines.empty() ? "" : trim(lines.front());
	}
	static const std::regex re(R"(version (\d+)\.(\d+))"), need_re(R"(^(\d+)\.(\d+)$)");
	std::smatch m, want;
	const std::string &need = v->needs_qemu;
	if (!std::regex_match(need, want, need_re))
		fail("ci/matrix.json: needs_qemu '{}' is not major.minor", need);
	auto version = [](const std::smatch &x) { return std::pair(std::stoi(x[1]), std::stoi(x[2])); };
	if (!std::regex_search(line, m, re) || version(m) < version(want))
		refuse("{} needs QEMU {} or later; this machine's {} says '{}': {}", cell.name(), need, cell.arch->qemu,
		       line.empty() ? "nothing" : line, v->needs_qemu_note);
}

void prepare(const std::vector<Cell> &cells)
{
	const auto &p = Matrix::paths();
	// Built from source (cached by config) or given as a path (cached by its key): the module is rebuilt
	// incrementally every time, in a directory of its own; Debian's series have Meson's module targets.
	auto own_module = [](const Cell &c) { return is_source_kernel(c.kernel) || !c.kernel_path.empty(); };
	// Debian's kernels are resolved and, the first time, downloaded and unpacked (network and disk) on a thread
	// of their own while the C++ builds below use the CPUs. Kernels built from source are built after them:
	// they need the CPUs themselves.
	std::vector<std::string> modules;
	std::vector<const Cell *> debian_kernels;  // one cell per arch and series
	for (auto &c : cells) {
		auto target = "host/module-" + c.arch->name + "-" + c.kernel;
		if (own_module(c) || std::find(modules.begin(), modules.end(), target) != modules.end())
			continue;
		modules.push_back(target);
		debian_kernels.push_back(&c);
	}
	auto fetched = std::async(std::launch::async, [&debian_kernels] {
		for (auto *c : debian_kernels)
			ensure_kernel(*c->arch, c->kernel, Resolve::always);
	});
	ninja(p.build, {});  // host programs, host tests and the host arch's guest programs
	std::set<std::string> arches, built;
	for (auto &c : cells)
		if (arches.insert(c.arch->name).second)
			ensure_guest_build(*c.arch);
	fetched.get();
	for (auto &c : cells)
		if (own_module(c) && built.insert(cell_module_path(c).string()).second)
			build_cell_module(c, cell_kernel(c, Resolve::always), false);
	ninja(p.build, modules);
}

CellImage provision_cell(const Cell &cell, const std::string &job, const fs::path &dir)
{
	const Arch &arch = *cell.arch;
	check_cell_runs_here(cell);
	CellImage img{cell_kernel(cell, Resolve::if_missing, true), dir / "initramfs.cpio"};
	auto module = cell_module_path(cell);
	if (!fs::exists(module)) {
		if (is_source_kernel(cell.kernel) || !cell.kernel_path.empty())
			build_cell_module(cell, img.kernel, true);
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
