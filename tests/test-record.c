/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The recorder and the recording reader (lib/storage/, docs/FORMAT.md).
 * One sub-test per argument:
 *   basic     test-pattern frames recorded and read back, every byte
 *             verified, through memory and into buffers; the direct path
 *             copies nothing (copy counters stay 0 for memfd and
 *             dmapipe.ko buffers; a PFN-mapped dma-buf goes through a
 *             counted copy or WRITE_FILE and the stats say which)
 *   formats   format changes mid-stream and sizes that are not multiples of
 *             the block size (odd widths, a 97x31 frame, a 1-object YUYV)
 *   compressed a fourcc without pixel geometry ('FWHT' packets): recorded to
 *             bytes_used rounded to the block, no format change per size
 *   reader    dmapipe_reader: three formats read back with several reads in
 *             flight, delivered in order, every byte verified; no copy into
 *             memfd buffers on the direct path; layout mismatch and missing
 *             frames refused; freeing waits for reads in flight
 *   crash     a recording process killed with SIGKILL: every frame whose
 *             completion it reported is recovered and verifies, by the
 *             in-memory scan and after --repair
 *   enospc    a full tmpfs (skipped if it cannot be mounted): the recording
 *             stops with -ENOSPC and is closed with its index; without
 *             preallocation the writes themselves fail and the file is
 *             scanned
 *   enospc-margin an ext4 file system on a loop device (root; skipped
 *             without losetup and mkfs.ext4): a recording that fills it
 *             leaves the margin free (another file can still be written
 *             while the recorder says -ENOSPC); a preallocation cut short
 *             because another writer took the space is given back, not
 *             kept (ext4 keeps what a failed fallocate got; tmpfs does
 *             not, so it cannot show this); both files closed with their
 *             index, every frame verified
 *   corrupt   bad files: truncated (and said to be: cut after it was
 *             closed), wrong magic, a damaged frame header, a damaged index,
 *             a damaged or overwritten superblock (refused; recovered from
 *             the frame headers with SCAN or REPAIR), too short, garbage
 *             (also with REPAIR: nothing written), empty, missing
 *   checksum  payload checksums (format version 2): every frame's CRC32C
 *             matches what is read back, one changed byte fails exactly
 *             its frame, the index and a scan agree; raw frames carry none
 *             by default and the reader says so; the CPU cost next to a
 *             memcpy; a version 1 file still reads
 *   colorimetry the format info (colorimetry, siting, fields, aspect ratio,
 *             rate) given to the recorder comes back from the closed file,
 *             a scan and a repair, every field at its lowest and highest
 *             value; bad infos refused; files without it (version 1, and
 *             version 2 before it was stored) read as unknown; values no
 *             enum holds, written with a valid checksum, read as unknown
 *             one by one and the frames still read
 *   files     only regular files are written, truncated or removed: a
 *             device node, a FIFO and a directory refused and left as
 *             they were; a link to a file followed; a recording into the
 *             caller's fd (dmapipe_recorder_new_fd()) and the fds refused
 *   options   options structs from older headers (shorter, as their size
 *             says) take defaults for the fields they lack, never the
 *             bytes past their end; longer ones from newer headers work
 *             when what they add is unset (0), else E2BIG;
 *             the recorder's and the reader's
 *   fence     the recorder waits for acquire fences itself: a frame whose
 *             fence has not signalled is held without blocking the
 *             caller and its pixels are read only after the signal; a
 *             fence that never signals is given up at finish (needs
 *             sw_sync or vgem: the QEMU lane)
 *   disk-probe dmapipe_disk_probe(): durable writes bounded by bytes and
 *             by time, no file left in the directory, an older struct
 *             filled only as far as it goes, bad arguments (NULLs, a
 *             missing directory, a file); on a small tmpfs a quarter of
 *             the free space at most, all given back, -ENOSPC when too
 *             little is free
 *   buffered  buffered mode: the page cache the file occupies stays bounded
 *             while hundreds of MB are written (ext4; on tmpfs only the
 *             content is checked)
 *   kmod-path dmapipe.ko dma-bufs allocated without DMAPIPE_ALLOC_PAGE_MMAP
 *             (PFN mappings: O_DIRECT faults, checked first): recorded
 *             through WRITE_FILE and read back through READ_FILE, by the
 *             reader and frame by frame, in strict mode, with every byte on
 *             the KMOD path and none copied; 1- and 2-object layouts; the
 *             frames verified in those buffers and in memory; a buffer with
 *             the wrong object count refused (VM lane only)
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <endian.h>

#include "kmod-testlib.h"
#include "private.h"
#include "storage/codec.h"
#include "testlib.h"

struct ctx {
	uint64_t done, failed;
	int log_fd; /* completed sequence numbers are written here, or -1 */
	int last_status;
	/* with a release callback: each frame's callbacks, in order */
	bool use_release;
	bool no_gather; /* one record per compressed packet, as format version 2 */
	uint64_t released;
	uint8_t seen[16384]; /* per sequence number: 1 released, 2 done */
};

static void on_release(struct dmapipe_recorder *rec, void *frame_data, void *user_data)
{
	struct ctx *c = user_data;
	uint64_t seq = (uint64_t)(uintptr_t)frame_data;

	(void)rec;
	check(c->use_release);
	check(seq < sizeof(c->seen));
	check_msg(c->seen[seq] == 0, "frame %llu released twice, or after its done callback",
		  (unsigned long long)seq);
	c->seen[seq] = 1;
	c->released++;
}

static void on_done(struct dmapipe_recorder *rec, void *frame_data, int status, void *user_data)
{
	struct ctx *c = user_data;
	uint64_t seq = (uint64_t)(uintptr_t)frame_data;

	(void)rec;
	if (c->use_release) {
		check(seq < sizeof(c->seen));
		check_msg(c->seen[seq] == 1, "frame %llu done before its release callback",
			  (unsigned long long)seq);
		c->seen[seq] = 2;
	}
	c->last_status = status;
	if (status != 0) {
		c->failed++;
		return;
	}
	c->done++;
	if (c->log_fd >= 0)
		check(write(c->log_fd, &seq, sizeof(seq)) == sizeof(seq));
}

static struct dmapipe_recorder *new_recorder(const char *path, struct ctx *c,
					     enum dmapipe_record_mode mode, uint64_t prealloc)
{
	struct dmapipe_recorder_options o;
	struct dmapipe_recorder *rec;

	dmapipe_recorder_options_init(&o);
	o.mode = mode;
	o.done = on_done;
	if (c->use_release)
		o.release = on_release;
	if (c->no_gather)
		o.gather_bytes = 0;
	o.user_data = c;
	o.max_frames = 4;
	o.sync_interval_ms = 50;
	if (prealloc != UINT64_MAX)
		o.prealloc_bytes = prealloc;
	rec = dmapipe_recorder_new(path, &o);
	check_msg(rec, "recorder for %s: %s", path, strerror(errno));
	return rec;
}

/*
 * Draws frame @seq into a free buffer of @pool and submits it, dispatching
 * while the disk is behind (a test wants every frame). Returns the submit
 * result (0 or -ENOSPC...).
 */
static int record_one(struct dmapipe_recorder *rec, struct dmapipe_pool *pool, uint64_t seq)
{
	struct dmapipe_buffer *b;
	struct dmapipe_frame_meta meta;
	int ret;

	while (!(b = dmapipe_pool_acquire(pool)))
		check(dmapipe_recorder_dispatch(rec, 100) >= 0);
	check_int_eq(dmapipe_buffer_draw_pattern(b, seq), 0);
	dmapipe_frame_meta_init(&meta);
	meta.sequence = seq;
	meta.timestamp_ns = 1000 + seq * 16666667;
	meta.flags = seq % 7 == 0 ? DMAPIPE_FRAME_KEYFRAME : 0;
	while ((ret = dmapipe_recorder_submit(rec, b, &meta, (void *)(uintptr_t)seq)) == -EAGAIN)
		check(dmapipe_recorder_dispatch(rec, 100) >= 0);
	dmapipe_buffer_unref(b); /* the recorder holds its own reference */
	return ret;
}

static struct dmapipe_pool *new_pool(const char *fourcc, uint32_t w, uint32_t h, unsigned int n)
{
	struct dmapipe_format fmt = { .fourcc = dmapipe_fourcc_from_string(fourcc),
				      .width = w, .height = h };
	struct dmapipe_pool *pool = dmapipe_pool_new(NULL, &fmt, n, "test-record");

	check_msg(pool, "pool %s %ux%u: %s", fourcc, w, h, strerror(errno));
	return pool;
}

static bool frame_matches(const struct dmapipe_recorded_frame *f, uint8_t *mem)
{
	uint8_t *planes[DMAPIPE_MAX_PLANES] = { NULL };
	unsigned int bad_plane = 0;
	uint64_t bad_offset = 0;
	int ret;

	for (unsigned int p = 0; p < f->layout.n_planes; p++)
		planes[p] = mem + f->object_offset[f->layout.planes[p].object] +
			    f->layout.planes[p].offset;
	ret = dmapipe_pattern_check(&f->layout, planes, f->meta.sequence, &bad_plane, &bad_offset);
	if (ret != 0)
		fprintf(stderr, "frame %llu: pattern check %d (plane %u offset %llu)\n",
			(unsigned long long)f->meta.sequence, ret, bad_plane,
			(unsigned long long)bad_offset);
	return ret == 0;
}

/* Opens @path with @flags and verifies every frame; returns the frame count. */
static uint64_t verify_file(const char *path, uint32_t flags, struct dmapipe_recording_info *info)
{
	struct dmapipe_recording *r = dmapipe_recording_open(path, flags);
	uint8_t *mem = NULL;
	size_t mem_size = 0;
	uint64_t last_seq = 0;

	check_msg(r, "open %s: %s", path, strerror(errno));
	dmapipe_recording_get_info(r, info);
	for (uint64_t i = 0; i < info->frames; i++) {
		struct dmapipe_recorded_frame f;

		check_int_eq(dmapipe_recording_get_frame(r, i, &f), 0);
		check(f.layout_index < info->layouts);
		check(i == 0 || f.meta.sequence > last_seq);
		check_int_eq(f.meta.timestamp_ns, 1000 + f.meta.sequence * 16666667);
		check_int_eq(f.meta.flags, f.meta.sequence % 7 == 0 ? DMAPIPE_FRAME_KEYFRAME : 0);
		last_seq = f.meta.sequence;
		if (f.size > mem_size) {
			free(mem);
			mem_size = f.size;
			check(posix_memalign((void **)&mem, 4096, mem_size) == 0);
		}
		memset(mem, 0xa5, mem_size);
		check_int_eq(dmapipe_recording_read_frame(r, i, mem, mem_size), 0);
		check_msg(frame_matches(&f, mem), "frame %llu of %s", (unsigned long long)i, path);
	}
	check_int_eq(dmapipe_recording_get_frame(r, info->frames, &(struct dmapipe_recorded_frame){ 0 }),
		     -ERANGE);
	free(mem);
	dmapipe_recording_close(r);
	return info->frames;
}

/* ---- basic ------------------------------------------------------------------------- */

/* Whether files in @dir can be opened with O_DIRECT. */
static bool dir_takes_direct_io(const char *dir)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/probe", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_DIRECT, 0600);
	if (fd >= 0) {
		close(fd);
		unlink(path);
		return true;
	}
	check_msg(errno == EINVAL, "%s: %s", path, strerror(errno));
	return false;
}

static void test_basic(const char *test_dir)
{
	char path[512];
	const char *dir = test_dir;
	char *scratch = NULL;
	struct ctx c = { .log_fd = -1 };
	struct dmapipe_recorder_stats st;
	struct dmapipe_recording_info info;
	struct dmapipe_copy_stats c0, c1;
	struct dmapipe_pool *pool = new_pool("NV12", 1920, 1080, 6);
	struct dmapipe_buffer *b0 = dmapipe_pool_get_buffer(pool, 0);
	enum dmapipe_mem_kind kind = dmapipe_buffer_get_mem_kind(b0);
	struct dmapipe_recorder *rec;
	struct dmapipe_recording *r;
	const unsigned int n = 40;

	if (test_require_dmabuf()) {
		/*
		 * The lane's /tmp is a tmpfs, whose O_DIRECT (6.6+) is a page-cache
		 * copy that never pins user pages: real direct I/O needs a block
		 * device, here ext4 on a RAM disk.
		 */
		scratch = kmod_scratch_fs(320);
		dir = scratch;
	} else if (!dir_takes_direct_io(dir)) {
		test_skip("%s refuses O_DIRECT: the direct path cannot be tested here", dir);
	}
	snprintf(path, sizeof(path), "%s/basic.rec", dir);
	dmapipe_get_copy_stats(&c0);
	rec = new_recorder(path, &c, DMAPIPE_RECORD_DIRECT, UINT64_MAX);
	/* an existing file is not replaced without overwrite */
	check(dmapipe_recorder_new(path, NULL) == NULL && errno == EEXIST);
	check(dmapipe_recorder_get_fd(rec) >= 0);
	for (unsigned int i = 0; i < n; i++)
		check_int_eq(record_one(rec, pool, i * 2), 0); /* gaps: every other frame */
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	check_int_eq(dmapipe_recorder_finish(rec), 0); /* idempotent */
	dmapipe_recorder_get_stats(rec, &st);
	dmapipe_get_copy_stats(&c1);
	check_int_eq(c.done, n);
	check_int_eq(c.failed, 0);
	check_int_eq(st.frames_written, n);
	check_int_eq(st.in_flight_frames, 0);
	check_int_eq(st.mode, DMAPIPE_RECORD_DIRECT);
	check_int_eq(st.format_changes, 1);
	{
		/* every frame written is measured; the figures are ordered */
		struct dmapipe_recorder_latency lat = { .size = sizeof(lat) };
		struct dmapipe_recorder_latency oldst;
		struct dmapipe_recorder_latency *o = &oldst;
		const unsigned char *old = (const unsigned char *)&oldst;

		check_int_eq(dmapipe_recorder_get_latency(rec, &lat), 0);
		check_int_eq(lat.size, sizeof(lat));
		check_int_eq(lat.frames, n);
		check(lat.p50_ns > 0 && lat.p50_ns <= lat.p99_ns && lat.p99_ns <= lat.max_ns);
		/* a struct from an older header, up to p50: nothing written past it */
		memset(&oldst, 0xa5, sizeof(oldst));
		o->size = offsetof(struct dmapipe_recorder_latency, p99_ns);
		check_int_eq(dmapipe_recorder_get_latency(rec, o), 0);
		check_int_eq(o->frames, n);
		check_int_eq(o->p50_ns, lat.p50_ns);
		for (size_t i = offsetof(struct dmapipe_recorder_latency, p99_ns); i < sizeof(oldst); i++)
			check_msg(old[i] == 0xa5, "byte %zu past the caller's struct written", i);
		o->size = offsetof(struct dmapipe_recorder_latency, p50_ns);
		check_int_eq(dmapipe_recorder_get_latency(rec, o), -EINVAL);
		check_int_eq(dmapipe_recorder_get_latency(NULL, &lat), -EINVAL);
		printf("write latency: median %.2f ms, p99 %.2f ms, max %.2f ms over %llu frames\n",
		       (double)lat.p50_ns / 1e6, (double)lat.p99_ns / 1e6, (double)lat.max_ns / 1e6,
		       (unsigned long long)lat.frames);
	}
	printf("%s buffers (%s allocator): direct %llu, kmod %llu, copy %llu bytes; "
	       "%llu barriers\n", dmapipe_mem_kind_to_string(kind),
	       getenv("DMAPIPE_ALLOCATOR") ? getenv("DMAPIPE_ALLOCATOR") : "default",
	       (unsigned long long)st.path_bytes[DMAPIPE_RECORD_PATH_DIRECT],
	       (unsigned long long)st.path_bytes[DMAPIPE_RECORD_PATH_KMOD],
	       (unsigned long long)st.path_bytes[DMAPIPE_RECORD_PATH_COPY],
	       (unsigned long long)st.barriers);
	if (kind == DMAPIPE_MEM_MEMFD || dmapipe_buffer_get_direct_io_fd(b0, 0) >= 0) {
		/* the zero-copy claim: struct-page mappings go straight to the disk */
		check_int_eq(st.bytes_copied, 0);
		check_int_eq(c1.bytes - c0.bytes, 0);
		check_int_eq(st.path_bytes[DMAPIPE_RECORD_PATH_COPY], 0);
		check(st.path_bytes[DMAPIPE_RECORD_PATH_DIRECT] >= (uint64_t)n * 1920 * 1080 * 3 / 2);
	} else {
		/* a PFN mapping: every copied byte is counted, in the stats and globally */
		check(st.path_bytes[DMAPIPE_RECORD_PATH_DIRECT] + st.path_bytes[DMAPIPE_RECORD_PATH_KMOD] +
		      st.path_bytes[DMAPIPE_RECORD_PATH_COPY] >= (uint64_t)n * 1920 * 1080 * 3 / 2);
		check_int_eq(c1.bytes - c0.bytes, st.bytes_copied);
		/* dma-heap's PFN mapping: O_DIRECT faults, WRITE_FILE refuses it: a copy */
		if (getenv("DMAPIPE_ALLOCATOR") && strcmp(getenv("DMAPIPE_ALLOCATOR"), "heap") == 0)
			check(st.path_bytes[DMAPIPE_RECORD_PATH_COPY] > 0);
	}
	check_int_eq(dmapipe_recorder_submit(rec, b0, &(struct dmapipe_frame_meta){ 0 }, NULL),
		     -EINVAL); /* after finish */
	dmapipe_recorder_free(rec);

	check_int_eq(verify_file(path, 0, &info), n);
	check(info.closed && !info.scanned && info.unconfirmed == 0);
	check_int_eq(info.layouts, 1);
	check_int_eq(info.block_size, st.block_size);
	check_int_eq(info.file_size, st.file_size);

	/* into buffers: the disk writes into the mapping */
	r = dmapipe_recording_open(path, 0);
	check(r);
	dmapipe_get_copy_stats(&c0);
	for (unsigned int i = 0; i < n; i += 5) {
		struct dmapipe_buffer *b = dmapipe_pool_acquire(pool);

		check(b);
		check_int_eq(dmapipe_recording_read_frame_to_buffer(r, i, b), 0);
		check_int_eq(dmapipe_buffer_check_pattern(b, i * 2), 0);
		dmapipe_buffer_unref(b);
	}
	dmapipe_get_copy_stats(&c1);
	if (kind == DMAPIPE_MEM_MEMFD)
		check_int_eq(c1.bytes - c0.bytes, 0);
	/* misaligned memory and short lengths are refused */
	{
		struct dmapipe_recorded_frame f;
		uint8_t *mem;

		dmapipe_recording_get_frame(r, 0, &f);
		check(posix_memalign((void **)&mem, 4096, f.size + 4096) == 0);
		check_int_eq(dmapipe_recording_read_frame(r, 0, mem, f.size - 1), -EINVAL);
		if (info.direct && info.mem_align > 1)
			check_int_eq(dmapipe_recording_read_frame(r, 0, mem + 1, f.size), -EINVAL);
		check_int_eq(dmapipe_recording_read_frame(r, n, mem, f.size), -ERANGE);
		free(mem);
	}
	dmapipe_recording_close(r);
	dmapipe_pool_free(pool);
	if (scratch) {
		unlink(path);
		kmod_scratch_fs_remove(scratch);
	}
	test_pass("basic");
}

