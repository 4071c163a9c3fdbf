#include "provision/matrix.hpp"

#include <algorithm>
#include <cstdlib>

#include <nlohmann/json.hpp>
#include <sys/utsname.h>

#ifndef XUACCESS_SOURCE_DIR
#error "XUACCESS_SOURCE_DIR must be defined by the build"
#endif
#ifndef XUACCESS_BUILD_DIR
#error "XUACCESS_BUILD_DIR must be defined by the build"
#endif

namespace xua {

fs::path Paths::guest_build(const Arch &a) const
{
	return a.name == host_arch() ? build : build / ("cross-" + a.name);
}

const Paths &Matrix::paths()
{
	static const Paths p = [] {
		Paths r;
		const char *src = std::getenv("XUACCESS_TOP");
		const char *bld = std::getenv("XUACCESS_BUILD");
		r.source = src && *src ? src : XUACCESS_SOURCE_DIR;
		r.build = bld && *bld ? bld : XUACCESS_BUILD_DIR;
		return r;
	}();
	return p;
}

const Matrix &Matrix::get()
{
	static const Matrix m = [] {
		Matrix r;
		auto file = paths().source / "ci" / "matrix.json";
		nlohmann::json j;
		try {
			j = nlohmann::json::parse(read_file(file));
			r.default_kernel_ = j.at("default_kernel");
			for (auto &[k, v] : j.at("kernels").items())
				r.image_meta_[k] = v.at("image_meta");
			for (auto &[name, v] : j.at("arches").items()) {
				Arch a;
				a.name = name;
				a.debian_arch = v.at("debian_arch");
				a.flavour = v.at("flavour");
				a.kbuild_arch = v.at("kbuild_arch");
				a.cross_compile = v.at("cross_compile");
				a.gnu_triplet = v.at("gnu_triplet");
				a.guard = v.at("guard");
				a.guard_fault_signature = v.at("guard_fault_signature");
				a.qemu = v.at("qemu");
				a.machine = v.at("machine");
				a.console = v.at("console");
				a.boot_image = v.at("boot_image");
				a.cpu = v.at("cpu").get<std::map<std::string, std::string>>();
				a.cpu_off_note = v.value("cpu_off_note", "");
				a.append = v.at("append").get<std::vector<std::string>>();
				a.results_qemu = v.at("results").at("qemu").get<std::vector<std::string>>();
				a.results_tty = v.at("results").at("guest_tty");
				if (!a.cpu.count("on") || !a.cpu.count("off"))
					fail("{}: arch {} needs cpu.on and cpu.off", file.string(), name);
				r.arches_[name] = std::move(a);
			}
		} catch (const nlohmann::json::exception &e) {
			fail("{} is malformed: {}", file.string(), e.what());
		}
		return r;
	}();
	return m;
}

const Arch &Matrix::arch(const std::string &name) const
{
	auto it = arches_.find(name);
	if (it == arches_.end())
		fail("unknown architecture '{}' (expected one of: {})", name, fmt::join(arch_names(), ", "));
	return it->second;
}

std::vector<std::string> Matrix::arch_names() const
{
	std::vector<std::string> v;
	for (auto &[k, _] : arches_)
		v.push_back(k);
	// The host's own architecture first: it boots quickest and reports first.
	std::stable_partition(v.begin(), v.end(), [](const std::string &a) { return a == host_arch(); });
	return v;
}

std::vector<std::string> Matrix::kernel_names() const
{
	std::vector<std::string> v;
	for (auto &[k, _] : image_meta_)
		v.push_back(k);
	return v;
}

std::string Matrix::image_meta(const std::string &kernel, const Arch &a) const
{
	auto it = image_meta_.find(kernel);
	if (it == image_meta_.end())
		fail("unknown kernel series '{}' (expected one of: {})", kernel, fmt::join(kernel_names(), ", "));
	std::string s = it->second;
	auto pos = s.find("{flavour}");
	if (pos != std::string::npos)
		s.replace(pos, 9, a.flavour);
	return s;
}

std::vector<Cell> Matrix::select(const std::vector<std::string> &arches, const std::vector<std::string> &kernels,
				 const std::vector<std::string> &protections) const
{
	auto as = arches.empty() ? arch_names() : arches;
	auto ks = kernels.empty() ? std::vector<std::string>{default_kernel_} : kernels;
	auto ps = protections.empty() ? std::vector<std::string>{"on", "off"} : protections;
	std::vector<Cell> cells;
	for (auto &k : ks) {
		image_meta(k, arch(as.front()));  // validates the series name
		for (auto &an : as)
			for (auto &p : ps) {
				if (p != "on" && p != "off")
					fail("unknown protection '{}' (expected on or off)", p);
				cells.push_back(Cell{&arch(an), k, p});
			}
	}
	return cells;
}

std::string host_arch()
{
	utsname u{};
	uname(&u);
	std::string m = u.machine;
	return m == "aarch64" ? "arm64" : m;
}

}  // namespace xua
