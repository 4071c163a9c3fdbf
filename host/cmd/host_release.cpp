#include "cmd/host_release.hpp"

#include <map>

#include <nlohmann/json.hpp>

#include "provision/host_root.hpp"
#include "provision/kernel.hpp"
#include "provision/matrix.hpp"
#include "report/tap.hpp"
#include "base/process.hpp"

namespace xua {
namespace {

// The test suites' names for the releases a host may run (the Debian suite of each).
const std::map<std::string, std::string> kReleases = {{"debian13", "trixie"}};

// Runs `command` in the root with its output in `log`, progress lines on stderr; fails with the log's tail.
void run_in_root(const HostRoot &r, const std::string &command, const fs::path &log, const std::string &what)
{
	run_logged(host_root_command(r, command), log, what, [&](double s) {
		fmt::print(stderr, "xuaccess: {} ... {:.0f} s (log: {})\n", what, s, log.string());
	});
}

// The last summary line of a log: test's "N passed, N failed, N skipped" or bench's "xuaccess bench: N cell(s)
// done, N failed, ...".
std::string summary_line(const fs::path &log)
{
	std::string last;
	for (auto &l : split_lines(read_file(log)))
		if ((l.find(" passed, ") != std::string::npos && l.find(" failed") != std::string::npos) ||
		    (starts_with(l, "xuaccess bench: ") && l.find(" done, ") != std::string::npos))
			last = l;
	return last.empty() ? "no summary line" : last;
}

}  // namespace

int run_host_release_suite(const std::string &suite_name)
{
	auto rel = kReleases.find(suite_name);
	if (rel == kReleases.end())
		fail("unknown host release suite '{}'", suite_name);
	const std::string suite = rel->second;
	const auto logs = Matrix::paths().build / "hosts" / suite;
	fs::create_directories(logs);
	const auto t_all = std::chrono::steady_clock::now();
	TapSteps tap;
	fmt::print("TAP version 13\n");
	HostRoot root;
	bool have_root = tap.step(fmt::format("a fresh Debian {} root with this checkout in /opt/xuaccess", suite), [&] {
		root = prepare_host_root(suite);
		return fmt::format("{} ({}; debian_version {})", root.run.string(),
				   root.build_seconds > 0 ? fmt::format("mmdebstrap {:.0f} s", root.build_seconds)
							  : "pristine root from the cache",
				   trim(read_file(root.run / "etc/debian_version")));
	});
	auto in_root = [&](const std::string &what, const std::string &command, const std::string &log_name) {
		if (!have_root) {
			tap.result(false, what, "not run: needs the root (above)");
			return false;
		}
		return tap.step(what, [&] {
			run_in_root(root, command, logs / log_name, what);
			return fmt::format("{}\nlog: {}", summary_line(logs / log_name), (logs / log_name).string());
		});
	};
	in_root("./xuaccess test (packages installed by the bootstrap, build, the default cells)",
			      "cd /opt/xuaccess && ./xuaccess test", "test.log");
	const std::string bench_out = "/opt/xuaccess/build/bench-quick";
	bool benched = in_root("./xuaccess bench --quick writes results",
			       "cd /opt/xuaccess && ./xuaccess bench --quick --out " + bench_out, "bench.log");
	// arm64 MTE cells need a newer QEMU than Debian 12's (ci/matrix.json "variants": mte, needs_qemu): this
	// release's runs them. The kernel is built there once (with that release's cross gcc-12) and cached.
	in_root("./xuaccess test --arch arm64 --kernel 6.12-mte (MTE + hardware tag-based KASAN, this release's QEMU)",
		"cd /opt/xuaccess && ./xuaccess test --arch arm64 --kernel 6.12-mte", "test-mte.log");
	tap.step("the cells there booted the same Debian kernel packages as this machine's", [&] {
		if (!benched)
			fail("not run: needs the bench results (above)");
		std::string said;
		std::map<std::string, std::string> resolved;  // "arch series" -> "package version" on this machine
		const auto &m = Matrix::get();
		for (auto &e : fs::directory_iterator(root.run / bench_out.substr(1))) {
			if (e.path().extension() != ".json" || e.path().filename().string().find('-') == std::string::npos)
				continue;
			auto ctx = nlohmann::json::parse(read_file(e.path())).value("context", nlohmann::json::object());
			if (!ctx.contains("xua_kernel_package"))
				continue;
			auto arch = ctx.value("xua_arch", ""), there = ctx.value("xua_kernel_package", "");
			auto series = ctx.value("xua_kernel_series", m.default_kernel());
			// Resolved once per arch and series (the on and off cells share it).
			auto &here = resolved[arch + " " + series];
			if (here.empty()) {
				auto k = ensure_kernel(m.arch(arch), series, Resolve::always, true);
				here = k.image_pkg + " " + k.version;
			}
			if (there != here)
				fail("{}: {} in the Debian {} root, {} on this machine", e.path().filename().string(), there,
				     suite, here);
			if (ctx.value("xua_host_os", "").find(suite) == std::string::npos)
				fail("{}: xua_host_os is '{}', not Debian {}", e.path().filename().string(),
				     ctx.value("xua_host_os", "?"), suite);
			said += fmt::format("{}: {} ({})\n", e.path().filename().string(), there, ctx.value("xua_host_os", ""));
		}
		if (said.empty())
			fail("no cell results in {}", bench_out);
		return said;
	});
	return tap.finish(suite_name, seconds_since(t_all));
}

}  // namespace xua
