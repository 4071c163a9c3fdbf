/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * xuaccess userspace ABI: the ioctls of /dev/xuaccess (a root-only misc device).
 *
 * Usable from C and C++ userspace and from the module. Every argument struct starts with
 * { __u32 size; __u32 version; }: the caller sets size = sizeof(struct) and version = XUA_ABI_VERSION,
 * and the module rejects any other pair with EINVAL, so the ABI can grow by adding a version. All fields
 * are fixed-width; fields marked "in, 0" must be zero. Fields marked "out" are written by the module
 * once a command has started its work, also when it then fails with EFAULT; a command refused before
 * doing anything (EINVAL, ENOMEM, ENXIO, EBUSY, EINTR, ...) writes nothing back.
 *
 * ABI 3 moved the commands from ioctl magic 0xB6 (DFL_FPGA_MAGIC, include/uapi/linux/fpga-dfl.h) to
 * XUA_IOC_MAGIC. A caller built against ABI 2 (magic 0xB6, commands 0x00..0x07) gets EPROTO and a kernel
 * log line naming both versions: rebuild it against this header.
 *
 * Timed commands (TRANSFER, PRODUCE, CONSUME, TOGGLE) run their loop in the kernel and time it with
 * ktime_get_ns() (elapsed_ns) and get_cycles() (ticks: a constant-rate counter, xua_info.tick_hz; NOT
 * CPU cycles). Every `check_interval` iterations the loop does its bookkeeping (clock, signal, scheduler:
 * about xua_info.check_ns each, `checks` times per call). A loop stops early with XUA_OUT_TRUNCATED
 * after about a second, or with XUA_OUT_INTERRUPTED when signal_pending() (a signal to deliver, or the
 * freezer, a cgroup freeze, io_uring's notify: none of which is a signal for the caller): the command
 * then succeeds (0) with the figures of the iterations done, like a short read(), and a signal is
 * delivered on the way out. It is not restarted, which would throw that work away and could livelock
 * under a periodic SA_RESTART signal. The only EINTR: waiting for another thread's command on the same
 * file, interrupted by a signal whose handler has no SA_RESTART; nothing was done and nothing is written
 * back (with SA_RESTART, or with no signal to deliver, the wait restarts). XUA_OUT_PREEMPTED says the
 * task was switched out during the timed loop (nvcsw/nivcsw): such a figure includes another task's time.
 *
 * The user-access window (x86 EFLAGS.AC under SMAP, arm64 PSTATE.PAN == 0 or software PAN's TTBR0) is
 * checked after every primitive of the module's own (each raw copy, each sized access; TOGGLE: after
 * every chunk of 1024 pairs) and after every iteration of a timed loop; a window found open is closed
 * and counted in xua_info.violations. Where the kernel does not use the guard there is no window (x86:
 * EFLAGS.AC in ring 0 is then user-settable through int $0x80 and follows the CPU across context
 * switches; the module's stac/clac are NOPs): nothing is counted. One check costs about
 * xua_info.window_check_ps picoseconds (measured at load).
 */
#ifndef _UAPI_XUACCESS_H
#define _UAPI_XUACCESS_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define XUA_ABI_VERSION 3
#define XUA_DEVICE "/dev/xuaccess"
#define XUA_IOC_MAGIC 0xC5     /* free in ioctl-number.rst of 6.1 and 6.12 */
#define XUA_IOC_MAGIC_ABI2 0xB6 /* ABI 1 and 2: answered with EPROTO */

/* xua_info.arch */
#define XUA_ARCH_X86_64 1
#define XUA_ARCH_ARM64 2

/* xua_info.prot_flags: the state of the arch's user-access guard (x86 SMAP, arm64 PAN) */
#define XUA_PROT_PRESENT (1u << 0)     /* the CPU implements it (CPUID SMAP / ID_AA64MMFR1_EL1.PAN) */
#define XUA_PROT_ENABLED (1u << 1)     /* the kernel enforces it (CR4.SMAP / PSTATE.PAN set on entry,
					* or arm64 software PAN: TTBR0 switched away outside uaccess) */
#define XUA_PROT_WINDOW_OPEN (1u << 2) /* user access open at the readout (EFLAGS.AC / PSTATE.PAN == 0
					* / TTBR0 holding the user page tables under software PAN), only
					* where the kernel uses the guard (XUA_PROT_KERNEL_USES) */
