// SPDX-License-Identifier: GPL-2.0
/*
 * xuaccess: the portable core. A misc character device (/dev/xuaccess, root only) whose ioctls
 * expose the architecture's user-access primitives (xua_arch.h) and the kernel's own, so that
 * userspace can measure and test them. The ABI is in xuaccess/uapi.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <linux/vmalloc.h>

#include "xua.h"

#define XUA_MODULE_VERSION "0.2.0"

static unsigned long mmap_max_bytes = 4UL << 20;
module_param(mmap_max_bytes, ulong, 0444);
MODULE_PARM_DESC(mmap_max_bytes, "Largest mmap buffer per open file, bytes (default 4 MiB, at most 256 MiB)");

static bool allow_unsafe_deref;
module_param(allow_unsafe_deref, bool, 0444);
MODULE_PARM_DESC(allow_unsafe_deref,
		 "Allow XUA_IOC_UNSAFE_DEREF (a raw user dereference: oopses under SMAP/PAN) for CAP_SYS_ADMIN");

/* Ioctls that found the user-access window open when about to return to user space. */
static atomic64_t xua_violations = ATOMIC64_INIT(0);

int xua_get_args(void *karg, size_t ksize, const void __user *uarg)
{
	const u32 *hdr = karg;

	if (copy_from_user(karg, uarg, ksize))
		return -EFAULT;
	if (hdr[0] != ksize || hdr[1] != XUA_ABI_VERSION)
		return -EINVAL;
	return 0;
}

int xua_file_buffers(struct xua_file *xf, bool second)
{
	/*
	 * Zeroed: no stale kernel memory can reach user space through a transfer. vmalloc, like the mmap
	 * buffer, so every kernel buffer is the same kind of memory (under TCG a 4 MiB kmalloc buffer made
	 * kernel memcpy 20x slower than the same copy between vmalloc buffers).
	 */
	if (!xf->kbuf)
		xf->kbuf = vzalloc(XUA_MAX_LEN);
	if (second && !xf->kbuf2)
		xf->kbuf2 = vzalloc(XUA_MAX_LEN);
	return xf->kbuf && (!second || xf->kbuf2) ? 0 : -ENOMEM;
}

