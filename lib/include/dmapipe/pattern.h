/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The deterministic test pattern (docs/PATTERN.md): frame content is a pure
 * function of (format, sequence number), so any consumer -- a process, a
 * GStreamer element, the kernel's virtual capture driver -- produces or
 * verifies it bit for bit.
 */
#ifndef DMAPIPE_PATTERN_H
#define DMAPIPE_PATTERN_H

#include <stdint.h>

#include <dmapipe/format.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmapipe_buffer;

/**
 * Draws frame @sequence into the caller's memory at @planes (one pointer per
 * plane of @layout, with the layout's strides; bytes between a row's end
 * and its stride are not written). Returns 0, -EINVAL for NULL, a missing
 * plane or a format the pattern does not define (linear only), or -ENOMEM.
 * Since 0.1.
 */
int dmapipe_pattern_draw(const struct dmapipe_layout *layout, uint8_t *const planes[],
			 uint64_t sequence);

/**
 * Verifies that the planes hold frame @sequence; they are only read.
 * Returns 0 if every byte matches, -EILSEQ if not (with *bad_plane /
 * *bad_offset, when not NULL, set to the first differing byte), -EINVAL as
 * for dmapipe_pattern_draw(), or -ENOMEM. Bytes between the end of a row
 * and the stride are not checked. Since 0.1.
 */
int dmapipe_pattern_check(const struct dmapipe_layout *layout, uint8_t *const planes[],
			  uint64_t sequence, unsigned int *bad_plane, uint64_t *bad_offset);

/**
 * Reads only the stamp: the first 16 bytes of plane 0's first row hold the
 * sequence number and its complement (docs/PATTERN.md), so a consumer can
 * learn which frame it holds without reading the rest. Returns 0 and sets
 * *sequence, -EILSEQ if the stamp is damaged, -EINVAL if the first row is
 * shorter than 16 bytes. Since 0.1.
 */
int dmapipe_pattern_read_stamp(const struct dmapipe_layout *layout, uint8_t *const planes[],
			       uint64_t *sequence);

/**
 * dmapipe_pattern_draw() into @buffer: maps it (once, see
 * dmapipe_buffer_map_plane()) and draws between begin and end of CPU write
 * access. The buffer stays the caller's. Returns 0, -EINVAL, or -errno of
 * mapping, CPU access or drawing. Since 0.1.
 */
int dmapipe_buffer_draw_pattern(struct dmapipe_buffer *buffer, uint64_t sequence);

/**
 * dmapipe_pattern_check() of @buffer, between begin and end of CPU read
 * access; where it differs is logged at debug level. Returns 0, -EILSEQ if
 * it does not hold frame @sequence, -EINVAL, or -errno of mapping or CPU
 * access. Since 0.1.
 */
int dmapipe_buffer_check_pattern(struct dmapipe_buffer *buffer, uint64_t sequence);

#ifdef __cplusplus
}
#endif

#endif /* DMAPIPE_PATTERN_H */
