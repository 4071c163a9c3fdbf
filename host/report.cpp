#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>

#include "matrix.hpp"
#include "qemu.hpp"

namespace xua {
namespace {

std::vector<std::string> split(const std::string &s, char sep)
{
	std::vector<std::string> out;
	size_t start = 0;
	for (size_t pos; (pos = s.find(sep, start)) != std::string::npos; start = pos + 1)
		out.push_back(s.substr(start, pos - start));
	out.push_back(s.substr(start));
	return out;
}

std::string size_label(uint64_t bytes)
{
	if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
		return fmt::format("{} MiB", bytes >> 20);
	if (bytes >= 1024 && bytes % 1024 == 0)
		return fmt::format("{} KiB", bytes >> 10);
	return fmt::format("{} B", bytes);
}

// "EMULATED (QEMU TCG), not silicon" and the like: on every plot and at the top of the report.
std::string banner(const CellResults &c)
{
	auto accel = c.context_string("xua_accel");
	if (accel == "kvm")
		return "KVM guest on this host's CPU";
	if (accel == "host")
		return "real silicon, the running kernel";
	return "EMULATED (QEMU TCG), not silicon";
}

std::string guard_name(const CellResults &c)
{
	auto g = c.context_string("xua_guard");
	return g.empty() ? "guard" : g;
}

std::string kernel_of(const CellResults &c)
{
	auto k = c.context_string("xua_kernel_release");
	return k.empty() ? "?" : k;
}

// Sorted (x, value) points of the rows "<prefix><x>" of a cell, e.g. prefix "transfer/copy/to_user/".
std::vector<std::pair<double, double>> series(const CellResults &c, const std::string &prefix)
{
	std::vector<std::pair<double, double>> xy;
	for (auto &[name, r] : c.rows) {
		if (!name.starts_with(prefix))
			continue;
		auto rest = name.substr(prefix.size());
		if (rest.empty() || rest.find_first_not_of("0123456789") != std::string::npos)
			continue;
		xy.emplace_back(std::stod(rest), r.median);
	}
	std::sort(xy.begin(), xy.end());
	return xy;
}

// The <middle> parts of rows "<family>/<middle>/<dir>/<n>" in name order.
std::vector<std::string> methods(const std::vector<const CellResults *> &cells, const std::string &family)
{
	std::set<std::string> m;
	for (auto *c : cells)
		for (auto &[name, _] : c->rows) {
			auto p = split(name, '/');
			if (p.size() == 4 && p[0] == family)
				m.insert(p[1]);
		}
	return {m.begin(), m.end()};
}

const char *const kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
				"#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};

std::string colour(size_t i)
{
	return kColours[i % std::size(kColours)];
}

std::string quote(const std::string &s)
{
	std::string q = "\"";
	for (char ch : s)
		q += ch == '\n' ? std::string("\\n") : ch == '"' || ch == '\\' ? std::string("\\") + ch : std::string(1, ch);
	return q + "\"";
}

// Tic marks for a log axis from lo to hi: gnuplot labels only the powers of ten, which leaves an axis that
// spans less than a decade or two with one label or none. Empty (gnuplot's own) for wide ranges.
std::string log_tics(double lo, double hi)
{
	if (!(lo > 0) || !(hi > lo) || hi / lo > 1000)
		return "";
	const double span = hi / lo;
	const std::vector<double> mantissas = span > 30   ? std::vector<double>{1, 2, 5}
					      : span > 4  ? std::vector<double>{1, 1.2, 1.5, 2, 3, 4, 5, 6, 8}
							  : std::vector<double>{1, 1.1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 8};
	std::vector<std::string> tics;
	for (int k = static_cast<int>(std::floor(std::log10(lo))); k <= static_cast<int>(std::ceil(std::log10(hi))); ++k)
		for (double m : mantissas) {
			double v = m * std::pow(10.0, k);
			if (v >= lo && v <= hi)
				tics.push_back(fmt::format("{:g}", v));
		}
	return tics.size() < 2 ? "" : fmt::format("({})", fmt::join(tics, ", "));
}

// One curve or set of bars of a panel: gnuplot's plot clause for a datablock, and the points' extent.
struct Item {
	std::vector<std::vector<double>> rows;  // x, y, ... per line of the datablock
	std::string style;                      // "with linespoints ... title ..."; with no rows: a whole clause
};

// One panel: everything it sets is set here, so that panels of one multiplot do not inherit each other's
// settings, and a panel without data says so instead of making gnuplot fail.
struct Panel {
	std::string title, xlabel, ylabel;
	bool logx = true, logy = true;
	std::vector<std::pair<std::string, double>> xtics;  // label, position; empty = gnuplot's own
	std::vector<std::string> extra;                     // further set commands (arrows, styles, key)
	std::vector<Item> items;
	std::optional<std::pair<double, double>> yrange;    // default: the data's, widened
	int y_column = 1;                                   // which column of rows is y (0-based)
	std::vector<int> extent_columns;                    // more columns that must fit in the y range
	void add(std::vector<std::pair<double, double>> xy, std::string style)
	{
		Item it{{}, std::move(style)};
		for (auto &[x, y] : xy)
			it.rows.push_back({x, y});
		if (!it.rows.empty())
			items.push_back(std::move(it));
	}
};

// One gnuplot script with its data inline, so that `gnuplot plots/X.gp` redraws plots/X.png alone.
class Script {
public:
	Script(const std::string &stem, int width, int height, const std::string &title, int columns)
		: stem_(stem)
	{
		text_ += fmt::format("# Drawn by ./xuaccess report; `gnuplot {}.gp` (in plots/) redraws {}.png from the data below.\n",
				     stem, stem);
		text_ += fmt::format("set terminal pngcairo size {},{} font \"sans,10\" noenhanced\n", width, height);
		text_ += fmt::format("set output {}\n", quote(stem + ".png"));
		if (columns > 1)
			text_ += fmt::format("set multiplot layout 1,{} title {} font \"sans,13\"\n", columns, quote(title));
		else
			title_ = title;
		multiplot_ = columns > 1;
	}

