/* SPDX-License-Identifier: MIT */
/*
 * dmapipe export: a recording as a file other tools read: YUV4MPEG2 (y4m)
 * for the planar YUV and grey formats y4m can carry, else raw frames with a
 * JSON sidecar describing them (for FFmpeg's rawvideo and GStreamer's
 * rawvideoparse).
 *
 * A recording of a compressed stream ('FWHT', 'H264': a fourcc without
 * pixel geometry, one plane, each frame's bytes_used set, as `dmapipe
 * encode --container dmapipe` writes) is exported as its plain bitstream:
 * each frame's bytes_used bytes, back to back, no sidecar.
 *
 * Frames are read with O_DIRECT into aligned memory; the visible rows of
 * each plane (strides dropped) go to the output with gathered writes
 * (writev), so this program copies no pixel in user space. The output is
 * an ordinary file: the kernel copies what is written into the page cache,
 * and the summary says so.
 *
 * A raw export's planes follow each other, each row of exactly its visible
 * bytes: GStreamer's rawvideoparse assumes its own default strides (rows of
 * 4-byte multiples) unless told, so the sidecar and the summary give the
 * whole element with plane-strides, plane-offsets and frame-size. Grey goes
 * to y4m as 4:2:0 with neutral chroma planes (written from one constant
 * buffer: no pixel is copied) because GStreamer 1.22's y4mdec cannot read
 * y4m's Cmono; --mono writes Cmono.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dmapipe-tool.h"
#include "output.h"

static const char *const export_usage =
	"Usage: dmapipe export FILE -o OUT [OPTIONS]\n"
	"\n"
	"Writes the frames of a recording as YUV4MPEG2 (OUT ending in .y4m, or --y4m)\n"
	"or as raw frames plus a JSON sidecar OUT.json (--raw, or any other name).\n"
	"y4m carries I420/YUV420 and YV12 (as C420jpeg), YUV422 (C422), YUV444 (C444)\n"
	"and R8/GREY (as C420jpeg with neutral chroma, which every y4m reader takes;\n"
	"--mono: Cmono, which GStreamer 1.22's y4mdec cannot read); other formats\n"
	"(NV12, YUYV, RGB...) are exported raw, not converted. Only the visible rows\n"
	"are written (strides dropped). The sidecar names the ffmpeg and GStreamer\n"
	"formats and gives the whole rawvideoparse element, which the summary prints:\n"
	"GStreamer assumes rows of a multiple of 4 bytes unless told the strides, e.g.\n"
	"  ffmpeg -f rawvideo -pix_fmt yuv420p -s 318x242 -r 30 -i OUT ...\n"
	"  gst-launch-1.0 filesrc location=OUT ! rawvideoparse use-sink-caps=false \\\n"
	"      format=i420 width=318 height=242 framerate=30/1 \\\n"
	"      plane-strides=\"<318,159,159>\" plane-offsets=\"<0,76956,96195>\" \\\n"
	"      frame-size=115434 ! ...\n"
	"A recording of a compressed stream (dmapipe encode --container dmapipe) is\n"
	"exported as its plain bitstream: the packets back to back, no sidecar.\n"
	"The y4m header gives the interlacing (I) and pixel aspect ratio (A) the\n"
	"recording knows (else progressive, square), and its colour range as\n"
	"XCOLORRANGE=FULL or LIMITED, which ffmpeg reads.\n"
	"\n"
	"Options:\n"
	"  -o, --output OUT        the file to write (- for stdout); it takes the name\n"
	"                          OUT once complete, an existing OUT only with --force\n"
	"      --y4m               YUV4MPEG2 (default for OUT ending in .y4m)\n"
	"      --raw               raw frames and OUT.json (default otherwise)\n"
	"      --sidecar PATH      the sidecar's path (default OUT.json; none for -o -)\n"
	"      --mono              grey to y4m as Cmono instead of 4:2:0\n"
	"      --first N           start at frame N of the recording (default 0)\n"
	"      --count N           export N frames, 0 = to the end (default 0)\n"
	"      --force             replace OUT (and the sidecar) if they exist\n"
	"  -q, --quiet             no summary\n"
	"      --json              print the summary as JSON on stdout (docs/JSON.md), a\n"
	"                          failure too\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 ok (also when interrupted: OUT is then not written), 1 failure\n"
	"(not a recording, unreadable frame, a format y4m cannot carry, the format\n"
	"changes inside the range, OUT exists), 2 bad command line, 3 the disk filled up.\n";

enum {
	OPT_Y4M = 256,
	OPT_RAW,
	OPT_SIDECAR,
	OPT_FIRST,
	OPT_COUNT,
	OPT_FORCE,
	OPT_JSON,
	OPT_MONO,
};

/* How a fourcc reaches other tools. */
struct fmt_names {
	const char *fourcc;  /* dmapipe_fourcc_from_string() name */
	const char *y4m;     /* the C tag, or NULL */
	uint8_t y4m_order[3]; /* plane order in a y4m frame (Y, Cb, Cr) */
	const char *ffmpeg;  /* -pix_fmt, or NULL */
	const char *gst;     /* rawvideoparse format, or NULL */
};

