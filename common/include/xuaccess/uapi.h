/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * xuaccess userspace ABI: the ioctls of /dev/xuaccess (a root-only misc device).
 *
 * Usable from C and C++ userspace and from the module. Every argument struct starts with
 * { __u32 size; __u32 version; }: the caller sets size = sizeof(struct) and version = XUA_ABI_VERSION,
 * and the module rejects any other pair with EINVAL, so the ABI can grow by adding a version. All fields
 * are fixed-width; fields marked "in, 0" must be zero. Fields marked "out" are written by the module,
 * also when the command fails with EFAULT or EINTR after doing part of its work.
 *
 * Timed commands (TRANSFER, PRODUCE, CONSUME, TOGGLE) run their loop in the kernel, time it with
 * ktime_get_ns() and get_cycles(), and stop early (XUA_OUT_TRUNCATED) when a call would run longer
 * than about a second, or with EINTR when a signal is pending.
 */
#ifndef _UAPI_XUACCESS_H
#define _UAPI_XUACCESS_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define XUA_ABI_VERSION 1
#define XUA_DEVICE "/dev/xuaccess"
#define XUA_IOC_MAGIC 0xB6

/* xua_info.arch */
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

/* Transfer methods (xua_transfer.method) */
#define XUA_METHOD_GET_PUT 0  /* the kernel's get_user/put_user, one call per 8-byte word (+ byte tail) */
#define XUA_METHOD_COPY 1     /* the kernel's copy_to_user/copy_from_user */
#define XUA_METHOD_UNSAFE 2   /* user_access_begin + unsafe_get/put_user per word, one window per call */
#define XUA_METHOD_RAW 3      /* the module's own raw copy, in xua_transfer.mode */
#define XUA_METHOD_RAW_GET_PUT 4 /* the module's own sized get/put, per word (+ byte tail) */
#define XUA_METHOD_MEMCPY 5   /* kernel memcpy between two kernel buffers: the floor (user_addr unused) */
#define XUA_NR_METHODS 6

/* Directions */
#define XUA_DIR_TO_USER 0   /* kernel buffer -> user memory */
#define XUA_DIR_FROM_USER 1 /* user memory -> kernel buffer */

/* Modes of the module's raw copy, defined by the arch and listed by INFO:
 *   x86_64: 0 "window"  stac/clac around the whole copy (rep movsb)
 *           1 "per-access"  stac/clac around every 8-byte access
 *   arm64:  0 "ldtr"    LDTR/STTR with PAN left on (the kernel since 5.11)
 *           1 "pan-off" PAN cleared around the whole copy, ordinary LDP/STP
 *           2 "toggle"  PAN cleared and set around every 8-byte access (the 4.3-era kernel)
 */
#define XUA_MAX_MODES 4
#define XUA_MODE_TOGGLES_GUARD (1u << 0) /* on this CPU the mode really switches SMAP/PAN */

struct xua_mode_desc {
	char name[16];
	__u32 flags; /* XUA_MODE_* */
	__u32 reserved;
};

/* xua_info.flags */
#define XUA_INFO_UNSAFE_ALLOWED (1u << 0) /* loaded with allow_unsafe_deref=1 */

struct xua_info {
	__u32 size;
	__u32 version;
	__u32 abi_version;   /* out: XUA_ABI_VERSION of the module */
	__u32 arch;          /* out: XUA_ARCH_* */
	__u32 prot_flags;    /* out: XUA_PROT_* */
	__u32 flags;         /* out: XUA_INFO_* */
	__u64 arch_regs[XUA_NR_ARCH_REGS]; /* out: see XUA_*_REG_* */
	char module_version[32];    /* out: NUL-terminated */
	char kernel_release[72];    /* out: utsname()->release, NUL-terminated */
	char arch_name[16];         /* out: "x86_64", "arm64" */
	char guard_name[16];        /* out: "SMAP", "PAN" */
	__u32 methods;              /* out: bit n set = XUA_METHOD n available */
	__u32 nr_modes;             /* out: valid entries in modes[] */
	struct xua_mode_desc modes[XUA_MAX_MODES]; /* out */
	__u64 max_len;              /* out: bytes per TRANSFER/PRODUCE/CONSUME iteration */
	__u64 max_iterations;       /* out */
	__u64 mmap_max;             /* out: largest mmap buffer per open file (module parameter) */
	__u64 violations;           /* out: ioctls that found the user-access window open on return */
};

/* xua_transfer.out_flags and friends */
#define XUA_OUT_TRUNCATED (1u << 0) /* stopped before `iterations` to stay within the time budget */
#define XUA_OUT_GUARD_TOGGLED (1u << 1) /* TOGGLE: the pair really switched SMAP/PAN on this CPU */