	void draw(const Panel &p)
	{
		text_ += "unset arrow\nunset label\nunset logscale\nunset grid\nset xtics autofreq norotate\n"
			 "set ytics autofreq\nset border\nset key default\nset format y \"%g\"\nset style fill empty\n";
		auto title = multiplot_ ? p.title : title_ + (p.title.empty() ? "" : "\n" + p.title);
		text_ += fmt::format("set title {} font \"sans,{}\"\n", quote(title), multiplot_ ? 11 : 12);
		if (p.items.empty()) {
			text_ += "unset xtics\nunset ytics\nunset xlabel\nunset ylabel\n"
				 "set label 1 \"not measured in this run\" at graph 0.5,0.5 center font \",14\"\n"
				 "plot [0:1][0:1] -1 notitle\n";
			return;
		}
		double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
		for (auto &it : p.items)
			for (auto &r : it.rows) {
				x0 = std::min(x0, r[0]);
				x1 = std::max(x1, r[0]);
				std::vector<int> cols = p.extent_columns;
				cols.push_back(p.y_column);
				for (int c : cols)
					if (static_cast<size_t>(c) < r.size() && (!p.logy || r[c] > 0)) {
						y0 = std::min(y0, r[c]);
						y1 = std::max(y1, r[c]);
					}
			}
		if (p.logx)
			text_ += "set logscale x\n";
		if (p.logy)
			text_ += "set logscale y\n";
		// Ranges from the data, widened so a single point or a flat line still has room.
		auto widen = [](double lo, double hi, bool log) {
			if (log)
				return std::pair{lo / 1.6, hi * 1.6};
			double pad = hi > lo ? (hi - lo) * 0.08 : std::max(std::abs(lo) * 0.1, 1.0);
			return std::pair{lo - pad, hi + pad};
		};
		auto [xa, xb] = widen(x0, x1, p.logx);
		auto [ya, yb] = p.yrange ? *p.yrange : widen(y0, y1, p.logy);
		text_ += fmt::format("set xrange [{}:{}]\nset yrange [{}:{}]\n", xa, xb, ya, yb);
		if (auto t = p.logy ? log_tics(ya, yb) : ""; !t.empty())
			text_ += fmt::format("set ytics {}\n", t);
		text_ += "set grid xtics ytics mytics\nset key bottom right font \",9\" spacing 0.9\n";
		text_ += fmt::format("set xlabel {}\nset ylabel {}\n", quote(p.xlabel), quote(p.ylabel));
		if (!p.xtics.empty()) {
			std::vector<std::string> t;
			for (auto &[label, x] : p.xtics)
				t.push_back(fmt::format("{} {}", quote(label), x));
			text_ += fmt::format("set xtics ({})\n", fmt::join(t, ", "));
		}
		for (auto &e : p.extra)
			text_ += e + "\n";
		std::vector<std::string> clauses;
		for (auto &it : p.items) {
			if (it.rows.empty()) {  // a function, e.g. a key entry that draws nothing
				clauses.push_back(it.style);
				continue;
			}
			auto name = fmt::format("$d{}", blocks_++);
			text_ += name + " << EOD\n";
			for (auto &r : it.rows)
				text_ += fmt::format("{}\n", fmt::join(r, " "));
			text_ += "EOD\n";
			clauses.push_back(name + " " + it.style);
		}
		text_ += fmt::format("plot {}\n", fmt::join(clauses, ", \\\n     "));
	}

