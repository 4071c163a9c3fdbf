// SPDX-License-Identifier: GPL-2.0
/*
 * xuaccess core: the timed commands (TRANSFER, PRODUCE/CONSUME, TOGGLE) and their loop.
 *
 * The loop's bookkeeping (signal, time budget, cond_resched) runs every `interval` iterations, chosen
 * so that about 1 MiB moves between two steps: its cost (xua_check_ns, measured at load, times
 * `checks`) stays a small share of any row, and the bench reports it. The window is checked after every
 * iteration (and, inside the module's own methods, after every primitive): guard.c.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/timex.h>
#include <linux/uaccess.h>

#include "xua.h"

#define XUA_CHECK_BYTES (1UL << 20) /* bytes moved between two bookkeeping steps */
#define XUA_CHECK_MAX_INTERVAL 65536
#define XUA_TOGGLE_CHUNK 1024       /* window pairs between two bookkeeping steps */

u64 xua_check_ns;

struct xua_loop {
	u64 t0, c0;
	u64 elapsed_ns, ticks;
	u64 done, checks, mask;
	unsigned long nvcsw, nivcsw; /* at the start, then (xua_loop_stop) the switches during the loop */
	u32 out_flags;
};

static void xua_loop_start(struct xua_loop *l, u64 interval)
{
	memset(l, 0, sizeof(*l));
	l->mask = interval - 1;
	l->nvcsw = current->nvcsw;
	l->nivcsw = current->nivcsw;
	l->c0 = get_cycles();
	l->t0 = ktime_get_ns();
}

/* Iterations between bookkeeping steps for `len` bytes each: a power of two. */
static u64 xua_check_interval(u64 len)
{
	return roundup_pow_of_two(clamp_t(u64, XUA_CHECK_BYTES / len, 1, XUA_CHECK_MAX_INTERVAL));
}

static noinline bool xua_loop_bookkeeping(struct xua_loop *l)
{
	l->checks++;
	/* Also true with no signal to deliver (freezer, io_uring): stop and report, never EINTR. */
	if (signal_pending(current)) {
		l->out_flags |= XUA_OUT_INTERRUPTED;
		return false;
	}
	if (ktime_get_ns() - l->t0 > XUA_TIME_BUDGET_NS) {
		l->out_flags |= XUA_OUT_TRUNCATED;
		return false;
	}
	cond_resched();
	return true;
}

/* After each iteration (its window checked): false when the loop ends. */
static __always_inline bool xua_loop_next(struct xua_loop *l, u64 iterations)
{
	if (++l->done >= iterations)
		return false;
	if (likely(l->done & l->mask))
		return true;
	return xua_loop_bookkeeping(l);
}

static void xua_loop_stop(struct xua_loop *l)
{
	l->elapsed_ns = ktime_get_ns() - l->t0;
	l->ticks = get_cycles() - l->c0;
	l->nvcsw = current->nvcsw - l->nvcsw;
	l->nivcsw = current->nivcsw - l->nivcsw;
	if (l->nvcsw || l->nivcsw)
		l->out_flags |= XUA_OUT_PREEMPTED;
}

/* The XUA_TIMING_FIELDS of a command's argument, from its loop. */
#define xua_set_timing(t, l, interval)							\
	do {										\
		(t)->elapsed_ns = (l)->elapsed_ns;					\
		(t)->ticks = (l)->ticks;						\
		(t)->iterations_done = (l)->done;					\
		(t)->checks = (l)->checks;						\
		(t)->check_interval = (interval);					\
		(t)->nvcsw = (l)->nvcsw;						\
		(t)->nivcsw = (l)->nivcsw;						\
		(t)->out_flags = (l)->out_flags;					\
		(t)->reserved_out = 0;							\
	} while (0)

