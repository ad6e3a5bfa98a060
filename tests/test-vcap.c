/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dmapipe_vcap (kernel/dmapipe-vcap.c) seen through the library: the kernel
 * draws the dmapipe test pattern (docs/PATTERN.md) and the library's checker
 * verifies every byte of every frame captured, for every pixel format the
 * device offers, through exported and imported dma-bufs.
 *
 *   test-vcap capture          MMAP buffers exported with VIDIOC_EXPBUF and
 *                              wrapped with dmapipe_buffer_new_from_fds(),
 *                              every format, padded strides, frame pacing
 *   test-vcap import           V4L2_MEMORY_DMABUF with buffers from each
 *                              dma-buf allocator of the machine (and from a
 *                              second dmapipe_vcap device when there is one)
 *   test-vcap drops            the Drop Rate and Test Pattern controls
 *   test-vcap stress           racing STREAMON/STREAMOFF/REQBUFS/close
 *   test-vcap lifecycle KO     unload and unbind with buffers alive (root;
 *                              reloads KO with the parameters it had)
 *
 * Several commands run in order. Needs the module loaded (docs/VCAP.md):
 * exits 77 without a dmapipe_vcap device. Raw ioctls on purpose.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/videodev2.h>

#include "../kernel/uapi/dmapipe.h"
#include "private.h"
#include "testlib.h"

#define MAX_BUFS 8
#define N_BUFS 4
/*
 * A frame is due every 16-33 ms; under TCG on a loaded host the guest can
 * stall for seconds (the lane once saw a 3 s gap while the host ran other
 * VMs), so waiting is generous: a missing frame is still found, only later.
 */
#define DQBUF_TIMEOUT_MS 10000
#define MODULE_NAME "dmapipe_vcap"
#define SYSFS_PARAMS "/sys/module/" MODULE_NAME "/parameters"
#define DRIVER_DIR "/sys/bus/platform/drivers/dmapipe-vcap"

/* A V4L2 format of the device and the DRM format with the same memory layout. */
struct format_case {
	const char *v4l2;
	const char *drm;
	uint32_t width, height;
	uint32_t bytesperline; /* 0: the driver's smallest */
};

/*
 * Every format of the driver, at sizes that exercise odd widths, odd
 * heights where the format allows them, padded strides and the widest row.
 */
static const struct format_case formats[] = {
	{ "YUYV", "YUYV", 640, 480, 0 },
	{ "YVYU", "YVYU", 66, 20, 0 },
	{ "UYVY", "UYVY", 320, 240, 704 },
	{ "VYUY", "VYUY", 32, 18, 0 },
	{ "NV12", "NV12", 320, 240, 384 },
	{ "NV21", "NV21", 50, 34, 0 },
	{ "NV16", "NV16", 64, 17, 0 },
	{ "NV61", "NV61", 48, 16, 0 },
	{ "NV24", "NV24", 17, 16, 0 },
	{ "NV42", "NV42", 40, 30, 64 },
	{ "P010", "P010", 96, 54, 256 },
	{ "YU12", "YUV420", 176, 144, 0 },
	{ "YV12", "YVU420", 18, 18, 32 },
	{ "422P", "YUV422", 80, 61, 0 },
	{ "XR24", "XRGB8888", 100, 75, 0 },
	{ "BX24", "BGRX8888", 33, 20, 256 },
	{ "BGR3", "RGB888", 21, 17, 0 },
	{ "RGB3", "BGR888", 16, 16, 0 },
	{ "RGBP", "RGB565", 27, 19, 0 },
	{ "GREY", "R8", 16, 16, 0 },
	{ "Y16 ", "R16", 4096, 16, 0 },
};

static const struct format_case yuyv_vga = { "YUYV", "YUYV", 640, 480, 0 };
static const struct format_case nv12_padded = { "NV12", "NV12", 320, 240, 384 };

/* What a stream delivered. */
struct run {
	unsigned int frames;
	uint32_t seq[512];
	uint64_t ts_ns[512];
};

static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	return ret;
}