	// Writes plots/<stem>.gp and returns the PNG's name (gnuplot runs later, for all plots).
	std::string write(const fs::path &plots)
	{
		if (multiplot_)
			text_ += "unset multiplot\n";
		write_file(plots / (stem_ + ".gp"), text_);
		return stem_ + ".png";
	}

private:
	std::string stem_, title_, text_;
	bool multiplot_ = false;
	int blocks_ = 0;
};

std::vector<std::pair<std::string, double>> size_tics(const Panel &p)
{
	std::set<double> xs;
	for (auto &it : p.items)
		for (auto &r : it.rows)
			xs.insert(r[0]);
	std::vector<std::pair<std::string, double>> t;
	for (double x : xs)
		t.emplace_back(size_label(static_cast<uint64_t>(x)), x);
	return t;
}

// The cells of one group in the order on, off (whichever exist).
struct Group {
	std::string name;
	std::vector<const CellResults *> cells;
	const CellResults *on = nullptr, *off = nullptr;
	std::optional<Comparison> cmp;  // on vs off (B = on, A = off) when both exist and may be compared
	std::string refused;            // why they were not compared
	const CellResults &first() const { return *cells.front(); }
};

std::string prot_title(const CellResults &c)
{
	return fmt::format("{} {}", guard_name(c), c.protection().empty() ? "as booted" : c.protection());
}

// Solid for protection on, dashed for off; the first cell's curve carries the series' title.
std::string line_style(const Group &g, const CellResults &c, const std::string &colour_, const std::string &title)
{
	return fmt::format("with linespoints lw 2 pt 7 ps 0.6 lc {} dt {} {}", quote(colour_), &c == g.off ? 2 : 1,
			   &c == g.cells.front() ? "title " + quote(title) : std::string("notitle"));
}

// A reference curve (a baseline row): wide, pale, under the measured curves.
std::string reference_style(const Group &g, const CellResults &c, const std::string &title)
{
	return fmt::format("with lines lw 6 lc \"#c8c8c8\" dt {} {}", &c == g.off ? 2 : 1,
			   &c == g.cells.front() ? "title " + quote(title) : std::string("notitle"));
}

// Key entries saying which dash is which protection (curves of the NaN function draw nothing).
void on_off_legend(const Group &g, Panel &p)
{
	for (auto *c : g.cells)
		p.items.push_back({{}, fmt::format("NaN with lines lc \"black\" dt {} title {}", c == g.off ? 2 : 1,
						   quote(prot_title(*c)))});
}

std::string direction_title(const std::string &dir)
{
	return dir == "to_user" ? "kernel -> user (to_user)" : "user -> kernel (from_user)";
}

std::string throughput_plot(const Group &g, const fs::path &plots)
{
	const auto &f = g.first();
	Script s("throughput-" + g.name, 1500, 620,
		 fmt::format("{}, kernel {}: transfer throughput per method, kernel-timed, median of {} - {}",
			     f.context_string("xua_arch"), kernel_of(f), f.per_boot() ? "the boots' medians" : "the repetitions",
			     banner(f)),
		 2);
	auto ms = methods(g.cells, "transfer");
	for (const std::string dir : {"to_user", "from_user"}) {
		Panel p{.title = direction_title(dir), .xlabel = "bytes per transfer", .ylabel = "MiB/s (higher is faster)"};
		// Drawn first, wide and pale, behind the methods: the kernel copying its own memory, no user access.
		for (auto *c : g.cells)
			p.add(series(*c, "baseline/kernel_memcpy/"), reference_style(g, *c, "kernel memcpy, no user memory"));
		for (size_t i = 0; i < ms.size(); ++i)
			for (auto *c : g.cells)
				p.add(series(*c, fmt::format("transfer/{}/{}/", ms[i], dir)), line_style(g, *c, colour(i), ms[i]));
		p.xtics = size_tics(p);
		if (!p.items.empty())
			on_off_legend(g, p);
		s.draw(p);
	}
	return s.write(plots);
}

// Bars of on/off time per method and size, from the comparison.
std::string guard_plot(const Group &g, const fs::path &plots)
{
	const auto &c = *g.cmp;
	const auto &on = *g.on, &off = *g.off;
	std::string toggle;
	if (on.rows.count("guard/toggle") && off.rows.count("guard/toggle"))
		toggle = fmt::format("one window open+close (guard/toggle): {:.1f} ns on, {:.1f} ns off",
				     on.rows.at("guard/toggle").median, off.rows.at("guard/toggle").median);
	Script s("guard-" + g.name, 1500, 620,
		 fmt::format("{}, kernel {}: cost of {} = time with it on / time with it off (>1: on is slower) - {}\n{}",
			     on.context_string("xua_arch"), kernel_of(on), guard_name(on), banner(on), toggle),
		 2);
	std::map<std::string, const RowComparison *> by_name;
	for (auto &r : c.rows)
		by_name[r.name] = &r;
	auto ms = methods(g.cells, "transfer");
	const std::vector<uint64_t> sizes = {64, 4096, 1048576};
	for (const std::string dir : {"to_user", "from_user"}) {
		Panel p{.title = fmt::format("{}; on: {}, off: {}{}", direction_title(dir), on.sampling(), off.sampling(),
					     c.samples() < kUTestMinRepetitions ? ": no U test" : ""),
			.xlabel = "", .ylabel = "time on / time off", .logx = false};
		p.y_column = 1;
		p.extent_columns = {4, 5};
		// At the end of each bar (above one that rises, below one that falls): its ratio when it is 3 % or more
		// away from 1 (closer, the labels of neighbours collide), and * when p < alpha.
		const auto label = [](const char *offset) {
			return fmt::format("using 1:2:((abs($2 - 1) >= 0.03 ? sprintf(\"%.2f\", $2) : \"\").($3 > 0 ? \"*\" : \"\")) "
					   "with labels font \",8\" offset 0,{} notitle", offset);
		};
		Item above{{}, label("0.7")}, below{{}, label("-0.7")};
		for (size_t j = 0; j < sizes.size(); ++j) {
			Item bars{{}, fmt::format("with boxxyerror fs solid 0.85 border -1 lc {} title {}", quote(colour(j)),
						  quote(size_label(sizes[j])))};
			for (size_t i = 0; i < ms.size(); ++i) {
				auto it = by_name.find(fmt::format("transfer/{}/{}/{}", ms[i], dir, sizes[j]));
				if (it == by_name.end() || it->second->time_ratio <= 0)
					continue;
				double r = it->second->time_ratio;
				double x = static_cast<double>(i) + (static_cast<double>(j) - 1) * 0.27;
				bars.rows.push_back({x, r, x - 0.12, x + 0.12, std::min(1.0, r), std::max(1.0, r)});
				(r >= 1 ? above : below).rows.push_back({x, r, it->second->significant ? 1.0 : 0.0});
			}
			if (!bars.rows.empty())
				p.items.push_back(std::move(bars));
		}
		for (auto *labels : {&above, &below})
			if (!labels->rows.empty())
				p.items.push_back(std::move(*labels));
		if (!p.items.empty())  // a key entry that draws nothing
			p.items.push_back({{}, fmt::format("NaN with points pt -1 title \"label: on/off time if >= 3 % from 1; * p < {} (U test)\"", c.alpha)});
		for (size_t i = 0; i < ms.size(); ++i)
			p.xtics.emplace_back(ms[i], static_cast<double>(i));
		p.extra = {"set xtics rotate by -25", "set key top left",
			   "set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc \"black\"",
			   fmt::format("set xrange [-0.6:{}]", static_cast<double>(ms.size()) - 0.4)};
		double lo = 0.8, hi = 1.25;  // room above the bars for the key
		for (auto &it : p.items)
			for (auto &r : it.rows) {
				lo = std::min(lo, r[1] / 1.4);
				hi = std::max(hi, r[1] * 3);
			}
		p.yrange = std::pair{lo, hi};
		s.draw(p);
	}
	return s.write(plots);
}

std::string mmap_plot(const Group &g, const fs::path &plots)
{
	const auto &f = g.first();
	Script s("mmap-" + g.name, 1500, 620,
		 fmt::format("{}, kernel {}: mmap'ed shared buffer vs one copy ioctl, end to end (wall clock, syscall included) - {}",
			     f.context_string("xua_arch"), kernel_of(f), banner(f)),
		 2);
	for (bool to_user : {true, false}) {
		const std::vector<std::pair<std::string, std::string>> kinds =
			to_user ? std::vector<std::pair<std::string, std::string>>{{"produce+read", "mmap: kernel fills, user reads"},
										    {"copy_to_user", "copy_to_user ioctl"}}
				: std::vector<std::pair<std::string, std::string>>{{"write+consume", "mmap: user writes, kernel takes"},
										    {"copy_from_user", "copy_from_user ioctl"}};
		std::vector<std::string> cross;
		for (auto *c : g.cells)
			cross.push_back(fmt::format("{}: {}", prot_title(*c), mmap_vs_copy(*c, to_user)));
		Panel p{.title = fmt::format("{}\n{}", to_user ? "kernel -> user" : "user -> kernel", fmt::join(cross, "\n")),
			.xlabel = "bytes per operation", .ylabel = "MiB/s (higher is faster)"};
		// The mmap path's user side is a memcpy into or out of the mapping: its own speed, drawn behind.
		for (auto *c : g.cells)
			p.add(series(*c, "baseline/user_memcpy/"), reference_style(g, *c, "user memcpy alone"));
		for (size_t i = 0; i < kinds.size(); ++i)
			for (auto *c : g.cells)
				p.add(series(*c, "mmap/" + kinds[i].first + "/"), line_style(g, *c, colour(i), kinds[i].second));
		p.xtics = size_tics(p);
		if (!p.items.empty())
			on_off_legend(g, p);
		s.draw(p);
	}
	return s.write(plots);
}

std::string batch_plot(const Group &g, const fs::path &plots)
{
	const auto &f = g.first();
	Script s("batch-" + g.name, 1000, 620,
		 fmt::format("{}, kernel {}: reading N user words, kernel-timed - {}", f.context_string("xua_arch"),
			     kernel_of(f), banner(f)),
		 1);
	Panel p{.title = "get_user per word vs one user_access_begin() + unsafe_get_user per word",
		.xlabel = "words (8 bytes) per call", .ylabel = "ns per word (lower is faster)"};
	const std::vector<std::pair<std::string, std::string>> kinds = {{"get_user", "get_user per word"},
									 {"user_access", "user_access_begin + unsafe_get_user"}};
	for (size_t i = 0; i < kinds.size(); ++i)
		for (auto *c : g.cells) {
			auto xy = series(*c, "batch/" + kinds[i].first + "/");
			for (auto &[x, y] : xy)
				y /= x;
			p.add(xy, line_style(g, *c, colour(i), kinds[i].second));
		}
	std::set<double> xs;
	for (auto &it : p.items)
		for (auto &r : it.rows)
			xs.insert(r[0]);
	for (double x : xs)
		p.xtics.emplace_back(fmt::format("{}", x), x);
	p.extra = {"set key top right"};
	if (!p.items.empty())
		on_off_legend(g, p);
	s.draw(p);
	return s.write(plots);
}

// The module's raw copy against copy_{to,from}_user at >= 4 KiB, and the noise of the kernel-timed rows:
// the targets the benchmarks issue set, reported and never asserted.
std::vector<std::string> cell_notes(const CellResults &c)
{
	std::vector<std::string> out;
	std::string line;
	static const std::regex raw_re(R"(^transfer/raw_(?!get_put)([^/]+)/([^/]+)/(\d+)$)");
	for (auto &[k, v] : c.rows) {
		std::smatch mm;
		if (!std::regex_match(k, mm, raw_re) || std::stoull(mm[3]) < 4096)
			continue;
		auto copy = fmt::format("transfer/copy/{}/{}", mm[2].str(), mm[3].str());
		if (c.rows.count(copy) && c.rows.at(copy).median > 0)
			line += fmt::format(" {}/{}/{}={:+.1f}%", mm[1].str(), mm[2].str(), size_label(std::stoull(mm[3])),
					    (v.median / c.rows.at(copy).median - 1) * 100);
	}
	if (!line.empty())
		out.push_back(fmt::format("{}: raw copy vs copy_*_user throughput:{}", c.name, line));
	std::vector<double> cvs;
	static const std::regex kt_re(R"(^(transfer/[^/]+/[^/]+|baseline/kernel_memcpy)/(\d+)$)");
	for (auto &[k, v] : c.rows) {
		std::smatch mm;
		if (v.cv >= 0 && std::regex_match(k, mm, kt_re) && std::stoull(mm[2]) >= 4096)
			cvs.push_back(v.cv);
	}
	if (!cvs.empty()) {
		std::sort(cvs.begin(), cvs.end());
		auto over = std::count_if(cvs.begin(), cvs.end(), [](double x) { return x > 0.03; });
		out.push_back(fmt::format("{}: kernel-timed rows >= 4 KiB: {} rows, cv median {:.1f}%, max {:.1f}%, {} above 3%",
					  c.name, cvs.size(), cvs[cvs.size() / 2] * 100, cvs.back() * 100, over));
	}
	return out;
}

// A cell alone (no partner to compare with): its headline rows.
std::string single_table(const CellResults &c)
{
	auto rows = headline_rows(c);
	size_t w = 9;
	for (auto &r : rows)
		w = std::max(w, r.size());
	std::string t = fmt::format("{}: {}, {}, median ± cv (no on/off partner in this directory)\n", c.name,
				    c.accel_label(), c.sampling());
	for (auto &n : rows) {
		auto &r = c.rows.at(n);
		t += fmt::format("{:<{}} {:>5} {:>18}\n", n, w, r.unit(),
				 r.cv >= 0 ? fmt::format("{:.1f} ±{:.1f}%", r.median, r.cv * 100) : fmt::format("{:.1f}", r.median));
	}
	return t;
}

std::string md_escape(const std::string &s)
{
	std::string o;
	for (char ch : s)
		o += ch == '|' ? std::string("\\|") : std::string(1, ch);
	return o;
}

std::string markdown(const fs::path &dir, const std::vector<CellResults> &cells, const std::vector<Group> &groups,
		     const std::map<std::string, std::vector<std::string>> &pngs)
{
	const auto &c0 = cells.front();
	std::string m = fmt::format("# xuaccess benchmark report: {}\n\n", dir.filename().string());
	bool any_tcg = std::any_of(cells.begin(), cells.end(), [](auto &c) { return c.context_string("xua_accel") != "kvm" &&
										     c.context_string("xua_accel") != "host"; });
	if (any_tcg)
		m += fmt::format(
			"> **Emulated.** These figures were measured inside QEMU TCG guests ({}) on one x86_64 host ({}). "
			"TCG translates guest code and charges per translated instruction; it ends a translation block at "
			"every `stac`/`clac` and `msr pan`, so a guard's cost here is the emulator's, not a CPU's. Use them to "
			"compare paths with each other and to see whether a cost exists; measure on silicon "
			"(`./xuaccess bench --host`, or `--accel kvm` for x86_64 cells on an x86_64 host) before quoting "
			"nanoseconds.\n\n",
			c0.context_string("xua_qemu_version"),
			c0.context_string("xua_host_cpu").empty() ? "CPU not recorded" : c0.context_string("xua_host_cpu"));
	m += fmt::format("Made by `./xuaccess report {}` from the JSON files in this directory (one Google Benchmark "
			 "JSON per cell); `summary.txt` is what the bench printed, `compare-*.txt` compares every row.\n\n",
			 dir.string());
	m += "## Cells\n\n| cell | guest CPU | kernel | guard | on in guest | accel | samples | rows | boot s | date |\n"
	     "|---|---|---|---|---|---|---|---|---|---|\n";
	for (auto &c : cells)
		m += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", c.name,
				 md_escape(c.context_string("xua_qemu_cpu")), md_escape(c.context_string("xua_kernel_package")),
				 guard_name(c), c.context_string("xua_guard_enabled"), c.accel_label(), c.sampling(),
				 c.rows.size(),
				 c.context.contains("xua_boot_seconds")
					 ? fmt::format("{:.1f}", c.context["xua_boot_seconds"].get<double>())
					 : std::string("-"),
				 c.context_string("xua_date_utc"));
	m += "\n\"on in guest\" is what the module read from the CPU inside the guest (CR4.SMAP, or PAN detected), "
	     "checked against the protection asked for before any figure was kept.\n\n";
	m += "## How to read it\n\n"
	     "- `transfer/<method>/<dir>/<bytes>`, `batch/*`, `guard/toggle` and `baseline/kernel_memcpy/*` are timed by the "
	     "module around its own loop: no syscall in the figure. `latency/*`, `mmap/*` and the other baselines are wall "
	     "clock per call, syscall included.\n"
	     "- MiB/s: higher is faster. ns: lower is faster. A cell with several boots of its guest has one sample per "
	     "boot (the median of that boot's repetitions); with one boot the samples are the repetitions. Each figure "
	     "is the median of the samples; ±cv is their coefficient of variation.\n";
	m += fmt::format(
		"- Why boots: under TCG two boots of the same cell differ by far more than the repetitions inside one boot "
		"(measured on this project's machine: {}). A test over one boot's repetitions would mostly mark that "
		"boot-to-boot difference as a guard effect. With 5 boots a side the same A/A check marked 13 of 205 rows "
		"(x86_64) and 22 of 229 (arm64), about what chance gives, all within 4 % of 1: a marked effect under about "
		"4 % is not shown to be the guard's.\n",
		kBootToBootNoise);
	m += "- On vs off: B/A is the time per byte (or per call) with the guard on over the time with it off; >1 means "
	     "the guard makes it slower. p is a two-sided Mann-Whitney U test over the samples (the test Google "
	     "Benchmark's compare.py runs over repetitions); `*` marks p < 0.05. With many rows some are marked by "
	     "chance (about 5 % of them if nothing differed), so trust a mark more when the effect is large and the "
	     "neighbouring sizes agree.\n"
	     "- Under TCG the absolute numbers mean little; the ratios between paths inside one cell, and the on/off "
	     "ratio where the guard's instructions are executed per access (`raw_toggle`, `guard/toggle`, x86 "
	     "`per-access`), are what carry over in kind, not in size.\n\n";
	for (auto &g : groups) {
		const auto &f = g.first();
		m += fmt::format("## {}, kernel {}\n\n", f.context_string("xua_arch"), kernel_of(f));
		if (g.cmp) {
			const auto &c = *g.cmp;
			m += fmt::format("**{} on vs off:** {} of {} rows differ significantly (p < {}; on: {}, off: {}", guard_name(f),
					 c.significant(), c.rows.size(), c.alpha, g.on->sampling(), g.off->sampling());
			if (c.samples() >= kUTestMinRepetitions)
				m += fmt::format("; {} would be marked by chance", c.marked_by_chance());
			m += ").\n\n";
			for (auto &n : c.test_notes)
				m += fmt::format("> **Warning:** {}\n\n", md_escape(n));
			// Per benchmark family (the name without its size), the significant rows: a method's effect reads
			// as one line across sizes rather than eight lines of the same method.
			struct Family {
				std::string name;
				int rows = 0, marked = 0;
				double lo = INFINITY, hi = 0, p = 1;
				double strength() const { return std::max(std::abs(std::log(lo)), std::abs(std::log(hi))); }
			};
			std::map<std::string, Family> families;
			static const std::regex sized(R"(^(.*)/(\d+)$)");
			for (auto &r : c.rows) {
				std::smatch mm;
				auto fam = std::regex_match(r.name, mm, sized) ? mm[1].str() + "/*" : r.name;
				auto &f = families[fam];
				f.name = fam;
				++f.rows;
				if (!r.significant || r.time_ratio <= 0)
					continue;
				++f.marked;
				f.lo = std::min(f.lo, r.time_ratio);
				f.hi = std::max(f.hi, r.time_ratio);
				f.p = std::min(f.p, *r.p);
			}
			std::vector<const Family *> sig;
			for (auto &[_, f] : families)
				if (f.marked)
					sig.push_back(&f);
			std::sort(sig.begin(), sig.end(), [](auto *x, auto *y) { return x->strength() > y->strength(); });
			if (!sig.empty()) {
				m += "Largest significant effects, per benchmark family (time on / time off of the marked rows):\n\n";
				for (size_t i = 0; i < std::min<size_t>(10, sig.size()); ++i) {
					const auto &f = *sig[i];
					auto range = f.lo == f.hi ? fmt::format("×{:.3f}", f.lo) : fmt::format("×{:.3f} to ×{:.3f}", f.lo, f.hi);
					m += fmt::format("- `{}`: {} ({} of {} rows marked, smallest p {:.4f})\n", f.name, range, f.marked,
							 f.rows, f.p);
				}
				if (sig.size() > 10)
					m += fmt::format("- ... {} more families with marked rows in compare-{}.txt\n", sig.size() - 10, g.name);
				m += "\n";
			}
			for (auto &mm : c.mismatches)
				m += fmt::format("Compared despite a mismatch: {}\n\n", md_escape(mm));
			for (auto &w : c.warnings)
				m += fmt::format("> **Warning:** {}\n\n", md_escape(w));
			try {
				const auto &arch = Matrix::get().arch(f.context_string("xua_arch"));
				if (!arch.cpu_off_note.empty())
					m += fmt::format("Caveat: {}.\n\n", arch.cpu_off_note);
			} catch (const Error &) {
			}
		} else if (!g.refused.empty()) {
			m += fmt::format("On and off were not compared: {}\n\n", md_escape(g.refused));
		}
		for (auto *c : g.cells) {
			for (bool to_user : {true, false})
				if (!series(*c, to_user ? "mmap/produce+read/" : "mmap/write+consume/").empty())
					m += fmt::format("- {} mmap vs copy, {}: {}\n", c->name, to_user ? "kernel -> user" : "user -> kernel",
							 mmap_vs_copy(*c, to_user));
			for (auto &n : cell_notes(*c))
				m += fmt::format("- {}\n", n);
		}
		m += "\n";
		for (auto &png : pngs.at(g.name))
			m += fmt::format("![{}](plots/{})\n\n", png, png);
		if (g.cmp) {
			const auto &c = *g.cmp;
			auto rows = headline_rows(*g.on);
			m += fmt::format("| benchmark | unit | {} off | {} on | on/off time | p |\n|---|---|---|---|---|---|\n",
					 guard_name(f), guard_name(f));
			for (auto &r : c.rows) {
				if (std::find(rows.begin(), rows.end(), r.name) == rows.end())
					continue;
				auto vc = [](const Row &x) {
					return x.cv >= 0 ? fmt::format("{:.1f} ±{:.1f}%", x.median, x.cv * 100)
							 : fmt::format("{:.1f}", x.median);
				};
				m += fmt::format("| `{}` | {} | {} | {} | {:.3f}{} | {} |\n", r.name, r.a->unit(), vc(*r.a), vc(*r.b),
						 r.time_ratio, r.significant ? " *" : "", r.p ? fmt::format("{:.4f}", *r.p) : "-");
			}
			m += fmt::format("\nEvery row: [compare-{}.txt](compare-{}.txt).\n\n", g.name, g.name);
		}
	}
	return m;
}

}  // namespace

