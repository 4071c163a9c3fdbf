// The module loaded into the kernel the front end runs on (bench --host, never the tests): loaded from a
// built .ko with its parameters, unloaded when this object goes, however the run ends.
#pragma once

#include <string>

#include "base/util.hpp"

namespace xua {

class HostModule {
public:
	// Loads `ko` (finit_module) with `params` and waits up to 5 s for /dev/xuaccess; fails with the errno.
	HostModule(const fs::path &ko, const std::string &params);
	~HostModule();
	HostModule(const HostModule &) = delete;
	HostModule &operator=(const HostModule &) = delete;
};

}  // namespace xua
