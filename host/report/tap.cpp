#include "report/tap.hpp"

namespace xua {

int print_tap(const Verdict &v, std::FILE *out)
{
	auto comment = [&](const std::string &text) {
		for (auto &l : split_lines(text))
			std::fprintf(out, "# %s\n", l.c_str());
	};
	for (auto &h : v.header)
		comment(h);
	int n = 0;
	for (auto &c : v.checks) {
		for (auto &l : c.comments)
			comment(l);
		std::fprintf(out, "%s %d - %s\n", c.ok ? "ok" : "not ok", ++n, c.what.c_str());
		if (!c.ok)
			comment(c.diag);
	}
	for (auto &l : v.trailing_comments)
		comment(l);
	std::fprintf(out, "1..%d\n", n);
	std::fflush(out);
	return v.failed();
}

}  // namespace xua
