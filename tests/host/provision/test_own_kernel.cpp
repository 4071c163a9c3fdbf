// Kernels given as a path (host/provision/own_kernel): a build tree or a directory of .debs, checked before
// anything boots, and their cells and labels. Their place in compare --across kernel: analyze/test_compare.cpp.
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/process.hpp"
#include "provision/own_kernel.hpp"
#include "provision/source_kernel.hpp"
#include "support.hpp"

using namespace xua;
using namespace xua::tests;

namespace {

std::string fragment(const std::string &name)
{
	return read_file(Matrix::paths().source / "ci" / "kconfig" / (name + ".config"));
}

}  // namespace

// A scratch directory with its own kernel cache (XDG_CACHE_HOME), removed afterwards. Outside the anonymous
// namespace: the TEST_F classes derive from it (GCC's -Wsubobject-linkage in a unity build).
class OwnKernelTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		const auto *test = ::testing::UnitTest::GetInstance()->current_test_info();
		scratch_.emplace(fmt::format("own-{}", test->name()));
		root_ = scratch_->path;
		fs::create_directories(root_ / "cache");
		const char *old = std::getenv("XDG_CACHE_HOME");
		old_cache_ = old ? std::optional<std::string>(old) : std::nullopt;
		setenv("XDG_CACHE_HOME", (root_ / "cache").c_str(), 1);
	}
	void TearDown() override
	{
		if (old_cache_)
			setenv("XDG_CACHE_HOME", old_cache_->c_str(), 1);
		else
			unsetenv("XDG_CACHE_HOME");
		scratch_.reset();
	}
	// A build tree as `make` + `make modules_prepare` leave it, with the project's own config for the arch
	// (every kernel need holds) plus `extra` lines (later lines win).
	fs::path tree(const std::string &name, const std::string &arch, const std::string &extra = "",
		      const std::string &release = "6.1.99-test")
	{
		auto t = root_ / name;
		fs::create_directories(t / "include/config");
		fs::create_directories(t / "include/generated");
		fs::create_directories(t / "scripts/mod");
		std::string sym = arch == "x86_64" ? "CONFIG_X86_64=y\n" : arch == "arm64" ? "CONFIG_ARM64=y\n" : "";
		write_file(t / ".config", fragment("base") + (arch.empty() ? "" : fragment(arch)) + sym + extra);
		write_file(t / "include/config/kernel.release", release + "\n");
		write_file(t / "include/generated/autoconf.h", "\n");
		write_file(t / "scripts/mod/modpost", "\n");
		if (arch == "arm64") {
			fs::create_directories(t / "arch/arm64/boot");
			write_file(t / "arch/arm64/boot/Image", "image");
		} else {
			write_file(t / "vmlinux", "\x7f" "ELF");
		}
		return t;
	}
	std::string refusal(const fs::path &p)
	{
		try {
			inspect_own_kernel(p);
		} catch (const Refused &e) {
			return e.what();
		}
		ADD_FAILURE() << p << " was not refused";
		return "";
	}
	std::optional<TempDir> scratch_;
	fs::path root_;
	std::optional<std::string> old_cache_;
};

TEST(OwnKernelNames, PathsAndLabels)
{
	EXPECT_FALSE(is_kernel_path("6.1"));
	EXPECT_FALSE(is_kernel_path("6.12-debug"));
	EXPECT_TRUE(is_kernel_path("./obj"));
	EXPECT_TRUE(is_kernel_path("/home/me/linux/out"));
	EXPECT_TRUE(is_kernel_path("debs/"));
	EXPECT_EQ(own_kernel_label(OwnKernel::Form::tree, "6.1.192"), "tree-6.1.192");
	EXPECT_EQ(own_kernel_label(OwnKernel::Form::debs, "6.12.57+deb12-amd64"), "deb-6.12.57+deb12-amd64");
	EXPECT_EQ(own_kernel_label(OwnKernel::Form::tree, "6.8.0-rc1 my/kernel:x"), "tree-6.8.0-rc1_my_kernel_x")
		<< "a label is a file name: no spaces, slashes or colons";
}