/* ---- formats ------------------------------------------------------------------------- */

static void test_formats(const char *dir)
{
	char path[512];
	struct ctx c = { .log_fd = -1 };
	struct dmapipe_recording_info info;
	struct dmapipe_pool *pools[4] = {
		new_pool("NV12", 1366, 769, 3),  /* odd: sizes not multiples of 4096 */
		new_pool("XRGB8888", 97, 31, 3), /* a tiny frame */
		new_pool("YUYV", 640, 480, 3),
		new_pool("NV12", 1366, 769, 3),  /* the first layout again */
	};
	/* frames per segment */
	const unsigned int seg[4] = { 5, 3, 4, 2 };
	struct dmapipe_recorder *rec;
	struct dmapipe_recording *r;
	uint64_t seq = 0;

	snprintf(path, sizeof(path), "%s/formats.rec", dir);
	rec = new_recorder(path, &c, DMAPIPE_RECORD_AUTO, UINT64_MAX);
	for (unsigned int s = 0; s < 4; s++)
		for (unsigned int i = 0; i < seg[s]; i++)
			check_int_eq(record_one(rec, pools[s], seq++), 0);
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);
	if (getenv("DMAPIPE_TEST_KEEP_FORMATS")) {
		/* for tests/test-play.sh: a recording whose format changes, kept */
		check(rename(path, getenv("DMAPIPE_TEST_KEEP_FORMATS")) == 0);
		for (unsigned int s = 0; s < 4; s++)
			dmapipe_pool_free(pools[s]);
		return;
	}

	check_int_eq(verify_file(path, 0, &info), seq);
	check_int_eq(info.layouts, 3);
	r = dmapipe_recording_open(path, 0);
	check(r);
	for (uint64_t i = 0, s = 0, k = 0; i < seq; i++) {
		struct dmapipe_recorded_frame f;

		check_int_eq(dmapipe_recording_get_frame(r, i, &f), 0);
		check_int_eq(!!(f.flags & DMAPIPE_RECORDED_FORMAT_CHANGE), k == 0);
		check_int_eq(f.layout_index, s == 3 ? 0 : s);
		check_int_eq(f.layout.format.fourcc,
			     dmapipe_buffer_get_layout(dmapipe_pool_get_buffer(pools[s], 0))->format.fourcc);
		check_int_eq(f.size % info.block_size, 0);
		if (++k == seg[s]) {
			k = 0;
			s++;
		}
	}
	dmapipe_recording_close(r);
	/* the same answers when the file is scanned instead of read through its index */
	check_int_eq(verify_file(path, DMAPIPE_RECORDING_SCAN, &info), seq);
	check(info.scanned && info.unconfirmed == 0 && info.bad_headers == 0);
	for (unsigned int s = 0; s < 4; s++)
		dmapipe_pool_free(pools[s]);
	test_pass("formats");
}

/*
 * compressed: frames of a fourcc without pixel geometry ('FWHT', as `dmapipe
 * encode --container dmapipe` records packets) are recorded up to
 * bytes_used rounded up to the block, not the whole buffer; a changing
 * packet size is not a format change; bytes_used and the data come back.
 * Bad input: a frame without bytes_used is recorded whole; bytes_used past
 * the object is capped at the object.
 */
static void test_compressed(const char *dir)
{
	static const uint64_t used[] = { 100, 5000, 4096, 150000, 0, 9999999, 77 };
	const size_t n = sizeof(used) / sizeof(used[0]);
	const uint64_t obj = 200000;
	/* the records of version 2, which files without packet groups still are */
	struct ctx c = { .log_fd = -1, .no_gather = true };
	struct dmapipe_recording_info info;
	struct dmapipe_buffer *bufs[sizeof(used) / sizeof(used[0])];
	struct dmapipe_recorder *rec;
	struct dmapipe_recording *r;
	struct dmapipe_layout l;
	uint8_t *mem = NULL;
	uint64_t next;
	char path[512];

	snprintf(path, sizeof(path), "%s/compressed.rec", dir);
	memset(&l, 0, sizeof(l));
	l.format.fourcc = 'F' | 'W' << 8 | 'H' << 16 | (uint32_t)'T' << 24;
	l.format.width = 640;
	l.format.height = 480;
	l.n_planes = l.n_objects = 1;
	for (unsigned int i = 0; i < DMAPIPE_MAX_OBJECTS; i++)
		l.objects[i].fd = -1;
	rec = new_recorder(path, &c, DMAPIPE_RECORD_AUTO, UINT64_MAX);
	for (size_t i = 0; i < n; i++) {
		struct dmapipe_frame_meta meta;
		int fd = memfd_create("compressed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		uint8_t *p;
		int ret;

		check(fd >= 0 && ftruncate(fd, (off_t)obj) == 0);
		check(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
		l.objects[0].fd = fd;
		l.objects[0].size = obj;
		bufs[i] = dmapipe_buffer_new_from_fds(&l);
		check(bufs[i]);
		p = dmapipe_buffer_map_plane(bufs[i], 0);
		check(p);
		for (uint64_t b = 0; b < obj; b++)
			p[b] = (uint8_t)(b * 7 + i);
		dmapipe_frame_meta_init(&meta);
		meta.sequence = i;
		meta.bytes_used[0] = used[i];
		meta.flags = i == 0 ? DMAPIPE_FRAME_KEYFRAME : 0;
		while ((ret = dmapipe_recorder_submit(rec, bufs[i], &meta, (void *)(uintptr_t)i)) ==
		       -EAGAIN)
			check(dmapipe_recorder_dispatch(rec, 100) >= 0);
		check_int_eq(ret, 0);
	}
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);
	check_int_eq(c.done, n);

	r = dmapipe_recording_open(path, 0);
	check(r);
	dmapipe_recording_get_info(r, &info);
	check_int_eq(info.frames, n);
	check_int_eq(info.version, 2);
	check(posix_memalign((void **)&mem, 4096, (size_t)ALIGN_UP(obj, (uint64_t)info.block_size)) == 0);
	next = 2 * (uint64_t)info.block_size; /* after the superblock and the first header */
	for (size_t i = 0; i < n; i++) {
		struct dmapipe_recorded_frame f;
		uint64_t want = used[i] ? MIN(ALIGN_UP(used[i], (uint64_t)info.block_size), obj) : obj;

		check_int_eq(dmapipe_recording_get_frame(r, i, &f), 0);
		/* records follow each other: no space reserved for the whole buffer */
		check_int_eq(f.offset, next);
		next = f.offset + f.size + info.block_size;
		check_int_eq(f.layout.format.fourcc, l.format.fourcc);
		check_int_eq(f.layout.objects[0].size, want);
		check_int_eq(f.size, ALIGN_UP(want, (uint64_t)info.block_size));
		check_int_eq(f.meta.bytes_used[0], used[i]);
		check_int_eq(!!(f.flags & DMAPIPE_RECORDED_FORMAT_CHANGE), i == 0);
		check_int_eq(dmapipe_recording_read_frame(r, i, mem, (size_t)f.size), 0);
		for (uint64_t b = 0; b < want; b++)
			check_msg(mem[b] == (uint8_t)(b * 7 + i), "frame %zu byte %llu", i,
				  (unsigned long long)b);
		/* compressed frames carry a payload checksum by default */
		check(f.flags & DMAPIPE_RECORDED_CHECKSUM);
		check_int_eq(dmapipe_recording_check_payload(r, i, mem, (size_t)f.size), 0);
		dmapipe_buffer_unref(bufs[i]);
	}
	check(info.layouts < n); /* 100 and 77 bytes share one */
	dmapipe_recording_close(r);
	free(mem);
	test_pass("compressed");
}

/* ---- reader: several reads in flight, frames in order ----------------------------- */

struct rctx {
	struct dmapipe_recording *r;
	uint64_t next, failed;
	bool busy[8];
};

static void reader_done(struct dmapipe_reader *rd, uint64_t index, struct dmapipe_buffer *b,
			void *frame_data, int status, void *user_data)
{
	struct rctx *c = user_data;
	struct dmapipe_recorded_frame f;

	(void)rd;
	check_int_eq(index, c->next); /* in submission order, whatever the disk did */
	c->next++;
	c->busy[(uintptr_t)frame_data] = false;
	check_int_eq(status, 0);
	check_int_eq(dmapipe_recording_get_frame(c->r, index, &f), 0);
	if (dmapipe_buffer_check_pattern(b, f.meta.sequence) != 0)
		c->failed++;
}

static void test_reader(const char *dir)
{
	char path[512];
	struct ctx c = { .log_fd = -1 };
	struct rctx rc = { 0 };
	struct dmapipe_pool *pools[3] = {
		new_pool("NV12", 1366, 769, 3),
		new_pool("YUV420", 97, 31, 3),  /* a tiny frame, three planes */
		new_pool("YUYV", 640, 480, 3),
	};
	struct dmapipe_allocator *alloc = dmapipe_allocator_new_default();
	struct dmapipe_buffer *bufs[8] = { NULL };
	struct dmapipe_reader_options o;
	struct dmapipe_reader_stats st;
	struct dmapipe_copy_stats c0, c1;
	struct dmapipe_recording_info info;
	struct dmapipe_recorder *rec;
	struct dmapipe_reader *rd;
	uint32_t layout = UINT32_MAX;
	uint64_t seq = 0, n;
	bool direct_ok;

	check(alloc);
	snprintf(path, sizeof(path), "%s/reader.rec", dir);
	rec = new_recorder(path, &c, DMAPIPE_RECORD_AUTO, UINT64_MAX);
	for (unsigned int s = 0; s < 3; s++)
		for (unsigned int i = 0; i < 12; i++)
			check_int_eq(record_one(rec, pools[s], seq++), 0);
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);

	rc.r = dmapipe_recording_open(path, 0);
	check(rc.r);
	dmapipe_recording_get_info(rc.r, &info);
	n = info.frames;
	check_int_eq(n, 36);
	dmapipe_reader_options_init(&o);
	o.max_frames = 3;
	o.done = reader_done;
	o.user_data = &rc;
	rd = dmapipe_reader_new(rc.r, &o);
	check(rd);
	check(dmapipe_reader_get_fd(rd) >= 0);
	dmapipe_get_copy_stats(&c0);
	for (uint64_t i = 0; i < n; ) {
		struct dmapipe_recorded_frame f;
		unsigned int k;
		int ret;

		check_int_eq(dmapipe_recording_get_frame(rc.r, i, &f), 0);
		if (f.layout_index != layout) {
			/* a new format: every read of the old one finished first */
			while (rc.next < i)
				check(dmapipe_reader_dispatch(rd, -1) >= 0);
			for (k = 0; k < 8; k++) {
				dmapipe_buffer_unref(bufs[k]);
				bufs[k] = dmapipe_allocator_alloc_layout(alloc, &f.layout);
				check(bufs[k]);
			}
			layout = f.layout_index;
		}
		for (k = 0; k < 8 && rc.busy[k]; k++)
			;
		if (k == 8) {
			check(dmapipe_reader_dispatch(rd, -1) >= 0);
			continue;
		}
		ret = dmapipe_reader_submit(rd, i, bufs[k], (void *)(uintptr_t)k);
		if (ret == -EAGAIN) {
			dmapipe_reader_get_stats(rd, &st);
			check_int_eq(st.in_flight_frames, 3);
			check(dmapipe_reader_dispatch(rd, -1) >= 0);
			continue;
		}
		check_int_eq(ret, 0);
		rc.busy[k] = true;
		i++;
	}
	/* a buffer of another layout, and a frame that does not exist, are refused */
	check_int_eq(dmapipe_reader_submit(rd, 0, bufs[0], NULL), -EINVAL);
	check_int_eq(dmapipe_reader_submit(rd, n, bufs[0], NULL), -ERANGE);
	while (rc.next < n)
		check(dmapipe_reader_dispatch(rd, -1) >= 0);
	check_int_eq(dmapipe_reader_dispatch(rd, 0), 0);
	dmapipe_get_copy_stats(&c1);
	dmapipe_reader_get_stats(rd, &st);
	check_int_eq(rc.failed, 0);
	check_int_eq(st.frames_read, n);
	check_int_eq(st.frames_failed, 0);
	check_int_eq(st.in_flight_frames, 0);
	check_int_eq(st.bytes_copied, c1.bytes - c0.bytes);
	direct_ok = info.direct && dmapipe_allocator_get_mem_kind(alloc) == DMAPIPE_MEM_MEMFD;
	printf("reader: %llu frames, io_uring %u, direct %llu, kmod %llu, copy %llu, buffered "
	       "%llu bytes\n", (unsigned long long)st.frames_read, st.io_uring,
	       (unsigned long long)st.path_bytes[DMAPIPE_RECORD_PATH_DIRECT],
	       (unsigned long long)st.path_bytes[DMAPIPE_RECORD_PATH_KMOD],
	       (unsigned long long)st.path_bytes[DMAPIPE_RECORD_PATH_COPY],
	       (unsigned long long)st.path_bytes[DMAPIPE_RECORD_PATH_BUFFERED]);
	if (direct_ok) {
		/* the zero-copy claim for replay: the disk wrote into the memfd pages */
		check_int_eq(st.bytes_copied, 0);
		check_int_eq(c1.bytes - c0.bytes, 0);
		check_int_eq(st.path_bytes[DMAPIPE_RECORD_PATH_COPY], 0);
		check(st.path_bytes[DMAPIPE_RECORD_PATH_DIRECT] >= 12ull * 1366 * 769 * 3 / 2);
	}
	/* freeing with reads in flight waits for them: every frame is delivered */
	rc.next = n - 2;
	check_int_eq(dmapipe_reader_submit(rd, n - 2, bufs[0], (void *)(uintptr_t)0), 0);
	check_int_eq(dmapipe_reader_submit(rd, n - 1, bufs[1], (void *)(uintptr_t)1), 0);
	dmapipe_reader_free(rd);
	check_int_eq(rc.next, n);
	for (unsigned int k = 0; k < 8; k++) {
		check_int_eq(dmapipe_buffer_get_refcount(bufs[k]), 1);
		dmapipe_buffer_unref(bufs[k]);
	}
	dmapipe_recording_close(rc.r);
	dmapipe_allocator_unref(alloc);
	for (unsigned int s = 0; s < 3; s++)
		dmapipe_pool_free(pools[s]);
	test_pass("reader");
}

