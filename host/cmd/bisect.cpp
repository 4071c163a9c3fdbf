#include "cmd/bisect.hpp"

#include <cmath>
#include <memory>
#include <set>

#include "analyze/compare.hpp"
#include "analyze/results.hpp"
#include "provision/kbuild.hpp"
#include "provision/matrix.hpp"
#include "provision/source_kernel.hpp"
#include "base/process.hpp"

namespace xua {

void to_json(nlohmann::json &j, const BisectStep &s)
{
	j = {{"rev", s.rev},     {"subject", s.subject},         {"verdict", s.verdict},
	     {"why", s.why},     {"unit", s.unit},               {"build_seconds", s.build_seconds},
	     {"boot_seconds", s.boot_seconds}};
	j["value"] = s.value ? nlohmann::json(*s.value) : nlohmann::json(nullptr);
}

void from_json(const nlohmann::json &j, BisectStep &s)
{
	s.rev = j.at("rev");
	s.subject = j.value("subject", "");
	s.verdict = j.at("verdict");
	s.why = j.value("why", "");
	s.unit = j.value("unit", "");
	s.build_seconds = j.value("build_seconds", 0.0);
	s.boot_seconds = j.value("boot_seconds", 0.0);
	if (j.contains("value") && !j["value"].is_null())
		s.value = j["value"].get<double>();
}

std::string icount_verdict(double good, double value, double threshold)
{
	return std::fabs(value / good - 1) > threshold ? "bad" : "good";
}

namespace {

std::string git(const fs::path &dir, std::vector<std::string> args)
{
	args.insert(args.begin(), {"git", "-C", dir.string()});
	return trim(run_checked(args));
}

// The bytes of a transfer row (its name's last component, e.g. transfer/copy/to_user/64), if it has them.
std::optional<double> row_bytes(const std::string &row)
{
	auto slash = row.rfind('/');
	auto last = row.substr(slash == std::string::npos ? 0 : slash + 1);
	if (last.empty() || last.find_first_not_of("0123456789") != std::string::npos)
		return std::nullopt;
	return std::stod(last);
}

nlohmann::json options_json(const BisectOptions &o)
{
	return {{"tree", o.tree.string()}, {"good", o.good},   {"bad", o.bad},
		{"row", o.row},            {"arch", o.arch},   {"protection", o.protection},
		{"clock", o.clock},        {"threshold", o.threshold}, {"boots", o.boots}};
}

BisectOptions options_from_json(const nlohmann::json &j, const fs::path &dir)
{
	BisectOptions o;
	o.tree = j.at("tree").get<std::string>();
	o.good = j.at("good");
	o.bad = j.at("bad");
	o.row = j.at("row");
	o.arch = j.at("arch");
	o.protection = j.at("protection");
	o.clock = j.at("clock");
	o.threshold = j.at("threshold");
	o.boots = j.at("boots");
	o.out = dir;
	return o;
}

// Everything about one bisection: the options, the resolved ends, the clone and build tree, the steps.
class Bisection {
public:
	Bisection(BisectOptions o) : o_(std::move(o)), arch_(&Matrix::get().arch(o_.arch)) {}

