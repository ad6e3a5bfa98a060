/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device discovery (dmapipe/device.h).
 *
 * Nodes are found per sysfs class: video4linux (video* only: vbi, radio,
 * swradio, touch and subdev nodes carry no frames for us), drm (renderD*,
 * and card* of devices with connectors: KMS), dma_heap, and misc (udmabuf,
 * dmapipe). With libudev that is
 * udev_enumerate, which reads sysfs itself and works without a udev daemon
 * (as in the VM lane); without it, /sys/class/CLASS/NAME/uevent gives the
 * same DEVNAME. Then each node is opened and asked what it is
 * (discover-probe.c). Nothing is streamed; nothing is allocated unless
 * DMAPIPE_DISCOVER_PROBE_EXPORT asks to prove VIDIOC_EXPBUF.
 *
 * Every failure about one device stays in that device's entry.
 */
#include "config.h"

#include <dirent.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if HAVE_LIBUDEV
#include <libudev.h>
#endif

#include "private.h"
#include "devices-private.h"
#include "v4l2-util.h"

#define SYS_CLASS "/sys/class"

/* The KMS pointer took the room of reserved fields: the struct kept its size. */
_Static_assert(sizeof(struct dmapipe_device) == (sizeof(void *) == 8 ? 272 : 252),
	       "struct dmapipe_device size");

struct dmapipe_device_list {
	struct discover_entry **entries;
	size_t n, cap;
};

struct node_vec {
	struct discover_node *v;
	size_t n, cap;
};

/* ---- finding nodes ---------------------------------------------------- */

static int node_vec_add(struct node_vec *nodes, const char *name, const char *devnode,
			const char *syspath)
{
	struct discover_node *node;

	if (strlen(name) >= sizeof(node->name) || strlen(devnode) >= sizeof(node->devnode) ||
	    strlen(syspath) >= sizeof(node->syspath)) {
		log_warn("discover: %s: name too long, skipped", syspath);
		return 0;
	}
	if (nodes->n == nodes->cap) {
		size_t cap = nodes->cap ? nodes->cap * 2 : 16;
		struct discover_node *v = realloc(nodes->v, cap * sizeof(*v));

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
	return strverscmp(((const struct discover_node *)a)->name, ((const struct discover_node *)b)->name);
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

/* ---- the list --------------------------------------------------------- */

static void entry_free(struct discover_entry *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < DMAPIPE_V4L2_MAX_QUEUES; i++)
		free(e->formats[i]);
	for (size_t i = 0; i < ARRAY_SIZE(e->owned); i++)
		free(e->owned[i]);
	free(e);
}

static int list_add(struct dmapipe_device_list *list, struct discover_entry *e)
{
	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 16;
		struct discover_entry **v = realloc(list->entries, cap * sizeof(*v));

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
		const struct discover_node *node = &nodes.v[i];
		struct discover_entry *e = calloc(1, sizeof(*e));

		if (!e) {
			ret = -ENOMEM;
			goto out;
		}
		e->dev.type = type;
		dmapipe_strlcpy(e->dev.name, node->name, sizeof(e->dev.name));
		dmapipe_strlcpy(e->dev.path, node->devnode, sizeof(e->dev.path));
		switch (type) {
		case DMAPIPE_DEVICE_V4L2:
			discover_probe_v4l2(e, node, flags);
			break;
		case DMAPIPE_DEVICE_DRM:
			discover_probe_drm(e, node);
			break;
		case DMAPIPE_DEVICE_UDMABUF:
			discover_probe_udmabuf(e);
			break;
		case DMAPIPE_DEVICE_DMAPIPE:
			discover_probe_kmod(e);
			break;
		case DMAPIPE_DEVICE_DMA_HEAP:
			/* its name says it all; allocating from it is the allocator's job */
			break;
		case DMAPIPE_DEVICE_KMS:
			if (!discover_probe_kms(e, node)) {
				/* a card without connectors is no display (vgem) */
				entry_free(e);
				continue;
			}
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
		{ DMAPIPE_DEVICE_KMS, "drm", "card[0-9]*" },
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
	case DMAPIPE_DEVICE_KMS:
		return "kms";
	}
	return "unknown";
}

DMAPIPE_EXPORT const char *dmapipe_kms_plane_type_to_string(enum dmapipe_kms_plane_type type)
{
	switch (type) {
	case DMAPIPE_KMS_PLANE_OVERLAY:
		return "overlay";
	case DMAPIPE_KMS_PLANE_PRIMARY:
		return "primary";
	case DMAPIPE_KMS_PLANE_CURSOR:
		return "cursor";
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