static uint32_t v4l2_code(const char *s)
{
	return (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

/* The node name ("video3") of dmapipe_vcap instance @inst, or false. */
static bool vcap_node(unsigned int inst, char *node, size_t len)
{
	DIR *d = opendir("/sys/class/video4linux");
	struct dirent *e;
	char want[32], path[512], name[64];
	bool found = false;

	if (!d)
		return false;
	snprintf(want, sizeof(want), "dmapipe-vcap-%u", inst);
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/video4linux/%s/name", e->d_name);
		if (read_text(path, name, sizeof(name)) == 0 && strcmp(name, want) == 0) {
			snprintf(node, len, "%s", e->d_name);
			found = true;
		}
	}
	closedir(d);
	return found;
}

/* Opens instance @inst, or returns -1 when there is none. */
static int vcap_open(unsigned int inst, int flags)
{
	struct v4l2_capability cap;
	char node[256], path[300];
	int fd;

	if (!vcap_node(inst, node, sizeof(node)))
		return -1;
	snprintf(path, sizeof(path), "/dev/%s", node);
	fd = open(path, O_RDWR | O_CLOEXEC | flags);
	check_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	memset(&cap, 0, sizeof(cap));
	check_msg(xioctl(fd, VIDIOC_QUERYCAP, &cap) == 0, "QUERYCAP: %s", strerror(errno));
	check(strcmp((const char *)cap.driver, MODULE_NAME) == 0);
	check(cap.device_caps & V4L2_CAP_VIDEO_CAPTURE);
	check(cap.device_caps & V4L2_CAP_STREAMING);
	return fd;
}

static int vcap_open_or_skip(void)
{
	int fd = vcap_open(0, 0);

	if (fd < 0)
		test_skip("no dmapipe_vcap device (insmod dmapipe_vcap.ko, see docs/VCAP.md)");
	return fd;
}

static void mem_ops_param(char *buf, size_t len)
{
	if (read_text(SYSFS_PARAMS "/mem_ops", buf, len) < 0)
		snprintf(buf, len, "?");
}

/* Whether the module runs on vb2-dma-contig: physically contiguous buffers only. */
static bool is_contig(void)
{
	char mem[32];

	mem_ops_param(mem, sizeof(mem));
	return strcmp(mem, "dma-contig") == 0;
}

static uint32_t find_ctrl(int fd, const char *name)
{
	struct v4l2_query_ext_ctrl q;

	memset(&q, 0, sizeof(q));
	q.id = V4L2_CTRL_FLAG_NEXT_CTRL;
	while (xioctl(fd, VIDIOC_QUERY_EXT_CTRL, &q) == 0) {
		if (strcmp(q.name, name) == 0)
			return q.id;
		q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
	}
	return 0;
}

static void set_ctrl(int fd, uint32_t id, int value)
{
	struct v4l2_control c = { .id = id, .value = value };

	check_msg(xioctl(fd, VIDIOC_S_CTRL, &c) == 0, "S_CTRL %#x=%d: %s", id, value,
		  strerror(errno));
}

static void set_interval(int fd, uint32_t num, uint32_t den)
{
	struct v4l2_streamparm parm;

	memset(&parm, 0, sizeof(parm));
	parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	parm.parm.capture.timeperframe.numerator = num;
	parm.parm.capture.timeperframe.denominator = den;
	check_msg(xioctl(fd, VIDIOC_S_PARM, &parm) == 0, "S_PARM: %s", strerror(errno));
	check(parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME);
	check_int_eq((uint64_t)parm.parm.capture.timeperframe.numerator * den,
		     (uint64_t)parm.parm.capture.timeperframe.denominator * num);
}

/* Sets @fc on the device; the driver must take the size and stride as asked. */
static struct v4l2_pix_format set_format(int fd, const struct format_case *fc)
{
	struct v4l2_format f;

	memset(&f, 0, sizeof(f));
	f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	f.fmt.pix.pixelformat = v4l2_code(fc->v4l2);
	f.fmt.pix.width = fc->width;
	f.fmt.pix.height = fc->height;
	f.fmt.pix.bytesperline = fc->bytesperline;
	f.fmt.pix.field = V4L2_FIELD_NONE;
	check_msg(xioctl(fd, VIDIOC_S_FMT, &f) == 0, "S_FMT %s: %s", fc->v4l2, strerror(errno));
	check_msg(f.fmt.pix.pixelformat == v4l2_code(fc->v4l2) && f.fmt.pix.width == fc->width &&
		  f.fmt.pix.height == fc->height,
		  "S_FMT %s %ux%u gave %.4s %ux%u", fc->v4l2, fc->width, fc->height,
		  (const char *)&f.fmt.pix.pixelformat, f.fmt.pix.width, f.fmt.pix.height);
	if (fc->bytesperline)
		check_int_eq(f.fmt.pix.bytesperline, fc->bytesperline);
	check_int_eq(f.fmt.pix.field, V4L2_FIELD_NONE);
	return f.fmt.pix;
}

/*
 * The dmapipe layout of a V4L2 single-planar buffer: planes one after the
 * other, plane 0 with bytesperline, the others with the stride V4L2 derives
 * from it (bytesperline scaled like the row: NV12 the same, YUV420 half,
 * NV24 double). Fails the test unless it adds up to sizeimage.
 */
static void layout_from_pix(const struct v4l2_pix_format *pix, const char *drm, int fd,
			    uint64_t size, struct dmapipe_layout *l)
{
	uint64_t rb0, rb, offset = 0;
	uint32_t rows;
	unsigned int p, n;

	memset(l, 0, sizeof(*l));
	l->format.fourcc = dmapipe_fourcc_from_string(drm);
	check_msg(l->format.fourcc, "library does not know %s", drm);
	l->format.width = pix->width;
	l->format.height = pix->height;
	l->format.modifier = DMAPIPE_MOD_LINEAR;
	l->n_objects = 1;
	l->objects[0].fd = fd;
	l->objects[0].size = size;
	n = dmapipe_format_plane_count(l->format.fourcc);
	check(n >= 1 && n <= 3);
	l->n_planes = n;
	check(dmapipe_format_plane_geometry(l->format.fourcc, pix->width, pix->height, 0, &rb0,
					    &rows) == 0);
	for (p = 0; p < n; p++) {
		check(dmapipe_format_plane_geometry(l->format.fourcc, pix->width, pix->height, p,
						    &rb, &rows) == 0);
		check_msg((uint64_t)pix->bytesperline * rb % rb0 == 0,
			  "%s: plane %u stride is not a whole number", drm, p);
		l->planes[p].stride = (uint32_t)((uint64_t)pix->bytesperline * rb / rb0);
		l->planes[p].offset = offset;
		offset += (uint64_t)l->planes[p].stride * rows;
	}
	check_msg(offset == pix->sizeimage, "%s %ux%u: planes add up to %llu, sizeimage %u",
		  drm, pix->width, pix->height, (unsigned long long)offset, pix->sizeimage);
}

/* Verifies frame @seq in @buf, explaining a mismatch before failing. */
static void verify_frame(struct dmapipe_buffer *buf, uint32_t seq, const char *what)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(buf);
	uint8_t *planes[DMAPIPE_MAX_PLANES] = { 0 };
	unsigned int bad_plane = 0;
	uint64_t bad_offset = 0, stamp = 0;
	int ret;

	ret = dmapipe_buffer_check_pattern(buf, seq);
	if (ret == 0)
		return;
	for (unsigned int p = 0; p < l->n_planes; p++)
		planes[p] = dmapipe_buffer_map_plane(buf, p);
	dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_READ);
	dmapipe_pattern_check(l, planes, seq, &bad_plane, &bad_offset);
	dmapipe_pattern_read_stamp(l, planes, &stamp);
	fprintf(stderr, "%s: frame %u: %s at plane %u offset %llu (byte %#x); stamp says %llu\n",
		what, seq, strerror(-ret), bad_plane, (unsigned long long)bad_offset,
		planes[bad_plane] ? planes[bad_plane][bad_offset] : 0, (unsigned long long)stamp);
	dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_READ);
	check_msg(0, "frame %u of %s does not hold the pattern", seq, what);
}

static void reqbufs(int fd, enum v4l2_memory memory, unsigned int *count)
{
	struct v4l2_requestbuffers req;

	memset(&req, 0, sizeof(req));
	req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	req.memory = memory;
	req.count = *count;
	check_msg(xioctl(fd, VIDIOC_REQBUFS, &req) == 0, "REQBUFS %u: %s", *count,
		  strerror(errno));
	if (*count)
		check_msg(req.count >= 1 && req.count <= MAX_BUFS, "REQBUFS gave %u", req.count);
	*count = req.count;
}

static void stream(int fd, bool on)
{
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;

	check_msg(xioctl(fd, on ? VIDIOC_STREAMON : VIDIOC_STREAMOFF, &type) == 0, "%s: %s",
		  on ? "STREAMON" : "STREAMOFF", strerror(errno));
}

/* Queues buffer @index; @dmabuf_fd and @length only for V4L2_MEMORY_DMABUF. */
static int qbuf(int fd, enum v4l2_memory memory, unsigned int index, int dmabuf_fd,
		uint32_t length)
{
	struct v4l2_buffer b;

	memset(&b, 0, sizeof(b));
	b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b.memory = memory;
	b.index = index;
	if (memory == V4L2_MEMORY_DMABUF) {
		b.m.fd = dmabuf_fd;
		b.length = length;
	}
	return xioctl(fd, VIDIOC_QBUF, &b);
}

