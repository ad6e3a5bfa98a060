/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Allocation-time negotiation between a capture source and the encoders
 * that will import its buffers (include/dmapipe/v4l2.h).
 *
 * A capture device chooses its buffers' layout when they are allocated,
 * and an encoder imports a dma-buf only in the layout it computes itself
 * (encoder-layout.c); once streaming, the only way to bridge a difference
 * is a CPU copy of every frame. So the difference is settled here, before
 * streaming: the source is opened, each encoder checks its layout, and the
 * device is opened again with the stride the first unsuited encoder wants.
 * Only public calls of the capture source and the encoder are used.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "private.h"
#include "dmapipe/encoder.h"
#include "dmapipe/v4l2.h"

/*
 * The first encoder that cannot import @layout: its index, with the
 * reason in @why, or @n when every one can.
 */
static unsigned int first_unsuited(struct dmapipe_encoder *const *encoders, unsigned int n,
				   const struct dmapipe_layout *layout, char *why, size_t len)
{
	for (unsigned int i = 0; i < n; i++)
		if (dmapipe_encoder_check_layout(encoders[i], layout, DMAPIPE_MEM_DMABUF, why, len) < 0)
			return i;
	return n;
}

static void add_step(struct dmapipe_v4l2_negotiation *r, const char *why, const char *device,
		     uint32_t bytesperline)
{
	size_t used = strlen(r->steps);

	snprintf(r->steps + used, sizeof(r->steps) - used,
		 "negotiating: %s; asking %s for %u bytes per line\n", why, device, bytesperline);
	log_debug("v4l2: negotiating: %s; asking %s for %u bytes per line", why, device,
		  bytesperline);
}

DMAPIPE_EXPORT struct dmapipe_v4l2_source *
dmapipe_v4l2_source_new_for_encoders(const struct dmapipe_v4l2_options *options,
				     struct dmapipe_encoder *const *encoders,
				     unsigned int n_encoders, uint32_t flags,
				     struct dmapipe_v4l2_negotiation *result)
{
	struct dmapipe_v4l2_negotiation r;
	struct dmapipe_v4l2_options o;
	struct dmapipe_v4l2_source *src = NULL;
	const struct dmapipe_layout *l;
	struct dmapipe_layout want;
	char why[192];
	int ret, saved;

	memset(&r, 0, sizeof(r));
	snprintf(r.note, sizeof(r.note), "no encoder");
	dmapipe_v4l2_options_init(&o);
	ret = dmapipe_options_copy(&o, sizeof(o), options, sizeof(uint32_t));
	if (ret == 0 && ((n_encoders && !encoders) || (flags & ~DMAPIPE_V4L2_NO_NEGOTIATE)))
		ret = -EINVAL;
	if (ret < 0) {
		log_error("v4l2: invalid options for negotiating with encoders");
		errno = -ret;
		goto out;
	}
	r.bytesperline = o.bytesperline;
	src = dmapipe_v4l2_source_new(&o);
	if (!src || !n_encoders)
		goto out;
	/* each reopening settles one encoder; one more than there are
	 * encoders means they want strides the device cannot give together */
	for (;;) {
		unsigned int bad;

		l = dmapipe_v4l2_source_get_layout(src);
		bad = first_unsuited(encoders, n_encoders, l, why, sizeof(why));
		if (bad == n_encoders) {
			r.importable = true;
			snprintf(r.note, sizeof(r.note), "%s", o.bytesperline ?
				 "the capture buffers have the encoder's layout (asked for)" :
				 "the capture buffers suit the encoder as they are");
			break;
		}
		if (flags & DMAPIPE_V4L2_NO_NEGOTIATE) {
			snprintf(r.note, sizeof(r.note), "not negotiated: %s", why);
			break;
		}
		if (dmapipe_encoder_get_layout(encoders[bad], &l->format, &want) < 0 ||
		    want.n_objects != 1 || o.bytesperline == want.planes[0].stride ||
		    r.reopened > n_encoders) {
			snprintf(r.note, sizeof(r.note),
				 "the device cannot give the encoder's layout: %s", why);
			break;
		}
		add_step(&r, why, o.device, want.planes[0].stride);
		dmapipe_v4l2_source_free(src);
		o.bytesperline = want.planes[0].stride;
		r.bytesperline = o.bytesperline;
		r.reopened++;
		src = dmapipe_v4l2_source_new(&o);
		if (!src)
			break;
	}
out:
	saved = errno;
	if (result)
		*result = r;
	errno = saved;
	return src;
}
