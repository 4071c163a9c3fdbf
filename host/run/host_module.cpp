#include "run/host_module.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace xua {

HostModule::HostModule(const fs::path &ko, const std::string &params)
{
	int fd = open(ko.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("cannot open {}: {}", ko.string(), std::strerror(errno));
	long r = syscall(SYS_finit_module, fd, params.c_str(), 0);
	int err = errno;
	close(fd);
	if (r != 0)
		fail("loading {} failed: {} (see dmesg)", ko.string(), std::strerror(err));
	for (int i = 0; i < 50 && !fs::exists("/dev/xuaccess"); ++i)  // devtmpfs/udev creates the node
		usleep(100000);
}

HostModule::~HostModule()
{
	if (syscall(SYS_delete_module, "xuaccess", O_NONBLOCK) != 0)
		fmt::print(stderr, "xuaccess: could not unload the module: {} (rmmod xuaccess)\n", std::strerror(errno));
}

}  // namespace xua
