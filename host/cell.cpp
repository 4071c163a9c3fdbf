#include "cell.hpp"

#include <cerrno>
#include <cstring>
#include <regex>

#include <unistd.h>

#include "initramfs.hpp"
#include "kbuild.hpp"

namespace xua {
namespace {

std::string strip_timestamp(const std::string &line)
{
	// console: "[    9.16] BUG: ..."; the guest's klogctl dump: "<1>[    9.16] BUG: ..."
	static const std::regex ts(R"(^(<\d+>)?\[\s*[0-9.]+\]\s*)");
	return std::regex_replace(line, ts, "");
}

class Tap {
public:
	explicit Tap(std::FILE *out) : out_(out) {}
	void check(bool ok, const std::string &what, const std::string &diag = {})
	{
		std::fprintf(out_, "%s %d - %s\n", ok ? "ok" : "not ok", ++n_, what.c_str());
		if (!ok) {
			++failed_;
			comment(diag);
		}
	}
	void skip(const std::string &what) { std::fprintf(out_, "ok %d - %s\n", ++n_, what.c_str()); }
	void comment(const std::string &text)
	{
		for (auto &l : split_lines(text))
			std::fprintf(out_, "# %s\n", l.c_str());
	}
	int finish()
	{
		std::fprintf(out_, "1..%d\n", n_);
		std::fflush(out_);
		return failed_;
	}

private:
	std::FILE *out_;
	int n_ = 0, failed_ = 0;
};

}  // namespace

GuestReport parse_results(const std::string &results)
{
	GuestReport r;
	bool in_dmesg = false, in_job = false;
	for (auto &line : split_lines(results)) {
		if (in_dmesg) {
			if (line == "xua-dmesg-end")
				in_dmesg = false;
			else
				r.dmesg += line + "\n";
		} else if (line == "xua-insmod ok") {
			r.insmod_ok = true;
		} else if (starts_with(line, "xua-insmod error ")) {
			r.insmod_error = line.substr(17);
		} else if (starts_with(line, "xua-info ")) {
			try {
				r.info = nlohmann::json::parse(line.substr(9));
			} catch (const nlohmann::json::exception &e) {
				r.info = {{"error", std::string("unparsable xua-info: ") + e.what()}};
			}
			in_job = true;
		} else if (starts_with(line, "xua-job-exit ")) {
			r.job_exit = std::atoi(line.c_str() + 13);
			in_job = false;
		} else if (line == "xua-dmesg-begin") {
			in_dmesg = true;
		} else if (line == "xua-done") {
			r.done = true;
		} else if (in_job) {
			r.job_output.push_back(line);
		}
	}
	return r;
}

std::string protection_mismatch(const Cell &cell, const nlohmann::json &info)
{
	if (info.is_null() || info.contains("error"))
		return "no INFO readout from the module: " + (info.is_null() ? std::string("none") : info["error"].dump());
	const auto &guard = cell.arch->guard;
	bool want = cell.protection == "on";
	bool present = info.value("guard_present", false), enabled = info.value("guard_enabled", false);
	if (present != want || enabled != want)
		return fmt::format("requested {} {} (-cpu {}), the module saw present={} enabled={}", guard,
				   cell.protection, cell.cpu(), present, enabled);
	if (info.value("window_open", true))
		return fmt::format("{} window reported open inside an ioctl", guard);
	// Cross-check with what the guest's own kernel interfaces say, where they say anything.
	const auto &g = info.value("guest", nlohmann::json::object());
	if (guard == "SMAP" && g.contains("cpuinfo_smap") && g["cpuinfo_smap"].get<bool>() != want)
		return fmt::format("/proc/cpuinfo smap flag is {}, but {} was requested", g["cpuinfo_smap"].dump(),
				   cell.protection);
	if (guard == "PAN" && g.contains("dmesg_pan_detected") && g["dmesg_pan_detected"].get<bool>() != want)
		return fmt::format("dmesg 'Privileged Access Never' detected={}, but {} was requested",
				   g["dmesg_pan_detected"].dump(), cell.protection);
	return {};
}

std::vector<KernelProblem> merge_problems(const std::string &console, const std::string &dmesg)
{
	// The console shows oopses and panics (printed verbosely whatever the log level); the guest's
	// kernel log also holds WARNs, which 'quiet' keeps off the console. A report in both counts once.
	auto problems = kernel_problems(console);
	auto from_console = problems.size();
	for (auto &p : kernel_problems(dmesg)) {
		auto head = strip_timestamp(split_lines(p.text).front());
		bool dup = false;
		for (size_t i = 0; i < from_console; ++i)
			dup |= strip_timestamp(split_lines(problems[i].text).front()) == head;
		if (!dup)
			problems.push_back(p);
	}
	return problems;
}

CellOutcome run_cell(const Cell &cell, const CellJob &job)
{
	CellOutcome o{cell, job.accel, {}, {}, {}, {}, Matrix::paths().build / "cells" / cell.name()};
	if (auto why = accel_unusable(job.accel, *cell.arch); !why.empty())
		fail("{}: {}", cell.name(), why);
	const Arch &arch = *cell.arch;
	o.kernel = ensure_kernel(arch, cell.kernel, Resolve::if_missing, true);
	auto module = module_path(arch, cell.kernel);
	if (!fs::exists(module))
		kbuild({.arch = &arch, .series = cell.kernel, .out = module, .quiet = true});
	auto gb = Matrix::paths().guest_build(arch);
	InitramfsSpec spec{&arch, module, {}, gb / "guest" / "xuaccess-init"};
	if (job.job == "test")
		spec.programs.push_back(gb / "tests" / "guest" / "xuaccess-tests");
	else
		spec.programs.push_back(gb / "bench" / "xuaccess-bench");
	for (auto &p : spec.programs)
		if (!fs::exists(p))
			fail("{} is missing: the guest programs for {} are not built (run ./xuaccess, which builds them)",
			     p.string(), arch.name);
	fs::create_directories(o.dir);
	auto initrd = o.dir / "initramfs.cpio";
	build_initramfs(spec, initrd);

	GuestRun g{&o.cell, o.kernel.boot_image, initrd, o.dir / "console.log", o.dir / "results.txt"};
	g.cmdline = {"xua.job=" + job.job, "xua.cell=" + cell.name(), "xua.prot=" + cell.protection,
		     "xua.results=" + arch.results_tty};
	if (!job.args.empty()) {
		std::string a;
		for (auto &s : job.args)
			a += (a.empty() ? "" : ",") + s;
		g.cmdline.push_back("xua.args=" + a);
	}
	if (!job.modparams.empty())
		g.cmdline.push_back("xua.modparams=" + job.modparams);
	g.timeout = job.timeout;
	g.accel = job.accel;
	g.on_line = job.on_line;
	o.guest = run_guest(g);
	o.report = parse_results(fs::exists(g.results) ? read_file(g.results) : std::string());

	o.problems = merge_problems(o.guest.console, o.report.dmesg);
	return o;
}

int announced_oopses(const GuestReport &r)
{
	int n = 0;
	for (auto &line : r.job_output)
		n += starts_with(line, "# xua-expected-oops") ? 1 : 0;
	return n;
}

std::pair<std::vector<const KernelProblem *>, std::vector<const KernelProblem *>>
classify_problems(const CellOutcome &o)
{
	int announced = announced_oopses(o.report);
	std::vector<const KernelProblem *> expected, unexpected;
	for (auto &p : o.problems) {
		bool guard_fault = p.kind == "oops" && p.text.find(o.cell.arch->guard_fault_signature) != std::string::npos;
		if (guard_fault && static_cast<int>(expected.size()) < announced)
			expected.push_back(&p);
		else
			unexpected.push_back(&p);
	}
	return {expected, unexpected};
}

std::string accel_unusable(const std::string &accel, const Arch &arch)
{
	if (accel == "tcg")
		return {};
	if (accel != "kvm")
		return fmt::format("unknown accelerator '{}' (expected tcg or kvm)", accel);
	if (arch.name != host_arch())
		return fmt::format("KVM runs only guests of this machine's own arch ({}), not {}: use --arch {}",
				   host_arch(), arch.name, host_arch());
	if (access("/dev/kvm", R_OK | W_OK) != 0)
		return fmt::format("/dev/kvm is not usable here ({}): use --accel tcg", std::strerror(errno));
	return {};
}

std::string describe(const CellOutcome &o)
{
	const auto &info = o.report.info;
	std::string state = "not verified";
	if (!info.is_null() && !info.contains("error"))
		state = fmt::format("{} present={} enabled={}", info.value("guard", "?"), info.value("guard_present", false),
				    info.value("guard_enabled", false));
	return fmt::format("{}: kernel {} ({}), qemu {} -cpu {}, accel {}, protection requested {}, seen {}",
			   o.cell.name(), o.kernel.release, o.kernel.version, o.cell.arch->qemu, o.cell.cpu(),
			   o.accel == "tcg" ? "tcg (emulated)" : o.accel, o.cell.protection, state);
}

int print_tap(const CellOutcome &o, std::FILE *out)
{
	Tap tap(out);
	const auto name = o.cell.name();
	tap.comment(describe(o));
	tap.comment(fmt::format("console: {}", (o.dir / "console.log").string()));
	auto tail = [&] { return "last console lines:\n" + last_lines(o.guest.console, 25); };

	bool booted = o.guest.first_output >= 0;
	tap.check(booted, fmt::format("{}: boot to guest init ({:.2f} s)", name, o.guest.first_output),
		  o.guest.timed_out ? fmt::format("timed out after {:.0f} s; {}", o.guest.seconds, tail()) : tail());
	if (booted) {
		tap.check(o.report.insmod_ok, name + ": insmod xuaccess.ko",
			  "insmod failed: " + o.report.insmod_error + "\n" + last_lines(o.report.dmesg, 15));
	}
	if (o.report.insmod_ok) {
		auto why = protection_mismatch(o.cell, o.report.info);
		tap.check(why.empty(), fmt::format("{}: {} {} verified in the guest", name, o.cell.arch->guard, o.cell.protection),
			  why);
	}
	// The guest job's TAP, renumbered into this stream.
	static const std::regex case_re(R"(^(not ok|ok) \d+ - (.*)$)");
	static const std::regex plan_re(R"(^1\.\.(\d+)$)");
	int planned = -1, seen = 0;
	for (auto &line : o.report.job_output) {
		std::smatch m;
		if (std::regex_match(line, m, case_re)) {
			++seen;
			auto desc = m[2].str();
			if (desc.find(" # SKIP") != std::string::npos)
				tap.skip(name + ": " + desc);
			else
				tap.check(m[1] == "ok", name + ": " + desc);
		} else if (std::regex_match(line, m, plan_re)) {
			planned = std::stoi(m[1]);
		} else if (starts_with(line, "#")) {
			tap.comment(line.substr(line.size() > 1 && line[1] == ' ' ? 2 : 1));
		} else if (!line.empty()) {
			tap.comment("guest: " + line);
		}
	}
	if (o.report.insmod_ok) {
		tap.check(planned >= 0 && planned == seen && o.report.job_exit == 0,
			  fmt::format("{}: guest job completed (exit {}, {} of {} cases reported)", name, o.report.job_exit,
				      seen, planned),
			  o.guest.timed_out ? tail() : "");
	}
	// Oopses the guest announced (the seed-bug test) must be the guard's own fault, one per announcement;
	// anything else is a failure.
	auto [expected, unexpected] = classify_problems(o);
	int announced = announced_oopses(o.report);
	if (announced) {
		std::string text;
		for (auto *p : expected)
			text += p->text.substr(0, 400) + "\n";
		tap.check(static_cast<int>(expected.size()) == announced,
			  fmt::format("{}: {} oops on a plain user dereference, as expected ({} of {})", name,
				      o.cell.arch->guard, expected.size(), announced),
			  fmt::format("expected '{}' oopses:\n{}", o.cell.arch->guard_fault_signature, text));
	}
	std::string problems;
	for (auto *p : unexpected)
		problems += fmt::format("kernel {}:\n{}", p->kind, p->text);
	tap.check(unexpected.empty(), name + ": no unexpected kernel oops, panic, BUG, WARN or OOM kill", problems);
	tap.check(o.report.done && !o.guest.timed_out && !o.guest.interrupted,
		  fmt::format("{}: guest powered off cleanly ({:.1f} s)", name, o.guest.seconds),
		  o.guest.interrupted ? "interrupted" : o.guest.timed_out ? fmt::format("timed out; {}", tail()) : tail());
	return tap.finish();
}

}  // namespace xua
