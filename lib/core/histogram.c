/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Latency histograms: log-linear buckets (eight per power of two, exact
 * below 16 ns), so a percentile costs no stored samples and is within
 * 12.5 % of the true value however long the recording runs. Used where a
 * figure must be kept for hours at a constant cost (the recorder's write
 * latency).
 */
#include <string.h>

#include "private.h"

static unsigned int bucket_of(uint64_t v)
{
	unsigned int octave;

	if (v < 16)
		return (unsigned int)v;
	octave = 63u - (unsigned int)__builtin_clzll(v);
	return 16u + (octave - 4u) * 8u + (unsigned int)((v >> (octave - 3u)) & 7u);
}

/* The largest value of bucket @b. */
static uint64_t bucket_top(unsigned int b)
{
	unsigned int octave, sub;

	if (b < 16)
		return b;
	octave = 4u + (b - 16u) / 8u;
	sub = (b - 16u) % 8u;
	/* the bucket holds [(8 + sub) << (octave - 3), (9 + sub) << (octave - 3)) */
	return ((uint64_t)(9u + sub) << (octave - 3u)) - 1u;
}

void dmapipe_hist_add(struct dmapipe_hist *h, uint64_t v)
{
	h->count[bucket_of(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

uint64_t dmapipe_hist_percentile(const struct dmapipe_hist *h, unsigned int permille)
{
	uint64_t want, seen = 0;

	if (!h->n)
		return 0;
	/* the smallest value with at least permille/1000 of the samples at or below it */
	want = (h->n * permille + 999) / 1000;
	if (!want)
		want = 1;
	for (unsigned int b = 0; b < DMAPIPE_HIST_BUCKETS; b++) {
		seen += h->count[b];
		if (seen >= want)
			return bucket_top(b) < h->max ? bucket_top(b) : h->max;
	}
	return h->max;
}
