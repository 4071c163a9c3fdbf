#include "results.hpp"

#include "stats.hpp"

namespace xua {

std::string CellResults::context_string(const std::string &key) const
{
	if (!context.contains(key))
		return "";
	const auto &v = context[key];
	return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string CellResults::sampling() const
{
	if (per_boot())
		return fmt::format("{} boots x {} repetition(s)", boots, repetitions / boots);
	return fmt::format("{} repetition(s) in 1 boot", repetitions);
}

std::string CellResults::accel_label() const
{
	auto accel = context_string("xua_accel");
	if (accel == "kvm")
		return "KVM (this CPU, virtualised)";
	if (accel == "host")
		return "real silicon (the running kernel)";
	return "emulated (TCG)";
}

std::string CellResults::group() const
{
	auto p = protection();
	return p.empty() ? name : name.substr(0, name.size() - p.size() - 1);
}

std::string CellResults::protection() const
{
	for (const char *p : {"on", "off"})
		if (name.size() > 3 && name.ends_with(std::string("-") + p))
			return p;
	return "";
}

namespace {

// What a row means decides its unit: per-call latencies and syscall floors in ns of wall clock, window
// pairs and batches in ns per item (kernel-timed), everything else with a byte count as throughput.
double row_value(const std::string &name, const nlohmann::json &b, bool &throughput)
{
	throughput = false;
	if (name.starts_with("latency/") || name == "baseline/null_ioctl" || name == "baseline/getppid")
		return b.value("real_time", 0.0);
	if (name.starts_with("guard/") || name.starts_with("batch/")) {
		double ips = b.value("items_per_second", 0.0);
		return ips > 0 ? 1e9 / ips : 0.0;
	}
	if (b.contains("bytes_per_second")) {
		throughput = true;
		return b["bytes_per_second"].get<double>() / (1 << 20);
	}
	return b.value("real_time", 0.0);
}

}  // namespace

CellResults parse_cell(const std::string &name, const nlohmann::json &j)
{
	CellResults c;
	c.name = name;
	c.context = j.value("context", nlohmann::json::object());
	if (!j.contains("benchmarks") || !j["benchmarks"].is_array())
		fail("{}: no \"benchmarks\" array (not Google Benchmark JSON?)", name);
	std::map<std::string, std::map<int, std::vector<double>>> by_boot;  // row -> boot ("xua_boot", else 0) -> values
	for (const auto &b : j["benchmarks"]) {
		if (b.value("run_type", "iteration") != "iteration" || b.value("error_occurred", false))
			continue;
		std::string n = b.value("run_name", b.value("name", ""));
		if (auto pos = n.find("/manual_time"); pos != std::string::npos)
			n.erase(pos);
		auto &row = c.rows[n];
		row.name = n;
		row.values.push_back(row_value(n, b, row.throughput));
		by_boot[n][b.value("xua_boot", 0)].push_back(row.values.back());
	}
	if (c.rows.empty())
		fail("{}: no benchmark results in it", name);
	c.repetitions = c.boots = c.samples = 1 << 30;
	for (auto &[n, r] : c.rows) {
		const auto &boots = by_boot[n];
		if (boots.size() >= 2)
			for (auto &[_, v] : boots)
				r.samples.push_back(median(v));
		else
			r.samples = r.values;
		r.median = median(r.samples);
		r.cv = coefficient_of_variation(r.samples);
		c.repetitions = std::min(c.repetitions, static_cast<int>(r.values.size()));
		c.boots = std::min(c.boots, static_cast<int>(boots.size()));
		c.samples = std::min(c.samples, static_cast<int>(r.samples.size()));
	}
	return c;
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

std::vector<CellResults> load_results(const fs::path &dir)
{
	std::vector<fs::path> files;
	for (auto &e : fs::directory_iterator(dir))
		if (e.path().extension() == ".json" && !e.path().stem().string().starts_with("compare-"))
			files.push_back(e.path());
	std::sort(files.begin(), files.end());
	std::vector<CellResults> cells;
	for (auto &f : files)
		cells.push_back(load_cell(f));
	if (cells.empty())
		fail("no benchmark JSON files in {}", dir.string());
	return cells;
}

}  // namespace xua
