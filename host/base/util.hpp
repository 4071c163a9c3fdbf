// Small helpers shared by the host front end: errors, files, strings, locks. (Child processes: base/process.hpp.)
#pragma once

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace xua {

namespace fs = std::filesystem;

// An error meant for the person at the terminal: the message says what went wrong and what to do.
struct Error : std::runtime_error {
	using std::runtime_error::runtime_error;
};

// A request refused as given, before anything ran (a kernel tree that lacks what a guest needs, ...): the
// front end exits 2, like for a usage error.
struct Refused : Error {
	using Error::Error;
};

template <typename... Args>
[[noreturn]] void refuse(fmt::format_string<Args...> f, Args &&...args)
{
	throw Refused(fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args &&...args)
{
	throw Error(fmt::format(f, std::forward<Args>(args)...));
}

std::string read_file(const fs::path &p);
// Atomic and checked: a temp file next to p, written, flushed, fsync'ed and closed (every step checked),
// then renamed over p and the directory fsync'ed. Readers see the old content or the new, never a part.
void write_file(const fs::path &p, std::string_view data);
std::string trim(std::string_view s);
std::vector<std::string> split_lines(std::string_view s);
// Whitespace-separated words, in order.
std::vector<std::string> split_words(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
std::string last_lines(const std::string &text, size_t n);  // the last n lines, each ending in \n
// A command line a POSIX shell reads back as argv: words of safe characters as they are, everything else
// in single quotes (a ' as '\'' ).
std::string shell_quote(const std::vector<std::string> &argv);
// The operating system this front end runs on, from /etc/os-release: "Debian GNU/Linux 13 (trixie)" (its
// PRETTY_NAME), or "unknown (no /etc/os-release)". Results record it: the guest programs' compiler and
// libraries come from it.
std::string host_os(const fs::path &os_release = "/etc/os-release");
// Whether `name` is an executable in one of PATH's directories.
bool find_program(const std::string &name);

// An exclusive advisory lock on a file, held for the object's lifetime.
class FileLock {
public:
	explicit FileLock(const fs::path &p);
	~FileLock();
	FileLock(const FileLock &) = delete;
	FileLock &operator=(const FileLock &) = delete;

private:
	int fd_ = -1;
};

double seconds_since(std::chrono::steady_clock::time_point t0);
// The CPUs this process may run on (its affinity mask, as nproc counts them), at least 1.
unsigned usable_cpus();
// Those CPUs' numbers, in increasing order.
std::vector<int> usable_cpu_list();
// The current UTC time in strftime's format.
std::string utc_now(const char *fmt);

}  // namespace xua