/* Waits for and dequeues one buffer; false on timeout. */
static bool dqbuf(int fd, enum v4l2_memory memory, struct v4l2_buffer *b, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		int n = poll(&pfd, 1, timeout_ms);

		check_msg(n >= 0 || errno == EINTR, "poll: %s", strerror(errno));
		if (n == 0)
			return false;
		if (n < 0)
			continue;
		check_msg(!(pfd.revents & (POLLERR | POLLHUP)), "poll: revents %#x", pfd.revents);
		memset(b, 0, sizeof(*b));
		b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b->memory = memory;
		if (xioctl(fd, VIDIOC_DQBUF, b) == 0)
			return true;
		check_msg(errno == EAGAIN, "DQBUF: %s", strerror(errno));
	}
}

/* What every dequeued capture buffer of the device must look like. */
static void check_dequeued(const struct v4l2_buffer *b, const struct v4l2_pix_format *pix,
			   struct run *run)
{
	uint64_t ts = (uint64_t)b->timestamp.tv_sec * 1000000000ull +
		      (uint64_t)b->timestamp.tv_usec * 1000ull;

	check_msg(!(b->flags & V4L2_BUF_FLAG_ERROR), "buffer %u returned with an error", b->index);
	check_int_eq(b->bytesused, pix->sizeimage);
	check_int_eq(b->field, V4L2_FIELD_NONE);
	check_int_eq(b->flags & V4L2_BUF_FLAG_TIMESTAMP_MASK, V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC);
	check_int_eq(b->flags & V4L2_BUF_FLAG_TSTAMP_SRC_MASK, V4L2_BUF_FLAG_TSTAMP_SRC_EOF);
	/* microsecond timestamps of CLOCK_MONOTONIC: never ahead of it */
	check_msg(ts <= now_ns(), "timestamp %llu ns is in the future", (unsigned long long)ts);
	if (run->frames) {
		unsigned int last = run->frames - 1;

		check_msg(b->sequence > run->seq[last], "sequence %u after %u", b->sequence,
			  run->seq[last]);
		check_msg(ts > run->ts_ns[last], "timestamp %llu after %llu",
			  (unsigned long long)ts, (unsigned long long)run->ts_ns[last]);
	}
	if (run->frames < sizeof(run->seq) / sizeof(run->seq[0])) {
		run->seq[run->frames] = b->sequence;
		run->ts_ns[run->frames] = ts;
		run->frames++;
	}
}

/*
 * Timestamps are the ends of the frames on the device's frame clock: every
 * step of the sequence number is one frame interval, to the microsecond the
 * V4L2 timestamp has.
 */
static void check_pacing(const struct run *run, uint64_t interval_ns, const char *what)
{
	uint64_t span, steps;
	unsigned int gaps = 0;

	check(run->frames >= 2);
	for (unsigned int i = 1; i < run->frames; i++) {
		uint64_t d = run->ts_ns[i] - run->ts_ns[i - 1];
		uint64_t k = run->seq[i] - run->seq[i - 1];

		check_msg(d + 2000 >= interval_ns * k && d <= interval_ns * k + 2000,
			  "%s: frames %u and %u are %llu ns apart, want %llu", what,
			  run->seq[i - 1], run->seq[i], (unsigned long long)d,
			  (unsigned long long)(interval_ns * k));
		gaps += k > 1;
	}
	span = run->ts_ns[run->frames - 1] - run->ts_ns[0];
	steps = run->seq[run->frames - 1] - run->seq[0];
	printf("%s: %u frames, sequence %u..%u (%u gaps), %.3f ms per frame (interval %.3f ms)\n",
	       what, run->frames, run->seq[0], run->seq[run->frames - 1], gaps,
	       span / 1e6 / steps, interval_ns / 1e6);
}

/*
 * Captures @n_frames with MMAP buffers exported with VIDIOC_EXPBUF, each
 * wrapped in a dmapipe_buffer, and verifies every frame through the
 * dma-buf. One frame is also verified through the V4L2 mmap() of the same
 * buffer.
 */
static void capture_expbuf(int fd, const struct format_case *fc, unsigned int n_frames,
			   struct run *run)
{
	struct v4l2_pix_format pix = set_format(fd, fc);
	struct dmapipe_buffer *bufs[MAX_BUFS] = { 0 };
	unsigned int count = N_BUFS;
	bool mmap_checked = false;
	char what[64];

	snprintf(what, sizeof(what), "%s %ux%u/%u", fc->v4l2, pix.width, pix.height,
		 pix.bytesperline);
	reqbufs(fd, V4L2_MEMORY_MMAP, &count);
	for (unsigned int i = 0; i < count; i++) {
		struct v4l2_exportbuffer exp;
		struct dmapipe_layout l;

		memset(&exp, 0, sizeof(exp));
		exp.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		exp.index = i;
		exp.flags = O_CLOEXEC | O_RDWR;
		check_msg(xioctl(fd, VIDIOC_EXPBUF, &exp) == 0, "EXPBUF %u: %s", i, strerror(errno));
		layout_from_pix(&pix, fc->drm, exp.fd, 0, &l);
		bufs[i] = dmapipe_buffer_new_from_fds(&l); /* takes exp.fd */
		check_msg(bufs[i], "%s: buffer from EXPBUF fd: %s", what, strerror(errno));
		check_int_eq(dmapipe_buffer_get_mem_kind(bufs[i]), DMAPIPE_MEM_DMABUF);
		check_msg(qbuf(fd, V4L2_MEMORY_MMAP, i, -1, 0) == 0, "QBUF: %s", strerror(errno));
	}
	stream(fd, true);
	memset(run, 0, sizeof(*run));
	for (unsigned int f = 0; f < n_frames; f++) {
		struct v4l2_buffer b;

		check_msg(dqbuf(fd, V4L2_MEMORY_MMAP, &b, DQBUF_TIMEOUT_MS),
			  "%s: no frame after %u", what, f);
		check(b.index < count);
		check_dequeued(&b, &pix, run);
		verify_frame(bufs[b.index], b.sequence, what);
		if (!mmap_checked) {
			/* the same bytes through the device's own mapping */
			struct dmapipe_layout l;
			uint8_t *map, *planes[DMAPIPE_MAX_PLANES] = { 0 };

			map = mmap(NULL, b.length, PROT_READ, MAP_SHARED, fd, b.m.offset);
			check_msg(map != MAP_FAILED, "mmap: %s", strerror(errno));
			layout_from_pix(&pix, fc->drm, -1, b.length, &l);
			for (unsigned int p = 0; p < l.n_planes; p++)
				planes[p] = map + l.planes[p].offset;
			check_int_eq(dmapipe_pattern_check(&l, planes, b.sequence, NULL, NULL), 0);
			munmap(map, b.length);
			mmap_checked = true;
		}
		check_msg(qbuf(fd, V4L2_MEMORY_MMAP, b.index, -1, 0) == 0, "QBUF: %s",
			  strerror(errno));
	}
	stream(fd, false);
	for (unsigned int i = 0; i < count; i++)
		dmapipe_buffer_unref(bufs[i]);
	count = 0;
	reqbufs(fd, V4L2_MEMORY_MMAP, &count);
}

