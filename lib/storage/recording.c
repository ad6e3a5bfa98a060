/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading recordings (docs/FORMAT.md): through the index of a closed file,
 * or by scanning a file whose writer did not finish, and writing the index
 * back on request (repair).
 *
 * Two descriptors: metadata (superblock, index, the scan) is read through
 * the page cache, so it needs no alignment; frames are read with O_DIRECT
 * straight into the caller's memory or a buffer's mapping.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "private.h"
#include "io.h"
#include "codec.h"
#include "index.h"

#define SCAN_WINDOW (UINT64_C(4) << 20)

struct dmapipe_recording {
	int fd;  /* metadata, through the page cache; O_RDWR for a repair */
	int dfd; /* frames: O_DIRECT, or a duplicate of fd */
	char *path;
	struct rec_superblock sb;
	struct dmapipe_recording_info info;
	struct dmapipe_format_info format_info; /* the superblock's, values it cannot hold unknown */
	struct storage_paths paths; /* for dmapipe_recording_read_frame_to_buffer() */
	struct rec_index ix;

	/* scan window */
	uint8_t *win;
	uint64_t win_off, win_len;
};

/* ---- scan ------------------------------------------------------------------------- */

/* A pointer to the block at @off, reading a window (large when @sequential). */
static const uint8_t *scan_block(struct dmapipe_recording *r, uint64_t off, bool sequential,
				 int *err)
{
	uint32_t block = r->sb.block_size;
	uint64_t len;
	int ret;

	if (off >= r->win_off && off + block <= r->win_off + r->win_len)
		return r->win + (off - r->win_off);
	len = sequential ? SCAN_WINDOW : block;
	if (off + len > r->info.file_size)
		len = (r->info.file_size - off) / block * block;
	ret = storage_pread_full(r->fd, r->win, (size_t)len, off);
	if (ret < 0) {
		*err = ret;
		r->win_len = 0;
		return NULL;
	}
	r->win_off = off;
	r->win_len = len;
	return r->win;
}

/* Larger than any group a writer makes (gather_bytes is at most 256 MiB). */
#define SCAN_MAX_GROUP (UINT64_C(512) << 20)

/*
 * The packets of the packet group whose trailer @t ends the block at @pos
 * go into the scan's index, each only if its bytes match its checksum:
 * a write cut short, or split by the kernel and partly done, leaves
 * packets that do not. Returns 0 when the group was taken, 1 when it is
 * not a usable group (logged and counted as a bad header: the scan goes
 * on), or -errno.
 */
