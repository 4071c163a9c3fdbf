// SPDX-License-Identifier: GPL-2.0
/*
 * xuaccess core: SELFTEST. Checks every user method and mode, and the kernel's own routines, on user
 * memory the module maps into the calling process (as lib/test_user_copy.c does): a page followed by an
 * unmapped one. Reports KTAP, one line per group of cases, with the first mismatch of a group.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "xua.h"
#include "xua_ktap.h"

#define XUA_REPORT_MAX (32 * 1024)

struct xua_ktap {
	char *buf;        /* result lines, without the header */
	size_t len;       /* bytes the report needs (may exceed XUA_REPORT_MAX) */
	unsigned int n, passed, failed;
	char first[160];  /* first mismatch of the current group */
	unsigned int cases, bad;
	const char *skip; /* the group cannot apply here: reported ok with a SKIP directive */
};

static void ktap_group_start(struct xua_ktap *k)
{
	k->cases = 0;
	k->bad = 0;
	k->first[0] = '\0';
	k->skip = NULL;
}

static void __printf(3, 4) ktap_case(struct xua_ktap *k, bool ok, const char *fmt, ...)
{
	va_list ap;

	k->cases++;
	if (ok)
		return;
	if (!k->bad++) {
		va_start(ap, fmt);
		vsnprintf(k->first, sizeof(k->first), fmt, ap);
		va_end(ap);
	}
}

/* The group's result (xua_ktap.h: a fixed name, the diagnostic before the result line). */
static void __printf(2, 3) ktap_group_end(struct xua_ktap *k, const char *fmt, ...)
{
	char name[96];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	k->n++;
	if (k->bad)
		k->failed++;
	else
		k->passed++;
	n = xua_ktap_result(k->len < XUA_REPORT_MAX ? k->buf + k->len : NULL,
			    k->len < XUA_REPORT_MAX ? XUA_REPORT_MAX - k->len : 0, k->n, name, k->cases, k->bad,
			    k->first, k->skip);
	k->len += n;
}

static const char *xua_dir_name(u32 dir)
{
	return dir == XUA_DIR_TO_USER ? "to-user" : "from-user";
}

static bool xua_word_granular(u32 method)
{
	return xua_methods[method].flags & XUA_METHOD_F_WORD;
}

/* Bytes a per-word method leaves when only the first `ok` bytes of `len` are accessible. */
static unsigned long xua_word_left(unsigned long len, unsigned long ok)
{
	unsigned long i;

	for (i = 0; i + 8 <= len; i += 8)
		if (i + 8 > ok)
			return len - i;
	/* The byte tail stops at the first inaccessible byte. */
	return ok < len ? len - ok : 0;
}

struct xua_st {
	struct xua_ktap k;
	const char *setup_err; /* set-up failed: every group is not ok with this reason */
	u8 __user *u;          /* one mapped page, then an unmapped one */
	u8 *pat, *a;           /* 2 pages each: pattern, scratch */
};

/* The window is closed after a primitive; a leak is counted (and closed) as a violation. */
static bool xua_st_window_closed(const char *site)
{
	if (likely(!xua_window_leaked()))
		return true;
	xua_window_violation(site);
	return false;
}

/* A step of a group's own set-up failed: the group fails with the reason, nothing else runs in it. */
static bool xua_st_setup(struct xua_st *s, bool ok, const char *what)
{
	if (!ok)
		ktap_case(&s->k, false, "%s failed", what);
	return ok;
}

static bool xua_st_ready(struct xua_st *s)
{
	if (s->setup_err)
		ktap_case(&s->k, false, "set-up failed: %s", s->setup_err);
	return !s->setup_err;
}

static void xua_st_group_end(struct xua_st *s, const char *kind, u32 method, u32 mode, u32 dir)
{
	bool modes = xua_methods[method].flags & XUA_METHOD_F_MODES;

	ktap_group_end(&s->k, "%s %s %s%s%s", kind, xua_dir_name(dir), xua_methods[method].name,
		       modes ? "/" : "", modes ? xua_arch_modes[mode] : "");
}

