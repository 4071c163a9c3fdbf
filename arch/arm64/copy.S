/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xuaccess arm64 backend: the raw copies, one function per direction and mode, generated from one
 * template as arch/arm64/lib/copy_template.S is shared by the kernel's copy_{to,from}_user:
 *
 *   x0 = destination, x1 = source, x2 = bytes; returns in x0 the bytes NOT copied.
 *
 * The loop: 64-byte blocks (four 16-byte steps), then 8-byte words, then bytes. Every user access has
 * an exception-table entry (USER()). A block or word that faults is redone byte by byte from where it
 * started (both pointers advance only after a step succeeded), so the copy is exact: every byte before
 * the first one that faults is copied. The modes differ only in the user accesses and the PAN switches:
 *
 *   ldtr     STTR/LDTR (two per 16-byte step), PAN left set: the kernel since 5.11;
 *   pan_off  PAN cleared once around the copy, STP/LDP: 4.3-era copies and the 2026 LDP/STP proposal;
 *   toggle   the pan_off loop with PAN cleared and set around every user access instruction (each
 *            16-byte STP/LDP, 8-byte word, byte): the same instructions as pan_off plus the switches,
 *            so toggle against pan_off isolates the cost of switching PAN.
 *
 * PAN is switched with the kernel's alternative (ARM64_HAS_PAN): a NOP where the kernel does not use
 * hardware PAN. An exception entry sets PAN and the return restores the interrupted state, so a fixup
 * runs with PAN as it was at the faulting access: toggle's fixups set it again.
 *
 * Where PAN is cleared, PSTATE.TCO (MTE tag check override) is set with it and cleared after, as the
 * kernel's uaccess_enable_privileged()/uaccess_disable_privileged() do: with KASAN_HW_TAGS a privileged
 * access to user memory must not be tag-checked (a spurious fault or a bogus KASAN report on PROT_MTE
 * pages). A NOP unless the kernel has CONFIG_KASAN_HW_TAGS and the CPU MTE.
 *
 * A difference that stays (pan_off, toggle): an ordinary load with PAN clear is a privileged access.
 * With FEAT_EPAN the kernel maps PROT_EXEC-only pages execute-only (6.12 protection_map), which LDTR
 * (ldtr, the kernel's copy) cannot read but pan_off/toggle's LDP/LDR can: a copy from such a page
 * succeeds here and fails in the kernel's copy_from_user. QEMU 7.2 has no EPAN, so no cell shows it.
 */
#include <linux/linkage.h>
#include <asm/alternative.h>
#include <asm/asm-uaccess.h>
#include <asm/assembler.h>
#include <asm/sysreg.h>

	.equ	XUA_LDTR, 0
	.equ	XUA_PAN_OFF, 1
	.equ	XUA_TOGGLE, 2
	.equ	XUA_TO, 0
	.equ	XUA_FROM, 1

	.macro	xua_pan, on
#ifdef CONFIG_ARM64_PAN
alternative_if ARM64_HAS_PAN
	SET_PSTATE_PAN(\on)
alternative_else_nop_endif
#endif
	.endm

	.macro	xua_tco, on
#ifdef CONFIG_KASAN_HW_TAGS
alternative_if ARM64_MTE
	SET_PSTATE_TCO(\on)
alternative_else_nop_endif
#endif
	.endm

	/* The privileged window: TCO set and PAN cleared, then PAN set and TCO cleared (as the kernel). */
	.macro	xua_priv_open
	xua_tco	1
	xua_pan	0
	.endm
	.macro	xua_priv_close
	xua_pan	1
	xua_tco	0
	.endm

	/* Before/after a user access: the toggle mode's switches. */
	.macro	xua_acc_in, mode
	.if \mode == XUA_TOGGLE
	xua_priv_open
	.endif
	.endm
	.macro	xua_acc_out, mode
	.if \mode == XUA_TOGGLE
	xua_priv_close
	.endif
	.endm

	/* 16 bytes at offset \off, through x3/x4. */
	.macro	xua_step, dir, mode, off, fix
	.if \dir == XUA_TO
	ldp	x3, x4, [x1, #\off]
	.if \mode == XUA_LDTR
USER(\fix, sttr	x3, [x0, #\off])
USER(\fix, sttr	x4, [x0, #\off + 8])
	.else
	xua_acc_in \mode
USER(\fix, stp	x3, x4, [x0, #\off])
	xua_acc_out \mode
	.endif
	.else
	.if \mode == XUA_LDTR
USER(\fix, ldtr	x3, [x1, #\off])
USER(\fix, ldtr	x4, [x1, #\off + 8])
	.else
	xua_acc_in \mode
USER(\fix, ldp	x3, x4, [x1, #\off])
	xua_acc_out \mode
	.endif
	stp	x3, x4, [x0, #\off]
	.endif
	.endm

	/* One 8-byte word (\w = x3) or byte (\w = w3, suffix b). */
	.macro	xua_unit, dir, mode, reg, sfx, fix
	.if \dir == XUA_TO
	ldr\sfx	\reg, [x1]
	.if \mode == XUA_LDTR
USER(\fix, sttr\sfx	\reg, [x0])
	.else
	xua_acc_in \mode
USER(\fix, str\sfx	\reg, [x0])
	xua_acc_out \mode
	.endif
	.else
	.if \mode == XUA_LDTR
USER(\fix, ldtr\sfx	\reg, [x1])
	.else
	xua_acc_in \mode
USER(\fix, ldr\sfx	\reg, [x1])
	xua_acc_out \mode
	.endif
	str\sfx	\reg, [x0]
	.endif
	.endm

	.macro	xua_copy, name, dir, mode
SYM_FUNC_START(\name)
	.if \mode == XUA_PAN_OFF
	xua_priv_open
	.endif
	cmp	x2, #64
	b.lo	.L\name\()_words
.L\name\()_block:
	xua_step \dir, \mode, 0, .L\name\()_retry
	xua_step \dir, \mode, 16, .L\name\()_retry
	xua_step \dir, \mode, 32, .L\name\()_retry
	xua_step \dir, \mode, 48, .L\name\()_retry
	add	x0, x0, #64
	add	x1, x1, #64
	sub	x2, x2, #64
	cmp	x2, #64
	b.hs	.L\name\()_block
.L\name\()_words:
	cmp	x2, #8
	b.lo	.L\name\()_bytes
.L\name\()_word:
	xua_unit \dir, \mode, x3, , .L\name\()_retry
	add	x0, x0, #8
	add	x1, x1, #8
	sub	x2, x2, #8
	cmp	x2, #8
	b.hs	.L\name\()_word
.L\name\()_bytes:
	cbz	x2, .L\name\()_done
.L\name\()_byte:
	xua_unit \dir, \mode, w3, b, .L\name\()_stop
	add	x0, x0, #1
	add	x1, x1, #1
	sub	x2, x2, #1
	cbnz	x2, .L\name\()_byte
.L\name\()_done:
	.if \mode == XUA_PAN_OFF
	xua_priv_close
	.endif
	mov	x0, x2
	ret
	/* A block or word faulted: redo it byte by byte, up to the first byte that faults. */
.L\name\()_retry:
	xua_acc_out \mode
	b	.L\name\()_bytes
	/* A byte faulted: x2 bytes are left. */
.L\name\()_stop:
	xua_acc_out \mode
	b	.L\name\()_done
SYM_FUNC_END(\name)
	.endm

	xua_copy __xua_a64_to_user_ldtr, XUA_TO, XUA_LDTR
	xua_copy __xua_a64_to_user_pan_off, XUA_TO, XUA_PAN_OFF
	xua_copy __xua_a64_to_user_toggle, XUA_TO, XUA_TOGGLE
	xua_copy __xua_a64_from_user_ldtr, XUA_FROM, XUA_LDTR
	xua_copy __xua_a64_from_user_pan_off, XUA_FROM, XUA_PAN_OFF
	xua_copy __xua_a64_from_user_toggle, XUA_FROM, XUA_TOGGLE
