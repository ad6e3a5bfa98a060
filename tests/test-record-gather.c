/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Packet groups (docs/FORMAT.md, "Packet groups"): the packets of a
 * compressed stream gathered into shared writes. One sub-test per argument:
 *   roundtrip 300 H264 packets of 1 byte to 64 KiB (a few larger than the
 *             group, recorded as records of their own): sequence,
 *             timestamp, flags and every byte come back through memory,
 *             into buffers and through dmapipe_reader; release before
 *             done for each; the gathered bytes counted apart from pixel
 *             copies; `dmapipe export` gives exactly the concatenation
 *   size      1 Mbit/s at 30 fps for 10 s of timestamps: the file is
 *             within 5% of the bitstream; with gathering off about 3x
 *             (4.2 KB packets: a header block and two blocks each), that
 *             file stays version 2 and reads
 *   timer     a group whose packets stop coming is written when its
 *             oldest packet has waited gather_ms by the clock
 *   crash     the writer killed with SIGKILL: every packet whose done
 *             callback ran is recovered by the scan, bytes verified, and
 *             after a repair the file is closed, version 3
 *   torn      damaged bytes inside a group: through the index exactly
 *             that packet fails its read (-EBADMSG) and its check (and
 *             record --check calls it damaged), by a
 *             scan exactly that packet is left out (packets_damaged); a
 *             damaged descriptor: the scan skips its group with a logged
 *             reason, the index still reads every packet
 *   enospc    a small tmpfs (skipped when it cannot be mounted) filled by
 *             a gathered stream: submit and finish say -ENOSPC, the file
 *             is closed with a complete index (version 3), every packet
 *             in it verifies (bytes and CRC32C), the packets reported
 *             done are exactly the ones in it, `dmapipe probe` reads it and
 *             `dmapipe export` gives its bitstream
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "private.h"
#include "storage/codec.h"
#include "testlib.h"

#define H264 ('H' | 'h' << 8 | '2' << 16 | (uint32_t)'6' << 24)
#define N_BUFS 8
#define MAX_SEQ 20000

static const char *tool;

struct gctx {
	uint64_t done, released, failed;
	int log_fd; /* done sequence numbers are written here, or -1 */
	bool use_release;
	uint8_t seen[MAX_SEQ]; /* 1 released, 2 done */
	bool ok[MAX_SEQ];      /* done with status 0 */
};

static void on_release(struct dmapipe_recorder *rec, void *frame_data, void *user_data)
{
	struct gctx *c = user_data;
	uint64_t seq = (uint64_t)(uintptr_t)frame_data;

	(void)rec;
	check(c->use_release && seq < MAX_SEQ);
	check_msg(c->seen[seq] == 0, "packet %llu released twice or after done",
		  (unsigned long long)seq);
	c->seen[seq] = 1;
	c->released++;
}

static void on_done(struct dmapipe_recorder *rec, void *frame_data, int status, void *user_data)
{
	struct gctx *c = user_data;
	uint64_t seq = (uint64_t)(uintptr_t)frame_data;

	(void)rec;
	check(seq < MAX_SEQ);
	check_msg(c->seen[seq] == (c->use_release ? 1 : 0), "packet %llu: done %s",
		  (unsigned long long)seq, c->seen[seq] == 2 ? "twice" : "before its release");
	c->seen[seq] = 2;
	if (status < 0) {
		c->failed++;
		return;
	}
	c->done++;
	c->ok[seq] = true;
	if (c->log_fd >= 0)
		check(write(c->log_fd, &seq, sizeof(seq)) == sizeof(seq));
}

static struct dmapipe_recorder *new_rec(const char *path, struct gctx *c, uint64_t gather_bytes,
					uint32_t gather_ms)
{
	struct dmapipe_recorder_options o;
	struct dmapipe_recorder *rec;

	dmapipe_recorder_options_init(&o);
	o.done = on_done;
	if (c->use_release)
		o.release = on_release;
	o.user_data = c;
	o.max_frames = 4;
	o.sync_interval_ms = 50;
	o.gather_bytes = gather_bytes;
	if (gather_ms)
		o.gather_ms = gather_ms;
	rec = dmapipe_recorder_new(path, &o);
	check_msg(rec, "recorder for %s: %s", path, strerror(errno));
	return rec;
}