static const struct fmt_names fmt_table[] = {
	{ "YUV420", "420jpeg", { 0, 1, 2 }, "yuv420p", "i420" },
	{ "YVU420", "420jpeg", { 0, 2, 1 }, NULL, "yv12" },
	{ "YUV422", "422", { 0, 1, 2 }, "yuv422p", "y42b" },
	{ "YUV444", "444", { 0, 1, 2 }, "yuv444p", "y444" },
	{ "R8", "mono", { 0, 0, 0 }, "gray", "gray8" },
	{ "NV12", NULL, { 0 }, "nv12", "nv12" },
	{ "NV21", NULL, { 0 }, "nv21", "nv21" },
	{ "NV16", NULL, { 0 }, "nv16", "nv16" },
	{ "NV24", NULL, { 0 }, "nv24", "nv24" },
	{ "YUYV", NULL, { 0 }, "yuyv422", "yuy2" },
	{ "YVYU", NULL, { 0 }, "yvyu422", "yvyu" },
	{ "UYVY", NULL, { 0 }, "uyvy422", "uyvy" },
	{ "P010", NULL, { 0 }, "p010le", "p010-10le" },
	{ "P016", NULL, { 0 }, "p016le", "p016-le" },
	{ "R16", NULL, { 0 }, "gray16le", "gray16-le" },
	{ "XRGB8888", NULL, { 0 }, "bgr0", "bgrx" },
	{ "XBGR8888", NULL, { 0 }, "rgb0", "rgbx" },
	{ "RGBX8888", NULL, { 0 }, "0bgr", "xbgr" },
	{ "BGRX8888", NULL, { 0 }, "0rgb", "xrgb" },
	{ "ARGB8888", NULL, { 0 }, "bgra", "bgra" },
	{ "ABGR8888", NULL, { 0 }, "rgba", "rgba" },
	{ "RGBA8888", NULL, { 0 }, "abgr", "abgr" },
	{ "BGRA8888", NULL, { 0 }, "argb", "argb" },
	{ "RGB888", NULL, { 0 }, "bgr24", "bgr" },
	{ "BGR888", NULL, { 0 }, "rgb24", "rgb" },
	{ "RGB565", NULL, { 0 }, "rgb565le", "rgb16" },
	{ "BGR565", NULL, { 0 }, "bgr565le", "bgr16" },
};

struct export {
	const char *file, *output, *sidecar;
	int y4m; /* -1: from the name */
	bool bitstream; /* a compressed stream: the packets back to back */
	uint64_t first, count;
	bool force, quiet, json, mono;

	struct dmapipe_recording *rec;
	struct dmapipe_recording_info info;
	const struct fmt_names *names;
	char fourcc[16];
	struct dmapipe_recorded_frame f0;
	uint64_t row_bytes[DMAPIPE_MAX_PLANES];
	uint32_t rows[DMAPIPE_MAX_PLANES];
	uint64_t plane_offset[DMAPIPE_MAX_PLANES]; /* in an exported raw frame */
	uint64_t frame_bytes;
	const char *y4m_tag; /* the C tag written */
	/* grey as 4:2:0: each chroma plane is neutral_size bytes of 128 */
	uint8_t *neutral;
	uint64_t neutral_size, neutral_bytes;
	struct output out, side;
	int fd; /* out.fd */
	FILE *report; /* the summary's stream: stderr when the export goes to stdout */
	uint64_t frames, bytes, t0, t1;
	uint64_t fps_num, fps_den;
	struct dmapipe_format_info format_info; /* the recording's */
};