static int scan_group(struct dmapipe_recording *r, uint64_t pos, const uint8_t *t,
		      uint64_t *durable)
{
	uint32_t block = r->sb.block_size;
	uint64_t end = pos + block, dsize, off;
	struct rec_packet_group g = { 0 };
	uint8_t *desc = NULL, *payload = NULL;
	const char *why = NULL;
	int idx, ret = 1;

	if (rec_group_decode_trailer(t, block, &g, &why) < 0)
		goto bad;
	why = memcmp(g.id, r->sb.id, 16) != 0 ? "it belongs to another recording" :
	      g.offset + g.record_size != end ? "it names another place" :
	      g.record_size > SCAN_MAX_GROUP ? "it is larger than any writer makes" : NULL;
	if (why)
		goto bad;
	/* a frame header found inside the group's bytes was its payload, not a record */
	while (r->ix.n_entries && r->ix.entries[r->ix.n_entries - 1].offset >= g.offset)
		r->ix.n_entries--;
	if (r->ix.n_entries) {
		const struct rec_index_entry *e = &r->ix.entries[r->ix.n_entries - 1];

		if (e->offset + e->record_size > g.offset) {
			why = "it overlaps the record before";
			goto bad;
		}
	}
	dsize = rec_group_descriptor_size(g.n_packets);
	desc = malloc((size_t)dsize);
	g.packets = calloc(g.n_packets, sizeof(*g.packets));
	payload = malloc(g.payload ? g.payload : 1);
	if (!desc || !g.packets || !payload) {
		ret = -ENOMEM;
		goto out;
	}
	ret = storage_pread_full(r->fd, desc, (size_t)dsize, end - dsize);
	if (ret < 0)
		goto out;
	ret = 1;
	if (rec_group_decode(desc, block, &g, &why) < 0)
		goto bad;
	ret = storage_pread_full(r->fd, payload, g.payload, g.offset);
	if (ret < 0)
		goto out;
	idx = rec_index_add_layout(&r->ix, &g.layout);
	if (idx < 0) {
		ret = idx;
		goto out;
	}
	off = 0;
	for (uint32_t i = 0; i < g.n_packets; i++) {
		const struct rec_group_packet *k = &g.packets[i];
		struct rec_index_entry e = {
			.offset = g.offset + off,
			.record_size = k->length,
			.sequence = k->sequence,
			.timestamp_ns = k->timestamp_ns,
			.frame_flags = k->frame_flags,
			.record_flags = DMAPIPE_RECORDED_GROUPED | DMAPIPE_RECORDED_CHECKSUM,
			.layout_index = (uint32_t)idx,
			.payload_crc = k->crc,
			.bytes_used = { k->length },
		};

		if (rec_crc32c(0, payload + off, k->length) != k->crc) {
			log_warn("recording: packet %llu of the packet group at %llu does not match "
				 "its checksum (a write cut short, or damage): left out",
				 (unsigned long long)k->sequence, (unsigned long long)g.offset);
			r->info.packets_damaged++;
		} else if (rec_index_add_entry(&r->ix, &e) < 0) {
			ret = -ENOMEM;
			goto out;
		}
		off += k->length;
	}
	*durable = MAX(*durable, g.durable_end);
	r->info.data_end = end;
	ret = 0;
	goto out;
bad:
	log_warn("recording: block at %llu ends like a packet group descriptor but %s: "
		 "group skipped", (unsigned long long)pos, why);
	r->info.bad_headers++;
out:
	free(desc);
	free(g.packets);
	free(payload);
	return ret;
}

static int scan(struct dmapipe_recording *r)
{
	uint32_t block = r->sb.block_size;
	uint64_t pos = block, durable = 0, end = r->info.file_size;
	bool sequential = false;
	int err = 0;

	rec_index_clear(&r->ix);
	r->info.bad_headers = 0;
	r->info.data_end = block;
	if (!r->win) {
		r->win = malloc(SCAN_WINDOW);
		if (!r->win)
			return -ENOMEM;
	}
	r->win_len = 0;
	while (pos + block <= end) {
		const uint8_t *b = scan_block(r, pos, sequential, &err);
		struct rec_frame_header fh;
		const char *why = NULL;
		struct rec_index_entry e;
		int idx;

		if (!b)
			return err;
		if (!rec_frame_header_magic(b)) {
			/* a packet group is found by its descriptor, which ends its last block */
			if (rec_group_trailer_magic(b + block - REC_PG_TRAILER_SIZE)) {
				int ret = scan_group(r, pos, b + block - REC_PG_TRAILER_SIZE,
						     &durable);

				if (ret < 0)
					return ret;
			}
			pos += block;
			sequential = true;
			continue;
		}
		if (rec_frame_header_decode(b, block, &fh, &why) < 0 ||
		    memcmp(fh.id, r->sb.id, 16) != 0 || fh.offset != pos ||
		    fh.record_size > end - pos) {
			if (!why)
				why = memcmp(fh.id, r->sb.id, 16) != 0 ?
				      "header of another recording" :
				      fh.offset != pos ? "header names another offset" :
				      "record runs past the end of the file";
			log_debug("recording: block at %llu looks like a frame header but %s",
				  (unsigned long long)pos, why);
			r->info.bad_headers++;
			pos += block;
			sequential = true;
			continue;
		}
		/* the scan's own layout table: the header's number is the writer's */
		idx = rec_index_add_layout(&r->ix, &fh.layout);
		if (idx < 0)
			return idx;
		rec_index_entry_from_header(&e, &fh);
		e.layout_index = (uint32_t)idx;
		if (rec_index_add_entry(&r->ix, &e) < 0)
			return -ENOMEM;
		durable = MAX(durable, fh.durable_end);
		pos += fh.record_size;
		r->info.data_end = pos;
		sequential = false;
	}
	/* a writer that closed the file synced everything first: all of it is durable */
	if (r->sb.state == REC_STATE_CLOSED)
		durable = UINT64_MAX;
	/* format changes and the power-loss horizon, in file order */
	for (uint64_t i = 0; i < r->ix.n_entries; i++) {
		struct rec_index_entry *e = &r->ix.entries[i];

		/* the header's own flag stays; the others follow from the scan */
		e->record_flags &= DMAPIPE_RECORDED_CHECKSUM | DMAPIPE_RECORDED_GROUPED;
		if (i == 0 || e->layout_index != r->ix.entries[i - 1].layout_index)
			e->record_flags |= DMAPIPE_RECORDED_FORMAT_CHANGE;
		if (e->offset + e->record_size > durable) {
			e->record_flags |= DMAPIPE_RECORDED_UNCONFIRMED;
			r->info.unconfirmed++;
		}
	}
	r->info.scanned = true;
	return 0;
}

