/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * V4L2 capture sources (include/dmapipe/v4l2.h).
 *
 * Ioctls go through libv4l2 (v4l2_fd_open with V4L2_DISABLE_CONVERSION:
 * its plugins are honoured, its converters never copy a frame). One
 * exception: a device that only has the multi-planar API would get
 * libv4l2's mplane plugin, which hides that API behind single-planar
 * emulation, refuses the multi-planar buffer types and cannot express
 * formats with one buffer per plane; such devices are driven with the
 * kernel's ioctls directly (logged, and reported in info.libv4l2).
 *
 * Buffer states: each buffer is either queued in the driver or held
 * (by the application between dequeue and queue, or by the server and its
 * consumers between dispatch and the idle callback). STREAMOFF makes every
 * queued buffer free again; start() queues every buffer not held.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/videodev2.h>

#if HAVE_LIBV4L2
#include <libv4l2.h>
#endif

#include "private.h"
#include "devices-private.h"
#include "v4l2-util.h"
#include "dmapipe/v4l2.h"

#define DEFAULT_BUFFERS 4
#define MAX_V4L2_BUFFERS 32

DMAPIPE_EXPORT const char *dmapipe_v4l2_io_to_string(enum dmapipe_v4l2_io io)
{
	switch (io) {
	case DMAPIPE_V4L2_IO_AUTO:
		return "auto";
	case DMAPIPE_V4L2_IO_EXPORT:
		return "export";
	case DMAPIPE_V4L2_IO_IMPORT:
		return "import";
	}
	return "?";
}

DMAPIPE_EXPORT void dmapipe_v4l2_options_init(struct dmapipe_v4l2_options *options)
{
	memset(options, 0, sizeof(*options));
	options->size = sizeof(*options);
	options->io = DMAPIPE_V4L2_IO_AUTO;
	options->buffers = DEFAULT_BUFFERS;
}

#if HAVE_LIBV4L2

struct vbuf {
	struct dmapipe_buffer *buffer; /* the source's reference */
	bool queued;                   /* in the driver */
	bool held;                     /* out: application or server */
};

struct dmapipe_v4l2_source {
	struct dmapipe_v4l2_node node;
	uint32_t type;   /* V4L2_BUF_TYPE_VIDEO_CAPTURE(_MPLANE) */
	uint32_t memory; /* V4L2_MEMORY_MMAP or _DMABUF */
	bool streaming;
	bool lost;
	bool restarted; /* the next frame follows a (re)start */
	bool have_seq;
	bool warned_offset;
	uint32_t last_seq;
	unsigned int n_planes_v4l2; /* planes per v4l2_buffer (mplane) */
	struct dmapipe_layout layout;
	struct vbuf bufs[MAX_V4L2_BUFFERS];
	unsigned int n_bufs;
	struct dmapipe_allocator *allocator;
	struct dmapipe_server *server;
	struct dmapipe_v4l2_info info;
	struct dmapipe_v4l2_stats stats;
};

static int xioctl(struct dmapipe_v4l2_source *s, unsigned long req, void *arg)
{
	return dmapipe_v4l2_ioctl(&s->node, req, arg);
}

static const char *fourcc_str(uint32_t code, char buf[16])
{
	return dmapipe_fourcc_to_string(code, buf, 16);
}

/* The sysfs name of the node ("vivid-000-vid-cap"), by its device number. */
static void read_sysfs_name(int fd, char *name, size_t len)
{
	char path[96];
	struct stat st;
	FILE *f;

	name[0] = '\0';
	if (fstat(fd, &st) < 0)
		return;
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/name", major(st.st_rdev),
		 minor(st.st_rdev));
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(name, (int)len, f))
		name[strcspn(name, "\n")] = '\0';
	fclose(f);
}

/* ---- opening ------------------------------------------------------------ */