static void parse_args(struct export *e, int argc, char **argv)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "y4m", no_argument, NULL, OPT_Y4M },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "sidecar", required_argument, NULL, OPT_SIDECAR },
		{ "first", required_argument, NULL, OPT_FIRST },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "mono", no_argument, NULL, OPT_MONO },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, ":o:qh", options, NULL)) != -1) {
		switch (c) {
		case 'o':
			e->output = optarg;
			break;
		case OPT_Y4M:
		case OPT_RAW:
			if (e->y4m >= 0)
				usage_error("export", "--y4m and --raw exclude each other");
			e->y4m = c == OPT_Y4M;
			break;
		case OPT_SIDECAR:
			e->sidecar = optarg;
			break;
		case OPT_FIRST:
			e->first = opt_u64("export", "--first", optarg);
			break;
		case OPT_COUNT:
			e->count = opt_u64("export", "--count", optarg);
			break;
		case OPT_FORCE:
			e->force = true;
			break;
		case 'q':
			e->quiet = true;
			break;
		case OPT_JSON:
			e->json = true;
			break;
		case OPT_MONO:
			e->mono = true;
			break;
		case 'h':
			fputs(export_usage, stdout);
			exit(0);
		default:
			usage_getopt_error("export", c, argv);
		}
	}
	if (optind < argc)
		e->file = argv[optind++];
	usage_no_operands("export", argc, argv);
	if (!e->file)
		usage_error("export", "the recording to export (FILE) is required");
	if (!e->output || !*e->output)
		usage_error("export", "-o OUT is required");
	if (e->y4m < 0) {
		size_t n = strlen(e->output);

		e->y4m = n > 4 && strcmp(e->output + n - 4, ".y4m") == 0;
	}
	if (e->y4m && e->sidecar)
		usage_error("export", "--sidecar is for raw output; y4m carries its own header");
	if (e->mono && !e->y4m)
		usage_error("export", "--mono is for grey exported as y4m");
	if (e->json && strcmp(e->output, "-") == 0)
		usage_error("export", "--json prints on stdout, where -o - writes the frames");
}

/* ---- output files ---------------------------------------------------------------------- */

static int write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		int batch = n < IOV_MAX ? n : IOV_MAX;
		ssize_t w = writev(fd, iov, batch);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		/* skip what was written; a partial iovec is advanced in place */
		while (w > 0 && n > 0) {
			if ((size_t)w >= iov->iov_len) {
				w -= (ssize_t)iov->iov_len;
				iov++;
				n--;
			} else {
				iov->iov_base = (uint8_t *)iov->iov_base + w;
				iov->iov_len -= (size_t)w;
				w = 0;
			}
		}
	}
	return 0;
}

/* ---- formats ----------------------------------------------------------------------------- */

static const struct fmt_names *find_names(uint32_t fourcc)
{
	for (size_t i = 0; i < sizeof(fmt_table) / sizeof(fmt_table[0]); i++)
		if (dmapipe_fourcc_from_string(fmt_table[i].fourcc) == fourcc)
			return &fmt_table[i];
	return NULL;
}

/* Visible bytes per row and rows per plane, from a layout without stride padding. */
static int plane_geometry(struct export *e)
{
	const struct dmapipe_layout *l = &e->f0.layout;
	struct dmapipe_layout packed;

	if (l->format.modifier != DMAPIPE_MOD_LINEAR ||
	    dmapipe_layout_init(&packed, &l->format, 1) < 0 || packed.n_planes != l->n_planes)
		return -ENOTSUP;
	e->frame_bytes = 0;
	for (unsigned int p = 0; p < l->n_planes; p++) {
		e->row_bytes[p] = packed.planes[p].stride;
		e->rows[p] = (uint32_t)(dmapipe_layout_plane_size(&packed, p) /
					packed.planes[p].stride);
		e->plane_offset[p] = e->frame_bytes;
		e->frame_bytes += e->row_bytes[p] * e->rows[p];
	}
	return 0;
}

/*
 * A compressed stream: a fourcc dmapipe has no pixel geometry for, one
 * plane, and the bytes each frame used.
 */
static bool is_bitstream(const struct dmapipe_recorded_frame *f)
{
	struct dmapipe_format fmt = f->layout.format;
	struct dmapipe_layout l;

	fmt.modifier = DMAPIPE_MOD_LINEAR;
	return dmapipe_layout_init(&l, &fmt, 1) < 0 && f->layout.n_planes == 1 &&
	       f->meta.bytes_used[0] > 0;
}

/* One packet: bytes_used from the plane's start, within what was recorded. */
static int write_packet(struct export *e, const struct dmapipe_recorded_frame *f, uint8_t *mem,
			uint64_t index)
{
	const struct dmapipe_plane *pl = &f->layout.planes[0];
	uint64_t used = f->meta.bytes_used[0];
	struct iovec iov;
	int ret;

	if (!used || pl->offset + used > f->layout.objects[pl->object].size) {
		tool_error(TOOL_ERR_DAMAGED, 0, "frame %llu says it used %llu bytes, more than "
			   "its %llu recorded bytes (or none)", (unsigned long long)index,
			   (unsigned long long)used,
			   (unsigned long long)f->layout.objects[pl->object].size);
		return -EBADMSG;
	}
	iov.iov_base = mem + f->object_offset[pl->object] + pl->offset;
	iov.iov_len = (size_t)used;
	ret = write_all(e->fd, &iov, 1);
	if (ret == 0)
		e->bytes += used;
	return ret;
}

