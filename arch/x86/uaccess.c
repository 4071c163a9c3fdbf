// SPDX-License-Identifier: GPL-2.0
/*
 * xuaccess x86_64 backend: SMAP.
 *
 * The window is EFLAGS.AC, opened by stac and closed by clac. ASM_STAC/ASM_CLAC are the kernel's
 * alternatives: patched to nothing at module load when the CPU lacks SMAP, as in the kernel itself.
 * Every user access carries an exception-table entry, so a fault ends the access cleanly.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <asm/asm.h>
#include <asm/cpufeature.h>
#include <asm/irqflags.h>
#include <asm/processor-flags.h>
#include <asm/smap.h>
#include <asm/special_insns.h>

#include "xua_arch.h"

enum { XUA_X86_WINDOW, XUA_X86_PER_ACCESS };

const u32 xua_arch_id = XUA_ARCH_X86_64;
const char xua_arch_name[] = "x86_64";
const char xua_guard_name[] = "SMAP";
const char *const xua_arch_modes[] = {
	[XUA_X86_WINDOW] = "window",
	[XUA_X86_PER_ACCESS] = "per-access",
};
const unsigned int xua_arch_nr_modes = ARRAY_SIZE(xua_arch_modes);

int xua_arch_init(void)
{
	return 0;
}

u32 xua_arch_mode_flags(unsigned int mode)
{
	return boot_cpu_has(X86_FEATURE_SMAP) ? XUA_MODE_TOGGLES_GUARD : 0;
}

void xua_arch_prot_state(struct xua_prot_state *st)
{
	/* Read the hardware, not the kernel's shadow: CR4 as the CPU has it, RFLAGS right now. */
	unsigned long cr4 = native_read_cr4();
	unsigned long flags = native_save_fl();

	st->flags = 0;
	if (boot_cpu_has(X86_FEATURE_SMAP))
		st->flags |= XUA_PROT_PRESENT;
	if (cr4 & X86_CR4_SMAP)
		st->flags |= XUA_PROT_ENABLED;
	if (flags & X86_EFLAGS_AC)
		st->flags |= XUA_PROT_WINDOW_OPEN;
	st->regs[XUA_X86_REG_CR4] = cr4;
	st->regs[XUA_X86_REG_RFLAGS] = flags;
}

/*
 * One access of 1, 2, 4 or 8 bytes in its own stac/clac window. A fault sets err to -EFAULT and
 * resumes at 2:, so the window is closed on both paths.
 */
#define XUA_X86_LOAD(sfx, mod, val, src, err)						\
	asm volatile(ASM_STAC "\n"							\
		     "1:	mov" sfx " (%[s]), %" mod "[v]\n"				\
		     "2:\n"								\
		     ASM_CLAC "\n"							\
		     _ASM_EXTABLE_TYPE_REG(1b, 2b, EX_TYPE_EFAULT_REG, %[e])		\
		     : [e] "+r"(err), [v] "=q"(val)					\
		     : [s] "r"(src)							\
		     : "memory")

#define XUA_X86_STORE(sfx, mod, val, dst, err)						\
	asm volatile(ASM_STAC "\n"							\
		     "1:	mov" sfx " %" mod "[v], (%[d])\n"				\
		     "2:\n"								\
		     ASM_CLAC "\n"							\
		     _ASM_EXTABLE_TYPE_REG(1b, 2b, EX_TYPE_EFAULT_REG, %[e])		\
		     : [e] "+r"(err)							\
		     : [v] "q"(val), [d] "r"(dst)					\
		     : "memory")

#define XUA_ARCH_LOAD_1(v, s, e) XUA_X86_LOAD("b", "b", v, s, e)
#define XUA_ARCH_LOAD_2(v, s, e) XUA_X86_LOAD("w", "w", v, s, e)
#define XUA_ARCH_LOAD_4(v, s, e) XUA_X86_LOAD("l", "k", v, s, e)
#define XUA_ARCH_LOAD_8(v, s, e) XUA_X86_LOAD("q", "q", v, s, e)
#define XUA_ARCH_STORE_1(v, d, e) XUA_X86_STORE("b", "b", v, d, e)
#define XUA_ARCH_STORE_2(v, d, e) XUA_X86_STORE("w", "w", v, d, e)
#define XUA_ARCH_STORE_4(v, d, e) XUA_X86_STORE("l", "k", v, d, e)
#define XUA_ARCH_STORE_8(v, d, e) XUA_X86_STORE("q", "q", v, d, e)

XUA_DEFINE_SIZED_ACCESSORS()

/* stac/clac around every 8-byte access, then bytes: exact on a fault (the byte loop finds the edge). */
static unsigned long xua_x86_to_user_per_access(void __user *to, const void *from, unsigned long n)
{
	for (; n >= 8; n -= 8, to += 8, from += 8)
		if (xua_arch_put(to, from, 8))
			break;
	for (; n; n--, to++, from++)
		if (xua_arch_put(to, from, 1))
			break;
	return n;
}

static unsigned long xua_x86_from_user_per_access(void *to, const void __user *from, unsigned long n)
{
	for (; n >= 8; n -= 8, to += 8, from += 8)
		if (xua_arch_get(to, from, 8))
			break;
	for (; n; n--, to++, from++)
		if (xua_arch_get(to, from, 1))
			break;
	return n;
}

/* rep movsb inside one stac/clac window; a fault resumes at 2: with rcx = bytes left. */
static __always_inline unsigned long xua_x86_movsb(void *to, const void *from, unsigned long n)
{
	asm volatile(ASM_STAC "\n"
		     "1:	rep movsb\n"
		     "2:\n"
		     ASM_CLAC "\n"
		     _ASM_EXTABLE_UA(1b, 2b)
		     : "+c"(n), "+D"(to), "+S"(from)
		     :
		     : "memory");
	return n;
}

unsigned long xua_arch_copy_to_user(unsigned int mode, void __user *to, const void *from, unsigned long n)
{
	unsigned long left;

	if (mode == XUA_X86_PER_ACCESS)
		return xua_x86_to_user_per_access(to, from, n);
	left = xua_x86_movsb((__force void *)to, from, n);
	/* rep movsb may stop short of the faulting byte: finish byte by byte, as the kernel does. */
	if (left)
		left = xua_x86_to_user_per_access(to + (n - left), from + (n - left), left);
	return left;
}

unsigned long xua_arch_copy_from_user(unsigned int mode, void *to, const void __user *from, unsigned long n)
{
	unsigned long left;

	if (mode == XUA_X86_PER_ACCESS)
		return xua_x86_from_user_per_access(to, from, n);
	left = xua_x86_movsb(to, (__force const void *)from, n);
	if (left)
		left = xua_x86_from_user_per_access(to + (n - left), from + (n - left), left);
	return left;
}

bool xua_arch_toggle(u64 n)
{
	for (; n; n--)
		asm volatile(ASM_STAC "\n" ASM_CLAC ::: "memory");
	return boot_cpu_has(X86_FEATURE_SMAP);
}
