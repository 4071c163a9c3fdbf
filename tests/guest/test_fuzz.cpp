// A seeded, reproducible fuzzer of the device: random commands, struct contents and user pointers (NULL,
// kernel, unmapped, PROT_NONE, read-only, page-straddling, huge lengths, pointer + length overflow),
// interleaved with mmap/munmap/mremap/fork/close. Every call must return success or a documented errno;
// the cell's host checks then find no oops, BUG or WARN in the kernel log, and this test checks the taint.
//
// --fuzz-seed=N (env XUA_FUZZ_SEED) replays a run; --fuzz-calls / --fuzz-seconds bound it (default 10000
// calls, 20 s; --thorough 100000 calls, 60 s; at least 1000 calls however long they take).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "helpers.hpp"

using namespace xua;
using namespace xua::test;

namespace {

uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = std::getenv(name);
	return v && *v ? std::strtoull(v, nullptr, 0) : dflt;
}

uint64_t taint()
{
	std::ifstream in("/proc/sys/kernel/tainted");
	uint64_t t = 0;
	in >> t;
	return t;
}

class Fuzzer {
public:
	explicit Fuzzer(uint64_t seed) : rng_(seed), ro_(page_size(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS), guard_(1)
	{
		Mapping gone(page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
		unmapped_ = gone.data();
		big_.resize((4 << 20) + 2 * page_size());  // room for max_len from any start the fuzzer picks
		reopen();
	}

	// One random action; returns false when a call returned an errno the ABI does not document.
	bool step()
	{
		switch (pick(20)) {
		case 0:
			map_or_unmap();
			return true;
		case 1:
			if (pick(50) == 0)
				return fork_some();
			reopen_sometimes();
			return true;
		default:
			return ioctl_random();
		}
	}

	uint64_t calls() const { return calls_; }
	const std::map<int, uint64_t> &errnos() const { return errnos_; }
	std::string last_bad;

private:
	uint64_t pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
	uint64_t any() { return rng_(); }

	void reopen()
	{
		maps_.clear();  // a mapping keeps its file (and the file's 4-12 MiB of kernel buffers) alive
		dev_.reset();
		dev_ = std::make_unique<Device>();
	}
	void reopen_sometimes()
	{
		if (pick(4) == 0)
			reopen();
	}

	void map_or_unmap()
	{
		const size_t ps = page_size();
		switch (pick(4)) {
		case 0:
			maps_.clear();
			break;
		case 1: {
			size_t len = (1 + pick(8)) * ps * (pick(8) == 0 ? 1024 : 1);  // sometimes beyond the bound
			off_t off = pick(4) == 0 ? static_cast<off_t>(pick(64) * ps) : 0;
			auto m = dev_->map(len, off);
			++calls_;
			if (m.ok())
				maps_.push_back(std::move(m));
			else
				count(-m.error());
			break;
		}
		case 2:
			if (!maps_.empty()) {
				auto &m = maps_.back();
				void *r = mremap(m.data(), m.size(), m.size() * 2, MREMAP_MAYMOVE);
				++calls_;
				if (r != MAP_FAILED)
					munmap(r, m.size() * 2);  // should not happen: VM_DONTEXPAND
				count(r == MAP_FAILED ? -errno : 0);
			}
			break;
		default:
			if (!maps_.empty())
				maps_.erase(maps_.begin() + static_cast<long>(pick(maps_.size())));
		}
	}

	bool fork_some()
	{
		pid_t pid = fork();
		if (pid == 0) {
			bool ok = true;
			for (int i = 0; i < 20; ++i)
				ok &= ioctl_random();
			_exit(ok ? 0 : 1);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		++calls_;
		return WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}

	// A user pointer, good or bad in one of the ways the issue lists.
	uint64_t pointer(uint64_t len)
	{
		const size_t ps = page_size();
		switch (pick(12)) {
		case 0: return 0;
		case 1: return ~uint64_t(0) - pick(2 * ps);                 // kernel space / top of memory
		case 2: return addr(unmapped_) + pick(ps);
		case 3: return addr(guard_.end()) + pick(ps);               // PROT_NONE
		case 4: return addr(guard_.end()) - pick(std::min<uint64_t>(len + 1, ps));  // straddles into it
		case 5: return addr(ro_.data()) + pick(ps);                 // read-only
		case 6: return uint64_t(1) << (47 + pick(16));              // non-canonical / above TASK_SIZE
		case 7:  // the device's own shared buffer, never past its end (that would be our own memory)
			if (!maps_.empty() && len + 64 <= maps_.front().size())
				return addr(maps_.front().data()) + pick(64);
			return addr(big_.data());
		default: return addr(big_.data()) + pick(64);
		}
	}

	uint64_t length()
	{
		switch (pick(10)) {
		case 0: return 0;
		case 1: return any();
		case 2: return (4u << 20) + pick(2);
		case 3: return pick(4u << 20) + 1;
		default: return 1 + pick(8192);
		}
	}

	uint64_t iterations() { return pick(10) == 0 ? (pick(2) ? 0 : any()) : 1 + pick(3); }

	template <typename T>
	void mess_header(T &t)
	{
		if (pick(16) == 0)
			t.size = static_cast<uint32_t>(pick(2) ? any() : t.size + 8 * (pick(3) - 1));
		if (pick(16) == 0)
			t.version = static_cast<uint32_t>(any());
	}

	template <typename T>
	int call(unsigned long cmd, T &arg)
	{
		void *p = &arg;
		if (pick(20) == 0)
			p = reinterpret_cast<void *>(pointer(sizeof(T)));  // the argument struct itself is bad
		return dev_->ioctl(cmd, static_cast<T *>(p));
	}

	void count(int r) { errnos_[r]++; }

	bool ioctl_random()
	{
		int r = 0;
		switch (pick(9)) {
		case 0: {
			auto t = make_arg<xua_info>();
			mess_header(t);
			r = call(XUA_IOC_INFO, t);
			break;
		}
		case 1:
		case 2:
		case 3: {
			auto t = make_arg<xua_transfer>();
			t.method = pick(10) == 0 ? static_cast<uint32_t>(any()) : static_cast<uint32_t>(pick(XUA_NR_METHODS));
			t.dir = pick(10) == 0 ? static_cast<uint32_t>(any()) : static_cast<uint32_t>(pick(2));
			t.mode = t.method == XUA_METHOD_RAW || pick(10) == 0 ? static_cast<uint32_t>(pick(5)) : 0;
			t.flags = pick(20) == 0 ? static_cast<uint32_t>(any()) : 0;
			t.len = length();
			t.user_addr = pointer(t.len);
			t.iterations = iterations();
			mess_header(t);
			r = call(XUA_IOC_TRANSFER, t);
			break;
		}
		case 4: {
			auto t = make_arg<xua_mmap_op>();
			t.offset = pick(4) == 0 ? any() : pick(8192);
			t.len = length();
			t.iterations = iterations();
			t.flags = pick(20) == 0 ? 1 : 0;
			mess_header(t);
			r = call(pick(2) ? XUA_IOC_PRODUCE : XUA_IOC_CONSUME, t);
			break;
		}
		case 5: {
			auto t = make_arg<xua_toggle>();
			t.iterations = pick(10) == 0 ? any() : pick(1000);
			mess_header(t);
			r = call(XUA_IOC_TOGGLE, t);
			break;
		}
		case 6: {
			auto t = make_arg<xua_unsafe>();
			t.dir = static_cast<uint32_t>(pick(3));
			t.user_addr = pointer(8);
			mess_header(t);
			r = call(XUA_IOC_UNSAFE_DEREF, t);
			break;
		}
		case 7: {
			if (pick(200) != 0) {
				r = dev_->null();
				break;
			}
			auto t = make_arg<xua_selftest>();
			t.report_len = pick(3) ? 1 + pick(70000) : 0;
			t.report_addr = pointer(t.report_len);
			mess_header(t);
			r = call(XUA_IOC_SELFTEST, t);
			break;
		}
		default: {
			// Any command number: other types, other sizes, other directions.
			uint64_t junk[8] = {any(), any(), any(), any(), any(), any(), any(), any()};
			unsigned long cmd = pick(2) ? _IOC(pick(4), XUA_IOC_MAGIC, pick(32), pick(1 << 14))
						    : static_cast<unsigned long>(any() & 0xffffffff);
			r = ::ioctl(dev_->fd(), cmd, pick(4) ? static_cast<void *>(junk) : reinterpret_cast<void *>(pointer(64)));
			r = r == 0 ? 0 : -errno;
			break;
		}
		}
		++calls_;
		count(r);
		static const std::set<int> documented = {0,       -EINVAL, -EFAULT, -ENOTTY, -ENXIO, -EPERM,
							 -ENOMEM, -EINTR,  -EBUSY,  -EPROTO};
		if (!documented.count(r)) {
			last_bad = "errno " + std::to_string(-r) + " (" + std::strerror(-r) + ")";
			return false;
		}
		return true;
	}

	std::mt19937_64 rng_;
	Mapping ro_;
	GuardedBuffer guard_;
	void *unmapped_ = nullptr;
	std::vector<uint8_t> big_;
	std::unique_ptr<Device> dev_;
	std::vector<Mapping> maps_;
	uint64_t calls_ = 0;
	std::map<int, uint64_t> errnos_;
};

TEST(Fuzz, RandomCommandsNeverHurtTheKernel)
{
	const uint64_t seed = env_u64("XUA_FUZZ_SEED", static_cast<uint64_t>(std::random_device{}()));
	const uint64_t max_calls = env_u64("XUA_FUZZ_CALLS", tiered(10000, 100000));
	const auto budget = std::chrono::seconds(env_u64("XUA_FUZZ_SECONDS", tiered(20, 60)));
	std::printf("# fuzz seed %llu (replay: xuaccess-host cell ... --guest-args=--gtest_filter=Fuzz.*,--fuzz-seed=%llu)\n", static_cast<unsigned long long>(seed),
		    static_cast<unsigned long long>(seed));
	std::fflush(stdout);
	const uint64_t taint_before = taint();
	Fuzzer f(seed);
	auto t0 = std::chrono::steady_clock::now();
	int bad = 0;
	// At least min_calls whatever the clock says (a slow cell, e.g. software PAN on a busy host, made 825
	// calls in 60 s once), then until max_calls or the time budget.
	const uint64_t min_calls = std::min<uint64_t>(max_calls, 1000);
	while (f.calls() < min_calls || (f.calls() < max_calls && std::chrono::steady_clock::now() - t0 < budget)) {
		if (!f.step() && bad++ < 5)
			ADD_FAILURE() << "undocumented result after " << f.calls() << " calls: " << f.last_bad;
	}
	double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	std::string hist;
	for (auto &[e, n] : f.errnos()) {
		// Appended piece by piece: GCC 12 warns (-Wrestrict, a known false positive) on the one-liner.
		const char *name = e ? strerrorname_np(-e) : "ok";
		hist.append(" ").append(name ? name : "?").append("=").append(std::to_string(n));
	}
	std::printf("# fuzz: %llu calls in %.1f s, seed %llu:%s\n", static_cast<unsigned long long>(f.calls()), secs,
		    static_cast<unsigned long long>(seed), hist.c_str());
	EXPECT_EQ(bad, 0);
	EXPECT_GE(f.calls(), min_calls) << "the fuzzer barely ran";
	// Out-of-tree (O, 4096) and unsigned (E, 8192) are expected; anything new (D, W, ...) is not.
	EXPECT_EQ(taint() & ~uint64_t(4096 | 8192), taint_before & ~uint64_t(4096 | 8192))
		<< "taint changed from " << taint_before << " to " << taint();
	Device d;
	EXPECT_EQ(d.info().violations, 0u) << "an ioctl returned with the user-access window open";
}

// Several processes x several threads, each its own fuzzer (own fds, mappings, forks, closes), for a bounded
// time: no call may return an undocumented errno, and the kernel must stay clean (host checks) and untainted.
TEST(Stress, ProcessesAndThreadsMixEveryCommand)
{
	const uint64_t seed = env_u64("XUA_FUZZ_SEED", static_cast<uint64_t>(std::random_device{}()));
	const auto budget = std::chrono::seconds(env_u64("XUA_STRESS_SECONDS", tiered(2, 8)));
	// 9 fuzzers: each may hold up to ~16 MiB of user and kernel buffers in a 256 MiB guest.
	constexpr int kProcs = 3, kThreads = 3;
	const uint64_t taint_before = taint();
	std::printf("# stress seed %llu: %d processes x %d threads for %lld s\n", static_cast<unsigned long long>(seed),
		    kProcs, kThreads, static_cast<long long>(budget.count()));
	std::fflush(stdout);
	std::vector<pid_t> pids;
	for (int p = 0; p < kProcs; ++p) {
		pid_t pid = fork();
		if (pid == 0) {
			std::atomic<uint64_t> calls{0};
			std::atomic<int> bad{0};
			std::vector<std::thread> ts;
			for (int t = 0; t < kThreads; ++t)
				ts.emplace_back([&, t] {
					Fuzzer f(seed + static_cast<uint64_t>(p * kThreads + t));
					auto t0 = std::chrono::steady_clock::now();
					while (std::chrono::steady_clock::now() - t0 < budget)
						if (!f.step())
							bad++;
					calls += f.calls();
				});
			for (auto &t : ts)
				t.join();
			std::printf("# stress process %d: %llu calls, %d undocumented\n", p,
				    static_cast<unsigned long long>(calls.load()), bad.load());
			std::fflush(stdout);
			_exit(bad.load() == 0 ? 0 : 1);
		}
		pids.push_back(pid);
	}
	for (pid_t pid : pids) {
		int st = 0;
		ASSERT_EQ(waitpid(pid, &st, 0), pid);
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "stress process status " << st;
	}
	EXPECT_EQ(taint() & ~uint64_t(4096 | 8192), taint_before & ~uint64_t(4096 | 8192));
	EXPECT_EQ(Device().info().violations, 0u);
}

}  // namespace