static int open_device(struct dmapipe_v4l2_source *s, const char *path)
{
	struct v4l2_capability cap;
	struct stat st;
	uint32_t caps;
	int fd, ret;

	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		log_error("v4l2: cannot open %s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
		log_error("v4l2: %s is not a device node", path);
		close(fd);
		return -ENOTTY;
	}
	/* raw QUERYCAP first: libv4l2 would print its own error for a non-V4L2 fd */
	ret = dmapipe_v4l2_querycap(fd, &cap, &caps);
	if (ret < 0) {
		log_error("v4l2: %s is not a V4L2 device (VIDIOC_QUERYCAP: %s)", path,
			  strerror(-ret));
		close(fd);
		return ret == -ENODEV ? -ENODEV : -ENOTTY;
	}
	if (!(caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE))) {
		log_error("v4l2: %s (%s, %s) is not a video capture device", path,
			  (const char *)cap.card, (const char *)cap.driver);
		close(fd);
		return -ENODEV;
	}
	if (!(caps & V4L2_CAP_STREAMING)) {
		log_error("v4l2: %s (%s) has no streaming I/O, and read() would copy every frame",
			  path, (const char *)cap.card);
		close(fd);
		return -ENODEV;
	}

	dmapipe_strlcpy(s->info.path, path, sizeof(s->info.path));
	dmapipe_strlcpy(s->info.driver, (const char *)cap.driver, sizeof(s->info.driver));
	dmapipe_strlcpy(s->info.card, (const char *)cap.card, sizeof(s->info.card));
	dmapipe_strlcpy(s->info.bus_info, (const char *)cap.bus_info, sizeof(s->info.bus_info));
	read_sysfs_name(fd, s->info.name, sizeof(s->info.name));
	s->info.device_caps = caps;

	if (caps & V4L2_CAP_VIDEO_CAPTURE) {
		s->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		s->node.fd = v4l2_fd_open(fd, V4L2_DISABLE_CONVERSION);
		if (s->node.fd < 0) {
			ret = -errno;
			log_error("v4l2: libv4l2 cannot take %s: %s", path, strerror(-ret));
			close(fd);
			return ret;
		}
		s->node.libv4l2 = true;
	} else {
		s->type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
		s->node.fd = fd;
		s->node.libv4l2 = false;
		log_info("v4l2: %s has only the multi-planar API: using kernel ioctls, "
			 "since libv4l2's mplane plugin would hide that API", path);
	}
	s->info.multiplanar = s->type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
	s->info.libv4l2 = s->node.libv4l2;
	return 0;
}

static void close_device(struct dmapipe_v4l2_source *s)
{
	if (s->node.fd < 0)
		return;
	if (s->node.libv4l2)
		v4l2_close(s->node.fd);
	else
		close(s->node.fd);
	s->node.fd = -1;
}

/* ---- format negotiation ------------------------------------------------- */

/* The V4L2 code for DRM @fourcc this device offers: contiguous first, then "M". */
static int choose_pixelformat(struct dmapipe_v4l2_source *s, uint32_t fourcc, uint32_t *out)
{
	uint32_t contiguous = dmapipe_fourcc_to_v4l2(fourcc, false);
	uint32_t separate = dmapipe_fourcc_to_v4l2(fourcc, true);
	char name[16], offered[512];

	if (contiguous && dmapipe_v4l2_offers(&s->node, s->type, contiguous)) {
		*out = contiguous;
		return 0;
	}
	/* one buffer per plane needs the multi-planar API */
	if (separate && s->type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE && dmapipe_v4l2_offers(&s->node, s->type, separate)) {
		*out = separate;
		return 0;
	}
	dmapipe_v4l2_describe_formats(&s->node, s->type, offered, sizeof(offered));
	if (!contiguous && !separate)
		log_error("v4l2: %s: format %s has no V4L2 equivalent dmapipe knows; the device offers %s",
			  s->info.path, fourcc_str(fourcc, name), offered[0] ? offered : "nothing");
	else
		log_error("v4l2: %s does not offer %s; it offers %s", s->info.path,
			  fourcc_str(fourcc, name), offered[0] ? offered : "nothing");
	return -EINVAL;
}

/* The dmapipe layout of the negotiated format (v4l2-util.c has the V4L2 convention). */
static int build_layout(struct dmapipe_v4l2_source *s, const struct v4l2_format *fmt)
{
	struct dmapipe_v4l2_pix pix;
	char why[160];
	int ret;

	ret = dmapipe_v4l2_layout_from_format(fmt, &s->layout, why, sizeof(why));
	if (ret < 0) {
		log_error("v4l2: %s: %s", s->info.path, why);
		return ret;
	}
	dmapipe_v4l2_format_read(fmt, &pix);
	s->info.pixelformat = pix.pixelformat;
	s->n_planes_v4l2 = s->layout.n_objects;
	return 0;
}

