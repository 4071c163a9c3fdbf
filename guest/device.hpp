// C++ access to /dev/xuaccess for the in-guest programs (tests, benchmarks, init) and for users' own code.
// Header-only: RAII for the device and for mappings, one typed call per ioctl.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <xuaccess/uapi.h>

namespace xua {

// An owned file descriptor.
class Fd {
public:
	Fd() = default;
	explicit Fd(int fd) : fd_(fd) {}
	Fd(Fd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
	Fd &operator=(Fd &&o) noexcept
	{
		reset(std::exchange(o.fd_, -1));
		return *this;
	}
	~Fd() { reset(); }
	int get() const { return fd_; }
	explicit operator bool() const { return fd_ >= 0; }
	void reset(int fd = -1)
	{
		if (fd_ >= 0)
			::close(fd_);
		fd_ = fd;
	}

private:
	int fd_ = -1;
};

// An owned mmap'ed range; `ok()` is false (and `error()` the errno) when mmap failed.
class Mapping {
public:
	Mapping() = default;
	Mapping(size_t len, int prot, int flags, int fd = -1, off_t off = 0) : len_(len)
	{
		void *p = ::mmap(nullptr, len, prot, flags, fd, off);
		if (p == MAP_FAILED) {
			err_ = errno;
			len_ = 0;
		} else {
			p_ = static_cast<uint8_t *>(p);
		}
	}
	Mapping(Mapping &&o) noexcept
	    : p_(std::exchange(o.p_, nullptr)), len_(std::exchange(o.len_, 0)), err_(o.err_)
	{
	}
	Mapping &operator=(Mapping &&o) noexcept
	{
		std::swap(p_, o.p_);
		std::swap(len_, o.len_);
		err_ = o.err_;
		return *this;
	}
	~Mapping()
	{
		if (p_)
			::munmap(p_, len_);
	}
	bool ok() const { return p_ != nullptr; }
	int error() const { return err_; }
	uint8_t *data() const { return p_; }
	size_t size() const { return len_; }

private:
	uint8_t *p_ = nullptr;
	size_t len_ = 0;
	int err_ = 0;
};

// Fills the { size, version } header every argument struct starts with.
template <typename T>
T make_arg()
{
	T t{};
	t.size = sizeof(T);
	t.version = XUA_ABI_VERSION;
	return t;
}

inline uint64_t addr(const void *p)
{
	return reinterpret_cast<uintptr_t>(p);
}

class Device {
public:
	explicit Device(const char *path = XUA_DEVICE, int flags = O_RDWR | O_CLOEXEC)
	    : fd_(::open(path, flags))
	{
		if (!fd_)
			throw std::system_error(errno, std::generic_category(), std::string("open ") + path);
	}
	int fd() const { return fd_.get(); }

	// ioctl returning 0 or -errno (never throws: tests look at the errno).
	template <typename T>
	int ioctl(unsigned long cmd, T *arg) const
	{
		return ::ioctl(fd_.get(), cmd, arg) == 0 ? 0 : -errno;
	}
	int null() const { return ::ioctl(fd_.get(), XUA_IOC_NULL) == 0 ? 0 : -errno; }

	xua_info info() const
	{
		auto i = make_arg<xua_info>();
		if (int r = ioctl(XUA_IOC_INFO, &i); r != 0)
			throw std::system_error(-r, std::generic_category(), "XUA_IOC_INFO");
		return i;
	}

	// One TRANSFER; the struct carries the results, the return value is 0 or -errno.
	int transfer(xua_transfer &t) const { return ioctl(XUA_IOC_TRANSFER, &t); }
	xua_transfer transfer(uint32_t method, uint32_t dir, void *buf, uint64_t len, uint64_t iterations = 1,
			      uint32_t mode = 0, int *err = nullptr) const
	{
		auto t = make_arg<xua_transfer>();
		t.method = method;
		t.dir = dir;
		t.mode = mode;
		t.user_addr = addr(buf);
		t.len = len;
		t.iterations = iterations;
		int r = transfer(t);
		if (err)
			*err = r;
		return t;
	}
	// Sets the module's kernel buffer from user memory with the kernel's copy_from_user.
	int load_kernel_buffer(const void *src, uint64_t len) const
	{
		int err = 0;
		transfer(XUA_METHOD_COPY, XUA_DIR_FROM_USER, const_cast<void *>(src), len, 1, 0, &err);
		return err;
	}
	// Reads the module's kernel buffer back with the kernel's copy_to_user.
	int read_kernel_buffer(void *dst, uint64_t len) const
	{
		int err = 0;
		transfer(XUA_METHOD_COPY, XUA_DIR_TO_USER, dst, len, 1, 0, &err);
		return err;
	}

