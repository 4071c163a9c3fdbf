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

}  // namespace
