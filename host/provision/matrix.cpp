#include "provision/matrix.hpp"

#include <algorithm>
#include <cstdlib>
#include <ranges>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>
#include <sys/utsname.h>

#include "provision/own_kernel.hpp"
#include "provision/source_kernel.hpp"
#include "base/host_machine.hpp"

#ifndef XUACCESS_SOURCE_DIR
#error "XUACCESS_SOURCE_DIR must be defined by the build"
#endif
#ifndef XUACCESS_BUILD_DIR
#error "XUACCESS_BUILD_DIR must be defined by the build"
#endif

namespace xua {

fs::path Paths::guest_build(const Arch &a) const
{
	return a.native ? build : build / ("cross-" + a.name);
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

namespace {

std::vector<KconfigNeed> parse_needs(const nlohmann::json &j, const fs::path &file)
{
	static const std::regex need_re(R"(^CONFIG_([A-Za-z0-9_]+)(>=|=)(.+)$)");
	std::vector<KconfigNeed> v;
	for (auto &[text, why] : j.items()) {
		std::smatch m;
		if (!std::regex_match(text, m, need_re))
			fail("{}: kernel_needs '{}' is not CONFIG_X=value or CONFIG_X>=number", file.string(), text);
		v.push_back({m[1], m[2], m[3], why.get<std::string>()});
	}
	return v;
}

}  // namespace

const Matrix &Matrix::get()
{
	static const Matrix m = load(paths().source / "ci" / "matrix.json", host_arch());
	return m;
}

Matrix Matrix::load(const fs::path &file, const std::string &host)
{
	Matrix r;
	r.host_ = host;
	nlohmann::json j;
	try {
		j = nlohmann::json::parse(read_file(file));
		r.default_kernel_ = j.at("default_kernel");
		auto common_needs = parse_needs(j.at("kernel_needs"), file);
		for (auto &[k, v] : j.at("kernels").items())
			r.series_[k] = Series{k, v.at("suite"), v.at("image_meta"), v.at("gcc")};
		auto &d = j.at("debian");
		r.debian_.mirror = d.at("mirror");
		r.debian_.security_mirror = d.at("security_mirror");
		r.debian_.keyring = d.at("keyring").get<std::string>();
		for (auto &[name, v] : j.at("arches").items()) {
			Arch a;
			a.name = name;
			a.debian_arch = v.at("debian_arch");
			a.flavour = v.at("flavour");
			a.kbuild_arch = v.at("kbuild_arch");
			a.gnu_triplet = v.at("gnu_triplet");
			a.host = host;
			a.native = name == host;
			a.cross_compile = a.native ? "" : a.gnu_triplet + "-";
			a.guard = v.at("guard");
			a.guard_fault_signature = v.at("guard_fault_signature");
			a.qemu = v.at("qemu");
			a.machine = v.at("machine");
			a.console = v.at("console");
			a.boot_image = v.at("boot_image");
			a.cpu = v.at("cpu").get<std::map<std::string, std::string>>();
			a.cpu_off_note = v.value("cpu_off_note", "");
			if (v.contains("protection_append"))
				a.protection_append = v["protection_append"]
							      .get<std::map<std::string, std::vector<std::string>>>();
			if (v.contains("kvm")) {
				const auto &k = v["kvm"];
				if (k.contains("cpu"))
					a.kvm_cpu = k["cpu"].get<std::map<std::string, std::string>>();
				a.kvm_machine = k.value("machine", "");
				a.kvm_host_cpu_flags = k.value("host_cpu_flags", std::vector<std::string>{});
				a.kvm_nested_in_tcg_cpu = k.value("nested_in_tcg_cpu", "");
			}
			if (v.contains("machine_image"))
				a.image_machine = v["machine_image"].value("machine", "");
			if (v.contains("kconfig"))
				a.kconfig = v["kconfig"].get<std::map<std::string, std::string>>();
			if (v.contains("variants"))
				for (auto &[vn, vv] : v["variants"].items())
					a.variants[vn] = {vv.at("cpu"), vv.at("machine"), vv.value("why", ""),
							  vv.at("series").get<std::vector<std::string>>(),
							  vv.value("series_note", ""), vv.value("needs_qemu", ""),
							  vv.value("needs_qemu_note", "")};
			a.append = v.at("append").get<std::vector<std::string>>();
			a.results_qemu = v.at("results").at("qemu").get<std::vector<std::string>>();
			a.results_tty = v.at("results").at("guest_tty");
			a.kconfig_arch = v.at("kconfig_arch");
			a.kernel_needs = common_needs;
			for (auto &n : parse_needs(v.at("kernel_needs"), file))
				a.kernel_needs.push_back(n);
			if (!a.cpu.count("on") || !a.cpu.count("off"))
				fail("{}: arch {} needs cpu.on and cpu.off", file.string(), name);
			r.debian_.arches.push_back(a.debian_arch);
			r.arches_[name] = std::move(a);
		}
	} catch (const nlohmann::json::exception &e) {
		fail("{} is malformed: {}", file.string(), e.what());
	}
	if (!r.arches_.count(host))
		fail("{}: this machine's arch {} is not in the matrix", file.string(), host);
	return r;
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
	std::stable_partition(v.begin(), v.end(), [this](const std::string &a) { return a == host_; });
	return v;
}

UsageValues Matrix::usage_values() const
{
	UsageValues v;
	std::set<std::string> prots;
	for (auto &[name, a] : arches_) {
		v.arches.push_back(name);
		for (auto &p : a.protections())
			prots.insert(p);
	}
	// In the order a person reads them: the two everyone has, then the rest.
	for (const char *p : {"on", "off"})
		if (prots.erase(p))
			v.protections.push_back(p);
	v.protections.insert(v.protections.end(), prots.begin(), prots.end());
	v.kernels = kernel_names();
	return v;
}

std::string UsageValues::text() const
{
	return fmt::format("# The names --arch, --protection and --kernel accept (ci/matrix.json), for the bootstrap\n"
			   "# ./xuaccess to check a command line before it installs or builds anything. A host test\n"
			   "# (Workflow.BootstrapRejectsUsageErrorsFirst) keeps this file equal to the front end's own.\n"
			   "arch {}\nprotection {}\nkernel {}\n",
			   fmt::join(arches, " "), fmt::join(protections, " "), fmt::join(kernels, " "));
}

std::vector<std::string> Matrix::kernel_names() const
{
	std::vector<std::string> v;
	for (auto &[k, _] : series_)
		v.push_back(k);
	return v;
}

const Series &Matrix::series(const std::string &kernel) const
{
	auto sk = parse_source_kernel(kernel);
	auto it = series_.find(sk ? sk->series : kernel);
	if (it == series_.end())
		fail("unknown kernel series '{}' (expected one of: {}, or <series>-src / <series>-debug / <series>-mte to "
		     "build it from source)",
		     kernel, fmt::join(kernel_names(), ", "));
	return it->second;
}

std::string Matrix::image_meta(const std::string &kernel, const Arch &a) const
{
	std::string s = series(kernel).image_meta;
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
	// Names that are not in the matrix are usage errors (exit 2), said before anything is built; the
	// bootstrap checks the same names (usage_values) before it installs or builds anything.
	const auto names = usage_values();
	for (auto &a : as)
		if (!arches_.count(a))
			refuse("unknown architecture '{}' for --arch (expected one of: {})", a, fmt::join(names.arches, ", "));
	for (auto &p : ps)
		if (std::find(names.protections.begin(), names.protections.end(), p) == names.protections.end())
			refuse("unknown protection '{}' for --protection (expected one of: {})", p,
			       fmt::join(names.protections, ", "));
	for (auto &k : ks) {
		auto sk = parse_source_kernel(k);
		if (!is_kernel_path(k) && !series_.count(sk ? sk->series : k))
			refuse("unknown kernel '{}' for --kernel (expected one of: {}; <series>-src, <series>-debug or "
			       "<series>-mte (arm64) to build one from Debian's source; or a path with a '/': your own kernel)",
			       k, fmt::join(names.kernels, ", "));
	}
	std::map<std::string, fs::path> labels;  // kernels given as paths: label -> path
	for (auto &k : ks) {
		if (is_kernel_path(k)) {
			// A kernel given as a path runs on its own arch (its .config says which) with the protections asked
			// for; one that needs a config of its own (arm64 off-kernel, sw) needs that config in the tree.
			auto ok = own_kernel(k);
			const Arch &a = *ok.arch;
			if (!arches.empty() && std::find(as.begin(), as.end(), a.name) == as.end())
				refuse("--kernel {} is an {} kernel (its .config sets CONFIG_{}), not one for --arch {}", k, a.name,
				       a.kconfig_arch, fmt::join(as, ","));
			if (auto [it, fresh] = labels.emplace(ok.label, ok.path); !fresh && it->second != ok.path)
				refuse("--kernel {} and {} are both {}: give one of them per run", it->second.string(),
				       ok.path.string(), ok.label);
			for (auto &p : ps) {
				if (!a.cpu.count(p))
					refuse("{} offers no protection '{}' (it has: {})", a.name, p, fmt::join(a.protections(), ", "));
				if (auto f = a.kconfig.find(p); f != a.kconfig.end()) {
					auto frag = paths().source / "ci" / "kconfig" / (f->second + ".config");
					auto unmet = kconfig_unmet(parse_kconfig(read_file(frag)), ok.config);
					if (!unmet.empty())
						refuse("--kernel {}: protection {} on {} needs a kernel configured as ci/kconfig/{}.config "
						       "says; its .config lacks:\n  {}",
						       k, p, a.name, f->second, fmt::join(unmet, "\n  "));
				}
				cells.push_back(Cell{&a, ok.label, p, ok.path});
			}
			continue;
		}
		image_meta(k, arch(as.front()));  // validates the series name
		const auto sk = parse_source_kernel(k);
		const bool arch_variant = sk && is_arch_variant(sk->variant);
		for (auto &an : as)
			for (auto &p : ps) {
				const Arch &a = arch(an);
				// A variant only some arches offer (arm64 mte) is left out on the others when several arches
				// were asked for, and offers protection on alone (its CPU is the variant's).
				if (arch_variant) {
					auto vit = a.variants.find(sk->variant);
					if (vit == a.variants.end()) {
						if (as.size() == 1)
							refuse("--kernel {}: {} offers no kernel variant '{}' (it is: {})", k, an, sk->variant,
							       fmt::join(arch_variant_offers(sk->variant), ", "));
						continue;
					}
					const auto &v = vit->second;
					if (std::find(v.series.begin(), v.series.end(), sk->series) == v.series.end())
						refuse("--kernel {}: {}'s {} kernels exist for {} only: {}", k, an, sk->variant,
						       fmt::join(v.series, ", "), v.series_note);
					if (p != "on") {
						if (ps.size() == 1)
							refuse("--kernel {} runs protection on only (its cells need -cpu {}), not '{}'", k,
							       v.cpu, p);
						continue;
					}
				}
				// A protection the arch does not offer (x86 has no software SMAP) is left out when other
				// arches were asked for too; asked for alone, it is an error.
				if (!a.cpu.count(p)) {
					if (as.size() == 1)
						refuse("{} offers no protection '{}' (it has: {})", an, p,
						     fmt::join(a.protections(), ", "));
					continue;
				}
				if (a.kconfig.count(p) && !sk)
					refuse("{} {} needs a kernel built from source (its config has {}): use --kernel "
					     "{}-src (or {}-debug)",
					     an, p, a.kconfig.at(p), k, k);
				cells.push_back(Cell{&a, k, p});
			}
	}
	if (cells.empty())
		refuse("no cell offers protection {} on {}", fmt::join(ps, ","), fmt::join(as, ","));
	return cells;
}

bool Matrix::is_arch_variant(const std::string &variant) const
{
	return !arch_variant_offers(variant).empty();
}

std::vector<std::string> Matrix::arch_variant_offers(const std::string &variant) const
{
	std::vector<std::string> v;
	for (auto &[n, a] : arches_)
		if (a.variants.count(variant))
			v.push_back(n);
	return v;
}

std::vector<std::string> Arch::protections() const
{
	std::vector<std::string> v;
	for (auto &[p, _] : cpu)
		v.push_back(p);
	return v;
}

std::string arch_of_machine(const std::string &m)
{
	if (m == "x86_64")
		return "x86_64";
	if (m == "aarch64" || m == "arm64")
		return "arm64";
	return "";
}

std::string host_arch()
{
	static const std::string arch = [] {
		utsname u{};
		uname(&u);
		auto a = arch_of_machine(u.machine);
		if (a.empty())
			fail("this machine is {}: xuaccess runs on x86_64 and arm64 (aarch64) Debian 12 or 13", u.machine);
		return a;
	}();
	return arch;
}

const Arch::Variant *Cell::variant() const
{
	auto sk = kernel_path.empty() ? parse_source_kernel(kernel) : std::nullopt;
	if (!sk)
		return nullptr;
	auto it = arch->variants.find(sk->variant);
	return it == arch->variants.end() ? nullptr : &it->second;
}

std::string Cell::cpu() const
{
	if (auto *v = variant())
		return v->cpu;
	return arch->cpu.at(protection);
}

std::string Cell::cpu(const std::string &accel) const
{
	return cpu(accel, this_machine().kind == MachineKind::emulated);
}

std::string Cell::cpu(const std::string &accel, bool host_emulated) const
{
	if (accel != "kvm")
		return cpu();
	if (variant())
		fail("{}: a kernel of this variant runs under TCG only (it needs -cpu {})", name(), cpu());
	// KVM nested in a TCG-emulated x86 machine (test --suite machines): QEMU 7.2's emulated SVM hands the
	// guest CPUID leaf 0xD sizes that disagree with its XSAVE features ("XSAVE consistency problem: size 2696
	// != kernel_size 576", a WARN at boot), so there the guest gets no XSAVE. Recorded in xua_qemu_cpu.
	if (arch->kvm_cpu.empty() && host_emulated)
		return cpu() + arch->kvm_nested_in_tcg_cpu;
	if (arch->kvm_cpu.empty())
		return cpu();
	auto it = arch->kvm_cpu.find(protection);
	if (it == arch->kvm_cpu.end())
		fail("{}: KVM cannot run {} {}: the guest gets this machine's CPU (-cpu {}), and no QEMU property "
		     "removes {} from it; use --accel tcg",
		     name(), arch->guard, protection, fmt::join(arch->kvm_cpu | std::views::values, "/"), arch->guard);
	return it->second;
}

std::string Cell::machine(const std::string &accel) const
{
	if (auto *v = variant())
		return v->machine;
	return accel == "kvm" && !arch->kvm_machine.empty() ? arch->kvm_machine : arch->machine;
}

void Selection::dedupe()
{
	for (auto &k : kernels)
		if (is_kernel_path(k))
			k = fs::absolute(k).lexically_normal().string();
	for (auto *v : {&arches, &kernels, &protections}) {
		std::vector<std::string> out;
		for (auto &s : *v)
			if (std::find(out.begin(), out.end(), s) == out.end())
				out.push_back(s);
		*v = std::move(out);
	}
}

}  // namespace xua
