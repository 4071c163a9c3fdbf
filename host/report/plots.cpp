#include "report/plots.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "report/format.hpp"
#include "base/process.hpp"

namespace xua {
namespace {

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

// Solid for the guarded cell (and a lone cell), dashed for its unguarded partner; the first cell's curve carries
// the series' title.
std::string line_style(const Group &g, const CellResults &c, const std::string &colour_, const std::string &title)
{
	return fmt::format("with linespoints lw 2 pt 7 ps 0.6 lc {} dt {} {}", quote(colour_), &c == g.unguarded ? 2 : 1,
			   &c == g.cells.front() ? "title " + quote(title) : std::string("notitle"));
}

// A reference curve (a baseline row): wide, pale, under the measured curves.
std::string reference_style(const Group &g, const CellResults &c, const std::string &title)
{
	return fmt::format("with lines lw 6 lc \"#c8c8c8\" dt {} {}", &c == g.unguarded ? 2 : 1,
			   &c == g.cells.front() ? "title " + quote(title) : std::string("notitle"));
}

// Key entries saying which dash is which protection (curves of the NaN function draw nothing).
void on_off_legend(const Group &g, Panel &p)
{
	for (auto *c : g.cells)
		p.items.push_back({{}, fmt::format("NaN with lines lc \"black\" dt {} title {}", c == g.unguarded ? 2 : 1,
						   quote(prot_title(*c)))});
}

// A panel of MiB/s over sizes: a reference row drawn first, wide and pale, then one curve per (stem, title),
// solid for protection on and dashed for off.
// A curve of a size panel: its points in one cell, and its title.
struct Curve {
	std::function<std::vector<std::pair<double, double>>(const CellResults &)> points;
	std::string title;
};
Curve rows_curve(const std::string &stem, const std::string &title)
{
	return {[stem](const CellResults &c) { return series(c, stem); }, title};
}

void size_panel(const Group &g, Panel &p, const std::string &reference, const std::string &reference_title,
		const std::vector<Curve> &curves)
{
	for (auto *c : g.cells)
		p.add(series(*c, reference), reference_style(g, *c, reference_title));
	for (size_t i = 0; i < curves.size(); ++i)
		for (auto *c : g.cells)
			p.add(curves[i].points(*c), line_style(g, *c, colour(i), curves[i].title));
	p.xtics = size_tics(p);
	if (!p.items.empty())
		on_off_legend(g, p);
}

std::string throughput_plot(const Group &g, const fs::path &plots)
{
	const auto &f = g.first();
	Script s("throughput-" + g.name, 1500, 620,
		 fmt::format("{}, kernel {}: transfer throughput per method, kernel-timed, median of {} - {}",
			     f.meta.arch, kernel_of(f), f.per_boot() ? "the boots' medians" : "the repetitions",
			     banner(f)),
		 2);
	auto ms = methods(g.cells, "transfer");
	for (const std::string dir : {"to_user", "from_user"}) {
		Panel p{.title = direction_title(dir), .xlabel = "bytes per transfer", .ylabel = "MiB/s (higher is faster)"};
		// Behind the methods: the kernel copying its own memory, no user access.
		std::vector<Curve> curves;
		for (auto &m : ms)
			curves.push_back(rows_curve(fmt::format("transfer/{}/{}", m, dir), m));
		size_panel(g, p, "baseline/kernel_memcpy", "kernel memcpy, no user memory", curves);
		s.draw(p);
	}
	return s.write(plots);
}

// What a `*` on a bar means: what the comparison's tables mark (RowComparison::significant).
std::string mark_key(const Comparison &c)
{
	if (c.exact)
		return fmt::format("* B/A differs from 1 by more than {:g} (icount: no test)", kExactTolerance);
	return fmt::format("* q < {:g} (U test, Benjamini-Hochberg over the {} rows)", c.alpha, c.rows.size());
}

// Bars of guarded/unguarded time (on/off, on/off-kernel, sw/off) per method and size, from the comparison.
std::string guard_plot(const Group &g, const fs::path &plots)
{
	const auto &c = *g.cmp;
	const auto &with = *g.guarded, &without = *g.unguarded;
	const auto gp = with.protection(), up = without.protection();
	std::string toggle;
	if (with.rows.count("guard/toggle") && without.rows.count("guard/toggle"))
	{
		const auto &tw = with.rows.at("guard/toggle"), &tu = without.rows.at("guard/toggle");
		const char *unit = tw.unit_name.starts_with("insn") ? "insn" : "ns";  // icount counts instructions
		toggle = fmt::format("one window open+close (guard/toggle): {:.2f} {} {}, {:.2f} {} {}", tw.median, unit, gp,
				     tu.median, unit, up);
	}
	Script s("guard-" + g.name, 1500, 620,
		 fmt::format("{}, kernel {}: cost of {} = time {} / time {} (>1: {} is slower) - {}\n{}",
			     with.meta.arch, kernel_of(with), guard_name(with), gp, up, gp, banner(with), toggle),
		 2);
	std::map<std::string, const RowComparison *> by_name;
	for (auto &r : c.rows)
		by_name[r.name] = &r;
	auto ms = methods(g.cells, "transfer");
	const std::vector<uint64_t> sizes = {64, 4096, 1048576};
	for (const std::string dir : {"to_user", "from_user"}) {
		Panel p{.title = fmt::format("{}\n{}: {}, {}: {}{}", direction_title(dir), gp, with.sampling(), up,
					     without.sampling(), c.samples() < kUTestMinRepetitions ? ": no U test" : ""),
			.xlabel = "", .ylabel = fmt::format("time {} / time {}", gp, up), .logx = false};
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
			p.items.push_back({{}, fmt::format("NaN with points pt -1 title \"label: {}/{} time if >= 3 % from 1; {}\"",
						       gp, up, mark_key(c))});
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
			     f.meta.arch, kernel_of(f), banner(f)),
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
		// The copy ioctl at the same sizes: the latency/copy rows, end to end (copy_ioctl_series).
		std::vector<Curve> curves = {rows_curve("mmap/" + kinds[0].first, kinds[0].second),
					     {[to_user](const CellResults &c) { return copy_ioctl_series(c, to_user); },
					      kinds[1].second}};
		size_panel(g, p, "baseline/user_memcpy", "user memcpy alone", curves);
		s.draw(p);
	}
	return s.write(plots);
}

std::string batch_plot(const Group &g, const fs::path &plots)
{
	const auto &f = g.first();
	Script s("batch-" + g.name, 1000, 620,
		 fmt::format("{}, kernel {}: reading N user words, kernel-timed - {}", f.meta.arch,
			     kernel_of(f), banner(f)),
		 1);
	Panel p{.title = "get_user per word vs one user_access_begin() + unsafe_get_user per word",
		.xlabel = "words (8 bytes) per call", .ylabel = "ns per word (lower is faster)"};
	const std::vector<std::pair<std::string, std::string>> kinds = {{"get_user", "get_user per word"},
									 {"user_access", "user_access_begin + unsafe_get_user"}};
	for (size_t i = 0; i < kinds.size(); ++i)
		for (auto *c : g.cells) {
			auto xy = series(*c, "batch/" + kinds[i].first);
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

}  // namespace

std::map<std::string, std::vector<std::string>> draw_plots(const std::vector<Group> &groups, const fs::path &plots)
{
	fs::create_directories(plots);
	// The directory is the report's own: plots of an earlier report (other pairs, other cells) go.
	for (auto &e : fs::directory_iterator(plots))
		if (e.path().extension() == ".png" || e.path().extension() == ".gp")
			fs::remove(e.path());
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
			} catch (const Error &e) {
				fmt::print(stderr, "xuaccess: warning: no plots: {} (apt-get install gnuplot-nox; ./xuaccess installs it)\n",
					   e.what());
				return pngs;
			}
			if (!r.ok() || !fs::exists(plots / png) || fs::file_size(plots / png) == 0)
				fmt::print(stderr, "xuaccess: warning: gnuplot failed on {} (exit {}):\n{}", (plots / gp).string(),
					   r.status, last_lines(r.output, 15));
			else if (!trim(r.output).empty())
				fmt::print(stderr, "xuaccess: warning: gnuplot warned on {}:\n{}", (plots / gp).string(),
					   last_lines(r.output, 15));
		}
	return pngs;
}

}  // namespace xua
