/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The architecture contract of xuaccess.
 *
 * Every backend in arch/<arch>/ implements what is declared here, and nothing else in the module is
 * arch-specific: common/ includes no <asm/...> header of its own choosing and contains no inline
 * assembly. Adding an architecture means one new arch/ directory implementing this header.
 *
 * Protection state
 *   xua_arch_prot_state() reads the guard the architecture uses to stop the kernel touching user
 *   memory by accident (x86: SMAP, arm64: PAN), from the hardware, at the point of the call:
 *     XUA_PROT_PRESENT      the CPU implements the guard;
 *     XUA_PROT_ENABLED      the kernel enforces it (x86: CR4.SMAP; arm64: PSTATE.PAN was set on
 *                           exception entry, i.e. SCTLR_EL1.SPAN == 0 and PSTATE.PAN == 1 in a syscall);
 *     XUA_PROT_WINDOW_OPEN  user access is open right now (x86: EFLAGS.AC; arm64: PSTATE.PAN == 0).
 *   The raw registers go to regs[] (indices in the uapi header). A backend never executes an
 *   instruction the CPU may not implement (arm64: MRS of PAN without FEAT_PAN is UNDEFINED).
 */
#ifndef XUA_ARCH_H
#define XUA_ARCH_H

#include <linux/types.h>
#include <xuaccess/uapi.h>

struct xua_prot_state {
	u32 flags;                  /* XUA_PROT_* */
	u64 regs[XUA_NR_ARCH_REGS]; /* XUA_<ARCH>_REG_* */
};

extern const u32 xua_arch_id;       /* XUA_ARCH_* */
extern const char xua_arch_name[];  /* "x86_64", "arm64" */
extern const char xua_guard_name[]; /* "SMAP", "PAN" */

void xua_arch_prot_state(struct xua_prot_state *st);

#endif /* XUA_ARCH_H */