static uint8_t pattern(uint64_t seq, uint64_t b)
{
	return (uint8_t)(seq * 31 + b * 7 + (b >> 9));
}

/* N_BUFS memfd buffers of one H264 object of @size bytes. */
static void new_bufs(struct dmapipe_buffer **bufs, uint64_t size)
{
	struct dmapipe_layout l;

	memset(&l, 0, sizeof(l));
	l.format.fourcc = H264;
	l.format.width = 1280;
	l.format.height = 720;
	l.n_planes = l.n_objects = 1;
	for (unsigned int i = 0; i < DMAPIPE_MAX_OBJECTS; i++)
		l.objects[i].fd = -1;
	for (unsigned int i = 0; i < N_BUFS; i++) {
		int fd = memfd_create("packet", MFD_CLOEXEC | MFD_ALLOW_SEALING);

		check(fd >= 0 && ftruncate(fd, (off_t)size) == 0);
		check(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
		l.objects[0].fd = fd;
		l.objects[0].size = size;
		bufs[i] = dmapipe_buffer_new_from_fds(&l);
		check(bufs[i]);
		check(dmapipe_buffer_map_all(bufs[i]) == 0);
	}
}

static void free_bufs(struct dmapipe_buffer **bufs)
{
	for (unsigned int i = 0; i < N_BUFS; i++)
		dmapipe_buffer_unref(bufs[i]);
}

/*
 * Packet @seq of @len bytes at @ts into buffer seq % N_BUFS, once that
 * buffer's previous packet was given back; dispatching while the disk is
 * behind. Returns the submit's result (0, -ENOSPC...).
 */
static int try_submit(struct dmapipe_recorder *rec, struct gctx *c, struct dmapipe_buffer **bufs,
		      uint64_t seq, uint64_t ts, uint32_t len)
{
	struct dmapipe_buffer *b = bufs[seq % N_BUFS];
	struct dmapipe_frame_meta meta;
	uint8_t *p = b->map[0];
	int ret;

	check(seq < MAX_SEQ);
	while (seq >= N_BUFS && c->seen[seq - N_BUFS] == 0)
		check(dmapipe_recorder_dispatch(rec, 100) >= 0);
	for (uint64_t i = 0; i < len; i++)
		p[i] = pattern(seq, i);
	dmapipe_frame_meta_init(&meta);
	meta.sequence = seq;
	meta.timestamp_ns = ts;
	meta.flags = seq % 30 == 0 ? DMAPIPE_FRAME_KEYFRAME : 0;
	meta.bytes_used[0] = len;
	while ((ret = dmapipe_recorder_submit(rec, b, &meta, (void *)(uintptr_t)seq)) == -EAGAIN)
		check(dmapipe_recorder_dispatch(rec, 100) >= 0);
	return ret;
}

static void submit(struct dmapipe_recorder *rec, struct gctx *c, struct dmapipe_buffer **bufs,
		   uint64_t seq, uint64_t ts, uint32_t len)
{
	check_int_eq(try_submit(rec, c, bufs, seq, ts, len), 0);
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	check(stat(path, &st) == 0);
	return (uint64_t)st.st_size;
}

/* Reads packet @i through memory: 0 with its bytes checked, or the read's error. */
static int read_packet(struct dmapipe_recording *r, uint64_t i, uint8_t *mem, size_t mem_size,
		       struct dmapipe_recorded_frame *f)
{
	int ret;

	check_int_eq(dmapipe_recording_get_frame(r, i, f), 0);
	check(f->size <= mem_size);
	ret = dmapipe_recording_read_frame(r, i, mem, mem_size);
	if (ret < 0)
		return ret;
	for (uint64_t b = 0; b < f->meta.bytes_used[0]; b++)
		check_msg(mem[b] == pattern(f->meta.sequence, b), "packet %llu byte %llu",
			  (unsigned long long)f->meta.sequence, (unsigned long long)b);
	return dmapipe_recording_check_payload(r, i, mem, mem_size);
}

/* ---- roundtrip ----------------------------------------------------------------------- */

struct rdctx {
	uint64_t delivered;
	int status;
};

static void reader_done(struct dmapipe_reader *rd, uint64_t index, struct dmapipe_buffer *b,
			void *frame_data, int status, void *user_data)
{
	struct rdctx *c = user_data;

	(void)rd;
	(void)b;
	(void)frame_data;
	(void)index;
	c->delivered++;
	c->status = status;
}

static void test_roundtrip(const char *dir)
{
	const uint64_t group = 256 << 10, obj = 512 << 10;
	const unsigned int n = 300;
	struct dmapipe_buffer *bufs[N_BUFS];
	static struct gctx c = { .log_fd = -1, .use_release = true };
	struct dmapipe_copy_stats c0, c1;
	struct dmapipe_recorder_stats st;
	struct dmapipe_recording_info info;
	struct dmapipe_reader_options ro;
	struct dmapipe_recording *r;
	struct dmapipe_recorder *rec;
	struct dmapipe_reader *rd;
	struct rdctx rc = { 0 };
	uint32_t len[300];
	uint64_t gathered = 0, total = 0, seed = 42, big = 0;
	uint8_t *mem, *out;
	char *path = test_path(dir, "roundtrip.rec"), *bs = test_path(dir, "roundtrip.h264");
	char cmd[2048];
	int fd;

	new_bufs(bufs, obj);
	for (unsigned int i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		len[i] = 1 + (uint32_t)((seed >> 33) % 65536);
	}
	len[0] = 1;
	len[1] = 4095;
	len[2] = 4096;
	len[3] = 4097;
	len[4] = 65536;
	/* larger than a group: records of their own, between groups */
	len[50] = 300000;
	len[51] = 400000;
	len[200] = (uint32_t)obj;
	dmapipe_get_copy_stats(&c0);
	rec = new_rec(path, &c, group, 0);
	for (unsigned int i = 0; i < n; i++) {
		submit(rec, &c, bufs, i, 1000 + i * UINT64_C(33333333), len[i]);
		total += len[i];
		if (len[i] < group - 1024)
			gathered += len[i];
		else
			big++;
	}
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_get_stats(rec, &st);
	dmapipe_recorder_free(rec);
	dmapipe_get_copy_stats(&c1);
	check_int_eq(c.done, n);
	check_int_eq(c.released, n);
	check_int_eq(c.failed, 0);
	check_int_eq(st.frames_written, n);
	check_int_eq(st.frames_gathered, n - big);
	check_int_eq(st.bytes_gathered, gathered);
	check(st.groups_written >= 2);
	/* bitstream gathered is not a pixel copy */
	check_int_eq(st.bytes_copied, 0);
	check_int_eq(c1.bytes - c0.bytes, 0);
	printf("%u packets, %llu bytes: %llu gathered in %llu groups, %llu alone; file %llu bytes\n",
	       n, (unsigned long long)total, (unsigned long long)st.frames_gathered,
	       (unsigned long long)st.groups_written, (unsigned long long)big,
	       (unsigned long long)file_size(path));

	r = dmapipe_recording_open(path, 0);
	check(r);
	dmapipe_recording_get_info(r, &info);
	check(info.closed && !info.scanned);
	check_int_eq(info.version, 3);
	check_int_eq(info.frames, n);
	/*
	 * the groups' (whole buffers), which the packet as large as its
	 * buffer shares, and one each for the other two records of their own
	 */
	check_int_eq(info.layouts, 3);
	check(posix_memalign((void **)&mem, 4096, (size_t)obj) == 0);
	for (unsigned int i = 0; i < n; i++) {
		struct dmapipe_recorded_frame f;

		check_int_eq(read_packet(r, i, mem, (size_t)obj, &f), 0);
		check_int_eq(f.meta.sequence, i);
		check_int_eq(f.meta.timestamp_ns, 1000 + i * UINT64_C(33333333));
		check_int_eq(f.meta.flags, i % 30 == 0 ? DMAPIPE_FRAME_KEYFRAME : 0);
		check_int_eq(f.meta.bytes_used[0], len[i]);
		check_int_eq(!!(f.flags & DMAPIPE_RECORDED_GROUPED), len[i] < group - 1024);
		check(f.flags & DMAPIPE_RECORDED_CHECKSUM);
		check_int_eq(!!(f.flags & DMAPIPE_RECORDED_FORMAT_CHANGE), i == 0);
		if (f.flags & DMAPIPE_RECORDED_GROUPED) {
			check_int_eq(f.layout.objects[0].size, obj);
			check_int_eq(f.size, len[i]);
		}
	}
	/* into buffers, frame by frame and through the reader */
	for (unsigned int i = 0; i < n; i += 7) {
		struct dmapipe_buffer *b = bufs[0];

		memset(b->map[0], 0, (size_t)obj);
		check_int_eq(dmapipe_recording_read_frame_to_buffer(r, i, b), 0);
		for (uint64_t k = 0; k < len[i]; k++)
			check(((uint8_t *)b->map[0])[k] == pattern(i, k));
	}
	dmapipe_reader_options_init(&ro);
	ro.done = reader_done;
	ro.user_data = &rc;
	rd = dmapipe_reader_new(r, &ro);
	check(rd);
	for (unsigned int i = 0; i < n; i++) {
		struct dmapipe_buffer *b = bufs[i % N_BUFS];

		memset(b->map[0], 0, len[i]);
		check_int_eq(dmapipe_reader_submit(rd, i, b, NULL), 0);
		while (rc.delivered <= i)
			check(dmapipe_reader_dispatch(rd, 1000) >= 0);
		check_int_eq(rc.status, 0);
		for (uint64_t k = 0; k < len[i]; k++)
			check_msg(((uint8_t *)b->map[0])[k] == pattern(i, k),
				  "reader: packet %u byte %llu", i, (unsigned long long)k);
	}
	dmapipe_reader_free(rd);
	dmapipe_recording_close(r);

	/* dmapipe export: the packets, back to back, nothing else */
	snprintf(cmd, sizeof(cmd), "'%s' export '%s' -o '%s' -q", tool, path, bs);
	check_int_eq(system(cmd), 0);
	check_int_eq(file_size(bs), total);
	fd = open(bs, O_RDONLY | O_CLOEXEC);
	check(fd >= 0);
	out = mmap(NULL, (size_t)total, PROT_READ, MAP_PRIVATE, fd, 0);
	check(out != MAP_FAILED);
	for (uint64_t i = 0, pos = 0; i < n; pos += len[i], i++)
		for (uint64_t k = 0; k < len[i]; k++)
			check_msg(out[pos + k] == pattern(i, k), "export: packet %llu byte %llu",
				  (unsigned long long)i, (unsigned long long)k);
	munmap(out, (size_t)total);
	close(fd);
	free(mem);
	free_bufs(bufs);
	free(path);
	free(bs);
	test_pass("roundtrip");
}

/* ---- size ---------------------------------------------------------------------------- */

/* 10 s of 1 Mbit/s at 30 fps, gathering as @gather_bytes says: the file's bytes over the bitstream's. */
static double record_rate(const char *path, uint64_t gather_bytes, uint64_t *bitstream)
{
	struct dmapipe_buffer *bufs[N_BUFS];
	static struct gctx c;
	struct dmapipe_recording_info info;
	struct dmapipe_recording *r;
	struct dmapipe_recorder *rec;
	uint64_t seed = 7, sum = 0;
	uint8_t *mem;

	memset(&c, 0, sizeof(c));
	c.log_fd = -1;
	c.use_release = true;
	new_bufs(bufs, 64 << 10);
	rec = new_rec(path, &c, gather_bytes, 0);
	for (unsigned int i = 0; i < 300; i++) {
		/* 125000 bytes a second: 4167 a packet on average, keyframes larger */
		uint32_t len;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		len = i % 30 == 0 ? 12000 : 3500 + (uint32_t)((seed >> 33) % 800);
		submit(rec, &c, bufs, i, i * UINT64_C(33333333), len);
		sum += len;
	}
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);
	check_int_eq(c.done, 300);

	r = dmapipe_recording_open(path, 0);
	check(r);
	dmapipe_recording_get_info(r, &info);
	check_int_eq(info.frames, 300);
	check_int_eq(info.version, gather_bytes ? 3 : 2);
	check(posix_memalign((void **)&mem, 4096, 64 << 10) == 0);
	for (unsigned int i = 0; i < 300; i++) {
		struct dmapipe_recorded_frame f;

		check_int_eq(read_packet(r, i, mem, 64 << 10, &f), 0);
		check_int_eq(!!(f.flags & DMAPIPE_RECORDED_GROUPED), gather_bytes != 0);
	}
	free(mem);
	dmapipe_recording_close(r);
	free_bufs(bufs);
	*bitstream = sum;
	return (double)file_size(path) / (double)sum;
}

