// The built module, read back: the window check's positive control opens, checks and closes the window
// in one sequence with no call in it (objtool's "call with UACCESS enabled", which objtool itself cannot
// see: the window is opened with popf / a bare MSR PAN). Every module object built so far in this build
// directory (build/module/<arch>-<kernel>/obj/) is checked, the debug kernels' (KASAN, UBSAN) too.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "base/process.hpp"
#include "base/util.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

struct Insn {
	std::string text;  // mnemonic and operands
	std::string reloc; // relocation target on the instruction, if any
	uint64_t addr = 0;
};

// objdump -dr of one function: its instructions, with the relocation each one carries.
std::map<std::string, std::vector<Insn>> disassemble(const std::string &objdump, const fs::path &obj)
{
	auto out = run_checked({objdump, "-dr", "--no-show-raw-insn", obj.string()});
	std::map<std::string, std::vector<Insn>> fns;
	static const std::regex fn_re(R"(^[0-9a-f]+ <([^>]+)>:$)");
	static const std::regex insn_re(R"(^\s+([0-9a-f]+):\s+(.*)$)");
	static const std::regex reloc_re(R"(^\s+[0-9a-f]+: R_\S+\s+(\S+)$)");
	std::vector<Insn> *cur = nullptr;
	for (auto &line : split_lines(out)) {
		std::smatch m;
		if (std::regex_match(line, m, fn_re)) {
			cur = &fns[m[1]];
		} else if (cur && std::regex_match(line, m, reloc_re)) {
			if (!cur->empty())
				cur->back().reloc = m[1];
		} else if (cur && std::regex_match(line, m, insn_re)) {
			cur->push_back({trim(m[2].str()), {}, std::stoull(m[1].str(), nullptr, 16)});
		}
	}
	return fns;
}

// A planted function for the checks' positive controls: these instructions at 0x100, 0x104, ...
std::vector<Insn> code(const std::vector<std::string> &texts)
{
	std::vector<Insn> v;
	for (size_t k = 0; k < texts.size(); ++k)
		v.push_back({texts[k], {}, 0x100 + 4 * k});
	return v;
}

bool is_call(const std::string &insn)
{
	static const std::regex re(R"(^(call|callq|bl|blr|jmp\s+\*|br)\b.*)");
	return std::regex_match(insn, re);
}

// The problems of one guard.o: the control must open and close the window itself, with no call between.
std::vector<std::string> control_problems(const std::string &arch, const fs::path &obj)
{
	auto objdump = arch == "arm64" ? "aarch64-linux-gnu-objdump" : "objdump";
	auto fns = disassemble(objdump, obj);
	std::vector<std::string> why;
	for (auto &[name, insns] : fns)
		for (auto &i : insns)
			if (i.reloc.find("xua_arch_window_open") != std::string::npos ||
			    i.reloc.find("xua_arch_window_close") != std::string::npos)
				why.push_back(fmt::format("{}: '{}' calls {} out of line", name, i.text, i.reloc));
	// The planting function: the one with the window instructions (x86 popf; arm64 MSR PAN).
	auto opens = [&](const std::string &t) {
		return arch == "arm64" ? t.rfind("msr\tpan, #0x0", 0) == 0 || t.rfind("msr pan, #0x0", 0) == 0
				       : t.rfind("popf", 0) == 0;
	};
	bool found = false;
	for (auto &[name, insns] : fns) {
		size_t first = insns.size(), last = 0;
		for (size_t k = 0; k < insns.size(); ++k)
			if (opens(insns[k].text) || (arch == "arm64" && insns[k].text.find("pan, #0x1") != std::string::npos)) {
				first = std::min(first, k);
				last = k;
			}
		if (first == insns.size() || name.find("xua_window_") != 0)
			continue;
		found = true;
		for (size_t k = first; k <= last; ++k)
			if (is_call(insns[k].text))
				why.push_back(fmt::format("{}: '{}' {}between the window's open and close", name, insns[k].text,
							  insns[k].reloc.empty() ? "" : "(" + insns[k].reloc + ") "));
	}
	if (!found) {
		// A kernel built without the window (arm64 CONFIG_ARM64_PAN=n, the off-kernel cells) leaves no window
		// instruction anywhere in the object: the control has nothing to open there (INFO says the guard is
		// absent, and the cell checks that). Window instructions outside the control are a problem.
		bool any = false;
		for (auto &[name, insns] : fns)
			for (auto &i : insns)
				any |= opens(i.text);
		if (any)
			why.push_back("no function in guard.o opens the window itself: the control plants its leak through a call");
		else
			std::printf("# %s: no window instruction in the object (a kernel built without the guard)\n",
				    obj.string().c_str());
	}
	return why;
}

