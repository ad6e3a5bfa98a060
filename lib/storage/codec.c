/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The recording file format, docs/FORMAT.md: little-endian fixed-width
 * fields at fixed offsets, each structure protected by a CRC32C. Pure
 * functions over byte arrays: no file is touched here (io.c does that).
 */
#include <endian.h>
#include <pthread.h>
#include <string.h>

#include "private.h"
#include "codec.h"

/* ---- CRC32C (Castagnoli), reflected ---------------------------------------- */

/* slicing by 8: crc_table[k][b] is the CRC of byte b followed by k zero bytes */
static uint32_t crc_table[8][256];
static bool crc_hw;

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc_hw_update(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;

	for (; len && ((uintptr_t)p & 7); len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	for (; len; len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}

static bool crc_hw_probe(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2");
}
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>

static uint32_t crc_hw_update(uint32_t crc, const uint8_t *p, size_t len)
{
	for (; len && ((uintptr_t)p & 7); len--)
		crc = __crc32cb(crc, *p++);
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		crc = __crc32cd(crc, v);
	}
	for (; len; len--)
		crc = __crc32cb(crc, *p++);
	return crc;
}

static bool crc_hw_probe(void)
{
	return true; /* the compiler was told this CPU has it */
}
#else
static uint32_t crc_hw_update(uint32_t crc, const uint8_t *p, size_t len)
{
	(void)p;
	(void)len;
	return crc;
}

static bool crc_hw_probe(void)
{
	return false;
}
#endif

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int k = 1; k < 8; k++)
			crc_table[k][i] = (crc_table[k - 1][i] >> 8) ^
					  crc_table[0][crc_table[k - 1][i] & 0xff];
	crc_hw = crc_hw_probe();
}

static uint32_t crc_sw_update(uint32_t c, const uint8_t *p, size_t len)
{
	for (; len && ((uintptr_t)p & 7); len--)
		c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	for (; len >= 8; len -= 8, p += 8) {
		uint32_t lo, hi;

		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo = le32toh(lo) ^ c;
		hi = le32toh(hi);
		c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		    crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		    crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		    crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
	}
	for (; len; len--)
		c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

uint32_t rec_crc32c(uint32_t crc, const void *data, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, crc_init);
	crc = ~crc;
	crc = crc_hw ? crc_hw_update(crc, data, len) : crc_sw_update(crc, data, len);
	return ~crc;
}

/* ---- little-endian fields -------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static int bad(const char **why, const char *what)
{
	if (why)
		*why = what;
	return -EBADMSG;
}

static bool zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- superblock ---------------------------------------------------------------
 *   0 magic[8]  8 version  12 block_size  16 id[16]  32 created_ns  40 state
 *  44 flags  48 index_offset  56 index_size  64 frame_count  72 data_end
 *  80 max_frames  84 fps_num  88 fps_den (version 2; zero in version 1)
 *  92 par_num  96 par_den  100 matrix  101 transfer  102 primaries  103 range
 * 104 chroma_site  105 interlace  106 field_order (one byte each; zero when
 *     unknown, and in files of writers before them)
 * 107 reserved (zero) ... 124 crc32c of [0, 124)
 */
void rec_superblock_encode(uint8_t *b, const struct rec_superblock *sb)
{
	memset(b, 0, REC_SB_SIZE);
	memcpy(b, REC_SB_MAGIC, 8);
	put32(b + 8, sb->version);
	put32(b + 12, sb->block_size);
	memcpy(b + 16, sb->id, 16);
	put64(b + 32, sb->created_ns);
	put32(b + 40, sb->state);
	put32(b + 44, sb->flags);
	put64(b + 48, sb->index_offset);
	put64(b + 56, sb->index_size);
	put64(b + 64, sb->frame_count);
	put64(b + 72, sb->data_end);
	put32(b + 80, sb->max_frames);
	put32(b + 84, sb->fps_num);
	put32(b + 88, sb->fps_den);
	put32(b + 92, sb->par_num);
	put32(b + 96, sb->par_den);
	b[100] = sb->matrix;
	b[101] = sb->transfer;
	b[102] = sb->primaries;
	b[103] = sb->range;
	b[104] = sb->chroma_site;
	b[105] = sb->interlace;
	b[106] = sb->field_order;
	put32(b + 124, rec_crc32c(0, b, 124));
}