	int mmap_op(bool produce, xua_mmap_op &op) const
	{
		return ioctl(produce ? XUA_IOC_PRODUCE : XUA_IOC_CONSUME, &op);
	}
	xua_mmap_op mmap_op(bool produce, uint64_t offset, uint64_t len, uint64_t iterations = 1,
			    int *err = nullptr) const
	{
		auto op = make_arg<xua_mmap_op>();
		op.offset = offset;
		op.len = len;
		op.iterations = iterations;
		int r = mmap_op(produce, op);
		if (err)
			*err = r;
		return op;
	}

	xua_toggle toggle(uint64_t iterations, int *err = nullptr) const
	{
		auto t = make_arg<xua_toggle>();
		t.iterations = iterations;
		int r = ioctl(XUA_IOC_TOGGLE, &t);
		if (err)
			*err = r;
		return t;
	}

	// SELFTEST: returns the KTAP report; counts in `st`.
	std::string selftest(xua_selftest &st, int *err = nullptr) const
	{
		std::vector<char> buf(64 * 1024);
		st = make_arg<xua_selftest>();
		st.report_addr = addr(buf.data());
		st.report_len = buf.size();
		int r = ioctl(XUA_IOC_SELFTEST, &st);
		if (err)
			*err = r;
		return r == 0 ? std::string(buf.data()) : std::string();
	}

	Mapping map(size_t len, off_t off = 0, int prot = PROT_READ | PROT_WRITE, int flags = MAP_SHARED) const
	{
		return Mapping(len, prot, flags, fd_.get(), off);
	}

private:
	Fd fd_;
};

inline const char *kbuf_kind_name(uint32_t k)
{
	return k == XUA_KBUF_LINEAR ? "linear" : k == XUA_KBUF_VMALLOC ? "vmalloc" : "?";
}

inline nlohmann::json to_json(const xua_info &i)
{
	nlohmann::json regs = nlohmann::json::array(), modes = nlohmann::json::array(),
		       methods = nlohmann::json::array();
	for (auto r : i.arch_regs)
		regs.push_back(r);
	for (uint32_t m = 0; m < i.nr_modes && m < XUA_MAX_MODES; ++m)
		modes.push_back({{"name", i.modes[m].name},
				 {"toggles_guard", (i.modes[m].flags & XUA_MODE_TOGGLES_GUARD) != 0}});
	for (uint32_t m = 0; m < i.nr_methods && m < XUA_MAX_METHODS; ++m)
		methods.push_back({{"name", i.method_desc[m].name},
				   {"word", (i.method_desc[m].flags & XUA_METHOD_F_WORD) != 0},
				   {"modes", (i.method_desc[m].flags & XUA_METHOD_F_MODES) != 0},
				   {"kernel", (i.method_desc[m].flags & XUA_METHOD_F_KERNEL) != 0},
				   {"user_memory", (i.method_desc[m].flags & XUA_METHOD_F_NO_USER) == 0}});
	return {
		{"abi_version", i.abi_version},
		{"module_version", i.module_version},
		{"kernel_release", i.kernel_release},
		{"arch", i.arch_name},
		{"guard", i.guard_name},
		{"guard_present", (i.prot_flags & XUA_PROT_PRESENT) != 0},
		{"guard_enabled", (i.prot_flags & XUA_PROT_ENABLED) != 0},
		{"guard_kernel_uses", (i.prot_flags & XUA_PROT_KERNEL_USES) != 0},
		{"guard_software", (i.prot_flags & XUA_PROT_SOFTWARE) != 0},
		{"window_open", (i.prot_flags & XUA_PROT_WINDOW_OPEN) != 0},
		{"arch_regs", regs},
		{"modes", modes},
		{"methods", methods},
		{"kbuf", kbuf_kind_name(i.kbuf_kind)},
		{"tick_hz", i.tick_hz},
		{"check_ns", i.check_ns},
		{"violations", i.violations},
		{"controls_seen", i.controls_seen},
		{"window_check_ps", i.window_check_ps},
		{"regs_hidden", (i.flags & XUA_INFO_REGS_HIDDEN) != 0},
		{"unsafe_deref_allowed", (i.flags & XUA_INFO_UNSAFE_ALLOWED) != 0},
	};
}

}  // namespace xua