static void test_size(const char *dir)
{
	char *on = test_path(dir, "gathered.rec"), *off = test_path(dir, "plain.rec");
	uint64_t bs_on, bs_off;
	double r_on = record_rate(on, UINT64_C(1) << 20, &bs_on);
	double r_off = record_rate(off, 0, &bs_off);

	printf("1 Mbit/s, 30 fps, 10 s: bitstream %llu bytes; gathered file %llu bytes (%.4fx), "
	       "one record per packet %llu bytes (%.3fx)\n", (unsigned long long)bs_on,
	       (unsigned long long)file_size(on), r_on, (unsigned long long)file_size(off), r_off);
	check_msg(r_on <= 1.05, "gathered: %.4f times the bitstream", r_on);
	check_msg(r_off >= 1.9, "one record per packet: %.3f times the bitstream", r_off);
	free(on);
	free(off);
	test_pass("size");
}

/* ---- timer --------------------------------------------------------------------------- */

static void test_timer(const char *dir)
{
	struct dmapipe_buffer *bufs[N_BUFS];
	static struct gctx c = { .log_fd = -1, .use_release = true };
	char *path = test_path(dir, "timer.rec");
	struct dmapipe_recorder *rec;
	uint64_t t0, t;

	new_bufs(bufs, 64 << 10);
	rec = new_rec(path, &c, UINT64_C(1) << 20, 200);
	t0 = test_now_ms();
	/* one timestamp for all: only the clock can end the group */
	for (unsigned int i = 0; i < 3; i++)
		submit(rec, &c, bufs, i, 5, 1000);
	while (c.done < 3 && test_now_ms() - t0 < 5000)
		check(dmapipe_recorder_dispatch(rec, 100) >= 0);
	t = test_now_ms() - t0;
	check_msg(c.done == 3, "the group was not written within %llu ms", (unsigned long long)t);
	/* the sync timer (50 ms) wakes dispatch: the bound plus a tick and the write */
	check_msg(t >= 190 && t < 2000, "written after %llu ms, bound 200", (unsigned long long)t);
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);
	free_bufs(bufs);
	free(path);
	test_pass("timer");
}

