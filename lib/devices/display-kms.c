/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KMS plumbing the display and discovery share: opening a primary node
 * with the client caps that show every plane and connector, properties
 * by name, a plane's formats with their modifiers, connector names and
 * modes. Every ioctl sequence that asks a KMS device what it is lives
 * here, once.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "display-private.h"

int kms_open(const char *path, bool writeback, bool *atomic)
{
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/*
	 * without it the primary and cursor planes are hidden from us; a
	 * driver without modesetting refuses it (EOPNOTSUPP) and says no
	 * more when asked for its resources, so only ENOTTY (no DRM device
	 * at all) ends it here
	 */
	if (drmSetClientCap(fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1) < 0 && errno == ENOTTY) {
		close(fd);
		return -ENOTTY;
	}
	*atomic = drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1) == 0;
	/* writeback connectors are only shown to atomic clients that ask */
	if (writeback && *atomic)
		drmSetClientCap(fd, DRM_CLIENT_CAP_WRITEBACK_CONNECTORS, 1);
	return fd;
}

uint32_t kms_prop_id(int fd, uint32_t object, uint32_t type, const char *name, uint64_t *value)
{
	drmModeObjectProperties *props = drmModeObjectGetProperties(fd, object, type);
	uint32_t id = 0;

	if (!props)
		return 0;
	for (uint32_t i = 0; i < props->count_props && !id; i++) {
		drmModePropertyRes *p = drmModeGetProperty(fd, props->props[i]);

		if (!p)
			continue;
		if (strcmp(p->name, name) == 0) {
			id = p->prop_id;
			if (value)
				*value = props->prop_values[i];
		}
		drmModeFreeProperty(p);
	}
	drmModeFreeObjectProperties(props);
	return id;
}

/*
 * The pairs of an IN_FORMATS blob (struct drm_format_modifier_blob):
 * each modifier entry names the formats it applies to with a 64-bit mask
 * over the format list starting at its offset.
 */
static int read_in_formats(int fd, uint32_t blob_id, struct kms_plane *plane)
{
	const struct drm_format_modifier_blob *hdr;
	const struct drm_format_modifier *mods;
	const uint32_t *formats;
	drmModePropertyBlobRes *blob;
	uint32_t n = 0;
	int ret = 0;

	blob = drmModeGetPropertyBlob(fd, blob_id);
	if (!blob)
		return -errno;
	hdr = blob->data;
	if (blob->length < sizeof(*hdr) ||
	    hdr->formats_offset + (uint64_t)hdr->count_formats * sizeof(uint32_t) > blob->length ||
	    hdr->modifiers_offset + (uint64_t)hdr->count_modifiers * sizeof(*mods) > blob->length) {
		ret = -EPROTO;
		goto out;
	}
	formats = (const uint32_t *)((const char *)blob->data + hdr->formats_offset);
	mods = (const struct drm_format_modifier *)((const char *)blob->data +
						   hdr->modifiers_offset);
	plane->formats = calloc((size_t)hdr->count_formats * (hdr->count_modifiers ? hdr->count_modifiers : 1) + 1,
				sizeof(*plane->formats));
	if (!plane->formats) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t m = 0; m < hdr->count_modifiers; m++) {
		for (uint32_t bit = 0; bit < 64; bit++) {
			uint64_t f = mods[m].offset + bit;

			if (!(mods[m].formats & (1ull << bit)) || f >= hdr->count_formats)
				continue;
			plane->formats[n].fourcc = formats[f];
			plane->formats[n].modifier = mods[m].modifier;
			n++;
		}
	}
	plane->n_formats = n;
	plane->has_modifiers = true;
out:
	drmModeFreePropertyBlob(blob);
	return ret;
}

static void read_plane_props(int fd, struct kms_plane *plane)
{
	static const struct {
		const char *name;
		size_t offset;
	} names[] = {
		{ "FB_ID", offsetof(struct kms_plane_props, fb_id) },
		{ "CRTC_ID", offsetof(struct kms_plane_props, crtc_id) },
		{ "SRC_X", offsetof(struct kms_plane_props, src_x) },
		{ "SRC_Y", offsetof(struct kms_plane_props, src_y) },
		{ "SRC_W", offsetof(struct kms_plane_props, src_w) },
		{ "SRC_H", offsetof(struct kms_plane_props, src_h) },
		{ "CRTC_X", offsetof(struct kms_plane_props, crtc_x) },
		{ "CRTC_Y", offsetof(struct kms_plane_props, crtc_y) },
		{ "CRTC_W", offsetof(struct kms_plane_props, crtc_w) },
		{ "CRTC_H", offsetof(struct kms_plane_props, crtc_h) },
		{ "IN_FENCE_FD", offsetof(struct kms_plane_props, in_fence_fd) },
	};
	drmModeObjectProperties *props;

	props = drmModeObjectGetProperties(fd, plane->id, DRM_MODE_OBJECT_PLANE);
	if (!props)
		return;
	for (uint32_t i = 0; i < props->count_props; i++) {
		drmModePropertyRes *p = drmModeGetProperty(fd, props->props[i]);

		if (!p)
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(names); k++)
			if (strcmp(p->name, names[k].name) == 0)
				*(uint32_t *)((char *)&plane->prop + names[k].offset) = p->prop_id;
		if (strcmp(p->name, "type") == 0)
			plane->type = (uint32_t)props->prop_values[i];
		drmModeFreeProperty(p);
	}
	drmModeFreeObjectProperties(props);
}