#define XUA_PROT_SOFTWARE (1u << 3)    /* the guard is arm64's software PAN (CONFIG_ARM64_SW_TTBR0_PAN) */
#define XUA_PROT_KERNEL_USES (1u << 4) /* the kernel was built with the guard and uses it on this CPU
					* (x86 cpu_feature_enabled(SMAP); arm64 system_uses_hw_pan() or
					* system_uses_ttbr0_pan()): the window instructions are live, not NOPs */

/*
 * xua_info.arch_regs: raw registers behind prot_flags, per arch, read at the INFO call; unused = 0. Only
 * for a caller with CAP_SYS_ADMIN (checked at the call, not at open: the fd may have been handed on);
 * anyone else gets zeroes and XUA_INFO_REGS_HIDDEN (TTBR0 under software PAN is the physical address of
 * the kernel's reserved_pg_dir).
 */
#define XUA_X86_REG_CR4 0
#define XUA_X86_REG_RFLAGS 1
#define XUA_ARM64_REG_ID_AA64MMFR1 0 /* the kernel's sanitised value (lowest common over all CPUs) */
#define XUA_ARM64_REG_SCTLR_EL1 1
#define XUA_ARM64_REG_PAN 2          /* PSTATE.PAN (bit 22) as read by MRS, 0 when a CPU lacks FEAT_PAN */
#define XUA_ARM64_REG_TTBR0 3        /* TTBR0_EL1 (software PAN only, else 0) */
#define XUA_NR_ARCH_REGS 4

/*
 * Transfer methods (xua_transfer.method). INFO lists them with their names and XUA_METHOD_F_* flags;
 * the module's method table (common/methods.c) is the one definition.
 *   0 get_put      the kernel's get_user/put_user, one call per 8-byte word (+ byte tail)
 *   1 copy         the kernel's copy_to_user/copy_from_user: the full path (might_fault, hardened
 *                  usercopy's check of the kernel buffer, access_ok, raw routine)
 *   2 user_access  user_access_begin() + unsafe_get/put_user per word: one window per call
 *   3 raw          the module's own raw copy, in xua_transfer.mode (access_ok, then the copy).
 *                  Not the kernel's loop: arm64's is a simplified copy_template.S (no alignment step,
 *                  64-byte blocks); x86's is rep movsb on every CPU (the kernel picks by ERMS/FSRM).
 *                  The user pointer is masked as the kernel's raw_copy_* do (arm64 uaccess_mask_ptr;
 *                  x86 raw_copy_* have no Spectre-v1 step, nor has this)
 *   4 raw_get_put  the module's own sized get/put, per word (+ byte tail); arm64 masks the pointer as
 *                  get_user does; x86 does not (get_user/put_user mask the address: 6.1 getuser.S,
 *                  6.12 mask_user_address)
 *   5 memcpy       kernel memcpy between two kernel buffers: the floor (user_addr unused)
 *   6 kernel_raw   the kernel's arch routine raw_copy_to_user/raw_copy_from_user after access_ok:
 *                  copy without might_fault, without the hardened-usercopy check and (x86) without
 *                  copy_*_user's barrier_nospec (6.1) / mask_user_address (6.12)
 */
#define XUA_METHOD_GET_PUT 0
#define XUA_METHOD_COPY 1
#define XUA_METHOD_USER_ACCESS 2
#define XUA_METHOD_RAW 3
#define XUA_METHOD_RAW_GET_PUT 4
#define XUA_METHOD_MEMCPY 5
#define XUA_METHOD_KERNEL_RAW 6
#define XUA_NR_METHODS 7
#define XUA_MAX_METHODS 8

