// SPDX-License-Identifier: GPL-2.0
/*
 * xuaccess: the portable core. A misc character device (/dev/xuaccess, root only) whose ioctls
 * expose the architecture's user-access primitives (see xua_arch.h) so that userspace can measure
 * and test them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>

#include "xua_arch.h"

#define XUA_MODULE_VERSION "0.1.0"

/*
 * Copies an ioctl argument struct in and checks its { size, version } header. Every command
 * struct begins with that header.
 */
static int xua_get_args(void *karg, size_t ksize, const void __user *uarg)
{
	const u32 *hdr = karg;

	if (copy_from_user(karg, uarg, ksize))
		return -EFAULT;
	if (hdr[0] != ksize || hdr[1] != XUA_ABI_VERSION)
		return -EINVAL;
	return 0;
}

static long xua_ioctl_info(void __user *uarg)
{
	struct xua_info info;
	struct xua_prot_state st;
	int ret;

	ret = xua_get_args(&info, sizeof(info), uarg);
	if (ret)
		return ret;
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.version = XUA_ABI_VERSION;
	info.abi_version = XUA_ABI_VERSION;
	info.arch = xua_arch_id;
	xua_arch_prot_state(&st);
	info.prot_flags = st.flags;
	memcpy(info.arch_regs, st.regs, sizeof(info.arch_regs));
	strscpy(info.module_version, XUA_MODULE_VERSION, sizeof(info.module_version));
	strscpy(info.kernel_release, utsname()->release, sizeof(info.kernel_release));
	strscpy(info.arch_name, xua_arch_name, sizeof(info.arch_name));
	strscpy(info.guard_name, xua_guard_name, sizeof(info.guard_name));
	if (copy_to_user(uarg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static long xua_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case XUA_IOC_INFO:
		return xua_ioctl_info(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations xua_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = xua_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

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

	ret = misc_register(&xua_misc);
	if (ret) {
		pr_err("misc_register failed: %d\n", ret);
		return ret;
	}
	xua_arch_prot_state(&st);
	pr_info("loaded: arch %s, %s %s%s\n", xua_arch_name, xua_guard_name,
		st.flags & XUA_PROT_PRESENT ? "present" : "absent",
		st.flags & XUA_PROT_ENABLED ? ", enabled" : "");
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
