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

#define XUA_REPORT_MAX (32 * 1024)

struct xua_ktap {
	char *buf;        /* result lines, without the header */
	size_t len;       /* bytes the report needs (may exceed XUA_REPORT_MAX) */
	unsigned int n, passed, failed;
	char first[160];  /* first mismatch of the current group */
	unsigned int cases, bad;
};

static void __printf(2, 3) ktap_line(struct xua_ktap *k, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(k->len < XUA_REPORT_MAX ? k->buf + k->len : NULL,
		      k->len < XUA_REPORT_MAX ? XUA_REPORT_MAX - k->len : 0, fmt, ap);
	va_end(ap);
	k->len += n;
}

static void ktap_group_start(struct xua_ktap *k)
{
	k->cases = 0;
	k->bad = 0;
	k->first[0] = '\0';
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

static void __printf(2, 3) ktap_group_end(struct xua_ktap *k, const char *fmt, ...)
{
	char name[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	k->n++;
	if (k->bad) {
		k->failed++;
		ktap_line(k, "not ok %u %s (%u of %u cases differ)\n# first: %s\n", k->n, name, k->bad,
			  k->cases, k->first);
	} else {
		k->passed++;
		ktap_line(k, "ok %u %s (%u cases)\n", k->n, name, k->cases);
	}
}

static const char *const xua_method_names[XUA_NR_METHODS] = {
	[XUA_METHOD_GET_PUT] = "get_put",
	[XUA_METHOD_COPY] = "copy",
	[XUA_METHOD_UNSAFE] = "unsafe",
	[XUA_METHOD_RAW] = "raw",
	[XUA_METHOD_RAW_GET_PUT] = "raw_get_put",
	[XUA_METHOD_MEMCPY] = "memcpy",
};

static bool xua_word_granular(u32 method)
{
	return method == XUA_METHOD_GET_PUT || method == XUA_METHOD_UNSAFE ||
	       method == XUA_METHOD_RAW_GET_PUT;
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
	u8 __user *u;      /* one mapped page, then an unmapped one */
	u8 *pat, *a;       /* 2 pages each: pattern, scratch */
};

/* Every method and mode moves the right bytes inside the mapped page, at odd sizes and alignments. */
static void xua_st_integrity(struct xua_st *s, u32 method, u32 mode, u32 dir)
{
	static const unsigned int lens[] = { 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 1000, 4000 };
	static const unsigned int offs[] = { 0, 1, 3, 8, 13 };
	unsigned int i, j;
	unsigned long left;

	ktap_group_start(&s->k);
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		for (j = 0; j < ARRAY_SIZE(offs); j++) {
			unsigned int len = lens[i], off = offs[j];

			if (off + len > PAGE_SIZE)
				continue;
			if (dir == XUA_DIR_TO_USER) {
				if (clear_user(s->u, PAGE_SIZE))
					return;
				left = xua_transfer_once(method, dir, mode, s->pat, NULL, s->u + off, len);
				if (copy_from_user(s->a, s->u, PAGE_SIZE))
					return;
				ktap_case(&s->k, !left && !memcmp(s->a + off, s->pat, len) &&
						 !memchr_inv(s->a, 0, off) &&
						 !memchr_inv(s->a + off + len, 0, PAGE_SIZE - off - len),
					  "len %u off %u: left %lu or bytes differ", len, off, left);
			} else {
				if (copy_to_user(s->u, s->pat, PAGE_SIZE))
					return;
				memset(s->a, 0x5a, len + 16);
				left = xua_transfer_once(method, dir, mode, s->a, NULL, s->u + off, len);
				ktap_case(&s->k, !left && !memcmp(s->a, s->pat + off, len) &&
						 !memchr_inv(s->a + len, 0x5a, 16),
					  "len %u off %u: left %lu or bytes differ", len, off, left);
			}
		}
	}
	ktap_group_end(&s->k, "integrity %s %s%s%s", dir == XUA_DIR_TO_USER ? "to-user" : "from-user",
		       xua_method_names[method], method == XUA_METHOD_RAW ? "/" : "",
		       method == XUA_METHOD_RAW ? xua_arch_modes[mode] : "");
}

/*
 * A copy that runs from the end of the mapped page into the unmapped one, `k` bytes before the edge.
 * The module's raw copy is exact: it copies the k accessible bytes and reports len - k. Per-word
 * methods stop at the first word that faults. The kernel's copy_{to,from}_user may stop earlier
 * (arm64 reports from its chunking, x86 is exact), so it is held to the uaccess contract: at least
 * len - k reported, and every byte it reports as copied is right. In every case the uncopied tail of
 * a copy from user is zeroed.
 */
static void xua_st_edge(struct xua_st *s, u32 method, u32 mode, u32 dir)
{
	static const unsigned int ks[] = { 1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 63, 64, 65, 200 };
	static const unsigned int ms[] = { 1, 3, 8, 16, 100 };
	const bool kernel = method == XUA_METHOD_COPY;
	unsigned int i, j;

	ktap_group_start(&s->k);
	for (i = 0; i < ARRAY_SIZE(ks); i++) {
		for (j = 0; j < ARRAY_SIZE(ms); j++) {
			unsigned int k = ks[i], len = k + ms[j];
			u8 __user *start = s->u + PAGE_SIZE - k;
			unsigned long got, want, done;
			bool bytes_ok;

			want = xua_word_granular(method) ? xua_word_left(len, k) : len - k;
			if (dir == XUA_DIR_TO_USER) {
				if (clear_user(s->u, PAGE_SIZE))
					return;
				got = xua_transfer_once(method, dir, mode, s->pat, NULL, start, len);
				if (copy_from_user(s->a, s->u, PAGE_SIZE))
					return;
				done = got <= len ? len - got : 0;
				bytes_ok = !memcmp(s->a + PAGE_SIZE - k, s->pat, min(done, (unsigned long)k)) &&
					   !memchr_inv(s->a, 0, PAGE_SIZE - k);
			} else {
				if (copy_to_user(s->u, s->pat, PAGE_SIZE))
					return;
				memset(s->a, 0x5a, len);
				got = xua_transfer_once(method, dir, mode, s->a, NULL, start, len);
				done = got <= len ? len - got : 0;
				bytes_ok = !memcmp(s->a, s->pat + PAGE_SIZE - k, done) &&
					   !memchr_inv(s->a + done, 0, len - done);
			}
			ktap_case(&s->k, (kernel ? got >= want && got <= len : got == want) && bytes_ok,
				  "k %u len %u: left %lu, expected %s%lu%s", k, len, got, kernel ? ">= " : "", want,
				  bytes_ok ? "" : ", bytes differ");
		}
	}
	ktap_group_end(&s->k, "edge %s %s%s%s", dir == XUA_DIR_TO_USER ? "to-user" : "from-user",
		       xua_method_names[method], method == XUA_METHOD_RAW ? "/" : "",
		       method == XUA_METHOD_RAW ? xua_arch_modes[mode] : "");
}

/* The module's sized get/put against the kernel's get_user/put_user, on and across the page edge. */
static void xua_st_sized(struct xua_st *s)
{
	static const unsigned int sizes[] = { 1, 2, 4, 8 };
	unsigned int i, d;

	ktap_group_start(&s->k);
	if (copy_to_user(s->u, s->pat, PAGE_SIZE))
		return;
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		unsigned int sz = sizes[i];

		for (d = 0; d <= sz; d++) {
			u8 __user *p = s->u + PAGE_SIZE - sz + d; /* d > 0: crosses into the unmapped page */
			u64 mine = 0, ref = 0;
			int e1, e2 = 0, p1, p2 = 0;

			e1 = xua_arch_get(&mine, p, sz);
			switch (sz) {
			case 1: { u8 v; e2 = get_user(v, (u8 __user *)p); ref = v; break; }
			case 2: { u16 v; e2 = get_user(v, (u16 __user *)p); ref = v; break; }
			case 4: { u32 v; e2 = get_user(v, (u32 __user *)p); ref = v; break; }
			case 8: { u64 v; e2 = get_user(v, (u64 __user *)p); ref = v; break; }
			}
			ktap_case(&s->k, e1 == e2 && (e1 || mine == ref),
				  "get size %u at edge-%u: %d/%llx vs get_user %d/%llx", sz, sz - d, e1, mine, e2, ref);
			p1 = xua_arch_put(p, &ref, sz);
			switch (sz) {
			case 1: p2 = put_user((u8)ref, (u8 __user *)p); break;
			case 2: p2 = put_user((u16)ref, (u16 __user *)p); break;
			case 4: p2 = put_user((u32)ref, (u32 __user *)p); break;
			case 8: p2 = put_user((u64)ref, (u64 __user *)p); break;
			}
			ktap_case(&s->k, p1 == p2, "put size %u at edge-%u: %d vs put_user %d", sz, sz - d, p1, p2);
		}
	}
	ktap_group_end(&s->k, "sized get/put vs get_user/put_user");
}