/*
 * A 4K NV12 frame (12.4 MB), four of them. vb2-dma-contig allocates each
 * in one piece, which a kernel without CMA cannot above 4 MiB: REQBUFS must
 * then fail cleanly with ENOMEM (no kernel warning either).
 */
static void capture_4k(int fd, struct run *run)
{
	static const struct format_case nv12_4k = { "NV12", "NV12", 3840, 2160, 0 };
	struct v4l2_requestbuffers req;

	set_format(fd, &nv12_4k);
	memset(&req, 0, sizeof(req));
	req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	req.memory = V4L2_MEMORY_MMAP;
	req.count = N_BUFS;
	if (xioctl(fd, VIDIOC_REQBUFS, &req) < 0) {
		check_msg(errno == ENOMEM && is_contig(), "REQBUFS of 4K frames: %s",
			  strerror(errno));
		printf("NV12 3840x2160: dma-contig cannot allocate it here (%s)\n",
		       strerror(errno));
		return;
	}
	req.count = 0;
	check(xioctl(fd, VIDIOC_REQBUFS, &req) == 0);
	capture_expbuf(fd, &nv12_4k, 6, run);
	printf("ok NV12 3840x2160: %u frames verified (sequence %u..%u)\n", run->frames,
	       run->seq[0], run->seq[run->frames - 1]);
}

static void cmd_capture(void)
{
	int fd = vcap_open_or_skip();
	char mem[32];
	struct run *run = calloc(1, sizeof(*run));

	check(run);
	mem_ops_param(mem, sizeof(mem));
	printf("mem_ops %s\n", mem);

	/* every format, fast */
	set_interval(fd, 1, 200);
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		capture_expbuf(fd, &formats[i], 6, run);
		printf("ok %s %ux%u: %u frames verified (sequence %u..%u)\n", formats[i].v4l2,
		       formats[i].width, formats[i].height, run->frames, run->seq[0],
		       run->seq[run->frames - 1]);
	}

	set_interval(fd, 1, 10);
	capture_4k(fd, run);

	/* real pacing: 60 frames at 30 fps, then 60 at 60 fps */
	set_interval(fd, 1, 30);
	capture_expbuf(fd, &yuyv_vga, 60, run);
	check_int_eq(run->seq[0], 0);
	check_pacing(run, 1000000000ull / 30, "YUYV 640x480 at 30 fps");
	set_interval(fd, 1001, 60000);
	capture_expbuf(fd, &nv12_padded, 60, run);
	check_pacing(run, 1001000000000ull / 60000, "NV12 320x240 at 59.94 fps");

	set_interval(fd, 0, 0); /* back to the module's default */
	close(fd);
	free(run);
	test_pass("capture: every format verified bit for bit through EXPBUF dma-bufs");
}

/* ---- import ------------------------------------------------------------------ */

/*
 * Streams @n_frames into the dma-bufs of @bufs (V4L2_MEMORY_DMABUF) and
 * verifies each frame through the importing process's own mapping of them.
 * Returns 0, or the QBUF errno when the device refused the first buffer.
 */
static int capture_import(int fd, const struct v4l2_pix_format *pix,
			  struct dmapipe_buffer **bufs, unsigned int n_bufs, unsigned int n_frames,
			  const char *what, struct run *run)
{
	unsigned int count = n_bufs;

	reqbufs(fd, V4L2_MEMORY_DMABUF, &count);
	check_int_eq(count, n_bufs);
	for (unsigned int i = 0; i < n_bufs; i++) {
		const struct dmapipe_layout *l = dmapipe_buffer_get_layout(bufs[i]);

		if (qbuf(fd, V4L2_MEMORY_DMABUF, i, l->objects[0].fd,
			 (uint32_t)l->objects[0].size) < 0) {
			int err = errno;

			fprintf(stderr, "%s: QBUF %u: %s\n", what, i, strerror(err));
			count = 0;
			reqbufs(fd, V4L2_MEMORY_DMABUF, &count);
			return err;
		}
	}
	stream(fd, true);
	memset(run, 0, sizeof(*run));
	for (unsigned int f = 0; f < n_frames; f++) {
		const struct dmapipe_layout *l;
		struct v4l2_buffer b;

		check_msg(dqbuf(fd, V4L2_MEMORY_DMABUF, &b, DQBUF_TIMEOUT_MS),
			  "%s: no frame after %u", what, f);
		check(b.index < n_bufs);
		l = dmapipe_buffer_get_layout(bufs[b.index]);
		check_int_eq(b.m.fd, l->objects[0].fd);
		check_dequeued(&b, pix, run);
		verify_frame(bufs[b.index], b.sequence, what);
		check_msg(qbuf(fd, V4L2_MEMORY_DMABUF, b.index, l->objects[0].fd,
			       (uint32_t)l->objects[0].size) == 0,
			  "QBUF: %s", strerror(errno));
	}
	stream(fd, false);
	count = 0;
	reqbufs(fd, V4L2_MEMORY_DMABUF, &count);
	return 0;
}

/* A dma-buf too small for the format must be refused at QBUF, not written past. */
static void import_too_small(int fd, struct dmapipe_allocator *a,
			     const struct v4l2_pix_format *pix, const char *drm)
{
	struct dmapipe_format small = { .fourcc = dmapipe_fourcc_from_string(drm),
					.width = pix->width, .height = pix->height / 4,
					.modifier = DMAPIPE_MOD_LINEAR };
	struct dmapipe_buffer *buf = dmapipe_allocator_alloc(a, &small);
	const struct dmapipe_layout *l;
	unsigned int count = 1;

	check_msg(buf, "alloc: %s", strerror(errno));
	l = dmapipe_buffer_get_layout(buf);
	check(l->objects[0].size < pix->sizeimage);
	reqbufs(fd, V4L2_MEMORY_DMABUF, &count);
	check_msg(qbuf(fd, V4L2_MEMORY_DMABUF, 0, l->objects[0].fd, 0) < 0,
		  "a %llu-byte dma-buf was accepted for a %u-byte frame",
		  (unsigned long long)l->objects[0].size, pix->sizeimage);
	check_msg(errno == EINVAL, "QBUF of a short dma-buf: %s", strerror(errno));
	count = 0;
	reqbufs(fd, V4L2_MEMORY_DMABUF, &count);
	dmapipe_buffer_unref(buf);
}

