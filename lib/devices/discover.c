/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device discovery (dmapipe/device.h).
 *
 * Nodes are found per sysfs class: video4linux (video* only: vbi, radio,
 * swradio, touch and subdev nodes carry no frames for us), drm (renderD*
 * only), dma_heap, and misc (udmabuf, dmapipe). With libudev that is
 * udev_enumerate, which reads sysfs itself and works without a udev daemon
 * (as in the VM lane); without it, /sys/class/CLASS/NAME/uevent gives the
 * same DEVNAME. Then each node is opened and asked what it is. Nothing is
 * streamed; nothing is allocated unless DMAPIPE_DISCOVER_PROBE_EXPORT asks
 * to prove VIDIOC_EXPBUF.
 *
 * Every failure about one device stays in that device's entry.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#if HAVE_LIBUDEV
#include <libudev.h>
#endif
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

#define SYS_CLASS "/sys/class"

/* One device with the storage of its type-specific part and formats. */
struct entry {
	struct dmapipe_device dev;
	union {
		struct dmapipe_v4l2_device v4l2;
		struct dmapipe_drm_device drm;
		struct dmapipe_udmabuf_device udmabuf;
		struct dmapipe_kmod_device kmod;
	} u;
	struct dmapipe_v4l2_format *formats[DMAPIPE_V4L2_MAX_QUEUES]; /* owned */
};

struct dmapipe_device_list {
	struct entry **entries;
	size_t n, cap;
};

/* A device node found in sysfs. */
struct node {
	char name[64];
	char devnode[128];
	char syspath[PATH_MAX];
};

struct node_vec {
	struct node *v;
	size_t n, cap;
};

/* ---- finding nodes ---------------------------------------------------- */

static int node_vec_add(struct node_vec *nodes, const char *name, const char *devnode,
			const char *syspath)
{
	struct node *node;

	if (strlen(name) >= sizeof(node->name) || strlen(devnode) >= sizeof(node->devnode) ||
	    strlen(syspath) >= sizeof(node->syspath)) {
		log_warn("discover: %s: name too long, skipped", syspath);
		return 0;
	}
	if (nodes->n == nodes->cap) {
		size_t cap = nodes->cap ? nodes->cap * 2 : 16;
		struct node *v = realloc(nodes->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		nodes->v = v;
		nodes->cap = cap;
	}
	node = &nodes->v[nodes->n++];
	dmapipe_strlcpy(node->name, name, sizeof(node->name));
	dmapipe_strlcpy(node->devnode, devnode, sizeof(node->devnode));
	dmapipe_strlcpy(node->syspath, syspath, sizeof(node->syspath));
	return 0;
}

static int compare_nodes(const void *a, const void *b)
{
	/* natural order: video2 before video10 */
	return strverscmp(((const struct node *)a)->name, ((const struct node *)b)->name);
}

#if HAVE_LIBUDEV

static int find_nodes(const char *subsystem, const char *pattern, struct node_vec *nodes)
{
	struct udev_list_entry *item;
	struct udev_enumerate *en;
	struct udev *udev;
	int ret;

	udev = udev_new();
	if (!udev)
		return errno ? -errno : -ENOMEM;
	en = udev_enumerate_new(udev);
	if (!en) {
		ret = errno ? -errno : -ENOMEM;
		goto unref_udev;
	}
	ret = udev_enumerate_add_match_subsystem(en, subsystem);
	if (ret >= 0)
		ret = udev_enumerate_add_match_sysname(en, pattern);
	if (ret >= 0)
		ret = udev_enumerate_scan_devices(en);
	if (ret < 0) {
		log_debug("discover: udev enumeration of %s failed: %s", subsystem,
			  strerror(-ret));
		goto unref_enumerate;
	}
	udev_list_entry_foreach(item, udev_enumerate_get_list_entry(en)) {
		const char *syspath = udev_list_entry_get_name(item);
		struct udev_device *dev = udev_device_new_from_syspath(udev, syspath);
		const char *name, *devnode;

		if (!dev)
			continue; /* it went away meanwhile */
		name = udev_device_get_sysname(dev);
		devnode = udev_device_get_devnode(dev);
		if (name && devnode)
			ret = node_vec_add(nodes, name, devnode, syspath);
		udev_device_unref(dev);
		if (ret < 0)
			break;
	}

unref_enumerate:
	udev_enumerate_unref(en);
unref_udev:
	udev_unref(udev);
	return ret < 0 ? ret : 0;
}

#else /* !HAVE_LIBUDEV */

/* DEVNAME= of a sysfs device's uevent file, as /dev/DEVNAME; 0 or -errno. */
static int read_devname(const char *syspath, char *devnode, size_t len)
{
	char path[PATH_MAX + 8], line[256];
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "%s/uevent", syspath);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "DEVNAME=", 8) == 0) {
			line[strcspn(line, "\n")] = '\0';
			if ((size_t)snprintf(devnode, len, "/dev/%s", line + 8) < len)
				ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static int find_nodes(const char *subsystem, const char *pattern, struct node_vec *nodes)
{
	char dirpath[PATH_MAX];
	struct dirent *de;
	int ret = 0;
	DIR *dir;

	snprintf(dirpath, sizeof(dirpath), SYS_CLASS "/%s", subsystem);
	dir = opendir(dirpath);
	if (!dir) {
		/* an absent class: no such devices (or no driver loaded) */
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		log_debug("discover: %s: %s", dirpath, strerror(-ret));
		return ret;
	}
	while ((de = readdir(dir))) {
		char syspath[PATH_MAX], devnode[128];

		if (de->d_name[0] == '.' || fnmatch(pattern, de->d_name, 0) != 0)
			continue;
		if ((size_t)snprintf(syspath, sizeof(syspath), "%s/%s", dirpath, de->d_name) >=
		    sizeof(syspath))
			continue;
		if (read_devname(syspath, devnode, sizeof(devnode)) < 0)
			continue;
		ret = node_vec_add(nodes, de->d_name, devnode, syspath);
		if (ret < 0)
			break;
	}
	closedir(dir);
	return ret;
}

#endif /* HAVE_LIBUDEV */

DMAPIPE_EXPORT bool dmapipe_device_have_udev(void)
{
	return HAVE_LIBUDEV;
}

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

/* ---- V4L2 ------------------------------------------------------------- */

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

static void probe_v4l2(struct entry *e, const struct node *node, uint32_t flags)
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
static void find_card(const struct node *node, struct dmapipe_drm_device *d)
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

static void probe_drm(struct entry *e, const struct node *node)
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

static void probe_udmabuf(struct entry *e)
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

static void probe_kmod(struct entry *e)
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

/* ---- the list --------------------------------------------------------- */

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < DMAPIPE_V4L2_MAX_QUEUES; i++)
		free(e->formats[i]);
	free(e);
}

