/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device discovery of KMS devices (dmapipe/device.h): a DRM primary node
 * whose device has connectors is a display controller; it is asked for
 * its CRTCs, its connectors with their state and preferred mode, and its
 * planes with the formats and modifiers each scans out (the display's
 * plumbing, display-kms.c). A node that cannot be opened keeps its entry
 * with the error. Needs libdrm; without it the entry says ENOTSUP.
 */
#include "config.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "private.h"
#include "devices-private.h"

#if HAVE_LIBDRM
#include "display-private.h"
#endif

/* The device's connectors are its children in sysfs: card1-Virtual-1, ... */
static bool has_connectors(const struct discover_node *node)
{
	size_t len = strlen(node->name);
	struct dirent *de;
	bool found = false;
	DIR *dir;

	dir = opendir(node->syspath);
	if (!dir)
		return false;
	while (!found && (de = readdir(dir)))
		found = strncmp(de->d_name, node->name, len) == 0 && de->d_name[len] == '-';
	closedir(dir);
	return found;
}

#if HAVE_LIBDRM

static void read_connectors(int fd, const drmModeRes *res, struct discover_entry *e,
			    struct dmapipe_kms_connector *out)
{
	struct dmapipe_kms_device *k = &e->u.kms;

	for (int i = 0; i < res->count_connectors; i++) {
		drmModeConnector *c = drmModeGetConnector(fd, res->connectors[i]);
		struct dmapipe_kms_connector *kc = &out[k->n_connectors];
		const drmModeModeInfo *mode;

		if (!c)
			continue;
		kc->id = c->connector_id;
		kc->type = c->connector_type;
		kms_connector_name(c, kc->name, sizeof(kc->name));
		kc->connected = c->connection == DRM_MODE_CONNECTED;
		kc->writeback = c->connector_type == DRM_MODE_CONNECTOR_WRITEBACK;
		kc->possible_crtcs = kms_connector_crtcs(fd, c);
		kc->n_modes = (uint32_t)c->count_modes;
		mode = kms_preferred_mode(c);
		if (mode) {
			kc->width = mode->hdisplay;
			kc->height = mode->vdisplay;
			kc->refresh = kms_mode_refresh(mode);
		}
		k->n_connectors++;
		drmModeFreeConnector(c);
	}
	k->connectors = out;
}

/* Every plane into @planes (allocated), their formats into one block in e->owned[1]. */
static int read_planes(int fd, struct discover_entry *e)
{
	struct dmapipe_kms_device *k = &e->u.kms;
	struct dmapipe_kms_plane *planes;
	struct kms_plane *tmp;
	struct dmapipe_kms_format *formats;
	drmModePlaneRes *res;
	size_t total = 0, used = 0;
	int ret = 0;

	res = drmModeGetPlaneResources(fd);
	if (!res)
		return -errno;
	tmp = calloc(res->count_planes + 1, sizeof(*tmp));
	planes = calloc(res->count_planes + 1, sizeof(*planes));
	if (!tmp || !planes) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < res->count_planes; i++) {
		ret = kms_read_plane(fd, res->planes[i], &tmp[i]);
		if (ret < 0)
			goto out;
		total += tmp[i].n_formats;
	}
	formats = calloc(total + 1, sizeof(*formats));
	if (!formats) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < res->count_planes; i++) {
		struct dmapipe_kms_plane *p = &planes[i];

		p->id = tmp[i].id;
		p->type = tmp[i].type;
		p->possible_crtcs = tmp[i].possible_crtcs;
		p->in_fence = tmp[i].prop.in_fence_fd != 0;
		p->n_formats = tmp[i].n_formats;
		p->formats = formats + used;
		memcpy(formats + used, tmp[i].formats, tmp[i].n_formats * sizeof(*formats));
		used += tmp[i].n_formats;
	}
	k->n_planes = res->count_planes;
	k->planes = planes;
	e->owned[0] = planes;
	e->owned[1] = formats;
	planes = NULL;
out:
	for (uint32_t i = 0; tmp && i < res->count_planes; i++)
		kms_plane_finish(&tmp[i]);
	free(tmp);
	free(planes);
	drmModeFreePlaneResources(res);
	return ret;
}

static void probe_open(struct discover_entry *e, int fd)
{
	struct dmapipe_kms_device *k = &e->u.kms;
	struct dmapipe_kms_connector *connectors;
	drmVersion *v;
	drmModeRes *res;
	uint64_t cap = 0;
	int ret;

	v = drmGetVersion(fd);
	if (v) {
		dmapipe_strlcpy(k->driver, v->name ? v->name : "", sizeof(k->driver));
		dmapipe_strlcpy(k->description, v->desc ? v->desc : "", sizeof(k->description));
		drmFreeVersion(v);
	}
	k->modifiers = drmGetCap(fd, DRM_CAP_ADDFB2_MODIFIERS, &cap) == 0 && cap;
	cap = 0;
	k->prime_import = drmGetCap(fd, DRM_CAP_PRIME, &cap) == 0 && (cap & DRM_PRIME_CAP_IMPORT);
	res = drmModeGetResources(fd);
	if (!res) {
		e->dev.error = errno;
		e->dev.error_op = "DRM_IOCTL_MODE_GETRESOURCES";
		return;
	}
	k->n_crtcs = (uint32_t)res->count_crtcs;
	connectors = calloc((size_t)res->count_connectors + 1, sizeof(*connectors));
	if (!connectors) {
		e->dev.error = ENOMEM;
		e->dev.error_op = "connectors";
		drmModeFreeResources(res);
		return;
	}
	e->owned[2] = connectors;
	read_connectors(fd, res, e, connectors);
	drmModeFreeResources(res);
	ret = read_planes(fd, e);
	if (ret < 0) {
		e->dev.error = -ret;
		e->dev.error_op = "DRM_IOCTL_MODE_GETPLANE";
	}
}

bool discover_probe_kms(struct discover_entry *e, const struct discover_node *node)
{
	bool atomic;
	int fd;

	if (!has_connectors(node))
		return false;
	e->dev.kms = &e->u.kms;
	fd = kms_open(node->devnode, true, &atomic);
	if (fd < 0) {
		e->dev.error = -fd;
		e->dev.error_op = "open";
		return true;
	}
	/* an unheld primary node makes us master: give it back at once (fails if not) */
	ioctl(fd, DRM_IOCTL_DROP_MASTER, 0);
	e->u.kms.atomic = atomic;
	probe_open(e, fd);
	close(fd);
	return true;
}

#else /* !HAVE_LIBDRM */

bool discover_probe_kms(struct discover_entry *e, const struct discover_node *node)
{
	if (!has_connectors(node))
		return false;
	e->dev.kms = &e->u.kms;
	e->dev.error = ENOTSUP; /* the display is not built either */
	e->dev.error_op = "libdrm";
	return true;
}

#endif /* HAVE_LIBDRM */