TEST(ModuleObject, ControlOpensChecksAndClosesWithNoCallInBetween)
{
	// XUA_MODULE_ROOT: another build's build/module (e.g. to look at an older module).
	const char *env = std::getenv("XUA_MODULE_ROOT");
	auto root = env && *env ? fs::path(env) : kBuild / "module";
	int checked = 0;
	if (fs::exists(root))
		for (auto &d : fs::directory_iterator(root)) {
			auto obj = d.path() / "obj" / "common" / "guard.o";
			if (!fs::exists(obj))
				continue;
			auto dir = d.path().filename().string();
			auto arch = dir.rfind("arm64", 0) == 0 ? "arm64" : "x86_64";
			auto why = control_problems(arch, obj);
			std::printf("# %s: %s\n", obj.string().c_str(), why.empty() ? "ok" : fmt::format("{}", fmt::join(why, "; ")).c_str());
			EXPECT_TRUE(why.empty()) << obj << ":\n" << fmt::format("{}", fmt::join(why, "\n"));
			++checked;
		}
	if (!checked)
		GTEST_SKIP() << "no module built in " << root << " yet (./xuaccess test builds them before this test runs)";
}

// arm64: whether the CPUs have PAN comes from the kernel's system-wide view (the sanitised ID register, the
// lowest value over all CPUs), never from the loading CPU's own ID register: MRS PAN is UNDEFINED on a CPU
// without PAN, and INFO may run on any CPU.
TEST(ModuleObject, Arm64ReadsNoRawIdRegister)
{
	const char *env = std::getenv("XUA_MODULE_ROOT");
	auto root = env && *env ? fs::path(env) : kBuild / "module";
	int checked = 0;
	if (fs::exists(root))
		for (auto &d : fs::directory_iterator(root)) {
			auto obj = d.path() / "obj" / "arch" / "arm64" / "uaccess.o";
			if (d.path().filename().string().rfind("arm64", 0) != 0 || !fs::exists(obj))
				continue;
			std::vector<std::string> raw;
			bool sanitised = false;
			for (auto &[name, insns] : disassemble("aarch64-linux-gnu-objdump", obj))
				for (auto &i : insns) {
					if (i.text.rfind("mrs", 0) == 0 && i.text.find("id_aa64") != std::string::npos)
						raw.push_back(name + ": " + i.text);
					sanitised |= i.reloc.find("read_sanitised_ftr_reg") != std::string::npos;
				}
			std::printf("# %s: %s\n", obj.string().c_str(),
				    raw.empty() ? "no raw ID register read" : fmt::format("{}", fmt::join(raw, "; ")).c_str());
			EXPECT_TRUE(raw.empty()) << obj;
			EXPECT_TRUE(sanitised) << obj << ": no call of read_sanitised_ftr_reg()";
			++checked;
		}
	if (!checked)
		GTEST_SKIP() << "no arm64 module built in " << root << " yet";
}

