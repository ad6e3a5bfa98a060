/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device discovery, each node asked what it is (dmapipe/device.h): V4L2
 * nodes (capabilities, queues, formats, export and import, the role),
 * DRM render nodes (driver, PRIME, dumb buffers), udmabuf's limits and
 * dmapipe.ko's state. discover.c finds the nodes and keeps the list.
 * Every failure stays in the device's entry; nothing is streamed, and a
 * buffer is allocated only to prove VIDIOC_EXPBUF when asked.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* the DRM uapi header sits next to drm_fourcc.h, which the build requires */
#if __has_include(<drm/drm.h>)
#include <drm/drm.h>
#else
#include <libdrm/drm.h>
#endif

#include "../kernel/uapi/dmapipe.h"
#include "private.h"
#include "devices-private.h"
#include "v4l2-util.h"

/* Reads a one-line sysfs attribute without its newline; 0 or -errno. */
static int read_attr(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int64_t read_attr_i64(const char *path)
{
	char buf[32], *end;
	long long v;

	if (read_attr(path, buf, sizeof(buf)) < 0 || !buf[0])
		return -1;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || *end)
		return -1;
	return v;
}

/* Allocates one MMAP buffer, exports it, frees it: 0 or -errno. */
static int probe_expbuf(const struct dmapipe_v4l2_node *node, uint32_t type)
{
	int ret, fd;

	ret = dmapipe_v4l2_request(node, type, V4L2_MEMORY_MMAP, 1);
	if (ret < 0)
		return ret;
	fd = dmapipe_v4l2_export(node, type, 0, 0, O_CLOEXEC | O_RDONLY);
	ret = fd < 0 ? fd : 0;
	if (fd >= 0) {
		if (!dmapipe_fd_is_dmabuf(fd))
			ret = -EBADFD;
		close(fd);
	}
	(void)dmapipe_v4l2_request(node, type, V4L2_MEMORY_MMAP, 0);
	return ret;
}

static void probe_queue(const struct dmapipe_v4l2_node *node, struct dmapipe_v4l2_queue *q,
			struct dmapipe_v4l2_format **formats, uint32_t flags)
{
	uint32_t caps;
	int ret;

	ret = dmapipe_v4l2_formats_new(node, q->type, formats);
	if (ret < 0) {
		q->error = -ret;
	} else {
		q->n_formats = (uint32_t)ret;
		q->formats = *formats;
	}

	ret = dmapipe_v4l2_queue_caps(node, q->type, &caps);
	if (ret < 0) {
		if (!q->error)
			q->error = -ret;
		return;
	}
	q->buf_caps = caps;
	q->dmabuf_import = caps & V4L2_BUF_CAP_SUPPORTS_DMABUF;
	q->dmabuf_export = caps & V4L2_BUF_CAP_SUPPORTS_MMAP;
	if (q->dmabuf_export && (flags & DMAPIPE_DISCOVER_PROBE_EXPORT)) {
		ret = probe_expbuf(node, q->type);
		q->export_probed = true;
		q->dmabuf_export = ret == 0;
		if (ret < 0 && !q->error)
			q->error = -ret;
	}
}

static bool queue_has(const struct dmapipe_v4l2_queue *q, bool compressed)
{
	for (uint32_t i = 0; i < q->n_formats; i++)
		if (!!(q->formats[i].flags & DMAPIPE_V4L2_FORMAT_COMPRESSED) == compressed)
			return true;
	return false;
}

enum dmapipe_v4l2_role dmapipe_v4l2_classify(uint32_t caps,
					     const struct dmapipe_v4l2_queue *queues,
					     unsigned int n_queues)
{
	const struct dmapipe_v4l2_queue *in = NULL, *out = NULL;

	for (unsigned int i = 0; i < n_queues; i++) {
		if (dmapipe_v4l2_is_output_type(queues[i].type))
			in = &queues[i];
		else if (queues[i].type == V4L2_BUF_TYPE_VIDEO_CAPTURE ||
			 queues[i].type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE)
			out = &queues[i];
	}
	if (caps & (V4L2_CAP_VIDEO_M2M | V4L2_CAP_VIDEO_M2M_MPLANE)) {
		if (!in || !out)
			return DMAPIPE_V4L2_OTHER;
		if (queue_has(in, false) && queue_has(out, true) && !queue_has(in, true))
			return DMAPIPE_V4L2_ENCODER;
		if (queue_has(in, true) && queue_has(out, false) && !queue_has(out, true))
			return DMAPIPE_V4L2_DECODER;
		return DMAPIPE_V4L2_M2M;
	}
	if (out)
		return DMAPIPE_V4L2_CAPTURE;
	if (in)
		return DMAPIPE_V4L2_OUTPUT;
	return DMAPIPE_V4L2_OTHER;
}