static int list_add(struct dmapipe_device_list *list, struct entry *e)
{
	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 16;
		struct entry **v = realloc(list->entries, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		list->entries = v;
		list->cap = cap;
	}
	list->entries[list->n++] = e;
	return 0;
}

static int add_class(struct dmapipe_device_list *list, enum dmapipe_device_type type,
		     const char *subsystem, const char *pattern, uint32_t flags)
{
	struct node_vec nodes = { 0 };
	int ret;

	ret = find_nodes(subsystem, pattern, &nodes);
	if (ret < 0)
		goto out;
	if (nodes.n > 1)
		qsort(nodes.v, nodes.n, sizeof(nodes.v[0]), compare_nodes);
	for (size_t i = 0; i < nodes.n; i++) {
		const struct node *node = &nodes.v[i];
		struct entry *e = calloc(1, sizeof(*e));

		if (!e) {
			ret = -ENOMEM;
			goto out;
		}
		e->dev.type = type;
		dmapipe_strlcpy(e->dev.name, node->name, sizeof(e->dev.name));
		dmapipe_strlcpy(e->dev.path, node->devnode, sizeof(e->dev.path));
		switch (type) {
		case DMAPIPE_DEVICE_V4L2:
			probe_v4l2(e, node, flags);
			break;
		case DMAPIPE_DEVICE_DRM:
			probe_drm(e, node);
			break;
		case DMAPIPE_DEVICE_UDMABUF:
			probe_udmabuf(e);
			break;
		case DMAPIPE_DEVICE_DMAPIPE:
			probe_kmod(e);
			break;
		case DMAPIPE_DEVICE_DMA_HEAP:
			/* its name says it all; allocating from it is the allocator's job */
			break;
		}
		if (e->dev.error)
			log_debug("discover: %s: %s: %s", e->dev.path, e->dev.error_op,
				  strerror(e->dev.error));
		ret = list_add(list, e);
		if (ret < 0) {
			entry_free(e);
			goto out;
		}
	}
out:
	free(nodes.v);
	return ret;
}

