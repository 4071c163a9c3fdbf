// The guest's initramfs: an uncompressed cpio (newc) archive holding the C++ /init, the module, the
// in-guest programs, the shared libraries they need, and busybox-static for a debug shell.
// Uncompressed on purpose: decompressing under TCG costs boot time.
#pragma once

#include <string>
#include <vector>

#include "provision/matrix.hpp"

namespace xua {

class CpioWriter {
public:
	void dir(const std::string &path, unsigned mode = 0755);
	void file(const std::string &path, std::string_view data, unsigned mode = 0644);
	void symlink(const std::string &path, const std::string &target);
	std::string finish();  // appends the trailer and returns the archive

private:
	void entry(const std::string &path, unsigned mode, std::string_view data);
	std::string out_;
	unsigned ino_ = 1;
};

// Shared libraries (and the dynamic loader) a program needs, resolved for the given arch: the
// transitive DT_NEEDED closure over the arch's multiarch library directories.
struct GuestFile {
	fs::path guest;  // absolute path inside the guest
	fs::path host;   // the file on this machine
};
std::vector<GuestFile> shared_library_closure(const Arch &arch, const fs::path &program);

// busybox-static of the arch, downloaded and unpacked into the cache (never installed on the host).
fs::path ensure_busybox(const Arch &arch);

struct InitramfsSpec {
	const Arch *arch;
	fs::path module;                 // xuaccess.ko
	std::vector<fs::path> programs;  // placed in /bin, with their shared libraries
	fs::path init;                   // the guest init program
};

// Writes the archive to `out` and returns its size in bytes.
size_t build_initramfs(const InitramfsSpec &spec, const fs::path &out);

}  // namespace xua
