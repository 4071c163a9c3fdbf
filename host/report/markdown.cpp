#include "report/markdown.hpp"

#include <algorithm>
#include <set>

#include "report/format.hpp"

namespace xua {
namespace {

// What the figures are when cells ran under icount or TCG, not on silicon (nothing for KVM and host cells).
std::string clock_warnings(const std::vector<CellResults> &cells)
{
	const auto &c0 = cells.front();
	std::string m;
	bool any_icount = std::any_of(cells.begin(), cells.end(), [](auto &c) { return c.exact_clock(); });
	bool any_tcg = std::any_of(cells.begin(), cells.end(), [](auto &c) {
		return c.meta.accel != Accel::kvm && c.meta.accel != Accel::host && !c.exact_clock();
	});
	if (any_icount)
		m += fmt::format(
			"> **icount: instructions, not time.** These figures come from QEMU's instruction counter "
			"(`-icount shift=0,sleep=off`, QEMU TCG {}): the guest clock advances one ns per executed "
			"instruction, so every \"ns\" is an instruction and every boot of a cell gives the same figures. "
			"Exact for comparing methods, kernels and module versions. Blind to what a CPU spends without "
			"instructions: SMAP and PAN add no instructions, so on vs off here shows only code paths that "
			"change with the guard. QEMU 7.2 counts an x86 `rep movsb` as one instruction per byte, which no "
			"CPU does: x86 copy rows count bytes more than work.\n\n",
			c0.meta.qemu_version);
	if (any_tcg)
		m += fmt::format(
			"> **Emulated.** These figures were measured inside QEMU TCG guests ({}) on one {} host ({}; {}). "
			"TCG translates guest code and charges per translated instruction; it ends a translation block at "
			"every `stac`/`clac` and `msr pan`, so a guard's cost here is the emulator's, not a CPU's. Use them to "
			"compare paths with each other and to see whether a cost exists; measure on silicon "
			"(`./xuaccess bench --host`, or `--accel kvm` for the cells of the host's own arch) on a machine "
			"that is not itself virtual before quoting nanoseconds.\n\n",
			c0.meta.qemu_version,
			c0.meta.host_arch.empty() ? "x86_64" : c0.meta.host_arch,
			c0.meta.host_cpu.empty() ? "CPU not recorded" : c0.meta.host_cpu,
			c0.meta.host_machine.empty() ? "machine kind not recorded"
								       : c0.meta.host_machine);
	return m;
}

// A row per cell: what it ran on, how it was measured, how many samples.
std::string cells_table(const std::vector<CellResults> &cells)
{
	std::string m = "## Cells\n\n"
			"| cell | guest CPU | kernel | guard | on in guest | accel | samples | rows | boot s | date |\n"
			"|---|---|---|---|---|---|---|---|---|---|\n";
	for (auto &c : cells)
		m += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", c.name,
				 md_escape(c.meta.qemu_cpu), md_escape(c.meta.kernel_package),
				 guard_name(c), c.meta.guard_enabled, c.accel_label(), c.sampling(),
				 c.rows.size(),
				 c.meta.boot_seconds ? fmt::format("{:.1f}", *c.meta.boot_seconds)
					 : std::string("-"),
				 c.meta.date_utc);
	m += "\n\"on in guest\" is what the module read from the CPU inside the guest (CR4.SMAP, or PAN detected), "
	     "checked against the protection asked for before any figure was kept.\n\n";
	m += fmt::format("The pace probe (the same kernel memcpy before and after every benchmark, per MiB) per cell; "
			 "a value whose slower probe exceeds the cell's median probe by more than {:.0f} % was measured "
			 "while the machine ran slow and is left out of the statistics, in every cell alike:\n\n",
			 100 * (kPaceSlowedBy - 1));
	for (auto &c : cells)
		m += fmt::format("- {}: {}\n", c.name, md_escape(c.pace_summary()));
	m += "\n";
	return m;
}

std::string how_to_read()
{
	std::string m = "## How to read it\n\n";
	m += "- `transfer/<method>/<dir>/<bytes>`, `batch/*`, `guard/toggle` and `baseline/kernel_memcpy/*` are timed by the "
	     "module around its own loop: no syscall in the figure. `latency/*`, `mmap/*` and the other baselines are wall "
	     "clock per call, syscall included.\n"
	     "- MiB/s: higher is faster. ns: lower is faster. A cell with several boots of its guest has one sample per "
	     "boot (the median of that boot's repetitions); with one boot the samples are the repetitions. Each figure "
	     "is the median of the samples; ±cv is their coefficient of variation.\n";
	m += fmt::format(
		"- Why boots: under TCG two boots of the same cell differ by far more than the repetitions inside one boot "
		"(measured on this project's machine: {}). So a cell's samples are its boots, and the boots of on and off "
		"run interleaved in a seeded random order (the seed is in each cell's `xua_order`), so a drift of the host "
		"falls on both sides alike. How noisy this run was is stated per comparison below: each cell's even boots "
		"against its odd boots (split-half A/A), where every mark is noise.\n",
		kBootToBootNoise);
	m += "- On vs off: B/A is the time per byte (or per call) with the guard on over the time with it off; >1 means "
	     "the guard makes it slower. The figure is a Hodges-Lehmann estimate with its 95 % interval over the "
	     "samples (R's `wilcox.test(conf.int = TRUE)`); `guard/toggle` is a difference in ns, since its \"off\" "
	     "is a patched-out NOP. p is the two-sided p of that same test (Wilcoxon rank-sum, i.e. Mann-Whitney U, "
	     "by R's rule: exact up to 49 samples a side without ties), q its Benjamini-Hochberg adjustment over all rows, and `*` marks q < 0.05: "
	     "among the marked rows, the expected share of false marks is at most 5 %. A mark says an effect exists; "
	     "its size is the interval. Under icount there is no test: a row differs or it does not. Cells of the "
	     "kernel's own protections are compared the same way, each with its partner on the same CPU: on vs "
	     "off-kernel (the kernel does not use the guard the CPU has) and sw vs off (arm64 software PAN against "
	     "none, on the CPU without PAN); B is the cell named first.\n"
	     "- Under TCG the absolute numbers mean little; the ratios between paths inside one cell, and the on/off "
	     "ratio where the guard's instructions are executed per access (`raw_toggle`, `guard/toggle`, x86 "
	     "`per-access`), are what carry over in kind, not in size.\n\n";
	return m;
}

// Per benchmark family (the name without its size), the significant rows: a method's effect reads
// as one line across sizes rather than eight lines of the same method.
std::string largest_effects(const Group &g, const std::string &gp, const std::string &up)
{
	const auto &c = *g.cmp;
	auto sig = significant_families(c);
	if (sig.empty())
		return {};
	std::string m = fmt::format("Largest marked effects, per benchmark family (time {} / time {} of the marked rows; "
			 "every row's estimate and interval is in the table file):\n\n",
			 gp, up);
	for (size_t i = 0; i < std::min<size_t>(10, sig.size()); ++i) {
		const auto &f = sig[i];
		auto range = f.lo == f.hi ? fmt::format("×{:.3f}", f.lo) : fmt::format("×{:.3f} to ×{:.3f}", f.lo, f.hi);
		m += fmt::format("- `{}`: {} ({} of {} rows marked, smallest q {:.4f})\n", f.name, range, f.marked,
				 f.rows, f.q);
	}
	if (sig.size() > 10)
		m += fmt::format("- ... {} more families with marked rows in compare-{}.txt\n", sig.size() - 10, g.name);
	m += "\n";
	return m;
}

// What a group's comparison found: the marks, this run's own noise, the largest effects and every warning.
std::string comparison_summary(const Group &g)
{
	const auto &f = g.first();
	const auto gp = g.guarded->protection(), up = g.unguarded->protection();
	const auto &c = *g.cmp;
	std::string m = fmt::format("**{} {}:** {} of {} rows marked ({}: {}, {}: {}). {}.\n\n", guard_name(f),
			 g.pair_title(), c.significant(), c.rows.size(), gp, g.guarded->sampling(), up,
			 g.unguarded->sampling(), md_escape(c.mark_rule()));
	for (auto *n : {&c.noise_a, &c.noise_b})
		if (*n)
			m += fmt::format("This run's own noise, {}: {}\n\n",
					 n == &c.noise_a ? g.unguarded->name : g.guarded->name, md_escape((*n)->summary()));
	for (auto &n : c.test_notes)
		m += fmt::format("> **Warning:** {}\n\n", md_escape(n));
	m += largest_effects(g, gp, up);
	for (auto &mm : c.mismatches)
		m += fmt::format("Compared despite a mismatch: {}\n\n", md_escape(mm));
	for (auto &w : c.warnings)
		m += fmt::format("> **Warning:** {}\n\n", md_escape(w));
	if (auto note = cpu_off_note(*g.unguarded, *g.guarded); !note.empty())
		m += fmt::format("Caveat: {}.\n\n", note);
	return m;
}

// Why a group has no comparison: its pair was refused, or a cell lacks the partner it would be compared with.
std::string no_comparison(const Group &g)
{
	std::string m;
	if (!g.refused.empty()) {
		m += fmt::format("{} were not compared: {}\n\n", g.pair_title(), md_escape(g.refused));
	} else {
		for (auto *c : g.cells)
			if (auto p = partner_protections(c->protection()); !p.empty())
				m += fmt::format("{} is not compared: no {} cell of this kernel in this directory.\n\n", c->name,
						 fmt::join(p, " or "));
	}
	return m;
}

// Each cell's mmap-vs-copy lines and notes, once: a cell in two pairs has them under the first (`noted`).
std::string cell_lines(const Group &g, std::set<const CellResults *> &noted)
{
	std::string m;
	for (auto *c : g.cells) {
		if (!noted.insert(c).second)
			continue;
		for (bool to_user : {true, false})
			if (!series(*c, to_user ? "mmap/produce+read" : "mmap/write+consume").empty())
				m += fmt::format("- {} mmap vs copy, {}: {}\n", c->name, to_user ? "kernel -> user" : "user -> kernel",
						 mmap_vs_copy(*c, to_user));
		for (auto &n : cell_notes(*c))
			m += fmt::format("- {}\n", n);
	}
	return m;
}

// The comparison's headline rows (the summary's), with a link to the file that has every row.
std::string headline_table(const Group &g)
{
	const auto &f = g.first();
	const auto gp = g.guarded->protection(), up = g.unguarded->protection();
	const auto &c = *g.cmp;
	std::string m;
	auto rows = headline_rows(*g.guarded);
	m += fmt::format("| benchmark | unit | {} {} | {} {} | {}/{} {} | q |\n|---|---|---|---|---|---|\n",
			 guard_name(f), up, guard_name(f), gp, gp, up, c.exact ? "instructions" : "time [interval]");
	for (auto &r : c.rows) {
		if (std::find(rows.begin(), rows.end(), r.name) == rows.end())
			continue;
		m += fmt::format("| `{}` | {} | {} | {} | {}{} | {} |\n", r.name, r.a->unit(), value_cv(*r.a),
				 value_cv(*r.b), r.effect_text(), r.significant ? " *" : "",
				 r.q ? fmt::format("{:.4f}", *r.q) : "-");
	}
	m += fmt::format("\nEvery row: [compare-{}.txt](compare-{}.txt).\n\n", g.name, g.name);
	return m;
}

// One group's section: title, comparison (or why there is none), the cells' notes, plots and headline table.
std::string group_section(const Group &g, const std::map<std::string, std::vector<std::string>> &pngs,
			  std::set<const CellResults *> &noted)
{
	const auto &f = g.first();
	std::string m = fmt::format("## {}, kernel {}{}\n\n", f.meta.arch, kernel_of(f),
				    g.guarded ? ": " + g.pair_title() : std::string(g.cells.size() == 1 ? "" : ": not paired"));
	m += g.cmp ? comparison_summary(g) : no_comparison(g);
	m += cell_lines(g, noted);
	m += "\n";
	for (auto &png : pngs.at(g.name))
		m += fmt::format("![{}](plots/{})\n\n", png, png);
	if (g.cmp)
		m += headline_table(g);
	return m;
}

}  // namespace

std::string markdown(const fs::path &dir, const std::vector<CellResults> &cells, const std::vector<Group> &groups,
		     const std::map<std::string, std::vector<std::string>> &pngs)
{
	std::string m = fmt::format("# xuaccess benchmark report: {}\n\n", dir.filename().string());
	m += clock_warnings(cells);
	m += fmt::format("Made by `./xuaccess report {}` from the JSON files in this directory (one Google Benchmark "
			 "JSON per cell); `summary.txt` is what the bench printed, `compare-*.txt` compares every row.\n\n",
			 dir.string());
	m += cells_table(cells);
	m += how_to_read();
	std::set<const CellResults *> noted;  // a cell in two pairs has its notes under the first
	for (auto &g : groups)
		m += group_section(g, pngs, noted);
	return m;
}

}  // namespace xua
