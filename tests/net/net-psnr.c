/* SPDX-License-Identifier: MIT */
/*
 * net-psnr: how close decoded frames are to the test pattern
 * (docs/PATTERN.md), for the network tests (tests/net/).
 *
 * Usage: net-psnr WIDTH HEIGHT FILE
 *   FILE holds I420 frames back to back (a decoder's output). Prints one
 *   JSON object: the sequence number found in each frame ("seqs"), each
 *   frame's PSNR over all three planes ("psnr"), the number of frames, the
 *   worst, median and mean PSNR, and how many frames came out of order.
 *
 * Lossy coding destroys the stamp that names a frame, but not its phase:
 * byte x of row y of plane p is (x + 3y + 7 seq + 101 p) mod 256, so the
 * most common value of (Y - x - 3y) mod 256 over the luma plane is
 * 7 seq mod 256, and since 7 is odd it gives seq mod 256. Each frame is
 * compared with the pattern of that sequence number; the 16 stamp bytes
 * are left out. The pattern's values wrap (255 is followed by 0), and a
 * coder smooths that edge like any other: an error is the distance mod
 * 256, so that a value a few levels off at a wrap counts as those few
 * levels, not as 250 (which would make the PSNR of a frame depend on how
 * many wraps it has more than on how well it was coded). A frame is "out of order" when its sequence number does
 * not advance from the previous frame's by 1 to 127 (mod 256): a repeat,
 * a frame from the past, or garbage.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* seq mod 256 of a decoded luma plane */
static unsigned int find_seq(const uint8_t *y_plane, unsigned int w, unsigned int h)
{
	unsigned int hist[256] = { 0 }, best = 0;

	for (unsigned int y = 1; y < h; y += 2)
		for (unsigned int x = 0; x < w; x += 2)
			hist[(uint8_t)(y_plane[y * w + x] - x - 3 * y)]++;
	for (unsigned int i = 1; i < 256; i++)
		if (hist[i] > hist[best])
			best = i;
	/* 7 * 183 = 1281 = 1 mod 256 */
	return (best * 183u) & 255u;
}

static double frame_psnr(const uint8_t *f, unsigned int w, unsigned int h, unsigned int seq)
{
	unsigned int pw[3] = { w, (w + 1) / 2, (w + 1) / 2 };
	unsigned int ph[3] = { h, (h + 1) / 2, (h + 1) / 2 };
	double sum = 0;
	uint64_t n = 0;

	for (unsigned int p = 0; p < 3; p++) {
		for (unsigned int y = 0; y < ph[p]; y++) {
			for (unsigned int x = 0; x < pw[p]; x++) {
				uint8_t want = (uint8_t)(x + 3 * y + 7 * seq + 101 * p);
				/* the distance mod 256 (see above) */
				int d = (int)(int8_t)(uint8_t)(f[x] - want);

				if (p == 0 && y == 0 && x < 16 && w >= 16)
					continue; /* the stamp */
				sum += (double)(d * d);
				n++;
			}
			f += pw[p];
		}
	}
	if (sum == 0)
		return 99.0;
	return 10.0 * log10(255.0 * 255.0 / (sum / (double)n));
}

int main(int argc, char **argv)
{
	unsigned int w, h, prev = 0, out_of_order = 0;
	size_t size, n = 0, cap = 0;
	double *psnr = NULL, *sorted, sum = 0;
	uint8_t *frame;
	FILE *in;

	if (argc != 4) {
		fprintf(stderr, "usage: net-psnr WIDTH HEIGHT FILE\n");
		return 2;
	}
	w = (unsigned int)atoi(argv[1]);
	h = (unsigned int)atoi(argv[2]);
	if (w < 2 || h < 2 || w > 16384 || h > 16384) {
		fprintf(stderr, "net-psnr: bad size\n");
		return 2;
	}
	size = (size_t)w * h + 2 * (size_t)((w + 1) / 2) * ((h + 1) / 2);
	frame = malloc(size);
	in = fopen(argv[3], "rb");
	if (!frame || !in) {
		perror("net-psnr");
		return 1;
	}
	printf("{\"seqs\": [");
	while (fread(frame, 1, size, in) == size) {
		unsigned int seq = find_seq(frame, w, h);
		double p = frame_psnr(frame, w, h, seq);

		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			psnr = realloc(psnr, cap * sizeof(*psnr));
			if (!psnr)
				return 1;
		}
		if (n && (((seq - prev) & 255u) == 0 || ((seq - prev) & 255u) > 127))
			out_of_order++;
		printf("%s%u", n ? ", " : "", seq);
		prev = seq;
		psnr[n++] = p;
		sum += p;
	}
	fclose(in);
	free(frame);
	printf("], \"psnr\": [");
	for (size_t i = 0; i < n; i++)
		printf("%s%.2f", i ? ", " : "", psnr[i]);
	sorted = malloc((n ? n : 1) * sizeof(*sorted));
	if (!sorted)
		return 1;
	memcpy(sorted, psnr, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	printf("], \"frames\": %zu, \"psnr_min\": %.2f, \"psnr_median\": %.2f, "
	       "\"psnr_mean\": %.2f, \"out_of_order\": %u}\n", n, n ? sorted[0] : 0.0,
	       n ? sorted[n / 2] : 0.0, n ? sum / (double)n : 0.0, out_of_order);
	free(sorted);
	free(psnr);
	return 0;
}
