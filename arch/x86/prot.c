// SPDX-License-Identifier: GPL-2.0
/* xuaccess x86_64 backend: SMAP state. */
#include <asm/cpufeature.h>
#include <asm/irqflags.h>
#include <asm/processor-flags.h>
#include <asm/special_insns.h>

#include "xua_arch.h"

const u32 xua_arch_id = XUA_ARCH_X86_64;
const char xua_arch_name[] = "x86_64";
const char xua_guard_name[] = "SMAP";

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
