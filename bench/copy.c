/* SPDX-License-Identifier: MIT */
/*
 * (a) The reference every handoff figure is divided by: one cache-cold
 * memcpy of the frame; and, for scale, drawing and checking the pattern.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

static void *map_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Median milliseconds of drawing (@check false) or checking the pattern in
 * each of the @n buffers @bufs laid out as @layout, one after the other, so
 * each is cold when its turn comes; @ms holds the @n times. A check that
 * fails sets *ret to -EILSEQ.
 */
static double time_pattern(const struct dmapipe_layout *layout, uint8_t *const *bufs,
			   unsigned int n, bool check, double *ms, int *ret)
{
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *planes[DMAPIPE_MAX_PLANES] = { NULL };
		uint64_t t0;

		for (unsigned int p = 0; p < layout->n_planes; p++)
			planes[p] = bufs[i] + layout->planes[p].offset;
		t0 = now_ns();
		if (!check)
			dmapipe_pattern_draw(layout, planes, i);
		else if (dmapipe_pattern_check(layout, planes, i, NULL, NULL) < 0)
			*ret = -EILSEQ;
		ms[i] = (double)(now_ns() - t0) / 1e6;
	}
	return median_of(ms, n);
}

int measure_copy(struct bench *b, struct copy_result *r)
{
	struct dmapipe_layout layout;
	uint8_t **src, **dst;
	uint64_t frame = 0, alloc;
	double *times, *draws, *checks;
	unsigned int n, i, p, runs = b->o.memcpy_runs, warm;
	volatile uint8_t sink = 0;
	int ret = 0;

	if (dmapipe_layout_init(&layout, &b->o.format, 1) < 0)
		return -EINVAL;
	for (p = 0; p < layout.n_planes; p++)
		frame += dmapipe_layout_plane_size(&layout, p);
	alloc = layout.objects[0].size;
	/* each ring is four times the last-level cache: every copy is cold */
	n = (unsigned int)((4 * b->m.llc + frame - 1) / frame) + 1;
	if (n < 3)
		n = 3;
	r->bytes = frame;
	r->buffers = n;
	r->footprint = 2 * n * alloc;

	src = calloc(n, sizeof(*src));
	dst = calloc(n, sizeof(*dst));
	times = calloc(runs, sizeof(*times));
	draws = calloc(n, sizeof(*draws));
	checks = calloc(n, sizeof(*checks));
	if (!src || !dst || !times || !draws || !checks) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		src[i] = map_anon(alloc);
		dst[i] = map_anon(alloc);
		if (!src[i] || !dst[i]) {
			ret = -ENOMEM;
			goto out;
		}
		/* fault every page in before timing anything */
		memset(src[i], (int)i, alloc);
		memset(dst[i], 0, alloc);
	}

	warm = n; /* one full rotation first */
	for (i = 0; i < warm + runs; i++) {
		uint8_t *s = src[i % n], *d = dst[(i + n / 2) % n];
		uint64_t t0 = now_ns(), t1;

		memcpy(d, s, frame);
		t1 = now_ns();
		sink ^= d[frame - 1];
		if (i >= warm)
			times[i - warm] = (double)(t1 - t0) / 1e6;
	}
	r->median_ms = median_of(times, runs);
	r->min_ms = times[0];
	r->p90_ms = times[(unsigned int)((runs - 1) * 0.9)];
	r->gbps = (double)frame / (r->median_ms * 1e-3) / 1e9;

	/* the test pattern, cold: draw every buffer, then check every buffer */
	r->draw_ms = time_pattern(&layout, dst, n, false, draws, &ret);
	r->check_ms = time_pattern(&layout, dst, n, true, checks, &ret);
	(void)sink;

out:
	for (i = 0; src && dst && i < n; i++) {
		if (src[i])
			munmap(src[i], alloc);
		if (dst[i])
			munmap(dst[i], alloc);
	}
	free(src);
	free(dst);
	free(times);
	free(draws);
	free(checks);
	return ret;
}
