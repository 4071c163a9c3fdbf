#include "provision/own_kernel.hpp"

#include <algorithm>
#include <cctype>
#include <regex>

#include "provision/source_kernel.hpp"
#include "base/process.hpp"

#include "shared/results_schema.hpp"

namespace xua {
namespace {

const char *form_name(OwnKernel::Form f)
{
	return f == OwnKernel::Form::tree ? "build tree" : "Debian packages";
}

std::vector<fs::path> deb_files(const fs::path &dir)
{
	std::vector<fs::path> v;
	for (auto &e : fs::directory_iterator(dir))
		if (e.is_regular_file() && e.path().extension() == ".deb")
			v.push_back(e.path());
	std::sort(v.begin(), v.end());
	return v;
}

// The package name of a .deb as apt-get download names it: <package>_<version>_<arch>.deb.
std::string deb_package(const fs::path &deb)
{
	auto name = deb.filename().string();
	return name.substr(0, name.find('_'));
}

// The release an image package carries (linux-image-6.1.0-56-amd64[-unsigned] -> 6.1.0-56-amd64), or "" for
// anything else (meta packages such as linux-image-amd64, debug symbols).
std::string image_release(const std::string &pkg)
{
	static const std::regex re(R"(^linux-image-(\d[A-Za-z0-9.+~-]*?)(-unsigned)?$)");
	std::smatch m;
	if (!std::regex_match(pkg, m, re) || pkg.ends_with("-dbg"))
		return "";
	return m[1];
}

std::string deb_field(const fs::path &deb, const std::string &field)
{
	return trim(run_checked({"dpkg-deb", "-f", deb.string(), field}));
}

// The packages among linux-headers-* and linux-kbuild-* that a headers package depends on.
std::vector<std::string> header_deps(const fs::path &headers_deb)
{
	std::vector<std::string> deps;
	static const std::regex name_re(R"((?:^|, | \| )(linux-(?:headers|kbuild)-[a-z0-9][a-z0-9+.-]*))");
	auto line = deb_field(headers_deb, "Depends");
	for (std::sregex_iterator it(line.begin(), line.end(), name_re), end; it != end; ++it)
		deps.push_back((*it)[1]);
	return deps;
}

// `git describe` of the tree's sources (an O= tree's `source` link, else the tree) when they are the top of a
// git work tree (not merely inside one), else "".
std::string git_describe(const fs::path &tree)
{
	auto src = fs::exists(tree / "source") ? fs::canonical(tree / "source") : tree;
	auto top = run({"git", "-C", src.string(), "rev-parse", "--show-toplevel"});
	if (!top.ok() || fs::path(trim(top.output)) != src)
		return "";
	auto d = run({"git", "-C", src.string(), "describe", "--always", "--dirty", "--tags"});
	return d.ok() ? trim(d.output) : "";
}

// The arch whose kconfig_arch symbol the config sets, or null.
const Arch *arch_of(const std::map<std::string, std::string> &config)
{
	const auto &m = Matrix::get();
	for (auto &name : m.arch_names()) {
		const auto &a = m.arch(name);
		auto it = config.find(a.kconfig_arch);
		if (it != config.end() && it->second == "y")
			return &a;
	}
	return nullptr;
}

std::string arch_symbols()
{
	std::vector<std::string> v;
	for (auto &name : Matrix::get().arch_names())
		v.push_back("CONFIG_" + Matrix::get().arch(name).kconfig_arch + " (" + name + ")");
	return fmt::format("{}", fmt::join(v, " or "));
}

std::string mtime_and_size(const fs::path &p)
{
	auto t = fs::last_write_time(p).time_since_epoch();
	return fmt::format("{} {}", fs::file_size(p), std::chrono::duration_cast<std::chrono::nanoseconds>(t).count());
}

[[noreturn]] void refuse_with(const fs::path &path, OwnKernel::Form form, const std::vector<std::string> &problems)
{
	refuse("--kernel {} ({}) cannot run a cell:\n  - {}", path.string(),
	       form == OwnKernel::Form::tree ? "a kernel build tree" : "a directory of .deb files",
	       fmt::join(problems, "\n  - "));
}

// The checks both forms share once the .config is known: the arch, and what the guest needs.
void check_config(OwnKernel &ok, std::vector<std::string> &problems)
{
	ok.arch = arch_of(ok.config);
	if (!ok.arch) {
		problems.push_back(fmt::format("the .config sets neither {}: xuaccess runs only those guests", arch_symbols()));
		return;
	}
	for (auto &u : kconfig_needs_unmet(ok.arch->kernel_needs, ok.config))
		problems.push_back("missing option " + u);
}

void inspect_tree(OwnKernel &ok)
{
	std::vector<std::string> problems;
	const auto &t = ok.path;
	ok.headers = t;
	ok.config = parse_kconfig(read_file(t / ".config"));
	ok.config_sha256 = sha256_file(t / ".config");
	if (fs::exists(t / "include/config/kernel.release"))
		ok.release = trim(read_file(t / "include/config/kernel.release"));
	if (ok.release.empty())
		problems.push_back("no include/config/kernel.release: the kernel is not built (make, then make "
				   "modules_prepare)");
	check_config(ok, problems);
	if (ok.arch) {
		ok.boot_image = tree_boot_image(*ok.arch, t, ok.config);
		if (!fs::exists(ok.boot_image))
			problems.push_back(fmt::format("no {}: build the image (make {}{})", fs::relative(ok.boot_image, t).string(),
						       ok.boot_image.filename().string(),
						       ok.arch->cross_compile.empty()
							       ? ""
							       : " ARCH=" + ok.arch->kbuild_arch + " CROSS_COMPILE=" + ok.arch->cross_compile));
	}
	for (auto f : {"include/generated/autoconf.h", "scripts/mod/modpost"})
		if (!fs::exists(t / f)) {
			problems.push_back(fmt::format("no {}: the module cannot be built against it (make modules_prepare)", f));
			break;
		}
	if (!problems.empty())
		refuse_with(t, ok.form, problems);
	ok.label = own_kernel_label(ok.form, ok.release);
	ok.key = sha256_text(fmt::format("tree {}\nimage {} {}\nconfig {}\n", t.string(), ok.boot_image.string(),
					 mtime_and_size(ok.boot_image), ok.config_sha256))
			 .substr(0, 16);
	ok.dir = user_cache() / "kernels" / (ok.label + "-" + ok.key);
}

void inspect_debs(OwnKernel &ok, const std::vector<fs::path> &all)
{
	std::vector<std::string> problems;
	std::vector<std::string> names;
	std::map<std::string, fs::path> by_pkg;
	for (auto &d : all) {
		names.push_back(d.filename().string());
		by_pkg[deb_package(d)] = d;
	}
	std::vector<fs::path> images;
	for (auto &[pkg, d] : by_pkg)
		if (!image_release(pkg).empty())
			images.push_back(d);
	if (images.size() != 1)
		refuse_with(ok.path, ok.form,
			    {fmt::format("{} linux-image-<release>_*.deb (one is needed; the directory holds: {})",
					 images.empty() ? "no" : "more than one", fmt::join(names, ", "))});
	ok.image_pkg = deb_package(images.front());
	ok.release = image_release(ok.image_pkg);
	ok.debs = {images.front()};
	auto headers_pkg = "linux-headers-" + ok.release;
	auto h = by_pkg.find(headers_pkg);
	if (h == by_pkg.end())
		refuse_with(ok.path, ok.form,
			    {fmt::format("no {}_*.deb: the module is built against the image's headers (the directory holds: {})",
					 headers_pkg, fmt::join(names, ", "))});
	ok.version = deb_field(images.front(), "Version");
	ok.debs.push_back(h->second);
	for (auto &dep : header_deps(h->second)) {
		auto d = by_pkg.find(dep);
		if (d == by_pkg.end())
			problems.push_back(fmt::format("no {}_*.deb ({} depends on it)", dep, headers_pkg));
		else if (std::find(ok.debs.begin(), ok.debs.end(), d->second) == ok.debs.end())
			ok.debs.push_back(d->second);
	}
	if (!problems.empty())
		refuse_with(ok.path, ok.form, problems);

	std::string ident = "debs\n";
	for (auto &d : ok.debs)
		ident += d.filename().string() + " " + mtime_and_size(d) + "\n";
	ok.label = own_kernel_label(ok.form, ok.release);
	ok.key = sha256_text(ident).substr(0, 16);
	ok.dir = user_cache() / "kernels" / (ok.label + "-" + ok.key);
	ok.headers = ok.dir / "root/usr/src" / headers_pkg;

	// The .config: from the unpacked headers when the cache has them, else out of the headers package alone.
	auto config = ok.headers / ".config";
	if (!fs::exists(ok.dir / "kernel.json") || !fs::exists(config)) {
		auto tmp = user_cache() / "kernels" / fmt::format(".config-{}", getpid());
		fs::remove_all(tmp);
		fs::create_directories(tmp);
		auto tar = tmp / "headers.tar";
		run_checked({"dpkg-deb", "--fsys-tarfile", h->second.string()}, {.stdout_file = tar});
		auto member = "./usr/src/" + headers_pkg + "/.config";
		auto r = run({"tar", "-xf", tar.string(), "-C", tmp.string(), member});
		config = tmp / member;
		if (!r.ok() || !fs::exists(config)) {
			fs::remove_all(tmp);
			refuse_with(ok.path, ok.form, {fmt::format("{} holds no {}", h->second.filename().string(), member)});
		}
		ok.config = parse_kconfig(read_file(config));
		ok.config_sha256 = sha256_file(config);
		fs::remove_all(tmp);
	} else {
		ok.config = parse_kconfig(read_file(config));
		ok.config_sha256 = sha256_file(config);
	}
	check_config(ok, problems);
	if (!problems.empty())
		refuse_with(ok.path, ok.form, problems);
	ok.boot_image = ok.dir / ok.arch->boot_image;
}

}  // namespace

bool is_kernel_path(const std::string &name)
{
	return name.find('/') != std::string::npos;
}

std::string own_kernel_label(OwnKernel::Form form, const std::string &release)
{
	std::string safe = release;
	for (auto &ch : safe)
		if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '+' && ch != '-')
			ch = '_';
	return (form == OwnKernel::Form::tree ? "tree-" : "deb-") + safe;
}