static int negotiate(struct dmapipe_v4l2_source *s, const struct dmapipe_v4l2_options *o)
{
	struct v4l2_format fmt;
	struct v4l2_streamparm parm;
	struct dmapipe_v4l2_pix cur, got;
	uint32_t pixelformat = 0;
	char a[16], b[16];
	int ret;

	memset(&fmt, 0, sizeof(fmt));
	fmt.type = s->type;
	ret = xioctl(s, VIDIOC_G_FMT, &fmt);
	if (ret < 0) {
		log_error("v4l2: %s: VIDIOC_G_FMT: %s", s->info.path, strerror(-ret));
		return ret;
	}
	if (o->v4l2_pixelformat) {
		pixelformat = o->v4l2_pixelformat;
		if (!dmapipe_v4l2_offers(&s->node, s->type, pixelformat)) {
			char offered[512];

			dmapipe_v4l2_describe_formats(&s->node, s->type, offered, sizeof(offered));
			log_error("v4l2: %s does not offer %s; it offers %s", s->info.path,
				  dmapipe_v4l2_fcc(pixelformat, a),
				  offered[0] ? offered : "nothing");
			return -EINVAL;
		}
	} else if (o->fourcc) {
		ret = choose_pixelformat(s, o->fourcc, &pixelformat);
		if (ret < 0)
			return ret;
	}
	dmapipe_v4l2_format_read(&fmt, &cur);
	if (pixelformat || o->width || o->height || o->bytesperline) {
		/* the driver chooses strides for the new format, unless a
		 * consumer asked for one */
		dmapipe_v4l2_format_write(&fmt, pixelformat ? pixelformat : cur.pixelformat,
					  o->width ? o->width : cur.width,
					  o->height ? o->height : cur.height, &o->bytesperline, 1);
		ret = xioctl(s, VIDIOC_S_FMT, &fmt);
		if (ret < 0) {
			log_error("v4l2: %s: VIDIOC_S_FMT: %s", s->info.path, strerror(-ret));
			return ret;
		}
	}
	dmapipe_v4l2_format_read(&fmt, &got);
	if (pixelformat && got.pixelformat != pixelformat) {
		log_error("v4l2: %s: asked for %s, the driver set %s", s->info.path,
			  dmapipe_v4l2_fcc(pixelformat, a), dmapipe_v4l2_fcc(got.pixelformat, b));
		return -EINVAL;
	}
	if ((o->width && got.width != o->width) || (o->height && got.height != o->height))
		log_warn("v4l2: %s: asked for %ux%u, the driver gives %ux%u", s->info.path,
			 o->width ? o->width : got.width, o->height ? o->height : got.height,
			 got.width, got.height);
	if (o->bytesperline && got.bytesperline != o->bytesperline)
		log_warn("v4l2: %s: asked for %u bytes per line, the driver gives %u",
			 s->info.path, o->bytesperline, got.bytesperline);
	if (got.field != V4L2_FIELD_NONE && got.field != V4L2_FIELD_ANY) {
		log_error("v4l2: %s: interlaced capture (field %u) is not supported",
			  s->info.path, got.field);
		return -ENOTSUP;
	}
	ret = build_layout(s, &fmt);
	if (ret < 0)
		return ret;

	memset(&parm, 0, sizeof(parm));
	parm.type = s->type;
	if (o->fps_num && o->fps_den) {
		parm.parm.capture.timeperframe.numerator = o->fps_den;
		parm.parm.capture.timeperframe.denominator = o->fps_num;
		ret = xioctl(s, VIDIOC_S_PARM, &parm);
		if (ret < 0)
			log_warn("v4l2: %s cannot set the frame rate: %s", s->info.path,
				 strerror(-ret));
		else if (!(parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME))
			log_warn("v4l2: %s does not let the frame rate be chosen", s->info.path);
	}
	memset(&parm, 0, sizeof(parm));
	parm.type = s->type;
	if (xioctl(s, VIDIOC_G_PARM, &parm) == 0 && parm.parm.capture.timeperframe.numerator) {
		s->info.fps_num = parm.parm.capture.timeperframe.denominator;
		s->info.fps_den = parm.parm.capture.timeperframe.numerator;
		if (o->fps_num && o->fps_den &&
		    (uint64_t)s->info.fps_num * o->fps_den != (uint64_t)o->fps_num * s->info.fps_den)
			log_warn("v4l2: %s: asked for %u/%u fps, the driver runs at %u/%u",
				 s->info.path, o->fps_num, o->fps_den, s->info.fps_num,
				 s->info.fps_den);
	}
	return 0;
}

/* ---- buffers ------------------------------------------------------------ */

static void free_buffers(struct dmapipe_v4l2_source *s)
{
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		dmapipe_buffer_unref(s->bufs[i].buffer);
		s->bufs[i].buffer = NULL;
	}
	s->n_bufs = 0;
	if (s->node.fd >= 0 && !s->lost && s->memory)
		(void)dmapipe_v4l2_request(&s->node, s->type, s->memory, 0);
	s->memory = 0;
}

static int request(struct dmapipe_v4l2_source *s, uint32_t memory, uint32_t count)
{
	int n = dmapipe_v4l2_request(&s->node, s->type, memory, count);

	if (n < 0)
		return n;
	s->memory = memory;
	return MIN(n, MAX_V4L2_BUFFERS);
}

static int qbuf(struct dmapipe_v4l2_source *s, unsigned int index)
{
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(s->bufs[index].buffer);
	struct v4l2_buffer b;
	int ret;

	dmapipe_v4l2_buffer_init(&b, planes, s->type, s->memory, index, s->n_planes_v4l2);
	if (s->info.multiplanar) {
		if (s->memory == V4L2_MEMORY_DMABUF) {
			for (unsigned int p = 0; p < s->n_planes_v4l2; p++) {
				planes[p].m.fd = l->objects[p].fd;
				planes[p].length = (uint32_t)MIN(l->objects[p].size, UINT32_MAX);
			}
		}
	} else if (s->memory == V4L2_MEMORY_DMABUF) {
		b.m.fd = l->objects[0].fd;
		b.length = (uint32_t)MIN(l->objects[0].size, UINT32_MAX);
	}
	ret = xioctl(s, VIDIOC_QBUF, &b);
	if (ret == 0)
		s->bufs[index].queued = true;
	return ret;
}

