/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the device modules: classification, V4L2 layouts, names.
 */
#ifndef DMAPIPE_DEVICES_PRIVATE_H
#define DMAPIPE_DEVICES_PRIVATE_H

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

/* ---- encoders (encoder.c) -------------------------------------------- */

/*
 * Can a device that computed @want import frames of @have in memory of
 * @kind? 0, or -EXDEV with the first reason written to @why.
 */
int dmapipe_encoder_layout_compatible(const struct dmapipe_layout *have, enum dmapipe_mem_kind kind,
				      const struct dmapipe_layout *want, char *why, size_t len);

#endif /* DMAPIPE_DEVICES_PRIVATE_H */
