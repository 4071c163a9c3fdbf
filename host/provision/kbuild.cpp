#include "provision/kbuild.hpp"

#include "base/process.hpp"

#include <algorithm>
#include <regex>

namespace xua {
namespace {

// Kbuild builds out-of-tree modules in M= itself. To keep the source tree clean, M= is a per-kernel
// object directory mirroring the module sources as symlinks.
std::vector<fs::path> mirror_sources(const fs::path &src, const fs::path &obj)
{
	std::vector<fs::path> files = {src / "Kbuild"};
	for (auto top : {"common", "arch"})
		for (auto &e : fs::recursive_directory_iterator(src / top)) {
			auto ext = e.path().extension();
			if (e.is_regular_file() && (ext == ".c" || ext == ".h" || ext == ".S" || ext == ".mk"))
				files.push_back(e.path());
		}
	for (auto &f : files) {
		auto dst = obj / fs::relative(f, src);
		fs::create_directories(dst.parent_path());
		if (fs::is_symlink(dst) && fs::read_symlink(dst) == f)
			continue;
		fs::remove(dst);
		fs::create_symlink(f, dst);
	}
	return files;
}

}  // namespace

fs::path module_path(const Arch &arch, const std::string &series)
{
	return Matrix::paths().build / "module" / (arch.name + "-" + series) / "xuaccess.ko";
}

std::vector<std::string> diagnostics(std::string_view log)
{
	// compiler/sparse "file:line[:col]: warning:" and objtool/modpost "file.o: warning:" lines
	static const std::regex diag(R"(^(\S+:(\d+:(\d+:)?)? (warning|error): |(WARNING|ERROR): ))");
	std::vector<std::string> out;
	for (auto &line : split_lines(log))
		if (std::regex_search(line, diag))
			out.push_back(line);
	return out;
}

std::string kernel_cc_package(const Arch &arch, const std::string &gcc_major)
{
	if (arch.cross_compile.empty())
		return "gcc-" + gcc_major;
	auto triplet = arch.gnu_triplet;
	std::replace(triplet.begin(), triplet.end(), '_', '-');
	return "gcc-" + gcc_major + "-" + triplet;
}

std::string config_cc(const fs::path &dot_config)
{
	if (!fs::exists(dot_config))
		return {};
	static const std::regex text_re(R"re(^CONFIG_CC_VERSION_TEXT="([^" ]+))re");
	for (auto &line : split_lines(read_file(dot_config))) {
		std::smatch m;
		if (std::regex_search(line, m, text_re))
			return find_program(m[1]) ? m[1].str() : "";
	}
	return {};
}

std::string kernel_cc(const Arch &arch, const std::string &kernel)
{
	const auto &gcc = Matrix::get().series(kernel).gcc;
	auto cc = arch.cross_compile + "gcc-" + gcc;
	if (!find_program(cc))
		fail("{} is not installed: kernel code for {} {} is built with the gcc Debian built that series with "
		     "(apt-get install {}; ./xuaccess installs it)",
		     cc, arch.name, kernel, kernel_cc_package(arch, gcc));
	return cc;
}

void kbuild(const KbuildRequest &req)
{
	const auto &arch = *req.arch;
	Kernel k;
	if (req.headers.empty()) {
		k = ensure_kernel(arch, req.series, Resolve::if_missing, req.quiet);
	} else {
		k.headers = req.headers;
		k.release = req.series;
	}
	auto src = Matrix::paths().source;
	// kbuild needs an absolute M= (a relative one is taken relative to the headers directory).
	auto obj = fs::absolute(req.out).parent_path() / (req.sparse ? "sparse-obj" : "obj");
	auto files = mirror_sources(src, obj);

	std::vector<std::string> argv = {"make", "-C", k.headers.string(), "M=" + obj.string(),
					 "ARCH=" + arch.kbuild_arch, "-j2",
					 // No BTF for the module: it needs pahole (6.12 runs it even without a vmlinux)
					 // and nothing here uses module BTF.
					 "CONFIG_DEBUG_INFO_BTF_MODULES="};
	if (!arch.cross_compile.empty())
		argv.push_back("CROSS_COMPILE=" + arch.cross_compile);
	if (auto cc = req.headers.empty() ? kernel_cc(arch, req.series) : req.cc; !cc.empty())
		argv.push_back("CC=" + cc);
	if (req.sparse) {
		// C=2 checks every file, whether or not it needs recompiling.
		argv.insert(argv.end(), {"C=2", "CHECK=sparse"});
	}
	argv.push_back("modules");
	auto r = run(argv);
	if (!r.ok())
		fail("kbuild failed for {} {} ({}):\n{}", arch.name, k.release, shell_quote(argv), trim(r.output));
	if (req.sparse) {
		auto d = diagnostics(r.output);
		if (!d.empty())
			fail("sparse/compiler diagnostics for {} {} ({}):\n{}", arch.name, k.release, d.size(),
			     fmt::join(d, "\n"));
	}
	if (req.sparse) {
		write_file(req.out, fmt::format("sparse: 0 warnings for {} {}\n", arch.name, k.release));
	} else {
		// Keep the module small for the initramfs: no debug info.
		fs::create_directories(req.out.parent_path());
		run_checked({arch.cross_compile + "strip", "--strip-debug", "-o", req.out.string(),
			     (obj / "xuaccess.ko").string()});
	}

	if (!req.depfile.empty() && !req.stamp.empty()) {
		std::string dep = req.stamp.string() + ":";
		for (auto &f : files)
			dep += " \\\n " + f.string();
		dep += " \\\n " + k.stamp.string() + "\n";
		write_file(req.depfile, dep);
	}
	if (!req.stamp.empty())
		write_file(req.stamp, k.release + "\n");
}

}  // namespace xua