/* ---- crash ------------------------------------------------------------------------------ */

/*
 * The writer is killed mid-recording; every frame its done callback
 * reported is in the file. @use_release: buffers went back before their
 * headers were written, which must not make done report a frame early.
 */
static void test_crash(const char *dir, bool use_release)
{
	char path[512];
	struct dmapipe_recording_info info;
	struct dmapipe_recording *r;
	uint64_t logged[4096], n_logged = 0, seq;
	int pipefd[2];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/crash.rec", dir);
	check(pipe(pipefd) == 0);
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		struct ctx c = { .log_fd = pipefd[1], .use_release = use_release };
		struct dmapipe_pool *pool = new_pool("NV12", 640, 480, 6);
		struct dmapipe_recorder *rec;

		close(pipefd[0]);
		rec = new_recorder(path, &c, DMAPIPE_RECORD_AUTO, UINT64_MAX);
		for (seq = 0; seq < 100000; seq++) {
			check_int_eq(record_one(rec, pool, seq), 0);
			dmapipe_recorder_dispatch(rec, 0);
		}
		_exit(3); /* never reached before the kill */
	}
	close(pipefd[1]);
	/* some completions, then the writer killed mid-recording */
	n_logged = test_kill_after(pid, pipefd[0], logged, 4096, 60);

	/* scanned in memory on open: every reported frame is there and verifies */
	verify_file(path, 0, &info);
	check(!info.closed && info.scanned && !info.repaired);
	check_msg(info.frames >= n_logged, "%llu frames recovered, %llu were reported written",
		  (unsigned long long)info.frames, (unsigned long long)n_logged);
	r = dmapipe_recording_open(path, 0);
	check(r);
	for (uint64_t i = 0; i < n_logged; i++) {
		bool found = false;

		for (uint64_t k = 0; k < info.frames && !found; k++) {
			struct dmapipe_recorded_frame f;

			dmapipe_recording_get_frame(r, k, &f);
			found = f.meta.sequence == logged[i];
		}
		check_msg(found, "frame %llu was reported written but is not in the file",
			  (unsigned long long)logged[i]);
	}
	dmapipe_recording_close(r);
	printf("killed after %llu reported frames: %llu recovered, %llu unconfirmed\n",
	       (unsigned long long)n_logged, (unsigned long long)info.frames,
	       (unsigned long long)info.unconfirmed);

	/* repair writes the index back; then the file opens as closed */
	{
		uint64_t frames = info.frames;

		check_int_eq(verify_file(path, DMAPIPE_RECORDING_REPAIR, &info), frames);
		check(info.repaired);
		check_int_eq(verify_file(path, 0, &info), frames);
		check(info.closed && !info.scanned);
	}
	test_pass(use_release ? "crash, buffers released before their headers" : "crash");
}

/* ---- enospc ------------------------------------------------------------------------------ */

static void fill_disk(const char *path, uint64_t prealloc, bool use_release,
		      struct dmapipe_recorder_stats *st)
{
	struct ctx c = { .log_fd = -1, .use_release = use_release };
	struct dmapipe_pool *pool = new_pool("NV12", 320, 240, 6);
	struct dmapipe_recorder *rec = new_recorder(path, &c, DMAPIPE_RECORD_AUTO, prealloc);
	uint64_t seq;
	int ret = 0;

	for (seq = 0; seq < 10000 && ret == 0; seq++) {
		ret = record_one(rec, pool, seq);
		dmapipe_recorder_dispatch(rec, 0);
	}
	check_msg(ret == -ENOSPC || ret == -EIO, "submit %d after %llu frames", ret,
		  (unsigned long long)seq);
	/* stays refused */
	check(record_one(rec, pool, seq) < 0);
	check_int_eq(dmapipe_recorder_finish(rec), -ENOSPC);
	dmapipe_recorder_get_stats(rec, st);
	check_int_eq(st->error, -ENOSPC);
	check_int_eq(c.done, st->frames_written);
	if (use_release) {
		/* every frame taken got both callbacks, the release first */
		check_int_eq(c.released, st->frames_submitted);
		check_int_eq(c.done + c.failed, st->frames_submitted);
		for (uint64_t i = 0; i < st->frames_submitted; i++)
			check_int_eq(c.seen[i], 2);
	}
	dmapipe_recorder_free(rec);
	dmapipe_pool_free(pool);
}

static void test_enospc(const char *dir)
{
	char mnt[512], path[600];
	struct dmapipe_recorder_stats st;
	struct dmapipe_recording_info info;

	snprintf(mnt, sizeof(mnt), "%s/small", dir);
	check(mkdir(mnt, 0700) == 0);
	if (mount("dmapipe-test", mnt, "tmpfs", 0, "size=6m") < 0)
		test_skip("cannot mount a small tmpfs to fill (%s): needs root and mount rights",
			  strerror(errno));

	/* preallocated: fallocate fails first, the index still fits */
	snprintf(path, sizeof(path), "%s/full.rec", mnt);
	fill_disk(path, UINT64_MAX, false, &st);
	check_msg(st.frames_written >= 20, "only %llu frames fit",
		  (unsigned long long)st.frames_written);
	check_int_eq(verify_file(path, 0, &info), st.frames_written);
	check_msg(info.closed, "the index did not fit");
	printf("preallocated: %llu frames, then ENOSPC; closed with its index\n",
	       (unsigned long long)st.frames_written);
	check(unlink(path) == 0);

	/* no preallocation: the writes fail; every completed frame is recovered */
	snprintf(path, sizeof(path), "%s/full-noprealloc.rec", mnt);
	fill_disk(path, 0, false, &st);
	check_int_eq(verify_file(path, 0, &info), st.frames_written);
	printf("without preallocation: %llu frames, then ENOSPC; %s\n",
	       (unsigned long long)st.frames_written,
	       info.closed ? "closed with its index" : "no room for the index: scanned");
	check(unlink(path) == 0);

	/*
	 * the same with buffers given back before their headers: frames whose
	 * writes failed got their release, then their done callback with the
	 * error; frames done with 0 are in the file
	 */
	fill_disk(path, 0, true, &st);
	check_int_eq(verify_file(path, 0, &info), st.frames_written);
	check_msg(st.frames_failed > 0, "no write failed: the disk did not fill");
	printf("without preallocation, release callback: %llu frames, %llu failed, then ENOSPC\n",
	       (unsigned long long)st.frames_written, (unsigned long long)st.frames_failed);
	check(unlink(path) == 0);

	/* a disk already full: creating the recording fails cleanly */
	{
		char filler[600];
		int fd;

		snprintf(filler, sizeof(filler), "%s/filler", mnt);
		fd = open(filler, O_WRONLY | O_CREAT, 0600);
		check(fd >= 0);
		while (posix_fallocate(fd, 0, 6 << 20) == 0)
			break;
		{
			static char zero[1 << 16];

			while (write(fd, zero, sizeof(zero)) > 0)
				;
		}
		close(fd);
		snprintf(path, sizeof(path), "%s/none.rec", mnt);
		check(dmapipe_recorder_new(path, NULL) == NULL);
		check_msg(errno == ENOSPC, "errno %s", strerror(errno));
		check(access(path, F_OK) < 0); /* nothing left behind */
	}
	check(umount(mnt) == 0);
	test_pass("enospc");
}

/* ---- enospc-margin ----------------------------------------------------------------------- */

static uint64_t free_bytes(const char *dir, uint64_t *margin)
{
	struct statvfs sv;

	check(statvfs(dir, &sv) == 0);
	/* the recorder's rule (docs/FORMAT.md): 1/32 of the size, at most 64 MiB */
	if (margin)
		*margin = MIN((uint64_t)sv.f_blocks * sv.f_frsize / 32, UINT64_C(64) << 20);
	return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/* Another writer on the full disk: 256 KiB written and made durable, then removed. */
static bool others_can_write(const char *mnt)
{
	static char block[256 << 10];
	char path[600];
	bool ok;
	int fd;

	snprintf(path, sizeof(path), "%s/other", mnt);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	check(fd >= 0);
	ok = write(fd, block, sizeof(block)) == (ssize_t)sizeof(block) && fsync(fd) == 0;
	close(fd);
	check(unlink(path) == 0);
	return ok;
}

/*
 * Records onto @mnt until the recorder says -ENOSPC; after @fill_at
 * frames a filler takes all but @leave bytes of the free space.
 */
static void fill_ext4(const char *mnt, const char *path, uint64_t prealloc, uint64_t fill_at,
		      uint64_t leave)
{
	struct ctx c = { .log_fd = -1 };
	struct dmapipe_pool *pool = new_pool("NV12", 320, 240, 6);
	struct dmapipe_recorder *rec = new_recorder(path, &c, DMAPIPE_RECORD_AUTO, prealloc);
	struct dmapipe_recorder_stats st;
	struct dmapipe_recording_info info;
	uint64_t seq, margin, left;
	char filler[600];
	int ret = 0;

	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	for (seq = 0; seq < 10000 && ret == 0; seq++) {
		if (seq == fill_at) {
			int fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
			uint64_t avail = free_bytes(mnt, NULL);

			check(fd >= 0 && avail > leave);
			check_int_eq(posix_fallocate(fd, 0, (off_t)(avail - leave)), 0);
			close(fd);
		}
		ret = record_one(rec, pool, seq);
		dmapipe_recorder_dispatch(rec, 0);
	}
	check_msg(ret == -ENOSPC, "submit %d after %llu frames", ret, (unsigned long long)seq);
	/* the recording is over but still open: the space it left is the others' */
	left = free_bytes(mnt, &margin);
	check_msg(left >= margin / 2, "%llu bytes left free (margin %llu)",
		  (unsigned long long)left, (unsigned long long)margin);
	check_msg(others_can_write(mnt), "another writer got %s beside the full recording",
		  strerror(errno));
	check_int_eq(dmapipe_recorder_finish(rec), -ENOSPC);
	dmapipe_recorder_get_stats(rec, &st);
	check_int_eq(c.done, st.frames_written);
	dmapipe_recorder_free(rec);
	dmapipe_pool_free(pool);
	check_int_eq(verify_file(path, 0, &info), st.frames_written);
	check_msg(info.closed, "the index did not fit");
	printf("%s: %llu frames, then ENOSPC with %llu KiB left free (margin %llu KiB); "
	       "closed with its index\n", fill_at < 10000 ? "space taken by another writer" :
	       "filled", (unsigned long long)st.frames_written, (unsigned long long)(left >> 10),
	       (unsigned long long)(margin >> 10));
	check(unlink(path) == 0);
	unlink(filler);
}

static void test_enospc_margin(const char *dir)
{
	char img[512], mnt[512], path[600], dev[64] = "", cmd[1200];
	FILE *p;
	int fd;

	if (geteuid() != 0)
		test_skip("needs root for a loop device");
	snprintf(img, sizeof(img), "%s/ext4.img", dir);
	snprintf(mnt, sizeof(mnt), "%s/ext4", dir);
	check(mkdir(mnt, 0700) == 0);
	fd = open(img, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	check(fd >= 0 && ftruncate(fd, 64 << 20) == 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "losetup -f --show '%s' 2>/dev/null", img);
	p = popen(cmd, "r");
	if (p) {
		if (!fgets(dev, sizeof(dev), p))
			dev[0] = 0;
		pclose(p);
	}
	dev[strcspn(dev, "\n")] = 0;
	if (!dev[0])
		test_skip("no loop device (losetup -f failed)");
	snprintf(cmd, sizeof(cmd), "mkfs.ext4 -q -F -b 4096 '%s' > /dev/null 2>&1", dev);
	if (system(cmd) != 0 || mount(dev, mnt, "ext4", 0, NULL) < 0) {
		snprintf(cmd, sizeof(cmd), "losetup -d '%s'", dev);
		check(system(cmd) == 0);
		test_skip("cannot make an ext4 file system on %s (mkfs.ext4, mount)", dev);
	}
	/* detached once unmounted (autoclear), also if a check fails before */
	snprintf(cmd, sizeof(cmd), "losetup -d '%s'", dev);
	check(system(cmd) == 0);

	/* one 256 MiB chunk asked for on a 64 MiB disk: it stops short of the margin */
	snprintf(path, sizeof(path), "%s/full.rec", mnt);
	fill_ext4(mnt, path, UINT64_MAX, 10000, 0);
	/*
	 * 8 MiB chunks, and after 20 frames (2.4 MB) another writer takes all
	 * but 3 MiB: the next chunk is cut short by ENOSPC, and what ext4 got
	 * of it is given back
	 */
	fill_ext4(mnt, path, UINT64_C(8) << 20, 20, UINT64_C(3) << 20);
	check(umount(mnt) == 0);
	test_pass("enospc-margin");
}

/* ---- corrupt ---------------------------------------------------------------------------- */

static void copy_file(const char *from, const char *to, uint64_t len)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "head -c %llu '%s' > '%s'", (unsigned long long)len, from, to);
	check(system(cmd) == 0);
}

static void poke(const char *path, uint64_t off, uint8_t xor)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	check(fd >= 0);
	check(pread(fd, &b, 1, (off_t)off) == 1);
	b ^= xor;
	check(pwrite(fd, &b, 1, (off_t)off) == 1);
	close(fd);
}

static void expect_refused(const char *path, int err)
{
	struct dmapipe_recording *r = dmapipe_recording_open(path, 0);

	check_msg(!r && errno == err, "%s: %s, expected %s", path, r ? "opened" : strerror(errno),
		  strerror(err));
}

