/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The encoder's raw side (include/dmapipe/encoder.h): the OUTPUT format for
 * a producer's layout, the layout the device computes for it, and the
 * decision between importing the frames' dma-bufs and copying them, with
 * its reason. dmapipe_encoder_layout_compatible() is pure (unit-tested).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder-private.h"

int dmapipe_encoder_layout_compatible(const struct dmapipe_layout *have, enum dmapipe_mem_kind kind,
				      const struct dmapipe_layout *want, char *why, size_t len)
{
	char a[16], b[16];

	if (kind != DMAPIPE_MEM_DMABUF) {
		snprintf(why, len, "the frames are in %s, which a device cannot import",
			 dmapipe_mem_kind_to_string(kind));
		return -EXDEV;
	}
	if (have->format.fourcc != want->format.fourcc ||
	    have->format.width != want->format.width ||
	    have->format.height != want->format.height) {
		snprintf(why, len, "the frames are %s %ux%u, the encoder takes %s %ux%u",
			 dmapipe_fourcc_to_string(have->format.fourcc, a, sizeof(a)),
			 have->format.width, have->format.height,
			 dmapipe_fourcc_to_string(want->format.fourcc, b, sizeof(b)),
			 want->format.width, want->format.height);
		return -EXDEV;
	}
	if (have->format.modifier != DMAPIPE_MOD_LINEAR) {
		snprintf(why, len, "the frames have modifier 0x%llx, the encoder takes linear frames",
			 (unsigned long long)have->format.modifier);
		return -EXDEV;
	}
	if (have->n_planes != want->n_planes) {
		snprintf(why, len, "the frames have %u planes, the encoder %u", have->n_planes,
			 want->n_planes);
		return -EXDEV;
	}
	if (want->n_objects == 1 && have->n_objects != 1) {
		snprintf(why, len, "the frames' planes are in %u buffers, the encoder's format "
			 "wants them in one", have->n_objects);
		return -EXDEV;
	}
	if (want->n_objects > 1 && have->n_objects != want->n_objects) {
		snprintf(why, len, "the frames' planes are in %u buffers, the encoder wants one "
			 "per plane", have->n_objects);
		return -EXDEV;
	}
	for (unsigned int p = 0; p < want->n_planes; p++) {
		const struct dmapipe_plane *hp = &have->planes[p], *wp = &want->planes[p];

		if (hp->object != wp->object) {
			snprintf(why, len, "plane %u is in buffer %u, the encoder wants it in %u", p,
				 hp->object, wp->object);
			return -EXDEV;
		}
		if (hp->stride != wp->stride) {
			snprintf(why, len, "plane %u has stride %u, the encoder needs %u", p,
				 hp->stride, wp->stride);
			return -EXDEV;
		}
		if (hp->offset != wp->offset) {
			snprintf(why, len, "plane %u is at offset %llu, the encoder reads it at %llu", p,
				 (unsigned long long)hp->offset, (unsigned long long)wp->offset);
			return -EXDEV;
		}
	}
	for (unsigned int o = 0; o < want->n_objects; o++) {
		if (have->objects[o].size < want->objects[o].size) {
			snprintf(why, len, "buffer %u has %llu bytes, the encoder needs %llu", o,
				 (unsigned long long)have->objects[o].size,
				 (unsigned long long)want->objects[o].size);
			return -EXDEV;
		}
	}
	return 0;
}

/*
 * Fills @fmt for the OUTPUT queue from @layout (strides from it when
 * @strides, else 0: the driver's choice) and runs TRY_FMT or S_FMT.
 */
