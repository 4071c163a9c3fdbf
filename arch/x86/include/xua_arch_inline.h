/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xuaccess x86_64 backend, inline part: the sized accessors and the window readout (see xua_arch.h).
 *
 * Each access runs in its own stac/clac window. ASM_STAC/ASM_CLAC are the kernel's alternatives:
 * patched to nothing at module load when the kernel does not use SMAP, as in the kernel itself. A
 * fault sets err to -EFAULT and resumes at 2:, so the window is closed on both paths.
 */
#ifndef XUA_ARCH_INLINE_H
#define XUA_ARCH_INLINE_H

#include <linux/errno.h>
#include <asm/asm.h>
#include <asm/cpufeature.h>
#include <asm/irqflags.h>
#include <asm/processor-flags.h>
#include <asm/smap.h>

#define __xua_x86_get(itype, ltype, val, src, err)					\
	asm volatile(ASM_STAC "\n"							\
		     "1:	mov" itype " (%[s]), %" ltype "[v]\n"			\
		     "2:\n"								\
		     ASM_CLAC "\n"							\
		     _ASM_EXTABLE_TYPE_REG(1b, 2b, EX_TYPE_EFAULT_REG, %[e])		\
		     : [e] "+r"(err), [v] "=q"(val)					\
		     : [s] "r"(src)							\
		     : "memory")

#define __xua_x86_put(itype, ltype, val, dst, err)					\
	asm volatile(ASM_STAC "\n"							\
		     "1:	mov" itype " %" ltype "[v], (%[d])\n"			\
		     "2:\n"								\
		     ASM_CLAC "\n"							\
		     _ASM_EXTABLE_TYPE_REG(1b, 2b, EX_TYPE_EFAULT_REG, %[e])		\
		     : [e] "+r"(err)							\
		     : [v] "q"(val), [d] "r"(dst)					\
		     : "memory")

static __always_inline int xua_arch_get_1(void *dst, const void __user *src)
{
	int err = 0;
	u8 v;

	__xua_x86_get("b", "b", v, src, err);
	if (!err)
		*(u8 *)dst = v;
	return err;
}

static __always_inline int xua_arch_get_2(void *dst, const void __user *src)
{
	int err = 0;
	u16 v;

	__xua_x86_get("w", "w", v, src, err);
	if (!err)
		*(u16 *)dst = v;
	return err;
}

static __always_inline int xua_arch_get_4(void *dst, const void __user *src)
{
	int err = 0;
	u32 v;

	__xua_x86_get("l", "k", v, src, err);
	if (!err)
		*(u32 *)dst = v;
	return err;
}

static __always_inline int xua_arch_get_8(void *dst, const void __user *src)
{
	int err = 0;
	u64 v;

	__xua_x86_get("q", "q", v, src, err);
	if (!err)
		*(u64 *)dst = v;
	return err;
}

static __always_inline int xua_arch_put_1(void __user *dst, const void *src)
{
	int err = 0;

	__xua_x86_put("b", "b", *(const u8 *)src, dst, err);
	return err;
}

static __always_inline int xua_arch_put_2(void __user *dst, const void *src)
{
	int err = 0;

	__xua_x86_put("w", "w", *(const u16 *)src, dst, err);
	return err;
}

static __always_inline int xua_arch_put_4(void __user *dst, const void *src)
{
	int err = 0;

	__xua_x86_put("l", "k", *(const u32 *)src, dst, err);
	return err;
}

static __always_inline int xua_arch_put_8(void __user *dst, const void *src)
{
	int err = 0;

	__xua_x86_put("q", "q", *(const u64 *)src, dst, err);
	return err;
}

/*
 * The window exists only where the kernel uses SMAP (static_cpu_has: an alternative, no memory load).
 * Elsewhere EFLAGS.AC in ring 0 means nothing to the kernel: user space sets it and enters through
 * int $0x80, whose ASM_CLAC is then a NOP, and it stays with the CPU across a context switch.
 */
static __always_inline bool xua_arch_window_live(void)
{
	return cpu_feature_enabled(X86_FEATURE_SMAP);
}

/* EFLAGS.AC as the CPU has it now (set only inside stac/clac, or by a leak). */
static __always_inline bool xua_arch_window_is_open(void)
{
	return native_save_fl() & X86_EFLAGS_AC;
}

/*
 * The bare window for the planted leaks: popf, not the alternatives, so that AC is really set also where
 * the kernel does not use SMAP (the readout is then shown to see it, and the check to ignore it).
 */
static __always_inline void __xua_x86_write_flags(unsigned long flags)
{
	asm volatile("push %0; popf" : : "g"(flags) : "memory", "cc");
}

static __always_inline bool xua_arch_window_open(void)
{
	__xua_x86_write_flags(native_save_fl() | X86_EFLAGS_AC);
	return true;
}

static __always_inline void xua_arch_window_close(void)
{
	__xua_x86_write_flags(native_save_fl() & ~X86_EFLAGS_AC);
}

#endif /* XUA_ARCH_INLINE_H */