std::vector<std::string> headline_rows(const CellResults &c)
{
	static const std::regex keep(
		R"(^(transfer/[^/]+/[^/]+/(64|4096|1048576)|guard/toggle|latency/[^/]+/to_user/64|mmap/[^/]+/(4096|1048576)|batch/[^/]+/(1|16|256)|baseline/[^/]+(/(4096|1048576))?)$)");
	std::vector<std::string> rows;
	for (auto &[n, _] : c.rows)
		if (std::regex_match(n, keep))
			rows.push_back(n);
	return rows;
}

std::string mmap_vs_copy(const CellResults &c, bool to_user)
{
	auto mm = series(c, to_user ? "mmap/produce+read/" : "mmap/write+consume/");
	auto cp = series(c, to_user ? "mmap/copy_to_user/" : "mmap/copy_from_user/");
	std::map<double, double> copy(cp.begin(), cp.end());
	struct Run {
		bool mmap;
		double from, to;
	};
	std::vector<Run> runs;
	for (auto &[x, y] : mm) {
		auto it = copy.find(x);
		if (it == copy.end())
			continue;
		bool m = y >= it->second;
		if (runs.empty() || runs.back().mmap != m)
			runs.push_back({m, x, x});
		else
			runs.back().to = x;
	}
	if (runs.empty())
		return "not measured";
	std::vector<std::string> parts;
	for (auto &r : runs) {
		auto range = r.from == r.to ? size_label(static_cast<uint64_t>(r.from))
					    : fmt::format("{}-{}", size_label(static_cast<uint64_t>(r.from)),
							  size_label(static_cast<uint64_t>(r.to)));
		parts.push_back(fmt::format("{} {}", r.mmap ? "mmap faster at" : "copy ioctl faster at", range));
	}
	return fmt::format("{}", fmt::join(parts, ", "));
}

