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
#include <asm/cpufeature.h>
#include <asm/sysreg.h>
#include <linux/uaccess.h>

/*
 * Whether the kernel uses hardware PAN / software (TTBR0) PAN on this system: what the kernel's
 * system_uses_hw_pan() / system_uses_ttbr0_pan() answer once the capabilities are final (they are before
 * any module loads), written with the always-inline cpus_have_final_cap(): a patched branch, no memory
 * load and no call. The kernel's two helpers are plain inlines that a debug build (KASAN, UBSAN) leaves
 * out of line, which put a call between the control's open and close (the module-object test saw it).
 */
static __always_inline bool xua_a64_hw_pan(void)
{
	return IS_ENABLED(CONFIG_ARM64_PAN) && cpus_have_final_cap(ARM64_HAS_PAN);
}

static __always_inline bool xua_a64_sw_pan(void)
{
	return IS_ENABLED(CONFIG_ARM64_SW_TTBR0_PAN) && !xua_a64_hw_pan();
}

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

/*
 * One access inside the software-PAN window (nothing where the kernel does not use software PAN): only
 * the LDTR/STTR runs with TTBR0 holding the user tables; the kernel side is read before and written
 * after, as the kernel's __get_user/__put_user do. The user pointer is masked against speculation past
 * access_ok() first, as get_user/put_user do (uaccess_mask_ptr()).
 */
#define __xua_a64_get_n(insn, reg, type, dst, src)					\
	({										\
		const void __user *__p = __uaccess_mask_ptr(src);			\
		unsigned long __v;							\
		int __e = 0;								\
		bool __sw = uaccess_ttbr0_enable();					\
		__xua_a64_get(insn, reg, __v, __p, __e);				\
		if (__sw)								\
			uaccess_ttbr0_disable();					\
		if (!__e)								\
			*(type *)(dst) = (type)__v;					\
		__e;									\
	})

#define __xua_a64_put_n(insn, reg, type, dst, src)					\
	({										\
		void __user *__p = __uaccess_mask_ptr(dst);				\
		type __v = *(const type *)(src);					\
		int __e = 0;								\
		bool __sw = uaccess_ttbr0_enable();					\
		__xua_a64_put(insn, reg, __v, __p, __e);				\
		if (__sw)								\
			uaccess_ttbr0_disable();					\
		__e;									\
	})

#define xua_arch_get_1(d, s) __xua_a64_get_n("ldtrb", "%w", u8, d, s)
#define xua_arch_get_2(d, s) __xua_a64_get_n("ldtrh", "%w", u16, d, s)
#define xua_arch_get_4(d, s) __xua_a64_get_n("ldtr", "%w", u32, d, s)
#define xua_arch_get_8(d, s) __xua_a64_get_n("ldtr", "%x", u64, d, s)
#define xua_arch_put_1(d, s) __xua_a64_put_n("sttrb", "%w", u8, d, s)
#define xua_arch_put_2(d, s) __xua_a64_put_n("sttrh", "%w", u16, d, s)
#define xua_arch_put_4(d, s) __xua_a64_put_n("sttr", "%w", u32, d, s)
#define xua_arch_put_8(d, s) __xua_a64_put_n("sttr", "%x", u64, d, s)

#define XUA_A64_PSTATE_PAN BIT(22)

/* TTBR0_EL1 holds the user page tables (software PAN's window), not the reserved zero table. */
static __always_inline bool xua_a64_ttbr0_user(void)
{
	u64 ttbr0 = read_sysreg(ttbr0_el1) & ~TTBR_ASID_MASK;
	u64 ttbr1 = read_sysreg(ttbr1_el1) & ~TTBR_ASID_MASK;

	return ttbr0 != ttbr1 - RESERVED_SWAPPER_OFFSET;
}

static __always_inline bool xua_arch_window_live(void)
{
	return xua_a64_hw_pan() || xua_a64_sw_pan();
}

static __always_inline bool xua_arch_window_is_open(void)
{
	u64 pan;

	if (xua_a64_hw_pan()) {
		/* MRS PAN (S3_0_C4_C2_3): every CPU has FEAT_PAN when the kernel uses it, else UNDEFINED. */
		asm volatile("mrs %0, s3_0_c4_c2_3" : "=r"(pan));
		return !(pan & XUA_A64_PSTATE_PAN);
	}
	return xua_a64_sw_pan() && xua_a64_ttbr0_user();
}

/*
 * The planted leak and its close: MSR PAN itself (not the kernel's NOP-or-MSR alternative, so that the
 * instruction is there to see in the object), only where the kernel uses hardware PAN. Under software
 * PAN, the kernel's TTBR0 switch (its irq save/restore is traced on lockdep kernels, as in the kernel's
 * own uaccess_enable).
 */
static __always_inline bool xua_arch_window_open(void)
{
	if (xua_a64_hw_pan()) {
		asm volatile(SET_PSTATE_PAN(0) : : : "memory");
		return true;
	}
	return uaccess_ttbr0_enable();
}

static __always_inline void xua_arch_window_close(void)
{
	if (xua_a64_hw_pan())
		asm volatile(SET_PSTATE_PAN(1) : : : "memory");
	else
		uaccess_ttbr0_disable();
}

#endif /* XUA_ARCH_INLINE_H */
