/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The recording file format (docs/FORMAT.md): encoders and decoders of the
 * superblock, the frame headers and the index. Pure functions over byte
 * arrays (little-endian on disk), shared by the writer (recorder.c) and the
 * reader (recording.c). No I/O: what touches a file is in io.c.
 */
#ifndef DMAPIPE_STORAGE_CODEC_H
#define DMAPIPE_STORAGE_CODEC_H

#include <stdbool.h>
#include <stdint.h>

#include "dmapipe/record.h"

/*
 * The newest version this library reads and writes, and the oldest it
 * reads (docs/FORMAT.md, "Versions"). A file holds version 3 only when it
 * has packet groups: without them it is written as version 2, which older
 * readers still read.
 */
#define REC_VERSION 3
#define REC_VERSION_PLAIN 2
#define REC_VERSION_MIN 1
/* Every record starts on a block boundary; at least a page. */
#define REC_MIN_BLOCK 4096u
#define REC_MAX_BLOCK (1u << 20)

#define REC_SB_MAGIC "DMPRECSB"
#define REC_FH_MAGIC "DMPRECFH"
#define REC_IX_MAGIC "DMPRECIX"
#define REC_PG_MAGIC "DMPRECPG"

#define REC_SB_SIZE 128u   /* bytes of block 0 that are used */
#define REC_FH_SIZE 512u   /* bytes of a frame header block that are used */
#define REC_LAYOUT_SIZE 192u
#define REC_IX_HEADER_SIZE 64u
#define REC_IX_ENTRY_SIZE 80u
#define REC_PG_ENTRY_SIZE 32u   /* one packet in a group descriptor */
#define REC_PG_TRAILER_SIZE 64u /* the descriptor's last bytes, which end the record */

enum rec_state {
	REC_STATE_RECORDING = 1,
	REC_STATE_CLOSED = 2,
};

enum rec_sb_flags {
	REC_SB_BUFFERED = 1u << 0,
};

struct rec_superblock {
	uint32_t version;
	uint32_t block_size;
	uint8_t id[16];
	uint64_t created_ns;
	uint32_t state;
	uint32_t flags;
	uint64_t index_offset;
	uint64_t index_size;
	uint64_t frame_count;
	uint64_t data_end;
	uint32_t max_frames;
	uint32_t fps_num, fps_den; /* the nominal frame rate the writer was told, 0 if none */
	/*
	 * The rest of what the writer was told of the frames
	 * (dmapipe_format_info), in bytes older writers left zero: 0 is
	 * "unknown" everywhere, so their files need no other version.
	 */
	uint32_t par_num, par_den;
	uint8_t matrix, transfer, primaries, range, chroma_site, interlace, field_order;
};

/* A frame's layout as stored: the layout plus where each object sits. */
struct rec_layout {
	struct dmapipe_layout layout; /* objects[].size = data bytes, fd -1 */
	uint64_t stored[DMAPIPE_MAX_OBJECTS]; /* bytes in the file, block-padded */
};

struct rec_frame_header {
	uint8_t id[16];
	uint64_t offset;      /* the header's own file offset */
	uint64_t record_size; /* header block + payload */
	uint64_t sequence;
	uint64_t timestamp_ns;
	uint64_t durable_end; /* records ending at or below were behind a completed barrier */
	uint32_t frame_flags;
	/* enum dmapipe_recorded_flags: FORMAT_CHANGE and CHECKSUM only */
	uint32_t record_flags;
	uint32_t layout_index;
	struct rec_layout layout;
	uint64_t bytes_used[DMAPIPE_MAX_PLANES];
	uint32_t payload_crc; /* with DMAPIPE_RECORDED_CHECKSUM, else 0 */
};

/*
 * A grouped packet's entry (record flag DMAPIPE_RECORDED_GROUPED) locates
 * its bytes: offset is the packet's first byte in the file (not aligned),
 * record_size its length, which is also bytes_used[0].
 */
struct rec_index_entry {
	uint64_t offset; /* of the frame header, or a grouped packet's bytes */
	uint64_t record_size;
	uint64_t sequence;
	uint64_t timestamp_ns;
	uint32_t frame_flags;
	uint32_t record_flags;
	uint32_t layout_index;
	uint32_t payload_crc; /* with DMAPIPE_RECORDED_CHECKSUM, else 0 */
	uint64_t bytes_used[DMAPIPE_MAX_PLANES];
};

/* One packet of a packet group, as its descriptor lists it. */
struct rec_group_packet {
	uint64_t sequence;
	uint64_t timestamp_ns;
	uint32_t frame_flags;
	uint32_t length; /* bytes, back to back with the group's other packets */
	uint32_t crc;    /* CRC32C of those bytes: always there */
};

/*
 * A packet group (docs/FORMAT.md, "Packet groups"): one record holding
 * the bytes of several packets of a compressed stream, back to back from
 * its first byte, and a descriptor that ends the record: the packets'
 * entries, the layout they share, then a trailer of REC_PG_TRAILER_SIZE
 * bytes ending exactly at the record's end.
 */