#define XUA_METHOD_F_WORD (1u << 0)    /* moves 8-byte words then bytes; faults reported per word */
#define XUA_METHOD_F_MODES (1u << 1)   /* takes xua_transfer.mode (the arch's raw copy modes) */
#define XUA_METHOD_F_NO_USER (1u << 2) /* touches no user memory (the memcpy floor) */
#define XUA_METHOD_F_KERNEL (1u << 3)  /* the kernel's own routine, not the module's */

struct xua_method_desc {
	char name[16];
	__u32 flags;                       /* XUA_METHOD_F_* */
	__u32 reserved;
};

/* Directions */
#define XUA_DIR_TO_USER 0   /* kernel buffer -> user memory */
#define XUA_DIR_FROM_USER 1 /* user memory -> kernel buffer */

/* Modes of the module's raw copy, defined by the arch and listed by INFO:
 *   x86_64: 0 "window"      stac/clac around the whole copy (rep movsb)
 *           1 "per-access"  stac/clac around every 8-byte access
 *   arm64:  0 "ldtr"        LDTR/STTR with PAN left on (the kernel since 5.11)
 *           1 "pan-off"     PAN cleared once around the whole copy, ordinary LDP/STP (what 4.3-era
 *                           copies did, and the 2026 speed proposal); PSTATE.TCO set with it, as
 *                           uaccess_enable_privileged() does. A privileged load: with FEAT_EPAN it
 *                           reads PROT_EXEC-only pages that LDTR (ldtr, copy) cannot
 *           2 "toggle"      the pan-off loop with PAN cleared and set around every 8-byte access (what
 *                           4.3-era get_user/put_user did per call)
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
#define XUA_INFO_REGS_HIDDEN (1u << 1)    /* the caller lacks CAP_SYS_ADMIN: arch_regs are zero */

/* xua_info.kbuf_kind: where the module's kernel buffers live (module parameter kbuf) */
#define XUA_KBUF_VMALLOC 0 /* vmalloc: 4 KiB pages mapped in the vmalloc area */
#define XUA_KBUF_LINEAR 1  /* physically contiguous pages used through the linear map (as kmalloc) */

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
	__u64 violations;           /* out: primitives after which the user-access window was found open */
	/* version 2 */
	__u32 nr_methods;           /* out: valid entries in method_desc[] */
	__u32 kbuf_kind;            /* out: XUA_KBUF_* */
	struct xua_method_desc method_desc[XUA_MAX_METHODS]; /* out, indexed by XUA_METHOD_* */
	__u64 tick_hz;              /* out: frequency of the `ticks` counter (x86 TSC, arm64 CNTFRQ) */
	__u64 check_ns;             /* out: cost of one loop bookkeeping step, measured at load */
	__u64 controls_seen;        /* out: window leaks planted by SELFTEST's control or TRANSFER's
				     * XUA_TRANSFER_F_PLANT_LEAK and seen by the detector (x86 where the
				     * kernel does not use SMAP: seen by the readout and, as it must be,
				     * not counted by the check) */
	/* version 3 */
	__u64 window_check_ps;      /* out: cost of one window check, picoseconds, measured at load */
};

/* xua_transfer.out_flags and friends */
#define XUA_OUT_TRUNCATED (1u << 0) /* stopped before `iterations` to stay within the time budget */
#define XUA_OUT_GUARD_TOGGLED (1u << 1) /* TOGGLE: the pair really switched SMAP/PAN on this CPU */
#define XUA_OUT_PREEMPTED (1u << 2) /* the task was switched out during the timed loop */
#define XUA_OUT_INTERRUPTED (1u << 3) /* stopped early: signal_pending() (see the top of this file) */
#define XUA_OUT_PLANT_SEEN (1u << 4)  /* TRANSFER: the planted leak was seen by the window check */

/* xua_transfer.flags */
#define XUA_TRANSFER_F_PLANT_LEAK (1u << 0) /* a positive control for the per-iteration window check:
					     * after the method of iteration plant_at (1-based) the
					     * module opens the window; the check must see it right
					     * there (XUA_OUT_PLANT_SEEN, controls_seen), before the
					     * next iteration's primitive would close it */

