#include "report/report.hpp"

#include <set>

#include "report/format.hpp"
#include "report/markdown.hpp"
#include "report/plots.hpp"

namespace xua {
namespace {

// A cell not compared (no partner in the directory, or the pair refused): its headline rows.
std::string single_table(const CellResults &c, bool refused)
{
	auto rows = headline_rows(c);
	size_t w = 9;
	for (auto &r : rows)
		w = std::max(w, r.size());
	auto partners = partner_protections(c.protection());
	std::string why = refused            ? "not compared, see above"
			  : partners.empty() ? "no protection to compare with"
					     : fmt::format("no {} partner in this directory", fmt::join(partners, " or "));
	std::string t = fmt::format("{}: {}, {}, median ± cv ({})\n", c.name, c.accel_label(), c.sampling(), why);
	if (c.pace_ns > 0)
		t += fmt::format("  Pace: {}\n", c.pace_summary());
	for (auto &n : rows) {
		auto &r = c.rows.at(n);
		t += fmt::format("{:<{}} {:>7} {:>18}\n", n, w, r.unit(), value_cv(r));
	}
	return t;
}

}  // namespace

std::string write_report(const fs::path &dir)
{
	std::vector<std::string> skipped;
	auto cells = load_results(dir, &skipped);
	auto groups = pair_cells(cells);
	std::string summary;
	for (auto &s : skipped) {  // said first, and kept in summary.txt: a cell missing from the report is news
		fmt::print(stderr, "xuaccess: warning: {}\n", s);
		summary += fmt::format("WARNING: {}\n", s);
	}
	std::set<const CellResults *> noted;  // a cell in two pairs (on vs off, on vs off-kernel) has its notes once
	for (auto &g : groups) {
		if (g.cmp) {
			summary += format_comparison(*g.cmp, headline_rows(*g.guarded));
			write_file(dir / fmt::format("compare-{}.txt", g.name), format_comparison(*g.cmp));
			write_file(dir / fmt::format("compare-{}.json", g.name), comparison_json(*g.cmp).dump(2) + "\n");
		} else {
			if (!g.refused.empty())
				summary += fmt::format("{}: {} not compared: {}\n", g.name, g.pair_title(), g.refused);
			for (auto *c : g.cells)
				summary += single_table(*c, !g.refused.empty());
		}
		for (auto *c : g.cells)
			if (noted.insert(c).second)
				for (auto &n : cell_notes(*c))
					summary += n + "\n";
		summary += "\n";
	}
	write_file(dir / "summary.txt", summary);

	auto pngs = draw_plots(groups, dir / "plots");
	write_file(dir / "report.md", markdown(dir, cells, groups, pngs));
	return summary;
}

void print_report(const fs::path &dir)
{
	auto summary = write_report(dir);
	fmt::print("\n{}Report: {} (plots in {})\n", summary, (dir / "report.md").string(), (dir / "plots").string());
}

}  // namespace xua