/* ---- crash --------------------------------------------------------------------------- */

static void test_crash(const char *dir)
{
	char *path = test_path(dir, "crash.rec");
	struct dmapipe_recording_info info;
	struct dmapipe_recording *r;
	uint64_t logged[MAX_SEQ], n_logged = 0;
	uint8_t *mem;
	int pipefd[2];
	pid_t pid;

	check(pipe(pipefd) == 0);
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		struct dmapipe_buffer *bufs[N_BUFS];
		static struct gctx c = { .use_release = true };
		struct dmapipe_recorder *rec;

		close(pipefd[0]);
		c.log_fd = pipefd[1];
		new_bufs(bufs, 64 << 10);
		/* small groups: many of them, written while the kill comes */
		rec = new_rec(path, &c, 64 << 10, 0);
		for (uint64_t seq = 0; seq < MAX_SEQ; seq++) {
			submit(rec, &c, bufs, seq, seq * UINT64_C(33333333),
			       1 + (uint32_t)(seq * 2654435761u % 20000));
			dmapipe_recorder_dispatch(rec, 0);
		}
		_exit(3); /* never reached before the kill */
	}
	close(pipefd[1]);
	n_logged = test_kill_after(pid, pipefd[0], logged, MAX_SEQ, 300);

	r = dmapipe_recording_open(path, 0);
	check(r);
	dmapipe_recording_get_info(r, &info);
	check(!info.closed && info.scanned);
	check_int_eq(info.packets_damaged, 0);
	check_msg(info.frames >= n_logged, "%llu packets recovered, %llu were reported done",
		  (unsigned long long)info.frames, (unsigned long long)n_logged);
	check(posix_memalign((void **)&mem, 4096, 64 << 10) == 0);
	/* every packet found reads and verifies; every packet reported done is found */
	for (uint64_t i = 0; i < info.frames; i++) {
		struct dmapipe_recorded_frame f;

		check_int_eq(read_packet(r, i, mem, 64 << 10, &f), 0);
		check(f.flags & DMAPIPE_RECORDED_GROUPED);
	}
	for (uint64_t i = 0; i < n_logged; i++) {
		struct dmapipe_recorded_frame f;
		bool found = false;

		for (uint64_t k = 0; k < info.frames && !found; k++) {
			dmapipe_recording_get_frame(r, k, &f);
			found = f.meta.sequence == logged[i];
		}
		check_msg(found, "packet %llu was reported done but is not in the file",
			  (unsigned long long)logged[i]);
	}
	dmapipe_recording_close(r);
	printf("killed after %llu packets reported done: %llu recovered\n",
	       (unsigned long long)n_logged, (unsigned long long)info.frames);

	/* a repair writes the index: closed, version 3, the same packets */
	{
		uint64_t frames = info.frames;

		r = dmapipe_recording_open(path, DMAPIPE_RECORDING_REPAIR);
		check(r);
		dmapipe_recording_close(r);
		r = dmapipe_recording_open(path, 0);
		check(r);
		dmapipe_recording_get_info(r, &info);
		check(info.closed && !info.scanned);
		check_int_eq(info.version, 3);
		check_int_eq(info.frames, frames);
		for (uint64_t i = 0; i < info.frames; i++) {
			struct dmapipe_recorded_frame f;

			check_int_eq(read_packet(r, i, mem, 64 << 10, &f), 0);
		}
		dmapipe_recording_close(r);
	}
	free(mem);
	free(path);
	test_pass("crash");
}