int kms_read_plane(int fd, uint32_t id, struct kms_plane *plane)
{
	uint64_t in_formats = 0;
	drmModePlane *p;
	int ret = 0;

	memset(plane, 0, sizeof(*plane));
	p = drmModeGetPlane(fd, id);
	if (!p)
		return -errno;
	plane->id = id;
	plane->possible_crtcs = p->possible_crtcs;
	plane->crtc_id = p->crtc_id;
	/* a plane without a type property is an overlay: only universal planes have one */
	plane->type = DMAPIPE_KMS_PLANE_OVERLAY;
	read_plane_props(fd, plane);

	if (kms_prop_id(fd, id, DRM_MODE_OBJECT_PLANE, "IN_FORMATS", &in_formats) && in_formats) {
		ret = read_in_formats(fd, (uint32_t)in_formats, plane);
		if (ret == 0)
			goto out;
		free(plane->formats);
		plane->formats = NULL;
		log_debug("kms: plane %u: IN_FORMATS unreadable (%s), using its format list", id,
			  strerror(-ret));
	}
	plane->formats = calloc(p->count_formats + 1, sizeof(*plane->formats));
	if (!plane->formats) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < p->count_formats; i++) {
		plane->formats[i].fourcc = p->formats[i];
		plane->formats[i].modifier = DMAPIPE_MOD_INVALID;
	}
	plane->n_formats = p->count_formats;
	ret = 0;
out:
	drmModeFreePlane(p);
	return ret;
}

void kms_plane_finish(struct kms_plane *plane)
{
	if (!plane)
		return;
	free(plane->formats);
	plane->formats = NULL;
	plane->n_formats = 0;
}

bool kms_plane_takes(const struct kms_plane *plane, uint32_t fourcc, uint64_t modifier)
{
	for (uint32_t i = 0; i < plane->n_formats; i++) {
		const struct dmapipe_kms_format *f = &plane->formats[i];

		if (f->fourcc != fourcc)
			continue;
		if (!plane->has_modifiers) {
			/* the driver's implicit layout is linear for buffers from elsewhere */
			if (modifier == DMAPIPE_MOD_LINEAR || modifier == DMAPIPE_MOD_INVALID)
				return true;
		} else if (f->modifier == modifier ||
			   (modifier == DMAPIPE_MOD_INVALID && f->modifier == DMAPIPE_MOD_LINEAR)) {
			return true;
		}
	}
	return false;
}

void kms_connector_name(const drmModeConnector *connector, char *buf, size_t len)
{
	const char *type = drmModeGetConnectorTypeName(connector->connector_type);

	snprintf(buf, len, "%s-%u", type ? type : "Unknown", connector->connector_type_id);
}

uint32_t kms_connector_crtcs(int fd, const drmModeConnector *connector)
{
	uint32_t crtcs = 0;

	for (int i = 0; i < connector->count_encoders; i++) {
		drmModeEncoder *e = drmModeGetEncoder(fd, connector->encoders[i]);

		if (!e)
			continue;
		crtcs |= e->possible_crtcs;
		drmModeFreeEncoder(e);
	}
	return crtcs;
}

const drmModeModeInfo *kms_preferred_mode(const drmModeConnector *connector)
{
	for (int i = 0; i < connector->count_modes; i++)
		if (connector->modes[i].type & DRM_MODE_TYPE_PREFERRED)
			return &connector->modes[i];
	return connector->count_modes > 0 ? &connector->modes[0] : NULL;
}

uint32_t kms_mode_refresh(const drmModeModeInfo *mode)
{
	uint64_t total = (uint64_t)mode->htotal * mode->vtotal;

	if (mode->vrefresh)
		return mode->vrefresh;
	if (!total)
		return 0;
	return (uint32_t)(((uint64_t)mode->clock * 1000 + total / 2) / total);
}