int rec_superblock_decode(const uint8_t *b, struct rec_superblock *sb, const char **why)
{
	if (memcmp(b, REC_SB_MAGIC, 8) != 0)
		return bad(why, "no dmapipe recording superblock (wrong magic)");
	if (get32(b + 124) != rec_crc32c(0, b, 124))
		return bad(why, "the superblock's checksum does not match");
	memset(sb, 0, sizeof(*sb));
	sb->version = get32(b + 8);
	if (sb->version < REC_VERSION_MIN || sb->version > REC_VERSION) {
		if (why)
			*why = "the recording has a format version this library does not know";
		return -EPROTONOSUPPORT;
	}
	sb->block_size = get32(b + 12);
	memcpy(sb->id, b + 16, 16);
	sb->created_ns = get64(b + 32);
	sb->state = get32(b + 40);
	sb->flags = get32(b + 44);
	sb->index_offset = get64(b + 48);
	sb->index_size = get64(b + 56);
	sb->frame_count = get64(b + 64);
	sb->data_end = get64(b + 72);
	sb->max_frames = get32(b + 80);
	sb->fps_num = get32(b + 84);
	sb->fps_den = get32(b + 88);
	sb->par_num = get32(b + 92);
	sb->par_den = get32(b + 96);
	sb->matrix = b[100];
	sb->transfer = b[101];
	sb->primaries = b[102];
	sb->range = b[103];
	sb->chroma_site = b[104];
	sb->interlace = b[105];
	sb->field_order = b[106];
	if (sb->block_size < REC_MIN_BLOCK || sb->block_size > REC_MAX_BLOCK ||
	    (sb->block_size & (sb->block_size - 1)))
		return bad(why, "the superblock's block size is not a power of two in [4 KiB, 1 MiB]");
	if (sb->state != REC_STATE_RECORDING && sb->state != REC_STATE_CLOSED)
		return bad(why, "the superblock's state is unknown");
	return 0;
}

/* An enum value beyond the library's, saturated to 255 for a byte: read back unknown. */
static uint8_t enum_byte(uint32_t v)
{
	return v > UINT8_MAX ? UINT8_MAX : (uint8_t)v;
}

void rec_superblock_set_format_info(struct rec_superblock *sb,
				    const struct dmapipe_format_info *info)
{
	bool rate = info->fps_num && info->fps_den, par = info->par_num && info->par_den;

	sb->fps_num = rate ? info->fps_num : 0;
	sb->fps_den = rate ? info->fps_den : 0;
	sb->par_num = par ? info->par_num : 0;
	sb->par_den = par ? info->par_den : 0;
	sb->matrix = enum_byte(info->matrix);
	sb->transfer = enum_byte(info->transfer);
	sb->primaries = enum_byte(info->primaries);
	sb->range = enum_byte(info->range);
	sb->chroma_site = enum_byte(info->chroma_site);
	sb->interlace = enum_byte(info->interlace);
	sb->field_order = enum_byte(info->field_order);
}

int rec_superblock_get_format_info(const struct rec_superblock *sb,
				   struct dmapipe_format_info *info, const char **why)
{
	const char *bad_value = NULL;

	dmapipe_format_info_init(info);
	/* zero/zero is unknown; one half of a fraction zero is damage, read as unknown */
	if (sb->fps_num && sb->fps_den) {
		info->fps_num = sb->fps_num;
		info->fps_den = sb->fps_den;
	} else if (sb->fps_num || sb->fps_den) {
		bad_value = "a frame rate with a zero numerator or denominator";
	}
	info->par_num = 0;
	if (sb->par_num && sb->par_den) {
		info->par_num = sb->par_num;
		info->par_den = sb->par_den;
	} else if ((sb->par_num || sb->par_den) && !bad_value) {
		bad_value = "a pixel aspect ratio with a zero numerator or denominator";
	}
	info->matrix = sb->matrix;
	info->transfer = sb->transfer;
	info->primaries = sb->primaries;
	info->range = sb->range;
	info->chroma_site = sb->chroma_site;
	info->interlace = sb->interlace;
	info->field_order = sb->field_order;
	/* every value no info holds reads as unknown; the first one is named */
	(void)dmapipe_format_info_sanitize_enums(info, bad_value ? NULL : &bad_value);
	if (!bad_value)
		return 0;
	if (why)
		*why = bad_value;
	return -EINVAL;
}