static int setup_export(struct dmapipe_v4l2_source *s, uint32_t count)
{
	int n = request(s, V4L2_MEMORY_MMAP, count);

	if (n < 0) {
		log_error("v4l2: %s: VIDIOC_REQBUFS (MMAP, %u): %s", s->info.path, count,
			  strerror(-n));
		return n;
	}
	for (int i = 0; i < n; i++) {
		struct dmapipe_layout l = s->layout;

		for (unsigned int p = 0; p < s->n_planes_v4l2; p++) {
			int fd = dmapipe_v4l2_export(&s->node, s->type, (uint32_t)i, p,
						     O_CLOEXEC | O_RDWR);

			if (fd < 0) {
				log_error("v4l2: %s: VIDIOC_EXPBUF buffer %d plane %u: %s",
					  s->info.path, i, p, strerror(-fd));
				for (unsigned int q = 0; q < p; q++)
					close(l.objects[q].fd);
				return fd;
			}
			l.objects[p].fd = fd;
			l.objects[p].size = 0; /* the dma-buf's own size */
		}
		/* takes the fds, checks they are dma-bufs and large enough */
		s->bufs[i].buffer = dmapipe_buffer_new_from_fds(&l);
		if (!s->bufs[i].buffer) {
			int ret = -errno;

			log_error("v4l2: %s: exported buffer %d refused: %s", s->info.path, i,
				  strerror(-ret));
			return ret;
		}
		s->n_bufs = (unsigned int)i + 1;
	}
	return 0;
}

/* An allocator whose buffers give struct-page mappings, for direct I/O. */
static struct dmapipe_allocator *direct_io_allocator(void)
{
	static const char *const names[] = { "dmapipe", "udmabuf" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct dmapipe_allocator *a = dmapipe_allocator_new(names[i]);

		if (a)
			return a;
	}
	return NULL;
}

/* Returns 0, or a negative errno with @why set (the caller may fall back). */
static int setup_import(struct dmapipe_v4l2_source *s, const struct dmapipe_v4l2_options *o,
			uint32_t count, char *why, size_t why_len)
{
	struct dmapipe_allocator *a;
	int n, ret;

	if (o->allocator) {
		a = dmapipe_allocator_ref(o->allocator);
	} else {
		a = o->direct_io ? direct_io_allocator() : NULL;
		if (!a) {
			enum dmapipe_log_priority prio = dmapipe_log_get_priority();

			/* the memfd fallback's warning would only confuse: refused below */
			dmapipe_log_set_priority(DMAPIPE_LOG_ERROR);
			a = dmapipe_allocator_new_default();
			dmapipe_log_set_priority(prio);
		}
		if (!a) {
			snprintf(why, why_len, "no allocator works here");
			return -ENODEV;
		}
	}
	if (dmapipe_allocator_get_mem_kind(a) != DMAPIPE_MEM_DMABUF) {
		snprintf(why, why_len, "allocator %s gives no dma-bufs, which V4L2 cannot import",
			 dmapipe_allocator_get_name(a));
		dmapipe_allocator_unref(a);
		return -ENODEV;
	}
	if (o->direct_io && !o->allocator) {
		const char *name = dmapipe_allocator_get_name(a);

		if (strcmp(name, "dmapipe") != 0 && strcmp(name, "udmabuf") != 0) {
			snprintf(why, why_len, "no allocator with struct-page mappings (dmapipe.ko, "
				 "udmabuf) on this machine");
			dmapipe_allocator_unref(a);
			return -ENODEV;
		}
	}
	n = request(s, V4L2_MEMORY_DMABUF, count);
	if (n < 0) {
		snprintf(why, why_len, "VIDIOC_REQBUFS (DMABUF): %s", strerror(-n));
		dmapipe_allocator_unref(a);
		return n;
	}
	for (int i = 0; i < n; i++) {
		struct dmapipe_buffer *b = dmapipe_allocator_alloc_layout(a, &s->layout);

		if (!b) {
			ret = -errno;
			snprintf(why, why_len, "allocator %s: %s", dmapipe_allocator_get_name(a),
				 strerror(-ret));
			dmapipe_allocator_unref(a);
			return ret;
		}
		s->bufs[i].buffer = b;
		s->n_bufs = (unsigned int)i + 1;
	}
	/* the driver checks an imported buffer at its first QBUF: do it now,
	 * while falling back to export is still possible */
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		ret = qbuf(s, i);
		if (ret < 0) {
			snprintf(why, why_len, "the driver refused %s's buffer at VIDIOC_QBUF: %s",
				 dmapipe_allocator_get_name(a), strerror(-ret));
			dmapipe_allocator_unref(a);
			return ret;
		}
	}
	s->allocator = a;
	dmapipe_strlcpy(s->info.allocator, dmapipe_allocator_get_name(a), sizeof(s->info.allocator));
	return 0;
}

