#include "report/comparison.hpp"

#include "report/format.hpp"

#include <algorithm>
#include <cmath>

namespace xua {

std::string format_comparison(const Comparison &c, const std::vector<std::string> &only)
{
	const auto &a = *c.a, &b = *c.b;
	std::string t = fmt::format("{} (B) against {} (A): {}; B {}, A {}\n", b.name, a.name, a.accel_label(),
				    b.sampling(), a.sampling());
	if (c.exact)
		t += fmt::format("  B/A: B's instructions per byte or per call over A's, >1 = B executes more; {}.\n",
				 c.mark_rule());
	else
		t += fmt::format("  B/A: B's time per byte or per call over A's, >1 = B slower: Hodges-Lehmann estimate "
				 "[{:.0f} % interval] over the {}; values: median ± cv over the same.\n"
				 "  p: two-sided Mann-Whitney U; {}; {} of {} rows marked.\n",
				 100 * (c.rows.empty() ? 0.95 : c.rows.front().effect.requested_level),
				 c.per_boot() ? "boots' medians" : "repetitions", c.mark_rule(), c.significant(), c.rows.size());
	for (auto *n : {&c.noise_a, &c.noise_b})
		if (*n)
			t += fmt::format("  This run's noise, {}: {}\n", n == &c.noise_a ? a.name : b.name, (*n)->summary());
	for (auto *cell : {&a, &b})
		if (cell->pace_ns > 0)
			t += fmt::format("  Pace, {}: {}\n", cell->name, cell->pace_summary());
	for (auto &n : c.test_notes)
		t += fmt::format("  WARNING: {}\n", n);
	for (auto &m : c.mismatches)
		t += fmt::format("  COMPARED DESPITE A MISMATCH: {}\n", m);
	for (auto &w : c.warnings)
		t += fmt::format("  WARNING: {}\n", w);
	for (auto &d : c.accepted)
		t += fmt::format("  Accepted difference (the one thing compared besides what was asked): {}\n", d);
	if (auto note = cpu_off_note(a, b); !note.empty())
		t += fmt::format("  Note ({}): {}\n", a.meta.arch, note);
	std::vector<const RowComparison *> rows;
	for (auto &r : c.rows)
		if (only.empty() || std::find(only.begin(), only.end(), r.name) != only.end())
			rows.push_back(&r);
	size_t w = 9, ew = 8;
	for (auto *r : rows) {
		w = std::max(w, r->name.size());
		ew = std::max(ew, r->effect_text().size());
	}
	size_t cw = std::max<size_t>(18, std::max(a.name.size(), b.name.size()) + 4);
	t += fmt::format("{:<{}} {:>5} {:>{}} {:>{}} {:>{}} {:>8} {:>8}\n", "benchmark", w, "unit", "A " + a.name, cw,
			 "B " + b.name, cw, c.exact ? "B/A" : "B/A [interval]", ew, "p", "q");
	for (auto *r : rows)
		t += fmt::format("{:<{}} {:>5} {:>{}} {:>{}} {:>{}} {:>8} {:>8}{}\n", r->name, w, r->a->unit(),
				 value_cv(*r->a), cw, value_cv(*r->b), cw, r->effect_text(), ew,
				 r->p ? fmt::format("{:.4f}", *r->p) : "-", r->q ? fmt::format("{:.4f}", *r->q) : "-",
				 r->significant ? " *" : "");
	if (!c.only_a.empty() || !c.only_b.empty())
		t += fmt::format("  ({} rows only in A, {} only in B: not compared)\n", c.only_a.size(), c.only_b.size());
	return t;
}

nlohmann::json comparison_json(const Comparison &c)
{
	nlohmann::json j;
	j["a"] = c.a->name;
	j["b"] = c.b->name;
	j["emulated"] = c.a->accel_label();
	j["alpha"] = c.alpha;
	j["clock"] = c.a->clock();
	j["test"] = c.exact ? std::string("none: exact clock, a row differs or it does not")
			    : fmt::format("two-sided Mann-Whitney U over {} (scipy.stats.mannwhitneyu default method), "
					  "Benjamini-Hochberg q over the rows; Hodges-Lehmann estimates with intervals as "
					  "R's wilcox.test(conf.int = TRUE)",
					  c.per_boot() ? "the boots' medians" : "the repetitions");
	j["mark_rule"] = c.mark_rule();
	j["sampling"] = {c.a->sampling(), c.b->sampling()};
	j["samples"] = {c.a->samples, c.b->samples};
	j["test_notes"] = c.test_notes;
	j["mismatches"] = c.mismatches;
	j["accepted_differences"] = c.accepted;
	j["warnings"] = c.warnings;
	j["significant_rows"] = c.significant();
	for (auto [key, n] : {std::pair{"noise_a", &c.noise_a}, std::pair{"noise_b", &c.noise_b}})
		if (*n)
			j[key] = {{"summary", (*n)->summary()}, {"rows", (*n)->rows}, {"marked", (*n)->marked},
				  {"can_mark", (*n)->can_mark}, {"marked_rows", (*n)->marked_rows}};
	auto num = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
	j["rows"] = nlohmann::json::array();
	for (auto &r : c.rows) {
		nlohmann::json x = {{"name", r.name},
				    {"unit", r.a->unit()},
				    {"a_median", r.a->median},
				    {"a_cv", r.a->cv},
				    {"b_median", r.b->median},
				    {"b_cv", r.b->cv},
				    {"time_ratio_b_over_a", r.time_ratio},
				    {"effect", r.difference ? (r.a->unit_name.starts_with("insn") ? "difference_insn" : "difference_ns")
							     : "time_ratio"},
				    {"estimate", num(r.effect.estimate)},
				    {"lo", num(r.effect.lo)},
				    {"hi", num(r.effect.hi)},
				    {"level", num(r.effect.achieved_level)},
				    {"significant", r.significant}};
		x["p"] = r.p ? nlohmann::json(*r.p) : nlohmann::json(nullptr);
		x["q"] = r.q ? nlohmann::json(*r.q) : nlohmann::json(nullptr);
		j["rows"].push_back(x);
	}
	return j;
}

}  // namespace xua
