// SPDX-License-Identifier: GPL-2.0
/*
 * xuaccess arm64 backend: PAN.
 *
 * Since 5.11 Linux does not clear PSTATE.PAN for ordinary uaccess: it uses LDTR/STTR, which check EL0
 * permissions, and PAN stays set. The raw copies (copy.S) come in three modes: ldtr, pan-off, toggle.
 * Hardware PAN is switched with the kernel's own alternative (ARM64_HAS_PAN): a NOP where the kernel
 * does not use it (no FEAT_PAN, or CONFIG_ARM64_PAN=n). Under software PAN (CONFIG_ARM64_SW_TTBR0_PAN
 * on a CPU without FEAT_PAN) user memory is reachable only while TTBR0 holds the user page tables:
 * every primitive here installs them around its accesses, as the kernel's uaccess routines do.
 */
#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <asm/cpufeature.h>
#include <asm/sysreg.h>
#include <linux/uaccess.h>

#include "xua_arch.h"

#define XUA_ID_AA64MMFR1_PAN_SHIFT 20 /* ID_AA64MMFR1_EL1.PAN, bits [23:20]: 0 = no FEAT_PAN */
#define XUA_SCTLR_EL1_SPAN BIT(23)    /* 0: PSTATE.PAN is set on exception entry to EL1 */

enum { XUA_A64_LDTR, XUA_A64_PAN_OFF, XUA_A64_TOGGLE };

const u32 xua_arch_id = XUA_ARCH_ARM64;
const char xua_arch_name[] = "arm64";
const char xua_guard_name[] = "PAN";
const char *const xua_arch_modes[] = {
	[XUA_A64_LDTR] = "ldtr",
	[XUA_A64_PAN_OFF] = "pan-off",
	[XUA_A64_TOGGLE] = "toggle",
};
const unsigned int xua_arch_nr_modes = ARRAY_SIZE(xua_arch_modes);

/* copy.S */
unsigned long __xua_a64_to_user_ldtr(void __user *to, const void *from, unsigned long n);
unsigned long __xua_a64_to_user_pan_off(void __user *to, const void *from, unsigned long n);
unsigned long __xua_a64_to_user_toggle(void __user *to, const void *from, unsigned long n);
unsigned long __xua_a64_from_user_ldtr(void *to, const void __user *from, unsigned long n);
unsigned long __xua_a64_from_user_pan_off(void *to, const void __user *from, unsigned long n);
unsigned long __xua_a64_from_user_toggle(void *to, const void __user *from, unsigned long n);

/*
 * Fixed at boot, read once, from the kernel's sanitised copy of ID_AA64MMFR1_EL1: the lowest PAN level
 * over all CPUs. The loading CPU's own register could say PAN where another CPU has none, and MRS PAN
 * on that CPU would be UNDEFINED (INFO may run on any CPU).
 */
static u64 xua_mmfr1;
static bool xua_all_cpus_have_pan;

int xua_arch_init(void)
{
	xua_mmfr1 = read_sanitised_ftr_reg(SYS_ID_AA64MMFR1_EL1);
	xua_all_cpus_have_pan = ((xua_mmfr1 >> XUA_ID_AA64MMFR1_PAN_SHIFT) & 0xf) != 0;
	return 0;
}

u32 xua_arch_mode_flags(unsigned int mode)
{
	return mode != XUA_A64_LDTR && xua_a64_hw_pan() ? XUA_MODE_TOGGLES_GUARD : 0;
}

u64 xua_arch_tick_hz(void)
{
	return read_sysreg(cntfrq_el0);
}

void xua_arch_prot_state(struct xua_prot_state *st)
{
	u64 sctlr = read_sysreg(sctlr_el1);
	u64 pan = 0;

	memset(st, 0, sizeof(*st));
	if (xua_all_cpus_have_pan) {
		st->flags |= XUA_PROT_PRESENT;
		/* MRS PAN (S3_0_C4_C2_3) is UNDEFINED without FEAT_PAN: only where every CPU has it. */
		asm volatile("mrs %0, s3_0_c4_c2_3" : "=r"(pan));
	}
	if (xua_a64_hw_pan()) {
		st->flags |= XUA_PROT_KERNEL_USES;
		if (!(sctlr & XUA_SCTLR_EL1_SPAN) && (pan & XUA_A64_PSTATE_PAN))
			st->flags |= XUA_PROT_ENABLED;
		if (!(pan & XUA_A64_PSTATE_PAN))
			st->flags |= XUA_PROT_WINDOW_OPEN;
	} else if (xua_a64_sw_pan()) {
		st->flags |= XUA_PROT_SOFTWARE | XUA_PROT_KERNEL_USES | XUA_PROT_ENABLED;
		if (xua_a64_ttbr0_user())
			st->flags |= XUA_PROT_WINDOW_OPEN;
		st->regs[XUA_ARM64_REG_TTBR0] = read_sysreg(ttbr0_el1);
	}
	st->regs[XUA_ARM64_REG_ID_AA64MMFR1] = xua_mmfr1;
	st->regs[XUA_ARM64_REG_SCTLR_EL1] = sctlr;
	st->regs[XUA_ARM64_REG_PAN] = pan;
}

/* The user pointer is masked against speculation past access_ok(), as raw_copy_{to,from}_user do. */
unsigned long xua_arch_copy_to_user(unsigned int mode, void __user *to, const void *from, unsigned long n)
{
	bool sw;

	to = __uaccess_mask_ptr(to);
	sw = uaccess_ttbr0_enable();

	switch (mode) {
	case XUA_A64_LDTR:
		n = __xua_a64_to_user_ldtr(to, from, n);
		break;
	case XUA_A64_PAN_OFF:
		n = __xua_a64_to_user_pan_off(to, from, n);
		break;
	default:
		n = __xua_a64_to_user_toggle(to, from, n);
		break;
	}
	if (sw)
		uaccess_ttbr0_disable();
	return n;
}

unsigned long xua_arch_copy_from_user(unsigned int mode, void *to, const void __user *from, unsigned long n)
{
	bool sw;

	from = __uaccess_mask_ptr(from);
	sw = uaccess_ttbr0_enable();

	switch (mode) {
	case XUA_A64_LDTR:
		n = __xua_a64_from_user_ldtr(to, from, n);
		break;
	case XUA_A64_PAN_OFF:
		n = __xua_a64_from_user_pan_off(to, from, n);
		break;
	default:
		n = __xua_a64_from_user_toggle(to, from, n);
		break;
	}
	if (sw)
		uaccess_ttbr0_disable();
	return n;
}

bool xua_arch_toggle(u64 n)
{
	for (; n; n--) {
		__uaccess_disable_hw_pan();
		__uaccess_enable_hw_pan();
	}
	return xua_a64_hw_pan();
}
