// SPDX-License-Identifier: GPL-2.0
/*
 * xuaccess arm64 backend: PAN.
 *
 * Since 5.11 Linux does not clear PSTATE.PAN for ordinary uaccess: it uses LDTR/STTR, which check EL0
 * permissions, and PAN stays set. The three modes of the raw copy:
 *   ldtr     LDTR/STTR with PAN left on (what the kernel does today);
 *   pan-off  PAN cleared around the whole copy, ordinary LDP/STP (the speed-oriented proposal);
 *   toggle   PAN cleared and set around every 8-byte access (the 4.3-era kernel).
 * PAN is switched with the kernel's own alternative (ARM64_HAS_PAN): a NOP on CPUs without FEAT_PAN,
 * where MSR PAN would be UNDEFINED. Every user access carries an exception-table entry; fixups set PAN
 * again before leaving.
 */
#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <asm/alternative.h>
#include <asm/asm-extable.h>
#include <asm/cpufeature.h>
#include <asm/sysreg.h>

#include "xua_arch.h"

/* Architectural fields, spelled out here because header names changed between 6.1 and 6.12. */
#define XUA_ID_AA64MMFR1_PAN_SHIFT 20 /* ID_AA64MMFR1_EL1.PAN, bits [23:20]: 0 = no FEAT_PAN */
#define XUA_SCTLR_EL1_SPAN BIT(23)    /* 0: PSTATE.PAN is set on exception entry to EL1 */
#define XUA_PSTATE_PAN BIT(22)

#define XUA_PAN(x) ALTERNATIVE("nop", SET_PSTATE_PAN(x), ARM64_HAS_PAN, CONFIG_ARM64_PAN) "\n"

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

static bool xua_has_pan;

int xua_arch_init(void)
{
	u64 mmfr1 = read_sysreg_s(SYS_ID_AA64MMFR1_EL1);

	/* FEAT_PAN from the ID register (readable at EL1 on every ARMv8 CPU). */
	xua_has_pan = ((mmfr1 >> XUA_ID_AA64MMFR1_PAN_SHIFT) & 0xf) != 0;
	return 0;
}

u32 xua_arch_mode_flags(unsigned int mode)
{
	return mode != XUA_A64_LDTR && xua_has_pan ? XUA_MODE_TOGGLES_GUARD : 0;
}