/*
 * The superblock is unusable (DMAPIPE_RECORDING_SCAN or _REPAIR asked for a
 * scan anyway): the recording's id and block size come from its first
 * frame header that checks out. Headers start on blocks of at least
 * REC_MIN_BLOCK, so candidates are visited at that step; the block size is
 * the largest power of two the header's own offset allows that decodes it
 * (the first record lies at one block, so it is exact there). 0, -EBADMSG
 * when no header is found (*why set), or the read error.
 */
static int recover_superblock(struct dmapipe_recording *r, const char **why)
{
	uint8_t *b = NULL;
	uint64_t off, len;
	int ret = -EBADMSG;

	b = malloc(SCAN_WINDOW);
	if (!b)
		return -ENOMEM;
	*why = "no frame header found either";
	for (off = REC_MIN_BLOCK; off + REC_MIN_BLOCK <= r->info.file_size; off += len) {
		len = MIN(SCAN_WINDOW, (r->info.file_size - off) / REC_MIN_BLOCK * REC_MIN_BLOCK);
		ret = storage_pread_full(r->fd, b, (size_t)len, off);
		if (ret < 0)
			break;
		ret = -EBADMSG;
		for (uint64_t k = 0; k < len; k += REC_MIN_BLOCK) {
			uint64_t pos = off + k;

			if (!rec_frame_header_magic(b + k))
				continue;
			for (uint32_t block = REC_MAX_BLOCK; block >= REC_MIN_BLOCK; block /= 2) {
				struct rec_frame_header fh;

				if (pos % block ||
				    rec_frame_header_decode(b + k, block, &fh, NULL) < 0 ||
				    fh.offset != pos)
					continue;
				memset(&r->sb, 0, sizeof(r->sb));
				r->sb.version = REC_VERSION;
				r->sb.block_size = block;
				memcpy(r->sb.id, fh.id, sizeof(r->sb.id));
				r->sb.state = REC_STATE_RECORDING;
				ret = 0;
				goto out;
			}
		}
	}
out:
	free(b);
	return ret;
}

/* Writes the scanned index back and marks the file closed. */
static int repair(struct dmapipe_recording *r)
{
	struct rec_superblock sb = r->sb;
	uint64_t off = r->info.data_end, end;
	int64_t size;
	int ret;

	/* the index first, durable, then the superblock that points at it */
	size = rec_index_write(&r->ix, r->fd, sb.id, off, sb.block_size, 1);
	if (size < 0)
		return (int)size;
	end = off + ALIGN_UP((uint64_t)size, (uint64_t)sb.block_size);
	if (ftruncate(r->fd, (off_t)end) < 0 || fdatasync(r->fd) < 0)
		return -errno;
	/*
	 * the index was written in this library's version: the superblock
	 * says so, 3 only if it has packet groups (older readers read the rest)
	 */
	sb.version = REC_VERSION_PLAIN;
	for (uint64_t i = 0; i < r->ix.n_entries; i++)
		if (r->ix.entries[i].record_flags & DMAPIPE_RECORDED_GROUPED)
			sb.version = REC_VERSION;
	sb.state = REC_STATE_CLOSED;
	sb.index_offset = off;
	sb.index_size = (uint64_t)size;
	sb.frame_count = r->ix.n_entries;
	sb.data_end = off;
	ret = rec_superblock_write(r->fd, &sb, 1);
	if (ret == 0 && fdatasync(r->fd) < 0)
		ret = -errno;
	if (ret == 0) {
		r->sb = sb;
		r->info.file_size = end;
		r->info.repaired = true;
	}
	return ret;
}