void discover_probe_v4l2(struct discover_entry *e, const struct discover_node *node, uint32_t flags)
{
	struct dmapipe_v4l2_device *v = &e->u.v4l2;
	struct dmapipe_v4l2_node node_v4l2 = { .fd = -1 };
	struct v4l2_capability cap;
	uint32_t caps;
	char path[PATH_MAX + 8];
	int fd, ret;

	e->dev.v4l2 = v;
	/* known even when the node cannot be opened */
	snprintf(path, sizeof(path), "%s/name", node->syspath);
	read_attr(path, v->card, sizeof(v->card));

	fd = open(node->devnode, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		e->dev.error = errno;
		e->dev.error_op = "open";
		return;
	}
	ret = dmapipe_v4l2_querycap(fd, &cap, &caps);
	if (ret < 0) {
		e->dev.error = -ret;
		e->dev.error_op = "VIDIOC_QUERYCAP";
		close(fd);
		return;
	}
	dmapipe_strlcpy(v->driver, (const char *)cap.driver,
			MIN(sizeof(v->driver), sizeof(cap.driver)));
	dmapipe_strlcpy(v->card, (const char *)cap.card, MIN(sizeof(v->card), sizeof(cap.card)));
	dmapipe_strlcpy(v->bus_info, (const char *)cap.bus_info,
			MIN(sizeof(v->bus_info), sizeof(cap.bus_info)));
	v->version = cap.version;
	v->capabilities = cap.capabilities;
	v->device_caps = caps;

	if (caps & V4L2_CAP_VIDEO_M2M_MPLANE) {
		v->queues[v->n_queues++].type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
		v->queues[v->n_queues++].type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
	} else if (caps & V4L2_CAP_VIDEO_M2M) {
		v->queues[v->n_queues++].type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
		v->queues[v->n_queues++].type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	} else {
		if (caps & V4L2_CAP_VIDEO_OUTPUT_MPLANE)
			v->queues[v->n_queues++].type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
		else if (caps & V4L2_CAP_VIDEO_OUTPUT)
			v->queues[v->n_queues++].type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
		if (caps & V4L2_CAP_VIDEO_CAPTURE_MPLANE)
			v->queues[v->n_queues++].type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
		else if (caps & V4L2_CAP_VIDEO_CAPTURE)
			v->queues[v->n_queues++].type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	}
	node_v4l2.fd = fd;
	v->multiplanar = caps & (V4L2_CAP_VIDEO_M2M_MPLANE | V4L2_CAP_VIDEO_CAPTURE_MPLANE |
				 V4L2_CAP_VIDEO_OUTPUT_MPLANE);
	for (uint32_t i = 0; i < v->n_queues; i++) {
		struct dmapipe_v4l2_queue *q = &v->queues[i];

		probe_queue(&node_v4l2, q, &e->formats[i], flags);
		if (q->error == EBUSY && !e->dev.error) {
			e->dev.error = EBUSY;
			e->dev.error_op = "VIDIOC_REQBUFS";
		}
	}
	v->role = dmapipe_v4l2_classify(caps, v->queues, v->n_queues);
	close(fd);
}

/* ---- DRM render nodes ------------------------------------------------- */

/*
 * Plain DRM_IOCTL_VERSION and GET_CAP (what drmGetVersion() and drmGetCap()
 * do), so the listing needs no libdrm; the dumb-buffer check reuses the
 * drm allocator's and needs it.
 */

/* The primary node ("card0") of the device a render node belongs to. */
static void find_card(const struct discover_node *node, struct dmapipe_drm_device *d)
{
	char path[PATH_MAX + 16];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/device/drm", node->syspath);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "card", 4) == 0 && de->d_name[4] >= '0' &&
		    de->d_name[4] <= '9' && strlen(de->d_name) < sizeof(d->card) - 10) {
			snprintf(d->card, sizeof(d->card), "/dev/dri/%s", de->d_name);
			break;
		}
	}
	closedir(dir);
}

