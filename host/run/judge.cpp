#include "run/judge.hpp"

#include <algorithm>
#include <regex>

#include "base/tap.hpp"

namespace xua {

const char *to_string(Failure f)
{
	switch (f) {
	case Failure::none: return "none";
	case Failure::no_boot: return "no boot";
	case Failure::timeout: return "timeout";
	case Failure::panic: return "kernel panic";
	case Failure::insmod: return "insmod failed";
	case Failure::protection: return "protection mismatch";
	case Failure::unexpected_oops: return "unexpected oops";
	case Failure::oom_kill: return "OOM kill";
	case Failure::announced_missing: return "announced oops missing";
	case Failure::job_failed: return "guest job failed";
	case Failure::missing_cases: return "missing cases";
	case Failure::no_results: return "no results";
	case Failure::not_done: return "guest did not finish";
	}
	return "?";
}

int Verdict::failed() const
{
	return static_cast<int>(std::count_if(checks.begin(), checks.end(), [](auto &c) { return !c.ok; }));
}

Failure Verdict::primary() const
{
	// Causes before their consequences: no boot and timeouts explain everything after them, a panic
	// explains a missing job, a missing module explains missing cases.
	static const Failure order[] = {Failure::no_boot,         Failure::timeout,   Failure::panic,
					Failure::insmod,          Failure::protection, Failure::oom_kill,
					Failure::unexpected_oops, Failure::announced_missing, Failure::job_failed,
					Failure::missing_cases,   Failure::no_results, Failure::not_done};
	for (Failure f : order)
		for (auto &c : checks)
			if (!c.ok && c.failure == f)
				return f;
	return Failure::none;
}

std::string Verdict::reason() const
{
	auto f = primary();
	for (auto &c : checks)
		if (!c.ok && c.failure == f)
			return c.diag.empty() ? c.what : c.what + ":\n" + c.diag;
	return "";
}

int announced_oopses(const GuestReport &r)
{
	return static_cast<int>(std::count_if(r.job_output.begin(), r.job_output.end(),
					      [](auto &l) { return starts_with(l, "# xua-expected-oops"); }));
}

// Debug kernels add their reports (host/run/qemu.cpp kernel_problems): each fails the cell with its text.
constexpr const char *kNoProblems =
	"no unexpected kernel oops, panic, BUG, WARN, OOM kill, lockdep, KASAN, UBSAN, KFENCE, sleep-in-atomic or hung-task "
	"report";

namespace {

// Makes a cell's checks, in order; each check takes the guest's comments printed since the one before.
struct Checker {
	Verdict &v;
	const std::string name;
	std::vector<std::string> pending;  // guest comments waiting for the next check