/* ---- layouts --------------------------------------------------------------------
 *   0 fourcc  4 width  8 height  12 n_objects  16 modifier  24 n_planes
 *  28 reserved  32 objects[4] {size u64, stored u64}  96 planes[4] {object u32,
 *  stride u32, offset u64}  160 reserved (zero) ... 192
 */
void rec_layout_encode(uint8_t *p, const struct rec_layout *l)
{
	const struct dmapipe_layout *d = &l->layout;

	memset(p, 0, REC_LAYOUT_SIZE);
	put32(p + 0, d->format.fourcc);
	put32(p + 4, d->format.width);
	put32(p + 8, d->format.height);
	put32(p + 12, d->n_objects);
	put64(p + 16, d->format.modifier);
	put32(p + 24, d->n_planes);
	for (unsigned int i = 0; i < DMAPIPE_MAX_OBJECTS && i < d->n_objects; i++) {
		put64(p + 32 + 16 * i, d->objects[i].size);
		put64(p + 40 + 16 * i, l->stored[i]);
	}
	for (unsigned int i = 0; i < DMAPIPE_MAX_PLANES && i < d->n_planes; i++) {
		put32(p + 96 + 16 * i, d->planes[i].object);
		put32(p + 100 + 16 * i, d->planes[i].stride);
		put64(p + 104 + 16 * i, d->planes[i].offset);
	}
}

int rec_layout_decode(const uint8_t *p, uint32_t block_size, struct rec_layout *l,
		      const char **why)
{
	struct dmapipe_layout *d = &l->layout;
	const char *lwhy = NULL;

	memset(l, 0, sizeof(*l));
	d->format.fourcc = get32(p + 0);
	d->format.width = get32(p + 4);
	d->format.height = get32(p + 8);
	d->n_objects = get32(p + 12);
	d->format.modifier = get64(p + 16);
	d->n_planes = get32(p + 24);
	if (d->n_objects == 0 || d->n_objects > DMAPIPE_MAX_OBJECTS || d->n_planes == 0 ||
	    d->n_planes > DMAPIPE_MAX_PLANES)
		return bad(why, "a layout has no objects or planes, or too many");
	for (unsigned int i = 0; i < DMAPIPE_MAX_OBJECTS; i++) {
		d->objects[i].fd = -1;
		if (i >= d->n_objects)
			continue;
		d->objects[i].kind = DMAPIPE_MEM_NONE;
		d->objects[i].size = get64(p + 32 + 16 * i);
		l->stored[i] = get64(p + 40 + 16 * i);
		if (l->stored[i] % block_size || l->stored[i] < d->objects[i].size ||
		    l->stored[i] - d->objects[i].size >= block_size)
			return bad(why, "a layout's stored object size is not its data size "
					"rounded up to the block size");
	}
	for (unsigned int i = 0; i < d->n_planes; i++) {
		d->planes[i].object = get32(p + 96 + 16 * i);
		d->planes[i].stride = get32(p + 100 + 16 * i);
		d->planes[i].offset = get64(p + 104 + 16 * i);
	}
	if (dmapipe_layout_check(d, &lwhy) < 0) {
		if (why)
			*why = lwhy;
		return -EBADMSG;
	}
	return 0;
}

bool rec_layout_equal(const struct rec_layout *a, const struct rec_layout *b)
{
	uint8_t ea[REC_LAYOUT_SIZE], eb[REC_LAYOUT_SIZE];

	rec_layout_encode(ea, a);
	rec_layout_encode(eb, b);
	return memcmp(ea, eb, sizeof(ea)) == 0;
}

uint64_t rec_layout_payload(const struct rec_layout *l)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < l->layout.n_objects && i < DMAPIPE_MAX_OBJECTS; i++)
		sum += l->stored[i];
	return sum;
}

/* ---- frame headers ---------------------------------------------------------------
 *   0 magic[8]  8 id[16]  24 offset  32 record_size  40 sequence  48 timestamp_ns
 *  56 durable_end  64 frame_flags  68 record_flags  72 layout_index  76 reserved
 *  80 layout[192]  272 bytes_used[4]  304 payload_crc (version 2, with record flag
 *  CHECKSUM; else zero)  308 reserved (zero) ... 508 crc32c of [0, 508)
 */
