#include "cmd/compare.hpp"

#include "report/comparison.hpp"

namespace xua {

int run_compare(const fs::path &fa, const fs::path &fb, const CompareOptions &o, const fs::path &json_out)
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
	if (!json_out.empty())
		write_file(json_out, comparison_json(c).dump(2) + "\n");
	return 0;
}

}  // namespace xua
