// Small helpers shared by the host front end: errors, files, child processes, locks.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
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

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args &&...args)
{
	throw Error(fmt::format(f, std::forward<Args>(args)...));
}

std::string read_file(const fs::path &p);
void write_file(const fs::path &p, std::string_view data);   // atomic: temp file + rename
std::string trim(std::string_view s);
std::vector<std::string> split_lines(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
std::string shell_quote(const std::vector<std::string> &argv);

struct RunOptions {
	std::optional<fs::path> cwd;
	std::map<std::string, std::string> env;  // added to the inherited environment
	std::optional<fs::path> stdout_file;     // redirect stdout to this file
	bool capture = true;                     // capture stdout+stderr into Result::output
	bool merge_stderr = true;                // with capture: stderr goes into output too
};

struct RunResult {
	int status = -1;  // exit code, or 128+signal
	std::string output;
	bool ok() const { return status == 0; }
};

// Runs argv (no shell), waits for it. Throws Error only when the program cannot be started.
RunResult run(const std::vector<std::string> &argv, const RunOptions &opt = {});
// Runs argv and throws an Error carrying its output when it fails.
std::string run_checked(const std::vector<std::string> &argv, const RunOptions &opt = {});

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

}  // namespace xua