void xua_arch_prot_state(struct xua_prot_state *st)
{
	u64 mmfr1 = read_sysreg_s(SYS_ID_AA64MMFR1_EL1);
	u64 sctlr = read_sysreg(sctlr_el1);
	u64 pan = 0;

	st->flags = 0;
	if (xua_has_pan) {
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

/* One access of 1, 2, 4 or 8 bytes with LDTR/STTR: a fault sets err to -EFAULT and resumes at 2:. */
#define XUA_A64_LOAD(insn, reg, val, src, err)						\
	asm volatile("1:	" insn "	" reg "[v], [%[s]]\n"				\
		     "2:\n"								\
		     _ASM_EXTABLE_UACCESS_ERR(1b, 2b, %w[e])				\
		     : [e] "+r"(err), [v] "=&r"(val)					\
		     : [s] "r"(src)							\
		     : "memory")

#define XUA_A64_STORE(insn, reg, val, dst, err)						\
	asm volatile("1:	" insn "	" reg "[v], [%[d]]\n"				\
		     "2:\n"								\
		     _ASM_EXTABLE_UACCESS_ERR(1b, 2b, %w[e])				\
		     : [e] "+r"(err)							\
		     : [v] "r"(val), [d] "r"(dst)					\
		     : "memory")

int xua_arch_get(void *dst, const void __user *src, unsigned int size)
{
	unsigned long v = 0;
	int err = 0;

	switch (size) {
	case 1:
		XUA_A64_LOAD("ldtrb", "%w", v, src, err);
		if (!err)
			*(u8 *)dst = v;
		break;
	case 2:
		XUA_A64_LOAD("ldtrh", "%w", v, src, err);
		if (!err)
			*(u16 *)dst = v;
		break;
	case 4:
		XUA_A64_LOAD("ldtr", "%w", v, src, err);
		if (!err)
			*(u32 *)dst = v;
		break;
	case 8:
		XUA_A64_LOAD("ldtr", "%x", v, src, err);
		if (!err)
			*(u64 *)dst = v;
		break;
	default:
		return -EINVAL;
	}
	return err;
}

int xua_arch_put(void __user *dst, const void *src, unsigned int size)
{
	int err = 0;

	switch (size) {
	case 1:
		XUA_A64_STORE("sttrb", "%w", *(const u8 *)src, dst, err);
		break;
	case 2:
		XUA_A64_STORE("sttrh", "%w", *(const u16 *)src, dst, err);
		break;
	case 4:
		XUA_A64_STORE("sttr", "%w", *(const u32 *)src, dst, err);
		break;
	case 8:
		XUA_A64_STORE("sttr", "%x", *(const u64 *)src, dst, err);
		break;
	default:
		return -EINVAL;
	}
	return err;
}

/*
 * The copy loop shared by every mode and direction: `word` moves WSZ bytes and `byte` one byte, the
 * user-side instruction of each labelled 10: (word) and 11: (byte). `enter`/`leave` wrap the whole
 * copy, `fix` runs on a fault before resuming. A word that faults is retried byte by byte, so the
 * result is exact: every byte before the first faulting one is copied. Both pointers advance only
 * after an access pair succeeded, so fixups never rewind.
 */
#define XUA_A64_COPY(enter, leave, wsz, word, byte, fix)				\
	asm volatile(enter								\
		     "	cmp	%[n], #" #wsz "\n"					\
		     "	b.lo	2f\n"							\
		     "1:\n" word							\
		     "	add	%[to], %[to], #" #wsz "\n"				\
		     "	add	%[from], %[from], #" #wsz "\n"				\
		     "	sub	%[n], %[n], #" #wsz "\n"				\
		     "	cmp	%[n], #" #wsz "\n"					\
		     "	b.hs	1b\n"							\
		     "2:	cbz	%[n], 9f\n"					\
		     "3:\n" byte							\
		     "	add	%[to], %[to], #1\n"					\
		     "	add	%[from], %[from], #1\n"					\
		     "	sub	%[n], %[n], #1\n"					\
		     "	cbnz	%[n], 3b\n"						\
		     "9:\n" leave							\
		     "	b	99f\n"							\
		     "20:\n" fix "	b	2b\n"					\
		     "21:\n" fix "	b	9b\n"					\
		     "99:\n"								\
		     _ASM_EXTABLE_UACCESS(10b, 20b)					\
		     _ASM_EXTABLE_UACCESS(11b, 21b)					\
		     : [to] "+r"(to), [from] "+r"(from), [n] "+r"(n),			\
		       [a] "=&r"(a), [b] "=&r"(b)					\
		     :									\
		     : "memory", "cc")

unsigned long xua_arch_copy_to_user(unsigned int mode, void __user *to, const void *from, unsigned long n)
{
	unsigned long a, b;

	switch (mode) {
	case XUA_A64_LDTR:
		XUA_A64_COPY("", "", 8,
			     "	ldr	%[a], [%[from]]\n"
			     "10:	sttr	%[a], [%[to]]\n",
			     "	ldrb	%w[a], [%[from]]\n"
			     "11:	sttrb	%w[a], [%[to]]\n",
			     "");
		break;
	case XUA_A64_PAN_OFF:
		XUA_A64_COPY(XUA_PAN(0), XUA_PAN(1), 16,
			     "	ldp	%[a], %[b], [%[from]]\n"
			     "10:	stp	%[a], %[b], [%[to]]\n",
			     "	ldrb	%w[a], [%[from]]\n"
			     "11:	strb	%w[a], [%[to]]\n",
			     "");
		break;
	default:
		XUA_A64_COPY("", "", 8,
			     "	ldr	%[a], [%[from]]\n" XUA_PAN(0)
			     "10:	str	%[a], [%[to]]\n" XUA_PAN(1),
			     "	ldrb	%w[a], [%[from]]\n" XUA_PAN(0)
			     "11:	strb	%w[a], [%[to]]\n" XUA_PAN(1),
			     XUA_PAN(1));
		break;
	}
	return n;
}

unsigned long xua_arch_copy_from_user(unsigned int mode, void *to, const void __user *from, unsigned long n)
{
	unsigned long a, b;

	switch (mode) {
	case XUA_A64_LDTR:
		XUA_A64_COPY("", "", 8,
			     "10:	ldtr	%[a], [%[from]]\n"
			     "	str	%[a], [%[to]]\n",
			     "11:	ldtrb	%w[a], [%[from]]\n"
			     "	strb	%w[a], [%[to]]\n",
			     "");
		break;
	case XUA_A64_PAN_OFF:
		XUA_A64_COPY(XUA_PAN(0), XUA_PAN(1), 16,
			     "10:	ldp	%[a], %[b], [%[from]]\n"
			     "	stp	%[a], %[b], [%[to]]\n",
			     "11:	ldrb	%w[a], [%[from]]\n"
			     "	strb	%w[a], [%[to]]\n",
			     "");
		break;
	default:
		XUA_A64_COPY("", "", 8,
			     XUA_PAN(0) "10:	ldr	%[a], [%[from]]\n" XUA_PAN(1)
			     "	str	%[a], [%[to]]\n",
			     XUA_PAN(0) "11:	ldrb	%w[a], [%[from]]\n" XUA_PAN(1)
			     "	strb	%w[a], [%[to]]\n",
			     XUA_PAN(1));
		break;
	}
	return n;
}

bool xua_arch_toggle(u64 n)
{
	for (; n; n--)
		asm volatile(XUA_PAN(0) XUA_PAN(1) ::: "memory");
	return xua_has_pan;
}