// arm64 software PAN (CONFIG_ARM64_SW_TTBR0_PAN): the window is TTBR0 holding the user tables, opened and closed
// by a write of TTBR0, inline or in the kernel's uaccess_ttbr0_enable()/uaccess_ttbr0_disable() (which GCC may
// leave out of line: then a call opens or closes it). Inside it a get or put may do its user access (LDTR*/
// STTR*) and nothing else: the kernel side is read before the window opens and written after it closes, as the
// kernel's own __get_user/__put_user do. The compiled code branches (the window opens only where the kernel
// uses software PAN, and the closing is conditional), so the check follows the control flow: a store (other
// than to the stack, where the compiler may spill) is inside a window when it is reachable from an open without
// passing a close, and a close is reachable from it without passing an open. The window check's own recovery
// (a close right before xua_window_violation()) is not the get/put's close. Raw copies (a call other than the
// two above inside the window, as the kernel's raw_copy_*_user make) are not judged here.
std::vector<std::string> sw_pan_window_problems(const std::string &fn, const std::vector<Insn> &insns)
{
	static const std::regex store(R"(^st[a-z0-9]*\s.*\[.*)");
	static const std::regex user(R"(^sttr[bh]?\s.*)");
	static const std::regex stack(R"(.*\[sp[,\]].*)");
	static const std::regex branch(R"(^(b|b\.[a-z]+|cbn?z|tbn?z)\s(?:.*,\s*)?([0-9a-f]+) <.*)");
	// Inline, the kernel's enable writes TTBR1 (the ASID) and then TTBR0; its disable writes TTBR0 and then
	// TTBR1: a TTBR0 write whose next TTBR write is TTBR1's closes, any other opens.
	auto msr_ttbr = [&](size_t k, const char *reg) {
		return insns[k].text.rfind("msr", 0) == 0 && insns[k].text.find(reg) != std::string::npos;
	};
	auto inline_close = [&](size_t k) {
		if (!msr_ttbr(k, "ttbr0_el1"))
			return false;
		for (size_t j = k + 1; j < insns.size(); ++j)
			if (msr_ttbr(j, "ttbr0_el1") || msr_ttbr(j, "ttbr1_el1"))
				return msr_ttbr(j, "ttbr1_el1");
		return false;
	};
	auto calls = [&](size_t k, const char *fn) {
		return insns[k].text.rfind("bl", 0) == 0 && insns[k].text.find(fn) != std::string::npos;
	};
	auto is_open = [&](size_t k) {
		return calls(k, "uaccess_ttbr0_enable") || (msr_ttbr(k, "ttbr0_el1") && !inline_close(k));
	};
	auto is_close = [&](size_t k) {
		if (!calls(k, "uaccess_ttbr0_disable") && !inline_close(k))
			return false;
		for (size_t j = k + 1; j < insns.size() && j < k + 6; ++j)  // the window check's recovery
			if (insns[j].reloc.find("xua_window_violation") != std::string::npos)
				return false;
		return true;
	};
	std::map<uint64_t, size_t> at;
	for (size_t k = 0; k < insns.size(); ++k)
		at[insns[k].addr] = k;
	// The instructions that follow k: its branch target and, unless it is an unconditional branch or a return,
	// the next one.
	auto next = [&](size_t k) {
		std::vector<size_t> out;
		const auto &t = insns[k].text;
		std::smatch m;
		if (std::regex_match(t, m, branch))
			if (auto it = at.find(std::stoull(m[2].str(), nullptr, 16)); it != at.end())
				out.push_back(it->second);
		bool ends = t.rfind("ret", 0) == 0 || t.rfind("brk", 0) == 0 || (t.rfind("b\t", 0) == 0) || t.rfind("br\t", 0) == 0;
		if (!ends && k + 1 < insns.size())
			out.push_back(k + 1);
		return out;
	};
	// Everything reachable from `from` (its successors on) without passing an instruction that `stop` holds.
	auto reach = [&](size_t from, auto stop) {
		std::vector<bool> seen(insns.size());
		std::vector<size_t> todo = next(from);
		std::vector<size_t> out;
		while (!todo.empty()) {
			size_t k = todo.back();
			todo.pop_back();
			if (seen[k])
				continue;
			seen[k] = true;
			out.push_back(k);
			if (stop(k))
				continue;
			for (size_t n : next(k))
				todo.push_back(n);
		}
		return out;
	};
	std::vector<std::string> why;
	std::set<size_t> flagged;
	for (size_t k = 0; k < insns.size(); ++k) {
		if (!is_open(k))
			continue;
		auto inside = reach(k, [&](size_t j) { return is_close(j) || is_open(j); });
		bool raw_copy = std::ranges::any_of(inside, [&](size_t j) {
			const auto &t = insns[j].text;
			return is_call(t) && t.find("uaccess_ttbr0_") == std::string::npos &&
			       t.find("arch_local_irq_") == std::string::npos;
		});
		if (raw_copy)
			continue;
		for (size_t j : inside) {
			const auto &t = insns[j].text;
			if (!std::regex_match(t, store) || std::regex_match(t, user) || std::regex_match(t, stack) || flagged.count(j))
				continue;
			auto after = reach(j, [&](size_t i) { return is_close(i) || is_open(i); });
			if (std::ranges::any_of(after, is_close)) {
				flagged.insert(j);
				why.push_back(fmt::format("{}: '{}' inside a software-PAN window (the user tables installed)", fn, t));
			}
		}
	}
	return why;
}

