/* SPDX-License-Identifier: MIT */
/*
 * What `dmapipe pipewire` offers PipeWire, as SPA pods: the stream's
 * format translated from DRM fourccs to SPA video formats, the EnumFormat
 * list (docs/PIPEWIRE.md, "Negotiation") and the Buffers parameter that
 * describes the producer's own buffers. Pure: builds pods into the
 * caller's builder, no PipeWire connection, so a unit test can check it.
 */
#ifndef DMAPIPE_PIPEWIRE_FORMAT_H
#define DMAPIPE_PIPEWIRE_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include <spa/pod/builder.h>

#include <dmapipe/dmapipe.h>

/*
 * The SPA video format (enum spa_video_format) with the same bytes in
 * memory as DRM fourcc @fourcc, or 0 (SPA_VIDEO_FORMAT_UNKNOWN) when SPA
 * has none. DRM names packed RGB by the bits of a little-endian word, SPA
 * by the bytes in memory: DRM_FORMAT_XRGB8888 is SPA_VIDEO_FORMAT_BGRx.
 */
uint32_t pipewire_format_from_fourcc(uint32_t fourcc);

/* The DRM fourcc of an SPA video format, the reverse of the above, or 0. */
uint32_t pipewire_format_to_fourcc(uint32_t spa_format);

/*
 * Builds the EnumFormat objects for @format into @b and stores them in
 * @params (at most @max, 2 suffice). With @dmabuf (the producer's buffers
 * are dma-bufs with a linear layout) the first one carries the modifier
 * as a mandatory property, for consumers that import dma-bufs with
 * modifiers (OBS, browsers); the last one never carries one: PipeWire's
 * negotiation for buffers without modifiers (its doc/dma-buf.dox,
 * "v4l2"), which every consumer that maps buffers accepts. @fps_num /
 * @fps_den 0/1 announces a variable frame rate. Returns the number of
 * params, -EINVAL for a fourcc SPA has no name for or a modifier that is
 * not linear, -ENOSPC when @b is too small.
 */
int pipewire_format_enum_params(struct spa_pod_builder *b, const struct dmapipe_format *format,
			  bool dmabuf, uint32_t fps_num, uint32_t fps_den,
			  const struct spa_pod **params, unsigned int max);

/*
 * Whether a negotiated Format object carries the modifier: the consumer
 * took the first EnumFormat (it imports with modifiers).
 */
bool pipewire_format_has_modifier(const struct spa_pod *format);

/*
 * Checks that a negotiated Format object is the stream's @format (raw
 * video, the same SPA format and size). 0 or -EINVAL with *@why set.
 */
int pipewire_format_check(const struct spa_pod *param, const struct dmapipe_format *format,
		    const char **why);

/*
 * The Buffers parameter for a stream of @n_buffers buffers laid out as
 * @layout, each plane one spa_data of @data_type (SPA_DATA_DmaBuf or
 * SPA_DATA_MemFd). PipeWire is asked for @n_buffers, or @min_buffers if
 * that is more, and may make any number up to @max_buffers: several of
 * its buffers may then share the memory of one of the stream's.
 * and the Meta parameter of the header a frame carries (sequence,
 * timestamp, discontinuity). No SPA_META_Busy: with it, PipeWire would
 * keep a buffer for as long as a consumer keeps it (a GStreamer sink keeps
 * its last sample), and those leases would stop a producer that grants
 * two. Returns the number of params stored in @params (at most @max, 2
 * suffice), or -ENOSPC.
 */
int pipewire_format_buffer_params(struct spa_pod_builder *b, const struct dmapipe_layout *layout,
				  uint32_t n_buffers, uint32_t min_buffers, uint32_t max_buffers,
				  uint32_t data_type, const struct spa_pod **params, unsigned int max);

#endif /* DMAPIPE_PIPEWIRE_FORMAT_H */
