/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The latency histogram (lib/core/histogram.c) against exact percentiles
 * of the same samples: every percentile at or above the true one and at
 * most 12.5 % over it, never above the largest sample; exact below 16;
 * the extremes of uint64_t in range; no samples give 0.
 */
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "testlib.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* the smallest sample with at least permille/1000 of them at or below it */
static uint64_t exact(const uint64_t *sorted, size_t n, unsigned int permille)
{
	size_t want = (n * permille + 999) / 1000;

	return sorted[(want ? want : 1) - 1];
}

static void check_against_exact(uint64_t *v, size_t n, const char *what)
{
	static const unsigned int permilles[] = { 1, 100, 500, 900, 990, 999, 1000 };
	struct dmapipe_hist *h = calloc(1, sizeof(*h));

	check(h);
	for (size_t i = 0; i < n; i++)
		dmapipe_hist_add(h, v[i]);
	qsort(v, n, sizeof(*v), cmp_u64);
	check_int_eq(h->n, n);
	check_int_eq(h->max, v[n - 1]);
	for (size_t i = 0; i < sizeof(permilles) / sizeof(permilles[0]); i++) {
		uint64_t got = dmapipe_hist_percentile(h, permilles[i]);
		uint64_t want = exact(v, n, permilles[i]);

		check_msg(got >= want && (double)got <= (double)want * 1.125 + 1 && got <= v[n - 1],
			  "%s: %u permille: %llu, exact %llu", what, permilles[i],
			  (unsigned long long)got, (unsigned long long)want);
	}
	free(h);
}

int main(void)
{
	struct dmapipe_hist *h = calloc(1, sizeof(*h));
	uint64_t v[20000];

	check(h);
	check_int_eq(dmapipe_hist_percentile(h, 500), 0);
	for (uint64_t i = 0; i < 16; i++)
		dmapipe_hist_add(h, i);
	check_int_eq(dmapipe_hist_percentile(h, 500), 7);
	check_int_eq(dmapipe_hist_percentile(h, 1000), 15);
	dmapipe_hist_add(h, UINT64_MAX);
	check(dmapipe_hist_percentile(h, 1000) == UINT64_MAX);
	free(h);
	test_pass("exact below 16, UINT64_MAX in range, 0 without samples");

	srand(7);
	/* write latencies: mostly 1-3 ms, a tail of stalls up to 2 s */
	for (size_t i = 0; i < 20000; i++)
		v[i] = 1000000u + (uint64_t)(rand() % 2000000) +
		       (i % 97 == 0 ? (uint64_t)(rand() % 2000) * 1000000u : 0);
	check_against_exact(v, 20000, "latencies with a tail");
	for (size_t i = 0; i < 20000; i++)
		v[i] = (uint64_t)rand() * (uint64_t)rand();
	check_against_exact(v, 20000, "products of two randoms");
	for (size_t i = 0; i < 1000; i++)
		v[i] = 5000000;
	check_against_exact(v, 1000, "one value");
	test_pass("percentiles within 12.5 % above the exact ones, never above the maximum");
	return 0;
}