static void test_corrupt(const char *dir)
{
	char good[512], bad[512];
	struct ctx c = { .log_fd = -1 };
	struct dmapipe_pool *pool = new_pool("NV12", 640, 480, 4);
	struct dmapipe_recording_info info;
	struct dmapipe_recorded_frame f;
	struct dmapipe_recording *r;
	struct dmapipe_recorder *rec;
	uint32_t good_block;
	struct stat st;
	int fd;

	snprintf(good, sizeof(good), "%s/good.rec", dir);
	snprintf(bad, sizeof(bad), "%s/bad.rec", dir);
	rec = new_recorder(good, &c, DMAPIPE_RECORD_AUTO, UINT64_MAX);
	for (uint64_t s = 0; s < 10; s++)
		check_int_eq(record_one(rec, pool, s), 0);
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);
	dmapipe_pool_free(pool);
	check(stat(good, &st) == 0);
	r = dmapipe_recording_open(good, 0);
	check(r);
	check_int_eq(dmapipe_recording_get_frame(r, 6, &f), 0);
	dmapipe_recording_close(r);

	/*
	 * truncated in the middle of frame 6: the index is past the end; 6
	 * frames scan, and the recording says it was cut after it was closed
	 * (its writer counted 10 frames)
	 */
	copy_file(good, bad, f.offset + f.size / 2);
	check_int_eq(verify_file(bad, 0, &info), 6);
	check(info.scanned && !info.closed);
	check_int_eq(info.damage, DMAPIPE_RECORDING_TRUNCATED);
	check_int_eq(info.frames_expected, 10);
	/* ... and a repair makes it a closed recording of 6 frames */
	check_int_eq(verify_file(bad, DMAPIPE_RECORDING_REPAIR, &info), 6);
	check_int_eq(verify_file(bad, 0, &info), 6);
	check(info.closed);

	/* a damaged frame header: the index does not need it; a scan skips that frame */
	copy_file(good, bad, (uint64_t)st.st_size);
	poke(bad, f.offset - info.block_size + 100, 0x40); /* frame 6's header */
	check_int_eq(verify_file(bad, 0, &info), 10);
	check_int_eq(verify_file(bad, DMAPIPE_RECORDING_SCAN, &info), 9);
	check_int_eq(info.bad_headers, 1);

	/* a damaged index: refused with a message, the file is scanned */
	copy_file(good, bad, (uint64_t)st.st_size);
	poke(bad, (uint64_t)st.st_size - 1 - info.block_size + 200, 0x01);
	poke(bad, (uint64_t)st.st_size - 100, 0x01);
	check_int_eq(verify_file(bad, 0, &info), 10);
	check(info.scanned);
	check_int_eq(info.damage, DMAPIPE_RECORDING_INDEX_DAMAGED);
	check_int_eq(info.frames_expected, 10);
	/* a recording whose writer died is not damaged: nothing was expected */
	check_int_eq(verify_file(good, DMAPIPE_RECORDING_SCAN, &info), 10);
	check_int_eq(info.damage, 0);

	/* wrong superblock magic, damaged superblock checksum */
	good_block = info.block_size;
	copy_file(good, bad, (uint64_t)st.st_size);
	poke(bad, 0, 0x20);
	expect_refused(bad, EBADMSG);
	copy_file(good, bad, (uint64_t)st.st_size);
	poke(bad, 50, 0x01);
	expect_refused(bad, EBADMSG);
	/*
	 * ... unless asked to scan: the frame headers name the recording, so
	 * its frames are recovered (in memory with SCAN, written back with
	 * REPAIR), and the repaired file is a closed recording again
	 */
	check_int_eq(verify_file(bad, DMAPIPE_RECORDING_SCAN, &info), 10);
	check_int_eq(info.damage, DMAPIPE_RECORDING_SUPERBLOCK_DAMAGED);
	check_int_eq(info.block_size, good_block);
	expect_refused(bad, EBADMSG); /* a scan alone writes nothing */
	fd = open(bad, O_WRONLY);
	check(fd >= 0);
	{
		char junk[4096];

		for (size_t k = 0; k < sizeof(junk); k++)
			junk[k] = (char)(k * 131 + 7);
		check(pwrite(fd, junk, sizeof(junk), 0) == (ssize_t)sizeof(junk));
	}
	close(fd);
	expect_refused(bad, EBADMSG);
	check_int_eq(verify_file(bad, DMAPIPE_RECORDING_REPAIR, &info), 10);
	check(info.repaired && info.damage == DMAPIPE_RECORDING_SUPERBLOCK_DAMAGED);
	check_int_eq(verify_file(bad, 0, &info), 10);
	check(info.closed && !info.scanned && info.damage == 0);

	/* too short, empty, garbage, a directory, missing */
	copy_file(good, bad, 100);
	expect_refused(bad, EBADMSG);
	copy_file(good, bad, 0);
	expect_refused(bad, EBADMSG);
	fd = open(bad, O_WRONLY | O_TRUNC);
	check(fd >= 0);
	for (int i = 0; i < 64; i++) {
		char junk[1024];

		for (size_t k = 0; k < sizeof(junk); k++)
			junk[k] = (char)(k * 31 + (size_t)i * 7);
		check(write(fd, junk, sizeof(junk)) == sizeof(junk));
	}
	close(fd);
	expect_refused(bad, EBADMSG);
	/* garbage asked to be repaired: no header anywhere, so nothing is written */
	{
		struct stat before, after;

		check(stat(bad, &before) == 0);
		check(dmapipe_recording_open(bad, DMAPIPE_RECORDING_REPAIR) == NULL &&
		      errno == EBADMSG);
		check(stat(bad, &after) == 0 && after.st_size == before.st_size &&
		      after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
	}
	expect_refused(dir, EBADMSG);
	snprintf(bad, sizeof(bad), "%s/missing.rec", dir);
	expect_refused(bad, ENOENT);
	check(dmapipe_recording_open(good, 1u << 30) == NULL && errno == EINVAL);
	test_pass("corrupt");
}

/* ---- checksum: a CRC32C of each frame's payload ------------------------------------ */

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A recorder for @path with checksum mode @mode and the nominal rate @num/@den. */
static struct dmapipe_recorder *checksum_recorder(const char *path, struct ctx *c,
						  enum dmapipe_record_checksum mode, uint32_t num,
						  uint32_t den)
{
	struct dmapipe_recorder_options o;
	struct dmapipe_recorder *rec;

	dmapipe_recorder_options_init(&o);
	o.done = on_done;
	o.user_data = c;
	o.checksum = mode;
	o.fps_num = num;
	o.fps_den = den;
	rec = dmapipe_recorder_new(path, &o);
	check_msg(rec, "%s: %s", path, strerror(errno));
	return rec;
}

/* Records @n pattern frames of @fourcc WxH into @path with checksum mode @mode. */
static void record_checksummed(const char *path, enum dmapipe_record_checksum mode, const char *fourcc,
			       uint32_t w, uint32_t h, uint64_t n, struct dmapipe_recorder_stats *st)
{
	struct ctx c = { .log_fd = -1 };
	struct dmapipe_pool *pool = new_pool(fourcc, w, h, 4);
	struct dmapipe_recorder *rec = checksum_recorder(path, &c, mode, 30000, 1001);

	for (uint64_t s = 0; s < n; s++)
		check_int_eq(record_one(rec, pool, s), 0);
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_get_stats(rec, st);
	dmapipe_recorder_free(rec);
	dmapipe_pool_free(pool);
}

/*
 * Payload checksums (format version 2): with CHECKSUM_ALL every frame
 * carries the CRC32C of its data, which matches what is read back, and one
 * changed byte in a frame's pixels makes exactly that frame fail while the
 * pattern-free reader still reads it; the stats count the frames and the
 * CPU time, printed next to a memcpy of the same frames. By default (AUTO)
 * raw frames carry none, and say so (-ENODATA); so does NONE. The nominal
 * rate the writer was given comes back. A version 1 file (what the
 * previous writer wrote: the same bytes with version 1 in the superblock
 * and the index) still opens and reads.
 */
static void test_checksum(const char *dir)
{
	struct dmapipe_recorder_stats st;
	struct dmapipe_recording_info info;
	struct dmapipe_recorded_frame f;
	struct dmapipe_recording *r;
	uint8_t *mem = NULL, *copy;
	uint64_t t0, memcpy_ns;
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/sum.rec", dir);
	record_checksummed(path, DMAPIPE_RECORD_CHECKSUM_ALL, "NV12", 1920, 1080, 8, &st);
	check_int_eq(st.frames_checksummed, 8);
	check_int_eq(st.checksum, DMAPIPE_RECORD_CHECKSUM_ALL);
	check(st.checksum_ns > 0);
	check_int_eq(st.bytes_copied, 0); /* a checksum reads the pixels, it copies none */
	r = dmapipe_recording_open(path, 0);
	check(r);
	dmapipe_recording_get_info(r, &info);
	check_int_eq(info.version, 2);
	check_int_eq(info.fps_num, 30000);
	check_int_eq(info.fps_den, 1001);
	check_int_eq(info.damage, 0);
	check_int_eq(info.frames_expected, 8);
	check_int_eq(dmapipe_recording_get_frame(r, 3, &f), 0);
	check(posix_memalign((void **)&mem, 4096, (size_t)f.size) == 0);
	copy = malloc((size_t)f.size);
	check(copy);
	for (uint64_t i = 0; i < 8; i++) {
		check_int_eq(dmapipe_recording_get_frame(r, i, &f), 0);
		check(f.flags & DMAPIPE_RECORDED_CHECKSUM);
		check_int_eq(dmapipe_recording_read_frame(r, i, mem, (size_t)f.size), 0);
		check_int_eq(dmapipe_recording_check_payload(r, i, mem, (size_t)f.size), 0);
	}
	check_int_eq(dmapipe_recording_check_payload(r, 8, mem, (size_t)f.size), -ERANGE);
	check_int_eq(dmapipe_recording_check_payload(r, 0, mem, 10), -EINVAL);
	/* what a checksum costs next to a copy of the same bytes (docs/FORMAT.md) */
	t0 = cpu_ns();
	for (int k = 0; k < 8; k++)
		memcpy(copy, mem, (size_t)f.size);
	memcpy_ns = cpu_ns() - t0;
	printf("checksum: %.0f us of CPU per 1080p NV12 frame (%llu bytes); memcpy of it: %.0f us\n",
	       (double)st.checksum_ns / 8 / 1e3, (unsigned long long)f.layout.objects[0].size,
	       (double)memcpy_ns / 8 / 1e3);
	dmapipe_recording_close(r);

	/* one changed byte in frame 5's pixels: only frame 5 fails */
	r = dmapipe_recording_open(path, 0);
	check(r);
	check_int_eq(dmapipe_recording_get_frame(r, 5, &f), 0);
	dmapipe_recording_close(r);
	poke(path, f.offset + f.size / 3, 0x10);
	r = dmapipe_recording_open(path, 0);
	check(r);
	for (uint64_t i = 0; i < 8; i++) {
		check_int_eq(dmapipe_recording_get_frame(r, i, &f), 0);
		check_int_eq(dmapipe_recording_read_frame(r, i, mem, (size_t)f.size), 0);
		check_int_eq(dmapipe_recording_check_payload(r, i, mem, (size_t)f.size),
			     i == 5 ? -EBADMSG : 0);
	}
	dmapipe_recording_close(r);
	/* a scan finds the checksums in the headers, as the index had them */
	r = dmapipe_recording_open(path, DMAPIPE_RECORDING_SCAN);
	check(r);
	check_int_eq(dmapipe_recording_get_frame(r, 5, &f), 0);
	check(f.flags & DMAPIPE_RECORDED_CHECKSUM);
	check_int_eq(dmapipe_recording_read_frame(r, 5, mem, (size_t)f.size), 0);
	check_int_eq(dmapipe_recording_check_payload(r, 5, mem, (size_t)f.size), -EBADMSG);
	dmapipe_recording_close(r);
	check(unlink(path) == 0);

	/* the default for raw frames, and NONE: no checksum, and the reader says so */
	for (int mode = DMAPIPE_RECORD_CHECKSUM_AUTO; mode <= DMAPIPE_RECORD_CHECKSUM_NONE;
	     mode += DMAPIPE_RECORD_CHECKSUM_NONE) {
		record_checksummed(path, (enum dmapipe_record_checksum)mode, "NV12", 320, 240, 3, &st);
		check_int_eq(st.frames_checksummed, 0);
		check_int_eq(st.checksum_ns, 0);
		r = dmapipe_recording_open(path, 0);
		check(r);
		check_int_eq(dmapipe_recording_get_frame(r, 1, &f), 0);
		check(!(f.flags & DMAPIPE_RECORDED_CHECKSUM) && f.checksum == 0);
		check_int_eq(dmapipe_recording_read_frame(r, 1, mem, (size_t)f.size), 0);
		check_int_eq(dmapipe_recording_check_payload(r, 1, mem, (size_t)f.size), -ENODATA);
		dmapipe_recording_close(r);
		check(unlink(path) == 0);
	}
	{
		struct dmapipe_recorder_options o;

		dmapipe_recorder_options_init(&o);
		o.checksum = (enum dmapipe_record_checksum)7;
		check(dmapipe_recorder_new(path, &o) == NULL && errno == EINVAL);
		check(access(path, F_OK) < 0);
	}

	/*
	 * A version 1 file: the previous writer's files were these bytes with
	 * version 1 in the superblock and the index header (and no checksum,
	 * no rate); they open, read and verify as before.
	 */
	{
		uint8_t sbb[REC_SB_SIZE], ix[REC_IX_HEADER_SIZE];
		struct rec_superblock sb;
		const char *why = NULL;

		record_checksummed(path, DMAPIPE_RECORD_CHECKSUM_NONE, "YUV420", 318, 242, 4, &st);
		fd = open(path, O_RDWR);
		check(fd >= 0);
		check(pread(fd, sbb, sizeof(sbb), 0) == (ssize_t)sizeof(sbb));
		check_msg(rec_superblock_decode(sbb, &sb, &why) == 0, "%s", why);
		sb.version = 1;
		sb.fps_num = sb.fps_den = 0;
		rec_superblock_encode(sbb, &sb);
		check(pwrite(fd, sbb, sizeof(sbb), 0) == (ssize_t)sizeof(sbb));
		check(pread(fd, ix, sizeof(ix), (off_t)sb.index_offset) == (ssize_t)sizeof(ix));
		ix[8] = 1;
		ix[60] = ix[61] = ix[62] = ix[63] = 0;
		{
			uint32_t crc = htole32(rec_crc32c(0, ix, 60));

			memcpy(ix + 60, &crc, 4);
		}
		check(pwrite(fd, ix, sizeof(ix), (off_t)sb.index_offset) == (ssize_t)sizeof(ix));
		close(fd);
		check_int_eq(verify_file(path, 0, &info), 4);
		check(info.closed && !info.scanned);
		check_int_eq(info.version, 1);
		check_int_eq(info.fps_num, 0);
		check_int_eq(verify_file(path, DMAPIPE_RECORDING_SCAN, &info), 4);
	}
	/*
	 * A rate learnt after the recorder was made (record --socket connects
	 * once its file exists) is what the closed recording says; half a
	 * fraction is refused and changes nothing.
	 */
	{
		struct ctx c = { .log_fd = -1 };
		struct dmapipe_pool *pool = new_pool("NV12", 64, 64, 4);
		struct dmapipe_recorder *rec;

		snprintf(path, sizeof(path), "%s/late-rate.rec", dir);
		rec = checksum_recorder(path, &c, DMAPIPE_RECORD_CHECKSUM_AUTO, 0, 0);
		check_int_eq(record_one(rec, pool, 0), 0);
		check_int_eq(dmapipe_recorder_set_rate(rec, 60000, 1001), 0);
		check_int_eq(dmapipe_recorder_set_rate(rec, 25, 0), -EINVAL);
		check_int_eq(dmapipe_recorder_set_rate(NULL, 25, 1), -EINVAL);
		check_int_eq(record_one(rec, pool, 1), 0);
		check_int_eq(dmapipe_recorder_finish(rec), 0);
		dmapipe_recorder_free(rec);
		dmapipe_pool_free(pool);
		check_int_eq(verify_file(path, 0, &info), 2);
		check_int_eq(info.fps_num, 60000);
		check_int_eq(info.fps_den, 1001);
	}
	free(copy);
	free(mem);
	test_pass("checksum");
}

