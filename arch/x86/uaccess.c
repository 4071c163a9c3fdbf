// SPDX-License-Identifier: GPL-2.0
/*
 * xuaccess x86_64 backend: SMAP.
 *
 * The window is EFLAGS.AC, opened by stac and closed by clac. ASM_STAC/ASM_CLAC are the kernel's
 * alternatives: patched to nothing at module load when the kernel does not use SMAP (CPU without it,
 * clearcpuid=smap, or CONFIG_X86_SMAP=n), as in the kernel itself. Every user access carries an
 * exception-table entry, so a fault ends the access cleanly.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <asm/cpufeature.h>
#include <asm/processor.h>
#include <asm/special_insns.h>
#include <asm/tsc.h>

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

/* Fixed at boot, read once: CPUID traps to the hypervisor under KVM. */
static bool xua_cpu_has_smap;    /* CPUID.(EAX=7,ECX=0):EBX.SMAP[bit 20] */
static bool xua_kernel_uses_smap; /* the stac/clac alternatives are live */

int xua_arch_init(void)
{
	xua_cpu_has_smap = boot_cpu_data.cpuid_level >= 7 && (cpuid_ebx(7) & BIT(20));
	xua_kernel_uses_smap = cpu_feature_enabled(X86_FEATURE_SMAP);
	return 0;
}

u32 xua_arch_mode_flags(unsigned int mode)
{
	return xua_kernel_uses_smap ? XUA_MODE_TOGGLES_GUARD : 0;
}

u64 xua_arch_tick_hz(void)
{
	return (u64)tsc_khz * 1000;
}

void xua_arch_prot_state(struct xua_prot_state *st)
{
	/* Read the hardware, not the kernel's shadow: CR4 as the CPU has it, RFLAGS right now. */
	unsigned long cr4 = native_read_cr4();
	unsigned long flags = native_save_fl();

	memset(st, 0, sizeof(*st));
	if (xua_cpu_has_smap)
		st->flags |= XUA_PROT_PRESENT;
	if (xua_kernel_uses_smap)
		st->flags |= XUA_PROT_KERNEL_USES;
	if (cr4 & X86_CR4_SMAP)
		st->flags |= XUA_PROT_ENABLED;
	/* AC where the kernel does not use SMAP is user space's (int $0x80), not a window. */
	if (xua_kernel_uses_smap && (flags & X86_EFLAGS_AC))
		st->flags |= XUA_PROT_WINDOW_OPEN;
	st->regs[XUA_X86_REG_CR4] = cr4;
	st->regs[XUA_X86_REG_RFLAGS] = flags;
}

/* stac/clac around every 8-byte access, then bytes: exact on a fault (the byte loop finds the edge). */
static unsigned long xua_x86_to_user_per_access(void __user *to, const void *from, unsigned long n)
{
	for (; n >= 8; n -= 8, to += 8, from += 8)
		if (xua_arch_put_8(to, from))
			break;
	for (; n; n--, to++, from++)
		if (xua_arch_put_1(to, from))
			break;
	return n;
}

static unsigned long xua_x86_from_user_per_access(void *to, const void __user *from, unsigned long n)
{
	for (; n >= 8; n -= 8, to += 8, from += 8)
		if (xua_arch_get_8(to, from))
			break;
	for (; n; n--, to++, from++)
		if (xua_arch_get_1(to, from))
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
	return xua_kernel_uses_smap;
}