static unsigned int import_from_allocators(int fd, struct run *run)
{
	static const char *const names[] = { "heap", "udmabuf", "drm", "dmapipe" };
	static const struct format_case *cases[] = { &yuyv_vga, &nv12_padded };
	unsigned int verified = 0;

	for (size_t a = 0; a < sizeof(names) / sizeof(names[0]); a++) {
		struct dmapipe_allocator *alloc = dmapipe_allocator_new(names[a]);

		if (!alloc) {
			printf("allocator %s: not here (%s)\n", names[a], strerror(errno));
			continue;
		}
		if (dmapipe_allocator_get_mem_kind(alloc) != DMAPIPE_MEM_DMABUF) {
			dmapipe_allocator_unref(alloc);
			continue;
		}
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			struct v4l2_pix_format pix = set_format(fd, cases[c]);
			struct dmapipe_buffer *bufs[N_BUFS];
			char what[64];
			int err;

			snprintf(what, sizeof(what), "%s %s import", cases[c]->v4l2, names[a]);
			for (unsigned int i = 0; i < N_BUFS; i++) {
				struct dmapipe_layout l;

				layout_from_pix(&pix, cases[c]->drm, -1,
						((uint64_t)pix.sizeimage + 4095) & ~4095ull, &l);
				bufs[i] = dmapipe_allocator_alloc_layout(alloc, &l);
				check_msg(bufs[i], "%s: alloc: %s", what, strerror(errno));
			}
			err = capture_import(fd, &pix, bufs, N_BUFS, 12, what, run);
			if (err) {
				/*
				 * vb2-dma-contig needs physically contiguous
				 * memory; scattered pages are refused cleanly.
				 */
				check_msg(is_contig() && err == EFAULT, "%s: QBUF: %s", what,
					  strerror(err));
				printf("%s: refused by dma-contig (%s), as it must be for "
				       "scattered pages\n", what, strerror(err));
			} else {
				printf("ok %s: %u frames verified\n", what, run->frames);
				verified++;
			}
			for (unsigned int i = 0; i < N_BUFS; i++)
				dmapipe_buffer_unref(bufs[i]);
			if (c == 0)
				import_too_small(fd, alloc, &pix, cases[c]->drm);
		}
		dmapipe_allocator_unref(alloc);
	}
	return verified;
}

/*
 * Buffers of a second dmapipe_vcap device, exported and imported into the
 * first: what v4l2-compliance -e does, here verified frame by frame. The
 * exporter's buffers suit every memory type, dma-contig included.
 */
static unsigned int import_from_vcap(int fd, struct run *run)
{
	struct dmapipe_buffer *bufs[N_BUFS];
	struct v4l2_pix_format pix;
	unsigned int count = N_BUFS;
	int exporter = vcap_open(1, 0);
	int err;

	if (exporter < 0) {
		printf("no second dmapipe_vcap device (n_devs=2): vcap-to-vcap import not run\n");
		return 0;
	}
	pix = set_format(fd, &nv12_padded);
	set_format(exporter, &nv12_padded);
	reqbufs(exporter, V4L2_MEMORY_MMAP, &count);
	check_int_eq(count, N_BUFS);
	for (unsigned int i = 0; i < N_BUFS; i++) {
		struct v4l2_exportbuffer exp;
		struct dmapipe_layout l;

		memset(&exp, 0, sizeof(exp));
		exp.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		exp.index = i;
		exp.flags = O_CLOEXEC | O_RDWR;
		check_msg(xioctl(exporter, VIDIOC_EXPBUF, &exp) == 0, "EXPBUF: %s",
			  strerror(errno));
		layout_from_pix(&pix, nv12_padded.drm, exp.fd, 0, &l);
		bufs[i] = dmapipe_buffer_new_from_fds(&l);
		check(bufs[i]);
	}
	err = capture_import(fd, &pix, bufs, N_BUFS, 12, "NV12 vcap-1 import", run);
	check_msg(err == 0, "importing dmapipe_vcap's own buffers: %s", strerror(err));
	for (unsigned int i = 0; i < N_BUFS; i++)
		dmapipe_buffer_unref(bufs[i]);
	count = 0;
	reqbufs(exporter, V4L2_MEMORY_MMAP, &count);
	close(exporter);
	printf("ok NV12 vcap-1 import: %u frames verified\n", run->frames);
	return 1;
}

static void cmd_import(void)
{
	int fd = vcap_open_or_skip();
	struct run *run = calloc(1, sizeof(*run));
	unsigned int verified;
	char mem[32];

	check(run);
	mem_ops_param(mem, sizeof(mem));
	printf("mem_ops %s\n", mem);
	set_interval(fd, 1, 100);
	verified = import_from_allocators(fd, run);
	verified += import_from_vcap(fd, run);
	set_interval(fd, 0, 0);
	close(fd);
	free(run);
	if (!verified && !is_contig())
		test_skip("no dma-buf allocator here (heap, udmabuf, drm/vgem, dmapipe)");
	check_msg(verified, "dma-contig imported nothing: load with n_devs=2 for vcap-to-vcap");
	test_pass("import: frames written into imported dma-bufs verified bit for bit");
}

/* ---- drops and controls ---------------------------------------------------------- */

/* docs/VCAP.md: frame s is dropped when floor(s * r / 100) steps up at s + 1. */
static bool dropped(uint32_t seq, unsigned int rate)
{
	return ((uint64_t)seq + 1) * rate / 100 != (uint64_t)seq * rate / 100;
}

struct mmap_stream {
	int fd;
	unsigned int count;
	struct dmapipe_buffer *bufs[MAX_BUFS];
	struct v4l2_pix_format pix;
};

static void mmap_stream_start(struct mmap_stream *s, int fd, const struct format_case *fc)
{
	s->fd = fd;
	s->pix = set_format(fd, fc);
	s->count = N_BUFS;
	reqbufs(fd, V4L2_MEMORY_MMAP, &s->count);
	for (unsigned int i = 0; i < s->count; i++) {
		struct v4l2_exportbuffer exp;
		struct dmapipe_layout l;

		memset(&exp, 0, sizeof(exp));
		exp.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		exp.index = i;
		exp.flags = O_CLOEXEC | O_RDWR;
		check_msg(xioctl(fd, VIDIOC_EXPBUF, &exp) == 0, "EXPBUF: %s", strerror(errno));
		layout_from_pix(&s->pix, fc->drm, exp.fd, 0, &l);
		s->bufs[i] = dmapipe_buffer_new_from_fds(&l);
		check(s->bufs[i]);
		check(qbuf(fd, V4L2_MEMORY_MMAP, i, -1, 0) == 0);
	}
	stream(fd, true);
}

static void mmap_stream_stop(struct mmap_stream *s)
{
	unsigned int zero = 0;

	stream(s->fd, false);
	for (unsigned int i = 0; i < s->count; i++)
		dmapipe_buffer_unref(s->bufs[i]);
	reqbufs(s->fd, V4L2_MEMORY_MMAP, &zero);
}