/*
 * y4m's interlacing (I) and pixel aspect ratio (A) tags from what the
 * recording's writer was told. A recording that does not say keeps what
 * export always wrote, progressive and square: what every dmapipe source
 * but an interlaced capture device makes. Interleaved fields of unknown
 * order, and one field per frame (which y4m has no word for), are "I?".
 */
static void y4m_fields_tags(const struct export *e, char *fields, size_t fields_len,
			    char *aspect, size_t aspect_len)
{
	const struct dmapipe_format_info *fi = &e->format_info;
	const char *tag = "p";

	if (fi->interlace == DMAPIPE_INTERLACE_INTERLEAVED)
		tag = fi->field_order == DMAPIPE_FIELD_ORDER_TOP_FIRST ? "t" :
		      fi->field_order == DMAPIPE_FIELD_ORDER_BOTTOM_FIRST ? "b" : "?";
	else if (fi->interlace == DMAPIPE_INTERLACE_MIXED)
		tag = "m";
	else if (fi->interlace == DMAPIPE_INTERLACE_ALTERNATE)
		tag = "?";
	snprintf(fields, fields_len, "I%s", tag);
	if (fi->par_num)
		snprintf(aspect, aspect_len, "A%u:%u", fi->par_num, fi->par_den);
	else
		snprintf(aspect, aspect_len, "A1:1");
}

/* y4m has no colorimetry tag; ffmpeg reads the range from this extension. */
static const char *y4m_range_tag(const struct export *e)
{
	switch (e->format_info.range) {
	case DMAPIPE_RANGE_FULL:
		return " XCOLORRANGE=FULL";
	case DMAPIPE_RANGE_LIMITED:
		return " XCOLORRANGE=LIMITED";
	default:
		return "";
	}
}

/*
 * The rate the recording's writer was told (the producer's FORMAT_INFO or
 * the device's), else the source's mean frame rate over the range as a
 * fraction, 30/1 when unknown. Timestamps are the last resort: under load
 * they jitter, and a guess can miss the true rate.
 */
static void frame_rate(struct export *e, uint64_t last)
{
	struct dmapipe_recorded_frame a, b;
	uint64_t n = last - e->first, mhz;

	if (e->info.fps_num && e->info.fps_den) {
		e->fps_num = e->info.fps_num;
		e->fps_den = e->info.fps_den;
		return;
	}
	e->fps_num = 30;
	e->fps_den = 1;
	if (n == 0)
		return;
	dmapipe_recording_get_frame(e->rec, e->first, &a);
	dmapipe_recording_get_frame(e->rec, last, &b);
	if (b.meta.timestamp_ns <= a.meta.timestamp_ns)
		return;
	/*
	 * Frames the recorder dropped leave gaps in the sequence numbers, not
	 * in time: count the source's frame periods by sequence when it grows,
	 * so a recording with drops still gets its source's rate.
	 */
	if (b.meta.sequence > a.meta.sequence)
		n = b.meta.sequence - a.meta.sequence;
	/* millihertz, then reduced */
	mhz = (n * 1000000000000ull + (b.meta.timestamp_ns - a.meta.timestamp_ns) / 2) /
	      (b.meta.timestamp_ns - a.meta.timestamp_ns);
	if (mhz == 0)
		return;
	/* clocks jitter: within 0.05% of N or N*1000/1001 fps, that is the rate */
	for (uint64_t fps = 1; fps <= 1000; fps++) {
		uint64_t tol = fps / 2 + 1, ntsc = fps * 1000000 / 1001;

		if (mhz + tol >= fps * 1000 && mhz <= fps * 1000 + tol) {
			e->fps_num = fps;
			return;
		}
		if ((fps % 24 == 0 || fps % 30 == 0) && mhz + tol >= ntsc && mhz <= ntsc + tol) {
			e->fps_num = fps * 1000;
			e->fps_den = 1001;
			return;
		}
	}
	e->fps_num = mhz;
	e->fps_den = 1000;
	for (uint64_t x = e->fps_num, y = e->fps_den; ; ) {
		uint64_t t = x % y;

		if (t == 0) {
			e->fps_num /= y;
			e->fps_den /= y;
			break;
		}
		x = y;
		y = t;
	}
}

/*
 * The rawvideoparse element that reads a raw export of this program: the
 * format, size and rate, and the planes exactly as written (rows of their
 * visible bytes, planes back to back), which GStreamer would otherwise take
 * for its own default layout (rows of a multiple of 4 bytes).
 */
