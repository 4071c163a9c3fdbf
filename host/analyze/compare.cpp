#include "analyze/compare.hpp"

#include <algorithm>
#include <cmath>
#include <regex>

#include "analyze/names.hpp"
#include "analyze/stats.hpp"

namespace xua {

int Comparison::significant() const
{
	return static_cast<int>(std::count_if(rows.begin(), rows.end(), [](auto &r) { return r.significant; }));
}

std::string Comparison::mark_rule() const
{
	if (exact)
		return fmt::format("exact clock (icount): no test, a row is marked when B differs from A by more than {:g} of A "
				   "(what two boots of one cell differed by here)",
				   kExactTolerance);
	return fmt::format("q: Benjamini-Hochberg over the {} rows' rank-sum (U test) p-values; * = q < {}: among marked rows, "
			   "the expected share of false marks is at most {}",
			   rows.size(), alpha, alpha);
}

bool difference_row(const std::string &name)
{
	return name.starts_with("guard/");
}

std::string RowComparison::effect_text() const
{
	// A difference is in the row's own unit: ns under a time clock, instructions under icount (two decimals:
	// a window pair is about 4 instructions).
	const bool insn = a && a->unit_name.starts_with("insn");
	auto diff = [&](double v) { return insn ? fmt::format("{:+.2f}", v) : fmt::format("{:+.1f}", v); };
	const char *unit = insn ? "insn" : "ns";
	if (!effect.valid())
		return difference ? fmt::format("{} {}", diff(b->median - a->median), unit) : fmt::format("{:.3f}", time_ratio);
	bool interval = !std::isnan(effect.lo) && !(effect.lo == effect.hi && effect.lo == effect.estimate);
	if (difference)
		return interval ? fmt::format("{} {} [{}, {}]", diff(effect.estimate), unit, diff(effect.lo), diff(effect.hi))
				: fmt::format("{} {}", diff(effect.estimate), unit);
	return interval ? fmt::format("{:.3f} [{:.3f}, {:.3f}]", effect.estimate, effect.lo, effect.hi)
			: fmt::format("{:.3f}", effect.estimate);
}

namespace {

// The words of a command line, sorted (the order of kernel parameters does not matter here).
std::vector<std::string> words(const std::string &s)
{
	auto w = split_words(s);
	std::sort(w.begin(), w.end());
	return w;
}

}  // namespace

std::vector<std::string> accepted_differences(const CellResults &a, const CellResults &b)
{
	// A protection that is not a CPU model (off-kernel, sw) is one kernel parameter or one kernel config
	// fragment added to the other cell's kernel: that difference, and only it, is what is compared.
	std::vector<std::string> out;
	if (a.protection() == b.protection())
		return out;
	for (auto [x, y] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
		const auto &xc = x->meta.kernel_cmdline, &yc = y->meta.kernel_cmdline;
		const auto &extra = x->meta.protection_cmdline;
		if (!extra.empty() && xc != yc) {
			auto wx = words(xc), wy = words(yc), we = words(extra);
			std::vector<std::string> sum = wy;
			sum.insert(sum.end(), we.begin(), we.end());
			std::sort(sum.begin(), sum.end());
			if (sum == wx)
				out.push_back(fmt::format("kernel command line: {} adds '{}' ({}), nothing else", x->name, extra,
							  x->protection()));
		}
		const auto &xs = x->meta.kernel_config_sha256, &ys = y->meta.kernel_config_sha256;
		const auto &base = x->meta.kernel_base_config_sha256;
		if (!xs.empty() && !ys.empty() && xs != ys && !base.empty() && base == ys)
			out.push_back(fmt::format("kernel config: {} ({}) differs from {}'s only in {} (fragment ci/kconfig/{}.config)",
						  x->name, x->protection(), y->name, x->meta.kernel_config_diff,
						  x->meta.kernel_protection_fragment));
	}
	return out;
}

std::vector<std::string> mismatches(const CellResults &a, const CellResults &b, const std::string &across)
{
	std::vector<std::string> out;
	// --across kernel: a kernel A/B (same arch, CPU, protection and everything else, two kernels).
	const bool kernel_ab = across == "kernel";
	if (kernel_ab && a.protection() != b.protection())
		out.push_back(fmt::format("protection: '{}' vs '{}' (a kernel A/B compares one protection on two kernels)",
					  a.protection(), b.protection()));
	auto accepted = kernel_ab ? std::vector<std::string>{} : accepted_differences(a, b);
	// What accepted_differences says when the protection explains a field's difference.
	auto explained = [&](const std::string &key) {
		const char *prefix = key == keys::kernel_cmdline ? "kernel command line" : "kernel config";
		return std::any_of(accepted.begin(), accepted.end(), [&](auto &s) { return starts_with(s, prefix); });
	};
	auto differ = [&](const std::string &x, const std::string &y, const char *what, const char *key) {
		if (x != y)
			out.push_back(fmt::format("{}: '{}' vs '{}' ({})", what, x.empty() ? "?" : x, y.empty() ? "?" : y, key));
	};
	// The schema's table (shared/results_schema.hpp): each field's rule.
	for (const auto &f : context_fields()) {
		switch (f.rule) {
		case FieldRule::refuse:
			break;
		case FieldRule::refuse_but_kernel:
			if (kernel_ab)
				continue;
			break;
		case FieldRule::refuse_unless_explained:
			if (explained(f.key))
				continue;
			break;
		case FieldRule::refuse_but_kernel_unless_explained:
			if (kernel_ab || explained(f.key))
				continue;
			break;
		case FieldRule::special: case FieldRule::warn: case FieldRule::describes:
			continue;
		}
		differ(a.meta.*f.member, b.meta.*f.member, f.meaning, f.key);
	}
	// The typed fields.
	auto text = [](const auto &opt) { return opt ? std::string(name_of(*opt)) : std::string(); };
	differ(text(a.meta.accel), text(b.meta.accel), "accelerator", keys::accel);
	if (a.clock() != b.clock())
		out.push_back(fmt::format("clock: '{}' vs '{}' ({}): instructions and time are not comparable", a.clock(),
					  b.clock(), keys::clock));
	auto cpus = [](const CellResults &c) { return c.meta.num_cpus ? std::to_string(*c.meta.num_cpus) : std::string(); };
	differ(cpus(a), cpus(b), "guest CPUs", keys::num_cpus);
	// The CPU model may differ only as the on/off pair of CPU models both cells were run with (the matrix's
	// pair for the arch, recorded in each cell's context at bench time as xua_cpu_on / xua_cpu_off).
	const auto &ca = a.meta.qemu_cpu, &cb = b.meta.qemu_cpu;
	if (ca != cb) {
		auto cpu_for = [](const CellResults &c) {
			auto p = c.protection();
			return p == "on" ? c.meta.cpu_on : p == "off" ? c.meta.cpu_off : std::string();
		};
		bool pair = !a.protection().empty() && !b.protection().empty() && cpu_for(a) == ca && cpu_for(b) == cb;
		if (!pair)
			out.push_back(fmt::format("CPU model: '{}' vs '{}' (not the on/off pair of CPU models for this arch)", ca, cb));
	}
	return out;
}

std::vector<std::string> field_warnings(const CellResults &a, const CellResults &b)
{
	std::vector<std::string> out;
	for (const auto &f : context_fields()) {
		const auto &x = a.meta.*f.member, &y = b.meta.*f.member;
		if (f.rule == FieldRule::warn && x != y)
			out.push_back(fmt::format("{}: '{}' vs '{}' ({}): compared anyway", f.meaning, x.empty() ? "?" : x,
						  y.empty() ? "?" : y, f.key));
	}
	return out;
}

namespace {

// Signs that the two cells did not run at the same speed, whatever the protection did.
std::vector<std::string> speed_warnings(const Comparison &c, bool kernel_ab)
{
	std::vector<std::string> w;
	for (const CellResults *cell : {c.a, c.b}) {
		if (c.exact)  // instruction counts do not slow down on a busy host
			break;
		double cores = cell->meta.host_other_cores.value_or(-1.0);
		double steal = cell->meta.host_steal.value_or(-1.0);
		if (cores > kBusyHostCores || steal > kBusyHostSteal)
			w.push_back(fmt::format("the host was busy while {} ran ({:.2f} cores of other work on average, {:.1f}% "
						"steal): its figures are slowed by that; rerun on a quiet machine",
						cell->name, std::max(cores, 0.0), std::max(steal, 0.0) * 100));
	}
	for (const char *stem : kControlStems) {
		std::vector<double> ratios;
		for (auto &r : c.rows)
			if (auto n = parse_bench_name(r.name); n.size && n.stem == stem && r.time_ratio > 0)
				ratios.push_back(r.time_ratio);
		if (ratios.empty())
			continue;
		double m = median(ratios);
		if (std::abs(m - 1) > kControlTolerance && kernel_ab)
			w.push_back(fmt::format("the control rows {}/* differ by x{:.2f} (median over {} sizes): in a kernel A/B they "
						"run each kernel's own code (e.g. its memcpy), so this is the kernels' difference"
						"{}, not a guard effect",
						stem, m, ratios.size(),
						c.exact ? "" : " or the cells' speeds (under time the two are not told apart)"));
		else if (std::abs(m - 1) > kControlTolerance)
			w.push_back(fmt::format("the control rows {}/* (no user memory touched by the kernel: the guard has no part "
						"in them) differ by x{:.2f} (median over {} sizes): the cells ran at different "
						"speeds, and the other ratios carry that too",
						stem, m, ratios.size()));
	}
	return w;
}

// What limits the U test for these two cells.
std::vector<std::string> test_notes(const Comparison &c)
{
	std::vector<std::string> n;
	if (c.exact)
		return n;
	for (const CellResults *cell : {c.a, c.b})
		if (!cell->per_boot() && cell->meta.accel != Accel::host)
			n.push_back(fmt::format(
				"{} has one boot: p sees only the noise inside that boot, and two boots of one cell differ by far "
				"more ({}); `./xuaccess bench --boots 5` makes the boot the sample",
				cell->name, kBootToBootNoise));
	const auto na = c.a->samples, nb = c.b->samples;
	if (c.samples() < kUTestMinRepetitions)
		n.push_back(fmt::format("no U test: {} vs {} sample(s), it needs {} on each side", nb, na, kUTestMinRepetitions));
	else if (double min_p = wilcox_min_p(static_cast<size_t>(na), static_cast<size_t>(nb)); min_p >= c.alpha)
		n.push_back(fmt::format("with {} vs {} samples no row can reach p < {} (the smallest possible p is {:.3f})", nb,
					na, c.alpha, min_p));
	else if (!c.per_boot() && c.samples() < kUTestOptimalRepetitions)
		n.push_back(fmt::format("{} repetitions; the U test is unreliable below {} (compare.py says the same)",
					c.samples(), kUTestOptimalRepetitions));
	for (auto &r : c.rows)
		if (r.effect.limited) {
			n.push_back(fmt::format("the intervals are at {:.0f} % (not {:.0f} %): {} vs {} samples cannot reach more",
						r.effect.achieved_level * 100, r.effect.requested_level * 100, nb, na));
			break;
		}
	return n;
}

// The cell against itself: its even boots against its odd boots, every row.
std::optional<SplitHalfAA> own_noise(const CellResults &cell, double alpha)
{
	if (!cell.per_boot() || cell.exact_clock())
		return std::nullopt;
	RowSamples rows;
	for (auto &[name, r] : cell.rows)
		rows[name] = r.time_samples();
	return split_half_aa(rows, alpha);
}

}  // namespace

Comparison compare(const CellResults &a, const CellResults &b, const CompareOptions &o)
{
	Comparison c;
	c.a = &a;
	c.b = &b;
	c.alpha = o.alpha;
	c.exact = a.exact_clock() && b.exact_clock();
	c.mismatches = mismatches(a, b, o.across);
	c.accepted = o.across == "kernel" ? std::vector<std::string>{fmt::format("kernel A/B: {} vs {}", a.kernel_description(),
										       b.kernel_description())}
					  : accepted_differences(a, b);
	if (!c.mismatches.empty() && !o.allow_mismatch)
		fail("not comparing {} with {}: they differ in more than the {}:\n  {}\n"
		     "(--allow-mismatch compares them anyway; the differences are then printed with the result)",
		     a.name, b.name, o.across == "kernel" ? "kernel" : "protection", fmt::join(c.mismatches, "\n  "));
	for (auto &[name, ra] : a.rows) {
		auto it = b.rows.find(name);
		if (it == b.rows.end()) {
			c.only_a.push_back(name);
			continue;
		}
		const Row &rb = it->second;
		RowComparison r;
		r.name = name;
		r.a = &ra;
		r.b = &rb;
		double ta = ra.time_per_unit(), tb = rb.time_per_unit();
		r.time_ratio = ta > 0 ? tb / ta : 0;
		r.difference = difference_row(name);
		auto xa = ra.time_samples(), xb = rb.time_samples();
		r.ratio = time_ratio(xa, xb, o.level);
		r.effect = r.difference ? time_difference(xa, xb, o.level) : r.ratio;
		if (c.exact) {
			r.significant = ta > 0 ? std::abs(tb / ta - 1) > kExactTolerance : ta != tb;
		} else if (static_cast<int>(ra.samples.size()) >= kUTestMinRepetitions &&
			   static_cast<int>(rb.samples.size()) >= kUTestMinRepetitions && !std::isnan(r.effect.p)) {
			r.p = r.effect.p;  // the wilcox.test that gave the interval (stats.hpp's rule)
		}
		c.rows.push_back(r);
	}
	for (auto &[name, _] : b.rows)
		if (!a.rows.count(name))
			c.only_b.push_back(name);
	// q-values over the rows that have a p.
	std::vector<double> ps;
	for (auto &r : c.rows)
		ps.push_back(r.p ? *r.p : ShiftEstimate::nan);
	auto qs = bh_qvalues(ps);
	for (size_t i = 0; i < c.rows.size(); ++i)
		if (c.rows[i].p && !std::isnan(qs[i])) {
			c.rows[i].q = qs[i];
			c.rows[i].significant = qs[i] < o.alpha;
		}
	c.noise_a = own_noise(a, o.alpha);
	c.noise_b = own_noise(b, o.alpha);
	c.warnings = field_warnings(a, b);
	for (auto &w : speed_warnings(c, o.across == "kernel"))
		c.warnings.push_back(w);
	c.test_notes = test_notes(c);
	return c;
}

}  // namespace xua