static void cmd_drops(void)
{
	int fd = vcap_open_or_skip();
	uint32_t drop_id = find_ctrl(fd, "Drop Rate");
	struct run *run = calloc(1, sizeof(*run));
	struct mmap_stream s;
	unsigned int rule_missing = 0, other_missing = 0;
	struct v4l2_buffer b;

	check(run);
	check_msg(drop_id, "no \"Drop Rate\" control");
	check_int_eq(drop_id, DMAPIPE_VCAP_CID_DROP_RATE);
	set_interval(fd, 1, 60);

	/* 25%: exactly the frames the rule names are missing */
	set_ctrl(fd, drop_id, 25);
	mmap_stream_start(&s, fd, &yuyv_vga);
	for (unsigned int f = 0; f < 90; f++) {
		check_msg(dqbuf(fd, V4L2_MEMORY_MMAP, &b, DQBUF_TIMEOUT_MS), "no frame");
		check_dequeued(&b, &s.pix, run);
		check_msg(!dropped(b.sequence, 25), "frame %u should have been dropped",
			  b.sequence);
		verify_frame(s.bufs[b.index], b.sequence, "drop-rate 25");
		check(qbuf(fd, V4L2_MEMORY_MMAP, b.index, -1, 0) == 0);
	}
	for (uint32_t seq = run->seq[0]; seq <= run->seq[run->frames - 1]; seq++) {
		bool seen = false;

		for (unsigned int i = 0; i < run->frames && !seen; i++)
			seen = run->seq[i] == seq;
		if (!seen && dropped(seq, 25))
			rule_missing++;
		else if (!seen)
			other_missing++;
	}
	printf("drop rate 25%%: sequence %u..%u, %u frames delivered, %u dropped by the rule, "
	       "%u lost otherwise (no buffer queued in time)\n", run->seq[0],
	       run->seq[run->frames - 1], run->frames, rule_missing, other_missing);
	check(rule_missing >= 20);
	/* a loaded machine may lose some frames too, but not most of them */
	check_msg(other_missing <= run->frames, "%u frames lost without the rule", other_missing);
	check_pacing(run, 1000000000ull / 60, "drop-rate 25 at 60 fps");

	/* 100% while streaming: nothing arrives; back to 0: frames flow again */
	set_ctrl(fd, drop_id, 100);
	while (dqbuf(fd, V4L2_MEMORY_MMAP, &b, 200))
		check(qbuf(fd, V4L2_MEMORY_MMAP, b.index, -1, 0) == 0);
	check_msg(!dqbuf(fd, V4L2_MEMORY_MMAP, &b, 1000), "frame %u at drop rate 100",
		  b.sequence);
	set_ctrl(fd, drop_id, 0);
	memset(run, 0, sizeof(*run));
	for (unsigned int f = 0; f < 20; f++) {
		check_msg(dqbuf(fd, V4L2_MEMORY_MMAP, &b, DQBUF_TIMEOUT_MS), "no frame");
		check_dequeued(&b, &s.pix, run);
		verify_frame(s.bufs[b.index], b.sequence, "drop-rate 0");
		check(qbuf(fd, V4L2_MEMORY_MMAP, b.index, -1, 0) == 0);
	}

	/* the stamp-only pattern: the stamp tells the frame, the rest is stale */
	set_ctrl(fd, V4L2_CID_TEST_PATTERN, 1);
	for (unsigned int f = 0; f < 10; f++) {
		const struct dmapipe_layout *l;
		uint8_t *planes[DMAPIPE_MAX_PLANES] = { 0 };
		uint64_t stamp = 0;

		check_msg(dqbuf(fd, V4L2_MEMORY_MMAP, &b, DQBUF_TIMEOUT_MS), "no frame");
		l = dmapipe_buffer_get_layout(s.bufs[b.index]);
		planes[0] = dmapipe_buffer_map_plane(s.bufs[b.index], 0);
		check(planes[0]);
		dmapipe_buffer_begin_cpu_access(s.bufs[b.index], DMAPIPE_ACCESS_READ);
		check_int_eq(dmapipe_pattern_read_stamp(l, planes, &stamp), 0);
		dmapipe_buffer_end_cpu_access(s.bufs[b.index], DMAPIPE_ACCESS_READ);
		check_int_eq(stamp, b.sequence);
		check(qbuf(fd, V4L2_MEMORY_MMAP, b.index, -1, 0) == 0);
	}
	set_ctrl(fd, V4L2_CID_TEST_PATTERN, 0);
	mmap_stream_stop(&s);

	set_interval(fd, 0, 0);
	close(fd);
	free(run);
	test_pass("drops: the Drop Rate rule is exact, controls act while streaming");
}

/* ---- stress ---------------------------------------------------------------------- */

struct stress {
	int fd;
	atomic_bool stop;
	atomic_uint dequeued;
	atomic_uint toggles;
};

/*
 * Dequeues and requeues whatever arrives, whatever else happens. It does
 * not poll(): a poll for input on a queue without buffers starts read()
 * emulation, which would then own the queue (EBUSY) until close.
 */
static void *stress_consumer(void *arg)
{
	struct stress *st = arg;

	while (!atomic_load(&st->stop)) {
		struct v4l2_buffer b;

		usleep(500);
		memset(&b, 0, sizeof(b));
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_MMAP;
		if (xioctl(st->fd, VIDIOC_DQBUF, &b) == 0) {
			atomic_fetch_add(&st->dequeued, 1);
			qbuf(st->fd, V4L2_MEMORY_MMAP, b.index, -1, 0);
		} else if (errno != EAGAIN && errno != EINVAL && errno != EPIPE) {
			check_msg(0, "DQBUF while racing: %s", strerror(errno));
		}
	}
	return NULL;
}

/* STREAMOFF/requeue/STREAMON, S_PARM and control changes, as fast as possible. */
static void *stress_toggler(void *arg)
{
	struct stress *st = arg;
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	uint32_t drop_id = find_ctrl(st->fd, "Drop Rate");
	unsigned int n = 0;

	while (!atomic_load(&st->stop)) {
		struct v4l2_streamparm parm;
		struct v4l2_control c;

		xioctl(st->fd, VIDIOC_STREAMOFF, &type);
		for (unsigned int i = 0; i < N_BUFS; i++)
			qbuf(st->fd, V4L2_MEMORY_MMAP, i, -1, 0);
		xioctl(st->fd, VIDIOC_STREAMON, &type);
		memset(&parm, 0, sizeof(parm));
		parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		parm.parm.capture.timeperframe.numerator = 1;
		parm.parm.capture.timeperframe.denominator = 100 + 300 * (n & 1);
		check(xioctl(st->fd, VIDIOC_S_PARM, &parm) == 0);
		c.id = drop_id;
		c.value = (int)(n % 3) * 20;
		check(xioctl(st->fd, VIDIOC_S_CTRL, &c) == 0);
		usleep(2000 + (n % 7) * 1000);
		atomic_fetch_add(&st->toggles, 1);
		n++;
	}
	return NULL;
}

