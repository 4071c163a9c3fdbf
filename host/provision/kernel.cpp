#include "provision/kernel.hpp"

#include "provision/debian_archive.hpp"
#include "base/cache_dir.hpp"
#include "base/process.hpp"

#include <cstring>
#include <regex>

#include <nlohmann/json.hpp>

namespace xua {
namespace {

// Always qualified: which arch is the machine's own depends on the machine (an arm64 host fetches :amd64).
std::string pkg_arch(const std::string &pkg, const Arch &a)
{
	return pkg + ":" + a.debian_arch;
}

// The package names in a control stanza's Depends field (alternatives included, versions dropped).
std::vector<std::string> depends_of(const std::string &stanza)
{
	std::vector<std::string> deps;
	auto line = "Depends: " + control_field(stanza, "Depends");
	static const std::regex name_re(R"((?:^Depends: |, | \| )([a-z0-9][a-z0-9+.-]+))");
	for (std::sregex_iterator it(line.begin(), line.end(), name_re), end; it != end; ++it)
		deps.push_back((*it)[1]);
	return deps;
}

void extract_vmlinux(const fs::path &bzimage, const fs::path &out)
{
	auto img = read_file(bzimage);
	auto p = bzimage_payload(img);
	static const std::map<std::string, std::vector<std::string>> tools = {
		{"xz", {"xz", "-dc"}}, {"gzip", {"gzip", "-dc"}}, {"zstd", {"zstd", "-dc"}},
		{"lzma", {"xz", "--format=lzma", "-dc"}}, {"bzip2", {"bzip2", "-dc"}}, {"lz4", {"lz4", "-dc"}}};
	auto tool = tools.find(p.compression);
	if (tool == tools.end())
		fail("{}: unknown bzImage payload compression; cannot extract vmlinux", bzimage.string());
	auto payload_file = out;
	payload_file += ".payload";
	// arch/x86/boot/compressed appends the 4-byte uncompressed size to every payload but gzip's
	// (cmd_*_with_size): the decompressors would take it for the start of a second stream.
	size_t len = p.compression == "gzip" ? p.length : p.length - 4;
	write_file(payload_file, std::string_view(img).substr(p.offset, len));
	auto argv = tool->second;
	argv.push_back(payload_file.string());
	auto r = run(argv, {.stdout_file = out, .capture = true, .merge_stderr = true});
	fs::remove(payload_file);
	auto head = read_file(out).substr(0, 4);
	if (!r.ok() || head != "\x7f" "ELF")
		fail("extracting vmlinux from {} with {} failed: {}", bzimage.string(), p.compression, trim(r.output));
}

}  // namespace

std::pair<std::string, std::string> resolve_series_meta(const std::string &meta, const std::string &stanza,
							const std::string &series, const std::string &suite)
{
	static const std::regex dep_re(R"(^(linux-image-[^ ,]+) \(= ([^)]+)\))");
	std::smatch m;
	auto deps = control_field(stanza, "Depends");
	if (!std::regex_search(deps, m, dep_re))
		fail("{} has no 'Depends: linux-image-... (= version)' in Debian {}: cannot resolve the concrete kernel",
		     meta, suite);
	std::string pkg = m[1], version = m[2];
	// The upstream version (before the Debian revision) must be <series>.<patch>: a meta package that moved
	// on to the next series (linux-image-amd64 is 6.12 in trixie) must not boot in a cell named for this one.
	if (!starts_with(version, series + "."))
		refuse("kernel series {}: {} in Debian {} resolves to {} {}, which is not a {} kernel; refusing to boot "
		       "it in a cell named {} (ci/matrix.json names the suite and meta package of each series)",
		       series, meta, suite, pkg, version, series, series);
	return {pkg, version};
}

BzPayload bzimage_payload(std::string_view img)
{
	auto u32 = [&](size_t off) {
		uint32_t v;
		std::memcpy(&v, img.data() + off, 4);
		return v;
	};
	if (img.size() < 0x260 || img.substr(0x202, 4) != "HdrS")
		fail("not an x86 bzImage (no HdrS setup header)");
	size_t setup_sects = static_cast<unsigned char>(img[0x1f1]);
	if (setup_sects == 0)
		setup_sects = 4;
	BzPayload p;
	p.offset = (setup_sects + 1) * 512 + u32(0x248);
	p.length = u32(0x24c);
	if (p.offset + p.length > img.size() || p.length < 8)
		fail("bzImage payload out of range (offset {}, length {}, file {})", p.offset, p.length, img.size());
	auto m = img.substr(p.offset, 6);
	if (m == std::string_view("\xfd" "7zXZ\0", 6))
		p.compression = "xz";
	else if (m.substr(0, 2) == "\x1f\x8b")
		p.compression = "gzip";
	else if (m.substr(0, 4) == "\x28\xb5\x2f\xfd")
		p.compression = "zstd";
	else if (m.substr(0, 3) == "BZh")
		p.compression = "bzip2";
	else if (m.substr(0, 4) == "\x02\x21\x4c\x18")
		p.compression = "lz4";
	else if (m.substr(0, 3) == std::string_view("\x5d\x00\x00", 3))
		p.compression = "lzma";
	return p;
}

bool headers_complete(const fs::path &headers)
{
	auto mk = headers / "Makefile";
	if (!fs::exists(mk) || !fs::exists(headers / "scripts" / "Makefile.build"))
		return false;
	auto text = read_file(mk);
	auto pos = text.find("include ");
	return pos != std::string::npos && fs::exists(trim(text.substr(pos + 8, text.find('\n', pos) - pos - 8)));
}

void unpack_debian_kernel(const Arch &arch, const std::string &release, const std::vector<fs::path> &debs,
			  const fs::path &root, const fs::path &final_root, const fs::path &boot_image)
{
	fs::create_directories(root);
	for (auto &deb : debs) {
		auto name = deb.filename().string();
		if (starts_with(name, "linux-image-")) {
			// Only /boot is needed from the image: skip the ~400 MB of modules.
			auto tar = root.parent_path() / "image.tar";
			run_checked({"dpkg-deb", "--fsys-tarfile", deb.string()}, {.stdout_file = tar});
			run_checked({"tar", "-xf", tar.string(), "-C", root.string(), "./boot"});
			fs::remove(tar);
		} else {
			run_checked({"dpkg-deb", "-x", deb.string(), root.string()});
		}
	}

	// The flavour Makefile includes the -common Makefile by an absolute /usr/src path; point it at ours (the
	// final place, after the caller moved root there).
	auto mk = root / "usr/src" / ("linux-headers-" + release) / "Makefile";
	if (!fs::exists(mk))
		fail("the packages hold no {} (linux-headers-{} missing?)", fs::relative(mk, root).string(), release);
	auto text = read_file(mk);
	auto pos = text.find("include /usr/src/");
	if (pos == std::string::npos)
		fail("{}: unexpected content, no 'include /usr/src/': {}", mk.string(), text);
	text.replace(pos, std::strlen("include /usr/src/"), "include " + (final_root / "usr/src").string() + "/");
	write_file(mk, text);

	auto vmlinuz = root / "boot" / ("vmlinuz-" + release);
	if (!fs::exists(vmlinuz))
		fail("the image package holds no {}", fs::relative(vmlinuz, root).string());
	if (arch.boot_image == "vmlinux") {
		extract_vmlinux(vmlinuz, boot_image);
	} else {
		auto img = read_file(vmlinuz);
		if (starts_with(img, "\x1f\x8b"))
			run_checked({"gzip", "-dc", vmlinuz.string()}, {.stdout_file = boot_image});
		else
			fs::copy_file(vmlinuz, boot_image, fs::copy_options::overwrite_existing);
	}
}

namespace {

// The cached kernel.json of (arch, series); null when there is none, or when it is not of this series: a kernel
// cached before series were checked (or fetched through a host's own sources, where the meta package may name
// the next series) is fetched again.
nlohmann::json cached_kernel(const fs::path &stamp, const std::string &series)
{
	nlohmann::json cached;
	read_stamp(stamp, "fetching the kernel again", [&](const nlohmann::json &j) { cached = j; });
	if (!cached.is_null() && !starts_with(cached.value("version", ""), series + "."))
		cached = nullptr;
	return cached;
}

// The concrete image package and version into k: the cached ones (if_missing), or those the meta package resolves
// to now; the cached ones after all when that fails (offline, say), unless it was refused.
void resolve_image(Kernel &k, nlohmann::json &cached, Resolve resolve, const std::string &meta,
		   const std::string &series, const DebianArchive &archive)
{
	if (resolve == Resolve::if_missing && !cached.is_null()) {
		k.image_pkg = cached["image_pkg"];
		k.version = cached["version"];
		return;
	}
	try {
		std::tie(k.image_pkg, k.version) = resolve_series_meta(meta, archive.show(meta), series, archive.spec().suite);
	} catch (const Refused &) {
		throw;
	} catch (const Error &e) {
		if (cached.is_null())
			throw;
		fmt::print(stderr, "xuaccess: warning: {}; using the cached kernel {}\n", e.what(),
			   cached["release"].get<std::string>());
		k.image_pkg = cached["image_pkg"];
		k.version = cached["version"];
	}
}

// The packages of k: the image and the flavour headers with what they need to build modules.
std::vector<std::string> kernel_packages(const Arch &arch, const Kernel &k, const DebianArchive &archive)
{
	std::string headers_pkg = "linux-headers-" + k.release;
	std::vector<std::string> pkgs = {pkg_arch(k.image_pkg, arch), pkg_arch(headers_pkg, arch)};
	// The flavour headers depend on their -common headers and on linux-kbuild (Multi-Arch: foreign, fetched
	// unqualified: the machine's own kbuild tools build modules for either arch).
	for (auto &dep : depends_of(archive.show(pkg_arch(headers_pkg, arch)))) {
		if (starts_with(dep, "linux-headers-") && dep.find("-common") != std::string::npos)
			pkgs.push_back(dep);
		else if (starts_with(dep, "linux-kbuild-"))
			pkgs.push_back(dep);
	}
	return pkgs;
}

// Puts the complete directory `staging` in the place of `dir`: the old one moved aside (<dir>.old) first and
// removed last.
void replace_dir(const fs::path &dir, const fs::path &staging)
{
	fs::path old = dir;
	old += ".old";
	fs::remove_all(old);
	if (fs::exists(dir))
		fs::rename(dir, old);
	fs::rename(staging, dir);
	fs::remove_all(old);
}

// Fetches and unpacks k's packages into k.dir, its stamp kernel.json included.
void fetch_kernel(const Arch &arch, const std::string &series, const Kernel &k, const DebianArchive &archive,
		  bool quiet)
{
	if (!quiet)
		fmt::print(stderr, "xuaccess: fetching Debian kernel {} {} for {}\n", k.image_pkg, k.version,
			   arch.name);
	const auto pkgs = kernel_packages(arch, k, archive);
	// Everything is fetched and unpacked into a staging directory; the cached kernel is replaced only once the
	// new one is complete (an interrupted or failed download leaves the old one usable).
	fs::path staging = k.dir;
	staging += ".new";
	fs::remove_all(staging);
	const auto sroot = staging / "root";
	auto debs = staging / "debs";
	fs::create_directories(debs);
	fs::create_directories(sroot);
	const auto boot_image = staging / arch.boot_image;
	archive.download(pkgs, debs);
	std::vector<fs::path> files;
	for (auto &deb : fs::directory_iterator(debs))
		files.push_back(deb.path());
	unpack_debian_kernel(arch, k.release, files, sroot, k.dir / "root", boot_image);
	fs::remove_all(debs);
	nlohmann::json j = {{"arch", arch.name},       {"series", series},     {"release", k.release},
			    {"version", k.version},      {"image_pkg", k.image_pkg}, {"packages", pkgs},
			    {"suite", archive.spec().suite}, {"boot_image", k.boot_image.string()}};
	write_stamp(staging / "kernel.json", j);
	replace_dir(k.dir, staging);
}

}  // namespace

Kernel ensure_kernel(const Arch &arch, const std::string &series, Resolve resolve, bool quiet)
{
	const auto &m = Matrix::get();
	Kernel k;
	k.dir = Matrix::paths().cache() / "kernels" / (arch.name + "-" + series);
	k.stamp = k.dir / "kernel.json";
	FileLock lock(k.dir.string() + ".lock");

	std::string meta = pkg_arch(m.image_meta(series, arch), arch);
	const auto &archive = DebianArchive::suite(m.series(series).suite);
	nlohmann::json cached = cached_kernel(k.stamp, series);
	resolve_image(k, cached, resolve, meta, series, archive);
	static const std::regex image_re("^linux-image-(.+?)(-unsigned)?$");
	std::smatch mm;
	if (!std::regex_match(k.image_pkg, mm, image_re))
		fail("{} resolves to {}, which does not look like a kernel image package", meta, k.image_pkg);
	k.release = mm[1];
	k.headers = k.dir / "root" / "usr/src" / ("linux-headers-" + k.release);
	k.boot_image = k.dir / arch.boot_image;

	if (!cached.is_null() && cached["image_pkg"] == k.image_pkg && cached["version"] == k.version &&
	    fs::exists(k.boot_image) && headers_complete(k.headers))
		return k;
	fetch_kernel(arch, series, k, archive, quiet);
	return k;
}

}  // namespace xua
