// SPDX-License-Identifier: GPL-2.0
/*
 * xuaccess: the portable core. A misc character device (/dev/xuaccess, root only) whose ioctls
 * expose the architecture's user-access primitives (xua_arch.h) and the kernel's own, so that
 * userspace can measure and test them. The ABI is in xuaccess/uapi.h.
 *
 * The dispatcher (as drivers/gpu/drm/drm_ioctl.c does): one table of commands; the argument is copied
 * in once and its { size, version } header checked here, the handler works on the kernel copy, and
 * the argument is copied back once — on success, or on failure when the handler had started its work.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>

#include "xua.h"

static bool allow_unsafe_deref;
module_param(allow_unsafe_deref, bool, 0444);
MODULE_PARM_DESC(allow_unsafe_deref,
		 "Allow XUA_IOC_UNSAFE_DEREF (a raw user dereference: oopses under SMAP/PAN) for CAP_SYS_ADMIN");

static long xua_ioctl_info(struct xua_ioctl_ctx *c, void *arg)
{
	struct xua_info *info = arg;
	struct xua_prot_state st;
	unsigned int i;

	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->version = XUA_ABI_VERSION;
	info->abi_version = XUA_ABI_VERSION;
	info->arch = xua_arch_id;
	xua_arch_prot_state(&st);
	info->prot_flags = st.flags;
	BUILD_BUG_ON(sizeof(info->arch_regs) != sizeof(st.regs));
	/* Raw registers (software PAN's TTBR0 is a physical address) for CAP_SYS_ADMIN, checked now. */
	if (capable(CAP_SYS_ADMIN))
		memcpy(info->arch_regs, st.regs, sizeof(info->arch_regs));
	else
		info->flags |= XUA_INFO_REGS_HIDDEN;
	if (allow_unsafe_deref)
		info->flags |= XUA_INFO_UNSAFE_ALLOWED;
	strscpy(info->module_version, XUA_MODULE_VERSION, sizeof(info->module_version));
	strscpy(info->kernel_release, utsname()->release, sizeof(info->kernel_release));
	strscpy(info->arch_name, xua_arch_name, sizeof(info->arch_name));
	strscpy(info->guard_name, xua_guard_name, sizeof(info->guard_name));
	BUILD_BUG_ON(XUA_NR_METHODS > XUA_MAX_METHODS);
	info->methods = (1u << XUA_NR_METHODS) - 1;
	info->nr_methods = XUA_NR_METHODS;
	for (i = 0; i < XUA_NR_METHODS; i++) {
		strscpy(info->method_desc[i].name, xua_methods[i].name, sizeof(info->method_desc[i].name));
		info->method_desc[i].flags = xua_methods[i].flags;
	}
	info->nr_modes = min_t(u32, xua_arch_nr_modes, XUA_MAX_MODES);
	for (i = 0; i < info->nr_modes; i++) {
		strscpy(info->modes[i].name, xua_arch_modes[i], sizeof(info->modes[i].name));
		info->modes[i].flags = xua_arch_mode_flags(i);
	}
	info->max_len = XUA_MAX_LEN;
	info->max_iterations = XUA_MAX_ITERATIONS;
	info->mmap_max = xua_mmap_max_bytes;
	info->violations = xua_violations();
	info->kbuf_kind = xua_kbuf_kind;
	info->tick_hz = xua_arch_tick_hz();
	info->check_ns = xua_check_ns;
	info->controls_seen = xua_controls_seen();
	info->window_check_ps = xua_window_check_ps;
	return 0;
}

/*
 * The seed bug on purpose: a plain dereference of a user pointer, with no uaccess window and no
 * exception-table entry. Where SMAP/PAN is enforced this oopses (and kills the caller).
 */
/*
 * Not KASAN-instrumented: the seed bug is a plain dereference, caught by SMAP/PAN or not at all. Under
 * KASAN its shadow check of the user address would fault first ("general protection fault, probably for
 * non-canonical address ... KASAN: probably user-memory-access"), with the guard on or off alike.
 */
static __no_sanitize_address long xua_ioctl_unsafe_deref(struct xua_ioctl_ctx *c, void *arg)
{
	struct xua_unsafe *op = arg;
	u64 __user *p;

	if (op->dir > XUA_DIR_FROM_USER || op->reserved || op->user_addr % 8)
		return -EINVAL;
	p = u64_to_user_ptr(op->user_addr);
	/* Never a kernel address: this must not become a kernel write primitive. */
	if (!access_ok(p, sizeof(*p)))
		return -EFAULT;
	pr_warn("UNSAFE_DEREF: plain %s a user address by pid %d\n",
		op->dir == XUA_DIR_TO_USER ? "store to" : "load from", task_pid_nr(current));
	if (op->dir == XUA_DIR_TO_USER)
		WRITE_ONCE(*(u64 __force *)p, op->value);
	else
		op->value = READ_ONCE(*(u64 __force *)p);
	return 0;
}

static long xua_ioctl_null(struct xua_ioctl_ctx *c, void *arg)
{
	return 0;
}

