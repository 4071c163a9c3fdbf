// The results schema: what a cell's JSON says about itself, in one place for the bench program (which
// writes the guest's and the module's part) and the host (which adds the run's part, then compare and
// report read it all back). docs/results.md describes the file around it.
//
// A cell's results are a Google Benchmark JSON whose "context" object carries Google Benchmark's own keys
// (date, num_cpus, caches, ...) and the `xua_*` keys below. Every `xua_*` key is listed ONCE, in
// XUA_CONTEXT_FIELDS, with its C++ member, who writes it, what it means and how compare treats a
// difference between two cells (FieldRule); CellContext is the struct, to_json/from_json its JSON. Keys a
// file has and the schema does not know (Google Benchmark's, or keys of a future version) are kept in
// CellContext::other, so reading and writing a file back loses nothing.
//
// Files of earlier versions still read: a key that is absent is an empty string (or an unset optional),
// non-string values of string keys are read as their JSON text (xua_protection_verified is `true` in cells,
// "on" on a host), and enum values the parser does not know leave the enum unset (the cell's name still
// says its protection, CellResults::protection()). An empty string is written only when it was read so.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace xua {

// ---- enums, each with its one list of names and one parser ----

enum class Protection { on, off, off_kernel, sw };
enum class Accel { tcg, kvm, host };
enum class Clock { time, icount };

template <class E>
struct EnumNames;
template <>
struct EnumNames<Protection> {
	static constexpr const char *what = "protection";
	static constexpr std::array<std::pair<Protection, std::string_view>, 4> names{
		{{Protection::on, "on"}, {Protection::off, "off"}, {Protection::off_kernel, "off-kernel"}, {Protection::sw, "sw"}}};
};
template <>
struct EnumNames<Accel> {
	static constexpr const char *what = "accelerator";
	static constexpr std::array<std::pair<Accel, std::string_view>, 3> names{
		{{Accel::tcg, "tcg"}, {Accel::kvm, "kvm"}, {Accel::host, "host"}}};
};
template <>
struct EnumNames<Clock> {
	static constexpr const char *what = "clock";
	static constexpr std::array<std::pair<Clock, std::string_view>, 2> names{{{Clock::time, "time"}, {Clock::icount, "icount"}}};
};

// A value that is not one of the enum's names.
struct SchemaError : std::invalid_argument {
	using std::invalid_argument::invalid_argument;
};

template <class E>
constexpr std::string_view name_of(E e)
{
	for (auto &[v, n] : EnumNames<E>::names)
		if (v == e)
			return n;
	return "?";
}

// "on, off, off-kernel, sw"
template <class E>
std::string allowed_names()
{
	std::string s;
	for (auto &[v, n] : EnumNames<E>::names)
		s += (s.empty() ? "" : ", ") + std::string(n);
	return s;
}

// The one parser of each enum: the value, or none when `text` is not one of its names.
template <class E>
constexpr std::optional<E> lookup(std::string_view text)
{
	for (auto &[v, n] : EnumNames<E>::names)
		if (n == text)
			return v;
	return std::nullopt;
}

// The same, throwing SchemaError "<what> must be one of <names>, not '<text>'" (`what` defaults to the enum's
// own name, e.g. "--protection").
template <class E>
E parse(std::string_view text, std::string_view what = EnumNames<E>::what)
{
	if (auto v = lookup<E>(text))
		return *v;
	throw SchemaError(std::string(what) + " must be one of " + allowed_names<E>() + ", not '" + std::string(text) + "'");
}

// ---- how compare treats a difference in a field ----

enum class FieldRule {
	refuse,              // a difference refuses the comparison (unless --allow-mismatch), in any comparison
	refuse_but_kernel,   // refuses, except in a kernel A/B (--across kernel), where it is the thing compared
	refuse_unless_explained,  // refuses, unless the protection accounts for it (accepted_differences: one kernel
	                     // parameter); in a kernel A/B it refuses like `refuse`
	refuse_but_kernel_unless_explained,  // refuses, unless the protection accounts for it (one config fragment);
	                     // accepted in a kernel A/B
	special,             // compared by a rule of its own in analyze/compare.cpp (the protection, the clock, the
	                     // CPU model that may differ as the arch's on/off pair)
	warn,                // a difference is a warning printed with the result, not a refusal
	describes,           // describes the run (its date, seed, boot time, ...): not compared
};

