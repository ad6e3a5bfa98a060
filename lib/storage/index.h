/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The index of a recording in memory (index.c): its distinct layouts and
 * one entry per frame, as the recorder builds it, a scan recovers it or a
 * closed file's index loads it; and putting it, and the superblock that
 * points at it, into the file. The bytes themselves are codec.c's.
 */
#ifndef DMAPIPE_STORAGE_INDEX_H
#define DMAPIPE_STORAGE_INDEX_H

#include "codec.h"

struct rec_index {
	struct rec_layout *layouts;
	uint32_t n_layouts, cap_layouts;
	struct rec_index_entry *entries;
	uint64_t n_entries, cap_entries;
};

/* Frees the tables; @ix is then empty and can be filled again. */
void rec_index_clear(struct rec_index *ix);
/* The number of layout @l in the table, added if it is new: >= 0, or -ENOMEM. */
int rec_index_add_layout(struct rec_index *ix, const struct rec_layout *l);
/* Appends @e: 0 or -ENOMEM. */
int rec_index_add_entry(struct rec_index *ix, const struct rec_index_entry *e);

/*
 * Reads the index @sb points at from @fd (a file of @file_size bytes) into
 * the empty @ix, checking every count, checksum and entry against the
 * superblock. Returns 0; -EBADMSG with *why; -ENOMEM; or the read error
 * (*why set). @ix may hold part of the index after an error.
 */
int rec_index_read(struct rec_index *ix, int fd, const struct rec_superblock *sb,
		   uint64_t file_size, const char **why);

/*
 * Writes @ix (its entries sorted by offset first) at @offset of @fd for
 * the recording @id, padded to @block with zeros, from memory aligned to
 * @mem_align (and a page) so that an O_DIRECT @fd takes it. Returns the
 * index's size without the padding, or -errno.
 */
int64_t rec_index_write(struct rec_index *ix, int fd, const uint8_t id[16], uint64_t offset,
			uint32_t block, uint32_t mem_align);

/*
 * Writes @sb as block 0 of @fd (sb->block_size bytes: the superblock, then
 * zeros), from memory aligned as rec_index_write()'s. 0 or -errno.
 */
int rec_superblock_write(int fd, const struct rec_superblock *sb, uint32_t mem_align);

#endif /* DMAPIPE_STORAGE_INDEX_H */
