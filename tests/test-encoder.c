/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The encoder consumer (lib/devices/encoder*.c) against vicodec, the kernel's FWHT
 * encoder, in the VM lane.
 *
 *   test-encoder decide   pure decisions, on the host too: V4L2 formats as
 *                         layouts, when a frame can be imported and the
 *                         reason when not; bad options and nodes
 *   test-encoder vivid    vivid captures; two encoders take every frame,
 *                         one importing the capture buffers, one copying
 *                         them into its own (the reference): identical
 *                         bitstreams, nothing copied on the import side
 *   test-encoder vcap     the same with dmapipe_vcap's frames
 *   test-encoder stride   a capture stride the encoder cannot take (rows
 *                         padded to 1024 bytes for a 1008-pixel frame):
 *                         the reason is given, import-only fails, strict
 *                         refuses with EPERM, auto copies (counted); asking
 *                         the device for the encoder's stride
 *                         (dmapipe_encoder_get_layout()) makes import work;
 *                         dmapipe_v4l2_source_new_for_encoders() does that
 *                         for two encoders, or only checks; option structs
 *                         of older callers take defaults for what they lack
 *   test-encoder slow     an encoder consumer slower than the capture rate
 *                         (in another process, policy latest) does not
 *                         slow capture or a second consumer: drops only
 *                         for the encoder, counted by the producer
 *
 * FWHT is deterministic: the same frames in the same order give the same
 * bytes, whatever memory the encoder read them from. Each packet's 44-byte
 * header is checked (magic, width, height, size).
 *
 * Bad input tried: a missing node, a non-V4L2 file, a capture device as
 * encoder, an unknown codec, out-of-range options, memfd frames, strides,
 * offsets, object counts and sizes that do not fit, a format the encoder
 * does not take.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/videodev2.h>

#include "private.h"
#include "devices/devices-private.h"
#include "devices/v4l2-util.h"
#include "testlib.h"

#define FWHT_HDR 44

/* ---- helpers ------------------------------------------------------------ */