constexpr std::string_view name_of(FieldRule r)
{
	switch (r) {
	case FieldRule::refuse: return "refuses";
	case FieldRule::refuse_but_kernel: return "refuses (accepted in a kernel A/B)";
	case FieldRule::refuse_unless_explained: return "refuses (accepted when the protection explains it)";
	case FieldRule::refuse_but_kernel_unless_explained:
		return "refuses (accepted in a kernel A/B, and when the protection's fragment explains it)";
	case FieldRule::special: return "its own rule";
	case FieldRule::warn: return "warns";
	case FieldRule::describes: return "not compared";
	}
	return "?";
}

// ---- the fields ----
//
// X(member, "key", rule, "what it means (and, for warn, why only a warning)")
// Written by: G = the bench program in the guest (or on the host with --host), from the module's INFO and the
// guest's /proc and /sys; H = the host front end (cmd/bench.cpp; provision for the kernel_* of own and
// source-built kernels); D = the host description of `bench --host` (host/run/host_description.hpp).
#define XUA_CONTEXT_STRING_FIELDS(X)                                                                                  \
	/* G: the module and the guest */                                                                         \
	X(arch, "xua_arch", refuse, "architecture")                                                                 \
	X(kernel_release, "xua_kernel_release", refuse_but_kernel, "kernel")                                        \
	X(module_version, "xua_module_version", refuse, "module version")                                           \
	X(guard, "xua_guard", describes, "the guard's name (SMAP, PAN)")                                            \
	X(guard_present, "xua_guard_present", describes, "the CPU has the guard (module INFO)")                     \
	X(guard_enabled, "xua_guard_enabled", describes, "the guard is on (module INFO)")                           \
	X(guard_software, "xua_guard_software", describes, "the guard is arm64's software PAN (module INFO)")       \
	X(guard_kernel_uses, "xua_guard_kernel_uses", describes, "the kernel uses the guard (module INFO)")         \
	X(modes, "xua_modes", describes, "the arch's raw-copy modes (module INFO)")                                 \
	X(methods, "xua_methods", describes, "the module's methods (module INFO)")                                  \
	X(kbuf, "xua_kbuf", refuse, "the module's kernel buffers (kbuf: vmalloc or linear map)")                    \
	X(tick_hz, "xua_tick_hz", describes, "the module's clock resolution")                                       \
	X(check_ns, "xua_check_ns", describes, "the timed loop's bookkeeping per step, ns")                         \
	X(clocksource, "xua_clocksource", describes, "the guest kernel's clocksource")                              \
	X(kernel_cmdline, "xua_kernel_cmdline", refuse_unless_explained, "kernel command line (KASLR, KPTI, ...)")   \
	X(kpti, "xua_kpti", refuse, "page-table isolation (KPTI), from /sys/.../vulnerabilities/meltdown")          \
	X(cell, "xua_cell", describes, "the cell's name")                                                           \
	/* H: the run */                                                                                          \
	X(emulated, "xua_emulated", describes, "what the figures are figures of (emulated, icount, silicon)")       \
	X(host_machine, "xua_host_machine", refuse,                                                                 \
	  "host machine (real silicon, or itself virtual or emulated: where the figures come from)")               \
	X(host_machine_evidence, "xua_host_machine_evidence", describes, "what says what the host machine is")      \
	X(host_arch, "xua_host_arch", describes, "the host's architecture")                                         \
	X(host_os, "xua_host_os", refuse, "host OS (the guest programs' compiler and libraries, QEMU's build)")     \
	X(host_cpu, "xua_host_cpu", refuse, "host CPU (TCG speed depends on it)")                                   \
	X(order, "xua_order", describes, "the order the boots ran in")                                              \
	X(boots_side_by_side, "xua_boots_side_by_side", warn,                                                       \
	  "time-clock boots side by side, pinned one per CPU (absent: one at a time)")                              \
	X(qemu_version, "xua_qemu_version", refuse, "QEMU")                                                         \
	X(qemu_machine, "xua_qemu_machine", refuse, "QEMU machine")                                                 \
	X(qemu_memory, "xua_qemu_memory", refuse, "guest memory")                                                   \
	X(qemu_cpu, "xua_qemu_cpu", special, "CPU model (may differ only as the arch's on/off pair)")               \
	X(cpu_on, "xua_cpu_on", refuse, "the matrix's CPU model for protection on")                                 \
	X(cpu_off, "xua_cpu_off", refuse, "the matrix's CPU model for protection off")                              \
	X(cpu_off_note, "xua_cpu_off_note", describes, "what the off CPU model lacks besides the guard")            \
	X(module_cc, "xua_module_cc", refuse, "the module's compiler")                                              \
	X(benchmark_version, "xua_benchmark_version", refuse, "Google Benchmark version of the guest programs")      \
	X(bench_args, "xua_bench_args", refuse, "benchmark settings")                                               \
	X(kernel_series, "xua_kernel_series", describes, "the matrix's kernel series (or the path's label)")       \
	X(kernel_package, "xua_kernel_package", refuse_but_kernel, "kernel package")                                \
	X(kernel_cmdline_extra, "xua_kernel_cmdline_extra", refuse, "kernel parameters the matrix adds")            \
	X(kernel_path, "xua_kernel_path", refuse_but_kernel, "kernel given as a path")                              \
	X(kernel_form, "xua_kernel_form", describes, "the form of a kernel given as a path (tree, deb)")            \
	X(kernel_config_sha256, "xua_kernel_config_sha256", refuse_but_kernel_unless_explained,                     \
	  "kernel config (sha256 of .config)")                                                                      \
	X(kernel_base_config_sha256, "xua_kernel_base_config_sha256", describes, "the config without the protection's fragment") \
	X(kernel_config_diff, "xua_kernel_config_diff", describes, "what the protection's fragment changed")        \
	X(kernel_fragments, "xua_kernel_fragments", describes, "the config fragments of a source-built kernel")     \
	X(kernel_protection_fragment, "xua_kernel_protection_fragment", describes, "the protection's fragment")    \
	X(protection_cmdline, "xua_protection_cmdline", describes, "the kernel parameters the protection adds")     \
	X(protection_verified, "xua_protection_verified", describes,                                                \
	  "the protection as the module found it (a cell's run fails when it is not the one requested: true)")     \
	X(run_position, "xua_run_position", describes, "the boot's place in the run's order")                       \
	X(reboots, "xua_reboots", describes, "boots run again because a whole boot ran slow (bench --extra-boots)") \
	X(date_utc, "xua_date_utc", describes, "when the cell was written")                                         \
	/* D: bench --host, the machine's own state (each "not exposed" where the machine has no such file) */   \
	X(host_governor, "xua_host_cpufreq_governor", refuse,                                                        \
	  "CPU frequency governor (performance vs powersave moves every figure)")                                   \
	X(host_freq_max, "xua_host_cpufreq_max_khz", refuse, "the CPU's maximum frequency, kHz")                    \
	X(host_freq_cur, "xua_host_cpufreq_cur_khz", describes, "the CPU's frequency when the run began, kHz (a snapshot)") \
	X(host_boost, "xua_host_boost", refuse, "turbo/boost (intel_pstate/no_turbo, cpufreq/boost)")               \
	X(host_smt, "xua_host_smt", warn,                                                                           \
	  "SMT (a sibling thread shares the core; the pinned benchmark's own cost is the same)")                   \
	X(host_isolated, "xua_host_isolated_cpus", warn, "isolated CPUs (less noise, not another cost)")            \
	X(host_bench_cpu, "xua_host_bench_cpu", warn,                                                               \
	  "the CPU the benchmark was pinned to (another core of one machine: the same cost unless the CPU is hybrid)") \
	X(host_mitigations, "xua_host_mitigations", refuse, "kernel mitigations (/sys/.../vulnerabilities: syscall cost)")