bool rec_frame_header_magic(const uint8_t *b)
{
	return memcmp(b, REC_FH_MAGIC, 8) == 0;
}

void rec_frame_header_encode(uint8_t *b, const struct rec_frame_header *fh)
{
	memset(b, 0, REC_FH_SIZE);
	memcpy(b, REC_FH_MAGIC, 8);
	memcpy(b + 8, fh->id, 16);
	put64(b + 24, fh->offset);
	put64(b + 32, fh->record_size);
	put64(b + 40, fh->sequence);
	put64(b + 48, fh->timestamp_ns);
	put64(b + 56, fh->durable_end);
	put32(b + 64, fh->frame_flags);
	put32(b + 68, fh->record_flags);
	put32(b + 72, fh->layout_index);
	rec_layout_encode(b + 80, &fh->layout);
	for (unsigned int i = 0; i < DMAPIPE_MAX_PLANES; i++)
		put64(b + 272 + 8 * i, fh->bytes_used[i]);
	put32(b + 304, fh->record_flags & DMAPIPE_RECORDED_CHECKSUM ? fh->payload_crc : 0);
	put32(b + 508, rec_crc32c(0, b, 508));
}

int rec_frame_header_decode(const uint8_t *b, uint32_t block_size, struct rec_frame_header *fh,
			    const char **why)
{
	int ret;

	if (!rec_frame_header_magic(b))
		return bad(why, "no frame header magic");
	if (get32(b + 508) != rec_crc32c(0, b, 508))
		return bad(why, "frame header checksum does not match");
	memset(fh, 0, sizeof(*fh));
	memcpy(fh->id, b + 8, 16);
	fh->offset = get64(b + 24);
	fh->record_size = get64(b + 32);
	fh->sequence = get64(b + 40);
	fh->timestamp_ns = get64(b + 48);
	fh->durable_end = get64(b + 56);
	fh->frame_flags = get32(b + 64);
	fh->record_flags = get32(b + 68);
	fh->layout_index = get32(b + 72);
	ret = rec_layout_decode(b + 80, block_size, &fh->layout, why);
	if (ret < 0)
		return ret;
	for (unsigned int i = 0; i < DMAPIPE_MAX_PLANES; i++)
		fh->bytes_used[i] = get64(b + 272 + 8 * i);
	fh->payload_crc = get32(b + 304);
	if (!zero(b + 308, 508 - 308) ||
	    (!(fh->record_flags & DMAPIPE_RECORDED_CHECKSUM) && fh->payload_crc))
		return bad(why, "frame header reserved bytes are not zero");
	if (fh->record_flags & ~(uint32_t)(DMAPIPE_RECORDED_FORMAT_CHANGE | DMAPIPE_RECORDED_CHECKSUM))
		return bad(why, "frame header has unknown record flags");
	if (fh->offset % block_size || fh->record_size % block_size ||
	    fh->record_size != block_size + rec_layout_payload(&fh->layout))
		return bad(why, "frame header sizes do not add up");
	return 0;
}

/* ---- index ---------------------------------------------------------------------
 * header: 0 magic[8]  8 version  12 n_layouts  16 n_frames  24 id[16]
 *         40 entry size  44 layout size  48 crc32c of everything after the
 *         header  52 reserved  60 crc32c of [0, 60)
 * entry:  0 offset  8 record_size  16 sequence  24 timestamp_ns  32 frame_flags
 *         36 record_flags  40 layout_index  44 payload_crc (version 2; zero in 1)
 *         48 bytes_used[4] ... 80
 */
uint64_t rec_index_size(uint32_t n_layouts, uint64_t n_frames)
{
	return REC_IX_HEADER_SIZE + (uint64_t)n_layouts * REC_LAYOUT_SIZE +
	       n_frames * REC_IX_ENTRY_SIZE;
}