TEST(ModuleObject, SoftwarePanWindowHoldsOnlyTheUserAccess)
{
	// Positive control: the order the module had before (the kernel destination written while TTBR0 still
	// held the user tables), and the order it has now.
	// The old order, the window opened by the out-of-line helper: the store of the loaded value comes before
	// the (conditional) close.
	auto old_get = code({"bl\t30 <uaccess_ttbr0_enable>", "ldtrb\tw7, [x6]", "cbnz\tw19, 10c <f+0xc>",
			     "strb\tw7, [x12, x4]", "cbz\tw0, 114 <f+0x14>", "bl\ta0 <uaccess_ttbr0_disable.isra.0>",
			     "ret"});
	auto planted = sw_pan_window_problems("planted", old_get);
	ASSERT_EQ(planted.size(), 1u);
	EXPECT_NE(planted[0].find("strb\tw7, [x12, x4]"), std::string::npos);
	// The same with enable and disable inline (TTBR1 then TTBR0 opens, TTBR0 then TTBR1 closes), and a spill to
	// the stack, which is allowed.
	auto old_inline = code({"msr\tttbr1_el1, x2", "isb", "msr\tttbr0_el1, x1", "isb", "ldtr\tx2, [x0]",
				"str\tx4, [sp, #16]", "str\tx2, [x19]", "msr\tttbr0_el1, x3", "msr\tttbr1_el1, x5",
				"isb", "ret"});
	EXPECT_EQ(sw_pan_window_problems("planted", old_inline).size(), 1u);
	auto now_inline = code({"msr\tttbr1_el1, x2", "isb", "msr\tttbr0_el1, x1", "isb", "ldtr\tx2, [x0]",
				"msr\tttbr0_el1, x3", "msr\tttbr1_el1, x5", "isb", "str\tx2, [x19]", "ret"});
	EXPECT_TRUE(sw_pan_window_problems("now", now_inline).empty());
	// The order now, as GCC 12 compiles it: closed (if it was opened) before the store, which the path where
	// the window never opened reaches directly.
	auto now = code({"bl\t30 <uaccess_ttbr0_enable>", "ldtr\tx5, [x4]", "cbnz\tw0, 118 <f+0x18>",
			 "cbnz\tw19, 110 <f+0x10>", "str\tx5, [x27, x28]", "b\t120 <f+0x20>",
			 "bl\ta0 <uaccess_ttbr0_disable.isra.0>", "b\t10c <f+0xc>", "ret"});
	EXPECT_TRUE(sw_pan_window_problems("now", now).empty());

	const char *env = std::getenv("XUA_MODULE_ROOT");
	auto root = env && *env ? fs::path(env) : kBuild / "module";
	int windows = 0;
	if (fs::exists(root))
		for (auto &d : fs::directory_iterator(root)) {
			// build/module/arm64-<kernel>-sw-pan: the modules of software-PAN kernels (the only ones with the
			// window; disassembling every module here would take seconds).
			auto dir = d.path().filename().string();
			if (dir.rfind("arm64", 0) != 0 || dir.find("-sw") == std::string::npos || !fs::exists(d.path() / "obj"))
				continue;
			for (auto &e : fs::recursive_directory_iterator(d.path() / "obj")) {
				if (e.path().extension() != ".o" || e.path().filename() == "xuaccess.o" ||
				    e.path().filename().string().find(".mod") != std::string::npos)
					continue;
				for (auto &[name, insns] : disassemble("aarch64-linux-gnu-objdump", e.path())) {
					for (auto &i : insns)
						windows += i.text.rfind("msr", 0) == 0 && i.text.find("ttbr0_el1") != std::string::npos;
					auto why = sw_pan_window_problems(name, insns);
					EXPECT_TRUE(why.empty()) << e.path() << ":\n" << fmt::format("{}", fmt::join(why, "\n"));
				}
			}
		}
	std::printf("# %d TTBR0 writes in the arm64 module objects under %s\n", windows, root.string().c_str());
	if (!windows)
		GTEST_SKIP() << "no arm64 module built for a software-PAN kernel in " << root
			     << " (./xuaccess test --arch arm64 --kernel 6.1-src --protection sw builds one)";
}