/* Every method and mode moves the right bytes inside the mapped page, at odd sizes and alignments. */
static void xua_st_integrity(struct xua_st *s, u32 method, u32 mode, u32 dir)
{
	static const unsigned int lens[] = { 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 1000, 4000 };
	static const unsigned int offs[] = { 0, 1, 3, 8, 13 };
	unsigned int i, j;
	unsigned long left;
	bool closed;

	ktap_group_start(&s->k);
	for (i = 0; i < ARRAY_SIZE(lens) && xua_st_ready(s); i++) {
		for (j = 0; j < ARRAY_SIZE(offs); j++) {
			unsigned int len = lens[i], off = offs[j];

			if (off + len > PAGE_SIZE)
				continue;
			if (dir == XUA_DIR_TO_USER) {
				if (!xua_st_setup(s, !clear_user(s->u, PAGE_SIZE), "clear_user"))
					goto out;
				left = xua_transfer_once(method, dir, mode, s->pat, NULL, s->u + off, len);
				closed = xua_st_window_closed("a selftest copy");
				if (!xua_st_setup(s, !copy_from_user(s->a, s->u, PAGE_SIZE), "copy_from_user"))
					goto out;
				ktap_case(&s->k, closed && !left && !memcmp(s->a + off, s->pat, len) &&
						 !memchr_inv(s->a, 0, off) &&
						 !memchr_inv(s->a + off + len, 0, PAGE_SIZE - off - len),
					  "len %u off %u: left %lu%s or bytes differ", len, off, left,
					  closed ? "" : ", window left open");
			} else {
				if (!xua_st_setup(s, !copy_to_user(s->u, s->pat, PAGE_SIZE), "copy_to_user"))
					goto out;
				memset(s->a, 0x5a, len + 16);
				left = xua_transfer_once(method, dir, mode, s->a, NULL, s->u + off, len);
				closed = xua_st_window_closed("a selftest copy");
				ktap_case(&s->k, closed && !left && !memcmp(s->a, s->pat + off, len) &&
						 !memchr_inv(s->a + len, 0x5a, 16),
					  "len %u off %u: left %lu%s or bytes differ", len, off, left,
					  closed ? "" : ", window left open");
			}
		}
	}
out:
	xua_st_group_end(s, "integrity", method, mode, dir);
}

/*
 * A copy that runs from the end of the mapped page into the unmapped one, `k` bytes before the edge.
 * The module's raw copy is exact: it copies the k accessible bytes and reports len - k. Per-word
 * methods stop at the first word that faults. The kernel's copy_{to,from}_user and raw routines may
 * stop earlier (arm64 reports from its chunking, x86 is exact), so they are held to the uaccess
 * contract: at least len - k reported, and every byte reported as copied is right. In every case the
 * uncopied tail of a copy from user is zeroed, and the window is closed after the fault.
 */
static void xua_st_edge(struct xua_st *s, u32 method, u32 mode, u32 dir)
{
	static const unsigned int ks[] = { 1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 63, 64, 65, 200 };
	static const unsigned int ms[] = { 1, 3, 8, 16, 100 };
	const bool kernel = xua_methods[method].flags & XUA_METHOD_F_KERNEL &&
			    !(xua_methods[method].flags & XUA_METHOD_F_WORD);
	unsigned int i, j;

	ktap_group_start(&s->k);
	for (i = 0; i < ARRAY_SIZE(ks) && xua_st_ready(s); i++) {
		for (j = 0; j < ARRAY_SIZE(ms); j++) {
			unsigned int k = ks[i], len = k + ms[j];
			u8 __user *start = s->u + PAGE_SIZE - k;
			unsigned long got, want, done;
			bool bytes_ok, closed;

			want = xua_word_granular(method) ? xua_word_left(len, k) : len - k;
			if (dir == XUA_DIR_TO_USER) {
				if (!xua_st_setup(s, !clear_user(s->u, PAGE_SIZE), "clear_user"))
					goto out;
				got = xua_transfer_once(method, dir, mode, s->pat, NULL, start, len);
				closed = xua_st_window_closed("a faulting selftest copy");
				if (!xua_st_setup(s, !copy_from_user(s->a, s->u, PAGE_SIZE), "copy_from_user"))
					goto out;
				done = got <= len ? len - got : 0;
				bytes_ok = !memcmp(s->a + PAGE_SIZE - k, s->pat, min(done, (unsigned long)k)) &&
					   !memchr_inv(s->a, 0, PAGE_SIZE - k);
			} else {
				if (!xua_st_setup(s, !copy_to_user(s->u, s->pat, PAGE_SIZE), "copy_to_user"))
					goto out;
				memset(s->a, 0x5a, len);
				got = xua_transfer_once(method, dir, mode, s->a, NULL, start, len);
				closed = xua_st_window_closed("a faulting selftest copy");
				done = got <= len ? len - got : 0;
				bytes_ok = !memcmp(s->a, s->pat + PAGE_SIZE - k, done) &&
					   !memchr_inv(s->a + done, 0, len - done);
			}
			ktap_case(&s->k, closed && (kernel ? got >= want && got <= len : got == want) && bytes_ok,
				  "k %u len %u: left %lu, expected %s%lu%s%s", k, len, got, kernel ? ">= " : "", want,
				  bytes_ok ? "" : ", bytes differ", closed ? "" : ", window left open");
		}
	}
out:
	xua_st_group_end(s, "edge", method, mode, dir);
}