long xua_ioctl_selftest(void __user *uarg)
{
	static const char header[] = "KTAP version 1\n";
	struct xua_selftest st;
	struct xua_prot_state ps;
	struct xua_st s = {};
	unsigned long addr;
	char plan[32];
	u32 method, mode, dir;
	size_t hlen, out;
	int ret;

	ret = xua_get_args(&st, sizeof(st), uarg);
	if (ret)
		return ret;
	if (!st.report_len)
		return -EINVAL;
	s.k.buf = kvzalloc(XUA_REPORT_MAX, GFP_KERNEL);
	s.pat = kvmalloc(2 * PAGE_SIZE, GFP_KERNEL);
	s.a = kvzalloc(2 * PAGE_SIZE, GFP_KERNEL);
	ret = -ENOMEM;
	if (!s.k.buf || !s.pat || !s.a)
		goto out_free;
	for (out = 0; out < 2 * PAGE_SIZE; out++)
		s.pat[out] = (u8)(out * 7 + 3);

	addr = vm_mmap(NULL, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, 0);
	if (IS_ERR_VALUE(addr)) {
		ret = (int)addr;
		goto out_free;
	}
	vm_munmap(addr + PAGE_SIZE, PAGE_SIZE);
	s.u = (u8 __user *)addr;

	for (dir = XUA_DIR_TO_USER; dir <= XUA_DIR_FROM_USER; dir++) {
		for (method = 0; method < XUA_NR_METHODS; method++) {
			if (method == XUA_METHOD_MEMCPY)
				continue;
			for (mode = 0; mode < (method == XUA_METHOD_RAW ? xua_arch_nr_modes : 1); mode++) {
				xua_st_integrity(&s, method, mode, dir);
				xua_st_edge(&s, method, mode, dir);
			}
		}
	}
	xua_st_sized(&s);
	vm_munmap(addr, PAGE_SIZE);

	xua_arch_prot_state(&ps);
	s.k.n++;
	if (ps.flags & XUA_PROT_WINDOW_OPEN) {
		s.k.failed++;
		ktap_line(&s.k, "not ok %u window closed after the selftest\n", s.k.n);
	} else {
		s.k.passed++;
		ktap_line(&s.k, "ok %u window closed after the selftest\n", s.k.n);
	}

	/* Header and plan, then the result lines, truncated to what the caller can take. */
	hlen = scnprintf(plan, sizeof(plan), "1..%u\n", s.k.n);
	st.passed = s.k.passed;
	st.failed = s.k.failed;
	st.report_bytes = strlen(header) + hlen + s.k.len;
	ret = -EFAULT;
	out = min_t(u64, st.report_len - 1, strlen(header));
	if (copy_to_user(u64_to_user_ptr(st.report_addr), header, out))
		goto out_free;
	if (out < st.report_len - 1) {
		size_t n = min_t(u64, st.report_len - 1 - out, hlen);

		if (copy_to_user(u64_to_user_ptr(st.report_addr + out), plan, n))
			goto out_free;
		out += n;
	}
	if (out < st.report_len - 1) {
		size_t n = min_t(u64, st.report_len - 1 - out, min_t(size_t, s.k.len, XUA_REPORT_MAX));

		if (copy_to_user(u64_to_user_ptr(st.report_addr + out), s.k.buf, n))
			goto out_free;
		out += n;
	}
	if (put_user('\0', (char __user *)u64_to_user_ptr(st.report_addr + out)))
		goto out_free;
	ret = copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
out_free:
	kvfree(s.k.buf);
	kvfree(s.pat);
	kvfree(s.a);
	return ret;
}
