// SPDX-License-Identifier: GPL-2.0
/*
 * xuaccess core: the transfer methods and the timed loops (TRANSFER, PRODUCE/CONSUME, TOGGLE).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/timex.h>
#include <linux/uaccess.h>

#include "xua.h"

/* Per-word methods move 8-byte words, then single bytes; a fault is reported at word granularity. */
static unsigned long xua_get_put(u32 dir, void *kbuf, void __user *u, unsigned long len)
{
	unsigned long i = 0;

	if (dir == XUA_DIR_TO_USER) {
		for (; i + 8 <= len; i += 8)
			if (put_user(*(u64 *)(kbuf + i), (u64 __user *)(u + i)))
				return len - i;
		for (; i < len; i++)
			if (put_user(*(u8 *)(kbuf + i), (u8 __user *)(u + i)))
				return len - i;
	} else {
		for (; i + 8 <= len; i += 8)
			if (get_user(*(u64 *)(kbuf + i), (u64 __user *)(u + i)))
				goto fault;
		for (; i < len; i++)
			if (get_user(*(u8 *)(kbuf + i), (u8 __user *)(u + i)))
				goto fault;
	}
	return 0;
fault:
	memset(kbuf + i, 0, len - i);
	return len - i;
}

static unsigned long xua_unsafe(u32 dir, void *kbuf, void __user *u, unsigned long len)
{
	unsigned long i = 0;

	if (dir == XUA_DIR_TO_USER) {
		if (!user_access_begin(u, len))
			return len;
		for (; i + 8 <= len; i += 8)
			unsafe_put_user(*(u64 *)(kbuf + i), (u64 __user *)(u + i), fault);
		for (; i < len; i++)
			unsafe_put_user(*(u8 *)(kbuf + i), (u8 __user *)(u + i), fault);
	} else {
		if (!user_access_begin(u, len)) {
			memset(kbuf, 0, len);
			return len;
		}
		for (; i + 8 <= len; i += 8)
			unsafe_get_user(*(u64 *)(kbuf + i), (u64 __user *)(u + i), fault);
		for (; i < len; i++)
			unsafe_get_user(*(u8 *)(kbuf + i), (u8 __user *)(u + i), fault);
	}
	user_access_end();
	return 0;
fault:
	user_access_end();
	if (dir == XUA_DIR_FROM_USER)
		memset(kbuf + i, 0, len - i);
	return len - i;
}

static unsigned long xua_raw(u32 dir, u32 mode, void *kbuf, void __user *u, unsigned long len)
{
	unsigned long left;

	if (!access_ok(u, len)) {
		if (dir == XUA_DIR_FROM_USER)
			memset(kbuf, 0, len);
		return len;
	}
	if (dir == XUA_DIR_TO_USER)
		return xua_arch_copy_to_user(mode, u, kbuf, len);
	left = xua_arch_copy_from_user(mode, kbuf, u, len);
	/* The raw copy does not zero-pad; the caller does, as _copy_from_user() does in the kernel. */
	if (left)
		memset(kbuf + (len - left), 0, left);
	return left;
}

static unsigned long xua_raw_get_put(u32 dir, void *kbuf, void __user *u, unsigned long len)
{
	unsigned long i = 0;

	if (!access_ok(u, len)) {
		if (dir == XUA_DIR_FROM_USER)
			memset(kbuf, 0, len);
		return len;
	}
	if (dir == XUA_DIR_TO_USER) {
		for (; i + 8 <= len; i += 8)
			if (xua_arch_put(u + i, kbuf + i, 8))
				return len - i;
		for (; i < len; i++)
			if (xua_arch_put(u + i, kbuf + i, 1))
				return len - i;
	} else {
		for (; i + 8 <= len; i += 8)
			if (xua_arch_get(kbuf + i, u + i, 8))
				goto fault;
		for (; i < len; i++)
			if (xua_arch_get(kbuf + i, u + i, 1))
				goto fault;
	}
	return 0;
fault:
	memset(kbuf + i, 0, len - i);
	return len - i;
}

unsigned long xua_transfer_once(u32 method, u32 dir, u32 mode, void *kbuf, void *kbuf2,
				void __user *u, unsigned long len)
{
	switch (method) {
	case XUA_METHOD_GET_PUT:
		return xua_get_put(dir, kbuf, u, len);
	case XUA_METHOD_COPY:
		if (dir == XUA_DIR_TO_USER)
			return copy_to_user(u, kbuf, len);
		return copy_from_user(kbuf, u, len);
	case XUA_METHOD_UNSAFE:
		return xua_unsafe(dir, kbuf, u, len);
	case XUA_METHOD_RAW:
		return xua_raw(dir, mode, kbuf, u, len);
	case XUA_METHOD_RAW_GET_PUT:
		return xua_raw_get_put(dir, kbuf, u, len);
	case XUA_METHOD_MEMCPY:
		if (dir == XUA_DIR_TO_USER)
			memcpy(kbuf2, kbuf, len);
		else
			memcpy(kbuf, kbuf2, len);
		barrier(); /* every iteration really copies */
		return 0;
	}
	return len;
}

/*
 * A timed loop. xua_loop_next() is called after each iteration: it stops the loop when the time budget
 * is spent (XUA_OUT_TRUNCATED) or a signal is pending (-EINTR), and lets the scheduler in. The clock is
 * read after every iteration when they are long, else after every 64th, to keep its cost off the figure.
 */
