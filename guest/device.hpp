// C++ access to /dev/xuaccess for the in-guest programs (tests, benchmarks, init) and for users' own code.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/ioctl.h>
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

// Fills the { size, version } header every argument struct starts with.
template <typename T>
T make_arg()
{
	T t{};
	t.size = sizeof(T);
	t.version = XUA_ABI_VERSION;
	return t;
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

	xua_info info() const
	{
		auto i = make_arg<xua_info>();
		if (int r = ioctl(XUA_IOC_INFO, &i); r != 0)
			throw std::system_error(-r, std::generic_category(), "XUA_IOC_INFO");
		return i;
	}

private:
	Fd fd_;
};

inline nlohmann::json to_json(const xua_info &i)
{
	nlohmann::json regs = nlohmann::json::array();
	for (auto r : i.arch_regs)
		regs.push_back(r);
	return {
		{"abi_version", i.abi_version},
		{"module_version", i.module_version},
		{"kernel_release", i.kernel_release},
		{"arch", i.arch_name},
		{"guard", i.guard_name},
		{"guard_present", (i.prot_flags & XUA_PROT_PRESENT) != 0},
		{"guard_enabled", (i.prot_flags & XUA_PROT_ENABLED) != 0},
		{"window_open", (i.prot_flags & XUA_PROT_WINDOW_OPEN) != 0},
		{"arch_regs", regs},
	};
}

}  // namespace xua
