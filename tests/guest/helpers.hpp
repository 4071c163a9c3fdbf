// Shared helpers of the in-guest tests.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device.hpp"

namespace xua::test {

inline size_t page_size()
{
	return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// The thorough tier (`./xuaccess test --thorough`, which CI runs): the long runs at full length (1e5
// fuzz calls, 8 s of stress, 100 load cycles). The default tier runs every test and every path once, at
// lengths that keep the whole default run near a minute (docs/testing.md#tiers).
inline bool thorough()
{
	const char *t = std::getenv("XUA_THOROUGH");
	return t && std::string(t) == "1";
}

// `quick` in the default tier, `full` in the thorough one.
template <typename T> T tiered(T quick, T full)
{
	return thorough() ? full : quick;
}

// Whether the running kernel has any of these symbols (/proc/kallsyms; root reads the names).
inline bool kernel_has_symbol(std::initializer_list<const char *> names)
{
	std::ifstream in("/proc/kallsyms");
	std::string line;
	while (std::getline(in, line)) {
		auto sp = line.rfind(' ');
		if (sp == std::string::npos)
			continue;
		auto sym = line.substr(sp + 1);
		if (auto tab = sym.find('\t'); tab != std::string::npos)
			sym.resize(tab);  // a module symbol: "name\t[module]"
		for (auto *n : names)
			if (sym == n)
				return true;
	}
	return false;
}

inline std::string protection()
{
	const char *p = std::getenv("XUA_PROTECTION");
	return p ? p : "";
}

// Deterministic bytes that differ at every offset and between seeds.
inline void fill(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; ++i) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = static_cast<uint8_t>(x);
	}
}

inline std::vector<uint8_t> pattern(size_t n, uint32_t seed)
{
	std::vector<uint8_t> v(n);
	fill(v.data(), n, seed);
	return v;
}

// `pages` read-write pages followed by one PROT_NONE page: a buffer ending at end() runs into the guard.
class GuardedBuffer {
public:
	explicit GuardedBuffer(size_t pages)
	    : map_((pages + 1) * page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
	{
		if (!map_.ok() || mprotect(end(), page_size(), PROT_NONE) != 0)
			throw std::runtime_error("GuardedBuffer: mmap/mprotect failed");
	}
	uint8_t *begin() const { return map_.data(); }
	uint8_t *end() const { return map_.data() + map_.size() - page_size(); }

private:
	Mapping map_;
};

// A user-memory method of TRANSFER: a kernel method, or the module's raw copy in one arch mode.
struct Method {
	uint32_t method, mode;
	std::string name;
	bool word_granular;  // reports faults per 8-byte word, not per byte
};

// The method's name as the module's INFO gives it ("get_put", "copy", ...).
inline std::string method_name(const xua_info &info, uint32_t m)
{
	return m < info.nr_methods ? info.method_desc[m].name : "?";
}

// Every method that touches user memory, with every raw mode the module lists: from INFO, the one table.
inline std::vector<Method> user_methods(const xua_info &info)
{
	std::vector<Method> v;
	for (uint32_t m = 0; m < info.nr_methods; ++m) {
		const auto &d = info.method_desc[m];
		if (d.flags & XUA_METHOD_F_NO_USER)
			continue;
		bool word = d.flags & XUA_METHOD_F_WORD;
		if (d.flags & XUA_METHOD_F_MODES) {
			for (uint32_t mode = 0; mode < info.nr_modes; ++mode)
				v.push_back({m, mode, std::string(d.name) + "/" + info.modes[mode].name, word});
		} else {
			v.push_back({m, 0, d.name, word});
		}
	}
	return v;
}

inline const char *dir_name(uint32_t dir)
{
	return dir == XUA_DIR_TO_USER ? "to-user" : "from-user";
}

// Runs fn in a child that dropped root (uid/gid 65534, no capabilities); returns its exit status (99: could not
// drop root; 128 + signal when it was killed).
template <typename Fn>
int as_nobody(Fn fn)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(99);
		_exit(fn());
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// SIGUSR1 deliveries, counted by count_usr1 (installed without SA_RESTART, so that a blocked call returns).
inline std::atomic<int> g_usr1{0};
inline void count_usr1(int)
{
	g_usr1++;
}

}  // namespace xua::test
