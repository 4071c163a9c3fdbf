// The boots of a multi-boot run (bench): the order they run in, where each is saved as it finishes, and running
// them one at a time or side by side.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/util.hpp"
#include "provision/matrix.hpp"

namespace xua {

// The order boots run in. For each arch x kernel, the boots of its cells (on and off) alternate round by
// round, the order inside each round drawn from `seed`: a drift of the host over the run falls on both
// sides alike instead of lining up with the guard. The same seed gives the same order (--seed, --resume).
struct Slot {
	size_t cell;  // index into the cells
	int boot;     // 0 .. boots-1
};
std::vector<Slot> schedule(const std::vector<Cell> &cells, int boots, uint64_t seed);

// Runs run_slot(0 .. n-1): in order with jobs <= 1, else on `jobs` threads, each taking the next slot in order
// until all are taken or the front end is told to stop (every QEMU of a run_cell watches the stop signal).
// With `pin_to` (one CPU per thread), thread w runs on CPU pin_to[w] alone, and so does every process it starts
// (a child inherits the affinity of the thread that forks it): one boot per core.
void run_slots(size_t n, unsigned jobs, const std::function<void(size_t)> &run_slot,
	       const std::vector<int> &pin_to = {});

// Where boot k of a cell is saved as soon as it finishes (DIR/boots/<cell>/boot-<k>.json).
fs::path boot_file(const fs::path &out, const Cell &c, int k);
// A boot saved by an earlier (interrupted) run, or null when there is none or it is unreadable (said).
nlohmann::json saved_boot(const fs::path &file);

}  // namespace xua
