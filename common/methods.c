// SPDX-License-Identifier: GPL-2.0
/*
 * xuaccess core: the transfer methods, one table (names and flags for INFO, functions for TRANSFER and
 * SELFTEST). Each method moves n bytes between a kernel buffer and user memory and returns the bytes
 * NOT copied; a copy from user leaves the uncopied tail to xua_transfer_once() to zero.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/string.h>
#include <linux/uaccess.h>

#include "xua.h"

/* get_put: the kernel's put_user/get_user per 8-byte word, then bytes. */
static unsigned long xua_get_put_to(u32 mode, void __user *u, const void *k, unsigned long len)
{
	unsigned long i = 0;

	for (; i + 8 <= len; i += 8)
		if (put_user(*(const u64 *)(k + i), (u64 __user *)(u + i)))
			return len - i;
	for (; i < len; i++)
		if (put_user(*(const u8 *)(k + i), (u8 __user *)(u + i)))
			return len - i;
	return 0;
}

static unsigned long xua_get_put_from(u32 mode, void *k, const void __user *u, unsigned long len)
{
	unsigned long i = 0;

	for (; i + 8 <= len; i += 8)
		if (get_user(*(u64 *)(k + i), (const u64 __user *)(u + i)))
			return len - i;
	for (; i < len; i++)
		if (get_user(*(u8 *)(k + i), (const u8 __user *)(u + i)))
			return len - i;
	return 0;
}

/* copy: the kernel's full path. */
static unsigned long xua_copy_to(u32 mode, void __user *u, const void *k, unsigned long len)
{
	return copy_to_user(u, k, len);
}

static unsigned long xua_copy_from(u32 mode, void *k, const void __user *u, unsigned long len)
{
	return copy_from_user(k, u, len);
}

/* user_access: one user_access_begin() window, unsafe_put_user/unsafe_get_user per word. */
static unsigned long xua_user_access_to(u32 mode, void __user *u, const void *k, unsigned long len)
{
	unsigned long i = 0;

	if (!user_access_begin(u, len))
		return len;
	for (; i + 8 <= len; i += 8)
		unsafe_put_user(*(const u64 *)(k + i), (u64 __user *)(u + i), fault);
	for (; i < len; i++)
		unsafe_put_user(*(const u8 *)(k + i), (u8 __user *)(u + i), fault);
	user_access_end();
	return 0;
fault:
	user_access_end();
	return len - i;
}

static unsigned long xua_user_access_from(u32 mode, void *k, const void __user *u, unsigned long len)
{
	unsigned long i = 0;

	if (!user_access_begin(u, len))
		return len;
	for (; i + 8 <= len; i += 8)
		unsafe_get_user(*(u64 *)(k + i), (const u64 __user *)(u + i), fault);
	for (; i < len; i++)
		unsafe_get_user(*(u8 *)(k + i), (const u8 __user *)(u + i), fault);
	user_access_end();
	return 0;
fault:
	user_access_end();
	return len - i;
}

/*
 * The module's own primitives, each followed by the window check (guard.c): a leak is seen after the
 * primitive that made it, before the next one's own close could hide it.
 */
static __always_inline unsigned long xua_checked_copy_to(u32 mode, void __user *u, const void *k,
							 unsigned long len)
{
	unsigned long left = xua_arch_copy_to_user(mode, u, k, len);

	xua_check_window("a raw copy to user");
	return left;
}

static __always_inline unsigned long xua_checked_copy_from(u32 mode, void *k, const void __user *u,
							   unsigned long len)
{
	unsigned long left = xua_arch_copy_from_user(mode, k, u, len);

	xua_check_window("a raw copy from user");
	return left;
}

static __always_inline int xua_checked_put(void __user *u, const void *k, unsigned int size)
{
	int err = xua_put(u, k, size);

	xua_check_window("a sized put");
	return err;
}

static __always_inline int xua_checked_get(void *k, const void __user *u, unsigned int size)
{
	int err = xua_get(k, u, size);

	xua_check_window("a sized get");
	return err;
}