/* ---- public ---------------------------------------------------------------------- */

DMAPIPE_EXPORT void dmapipe_recording_close(struct dmapipe_recording *r)
{
	if (!r)
		return;
	if (r->dfd != r->fd)
		dmapipe_close(r->dfd);
	dmapipe_close(r->fd);
	rec_index_clear(&r->ix);
	free(r->win);
	free(r->path);
	free(r);
}

static struct dmapipe_recording *open_fail(struct dmapipe_recording *r, int err)
{
	dmapipe_recording_close(r);
	errno = err;
	return NULL;
}

DMAPIPE_EXPORT struct dmapipe_recording *dmapipe_recording_open(const char *path, uint32_t flags)
{
	struct dmapipe_recording *r;
	uint8_t sbb[REC_SB_SIZE];
	const char *why = NULL;
	uint32_t off_align = 0, mem_align = 0;
	struct stat st;
	int ret;

	if (!path || (flags & ~(uint32_t)(DMAPIPE_RECORDING_SCAN | DMAPIPE_RECORDING_REPAIR |
					  DMAPIPE_RECORDING_BUFFERED))) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	r->fd = r->dfd = -1;
	r->path = strdup(path);
	if (!r->path)
		return open_fail(r, ENOMEM);
	r->fd = open(path, (flags & DMAPIPE_RECORDING_REPAIR ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (r->fd < 0) {
		ret = errno;
		log_warn("recording: cannot open %s: %s", path, strerror(ret));
		return open_fail(r, ret);
	}
	if (fstat(r->fd, &st) < 0)
		return open_fail(r, errno);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		log_warn("recording: %s is not a regular file", path);
		return open_fail(r, EBADMSG);
	}
	r->info.file_size = (uint64_t)st.st_size;
	if (r->info.file_size < REC_MIN_BLOCK) {
		log_warn("recording: %s is not a dmapipe recording: %llu bytes, shorter than "
			 "a superblock", path, (unsigned long long)r->info.file_size);
		return open_fail(r, EBADMSG);
	}
	ret = storage_pread_full(r->fd, sbb, sizeof(sbb), 0);
	if (ret < 0)
		return open_fail(r, -ret);
	ret = rec_superblock_decode(sbb, &r->sb, &why);
	if (ret == -EBADMSG && (flags & (DMAPIPE_RECORDING_SCAN | DMAPIPE_RECORDING_REPAIR))) {
		const char *sb_why = why;

		ret = recover_superblock(r, &why);
		if (ret == 0) {
			log_warn("recording: %s: its superblock is damaged (%s): recovered the "
				 "recording from its frame headers (block %u)", path, sb_why,
				 r->sb.block_size);
			r->info.damage |= DMAPIPE_RECORDING_SUPERBLOCK_DAMAGED;
		} else if (ret == -EBADMSG) {
			log_warn("recording: %s is not a usable dmapipe recording: %s, and %s",
				 path, sb_why, why);
		}
	} else if (ret == -EBADMSG) {
		log_warn("recording: %s is not a usable dmapipe recording: %s (if it was one "
			 "whose first block was damaged, dmapipe record --repair recovers it from "
			 "its frame headers)", path, why);
	} else if (ret < 0) {
		log_warn("recording: %s is not a usable dmapipe recording: %s", path, why);
	}
	if (ret < 0)
		return open_fail(r, -ret);
	r->info.block_size = r->sb.block_size;
	r->info.created_ns = r->sb.created_ns;
	r->info.version = r->sb.version;
	/*
	 * A value no dmapipe_format_info holds (a newer writer's enum, or
	 * damage the checksum missed) costs only that value, not the frames.
	 */
	if (rec_superblock_get_format_info(&r->sb, &r->format_info, &why) < 0)
		log_warn("recording: %s: format info: %s, read as unknown", path, why);
	r->info.fps_num = r->format_info.fps_num;
	r->info.fps_den = r->format_info.fps_num ? r->format_info.fps_den : 0;
	memcpy(r->info.id, r->sb.id, 16);

	ret = -EAGAIN;
	if (r->sb.state == REC_STATE_CLOSED && !(flags & DMAPIPE_RECORDING_SCAN)) {
		ret = rec_index_read(&r->ix, r->fd, &r->sb, r->info.file_size, &why);
		if (ret == -ENOMEM)
			return open_fail(r, ENOMEM);
		if (ret == 0)
			r->info.data_end = r->sb.index_offset;
		if (ret < 0) {
			/* its writer closed it: what the index no longer shows is lost or damaged */
			r->info.frames_expected = r->sb.frame_count;
			r->info.damage |= r->sb.index_offset + r->sb.index_size > r->info.file_size ?
					  DMAPIPE_RECORDING_TRUNCATED : DMAPIPE_RECORDING_INDEX_DAMAGED;
			log_warn("recording: %s: the index is damaged (%s): scanning the file "
				 "instead", path, why);
		} else {
			r->info.closed = true;
		}
	} else if (r->sb.state != REC_STATE_CLOSED) {
		log_info("recording: %s was not closed by its writer: scanning it", path);
	}
	if (ret < 0) {
		ret = scan(r);
		if (ret < 0) {
			log_warn("recording: %s: scanning failed: %s", path, strerror(-ret));
			return open_fail(r, -ret);
		}
		log_info("recording: %s: %llu frames recovered by a scan (%llu unconfirmed, "
			 "%llu damaged headers)", path, (unsigned long long)r->ix.n_entries,
			 (unsigned long long)r->info.unconfirmed,
			 (unsigned long long)r->info.bad_headers);
		if (flags & DMAPIPE_RECORDING_REPAIR) {
			ret = repair(r);
			if (ret < 0) {
				log_warn("recording: %s: writing the index back failed: %s", path,
					 strerror(-ret));
				return open_fail(r, -ret);
			}
		}
	}
	free(r->win);
	r->win = NULL;
	r->info.frames = r->ix.n_entries;
	r->info.layouts = r->ix.n_layouts;
	if (r->info.frames_expected < r->info.frames)
		r->info.frames_expected = r->info.frames;

	/* frames: O_DIRECT where the file system allows it */
	if (!(flags & DMAPIPE_RECORDING_BUFFERED))
		r->dfd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECT);
	if (r->dfd >= 0) {
		storage_dio_alignment(r->dfd, &off_align, &mem_align);
		if (off_align == 0 || off_align > r->sb.block_size) {
			/* the file moved to a file system with coarser alignment */
			close(r->dfd);
			r->dfd = -1;
		}
	}
	if (r->dfd >= 0) {
		r->info.direct = true;
		r->info.mem_align = MAX(mem_align, 1u);
	} else {
		r->dfd = r->fd;
		r->info.mem_align = 1;
	}
	storage_paths_init(&r->paths, "recording", false, r->info.direct);
	return r;
}