static void probe_dumb(struct dmapipe_drm_device *d)
{
#if HAVE_LIBDRM
	int fd, ret;

	if (!d->card[0]) {
		d->dumb_error = ENODEV;
		return;
	}
	fd = open(d->card, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		d->dumb_error = errno;
		return;
	}
	/* an unheld primary node makes us master: give it back at once (fails if not) */
	ioctl(fd, DRM_IOCTL_DROP_MASTER, 0);
	ret = dmapipe_drm_probe_dumb(fd);
	d->dumb_buffers = ret == 0;
	d->dumb_error = ret < 0 ? -ret : 0;
	close(fd);
#else
	d->dumb_error = ENOTSUP; /* the drm allocator is not built either */
#endif
}

void discover_probe_drm(struct discover_entry *e, const struct discover_node *node)
{
	struct dmapipe_drm_device *d = &e->u.drm;
	struct drm_version version;
	struct drm_get_cap cap;
	int fd, ret;

	e->dev.drm = d;
	find_card(node, d);
	fd = open(node->devnode, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		e->dev.error = errno;
		e->dev.error_op = "open";
		d->dumb_error = errno;
		return;
	}
	/* the kernel copies at most *_len bytes and sets *_len to the full length */
	memset(&version, 0, sizeof(version));
	version.name = d->driver;
	version.name_len = sizeof(d->driver) - 1;
	version.desc = d->description;
	version.desc_len = sizeof(d->description) - 1;
	ret = dmapipe_ioctl(fd, DRM_IOCTL_VERSION, &version);
	if (ret < 0) {
		memset(d->driver, 0, sizeof(d->driver));
		memset(d->description, 0, sizeof(d->description));
		e->dev.error = -ret;
		e->dev.error_op = "DRM_IOCTL_VERSION";
		d->dumb_error = -ret;
		close(fd);
		return;
	}
	d->driver[MIN(version.name_len, sizeof(d->driver) - 1)] = '\0';
	d->description[MIN(version.desc_len, sizeof(d->description) - 1)] = '\0';
	memset(&cap, 0, sizeof(cap));
	cap.capability = DRM_CAP_PRIME;
	if (dmapipe_ioctl(fd, DRM_IOCTL_GET_CAP, &cap) == 0) {
		d->prime_import = cap.value & DRM_PRIME_CAP_IMPORT;
		d->prime_export = cap.value & DRM_PRIME_CAP_EXPORT;
	}
	close(fd);
	probe_dumb(d);
}

/* ---- udmabuf, dmapipe.ko ---------------------------------------------- */

void discover_probe_udmabuf(struct discover_entry *e)
{
	struct dmapipe_udmabuf_device *u = &e->u.udmabuf;
	int fd;

	e->dev.udmabuf = u;
	u->size_limit_mb = read_attr_i64("/sys/module/udmabuf/parameters/size_limit_mb");
	u->list_limit = read_attr_i64("/sys/module/udmabuf/parameters/list_limit");
	fd = open(e->dev.path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		e->dev.error = errno;
		e->dev.error_op = "open";
		return;
	}
	close(fd);
}

void discover_probe_kmod(struct discover_entry *e)
{
	struct dmapipe_kmod_device *k = &e->u.kmod;
	struct dmapipe_info info;
	int fd, ret;

	e->dev.kmod = k;
	fd = open(e->dev.path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		e->dev.error = errno;
		e->dev.error_op = "open";
		return;
	}
	memset(&info, 0, sizeof(info));
	ret = dmapipe_ioctl(fd, DMAPIPE_IOCTL_GET_INFO, &info);
	close(fd);
	if (ret < 0) {
		e->dev.error = -ret;
		e->dev.error_op = "DMAPIPE_IOCTL_GET_INFO";
		return;
	}
	k->abi_version = info.abi_version;
	k->page_size = info.page_size;
	k->features = info.features;
	k->max_total_bytes = info.max_total_bytes;
	k->max_buffer_bytes = info.max_buffer_bytes;
	k->max_buffers = info.max_buffers;
	k->buffers = info.buffers;
	k->bytes_in_use = info.bytes_in_use;
}
