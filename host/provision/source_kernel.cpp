#include "provision/source_kernel.hpp"

#include "provision/debian_archive.hpp"
#include "provision/kbuild.hpp"
#include "base/cache_dir.hpp"
#include "base/process.hpp"

#include <cstdlib>
#include <pwd.h>
#include <unistd.h>
#include <regex>

#include <nlohmann/json.hpp>

namespace xua {
namespace {

// The newest version of linux-source-<series> in the series' Debian suite, or "" when apt cannot say (offline).
std::string source_version(const std::string &series)
{
	try {
		return DebianArchive::suite(Matrix::get().series(series).suite).field("linux-source-" + series, "Version");
	} catch (const Error &e) {
		fmt::print(stderr, "xuaccess: warning: {}\n", e.what());
		return {};
	}
}

}  // namespace

fs::path ensure_kunit_tools(const std::string &series, bool quiet)
{
	const std::string rel = "tools/testing/kunit";
	auto root = user_cache() / "kernel-src";
	fs::create_directories(root);
	FileLock lock(root / ("linux-source-" + series + ".lock"));
	auto version = source_version(series);
	auto usable = [&](const fs::path &dir) { return fs::exists(dir / "kunit_parser.py"); };
	// Any cached version will do offline; the newest known one otherwise.
	std::vector<std::string> versions;
	if (!version.empty())
		versions.push_back(version);
	for (auto &e : fs::directory_iterator(root))
		if (e.is_directory() && starts_with(e.path().filename().string(), series + "."))
			versions.push_back(e.path().filename().string());
	for (auto &v : versions) {
		if (fs::exists(root / v / ".complete") && usable(root / v / ("linux-source-" + series) / rel))
			return root / v / ("linux-source-" + series) / rel;
		if (usable(root / v / "kunit" / ("linux-source-" + series) / rel))
			return root / v / "kunit" / ("linux-source-" + series) / rel;
		if (version.empty())
			break;
	}
	if (version.empty())
		fail("Debian {} offers no linux-source-{} (see the warning above) and no KUnit tool is cached",
		     Matrix::get().series(series).suite, series);
	if (!quiet)
		fmt::print(stderr, "xuaccess: unpacking {} of linux-source-{} {} into {}\n", rel, series, version,
			   (root / version / "kunit").string());
	auto staging = root / (version + ".kunit.new");
	fs::remove_all(staging);
	fs::create_directories(staging / "deb");
	DebianArchive::suite(Matrix::get().series(series).suite)
		.download({"linux-source-" + series + "=" + version}, staging / "deb");
	std::string deb;
	for (auto &e : fs::directory_iterator(staging / "deb"))
		deb = e.path().string();
	auto member = "linux-source-" + series + "/" + rel;
	run_checked({"sh", "-c",
		     fmt::format("dpkg-deb --fsys-tarfile '{}' | tar -xO ./usr/src/linux-source-{}.tar.xz | xz -dc | "
				 "tar -x -C '{}' '{}'",
				 deb, series, staging.string(), member)});
	fs::remove_all(staging / "deb");
	if (!usable(staging / member))
		fail("linux-source-{} {} holds no {}/kunit_parser.py", series, version, rel);
	fs::create_directories(root / version);
	fs::remove_all(root / version / "kunit");
	fs::rename(staging, root / version / "kunit");
	return root / version / "kunit" / member;
}

namespace {

std::string compiler_version(const std::string &cc)
{
	auto out = run_checked({cc, "--version"});
	return split_lines(out).front();
}

std::vector<std::string> make_args(const Arch &arch, const std::string &cc, const fs::path &obj)
{
	std::vector<std::string> a = {"O=" + obj.string(), "ARCH=" + arch.kbuild_arch};
	if (!arch.cross_compile.empty())
		a.push_back("CROSS_COMPILE=" + arch.cross_compile);
	a.push_back("CC=ccache " + cc);
	return a;
}

std::map<std::string, std::string> build_env()
{
	// Reproducible version strings (the same tree rebuilt gives the same uname -v) and ccache in the cache.
	return {{"CCACHE_DIR", (user_cache() / "ccache").string()},
		{"KBUILD_BUILD_TIMESTAMP", "Thu Jan  1 00:00:00 UTC 2026"},
		{"KBUILD_BUILD_USER", "xuaccess"},
		{"KBUILD_BUILD_HOST", "xuaccess"}};
}

// Files compiled so far: kbuild's "  CC "/"  AS " lines in the build log (a rebuild recompiles only some).
size_t files_compiled(const fs::path &log)
{
	size_t n = 0;
	for (auto &line : split_lines(read_file(log)))
		n += starts_with(line, "  CC ") || starts_with(line, "  AS ");
	return n;
}

}  // namespace

std::optional<SourceKernelName> parse_source_kernel(const std::string &name)
{
	static const std::regex re(R"(^(\d+\.\d+)-(src|debug|mte)$)");
	std::smatch m;
	if (!std::regex_match(name, m, re))
		return std::nullopt;
	return SourceKernelName{m[1], m[2]};
}

bool is_source_kernel(const std::string &name)
{
	return parse_source_kernel(name).has_value();
}

size_t variant_fragment_count(const std::string &variant)
{
	return variant == "src" ? 2 : 3;
}

std::vector<std::string> kconfig_fragments(const Arch &arch, const std::string &variant,
					   const std::string &protection)
{
	std::vector<std::string> f = {"base", arch.name};
	if (variant != "src")
		f.push_back(variant);
	auto it = arch.kconfig.find(protection);
	if (it != arch.kconfig.end())
		f.push_back(it->second);
	return f;
}

std::map<std::string, std::string> parse_kconfig(std::string_view text)
{
	static const std::regex set_re(R"(^CONFIG_([A-Za-z0-9_]+)=(.*)$)");
	static const std::regex unset_re(R"(^# CONFIG_([A-Za-z0-9_]+) is not set$)");
	std::map<std::string, std::string> m;
	for (auto &raw : split_lines(text)) {
		auto line = trim(raw);
		std::smatch s;
		if (std::regex_match(line, s, set_re))
			m[s[1]] = s[2];
		else if (std::regex_match(line, s, unset_re))
			m[s[1]] = "n";
	}
	return m;
}

std::vector<std::string> kconfig_unmet(const std::map<std::string, std::string> &want,
				       const std::map<std::string, std::string> &config)
{
	std::vector<std::string> out;
	for (auto &[sym, val] : want) {
		auto it = config.find(sym);
		auto got = it == config.end() ? std::string("n") : it->second;
		if (got != val)
			out.push_back(fmt::format("CONFIG_{}={} (got: {})", sym, val, got));
	}
	return out;
}

std::vector<std::string> kconfig_diff(const std::map<std::string, std::string> &a,
				      const std::map<std::string, std::string> &b)
{
	std::vector<std::string> out;
	auto val = [](const std::map<std::string, std::string> &m, const std::string &k) {
		auto it = m.find(k);
		return it == m.end() ? std::string("n") : it->second;
	};
	std::map<std::string, int> keys;
	for (auto &[k, _] : a)
		keys[k];
	for (auto &[k, _] : b)
		keys[k];
	for (auto &[k, _] : keys)
		if (val(a, k) != val(b, k))
			out.push_back(fmt::format("CONFIG_{}: {} -> {}", k, val(a, k), val(b, k)));
	return out;
}

std::vector<std::string> kconfig_needs_unmet(const std::vector<KconfigNeed> &needs,
					     const std::map<std::string, std::string> &config)
{
	std::vector<std::string> out;
	for (auto &n : needs) {
		auto it = config.find(n.symbol);
		auto got = it == config.end() ? std::string("n") : it->second;
		bool ok = n.op == "=" ? got == n.value : false;
		if (n.op == ">=") {
			char *end = nullptr;
			long v = std::strtol(got.c_str(), &end, 0);
			ok = end && *end == '\0' && end != got.c_str() && v >= std::stol(n.value);
		}
		if (!ok)
			out.push_back(fmt::format("{} (got: {}): {}", n.text(), got, n.why));
	}
	return out;
}

fs::path tree_boot_image(const Arch &arch, const fs::path &obj, const std::map<std::string, std::string> &config)
{
	auto on = [&](const char *sym) {
		auto it = config.find(sym);
		return it != config.end() && it->second == "y";
	};
	if (arch.boot_image == "vmlinux")
		return on("PVH") && !on("KASAN") ? obj / "vmlinux" : obj / "arch" / arch.kbuild_arch / "boot" / "bzImage";
	return obj / "arch" / arch.kbuild_arch / "boot" / arch.boot_image;
}

std::string sha256_file(const fs::path &file)
{
	auto out = run_checked({"sha256sum", file.string()});
	return out.substr(0, 64);
}

std::string sha256_text(std::string_view text)
{
	auto dir = user_cache();
	fs::create_directories(dir);
	auto tmp = dir / fmt::format(".sha256.{}", getpid());
	write_file(tmp, text);
	auto h = sha256_file(tmp);
	fs::remove(tmp);
	return h;
}

fs::path user_cache()
{
	const char *xdg = std::getenv("XDG_CACHE_HOME");
	if (xdg && *xdg == '/')
		return fs::path(xdg) / "xuaccess";
	const char *home = std::getenv("HOME");
	if (home && *home)
		return fs::path(home) / ".cache" / "xuaccess";
	// A systemd service (the machine images' job) has no HOME: the user's home from the password database.
	if (const passwd *pw = getpwuid(geteuid()); pw && pw->pw_dir && *pw->pw_dir)
		return fs::path(pw->pw_dir) / ".cache" / "xuaccess";
	fail("neither XDG_CACHE_HOME nor HOME is set, and user {} has no home: no place for the kernel cache",
	     geteuid());
}

std::pair<fs::path, std::string> ensure_source(const std::string &series, bool quiet)
{
	auto root = user_cache() / "kernel-src";
	fs::create_directories(root);
	FileLock lock(root / ("linux-source-" + series + ".lock"));
	auto tree_of = [&](const std::string &v) { return root / v / ("linux-source-" + series); };
	auto complete = [&](const std::string &v) { return fs::exists(root / v / ".complete"); };
	auto version = source_version(series);
	if (version.empty()) {
		std::string best;
		if (fs::exists(root))
			for (auto &e : fs::directory_iterator(root))
				if (e.is_directory() && starts_with(e.path().filename().string(), series + ".") &&
				    fs::exists(tree_of(e.path().filename().string())) &&
				    complete(e.path().filename().string()))
					best = std::max(best, e.path().filename().string());
		if (best.empty())
			fail("Debian {} offers no linux-source-{} (see the warning above) and none is cached",
			     Matrix::get().series(series).suite, series);
		fmt::print(stderr, "xuaccess: warning: cannot resolve linux-source-{}; using the cached {}\n", series,
			   best);
		return {tree_of(best), best};
	}
	if (complete(version))
		return {tree_of(version), version};

	if (!quiet)
		fmt::print(stderr, "xuaccess: fetching and unpacking linux-source-{} {} into {}\n", series, version,
			   root.string());
	auto staging = root / (version + ".new");
	fs::remove_all(staging);
	fs::create_directories(staging / "deb");
	DebianArchive::suite(Matrix::get().series(series).suite)
		.download({"linux-source-" + series + "=" + version}, staging / "deb");
	for (auto &deb : fs::directory_iterator(staging / "deb"))
		run_checked({"dpkg-deb", "-x", deb.path().string(), (staging / "deb" / "x").string()});
	auto tarball = staging / "deb" / "x" / "usr" / "src" / ("linux-source-" + series + ".tar.xz");
	if (!fs::exists(tarball))
		fail("linux-source-{} {} holds no {}", series, version, tarball.string());
	run_checked({"tar", "-xJf", tarball.string(), "-C", staging.string()});
	fs::remove_all(staging / "deb");
	if (!fs::exists(staging / ("linux-source-" + series) / "Makefile"))
		fail("the linux-source-{} tarball did not unpack to linux-source-{}/", series, series);
	write_file(staging / ".complete", version + "\n");
	fs::remove_all(root / version);
	fs::rename(staging, root / version);
	return {tree_of(version), version};
}

std::string merge_fragments(const std::vector<std::string> &frags, const std::string &header)
{
	auto kdir = Matrix::paths().source / "ci" / "kconfig";
	std::string merged = header + fmt::format("# fragments {}\n", fmt::join(frags, " "));
	for (auto &f : frags) {
		auto p = kdir / (f + ".config");
		if (!fs::exists(p))
			fail("missing kernel config fragment {}", p.string());
		merged += read_file(p);
	}
	return merged;
}

void build_kernel_tree(const TreeBuild &b)
{
	const Arch &arch = *b.arch;
	auto margs = make_args(arch, b.cc, b.obj);
	auto env = build_env();
	fs::create_directories(b.obj);
	// Configure: allnoconfig with the fragments forced, then check that every line of them holds (an option
	// whose dependencies are missing is dropped silently by kconfig).
	std::vector<std::string> cfg = {"make", "-s", "-C", b.src.string()};
	cfg.insert(cfg.end(), margs.begin(), margs.end());
	cfg.insert(cfg.end(), {"KCONFIG_ALLCONFIG=" + b.fragment.string(), "allnoconfig"});
	auto r = run(cfg, {.env = env});
	if (!r.ok())
		fail("configuring {} failed ({}):\n{}", b.label, shell_quote(cfg), trim(r.output));
	auto unmet = kconfig_unmet(parse_kconfig(read_file(b.fragment)), parse_kconfig(read_file(b.obj / ".config")));
	if (!unmet.empty())
		fail("kernel config {}: {} fragment line(s) did not hold after allnoconfig (a typo, or a dependency "
		     "missing from ci/kconfig/):\n  {}",
		     b.label, unmet.size(), fmt::join(unmet, "\n  "));

	// Build: the boot image and modules (Module.symvers + modules_prepare for M= builds), niced (the machine
	// may be shared), one job per CPU this process may use, with a progress line every 30 s.
	unsigned jobs = usable_cpus();
	std::vector<std::string> argv = {"nice", "-n", "10", "make", "-C", b.src.string(), fmt::format("-j{}", jobs)};
	argv.insert(argv.end(), margs.begin(), margs.end());
	argv.insert(argv.end(), {b.image_target, "modules", "modules_prepare"});
	if (!b.quiet)
		fmt::print(stderr, "xuaccess: building kernel {} (make -j{}) in {} (log: {})\n", b.label, jobs,
			   b.obj.string(), b.log.string());
	std::function<void(double)> progress;
	if (!b.quiet)
		progress = [&](double s) {
			fmt::print(stderr, "xuaccess: building {}: {} files compiled, {:.0f} s\n", b.label, files_compiled(b.log), s);
		};
	run_logged(argv, b.log, "building kernel " + b.label, progress, {.cwd = b.src, .env = env});
}

namespace {

// What a kernel built from source is made of: the hash of `merged` (key) names its cache directory.
struct SourceBuild {
	SourceKernelName sk;
	fs::path src;                    // the unpacked linux-source-<series>
	std::string version;             // of linux-source-<series>
	std::string cc;                  // kernel_cc()
	std::vector<std::string> frags;  // kconfig_fragments()
	std::string header;              // the merged fragment's header: everything else the build depends on
	std::string merged;              // header and fragments
	std::string key, label;
	bool has_protection_fragment() const { return frags.size() > variant_fragment_count(sk.variant); }
};

// Unpacks the source when it is not yet, merges the cell's fragments and names the kernel.
SourceBuild plan_source_kernel(const Arch &arch, const std::string &name, const std::string &protection, bool quiet)
{
	auto sk = parse_source_kernel(name);
	if (!sk)
		fail("'{}' is not a kernel built from source (expected <series>-src, <series>-debug or <series>-mte)", name);
	SourceBuild b{.sk = *sk};
	std::tie(b.src, b.version) = ensure_source(sk->series, quiet);
	b.cc = kernel_cc(arch, name);

	// The merged fragment, with everything else the build depends on in its header: its hash is the key.
	b.frags = kconfig_fragments(arch, sk->variant, protection);
	b.header = fmt::format("# source linux-source-{} {}\n# arch {}\n# cc {}\n", sk->series, b.version, arch.name,
			       compiler_version(b.cc));
	b.merged = merge_fragments(b.frags, b.header);
	fs::create_directories(user_cache() / "kernels");
	b.key = sha256_text(b.merged).substr(0, 16);
	b.label = fmt::format("{}-{}", sk->series, arch.name);
	for (size_t i = 2; i < b.frags.size(); ++i)
		b.label += "-" + b.frags[i];
	return b;
}

// With a protection fragment: configure the base (same fragments without it) next to it, so results can
// say exactly which options differ from the kernel the "on" cell boots (compare accepts that alone).
nlohmann::json base_config_info(const Arch &arch, const SourceBuild &b, const Kernel &k)
{
	nlohmann::json base_info = nlohmann::json::object();
	auto bdir = k.dir / "base-config";
	fs::remove_all(bdir);
	fs::create_directories(bdir);
	std::string bmerged = merge_fragments({b.frags.begin(), b.frags.end() - 1}, b.header);
	write_file(bdir / "config.fragment", bmerged);
	std::vector<std::string> bcfg = {"make", "-s", "-C", b.src.string()};
	auto bargs = make_args(arch, b.cc, bdir);
	bcfg.insert(bcfg.end(), bargs.begin(), bargs.end());
	bcfg.insert(bcfg.end(), {"KCONFIG_ALLCONFIG=" + (bdir / "config.fragment").string(), "allnoconfig"});
	run_checked(bcfg, {.env = build_env()});
	base_info["base_config_sha256"] = sha256_file(bdir / ".config");
	base_info["config_diff_from_base"] =
		kconfig_diff(parse_kconfig(read_file(bdir / ".config")), parse_kconfig(read_file(k.headers / ".config")));
	fs::copy_file(bdir / ".config", k.dir / "base.config", fs::copy_options::overwrite_existing);
	fs::remove_all(bdir);
	return base_info;
}

// Builds the kernel into k.dir (obj/, config.fragment, build.log, base.config) and writes its stamp last.
void build_source_kernel(const Arch &arch, const std::string &name, const SourceBuild &b, Kernel &k, bool quiet)
{
	fs::create_directories(k.headers);
	write_file(k.dir / "config.fragment", b.merged);
	auto t0 = std::chrono::steady_clock::now();
	build_kernel_tree({.arch = &arch, .src = b.src, .obj = k.headers, .fragment = k.dir / "config.fragment",
			   .log = k.dir / "build.log", .cc = b.cc, .label = b.label,
			   .image_target = k.boot_image.filename().string(), .quiet = quiet});
	auto log = k.dir / "build.log";
	k.release = trim(read_file(k.headers / "include" / "config" / "kernel.release"));
	if (!fs::exists(k.boot_image))
		fail("kernel {} built, but {} is missing", b.label, k.boot_image.string());
	double secs = seconds_since(t0);
	auto config_hash = sha256_file(k.headers / ".config");
	nlohmann::json base_info = b.has_protection_fragment() ? base_config_info(arch, b, k) : nlohmann::json::object();
	nlohmann::json j = {{"arch", arch.name},
			    {"name", name},
			    {"series", b.sk.series},
			    {"variant", b.sk.variant},
			    {"protection_fragment", b.has_protection_fragment() ? b.frags.back() : ""},
			    {"fragments", b.frags},
			    {"release", k.release},
			    {"version", b.version},
			    {"image_pkg", k.image_pkg},
			    {"key", b.key},
			    {"config_sha256", config_hash},
			    {"build_seconds", secs},
			    {"files_compiled", files_compiled(log)},
			    {"boot_image", k.boot_image.string()}};
	j.update(base_info);
	write_stamp(k.stamp, j);
	if (!quiet)
		fmt::print(stderr, "xuaccess: kernel {} ({}) built in {:.0f} s\n", b.label, k.release, secs);
}

}  // namespace

Kernel ensure_source_kernel(const Arch &arch, const std::string &name, const std::string &protection, bool quiet)
{
	const SourceBuild b = plan_source_kernel(arch, name, protection, quiet);
	Kernel k;
	k.dir = user_cache() / "kernels" / (b.label + "-" + b.key);
	k.stamp = k.dir / "kernel.json";
	k.version = b.version;
	k.image_pkg = "linux-source-" + b.sk.series;
	k.headers = k.dir / "obj";
	// The fragments decide the image (x86 debug kernels, KASAN, boot the bzImage: tree_boot_image).
	k.boot_image = tree_boot_image(arch, k.headers, parse_kconfig(b.merged));
	FileLock lock(k.dir.string() + ".lock");
	if (read_stamp(k.stamp, "building again", [&](const nlohmann::json &j) { k.release = j.at("release"); }) &&
	    fs::exists(k.boot_image) && fs::exists(k.headers / "Module.symvers"))
		return k;
	if (fs::exists(k.stamp))
		fs::remove(k.stamp);  // it does not parse, or its build is incomplete: built again
	build_source_kernel(arch, name, b, k, quiet);
	return k;
}

}  // namespace xua