DMAPIPE_EXPORT void dmapipe_recording_get_info(const struct dmapipe_recording *r,
					       struct dmapipe_recording_info *info)
{
	if (!r || !info)
		return;
	*info = r->info;
}

DMAPIPE_EXPORT int dmapipe_recording_get_format_info(const struct dmapipe_recording *r,
						     struct dmapipe_format_info *info)
{
	if (!r || !info)
		return -EINVAL;
	*info = r->format_info;
	return 0;
}

DMAPIPE_EXPORT int dmapipe_recording_get_frame(const struct dmapipe_recording *r, uint64_t index,
					       struct dmapipe_recorded_frame *frame)
{
	const struct rec_index_entry *e;
	const struct rec_layout *l;
	uint64_t pos = 0;

	if (!r || !frame)
		return -EINVAL;
	if (index >= r->ix.n_entries)
		return -ERANGE;
	e = &r->ix.entries[index];
	l = &r->ix.layouts[e->layout_index];
	memset(frame, 0, sizeof(*frame));
	frame->layout = l->layout;
	if (e->record_flags & DMAPIPE_RECORDED_GROUPED) {
		/* the packet's bytes exactly; the layout is its buffer's */
		frame->offset = e->offset;
		frame->size = e->record_size;
	} else {
		frame->offset = e->offset + r->sb.block_size;
		frame->size = e->record_size - r->sb.block_size;
		for (unsigned int i = 0; i < l->layout.n_objects; i++) {
			frame->object_offset[i] = pos;
			pos += l->stored[i];
		}
	}
	dmapipe_frame_meta_init(&frame->meta);
	frame->meta.sequence = e->sequence;
	frame->meta.timestamp_ns = e->timestamp_ns;
	frame->meta.flags = e->frame_flags;
	memcpy(frame->meta.bytes_used, e->bytes_used, sizeof(e->bytes_used));
	frame->flags = e->record_flags;
	frame->layout_index = e->layout_index;
	frame->checksum = e->record_flags & DMAPIPE_RECORDED_CHECKSUM ? e->payload_crc : 0;
	return 0;
}