void rec_index_encode_header(uint8_t *p, const uint8_t id[16], uint32_t n_layouts,
			     uint64_t n_frames, uint32_t body_crc)
{
	memset(p, 0, REC_IX_HEADER_SIZE);
	memcpy(p, REC_IX_MAGIC, 8);
	/* the index itself did not change in version 3: older readers keep reading it */
	put32(p + 8, REC_VERSION_PLAIN);
	put32(p + 12, n_layouts);
	put64(p + 16, n_frames);
	memcpy(p + 24, id, 16);
	put32(p + 40, REC_IX_ENTRY_SIZE);
	put32(p + 44, REC_LAYOUT_SIZE);
	put32(p + 48, body_crc);
	put32(p + 60, rec_crc32c(0, p, 60));
}

int rec_index_decode_header(const uint8_t *p, uint8_t id[16], uint32_t *n_layouts,
			    uint64_t *n_frames, uint32_t *body_crc, const char **why)
{
	if (memcmp(p, REC_IX_MAGIC, 8) != 0)
		return bad(why, "no index magic where the superblock says the index is");
	if (get32(p + 60) != rec_crc32c(0, p, 60))
		return bad(why, "the index header's checksum does not match");
	if (get32(p + 8) < REC_VERSION_MIN || get32(p + 8) > REC_VERSION ||
	    get32(p + 40) != REC_IX_ENTRY_SIZE ||
	    get32(p + 44) != REC_LAYOUT_SIZE)
		return bad(why, "the index has an unknown version or entry size");
	memcpy(id, p + 24, 16);
	*n_layouts = get32(p + 12);
	*n_frames = get64(p + 16);
	*body_crc = get32(p + 48);
	return 0;
}

void rec_index_entry_encode(uint8_t *p, const struct rec_index_entry *e)
{
	memset(p, 0, REC_IX_ENTRY_SIZE);
	put64(p + 0, e->offset);
	put64(p + 8, e->record_size);
	put64(p + 16, e->sequence);
	put64(p + 24, e->timestamp_ns);
	put32(p + 32, e->frame_flags);
	put32(p + 36, e->record_flags);
	put32(p + 40, e->layout_index);
	put32(p + 44, e->record_flags & DMAPIPE_RECORDED_CHECKSUM ? e->payload_crc : 0);
	for (unsigned int i = 0; i < DMAPIPE_MAX_PLANES; i++)
		put64(p + 48 + 8 * i, e->bytes_used[i]);
}

void rec_index_entry_decode(const uint8_t *p, struct rec_index_entry *e)
{
	e->offset = get64(p + 0);
	e->record_size = get64(p + 8);
	e->sequence = get64(p + 16);
	e->timestamp_ns = get64(p + 24);
	e->frame_flags = get32(p + 32);
	e->record_flags = get32(p + 36);
	e->layout_index = get32(p + 40);
	e->payload_crc = get32(p + 44);
	for (unsigned int i = 0; i < DMAPIPE_MAX_PLANES; i++)
		e->bytes_used[i] = get64(p + 48 + 8 * i);
}

void rec_index_entry_from_header(struct rec_index_entry *e, const struct rec_frame_header *fh)
{
	memset(e, 0, sizeof(*e));
	e->offset = fh->offset;
	e->record_size = fh->record_size;
	e->sequence = fh->sequence;
	e->timestamp_ns = fh->timestamp_ns;
	e->frame_flags = fh->frame_flags;
	e->record_flags = fh->record_flags;
	e->layout_index = fh->layout_index;
	e->payload_crc = fh->payload_crc;
	memcpy(e->bytes_used, fh->bytes_used, sizeof(e->bytes_used));
}

bool rec_index_entry_grouped_ok(const struct rec_index_entry *e, const struct rec_layout *l)
{
	return l->layout.n_objects == 1 && l->layout.n_planes == 1 &&
	       l->layout.planes[0].offset == 0 && e->record_size > 0 &&
	       e->record_size == e->bytes_used[0] && e->record_size <= l->layout.objects[0].size &&
	       (e->record_flags & DMAPIPE_RECORDED_CHECKSUM);
}

/* ---- packet groups ---------------------------------------------------------------
 * descriptor, ending the record: n_packets entries, the layout, the trailer
 * entry:   0 sequence  8 timestamp_ns  16 frame_flags  20 length  24 crc32c
 *          28 reserved ... 32
 * trailer: 0 magic[8]  8 id[16]  24 offset  32 record_size  40 durable_end
 *          48 n_packets  52 layout_index  56 payload bytes
 *          60 crc32c of the descriptor up to here
 */