/* raw: the module's own raw copy in an arch mode, after access_ok() as the contract requires. */
static unsigned long xua_raw_to(u32 mode, void __user *u, const void *k, unsigned long len)
{
	if (!access_ok(u, len))
		return len;
	return xua_checked_copy_to(mode, u, k, len);
}

static unsigned long xua_raw_from(u32 mode, void *k, const void __user *u, unsigned long len)
{
	if (!access_ok(u, len))
		return len;
	return xua_checked_copy_from(mode, k, u, len);
}

/* raw_get_put: the module's own sized accessors per word, then bytes. */
static unsigned long xua_raw_get_put_to(u32 mode, void __user *u, const void *k, unsigned long len)
{
	unsigned long i = 0;

	if (!access_ok(u, len))
		return len;
	for (; i + 8 <= len; i += 8)
		if (xua_checked_put(u + i, k + i, 8))
			return len - i;
	for (; i < len; i++)
		if (xua_checked_put(u + i, k + i, 1))
			return len - i;
	return 0;
}

static unsigned long xua_raw_get_put_from(u32 mode, void *k, const void __user *u, unsigned long len)
{
	unsigned long i = 0;

	if (!access_ok(u, len))
		return len;
	for (; i + 8 <= len; i += 8)
		if (xua_checked_get(k + i, u + i, 8))
			return len - i;
	for (; i < len; i++)
		if (xua_checked_get(k + i, u + i, 1))
			return len - i;
	return 0;
}

/* kernel_raw: the kernel's arch routine, without might_fault() and the hardened-usercopy check. */
static unsigned long xua_kernel_raw_to(u32 mode, void __user *u, const void *k, unsigned long len)
{
	if (!access_ok(u, len))
		return len;
	return raw_copy_to_user(u, k, len);
}

static unsigned long xua_kernel_raw_from(u32 mode, void *k, const void __user *u, unsigned long len)
{
	if (!access_ok(u, len))
		return len;
	return raw_copy_from_user(k, u, len);
}

#define XUA_KERNEL XUA_METHOD_F_KERNEL
const struct xua_method xua_methods[XUA_NR_METHODS] = {
	[XUA_METHOD_GET_PUT] = { "get_put", XUA_METHOD_F_WORD | XUA_KERNEL, xua_get_put_to, xua_get_put_from },
	[XUA_METHOD_COPY] = { "copy", XUA_KERNEL, xua_copy_to, xua_copy_from },
	[XUA_METHOD_USER_ACCESS] = { "user_access", XUA_METHOD_F_WORD | XUA_KERNEL, xua_user_access_to,
				     xua_user_access_from },
	[XUA_METHOD_RAW] = { "raw", XUA_METHOD_F_MODES, xua_raw_to, xua_raw_from },
	[XUA_METHOD_RAW_GET_PUT] = { "raw_get_put", XUA_METHOD_F_WORD, xua_raw_get_put_to, xua_raw_get_put_from },
	[XUA_METHOD_MEMCPY] = { "memcpy", XUA_METHOD_F_NO_USER | XUA_KERNEL, NULL, NULL },
	[XUA_METHOD_KERNEL_RAW] = { "kernel_raw", XUA_KERNEL, xua_kernel_raw_to, xua_kernel_raw_from },
};

unsigned long xua_transfer_once(u32 method, u32 dir, u32 mode, void *kbuf, void *kbuf2,
				void __user *u, unsigned long len)
{
	const struct xua_method *m = &xua_methods[method];
	unsigned long left;

	if (m->flags & XUA_METHOD_F_NO_USER) {
		if (dir == XUA_DIR_TO_USER)
			memcpy(kbuf2, kbuf, len);
		else
			memcpy(kbuf, kbuf2, len);
		barrier(); /* every iteration really copies */
		return 0;
	}
	if (dir == XUA_DIR_TO_USER)
		return m->to_user(mode, u, kbuf, len);
	left = m->from_user(mode, kbuf, u, len);
	/* No method zero-pads but the kernel's copy_from_user: the caller does, as _copy_from_user() does. */
	if (unlikely(left))
		memset(kbuf + (len - left), 0, left);
	return left;
}
