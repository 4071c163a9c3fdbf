// SPDX-License-Identifier: GPL-2.0
/*
 * xuaccess core: the state of one open file — its kernel buffers and the buffer it shares with user
 * space by mmap — and the module parameters that size them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/version.h>
#include <linux/vmalloc.h>

#include "xua.h"

unsigned long xua_mmap_max_bytes = 4UL << 20;
module_param_named(mmap_max_bytes, xua_mmap_max_bytes, ulong, 0444);
MODULE_PARM_DESC(mmap_max_bytes, "Largest mmap buffer per open file, bytes (default 4 MiB, at most 256 MiB)");

static char *kbuf = "vmalloc";
module_param(kbuf, charp, 0444);
MODULE_PARM_DESC(kbuf, "Kernel buffers: vmalloc (default: 4 KiB pages in the vmalloc area) or linear "
		 "(physically contiguous pages used through the linear map, as kmalloc memory is)");
unsigned int xua_kbuf_kind = XUA_KBUF_VMALLOC;

int xua_file_params_init(void)
{
	if (!xua_mmap_max_bytes || xua_mmap_max_bytes > (256UL << 20)) {
		pr_err("mmap_max_bytes=%lu out of range (1..268435456)\n", xua_mmap_max_bytes);
		return -EINVAL;
	}
	xua_mmap_max_bytes = PAGE_ALIGN(xua_mmap_max_bytes);
	if (!strcmp(kbuf, "vmalloc")) {
		xua_kbuf_kind = XUA_KBUF_VMALLOC;
	} else if (!strcmp(kbuf, "linear")) {
		xua_kbuf_kind = XUA_KBUF_LINEAR;
	} else {
		pr_err("kbuf=%s: expected vmalloc or linear\n", kbuf);
		return -EINVAL;
	}
	return 0;
}

/*
 * Zeroed (no stale kernel memory can reach user space through a transfer) and charged to the caller's
 * memory cgroup. Linear buffers come from the page allocator in one physically contiguous piece
 * (order 10 for 4 MiB): they may fail on a fragmented machine, which ENOMEM reports.
 */
static void *xua_kbuf_alloc(void)
{
	if (xua_kbuf_kind == XUA_KBUF_LINEAR)
		return alloc_pages_exact(XUA_MAX_LEN, GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN);
	return __vmalloc(XUA_MAX_LEN, GFP_KERNEL_ACCOUNT | __GFP_ZERO);
}

static void xua_kbuf_free(void *p)
{
	if (!p)
		return;
	if (is_vmalloc_addr(p))
		vfree(p);
	else
		free_pages_exact(p, XUA_MAX_LEN);
}

int xua_file_buffers(struct xua_file *xf, bool second)
{
	lockdep_assert_held(&xf->lock);
	if (!xf->kbuf)
		xf->kbuf = xua_kbuf_alloc();
	if (second && !xf->kbuf2)
		xf->kbuf2 = xua_kbuf_alloc();
	return xf->kbuf && (!second || xf->kbuf2) ? 0 : -ENOMEM;
}

void *xua_file_mbuf(struct xua_file *xf, size_t *size)
{
	void *p;

	mutex_lock(&xf->map_lock);
	p = xf->mbuf;
	*size = xf->mbuf_size;
	mutex_unlock(&xf->map_lock);
	return p;
}

static void xua_vma_set_flags(struct vm_area_struct *vma)
{
	/* Data, never code: no PROT_EXEC now or by a later mprotect; fixed size; not in core dumps. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_mod(vma, VM_DONTEXPAND | VM_DONTDUMP, VM_MAYEXEC);
#else
	vma->vm_flags = (vma->vm_flags & ~VM_MAYEXEC) | VM_DONTEXPAND | VM_DONTDUMP;
#endif
}

/*
 * A page of the shared buffer whose page-table entry is gone (MADV_DONTNEED zaps them; the buffer stays):
 * map the same page again. The buffer is set before the first mapping exists and never changes.
 */
static vm_fault_t xua_vm_fault(struct vm_fault *vmf)
{
	struct xua_file *xf = vmf->vma->vm_file->private_data;
	struct page *page;

	if (vmf->pgoff >= xf->mbuf_size >> PAGE_SHIFT)
		return VM_FAULT_SIGBUS;
	page = vmalloc_to_page(xf->mbuf + (vmf->pgoff << PAGE_SHIFT));
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct xua_vm_ops = {
	.fault = xua_vm_fault,
};

/*
 * Runs with the caller's mmap_lock held for writing: takes only map_lock, which nothing holds across a
 * user access (holding xf->lock here deadlocked against a TRANSFER faulting on its user buffer).
 * MAP_SHARED only: VM_MAYSHARE (VM_SHARED is cleared for a shared mapping of a read-only fd).
 */
static int xua_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct xua_file *xf = file->private_data;
	unsigned long size = vma->vm_end - vma->vm_start;
	unsigned long pgoff = vma->vm_pgoff;
	int ret = -EINVAL;

	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	mutex_lock(&xf->map_lock);
	if (!xf->mbuf) {
		/* The first mapping sizes the buffer. */
		if (pgoff || size > xua_mmap_max_bytes)
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
	/* The kernel's idiom for a vmalloc_user() buffer; the fault handler maps pages zapped later. */
	ret = remap_vmalloc_range(vma, xf->mbuf, pgoff);
	if (ret)
		goto unlock;
	xua_vma_set_flags(vma);
	vma->vm_ops = &xua_vm_ops;
unlock:
	mutex_unlock(&xf->map_lock);
	return ret;
}

static int xua_open(struct inode *inode, struct file *file)
{
	struct xua_file *xf = kzalloc(sizeof(*xf), GFP_KERNEL_ACCOUNT);

	if (!xf)
		return -ENOMEM;
	mutex_init(&xf->lock);
	mutex_init(&xf->map_lock);
	file->private_data = xf;
	return 0;
}

static int xua_release(struct inode *inode, struct file *file)
{
	struct xua_file *xf = file->private_data;

	/* Mappings hold the file and no ioctl runs: by now nothing uses the buffers. */
	vfree(xf->mbuf);
	xua_kbuf_free(xf->kbuf);
	xua_kbuf_free(xf->kbuf2);
	mutex_destroy(&xf->map_lock);
	mutex_destroy(&xf->lock);
	kfree(xf);
	return 0;
}

const struct file_operations xua_fops = {
	.owner = THIS_MODULE,
	.open = xua_open,
	.release = xua_release,
	.unlocked_ioctl = xua_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = xua_mmap,
	.llseek = noop_llseek,
};
