#include "report/comparison.hpp"

#include "report/format.hpp"

#include <algorithm>

namespace xua {

std::string format_comparison(const Comparison &c, const std::vector<std::string> &only)
{
	const auto &a = *c.a, &b = *c.b;
	std::string t = fmt::format("{} (B) against {} (A): {}; B {}, A {}\n", b.name, a.name, a.accel_label(),
				    b.sampling(), a.sampling());
	t += fmt::format("  B/A: B's time per byte or per call over A's, >1 = B slower; values: median ± cv over the {}.\n"
			 "  p: two-sided Mann-Whitney U over the same; * = p < {} (significant), in {} of {} rows.",
			 c.per_boot() ? "boots' medians" : "repetitions", c.alpha, c.significant(), c.rows.size());
	if (c.samples() >= kUTestMinRepetitions)
		t += fmt::format(" If nothing differed, {} of {} rows would be marked by chance.", c.marked_by_chance(),
				 c.rows.size());
	t += "\n";
	for (auto &n : c.test_notes)
		t += fmt::format("  WARNING: {}\n", n);
	for (auto &m : c.mismatches)
		t += fmt::format("  COMPARED DESPITE A MISMATCH: {}\n", m);
	for (auto &w : c.warnings)
		t += fmt::format("  WARNING: {}\n", w);
	for (auto &d : c.accepted)
		t += fmt::format("  Accepted difference (the one thing compared besides what was asked): {}\n", d);
	// The off CPU model's note concerns on vs off only (off-kernel runs on the on CPU model).
	if (a.protection() != b.protection() && (a.protection() == "off" || b.protection() == "off") &&
	    a.context_string("xua_qemu_cpu") != b.context_string("xua_qemu_cpu"))
		if (auto note = a.context_string("xua_cpu_off_note"); !note.empty())
			t += fmt::format("  Note ({}): {}\n", a.context_string("xua_arch"), note);
	std::vector<const RowComparison *> rows;
	for (auto &r : c.rows)
		if (only.empty() || std::find(only.begin(), only.end(), r.name) != only.end())
			rows.push_back(&r);
	size_t w = 9;
	for (auto *r : rows)
		w = std::max(w, r->name.size());
	size_t cw = std::max<size_t>(18, std::max(a.name.size(), b.name.size()) + 4);
	t += fmt::format("{:<{}} {:>5} {:>{}} {:>{}} {:>8} {:>8}\n", "benchmark", w, "unit", "A " + a.name, cw,
			 "B " + b.name, cw, "B/A", "p");
	for (auto *r : rows)
		t += fmt::format("{:<{}} {:>5} {:>{}} {:>{}} {:>8.3f} {:>8}{}\n", r->name, w, r->a->unit(), value_cv(*r->a), cw,
				 value_cv(*r->b), cw, r->time_ratio, r->p ? fmt::format("{:.4f}", *r->p) : "-",
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
	j["test"] = fmt::format("two-sided Mann-Whitney U over {} (scipy.stats.mannwhitneyu default method)",
				c.per_boot() ? "the boots' medians" : "the repetitions");
	j["sampling"] = {c.a->sampling(), c.b->sampling()};
	j["samples"] = {c.a->samples, c.b->samples};
	j["test_notes"] = c.test_notes;
	j["mismatches"] = c.mismatches;
	j["accepted_differences"] = c.accepted;
	j["warnings"] = c.warnings;
	j["significant_rows"] = c.significant();
	j["rows"] = nlohmann::json::array();
	for (auto &r : c.rows) {
		nlohmann::json x = {{"name", r.name},
				    {"unit", r.a->unit()},
				    {"a_median", r.a->median},
				    {"a_cv", r.a->cv},
				    {"b_median", r.b->median},
				    {"b_cv", r.b->cv},
				    {"time_ratio_b_over_a", r.time_ratio},
				    {"significant", r.significant}};
		x["p"] = r.p ? nlohmann::json(*r.p) : nlohmann::json(nullptr);
		j["rows"].push_back(x);
	}
	return j;
}

}  // namespace xua
