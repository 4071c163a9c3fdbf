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

#define XUA_ARCH_LOAD_1(v, s, e) XUA_A64_LOAD("ldtrb", "%w", v, s, e)
#define XUA_ARCH_LOAD_2(v, s, e) XUA_A64_LOAD("ldtrh", "%w", v, s, e)
#define XUA_ARCH_LOAD_4(v, s, e) XUA_A64_LOAD("ldtr", "%w", v, s, e)
#define XUA_ARCH_LOAD_8(v, s, e) XUA_A64_LOAD("ldtr", "%x", v, s, e)
#define XUA_ARCH_STORE_1(v, d, e) XUA_A64_STORE("sttrb", "%w", v, d, e)
#define XUA_ARCH_STORE_2(v, d, e) XUA_A64_STORE("sttrh", "%w", v, d, e)
#define XUA_ARCH_STORE_4(v, d, e) XUA_A64_STORE("sttr", "%w", v, d, e)
#define XUA_ARCH_STORE_8(v, d, e) XUA_A64_STORE("sttr", "%x", v, d, e)

XUA_DEFINE_SIZED_ACCESSORS()

/*
 * A user access with its exception-table entry: a fault resumes at 20: (in the 64-byte block or the word
 * loop: retry byte by byte) or 21: (in the byte loop: stop).
 */
#define XUA_UW(insn) "8:	" insn "\n" _ASM_EXTABLE_UACCESS(8b, 20f)
#define XUA_UB(insn) "8:	" insn "\n" _ASM_EXTABLE_UACCESS(8b, 21f)

/*
 * The copy loop shared by every mode and direction: `blocks` moves 64 bytes at a time (four 16-byte steps
 * given by the mode, unrolled as the kernel's copy is), `word` 8 bytes, `byte` one byte. `enter`/`leave` wrap the
 * whole copy, `fix` runs on a fault before resuming. A block or word that faults is retried byte by
 * byte, so the result is exact: every byte before the first faulting one is copied. Both pointers advance
 * only after a step succeeded, so fixups never rewind.
 */
#define XUA_A64_COPY(enter, leave, blocks, word, byte, fix)				\
	asm volatile(enter blocks							\
		     "	cmp	%[n], #8\n"						\
		     "	b.lo	2f\n"							\
		     "1:\n" word							\
		     "	add	%[to], %[to], #8\n"					\
		     "	add	%[from], %[from], #8\n"					\
		     "	sub	%[n], %[n], #8\n"					\
		     "	cmp	%[n], #8\n"						\
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
		     : [to] "+r"(to), [from] "+r"(from), [n] "+r"(n),			\
		       [a] "=&r"(a), [b] "=&r"(b)					\
		     :									\
		     : "memory", "cc")

/* The 64-byte loop, from four 16-byte steps (empty for toggle mode: its PAN alternatives would make
 * the asm string longer than sparse accepts, and its cost is the toggling anyway). */
#define XUA_BLOCKS(step)								\
	"	cmp	%[n], #64\n"							\
	"	b.lo	5f\n"								\
	"4:\n" step(0) step(16) step(32) step(48)					\
	"	add	%[to], %[to], #64\n"						\
	"	add	%[from], %[from], #64\n"					\
	"	sub	%[n], %[n], #64\n"						\
	"	cmp	%[n], #64\n"							\
	"	b.hs	4b\n"								\
	"5:\n"

/* 16 bytes kernel -> user at offset o, per mode */
#define XUA_TO_LDTR(o)									\
	"	ldp	%[a], %[b], [%[from], #" #o "]\n"					\
	XUA_UW("sttr	%[a], [%[to], #" #o "]") XUA_UW("sttr	%[b], [%[to], #" #o "+8]")
#define XUA_TO_PAN_OFF(o)								\
	"	ldp	%[a], %[b], [%[from], #" #o "]\n"					\
	XUA_UW("stp	%[a], %[b], [%[to], #" #o "]")
/* 16 bytes user -> kernel at offset o, per mode */
#define XUA_FROM_LDTR(o)								\
	XUA_UW("ldtr	%[a], [%[from], #" #o "]") XUA_UW("ldtr	%[b], [%[from], #" #o "+8]")	\
	"	stp	%[a], %[b], [%[to], #" #o "]\n"
#define XUA_FROM_PAN_OFF(o)								\
	XUA_UW("ldp	%[a], %[b], [%[from], #" #o "]")					\
	"	stp	%[a], %[b], [%[to], #" #o "]\n"
unsigned long xua_arch_copy_to_user(unsigned int mode, void __user *to, const void *from, unsigned long n)
{
	unsigned long a, b;

	switch (mode) {
	case XUA_A64_LDTR:
		XUA_A64_COPY("", "", XUA_BLOCKS(XUA_TO_LDTR),
			     "	ldr	%[a], [%[from]]\n" XUA_UW("sttr	%[a], [%[to]]"),
			     "	ldrb	%w[a], [%[from]]\n" XUA_UB("sttrb	%w[a], [%[to]]"),
			     "");
		break;
	case XUA_A64_PAN_OFF:
		XUA_A64_COPY(XUA_PAN(0), XUA_PAN(1), XUA_BLOCKS(XUA_TO_PAN_OFF),
			     "	ldr	%[a], [%[from]]\n" XUA_UW("str	%[a], [%[to]]"),
			     "	ldrb	%w[a], [%[from]]\n" XUA_UB("strb	%w[a], [%[to]]"),
			     "");
		break;
	default:
		XUA_A64_COPY("", "", "",
			     "	ldr	%[a], [%[from]]\n" XUA_PAN(0) XUA_UW("str	%[a], [%[to]]") XUA_PAN(1),
			     "	ldrb	%w[a], [%[from]]\n" XUA_PAN(0) XUA_UB("strb	%w[a], [%[to]]") XUA_PAN(1),
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
		XUA_A64_COPY("", "", XUA_BLOCKS(XUA_FROM_LDTR),
			     XUA_UW("ldtr	%[a], [%[from]]") "	str	%[a], [%[to]]\n",
			     XUA_UB("ldtrb	%w[a], [%[from]]") "	strb	%w[a], [%[to]]\n",
			     "");
		break;
	case XUA_A64_PAN_OFF:
		XUA_A64_COPY(XUA_PAN(0), XUA_PAN(1), XUA_BLOCKS(XUA_FROM_PAN_OFF),
			     XUA_UW("ldr	%[a], [%[from]]") "	str	%[a], [%[to]]\n",
			     XUA_UB("ldrb	%w[a], [%[from]]") "	strb	%w[a], [%[to]]\n",
			     "");
		break;
	default:
		XUA_A64_COPY("", "", "",
			     XUA_PAN(0) XUA_UW("ldr	%[a], [%[from]]") XUA_PAN(1) "	str	%[a], [%[to]]\n",
			     XUA_PAN(0) XUA_UB("ldrb	%w[a], [%[from]]") XUA_PAN(1) "	strb	%w[a], [%[to]]\n",
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