struct CellContext {
#define XUA_DECLARE_STRING(member, key, rule, meaning) std::string member;
	XUA_CONTEXT_STRING_FIELDS(XUA_DECLARE_STRING)
#undef XUA_DECLARE_STRING
	std::optional<std::string> kernel_git_describe;  // xua_kernel_git_describe: "" = a tree that is not git
	std::optional<Protection> protection_requested;  // xua_protection_requested
	std::optional<Accel> accel;                      // xua_accel
	std::optional<Clock> clock;                      // xua_clock (unset: time)
	std::optional<int> boots;                        // xua_boots
	std::optional<uint64_t> seed;                    // xua_seed
	std::optional<double> host_other_cores;          // xua_host_other_cores: the busiest boot's, cores
	std::optional<double> host_steal;                // xua_host_steal: share of the time
	std::optional<double> boot_seconds;              // xua_boot_seconds: QEMU start to the init's first line
	std::optional<int> num_cpus;                     // Google Benchmark's num_cpus: the guest's CPUs
	nlohmann::json other = nlohmann::json::object();  // every other key of the file, kept as it was
	std::vector<std::string> read_empty;             // string keys the file had with an empty value (written back)

	Clock clock_or_time() const { return clock.value_or(Clock::time); }
};

// The keys of the typed (non-string) fields and of the rows.
namespace keys {
constexpr const char *kernel_git_describe = "xua_kernel_git_describe";
constexpr const char *protection_requested = "xua_protection_requested";
constexpr const char *accel = "xua_accel";
constexpr const char *clock = "xua_clock";
constexpr const char *boots = "xua_boots";
constexpr const char *seed = "xua_seed";
constexpr const char *host_other_cores = "xua_host_other_cores";
constexpr const char *host_steal = "xua_host_steal";
constexpr const char *boot_seconds = "xua_boot_seconds";
constexpr const char *num_cpus = "num_cpus";
// In each row of "benchmarks", not in the context.
constexpr const char *row_unit = "xua_unit";
constexpr const char *row_kind = "xua_kind";
constexpr const char *row_boot = "xua_boot";
// The pace probe's figures on either side of the row, ns (bench/bench.cpp writes them; analyze/results.hpp
// reads them: a row measured while the machine ran slow is left out of the statistics).
constexpr const char *row_pace_before = "pace_before_ns";
constexpr const char *row_pace_after = "pace_after_ns";
#define XUA_KEY(member, key, rule, meaning) constexpr const char *member = key;
XUA_CONTEXT_STRING_FIELDS(XUA_KEY)
#undef XUA_KEY
}  // namespace keys