/* ---- torn ---------------------------------------------------------------------------- */

static void flip_byte(const char *path, uint64_t off)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	uint8_t b;

	check(fd >= 0);
	check(pread(fd, &b, 1, (off_t)off) == 1);
	b ^= 0x5a;
	check(pwrite(fd, &b, 1, (off_t)off) == 1);
	check(fsync(fd) == 0);
	close(fd);
}

/* Opens @path with @flags: the sequence numbers of its packets, in a bitmap of 120. */
static uint64_t read_all(const char *path, uint32_t flags, bool present[120],
			 struct dmapipe_recording_info *info)
{
	struct dmapipe_recording *r = dmapipe_recording_open(path, flags);
	uint64_t bad = 0;
	uint8_t *mem;

	check(r);
	dmapipe_recording_get_info(r, info);
	check(posix_memalign((void **)&mem, 4096, 64 << 10) == 0);
	memset(present, 0, 120 * sizeof(bool));
	for (uint64_t i = 0; i < info->frames; i++) {
		struct dmapipe_recorded_frame f;
		int ret = read_packet(r, i, mem, 64 << 10, &f);

		check(f.meta.sequence < 120);
		present[f.meta.sequence] = true;
		if (ret == -EBADMSG)
			bad++;
		else
			check_int_eq(ret, 0);
	}
	free(mem);
	dmapipe_recording_close(r);
	return bad;
}