static void gst_parse_element(const struct export *e, char *buf, size_t len)
{
	const struct dmapipe_layout *l = &e->f0.layout;
	size_t n;

	n = (size_t)snprintf(buf, len, "rawvideoparse use-sink-caps=false format=%s width=%u "
			     "height=%u framerate=%llu/%llu plane-strides=\"<", e->names->gst,
			     l->format.width, l->format.height, (unsigned long long)e->fps_num,
			     (unsigned long long)e->fps_den);
	for (unsigned int p = 0; p < l->n_planes && n < len; p++)
		n += (size_t)snprintf(buf + n, len - n, "%s%llu", p ? "," : "",
				      (unsigned long long)e->row_bytes[p]);
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, ">\" plane-offsets=\"<");
	for (unsigned int p = 0; p < l->n_planes && n < len; p++)
		n += (size_t)snprintf(buf + n, len - n, "%s%llu", p ? "," : "",
				      (unsigned long long)e->plane_offset[p]);
	if (n < len)
		snprintf(buf + n, len - n, ">\" frame-size=%llu", (unsigned long long)e->frame_bytes);
}

/* ---- writing ----------------------------------------------------------------------------- */

static int write_frame(struct export *e, const struct dmapipe_recorded_frame *f, uint8_t *mem)
{
	static const char frame_tag[] = "FRAME\n";
	const struct dmapipe_layout *l = &f->layout;
	struct iovec *iov;
	unsigned int order[DMAPIPE_MAX_PLANES];
	int n = 0, ret;
	size_t cap = 1;

	for (unsigned int p = 0; p < l->n_planes; p++) {
		order[p] = e->y4m ? e->names->y4m_order[p] : p;
		cap += e->rows[p];
	}
	cap += 2; /* grey as 4:2:0: the neutral chroma planes */
	iov = calloc(cap, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	if (e->y4m) {
		iov[n].iov_base = (void *)frame_tag;
		iov[n++].iov_len = sizeof(frame_tag) - 1;
	}
	for (unsigned int i = 0; i < l->n_planes; i++) {
		const struct dmapipe_plane *pl = &l->planes[order[i]];
		uint8_t *row = mem + f->object_offset[pl->object] + pl->offset;

		if (pl->stride == e->row_bytes[order[i]]) {
			/* no padding: the plane in one piece */
			iov[n].iov_base = row;
			iov[n++].iov_len = (size_t)(e->row_bytes[order[i]] * e->rows[order[i]]);
			continue;
		}
		for (uint32_t r = 0; r < e->rows[order[i]]; r++, row += pl->stride) {
			iov[n].iov_base = row;
			iov[n++].iov_len = (size_t)e->row_bytes[order[i]];
		}
	}
	if (e->neutral) {
		/* one constant buffer twice: no pixel of the frame is copied */
		for (int k = 0; k < 2; k++) {
			iov[n].iov_base = e->neutral;
			iov[n++].iov_len = (size_t)e->neutral_size;
		}
	}
	ret = write_all(e->fd, iov, n);
	free(iov);
	if (ret == 0) {
		e->bytes += e->frame_bytes + (e->y4m ? sizeof(frame_tag) - 1 : 0) +
			    2 * e->neutral_size;
		e->neutral_bytes += 2 * e->neutral_size;
	}
	return ret;
}

static int write_sidecar(struct export *e, uint64_t last)
{
	const struct dmapipe_layout *l = &e->f0.layout;
	struct json j;
	FILE *out;
	int fd;

	/* the stream gets its own fd: fclose() must not close the output's */
	fd = fcntl(e->side.fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	out = fdopen(fd, "w");
	if (!out) {
		close(fd);
		return -ENOMEM;
	}
	json_init(&j, out);
	json_begin_object(&j, NULL);
	json_string(&j, "format", "dmapipe-raw");
	json_u64(&j, "version", 1);
	json_string(&j, "data", e->output);
	json_string(&j, "recording", e->file);
	json_string(&j, "fourcc", e->fourcc);
	json_u64(&j, "drm_fourcc", l->format.fourcc);
	json_u64(&j, "width", l->format.width);
	json_u64(&j, "height", l->format.height);
	json_u64(&j, "frame_size", e->frame_bytes);
	json_u64(&j, "frames", e->frames);
	json_u64(&j, "fps_num", e->fps_num);
	json_u64(&j, "fps_den", e->fps_den);
	json_string(&j, "ffmpeg_pix_fmt", e->names ? e->names->ffmpeg : NULL);
	json_string(&j, "gst_format", e->names ? e->names->gst : NULL);
	if (e->names && e->names->gst) {
		char parse[512];

		gst_parse_element(e, parse, sizeof(parse));
		json_string(&j, "gst_rawvideoparse", parse);
	} else {
		json_null(&j, "gst_rawvideoparse");
	}
	json_begin_array(&j, "planes");
	for (unsigned int p = 0; p < l->n_planes; p++) {
		json_begin_object(&j, NULL);
		json_u64(&j, "row_bytes", e->row_bytes[p]);
		json_u64(&j, "rows", e->rows[p]);
		/* where the plane is in an exported frame: row_bytes is its stride there */
		json_u64(&j, "offset", e->plane_offset[p]);
		json_u64(&j, "recorded_stride", l->planes[p].stride);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_begin_array(&j, "frame_list");
	for (uint64_t i = e->first; i <= last && e->frames; i++) {
		struct dmapipe_recorded_frame f;

		dmapipe_recording_get_frame(e->rec, i, &f);
		json_begin_object(&j, NULL);
		json_u64(&j, "sequence", f.meta.sequence);
		json_u64(&j, "timestamp_ns", f.meta.timestamp_ns);
		json_u64(&j, "flags", f.meta.flags);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_end_object(&j);
	json_finish(&j);
	if (fflush(out) != 0 || ferror(out)) {
		fclose(out);
		return -EIO;
	}
	return fclose(out) == 0 ? 0 : -errno;
}

static int run(struct export *e)
{
	uint64_t last = e->count ? e->first + e->count - 1 : e->info.frames - 1;
	uint8_t *mem = NULL;
	size_t mem_size = 0;
	int ret = 0;

	if (e->first >= e->info.frames || last >= e->info.frames) {
		tool_error(TOOL_ERR_NOT_FOUND, 0, "%s has %llu frames: the range %llu..%llu is "
			   "outside it", e->file, (unsigned long long)e->info.frames,
			   (unsigned long long)e->first, (unsigned long long)last);
		return -ERANGE;
	}
	dmapipe_recording_get_frame(e->rec, e->first, &e->f0);
	dmapipe_fourcc_to_string(e->f0.layout.format.fourcc, e->fourcc, sizeof(e->fourcc));
	for (uint64_t i = e->first + 1; i <= last; i++) {
		struct dmapipe_recorded_frame f;

		dmapipe_recording_get_frame(e->rec, i, &f);
		/* a compressed stream's recorded size varies: its format is what counts */
		if (is_bitstream(&e->f0) ?
		    !is_bitstream(&f) ||
		    memcmp(&f.layout.format, &e->f0.layout.format, sizeof(f.layout.format)) :
		    f.layout_index != e->f0.layout_index) {
			tool_error(TOOL_ERR_UNSUPPORTED, 0, "the format changes at frame %llu: one "
				   "file holds one format; export the ranges with --first/--count",
				   (unsigned long long)i);
			return -EINVAL;
		}
	}
	e->names = find_names(e->f0.layout.format.fourcc);
	e->bitstream = is_bitstream(&e->f0);
	if (e->bitstream && e->y4m) {
		tool_error(TOOL_ERR_UNSUPPORTED, 0, "%s frames are a compressed stream: y4m "
			   "cannot carry them; export the bitstream with --raw", e->fourcc);
		return -ENOTSUP;
	}
	if (!e->bitstream && e->y4m && (!e->names || !e->names->y4m)) {
		tool_error(TOOL_ERR_UNSUPPORTED, 0, "y4m cannot carry %s (it has planar YUV and "
			   "grey only); export it raw with --raw (a JSON sidecar describes it; "
			   "nothing is converted)", e->fourcc);
		return -ENOTSUP;
	}
	if (!e->bitstream && plane_geometry(e) < 0) {
		tool_error(TOOL_ERR_UNSUPPORTED, 0, "%s frames (modifier %#llx) have no known "
			   "row layout", e->fourcc,
			   (unsigned long long)e->f0.layout.format.modifier);
		return -ENOTSUP;
	}
	bool sidecar = !e->y4m && !e->bitstream && e->sidecar;
	unsigned int flags = e->force ? OUTPUT_FORCE : 0;

	/* both names are checked before anything is written (output.h) */
	ret = output_open(&e->out, "export", e->output, flags);
	if (ret == 0 && sidecar)
		ret = output_open(&e->side, "export", e->sidecar, flags);
	if (ret < 0)
		return ret;
	e->fd = e->out.fd;
	frame_rate(e, last);
	e->y4m_tag = e->y4m ? e->names->y4m : NULL;
	if (e->y4m && e->f0.layout.format.fourcc == dmapipe_fourcc_from_string("R8") && !e->mono) {
		/* 4:2:0 chroma planes of (w+1)/2 x (h+1)/2 samples, all neutral */
		e->neutral_size = (uint64_t)((e->f0.layout.format.width + 1) / 2) *
				  ((e->f0.layout.format.height + 1) / 2);
		e->neutral = malloc((size_t)e->neutral_size);
		if (!e->neutral) {
			tool_error(TOOL_ERR_NO_MEMORY, 0, "out of memory");
			return -ENOMEM;
		}
		memset(e->neutral, 128, (size_t)e->neutral_size);
		e->y4m_tag = "420jpeg";
	}
	e->t0 = now_ns();
	if (e->y4m) {
		char hdr[192], fields[8], aspect[32];
		int n;
		struct iovec iov;

		y4m_fields_tags(e, fields, sizeof(fields), aspect, sizeof(aspect));
		n = snprintf(hdr, sizeof(hdr), "YUV4MPEG2 W%u H%u F%llu:%llu %s %s C%s%s\n",
			     e->f0.layout.format.width, e->f0.layout.format.height,
			     (unsigned long long)e->fps_num, (unsigned long long)e->fps_den,
			     fields, aspect, e->y4m_tag, y4m_range_tag(e));
		iov.iov_base = hdr;
		iov.iov_len = (size_t)n;

		ret = write_all(e->fd, &iov, 1);
		e->bytes += (uint64_t)n;
		if (ret < 0)
			tool_error(TOOL_OK, ret, "writing %s", e->output);
	}
	for (uint64_t i = e->first; i <= last && ret == 0 && !stop_requested; i++) {
		struct dmapipe_recorded_frame f;

		dmapipe_recording_get_frame(e->rec, i, &f);
		if (frame_memory_reserve(&mem, &mem_size, f.size) < 0) {
			tool_error(TOOL_ERR_NO_MEMORY, 0, "no memory for a frame of %llu bytes",
				   (unsigned long long)f.size);
			ret = -ENOMEM;
			break;
		}
		ret = dmapipe_recording_read_frame(e->rec, i, mem, mem_size);
		if (ret < 0) {
			tool_error(TOOL_ERR_IO, ret, "reading frame %llu of %s", (unsigned long long)i,
				   e->file);
			break;
		}
		ret = e->bitstream ? write_packet(e, &f, mem, i) : write_frame(e, &f, mem);
		if (ret < 0) {
			if (tool.error == TOOL_OK)
				tool_error(TOOL_OK, ret, "writing %s", e->output);
			break;
		}
		e->frames++;
	}
	free(mem);
	if (ret == 0 && stop_requested)
		ret = -EINTR;
	e->t1 = now_ns();
	if (ret == 0 && sidecar) {
		ret = write_sidecar(e, last);
		if (ret < 0)
			tool_error(TOOL_OK, ret, "writing the sidecar %s", e->sidecar);
		else
			ret = output_close(&e->side, true);
	}
	/* the output takes its name only now, complete (and after its sidecar) */
	if (ret == 0)
		ret = output_close(&e->out, true);
	e->fd = -1;
	return ret;
}

static void print_summary(const struct export *e)
{
	double elapsed = e->t1 > e->t0 ? (double)(e->t1 - e->t0) * 1e-9 : 0;
	struct dmapipe_copy_stats copies;
	FILE *out;

	dmapipe_get_copy_stats(&copies);
	if (e->json) {
		struct json j;

		json_begin_document(&j, false);
		json_string(&j, "file", e->file);
		json_string(&j, "output", e->output);
		json_string(&j, "container", e->y4m ? "y4m" : e->bitstream ? "bitstream" : "raw");
		json_string(&j, "sidecar", e->y4m || e->bitstream ? NULL : e->sidecar);
		json_string(&j, "fourcc", e->fourcc);
		json_u64(&j, "width", e->f0.layout.format.width);
		json_u64(&j, "height", e->f0.layout.format.height);
		json_u64(&j, "frames", e->frames);
		json_u64(&j, "frame_size", e->frame_bytes);
		json_u64(&j, "bytes_written", e->bytes);
		json_u64(&j, "fps_num", e->fps_num);
		json_u64(&j, "fps_den", e->fps_den);
		json_string(&j, "y4m_colorspace", e->y4m_tag);
		json_u64(&j, "neutral_chroma_bytes", e->neutral_bytes);
		json_u64(&j, "process_bytes_copied", copies.bytes);
		json_u64(&j, "page_cache_bytes", e->bytes);
		json_bool(&j, "direct_read", e->info.direct);
		json_double(&j, "elapsed_s", elapsed);
		json_double(&j, "mb_per_s", elapsed > 0 ? (double)e->bytes / elapsed / 1e6 : 0);
		json_end_object(&j);
		json_finish(&j);
		return;
	}
	if (e->quiet)
		return;
	out = e->report;
	if (e->bitstream) {
		fprintf(out, "export: %s -> %s (the %s bitstream, %ux%u)\n"
			"  frames      %llu packets, %llu bytes, read with %s\n", e->file, e->output,
			e->fourcc, e->f0.layout.format.width, e->f0.layout.format.height,
			(unsigned long long)e->frames, (unsigned long long)e->bytes,
			e->info.direct ? "O_DIRECT" : "the page cache");
		return;
	}
	if (e->y4m)
		fprintf(out, "export: %s -> %s (y4m C%s)\n", e->file, e->output, e->y4m_tag);
	else
		fprintf(out, "export: %s -> %s (raw, %s%s)\n", e->file, e->output,
			e->sidecar ? "sidecar " : "no sidecar", e->sidecar ? e->sidecar : "");
	fprintf(out, "  frames      %llu, %s %ux%u, %llu bytes each (strides dropped), "
		"%llu/%llu fps\n", (unsigned long long)e->frames, e->fourcc,
		e->f0.layout.format.width, e->f0.layout.format.height,
		(unsigned long long)e->frame_bytes, (unsigned long long)e->fps_num,
		(unsigned long long)e->fps_den);
	fprintf(out, "  rate        %.1f MB/s over %.2f s, read with %s\n",
		elapsed > 0 ? (double)e->bytes / elapsed / 1e6 : 0.0, elapsed,
		e->info.direct ? "O_DIRECT" : "the page cache");
	fprintf(out, "  copied      %llu pixel bytes in this process (rows are gathered with "
		"writev);\n"
		"              the kernel copied the %llu bytes written into the page cache:\n"
		"              the output is an ordinary file\n",
		(unsigned long long)copies.bytes, (unsigned long long)e->bytes);
	if (e->neutral)
		fprintf(out, "  grey        as 4:2:0 (C420jpeg): %llu bytes of neutral chroma (128)\n"
			"              written from one constant buffer, no pixel copied; --mono\n"
			"              writes Cmono, which GStreamer 1.22's y4mdec cannot read\n",
			(unsigned long long)e->neutral_bytes);
	if (!e->y4m && e->names && e->names->ffmpeg)
		fprintf(out, "  use         ffmpeg -f rawvideo -pix_fmt %s -s %ux%u -r %llu/%llu -i %s\n",
			e->names->ffmpeg, e->f0.layout.format.width, e->f0.layout.format.height,
			(unsigned long long)e->fps_num, (unsigned long long)e->fps_den, e->output);
	if (!e->y4m && e->names && e->names->gst) {
		char parse[512];

		gst_parse_element(e, parse, sizeof(parse));
		fprintf(out, "  use         gst-launch-1.0 filesrc location=%s ! %s ! ...\n",
			e->output, parse);
	}
}

int cmd_export(int argc, char **argv)
{
	struct export e;
	char *side = NULL;
	int ret;

	memset(&e, 0, sizeof(e));
	e.y4m = -1;
	e.fd = -1;
	parse_args(&e, argc, argv);
	/* the frames go to stdout with -o -: a sidecar only when named, the summary on stderr */
	e.report = strcmp(e.output, "-") == 0 ? stderr : stdout;
	if (!e.y4m && !e.sidecar && e.report == stdout) {
		size_t n = strlen(e.output) + 6;

		side = malloc(n);
		if (!side) {
			tool_error(TOOL_ERR_NO_MEMORY, 0, "out of memory");
			return 1;
		}
		snprintf(side, n, "%s.json", e.output);
		e.sidecar = side;
	}
	install_stop_signals();
	e.rec = open_recording(e.file, 0, NULL);
	if (!e.rec) {
		free(side);
		return 1;
	}
	dmapipe_recording_get_info(e.rec, &e.info);
	dmapipe_recording_get_format_info(e.rec, &e.format_info);
	if (e.info.frames == 0) {
		tool_error(TOOL_ERR_NOT_FOUND, 0, "%s has no frames", e.file);
		ret = -ENODATA;
	} else {
		ret = run(&e);
	}
	/* a failed export leaves nothing of its own (output.h) */
	output_close(&e.side, false);
	output_close(&e.out, false);
	if (ret == 0)
		print_summary(&e);
	if (ret == -EINTR && tool.error == TOOL_OK) {
		/* stopped, not failed: the document says "interrupted" */
		fprintf(stderr, "export: interrupted after %llu frames: %s was not written\n",
			(unsigned long long)e.frames, e.output);
		ret = 0;
	}
	free(e.neutral);
	free(side);
	dmapipe_recording_close(e.rec);
	return ret == 0 ? 0 : 1;
}