// One row of the field table: compare walks it (analyze/compare.cpp), docs/results.md prints it.
struct FieldInfo {
	const char *key;
	FieldRule rule;
	const char *meaning;
	std::string CellContext::*member;
};

inline const std::vector<FieldInfo> &context_fields()
{
	static const std::vector<FieldInfo> fields = {
#define XUA_FIELD_INFO(member, key, rule, meaning) {key, FieldRule::rule, meaning, &CellContext::member},
		XUA_CONTEXT_STRING_FIELDS(XUA_FIELD_INFO)
#undef XUA_FIELD_INFO
	};
	return fields;
}

namespace schema_detail {

inline std::string text(const nlohmann::json &v)
{
	return v.is_string() ? v.get<std::string>() : v.dump();
}

template <class T>
void read_number(const nlohmann::json &j, const char *key, std::optional<T> &out)
{
	if (!j.contains(key))
		return;
	const auto &v = j[key];
	if (v.is_number())
		out = v.get<T>();
	else if (v.is_string()) {
		try {
			out = static_cast<T>(std::stod(v.get<std::string>()));
		} catch (const std::exception &) {
		}
	}
}

template <class E>
void read_enum(const nlohmann::json &j, const char *key, std::optional<E> &out)
{
	if (j.contains(key) && j[key].is_string())
		out = lookup<E>(j[key].get<std::string>());
}

}  // namespace schema_detail

