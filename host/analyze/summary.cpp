#include "analyze/summary.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "analyze/names.hpp"

namespace xua {

std::string Group::pair_title() const
{
	return guarded && unguarded ? guarded->protection() + " vs " + unguarded->protection() : std::string();
}

std::vector<std::string> partner_protections(const std::string &p)
{
	std::vector<std::string> out;
	for (auto [g, u] : kProtectionPairs) {
		if (p == g)
			out.push_back(u);
		if (p == u)
			out.push_back(g);
	}
	return out;
}

std::vector<Group> pair_cells(const std::vector<CellResults> &cells)
{
	// The contexts in the order they first appear, each with its cells.
	std::vector<std::pair<std::string, std::vector<const CellResults *>>> contexts;
	for (auto &c : cells) {
		auto it = std::find_if(contexts.begin(), contexts.end(), [&](auto &x) { return x.first == c.group(); });
		if (it == contexts.end())
			it = contexts.insert(contexts.end(), {c.group(), {}});
		it->second.push_back(&c);
	}
	std::vector<Group> groups;
	for (auto &[context, members] : contexts) {
		auto find = [&](std::string_view p) -> const CellResults * {
			auto it = std::find_if(members.begin(), members.end(), [&](auto *c) { return c->protection() == p; });
			return it == members.end() ? nullptr : *it;
		};
		std::set<const CellResults *> paired;
		for (auto [gp, up] : kProtectionPairs) {
			auto *g = find(gp), *u = find(up);
			if (!g || !u)
				continue;
			Group grp{.name = std::string_view(gp) == "on" && std::string_view(up) == "off"
						  ? context
						  : fmt::format("{}-{}-vs-{}", context, gp, up),
				  .cells = {g, u},
				  .guarded = g,
				  .unguarded = u};
			try {
				grp.cmp = compare(*u, *g, {});
			} catch (const Error &e) {
				grp.refused = e.what();
			}
			paired.insert({g, u});
			groups.push_back(std::move(grp));
		}
		Group alone{.name = paired.empty() ? context : context + "-unpaired"};
		for (auto *c : members)
			if (!paired.count(c))
				alone.cells.push_back(c);
		if (!alone.cells.empty())
			groups.push_back(std::move(alone));
	}
	return groups;
}

std::vector<std::pair<double, double>> series(const CellResults &c, const std::string &stem)
{
	std::vector<std::pair<double, double>> xy;
	for (auto &[name, r] : c.rows) {
		auto n = parse_bench_name(name);
		if (n.size && n.stem == stem)
			xy.emplace_back(static_cast<double>(*n.size), r.median);
	}
	std::sort(xy.begin(), xy.end());
	return xy;
}

std::vector<std::string> methods(const std::vector<const CellResults *> &cells, const std::string &family)
{
	std::set<std::string> m;
	for (auto *c : cells)
		for (auto &[name, _] : c->rows) {
			auto n = parse_bench_name(name);
			if (n.family == family && n.size && !n.direction.empty())
				m.insert(n.method);
		}
	return {m.begin(), m.end()};
}

std::vector<std::string> headline_rows(const CellResults &c)
{
	auto sized = [](const BenchName &n, std::initializer_list<uint64_t> sizes) {
		return n.size && std::find(sizes.begin(), sizes.end(), *n.size) != sizes.end();
	};
	std::vector<std::string> rows;
	for (auto &[name, _] : c.rows) {
		auto n = parse_bench_name(name);
		bool keep = (n.family == "transfer" && !n.direction.empty() && sized(n, {64, 4096, 1048576})) ||
			    n.name == "guard/toggle" ||
			    (n.family == "latency" && n.direction == "to_user" && sized(n, {64})) ||
			    (n.family == "mmap" && sized(n, {4096, 1048576})) || (n.family == "batch" && sized(n, {1, 16, 256})) ||
			    (n.family == "baseline" && (!n.size || sized(n, {4096, 1048576})));
		if (keep)
			rows.push_back(name);
	}
	return rows;
}

std::vector<FamilyEffect> significant_families(const Comparison &c)
{
	std::map<std::string, FamilyEffect> families;
	for (auto &r : c.rows) {
		auto n = parse_bench_name(r.name);
		auto fam = n.size ? n.stem + "/*" : r.name;
		auto &f = families[fam];
		f.name = fam;
		++f.rows;
		if (!r.significant || r.time_ratio <= 0)
			continue;
		f.lo = f.marked ? std::min(f.lo, r.time_ratio) : r.time_ratio;
		f.hi = f.marked ? std::max(f.hi, r.time_ratio) : r.time_ratio;
		f.q = std::min(f.q, r.q.value_or(0.0));
		++f.marked;
	}
	std::vector<FamilyEffect> sig;
	for (auto &[_, f] : families)
		if (f.marked)
			sig.push_back(f);
	auto strength = [](const FamilyEffect &f) { return std::max(std::abs(std::log(f.lo)), std::abs(std::log(f.hi))); };
	std::stable_sort(sig.begin(), sig.end(), [&](auto &x, auto &y) { return strength(x) > strength(y); });
	return sig;
}

std::vector<std::pair<double, double>> copy_ioctl_series(const CellResults &c, bool to_user)
{
	auto old = series(c, to_user ? "mmap/copy_to_user" : "mmap/copy_from_user");
	if (!old.empty())
		return old;
	std::vector<std::pair<double, double>> out;
	for (auto &[bytes, ns] : series(c, to_user ? "latency/copy/to_user" : "latency/copy/from_user"))
		if (ns > 0)
			out.push_back({bytes, bytes / ns * 1e9 / (1 << 20)});
	return out;
}

std::vector<SizeRun> mmap_vs_copy_runs(const CellResults &c, bool to_user)
{
	auto mm = series(c, to_user ? "mmap/produce+read" : "mmap/write+consume");
	auto cp = copy_ioctl_series(c, to_user);
	std::map<double, double> copy(cp.begin(), cp.end());
	std::vector<SizeRun> runs;
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
	return runs;
}

std::vector<RawVsCopy> raw_vs_copy(const CellResults &c)
{
	std::vector<RawVsCopy> out;
	for (auto &[k, v] : c.rows) {
		auto n = parse_bench_name(k);
		if (n.family != "transfer" || !n.method.starts_with("raw_") || n.method == "raw_get_put" || !n.size ||
		    *n.size < 4096 || n.direction.empty())
			continue;
		auto copy = c.rows.find(fmt::format("transfer/copy/{}/{}", n.direction, *n.size));
		if (copy != c.rows.end() && copy->second.median > 0)
			out.push_back({n.method.substr(4), n.direction, *n.size, (v.median / copy->second.median - 1) * 100});
	}
	return out;
}

std::vector<double> kernel_timed_cvs(const CellResults &c)
{
	std::vector<double> cvs;
	for (auto &[k, v] : c.rows) {
		auto n = parse_bench_name(k);
		bool kernel_timed = (n.family == "transfer" && !n.direction.empty()) || n.stem == "baseline/kernel_memcpy";
		if (v.cv >= 0 && kernel_timed && n.size && *n.size >= 4096)
			cvs.push_back(v.cv);
	}
	std::sort(cvs.begin(), cvs.end());
	return cvs;
}

}  // namespace xua