static void test_torn(const char *dir)
{
	struct dmapipe_buffer *bufs[N_BUFS];
	static struct gctx c = { .log_fd = -1, .use_release = true };
	char *path = test_path(dir, "torn.rec"), *log = test_path(dir, "torn-check.log");
	struct dmapipe_recording_info info;
	struct dmapipe_recorded_frame f;
	struct dmapipe_recording *r;
	struct dmapipe_recorder *rec;
	uint64_t desc_end = 0, block;
	bool present[120];
	char cmd[2048];
	uint8_t *file;
	int fd;

	new_bufs(bufs, 64 << 10);
	/* 120 packets, 1 s of timestamps a group: 4 groups of 30 */
	rec = new_rec(path, &c, UINT64_C(1) << 20, 1000);
	for (unsigned int i = 0; i < 120; i++)
		submit(rec, &c, bufs, i, i * UINT64_C(33333334), 500 + i * 37);
	check_int_eq(dmapipe_recorder_finish(rec), 0);
	dmapipe_recorder_free(rec);
	check_int_eq(c.done, 120);

	/* packet 40's bytes damaged: through the index only it fails */
	r = dmapipe_recording_open(path, 0);
	check(r);
	dmapipe_recording_get_info(r, &info);
	block = info.block_size;
	check_int_eq(dmapipe_recording_get_frame(r, 40, &f), 0);
	dmapipe_recording_close(r);
	flip_byte(path, f.offset + f.size / 2);
	check_int_eq(read_all(path, 0, present, &info), 1);
	check_int_eq(info.frames, 120);
	/* record --check calls it damage (a failed checksum), not a read error */
	snprintf(cmd, sizeof(cmd), "'%s' record --check '%s' > '%s' 2>&1",
		 tool, path, log);
	check_msg(system(cmd) != 0, "record --check passed a damaged file");
	snprintf(cmd, sizeof(cmd), "grep -q 'sequence 40) FAILED: its bytes differ' '%s'", log);
	check_msg(system(cmd) == 0, "record --check did not name packet 40 as damaged");
	/* a scan leaves exactly it out */
	check_int_eq(read_all(path, DMAPIPE_RECORDING_SCAN, present, &info), 0);
	check_int_eq(info.frames, 119);
	check_int_eq(info.packets_damaged, 1);
	for (unsigned int i = 0; i < 120; i++)
		check_msg(present[i] == (i != 40), "packet %u %s", i, present[i] ? "read" : "lost");

	/* the first group's descriptor damaged: the scan skips its group, no more */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	check(fd >= 0);
	file = mmap(NULL, (size_t)file_size(path), PROT_READ, MAP_PRIVATE, fd, 0);
	check(file != MAP_FAILED);
	for (uint64_t off = block; off + block <= file_size(path) && !desc_end; off += block)
		if (memcmp(file + off + block - REC_PG_TRAILER_SIZE, REC_PG_MAGIC, 8) == 0)
			desc_end = off + block;
	munmap(file, (size_t)file_size(path));
	close(fd);
	check(desc_end);
	flip_byte(path, desc_end - REC_PG_TRAILER_SIZE - REC_LAYOUT_SIZE - 20);
	check_int_eq(read_all(path, DMAPIPE_RECORDING_SCAN, present, &info), 0);
	check_int_eq(info.frames, 89);
	check(info.bad_headers >= 1);
	for (unsigned int i = 0; i < 120; i++)
		check_msg(present[i] == (i >= 30 && i != 40), "packet %u %s", i,
			  present[i] ? "read" : "lost");
	/* the index does not need the descriptor */
	check_int_eq(read_all(path, 0, present, &info), 1);
	check_int_eq(info.frames, 120);
	free_bufs(bufs);
	free(path);
	free(log);
	test_pass("torn");
}

