// SPDX-License-Identifier: GPL-2.0
/*
 * xuaccess core: the window check. After every primitive of the module's own (raw copies, sized
 * accessors, window pairs) the user-access window must be closed again. The check runs right after the
 * primitive, before anything that could close a leaked window (the kernel's copy_to_user ends with clac)
 * or hand it to another task (a voluntary schedule: arm64 does not save PSTATE.PAN across
 * cpu_switch_to). Nothing sleeps between a primitive and its check; an interrupt in between saves and
 * restores the interrupted state (x86 EFLAGS.AC, arm64 PSTATE.PAN) with the task, so the check still
 * reads the state the primitive left. Preemption is not disabled around the copies themselves: a user
 * page fault inside them must be allowed to sleep (in atomic context it would become an EFAULT).
 *
 * Where they run: SELFTEST checks after every primitive call; a timed loop checks after its first
 * iteration, at every bookkeeping step and after its last iteration or a fault (transfer.c).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/errno.h>
#include <linux/preempt.h>
#include <linux/printk.h>

#include "xua.h"

static atomic64_t xua_nr_violations = ATOMIC64_INIT(0);
static atomic64_t xua_nr_controls = ATOMIC64_INIT(0);

/* A leak was found: close the window first (nothing else may run with it open), then count it. */
void xua_window_violation(const char *site)
{
	xua_arch_window_close();
	atomic64_inc(&xua_nr_violations);
	pr_err_ratelimited("user-access window open after %s: closed it (violation)\n", site);
}

u64 xua_violations(void)
{
	return atomic64_read(&xua_nr_violations);
}

u64 xua_controls_seen(void)
{
	return atomic64_read(&xua_nr_controls);
}

/*
 * The positive control: open the window on purpose and ask the same detector the checks use. 1 when
 * it saw the leak (and the window is closed again), 0 when it did not (the detector is broken, so
 * "violations = 0" would mean nothing), -EOPNOTSUPP when this CPU and kernel have no window to open.
 * Preemption is off: nothing may run with the window open, and nothing here can fault.
 */
int xua_window_control(void)
{
	bool seen, closed;

	preempt_disable();
	if (!xua_arch_window_open()) {
		preempt_enable();
		return -EOPNOTSUPP;
	}
	seen = xua_arch_window_is_open();
	xua_arch_window_close();
	closed = !xua_arch_window_is_open();
	preempt_enable();
	if (seen)
		atomic64_inc(&xua_nr_controls);
	return seen && closed;
}
