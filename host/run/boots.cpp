#include "run/boots.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <sched.h>

#include "base/process.hpp"

namespace xua {

std::vector<Slot> schedule(const std::vector<Cell> &cells, int boots, uint64_t seed)
{
	// splitmix64: a generator whose sequence is fixed by the seed on every platform and library.
	uint64_t state = seed;
	auto next = [&state] {
		uint64_t z = (state += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		return z ^ (z >> 31);
	};
	std::vector<std::vector<size_t>> groups;  // cells of one arch x kernel, in the cells' order
	std::map<std::string, size_t> group_of;
	for (size_t i = 0; i < cells.size(); ++i) {
		auto key = cells[i].arch->name + "-" + cells[i].kernel;
		auto [it, fresh] = group_of.emplace(key, groups.size());
		if (fresh)
			groups.emplace_back();
		groups[it->second].push_back(i);
	}
	std::vector<Slot> order;
	for (auto &g : groups)
		for (int k = 0; k < boots; ++k) {
			auto round = g;
			for (size_t i = round.size(); i > 1; --i)  // Fisher-Yates
				std::swap(round[i - 1], round[next() % i]);
			for (size_t c : round)
				order.push_back({c, k});
		}
	return order;
}

void run_slots(size_t n, unsigned jobs, const std::function<void(size_t)> &run_slot, const std::vector<int> &pin_to)
{
	if (jobs > 1 && !pin_to.empty() && pin_to.size() < jobs)
		fail("internal: {} jobs pinned to {} CPU(s)", jobs, pin_to.size());
	if (jobs <= 1) {
		for (size_t i = 0; i < n; ++i)
			run_slot(i);
		return;
	}
	// A slot that throws (an interruption, a failed build) stops the others from taking more; the first
	// exception is rethrown here once every worker has ended, as it would be in order.
	std::atomic<size_t> next{0};
	std::atomic<bool> failed{false};
	std::mutex mu;
	std::exception_ptr first;
	{
		std::vector<std::jthread> workers;
		for (unsigned w = 0; w < jobs; ++w)
			workers.emplace_back([&, w] {
				if (!pin_to.empty()) {
					cpu_set_t set;
					CPU_ZERO(&set);
					CPU_SET(pin_to[w], &set);
					if (sched_setaffinity(0, sizeof set, &set) != 0) {  // this thread only
						std::lock_guard lock(mu);
						if (!first)
							first = std::make_exception_ptr(Error(fmt::format(
								"sched_setaffinity to CPU {}: {}", pin_to[w], std::strerror(errno))));
						failed = true;
						return;
					}
				}
				for (size_t i; !failed && !stop_signal() && (i = next++) < n;) {
					try {
						run_slot(i);
					} catch (...) {
						std::lock_guard lock(mu);
						if (!first)
							first = std::current_exception();
						failed = true;
					}
				}
			});
	}
	if (first)
		std::rethrow_exception(first);
	throw_if_interrupted();
}

fs::path boot_file(const fs::path &out, const Cell &c, int k)
{
	return out / "boots" / c.name() / fmt::format("boot-{}.json", k);
}

nlohmann::json saved_boot(const fs::path &file)
{
	if (!fs::exists(file))
		return nullptr;
	try {
		return nlohmann::json::parse(read_file(file));
	} catch (const nlohmann::json::exception &e) {
		fmt::print(stderr, "\nxuaccess: warning: {} does not parse ({}): that boot runs again\n", file.string(), e.what());
		return nullptr;
	}
}

}  // namespace xua