static int setup_buffers(struct dmapipe_v4l2_source *s, const struct dmapipe_v4l2_options *o)
{
	uint32_t caps;
	uint32_t count = o->buffers ? MIN(o->buffers, MAX_V4L2_BUFFERS) : DEFAULT_BUFFERS;
	bool can_import, can_export;
	bool want_import = o->io == DMAPIPE_V4L2_IO_IMPORT ||
			   (o->io == DMAPIPE_V4L2_IO_AUTO && o->direct_io);
	char why[128] = "";
	int ret;

	/* a queue that cannot say what it supports (before 4.20) may do both */
	if (dmapipe_v4l2_queue_caps(&s->node, s->type, &caps) < 0)
		caps = 0;
	can_import = caps ? (caps & V4L2_BUF_CAP_SUPPORTS_DMABUF) != 0 : true;
	can_export = caps ? (caps & V4L2_BUF_CAP_SUPPORTS_MMAP) != 0 : true;
	if (want_import && !can_import) {
		snprintf(why, sizeof(why), "the device cannot import dma-bufs "
			 "(no V4L2_BUF_CAP_SUPPORTS_DMABUF)");
	} else if (want_import) {
		ret = setup_import(s, o, count, why, sizeof(why));
		if (ret == 0) {
			s->info.io = DMAPIPE_V4L2_IO_IMPORT;
			snprintf(s->info.io_note, sizeof(s->info.io_note),
				 o->io == DMAPIPE_V4L2_IO_IMPORT ?
				 "import asked for; buffers from allocator %s" :
				 "consumers need struct-page mappings; buffers from allocator %s",
				 s->info.allocator);
			return 0;
		}
		free_buffers(s);
	}
	if (!can_export) {
		if (why[0])
			log_error("v4l2: %s: cannot import (%s) and cannot export (no MMAP buffers)",
				  s->info.path, why);
		else
			log_error("v4l2: %s offers no MMAP buffers to export; try --io import",
				  s->info.path);
		return -ENOTSUP;
	}
	ret = setup_export(s, count);
	if (ret < 0) {
		free_buffers(s);
		return ret;
	}
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		ret = qbuf(s, i);
		if (ret < 0) {
			log_error("v4l2: %s: VIDIOC_QBUF: %s", s->info.path, strerror(-ret));
			free_buffers(s);
			return ret;
		}
	}
	s->info.io = DMAPIPE_V4L2_IO_EXPORT;
	if (why[0]) {
		snprintf(s->info.io_note, sizeof(s->info.io_note),
			 "fell back to export (VIDIOC_EXPBUF): import impossible: %s", why);
		log_warn("v4l2: %s: import mode impossible (%s): falling back to exporting the "
			 "driver's buffers with VIDIOC_EXPBUF", s->info.path, why);
	} else {
		snprintf(s->info.io_note, sizeof(s->info.io_note), "%s",
			 o->io == DMAPIPE_V4L2_IO_EXPORT ? "export asked for" :
			 "the driver's own buffers, exported: no allocation needed");
	}
	return 0;
}