OwnKernel inspect_own_kernel(const fs::path &path)
{
	OwnKernel ok;
	if (!fs::is_directory(path))
		refuse("--kernel {}: no such directory (a kernel given as a path is a build tree or a directory of .deb "
		       "files)",
		       path.string());
	ok.path = fs::canonical(path);
	if (fs::exists(ok.path / ".config")) {
		ok.form = OwnKernel::Form::tree;
		inspect_tree(ok);
		return ok;
	}
	auto debs = deb_files(ok.path);
	if (debs.empty())
		refuse("--kernel {}: neither a kernel build tree (no .config) nor a directory of .deb files", path.string());
	ok.form = OwnKernel::Form::debs;
	inspect_debs(ok, debs);
	return ok;
}

const OwnKernel &own_kernel(const fs::path &path)
{
	static std::map<fs::path, OwnKernel> seen;
	auto abs = fs::absolute(path).lexically_normal();
	if (auto it = seen.find(abs); it != seen.end())
		return it->second;
	return seen[abs] = inspect_own_kernel(abs);
}

Kernel ensure_own_kernel(const OwnKernel &ok, Resolve resolve, bool quiet)
{
	Kernel k;
	k.dir = ok.dir;
	k.stamp = ok.dir / "kernel.json";
	k.release = ok.release;
	k.headers = ok.headers;
	k.boot_image = ok.boot_image;
	fs::create_directories(ok.dir.parent_path());
	FileLock lock(ok.dir.string() + ".lock");
	nlohmann::json cached;
	if (fs::exists(k.stamp))
		try {
			cached = nlohmann::json::parse(read_file(k.stamp));
		} catch (const nlohmann::json::exception &e) {
			fmt::print(stderr, "xuaccess: warning: {} does not parse ({}): writing it again\n", k.stamp.string(),
				   e.what());
		}

	nlohmann::json j = {{"form", form_name(ok.form)},
			    {"path", ok.path.string()},
			    {"arch", ok.arch->name},
			    {"release", ok.release},
			    {"label", ok.label},
			    {"key", ok.key},
			    {"config_sha256", ok.config_sha256},
			    {"boot_image", ok.boot_image.string()}};
	if (ok.form == OwnKernel::Form::tree) {
		// Results say "kernel tree /path: git v6.1-rc1-2-gabc" (xua_kernel_package is image_pkg + " " + version).
		k.image_pkg = "kernel tree " + ok.path.string() + ":";
		std::string describe = !cached.is_null() && resolve == Resolve::if_missing ? cached.value("git_describe", "")
											     : git_describe(ok.path);
		k.version = describe.empty() ? "not a git tree" : "git " + describe;
		j["git_describe"] = describe;
	} else {
		k.image_pkg = ok.image_pkg;
		k.version = ok.version;
		j["image_pkg"] = ok.image_pkg;
		j["version"] = ok.version;
		std::vector<std::string> names;
		for (auto &d : ok.debs)
			names.push_back(d.filename().string());
		j["packages"] = names;
		if (cached.is_null() || !fs::exists(k.boot_image) || !headers_complete(k.headers)) {
			if (!quiet)
				fmt::print(stderr, "xuaccess: unpacking {} ({}) into {}\n", fmt::join(names, ", "), ok.path.string(),
					   ok.dir.string());
			fs::path staging = ok.dir;
			staging += ".new";
			fs::remove_all(staging);
			fs::create_directories(staging);
			unpack_debian_kernel(*ok.arch, ok.release, ok.debs, staging / "root", ok.dir / "root",
					     staging / ok.arch->boot_image);
			fs::remove_all(ok.dir);
			fs::rename(staging, ok.dir);
			cached = nullptr;
			if (!headers_complete(k.headers) || !fs::exists(k.headers / "scripts/mod/modpost"))
				fail("--kernel {}: the unpacked headers in {} are incomplete (no -common Makefile or no kbuild "
				     "scripts): add the linux-headers-*-common and linux-kbuild-* packages they come with",
				     ok.path.string(), k.headers.string());
		}
	}
	if (cached.is_null() || cached != j)
		write_file(k.stamp, j.dump(2) + "\n");
	return k;
}

nlohmann::json own_kernel_context(const Kernel &k)
{
	auto j = nlohmann::json::parse(read_file(k.stamp));
	nlohmann::json ctx = {{keys::kernel_path, j.value("path", "")},
			      {keys::kernel_form, j.value("form", "")},
			      {keys::kernel_config_sha256, j.value("config_sha256", "")}};
	if (j.contains("git_describe"))
		ctx[keys::kernel_git_describe] = j["git_describe"];
	return ctx;
}

}  // namespace xua
