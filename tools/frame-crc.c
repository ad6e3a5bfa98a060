/* SPDX-License-Identifier: MIT */
/*
 * CRC-32 of a frame's visible bytes, to compare frames that are not the
 * test pattern (play --hash-log, the benches and tests that check a
 * frame went through unchanged). Part of tool_common (dmapipe-tool.h).
 */
#include <errno.h>

#include "dmapipe-tool.h"

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t len)
{
	static uint32_t table[256];

	if (!table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

int layout_crc32(const struct dmapipe_layout *layout, uint8_t *const planes[], uint32_t *crc)
{
	struct dmapipe_layout packed;
	uint32_t c = 0;

	if (layout->format.modifier != DMAPIPE_MOD_LINEAR ||
	    dmapipe_layout_init(&packed, &layout->format, 1) < 0 ||
	    packed.n_planes != layout->n_planes)
		return -ENOTSUP;
	for (unsigned int p = 0; p < layout->n_planes; p++) {
		uint64_t row = packed.planes[p].stride;
		uint64_t rows = dmapipe_layout_plane_size(&packed, p) / row;

		for (uint64_t y = 0; y < rows; y++)
			c = crc_update(c, planes[p] + y * layout->planes[p].stride, (size_t)row);
	}
	*crc = c;
	return 0;
}

int frame_crc32(struct dmapipe_buffer *buffer, uint32_t *crc)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(buffer);
	uint8_t *planes[DMAPIPE_MAX_PLANES] = { NULL };
	int ret;

	for (unsigned int p = 0; p < l->n_planes; p++) {
		planes[p] = dmapipe_buffer_map_plane(buffer, p);
		if (!planes[p])
			return -errno;
	}
	ret = dmapipe_buffer_begin_cpu_access(buffer, DMAPIPE_ACCESS_READ);
	if (ret < 0)
		return ret;
	ret = layout_crc32(l, planes, crc);
	dmapipe_buffer_end_cpu_access(buffer, DMAPIPE_ACCESS_READ);
	return ret;
}