/* ---- enospc --------------------------------------------------------------------------- */

static void test_enospc(const char *dir)
{
	struct dmapipe_buffer *bufs[N_BUFS];
	static struct gctx c = { .log_fd = -1, .use_release = true };
	char *mnt = test_path(dir, "small"), *path, *out;
	struct dmapipe_recorder_stats st;
	struct dmapipe_recording_info info;
	struct dmapipe_recording *r;
	uint64_t seq, in_file = 0, bytes = 0;
	char cmd[2048];
	uint8_t *mem;
	int ret = 0;

	check(mkdir(mnt, 0700) == 0);
	if (mount("dmapipe-test", mnt, "tmpfs", 0, "size=4m") < 0)
		test_skip("cannot mount a small tmpfs to fill (%s): needs root and mount rights",
			  strerror(errno));
	path = test_path(mnt, "full.rec");
	out = test_path(dir, "full.h264");
	new_bufs(bufs, 64 << 10);
	/* 64 KiB groups: many of them, the last ones cut by the full disk */
	{
		struct dmapipe_recorder *rec = new_rec(path, &c, 64 << 10, 0);

		for (seq = 0; seq < MAX_SEQ && ret == 0; seq++) {
			ret = try_submit(rec, &c, bufs, seq, seq * UINT64_C(33333333),
					 1 + (uint32_t)(seq * 2654435761u % 20000));
			dmapipe_recorder_dispatch(rec, 0);
		}
		check_msg(ret == -ENOSPC, "submit %d (%s) after %llu packets", ret, strerror(-ret),
			  (unsigned long long)seq);
		check_int_eq(dmapipe_recorder_finish(rec), -ENOSPC);
		dmapipe_recorder_get_stats(rec, &st);
		dmapipe_recorder_free(rec);
	}
	check_int_eq(st.error, -ENOSPC);
	check(st.groups_written > 1);
	check_int_eq(c.done, st.frames_written);
	/* every packet taken was given back and got its done callback */
	check_int_eq(c.done + c.failed, st.frames_submitted);
	check_int_eq(c.released, st.frames_submitted);

	r = dmapipe_recording_open(path, 0);
	check(r);
	dmapipe_recording_get_info(r, &info);
	check_msg(info.closed && !info.scanned, "the index did not fit: %s",
		  info.scanned ? "scanned" : "open");
	check_int_eq(info.version, 3);
	check_int_eq(info.frames, c.done);
	check(posix_memalign((void **)&mem, 4096, 64 << 10) == 0);
	for (uint64_t i = 0; i < info.frames; i++) {
		struct dmapipe_recorded_frame f;

		check_int_eq(read_packet(r, i, mem, 64 << 10, &f), 0);
		check_msg(f.meta.sequence < MAX_SEQ && c.ok[f.meta.sequence],
			  "packet %llu is in the index but was not reported done",
			  (unsigned long long)f.meta.sequence);
		if (f.flags & DMAPIPE_RECORDED_GROUPED)
			in_file++;
		bytes += f.meta.bytes_used[0];
	}
	check(in_file > 0);
	dmapipe_recording_close(r);
	free(mem);
	/* as many in the index as reported done, each reported one there: the same packets */
	printf("full after %llu packets (%llu groups, %llu gathered): %llu done, all in the "
	       "index and verified; %llu failed\n", (unsigned long long)st.frames_submitted,
	       (unsigned long long)st.groups_written, (unsigned long long)in_file,
	       (unsigned long long)c.done, (unsigned long long)c.failed);

	snprintf(cmd, sizeof(cmd), "'%s' probe '%s' > /dev/null", tool, path);
	check_msg(system(cmd) == 0, "dmapipe probe failed on the full disk's recording");
	snprintf(cmd, sizeof(cmd), "'%s' export '%s' -o '%s' > /dev/null", tool, path, out);
	check_msg(system(cmd) == 0, "dmapipe export failed on the full disk's recording");
	check_int_eq(file_size(out), bytes);
	check(unlink(path) == 0);
	check(umount(mnt) == 0);
	free_bufs(bufs);
	free(path);
	free(out);
	free(mnt);
	test_pass("enospc");
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	char *dir;

	tool = argc > 2 ? argv[2] : "dmapipe";
	dir = test_make_dir("gather");
	if (strcmp(what, "roundtrip") == 0)
		test_roundtrip(dir);
	else if (strcmp(what, "size") == 0)
		test_size(dir);
	else if (strcmp(what, "timer") == 0)
		test_timer(dir);
	else if (strcmp(what, "crash") == 0)
		test_crash(dir);
	else if (strcmp(what, "torn") == 0)
		test_torn(dir);
	else if (strcmp(what, "enospc") == 0)
		test_enospc(dir);
	else
		check_msg(false, "unknown sub-test '%s'", what);
	test_rmdir_all(dir);
	free(dir);
	return 0;
}
