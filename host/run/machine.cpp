#include "run/machine.hpp"

#include <regex>

#include "base/process.hpp"

namespace xua {
namespace {

struct MachineModel {
	std::string machine, cpu, console;
};

// The cells' guard-on CPU (ci/matrix.json). x86_64: -cpu max shows SVM under TCG, so KVM works inside
// (nested). arm64: EL2 (virtualization=on) for KVM inside, on cortex-a76 (PAN, EL2, VHE), so that the
// guard-off machine (the cells' off CPU, cortex-a72) differs from it as the cells' on/off pair does. Not
// -cpu max: its pointer authentication, which Debian's kernel uses on every function return, is slow under
// TCG (with max the guard-on machine's kernel memcpy of 64 bytes ran 10x slower than cortex-a72's, a
// difference that had nothing to do with PAN).
MachineModel model(const Arch &a)
{
	return {a.image_machine.empty() ? a.machine : a.image_machine, a.cpu.at("on"), a.console};
}

}  // namespace

std::string MachineOutcome::why_not() const
{
	std::string why;
	if (guest.timed_out)
		why = guest.timeout_reason;
	else if (status < 0)
		why = fmt::format("the job never reported its end (QEMU exit {})", guest.qemu_status);
	else if (status != 0)
		why = fmt::format("the job exited {}", status);
	for (auto &p : problems)
		why += (why.empty() ? "" : "; ") + ("kernel " + p.kind + ": " + trim(split_lines(p.text).front()));
	// The job's own last lines (up to its exit line) say more than the shutdown that follows them.
	auto console = guest.console;
	if (auto end = console.rfind("xuaccess-job: exit"); end != std::string::npos)
		console = console.substr(0, console.find('\n', end));
	return why + "\nlast lines of the job (" + (dir / "console.log").string() + "):\n" + last_lines(console, 25);
}

std::vector<std::string> machine_argv(const MachineImage &m, const MachineJob &job, const fs::path &dir)
{
	const auto mm = model(*m.arch);
	std::string append = "root=LABEL=xuaccess-root rw console=" + mm.console + " panic=-1";
	for (auto &c : job.cmdline)
		append += " " + c;
	return {m.arch->qemu, "-M", mm.machine, "-accel", "tcg", "-cpu", job.cpu.empty() ? mm.cpu : job.cpu,
		"-smp", "2", "-m", "6G", "-nodefaults", "-no-reboot", "-nographic", "-serial", "stdio",
		"-kernel", m.kernel.string(), "-initrd", m.initrd.string(), "-append", append,
		"-drive", "file=" + (dir / "root.qcow2").string() + ",if=virtio,format=qcow2",
		"-drive", "file=" + (dir / "tree.qcow2").string() + ",if=virtio,format=qcow2",
		"-virtfs", "local,path=" + (dir / "job").string() + ",mount_tag=job,security_model=none",
		"-nic", "user,model=virtio-net-pci"};
}

MachineOutcome run_machine(const MachineImage &m, const MachineJob &job, const fs::path &dir)
{
	MachineOutcome o;
	o.dir = dir;
	o.out = dir / "job" / "out";
	fs::remove_all(dir);
	fs::create_directories(o.out);
	for (auto [disk, overlay] : {std::pair{m.base_disk, "root.qcow2"}, std::pair{m.tree_disk, "tree.qcow2"}})
		run_checked({"qemu-img", "create", "-q", "-f", "qcow2", "-b", disk.string(), "-F", "raw",
			     (dir / overlay).string()});
	// The job's output goes through a pipe: on the console (a tty) Meson and the front end would draw
	// progress spinners into the log.
	write_file(dir / "job" / "run", fmt::format("#!/bin/bash\n# {}: written by xuaccess (host/run/machine.cpp)\n"
						    "job() {{\n{}\n}}\ncd /opt/xuaccess || exit 1\n"
						    "(job) 2>&1 | cat\nexit ${{PIPESTATUS[0]}}\n",
						    job.name, job.script));
	fs::permissions(dir / "job" / "run", fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);

	GuestRun g{};
	g.cell = nullptr;
	g.console_log = dir / "console.log";
	g.results = dir / "unused-results.txt";
	g.timeout = job.timeout;
	g.inactivity = job.inactivity;
	g.first_line_marker = "xuaccess-job: start";
	g.on_line = job.on_line;
	g.argv = machine_argv(m, job, dir);
	o.guest = run_guest(g);
	static const std::regex exit_re(R"(xuaccess-job: exit (\d+))");
	std::smatch mt;
	for (auto &line : split_lines(o.guest.console))
		if (std::regex_search(line, mt, exit_re))
			o.status = std::stoi(mt[1]);
	o.problems = kernel_problems(o.guest.console);
	// The overlays hold what the job changed on the machine's disks: dropped, the next run starts clean.
	fs::remove(dir / "root.qcow2");
	fs::remove(dir / "tree.qcow2");
	return o;
}

}  // namespace xua
