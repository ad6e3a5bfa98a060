/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the device modules: classification, discovery's entries and
 * probes, the encoder's import decision.
 */
#ifndef DMAPIPE_DEVICES_PRIVATE_H
#define DMAPIPE_DEVICES_PRIVATE_H

#include <limits.h>

#include "private.h"
#include "dmapipe/device.h"

/*
 * The role of a V4L2 node with @device_caps whose queues (types and formats
 * filled in) are @queues: mem2mem nodes are encoders, decoders or plain
 * m2m by which side has compressed formats.
 */
enum dmapipe_v4l2_role dmapipe_v4l2_classify(uint32_t device_caps,
					     const struct dmapipe_v4l2_queue *queues,
					     unsigned int n_queues);

/* ---- discovery (discover.c finds nodes, discover-probe.c asks them) --- */

/* One device with the storage of its type-specific part and formats. */
struct discover_entry {
	struct dmapipe_device dev;
	union {
		struct dmapipe_v4l2_device v4l2;
		struct dmapipe_drm_device drm;
		struct dmapipe_udmabuf_device udmabuf;
		struct dmapipe_kmod_device kmod;
		struct dmapipe_kms_device kms;
	} u;
	struct dmapipe_v4l2_format *formats[DMAPIPE_V4L2_MAX_QUEUES]; /* owned */
	void *owned[3]; /* a KMS device's planes, formats and connectors */
};

/* A device node found in sysfs. */
struct discover_node {
	char name[64];
	char devnode[128];
	char syspath[PATH_MAX];
};

/*
 * Fills @e (type, name and path set) from its node: what it is and what it
 * can do, or the error of the step that failed in e->dev.error.
 */
void discover_probe_v4l2(struct discover_entry *e, const struct discover_node *node, uint32_t flags);
void discover_probe_drm(struct discover_entry *e, const struct discover_node *node);
void discover_probe_udmabuf(struct discover_entry *e);
void discover_probe_kmod(struct discover_entry *e);
/*
 * A DRM primary node (discover-kms.c): false when its device has no
 * connectors (not a display: vgem), else fills @e and returns true.
 */
bool discover_probe_kms(struct discover_entry *e, const struct discover_node *node);

/* ---- encoders (encoder-layout.c) ------------------------------------- */

/*
 * Can a device that computed @want import frames of @have in memory of
 * @kind? 0, or -EXDEV with the first reason written to @why.
 */
int dmapipe_encoder_layout_compatible(const struct dmapipe_layout *have, enum dmapipe_mem_kind kind,
				      const struct dmapipe_layout *want, char *why, size_t len);

#endif /* DMAPIPE_DEVICES_PRIVATE_H */