	void operator()(bool ok, Failure f, std::string what, std::string diag = {})
	{
		Check c{name + ": " + std::move(what), ok, false, ok ? Failure::none : f, ok ? "" : std::move(diag),
			std::move(pending)};
		pending.clear();
		v.checks.push_back(std::move(c));
	}
};

std::string console_tail(const GuestOutcome &g)
{
	return "last console lines:\n" + last_lines(g.console, 25);
}

// Why the guest was ended and its last console lines, or "" when it was not ended by a timeout.
std::string timed_out_tail(const GuestOutcome &g)
{
	return g.timed_out ? g.timeout_reason + "; " + console_tail(g) : std::string();
}

// Boot, insmod and the protection seen in the guest: each only once the one before it passed.
void check_boot_and_module(Checker &check, const CellOutcome &o)
{
	const auto &g = o.guest;
	const auto &r = o.report;
	bool booted = g.first_output >= 0;
	check(booted, g.timed_out ? Failure::timeout : Failure::no_boot,
	      fmt::format("boot to guest init ({:.2f} s)", g.first_output),
	      g.timed_out ? timed_out_tail(g) : console_tail(g));
	if (booted)
		check(r.insmod_ok, Failure::insmod, "insmod xuaccess.ko",
		      "insmod failed: " + r.insmod_error + "\n" + last_lines(r.dmesg(), 15));
	if (r.insmod_ok) {
		auto why = protection_mismatch(o.cell, r.info_json, o.accel);
		check(why.empty(), Failure::protection,
		      fmt::format("{} {} verified in the guest", o.cell.arch->guard, o.cell.protection), why);
	}
}

// What the guest job's output told: its TAP plan, the cases reported and the guest time each took.
struct JobTally {
	int planned = -1, seen = 0;
	std::vector<std::pair<double, std::string>> case_seconds;
};

// The guest job's output: a check per TAP case (test); other lines become comments of the next check.
JobTally read_job_output(Checker &check, const GuestReport &r)
{
	static const std::regex time_re(R"(^# time (\d+) ms (.*)$)");  // after each case (tests/guest/tap_main.cpp)
	JobTally t;
	auto &checks = check.v.checks;
	for (auto &line : r.job_output) {
		std::smatch m;
		auto tl = tap::parse(line);
		if (tl.kind == tap::Line::Kind::test) {
			++t.seen;
			if (tl.directive == "SKIP") {
				check(true, Failure::none, tl.text);
				checks.back().skip = true;
			} else {
				check(tl.ok, Failure::job_failed, tl.text);
			}
		} else if (tl.kind == tap::Line::Kind::plan) {
			t.planned = tl.plan;
		} else if (std::regex_match(line, m, time_re)) {
			// The case just reported gets its time in its name (a skipped case keeps its SKIP reason last).
			double sec = std::stod(m[1]) / 1000;
			if (!checks.empty() && !checks.back().skip && checks.back().what.ends_with(m[2].str()))
				checks.back().what += fmt::format(" ({:.1f} s)", sec);
			t.case_seconds.emplace_back(sec, m[2].str());
		} else if (starts_with(line, "#")) {
			check.pending.push_back(line.substr(line.size() > 1 && line[1] == ' ' ? 2 : 1));
		} else if (!line.empty()) {
			check.pending.push_back("guest: " + line);
		}
	}
	return t;
}

// Why a bench job's benchmark JSON block is not usable, or "" when it is.
std::string benchmark_json_problem(const GuestReport &r)
{
	auto it = r.blocks.find(std::string(protocol::kBenchmarkJson));
	std::string why = it == r.blocks.end() ? "no benchmark-json block on the results port"
			  : !it->second.complete ? it->second.problem
						 : "";
	if (why.empty()) {
		try {
			auto parsed = nlohmann::json::parse(it->second.content);
			if (!parsed.contains("benchmarks"))
				why = "the benchmark JSON has no benchmarks array";
		} catch (const nlohmann::json::exception &e) {
			why = fmt::format("the benchmark JSON does not parse: {}", e.what());
		}
	}
	return why;
}

// The guest job ran to its end: every planned case reported (test), or the benchmark JSON received (bench).
void check_job(Checker &check, const CellOutcome &o, const JobTally &t)
{
	const auto &r = o.report;
	if (r.insmod_ok && o.job == "test") {
		bool complete = t.planned >= 0 && t.planned == t.seen;
		check(complete && r.job_exit == 0, complete ? Failure::job_failed : Failure::missing_cases,
		      fmt::format("guest job completed (exit {}, {} of {} cases reported)", r.job_exit, t.seen, t.planned),
		      timed_out_tail(o.guest));
	} else if (r.insmod_ok) {
		check(r.job_exit == 0, Failure::job_failed, fmt::format("xuaccess-{} exited {}", o.job, r.job_exit),
		      last_lines(fmt::format("{}", fmt::join(r.job_output, "\n")), 15) + timed_out_tail(o.guest));
		auto why = benchmark_json_problem(r);
		check(why.empty(), Failure::no_results, "benchmark JSON received intact", why);
	}
}

// The failure a kernel problem of this kind names.
Failure kind_failure(const std::string &kind)
{
	return kind == "panic" ? Failure::panic : kind == "OOM kill" ? Failure::oom_kill : Failure::unexpected_oops;
}

// Kernel problems: oopses the guest announced (the seed-bug test) must be the guard's own fault, one per
// announcement; anything else is a failure.
void check_kernel_problems(Checker &check, const CellOutcome &o)
{
	int announced = announced_oopses(o.report);
	std::vector<const KernelProblem *> expected, unexpected;
	for (auto &p : o.problems) {
		bool guard_fault = p.kind == "oops" && p.text.find(o.cell.arch->guard_fault_signature) != std::string::npos;
		(guard_fault && static_cast<int>(expected.size()) < announced ? expected : unexpected).push_back(&p);
	}
	if (announced) {
		std::string text;
		for (auto *p : expected)
			text += p->text.substr(0, 400) + "\n";
		check(static_cast<int>(expected.size()) == announced, Failure::announced_missing,
		      fmt::format("{} oops on a plain user dereference, as expected ({} of {})", o.cell.arch->guard,
				  expected.size(), announced),
		      fmt::format("expected '{}' oopses:\n{}", o.cell.arch->guard_fault_signature, text));
	}
	if (unexpected.empty()) {
		check(true, Failure::none, kNoProblems);
	} else {
		std::string text;
		for (auto *p : unexpected)
			text += fmt::format("kernel {}:\n{}", p->kind, p->text);
		// The worst kind names the failure: a panic over an OOM kill over an oops.
		Failure f = Failure::unexpected_oops;
		for (auto *p : unexpected)
			if (kind_failure(p->kind) == Failure::panic ||
			    (kind_failure(p->kind) == Failure::oom_kill && f != Failure::panic))
				f = kind_failure(p->kind);
		check(false, f, kNoProblems, text);
	}
}

// Where the cell's time went (guest clock; emulated time under TCG): the slowest cases.
std::string time_comment(std::vector<std::pair<double, std::string>> case_seconds, const GuestOutcome &g)
{
	double sum = 0;
	for (auto &c : case_seconds)
		sum += c.first;
	std::ranges::sort(case_seconds, std::greater<>());
	std::string slowest;
	for (size_t i = 0; i < std::min<size_t>(5, case_seconds.size()); ++i)
		slowest += fmt::format("{}{} {:.1f} s", i ? ", " : "", case_seconds[i].second, case_seconds[i].first);
	return fmt::format("time: boot to init {:.1f} s, {} cases {:.1f} s (slowest: {}), powered off at {:.1f} s",
			   g.first_output, case_seconds.size(), sum, slowest, g.seconds);
}

}  // namespace

Verdict judge(const CellOutcome &o)
{
	Verdict v;
	Checker check{v, o.cell.name(), {}};
	const auto &g = o.guest;
	check_boot_and_module(check, o);
	// The guest job: TAP cases (test) or the benchmark JSON block (bench).
	auto job = read_job_output(check, o.report);
	check_job(check, o, job);
	check_kernel_problems(check, o);
	check(o.report.done && !g.timed_out, g.timed_out ? Failure::timeout : Failure::not_done,
	      fmt::format("guest powered off cleanly ({:.1f} s)", g.seconds),
	      g.timed_out ? timed_out_tail(g) : console_tail(g));
	v.trailing_comments = std::move(check.pending);
	if (!job.case_seconds.empty())
		v.trailing_comments.push_back(time_comment(std::move(job.case_seconds), g));
	return v;
}

}  // namespace xua
