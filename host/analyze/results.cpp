#include "analyze/results.hpp"

#include <cmath>
#include <set>

#include "analyze/names.hpp"
#include "analyze/stats.hpp"
#include "base/host_machine.hpp"

namespace xua {

std::string CellResults::context_string(const std::string &key) const
{
	if (!context.contains(key))
		return "";
	const auto &v = context[key];
	return v.is_string() ? v.get<std::string>() : v.dump();
}

void CellResults::update_context(const nlohmann::json &patch)
{
	if (!context.is_object())
		context = nlohmann::json::object();
	context.update(patch);
	meta = context.get<CellContext>();
}

std::string CellResults::sampling() const
{
	if (per_boot())
		return fmt::format("{} boots x {} repetition(s)", boots, repetitions / boots);
	return fmt::format("{} repetition(s) in 1 boot", repetitions);
}

std::string machine_label(const std::string &accel, const std::string &machine)
{
	const bool silicon = machine == "real silicon";
	const bool emulated = machine.find("emulated") != std::string::npos;
	if (accel == "kvm") {
		if (machine.empty())
			return "KVM (host machine not recorded)";
		if (silicon)
			return "KVM on real silicon";
		return emulated ? "KVM inside an emulated machine (" + machine + ")" : "KVM inside a " + machine;
	}
	if (accel == "host") {
		if (machine.empty())
			return "host kernel (machine not recorded)";
		return silicon ? "host kernel on real silicon" : "host kernel on a " + machine;
	}
	return "emulated (TCG)";
}

std::string CellResults::accel_label() const
{
	if (meta.accel == Accel::kvm || meta.accel == Accel::host)
		return machine_label(std::string(name_of(*meta.accel)), meta.host_machine);
	if (exact_clock())
		return "icount (instructions counted by QEMU TCG, not time)";
	return "emulated (TCG)";
}

std::string CellResults::kernel_description() const
{
	const auto &m = meta;
	if (m.kernel_path.empty())
		return fmt::format("'{}' ({})", m.kernel_package, m.kernel_release);
	std::string origin = m.kernel_package;  // packages: the image package and its version
	if (m.kernel_git_describe)
		origin = m.kernel_git_describe->empty() ? "not a git tree" : "git " + *m.kernel_git_describe;
	return fmt::format("{} ({} {}, release {}, {})", m.kernel_series, m.kernel_form, m.kernel_path, m.kernel_release,
			   origin);
}

std::string CellResults::group() const
{
	const auto &arch = meta.arch, &series = meta.kernel_series;
	if (!arch.empty() && !series.empty())
		return !meta.accel || meta.accel == Accel::tcg ? fmt::format("{}-{}", arch, series)
							       : fmt::format("{}-{}-{}", arch, series, name_of(*meta.accel));
	auto p = protection();
	return p.empty() || !name.ends_with("-" + p) ? name : name.substr(0, name.size() - p.size() - 1);
}

std::string CellResults::protection() const
{
	if (meta.protection_requested)
		return std::string(name_of(*meta.protection_requested));
	for (auto &[p, text] : EnumNames<Protection>::names)
		if (name.size() > 3 && name.ends_with(fmt::format("-{}", text)))
			return std::string(text);
	return "";
}

namespace {

// One repetition of a row as read: its figure, its boot, and its slower pace probe (NaN without probes).
struct Value {
	double figure;
	int boot;
	double pace;
};

// A pace probe of a row (NaN when the row has none, as in files written before the probe existed).
double probe(const nlohmann::json &b, const char *key)
{
	return b.contains(key) && b[key].is_number() ? b[key].get<double>() : NAN;
}

// Per-boot medians with two boots or more, else the values themselves.
std::vector<double> samples_of(const std::vector<Value> &vs, size_t boots)
{
	std::vector<double> out;
	if (boots < 2) {
		for (auto &v : vs)
			out.push_back(v.figure);
		return out;
	}
	std::map<int, std::vector<double>> by_boot;
	for (auto &v : vs)
		by_boot[v.boot].push_back(v.figure);
	for (auto &[_, f] : by_boot)
		out.push_back(median(f));
	return out;
}

// The row's samples under the pace rule (kPaceSlowedBy), counting what it left out in the row and the cell.
void take_samples(CellResults &c, Row &r, const std::vector<Value> &vs)
{
	std::set<int> boots;
	std::vector<Value> kept;
	std::vector<int> slow_boots;  // the boot of each value the rule would leave out
	for (auto &v : vs) {
		boots.insert(v.boot);
		++c.values_by_boot[v.boot];
		if (c.pace_ns > 0 && v.pace > kPaceSlowedBy * c.pace_ns)
			slow_boots.push_back(v.boot);
		else
			kept.push_back(v);
	}
	r.samples = samples_of(vs, boots.size());
	if (!slow_boots.empty()) {
		auto fewer = samples_of(kept, boots.size());
		if (fewer.size() >= 2) {
			r.samples = fewer;
			r.slowed = static_cast<int>(slow_boots.size());
			for (int b : slow_boots)
				++c.slowed_by_boot[b];
		} else {
			r.slowed_kept = true;
		}
	}
	c.slowed_values += r.slowed;
	c.values += static_cast<int>(vs.size());
	c.boots = std::min(c.boots, static_cast<int>(boots.size()));
}

}  // namespace

CellResults parse_cell(const std::string &name, const nlohmann::json &j)
{
	CellResults c;
	c.name = name;
	c.context = j.value("context", nlohmann::json::object());
	c.meta = c.context.get<CellContext>();
	if (!j.contains("benchmarks") || !j["benchmarks"].is_array())
		fail("{}: no \"benchmarks\" array (not Google Benchmark JSON?)", name);
	std::map<std::string, std::vector<Value>> values;  // row -> its values
	std::vector<double> probes;                        // every pace probe of those rows
	for (const auto &b : j["benchmarks"]) {
		if (b.value("run_type", "iteration") != "iteration" || b.value("error_occurred", false))
			continue;
		auto bn = parse_bench_name(b.value("run_name", b.value("name", "")));
		const auto &n = bn.name;
		RowKind k = b.contains(keys::row_unit) ? RowKind{b[keys::row_unit].get<std::string>(), b.value(keys::row_kind, "")}
							: row_kind(bn, b.contains("bytes_per_second"));
		auto &row = c.rows[n];
		row.name = n;
		row.unit_name = k.unit;
		row.kind = k.kind;
		row.throughput = k.throughput();
		row.values.push_back(row_figure(k, b));
		const double before = probe(b, keys::row_pace_before), after = probe(b, keys::row_pace_after);
		for (double p : {before, after})
			if (std::isfinite(p))
				probes.push_back(p);
		const double slower = std::isfinite(before) && std::isfinite(after) ? std::max(before, after) : NAN;
		values[n].push_back({row.values.back(), b.value(keys::row_boot, 0), slower});
	}
	if (c.rows.empty())
		fail("{}: no benchmark results in it", name);
	c.pace_ns = probes.empty() ? 0 : median(probes);  // the reference: the median of every probe of every row
	c.repetitions = c.boots = c.samples = 1 << 30;
	for (auto &[n, r] : c.rows) {
		take_samples(c, r, values[n]);
		r.median = median(r.samples);
		r.cv = coefficient_of_variation(r.samples);
		c.repetitions = std::min(c.repetitions, static_cast<int>(r.values.size()));
		c.samples = std::min(c.samples, static_cast<int>(r.samples.size()));
	}
	return c;
}

std::string CellResults::pace_summary() const
{
	if (pace_ns <= 0)
		return exact_clock() ? "no pace probe (icount: instruction counts do not depend on the machine's pace)"
				     : "no pace probes in these results (written before the probe existed)";
	std::string s = fmt::format("pace probe {} per MiB; {} of {} values left out (probe > {:.2f}x)",
				    exact_clock() ? fmt::format("{:.4g} instructions", pace_ns)
						  : fmt::format("{:.3g} ms", pace_ns / 1e6),
				    slowed_values, values, kPaceSlowedBy);
	const char *sep = ": ";
	for (auto &[boot, n] : slowed_by_boot) {
		s += fmt::format("{}boot {}: {}", sep, boot, n);
		sep = ", ";
	}
	if (!meta.reboots.empty())
		s += "; booted again: " + meta.reboots;
	return s;
}

std::vector<int> CellResults::slow_boots() const
{
	std::vector<int> slow;
	for (auto [boot, n] : slowed_by_boot)
		if (auto all = values_by_boot.find(boot); all != values_by_boot.end() && 2 * n > all->second)
			slow.push_back(boot);
	return slow;
}

CellResults load_cell(const fs::path &file)
{
	nlohmann::json j;
	try {
		j = nlohmann::json::parse(read_file(file));
	} catch (const nlohmann::json::exception &e) {
		fail("{} does not parse as JSON: {}", file.string(), e.what());
	}
	auto c = parse_cell(file.stem().string(), j);
	c.file = file;
	return c;
}

std::vector<CellResults> load_results(const fs::path &dir, std::vector<std::string> *skipped)
{
	std::vector<fs::path> files;
	for (auto &e : fs::directory_iterator(dir))
		if (e.path().extension() == ".json" && !e.path().stem().string().starts_with("compare-"))
			files.push_back(e.path());
	std::sort(files.begin(), files.end());
	std::vector<CellResults> cells;
	for (auto &f : files) {
		try {
			cells.push_back(load_cell(f));
		} catch (const Error &e) {
			auto msg = fmt::format("skipped {}: {}", f.string(), e.what());
			if (skipped)
				skipped->push_back(msg);
			else
				fmt::print(stderr, "xuaccess: warning: {}\n", msg);
		}
	}
	if (cells.empty())
		fail("no readable benchmark JSON files in {}", dir.string());
	return cells;
}

std::vector<double> Row::time_samples() const
{
	std::vector<double> t;
	for (double v : samples)
		t.push_back(throughput ? (v > 0 ? 1 / v : 0) : v);
	return t;
}

std::string CellResults::clock() const
{
	return std::string(name_of(meta.clock_or_time()));
}

nlohmann::json merge_boots(const std::vector<nlohmann::json> &boots, bool icount)
{
	if (boots.empty())
		fail("internal: merge_boots with no boot");
	nlohmann::json j = boots.front();
	j["benchmarks"] = nlohmann::json::array();
	double other = -1, steal = -1;
	for (size_t k = 0; k < boots.size(); ++k) {
		for (auto b : boots[k].value("benchmarks", nlohmann::json::array())) {
			if (boots.size() > 1 && b.value("run_type", "iteration") != "iteration")
				continue;
			b[keys::row_boot] = k;
			j["benchmarks"].push_back(std::move(b));
		}
		auto ctx = boots[k].value("context", nlohmann::json::object()).get<CellContext>();
		other = std::max(other, ctx.host_other_cores.value_or(-1.0));
		steal = std::max(steal, ctx.host_steal.value_or(-1.0));
	}
	annotate_rows(j, icount);
	auto ctx = j["context"].get<CellContext>();
	ctx.boots = static_cast<int>(boots.size());
	ctx.host_other_cores = other;  // the busiest boot's
	ctx.host_steal = steal;
	j["context"] = ctx;
	return j;
}

}  // namespace xua
