#include "provision/checkout.hpp"

#include <set>

#include "base/process.hpp"

namespace xua {

std::vector<fs::path> checkout_files(const fs::path &top)
{
	std::vector<fs::path> out;
	if (fs::exists(top / ".git")) {
		auto r = run_checked({"git", "-C", top.string(), "ls-files", "-z", "--cached", "--others", "--exclude-standard"});
		for (size_t pos = 0; pos < r.size();) {
			auto end = r.find('\0', pos);
			if (end == std::string::npos)
				end = r.size();
			if (end > pos)
				out.emplace_back(r.substr(pos, end - pos));
			pos = end + 1;
		}
		return out;
	}
	for (auto it = fs::recursive_directory_iterator(top); it != fs::recursive_directory_iterator(); ++it) {
		auto rel = fs::relative(it->path(), top);
		auto first = rel.begin()->string();
		if (it->is_directory() && (first == "build" || first == "results" || first == ".git")) {
			it.disable_recursion_pending();
			continue;
		}
		if (it->is_regular_file() || it->is_symlink())
			out.push_back(rel);
	}
	return out;
}

size_t sync_tree(const fs::path &from, const fs::path &to, const std::vector<fs::path> &files)
{
	size_t copied = 0;
	std::set<fs::path> want;
	for (auto &rel : files) {
		auto src = from / rel, dst = to / rel;
		want.insert(rel);
		std::error_code ec;
		auto st = fs::symlink_status(src, ec);
		if (ec || !fs::exists(st))
			continue;  // deleted in the working tree but still in git's index
		fs::create_directories(dst.parent_path());
		if (fs::is_symlink(st)) {
			auto target = fs::read_symlink(src);
			if (!fs::is_symlink(fs::symlink_status(dst, ec)) || fs::read_symlink(dst) != target) {
				fs::remove(dst);
				fs::create_symlink(target, dst);
				++copied;
			}
			continue;
		}
		// Same content keeps the old file and its time (a fresh clone's new mtimes rebuild nothing).
		if (fs::exists(dst) && fs::file_size(dst) == fs::file_size(src) &&
		    (fs::last_write_time(dst) == fs::last_write_time(src) || read_file(dst) == read_file(src)))
			continue;
		fs::copy_file(src, dst, fs::copy_options::overwrite_existing);
		fs::permissions(dst, fs::status(src).permissions());
		fs::last_write_time(dst, fs::last_write_time(src));
		++copied;
	}
	std::vector<fs::path> stale;
	for (auto it = fs::recursive_directory_iterator(to); it != fs::recursive_directory_iterator(); ++it) {
		auto rel = fs::relative(it->path(), to);
		if (rel.begin()->string() == "build" || rel.begin()->string() == "lost+found") {
			it.disable_recursion_pending();
			continue;
		}
		if (!it->is_directory() && !want.count(rel))
			stale.push_back(it->path());
	}
	for (auto &p : stale)
		fs::remove(p);
	return copied;
}

}  // namespace xua