/* ---- colorimetry: the format info in the superblock ------------------------------- */

/* Records 3 frames into @path, the format info set (when @fi) after the first. */
static void record_with_info(const char *path, const struct dmapipe_format_info *fi)
{
	struct ctx c = { .log_fd = -1 };
	struct dmapipe_pool *pool = new_pool("NV12", 64, 48, 4);
	struct dmapipe_recorder *rec = checksum_recorder(path, &c, DMAPIPE_RECORD_CHECKSUM_AUTO,
							 0, 0);

	check_int_eq(record_one(rec, pool, 0), 0);
	if (fi)
		check_int_eq(dmapipe_recorder_set_format_info(rec, fi), 0);
	check_int_eq(record_one(rec, pool, 1), 0);
	check_int_eq(record_one(rec, pool, 2), 0);
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);
	dmapipe_pool_free(pool);
}

/* Opens @path with @flags: every frame verifies, and its format info is *@want. */
static void expect_format_info(const char *path, uint32_t flags,
			       const struct dmapipe_format_info *want)
{
	struct dmapipe_recording_info info;
	struct dmapipe_format_info got;
	struct dmapipe_recording *r;
	const char *why = NULL;

	check_int_eq(verify_file(path, flags, &info), 3);
	r = dmapipe_recording_open(path, flags);
	check(r);
	memset(&got, 0xa5, sizeof(got));
	check_int_eq(dmapipe_recording_get_format_info(r, &got), 0);
	check_msg(dmapipe_format_info_check(&got, &why) == 0, "%s: %s", path, why);
	check_int_eq(got.fps_num, want->fps_num);
	check_int_eq(got.fps_den, want->fps_den);
	check_int_eq(got.par_num, want->par_num);
	check_int_eq(got.par_den, want->par_den);
	check_int_eq(got.matrix, want->matrix);
	check_int_eq(got.transfer, want->transfer);
	check_int_eq(got.primaries, want->primaries);
	check_int_eq(got.range, want->range);
	check_int_eq(got.chroma_site, want->chroma_site);
	check_int_eq(got.interlace, want->interlace);
	check_int_eq(got.field_order, want->field_order);
	check(memcmp(&got, want, sizeof(got)) == 0); /* reserved fields zero too */
	/* the rate of dmapipe_recording_info agrees: 0/0 when unknown */
	check_int_eq(info.fps_num, want->fps_num);
	check_int_eq(info.fps_den, want->fps_num ? want->fps_den : 0);
	dmapipe_recording_close(r);
}

/* Rewrites @path's superblock's bytes through @edit, with a valid checksum. */
static void edit_superblock(const char *path, void (*edit)(uint8_t *b))
{
	uint8_t b[REC_SB_SIZE];
	uint32_t crc;
	int fd = open(path, O_RDWR);

	check(fd >= 0);
	check(pread(fd, b, sizeof(b), 0) == (ssize_t)sizeof(b));
	edit(b);
	crc = htole32(rec_crc32c(0, b, 124));
	memcpy(b + 124, &crc, 4);
	check(pwrite(fd, b, sizeof(b), 0) == (ssize_t)sizeof(b));
	close(fd);
}

/* What a version 2 writer before the format info left: zero from byte 92 on. */
static void edit_zero_extension(uint8_t *b)
{
	memset(b + 92, 0, 124 - 92);
}

/* What a version 1 writer left: no rate either, version 1. */
static void edit_version1(uint8_t *b)
{
	memset(b + 84, 0, 124 - 84);
	b[8] = 1;
}

/* Values no dmapipe_format_info holds, in bytes the checksum covers. */
static void edit_bad_values(uint8_t *b)
{
	b[100] = DMAPIPE_MATRIX_BT2020 + 1;
	b[101] = 0xff;                          /* transfer */
	b[102] = DMAPIPE_PRIMARIES_SMPTEEG432 + 1;
	b[103] = DMAPIPE_RANGE_LIMITED + 1;
	b[104] = DMAPIPE_CHROMA_SITE_DV + 1;
	b[105] = DMAPIPE_INTERLACE_ALTERNATE + 1; /* so the field order has no interlacing */
	b[106] = DMAPIPE_FIELD_ORDER_BOTTOM_FIRST;
	memset(b + 96, 0, 4);                   /* par 4/0 */
	memset(b + 88, 0, 4);                   /* rate 30000/0 */
}

/*
 * Each value the codec reads out of range alone becomes unknown, the rest
 * kept, and the reason names it; 2000 random extensions (with a valid
 * checksum, as a newer writer's would be) always read as an info that
 * passes dmapipe_format_info_check().
 */
static void check_codec_sanitizes(void)
{
	struct dmapipe_format_info base, fi;
	struct rec_superblock sb;
	uint8_t b[REC_SB_SIZE];
	const char *why;
	uint32_t seed = 12345;

	memset(&sb, 0, sizeof(sb));
	sb.version = REC_VERSION;
	sb.block_size = REC_MIN_BLOCK;
	sb.state = REC_STATE_CLOSED;
	dmapipe_format_info_init(&base);
	base.fps_num = 25;
	base.par_num = 16;
	base.par_den = 15;
	base.matrix = DMAPIPE_MATRIX_BT601;
	base.transfer = DMAPIPE_TRANSFER_BT601;
	base.primaries = DMAPIPE_PRIMARIES_BT470BG;
	base.range = DMAPIPE_RANGE_LIMITED;
	base.chroma_site = DMAPIPE_CHROMA_SITE_MPEG2;
	base.interlace = DMAPIPE_INTERLACE_INTERLEAVED;
	base.field_order = DMAPIPE_FIELD_ORDER_TOP_FIRST;
	for (unsigned int off = 100; off <= 106; off++) {
		struct dmapipe_format_info want = base;
		uint32_t *field[] = { &want.matrix, &want.transfer, &want.primaries, &want.range,
				      &want.chroma_site, &want.interlace, &want.field_order };

		rec_superblock_set_format_info(&sb, &base);
		rec_superblock_encode(b, &sb);
		b[off] = 0xff;
		memcpy(b + 124, &(uint32_t){ htole32(rec_crc32c(0, b, 124)) }, 4);
		why = NULL;
		check_int_eq(rec_superblock_decode(b, &sb, &why), 0);
		check_int_eq(rec_superblock_get_format_info(&sb, &fi, &why), -EINVAL);
		check_msg(why && strstr(why, "unknown"), "offset %u: %s", off, why ? why : "no reason");
		*field[off - 100] = 0;
		/* interlacing unknown: no field order either */
		if (off == 105)
			want.field_order = 0;
		check_msg(memcmp(&fi, &want, sizeof(fi)) == 0, "offset %u", off);
	}
	/* the recorder's own infos read back exactly, and say nothing */
	rec_superblock_set_format_info(&sb, &base);
	why = NULL;
	check_int_eq(rec_superblock_get_format_info(&sb, &fi, &why), 0);
	check(!why && memcmp(&fi, &base, sizeof(fi)) == 0);
	for (int i = 0; i < 2000; i++) {
		for (unsigned int k = 84; k < 107; k++) {
			seed = seed * 1103515245u + 12345u;
			/* mostly small values: the boundaries of the enums get hit */
			b[k] = (uint8_t)(seed >> 16) % ((seed >> 28) ? 12 : 256);
		}
		memcpy(b + 124, &(uint32_t){ htole32(rec_crc32c(0, b, 124)) }, 4);
		check_int_eq(rec_superblock_decode(b, &sb, &why), 0);
		why = NULL;
		rec_superblock_get_format_info(&sb, &fi, NULL);
		check_msg(dmapipe_format_info_check(&fi, &why) == 0, "random extension %d: %s", i, why);
	}
}

/*
 * The format info (issue #15) round-trips through a recording: every
 * field, at its lowest and highest known value, from the closed file, a
 * scan and a repair; set after frames were recorded, as record --socket
 * does. Infos dmapipe_format_info_check() refuses are refused and change
 * nothing. Files without it read as unknown, rate kept. Out-of-range
 * values in a superblock with a valid checksum read as unknown, the
 * frames still readable.
 */
static void test_colorimetry(const char *dir)
{
	struct dmapipe_format_info lo, hi, unknown, bad;
	struct dmapipe_recorder *rec;
	char path[512], copy[512];
	struct stat st;

	check_codec_sanitizes();

	dmapipe_format_info_init(&lo);
	lo.fps_num = 1;
	lo.par_num = 1;
	lo.par_den = 1;
	lo.matrix = DMAPIPE_MATRIX_RGB;
	lo.transfer = DMAPIPE_TRANSFER_LINEAR;
	lo.primaries = DMAPIPE_PRIMARIES_BT709;
	lo.range = DMAPIPE_RANGE_FULL;
	lo.chroma_site = DMAPIPE_CHROMA_SITE_MPEG2;
	lo.interlace = DMAPIPE_INTERLACE_PROGRESSIVE;
	dmapipe_format_info_init(&hi);
	hi.fps_num = 30000;
	hi.fps_den = 1001;
	hi.par_num = UINT32_MAX;
	hi.par_den = UINT32_MAX - 1;
	hi.matrix = DMAPIPE_MATRIX_BT2020;
	hi.transfer = DMAPIPE_TRANSFER_ARIB_STD_B67;
	hi.primaries = DMAPIPE_PRIMARIES_SMPTEEG432;
	hi.range = DMAPIPE_RANGE_LIMITED;
	hi.chroma_site = DMAPIPE_CHROMA_SITE_DV;
	hi.interlace = DMAPIPE_INTERLACE_ALTERNATE;
	hi.field_order = DMAPIPE_FIELD_ORDER_BOTTOM_FIRST;
	dmapipe_format_info_init(&unknown);
	unknown.par_num = 0;

	snprintf(path, sizeof(path), "%s/lo.rec", dir);
	record_with_info(path, &lo);
	expect_format_info(path, 0, &lo);
	snprintf(path, sizeof(path), "%s/hi.rec", dir);
	record_with_info(path, &hi);
	expect_format_info(path, 0, &hi);
	expect_format_info(path, DMAPIPE_RECORDING_SCAN, &hi);
	/* a repair writes the superblock again: the info stays */
	snprintf(copy, sizeof(copy), "%s/hi-repaired.rec", dir);
	check(stat(path, &st) == 0);
	copy_file(path, copy, (uint64_t)st.st_size);
	expect_format_info(copy, DMAPIPE_RECORDING_SCAN | DMAPIPE_RECORDING_REPAIR, &hi);
	expect_format_info(copy, 0, &hi);
	/* nothing set: unknown, square pixels not assumed */
	snprintf(path, sizeof(path), "%s/none.rec", dir);
	record_with_info(path, NULL);
	expect_format_info(path, 0, &unknown);

	/* refused, and the recording keeps what was set before */
	{
		struct ctx c = { .log_fd = -1 };
		struct dmapipe_pool *pool = new_pool("NV12", 64, 48, 4);

		snprintf(path, sizeof(path), "%s/refused.rec", dir);
		rec = checksum_recorder(path, &c, DMAPIPE_RECORD_CHECKSUM_AUTO, 0, 0);
		check_int_eq(dmapipe_recorder_set_format_info(rec, &hi), 0);
		check_int_eq(dmapipe_recorder_set_format_info(NULL, &lo), -EINVAL);
		check_int_eq(dmapipe_recorder_set_format_info(rec, NULL), -EINVAL);
		bad = lo;
		bad.matrix = DMAPIPE_MATRIX_BT2020 + 1;
		check_int_eq(dmapipe_recorder_set_format_info(rec, &bad), -EINVAL);
		bad = lo;
		bad.field_order = DMAPIPE_FIELD_ORDER_TOP_FIRST; /* progressive */
		check_int_eq(dmapipe_recorder_set_format_info(rec, &bad), -EINVAL);
		bad = lo;
		bad.par_den = 0;
		check_int_eq(dmapipe_recorder_set_format_info(rec, &bad), -EINVAL);
		bad = lo;
		bad.reserved[4] = 1;
		check_int_eq(dmapipe_recorder_set_format_info(rec, &bad), -EINVAL);
		for (uint64_t s = 0; s < 3; s++)
			check_int_eq(record_one(rec, pool, s), 0);
		check_int_eq(dmapipe_recorder_finish(rec), 0);
		dmapipe_recorder_free(rec);
		dmapipe_pool_free(pool);
		expect_format_info(path, 0, &hi);
	}
	check_int_eq(dmapipe_recording_get_format_info(NULL, &bad), -EINVAL);

	/* older files: the rate (version 2) or nothing (version 1), the rest unknown */
	snprintf(path, sizeof(path), "%s/hi.rec", dir);
	edit_superblock(path, edit_zero_extension);
	unknown.fps_num = hi.fps_num;
	unknown.fps_den = hi.fps_den;
	expect_format_info(path, 0, &unknown);
	edit_superblock(path, edit_version1);
	unknown.fps_num = 0;
	unknown.fps_den = 1;
	expect_format_info(path, 0, &unknown);

	/* values out of every range: each unknown, aspect ratio and rate too; frames read */
	snprintf(path, sizeof(path), "%s/bad.rec", dir);
	record_with_info(path, &hi);
	edit_superblock(path, edit_bad_values);
	expect_format_info(path, 0, &unknown);
	expect_format_info(path, DMAPIPE_RECORDING_SCAN, &unknown);
	test_pass("colorimetry: every field through a recording, old files unknown, bad values "
		  "unknown");
}

/* ---- probe-sample: a recording with known gaps, rate and formats, for the tool ------ */

/* Records pattern frame @seq of @pool, its timestamp @period_ns per sequence step from 5 s. */
static void record_pattern_frame(struct dmapipe_recorder *rec, struct dmapipe_pool *pool,
				 uint64_t seq, uint64_t period_ns)
{
	struct dmapipe_frame_meta meta;
	struct dmapipe_buffer *b;
	int ret;

	while (!(b = dmapipe_pool_acquire(pool)))
		check(dmapipe_recorder_dispatch(rec, 100) >= 0);
	check_int_eq(dmapipe_buffer_draw_pattern(b, seq), 0);
	dmapipe_frame_meta_init(&meta);
	meta.sequence = seq;
	meta.timestamp_ns = 5000000000ull + seq * period_ns;
	meta.flags = DMAPIPE_FRAME_PATTERN;
	while ((ret = dmapipe_recorder_submit(rec, b, &meta, NULL)) == -EAGAIN)
		check(dmapipe_recorder_dispatch(rec, 100) >= 0);
	check_int_eq(ret, 0);
	dmapipe_buffer_unref(b);
}

/*
 * Not a test of its own: writes the recording tests/test-play.sh probes to
 * the path in DMAPIPE_TEST_PROBE_SAMPLE: NV12 320x240 frames with sequence
 * 0..9 and 15..24 (5 missing after 9), then YUYV 64x48 frames 25 and 26;
 * timestamps 30 fps apart by sequence; the nominal rate 30/1; a checksum
 * on every frame.
 */
static void write_probe_sample(const char *path)
{
	struct ctx c = { .log_fd = -1 };
	struct dmapipe_pool *nv12 = new_pool("NV12", 320, 240, 3), *yuyv = new_pool("YUYV", 64, 48, 3);
	struct dmapipe_recorder *rec = checksum_recorder(path, &c, DMAPIPE_RECORD_CHECKSUM_ALL, 30, 1);

	for (uint64_t seq = 0; seq < 27; seq++)
		if (seq < 10 || seq >= 15)
			record_pattern_frame(rec, seq < 25 ? nv12 : yuyv, seq, 33333333);
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);
	dmapipe_pool_free(nv12);
	dmapipe_pool_free(yuyv);
	check_int_eq(c.done, 22);
}