DMAPIPE_EXPORT struct dmapipe_device_list *dmapipe_device_list_new(uint32_t flags)
{
	static const struct {
		enum dmapipe_device_type type;
		const char *subsystem, *pattern;
	} classes[] = {
		{ DMAPIPE_DEVICE_V4L2, "video4linux", "video[0-9]*" },
		{ DMAPIPE_DEVICE_DRM, "drm", "renderD[0-9]*" },
		{ DMAPIPE_DEVICE_DMA_HEAP, "dma_heap", "*" },
		{ DMAPIPE_DEVICE_UDMABUF, "misc", "udmabuf" },
		{ DMAPIPE_DEVICE_DMAPIPE, "misc", "dmapipe" },
	};
	struct dmapipe_device_list *list;
	int ret;

	if (flags & ~DMAPIPE_DISCOVER_PROBE_EXPORT) {
		errno = EINVAL;
		return NULL;
	}
	list = calloc(1, sizeof(*list));
	if (!list)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(classes); i++) {
		ret = add_class(list, classes[i].type, classes[i].subsystem, classes[i].pattern,
				flags);
		if (ret < 0) {
			log_error("discover: listing %s devices failed: %s", classes[i].subsystem,
				  strerror(-ret));
			dmapipe_device_list_free(list);
			errno = -ret;
			return NULL;
		}
	}
	return list;
}

DMAPIPE_EXPORT void dmapipe_device_list_free(struct dmapipe_device_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		entry_free(list->entries[i]);
	free(list->entries);
	free(list);
}

DMAPIPE_EXPORT size_t dmapipe_device_list_get_count(const struct dmapipe_device_list *list)
{
	return list ? list->n : 0;
}

DMAPIPE_EXPORT const struct dmapipe_device *
dmapipe_device_list_get(const struct dmapipe_device_list *list, size_t index)
{
	if (!list || index >= list->n)
		return NULL;
	return &list->entries[index]->dev;
}

DMAPIPE_EXPORT const struct dmapipe_device *
dmapipe_device_list_find_v4l2(const struct dmapipe_device_list *list,
			      enum dmapipe_v4l2_role role, uint32_t pixelformat, bool input)
{
	for (size_t i = 0; list && i < list->n; i++) {
		const struct dmapipe_device *dev = &list->entries[i]->dev;

		if (dev->type != DMAPIPE_DEVICE_V4L2 || dev->v4l2->role != (uint32_t)role)
			continue;
		for (uint32_t q = 0; q < dev->v4l2->n_queues; q++) {
			const struct dmapipe_v4l2_queue *queue = &dev->v4l2->queues[q];

			if (dmapipe_v4l2_is_output_type(queue->type) != input)
				continue;
			if (!pixelformat && queue->n_formats)
				return dev;
			for (uint32_t f = 0; f < queue->n_formats; f++)
				if (queue->formats[f].pixelformat == pixelformat)
					return dev;
		}
	}
	return NULL;
}

DMAPIPE_EXPORT const char *dmapipe_device_type_to_string(enum dmapipe_device_type type)
{
	switch (type) {
	case DMAPIPE_DEVICE_V4L2:
		return "v4l2";
	case DMAPIPE_DEVICE_DRM:
		return "drm";
	case DMAPIPE_DEVICE_DMA_HEAP:
		return "dma-heap";
	case DMAPIPE_DEVICE_UDMABUF:
		return "udmabuf";
	case DMAPIPE_DEVICE_DMAPIPE:
		return "dmapipe";
	}
	return "unknown";
}

DMAPIPE_EXPORT const char *dmapipe_v4l2_role_to_string(enum dmapipe_v4l2_role role)
{
	switch (role) {
	case DMAPIPE_V4L2_CAPTURE:
		return "capture";
	case DMAPIPE_V4L2_OUTPUT:
		return "output";
	case DMAPIPE_V4L2_ENCODER:
		return "encoder";
	case DMAPIPE_V4L2_DECODER:
		return "decoder";
	case DMAPIPE_V4L2_M2M:
		return "m2m";
	case DMAPIPE_V4L2_OTHER:
		break;
	}
	return "other";
}

DMAPIPE_EXPORT const char *dmapipe_v4l2_buf_type_to_string(uint32_t type)
{
	switch (type) {
	case V4L2_BUF_TYPE_VIDEO_CAPTURE:
		return "video-capture";
	case V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE:
		return "video-capture-mplane";
	case V4L2_BUF_TYPE_VIDEO_OUTPUT:
		return "video-output";
	case V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE:
		return "video-output-mplane";
	}
	return "other";
}