/* Open, stream, close without STREAMOFF, in a loop: the release path stops it. */
static void *stress_reopener(void *arg)
{
	atomic_bool *stop = arg;
	unsigned int rounds = 0;

	while (!atomic_load(stop)) {
		int fd = vcap_open(0, O_NONBLOCK);
		struct v4l2_requestbuffers req;
		int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;

		check(fd >= 0);
		/* the other file handle owns the queue: this one may not touch it */
		memset(&req, 0, sizeof(req));
		req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		req.memory = V4L2_MEMORY_MMAP;
		req.count = 2;
		if (xioctl(fd, VIDIOC_REQBUFS, &req) == 0) {
			/* the owner was between REQBUFS 0 and its next REQBUFS */
			qbuf(fd, V4L2_MEMORY_MMAP, 0, -1, 0);
			xioctl(fd, VIDIOC_STREAMON, &type);
			usleep(1000 * (rounds % 5));
		} else {
			check_msg(errno == EBUSY, "REQBUFS on a second handle: %s", strerror(errno));
		}
		close(fd);
		rounds++;
	}
	return NULL;
}

struct blocked {
	struct mmap_stream s;
	int err;
};

/* A blocking DQBUF that nothing will satisfy but STREAMOFF. */
static void *blocked_dqbuf(void *arg)
{
	struct blocked *bl = arg;
	struct v4l2_buffer b;

	memset(&b, 0, sizeof(b));
	b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b.memory = V4L2_MEMORY_MMAP;
	bl->err = xioctl(bl->s.fd, VIDIOC_DQBUF, &b) == 0 ? 0 : errno;
	return NULL;
}

static void cmd_stress(void)
{
	int fd = vcap_open_or_skip();
	struct stress st = { .fd = fd };
	struct blocked blocked = { .err = -1 };
	pthread_t consumer, toggler, waiter;
	struct v4l2_requestbuffers req;
	unsigned int count = N_BUFS, zero = 0;
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct run *run = calloc(1, sizeof(*run));
	uint64_t t0;

	check(run);
	close(fd);

	/* 1. close while streaming, from many handles, racing */
	{
		atomic_bool stop = false;
		pthread_t t[3];

		for (unsigned int i = 0; i < 3; i++)
			check(pthread_create(&t[i], NULL, stress_reopener, &stop) == 0);
		usleep(3 * 1000 * 1000);
		atomic_store(&stop, true);
		for (unsigned int i = 0; i < 3; i++)
			pthread_join(t[i], NULL);
	}

	/* 2. STREAMON/STREAMOFF against DQBUF/QBUF, S_PARM and controls */
	fd = vcap_open(0, O_NONBLOCK);
	st.fd = fd;
	set_format(fd, &yuyv_vga);
	reqbufs(fd, V4L2_MEMORY_MMAP, &count);
	check(pthread_create(&consumer, NULL, stress_consumer, &st) == 0);
	check(pthread_create(&toggler, NULL, stress_toggler, &st) == 0);
	t0 = test_now_ms();
	while (test_now_ms() - t0 < 4000) {
		/* REQBUFS 0 while streaming: refused, never a free under the thread */
		memset(&req, 0, sizeof(req));
		req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		req.memory = V4L2_MEMORY_MMAP;
		if (xioctl(fd, VIDIOC_REQBUFS, &req) == 0) {
			/*
			 * It was between STREAMOFF and STREAMON: put buffers
			 * back, unless it already streams again (with none).
			 */
			req.count = N_BUFS;
			check_msg(xioctl(fd, VIDIOC_REQBUFS, &req) == 0 || errno == EBUSY,
				  "REQBUFS %u: %s", N_BUFS, strerror(errno));
		} else {
			check_msg(errno == EBUSY, "REQBUFS 0 while streaming: %s", strerror(errno));
		}
		usleep(3000);
	}
	atomic_store(&st.stop, true);
	pthread_join(toggler, NULL);
	pthread_join(consumer, NULL);
	printf("stress: %u stream restarts, %u frames dequeued\n", atomic_load(&st.toggles),
	       atomic_load(&st.dequeued));
	check(atomic_load(&st.dequeued) > 0);

	xioctl(fd, VIDIOC_STREAMOFF, &type);
	reqbufs(fd, V4L2_MEMORY_MMAP, &zero);
	close(fd);

	/* 3. STREAMOFF wakes a DQBUF blocked in another thread */
	fd = vcap_open(0, 0);
	set_ctrl(fd, find_ctrl(fd, "Drop Rate"), 100);
	mmap_stream_start(&blocked.s, fd, &yuyv_vga);
	check(pthread_create(&waiter, NULL, blocked_dqbuf, &blocked) == 0);
	usleep(300 * 1000);
	stream(fd, false);
	pthread_join(waiter, NULL);
	check_msg(blocked.err == EINVAL, "blocked DQBUF after STREAMOFF: %s",
		  strerror(blocked.err));
	stream(fd, true);
	mmap_stream_stop(&blocked.s);
	set_ctrl(fd, find_ctrl(fd, "Drop Rate"), 0);

	/* 4. still correct afterwards */
	set_interval(fd, 1, 100);
	capture_expbuf(fd, &nv12_padded, 20, run);
	set_interval(fd, 0, 0);
	close(fd);
	free(run);
	test_pass("stress: racing stream control, REQBUFS and close left the device working");
}

/* ---- lifecycle ------------------------------------------------------------------- */

static int module_unload(void)
{
	return syscall(SYS_delete_module, MODULE_NAME, O_NONBLOCK) == 0 ? 0 : -errno;
}

static void module_load(const char *ko, const char *params)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC);

	check_msg(fd >= 0, "open %s: %s", ko, strerror(errno));
	check_msg(syscall(SYS_finit_module, fd, params, 0) == 0, "load %s %s: %s", ko, params,
		  strerror(errno));
	close(fd);
}

/* The parameters the module was loaded with, as "name=value ..." */
static void module_params(char *buf, size_t len)
{
	static const char *const names[] = { "mem_ops", "n_devs", "width", "height", "fourcc",
					     "fps" };
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[256], value[64];

		snprintf(path, sizeof(path), SYSFS_PARAMS "/%s", names[i]);
		check_msg(read_text(path, value, sizeof(value)) == 0, "%s: %s", path,
			  strerror(errno));
		used += (size_t)snprintf(buf + used, len - used, "%s%s=%s", used ? " " : "",
					 names[i], value);
		check(used < len);
	}
}

/* A streamed frame held in an exported dma-buf, with the device closed. */
static struct dmapipe_buffer *export_one_frame(uint32_t *seq)
{
	int fd = vcap_open(0, 0);
	struct v4l2_pix_format pix = set_format(fd, &nv12_padded);
	struct v4l2_exportbuffer exp;
	struct dmapipe_layout l;
	struct dmapipe_buffer *buf;
	struct v4l2_buffer b;
	unsigned int count = 2;

