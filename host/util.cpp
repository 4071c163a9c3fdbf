#include "util.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

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
	if (p.has_parent_path())
		fs::create_directories(p.parent_path());
	fs::path tmp = p;
	tmp += ".tmp";
	{
		std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
		out.write(data.data(), static_cast<std::streamsize>(data.size()));
		if (!out)
			fail("cannot write {}: {}", tmp.string(), std::strerror(errno));
	}
	fs::rename(tmp, p);
}

std::string trim(std::string_view s)
{
	auto b = s.find_first_not_of(" \t\r\n");
	if (b == std::string_view::npos)
		return {};
	auto e = s.find_last_not_of(" \t\r\n");
	return std::string(s.substr(b, e - b + 1));
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

bool starts_with(std::string_view s, std::string_view prefix)
{
	return s.substr(0, prefix.size()) == prefix;
}

std::string shell_quote(const std::vector<std::string> &argv)
{
	std::string out;
	for (const auto &a : argv) {
		if (!out.empty())
			out += ' ';
		if (a.find_first_of(" \t'\"$\\,") == std::string::npos && !a.empty()) {
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

RunResult run(const std::vector<std::string> &argv, const RunOptions &opt)
{
	int pipefd[2] = {-1, -1};
	if (opt.capture && pipe2(pipefd, O_CLOEXEC) != 0)
		fail("pipe: {}", std::strerror(errno));

	std::vector<std::string> envs;
	for (char **e = environ; *e; ++e) {
		std::string_view kv(*e);
		auto key = std::string(kv.substr(0, kv.find('=')));
		if (!opt.env.count(key))
			envs.emplace_back(kv);
	}
	for (const auto &[k, v] : opt.env)
		envs.push_back(k + "=" + v);
	std::vector<char *> cargv, cenv;
	for (const auto &a : argv)
		cargv.push_back(const_cast<char *>(a.c_str()));
	cargv.push_back(nullptr);
	for (auto &e : envs)
		cenv.push_back(e.data());
	cenv.push_back(nullptr);

	pid_t pid = fork();
	if (pid < 0)
		fail("fork: {}", std::strerror(errno));
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		if (opt.stdout_file) {
			int fd = open(opt.stdout_file->c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0)
				_exit(126);
			dup2(fd, 1);
		} else if (opt.capture) {
			dup2(pipefd[1], 1);
		}
		if (opt.capture && opt.merge_stderr)
			dup2(pipefd[1], 2);
		if (opt.cwd && chdir(opt.cwd->c_str()) != 0)
			_exit(126);
		execvpe(cargv[0], cargv.data(), cenv.data());
		dprintf(2, "cannot run %s: %s\n", cargv[0], std::strerror(errno));
		_exit(127);
	}
	RunResult r;
	if (opt.capture) {
		close(pipefd[1]);
		char buf[65536];
		ssize_t n;
		while ((n = read(pipefd[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
			if (n > 0)
				r.output.append(buf, static_cast<size_t>(n));
		close(pipefd[0]);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (r.status == 127 && r.output.find("cannot run") != std::string::npos)
		fail("{}", trim(r.output));
	return r;
}

std::string run_checked(const std::vector<std::string> &argv, const RunOptions &opt)
{
	auto r = run(argv, opt);
	if (!r.ok())
		fail("command failed (exit {}): {}\n{}", r.status, shell_quote(argv), trim(r.output));
	return r.output;
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

}  // namespace xua
