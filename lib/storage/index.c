/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The index of a recording in memory and in the file (docs/FORMAT.md): the
 * recorder builds it while frames complete and writes it when it finishes;
 * recording.c loads it from a closed file, or rebuilds it by a scan and
 * writes it back (repair). One table, one writer, for both.
 */
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "io.h"
#include "index.h"

void rec_index_clear(struct rec_index *ix)
{
	free(ix->layouts);
	free(ix->entries);
	memset(ix, 0, sizeof(*ix));
}

int rec_index_add_layout(struct rec_index *ix, const struct rec_layout *l)
{
	for (uint32_t i = 0; i < ix->n_layouts; i++)
		if (rec_layout_equal(&ix->layouts[i], l))
			return (int)i;
	if (ix->n_layouts == ix->cap_layouts) {
		uint32_t cap = ix->cap_layouts ? ix->cap_layouts * 2 : 4;
		struct rec_layout *n = realloc(ix->layouts, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		ix->layouts = n;
		ix->cap_layouts = cap;
	}
	ix->layouts[ix->n_layouts] = *l;
	return (int)ix->n_layouts++;
}

int rec_index_add_entry(struct rec_index *ix, const struct rec_index_entry *e)
{
	if (ix->n_entries == ix->cap_entries) {
		uint64_t cap = ix->cap_entries ? ix->cap_entries * 2 : 256;
		struct rec_index_entry *n = realloc(ix->entries, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		ix->entries = n;
		ix->cap_entries = cap;
	}
	ix->entries[ix->n_entries++] = *e;
	return 0;
}

int rec_index_read(struct rec_index *ix, int fd, const struct rec_superblock *sb,
		   uint64_t file_size, const char **why)
{
	uint8_t id[16];
	uint32_t n_layouts, body_crc;
	uint64_t n_frames, prev_end = sb->block_size;
	uint8_t *b, *p;
	int ret;

	if (sb->index_offset < sb->block_size || sb->index_offset % sb->block_size ||
	    sb->index_size < REC_IX_HEADER_SIZE || sb->index_size > (UINT64_C(1) << 36)) {
		*why = "the superblock's index offset or size is impossible";
		return -EBADMSG;
	}
	if (sb->index_offset + sb->index_size > file_size) {
		*why = "the index lies past the end of the file (truncated?)";
		return -EBADMSG;
	}
	b = malloc((size_t)sb->index_size);
	if (!b)
		return -ENOMEM;
	ret = storage_pread_full(fd, b, (size_t)sb->index_size, sb->index_offset);
	if (ret < 0) {
		*why = "the index cannot be read";
		goto out;
	}
	ret = rec_index_decode_header(b, id, &n_layouts, &n_frames, &body_crc, why);
	if (ret < 0)
		goto out;
	ret = -EBADMSG;
	if (memcmp(id, sb->id, 16) != 0) {
		*why = "the index belongs to another recording";
		goto out;
	}
	if (n_layouts > 1u << 20 || n_frames > (UINT64_C(1) << 32) ||
	    rec_index_size(n_layouts, n_frames) != sb->index_size ||
	    n_frames != sb->frame_count) {
		*why = "the index's counts do not match its size or the superblock";
		goto out;
	}
	if (rec_crc32c(0, b + REC_IX_HEADER_SIZE, sb->index_size - REC_IX_HEADER_SIZE) != body_crc) {
		*why = "the index's checksum does not match";
		goto out;
	}
	p = b + REC_IX_HEADER_SIZE;
	/* as stored, even two equal layouts: the entries name them by position */
	ix->layouts = calloc(n_layouts ? n_layouts : 1, sizeof(*ix->layouts));
	if (!ix->layouts) {
		ret = -ENOMEM;
		goto out;
	}
	ix->cap_layouts = n_layouts ? n_layouts : 1;
	for (uint32_t i = 0; i < n_layouts; i++, p += REC_LAYOUT_SIZE) {
		ret = rec_layout_decode(p, sb->block_size, &ix->layouts[i], why);
		if (ret < 0)
			goto out;
		ix->n_layouts++;
	}
	ret = -EBADMSG;
	for (uint64_t i = 0; i < n_frames; i++, p += REC_IX_ENTRY_SIZE) {
		struct rec_index_entry e;

		rec_index_entry_decode(p, &e);
		if (e.layout_index >= n_layouts || e.offset < prev_end ||
		    e.offset + e.record_size > sb->index_offset ||
		    !(e.record_flags & DMAPIPE_RECORDED_GROUPED ?
		      sb->version >= 3 && rec_index_entry_grouped_ok(&e, &ix->layouts[e.layout_index]) :
		      e.offset % sb->block_size == 0 &&
		      e.record_size == sb->block_size +
				       rec_layout_payload(&ix->layouts[e.layout_index]))) {
			*why = "an index entry is out of order, overlaps or does not match its layout";
			goto out;
		}
		prev_end = e.offset + e.record_size;
		if (rec_index_add_entry(ix, &e) < 0) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = 0;
out:
	free(b);
	return ret;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct rec_index_entry *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* @size bytes of zeros aligned for O_DIRECT, or NULL. */
static uint8_t *aligned_zeros(uint64_t size, uint32_t mem_align)
{
	void *b = NULL;

	if (size > SIZE_MAX ||
	    posix_memalign(&b, MAX(mem_align, (uint32_t)dmapipe_page_size()), (size_t)size))
		return NULL;
	memset(b, 0, (size_t)size);
	return b;
}

int64_t rec_index_write(struct rec_index *ix, int fd, const uint8_t id[16], uint64_t offset,
			uint32_t block, uint32_t mem_align)
{
	uint64_t size = rec_index_size(ix->n_layouts, ix->n_entries);
	uint64_t padded = ALIGN_UP(size, (uint64_t)block);
	uint8_t *b, *p;
	int ret;

	if (padded > SIZE_MAX)
		return -EFBIG;
	b = aligned_zeros(padded, mem_align);
	if (!b)
		return -ENOMEM;
	/* completions come in any order; the index lists frames in file order */
	if (ix->n_entries > 1)
		qsort(ix->entries, ix->n_entries, sizeof(*ix->entries), cmp_entry);
	p = b + REC_IX_HEADER_SIZE;
	for (uint32_t i = 0; i < ix->n_layouts; i++, p += REC_LAYOUT_SIZE)
		rec_layout_encode(p, &ix->layouts[i]);
	for (uint64_t i = 0; i < ix->n_entries; i++, p += REC_IX_ENTRY_SIZE)
		rec_index_entry_encode(p, &ix->entries[i]);
	rec_index_encode_header(b, id, ix->n_layouts, ix->n_entries,
				rec_crc32c(0, b + REC_IX_HEADER_SIZE, size - REC_IX_HEADER_SIZE));
	ret = storage_pwrite_full(fd, b, (size_t)padded, offset);
	free(b);
	return ret < 0 ? ret : (int64_t)size;
}

int rec_superblock_write(int fd, const struct rec_superblock *sb, uint32_t mem_align)
{
	uint8_t *b = aligned_zeros(sb->block_size, mem_align);
	int ret;

	if (!b)
		return -ENOMEM;
	rec_superblock_encode(b, sb);
	ret = storage_pwrite_full(fd, b, sb->block_size, 0);
	free(b);
	return ret;
}