/* The module's sized get/put against the kernel's get_user/put_user, on and across the page edge. */
static void xua_st_sized(struct xua_st *s)
{
	static const unsigned int sizes[] = { 1, 2, 4, 8 };
	unsigned int i, d;

	ktap_group_start(&s->k);
	if (!xua_st_ready(s) || !xua_st_setup(s, !copy_to_user(s->u, s->pat, PAGE_SIZE), "copy_to_user"))
		goto out;
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		unsigned int sz = sizes[i];

		for (d = 0; d <= sz; d++) {
			u8 __user *p = s->u + PAGE_SIZE - sz + d; /* d > 0: crosses into the unmapped page */
			u64 mine = 0, ref = 0;
			int e1, e2 = 0, p1, p2 = 0;
			bool c1, c2;

			e1 = xua_get(&mine, p, sz);
			c1 = xua_st_window_closed("a sized get");
			switch (sz) {
			case 1: { u8 v; e2 = get_user(v, (u8 __user *)p); ref = v; break; }
			case 2: { u16 v; e2 = get_user(v, (u16 __user *)p); ref = v; break; }
			case 4: { u32 v; e2 = get_user(v, (u32 __user *)p); ref = v; break; }
			case 8: { u64 v; e2 = get_user(v, (u64 __user *)p); ref = v; break; }
			}
			ktap_case(&s->k, c1 && e1 == e2 && (e1 || mine == ref),
				  "get size %u at edge-%u: %d/%llx vs get_user %d/%llx%s", sz, sz - d, e1, mine, e2,
				  ref, c1 ? "" : ", window left open");
			p1 = xua_put(p, &ref, sz);
			c2 = xua_st_window_closed("a sized put");
			switch (sz) {
			case 1: p2 = put_user((u8)ref, (u8 __user *)p); break;
			case 2: p2 = put_user((u16)ref, (u16 __user *)p); break;
			case 4: p2 = put_user((u32)ref, (u32 __user *)p); break;
			case 8: p2 = put_user((u64)ref, (u64 __user *)p); break;
			}
			ktap_case(&s->k, c2 && p1 == p2, "put size %u at edge-%u: %d vs put_user %d%s", sz, sz - d,
				  p1, p2, c2 ? "" : ", window left open");
		}
	}
out:
	ktap_group_end(&s->k, "sized get/put vs get_user/put_user");
}

/* Window pairs leave the window closed: each of 16 pairs checked on its own. */
static void xua_st_toggle(struct xua_st *s)
{
	unsigned int i;
	bool closed;

	ktap_group_start(&s->k);
	for (i = 0; i < 16; i++) {
		preempt_disable();
		xua_arch_toggle(1);
		closed = xua_st_window_closed("a selftest window pair");
		preempt_enable();
		ktap_case(&s->k, closed, "window left open after pair %u", i);
	}
	ktap_group_end(&s->k, "window pairs close the window");
}

/* The positive control: the window check sees a leak planted on purpose. */
static void xua_st_control(struct xua_st *s)
{
	enum xua_control r;

	ktap_group_start(&s->k);
	r = xua_window_control();
	if (r == XUA_CONTROL_NONE)
		s->k.skip = "no user-access window on this CPU and kernel";
	else
		/*
		 * x86 where the kernel does not use SMAP (XUA_CONTROL_GATED): the readout saw the planted AC
		 * and the check, as it must, did not count it.
		 */
		ktap_case(&s->k, r == XUA_CONTROL_SEEN || r == XUA_CONTROL_GATED,
			  "the window check did not see a window opened on purpose");
	ktap_group_end(&s->k, "window check sees a planted leak (positive control)");
}