	int bisect()
	{
		check_and_resolve();
		fs::create_directories(o_.out / "steps");
		nlohmann::json state = {{"options", options_json(o_)}, {"good_commit", good_}, {"bad_commit", bad_}};
		write_file(o_.out / "bisect.json", state.dump(2) + "\n");
		prepare_clone();
		fmt::print(stderr, "xuaccess bisect: {} on {} (protection {}, {}), {} .. {} in {} (clone: {})\n", o_.row,
			   o_.arch, o_.protection, clock_label(), good_.substr(0, 12), bad_.substr(0, 12),
			   o_.tree.string(), clone_.string());

		auto good = measure(good_, "the good end");
		if (!good.value)
			fail("the good end {} cannot be measured ({}): see {}", good_.substr(0, 12), good.why,
			     (o_.out / "steps").string());
		good_value_ = *good.value;
		auto bad = measure(bad_, "the bad end");
		if (!bad.value)
			fail("the bad end {} cannot be measured ({}): see {}", bad_.substr(0, 12), bad.why,
			     (o_.out / "steps").string());
		if (bad.verdict != "bad") {
			write_result({}, {});
			fmt::print(stderr, "xuaccess bisect: {} did not change beyond the threshold between the ends ({:.6g} vs "
					   "{:.6g} {}): nothing to bisect\n", o_.row, good_value_, *bad.value, bad.unit);
			return 1;
		}

		git(clone_, {"bisect", "start", bad_, good_});
		std::string culprit;
		std::vector<std::string> candidates;
		for (int guard = 0; guard < 64; ++guard) {
			auto rev = git(clone_, {"rev-parse", "HEAD"});
			auto s = measure(rev, "");
			auto r = run({"git", "-C", clone_.string(), "bisect", s.verdict});
			if (!r.ok())
				fail("git bisect {} failed:\n{}", s.verdict, trim(r.output));
			if (auto pos = r.output.find(" is the first bad commit"); pos != std::string::npos) {
				auto line_start = r.output.rfind('\n', pos);
				culprit = trim(r.output.substr(line_start == std::string::npos ? 0 : line_start + 1,
							       pos - (line_start == std::string::npos ? 0 : line_start + 1)));
				break;
			}
			if (r.output.find("only 'skip'ped commits left") != std::string::npos) {
				// "The first bad commit could be any of:" followed by one commit per line.
				bool after = false;
				for (auto &l : split_lines(r.output)) {
					if (after && l.size() >= 40)
						candidates.push_back(l.substr(0, 40));
					after = after || l.find("could be any of") != std::string::npos;
				}
				break;
			}
		}
		write_file(o_.out / "git-bisect-log.txt", git(clone_, {"bisect", "log"}) + "\n");
		git(clone_, {"bisect", "reset"});
		if (culprit.empty() && candidates.empty())
			fail("git bisect did not converge (see {})", (o_.out / "git-bisect-log.txt").string());

		std::optional<BisectStep> parent;
		if (!culprit.empty()) {
			auto p = git(clone_, {"rev-parse", culprit + "^"});
			parent = measure(p, "the culprit's parent");
		}
		write_result(culprit, candidates, parent);
		fmt::print("{}", read_file(o_.out / "bisect.txt"));
		return culprit.empty() ? 1 : 0;
	}

private:
	std::string clock_label() const
	{
		return o_.clock == "icount" ? "icount: instructions, TCG"
					   : fmt::format("time: {} boots a revision under TCG, the slower and less certain "
							 "way", o_.boots);
	}

	void check_and_resolve()
	{
		if (!fs::is_directory(o_.tree))
			refuse("--tree {}: not a directory", o_.tree.string());
		o_.tree = fs::canonical(o_.tree);
		auto top = run({"git", "-C", o_.tree.string(), "rev-parse", "--show-toplevel"});
		if (!top.ok())
			refuse("--tree {}: not a git work tree ({})", o_.tree.string(), trim(top.output));
		o_.tree = trim(top.output);
		auto resolve = [&](const std::string &rev, const char *flag) {
			auto r = run({"git", "-C", o_.tree.string(), "rev-parse", "--verify", "--quiet", rev + "^{commit}"});
			if (!r.ok())
				refuse("{} {}: not a commit of {}", flag, rev, o_.tree.string());
			return trim(r.output);
		};
		good_ = resolve(o_.good, "--good");
		bad_ = resolve(o_.bad, "--bad");
		if (good_ == bad_)
			refuse("--good and --bad name the same commit {}", good_.substr(0, 12));
		if (!run({"git", "-C", o_.tree.string(), "merge-base", "--is-ancestor", good_, bad_}).ok())
			refuse("--good {} is not an ancestor of --bad {}", o_.good, o_.bad);
		if (!std::set<std::string>{"on", "off", "off-kernel", "sw"}.count(o_.protection))
			refuse("--protection {}: expected on, off, off-kernel or sw", o_.protection);
		if (o_.protection == "off-kernel" || o_.protection == "sw")
			if (!arch_->kconfig.count(o_.protection))
				refuse("--protection {} is a kernel config of its own, which {} has not (ci/matrix.json)",
				       o_.protection, o_.arch);
	}

