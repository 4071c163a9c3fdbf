#include "provision/initramfs.hpp"

#include "provision/debian_archive.hpp"
#include "base/process.hpp"

#include <regex>
#include <set>

#include <sys/stat.h>

namespace xua {

void CpioWriter::entry(const std::string &path, unsigned mode, std::string_view data)
{
	std::string name = path;
	while (!name.empty() && name.front() == '/')
		name.erase(0, 1);
	auto pad4 = [this] {
		while (out_.size() % 4)
			out_ += '\0';
	};
	// newc header: magic + 13 eight-digit hex fields.
	out_ += fmt::format("070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
			    ino_++, mode, 0, 0, S_ISDIR(mode) ? 2 : 1, 0, data.size(), 0, 0, 0, 0, name.size() + 1,
			    0);
	out_ += name;
	out_ += '\0';
	pad4();
	out_ += data;
	pad4();
}

void CpioWriter::dir(const std::string &path, unsigned mode)
{
	entry(path, S_IFDIR | mode, {});
}

void CpioWriter::file(const std::string &path, std::string_view data, unsigned mode)
{
	entry(path, S_IFREG | mode, data);
}

void CpioWriter::symlink(const std::string &path, const std::string &target)
{
	entry(path, S_IFLNK | 0777, target);
}

std::string CpioWriter::finish()
{
	entry("TRAILER!!!", 0, {});
	return std::move(out_);
}

std::vector<GuestFile> shared_library_closure(const Arch &arch, const fs::path &program)
{
	// First match wins, for the loader as for the libraries: ld.so and libc.so.6 must come from the same
	// glibc build (their private ABI differs between Debian revisions: a mixed pair hangs in fork()).
	// Multiarch (:arm64 or :amd64) packages first, then the cross toolchain's own libraries.
	const std::vector<fs::path> dirs = {"/lib/" + arch.gnu_triplet, "/usr/lib/" + arch.gnu_triplet,
					    "/usr/" + arch.gnu_triplet + "/lib"};
	static const std::regex needed_re(R"(\(NEEDED\)\s+Shared library: \[([^\]]+)\])");
	static const std::regex interp_re(R"(Requesting program interpreter: ([^\]]+)\])");
	std::vector<GuestFile> result;
	std::set<std::string> seen;
	std::vector<fs::path> todo = {program};
	while (!todo.empty()) {
		auto f = todo.back();
		todo.pop_back();
		auto out = run_checked({"readelf", "-d", "-l", "-W", f.string()});
		std::vector<std::string> names;
		for (std::sregex_iterator it(out.begin(), out.end(), needed_re), end; it != end; ++it)
			names.push_back((*it)[1]);
		std::smatch m;
		if (std::regex_search(out, m, interp_re) && seen.insert(m[1]).second) {
			// The loader must sit at its absolute path in the guest.
			fs::path interp = m[1].str();
			fs::path found;
			for (auto &d : dirs)
				if (found.empty() && fs::exists(d / interp.filename()))
					found = d / interp.filename();
			if (found.empty())
				fail("{} needs the loader {}, not found for {}", f.string(), interp.string(), arch.name);
			result.push_back({interp, found});
		}
		for (auto &n : names) {
			if (!seen.insert(n).second)
				continue;
			fs::path found;
			for (auto &d : dirs)
				if (found.empty() && fs::exists(d / n))
					found = fs::canonical(d / n);
			if (found.empty())
				fail("{} needs {}, which is not installed for {} (install the :{} package)", f.string(),
				     n, arch.name, arch.debian_arch);
			result.push_back({fs::path("/lib") / n, found});
			todo.push_back(found);
		}
	}
	return result;
}

fs::path ensure_busybox(const Arch &arch)
{
	auto dir = Matrix::paths().cache() / "busybox" / arch.name;
	auto bin = dir / "bin/busybox";
	FileLock lock(dir.string() + ".lock");
	if (fs::exists(bin))
		return bin;
	auto debs = dir / "debs";
	std::string pkg = "busybox-static:" + arch.debian_arch;
	// From the default series' Debian suite, like the kernels: the same guest userland on every host release.
	const auto &m = Matrix::get();
	DebianArchive::suite(m.series(m.default_kernel()).suite).download({pkg}, debs);
	for (auto &deb : fs::directory_iterator(debs))
		run_checked({"dpkg-deb", "-x", deb.path().string(), dir.string()});
	fs::remove_all(debs);
	if (!fs::exists(bin))
		fail("{} did not contain bin/busybox", pkg);
	return bin;
}

size_t build_initramfs(const InitramfsSpec &spec, const fs::path &out)
{
	CpioWriter w;
	for (auto d : {"/bin", "/dev", "/etc", "/lib", "/proc", "/sys", "/tmp", "/root", "/sys/kernel/debug"})
		w.dir(d);
	w.dir("/tmp", 01777);
	w.file("/init", read_file(spec.init), 0755);
	w.file("/lib/xuaccess.ko", read_file(spec.module));
	w.file("/bin/busybox", read_file(ensure_busybox(*spec.arch)), 0755);
	w.symlink("/bin/sh", "busybox");
	std::set<std::string> placed;
	for (auto &p : spec.programs) {
		w.file("/bin/" + p.filename().string(), read_file(p), 0755);
		for (auto &lib : shared_library_closure(*spec.arch, p)) {
			if (!placed.insert(lib.guest.string()).second)
				continue;
			std::vector<fs::path> parents;  // missing directories, created top-down
			for (auto d = lib.guest.parent_path(); d != "/" && placed.insert(d.string()).second;
			     d = d.parent_path())
				parents.insert(parents.begin(), d);
			for (auto &d : parents)
				if (d != "/lib" && d != "/bin")
					w.dir(d.string());
			w.file(lib.guest.string(), read_file(lib.host), 0755);
		}
	}
	auto data = w.finish();
	write_file(out, data);
	return data.size();
}

}  // namespace xua