/* Every group, in a fixed order; the same list with and without a working set-up. */
static void xua_st_run(struct xua_st *s)
{
	u32 method, mode, dir;

	xua_st_control(s);
	for (dir = XUA_DIR_TO_USER; dir <= XUA_DIR_FROM_USER; dir++) {
		for (method = 0; method < XUA_NR_METHODS; method++) {
			const struct xua_method *m = &xua_methods[method];

			if (m->flags & XUA_METHOD_F_NO_USER)
				continue;
			for (mode = 0; mode < (m->flags & XUA_METHOD_F_MODES ? xua_arch_nr_modes : 1); mode++) {
				xua_st_integrity(s, method, mode, dir);
				xua_st_edge(s, method, mode, dir);
			}
		}
	}
	xua_st_sized(s);
	xua_st_toggle(s);
}

static int xua_st_report(struct xua_st *s, struct xua_selftest *st)
{
	static const char header[] = XUA_KTAP_VERSION_LINE;
	char plan[32];
	size_t hlen, out;

	hlen = scnprintf(plan, sizeof(plan), "1..%u\n", s->k.n);
	st->passed = s->k.passed;
	st->failed = s->k.failed;
	st->report_bytes = strlen(header) + hlen + s->k.len;
	out = min_t(u64, st->report_len - 1, strlen(header));
	if (copy_to_user(u64_to_user_ptr(st->report_addr), header, out))
		return -EFAULT;
	if (out < st->report_len - 1) {
		size_t n = min_t(u64, st->report_len - 1 - out, hlen);

		if (copy_to_user(u64_to_user_ptr(st->report_addr + out), plan, n))
			return -EFAULT;
		out += n;
	}
	if (out < st->report_len - 1) {
		size_t n = min_t(u64, st->report_len - 1 - out, min_t(size_t, s->k.len, XUA_REPORT_MAX));

		if (copy_to_user(u64_to_user_ptr(st->report_addr + out), s->k.buf, n))
			return -EFAULT;
		out += n;
	}
	if (put_user('\0', (char __user *)u64_to_user_ptr(st->report_addr + out)))
		return -EFAULT;
	return 0;
}

long xua_ioctl_selftest(struct xua_ioctl_ctx *c, void *arg)
{
	struct xua_selftest *st = arg;
	struct xua_st s = {};
	unsigned long addr = 0;
	size_t i;
	int ret;

	if (!st->report_len)
		return -EINVAL;
	/*
	 * The test maps and unmaps pages in the caller's address space: another task sharing it (a thread)
	 * could change them under the test, or map something where the final munmap then removes it.
	 */
	if (atomic_read(&current->mm->mm_users) > 1)
		return -EBUSY;
	/* The report buffer is needed to say anything at all. */
	s.k.buf = kvzalloc(XUA_REPORT_MAX, GFP_KERNEL_ACCOUNT);
	if (!s.k.buf)
		return -ENOMEM;
	s.pat = kvmalloc(2 * PAGE_SIZE, GFP_KERNEL_ACCOUNT);
	s.a = kvzalloc(2 * PAGE_SIZE, GFP_KERNEL_ACCOUNT);
	if (!s.pat || !s.a) {
		s.setup_err = "kernel buffers: out of memory";
	} else {
		for (i = 0; i < 2 * PAGE_SIZE; i++)
			s.pat[i] = (u8)(i * 7 + 3);
		addr = vm_mmap(NULL, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, 0);
		if (IS_ERR_VALUE(addr)) {
			s.setup_err = "vm_mmap of the user pages failed";
			addr = 0;
		} else if (vm_munmap(addr + PAGE_SIZE, PAGE_SIZE)) {
			s.setup_err = "vm_munmap of the guard page failed";
		}
		s.u = (u8 __user *)addr;
	}
	xua_st_run(&s);
	if (addr)
		vm_munmap(addr, 2 * PAGE_SIZE);
	c->wrote_out = true;
	ret = xua_st_report(&s, st);
	kvfree(s.k.buf);
	kvfree(s.pat);
	kvfree(s.a);
	return ret;
}