	// The clone (shares the tree's objects; the tree itself is only read) and the build tree, in the cache.
	void prepare_clone()
	{
		auto base = user_cache() / "bisect" / sha256_text(o_.tree.string()).substr(0, 12);
		clone_ = base / "src";
		obj_ = base / fmt::format("obj-{}-{}", o_.arch, o_.protection);
		fs::create_directories(base);
		lock_ = std::make_unique<FileLock>(base / "lock");
		if (fs::exists(clone_ / ".git") && !run({"git", "-C", clone_.string(), "cat-file", "-e", bad_}).ok())
			fs::remove_all(clone_);  // the tree's objects moved on (gc) or it is another tree
		if (!fs::exists(clone_ / ".git")) {
			fmt::print(stderr, "xuaccess bisect: cloning {} (sharing its objects) into {}\n", o_.tree.string(),
				   clone_.string());
			run_checked({"git", "clone", "--quiet", "--shared", "--no-checkout", o_.tree.string(), clone_.string()});
		}
		run({"git", "-C", clone_.string(), "bisect", "reset"});  // an interrupted run's state, if any
		write_file(base / "tree", o_.tree.string() + "\n");
		// What every revision is built with: the source kernels' fragments for the arch and protection, the
		// default series' gcc.
		auto merged = merge_fragments(kconfig_fragments(*arch_, "src", o_.protection),
					      fmt::format("# bisect of {}\n# arch {}\n", o_.tree.string(), o_.arch));
		fragment_ = base / (obj_.filename().string() + ".fragment");
		write_file(fragment_, merged);
		fs::create_directories(obj_);
		cc_ = kernel_cc(*arch_, Matrix::get().default_kernel());
		image_target_ = tree_boot_image(*arch_, obj_, parse_kconfig(merged)).filename().string();
	}

	fs::path step_file(const std::string &rev) const { return o_.out / "steps" / (rev + ".json"); }

	// One revision: checked out in the clone, built, booted, judged. Cached in steps/<sha>.json.
	BisectStep measure(const std::string &rev, const std::string &what)
	{
		BisectStep s;
		if (fs::exists(step_file(rev))) {
			s = nlohmann::json::parse(read_file(step_file(rev))).get<BisectStep>();
			if (s.verdict != "skip" || !s.why.starts_with("interrupted"))
				return report(s, what, true);
		}
		s.rev = rev;
		s.subject = git(o_.tree, {"log", "-1", "--format=%s", rev});
		git(clone_, {"checkout", "--quiet", "--detach", rev});
		auto t0 = std::chrono::steady_clock::now();
		const auto log = o_.out / "steps" / (rev + ".build.log");
		try {
			build_kernel_tree({.arch = arch_, .src = clone_, .obj = obj_, .fragment = fragment_, .log = log,
					   .cc = cc_, .label = fmt::format("{} at {}", o_.arch, rev.substr(0, 12)),
					   .image_target = image_target_, .quiet = true});
		} catch (const Interrupted &) {
			throw;
		} catch (const Error &) {
			s.verdict = "skip";
			s.why = "does not build (" + log.string() + ")";
			s.build_seconds = seconds_since(t0);
			return save(s, what);
		}
		s.build_seconds = seconds_since(t0);
		auto t1 = std::chrono::steady_clock::now();
		auto res = o_.out / "steps" / rev;
		fs::remove_all(res);
		// The front end of this checkout by name (not /proc/self/exe: a rebuild during a long bisection replaces
		// the file, and the next revision runs the new one).
		const auto self = Matrix::paths().build / "host" / "xuaccess-host";
		std::vector<std::string> argv = {self.string(), "bench", "--arch", o_.arch,
						 "--kernel", obj_.string(), "--protection", o_.protection, "--clock", o_.clock,
						 "--filter", "^" + o_.row + "$", "--out", res.string()};
		if (o_.clock == "time")
			argv.insert(argv.end(), {"--boots", std::to_string(o_.boots), "--seed", "1"});
		try {
			run_logged(argv, o_.out / "steps" / (rev + ".bench.log"), "bench at " + rev.substr(0, 12), {});
		} catch (const Interrupted &) {
			throw;
		} catch (const Error &e) {
			s.verdict = "skip";
			s.why = fmt::format("the cell failed: {} ({})", split_lines(e.what()).front(),
					    (o_.out / "steps" / (rev + ".bench.log")).string());
			s.boot_seconds = seconds_since(t1);
			return save(s, what);
		}
		s.boot_seconds = seconds_since(t1);
		auto cells = load_results(res);
		auto &cell = cells.front();
		auto row = cell.rows.find(o_.row);
		if (row == cell.rows.end()) {
			std::string names;
			for (auto &[n, r] : cell.rows)
				names += " " + n;
			fail("no row '{}' in {}: rows there:{}", o_.row, res.string(), names);
		}
		s.value = row->second.median;
		s.unit = row->second.unit_name;
		if (rev == good_)
			s.verdict = "good";
		else if (o_.clock == "icount")
			s.verdict = icount_verdict(good_value_, *s.value, o_.effective_threshold());
		else
			s.verdict = time_verdict(cell);
		return save(s, what);
	}