DMAPIPE_EXPORT int dmapipe_recording_check_payload(const struct dmapipe_recording *r,
						   uint64_t index, const void *payload,
						   size_t len)
{
	struct dmapipe_recorded_frame f;
	const uint8_t *p = payload;
	uint32_t crc = 0;
	int ret;

	if (!r || !payload)
		return -EINVAL;
	ret = dmapipe_recording_get_frame(r, index, &f);
	if (ret < 0)
		return ret;
	if (len < f.size)
		return -EINVAL;
	if (!(f.flags & DMAPIPE_RECORDED_CHECKSUM))
		return -ENODATA;
	if (f.flags & DMAPIPE_RECORDED_GROUPED)
		return rec_crc32c(0, p, (size_t)f.size) == f.checksum ? 0 : -EBADMSG;
	for (unsigned int i = 0; i < f.layout.n_objects; i++)
		crc = rec_crc32c(crc, p + f.object_offset[i], (size_t)f.layout.objects[i].size);
	return crc == f.checksum ? 0 : -EBADMSG;
}

void rec_recording_fds(const struct dmapipe_recording *r, int *dfd, int *fd)
{
	*dfd = r->dfd;
	*fd = r->fd;
}

static int read_at(struct dmapipe_recording *r, void *dst, uint64_t len, uint64_t off)
{
	int ret;

	if (len > SIZE_MAX)
		return -EINVAL;
	ret = storage_pread_full(r->dfd, dst, (size_t)len, off);
	if (ret == -EINVAL && r->dfd != r->fd) {
		/* this memory or length does not suit O_DIRECT here: the page cache does */
		log_debug("recording: O_DIRECT read refused, reading through the page cache");
		ret = storage_pread_full(r->fd, dst, (size_t)len, off);
	}
	return ret;
}

DMAPIPE_EXPORT int dmapipe_recording_read_frame(struct dmapipe_recording *r, uint64_t index,
						void *dst, size_t len)
{
	struct dmapipe_recorded_frame f;
	int ret;

	if (!r || !dst)
		return -EINVAL;
	ret = dmapipe_recording_get_frame(r, index, &f);
	if (ret < 0)
		return ret;
	if (len < f.size || (uintptr_t)dst % r->info.mem_align)
		return -EINVAL;
	if (f.flags & DMAPIPE_RECORDED_GROUPED) {
		/*
		 * A packet at no particular alignment, a few KiB: through the
		 * page cache, and checked, since a group's write may have
		 * been cut short in the middle of it.
		 */
		ret = storage_pread_full(r->fd, dst, (size_t)f.size, f.offset);
		if (ret == 0 && rec_crc32c(0, dst, (size_t)f.size) != f.checksum)
			ret = -EBADMSG;
		return ret;
	}
	return read_at(r, dst, f.size, f.offset);
}

/*
 * Object @i of frame @f into @buffer: straight into its mapping along the
 * path the object's history allows (the reader's paths, one at a time),
 * and the rest -- a tail past the mapping, or all of it on the COPY path --
 * through aligned memory and a counted copy.
 */
static int read_object(struct dmapipe_recording *r, const struct dmapipe_recorded_frame *f,
		       struct dmapipe_buffer *buffer, unsigned int i)
{
	const struct dmapipe_object *obj = &buffer->layout.objects[i];
	enum dmapipe_record_path path = storage_path_pick(&r->paths, obj);
	uint32_t block = r->sb.block_size;
	uint64_t data = f->layout.objects[i].size;
	uint64_t stored = ALIGN_UP(data, (uint64_t)block);
	uint64_t body = storage_direct_span(data, block, MIN(buffer->map_size[i], obj->size));
	uint64_t off = f->offset + f->object_offset[i];
	uint8_t *map = buffer->map[i];
	uint8_t *tmp = NULL;
	int ret;

