#include "base/util.hpp"

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace xua {

std::string read_file(const fs::path &p)
{
	std::ifstream in(p, std::ios::binary);
	if (!in)
		fail("cannot read {}: {}", p.string(), std::strerror(errno));
	std::ostringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

void write_file(const fs::path &p, std::string_view data)
{
	const auto dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
	fs::create_directories(dir);
	std::string name = ".";
	name += p.filename().string();
	name += ".XXXXXX";
	std::string tmpl = (dir / name).string();
	int fd = mkostemp(tmpl.data(), O_CLOEXEC);
	if (fd < 0)
		fail("cannot create a temporary file for {}: {}", p.string(), std::strerror(errno));
	const fs::path tmp = tmpl;
	auto give_up = [&](const char *what) {
		int err = errno;
		close(fd);
		::unlink(tmp.c_str());
		fail("cannot write {} ({} {}): {}", p.string(), what, tmp.string(), std::strerror(err));
	};
	for (size_t done = 0; done < data.size();) {
		ssize_t n = ::write(fd, data.data() + done, data.size() - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			give_up("write to");
		done += static_cast<size_t>(n);
	}
	if (fchmod(fd, 0644) != 0)
		give_up("chmod");
	if (fsync(fd) != 0)
		give_up("fsync");
	if (close(fd) != 0) {
		int err = errno;
		::unlink(tmp.c_str());
		fail("cannot write {} (close {}): {}", p.string(), tmp.string(), std::strerror(err));
	}
	if (::rename(tmp.c_str(), p.c_str()) != 0) {
		int err = errno;
		::unlink(tmp.c_str());
		fail("cannot write {} (rename from {}): {}", p.string(), tmp.string(), std::strerror(err));
	}
	if (int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
		fsync(dfd);  // the rename itself durable; best effort (some filesystems refuse)
		close(dfd);
	}
}

std::string trim(std::string_view s)
{
	auto b = s.find_first_not_of(" \t\r\n");
	if (b == std::string_view::npos)
		return {};
	auto e = s.find_last_not_of(" \t\r\n");
	return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split_words(std::string_view s)
{
	std::vector<std::string> w;
	std::string cur;
	for (char ch : s) {
		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
			if (!cur.empty())
				w.push_back(std::move(cur));
			cur.clear();
		} else {
			cur += ch;
		}
	}
	if (!cur.empty())
		w.push_back(std::move(cur));
	return w;
}

std::vector<std::string> split_lines(std::string_view s)
{
	std::vector<std::string> lines;
	size_t pos = 0;
	while (pos < s.size()) {
		auto nl = s.find('\n', pos);
		if (nl == std::string_view::npos)
			nl = s.size();
		std::string line(s.substr(pos, nl - pos));
		if (!line.empty() && line.back() == '\r')
			line.pop_back();
		lines.push_back(std::move(line));
		pos = nl + 1;
	}
	return lines;
}

std::string last_lines(const std::string &text, size_t n)
{
	auto lines = split_lines(text);
	std::string out;
	for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i)
		out += lines[i] + "\n";
	return out;
}

bool starts_with(std::string_view s, std::string_view prefix)
{
	return s.substr(0, prefix.size()) == prefix;
}

std::string shell_quote(const std::vector<std::string> &argv)
{
	static constexpr std::string_view safe =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-";
	std::string out;
	for (const auto &a : argv) {
		if (!out.empty())
			out += ' ';
		if (!a.empty() && a.find_first_not_of(safe) == std::string::npos) {
			out += a;
			continue;
		}
		out += '\'';
		for (char c : a)
			out += c == '\'' ? std::string("'\\''") : std::string(1, c);
		out += '\'';
	}
	return out;
}

FileLock::FileLock(const fs::path &p)
{
	fs::create_directories(p.parent_path());
	fd_ = open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd_ < 0)
		fail("cannot open lock {}: {}", p.string(), std::strerror(errno));
	while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
	}
}

FileLock::~FileLock()
{
	if (fd_ >= 0)
		close(fd_);
}

double seconds_since(std::chrono::steady_clock::time_point t0)
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

unsigned usable_cpus()
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return static_cast<unsigned>(CPU_COUNT(&set));
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? static_cast<unsigned>(n) : 1;
}

std::vector<int> usable_cpu_list()
{
	cpu_set_t set;
	CPU_ZERO(&set);
	std::vector<int> cpus;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		for (int c = 0; c < CPU_SETSIZE; ++c)
			if (CPU_ISSET(c, &set))
				cpus.push_back(c);
	return cpus;
}

std::string utc_now(const char *fmt)
{
	std::time_t t = std::time(nullptr);
	std::tm tm{};
	gmtime_r(&t, &tm);
	char buf[64];
	std::strftime(buf, sizeof(buf), fmt, &tm);
	return buf;
}

std::string host_os(const fs::path &os_release)
{
	if (!fs::exists(os_release))
		return "unknown (no " + os_release.string() + ")";
	for (auto &line : split_lines(read_file(os_release)))
		if (starts_with(line, "PRETTY_NAME=")) {
			auto v = trim(std::string_view(line).substr(12));
			if (v.size() >= 2 && (v.front() == '"' || v.front() == '\''))
				v = v.substr(1, v.size() - 2);
			return v;
		}
	return "unknown (no PRETTY_NAME in " + os_release.string() + ")";
}

bool find_program(const std::string &name)
{
	const char *path = std::getenv("PATH");
	std::string_view rest = path ? path : "/usr/bin:/bin";
	while (true) {
		auto colon = rest.find(':');
		auto dir = rest.substr(0, colon);
		auto p = fs::path(dir.empty() ? std::string_view(".") : dir) / name;
		if (access(p.c_str(), X_OK) == 0 && fs::is_regular_file(p))
			return true;
		if (colon == std::string_view::npos)
			return false;
		rest.remove_prefix(colon + 1);
	}
}

}  // namespace xua