struct rec_packet_group {
	uint8_t id[16];
	uint64_t offset;      /* the record's file offset (its first packet's) */
	uint64_t record_size; /* packets + padding + descriptor, a multiple of the block */
	uint64_t durable_end; /* as in frame headers */
	uint32_t n_packets;
	uint32_t layout_index; /* the writer's number for the layout */
	uint32_t payload;      /* sum of the packets' lengths */
	struct rec_layout layout;
	struct rec_group_packet *packets; /* n_packets, the caller's array */
};

/* The bytes of the descriptor of a group of @n_packets. */
uint64_t rec_group_descriptor_size(uint32_t n_packets);
/*
 * Encodes @g's descriptor into @desc, rec_group_descriptor_size() bytes
 * that end the record.
 */
void rec_group_encode(uint8_t *desc, const struct rec_packet_group *g);
/* true if @trailer (the last REC_PG_TRAILER_SIZE bytes of a block) has the group magic */
bool rec_group_trailer_magic(const uint8_t *trailer);
/*
 * Decodes the trailer alone into @g (packets and layout not yet): checks
 * what it can without the rest of the descriptor (sizes, alignment). 0 or
 * -EBADMSG with *why. The descriptor is then rec_group_descriptor_size(
 * g->n_packets) bytes ending at g->offset + g->record_size.
 */
int rec_group_decode_trailer(const uint8_t *trailer, uint32_t block_size,
			     struct rec_packet_group *g, const char **why);
/*
 * Decodes the whole descriptor @desc (as rec_group_decode_trailer() sized
 * it) into @g, whose packets array holds g->n_packets: checksum, layout,
 * every packet's length. 0 or -EBADMSG with *why.
 */
int rec_group_decode(const uint8_t *desc, uint32_t block_size, struct rec_packet_group *g,
		     const char **why);

/*
 * CRC32C of @len bytes, continuing @crc (0 to start). With the CPU's CRC32C
 * instruction where it has one (SSE4.2, ARMv8 CRC), else slicing by 8: the
 * payload checksums cover whole frames.
 */
uint32_t rec_crc32c(uint32_t crc, const void *data, size_t len);

/* Encoders fill @block (zeroed up to the used size first). */
void rec_superblock_encode(uint8_t *block, const struct rec_superblock *sb);
/* 0, -EBADMSG (magic or checksum; *why set) or -EPROTONOSUPPORT (a newer version). */
int rec_superblock_decode(const uint8_t *block, struct rec_superblock *sb, const char **why);

/* Stores @info in @sb: all of it, the rate included (0/0 when unknown). */
void rec_superblock_set_format_info(struct rec_superblock *sb,
				    const struct dmapipe_format_info *info);
/*
 * Fills @info from @sb. A value no dmapipe_format_info holds (an enum
 * beyond this library's, half a fraction, a field order for frames that
 * are not interlaced) reads as unknown, so @info always passes
 * dmapipe_format_info_check(); then returns -EINVAL with *@why naming the
 * first such value, else 0.
 */
int rec_superblock_get_format_info(const struct rec_superblock *sb,
				   struct dmapipe_format_info *info, const char **why);

void rec_frame_header_encode(uint8_t *block, const struct rec_frame_header *fh);
/*
 * 0 or -EBADMSG with *why; checks magic, checksum and internal consistency
 * (a version 1 header is a version 2 header without a payload checksum).
 */
int rec_frame_header_decode(const uint8_t *block, uint32_t block_size,
			    struct rec_frame_header *fh, const char **why);
/* true if @block starts with the frame header magic */
bool rec_frame_header_magic(const uint8_t *block);

void rec_layout_encode(uint8_t *p, const struct rec_layout *l);
int rec_layout_decode(const uint8_t *p, uint32_t block_size, struct rec_layout *l,
		      const char **why);
bool rec_layout_equal(const struct rec_layout *a, const struct rec_layout *b);
/* Sum of stored[]: the payload bytes. */
uint64_t rec_layout_payload(const struct rec_layout *l);

/* Index: header, then n_layouts layouts, then n_frames entries. */
uint64_t rec_index_size(uint32_t n_layouts, uint64_t n_frames);
/*
 * Whether @e (a grouped packet's entry) fits its layout @l: one object
 * and plane at its start, a length of at least one byte that is bytes_used[0] and fits the
 * object, a checksum.
 */
bool rec_index_entry_grouped_ok(const struct rec_index_entry *e, const struct rec_layout *l);
void rec_index_encode_header(uint8_t *p, const uint8_t id[16], uint32_t n_layouts,
			     uint64_t n_frames, uint32_t body_crc);
int rec_index_decode_header(const uint8_t *p, uint8_t id[16], uint32_t *n_layouts,
			    uint64_t *n_frames, uint32_t *body_crc, const char **why);
void rec_index_entry_encode(uint8_t *p, const struct rec_index_entry *e);
/* The index entry of the frame @fh heads (its layout_index as the header says). */
void rec_index_entry_from_header(struct rec_index_entry *e, const struct rec_frame_header *fh);
void rec_index_entry_decode(const uint8_t *p, struct rec_index_entry *e);

#endif /* DMAPIPE_STORAGE_CODEC_H */