static long xua_ioctl_info(void __user *uarg)
{
	struct xua_info info;
	struct xua_prot_state st;
	unsigned int i;
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
	if (allow_unsafe_deref)
		info.flags |= XUA_INFO_UNSAFE_ALLOWED;
	strscpy(info.module_version, XUA_MODULE_VERSION, sizeof(info.module_version));
	strscpy(info.kernel_release, utsname()->release, sizeof(info.kernel_release));
	strscpy(info.arch_name, xua_arch_name, sizeof(info.arch_name));
	strscpy(info.guard_name, xua_guard_name, sizeof(info.guard_name));
	info.methods = (1u << XUA_NR_METHODS) - 1;
	info.nr_modes = min_t(u32, xua_arch_nr_modes, XUA_MAX_MODES);
	for (i = 0; i < info.nr_modes; i++) {
		strscpy(info.modes[i].name, xua_arch_modes[i], sizeof(info.modes[i].name));
		info.modes[i].flags = xua_arch_mode_flags(i);
	}
	info.max_len = XUA_MAX_LEN;
	info.max_iterations = XUA_MAX_ITERATIONS;
	info.mmap_max = mmap_max_bytes;
	info.violations = atomic64_read(&xua_violations);
	if (copy_to_user(uarg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

/*
 * The seed bug on purpose: a plain dereference of a user pointer, with no uaccess window and no
 * exception-table entry. Where SMAP/PAN is enforced this oopses (and kills the caller).
 */
static long xua_ioctl_unsafe_deref(void __user *uarg)
{
	struct xua_unsafe op;
	u64 __user *p;
	int ret;

	if (!allow_unsafe_deref || !capable(CAP_SYS_ADMIN))
		return -EPERM;
	ret = xua_get_args(&op, sizeof(op), uarg);
	if (ret)
		return ret;
	if (op.dir > XUA_DIR_FROM_USER || op.reserved || op.user_addr % 8)
		return -EINVAL;
	p = u64_to_user_ptr(op.user_addr);
	/* Never a kernel address: this must not become a kernel write primitive. */
	if (!access_ok(p, sizeof(*p)))
		return -EFAULT;
	pr_warn("UNSAFE_DEREF: plain %s of user address %px by pid %d\n",
		op.dir == XUA_DIR_TO_USER ? "store to" : "load from", p, task_pid_nr(current));
	if (op.dir == XUA_DIR_TO_USER)
		WRITE_ONCE(*(u64 __force *)p, op.value);
	else
		op.value = READ_ONCE(*(u64 __force *)p);
	if (copy_to_user(uarg, &op, sizeof(op)))
		return -EFAULT;
	return 0;
}

static long xua_dispatch(struct xua_file *xf, unsigned int cmd, void __user *uarg)
{
	switch (cmd) {
	case XUA_IOC_INFO:
		return xua_ioctl_info(uarg);
	case XUA_IOC_TRANSFER:
		return xua_ioctl_transfer(xf, uarg);
	case XUA_IOC_PRODUCE:
		return xua_ioctl_mmap_op(xf, uarg, true);
	case XUA_IOC_CONSUME:
		return xua_ioctl_mmap_op(xf, uarg, false);
	case XUA_IOC_TOGGLE:
		return xua_ioctl_toggle(uarg);
	case XUA_IOC_SELFTEST:
		return xua_ioctl_selftest(uarg);
	case XUA_IOC_UNSAFE_DEREF:
		return xua_ioctl_unsafe_deref(uarg);
	case XUA_IOC_NULL:
		return 0;
	default:
		return -ENOTTY;
	}
}

static long xua_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct xua_prot_state st;
	long ret = xua_dispatch(file->private_data, cmd, (void __user *)arg);

	/* Protection integrity: nothing here may return to user space with the window open. */
	xua_arch_prot_state(&st);
	if (unlikely(st.flags & XUA_PROT_WINDOW_OPEN)) {
		atomic64_inc(&xua_violations);
		pr_err("user-access window open on return from ioctl 0x%x\n", cmd);
	}
	return ret;
}

static int xua_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct xua_file *xf = file->private_data;
	unsigned long size = vma->vm_end - vma->vm_start;
	unsigned long pgoff = vma->vm_pgoff;
	int ret = -EINVAL;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	mutex_lock(&xf->lock);
	if (!xf->mbuf) {
		/* The first mapping sizes the buffer. */
		if (pgoff || size > mmap_max_bytes)
			goto unlock;
		xf->mbuf = vmalloc_user(size);
		if (!xf->mbuf) {
			ret = -ENOMEM;
			goto unlock;
		}
		xf->mbuf_size = size;
	}
	if (pgoff > (xf->mbuf_size >> PAGE_SHIFT) || size > xf->mbuf_size - (pgoff << PAGE_SHIFT))
		goto unlock;
	ret = remap_vmalloc_range(vma, xf->mbuf, pgoff);
unlock:
	mutex_unlock(&xf->lock);
	return ret;
}

static int xua_open(struct inode *inode, struct file *file)
{
	struct xua_file *xf = kzalloc(sizeof(*xf), GFP_KERNEL);

	if (!xf)
		return -ENOMEM;
	mutex_init(&xf->lock);
	file->private_data = xf;
	return 0;
}

static int xua_release(struct inode *inode, struct file *file)
{
	struct xua_file *xf = file->private_data;

	/* Mappings hold the file: by now none is left. */
	vfree(xf->mbuf);
	vfree(xf->kbuf);
	vfree(xf->kbuf2);
	mutex_destroy(&xf->lock);
	kfree(xf);
	return 0;
}

static const struct file_operations xua_fops = {
	.owner = THIS_MODULE,
	.open = xua_open,
	.release = xua_release,
	.unlocked_ioctl = xua_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = xua_mmap,
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

	if (!mmap_max_bytes || mmap_max_bytes > (256UL << 20)) {
		pr_err("mmap_max_bytes=%lu out of range (1..268435456)\n", mmap_max_bytes);
		return -EINVAL;
	}
	mmap_max_bytes = PAGE_ALIGN(mmap_max_bytes);
	ret = xua_arch_init();
	if (ret)
		return ret;
	ret = misc_register(&xua_misc);
	if (ret) {
		pr_err("misc_register failed: %d\n", ret);
		return ret;
	}
	xua_arch_prot_state(&st);
	pr_info("loaded: arch %s, %s %s%s%s\n", xua_arch_name, xua_guard_name,
		st.flags & XUA_PROT_PRESENT ? "present" : "absent",
		st.flags & XUA_PROT_ENABLED ? ", enabled" : "",
		allow_unsafe_deref ? ", UNSAFE_DEREF allowed" : "");
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