/*
 * Not a test of its own: writes the recording tests/test-play.sh plays,
 * re-records, probes and exports to the path in
 * DMAPIPE_TEST_FORMAT_INFO_SAMPLE: 10 YUV420 64x48 test-pattern frames
 * at 30000/1001 fps, told interleaved top field first, pixel aspect ratio
 * 4:3, BT.709 matrix, transfer and primaries, limited range, MPEG-2
 * chroma siting.
 */
static void write_format_info_sample(const char *path)
{
	struct ctx c = { .log_fd = -1 };
	struct dmapipe_pool *pool = new_pool("YUV420", 64, 48, 3);
	struct dmapipe_recorder *rec = checksum_recorder(path, &c, DMAPIPE_RECORD_CHECKSUM_ALL, 0, 0);
	struct dmapipe_format_info fi;

	dmapipe_format_info_init(&fi);
	fi.fps_num = 30000;
	fi.fps_den = 1001;
	fi.par_num = 4;
	fi.par_den = 3;
	fi.matrix = DMAPIPE_MATRIX_BT709;
	fi.transfer = DMAPIPE_TRANSFER_BT709;
	fi.primaries = DMAPIPE_PRIMARIES_BT709;
	fi.range = DMAPIPE_RANGE_LIMITED;
	fi.chroma_site = DMAPIPE_CHROMA_SITE_MPEG2;
	fi.interlace = DMAPIPE_INTERLACE_INTERLEAVED;
	fi.field_order = DMAPIPE_FIELD_ORDER_TOP_FIRST;
	check_int_eq(dmapipe_recorder_set_format_info(rec, &fi), 0);
	for (uint64_t seq = 0; seq < 10; seq++)
		record_pattern_frame(rec, pool, seq, 33366667);
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);
	dmapipe_pool_free(pool);
	check_int_eq(c.done, 10);
}

/* ---- files: what a recorder may write, truncate and remove ---------------------------- */

/* A recorder for @path with overwrite: refused with @err, and nothing there changed. */
static void expect_not_recorded(const char *path, int err)
{
	struct dmapipe_recorder_options o;
	struct stat before, after;

	dmapipe_recorder_options_init(&o);
	o.overwrite = true;
	check(lstat(path, &before) == 0);
	check_msg(dmapipe_recorder_new(path, &o) == NULL && errno == err,
		  "%s: %s, expected %s", path, strerror(errno), strerror(err));
	check_msg(lstat(path, &after) == 0, "%s was removed", path);
	check(after.st_ino == before.st_ino && after.st_mode == before.st_mode &&
	      after.st_rdev == before.st_rdev && after.st_size == before.st_size);
}

/*
 * Only regular files are written, truncated or removed: a device node, a
 * FIFO (without a reader: the open must not block) and a directory named
 * as the recording are refused with overwrite, and stay; a symbolic link
 * to a regular file is followed and stays a link. A recording written into
 * the caller's fd (dmapipe_recorder_new_fd()) reads back like any other,
 * and the fd is refused when it cannot hold a recording.
 */
static void test_files(const char *dir)
{
	struct dmapipe_recorder_options o;
	struct dmapipe_recording_info info;
	struct ctx c = { .log_fd = -1 };
	struct dmapipe_pool *pool = new_pool("NV12", 320, 240, 3);
	struct dmapipe_recorder *rec;
	char path[512], link_path[512];
	struct stat st;
	int fd, pipefd[2];

	snprintf(path, sizeof(path), "%s/null", dir);
	if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) == 0)
		expect_not_recorded(path, EINVAL);
	else
		printf("no device node test: mknod: %s\n", strerror(errno));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	check(mkfifo(path, 0600) == 0);
	expect_not_recorded(path, EINVAL);
	snprintf(path, sizeof(path), "%s/subdir", dir);
	check(mkdir(path, 0700) == 0);
	expect_not_recorded(path, EINVAL);

	/* a link to a regular file: the file is recorded into, the link stays */
	snprintf(path, sizeof(path), "%s/target.rec", dir);
	snprintf(link_path, sizeof(link_path), "%s/link.rec", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	check(fd >= 0 && write(fd, "old", 3) == 3);
	close(fd);
	check(symlink("target.rec", link_path) == 0);
	dmapipe_recorder_options_init(&o);
	o.overwrite = true;
	o.done = on_done;
	o.user_data = &c;
	rec = dmapipe_recorder_new(link_path, &o);
	check_msg(rec, "recording through a link: %s", strerror(errno));
	for (uint64_t s = 0; s < 3; s++)
		check_int_eq(record_one(rec, pool, s), 0);
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);
	check(lstat(link_path, &st) == 0 && S_ISLNK(st.st_mode));
	check_int_eq(verify_file(path, 0, &info), 3);

	/* into the caller's fd: a temporary file, recorded, then named */
	snprintf(path, sizeof(path), "%s/tmp-XXXXXX", dir);
	fd = mkstemp(path);
	check(fd >= 0);
	check(write(fd, "stale bytes", 11) == 11);
	rec = dmapipe_recorder_new_fd(fd, &o);
	check_msg(rec, "recorder_new_fd: %s", strerror(errno));
	for (uint64_t s = 0; s < 5; s++)
		check_int_eq(record_one(rec, pool, s), 0);
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);
	/* the caller's fd is still open and its own */
	check(fcntl(fd, F_GETFD) >= 0);
	close(fd);
	check_int_eq(verify_file(path, 0, &info), 5);
	check(info.closed);
	check(unlink(path) == 0);

	/* fds that cannot hold a recording: refused, and the file stays as it was */
	fd = open(link_path, O_RDONLY);
	check(fd >= 0);
	check(dmapipe_recorder_new_fd(fd, &o) == NULL && errno == EINVAL);
	close(fd);
	fd = open(link_path, O_WRONLY | O_APPEND);
	check(fd >= 0);
	check(dmapipe_recorder_new_fd(fd, &o) == NULL && errno == EINVAL);
	close(fd);
	check_int_eq(verify_file(link_path, 0, &info), 3);
	check(pipe(pipefd) == 0);
	check(dmapipe_recorder_new_fd(pipefd[1], &o) == NULL && errno == EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
	check(dmapipe_recorder_new_fd(-1, &o) == NULL && errno == EBADF);
	check(dmapipe_recorder_new(NULL, &o) == NULL && errno == EINVAL);
	dmapipe_pool_free(pool);
	test_pass("files");
}

/* ---- options: structs from older (and newer) headers ----------------------------------- */

static unsigned int null_user_data_calls;

/* A done callback for options cut before user_data: the library's default must arrive. */
static void on_done_default(struct dmapipe_recorder *rec, void *frame_data, int status,
			    void *user_data)
{
	(void)rec;
	(void)frame_data;
	check_int_eq(status, 0);
	check(user_data == NULL);
	null_user_data_calls++;
}

static void on_read_default(struct dmapipe_reader *rd, uint64_t index, struct dmapipe_buffer *b,
			    void *frame_data, int status, void *user_data)
{
	(void)rd;
	(void)frame_data;
	check_int_eq(status, 0);
	check(user_data == NULL);
	check_int_eq(dmapipe_buffer_check_pattern(b, index), 0);
	null_user_data_calls++;
}

/* max_frames as the recorder stored it in the superblock of @path. */
static uint32_t stored_max_frames(const char *path)
{
	uint8_t block[REC_SB_SIZE];
	struct rec_superblock sb;
	const char *why = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	check(fd >= 0);
	check(pread(fd, block, sizeof(block), 0) == (ssize_t)sizeof(block));
	close(fd);
	check_msg(rec_superblock_decode(block, &sb, &why) == 0, "%s", why);
	return sb.max_frames;
}

/*
 * A program built against older headers passes a shorter options struct
 * (its size field says how long): the library takes the fields it has and
 * defaults for the rest, never what lies past its end (here 0xff bytes:
 * a junk done callback would crash, junk overwrite would replace a file,
 * junk prealloc_bytes would fail the fallocate). A struct from newer
 * headers (longer) is accepted when the fields this library does not know
 * are 0, refused with E2BIG when they ask for more; one too short for its
 * size field is refused.
 */
static void test_options(const char *dir)
{
	struct {
		struct dmapipe_recorder_options o;
		uint8_t newer[64];
	} ro;
	struct {
		struct dmapipe_reader_options o;
		uint8_t newer[64];
	} rdo;
	struct dmapipe_pool *pool = new_pool("NV12", 320, 240, 3);
	struct dmapipe_buffer *bufs[2];
	struct dmapipe_recorder_stats st;
	struct dmapipe_reader_stats rst;
	struct dmapipe_recording *r;
	struct dmapipe_recorder *rec;
	struct dmapipe_reader *rd;
	char path[512], path2[512];

	snprintf(path, sizeof(path), "%s/options.rec", dir);
	snprintf(path2, sizeof(path2), "%s/options2.rec", dir);

	/* too short to hold its own size */
	memset(&ro, 0, sizeof(ro));
	ro.o.size = 2;
	check(dmapipe_recorder_new(path, &ro.o) == NULL && errno == EINVAL);

	/* cut before max_bytes: mode and max_frames given, the rest defaults */
	memset(&ro, 0xff, sizeof(ro));
	ro.o.size = offsetof(struct dmapipe_recorder_options, max_bytes);
	ro.o.mode = DMAPIPE_RECORD_AUTO;
	ro.o.max_frames = 3;
	rec = dmapipe_recorder_new(path, &ro.o);
	check_msg(rec, "a recorder from a struct cut before max_bytes: %s", strerror(errno));
	dmapipe_recorder_get_stats(rec, &st);
	/* prealloc_bytes took its default (256 MiB), not the junk after the struct */
	check_int_eq(st.preallocated, st.block_size + (UINT64_C(256) << 20));
	for (uint64_t i = 0; i < 4; i++)
		check_int_eq(record_one(rec, pool, i), 0);
	check_int_eq(dmapipe_recorder_finish(rec), 0); /* a junk done callback would crash here */
	dmapipe_recorder_free(rec);
	check_int_eq(stored_max_frames(path), 3);
	/* overwrite took its default (false): the file is not replaced */
	check(dmapipe_recorder_new(path, &ro.o) == NULL && errno == EEXIST);

	/* cut before the last field, user_data: done is the caller's, user_data NULL */
	memset(&ro, 0xff, sizeof(ro));
	dmapipe_recorder_options_init(&ro.o);
	ro.o.size = offsetof(struct dmapipe_recorder_options, user_data);
	ro.o.done = on_done_default;
	memset(&ro.o.user_data, 0xff, sizeof(ro.o.user_data));
	null_user_data_calls = 0;
	rec = dmapipe_recorder_new(path2, &ro.o);
	check_msg(rec, "a recorder from a struct cut before user_data: %s", strerror(errno));
	for (uint64_t i = 0; i < 4; i++)
		check_int_eq(record_one(rec, pool, i), 0);
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);
	check_int_eq(null_user_data_calls, 4);
	check(unlink(path2) == 0);

	/* from newer headers: a longer struct whose newer fields are unset (0)
	 * works; one that asks for something this library does not know is
	 * refused rather than ignored */
	dmapipe_recorder_options_init(&ro.o);
	memset(ro.newer, 0, sizeof(ro.newer));
	ro.o.size = sizeof(ro);
	rec = dmapipe_recorder_new(path2, &ro.o);
	check_msg(rec, "a recorder from a longer struct: %s", strerror(errno));
	dmapipe_recorder_free(rec);
	memset(ro.newer, 0xff, sizeof(ro.newer));
	check(dmapipe_recorder_new(path2, &ro.o) == NULL && errno == E2BIG);

	/* the reader: cut before max_bytes, max_frames 1 given */
	r = dmapipe_recording_open(path, 0);
	check(r);
	memset(&rdo, 0, sizeof(rdo));
	rdo.o.size = 2;
	check(dmapipe_reader_new(r, &rdo.o) == NULL && errno == EINVAL);
	memset(&rdo, 0xff, sizeof(rdo));
	rdo.o.size = offsetof(struct dmapipe_reader_options, max_bytes);
	rdo.o.max_frames = 1;
	rd = dmapipe_reader_new(r, &rdo.o);
	check_msg(rd, "a reader from a struct cut before max_bytes: %s", strerror(errno));
	bufs[0] = dmapipe_pool_acquire(pool);
	bufs[1] = dmapipe_pool_acquire(pool);
	check(bufs[0] && bufs[1]);
	check_int_eq(dmapipe_reader_submit(rd, 0, bufs[0], NULL), 0);
	check_int_eq(dmapipe_reader_submit(rd, 1, bufs[1], NULL), -EAGAIN); /* max_frames 1 */
	while (dmapipe_reader_dispatch(rd, -1) == 0)
		; /* no done callback: a junk one would crash */
	dmapipe_reader_get_stats(rd, &rst);
	check_int_eq(rst.frames_read, 1);
	check_int_eq(rst.frames_failed, 0);
	dmapipe_reader_free(rd);

	/* cut before user_data: the caller's done, user_data NULL */
	memset(&rdo, 0xff, sizeof(rdo));
	dmapipe_reader_options_init(&rdo.o);
	rdo.o.size = offsetof(struct dmapipe_reader_options, user_data);
	rdo.o.done = on_read_default;
	memset(&rdo.o.user_data, 0xff, sizeof(rdo.o.user_data));
	null_user_data_calls = 0;
	rd = dmapipe_reader_new(r, &rdo.o);
	check_msg(rd, "a reader from a struct cut before user_data: %s", strerror(errno));
	check_int_eq(dmapipe_reader_submit(rd, 2, bufs[0], NULL), 0);
	while (null_user_data_calls == 0)
		check(dmapipe_reader_dispatch(rd, -1) >= 0);
	dmapipe_reader_free(rd);

	dmapipe_buffer_unref(bufs[0]);
	dmapipe_buffer_unref(bufs[1]);
	dmapipe_recording_close(r);
	dmapipe_pool_free(pool);
	check(unlink(path) == 0);
	check(unlink(path2) == 0);
	test_pass("options");
}

/* ---- fence: the recorder waits for acquire fences ---------------------------------------- */

/* Submits @b as frame @seq with @fence (-1: none), as record_one() would have it. */
static void submit_fenced(struct dmapipe_recorder *rec, struct dmapipe_buffer *b, uint64_t seq,
			  int fence)
{
	struct dmapipe_frame_meta meta;
	uint64_t t0 = test_now_ms();

	dmapipe_frame_meta_init(&meta);
	meta.sequence = seq;
	meta.timestamp_ns = 1000 + seq * 16666667;
	meta.flags = seq % 7 == 0 ? DMAPIPE_FRAME_KEYFRAME : 0;
	meta.acquire_fence = fence;
	check_int_eq(dmapipe_recorder_submit(rec, b, &meta, (void *)(uintptr_t)seq), 0);
	/* never waits for the fence: a producer's thread must not block here */
	check_msg(test_now_ms() - t0 < 500, "submit took %llu ms",
		  (unsigned long long)(test_now_ms() - t0));
}

/* Dispatches for @ms and returns the frames the done callback saw by then. */
static uint64_t dispatch_for(struct dmapipe_recorder *rec, struct ctx *c, unsigned int ms)
{
	uint64_t end = test_now_ms() + ms;

	while (test_now_ms() < end)
		check(dmapipe_recorder_dispatch(rec, 20) >= 0);
	return c->done + c->failed;
}

