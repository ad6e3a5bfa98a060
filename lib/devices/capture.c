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
 * This file opens the device and negotiates format, size and rate; the
 * buffers are set up in capture-buffers.c, streamed (and fed to a server)
 * in capture-stream.c, negotiated with encoders in capture-negotiate.c.
 * Without libv4l2 only the stubs at the end are built.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/videodev2.h>

#if HAVE_LIBV4L2
#include <libv4l2.h>
#endif

#include "capture-private.h"

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
	dmapipe_v4l2_format_info_read(fmt, &s->format_info);
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
	ret = dmapipe_v4l2_ioctl(&s->node, VIDIOC_G_FMT, &fmt);
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
		ret = dmapipe_v4l2_ioctl(&s->node, VIDIOC_S_FMT, &fmt);
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
		ret = dmapipe_v4l2_ioctl(&s->node, VIDIOC_S_PARM, &parm);
		if (ret < 0)
			log_warn("v4l2: %s cannot set the frame rate: %s", s->info.path,
				 strerror(-ret));
		else if (!(parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME))
			log_warn("v4l2: %s does not let the frame rate be chosen", s->info.path);
	}
	memset(&parm, 0, sizeof(parm));
	parm.type = s->type;
	if (dmapipe_v4l2_ioctl(&s->node, VIDIOC_G_PARM, &parm) == 0 && parm.parm.capture.timeperframe.numerator) {
		s->info.fps_num = parm.parm.capture.timeperframe.denominator;
		s->info.fps_den = parm.parm.capture.timeperframe.numerator;
		s->format_info.fps_num = s->info.fps_num;
		s->format_info.fps_den = s->info.fps_den;
		if (o->fps_num && o->fps_den &&
		    (uint64_t)s->info.fps_num * o->fps_den != (uint64_t)o->fps_num * s->info.fps_den)
			log_warn("v4l2: %s: asked for %u/%u fps, the driver runs at %u/%u",
				 s->info.path, o->fps_num, o->fps_den, s->info.fps_num,
				 s->info.fps_den);
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
	ret = capture_setup_buffers(s, &o);
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
	capture_free_buffers(s);
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
	capture_free_buffers(s);
	close_device(s);
	dmapipe_allocator_unref(s->allocator);
	free(s);
}

DMAPIPE_EXPORT void dmapipe_v4l2_source_get_info(const struct dmapipe_v4l2_source *s,
						 struct dmapipe_v4l2_info *info)
{
	*info = s->info;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_get_format_info(const struct dmapipe_v4l2_source *s,
						       struct dmapipe_format_info *info)
{
	if (!s || !info)
		return -EINVAL;
	*info = s->format_info;
	return 0;
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

DMAPIPE_EXPORT int dmapipe_v4l2_source_get_format_info(const struct dmapipe_v4l2_source *s,
						       struct dmapipe_format_info *info)
{
	(void)s;
	(void)info;
	return -ENOTSUP;
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

DMAPIPE_EXPORT int dmapipe_v4l2_source_get_timing(const struct dmapipe_v4l2_source *s,
						 struct dmapipe_v4l2_timing *timing)
{
	(void)s;
	(void)timing;
	return -ENOTSUP;
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