// arm64: every user access the module's C code makes is through a pointer masked as the kernel masks it
// (__uaccess_mask_ptr(): on 6.1 and 6.12 a BIC of bit 55, which objdump shows as an AND with
// 0xff7fffffffffffff), so that a kernel address cannot reach the access under speculation past access_ok().
// An LDTR*/STTR* must take its base register from such a mask a few instructions before; a call of copy.S's
// routines (__xua_a64_*), which take the pointer as given, must come after a mask in the same function.
// copy.S itself is not judged: its callers mask.
std::vector<std::string> unmasked_user_accesses(const std::string &fn, const std::vector<Insn> &insns)
{
	static const std::regex user(R"(^(ldtr|sttr)[a-z]*\s+[wx]\d+, \[(x\d+)\]$)");
	static const std::regex mask(R"(^and\s+(x\d+), x\d+, #0xff7fffffffffffff$)");
	std::vector<std::string> why;
	bool masked_before = false;
	for (size_t k = 0; k < insns.size(); ++k) {
		const auto &t = insns[k].text;
		std::smatch m;
		if (std::regex_match(t, m, mask)) {
			masked_before = true;
			continue;
		}
		if (t.rfind("bl\t", 0) == 0 && t.find("<__xua_a64_") != std::string::npos && !masked_before)
			why.push_back(fmt::format("{}: '{}' with no masked pointer before it", fn, t));
		if (!std::regex_match(t, m, user))
			continue;
		const std::string base = m[2];
		bool ok = false;
		for (size_t j = k; j-- > 0 && k - j <= 12;) {
			std::smatch mm;
			if (std::regex_match(insns[j].text, mm, mask) && mm[1] == base) {
				ok = true;
				break;
			}
		}
		if (!ok)
			why.push_back(fmt::format("{}: '{}': {} is not masked in the 12 instructions before", fn, t, base));
	}
	return why;
}

TEST(ModuleObject, Arm64UserPointersAreMaskedAsTheKernelDoes)
{
	// Positive control: the module before ABI 3 (a61e0ef^): the raw accessor loaded from the pointer as given,
	// and the raw copy called copy.S with it.
	auto old_get = code({"add\tx4, x26, x22", "mov\tw19, w25", "ldtr\tx0, [x4]", "cbnz\tw19, 490 <f+0x90>"});
	EXPECT_EQ(unmasked_user_accesses("planted", old_get).size(), 1u);
	auto old_copy = code({"mov\tx0, x20", "bl\t0 <__xua_a64_from_user_pan_off>", "ret"});
	EXPECT_EQ(unmasked_user_accesses("planted", old_copy).size(), 1u);
	auto now_get = code({"add\tx4, x26, x22", "and\tx4, x4, #0xff7fffffffffffff", "mov\tw19, w25", "ldtr\tx0, [x4]"});
	EXPECT_TRUE(unmasked_user_accesses("now", now_get).empty());
	auto other_reg = code({"and\tx5, x4, #0xff7fffffffffffff", "ldtr\tx0, [x4]"});
	EXPECT_EQ(unmasked_user_accesses("planted", other_reg).size(), 1u) << "the mask must feed the access";

	const char *env = std::getenv("XUA_MODULE_ROOT");
	auto root = env && *env ? fs::path(env) : kBuild / "module";
	int accesses = 0, objects = 0;
	if (fs::exists(root))
		for (auto &d : fs::directory_iterator(root)) {
			// One module per kernel series is enough: the code is the same C (the arm64-<series> builds).
			auto dir = d.path().filename().string();
			if (dir != "arm64-6.1" && dir != "arm64-6.12" && dir != "arm64-6.12-debug")
				continue;
			for (auto &e : fs::recursive_directory_iterator(d.path() / "obj")) {
				auto f = e.path().filename().string();
				if (e.path().extension() != ".o" || f == "xuaccess.o" || f == "copy.o" ||
				    f.find(".mod") != std::string::npos)
					continue;
				++objects;
				for (auto &[name, insns] : disassemble("aarch64-linux-gnu-objdump", e.path())) {
					for (auto &i : insns)
						accesses += i.text.rfind("ldtr", 0) == 0 || i.text.rfind("sttr", 0) == 0 ||
							    i.text.find("<__xua_a64_") != std::string::npos;
					auto why = unmasked_user_accesses(name, insns);
					EXPECT_TRUE(why.empty()) << e.path() << ":\n" << fmt::format("{}", fmt::join(why, "\n"));
				}
			}
		}
	std::printf("# %d user accesses in %d arm64 module objects under %s\n", accesses, objects, root.string().c_str());
	if (!objects)
		GTEST_SKIP() << "no arm64 module built in " << root << " yet (./xuaccess test builds one)";
}

}  // namespace
