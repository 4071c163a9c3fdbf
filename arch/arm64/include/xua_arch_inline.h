/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xuaccess arm64 backend, inline part: the sized accessors and the window readout (see xua_arch.h).
 *
 * The accessors use LDTR/STTR as the kernel's get_user/put_user do since 5.11: PAN stays set and the
 * access is checked with EL0 permissions. Under software PAN (CONFIG_ARM64_SW_TTBR0_PAN on a CPU
 * without FEAT_PAN) the user page tables are installed around the access, as the kernel does.
 */
#ifndef XUA_ARCH_INLINE_H
#define XUA_ARCH_INLINE_H

#include <linux/errno.h>
#include <asm/asm-extable.h>
#include <asm/sysreg.h>
#include <linux/uaccess.h>

/* Fixed at module load (uaccess.c): the kernel uses hardware PAN / software (TTBR0) PAN here. */
extern bool xua_a64_hw_pan, xua_a64_sw_pan;

#define __xua_a64_get(insn, reg, val, src, err)						\
	asm volatile("1:	" insn "	" reg "[v], [%[s]]\n"				\
		     "2:\n"								\
		     _ASM_EXTABLE_UACCESS_ERR(1b, 2b, %w[e])				\
		     : [e] "+r"(err), [v] "=&r"(val)					\
		     : [s] "r"(src)							\
		     : "memory")

#define __xua_a64_put(insn, reg, val, dst, err)						\
	asm volatile("1:	" insn "	" reg "[v], [%[d]]\n"				\
		     "2:\n"								\
		     _ASM_EXTABLE_UACCESS_ERR(1b, 2b, %w[e])				\
		     : [e] "+r"(err)							\
		     : [v] "r"(val), [d] "r"(dst)					\
		     : "memory")

/* Wrap one access in the software-PAN window (nothing where the kernel does not use software PAN). */
#define __xua_a64_sw(access)								\
	({										\
		bool __sw = uaccess_ttbr0_enable();					\
		int __e = access;							\
		if (__sw)								\
			uaccess_ttbr0_disable();					\
		__e;									\
	})

static __always_inline int __xua_a64_get_1(void *dst, const void __user *src)
{
	unsigned long v;
	int err = 0;

	__xua_a64_get("ldtrb", "%w", v, src, err);
	if (!err)
		*(u8 *)dst = v;
	return err;
}

static __always_inline int __xua_a64_get_2(void *dst, const void __user *src)
{
	unsigned long v;
	int err = 0;

	__xua_a64_get("ldtrh", "%w", v, src, err);
	if (!err)
		*(u16 *)dst = v;
	return err;
}

static __always_inline int __xua_a64_get_4(void *dst, const void __user *src)
{
	unsigned long v;
	int err = 0;

	__xua_a64_get("ldtr", "%w", v, src, err);
	if (!err)
		*(u32 *)dst = v;
	return err;
}

static __always_inline int __xua_a64_get_8(void *dst, const void __user *src)
{
	unsigned long v;
	int err = 0;

	__xua_a64_get("ldtr", "%x", v, src, err);
	if (!err)
		*(u64 *)dst = v;
	return err;
}

static __always_inline int __xua_a64_put_1(void __user *dst, const void *src)
{
	int err = 0;

	__xua_a64_put("sttrb", "%w", *(const u8 *)src, dst, err);
	return err;
}

static __always_inline int __xua_a64_put_2(void __user *dst, const void *src)
{
	int err = 0;

	__xua_a64_put("sttrh", "%w", *(const u16 *)src, dst, err);
	return err;
}

static __always_inline int __xua_a64_put_4(void __user *dst, const void *src)
{
	int err = 0;

	__xua_a64_put("sttr", "%w", *(const u32 *)src, dst, err);
	return err;
}

static __always_inline int __xua_a64_put_8(void __user *dst, const void *src)
{
	int err = 0;

	__xua_a64_put("sttr", "%x", *(const u64 *)src, dst, err);
	return err;
}

#define xua_arch_get_1(d, s) __xua_a64_sw(__xua_a64_get_1(d, s))
#define xua_arch_get_2(d, s) __xua_a64_sw(__xua_a64_get_2(d, s))
#define xua_arch_get_4(d, s) __xua_a64_sw(__xua_a64_get_4(d, s))
#define xua_arch_get_8(d, s) __xua_a64_sw(__xua_a64_get_8(d, s))
#define xua_arch_put_1(d, s) __xua_a64_sw(__xua_a64_put_1(d, s))
#define xua_arch_put_2(d, s) __xua_a64_sw(__xua_a64_put_2(d, s))
#define xua_arch_put_4(d, s) __xua_a64_sw(__xua_a64_put_4(d, s))
#define xua_arch_put_8(d, s) __xua_a64_sw(__xua_a64_put_8(d, s))

#define XUA_A64_PSTATE_PAN BIT(22)

/* TTBR0_EL1 holds the user page tables (software PAN's window), not the reserved zero table. */
static __always_inline bool xua_a64_ttbr0_user(void)
{
	u64 ttbr0 = read_sysreg(ttbr0_el1) & ~TTBR_ASID_MASK;
	u64 ttbr1 = read_sysreg(ttbr1_el1) & ~TTBR_ASID_MASK;

	return ttbr0 != ttbr1 - RESERVED_SWAPPER_OFFSET;
}

static __always_inline bool xua_arch_window_is_open(void)
{
	u64 pan;

	if (xua_a64_hw_pan) {
		/* MRS PAN (S3_0_C4_C2_3): only where the CPU has FEAT_PAN, else UNDEFINED. */
		asm volatile("mrs %0, s3_0_c4_c2_3" : "=r"(pan));
		return !(pan & XUA_A64_PSTATE_PAN);
	}
	return xua_a64_sw_pan && xua_a64_ttbr0_user();
}

#endif /* XUA_ARCH_INLINE_H */
