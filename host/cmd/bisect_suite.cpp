// `./xuaccess test --suite bisect`: `./xuaccess bisect` over a synthetic kernel history, for real.
//
// The history (made once from Debian's linux-source-6.1 and cached in ${XDG_CACHE_HOME:-~/.cache}/xuaccess/
// bisect-fixture/<version>/repo) is eight commits on top of the unpacked source:
//   1 Documentation (unrelated)        5 init: mend the build
//   2 arm64: 4 NOPs in __arch_copy_to_user (planted)   6 x86: 4 NOPs in the copy_user_* routines (planted)
//   3 init: break the build (#error)   7 tools/perf/CREDITS (unrelated)
//   4 Documentation (still broken)     8 Documentation (unrelated)
// git bisect's first midpoint is the broken stretch, so both bisections meet a revision that does not
// build. Per arch, `bisect --row transfer/copy/to_user/64` from the base (good) to commit 8 (bad) must name
// that arch's planted commit, report +4 instructions within the clock's repeatability, list a skipped
// revision, and leave the repository (branch, HEAD, index, worktree, no bisect state) as it found it.
#include "cmd/bisect_suite.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "cmd/bisect.hpp"
#include "provision/kernel.hpp"
#include "provision/matrix.hpp"
#include "provision/source_kernel.hpp"
#include "report/tap.hpp"
#include "base/process.hpp"