	std::string time_verdict(const CellResults &cell)
	{
		auto good = load_results(o_.out / "steps" / good_);
		auto cmp = compare(good.front(), cell, {.allow_mismatch = true});
		for (auto &r : cmp.rows)
			if (r.name == o_.row) {
				bool excludes = r.ratio.lo > 1 || r.ratio.hi < 1;
				return excludes && std::fabs(r.ratio.estimate - 1) > o_.effective_threshold() ? "bad" : "good";
			}
		fail("no row '{}' to compare", o_.row);
	}

	BisectStep save(const BisectStep &s, const std::string &what)
	{
		write_file(step_file(s.rev), nlohmann::json(s).dump(2) + "\n");
		steps_.push_back(s);
		return report(s, what, false);
	}

	BisectStep report(const BisectStep &s, const std::string &what, bool cached)
	{
		if (cached && !step_of(s.rev))
			steps_.push_back(s);
		fmt::print(stderr, "xuaccess bisect: {} {}{}: {}{} (build {:.0f} s, boot {:.0f} s){}\n", s.rev.substr(0, 12),
			   s.subject, what.empty() ? "" : " [" + what + "]", s.verdict,
			   s.value ? fmt::format(", {} = {:.6g} {}", o_.row, *s.value, s.unit) : ", " + s.why, s.build_seconds,
			   s.boot_seconds, cached ? " (measured before)" : "");
		return s;
	}

	const BisectStep *step_of(const std::string &rev) const
	{
		for (auto &s : steps_)
			if (s.rev == rev)
				return &s;
		return nullptr;
	}