	if (body && (path == DMAPIPE_RECORD_PATH_DIRECT || path == DMAPIPE_RECORD_PATH_BUFFERED)) {
		/* a udmabuf's memfd takes the DMA where its own mapping cannot */
		uint8_t *dst = dmapipe_buffer_direct_io_map(buffer, i);

		ret = read_at(r, dst ? dst : map, body, off);
		if (ret == -EFAULT)
			path = storage_path_fault(&r->paths, obj);
		else if (ret < 0)
			return ret;
	}
	if (body && path == DMAPIPE_RECORD_PATH_KMOD) {
		/* a PFN mapping: dmapipe.ko reads into its own pages */
		ret = storage_path_kmod(&r->paths, buffer, i, 0, body, r->dfd, off);
		if (ret == -EXDEV)
			path = DMAPIPE_RECORD_PATH_COPY;
		else if (ret < 0)
			return ret;
	}
	if (path == DMAPIPE_RECORD_PATH_COPY)
		body = 0;
	if (body >= data)
		return 0;
	ret = dmapipe_copy_allowed("recording: reading into a buffer that cannot take direct I/O");
	if (ret < 0)
		return ret;
	if (posix_memalign((void **)&tmp, dmapipe_page_size(), (size_t)(stored - body)))
		return -ENOMEM;
	ret = read_at(r, tmp, stored - body, off + body);
	if (ret == 0)
		ret = dmapipe_buffer_begin_cpu_access(buffer, DMAPIPE_ACCESS_WRITE);
	if (ret == 0) {
		memcpy(map + body, tmp, (size_t)(data - body));
		dmapipe_buffer_end_cpu_access(buffer, DMAPIPE_ACCESS_WRITE);
		dmapipe_count_copy(data - body);
	}
	free(tmp);
	return ret;
}

/*
 * A grouped packet (its plane starts its object) into @buffer: a page-cache read
 * into the mapping (the kernel copies, as the BUFFERED path does; the
 * packet is not aligned for O_DIRECT), checked against its checksum.
 */
static int read_packet(struct dmapipe_recording *r, const struct dmapipe_recorded_frame *f,
		       struct dmapipe_buffer *buffer)
{
	uint8_t *dst = buffer->map[0];
	int ret = dmapipe_buffer_begin_cpu_access(buffer, DMAPIPE_ACCESS_WRITE);

	if (ret < 0)
		return ret;
	ret = storage_pread_full(r->fd, dst, (size_t)f->size, f->offset);
	if (ret == 0 && rec_crc32c(0, dst, (size_t)f->size) != f->checksum)
		ret = -EBADMSG;
	dmapipe_buffer_end_cpu_access(buffer, DMAPIPE_ACCESS_WRITE);
	return ret;
}

DMAPIPE_EXPORT int dmapipe_recording_read_frame_to_buffer(struct dmapipe_recording *r,
							  uint64_t index,
							  struct dmapipe_buffer *buffer)
{
	struct dmapipe_recorded_frame f;
	int ret;

	if (!r || !buffer)
		return -EINVAL;
	ret = dmapipe_recording_get_frame(r, index, &f);
	if (ret < 0)
		return ret;
	if (buffer->layout.n_objects != f.layout.n_objects)
		return -EINVAL;
	for (unsigned int i = 0; i < f.layout.n_objects; i++)
		if (buffer->layout.objects[i].size < f.layout.objects[i].size)
			return -EINVAL;
	if (buffer->read_only)
		return -EACCES;
	ret = dmapipe_buffer_map_all(buffer);
	if (ret < 0)
		return ret;
	if (f.flags & DMAPIPE_RECORDED_GROUPED)
		return read_packet(r, &f, buffer);
	for (unsigned int i = 0; i < f.layout.n_objects; i++) {
		ret = read_object(r, &f, buffer, i);
		if (ret < 0)
			return ret;
	}
	return 0;
}
