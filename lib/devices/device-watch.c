/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Waiting for a V4L2 capture device to come back (include/dmapipe/v4l2.h).
 *
 * A device that was unplugged (or unbound, or its module reloaded) may come
 * back under another /dev/videoN, so it is matched by identity, not path:
 * VIDIOC_QUERYCAP's card and bus_info, plus the node's sysfs name when it
 * had one (a driver registers several nodes under one card and bus_info:
 * vivid's capture and output nodes, say), and it must be a capture device.
 *
 * A libudev monitor wakes the caller when video4linux devices come or go.
 * With udevd running it listens to udev's events (sent once the node has
 * its permissions); without udevd (containers, initramfs, the VM lane) to
 * the kernel's own uevents, where devtmpfs already made the node. Every
 * wake-up rescans /sys/class/video4linux, which also finds a device that
 * came back before the monitor existed; without libudev the caller polls.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if HAVE_LIBUDEV
#include <libudev.h>
#endif

#include "private.h"
#include "v4l2-util.h"
#include "dmapipe/v4l2.h"

struct dmapipe_v4l2_watch {
	struct dmapipe_v4l2_info want;
#if HAVE_LIBUDEV
	struct udev *udev;
	struct udev_monitor *monitor;
#endif
};

DMAPIPE_EXPORT struct dmapipe_v4l2_watch *dmapipe_v4l2_watch_new(const struct dmapipe_v4l2_info *info)
{
	struct dmapipe_v4l2_watch *w;

	if (!info || !info->card[0]) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->want = *info;
#if HAVE_LIBUDEV
	w->udev = udev_new();
	if (w->udev) {
		/* udevd's control socket says whether udev events will come */
		const char *source = access("/run/udev/control", F_OK) == 0 ? "udev" : "kernel";

		w->monitor = udev_monitor_new_from_netlink(w->udev, source);
		if (w->monitor &&
		    (udev_monitor_filter_add_match_subsystem_devtype(w->monitor, "video4linux",
								     NULL) < 0 ||
		     udev_monitor_enable_receiving(w->monitor) < 0)) {
			udev_monitor_unref(w->monitor);
			w->monitor = NULL;
		}
		if (w->monitor)
			log_info("v4l2: watching for %s (%s) through %s uevents", info->card,
				 info->bus_info, source);
	}
	if (!w->monitor)
		log_warn("v4l2: no udev monitor (%s): looking for %s by polling", strerror(errno),
			 info->card);
#else
	log_info("v4l2: built without libudev: looking for %s by polling", info->card);
#endif
	return w;
}

DMAPIPE_EXPORT void dmapipe_v4l2_watch_free(struct dmapipe_v4l2_watch *w)
{
	if (!w)
		return;
#if HAVE_LIBUDEV
	if (w->monitor)
		udev_monitor_unref(w->monitor);
	if (w->udev)
		udev_unref(w->udev);
#endif
	free(w);
}

DMAPIPE_EXPORT int dmapipe_v4l2_watch_get_fd(const struct dmapipe_v4l2_watch *w)
{
#if HAVE_LIBUDEV
	if (w->monitor)
		return udev_monitor_get_fd(w->monitor);
#endif
	(void)w;
	return -1;
}

static bool read_name(const char *entry, char *buf, size_t len)
{
	char path[320];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/sys/class/video4linux/%s/name", entry);
	f = fopen(path, "re");
	if (!f)
		return false;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* True if @node is the device @w waits for. */
static bool node_matches(const struct dmapipe_v4l2_watch *w, const char *node)
{
	struct v4l2_capability cap;
	uint32_t caps;
	bool match;
	int fd, ret;

	fd = open(node, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	ret = dmapipe_v4l2_querycap(fd, &cap, &caps);
	close(fd);
	if (ret < 0)
		return false;
	match = (caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE)) &&
		strncmp((const char *)cap.card, w->want.card, sizeof(cap.card)) == 0 &&
		strncmp((const char *)cap.bus_info, w->want.bus_info, sizeof(cap.bus_info)) == 0;
	return match;
}

static int scan(const struct dmapipe_v4l2_watch *w, char *path, size_t len)
{
	DIR *d = opendir("/sys/class/video4linux");
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0; /* no V4L2 device at all (videodev not even loaded) */
	while (!found && (e = readdir(d))) {
		char name[64], node[300];

		if (strncmp(e->d_name, "video", 5) != 0)
			continue;
		if (w->want.name[0] &&
		    (!read_name(e->d_name, name, sizeof(name)) || strcmp(name, w->want.name) != 0))
			continue;
		snprintf(node, sizeof(node), "/dev/%s", e->d_name);
		if (node_matches(w, node)) {
			if (strlen(node) >= len) {
				found = -ENAMETOOLONG;
				break;
			}
			memcpy(path, node, strlen(node) + 1);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

DMAPIPE_EXPORT int dmapipe_v4l2_watch_find(struct dmapipe_v4l2_watch *w, char *path, size_t len)
{
#if HAVE_LIBUDEV
	if (w->monitor) {
		struct udev_device *dev;

		/* the events only wake us: the scan below decides */
		while ((dev = udev_monitor_receive_device(w->monitor))) {
			log_debug("v4l2: uevent %s %s", udev_device_get_action(dev) ?
				  udev_device_get_action(dev) : "?",
				  udev_device_get_sysname(dev) ? udev_device_get_sysname(dev) : "?");
			udev_device_unref(dev);
		}
	}
#endif
	return scan(w, path, len);
}