static bool find_node(const char *name, char *node, size_t len)
{
	DIR *d = opendir("/sys/class/video4linux");
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		char path[300], buf[64] = "";
		FILE *f;

		if (strncmp(de->d_name, "video", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/class/video4linux/%s/name", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			buf[strcspn(buf, "\n")] = '\0';
			if (strcmp(buf, name) == 0) {
				snprintf(node, len, "/dev/%.32s", de->d_name);
				found = true;
			}
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

static void encoder_or_skip(char *node, size_t len)
{
	if (!find_node("stateful-encoder", node, len))
		test_skip("no vicodec stateful-encoder node (vicodec not loaded)");
}

/* A growable byte string: one encoder's bitstream and its packets. */
struct stream {
	uint8_t *data;
	size_t len, cap;
	uint64_t packets, keyframes;
	uint64_t exported; /* packets that came with their bitstream buffer */
	uint64_t seq[512];
	uint32_t width, height;
	const char *name;
};

static void on_packet(struct dmapipe_encoder *enc, const struct dmapipe_encoder_packet *p, void *data)
{
	struct stream *s = data;
	uint32_t hdr[11];

	(void)enc;
	check_msg(p->size >= FWHT_HDR, "%s: packet of %zu bytes", s->name, p->size);
	memcpy(hdr, p->data, sizeof(hdr));
	check_msg(hdr[0] == 0x4f4f4f4f && hdr[1] == 0xffffffff, "%s: packet %llu: no FWHT magic",
		  s->name, (unsigned long long)s->packets);
	check_msg(ntohl(hdr[3]) == s->width && ntohl(hdr[4]) == s->height,
		  "%s: packet %llu is %ux%u, want %ux%u", s->name, (unsigned long long)s->packets,
		  ntohl(hdr[3]), ntohl(hdr[4]), s->width, s->height);
	check_msg(ntohl(hdr[10]) + FWHT_HDR == p->size, "%s: header size %u for a %zu-byte packet",
		  s->name, ntohl(hdr[10]), p->size);
	if (s->len + p->size > s->cap) {
		s->cap = (s->len + p->size) * 2;
		s->data = realloc(s->data, s->cap);
		check(s->data);
	}
	memcpy(s->data + s->len, p->data, p->size);
	s->len += p->size;
	if (s->packets < 512)
		s->seq[s->packets] = p->sequence;
	if (p->flags & DMAPIPE_FRAME_KEYFRAME)
		s->keyframes++;
	if (p->buffer)
		s->exported++;
	s->packets++;
}

/* A frame given to both encoders: back to the source when both are done. */
struct shared_frame {
	struct dmapipe_v4l2_source *src;
	struct dmapipe_buffer *buffer;
	int users;
	int failures;
};

static void on_done(struct dmapipe_encoder *enc, void *frame_data, int status, void *data)
{
	struct shared_frame *f = frame_data;

	(void)enc;
	(void)data;
	if (status)
		f->failures++;
	if (--f->users == 0) {
		check_msg(f->failures == 0, "a frame was done with an error");
		check_int_eq(dmapipe_v4l2_source_queue(f->src, f->buffer), 0);
		free(f);
	}
}

static struct dmapipe_encoder *open_encoder(const char *node, enum dmapipe_encoder_io io,
					    bool strict, struct stream *s)
{
	struct dmapipe_encoder_options o;
	struct dmapipe_encoder *enc;

	dmapipe_encoder_options_init(&o);
	o.device = node;
	o.io = io;
	o.strict = strict;
	o.gop = 5;
	/* the colorimetry goes into every frame header: the same on both */
	o.colorspace = V4L2_COLORSPACE_SMPTE170M;
	o.xfer_func = V4L2_XFER_FUNC_709;
	o.ycbcr_enc = V4L2_YCBCR_ENC_601;
	o.quantization = V4L2_QUANTIZATION_LIM_RANGE;
	o.n_controls = 1;
	o.controls[0].id = V4L2_CID_FWHT_I_FRAME_QP;
	o.controls[0].value = 20;
	o.packet = on_packet;
	o.done = on_done;
	o.user_data = s;
	enc = dmapipe_encoder_new(&o);
	check_msg(enc, "dmapipe_encoder_new(%s): %s", node, strerror(errno));
	return enc;
}

static void source_options(struct dmapipe_v4l2_options *o, const char *node, uint32_t fourcc,
			   uint32_t w, uint32_t h, uint32_t bpl, enum dmapipe_v4l2_io io)
{
	dmapipe_v4l2_options_init(o);
	o->device = node;
	o->fourcc = fourcc;
	o->width = w;
	o->height = h;
	o->bytesperline = bpl;
	o->io = io;
	o->buffers = 6;
	/* <= 10 fps: an emulated guest must keep up with vivid */
	o->fps_num = 10;
	o->fps_den = 1;
}

static struct dmapipe_v4l2_source *open_source(const char *node, uint32_t fourcc, uint32_t w,
					       uint32_t h, uint32_t bpl, enum dmapipe_v4l2_io io)
{
	struct dmapipe_v4l2_options o;
	struct dmapipe_v4l2_source *s;

	source_options(&o, node, fourcc, w, h, bpl, io);
	s = dmapipe_v4l2_source_new(&o);
	check_msg(s, "dmapipe_v4l2_source_new(%s): %s", node, strerror(errno));
	return s;
}

/* Waits until @enc has room for one more frame. */
static void make_room(struct dmapipe_encoder *enc)
{
	struct dmapipe_encoder_stats st;
	uint64_t deadline = test_now_ms() + 20000;

	for (;;) {
		dmapipe_encoder_get_stats(enc, &st);
		if (st.in_flight < 4)
			return;
		check_msg(test_now_ms() < deadline, "the encoder holds %u frames for 20 s", st.in_flight);
		check(dmapipe_encoder_dispatch(enc, 100) >= 0);
	}
}

/*
 * Captures @n frames from @src; each goes to every encoder in @encs (all
 * take every frame, in order). Returns the frames captured.
 */
static unsigned int feed(struct dmapipe_v4l2_source *src, struct dmapipe_encoder **encs,
			 unsigned int n_encs, unsigned int n)
{
	unsigned int got = 0;
	uint64_t deadline = test_now_ms() + 60000 + n * 1000ull;

	check_int_eq(dmapipe_v4l2_source_start(src), 0);
	while (got < n) {
		struct pollfd pfd = { .fd = dmapipe_v4l2_source_get_fd(src), .events = POLLIN };
		struct dmapipe_frame_meta meta;
		struct dmapipe_buffer *b;
		int ret;

		check_msg(test_now_ms() < deadline, "captured only %u of %u frames", got, n);
		for (unsigned int i = 0; i < n_encs; i++)
			check(dmapipe_encoder_dispatch(encs[i], 0) >= 0);
		(void)poll(&pfd, 1, 50);
		ret = dmapipe_v4l2_source_dequeue(src, &b, &meta);
		if (ret == -EAGAIN)
			continue;
		check_msg(ret == 0, "dequeue: %s", strerror(-ret));
		struct shared_frame *f = calloc(1, sizeof(*f));

		check(f);
		f->src = src;
		f->buffer = b;
		f->users = (int)n_encs;
		for (unsigned int i = 0; i < n_encs; i++) {
			make_room(encs[i]);
			ret = dmapipe_encoder_submit(encs[i], b, &meta, f);
			check_msg(ret == 0, "submit to encoder %u: %s", i, strerror(-ret));
		}
		got++;
	}
	for (unsigned int i = 0; i < n_encs; i++)
		check_int_eq(dmapipe_encoder_finish(encs[i], 30000), 0);
	dmapipe_v4l2_source_stop(src);
	return got;
}

static void check_same(const struct stream *a, const struct stream *b, unsigned int n)
{
	check_msg(a->packets == n, "%s: %llu packets for %u frames", a->name,
		  (unsigned long long)a->packets, n);
	check_msg(b->packets == n, "%s: %llu packets for %u frames", b->name,
		  (unsigned long long)b->packets, n);
	check_msg(a->keyframes > 0 && a->keyframes == b->keyframes, "keyframes %llu vs %llu",
		  (unsigned long long)a->keyframes, (unsigned long long)b->keyframes);
	for (unsigned int i = 0; i < n && i < 512; i++) {
		check_msg(a->seq[i] == b->seq[i], "packet %u: sequence %llu vs %llu", i,
			  (unsigned long long)a->seq[i], (unsigned long long)b->seq[i]);
		if (i)
			check_msg(a->seq[i] > a->seq[i - 1], "packet %u: sequence not increasing", i);
	}
	check_msg(a->len == b->len && memcmp(a->data, b->data, a->len) == 0,
		  "%s (%zu bytes) and %s (%zu bytes) differ", a->name, a->len, b->name, b->len);
}

/*
 * Import against copy on the same frames: returns after checking that the
 * bitstreams are equal and the import side copied nothing.
 */
static void import_vs_copy(const char *what, const char *cap_node, uint32_t fourcc, uint32_t w,
			   uint32_t h, uint32_t bpl, enum dmapipe_v4l2_io cap_io, unsigned int n)
{
	char enc_node[64];
	struct stream imp = { .name = "import", .width = w, .height = h };
	struct stream ref = { .name = "copy", .width = w, .height = h };
	struct dmapipe_encoder *encs[2];
	struct dmapipe_encoder_stats si, sc;
	struct dmapipe_encoder_info ii, ic;
	struct dmapipe_copy_stats c0, c1;
	const struct dmapipe_layout *l;
	struct dmapipe_v4l2_source *src;
	uint64_t frame_bytes = 0;

	encoder_or_skip(enc_node, sizeof(enc_node));
	src = open_source(cap_node, fourcc, w, h, bpl, cap_io);
	l = dmapipe_v4l2_source_get_layout(src);
	for (unsigned int p = 0; p < l->n_planes; p++) {
		uint64_t rb;
		uint32_t rows;

		check(dmapipe_format_plane_geometry(fourcc, w, h, p, &rb, &rows) == 0);
		frame_bytes += rb * rows;
	}
	encs[0] = open_encoder(enc_node, DMAPIPE_ENCODER_IO_IMPORT, true, &imp);
	encs[1] = open_encoder(enc_node, DMAPIPE_ENCODER_IO_COPY, false, &ref);
	dmapipe_get_copy_stats(&c0);
	check_int_eq(feed(src, encs, 2, n), n);
	dmapipe_get_copy_stats(&c1);

	dmapipe_encoder_get_stats(encs[0], &si);
	dmapipe_encoder_get_stats(encs[1], &sc);
	dmapipe_encoder_get_info(encs[0], &ii);
	dmapipe_encoder_get_info(encs[1], &ic);
	check_int_eq(ii.io, DMAPIPE_ENCODER_IO_IMPORT);
	check_int_eq(ic.io, DMAPIPE_ENCODER_IO_COPY);
	check_int_eq(si.bytes_copied, 0);
	check_int_eq(si.frames_copied, 0);
	check_int_eq(si.frames_imported, n);
	check_msg(si.imports <= dmapipe_v4l2_source_get_buffer_count(src),
		  "%llu imports for %u capture buffers: the import cache missed",
		  (unsigned long long)si.imports, dmapipe_v4l2_source_get_buffer_count(src));
	check_int_eq(si.reimports, 0);
	check_int_eq(si.frames_done, n);
	check_int_eq(sc.frames_copied, n);
	check_int_eq(sc.bytes_copied, n * frame_bytes);
	/* the process-wide counter saw exactly the reference encoder's copies */
	check_int_eq(c1.bytes - c0.bytes, sc.bytes_copied);
	check_same(&imp, &ref, n);
	printf("%s: %u frames %ux%u, import: %llu bytes out, %llu distinct buffers imported, "
	       "0 bytes copied; copy reference: %llu bytes copied; bitstreams identical\n",
	       what, n, w, h, (unsigned long long)si.bytes_out, (unsigned long long)si.imports,
	       (unsigned long long)sc.bytes_copied);
	dmapipe_encoder_free(encs[0]);
	dmapipe_encoder_free(encs[1]);
	dmapipe_v4l2_source_free(src);
	free(imp.data);
	free(ref.data);
}

/* ---- decide: pure decisions and bad input --------------------------------- */

static void nv12_layout(struct dmapipe_layout *l, uint32_t w, uint32_t h, uint32_t align)
{
	struct dmapipe_format f = { .fourcc = dmapipe_fourcc_from_string("NV12"), .width = w,
				    .height = h, .modifier = DMAPIPE_MOD_LINEAR };

	check_int_eq(dmapipe_layout_init(l, &f, align), 0);
}

static void expect_reason(const struct dmapipe_layout *have, enum dmapipe_mem_kind kind,
			  const struct dmapipe_layout *want, const char *needle)
{
	char why[192] = "";

	check_int_eq(dmapipe_encoder_layout_compatible(have, kind, want, why, sizeof(why)), -EXDEV);
	check_msg(strstr(why, needle), "reason \"%s\" lacks \"%s\"", why, needle);
}

static void cmd_decide(void)
{
	struct v4l2_format fmt;
	struct dmapipe_layout want, have;
	struct dmapipe_encoder_options o;
	char why[192];

	/* vicodec's NV12 1000x480: bytesperline 1000, sizeimage w*h*3/2 */
	memset(&fmt, 0, sizeof(fmt));
	fmt.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_NV12;
	fmt.fmt.pix.width = 1000;
	fmt.fmt.pix.height = 480;
	fmt.fmt.pix.bytesperline = 1000;
	fmt.fmt.pix.sizeimage = 1000 * 480 * 3 / 2;
	check_int_eq(dmapipe_v4l2_layout_from_format(&fmt, &want, NULL, 0), 0);
	check_int_eq(want.n_objects, 1);
	check_int_eq(want.n_planes, 2);
	check_int_eq(want.planes[1].stride, 1000);
	check_int_eq(want.planes[1].offset, 1000 * 480);
	check_int_eq(want.objects[0].size, 720000);
	/* YUV420: chroma strides half of bytesperline */
	fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_YUV420;
	check_int_eq(dmapipe_v4l2_layout_from_format(&fmt, &have, NULL, 0), 0);
	check_int_eq(have.n_planes, 3);
	check_int_eq(have.planes[1].stride, 500);
	check_int_eq(have.planes[2].offset, 1000 * 480 + 500 * 240);
	/* a sizeimage too small for its bytesperline is inconsistent */
	fmt.fmt.pix.sizeimage = 1000;
	check_int_eq(dmapipe_v4l2_layout_from_format(&fmt, &have, NULL, 0), -EPROTO);
	/* an odd bytesperline leaves the chroma planes no whole stride */
	fmt.fmt.pix.sizeimage = 1001 * 480 * 2;
	fmt.fmt.pix.bytesperline = 1001;
	check_int_eq(dmapipe_v4l2_layout_from_format(&fmt, &have, NULL, 0), -EPROTO);
	/* a compressed format has no layout */
	fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_FWHT;
	check_int_eq(dmapipe_v4l2_layout_from_format(&fmt, &have, NULL, 0), -ENOTSUP);
	/* one object per plane in the multi-planar "M" form */
	memset(&fmt, 0, sizeof(fmt));
	fmt.type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
	fmt.fmt.pix_mp.pixelformat = V4L2_PIX_FMT_NV12M;
	fmt.fmt.pix_mp.width = 640;
	fmt.fmt.pix_mp.height = 480;
	fmt.fmt.pix_mp.num_planes = 2;
	fmt.fmt.pix_mp.plane_fmt[0].bytesperline = 640;
	fmt.fmt.pix_mp.plane_fmt[0].sizeimage = 640 * 480;
	fmt.fmt.pix_mp.plane_fmt[1].bytesperline = 640;
	fmt.fmt.pix_mp.plane_fmt[1].sizeimage = 640 * 240;
	check_int_eq(dmapipe_v4l2_layout_from_format(&fmt, &have, NULL, 0), 0);
	check_int_eq(have.n_objects, 2);
	check_int_eq(have.planes[1].object, 1);
	check_int_eq(have.planes[1].offset, 0);
	fmt.fmt.pix_mp.num_planes = 3;
	check_int_eq(dmapipe_v4l2_layout_from_format(&fmt, &have, NULL, 0), -EPROTO);

	/* the decisions */
	nv12_layout(&have, 1000, 480, 8);
	have.objects[0].size = 720896;
	check_int_eq(have.planes[0].stride, 1000);
	check_int_eq(dmapipe_encoder_layout_compatible(&have, DMAPIPE_MEM_DMABUF, &want, why,
						       sizeof(why)), 0);
	expect_reason(&have, DMAPIPE_MEM_MEMFD, &want, "memfd");
	nv12_layout(&have, 1000, 480, 64); /* dmapipe's default alignment: 1024 */
	expect_reason(&have, DMAPIPE_MEM_DMABUF, &want, "plane 0 has stride 1024, the encoder needs 1000");
	nv12_layout(&have, 1000, 480, 8);
	have.planes[1].offset += 4096; /* a gap between the planes */
	have.objects[0].size += 4096;
	expect_reason(&have, DMAPIPE_MEM_DMABUF, &want, "plane 1 is at offset");
	nv12_layout(&have, 1000, 480, 8);
	have.objects[0].size = 700000;
	expect_reason(&have, DMAPIPE_MEM_DMABUF, &want, "has 700000 bytes, the encoder needs 720000");
	nv12_layout(&have, 1000, 480, 8);
	have.n_objects = 2;
	have.planes[1].object = 1;
	have.planes[1].offset = 0;
	have.objects[1] = have.objects[0];
	expect_reason(&have, DMAPIPE_MEM_DMABUF, &want, "in 2 buffers");
	nv12_layout(&have, 640, 480, 8);
	expect_reason(&have, DMAPIPE_MEM_DMABUF, &want, "640x480, the encoder takes NV12 1000x480");
	nv12_layout(&have, 1000, 480, 8);
	have.format.modifier = 1;
	expect_reason(&have, DMAPIPE_MEM_DMABUF, &want, "modifier");
	test_pass("decide: layouts of V4L2 formats, import decisions and their reasons");

	/* bad options and nodes */
	dmapipe_encoder_options_init(&o);
	check_int_eq(o.codec, V4L2_PIX_FMT_FWHT);
	o.io = 7;
	errno = 0;
	check(!dmapipe_encoder_new(&o) && errno == EINVAL);
	dmapipe_encoder_options_init(&o);
	o.n_controls = DMAPIPE_ENCODER_MAX_CONTROLS + 1;
	check(!dmapipe_encoder_new(&o) && errno == EINVAL);
	{
		/* an older caller's smaller struct: the fields it has are read,
		 * the ones it lacks keep their defaults */
		struct {
			struct dmapipe_encoder_options o;
			uint64_t newer; /* a field of some later version */
		} big;
		struct dmapipe_encoder *enc;

		dmapipe_encoder_options_init(&o);
		o.device = "/nonexistent/video99";
		o.size = offsetof(struct dmapipe_encoder_options, export_packets);
		check(!dmapipe_encoder_new(&o) && errno == ENOENT);
		/* only the size field: the default device (the first FWHT
		 * encoder: none on the host), and io 7 past the size is not read */
		o.size = sizeof(uint32_t);
		o.io = 7;
		enc = dmapipe_encoder_new(&o);
		check_msg(enc || errno == ENOENT, "a 4-byte struct: %s", strerror(errno));
		dmapipe_encoder_free(enc);
		o.size = 2;
		check(!dmapipe_encoder_new(&o) && errno == EINVAL);
		/* a newer caller's larger struct: taken while what this library
		 * does not know is zero, refused when it asks for more */
		memset(&big, 0, sizeof(big));
		dmapipe_encoder_options_init(&big.o);
		big.o.size = sizeof(big);
		big.o.device = "/nonexistent/video99";
		check(!dmapipe_encoder_new(&big.o) && errno == ENOENT);
		big.newer = 1;
		check(!dmapipe_encoder_new(&big.o) && errno == E2BIG);
	}
	dmapipe_encoder_options_init(&o);
	o.device = "/nonexistent/video99";
	check(!dmapipe_encoder_new(&o) && errno == ENOENT);
	o.device = "/dev/null";
	check(!dmapipe_encoder_new(&o) && errno == ENOTTY);
	dmapipe_encoder_options_init(&o);
	o.codec = v4l2_fourcc('Q', 'Q', 'Q', 'Q'); /* nobody encodes to it */
	check(!dmapipe_encoder_new(&o) && errno == ENOENT);
	{
		struct dmapipe_v4l2_negotiation r;

		/* bad arguments are refused before any device is opened; the
		 * result is filled even then */
		memset(&r, 0xff, sizeof(r));
		check(!dmapipe_v4l2_source_new_for_encoders(NULL, NULL, 0, 0, &r) && errno == EINVAL);
		check_msg(strcmp(r.note, "no encoder") == 0 && !r.steps[0] && !r.reopened,
			  "note: %.40s", r.note);
	}
	test_pass("decide: bad options, missing node, non-V4L2 file, unknown codec refused; "
		  "older and newer option structs honoured");

	{
		char node[64];

		if (find_node("vivid-000-vid-cap", node, sizeof(node))) {
			dmapipe_encoder_options_init(&o);
			o.device = node;
			check(!dmapipe_encoder_new(&o) && errno == ENODEV);
			test_pass("decide: a capture device is refused as an encoder");
		}
		if (find_node("stateful-encoder", node, sizeof(node))) {
			struct dmapipe_encoder *enc;
			struct dmapipe_format f = { .fourcc = dmapipe_fourcc_from_string("NV12"),
						    .width = 1008, .height = 480 };

			dmapipe_encoder_options_init(&o);
			o.device = node;
			o.n_controls = 1;
			o.controls[0].id = V4L2_CID_MPEG_VIDEO_H264_PROFILE; /* vicodec has none */
			o.controls[0].value = 0;
			check(!dmapipe_encoder_new(&o) && errno == ENOTSUP);
			o.n_controls = 0;
			o.bitrate = 1000000; /* not offered: logged, not fatal */
			enc = dmapipe_encoder_new(&o);
			check(enc);
			check_int_eq(dmapipe_encoder_get_layout(enc, &f, &want), 0);
			check_int_eq(want.planes[0].stride, 1008);
			check_int_eq(want.planes[1].offset, 1008 * 480);
			f.width = 1000; /* vicodec encodes multiples of 16 only */
			check_int_eq(dmapipe_encoder_get_layout(enc, &f, &want), -EINVAL);
			f.width = 100; /* below vicodec's minimum of 640 */
			check_int_eq(dmapipe_encoder_get_layout(enc, &f, &want), -EINVAL);
			f.width = 640;
			f.fourcc = dmapipe_fourcc_from_string("P010"); /* not an input of vicodec */
			check_int_eq(dmapipe_encoder_get_layout(enc, &f, &want), -EINVAL);
			/* vicodec has no FORCE_KEY_FRAME control */
			check_int_eq(dmapipe_encoder_request_keyframe(enc), -ENOTSUP);
			check_int_eq(dmapipe_encoder_set_control(enc, V4L2_CID_FWHT_P_FRAME_QP, 30), 0);
			dmapipe_encoder_free(enc);
			test_pass("decide: vicodec: its layout, sizes and formats it refuses, controls");
		}
	}
}

/* ---- vivid and vcap ------------------------------------------------------------ */

static void cmd_vivid(void)
{
	char node[64];

	if (!find_node("vivid-000-vid-cap", node, sizeof(node)))
		test_skip("no vivid-000-vid-cap node (modprobe vivid)");
	import_vs_copy("vivid NV12 export", node, dmapipe_fourcc_from_string("NV12"), 640, 480, 0,
		       DMAPIPE_V4L2_IO_EXPORT, 20);
	import_vs_copy("vivid YUYV export", node, dmapipe_fourcc_from_string("YUYV"), 640, 480, 0,
		       DMAPIPE_V4L2_IO_EXPORT, 12);
	import_vs_copy("vivid NV12 import (allocator buffers)", node,
		       dmapipe_fourcc_from_string("NV12"), 640, 480, 0, DMAPIPE_V4L2_IO_IMPORT, 12);
	test_pass("vivid: capture buffers imported by vicodec, bitstreams equal to the copy path");
}

static void cmd_vcap(void)
{
	char node[64];

	if (!find_node("dmapipe-vcap-0", node, sizeof(node)))
		test_skip("no dmapipe-vcap-0 node (insmod dmapipe_vcap.ko)");
	import_vs_copy("vcap NV12 export", node, dmapipe_fourcc_from_string("NV12"), 640, 480, 0,
		       DMAPIPE_V4L2_IO_EXPORT, 20);
	import_vs_copy("vcap YU12 import", node, dmapipe_fourcc_from_string("YU12"), 640, 480, 0,
		       DMAPIPE_V4L2_IO_IMPORT, 12);
	test_pass("vcap: capture buffers imported by vicodec, bitstreams equal to the copy path");
}

/* ---- stride ---------------------------------------------------------------------- */

static void encode_some(struct dmapipe_v4l2_source *src, struct dmapipe_encoder *enc,
			struct stream *s, unsigned int n)
{
	struct dmapipe_encoder *encs[1] = { enc };

	(void)s;
	check_int_eq(feed(src, encs, 1, n), n);
}

/*
 * Option structs of older callers on real devices: the fields past their
 * size are not read, so the defaults rule (the driver's stride, no
 * exported packets) whatever those bytes hold.
 */
static void truncated_options(const char *node, const char *enc_node)
{
	uint32_t nv12 = dmapipe_fourcc_from_string("NV12");
	struct stream s = { .name = "truncated", .width = 1008, .height = 480 };
	struct dmapipe_v4l2_options vo;
	struct dmapipe_encoder_options eo;
	struct dmapipe_encoder *encs[1];
	struct dmapipe_v4l2_source *src;

	source_options(&vo, node, nv12, 1008, 480, 1024, DMAPIPE_V4L2_IO_EXPORT);
	src = dmapipe_v4l2_source_new(&vo);
	check(src);
	check_int_eq(dmapipe_v4l2_source_get_layout(src)->planes[0].stride, 1024);
	dmapipe_v4l2_source_free(src);
	vo.size = offsetof(struct dmapipe_v4l2_options, bytesperline);
	src = dmapipe_v4l2_source_new(&vo);
	check_msg(src, "a struct without bytesperline: %s", strerror(errno));
	check_int_eq(dmapipe_v4l2_source_get_layout(src)->planes[0].stride, 1008);

	for (int round = 0; round < 2; round++) {
		dmapipe_encoder_options_init(&eo);
		eo.device = enc_node;
		eo.packet = on_packet;
		eo.done = on_done;
		eo.user_data = &s;
		eo.export_packets = true;
		if (round == 1)
			eo.size = offsetof(struct dmapipe_encoder_options, export_packets);
		s.packets = s.exported = 0;
		encs[0] = dmapipe_encoder_new(&eo);
		check_msg(encs[0], "encoder, struct of %u bytes: %s", eo.size, strerror(errno));
		check_int_eq(feed(src, encs, 1, 4), 4);
		check_int_eq(s.packets, 4);
		check_int_eq(s.exported, round == 0 ? 4 : 0);
		dmapipe_encoder_free(encs[0]);
	}
	dmapipe_v4l2_source_free(src);
	free(s.data);
	test_pass("stride: option structs of older callers: the fields they lack take defaults");
}

/*
 * dmapipe_v4l2_source_new_for_encoders(): the device's padded rows (1024
 * bytes for 1008 pixels) against two encoders that need them unpadded.
 */
static void negotiation(const char *node, const char *enc_node)
{
	uint32_t nv12 = dmapipe_fourcc_from_string("NV12");
	struct stream s1 = { .name = "negotiated-1", .width = 1008, .height = 480 };
	struct stream s2 = { .name = "negotiated-2", .width = 1008, .height = 480 };
	struct dmapipe_v4l2_negotiation r;
	struct dmapipe_v4l2_options o;
	struct dmapipe_encoder *encs[2];
	struct dmapipe_encoder_stats st;
	struct dmapipe_v4l2_source *src;
	char step[256];

	encs[0] = open_encoder(enc_node, DMAPIPE_ENCODER_IO_AUTO, false, &s1);
	encs[1] = open_encoder(enc_node, DMAPIPE_ENCODER_IO_AUTO, false, &s2);
	source_options(&o, node, nv12, 1008, 480, 1024, DMAPIPE_V4L2_IO_EXPORT);

	/* only checking: the padded layout stays, the reason is given */
	src = dmapipe_v4l2_source_new_for_encoders(&o, encs, 2, DMAPIPE_V4L2_NO_NEGOTIATE, &r);
	check(src);
	check_int_eq(dmapipe_v4l2_source_get_layout(src)->planes[0].stride, 1024);
	check(!r.importable);
	check_int_eq(r.reopened, 0);
	check_int_eq(r.bytesperline, 1024);
	check_msg(r.steps[0] == '\0', "steps: %s", r.steps);
	check_msg(strncmp(r.note, "not negotiated: ", 16) == 0 &&
		  strstr(r.note, "plane 0 has stride 1024, the encoder needs 1008"), "note: %s", r.note);
	dmapipe_v4l2_source_free(src);

	/* negotiating: one reopening with the stride the encoders compute */
	src = dmapipe_v4l2_source_new_for_encoders(&o, encs, 2, 0, &r);
	check(src);
	check_int_eq(dmapipe_v4l2_source_get_layout(src)->planes[0].stride, 1008);
	check(r.importable);
	check_int_eq(r.reopened, 1);
	check_int_eq(r.bytesperline, 1008);
	snprintf(step, sizeof(step), "negotiating: plane 0 has stride 1024, the encoder needs 1008; "
		 "asking %s for 1008 bytes per line\n", node);
	check_msg(strcmp(r.steps, step) == 0, "steps: %s", r.steps);
	check_msg(strcmp(r.note, "the capture buffers have the encoder's layout (asked for)") == 0,
		  "note: %s", r.note);
	check_int_eq(feed(src, encs, 2, 6), 6);
	for (int i = 0; i < 2; i++) {
		dmapipe_encoder_get_stats(encs[i], &st);
		check_int_eq(st.frames_imported, 6);
		check_int_eq(st.frames_copied, 0);
	}
	check_int_eq(s1.packets, 6);
	check_int_eq(s2.packets, 6);
	dmapipe_v4l2_source_free(src);
	for (int i = 0; i < 2; i++)
		dmapipe_encoder_free(encs[i]);

	/* buffers that suit as they are: nothing reopened; no encoder at all */
	encs[0] = open_encoder(enc_node, DMAPIPE_ENCODER_IO_AUTO, false, &s1);
	o.width = 640;
	o.bytesperline = 0;
	src = dmapipe_v4l2_source_new_for_encoders(&o, encs, 1, 0, &r);
	check(src);
	check(r.importable);
	check_int_eq(r.reopened, 0);
	check_msg(strcmp(r.note, "the capture buffers suit the encoder as they are") == 0,
		  "note: %s", r.note);
	dmapipe_v4l2_source_free(src);
	src = dmapipe_v4l2_source_new_for_encoders(&o, NULL, 0, 0, &r);
	check(src);
	check_msg(strcmp(r.note, "no encoder") == 0, "note: %s", r.note);
	dmapipe_v4l2_source_free(src);
	errno = 0;
	check(!dmapipe_v4l2_source_new_for_encoders(&o, encs, 1, 1u << 7, &r) && errno == EINVAL);
	check(!dmapipe_v4l2_source_new_for_encoders(&o, NULL, 1, 0, &r) && errno == EINVAL);
	dmapipe_encoder_free(encs[0]);
	free(s1.data);
	free(s2.data);
	test_pass("stride: negotiated in the library: checked only, negotiated for two encoders "
		  "(imported, 0 copied), suited as they are, no encoder, bad arguments");
}

static void cmd_stride(void)
{
	char node[64], enc_node[64], why[192];
	uint32_t nv12 = dmapipe_fourcc_from_string("NV12");
	struct dmapipe_format f = { .fourcc = nv12, .width = 1008, .height = 480 };
	struct stream s = { .name = "stride", .width = 1008, .height = 480 };
	struct dmapipe_encoder_info info;
	struct dmapipe_encoder_stats st;
	struct dmapipe_layout want;
	struct dmapipe_v4l2_source *src;
	struct dmapipe_encoder *enc;
	struct dmapipe_frame_meta meta;
	struct dmapipe_buffer *b;
	const struct dmapipe_layout *l;
	int ret;

	/* vcap takes any size and the stride asked for (vivid's webcam input
	 * has fixed sizes) */
	if (!find_node("dmapipe-vcap-0", node, sizeof(node)))
		test_skip("no dmapipe-vcap-0 node (insmod dmapipe_vcap.ko)");
	encoder_or_skip(enc_node, sizeof(enc_node));

	/* the device pads rows to 1024 bytes, as many capture devices do */
	src = open_source(node, nv12, 1008, 480, 1024, DMAPIPE_V4L2_IO_EXPORT);
	l = dmapipe_v4l2_source_get_layout(src);
	check_int_eq(l->planes[0].stride, 1024);

	/* import only: refused with the reason, nothing taken */
	enc = open_encoder(enc_node, DMAPIPE_ENCODER_IO_IMPORT, false, &s);
	check_int_eq(dmapipe_encoder_check_layout(enc, l, DMAPIPE_MEM_DMABUF, why, sizeof(why)),
		     -EXDEV);
	check_msg(strstr(why, "stride 1024, the encoder needs 1008"), "reason: %s", why);
	check_int_eq(dmapipe_v4l2_source_start(src), 0);
	for (uint64_t t0 = test_now_ms(); (ret = dmapipe_v4l2_source_dequeue(src, &b, &meta)) == -EAGAIN;)
		check_msg(test_now_ms() - t0 < 30000, "no frame from vcap");
	check_int_eq(ret, 0);
	check_int_eq(dmapipe_encoder_submit(enc, b, &meta, NULL), -EXDEV);
	dmapipe_encoder_get_info(enc, &info);
	check_msg(strstr(info.io_note, "stride 1024"), "io_note: %s", info.io_note);
	dmapipe_encoder_free(enc);
	/* strict: refused with EPERM instead of copying */
	enc = open_encoder(enc_node, DMAPIPE_ENCODER_IO_AUTO, true, &s);
	check_int_eq(dmapipe_encoder_submit(enc, b, &meta, NULL), -EPERM);
	dmapipe_encoder_get_info(enc, &info);
	check_msg(strstr(info.io_note, "strict") && strstr(info.io_note, "stride 1024"),
		  "io_note: %s", info.io_note);
	dmapipe_encoder_free(enc);
	check_int_eq(dmapipe_v4l2_source_queue(src, b), 0);
	dmapipe_v4l2_source_stop(src);
	test_pass("stride: import-only and strict refuse a 1024-byte stride with the reason");

	/* auto: the counted copy, with the reason */
	enc = open_encoder(enc_node, DMAPIPE_ENCODER_IO_AUTO, false, &s);
	encode_some(src, enc, &s, 8);
	dmapipe_encoder_get_info(enc, &info);
	dmapipe_encoder_get_stats(enc, &st);
	check_int_eq(info.io, DMAPIPE_ENCODER_IO_COPY);
	check_msg(strstr(info.io_note, "import impossible") && strstr(info.io_note, "stride 1024"),
		  "io_note: %s", info.io_note);
	check_int_eq(st.frames_copied, 8);
	check_int_eq(st.bytes_copied, 8ull * 1008 * 480 * 3 / 2);
	check_int_eq(s.packets, 8);
	dmapipe_encoder_free(enc);
	dmapipe_v4l2_source_free(src);
	printf("stride: fallback: %s\n", info.io_note);
	test_pass("stride: auto falls back to the counted copy and says why");

	/* negotiated: the device is asked for the encoder's stride */
	s.packets = 0;
	enc = open_encoder(enc_node, DMAPIPE_ENCODER_IO_AUTO, true, &s);
	check_int_eq(dmapipe_encoder_get_layout(enc, &f, &want), 0);
	check_int_eq(want.planes[0].stride, 1008);
	dmapipe_encoder_free(enc);
	src = open_source(node, nv12, 1008, 480, want.planes[0].stride, DMAPIPE_V4L2_IO_EXPORT);
	check_int_eq(dmapipe_v4l2_source_get_layout(src)->planes[0].stride, 1008);
	dmapipe_v4l2_source_free(src);
	import_vs_copy("vcap NV12 1008x480, stride negotiated", node, nv12, 1008, 480,
		       want.planes[0].stride, DMAPIPE_V4L2_IO_EXPORT, 10);
	test_pass("stride: with the encoder's stride asked of the device, every frame is imported");
	free(s.data);
	truncated_options(node, enc_node);
	negotiation(node, enc_node);
}

/* ---- slow --------------------------------------------------------------------------- */

/*
 * The slow encoder: a consumer process (policy latest) that gives each frame
 * to vicodec and then sleeps @delay_ms, as an encoder taking that long would.
 */
static void slow_done(struct dmapipe_encoder *enc, void *frame_data, int status, void *data)
{
	struct dmapipe_client *cl = data;

	(void)enc;
	(void)status;
	dmapipe_client_release_frame(cl, frame_data, -1);
}

static int slow_encoder_child(const char *sock, const char *enc_node, unsigned int delay_ms,
			      unsigned int seconds)
{
	struct dmapipe_client_options co;
	struct dmapipe_client *cl;
	struct dmapipe_encoder_options eo;
	struct dmapipe_encoder *enc;
	struct dmapipe_encoder_stats st;
	uint64_t end = test_now_ms() + seconds * 1000ull;

	dmapipe_client_options_init(&co);
	co.path = sock;
	co.policy = DMAPIPE_POLICY_LATEST;
	co.name = "slow-encoder";
	co.dmabuf_only = true;
	cl = dmapipe_client_new(&co);
	if (!cl)
		return 10;
	dmapipe_encoder_options_init(&eo);
	eo.device = enc_node;
	eo.io = DMAPIPE_ENCODER_IO_IMPORT;
	eo.max_in_flight = 1;
	eo.done = slow_done;
	eo.user_data = cl;
	enc = dmapipe_encoder_new(&eo);
	if (!enc)
		return 11;
	while (test_now_ms() < end) {
		struct dmapipe_frame *f = dmapipe_client_wait_frame(cl, 500);

		if (!f)
			continue;
		if (dmapipe_encoder_submit(enc, f->buffer, &f->meta, f) != 0)
			return 12;
		/* one frame at a time, then as long again as a slow device would take */
		do {
			if (dmapipe_encoder_dispatch(enc, 1000) < 0)
				return 13;
			dmapipe_encoder_get_stats(enc, &st);
		} while (st.in_flight > 0);
		usleep(delay_ms * 1000);
	}
	if (dmapipe_encoder_finish(enc, 20000) != 0)
		return 14;
	dmapipe_encoder_get_stats(enc, &st);
	if (st.frames_copied || st.packets < st.frames_in - 1)
		return 15;
	dmapipe_encoder_free(enc);
	dmapipe_client_free(cl);
	return 0;
}

/*
 * Runs the capture loop for @ms: the device into the server, the fast
 * consumer's frames taken and given back (counted in *@fast_frames).
 * Returns the frames captured meanwhile.
 */
static uint64_t pump(struct dmapipe_server *srv, struct dmapipe_v4l2_source *src,
		     struct dmapipe_client *fast, uint64_t ms, uint64_t *fast_frames)
{
	struct dmapipe_v4l2_stats vs;
	uint64_t captured0, t_end = test_now_ms() + ms;

	dmapipe_v4l2_source_get_stats(src, &vs);
	captured0 = vs.frames;
	while (test_now_ms() < t_end) {
		struct pollfd pfd[3] = {
			{ .fd = dmapipe_server_get_fd(srv), .events = POLLIN },
			{ .fd = dmapipe_client_get_fd(fast), .events = POLLIN },
			{ .fd = dmapipe_v4l2_source_get_fd(src), .events = POLLIN },
		};
		struct dmapipe_frame *f;

		(void)poll(pfd, 3, 50);
		check(dmapipe_v4l2_source_dispatch(src, 0) >= 0);
		dmapipe_server_dispatch(srv, 0);
		dmapipe_client_dispatch(fast, 0);
		while ((f = dmapipe_client_acquire_frame(fast))) {
			(*fast_frames)++;
			dmapipe_client_release_frame(fast, f, -1);
		}
	}
	dmapipe_v4l2_source_get_stats(src, &vs);
	return vs.frames - captured0;
}

static void cmd_slow(void)
{
	char node[64], enc_node[64], sock[64];
	struct dmapipe_server_options so;
	struct dmapipe_server *srv;
	struct dmapipe_v4l2_source *src;
	struct dmapipe_client_options co;
	struct dmapipe_client *fast;
	struct dmapipe_consumer_stats cs[4];
	struct dmapipe_v4l2_stats vs;
	uint64_t fast_frames = 0, ref_frames = 0, captured, ref, t0;
	const unsigned int seconds = 8, ref_seconds = 4;
	double secs, ref_fps;
	pid_t child;
	int status, n;

	if (!find_node("vivid-000-vid-cap", node, sizeof(node)))
		test_skip("no vivid-000-vid-cap node (modprobe vivid)");
	encoder_or_skip(enc_node, sizeof(enc_node));
	snprintf(sock, sizeof(sock), "@dmapipe-test-encoder-slow-%d", (int)getpid());

	dmapipe_server_options_init(&so);
	so.path = sock;
	srv = dmapipe_server_new(&so);
	check(srv);
	src = open_source(node, dmapipe_fourcc_from_string("NV12"), 640, 480, 0,
			  DMAPIPE_V4L2_IO_EXPORT);
	check_int_eq(dmapipe_v4l2_source_attach(src, srv), 0);

	dmapipe_client_options_init(&co);
	co.path = sock;
	co.policy = DMAPIPE_POLICY_QUEUE;
	co.queue_depth = 4;
	co.name = "fast";
	fast = dmapipe_client_new(&co);
	check(fast);
	check_int_eq(dmapipe_v4l2_source_start(src), 0);
	/*
	 * The reference, on this machine now: capture with the fast consumer
	 * alone. A loaded machine captures slower in both phases; only the
	 * slow encoder's own effect shows in their ratio.
	 */
	(void)pump(srv, src, fast, 1000, &ref_frames);
	t0 = test_now_ms();
	ref = pump(srv, src, fast, ref_seconds * 1000ull, &ref_frames);
	ref_fps = (double)ref / ((double)(test_now_ms() - t0) / 1000.0);

	child = fork();
	check(child >= 0);
	if (child == 0)
		_exit(slow_encoder_child(sock, enc_node, 400, seconds + 2));
	/* wait for both consumers */
	for (t0 = test_now_ms(); dmapipe_server_get_consumer_stats(srv, cs, 4) < 2;) {
		check_msg(test_now_ms() - t0 < 20000, "the encoder consumer did not connect");
		(void)pump(srv, src, fast, 20, &ref_frames);
	}
	t0 = test_now_ms();
	captured = pump(srv, src, fast, seconds * 1000ull, &fast_frames);
	dmapipe_v4l2_source_get_stats(src, &vs);
	n = dmapipe_server_get_consumer_stats(srv, cs, 4);
	check_int_eq(n, 2);
	const struct dmapipe_consumer_stats *enc_st = strcmp(cs[0].name, "slow-encoder") == 0 ? &cs[0] : &cs[1];
	secs = (double)(test_now_ms() - t0) / 1000.0;

	printf("slow: reference %.1f fps over %u s (fast consumer alone); with the slow encoder "
	       "%.1f s: captured %llu frames (%.1f fps, %llu dropped by the device), fast "
	       "consumer %llu, slow encoder consumer sent %llu, dropped %llu for it\n", ref_fps,
	       ref_seconds, secs, (unsigned long long)captured, (double)captured / secs,
	       (unsigned long long)vs.dropped, (unsigned long long)fast_frames,
	       (unsigned long long)enc_st->frames_sent, (unsigned long long)enc_st->frames_dropped);
	/* capture keeps the rate it had without the slow consumer, the fast one sees every frame */
	check_msg((double)captured / secs >= 0.9 * ref_fps,
		  "capture slowed to %.1f fps from %.1f fps without the slow encoder",
		  (double)captured / secs, ref_fps);
	check_msg(fast_frames + 4 >= captured, "the fast consumer got %llu of %llu frames",
		  (unsigned long long)fast_frames, (unsigned long long)captured);
	check_msg(enc_st->frames_dropped > 0, "the slow encoder consumer had no drops");
	check_msg(enc_st->frames_sent * 2 < captured, "the slow encoder consumer got %llu of %llu",
		  (unsigned long long)enc_st->frames_sent, (unsigned long long)captured);
	check_msg(enc_st->frames_sent >= 5, "the encoder consumer got only %llu frames",
		  (unsigned long long)enc_st->frames_sent);

	check(waitpid(child, &status, 0) == child);
	check_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "encoder child: status 0x%x", status);
	dmapipe_client_free(fast);
	dmapipe_v4l2_source_free(src);
	dmapipe_server_free(srv);
	test_pass("slow: a slow encoder consumer drops frames; capture and the other consumer keep up");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test-encoder decide|vivid|vcap|stride|slow\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "decide") == 0)
		cmd_decide();
	else if (strcmp(argv[1], "vivid") == 0)
		cmd_vivid();
	else if (strcmp(argv[1], "vcap") == 0)
		cmd_vcap();
	else if (strcmp(argv[1], "stride") == 0)
		cmd_stride();
	else if (strcmp(argv[1], "slow") == 0)
		cmd_slow();
	else {
		fprintf(stderr, "test-encoder: unknown case %s\n", argv[1]);
		return 2;
	}
	return 0;
}