namespace xua {
namespace {

constexpr const char *kRow = "transfer/copy/to_user/64";
constexpr int kPlantedNops = 4;

struct Fixture {
	fs::path repo;
	std::map<std::string, std::string> commits;  // role -> sha: base, arm64, x86, broken, bad
};

std::string git_in(const fs::path &repo, std::vector<std::string> args)
{
	args.insert(args.begin(), {"git", "-C", repo.string()});
	return trim(run_checked(args, {.env = {{"GIT_AUTHOR_NAME", "xuaccess"},
					       {"GIT_AUTHOR_EMAIL", "xuaccess@localhost"},
					       {"GIT_COMMITTER_NAME", "xuaccess"},
					       {"GIT_COMMITTER_EMAIL", "xuaccess@localhost"},
					       {"GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z"},
					       {"GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z"}}}));
}

// Inserts `text` after the first line of `file` that starts with `after` (every such line with `all`).
void insert_after(const fs::path &file, const std::string &after, const std::string &text, bool all = false)
{
	std::string out;
	bool done = false;
	for (auto &l : split_lines(read_file(file))) {
		out += l + "\n";
		if ((all || !done) && starts_with(l, after)) {
			out += text;
			done = true;
		}
	}
	if (!done)
		fail("{}: no line starting with '{}' to plant after", file.string(), after);
	write_file(file, out);
}

Fixture make_fixture()
{
	auto [src, version] = ensure_source("6.1", false);
	auto dir = user_cache() / "bisect-fixture" / version;
	Fixture f{dir / "repo", {}};
	FileLock lock(dir.string() + ".lock");
	auto stamp = dir / "fixture.json";
	if (fs::exists(stamp)) {
		f.commits = nlohmann::json::parse(read_file(stamp)).get<std::map<std::string, std::string>>();
		git_in(f.repo, {"checkout", "--quiet", "-f", "main"});
		git_in(f.repo, {"reset", "--quiet", "--hard", f.commits.at("bad")});
		return f;
	}
	fs::remove_all(dir);
	fs::create_directories(dir);
	fmt::print(stderr, "xuaccess: making the synthetic history from linux-source-6.1 {} in {}\n", version,
		   f.repo.string());
	run_checked({"cp", "-a", "--reflink=auto", src.string(), f.repo.string()});
	git_in(f.repo, {"init", "--quiet", "-b", "main"});
	// -f: Debian's top-level .gitignore ignores everything but debian/ (its packaging repository's view).
	git_in(f.repo, {"-c", "core.compression=1", "add", "-A", "-f"});
	auto commit = [&](const std::string &msg) {
		git_in(f.repo, {"-c", "core.compression=1", "commit", "--quiet", "-a", "-m", msg});
		return git_in(f.repo, {"rev-parse", "HEAD"});
	};
	auto append = [&](const std::string &rel, const std::string &text) {
		write_file(f.repo / rel, read_file(f.repo / rel) + text);
	};
	f.commits["base"] = commit("base: Debian's linux-source-6.1 " + version);
	append("README", "\nA note on user copies.\n");
	commit("Documentation: a note on user copies");
	insert_after(f.repo / "arch/arm64/lib/copy_to_user.S", "SYM_FUNC_START(__arch_copy_to_user)",
		     "\tnop\n\tnop\n\tnop\n\tnop\n");
	f.commits["arm64"] = commit("arm64: planted: 4 NOPs in __arch_copy_to_user");
	auto version_c = read_file(f.repo / "init/version.c");
	append("init/version.c", "\n#error \"planted: this revision does not build\"\n");
	f.commits["broken"] = commit("init: planted: break the build");
	append("README", "\nAnother note.\n");
	commit("Documentation: another note (the build is still broken)");
	write_file(f.repo / "init/version.c", version_c);
	commit("init: mend the build");
	insert_after(f.repo / "arch/x86/lib/copy_user_64.S", "SYM_FUNC_START(copy_user_", "\tnop\n\tnop\n\tnop\n\tnop\n",
		     true);
	f.commits["x86_64"] = commit("x86: planted: 4 NOPs in the copy_user_* routines");
	append("tools/perf/CREDITS", "\nunrelated\n");
	commit("tools/perf: an unrelated change");
	append("README", "\nA third note.\n");
	f.commits["bad"] = commit("Documentation: a third note");
	write_file(stamp, nlohmann::json(f.commits).dump(2) + "\n");
	return f;
}

// What a user would notice if the bisection had touched the repository.
std::string repo_state(const fs::path &repo)
{
	return fmt::format("branch {}\nHEAD {}\nstatus [{}]\nbisect log {}\nworktrees {}",
			   git_in(repo, {"symbolic-ref", "-q", "HEAD"}), git_in(repo, {"rev-parse", "HEAD"}),
			   git_in(repo, {"status", "--porcelain"}),
			   fs::exists(repo / ".git" / "BISECT_LOG") ? "present" : "absent",
			   git_in(repo, {"worktree", "list", "--porcelain"}));
}

}  // namespace

int run_bisect_suite(const std::vector<std::string> &arches)
{
	const auto t_all = std::chrono::steady_clock::now();
	TapSteps tap;
	fmt::print("TAP version 13\n");
	Fixture f;
	if (!tap.step("the synthetic history from linux-source-6.1", [&] {
		    f = make_fixture();
		    return fmt::format("{}: base {}, arm64 plant {}, x86 plant {}, broken {}, bad {}", f.repo.string(),
				       f.commits.at("base").substr(0, 12), f.commits.at("arm64").substr(0, 12),
				       f.commits.at("x86_64").substr(0, 12), f.commits.at("broken").substr(0, 12),
				       f.commits.at("bad").substr(0, 12));
	    }))
		return tap.finish("bisect", seconds_since(t_all));
	const auto logs = Matrix::paths().build / "bisect-suite";
	for (auto &arch : arches.empty() ? Matrix::get().arch_names() : arches) {
		const auto before = repo_state(f.repo);
		const auto out = logs / arch;
		fs::remove_all(out);
		int status = -1;
		tap.step(fmt::format("{}: bisect {} from the base to the last commit", arch, kRow), [&] {
			status = run_bisect({.tree = f.repo, .good = f.commits.at("base"), .bad = "main", .row = kRow,
					     .arch = arch, .out = out});
			return read_file(out / "bisect.txt");
		});
		nlohmann::json j = fs::exists(out / "bisect.json") ? nlohmann::json::parse(read_file(out / "bisect.json"))
								   : nlohmann::json::object();
		tap.result(status == 0 && j.value("first_bad_commit", "") == f.commits.at(arch),
			   fmt::format("{}: names the planted commit {}", arch, f.commits.at(arch).substr(0, 12)),
			   fmt::format("exit {}, first bad commit {}", status, j.value("first_bad_commit", "none")));
		// The row is per byte (insn/B) of a 64-byte copy: the planted NOPs are 4 instructions per call.
		double change = j.value("change_per_call", std::nan("")), parent = j.value("parent_value", std::nan("")) * 64;
		tap.result(std::fabs(change - kPlantedNops) <= 1e-3 * parent,
			   fmt::format("{}: the change is the planted {} instructions within 1e-3 of the row", arch, kPlantedNops),
			   fmt::format("change {:+.3f} insn per call on a row of {:.1f} insn per call", change, parent));
		int skipped = 0;
		for (auto &s : j.value("steps", nlohmann::json::array()))
			skipped += s.value("verdict", "") == "skip" && s.value("why", "").starts_with("does not build");
		tap.result(skipped > 0, fmt::format("{}: the revision that does not build was skipped", arch),
			   fmt::format("{} skipped step(s)", skipped));
		auto after = repo_state(f.repo);
		tap.result(after == before, fmt::format("{}: the repository is as it was", arch),
			   after == before ? "" : "before:\n" + before + "\nafter:\n" + after);
	}
	return tap.finish("bisect", seconds_since(t_all));
}

}  // namespace xua
