/* SPDX-License-Identifier: GPL-2.0 */
/* xuaccess core: what the files of common/ share. */
#ifndef XUA_H
#define XUA_H

#include <linux/mutex.h>
#include <linux/types.h>

#include "xua_arch.h"

#define XUA_MAX_LEN (4UL << 20)           /* bytes per iteration */
#define XUA_MAX_ITERATIONS 1000000000ULL
#define XUA_TIME_BUDGET_NS 1000000000ULL  /* a timed loop stops after about this long */

/* Per open file. `lock` serialises the commands and mmap of one file; files are independent. */
struct xua_file {
	struct mutex lock;
	void *kbuf;          /* XUA_MAX_LEN, the kernel side of every transfer */
	void *kbuf2;         /* XUA_MAX_LEN, second buffer for the memcpy floor */
	void *mbuf;          /* shared with user space by mmap (vmalloc_user), or NULL */
	size_t mbuf_size;
};

int xua_file_buffers(struct xua_file *xf, bool second);

/* Copy arguments in and check their { size, version } header. */
int xua_get_args(void *karg, size_t ksize, const void __user *uarg);

long xua_ioctl_transfer(struct xua_file *xf, void __user *uarg);
long xua_ioctl_mmap_op(struct xua_file *xf, void __user *uarg, bool produce);
long xua_ioctl_toggle(void __user *uarg);
long xua_ioctl_selftest(void __user *uarg);

/*
 * One iteration of a transfer method: moves len bytes between kbuf and the user address, returns the
 * bytes not copied (0 on success). Shared by TRANSFER and SELFTEST so both test the same code.
 */
unsigned long xua_transfer_once(u32 method, u32 dir, u32 mode, void *kbuf, void *kbuf2,
				void __user *u, unsigned long len);

#endif /* XUA_H */