/*
 * A frame submitted with an acquire fence that has not signalled: submit
 * returns at once, the frame is held (later frames are written meanwhile)
 * and its pixels are read only after the fence signals -- the producer
 * draws them after submitting, so a recorder that read early would store
 * the wrong pattern. An already signalled fence costs nothing; a fence
 * that never signals is given up at finish (-ECANCELED, the rest of the
 * recording intact); a fence that is not an fd is refused.
 */
static void test_fence(const char *dir)
{
	struct dmapipe_pool *pool = new_pool("NV12", 640, 480, 4);
	struct test_fence late, early, never;
	struct dmapipe_recording_info info;
	struct dmapipe_recorder_stats st;
	struct ctx c = { .log_fd = -1 };
	struct dmapipe_buffer *b[4];
	struct dmapipe_frame_meta meta;
	struct dmapipe_recorder *rec;
	const char *why = NULL;
	char path[512];
	uint64_t t0;

	snprintf(path, sizeof(path), "%s/fence.rec", dir);
	rec = new_recorder(path, &c, DMAPIPE_RECORD_AUTO, UINT64_MAX);
	for (int i = 0; i < 4; i++) {
		b[i] = dmapipe_pool_acquire(pool);
		check(b[i]);
	}
	/* not an fd: refused, nothing taken */
	dmapipe_frame_meta_init(&meta);
	meta.acquire_fence = 1000;
	check(fcntl(meta.acquire_fence, F_GETFD) < 0);
	check_int_eq(dmapipe_recorder_submit(rec, b[0], &meta, NULL), -EINVAL);
	check_int_eq(dmapipe_buffer_get_refcount(b[0]), 1);

	if (test_fence_new(&late, &why) < 0) {
		dmapipe_recorder_free(rec);
		for (int i = 0; i < 4; i++)
			dmapipe_buffer_unref(b[i]);
		dmapipe_pool_free(pool);
		test_rmdir_all(dir);
		test_skip("no fence that signals when told: %s (the QEMU lane runs this with "
			  "vgem)", why);
	}
	check(test_fence_new(&early, &why) == 0);
	check(test_fence_new(&never, &why) == 0);

	/* frame 1: submitted while its producer is still drawing it */
	check_int_eq(dmapipe_buffer_draw_pattern(b[0], 999), 0);
	submit_fenced(rec, b[0], 1, late.fd);
	close(late.fd); /* the caller's fence: the recorder holds its own */
	late.fd = -1;
	/* frame 2, no fence: written while frame 1 waits */
	check_int_eq(dmapipe_buffer_draw_pattern(b[1], 2), 0);
	submit_fenced(rec, b[1], 2, -1);
	check_int_eq(dispatch_for(rec, &c, 300), 1);
	check_int_eq(c.last_status, 0);
	dmapipe_recorder_get_stats(rec, &st);
	check_int_eq(st.frames_written, 1);
	check_int_eq(st.in_flight_frames, 1);
	/* the producer finishes frame 1 and signals */
	check_int_eq(dmapipe_buffer_draw_pattern(b[0], 1), 0);
	check_int_eq(test_fence_signal(&late), 0);
	t0 = test_now_ms();
	while (c.done < 2 && test_now_ms() - t0 < 5000)
		check(dmapipe_recorder_dispatch(rec, 100) >= 0);
	check_int_eq(c.done, 2);
	check_int_eq(c.failed, 0);

	/* frame 3: its fence signalled before the submit */
	check_int_eq(dmapipe_buffer_draw_pattern(b[2], 3), 0);
	check_int_eq(test_fence_signal(&early), 0);
	submit_fenced(rec, b[2], 3, early.fd);
	/* frame 4: its fence never signals */
	check_int_eq(dmapipe_buffer_draw_pattern(b[3], 4), 0);
	submit_fenced(rec, b[3], 4, never.fd);
	check_int_eq(dispatch_for(rec, &c, 200), 3);
	t0 = test_now_ms();
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	check_msg(test_now_ms() - t0 < 5000, "finish took %llu ms",
		  (unsigned long long)(test_now_ms() - t0));
	check_int_eq(c.done, 3);
	check_int_eq(c.failed, 1);
	check_int_eq(c.last_status, -ECANCELED);
	dmapipe_recorder_get_stats(rec, &st);
	check_int_eq(st.frames_written, 3);
	check_int_eq(st.frames_failed, 1);
	check_int_eq(st.error, 0);
	dmapipe_recorder_free(rec);
	for (int i = 0; i < 4; i++) {
		check_int_eq(dmapipe_buffer_get_refcount(b[i]), 1);
		dmapipe_buffer_unref(b[i]);
	}

	/* in submission order, each with the pixels it had when its fence signalled */
	check_int_eq(verify_file(path, 0, &info), 3);
	check(info.closed);
	test_fence_signal(&never);
	test_fence_finish(&late);
	test_fence_finish(&early);
	test_fence_finish(&never);
	dmapipe_pool_free(pool);
	check(unlink(path) == 0);
	test_pass("fence");
}

/* ---- buffered ----------------------------------------------------------------------------- */

/* Bytes of @path in the page cache (mincore over a mapping of it). */
static uint64_t cached_bytes(const char *path)
{
	int fd = open(path, O_RDONLY);
	uint64_t pages = 0, ps = (uint64_t)sysconf(_SC_PAGESIZE);
	struct stat st;
	unsigned char *vec;
	void *map;

	check(fd >= 0);
	check(fstat(fd, &st) == 0);
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	check(map != MAP_FAILED);
	vec = malloc((size_t)((uint64_t)st.st_size + ps - 1) / ps);
	check(vec);
	check(mincore(map, (size_t)st.st_size, vec) == 0);
	for (uint64_t i = 0; i < ((uint64_t)st.st_size + ps - 1) / ps; i++)
		pages += vec[i] & 1;
	free(vec);
	munmap(map, (size_t)st.st_size);
	close(fd);
	return pages * ps;
}

static void test_buffered(const char *dir)
{
	char path[512];
	struct ctx c = { .log_fd = -1 };
	struct dmapipe_pool *pool = new_pool("NV12", 1920, 1080, 10);
	struct dmapipe_recorder_stats st;
	struct dmapipe_recording_info info;
	struct dmapipe_recorder *rec;
	struct statfs sfs;
	uint64_t max_cached = 0, n = 200;
	bool tmpfs;

	snprintf(path, sizeof(path), "%s/buffered.rec", dir);
	check(statfs(dir, &sfs) == 0);
	tmpfs = sfs.f_type == 0x01021994; /* TMPFS_MAGIC: the page cache is the storage */
	rec = new_recorder(path, &c, DMAPIPE_RECORD_BUFFERED, UINT64_MAX);
	for (uint64_t s = 0; s < n; s++) {
		check_int_eq(record_one(rec, pool, s), 0);
		if (s % 10 == 9)
			max_cached = MAX(max_cached, cached_bytes(path));
	}
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_get_stats(rec, &st);
	dmapipe_recorder_free(rec);
	check_int_eq(st.mode, DMAPIPE_RECORD_BUFFERED);
	check_int_eq(st.path_bytes[DMAPIPE_RECORD_PATH_DIRECT], 0);
	check(st.path_bytes[DMAPIPE_RECORD_PATH_BUFFERED] >= n * 1920 * 1080 * 3 / 2);
	check_int_eq(st.bytes_copied, 0);
	printf("buffered: %.0f MB written, at most %.0f MB of it in the page cache%s\n",
	       (double)st.bytes_written / 1e6, (double)max_cached / 1e6,
	       tmpfs ? " (tmpfs: not bounded, it is the storage)" : "");
	/*
	 * The recorder refuses frames while more than 256 MiB are not yet
	 * written back and dropped; add the frames in flight and a margin.
	 */
	if (!tmpfs)
		check_msg(max_cached <= (UINT64_C(256) + 64) << 20, "%llu bytes cached",
			  (unsigned long long)max_cached);
	check_int_eq(verify_file(path, 0, &info), n);
	check(info.closed);
	dmapipe_pool_free(pool);
	test_pass("buffered");
}

/* ---- kmod-path: dmapipe.ko's WRITE_FILE / READ_FILE ------------------------------------ */

/*
 * A buffer of dma-bufs straight from /dev/dmapipe WITHOUT
 * DMAPIPE_ALLOC_PAGE_MMAP: their mapping is PFN-based (VM_PFNMAP), so
 * O_DIRECT from or into it fails with EFAULT and only the module's own
 * file I/O reaches their pages without a copy. With @split the chroma
 * plane gets an object of its own (as V4L2's NV12M), so the paths are
 * also taken per object.
 */
static struct dmapipe_buffer *pfn_buffer(int dev, uint32_t w, uint32_t h, bool split)
{
	struct dmapipe_format fmt = { .fourcc = dmapipe_fourcc_from_string("NV12"),
				      .width = w, .height = h };
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);
	struct dmapipe_buffer *b;
	struct dmapipe_layout l;
	const char *why = NULL;

	check_int_eq(dmapipe_layout_init(&l, &fmt, 0), 0);
	if (split) {
		check_int_eq(l.n_planes, 2);
		l.n_objects = 2;
		l.objects[0].size = ALIGN_UP(dmapipe_layout_plane_size(&l, 0), ps);
		l.objects[1].size = ALIGN_UP(dmapipe_layout_plane_size(&l, 1), ps);
		l.objects[1].fd = -1;
		l.planes[1].object = 1;
		l.planes[1].offset = 0;
	}
	for (unsigned int i = 0; i < l.n_objects; i++) {
		struct dmapipe_alloc a;
		int fd = kmod_alloc(dev, l.objects[i].size, DMAPIPE_ALLOC_ZEROED, &a);

		check_msg(fd >= 0, "DMAPIPE_IOCTL_ALLOC of %llu bytes: %s",
			  (unsigned long long)l.objects[i].size, strerror(-fd));
		l.objects[i].fd = fd;
		l.objects[i].kind = DMAPIPE_MEM_DMABUF;
		l.objects[i].size = a.size;
	}
	check_msg(dmapipe_layout_check(&l, &why) == 0, "layout: %s", why);
	b = dmapipe_buffer_new_from_fds(&l);
	check_msg(b, "dmapipe_buffer_new_from_fds: %s", strerror(errno));
	check_int_eq(dmapipe_buffer_get_mem_kind(b), DMAPIPE_MEM_DMABUF);
	for (unsigned int i = 0; i < l.n_objects; i++)
		check_int_eq(dmapipe_buffer_get_direct_io_fd(b, i), -1);
	return b;
}

