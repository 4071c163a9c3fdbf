// SPDX-License-Identifier: GPL-2.0
/* xuaccess arm64 backend: PAN state. */
#include <linux/bits.h>
#include <asm/sysreg.h>

#include "xua_arch.h"

/* Architectural fields, spelled out here because header names changed between 6.1 and 6.12. */
#define XUA_ID_AA64MMFR1_PAN_SHIFT 20 /* ID_AA64MMFR1_EL1.PAN, bits [23:20]: 0 = no FEAT_PAN */
#define XUA_SCTLR_EL1_SPAN BIT(23)    /* 0: PSTATE.PAN is set on exception entry to EL1 */
#define XUA_PSTATE_PAN BIT(22)

const u32 xua_arch_id = XUA_ARCH_ARM64;
const char xua_arch_name[] = "arm64";
const char xua_guard_name[] = "PAN";

/* FEAT_PAN, from the ID register: reading ID registers at EL1 is always allowed. */
static bool xua_cpu_has_pan(u64 mmfr1)
{
	return ((mmfr1 >> XUA_ID_AA64MMFR1_PAN_SHIFT) & 0xf) != 0;
}

void xua_arch_prot_state(struct xua_prot_state *st)
{
	u64 mmfr1 = read_sysreg_s(SYS_ID_AA64MMFR1_EL1);
	u64 sctlr = read_sysreg(sctlr_el1);
	u64 pan = 0;

	st->flags = 0;
	if (xua_cpu_has_pan(mmfr1)) {
		st->flags |= XUA_PROT_PRESENT;
		/* MRS PAN (S3_0_C4_C2_3) is UNDEFINED without FEAT_PAN: only read it here. */
		asm volatile("mrs %0, s3_0_c4_c2_3" : "=r"(pan));
		if (!(sctlr & XUA_SCTLR_EL1_SPAN) && (pan & XUA_PSTATE_PAN))
			st->flags |= XUA_PROT_ENABLED;
		if (!(pan & XUA_PSTATE_PAN))
			st->flags |= XUA_PROT_WINDOW_OPEN;
	}
	st->regs[XUA_ARM64_REG_ID_AA64MMFR1] = mmfr1;
	st->regs[XUA_ARM64_REG_SCTLR_EL1] = sctlr;
	st->regs[XUA_ARM64_REG_PAN] = pan;
}