std::string write_report(const fs::path &dir)
{
	auto cells = load_results(dir);
	std::vector<Group> groups;
	for (auto &c : cells) {
		auto it = std::find_if(groups.begin(), groups.end(), [&](auto &g) { return g.name == c.group(); });
		if (it == groups.end()) {
			groups.push_back({.name = c.group()});
			it = groups.end() - 1;
		}
		it->cells.push_back(&c);
		if (c.protection() == "on")
			it->on = &c;
		if (c.protection() == "off")
			it->off = &c;
	}
	std::string summary;
	for (auto &g : groups) {
		std::sort(g.cells.begin(), g.cells.end(), [&](auto *x, auto *y) { return x->protection() > y->protection(); });
		if (g.on && g.off) {
			try {
				g.cmp = compare(*g.off, *g.on, {});
			} catch (const Error &e) {
				g.refused = e.what();
			}
		}
		if (g.cmp) {
			summary += format_comparison(*g.cmp, headline_rows(*g.on));
			write_file(dir / fmt::format("compare-{}.txt", g.name), format_comparison(*g.cmp));
			write_file(dir / fmt::format("compare-{}.json", g.name), comparison_json(*g.cmp).dump(2) + "\n");
		} else {
			if (!g.refused.empty())
				summary += fmt::format("{}: on and off not compared: {}\n", g.name, g.refused);
			for (auto *c : g.cells)
				summary += single_table(*c);
		}
		for (auto *c : g.cells)
			for (auto &n : cell_notes(*c))
				summary += n + "\n";
		summary += "\n";
	}
	write_file(dir / "summary.txt", summary);

	// Plots: one gnuplot script per plot, data inline, run in plots/.
	const auto plots = dir / "plots";
	fs::create_directories(plots);
	std::map<std::string, std::vector<std::string>> pngs;
	for (auto &g : groups) {
		auto &p = pngs[g.name];
		p.push_back(throughput_plot(g, plots));
		if (g.cmp)
			p.push_back(guard_plot(g, plots));
		p.push_back(mmap_plot(g, plots));
		p.push_back(batch_plot(g, plots));
	}
	for (auto &[_, list] : pngs)
		for (auto &png : list) {
			auto gp = png.substr(0, png.size() - 4) + ".gp";
			RunResult r;
			try {
				r = run({"gnuplot", gp}, {.cwd = plots});
			} catch (const Error &) {
				fail("gnuplot is not installed (apt-get install gnuplot-nox; ./xuaccess installs it): "
				     "{} has the text and the comparisons, no plots", (dir / "summary.txt").string());
			}
			if (!r.ok() || !fs::exists(plots / png) || fs::file_size(plots / png) == 0)
				fail("gnuplot failed on {}:\n{}", (plots / gp).string(), last_lines(r.output, 15));
			if (!trim(r.output).empty())  // gnuplot warns on stderr: a warning is a defect of the script
				fail("gnuplot warned on {}:\n{}", (plots / gp).string(), last_lines(r.output, 15));
		}
	write_file(dir / "report.md", markdown(dir, cells, groups, pngs));
	return summary;
}

void print_report(const fs::path &dir)
{
	auto summary = write_report(dir);
	fmt::print("\n{}Report: {} (plots in {})\n", summary, (dir / "report.md").string(), (dir / "plots").string());
}

}  // namespace xua