// The needs of ci/matrix.json hold in the project's own configs (base + arch): they are what the kernels built
// from source get, so the two cannot drift apart.
TEST(OwnKernelNeeds, TheProjectsOwnConfigsMeetThem)
{
	const auto &m = Matrix::get();
	for (auto &name : m.arch_names()) {
		const auto &a = m.arch(name);
		EXPECT_FALSE(a.kernel_needs.empty()) << name;
		auto cfg = parse_kconfig(fragment("base") + fragment(name));
		EXPECT_TRUE(kconfig_needs_unmet(a.kernel_needs, cfg).empty())
			<< name << ":\n" << fmt::format("{}", fmt::join(kconfig_needs_unmet(a.kernel_needs, cfg), "\n"));
	}
}

TEST(OwnKernelNeeds, MissingOptionsAreListedWithWhy)
{
	const auto &x86 = Matrix::get().arch("x86_64");
	auto cfg = parse_kconfig(fragment("base") + fragment("x86_64") +
				 "# CONFIG_DEVTMPFS is not set\nCONFIG_SERIAL_8250_RUNTIME_UARTS=1\nCONFIG_MODULE_SIG_FORCE=y\n"
				 "CONFIG_MODULE_UNLOAD=m\n");
	auto unmet = kconfig_needs_unmet(x86.kernel_needs, cfg);
	ASSERT_EQ(unmet.size(), 4u) << fmt::format("{}", fmt::join(unmet, "\n"));
	auto has = [&](const std::string &s) {
		return std::any_of(unmet.begin(), unmet.end(), [&](auto &u) { return starts_with(u, s); });
	};
	EXPECT_TRUE(has("CONFIG_DEVTMPFS=y (got: n): "));
	EXPECT_TRUE(has("CONFIG_SERIAL_8250_RUNTIME_UARTS>=2 (got: 1): the results port is ttyS1"));
	EXPECT_TRUE(has("CONFIG_MODULE_SIG_FORCE=n (got: y): "));
	EXPECT_TRUE(has("CONFIG_MODULE_UNLOAD=y (got: m): ")) << "built in, not a module";
	cfg.erase("SERIAL_8250_RUNTIME_UARTS");
	unmet = kconfig_needs_unmet(x86.kernel_needs, cfg);
	EXPECT_TRUE(has("CONFIG_SERIAL_8250_RUNTIME_UARTS>=2 (got: n)")) << "absent is not a number";
	EXPECT_EQ(kconfig_needs_unmet(x86.kernel_needs, parse_kconfig("CONFIG_SERIAL_8250_RUNTIME_UARTS=0x10\n")).size(),
		  x86.kernel_needs.size() - 2)
		<< "a number kconfig writes in hex counts as that number; MODULE_SIG_FORCE absent is n";
}

TEST_F(OwnKernelTest, TreeArchReleaseImageAndLabel)
{
	auto x = inspect_own_kernel(tree("x86", "x86_64"));
	EXPECT_EQ(x.form, OwnKernel::Form::tree);
	EXPECT_EQ(x.arch->name, "x86_64");
	EXPECT_EQ(x.release, "6.1.99-test");
	EXPECT_EQ(x.label, "tree-6.1.99-test");
	EXPECT_EQ(x.boot_image, x.path / "vmlinux") << "x86_64 with CONFIG_PVH boots the ELF vmlinux";
	EXPECT_EQ(x.headers, x.path);
	EXPECT_EQ(x.config_sha256, sha256_file(x.path / ".config"));
	EXPECT_TRUE(starts_with(x.dir.string(), (root_ / "cache" / "xuaccess" / "kernels").string())) << x.dir;

	auto a = inspect_own_kernel(tree("arm", "arm64"));
	EXPECT_EQ(a.arch->name, "arm64");
	EXPECT_EQ(a.boot_image, a.path / "arch/arm64/boot/Image");

	// KASAN: the bzImage (6.1's PVH entry is KASAN-instrumented), which this tree lacks.
	auto why = refusal(tree("kasan", "x86_64", "CONFIG_KASAN=y\n"));
	EXPECT_NE(why.find("no arch/x86/boot/bzImage"), std::string::npos) << why;
	write_file(root_ / "kasan/arch/x86/boot/bzImage", "bz");
	EXPECT_EQ(inspect_own_kernel(root_ / "kasan").boot_image.filename(), "bzImage");

	why = refusal(tree("none", ""));
	// The arches in the matrix's order, which puts the host's own first (an arm64 machine lists arm64 first).
	EXPECT_NE(why.find("sets neither CONFIG_"), std::string::npos) << why;
	EXPECT_NE(why.find("CONFIG_X86_64 (x86_64)"), std::string::npos) << why;
	EXPECT_NE(why.find("CONFIG_ARM64 (arm64)"), std::string::npos) << why;
}