struct xua_loop {
	u64 t0, c0;
	u64 done;
	u32 out_flags;
	int err;
	bool check_every;
};

static void xua_loop_start(struct xua_loop *l, bool check_every)
{
	memset(l, 0, sizeof(*l));
	l->check_every = check_every;
	l->c0 = get_cycles();
	l->t0 = ktime_get_ns();
}

static bool xua_loop_next(struct xua_loop *l, u64 iterations)
{
	l->done++;
	if (l->done >= iterations)
		return false;
	if (!l->check_every && (l->done & 63))
		return true;
	if (signal_pending(current)) {
		l->err = -EINTR;
		return false;
	}
	if (ktime_get_ns() - l->t0 > XUA_TIME_BUDGET_NS) {
		l->out_flags |= XUA_OUT_TRUNCATED;
		return false;
	}
	cond_resched();
	return true;
}

static void xua_loop_stop(struct xua_loop *l, u64 *elapsed_ns, u64 *cycles)
{
	*elapsed_ns = ktime_get_ns() - l->t0;
	*cycles = get_cycles() - l->c0;
}

long xua_ioctl_transfer(struct xua_file *xf, void __user *uarg)
{
	struct xua_transfer t;
	void __user *u;
	struct xua_loop l;
	unsigned long left = 0;
	int ret;

	ret = xua_get_args(&t, sizeof(t), uarg);
	if (ret)
		return ret;
	if (t.method >= XUA_NR_METHODS || t.dir > XUA_DIR_FROM_USER || t.flags || t.reserved ||
	    (t.method == XUA_METHOD_RAW ? t.mode >= xua_arch_nr_modes : t.mode != 0) ||
	    !t.len || t.len > XUA_MAX_LEN || !t.iterations || t.iterations > XUA_MAX_ITERATIONS)
		return -EINVAL;
	u = u64_to_user_ptr(t.user_addr);

	if (mutex_lock_interruptible(&xf->lock))
		return -EINTR;
	ret = xua_file_buffers(xf, t.method == XUA_METHOD_MEMCPY);
	if (ret)
		goto unlock;
	xua_loop_start(&l, t.len >= 4096);
	do {
		left = xua_transfer_once(t.method, t.dir, t.mode, xf->kbuf, xf->kbuf2, u, t.len);
		if (left)
			break;
	} while (xua_loop_next(&l, t.iterations));
	xua_loop_stop(&l, &t.elapsed_ns, &t.cycles);
	t.iterations_done = l.done;
	t.bytes_moved = l.done * t.len + (left ? t.len - left : 0);
	t.not_copied = left;
	t.out_flags = l.out_flags;
	ret = left ? -EFAULT : l.err;
unlock:
	mutex_unlock(&xf->lock);
	if (copy_to_user(uarg, &t, sizeof(t)))
		return -EFAULT;
	return ret;
}

long xua_ioctl_mmap_op(struct xua_file *xf, void __user *uarg, bool produce)
{
	struct xua_mmap_op op;
	struct xua_loop l;
	int ret;

	ret = xua_get_args(&op, sizeof(op), uarg);
	if (ret)
		return ret;
	if (op.flags || !op.len || op.len > XUA_MAX_LEN || !op.iterations ||
	    op.iterations > XUA_MAX_ITERATIONS)
		return -EINVAL;
	if (mutex_lock_interruptible(&xf->lock))
		return -EINTR;
	if (!xf->mbuf) {
		ret = -ENXIO;
		goto unlock;
	}
	if (op.offset > xf->mbuf_size || op.len > xf->mbuf_size - op.offset) {
		ret = -EINVAL;
		goto unlock;
	}
	ret = xua_file_buffers(xf, false);
	if (ret)
		goto unlock;
	xua_loop_start(&l, op.len >= 4096);
	do {
		if (produce)
			memcpy(xf->mbuf + op.offset, xf->kbuf, op.len);
		else
			memcpy(xf->kbuf, xf->mbuf + op.offset, op.len);
		barrier();
	} while (xua_loop_next(&l, op.iterations));
	xua_loop_stop(&l, &op.elapsed_ns, &op.cycles);
	op.iterations_done = l.done;
	op.bytes_moved = l.done * op.len;
	op.out_flags = l.out_flags;
	ret = l.err;
unlock:
	mutex_unlock(&xf->lock);
	if (copy_to_user(uarg, &op, sizeof(op)))
		return -EFAULT;
	return ret;
}

long xua_ioctl_toggle(void __user *uarg)
{
	struct xua_toggle t;
	struct xua_loop l;
	u64 chunk;
	int ret;

	ret = xua_get_args(&t, sizeof(t), uarg);
	if (ret)
		return ret;
	if (t.flags || !t.iterations || t.iterations > XUA_MAX_ITERATIONS)
		return -EINVAL;
	/* Pairs run in chunks of 1024, with the loop's clock check after each chunk. */
	xua_loop_start(&l, true);
	t.out_flags = 0;
	t.iterations_done = 0;
	do {
		chunk = min_t(u64, 1024, t.iterations - t.iterations_done);
		if (xua_arch_toggle(chunk))
			t.out_flags |= XUA_OUT_GUARD_TOGGLED;
		t.iterations_done += chunk;
	} while (t.iterations_done < t.iterations && xua_loop_next(&l, U64_MAX));
	xua_loop_stop(&l, &t.elapsed_ns, &t.cycles);
	t.out_flags |= l.out_flags;
	if (copy_to_user(uarg, &t, sizeof(t)))
		return -EFAULT;
	return l.err;
}
