// Kernel services the guest programs use: the kernel log and module loading (no busybox needed).
#pragma once

#include <cerrno>
#include <string>

#include <fcntl.h>
#include <sys/klog.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace xua {

// The whole kernel log buffer, as `dmesg` prints it raw ("<level>[time] text" lines).
inline std::string kernel_log()
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, nullptr, 0);
	if (len <= 0)
		return {};
	std::string buf(static_cast<size_t>(len), '\0');
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf.data(), len);
	buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
	return buf;
}

// finit_module(path, params): 0 or -errno.
inline int load_module(const char *path, const char *params)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int err = syscall(SYS_finit_module, fd, params, 0) == 0 ? 0 : -errno;
	close(fd);
	return err;
}

// delete_module(name, O_NONBLOCK): 0 or -errno.
inline int unload_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) == 0 ? 0 : -errno;
}

}  // namespace xua
