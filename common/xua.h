/* SPDX-License-Identifier: GPL-2.0 */
/* xuaccess core: what the files of common/ share. */
#ifndef XUA_H
#define XUA_H

#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/types.h>

#include "xua_arch.h"

#define XUA_MODULE_VERSION "0.4.0"
#define XUA_MAX_LEN (4UL << 20)           /* bytes per iteration */
#define XUA_MAX_ITERATIONS 1000000000ULL
#define XUA_TIME_BUDGET_NS 1000000000ULL  /* a timed loop stops after about this long */

/* file.c: the state of one open file, and the module's kernel buffers. */
struct xua_file {
	/*
	 * Serialises the timed commands of this file (concurrent loops on one buffer would time each
	 * other). Held across user accesses, which may fault and take mmap_lock: so mmap, which runs under
	 * mmap_lock, must never take it. Lock order: lock -> mmap_lock -> map_lock.
	 */
	struct mutex lock;
	void *kbuf;          /* XUA_MAX_LEN, the kernel side of every transfer; under `lock` */
	void *kbuf2;         /* XUA_MAX_LEN, second buffer for the memcpy floor; under `lock` */
	/* Sizes the shared buffer; taken by mmap and briefly by PRODUCE/CONSUME, never across a uaccess. */
	struct mutex map_lock;
	void *mbuf;          /* shared with user space by mmap, set once, freed at release */
	size_t mbuf_size;
};

extern const struct file_operations xua_fops;
long xua_ioctl(struct file *file, unsigned int cmd, unsigned long arg); /* main.c */
extern unsigned long xua_mmap_max_bytes;
extern unsigned int xua_kbuf_kind;  /* XUA_KBUF_* */
int xua_file_params_init(void);
/* The kernel buffers of a file (kbuf2 only when `second`), allocated on first use. Under xf->lock. */
int xua_file_buffers(struct xua_file *xf, bool second);
/* The shared buffer and its size, or NULL (ENXIO) before the first mmap. */
void *xua_file_mbuf(struct xua_file *xf, size_t *size);

/*
 * Code that runs with the user-access window open, or may: no tracing, no sanitizer or coverage
 * callbacks, no profiling (what the kernel's noinstr gives, without its section).
 */
#define xua_noinstr noinline notrace __no_kcsan __no_sanitize_address __no_profile __no_sanitize_coverage

/* guard.c: the user-access window must be closed after every primitive of the module. */
void xua_window_violation(const char *site); /* count it (the window is closed already) */
void xua_window_control_seen(void);
u64 xua_violations(void);
u64 xua_controls_seen(void);
void xua_measure_window_check(void);
extern u64 xua_window_check_ps;

/* SELFTEST's positive control: plant a leak, ask the detector, close it (guard.c). */
enum xua_control {
	XUA_CONTROL_MISSED,	/* the detector did not see a leak planted on purpose: broken */
	XUA_CONTROL_SEEN,	/* the check saw it and closed it */
	XUA_CONTROL_GATED,	/* x86 without SMAP in use: the readout saw the planted AC, the check
				 * rightly did not count it (it is no window there) */
	XUA_CONTROL_NONE,	/* nothing to plant: no window on this system (arm64 without PAN) */
};
enum xua_control xua_window_control(void);

/*
 * Right after a primitive, before anything that could close the window or sleep (see guard.c): true when
 * the window was open there (a window exists on this system and the hardware says open). It is closed
 * before anything else runs: always-inline, no calls, no memory loads in between.
 */
static __always_inline bool xua_window_leaked(void)
{
	if (likely(!xua_arch_window_live() || !xua_arch_window_is_open()))
		return false;
	xua_arch_window_close();
	return true;
}

static __always_inline void xua_check_window(const char *site)
{
	if (unlikely(xua_window_leaked()))
		xua_window_violation(site);
}

/* The one switch over the sized accessors of the arch (xua_arch_inline.h). */
static __always_inline int xua_get(void *dst, const void __user *src, unsigned int size)
{
	switch (size) {
	case 1:
		return xua_arch_get_1(dst, src);
	case 2:
		return xua_arch_get_2(dst, src);
	case 4:
		return xua_arch_get_4(dst, src);
	case 8:
		return xua_arch_get_8(dst, src);
	}
	return -EINVAL;
}

static __always_inline int xua_put(void __user *dst, const void *src, unsigned int size)
{
	switch (size) {
	case 1:
		return xua_arch_put_1(dst, src);
	case 2:
		return xua_arch_put_2(dst, src);
	case 4:
		return xua_arch_put_4(dst, src);
	case 8:
		return xua_arch_put_8(dst, src);
	}
	return -EINVAL;
}

/* methods.c: the transfer methods, one table. */
struct xua_method {
	const char *name;
	u32 flags;   /* XUA_METHOD_F_* */
	/* Both return the bytes NOT copied; from_user leaves the tail to the caller to zero. */
	unsigned long (*to_user)(u32 mode, void __user *to, const void *from, unsigned long n);
	unsigned long (*from_user)(u32 mode, void *to, const void __user *from, unsigned long n);
};

extern const struct xua_method xua_methods[XUA_NR_METHODS];

/*
 * One iteration of a method: moves len bytes between kbuf and the user address (kbuf2 for the memcpy
 * floor), zeroes the uncopied tail of a copy from user, returns the bytes not copied (0 on success).
 * TRANSFER's timed loop and SELFTEST run the same code.
 */
unsigned long xua_transfer_once(u32 method, u32 dir, u32 mode, void *kbuf, void *kbuf2,
				void __user *u, unsigned long len);

/* transfer.c: the timed commands (ioctl handlers take the kernel copy of their argument). */
struct xua_ioctl_ctx {
	struct xua_file *xf;
	bool wrote_out;   /* the handler started its work: copy the argument back, also on error */
};
long xua_ioctl_transfer(struct xua_ioctl_ctx *c, void *arg);
long xua_ioctl_produce(struct xua_ioctl_ctx *c, void *arg);
long xua_ioctl_consume(struct xua_ioctl_ctx *c, void *arg);
long xua_ioctl_toggle(struct xua_ioctl_ctx *c, void *arg);
/* Cost of one bookkeeping step of a timed loop, measured at load. */
void xua_measure_check_ns(void);
extern u64 xua_check_ns;

/* selftest.c */
long xua_ioctl_selftest(struct xua_ioctl_ctx *c, void *arg);

#endif /* XUA_H */
