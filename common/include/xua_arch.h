/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The architecture contract of xuaccess.
 *
 * Every backend in arch/<arch>/ implements what is declared here, and nothing else in the module is
 * arch-specific: common/ contains no inline assembly and no arch register. Adding an architecture
 * means one new arch/ directory implementing this header. Modelled on include/linux/uaccess.h:
 *
 * Raw copies
 *   xua_arch_copy_to_user() and xua_arch_copy_from_user() copy n bytes in the given mode (an index
 *   into xua_arch_modes[], checked by the caller) and return the number of bytes NOT copied. They assume
 *   the caller checked access_ok(); a fault on a user page ends the copy through the exception table,
 *   never an oops. They are exact: on a fault they copy every byte before the first one that faults.
 *   They do not zero-pad: the caller zeroes the uncopied tail of a copy from user, as the kernel does.
 *   They open the user-access window (x86: stac/clac; arm64: PSTATE.PAN per mode) themselves and always
 *   return with it closed.
 *
 * Sized get/put
 *   xua_arch_get()/xua_arch_put() move one naturally sized value (size 1, 2, 4 or 8) between a user
 *   address and a kernel buffer, each in its own window; 0 or -EFAULT.
 *
 * Window pairs
 *   xua_arch_toggle(n) opens and closes the window n times with nothing in between: the raw cost of
 *   the guard. Returns true when the pair really switches the hardware guard on this CPU.
 *
 * Modes
 *   xua_arch_modes[] names the raw copy variants, xua_arch_mode_flags() says what a mode does on this
 *   CPU (XUA_MODE_TOGGLES_GUARD when it really switches SMAP/PAN).
 *
 * Protection state
 *   xua_arch_prot_state() reads the guard from the hardware, at the point of the call:
 *     XUA_PROT_PRESENT      the CPU implements the guard;
 *     XUA_PROT_ENABLED      the kernel enforces it (x86: CR4.SMAP; arm64: PSTATE.PAN was set on
 *                           exception entry, i.e. SCTLR_EL1.SPAN == 0 and PSTATE.PAN == 1 in a syscall);
 *     XUA_PROT_WINDOW_OPEN  user access is open right now (x86: EFLAGS.AC; arm64: PSTATE.PAN == 0).
 *   The raw registers go to regs[] (indices in the uapi header). A backend never executes an
 *   instruction the CPU may not implement (arm64: MSR/MRS PAN without FEAT_PAN is UNDEFINED).
 *
 * xua_arch_init() runs once at module load, before anything else here.
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

unsigned long xua_arch_copy_to_user(unsigned int mode, void __user *to, const void *from,
				    unsigned long n);
unsigned long xua_arch_copy_from_user(unsigned int mode, void *to, const void __user *from,
				      unsigned long n);
int xua_arch_get(void *dst, const void __user *src, unsigned int size);
int xua_arch_put(void __user *dst, const void *src, unsigned int size);
bool xua_arch_toggle(u64 n);

/*
 * The sized accessors have the same shape on every arch. A backend defines, for n = 1, 2, 4 and 8,
 * XUA_ARCH_LOAD_n(val, src, err) and XUA_ARCH_STORE_n(val, dst, err) (one access in its own window,
 * err set to -EFAULT on a fault), then writes XUA_DEFINE_SIZED_ACCESSORS() once.
 */
#define XUA_SIZED_GET(n, type)							\
	case n:									\
		XUA_ARCH_LOAD_##n(v, src, err);					\
		if (!err)							\
			*(type *)dst = v;					\
		break
#define XUA_SIZED_PUT(n, type)							\
	case n:									\
		XUA_ARCH_STORE_##n(*(const type *)src, dst, err);		\
		break
#define XUA_DEFINE_SIZED_ACCESSORS()						\
int xua_arch_get(void *dst, const void __user *src, unsigned int size)		\
{										\
	unsigned long v = 0;							\
	int err = 0;								\
										\
	switch (size) {								\
	XUA_SIZED_GET(1, u8);							\
	XUA_SIZED_GET(2, u16);							\
	XUA_SIZED_GET(4, u32);							\
	XUA_SIZED_GET(8, u64);							\
	default:								\
		return -EINVAL;							\
	}									\
	return err;								\
}										\
										\
int xua_arch_put(void __user *dst, const void *src, unsigned int size)		\
{										\
	int err = 0;								\
										\
	switch (size) {								\
	XUA_SIZED_PUT(1, u8);							\
	XUA_SIZED_PUT(2, u16);							\
	XUA_SIZED_PUT(4, u32);							\
	XUA_SIZED_PUT(8, u64);							\
	default:								\
		return -EINVAL;							\
	}									\
	return err;								\
}

#endif /* XUA_ARCH_H */
