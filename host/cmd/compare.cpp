#include "cmd/compare.hpp"

#include "report/comparison.hpp"

namespace xua {

RegressionCheck regression(const Comparison &c, double max_pct)
{
	// The comparison's own intervals (RowComparison::ratio, at its level): nothing is recomputed.
	std::vector<RegressionInput> rows;
	for (auto &r : c.rows)
		rows.push_back({r.name, r.a->time_samples(), r.b->time_samples(), r.ratio});
	auto check = check_regression(rows, max_pct, c.exact ? Clock::icount : Clock::time);
	check.only_a = c.only_a;
	check.only_b = c.only_b;
	return check;
}

std::string format_regression(const RegressionCheck &r)
{
	std::string t;
	for (auto &row : r.rows) {
		if (row.verdict == RegressionVerdict::within)
			continue;
		t += fmt::format("  {:<12} {}: {}\n", to_string(row.verdict), row.name, row.reason);
	}
	t += fmt::format("max regression {} % ({}): {} row(s) slower beyond it, {} within, {} inconclusive, {} untestable, "
			 "{} inconsistent{}\n",
			 r.max_pct, r.clock == Clock::icount ? "exact clock: the values themselves" : "time: the interval's lower bound",
			 r.count(RegressionVerdict::slower), r.count(RegressionVerdict::within),
			 r.count(RegressionVerdict::inconclusive), r.count(RegressionVerdict::untestable),
			 r.count(RegressionVerdict::inconsistent),
			 r.only_a.empty() && r.only_b.empty()
				 ? ""
				 : fmt::format("; {} row(s) only in A, {} only in B", r.only_a.size(), r.only_b.size()));
	return t;
}

int run_compare(const fs::path &fa, const fs::path &fb, const CompareOptions &o, const fs::path &json_out,
		std::optional<double> max_regression_pct)
{
	auto a = load_cell(fa), b = load_cell(fb);
	Comparison c;
	try {
		c = compare(a, b, o);
	} catch (const Error &e) {
		fmt::print(stderr, "xuaccess: {}\n", e.what());
		return 2;
	}
	fmt::print("{}", format_comparison(c));
	auto j = comparison_json(c);
	int status = 0;
	if (max_regression_pct) {
		auto r = regression(c, *max_regression_pct);
		fmt::print("{}", format_regression(r));
		j["max_regression_pct"] = *max_regression_pct;
		j["regressions"] = r.count(RegressionVerdict::slower);
		status = r.failed() ? 1 : 0;
	}
	if (!json_out.empty())
		write_file(json_out, j.dump(2) + "\n");
	return status;
}

}  // namespace xua
