/* SPDX-License-Identifier: MIT */
/* dmapipe formats: the pixel formats dmapipe knows, by every name they go by. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "dmapipe-tool.h"

static const char *const formats_usage =
	"Usage: dmapipe formats [NAME] [--json]\n"
	"\n"
	"Lists the pixel formats dmapipe lays out and draws, with the names each goes\n"
	"by: DRM's (drm_fourcc.h, and its four-character code), V4L2's code (and its\n"
	"one-buffer-per-plane \"M\" form), GStreamer's; their planes, chroma\n"
	"subsampling and bits per pixel, and the multiples of which a frame's width and\n"
	"height hold whole chroma samples (dmapipe rounds the chroma of other sizes up,\n"
	"as GStreamer and ffmpeg do; V4L2 devices and KMS want these multiples, so\n"
	"a size asked of a device must be one). With NAME, only the format NAME means,\n"
	"in any of those names.\n"
	"Every --format option of dmapipe takes any of them. GStreamer names bytes in\n"
	"memory where DRM names a little-endian word: GStreamer's BGRx is DRM XRGB8888.\n"
	"\n"
	"Options:\n"
	"      --json      JSON on stdout (docs/JSON.md)\n"
	"  -h, --help      this text\n"
	"\n"
	"Exit status: 0 ok, 2 bad command line (NAME is no format, or an ambiguous one).\n";

/* A V4L2 or DRM code as its four characters, trailing spaces dropped; NULL for 0. */
static const char *code_text(uint32_t code, char buf[5])
{
	int n = 4;

	if (!code)
		return NULL;
	memcpy(buf, &code, 4);
	while (n > 1 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return buf;
}

/* "4:2:0", "4:2:2", "4:4:4", or NULL for formats without chroma (RGB, grey). */
static const char *subsampling(const struct dmapipe_format_desc *d)
{
	if (d->n_planes == 1)
		return d->width_multiple == 2 ? "4:2:2" : NULL; /* packed YUV shares chroma per pair */
	if (d->hsub == 2 && d->vsub == 2)
		return "4:2:0";
	if (d->hsub == 2)
		return "4:2:2";
	return "4:4:4";
}

static void print_json(const struct dmapipe_format_desc *only)
{
	const struct dmapipe_format_desc *d;
	char code[5];
	struct json j;

	json_begin_document(&j, false);
	json_begin_array(&j, "formats");
	for (unsigned int i = 0; (d = only ? (i ? NULL : only) : dmapipe_format_desc_get(i)); i++) {
		json_begin_object(&j, NULL);
		json_string(&j, "fourcc", d->name);
		json_string(&j, "drm_code", code_text(d->fourcc, code));
		json_string(&j, "v4l2", code_text(d->v4l2, code));
		json_string(&j, "v4l2_mplane", code_text(d->v4l2_mplane, code));
		json_string(&j, "gstreamer", d->gst_name);
		json_u64(&j, "planes", d->n_planes);
		json_string(&j, "subsampling", subsampling(d));
		json_u64(&j, "bits_per_pixel", d->bits_per_pixel);
		json_u64(&j, "width_multiple", d->width_multiple);
		json_u64(&j, "height_multiple", d->height_multiple);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_end_object(&j);
	json_finish(&j);
}

static void print_table(const struct dmapipe_format_desc *only)
{
	const struct dmapipe_format_desc *d;
	char drm[5], v4l2[5], mplane[5], multiple[16];

	printf("%-12s %-4s %-4s %-4s %-10s %6s %-6s %4s %8s\n", "FORMAT", "DRM", "V4L2", "M",
	       "GSTREAMER", "PLANES", "CHROMA", "BPP", "SIZE");
	for (unsigned int i = 0; (d = only ? (i ? NULL : only) : dmapipe_format_desc_get(i)); i++) {
		const char *sub = subsampling(d);

		snprintf(multiple, sizeof(multiple), "%ux%u", d->width_multiple, d->height_multiple);
		printf("%-12s %-4s %-4s %-4s %-10s %6u %-6s %4u %8s\n", d->name,
		       code_text(d->fourcc, drm), d->v4l2 ? code_text(d->v4l2, v4l2) : "-",
		       d->v4l2_mplane ? code_text(d->v4l2_mplane, mplane) : "-",
		       d->gst_name ? d->gst_name : "-", d->n_planes, sub ? sub : "-",
		       d->bits_per_pixel, multiple);
	}
	if (!only)
		printf("\nSIZE: width and height multiples that hold whole chroma samples "
		       "(devices want them).\nM: V4L2's format with one buffer per plane.\n");
}

int cmd_formats(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct dmapipe_format_desc *only = NULL;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(formats_usage, stdout);
			return 0;
		default:
			usage_getopt_error("formats", c, argv);
		}
	}
	if (optind < argc) {
		only = dmapipe_format_desc_find(opt_format("formats", argv[optind]));
		optind++;
	}
	usage_no_operands("formats", argc, argv);
	if (json)
		print_json(only);
	else
		print_table(only);
	return 0;
}