long xua_ioctl_transfer(struct xua_ioctl_ctx *c, void *arg)
{
	struct xua_transfer *t = arg;
	struct xua_file *xf = c->xf;
	const struct xua_method *m;
	void __user *u;
	struct xua_loop l;
	unsigned long left = 0;
	u64 interval, plant = 0;
	bool seen = false;
	int ret;

	if (t->method >= XUA_NR_METHODS || t->dir > XUA_DIR_FROM_USER || t->flags & ~XUA_TRANSFER_F_PLANT_LEAK ||
	    !t->len || t->len > XUA_MAX_LEN || !t->iterations || t->iterations > XUA_MAX_ITERATIONS)
		return -EINVAL;
	if (t->flags & XUA_TRANSFER_F_PLANT_LEAK) {
		if (!t->plant_at || t->plant_at > t->iterations)
			return -EINVAL;
		plant = t->plant_at;
	} else if (t->plant_at) {
		return -EINVAL;
	}
	m = &xua_methods[t->method];
	if (m->flags & XUA_METHOD_F_MODES ? t->mode >= xua_arch_nr_modes : t->mode != 0)
		return -EINVAL;
	u = u64_to_user_ptr(t->user_addr);

	if (mutex_lock_interruptible(&xf->lock))
		return -ERESTARTSYS;
	ret = xua_file_buffers(xf, m->flags & XUA_METHOD_F_NO_USER);
	if (ret)
		goto unlock;
	c->wrote_out = true;
	interval = xua_check_interval(t->len);
	xua_loop_start(&l, interval);
	do {
		left = xua_transfer_once(t->method, t->dir, t->mode, xf->kbuf, xf->kbuf2, u, t->len);
		if (unlikely(plant == l.done + 1)) {
			/* The positive control: a leak here must be seen here, before the next primitive. */
			xua_arch_window_open();
			seen = xua_window_leaked();
			xua_arch_window_close();
		} else {
			xua_check_window("an iteration of a timed loop");
		}
		if (left)
			break;
	} while (xua_loop_next(&l, t->iterations));
	xua_loop_stop(&l);
	xua_set_timing(t, &l, interval);
	if (seen) {
		t->out_flags |= XUA_OUT_PLANT_SEEN;
		xua_window_control_seen();
	}
	t->bytes_moved = l.done * t->len + (left ? t->len - left : 0);
	t->not_copied = left;
	ret = left ? -EFAULT : 0;
unlock:
	mutex_unlock(&xf->lock);
	return ret;
}

static long xua_mmap_op(struct xua_ioctl_ctx *c, struct xua_mmap_op *op, bool produce)
{
	struct xua_file *xf = c->xf;
	struct xua_loop l;
	size_t msize;
	void *mbuf;
	u64 interval;
	int ret;

	if (op->flags || op->reserved || !op->len || op->len > XUA_MAX_LEN || !op->iterations ||
	    op->iterations > XUA_MAX_ITERATIONS)
		return -EINVAL;
	mbuf = xua_file_mbuf(xf, &msize);
	if (!mbuf)
		return -ENXIO;
	if (op->offset > msize || op->len > msize - op->offset)
		return -EINVAL;
	if (mutex_lock_interruptible(&xf->lock))
		return -ERESTARTSYS;
	ret = xua_file_buffers(xf, false);
	if (ret)
		goto unlock;
	c->wrote_out = true;
	interval = xua_check_interval(op->len);
	xua_loop_start(&l, interval);
	do {
		if (produce)
			memcpy(mbuf + op->offset, xf->kbuf, op->len);
		else
			memcpy(xf->kbuf, mbuf + op->offset, op->len);
		barrier();
	} while (xua_loop_next(&l, op->iterations));
	xua_loop_stop(&l);
	xua_set_timing(op, &l, interval);
	op->bytes_moved = l.done * op->len;
	ret = 0;
unlock:
	mutex_unlock(&xf->lock);
	return ret;
}

long xua_ioctl_produce(struct xua_ioctl_ctx *c, void *arg)
{
	return xua_mmap_op(c, arg, true);
}

long xua_ioctl_consume(struct xua_ioctl_ctx *c, void *arg)
{
	return xua_mmap_op(c, arg, false);
}

/*
 * TOGGLE: chunks of XUA_TOGGLE_CHUNK pairs, each with preemption off and the window checked right
 * after it (a pair cannot fault), then the bookkeeping.
 */
long xua_ioctl_toggle(struct xua_ioctl_ctx *c, void *arg)
{
	struct xua_toggle *t = arg;
	struct xua_loop l;
	bool toggled = false;
	u64 chunk, pairs = 0;

	if (t->flags || t->reserved || !t->iterations || t->iterations > XUA_MAX_ITERATIONS)
		return -EINVAL;
	c->wrote_out = true;
	xua_loop_start(&l, 1);
	/* The pairs are checked per chunk: a check per pair would be the thing measured. */
	for (;;) {
		chunk = min_t(u64, XUA_TOGGLE_CHUNK, t->iterations - pairs);
		preempt_disable();
		toggled = xua_arch_toggle(chunk);
		xua_check_window("a window pair");
		preempt_enable();
		pairs += chunk;
		if (pairs >= t->iterations || !xua_loop_bookkeeping(&l))
			break;
	}
	xua_loop_stop(&l);
	l.done = pairs;
	xua_set_timing(t, &l, XUA_TOGGLE_CHUNK);
	if (toggled)
		t->out_flags |= XUA_OUT_GUARD_TOGGLED;
	return 0;
}

/* What one bookkeeping step costs here, for INFO: the mean of 1000, right after load. */
void xua_measure_check_ns(void)
{
	struct xua_loop l;
	int i;

	xua_loop_start(&l, 1);
	for (i = 0; i < 1000; i++)
		xua_loop_bookkeeping(&l);
	xua_check_ns = (ktime_get_ns() - l.t0) / 1000;
}