struct xua_transfer {
	__u32 size;
	__u32 version;
	__u32 method;          /* in: XUA_METHOD_* */
	__u32 dir;             /* in: XUA_DIR_* */
	__u32 mode;            /* in: XUA_METHOD_RAW only, index into xua_info.modes; else 0 */
	__u32 flags;           /* in, 0 */
	__u64 user_addr;       /* in: user buffer (unused by XUA_METHOD_MEMCPY) */
	__u64 len;             /* in: bytes per iteration, 1..max_len */
	__u64 iterations;      /* in: 1..max_iterations */
	__u64 elapsed_ns;      /* out: time for the iterations done */
	__u64 cycles;          /* out: get_cycles() delta (x86 TSC, arm64 generic timer ticks) */
	__u64 bytes_moved;     /* out: bytes copied in all iterations done */
	__u64 not_copied;      /* out: bytes not copied by the faulting iteration (EFAULT), else 0 */
	__u64 iterations_done; /* out */
	__u32 out_flags;       /* out: XUA_OUT_* */
	__u32 reserved;        /* in, 0 */
};

/*
 * PRODUCE: the kernel copies len bytes of its buffer into the shared mmap buffer at offset (user then
 * reads them without a copy); CONSUME: the kernel copies len bytes from the shared buffer at offset into
 * its buffer. The shared buffer exists once the file has been mmap'ed (else ENXIO).
 */
struct xua_mmap_op {
	__u32 size;
	__u32 version;
	__u32 flags;           /* in, 0 */
	__u32 out_flags;       /* out: XUA_OUT_* */
	__u64 offset;          /* in: into the shared buffer */
	__u64 len;             /* in: 1..min(max_len, buffer size - offset) */
	__u64 iterations;      /* in: 1..max_iterations */
	__u64 elapsed_ns;      /* out */
	__u64 cycles;          /* out */
	__u64 bytes_moved;     /* out */
	__u64 iterations_done; /* out */
};

/* TOGGLE: `iterations` open/close pairs of the user-access window (x86 stac+clac, arm64 msr pan #0/#1) */
struct xua_toggle {
	__u32 size;
	__u32 version;
	__u32 flags;           /* in, 0 */
	__u32 out_flags;       /* out: XUA_OUT_* */
	__u64 iterations;      /* in: 1..max_iterations */
	__u64 elapsed_ns;      /* out */
	__u64 cycles;          /* out */
	__u64 iterations_done; /* out */
};

/*
 * SELFTEST: the module checks every method and mode against the others (same bytes, same
 * bytes-not-copied on a buffer running into an unmapped page) on user memory it maps into the caller,
 * and writes a KTAP report (NUL-terminated, truncated to report_len) to report_addr.
 */
struct xua_selftest {
	__u32 size;
	__u32 version;
	__u64 report_addr;     /* in: user buffer for the KTAP text */
	__u64 report_len;      /* in: its size, >= 1 */
	__u32 passed;          /* out */
	__u32 failed;          /* out */
	__u64 report_bytes;    /* out: length of the full report (may exceed report_len) */
};

/*
 * UNSAFE_DEREF: the seed bug. A plain 8-byte load or store through a user pointer with no uaccess
 * window: oopses where SMAP/PAN is enforced. EPERM unless the module was loaded with
 * allow_unsafe_deref=1 and the caller has CAP_SYS_ADMIN; EFAULT when user_addr is not a user address.
 */
struct xua_unsafe {
	__u32 size;
	__u32 version;
	__u32 dir;             /* in: XUA_DIR_TO_USER (store value), XUA_DIR_FROM_USER (load into value) */
	__u32 reserved;        /* in, 0 */
	__u64 user_addr;       /* in, 8-byte aligned */
	__u64 value;           /* in/out */
};

#define XUA_IOC_INFO _IOWR(XUA_IOC_MAGIC, 0x00, struct xua_info)
#define XUA_IOC_TRANSFER _IOWR(XUA_IOC_MAGIC, 0x01, struct xua_transfer)
#define XUA_IOC_PRODUCE _IOWR(XUA_IOC_MAGIC, 0x02, struct xua_mmap_op)
#define XUA_IOC_CONSUME _IOWR(XUA_IOC_MAGIC, 0x03, struct xua_mmap_op)
#define XUA_IOC_TOGGLE _IOWR(XUA_IOC_MAGIC, 0x04, struct xua_toggle)
#define XUA_IOC_SELFTEST _IOWR(XUA_IOC_MAGIC, 0x05, struct xua_selftest)
#define XUA_IOC_UNSAFE_DEREF _IOWR(XUA_IOC_MAGIC, 0x06, struct xua_unsafe)
#define XUA_IOC_NULL _IO(XUA_IOC_MAGIC, 0x07) /* does nothing: the syscall floor */

#endif /* _UAPI_XUACCESS_H */
