// SPDX-License-Identifier: GPL-2.0
/*
 * xuaccess core: the window check. After every primitive of the module's own (each raw copy, each sized
 * access, each chunk of TOGGLE's window pairs) and after every iteration of a timed loop, the
 * user-access window must be closed again. The check (xua_window_leaked(), xua.h) runs right after the
 * primitive, before anything that could close a leaked window (the next primitive's own close, the
 * kernel's copy_to_user's clac) or hand it to another task (a voluntary schedule: arm64 does not save
 * PSTATE.PAN across cpu_switch_to). Nothing sleeps between a primitive and its check; an interrupt in
 * between saves and restores the interrupted state (x86 EFLAGS.AC, arm64 PSTATE.PAN) with the task, so
 * the check still reads the state the primitive left. Preemption is not disabled around the copies
 * themselves: a user page fault inside them must be allowed to sleep (in atomic context it would become
 * an EFAULT). A leak is closed inline, before any call; only then is it counted here.
 *
 * The check judges only what the module can do: it counts only where the kernel uses the guard
 * (xua_arch_window_live()). On x86 without SMAP in use EFLAGS.AC in ring 0 is user space's to set (the
 * int $0x80 entry's clac is a NOP there) and it follows the CPU across context switches; the module's
 * own stac/clac are NOPs there too, so it cannot leave a window open.
 *
 * Its cost, one readout and test per primitive, is measured at load (xua_window_check_ps, in INFO).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/errno.h>
#include <linux/ktime.h>
#include <linux/preempt.h>
#include <linux/printk.h>

#include "xua.h"

static atomic64_t xua_nr_violations = ATOMIC64_INIT(0);
static atomic64_t xua_nr_controls = ATOMIC64_INIT(0);
u64 xua_window_check_ps;

/* A leak was found and closed (xua_window_leaked()): count it. */
void xua_window_violation(const char *site)
{
	atomic64_inc(&xua_nr_violations);
	pr_err_ratelimited("user-access window open after %s: closed it (violation)\n", site);
}

/* A planted leak was seen where it was planted (a positive control). */
void xua_window_control_seen(void)
{
	atomic64_inc(&xua_nr_controls);
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
 * Plant, read, check and close in one sequence with nothing out of line in it: every step is an
 * always-inline asm or static branch, the function is not instrumented, and preemption is off around it
 * (preempt_disable/enable are outside the window).
 */
static xua_noinstr u32 xua_window_plant(void)
{
	bool planted, raw, counted, closed;

	planted = xua_arch_window_open();
	raw = xua_arch_window_is_open();
	counted = xua_window_leaked();
	xua_arch_window_close();
	closed = !xua_arch_window_is_open();
	return planted | raw << 1 | counted << 2 | closed << 3;
}

/*
 * The positive control: open the window on purpose and ask the same detector the checks use. Where a
 * window exists the check must see and close it; on x86 without SMAP in use the raw readout must see the
 * planted AC and the check must not count it.
 */
enum xua_control xua_window_control(void)
{
	bool live = xua_arch_window_live();
	enum xua_control r;
	u32 s;

	preempt_disable();
	s = xua_window_plant();
	preempt_enable();
	if (!(s & 1))
		return XUA_CONTROL_NONE;
	if (live)
		r = s == 0xf ? XUA_CONTROL_SEEN : XUA_CONTROL_MISSED;
	else
		r = s == 0xb ? XUA_CONTROL_GATED : XUA_CONTROL_MISSED;
	if (r != XUA_CONTROL_MISSED)
		xua_window_control_seen();
	return r;
}

/* What one check costs where nothing leaks: the mean of 100,000, right after load. */
void xua_measure_window_check(void)
{
	unsigned int i, open = 0;
	u64 t0;

	preempt_disable();
	t0 = ktime_get_ns();
	for (i = 0; i < 100000; i++) {
		open += xua_window_leaked();
		barrier();
	}
	xua_window_check_ps = (ktime_get_ns() - t0) * 1000 / 100000;
	preempt_enable();
	if (open)
		pr_err("user-access window open at load: closed it\n");
}
