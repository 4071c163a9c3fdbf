// The built module, read back: the window check's positive control opens, checks and closes the window
// in one sequence with no call in it (objtool's "call with UACCESS enabled", which objtool itself cannot
// see: the window is opened with popf / a bare MSR PAN). Every module object built so far in this build
// directory (build/module/<arch>-<kernel>/obj/) is checked, the debug kernels' (KASAN, UBSAN) too.
#include <gtest/gtest.h>

#include <regex>

#include "base/process.hpp"
#include "base/util.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

struct Insn {
	std::string text;  // mnemonic and operands
	std::string reloc; // relocation target on the instruction, if any
};

// objdump -dr of one function: its instructions, with the relocation each one carries.
std::map<std::string, std::vector<Insn>> disassemble(const std::string &objdump, const fs::path &obj)
{
	auto out = run_checked({objdump, "-dr", "--no-show-raw-insn", obj.string()});
	std::map<std::string, std::vector<Insn>> fns;
	static const std::regex fn_re(R"(^[0-9a-f]+ <([^>]+)>:$)");
	static const std::regex insn_re(R"(^\s+[0-9a-f]+:\s+(.*)$)");
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
			cur->push_back({trim(m[1].str()), {}});
		}
	}
	return fns;
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

// The accesses inside each inline software-PAN window of one function (arm64 CONFIG_ARM64_SW_TTBR0_PAN: the
// window is TTBR0 holding the user tables, from one `msr ttbr0_el1` to the next). A window with no call in it is
// one get/put: it may hold the user access (LDTR*/STTR*) and nothing else that touches memory but the stack
// (the compiler may spill there); the kernel side is read before it opens and written after it closes, as the
// kernel's own __get_user/__put_user do. A window with a call is a raw copy (the kernel does the same around
// __arch_copy_*_user) and is not judged here.
std::vector<std::string> sw_pan_window_problems(const std::string &fn, const std::vector<Insn> &insns)
{
	static const std::regex mem(R"(^(ld|st)[a-z0-9]*\s.*\[.*)");
	static const std::regex user(R"(^(ldtr|sttr)[bh]?\s.*)");
	static const std::regex stack(R"(.*\[sp[,\]].*)");
	std::vector<std::string> why;
	// The window opens and closes with a write of TTBR0, inline or in the kernel's uaccess_ttbr0_enable() /
	// uaccess_ttbr0_disable(), which GCC may leave out of line (then a call opens or closes it).
	auto is_ttbr0_write = [](const std::string &t) {
		return (t.rfind("msr", 0) == 0 && t.find("ttbr0_el1") != std::string::npos) ||
		       (t.rfind("bl", 0) == 0 && t.find("uaccess_ttbr0_") != std::string::npos);
	};
	for (size_t k = 0; k < insns.size(); ++k) {
		if (!is_ttbr0_write(insns[k].text))
			continue;
		size_t end = k + 1;
		while (end < insns.size() && !is_ttbr0_write(insns[end].text))
			++end;
		if (end == insns.size())
			break;
		bool call = false, access = false;
		std::vector<std::string> other;
		for (size_t j = k + 1; j < end; ++j) {
			const auto &t = insns[j].text;
			call |= is_call(t) && t.find("arch_local_irq_") == std::string::npos;
			if (std::regex_match(t, user))
				access = true;
			else if (std::regex_match(t, mem) && !std::regex_match(t, stack))
				other.push_back(t);
		}
		if (access && !call)
			for (auto &t : other)
				why.push_back(fmt::format("{}: '{}' inside a software-PAN window (the user tables installed)", fn, t));
		k = end;  // the closing write; the next window opens at a later one
	}
	return why;
}

TEST(ModuleObject, SoftwarePanWindowHoldsOnlyTheUserAccess)
{
	// Positive control: the order the module had before (the kernel destination written while TTBR0 still
	// held the user tables), and the order it has now.
	std::vector<Insn> old_get = {{"msr\tttbr0_el1, x1"}, {"isb"}, {"ldtr\tx2, [x0]"}, {"str\tx2, [x19]"},
				     {"msr\tttbr0_el1, x3"}, {"isb"}};
	auto planted = sw_pan_window_problems("planted", old_get);
	ASSERT_EQ(planted.size(), 1u);
	EXPECT_NE(planted[0].find("str\tx2, [x19]"), std::string::npos);
	std::vector<Insn> new_get = {{"msr\tttbr0_el1, x1"}, {"isb"}, {"ldtr\tx2, [x0]"}, {"str\tx4, [sp, #16]"},
				     {"msr\tttbr0_el1, x3"}, {"isb"}, {"str\tx2, [x19]"}};
	EXPECT_TRUE(sw_pan_window_problems("fixed", new_get).empty());
	std::vector<Insn> old_out_of_line = {{"bl\t30 <uaccess_ttbr0_enable>"}, {"ldtrb\tw7, [x6]"},
					     {"strb\tw7, [x12, x4]"}, {"bl\ta0 <uaccess_ttbr0_disable.isra.0>"}};
	EXPECT_EQ(sw_pan_window_problems("planted", old_out_of_line).size(), 1u) << "the window opened by a call";

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

}  // namespace