/* The premise: O_DIRECT cannot use the mapping of @b (EFAULT), so DIRECT is no option. */
static void check_not_gupable(struct dmapipe_buffer *b, const char *dir)
{
	char path[512];
	void *map = dmapipe_buffer_map_plane(b, 0);
	ssize_t n;
	int fd;

	check(map);
	snprintf(path, sizeof(path), "%s/gup-probe", dir);
	fd = open(path, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
	check_msg(fd >= 0, "%s: %s", path, strerror(errno));
	n = pwrite(fd, map, 4096, 0);
	check_msg(n < 0 && errno == EFAULT, "O_DIRECT write from a PFN mapping: %zd (%s)", n,
		  n < 0 ? strerror(errno) : "no error");
	close(fd);
	check(unlink(path) == 0);
}

static void print_paths(const char *what, const uint64_t bytes[], const uint64_t objs[])
{
	printf("%s:", what);
	for (unsigned int p = 0; p < DMAPIPE_RECORD_PATH_COUNT; p++)
		printf(" %s %llu bytes (%llu objects)%s",
		       dmapipe_record_path_to_string((enum dmapipe_record_path)p),
		       (unsigned long long)bytes[p], (unsigned long long)objs[p],
		       p + 1 < DMAPIPE_RECORD_PATH_COUNT ? "," : "\n");
}

#define KMOD_SEGS 2
#define KMOD_BUFS 3

static void test_kmod_path(void)
{
	/* a 1-object 1080p NV12 segment, then a 2-object 720p one (a format change) */
	static const struct {
		uint32_t w, h;
		bool split;
		unsigned int frames;
	} seg[KMOD_SEGS] = { { 1920, 1080, false, 12 }, { 1280, 720, true, 12 } };
	int dev = kmod_open(); /* exits 77 where the module is not loaded (the host) */
	char *scratch = kmod_scratch_fs(256);
	struct dmapipe_buffer *wbufs[KMOD_SEGS][KMOD_BUFS], *rbufs[KMOD_SEGS][KMOD_BUFS];
	struct ctx c = { .log_fd = -1 };
	struct rctx rc = { 0 };
	struct dmapipe_recorder_stats st;
	struct dmapipe_recording_info info;
	struct dmapipe_reader_options o;
	struct dmapipe_reader_stats rst;
	struct dmapipe_copy_stats c0, c1;
	struct dmapipe_recorder *rec;
	struct dmapipe_reader *rd;
	uint64_t payload = 0, objects = 0, seq = 0, n = 0;
	char path[512];

	for (unsigned int s = 0; s < KMOD_SEGS; s++) {
		for (unsigned int k = 0; k < KMOD_BUFS; k++) {
			wbufs[s][k] = pfn_buffer(dev, seg[s].w, seg[s].h, seg[s].split);
			rbufs[s][k] = pfn_buffer(dev, seg[s].w, seg[s].h, seg[s].split);
		}
		n += seg[s].frames;
	}
	check_not_gupable(wbufs[0][0], scratch);
	check_not_gupable(wbufs[1][0], scratch);

	/*
	 * Recording: every object's first O_DIRECT write faults, is redone by
	 * WRITE_FILE, and later frames go there at once. Strict mode: a
	 * fallback to the staging copy would fail the frame.
	 */
	dmapipe_set_strict(true);
	snprintf(path, sizeof(path), "%s/kmod.rec", scratch);
	dmapipe_get_copy_stats(&c0);
	rec = new_recorder(path, &c, DMAPIPE_RECORD_DIRECT, 64 << 20);
	for (unsigned int s = 0; s < KMOD_SEGS; s++) {
		for (unsigned int i = 0; i < seg[s].frames; i++, seq++) {
			struct dmapipe_buffer *b = wbufs[s][i % KMOD_BUFS];
			struct dmapipe_frame_meta meta;
			int ret;

			/* the recorder still holds it: not drawn over while on its way */
			while (dmapipe_buffer_get_refcount(b) > 1)
				check(dmapipe_recorder_dispatch(rec, 100) >= 0);
			check_int_eq(dmapipe_buffer_draw_pattern(b, seq), 0);
			dmapipe_frame_meta_init(&meta);
			meta.sequence = seq;
			meta.timestamp_ns = 1000 + seq * 16666667;
			meta.flags = seq % 7 == 0 ? DMAPIPE_FRAME_KEYFRAME : 0;
			while ((ret = dmapipe_recorder_submit(rec, b, &meta,
							      (void *)(uintptr_t)seq)) == -EAGAIN)
				check(dmapipe_recorder_dispatch(rec, 100) >= 0);
			check_int_eq(ret, 0);
		}
	}
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_get_stats(rec, &st);
	dmapipe_get_copy_stats(&c1);
	dmapipe_recorder_free(rec);
	print_paths("recorder", st.path_bytes, st.path_frames);
	check_int_eq(c.failed, 0);
	check_int_eq(c.done, n);
	check_int_eq(st.frames_written, n);
	check_int_eq(st.mode, DMAPIPE_RECORD_DIRECT);

	/* what the file says was written: every payload byte went through WRITE_FILE */
	check_int_eq(verify_file(path, 0, &info), n);
	check(info.closed && info.direct);
	check_int_eq(info.layouts, KMOD_SEGS);
	rc.r = dmapipe_recording_open(path, 0);
	check(rc.r);
	for (uint64_t i = 0; i < n; i++) {
		struct dmapipe_recorded_frame f;

		check_int_eq(dmapipe_recording_get_frame(rc.r, i, &f), 0);
		payload += f.size;
		objects += f.layout.n_objects;
	}
	check_int_eq(st.path_bytes[DMAPIPE_RECORD_PATH_KMOD], payload);
	check_int_eq(st.path_frames[DMAPIPE_RECORD_PATH_KMOD], objects);
	check_int_eq(st.path_bytes[DMAPIPE_RECORD_PATH_DIRECT], 0);
	check_int_eq(st.path_bytes[DMAPIPE_RECORD_PATH_COPY], 0);
	check_int_eq(st.path_bytes[DMAPIPE_RECORD_PATH_BUFFERED], 0);
	check_int_eq(st.bytes_written, payload);
	check_int_eq(st.bytes_copied, 0);
	check_int_eq(c1.bytes - c0.bytes, 0);

	/*
	 * Replay into PFN-mapped buffers: READ_FILE for every object, no
	 * copy. The buffers start with a pattern no frame has.
	 */
	for (unsigned int s = 0; s < KMOD_SEGS; s++)
		for (unsigned int k = 0; k < KMOD_BUFS; k++)
			check_int_eq(dmapipe_buffer_draw_pattern(rbufs[s][k], 999999), 0);
	dmapipe_reader_options_init(&o);
	o.max_frames = KMOD_BUFS;
	o.done = reader_done;
	o.user_data = &rc;
	rd = dmapipe_reader_new(rc.r, &o);
	check(rd);
	dmapipe_get_copy_stats(&c0);
	for (uint64_t i = 0; i < n; ) {
		struct dmapipe_recorded_frame f;
		unsigned int k;
		int ret;

		check_int_eq(dmapipe_recording_get_frame(rc.r, i, &f), 0);
		for (k = 0; k < KMOD_BUFS && rc.busy[f.layout_index * KMOD_BUFS + k]; k++)
			;
		if (k == KMOD_BUFS) {
			check(dmapipe_reader_dispatch(rd, -1) >= 0);
			continue;
		}
		k += f.layout_index * KMOD_BUFS;
		ret = dmapipe_reader_submit(rd, i, rbufs[f.layout_index][k % KMOD_BUFS],
					    (void *)(uintptr_t)k);
		if (ret == -EAGAIN) {
			check(dmapipe_reader_dispatch(rd, -1) >= 0);
			continue;
		}
		check_int_eq(ret, 0);
		rc.busy[k] = true;
		i++;
	}
	while (rc.next < n)
		check(dmapipe_reader_dispatch(rd, -1) >= 0);
	dmapipe_reader_get_stats(rd, &rst);
	dmapipe_get_copy_stats(&c1);
	dmapipe_reader_free(rd);
	print_paths("reader", rst.path_bytes, rst.path_frames);
	check_int_eq(rc.failed, 0);
	check_int_eq(rst.frames_read, n);
	check_int_eq(rst.frames_failed, 0);
	check_int_eq(rst.path_bytes[DMAPIPE_RECORD_PATH_KMOD], payload);
	check_int_eq(rst.path_frames[DMAPIPE_RECORD_PATH_KMOD], objects);
	check_int_eq(rst.path_bytes[DMAPIPE_RECORD_PATH_DIRECT], 0);
	check_int_eq(rst.path_bytes[DMAPIPE_RECORD_PATH_COPY], 0);
	check_int_eq(rst.path_bytes[DMAPIPE_RECORD_PATH_BUFFERED], 0);
	check_int_eq(rst.bytes_copied, 0);
	check_int_eq(c1.bytes - c0.bytes, 0);

	/* one frame at a time (dmapipe_recording_read_frame_to_buffer): READ_FILE too */
	dmapipe_get_copy_stats(&c0);
	for (uint64_t i = 0; i < n; i++) {
		struct dmapipe_recorded_frame f;
		struct dmapipe_buffer *b;

		check_int_eq(dmapipe_recording_get_frame(rc.r, i, &f), 0);
		b = rbufs[f.layout_index][i % KMOD_BUFS];
		check_int_eq(dmapipe_buffer_draw_pattern(b, 999999), 0);
		check_int_eq(dmapipe_recording_read_frame_to_buffer(rc.r, i, b), 0);
		check_msg(dmapipe_buffer_check_pattern(b, f.meta.sequence) == 0,
			  "frame %llu read into a PFN-mapped buffer", (unsigned long long)i);
	}
	dmapipe_get_copy_stats(&c1);
	check_int_eq(c1.bytes - c0.bytes, 0);
	/* a buffer of the other layout is refused before anything is read */
	check_int_eq(dmapipe_recording_read_frame_to_buffer(rc.r, 0, rbufs[1][0]), -EINVAL);
	dmapipe_recording_close(rc.r);
	dmapipe_set_strict(false);

	for (unsigned int s = 0; s < KMOD_SEGS; s++) {
		for (unsigned int k = 0; k < KMOD_BUFS; k++) {
			check_int_eq(dmapipe_buffer_get_refcount(wbufs[s][k]), 1);
			check_int_eq(dmapipe_buffer_get_refcount(rbufs[s][k]), 1);
			dmapipe_buffer_unref(wbufs[s][k]);
			dmapipe_buffer_unref(rbufs[s][k]);
		}
	}
	close(dev);
	kmod_check_idle(); /* no reference to a dma-buf was left behind */
	check(unlink(path) == 0);
	kmod_scratch_fs_remove(scratch);
	printf("%llu frames (%llu bytes) recorded with WRITE_FILE and read back with READ_FILE; "
	       "0 bytes copied\n", (unsigned long long)n, (unsigned long long)payload);
	test_pass("kmod-path");
}

/* the library's warnings, for test_behind() */
static char behind_log[1024];

static void capture_warnings(enum dmapipe_log_priority priority, const char *fmt, va_list args,
			     void *data)
{
	char msg[sizeof(behind_log)];

	(void)data;
	vsnprintf(msg, sizeof(msg), fmt, args);
	if (priority <= DMAPIPE_LOG_WARNING && strstr(msg, "not keeping up"))
		snprintf(behind_log, sizeof(behind_log), "%s", msg);
}

/* Submits one frame of @pool every 5 ms for @ms; the recorder is dispatched only if @reap. */
static uint64_t offer_frames(struct dmapipe_recorder *rec, struct dmapipe_pool *pool,
			     unsigned int ms, bool reap)
{
	uint64_t end = dmapipe_now_ns() + (uint64_t)ms * 1000000u, refused = 0, seq = 0;

	while (dmapipe_now_ns() < end) {
		struct dmapipe_buffer *b = dmapipe_pool_acquire(pool);
		struct dmapipe_frame_meta meta;

		if (b) {
			dmapipe_frame_meta_init(&meta);
			meta.sequence = seq++;
			if (dmapipe_recorder_submit(rec, b, &meta, NULL) == -EAGAIN)
				refused++;
			dmapipe_buffer_unref(b);
		}
		if (reap)
			check(dmapipe_recorder_dispatch(rec, 0) >= 0);
		usleep(5000);
	}
	return refused;
}

/*
 * A disk that does not keep up is named, with both rates: a recorder that
 * is never given the chance to reap its writes (as a disk that completes
 * nothing) refuses frames for over 2 s and warns once; one that keeps up
 * (frames of 150 KB every 5 ms, reaped at once) refuses nothing and says
 * nothing.
 */
static void test_behind(const char *dir)
{
	struct dmapipe_pool *pool = new_pool("NV12", 320, 320, 6);
	struct ctx c = { .log_fd = -1 };
	struct dmapipe_recorder *rec;
	char path[512];
	uint64_t refused;

	dmapipe_log_set_handler(capture_warnings, NULL);
	snprintf(path, sizeof(path), "%s/behind.rec", dir);
	rec = new_recorder(path, &c, DMAPIPE_RECORD_AUTO, UINT64_MAX);
	refused = offer_frames(rec, pool, 2300, false);
	check_msg(refused > 100, "only %llu frames refused", (unsigned long long)refused);
	check_msg(behind_log[0], "no warning after %llu frames refused in 2.3 s",
		  (unsigned long long)refused);
	check_msg(strstr(behind_log, "MB/s over the last") && strstr(behind_log, "frames dropped"),
		  "warning without the rates: %s", behind_log);
	printf("%s\n", behind_log);
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);
	unlink(path);

	behind_log[0] = '\0';
	rec = new_recorder(path, &c, DMAPIPE_RECORD_AUTO, UINT64_MAX);
	refused = offer_frames(rec, pool, 2300, true);
	/* a loaded machine may refuse a few and still write what came: either way is right then */
	if (refused == 0)
		check_msg(!behind_log[0], "warned with nothing refused: %s", behind_log);
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);
	dmapipe_log_set_handler(NULL, NULL);
	dmapipe_pool_free(pool);
	test_pass("a disk that falls behind is named with both rates; one that keeps up is not");
}

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *p = data;

	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n <= 0) {
			close(fd);
			return n < 0 ? -errno : -EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
	return 0;
}

/* Entries in @dir: the probe's file has no name, so none may appear. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	check(d);
	while ((e = readdir(d)))
		n++;
	closedir(d);
	return n;
}

static void test_disk_probe(const char *dir)
{
	struct dmapipe_disk_probe p = { .size = sizeof(p) }, small;
	char mnt[512], file[600];
	int entries = count_entries(dir);
	uint64_t statfs_before;
	struct statfs sf;

	/* 8 MiB at most: eight requests of 1 MiB, made durable */
	check_int_eq(dmapipe_disk_probe(dir, 8u << 20, 0, &p), 0);
	check_int_eq(p.size, sizeof(p));
	check_int_eq(p.request_bytes, 1u << 20);
	check_int_eq(p.bytes, 8u << 20);
	check(p.elapsed_ns > 0);
	check(p.bytes_per_s > 0 &&
	      p.bytes_per_s == (uint64_t)((double)p.bytes * 1e9 / (double)p.elapsed_ns));
	check(p.latency_p50_ns > 0 && p.latency_p50_ns <= p.latency_p99_ns &&
	      p.latency_p99_ns <= p.latency_max_ns);
	check_int_eq(count_entries(dir), entries);
	printf("# %s: %.1f MB/s, %s, p99 %.1f ms\n", dir, (double)p.bytes_per_s / 1e6,
	       p.direct ? "direct" : "synced buffered", (double)p.latency_p99_ns / 1e6);

	/* a time limit stops it long before a byte limit it cannot reach */
	check_int_eq(dmapipe_disk_probe(dir, 1ull << 40, 20, &p), 0);
	check(p.bytes > 0 && p.bytes < (1ull << 40) && p.bytes % p.request_bytes == 0);
	check_int_eq(count_entries(dir), entries);

	/* a caller with an older, smaller struct gets only the fields it holds */
	memset(&small, 0xa5, sizeof(small));
	small.size = offsetof(struct dmapipe_disk_probe, latency_p99_ns);
	check_int_eq(dmapipe_disk_probe(dir, 4u << 20, 0, &small), 0);
	check_int_eq(small.size, offsetof(struct dmapipe_disk_probe, latency_p99_ns));
	check_int_eq(small.bytes, 4u << 20);
	check(small.latency_p99_ns == 0xa5a5a5a5a5a5a5a5ull);

	/* bad arguments: nothing measured, one clear error */
	small.size = offsetof(struct dmapipe_disk_probe, bytes);
	check_int_eq(dmapipe_disk_probe(dir, 0, 0, &small), -EINVAL);
	check_int_eq(dmapipe_disk_probe(NULL, 0, 0, &p), -EINVAL);
	check_int_eq(dmapipe_disk_probe(dir, 0, 0, NULL), -EINVAL);
	snprintf(file, sizeof(file), "%s/missing", dir);
	check_int_eq(dmapipe_disk_probe(file, 0, 0, &p), -ENOENT);
	snprintf(file, sizeof(file), "%s/a-file", dir);
	check(write_file(file, "x", 1) == 0);
	check_int_eq(dmapipe_disk_probe(file, 0, 0, &p), -ENOTDIR);
	check(unlink(file) == 0);
	test_pass("disk probe: durable 1 MiB writes, bounded by bytes and by time, no file left, "
		  "an older struct, bad arguments");

	/* a small file system: at most a quarter of its free space, so it never fills up */
	snprintf(mnt, sizeof(mnt), "%s/small", dir);
	check(mkdir(mnt, 0700) == 0);
	if (mount("dmapipe-test", mnt, "tmpfs", 0, "size=64m") < 0) {
		printf("# not tried: a small file system (cannot mount a tmpfs: %s)\n",
		       strerror(errno));
		check(rmdir(mnt) == 0);
		return;
	}
	check(statfs(mnt, &sf) == 0);
	statfs_before = sf.f_bfree;
	check_int_eq(dmapipe_disk_probe(mnt, 1ull << 30, 0, &p), 0);
	check_msg(p.bytes <= 16u << 20, "%llu bytes on a 64 MiB file system",
		  (unsigned long long)p.bytes);
	check(statfs(mnt, &sf) == 0);
	check_int_eq(sf.f_bfree, statfs_before);
	/* 12 MiB free: a quarter holds less than the four requests in flight */
	snprintf(file, sizeof(file), "%s/fill", mnt);
	{
		size_t len = 52u << 20;
		char *junk = malloc(len);

		check(junk);
		memset(junk, 1, len);
		check(write_file(file, junk, len) == 0);
		free(junk);
	}
	check_int_eq(dmapipe_disk_probe(mnt, 0, 0, &p), -ENOSPC);
	check(umount(mnt) == 0);
	check(rmdir(mnt) == 0);
	test_pass("disk probe: a quarter of the free space at most, space given back, -ENOSPC "
		  "when too little is free");
}

int main(int argc, char **argv)
{
	char *dir;
	const char *what = argc > 1 ? argv[1] : "basic";

	dir = test_make_dir("record");
	check(dir);
	if (strcmp(what, "basic") == 0)
		test_basic(dir);
	else if (strcmp(what, "formats") == 0)
		test_formats(dir);
	else if (strcmp(what, "compressed") == 0)
		test_compressed(dir);
	else if (strcmp(what, "reader") == 0)
		test_reader(dir);
	else if (strcmp(what, "crash") == 0)
		test_crash(dir, false);
	else if (strcmp(what, "crash-release") == 0)
		test_crash(dir, true);
	else if (strcmp(what, "enospc") == 0)
		test_enospc(dir);
	else if (strcmp(what, "enospc-margin") == 0)
		test_enospc_margin(dir);
	else if (strcmp(what, "corrupt") == 0)
		test_corrupt(dir);
	else if (strcmp(what, "buffered") == 0)
		test_buffered(dir);
	else if (strcmp(what, "options") == 0)
		test_options(dir);
	else if (strcmp(what, "files") == 0)
		test_files(dir);
	else if (strcmp(what, "colorimetry") == 0)
		test_colorimetry(dir);
	else if (strcmp(what, "checksum") == 0)
		test_checksum(dir);
	else if (strcmp(what, "behind") == 0)
		test_behind(dir);
	else if (strcmp(what, "disk-probe") == 0)
		test_disk_probe(dir);
	else if (strcmp(what, "probe-sample") == 0 && getenv("DMAPIPE_TEST_PROBE_SAMPLE"))
		write_probe_sample(getenv("DMAPIPE_TEST_PROBE_SAMPLE"));
	else if (strcmp(what, "format-info-sample") == 0 && getenv("DMAPIPE_TEST_FORMAT_INFO_SAMPLE"))
		write_format_info_sample(getenv("DMAPIPE_TEST_FORMAT_INFO_SAMPLE"));
	else if (strcmp(what, "fence") == 0)
		test_fence(dir);
	else if (strcmp(what, "kmod-path") == 0)
		test_kmod_path();
	else
		check_msg(false, "unknown sub-test %s", what);
	test_rmdir_all(dir);
	free(dir);
	return 0;
}
