/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * xuaccess userspace ABI: /dev/xuaccess ioctls.
 *
 * Usable from C and C++ userspace and from the module. Every argument struct starts with
 * { __u32 size; __u32 version; }: the caller sets size = sizeof(struct) and version = XUA_ABI_VERSION;
 * the module rejects any other pair with EINVAL, so the ABI can grow by adding a version.
 * All fields are fixed-width; reserved fields must be zero on input.
 */
#ifndef _UAPI_XUACCESS_H
#define _UAPI_XUACCESS_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define XUA_ABI_VERSION 1
#define XUA_DEVICE "/dev/xuaccess"
#define XUA_IOC_MAGIC 0xB6

/* enum xua_arch: the architecture the module was built for */
#define XUA_ARCH_X86_64 1
#define XUA_ARCH_ARM64 2

/* xua_info.prot_flags: the state of the arch's user-access guard (x86 SMAP, arm64 PAN) */
#define XUA_PROT_PRESENT (1u << 0)     /* the CPU implements it (X86_FEATURE_SMAP / FEAT_PAN) */
#define XUA_PROT_ENABLED (1u << 1)     /* the kernel enforces it (CR4.SMAP / PSTATE.PAN set on entry) */
#define XUA_PROT_WINDOW_OPEN (1u << 2) /* user access open at the readout (EFLAGS.AC=1 / PSTATE.PAN=0) */

/* xua_info.arch_regs: raw registers behind prot_flags, per arch */
#define XUA_X86_REG_CR4 0
#define XUA_X86_REG_RFLAGS 1
#define XUA_ARM64_REG_ID_AA64MMFR1 0
#define XUA_ARM64_REG_SCTLR_EL1 1
#define XUA_ARM64_REG_PAN 2 /* PSTATE.PAN (bit 22) as read by MRS, 0 when FEAT_PAN is absent */
#define XUA_NR_ARCH_REGS 4

struct xua_info {
	__u32 size;
	__u32 version;
	__u32 abi_version;   /* out: XUA_ABI_VERSION of the module */
	__u32 arch;          /* out: XUA_ARCH_* */
	__u32 prot_flags;    /* out: XUA_PROT_* */
	__u32 reserved0;
	__u64 arch_regs[XUA_NR_ARCH_REGS]; /* out: see XUA_*_REG_* */
	char module_version[32];    /* out: NUL-terminated */
	char kernel_release[72];    /* out: utsname()->release, NUL-terminated */
	char arch_name[16];         /* out: "x86_64", "arm64" */
	char guard_name[16];        /* out: "SMAP", "PAN" */
};

#define XUA_IOC_INFO _IOWR(XUA_IOC_MAGIC, 0x00, struct xua_info)

#endif /* _UAPI_XUACCESS_H */
