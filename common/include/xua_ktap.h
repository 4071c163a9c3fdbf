/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SELFTEST's KTAP result lines (Documentation/dev-tools/ktap.rst), shared by the module and the host
 * test that checks them with the kernel's own parser (tools/testing/kunit/kunit_parser.py). Header-only
 * and free of kernel types, so that both can build it.
 *
 * A test's name never depends on its outcome (parsers and result comparisons key on it); its
 * diagnostic lines come BEFORE its result line: a KTAP parser attaches "# ..." lines to the test whose
 * result follows them.
 */
#ifndef XUA_KTAP_H
#define XUA_KTAP_H

#ifdef __KERNEL__
#include <linux/kernel.h>
#else
#include <stddef.h>
#include <stdio.h>
#endif

#define XUA_KTAP_VERSION_LINE "KTAP version 1\n"

/*
 * The lines of test n: its diagnostic, then "ok"/"not ok". skip (may be NULL): the test cannot apply
 * here; it is reported ok with a SKIP directive unless a case failed. first: the first failed case.
 * Returns what snprintf returns (the length the lines need).
 */
static inline int xua_ktap_result(char *buf, size_t size, unsigned int n, const char *name,
				  unsigned int cases, unsigned int bad, const char *first, const char *skip)
{
	if (skip && !bad)
		return snprintf(buf, size, "ok %u %s # SKIP %s\n", n, name, skip);
	if (bad)
		return snprintf(buf, size, "# %s: %u of %u cases failed, the first: %s\nnot ok %u %s\n", name,
				bad, cases, first, n, name);
	return snprintf(buf, size, "# %s: %u cases\nok %u %s\n", name, cases, n, name);
}

#endif /* XUA_KTAP_H */