DMAPIPE_EXPORT struct dmapipe_v4l2_source *
dmapipe_v4l2_source_new(const struct dmapipe_v4l2_options *options)
{
	struct dmapipe_v4l2_options o;
	struct dmapipe_v4l2_source *s;
	char name[16];
	int ret;

	/* a caller built against older headers passes a smaller struct */
	dmapipe_v4l2_options_init(&o);
	ret = dmapipe_options_copy(&o, sizeof(o), options, sizeof(uint32_t));
	if (ret == 0 && (!o.device || o.io > DMAPIPE_V4L2_IO_IMPORT || o.buffers > MAX_V4L2_BUFFERS ||
			 (o.fourcc && !dmapipe_fourcc_is_supported(o.fourcc))))
		ret = -EINVAL;
	if (ret < 0) {
		log_error("v4l2: invalid options%s",
			  ret == -E2BIG ? ": fields this library does not know are set" : "");
		errno = -ret;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->node.fd = -1;
	ret = open_device(s, o.device);
	if (ret < 0)
		goto fail;
	ret = negotiate(s, &o);
	if (ret < 0)
		goto fail;
	ret = setup_buffers(s, &o);
	if (ret < 0)
		goto fail;
	s->info.buffers = s->n_bufs;
	s->stats.last_sequence = 0;
	log_info("v4l2: %s (%s, %s): %s %ux%u, %u buffers, %s mode: %s", s->info.path,
		 s->info.card, s->info.bus_info, fourcc_str(s->layout.format.fourcc, name),
		 s->layout.format.width, s->layout.format.height, s->n_bufs,
		 dmapipe_v4l2_io_to_string(s->info.io), s->info.io_note);
	return s;

fail:
	free_buffers(s);
	close_device(s);
	free(s);
	errno = -ret;
	return NULL;
}

DMAPIPE_EXPORT void dmapipe_v4l2_source_free(struct dmapipe_v4l2_source *s)
{
	if (!s)
		return;
	dmapipe_v4l2_source_detach(s);
	dmapipe_v4l2_source_stop(s);
	free_buffers(s);
	close_device(s);
	dmapipe_allocator_unref(s->allocator);
	free(s);
}

DMAPIPE_EXPORT void dmapipe_v4l2_source_get_info(const struct dmapipe_v4l2_source *s,
						 struct dmapipe_v4l2_info *info)
{
	*info = s->info;
}

DMAPIPE_EXPORT const struct dmapipe_layout *
dmapipe_v4l2_source_get_layout(const struct dmapipe_v4l2_source *s)
{
	return &s->layout;
}

DMAPIPE_EXPORT unsigned int dmapipe_v4l2_source_get_buffer_count(const struct dmapipe_v4l2_source *s)
{
	return s->n_bufs;
}

DMAPIPE_EXPORT struct dmapipe_buffer *dmapipe_v4l2_source_get_buffer(struct dmapipe_v4l2_source *s,
								     unsigned int index)
{
	return index < s->n_bufs ? s->bufs[index].buffer : NULL;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_get_fd(const struct dmapipe_v4l2_source *s)
{
	return s->node.fd;
}

/* ---- streaming ---------------------------------------------------------- */

static int device_gone_or(struct dmapipe_v4l2_source *s, int ret)
{
	if (ret == -ENODEV) {
		if (!s->lost)
			log_warn("v4l2: %s (%s) is gone", s->info.path, s->info.card);
		s->lost = true;
		s->streaming = false;
	}
	return ret;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_start(struct dmapipe_v4l2_source *s)
{
	int ret;

	if (s->lost)
		return -ENODEV;
	if (s->streaming)
		return 0;
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		if (s->bufs[i].queued || s->bufs[i].held)
			continue;
		ret = qbuf(s, i);
		if (ret < 0) {
			log_error("v4l2: %s: VIDIOC_QBUF: %s", s->info.path, strerror(-ret));
			return device_gone_or(s, ret);
		}
	}
	ret = dmapipe_v4l2_stream(&s->node, s->type, true);
	if (ret < 0) {
		log_error("v4l2: %s: VIDIOC_STREAMON: %s", s->info.path, strerror(-ret));
		return device_gone_or(s, ret);
	}
	s->streaming = true;
	s->restarted = true;
	return 0;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_stop(struct dmapipe_v4l2_source *s)
{
	int ret = 0;

	if (s->lost) {
		/* a vanished device returned its buffers when it was unregistered */
		for (unsigned int i = 0; i < s->n_bufs; i++)
			s->bufs[i].queued = false;
		s->streaming = false;
		return 0;
	}
	if (!s->streaming)
		return 0;
	ret = dmapipe_v4l2_stream(&s->node, s->type, false);
	if (ret < 0) {
		log_warn("v4l2: %s: VIDIOC_STREAMOFF: %s", s->info.path, strerror(-ret));
		device_gone_or(s, ret);
	}
	/* STREAMOFF takes every buffer back from the driver, and a lost
	 * device's queue is gone: either way no buffer is queued now */
	for (unsigned int i = 0; i < s->n_bufs; i++)
		s->bufs[i].queued = false;
	s->streaming = false;
	return ret;
}

static int find_index(const struct dmapipe_v4l2_source *s, const struct dmapipe_buffer *b)
{
	for (unsigned int i = 0; i < s->n_bufs; i++)
		if (s->bufs[i].buffer == b)
			return (int)i;
	return -1;
}

static int dequeue(struct dmapipe_v4l2_source *s, unsigned int *index,
		   struct dmapipe_frame_meta *meta)
{
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	struct v4l2_buffer b;
	uint64_t ts;
	int ret;

	if (s->lost)
		return -ENODEV;
	if (!s->streaming)
		return -EAGAIN;
	dmapipe_v4l2_buffer_init(&b, planes, s->type, s->memory, 0, VIDEO_MAX_PLANES);
	ret = xioctl(s, VIDIOC_DQBUF, &b);
	if (ret == -EAGAIN) {
		struct pollfd pfd = { .fd = s->node.fd, .events = POLLIN };

		/* a vanished device answers POLLERR, its ioctls ENODEV */
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP))) {
			struct v4l2_capability cap;

			ret = xioctl(s, VIDIOC_QUERYCAP, &cap);
			if (ret == -ENODEV)
				return device_gone_or(s, ret);
		}
		return -EAGAIN;
	}
	if (ret < 0) {
		if (ret != -ENODEV)
			log_error("v4l2: %s: VIDIOC_DQBUF: %s", s->info.path, strerror(-ret));
		return device_gone_or(s, ret);
	}
	if (b.index >= s->n_bufs) {
		log_error("v4l2: %s: the driver returned unknown buffer %u", s->info.path, b.index);
		return -EPROTO;
	}
	s->bufs[b.index].queued = false;
	s->bufs[b.index].held = true;

	dmapipe_frame_meta_init(meta);
	meta->sequence = b.sequence;
	if ((b.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC) {
		ts = (uint64_t)b.timestamp.tv_sec * 1000000000ull +
		     (uint64_t)b.timestamp.tv_usec * 1000ull;
		s->info.timestamps_monotonic = true;
	} else {
		ts = dmapipe_now_ns();
		s->info.timestamps_monotonic = false;
	}
	meta->timestamp_ns = ts;
	if (s->info.multiplanar) {
		for (unsigned int p = 0; p < s->n_planes_v4l2 && p < DMAPIPE_MAX_PLANES; p++) {
			meta->bytes_used[p] = planes[p].bytesused;
			if (planes[p].data_offset && !s->warned_offset) {
				log_warn("v4l2: %s: the driver reports data_offset %u in plane %u, "
					 "which the layout does not carry", s->info.path,
					 planes[p].data_offset, p);
				s->warned_offset = true;
			}
			if (planes[p].data_offset)
				meta->flags |= DMAPIPE_FRAME_CORRUPTED;
		}
	} else {
		meta->bytes_used[0] = b.bytesused;
	}
	/* in one V4L2 plane the format's planes share the count: "whole
	 * plane"; and a count past the plane (sizeimage padding) says no more */
	if (s->n_planes_v4l2 == 1 && s->layout.n_planes > 1)
		meta->bytes_used[0] = 0;
	for (unsigned int p = 0; p < s->layout.n_planes; p++)
		meta->bytes_used[p] = MIN(meta->bytes_used[p],
					  dmapipe_layout_plane_size(&s->layout, p));
	if (b.flags & V4L2_BUF_FLAG_ERROR) {
		meta->flags |= DMAPIPE_FRAME_CORRUPTED;
		s->stats.corrupted++;
	}
	if (s->have_seq && !s->restarted && b.sequence > s->last_seq + 1) {
		s->stats.dropped += b.sequence - s->last_seq - 1;
		meta->flags |= DMAPIPE_FRAME_DISCONTINUITY;
	}
	if (s->restarted && s->have_seq)
		meta->flags |= DMAPIPE_FRAME_DISCONTINUITY;
	s->restarted = false;
	s->have_seq = true;
	s->last_seq = b.sequence;
	s->stats.last_sequence = b.sequence;
	s->stats.frames++;
	*index = b.index;
	return 0;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_dequeue(struct dmapipe_v4l2_source *s,
					       struct dmapipe_buffer **buffer,
					       struct dmapipe_frame_meta *meta)
{
	unsigned int index;
	int ret;

	if (s->server)
		return -EBUSY;
	ret = dequeue(s, &index, meta);
	if (ret < 0)
		return ret;
	*buffer = dmapipe_buffer_ref(s->bufs[index].buffer);
	return 0;
}

/* The buffer is back from its holders: to the device, if it streams. */
static int give_back(struct dmapipe_v4l2_source *s, unsigned int i)
{
	int ret;

	s->bufs[i].held = false;
	if (!s->streaming || s->lost)
		return 0;
	ret = qbuf(s, i);
	if (ret < 0) {
		if (ret != -ENODEV)
			log_error("v4l2: %s: VIDIOC_QBUF %u: %s", s->info.path, i, strerror(-ret));
		return device_gone_or(s, ret);
	}
	s->stats.requeued++;
	return 0;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_queue(struct dmapipe_v4l2_source *s,
					     struct dmapipe_buffer *buffer)
{
	int i = find_index(s, buffer);

	if (i < 0 || !s->bufs[i].held) {
		dmapipe_buffer_unref(buffer);
		return -EINVAL;
	}
	dmapipe_buffer_unref(buffer); /* the source keeps its own reference */
	return give_back(s, (unsigned int)i);
}

DMAPIPE_EXPORT void dmapipe_v4l2_source_get_stats(const struct dmapipe_v4l2_source *s,
						  struct dmapipe_v4l2_stats *stats)
{
	*stats = s->stats;
	stats->held = 0;
	for (unsigned int i = 0; i < s->n_bufs; i++)
		if (s->bufs[i].held)
			stats->held++;
}

/* ---- feeding a server ------------------------------------------------------ */

static void on_idle(struct dmapipe_server *server, struct dmapipe_buffer *buffer, void *data)
{
	struct dmapipe_v4l2_source *s = data;
	int i = find_index(s, buffer);

	(void)server;
	if (i >= 0 && s->bufs[i].held)
		(void)give_back(s, (unsigned int)i);
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_attach(struct dmapipe_v4l2_source *s,
					      struct dmapipe_server *server)
{
	int ret;

	if (s->server)
		return -EBUSY;
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		ret = dmapipe_server_add_buffer(server, s->bufs[i].buffer);
		if (ret < 0) {
			log_error("v4l2: %s: the server refused buffer %u: %s", s->info.path, i,
				  strerror(-ret));
			for (unsigned int j = 0; j < i; j++)
				dmapipe_server_remove_buffer(server, s->bufs[j].buffer);
			return ret;
		}
	}
	s->server = server;
	dmapipe_server_set_idle_callback(server, on_idle, s);
	return 0;
}

DMAPIPE_EXPORT void dmapipe_v4l2_source_detach(struct dmapipe_v4l2_source *s)
{
	struct dmapipe_server *server = s->server;

	if (!server)
		return;
	dmapipe_server_set_idle_callback(server, NULL, NULL);
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		/* frames consumers hold keep their own references; such a
		 * buffer stays held and is never captured into again */
		(void)dmapipe_server_remove_buffer(server, s->bufs[i].buffer);
	}
	s->server = NULL;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_dispatch(struct dmapipe_v4l2_source *s,
						unsigned int max_frames)
{
	int published = 0;

	if (!s->server)
		return -EINVAL;
	while (max_frames == 0 || (unsigned int)published < max_frames) {
		struct dmapipe_frame_meta meta;
		unsigned int index;
		int ret = dequeue(s, &index, &meta);

		if (ret == -EAGAIN)
			return published;
		if (ret < 0)
			return ret;
		ret = dmapipe_server_queue(s->server, dmapipe_buffer_ref(s->bufs[index].buffer),
					   &meta);
		if (ret < 0) {
			/* not published: back to the device at once */
			give_back(s, index);
			if (ret == -EPIPE)
				return ret;
			log_error("v4l2: %s: publishing frame %llu: %s", s->info.path,
				  (unsigned long long)meta.sequence, strerror(-ret));
			return ret;
		}
		published++;
	}
	return published;
}

#else /* !HAVE_LIBV4L2 */

static void no_v4l2(void)
{
	log_error("v4l2: dmapipe was built without libv4l2 (meson feature 'v4l2'): "
		  "V4L2 sources are not available");
}

DMAPIPE_EXPORT struct dmapipe_v4l2_source *
dmapipe_v4l2_source_new(const struct dmapipe_v4l2_options *options)
{
	(void)options;
	no_v4l2();
	errno = ENOTSUP;
	return NULL;
}

DMAPIPE_EXPORT void dmapipe_v4l2_source_free(struct dmapipe_v4l2_source *s)
{
	(void)s;
}

DMAPIPE_EXPORT void dmapipe_v4l2_source_get_info(const struct dmapipe_v4l2_source *s,
						 struct dmapipe_v4l2_info *info)
{
	(void)s;
	memset(info, 0, sizeof(*info));
}

DMAPIPE_EXPORT const struct dmapipe_layout *
dmapipe_v4l2_source_get_layout(const struct dmapipe_v4l2_source *s)
{
	(void)s;
	return NULL;
}

DMAPIPE_EXPORT unsigned int dmapipe_v4l2_source_get_buffer_count(const struct dmapipe_v4l2_source *s)
{
	(void)s;
	return 0;
}

DMAPIPE_EXPORT struct dmapipe_buffer *dmapipe_v4l2_source_get_buffer(struct dmapipe_v4l2_source *s,
								     unsigned int index)
{
	(void)s;
	(void)index;
	return NULL;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_get_fd(const struct dmapipe_v4l2_source *s)
{
	(void)s;
	return -1;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_start(struct dmapipe_v4l2_source *s)
{
	(void)s;
	return -ENOTSUP;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_stop(struct dmapipe_v4l2_source *s)
{
	(void)s;
	return -ENOTSUP;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_dequeue(struct dmapipe_v4l2_source *s,
					       struct dmapipe_buffer **buffer,
					       struct dmapipe_frame_meta *meta)
{
	(void)s;
	(void)buffer;
	(void)meta;
	return -ENOTSUP;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_queue(struct dmapipe_v4l2_source *s,
					     struct dmapipe_buffer *buffer)
{
	(void)s;
	dmapipe_buffer_unref(buffer);
	return -ENOTSUP;
}

DMAPIPE_EXPORT void dmapipe_v4l2_source_get_stats(const struct dmapipe_v4l2_source *s,
						  struct dmapipe_v4l2_stats *stats)
{
	(void)s;
	memset(stats, 0, sizeof(*stats));
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_attach(struct dmapipe_v4l2_source *s,
					      struct dmapipe_server *server)
{
	(void)s;
	(void)server;
	return -ENOTSUP;
}

DMAPIPE_EXPORT void dmapipe_v4l2_source_detach(struct dmapipe_v4l2_source *s)
{
	(void)s;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_dispatch(struct dmapipe_v4l2_source *s,
						unsigned int max_frames)
{
	(void)s;
	(void)max_frames;
	return -ENOTSUP;
}

#endif /* HAVE_LIBV4L2 */
