/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The architecture contract of xuaccess.
 *
 * Every backend in arch/<arch>/ implements what is declared here, and nothing else in the module is
 * arch-specific: common/ contains no inline assembly and no arch register. Adding an architecture
 * means one new arch/ directory implementing this header (its .c/.S files and include/xua_arch_inline.h).
 * Modelled on include/linux/uaccess.h over arch/<arch>/include/asm/uaccess.h:
 *
 * Raw copies
 *   xua_arch_copy_to_user() and xua_arch_copy_from_user() copy n bytes in the given mode (an index
 *   into xua_arch_modes[], checked by the caller) and return the number of bytes NOT copied. They assume
 *   the caller checked access_ok(); a fault on a user page ends the copy through the exception table,
 *   never an oops. They are exact: on a fault they copy every byte before the first one that faults.
 *   They do not zero-pad: the caller zeroes the uncopied tail of a copy from user, as the kernel does.
 *   They open the user-access window (x86: stac/clac; arm64: PSTATE.PAN or TTBR0 per mode) themselves
 *   and always return with it closed.
 *
 * Sized get/put (arch/<arch>/include/xua_arch_inline.h, static inline, as __get_user_size() builds on
 *   per-size helpers): xua_arch_get_{1,2,4,8}(dst, src) and xua_arch_put_{1,2,4,8}(dst, src) move one
 *   naturally sized value between a user address and kernel memory, each in its own window; 0 or
 *   -EFAULT. common/xua.h has the one switch over the size (xua_get(), xua_put()).
 *
 * Window (arch/<arch>/include/xua_arch_inline.h, all static __always_inline, no calls, no memory loads:
 *   they run with the window open and must not hand it to instrumentation or another function)
 *   xua_arch_window_live(): whether this kernel uses the guard on this system (x86 SMAP in use; arm64
 *   hardware PAN or software PAN): only then is there a window the module can leave open. x86 EFLAGS.AC
 *   where the kernel does not use SMAP is not a window: user space can set it and enter through int $0x80
 *   (whose ASM_CLAC is then a NOP), and it follows the CPU across context switches.
 *   xua_arch_window_is_open(): the raw hardware readout (x86 EFLAGS.AC, arm64 PSTATE.PAN == 0, or TTBR0
 *   holding the user tables under software PAN). Cheap: common/ checks it after every primitive.
 *   xua_arch_window_open()/xua_arch_window_close(): open and close it with nothing in between (the planted
 *   leaks of the positive controls, and closing a leak the check found). open returns false when there is
 *   nothing to open on this system (arm64 without PAN); x86 always sets AC, so that the readout can be
 *   shown to work also where the check ignores it.
 *   xua_arch_toggle(n) runs n open/close pairs: the raw cost of the guard. Returns true when the pair
 *   really switches the hardware guard on this CPU.

 * Modes
 *   xua_arch_modes[] names the raw copy variants, xua_arch_mode_flags() says what a mode does on this
 *   CPU (XUA_MODE_TOGGLES_GUARD when it really switches the guard).
 *
 * Protection state
 *   xua_arch_prot_state() reads the guard at the point of the call and fills the whole struct
 *   (unused registers 0): XUA_PROT_* flags and the raw registers (indices in the uapi header). What is
 *   fixed at boot (ID registers, the kernel's capability state) is read once in xua_arch_init(): an ID
 *   register read traps to the hypervisor under KVM. A backend never executes an instruction the CPU
 *   may not implement (arm64: MSR/MRS PAN without FEAT_PAN is UNDEFINED).
 *
 * Clock
 *   xua_arch_tick_hz(): the frequency of get_cycles() (x86: TSC; arm64: the generic timer).
 *
 * xua_arch_init() runs once at module load, before anything else here; it may refuse the kernel
 * (returning an errno with a message) when the backend cannot work there.
 */
#ifndef XUA_ARCH_H
#define XUA_ARCH_H

#include <linux/compiler.h>
#include <linux/types.h>
#include <xuaccess/uapi.h>

struct xua_prot_state {
	u32 flags;                  /* XUA_PROT_* */
	u64 regs[XUA_NR_ARCH_REGS]; /* XUA_<ARCH>_REG_* */
};

extern const u32 xua_arch_id;       /* XUA_ARCH_* */
extern const char xua_arch_name[];  /* "x86_64", "arm64" */
extern const char xua_guard_name[]; /* "SMAP", "PAN" */
extern const char *const xua_arch_modes[];
extern const unsigned int xua_arch_nr_modes;

int xua_arch_init(void);
u32 xua_arch_mode_flags(unsigned int mode);
void xua_arch_prot_state(struct xua_prot_state *st);
u64 xua_arch_tick_hz(void);

unsigned long xua_arch_copy_to_user(unsigned int mode, void __user *to, const void *from,
				    unsigned long n);
unsigned long xua_arch_copy_from_user(unsigned int mode, void *to, const void __user *from,
				      unsigned long n);
bool xua_arch_toggle(u64 n);

/* xua_arch_get_N(), xua_arch_put_N(), xua_arch_window_{live,is_open,open,close}() */
#include <xua_arch_inline.h>

#endif /* XUA_ARCH_H */
