/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Checks frames a PipeWire consumer wrote to a file (pipewiresrc !
 * filesink: each frame's planes one after another, rows at the strides the
 * producer used) against the test pattern (docs/PATTERN.md): each frame's
 * stamp names its sequence, every byte is that frame's, and the sequences
 * only grow. Used by tests/test-pipewire.sh.
 *
 *   pipewire-verify FILE FOURCC WIDTHxHEIGHT MIN_FRAMES STRIDE...
 *
 * Exit 0 when at least MIN_FRAMES frames were all right, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dmapipe/dmapipe.h>

int main(int argc, char **argv)
{
	struct dmapipe_format format = { 0 };
	struct dmapipe_layout layout;
	uint8_t *frame, *planes[DMAPIPE_MAX_PLANES] = { NULL };
	uint64_t frame_size = 0, n = 0, first = 0, last = 0, gaps = 0;
	unsigned long min_frames;
	size_t got;
	FILE *f;

	if (argc < 6) {
		fprintf(stderr, "usage: %s FILE FOURCC WIDTHxHEIGHT MIN_FRAMES STRIDE...\n",
			argv[0]);
		return 2;
	}
	format.fourcc = dmapipe_fourcc_from_string(argv[2]);
	format.modifier = DMAPIPE_MOD_LINEAR;
	if (sscanf(argv[3], "%ux%u", &format.width, &format.height) != 2 ||
	    dmapipe_layout_init(&layout, &format, 0) < 0) {
		fprintf(stderr, "pipewire-verify: bad format %s %s\n", argv[2], argv[3]);
		return 2;
	}
	min_frames = strtoul(argv[4], NULL, 10);
	if ((unsigned int)(argc - 5) != layout.n_planes) {
		fprintf(stderr, "pipewire-verify: %s has %u planes, %d strides given\n", argv[2],
			layout.n_planes, argc - 5);
		return 2;
	}
	/* the planes as the consumer wrote them: back to back, one object */
	for (unsigned int p = 0; p < layout.n_planes; p++) {
		layout.planes[p].object = 0;
		layout.planes[p].stride = (uint32_t)strtoul(argv[5 + p], NULL, 10);
		layout.planes[p].offset = frame_size;
		frame_size += dmapipe_layout_plane_size(&layout, p);
	}
	layout.objects[0].size = frame_size;
	frame = malloc(frame_size);
	f = fopen(argv[1], "rb");
	if (!frame || !f) {
		fprintf(stderr, "pipewire-verify: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (unsigned int p = 0; p < layout.n_planes; p++)
		planes[p] = frame + layout.planes[p].offset;

	while ((got = fread(frame, 1, frame_size, f)) == frame_size) {
		uint64_t seq = 0, bad_offset = 0;
		unsigned int bad_plane = 0;
		int ret = dmapipe_pattern_read_stamp(&layout, planes, &seq);

		if (ret == 0)
			ret = dmapipe_pattern_check(&layout, planes, seq, &bad_plane, &bad_offset);
		if (ret < 0) {
			fprintf(stderr, "pipewire-verify: frame %llu of the file (sequence %llu) is "
				"wrong: %s at plane %u offset %llu\n", (unsigned long long)n,
				(unsigned long long)seq, strerror(-ret), bad_plane,
				(unsigned long long)bad_offset);
			return 1;
		}
		if (n && seq <= last) {
			fprintf(stderr, "pipewire-verify: sequence %llu after %llu\n",
				(unsigned long long)seq, (unsigned long long)last);
			return 1;
		}
		if (n)
			gaps += seq - last - 1;
		else
			first = seq;
		last = seq;
		n++;
	}
	fclose(f);
	free(frame);
	if (got != 0) {
		fprintf(stderr, "pipewire-verify: %zu bytes at the end, not a whole frame of %llu\n",
			got, (unsigned long long)frame_size);
		return 1;
	}
	printf("pipewire-verify: %llu frames verified, sequences %llu..%llu, %llu skipped\n",
	       (unsigned long long)n, (unsigned long long)first, (unsigned long long)last,
	       (unsigned long long)gaps);
	if (n < min_frames) {
		fprintf(stderr, "pipewire-verify: %llu frames, %lu expected\n",
			(unsigned long long)n, min_frames);
		return 1;
	}
	return 0;
}
