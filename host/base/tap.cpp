#include "base/tap.hpp"

#include <regex>

#include <fmt/format.h>

namespace xua::tap {

Line parse(std::string_view line_in)
{
	static const std::regex plan_re(R"(^1\.\.(\d+)\s*(#.*)?$)");
	static const std::regex test_re(R"(^(not ok|ok)\b(?:\s+(\d+))?(?:\s+-)?\s*(.*)$)");
	static const std::regex directive_re(R"(#\s*(SKIP|skip|Skip|TODO|todo|Todo)\b)");
	const std::string line(line_in);
	std::smatch m;
	Line l;
	if (std::regex_match(line, m, plan_re)) {
		l.kind = Line::Kind::plan;
		l.plan = std::stoi(m[1]);
	} else if (std::regex_match(line, m, test_re)) {
		l.kind = Line::Kind::test;
		l.ok = m[1] == "ok";
		l.number = m[2].matched ? std::stoi(m[2]) : 0;
		l.text = m[3];
		std::smatch d;
		if (std::regex_search(l.text, d, directive_re)) {
			l.directive = d[1];
			for (auto &c : l.directive)
				c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
		}
	}
	return l;
}

std::string test_line(bool ok, int number, std::string_view text)
{
	return fmt::format("{} {} - {}", ok ? "ok" : "not ok", number, text);
}

std::string plan_line(int count)
{
	return fmt::format("1..{}", count);
}

}  // namespace xua::tap