uint64_t rec_group_descriptor_size(uint32_t n_packets)
{
	return (uint64_t)n_packets * REC_PG_ENTRY_SIZE + REC_LAYOUT_SIZE + REC_PG_TRAILER_SIZE;
}

void rec_group_encode(uint8_t *desc, const struct rec_packet_group *g)
{
	uint64_t size = rec_group_descriptor_size(g->n_packets);
	uint8_t *p = desc, *t;

	memset(desc, 0, (size_t)size);
	for (uint32_t i = 0; i < g->n_packets; i++, p += REC_PG_ENTRY_SIZE) {
		const struct rec_group_packet *k = &g->packets[i];

		put64(p + 0, k->sequence);
		put64(p + 8, k->timestamp_ns);
		put32(p + 16, k->frame_flags);
		put32(p + 20, k->length);
		put32(p + 24, k->crc);
	}
	rec_layout_encode(p, &g->layout);
	t = p + REC_LAYOUT_SIZE;
	memcpy(t, REC_PG_MAGIC, 8);
	memcpy(t + 8, g->id, 16);
	put64(t + 24, g->offset);
	put64(t + 32, g->record_size);
	put64(t + 40, g->durable_end);
	put32(t + 48, g->n_packets);
	put32(t + 52, g->layout_index);
	put32(t + 56, g->payload);
	put32(t + 60, rec_crc32c(0, desc, (size_t)size - 4));
}

bool rec_group_trailer_magic(const uint8_t *trailer)
{
	return memcmp(trailer, REC_PG_MAGIC, 8) == 0;
}

int rec_group_decode_trailer(const uint8_t *t, uint32_t block_size, struct rec_packet_group *g,
			     const char **why)
{
	if (!rec_group_trailer_magic(t))
		return bad(why, "no packet group magic");
	memcpy(g->id, t + 8, 16);
	g->offset = get64(t + 24);
	g->record_size = get64(t + 32);
	g->durable_end = get64(t + 40);
	g->n_packets = get32(t + 48);
	g->layout_index = get32(t + 52);
	g->payload = get32(t + 56);
	if (g->n_packets == 0 || g->offset % block_size || g->record_size % block_size ||
	    g->offset < block_size || g->record_size > UINT64_MAX - g->offset ||
	    g->record_size < rec_group_descriptor_size(g->n_packets) ||
	    g->record_size - rec_group_descriptor_size(g->n_packets) < g->payload)
		return bad(why, "packet group sizes do not add up");
	return 0;
}

int rec_group_decode(const uint8_t *desc, uint32_t block_size, struct rec_packet_group *g,
		     const char **why)
{
	uint64_t size = rec_group_descriptor_size(g->n_packets), sum = 0;
	const uint8_t *p = desc;
	int ret;

	if (get32(desc + size - 4) != rec_crc32c(0, desc, (size_t)size - 4))
		return bad(why, "the packet group descriptor's checksum does not match");
	ret = rec_layout_decode(desc + size - REC_PG_TRAILER_SIZE - REC_LAYOUT_SIZE, block_size,
				&g->layout, why);
	if (ret < 0)
		return ret;
	if (g->layout.layout.n_objects != 1 || g->layout.layout.n_planes != 1 ||
	    g->layout.layout.planes[0].offset != 0)
		return bad(why, "a packet group's layout is not one plane at its object's start");
	for (uint32_t i = 0; i < g->n_packets; i++, p += REC_PG_ENTRY_SIZE) {
		struct rec_group_packet *k = &g->packets[i];

		k->sequence = get64(p + 0);
		k->timestamp_ns = get64(p + 8);
		k->frame_flags = get32(p + 16);
		k->length = get32(p + 20);
		k->crc = get32(p + 24);
		if (!zero(p + 28, 4))
			return bad(why, "packet group entry reserved bytes are not zero");
		if (k->length == 0 || k->length > g->layout.layout.objects[0].size)
			return bad(why, "a grouped packet is empty or larger than its buffer");
		sum += k->length;
	}
	if (sum != g->payload)
		return bad(why, "the grouped packets' lengths do not add up");
	return 0;
}