/*
 * What every timed command reports, in the same layout: the loop's figures (see the top of this file).
 */
#define XUA_TIMING_FIELDS                                                                       \
	__u64 elapsed_ns;      /* out: time for the iterations done */                          \
	__u64 ticks;           /* out: get_cycles() delta, at xua_info.tick_hz */                \
	__u64 iterations_done; /* out */                                                         \
	__u64 checks;          /* out: bookkeeping steps inside the timed loop */               \
	__u64 check_interval;  /* out: iterations between two of them */                        \
	__u32 nvcsw;           /* out: voluntary context switches during the loop */            \
	__u32 nivcsw;          /* out: involuntary ones */                                       \
	__u32 out_flags;       /* out: XUA_OUT_* */                                              \
	__u32 reserved_out

struct xua_transfer {
	__u32 size;
	__u32 version;
	__u32 method;          /* in: XUA_METHOD_* */
	__u32 dir;             /* in: XUA_DIR_* */
	__u32 mode;            /* in: XUA_METHOD_F_MODES methods only, index into xua_info.modes; else 0 */
	__u32 flags;           /* in: XUA_TRANSFER_F_* */
	__u64 user_addr;       /* in: user buffer (unused by XUA_METHOD_MEMCPY) */
	__u64 len;             /* in: bytes per iteration, 1..max_len */
	__u64 iterations;      /* in: 1..max_iterations */
	__u64 bytes_moved;     /* out: bytes copied in all iterations done */
	__u64 not_copied;      /* out: bytes not copied by the faulting iteration (EFAULT), else 0 */
	XUA_TIMING_FIELDS;
	/* version 3 */
	__u64 plant_at;        /* in: with XUA_TRANSFER_F_PLANT_LEAK, 1..iterations; else 0 */
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
	__u32 reserved;        /* in, 0 */
	__u64 offset;          /* in: into the shared buffer */
	__u64 len;             /* in: 1..min(max_len, buffer size - offset) */
	__u64 iterations;      /* in: 1..max_iterations */
	__u64 bytes_moved;     /* out */
	XUA_TIMING_FIELDS;
};

/* TOGGLE: `iterations` open/close pairs of the user-access window (x86 stac+clac, arm64 msr pan #0/#1) */
struct xua_toggle {
	__u32 size;
	__u32 version;
	__u32 flags;           /* in, 0 */
	__u32 reserved;        /* in, 0 */
	__u64 iterations;      /* in: 1..max_iterations */
	XUA_TIMING_FIELDS;
};

/*
 * SELFTEST: the module checks every method and mode against the others (same bytes, same
 * bytes-not-copied on a buffer running into an unmapped page) on user memory it maps into the caller,
 * checks the window after every primitive, plants a window leak to prove that check fires, and writes
 * a KTAP report (NUL-terminated, truncated to report_len) to report_addr. A group that cannot run is
 * reported `not ok` with the reason. Test names do not depend on the outcome; a failed test's
 * diagnostic lines ("# ...") come before its result line, as KTAP parsers expect. EBUSY when another
 * task shares the caller's address space (a thread could change the pages under the test, or map
 * something where the module then unmaps its pages): call it from a single-threaded process (a thread
 * that just exited may hold the address space a moment longer than pthread_join() waits: retry).
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
 * window and NO exception-table entry: oopses where SMAP/PAN is enforced. Where the guard is absent a
 * fault on a mapped page that is not present yet is serviced like any page fault (the access then
 * succeeds); it oopses on an address with no mapping (or one the access may not make), and when the
 * fault handler cannot take mmap_lock without waiting (mmap_read_trylock() fails: with no
 * exception-table entry the kernel will not sleep for it). Callers touch the page first to rule that out.
 * EPERM unless the module was loaded with allow_unsafe_deref=1 and the caller has CAP_SYS_ADMIN;
 * EFAULT when user_addr is not a user address.
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
#define XUA_IOC_MAX_NR_ABI2 0x07

#endif /* _UAPI_XUACCESS_H */