static int out_format(struct dmapipe_encoder *e, const struct dmapipe_layout *layout,
		      bool strides, bool set, struct v4l2_format *fmt)
{
	bool separate = layout->n_objects > 1;
	uint32_t pf = dmapipe_fourcc_to_v4l2(layout->format.fourcc, separate);
	uint32_t bpl[DMAPIPE_MAX_PLANES] = { 0 };
	struct dmapipe_v4l2_pix got;
	char a[16], b[16];

	if (!pf || (separate && !e->info.multiplanar)) {
		/* one buffer per plane may still be offered in the contiguous form */
		pf = dmapipe_fourcc_to_v4l2(layout->format.fourcc, false);
		if (!pf)
			return -ENOTSUP;
	}
	if (!dmapipe_v4l2_offers(&e->node, e->out_type, pf)) {
		uint32_t other = dmapipe_fourcc_to_v4l2(layout->format.fourcc, !separate);

		if (other && (!separate || e->info.multiplanar) &&
		    dmapipe_v4l2_offers(&e->node, e->out_type, other)) {
			pf = other;
		} else {
			char offered[384];

			dmapipe_v4l2_describe_formats(&e->node, e->out_type, offered, sizeof(offered));
			log_error("encoder: %s does not take %s frames; it takes %s", e->info.path,
				  dmapipe_fourcc_to_string(layout->format.fourcc, a, sizeof(a)),
				  offered[0] ? offered : "nothing");
			return -EINVAL;
		}
	}
	for (unsigned int p = 0; p < layout->n_planes && p < DMAPIPE_MAX_PLANES; p++)
		bpl[p] = layout->planes[p].stride;
	memset(fmt, 0, sizeof(*fmt));
	fmt->type = e->out_type;
	dmapipe_v4l2_format_write(fmt, pf, layout->format.width, layout->format.height,
				  strides ? bpl : NULL, layout->n_planes);
	dmapipe_v4l2_format_set_colorimetry(fmt, e->opt.colorspace, e->opt.xfer_func,
					    e->opt.ycbcr_enc, e->opt.quantization);
	int ret = dmapipe_v4l2_ioctl(&e->node, set ? VIDIOC_S_FMT : VIDIOC_TRY_FMT, fmt);

	if (ret < 0) {
		log_error("encoder: %s: %s on OUTPUT: %s", e->info.path,
			  set ? "VIDIOC_S_FMT" : "VIDIOC_TRY_FMT", strerror(-ret));
		return ret;
	}
	dmapipe_v4l2_format_read(fmt, &got);
	if (got.pixelformat != pf || got.width != layout->format.width ||
	    got.height != layout->format.height) {
		log_error("encoder: %s cannot encode %s %ux%u (it would take %s %ux%u)", e->info.path,
			  dmapipe_v4l2_fcc(pf, a), layout->format.width, layout->format.height,
			  dmapipe_v4l2_fcc(got.pixelformat, b), got.width, got.height);
		return -EINVAL;
	}
	return 0;
}

DMAPIPE_EXPORT int dmapipe_encoder_get_layout(struct dmapipe_encoder *e,
					      const struct dmapipe_format *format,
					      struct dmapipe_layout *layout)
{
	struct dmapipe_layout l;
	struct v4l2_format fmt;
	int ret;

	memset(&l, 0, sizeof(l));
	l.format = *format;
	l.n_objects = 1;
	if (!dmapipe_fourcc_is_supported(format->fourcc))
		return -ENOTSUP;
	ret = out_format(e, &l, false, false, &fmt);
	if (ret < 0)
		return ret;
	ret = dmapipe_v4l2_layout_from_format(&fmt, layout, NULL, 0);
	return ret == -EPROTO ? -EINVAL : ret;
}

DMAPIPE_EXPORT int dmapipe_encoder_check_layout(struct dmapipe_encoder *e,
						const struct dmapipe_layout *layout,
						enum dmapipe_mem_kind kind, char *why, size_t len)
{
	struct dmapipe_layout want;
	struct v4l2_format fmt;
	int ret;