inline void to_json(nlohmann::json &j, const CellContext &c)
{
	j = c.other.is_object() ? c.other : nlohmann::json::object();
	auto was_read_empty = [&](const char *key) {
		for (auto &k : c.read_empty)
			if (k == key)
				return true;
		return false;
	};
#define XUA_WRITE_STRING(member, key, rule, meaning)                                                                 \
	if (!c.member.empty() || was_read_empty(key))                                                               \
		j[key] = c.member;
	XUA_CONTEXT_STRING_FIELDS(XUA_WRITE_STRING)
#undef XUA_WRITE_STRING
	if (c.protection_verified == "true")  // a cell's verified protection has always been the JSON true
		j[keys::protection_verified] = true;
	if (c.kernel_git_describe)
		j[keys::kernel_git_describe] = *c.kernel_git_describe;
	if (c.protection_requested)
		j[keys::protection_requested] = name_of(*c.protection_requested);
	if (c.accel)
		j[keys::accel] = name_of(*c.accel);
	if (c.clock)
		j[keys::clock] = name_of(*c.clock);
	if (c.boots)
		j[keys::boots] = *c.boots;
	if (c.seed)
		j[keys::seed] = *c.seed;
	if (c.host_other_cores)
		j[keys::host_other_cores] = *c.host_other_cores;
	if (c.host_steal)
		j[keys::host_steal] = *c.host_steal;
	if (c.boot_seconds)
		j[keys::boot_seconds] = *c.boot_seconds;
	if (c.num_cpus)
		j[keys::num_cpus] = *c.num_cpus;
}

inline void from_json(const nlohmann::json &j, CellContext &c)
{
	c = CellContext{};
	if (!j.is_object())
		return;
	c.other = j;
#define XUA_READ_STRING(member, key, rule, meaning)                                                                  \
	if (j.contains(key)) {                                                                                      \
		c.member = schema_detail::text(j[key]);                                                             \
		c.other.erase(key);                                                                                 \
		if (c.member.empty())                                                                               \
			c.read_empty.push_back(key);                                                                \
	}
	XUA_CONTEXT_STRING_FIELDS(XUA_READ_STRING)
#undef XUA_READ_STRING
	if (j.contains(keys::kernel_git_describe))
		c.kernel_git_describe = schema_detail::text(j[keys::kernel_git_describe]);
	schema_detail::read_enum(j, keys::accel, c.accel);
	schema_detail::read_enum(j, keys::clock, c.clock);
	schema_detail::read_enum(j, keys::protection_requested, c.protection_requested);
	schema_detail::read_number(j, keys::boots, c.boots);
	schema_detail::read_number(j, keys::seed, c.seed);
	schema_detail::read_number(j, keys::host_other_cores, c.host_other_cores);
	schema_detail::read_number(j, keys::host_steal, c.host_steal);
	schema_detail::read_number(j, keys::boot_seconds, c.boot_seconds);
	schema_detail::read_number(j, keys::num_cpus, c.num_cpus);
	// A key whose value the parser did not take (an unknown protection, ...) stays in `other` as it was.
	c.other.erase(keys::kernel_git_describe);
	for (auto [k, set] : {std::pair{keys::boots, c.boots.has_value()}, {keys::seed, c.seed.has_value()},
			      {keys::host_other_cores, c.host_other_cores.has_value()}, {keys::host_steal, c.host_steal.has_value()},
			      {keys::boot_seconds, c.boot_seconds.has_value()}, {keys::num_cpus, c.num_cpus.has_value()}})
		if (set)
			c.other.erase(k);
	if (c.accel)
		c.other.erase(keys::accel);
	if (c.clock)
		c.other.erase(keys::clock);
	if (c.protection_requested)
		c.other.erase(keys::protection_requested);
}

}  // namespace xua