static bool xua_unsafe_allowed(void)
{
	return allow_unsafe_deref && capable(CAP_SYS_ADMIN);
}

struct xua_ioctl_desc {
	unsigned int cmd;
	long (*fn)(struct xua_ioctl_ctx *c, void *arg);
	bool (*allowed)(void); /* checked before the argument is read: EPERM */
};

#define XUA_IOCTL(c, f, ...) [_IOC_NR(c)] = { .cmd = (c), .fn = (f), __VA_ARGS__ }
static const struct xua_ioctl_desc xua_ioctls[] = {
	XUA_IOCTL(XUA_IOC_INFO, xua_ioctl_info),
	XUA_IOCTL(XUA_IOC_TRANSFER, xua_ioctl_transfer),
	XUA_IOCTL(XUA_IOC_PRODUCE, xua_ioctl_produce),
	XUA_IOCTL(XUA_IOC_CONSUME, xua_ioctl_consume),
	XUA_IOCTL(XUA_IOC_TOGGLE, xua_ioctl_toggle),
	XUA_IOCTL(XUA_IOC_SELFTEST, xua_ioctl_selftest),
	XUA_IOCTL(XUA_IOC_UNSAFE_DEREF, xua_ioctl_unsafe_deref, .allowed = xua_unsafe_allowed),
	XUA_IOCTL(XUA_IOC_NULL, xua_ioctl_null),
};

long xua_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct xua_ioctl_ctx c = { .xf = file->private_data };
	const struct xua_ioctl_desc *d;
	unsigned int nr = _IOC_NR(cmd), size = _IOC_SIZE(cmd);
	char stack_kdata[128];
	void *kdata = stack_kdata;
	const u32 *hdr;
	long ret;

	/* A caller built against ABI 2 (magic 0xB6, DFL_FPGA_MAGIC): say so, not a foreign answer. */
	if (_IOC_TYPE(cmd) == XUA_IOC_MAGIC_ABI2 && nr <= XUA_IOC_MAX_NR_ABI2) {
		pr_warn_ratelimited("%s[%d]: ioctl 0x%x is xuaccess ABI 2 (magic 0x%x); this module speaks ABI %d (magic 0x%x): rebuild against its uapi.h\n",
				    current->comm, task_pid_nr(current), cmd, XUA_IOC_MAGIC_ABI2, XUA_ABI_VERSION,
				    XUA_IOC_MAGIC);
		return -EPROTO;
	}
	if (_IOC_TYPE(cmd) != XUA_IOC_MAGIC || nr >= ARRAY_SIZE(xua_ioctls) || !xua_ioctls[nr].fn ||
	    xua_ioctls[nr].cmd != cmd)
		return -ENOTTY;
	d = &xua_ioctls[nr];
	if (d->allowed && !d->allowed())
		return -EPERM;
	if (size > sizeof(stack_kdata)) {
		kdata = kmalloc(size, GFP_KERNEL);
		if (!kdata)
			return -ENOMEM;
	}
	if (size) {
		hdr = kdata;
		ret = -EFAULT;
		if (copy_from_user(kdata, uarg, size))
			goto out;
		ret = -EINVAL;
		if (hdr[0] != size || hdr[1] != XUA_ABI_VERSION)
			goto out;
	}
	ret = d->fn(&c, kdata);
	/* The catch-all after every handler, before the copy back (whose clac would close a leak). */
	xua_check_window("an ioctl handler");
	if (size && (!ret || c.wrote_out) && copy_to_user(uarg, kdata, size))
		ret = -EFAULT;
out:
	if (kdata != stack_kdata)
		kfree(kdata);
	return ret;
}

static struct miscdevice xua_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "xuaccess",
	.fops = &xua_fops,
	.mode = 0600,
};

static int __init xua_init(void)
{
	struct xua_prot_state st;
	int ret;

	ret = xua_file_params_init();
	if (ret)
		return ret;
	ret = xua_arch_init();
	if (ret)
		return ret;
	xua_measure_check_ns();
	xua_measure_window_check();
	ret = misc_register(&xua_misc);
	if (ret) {
		pr_err("misc_register failed: %d\n", ret);
		return ret;
	}
	xua_arch_prot_state(&st);
	pr_info("loaded: arch %s, %s %s%s%s%s, kernel buffers %s\n", xua_arch_name, xua_guard_name,
		st.flags & XUA_PROT_PRESENT ? "present" : "absent",
		st.flags & XUA_PROT_SOFTWARE ? ", software" : "",
		st.flags & XUA_PROT_ENABLED ? ", enabled" : "",
		allow_unsafe_deref ? ", UNSAFE_DEREF allowed" : "",
		xua_kbuf_kind == XUA_KBUF_LINEAR ? "linear" : "vmalloc");
	return 0;
}

static void __exit xua_exit(void)
{
	misc_deregister(&xua_misc);
}

module_init(xua_init);
module_exit(xua_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("xuaccess developers");
MODULE_DESCRIPTION("Measure and test kernel/user data transfer under x86 SMAP and arm64 PAN");
MODULE_VERSION(XUA_MODULE_VERSION);