	void write_result(const std::string &culprit, const std::vector<std::string> &candidates,
			  const std::optional<BisectStep> &parent = {})
	{
		auto val = [&](const std::string &rev) -> nlohmann::json {
			auto *s = step_of(rev);
			return s && s->value ? nlohmann::json(*s->value) : nlohmann::json(nullptr);
		};
		nlohmann::json j = {{"options", options_json(o_)}, {"good_commit", good_}, {"bad_commit", bad_},
				    {"threshold", o_.effective_threshold()}, {"clock", o_.clock},
				    {"good_value", val(good_)}, {"bad_value", val(bad_)}};
		std::string text = fmt::format("xuaccess bisect: {} on {} (protection {}; {})\ntree {}, good {} .. bad {}\n",
					       o_.row, o_.arch, o_.protection, clock_label(), o_.tree.string(),
					       good_.substr(0, 12), bad_.substr(0, 12));
		auto *g = step_of(good_);
		const std::string unit = g ? g->unit : "";
		if (!culprit.empty()) {
			auto subject = git(o_.tree, {"log", "-1", "--format=%s", culprit});
			j["first_bad_commit"] = culprit;
			j["first_bad_subject"] = subject;
			j["culprit_value"] = val(culprit);
			if (parent) {
				j["parent_commit"] = parent->rev;
				j["parent_value"] = val(parent->rev);
			}
			text += fmt::format("\nfirst bad commit: {} {}\n", culprit, subject);
			auto *c = step_of(culprit);
			if (c && c->value && parent && parent->value) {
				double d = *c->value - *parent->value;
				j["change"] = d;
				j["change_share"] = d / *parent->value;
				text += fmt::format("{}: {:.6g} {} at its parent {}, {:.6g} at the commit: {:+.6g} {} ({:+.3f} %)\n",
						    o_.row, *parent->value, unit, parent->rev.substr(0, 12), *c->value, d, unit,
						    100 * d / *parent->value);
				// A per-byte row (insn/B, ns/B) of an N-byte transfer: the change per call too.
				if (auto bytes = row_bytes(o_.row); bytes && unit.ends_with("/B")) {
					j["change_per_call"] = d * *bytes;
					text += fmt::format("per {}-byte call: {:+.6g} {}\n", *bytes, d * *bytes,
							    unit.substr(0, unit.size() - 2));
				}
			}
		} else if (!candidates.empty()) {
			j["candidates"] = candidates;
			text += "\nskipped revisions leave more than one candidate; the first bad commit is one of:\n";
			for (auto &c : candidates)
				text += fmt::format("  {} {}\n", c.substr(0, 12), git(o_.tree, {"log", "-1", "--format=%s", c}));
		} else {
			text += "\nno change beyond the threshold between the ends: nothing to bisect\n";
		}
		auto *b = step_of(bad_);
		if (g && g->value && b && b->value)
			text += fmt::format("good end {:.6g} {}, bad end {:.6g} {} (threshold {} of the good value)\n", *g->value,
					    unit, *b->value, unit, o_.effective_threshold());
		text += fmt::format("\n{:<4} {:<12} {:>12} {:>10} {:<8} {:>7} {:>7}  {}\n", "step", "revision", "value",
				    "change", "verdict", "build", "boot", "subject");
		nlohmann::json steps = nlohmann::json::array();
		int n = 0;
		for (auto &s : steps_) {
			steps.push_back(s);
			std::string change = s.value && g && g->value ? fmt::format("{:+.4f} %", 100 * (*s.value / *g->value - 1)) : "";
			text += fmt::format("{:<4} {:<12} {:>12} {:>10} {:<8} {:>6.0f}s {:>6.0f}s  {}{}\n", ++n, s.rev.substr(0, 12),
					    s.value ? fmt::format("{:.6g}", *s.value) : "-", change, s.verdict,
					    s.build_seconds, s.boot_seconds, s.subject, s.why.empty() ? "" : " (" + s.why + ")");
		}
		j["steps"] = steps;
		write_file(o_.out / "bisect.json", j.dump(2) + "\n");
		write_file(o_.out / "bisect.txt", text);
	}

	BisectOptions o_;
	const Arch *arch_;
	std::string good_, bad_;
	fs::path clone_, obj_, fragment_;
	std::string cc_, image_target_;
	std::unique_ptr<FileLock> lock_;
	double good_value_ = 0;
	std::vector<BisectStep> steps_;
};

}  // namespace

int run_bisect(const BisectOptions &opt)
{
	auto o = opt;
	if (o.out.empty())
		o.out = Matrix::paths().source / "results" / ("bisect-" + utc_now("%Y%m%d-%H%M%S"));
	try {
		return Bisection(o).bisect();
	} catch (const Interrupted &) {
		fmt::print(stderr, "\nxuaccess bisect: interrupted; the measured revisions are kept: ./xuaccess bisect "
				   "--resume {} goes on (your tree {} was not touched)\n", o.out.string(), o.tree.string());
		throw;
	}
}

int resume_bisect(const fs::path &dir)
{
	auto file = dir / "bisect.json";
	if (!fs::exists(file))
		refuse("--resume {}: no bisect.json there", dir.string());
	auto j = nlohmann::json::parse(read_file(file));
	return run_bisect(options_from_json(j.at("options"), dir));
}

}  // namespace xua