	if (!e->info.can_import) {
		snprintf(why, len, "the encoder cannot import dma-bufs "
			 "(no V4L2_BUF_CAP_SUPPORTS_DMABUF)");
		return -EXDEV;
	}
	ret = out_format(e, layout, true, false, &fmt);
	if (ret < 0) {
		snprintf(why, len, "the encoder does not take this format");
		return ret;
	}
	ret = dmapipe_v4l2_layout_from_format(&fmt, &want, NULL, 0);
	if (ret < 0) {
		snprintf(why, len, "the encoder's format has no layout dmapipe knows");
		return -EXDEV;
	}
	return dmapipe_encoder_layout_compatible(layout, kind, &want, why, len);
}

/*
 * Sets the OUTPUT queue's raw format for frames of @have (their strides
 * unless copy mode was asked for); @want gets the layout the device
 * computes, kept in the info with its V4L2 format.
 */
int encoder_set_raw_format(struct dmapipe_encoder *e, const struct dmapipe_layout *have,
			   struct dmapipe_layout *want)
{
	struct v4l2_format fmt;
	struct dmapipe_v4l2_pix pix;
	int ret;

	ret = out_format(e, have, e->opt.io != DMAPIPE_ENCODER_IO_COPY, true, &fmt);
	if (ret < 0)
		return ret == -ENOTSUP ? -EINVAL : ret;
	ret = dmapipe_v4l2_layout_from_format(&fmt, want, NULL, 0);
	if (ret < 0) {
		log_error("encoder: %s: its raw format has no layout dmapipe knows", e->info.path);
		return -EINVAL;
	}
	e->info.layout = *want;
	dmapipe_v4l2_format_read(&fmt, &pix);
	e->info.pixelformat = pix.pixelformat;
	e->n_vplanes = MAX(pix.num_planes, 1);
	return 0;
}

/*
 * Import or copy for frames of @have in memory of @kind, given the layout
 * @want the device computed: the choice in *@import and its reason in the
 * info's io_note (logged when it is a copy). Returns 0, -EXDEV (import
 * asked for but impossible) or -EPERM (only a copy would do, and copies
 * are refused).
 */
int encoder_choose_io(struct dmapipe_encoder *e, const struct dmapipe_layout *have,
		      enum dmapipe_mem_kind kind, const struct dmapipe_layout *want, bool *import)
{
	char why[160] = "";

	if (e->opt.io == DMAPIPE_ENCODER_IO_COPY) {
		*import = false;
		snprintf(e->info.io_note, sizeof(e->info.io_note), "copy asked for");
	} else if (!e->info.can_import) {
		*import = false;
		snprintf(why, sizeof(why), "the encoder cannot import dma-bufs "
			 "(no V4L2_BUF_CAP_SUPPORTS_DMABUF)");
	} else {
		*import = dmapipe_encoder_layout_compatible(have, kind, want, why, sizeof(why)) == 0;
		if (*import)
			snprintf(e->info.io_note, sizeof(e->info.io_note),
				 "the frames' dma-bufs are imported (V4L2_MEMORY_DMABUF)");
	}
	if (!*import && e->opt.io != DMAPIPE_ENCODER_IO_COPY) {
		if (e->opt.io == DMAPIPE_ENCODER_IO_IMPORT) {
			log_error("encoder: %s: cannot import these frames: %s", e->info.path, why);
			snprintf(e->info.io_note, sizeof(e->info.io_note), "import impossible: %s", why);
			return -EXDEV;
		}
		if (e->opt.strict || dmapipe_get_strict()) {
			log_error("encoder: %s: strict: refusing to copy frames into the encoder, "
				  "which cannot import them: %s", e->info.path, why);
			snprintf(e->info.io_note, sizeof(e->info.io_note),
				 "strict: copy refused; import impossible: %s", why);
			return -EPERM;
		}
		log_warn("encoder: %s: copying every frame into the encoder's buffers (counted): "
			 "import impossible: %s", e->info.path, why);
		snprintf(e->info.io_note, sizeof(e->info.io_note), "copy: import impossible: %s", why);
	}
	if (!*import && e->opt.strict) {
		log_error("encoder: %s: strict: copy mode asked for, but copies are refused",
			  e->info.path);
		return -EPERM;
	}
	return 0;
}