	set_interval(fd, 1, 100);
	reqbufs(fd, V4L2_MEMORY_MMAP, &count);
	memset(&exp, 0, sizeof(exp));
	exp.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	exp.index = 0;
	exp.flags = O_CLOEXEC | O_RDWR;
	check(xioctl(fd, VIDIOC_EXPBUF, &exp) == 0);
	layout_from_pix(&pix, nv12_padded.drm, exp.fd, 0, &l);
	buf = dmapipe_buffer_new_from_fds(&l);
	check(buf);
	check(qbuf(fd, V4L2_MEMORY_MMAP, 0, -1, 0) == 0);
	stream(fd, true);
	check(dqbuf(fd, V4L2_MEMORY_MMAP, &b, DQBUF_TIMEOUT_MS));
	check_int_eq(b.index, 0);
	*seq = b.sequence;
	/* mapped before the device goes: the mapping must outlive it too */
	check(dmapipe_buffer_map_plane(buf, 0));
	set_interval(fd, 0, 0);
	close(fd); /* streaming: the release path stops it and frees the queue */
	return buf;
}

/* A thread streaming on @fd until the device disappears under it. */
static void *unbind_victim(void *arg)
{
	int fd = *(int *)arg;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct v4l2_buffer b;

		if (poll(&pfd, 1, 100) < 0)
			return NULL;
		if (pfd.revents & (POLLERR | POLLHUP))
			return NULL;
		memset(&b, 0, sizeof(b));
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_MMAP;
		if (xioctl(fd, VIDIOC_DQBUF, &b) == 0) {
			if (qbuf(fd, V4L2_MEMORY_MMAP, b.index, -1, 0) < 0 && errno == ENODEV)
				return NULL;
		} else if (errno == ENODEV) {
			return NULL;
		}
	}
}

static void cmd_lifecycle(const char *ko)
{
	struct run *run = calloc(1, sizeof(*run));
	struct dmapipe_buffer *held;
	struct mmap_stream s;
	char params[512], dev[64];
	pthread_t victim;
	uint32_t seq;
	int fd, ret;

	check(run);
	if (geteuid() != 0)
		test_skip("lifecycle: needs root to unload and reload " MODULE_NAME);
	fd = vcap_open_or_skip();
	check_msg(access(ko, R_OK) == 0, "%s: %s", ko, strerror(errno));
	module_params(params, sizeof(params));
	printf("module parameters: %s\n", params);

	/* 1. an open node pins the module, and so does a mapping of its buffer */
	ret = module_unload();
	check_msg(ret == -EWOULDBLOCK || ret == -EBUSY, "unload with the node open: %s",
		  ret ? strerror(-ret) : "it unloaded");
	{
		struct v4l2_buffer b;
		unsigned int count = 1;
		void *map;

		reqbufs(fd, V4L2_MEMORY_MMAP, &count);
		memset(&b, 0, sizeof(b));
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_MMAP;
		check(xioctl(fd, VIDIOC_QUERYBUF, &b) == 0);
		map = mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m.offset);
		check_msg(map != MAP_FAILED, "mmap: %s", strerror(errno));
		close(fd);
		ret = module_unload();
		check_msg(ret == -EWOULDBLOCK || ret == -EBUSY,
			  "unload with a buffer mapped: %s", ret ? strerror(-ret) : "it unloaded");
		memset(map, 0x5a, b.length);
		munmap(map, b.length);
	}

	/* 2. an exported dma-buf outlives the device, the queue and the module */
	held = export_one_frame(&seq);
	ret = module_unload();
	check_msg(ret == 0, "unload with only a dma-buf left: %s", strerror(-ret));
	check_msg(access(SYSFS_PARAMS, F_OK) < 0, MODULE_NAME " still there after unload");
	verify_frame(held, seq, "dma-buf after unload");
	dmapipe_buffer_unref(held);
	module_load(ko, params);
	printf("ok frame %u intact in its dma-buf after the module was unloaded\n", seq);

	/* 3. unbind while streaming with the node open, then bind again */
	fd = vcap_open(0, O_NONBLOCK);
	check(fd >= 0);
	mmap_stream_start(&s, fd, &yuyv_vga);
	check(pthread_create(&victim, NULL, unbind_victim, &fd) == 0);
	usleep(300 * 1000);
	snprintf(dev, sizeof(dev), "dmapipe-vcap.0");
	check_msg(write_text(DRIVER_DIR "/unbind", dev) == 0, "unbind: %s", strerror(errno));
	pthread_join(victim, NULL);
	{
		int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;

		check(xioctl(fd, VIDIOC_STREAMOFF, &type) < 0 && errno == ENODEV);
	}
	for (unsigned int i = 0; i < s.count; i++)
		dmapipe_buffer_unref(s.bufs[i]);
	/* the node is gone but this handle still holds the module */
	ret = module_unload();
	check_msg(ret == -EWOULDBLOCK || ret == -EBUSY, "unload with an unbound node open: %s",
		  ret ? strerror(-ret) : "it unloaded");
	close(fd);
	check_msg(write_text(DRIVER_DIR "/bind", dev) == 0, "bind: %s", strerror(errno));
	fd = vcap_open(0, 0);
	check_msg(fd >= 0, "no device after bind");
	set_interval(fd, 1, 100);
	capture_expbuf(fd, &nv12_padded, 10, run);
	set_interval(fd, 0, 0);
	close(fd);

	/* 4. unload and reload with nothing alive: the device comes back */
	check_int_eq(module_unload(), 0);
	module_load(ko, params);
	fd = vcap_open(0, 0);
	check_msg(fd >= 0, "no device after reload");
	close(fd);
	free(run);
	test_pass("lifecycle: unload and unbind with buffers and handles alive are safe");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s capture|import|drops|stress|lifecycle KO...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "capture") == 0) {
			cmd_capture();
		} else if (strcmp(argv[i], "import") == 0) {
			cmd_import();
		} else if (strcmp(argv[i], "drops") == 0) {
			cmd_drops();
		} else if (strcmp(argv[i], "stress") == 0) {
			cmd_stress();
		} else if (strcmp(argv[i], "lifecycle") == 0 && i + 1 < argc) {
			char ko[4096];
			const char *at = strstr(argv[++i], "@KVER@");

			if (at) {
				char release[256];

				check(read_text("/proc/sys/kernel/osrelease", release,
						sizeof(release)) == 0);
				snprintf(ko, sizeof(ko), "%.*s%s%s", (int)(at - argv[i]), argv[i],
					 release, at + 6);
			} else {
				snprintf(ko, sizeof(ko), "%s", argv[i]);
			}
			cmd_lifecycle(ko);
		} else {
			fprintf(stderr, "%s: unknown command %s\n", argv[0], argv[i]);
			return 2;
		}
	}
	return 0;
}
