// README.md and docs/: every relative link resolves inside the repository, every #anchor names a heading of
// its page (as GitHub makes anchors), and no page cites a Markdown file the repository lacks.
#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <set>

#include <unistd.h>

#include <gtest/gtest.h>

#include "base/util.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

// The text without fenced code blocks and inline code spans: a link there is an example, not a link.
std::string prose(const std::string &md)
{
	std::string out;
	bool fenced = false;
	for (auto &line : split_lines(md)) {
		if (trim(line).starts_with("```")) {
			fenced = !fenced;
			out += "\n";
			continue;
		}
		if (!fenced)
			out += std::regex_replace(line, std::regex("`[^`]*`"), "``") + "\n";
		else
			out += "\n";
	}
	return out;
}

// GitHub's anchor of a heading: lower case, punctuation other than '-' and '_' dropped, spaces to '-';
// repeated headings get -1, -2, ...
std::set<std::string> anchors(const std::string &md)
{
	std::set<std::string> out;
	std::map<std::string, int> seen;
	bool fenced = false;
	for (auto &line : split_lines(md)) {
		if (trim(line).starts_with("```"))
			fenced = !fenced;
		std::smatch m;
		if (fenced || !std::regex_match(line, m, std::regex(R"(^#{1,6} +(.*?) *#*$)")))
			continue;
		std::string slug;
		for (unsigned char c : m[1].str()) {
			if (std::isalnum(c) || c == '-' || c == '_')
				slug += static_cast<char>(std::tolower(c));
			else if (c == ' ')
				slug += '-';
			else if (c >= 0x80)
				slug += static_cast<char>(c);  // UTF-8 letters stay
		}
		int n = seen[slug]++;
		out.insert(n ? slug + "-" + std::to_string(n) : slug);
	}
	return out;
}

// The problems of one page's relative links: a target outside the repository or missing, an anchor its page
// lacks. `page` is the page's path inside `root`.
std::vector<std::string> broken_links(const fs::path &root, const fs::path &page)
{
	std::vector<std::string> out;
	const auto text = read_file(root / page);
	const auto body = prose(text);
	const auto base = fs::weakly_canonical(root);
	static const std::regex link(R"(\]\(([^)\s]+)\))");
	for (auto it = std::sregex_iterator(body.begin(), body.end(), link); it != std::sregex_iterator(); ++it) {
		std::string target = (*it)[1];
		if (std::regex_search(target, std::regex("^[a-z]+:")))  // https:, mailto:
			continue;
		auto hash = target.find('#');
		std::string file = target.substr(0, hash), anchor = hash == std::string::npos ? "" : target.substr(hash + 1);
		fs::path resolved = file.empty() ? root / page : (root / page).parent_path() / file;
		resolved = fs::weakly_canonical(resolved);
		auto rel = resolved.lexically_relative(base);
		if (rel.empty() || rel.begin()->string() == "..") {
			out.push_back(page.string() + ": " + target + " points outside the repository");
			continue;
		}
		if (!fs::exists(resolved)) {
			out.push_back(page.string() + ": " + target + " does not exist");
			continue;
		}
		if (!anchor.empty() && !anchors(read_file(resolved)).count(anchor))
			out.push_back(page.string() + ": " + target + ": " + rel.string() + " has no heading #" + anchor);
	}
	// Project documents a page cites (an upper-case name like PLATFORM.md, or a path like docs/x.md, outside a
	// link, whose target is checked above) must be in the repository: a user has nothing else. Lower-case bare
	// names (report.md) are files the project writes.
	static const std::regex md_name(R"(([A-Za-z0-9_./-]+)\.md\b)");
	for (auto it = std::sregex_iterator(text.begin(), text.end(), md_name); it != std::sregex_iterator(); ++it) {
		std::string stem = (*it)[1], name = stem + ".md";
		auto pos = static_cast<size_t>(it->position());
		if (pos >= 2 && text.compare(pos - 2, 2, "](") == 0)
			continue;
		bool upper = std::all_of(stem.begin(), stem.end(), [](char c) { return !std::islower(static_cast<unsigned char>(c)); });
		if (!upper && name.find('/') == std::string::npos)
			continue;
		bool found = fs::exists((root / page).parent_path() / name) || fs::exists(root / name);
		if (!found)
			out.push_back(page.string() + ": cites " + name + ", which is not in the repository");
	}
	return out;
}

std::vector<fs::path> user_pages(const fs::path &root)
{
	std::vector<fs::path> pages = {"README.md"};
	if (fs::exists(root / "docs"))
		for (auto &e : fs::directory_iterator(root / "docs"))
			if (e.path().extension() == ".md")
				pages.push_back(fs::path("docs") / e.path().filename());
	std::sort(pages.begin(), pages.end());
	return pages;
}

}  // namespace

// Positive control: a planted broken link, a missing anchor, a link out of the repository and a cited file
// that does not exist are each found; a good link and one inside code are not.
TEST(Docs, PlantedBrokenLinksAreFound)
{
	TempDir scratch("docs");
	const auto root = scratch.path;
	fs::create_directories(root / "docs");
	write_file(root / "README.md", "# Top\n\n## Reading the figures (`--clock`)\n\nSee [a](docs/a.md#the-part), "
				      "[b](docs/missing.md), [c](docs/a.md#no-such-part), [d](../outside.md),\n"
				      "[e](#reading-the-figures---clock), `[f](#not-an-anchor)`, PLATFORM.md and report.md.\n");
	write_file(root / "docs/a.md", "# A\n\n## The part\n\nBack to the [README](../README.md#top).\n");
	auto problems = broken_links(root, "README.md");
	auto joined = fmt::format("{}", fmt::join(problems, "\n"));
	EXPECT_EQ(problems.size(), 4u) << joined;
	EXPECT_NE(joined.find("docs/missing.md does not exist"), std::string::npos) << joined;
	EXPECT_NE(joined.find("has no heading #no-such-part"), std::string::npos) << joined;
	EXPECT_NE(joined.find("../outside.md points outside"), std::string::npos) << joined;
	EXPECT_NE(joined.find("cites PLATFORM.md"), std::string::npos) << joined;
	EXPECT_TRUE(broken_links(root, "docs/a.md").empty());
}

TEST(Docs, EveryRelativeLinkAndAnchorResolves)
{
	auto pages = user_pages(kSource);
	EXPECT_GT(pages.size(), 5u) << "README.md and docs/*.md";
	for (auto &p : pages)
		for (auto &problem : broken_links(kSource, p))
			ADD_FAILURE() << problem;
}

// The README stays a front page: at most 250 lines; the rest is in docs/.
TEST(Docs, ReadmeIsAFrontPage)
{
	auto lines = split_lines(read_file(kSource / "README.md"));
	EXPECT_LE(lines.size(), 250u);
	for (auto &p : user_pages(kSource))
		EXPECT_EQ(read_file(kSource / p).find("/work/"), std::string::npos) << p << " cites a path of the project's own machines";
}