TEST_F(OwnKernelTest, RebuiltTreeIsAnotherKernel)
{
	auto t = tree("x86", "x86_64");
	auto k1 = inspect_own_kernel(t);
	EXPECT_EQ(inspect_own_kernel(t).key, k1.key) << "nothing changed";
	fs::last_write_time(t / "vmlinux", fs::last_write_time(t / "vmlinux") + std::chrono::seconds(5));
	auto k2 = inspect_own_kernel(t);
	EXPECT_NE(k2.key, k1.key) << "the image was rebuilt";
	EXPECT_NE(k2.dir, k1.dir);
	write_file(t / ".config", read_file(t / ".config") + "CONFIG_FOO=y\n");
	EXPECT_NE(inspect_own_kernel(t).key, k2.key) << "the config changed";
}

// What a cell records: the tree's git describe when its `source` link is the top of a git work tree (not when
// it merely lies inside one), and nothing to unpack.
TEST_F(OwnKernelTest, GitDescribeOfTheSourceTree)
{
	auto src = root_ / "linux";
	fs::create_directories(src);
	write_file(src / "Makefile", "# top\n");
	auto git = [&](std::vector<std::string> args) { return git_in(src, std::move(args)); };
	git({"init", "-q"});
	git({"add", "Makefile"});
	git({"commit", "-q", "-m", "v"});
	git({"tag", "v6.1.99"});
	auto t = tree("obj", "x86_64");
	fs::create_directory_symlink(src, t / "source");
	auto k = ensure_own_kernel(inspect_own_kernel(t), Resolve::always, true);
	EXPECT_EQ(k.version, "git v6.1.99");
	EXPECT_EQ(k.image_pkg, "kernel tree " + fs::canonical(t).string() + ":");
	EXPECT_EQ(k.boot_image, fs::canonical(t) / "vmlinux");
	auto ctx = own_kernel_context(k);
	EXPECT_EQ(ctx["xua_kernel_git_describe"], "v6.1.99");
	EXPECT_EQ(ctx["xua_kernel_form"], "build tree");
	EXPECT_EQ(ctx["xua_kernel_config_sha256"], sha256_file(t / ".config"));
	write_file(src / "Makefile", "# edited\n");
	EXPECT_EQ(ensure_own_kernel(inspect_own_kernel(t), Resolve::always, true).version, "git v6.1.99-dirty");
	// A tree inside the git work tree but not its top: not described (it would be another project's history).
	auto inside = src / "sub";
	fs::create_directories(inside);
	fs::remove(t / "source");
	fs::create_directory_symlink(inside, t / "source");
	EXPECT_EQ(ensure_own_kernel(inspect_own_kernel(t), Resolve::always, true).version, "not a git tree");
}

TEST_F(OwnKernelTest, TreeLackingWhatTheGuestNeedsIsRefusedWithTheList)
{
	auto why = refusal(tree("nodev", "x86_64", "# CONFIG_DEVTMPFS is not set\n# CONFIG_ACPI is not set\n"));
	EXPECT_NE(why.find("missing option CONFIG_DEVTMPFS=y (got: n)"), std::string::npos) << why;
	EXPECT_NE(why.find("missing option CONFIG_ACPI=y (got: n)"), std::string::npos) << why;
	// arm64: its console and results port.
	why = refusal(tree("noport", "arm64", "# CONFIG_SERIAL_8250_PCI is not set\n# CONFIG_SERIAL_AMBA_PL011 is not set\n"));
	EXPECT_NE(why.find("CONFIG_SERIAL_8250_PCI=y"), std::string::npos) << why;
	EXPECT_NE(why.find("CONFIG_SERIAL_AMBA_PL011=y"), std::string::npos) << why;
	// No modules_prepare, no release: said too, in the same refusal.
	auto t = tree("unprepared", "x86_64", "# CONFIG_MODULES is not set\n");
	fs::remove(t / "scripts/mod/modpost");
	fs::remove(t / "include/config/kernel.release");
	why = refusal(t);
	EXPECT_NE(why.find("make modules_prepare"), std::string::npos) << why;
	EXPECT_NE(why.find("no include/config/kernel.release"), std::string::npos) << why;
	EXPECT_NE(why.find("CONFIG_MODULES=y"), std::string::npos) << why;
	EXPECT_NE(refusal(root_ / "nonexistent").find("no such directory"), std::string::npos);
	fs::create_directories(root_ / "empty");
	EXPECT_NE(refusal(root_ / "empty").find("neither a kernel build tree"), std::string::npos);
}

TEST_F(OwnKernelTest, DebDirectoryWithoutHeadersIsRefused)
{
	auto d = root_ / "debs";
	fs::create_directories(d);
	write_file(d / "linux-image-6.1.0-99-amd64_6.1.999-1_amd64.deb", "");
	write_file(d / "linux-image-amd64_6.1.999-1_amd64.deb", "");  // a meta package: not an image
	write_file(d / "linux-kbuild-6.1_6.1.999-1_amd64.deb", "");
	auto why = refusal(d);
	EXPECT_NE(why.find("a directory of .deb files"), std::string::npos) << why;
	EXPECT_NE(why.find("no linux-headers-6.1.0-99-amd64_*.deb"), std::string::npos) << why;
	// No image at all; two images.
	auto h = root_ / "headers-only";
	fs::create_directories(h);
	write_file(h / "linux-headers-6.1.0-99-amd64_6.1.999-1_amd64.deb", "");
	EXPECT_NE(refusal(h).find("no linux-image-<release>_*.deb"), std::string::npos);
	write_file(d / "linux-image-6.1.0-98-amd64_6.1.998-1_amd64.deb", "");
	EXPECT_NE(refusal(d).find("more than one linux-image-<release>_*.deb"), std::string::npos);
}

TEST_F(OwnKernelTest, CellsOfAPathKernel)
{
	const auto &m = Matrix::get();
	auto x = tree("x86", "x86_64");
	auto cells = m.select({}, {x.string()}, {"on", "off"});
	ASSERT_EQ(cells.size(), 2u) << "only its own arch";
	EXPECT_EQ(cells[0].name(), "x86_64-tree-6.1.99-test-on");
	EXPECT_EQ(cells[1].name(), "x86_64-tree-6.1.99-test-off");
	EXPECT_EQ(cells[0].kernel_path, fs::canonical(x));
	// With a named kernel: that one on every arch, the tree on its own.
	EXPECT_EQ(m.select({}, {"6.1", x.string()}, {"on"}).size(), 3u);
	EXPECT_THROW(m.select({"arm64"}, {x.string()}, {"on"}), Refused);
	EXPECT_THROW(m.select({"x86_64"}, {x.string()}, {"sw"}), Refused);
	// arm64 off-kernel needs a kernel without hardware PAN: the tree's config is checked for the fragment.
	auto a = tree("arm", "arm64");
	try {
		m.select({"arm64"}, {a.string()}, {"off-kernel"});
		ADD_FAILURE() << "off-kernel on a kernel with CONFIG_ARM64_PAN=y was accepted";
	} catch (const Refused &e) {
		EXPECT_NE(std::string(e.what()).find("CONFIG_ARM64_PAN=n (got: y)"), std::string::npos) << e.what();
	}
	auto nopan = tree("arm-nopan", "arm64", fragment("pan-off"));
	EXPECT_EQ(m.select({"arm64"}, {nopan.string()}, {"off-kernel"}).size(), 1u);
	// Two trees with the same release in one run would write the same files: refused.
	auto other = tree("x86-again", "x86_64");
	EXPECT_THROW(m.select({}, {x.string(), other.string()}, {"on"}), Refused);
}
