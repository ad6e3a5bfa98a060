/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program built against 0.1, run against this library (docs/ABI.md).
 *
 * The structs below are written out as 0.1's record.h and stream.h had
 * them (not from the library's frozen copies in lib/storage/compat-0.1.h
 * and lib/stream/compat-0.1.h: this is a second, independent copy), and
 * the functions that fill them are bound to their DMAPIPE_0.1 versions
 * with .symver, as the linker bound a 0.1 program's calls. Each struct is followed by a guard region: the
 * library must write no byte of it, and must fill every field 0.1 had as
 * the current (DMAPIPE_0.2) function fills it.
 *
 *   test-abi-0.1 options   the three _options_init()s
 *   test-abi-0.1 layouts   the structs that grew into their reserved
 *                          fields: 0.1's fields where 0.1 had them
 *   test-abi-0.1 stream    a server and a client made from 0.1 options
 *   test-abi-0.1 recorder  a recorder made from 0.1 options records three
 *                          frames; dmapipe_recorder_get_stats() as 0.1
 *                          (77 without io_uring: no recorder)
 *
 * Links only the shared library: what a program gets.
 */
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <dmapipe/buffer.h>
#include <dmapipe/device.h>
#include <dmapipe/pattern.h>
#include <dmapipe/record.h>
#include <dmapipe/stream.h>

#define GUARD_BYTES 256
#define GUARD_FILL 0xa5

static int failures;

#define check(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                              \
		}                                                                \
	} while (0)

/* ---- 0.1's structs ------------------------------------------------------ */

struct v01_recorder_options {
	uint32_t size;
	enum dmapipe_record_mode mode;
	uint32_t max_frames;
	uint64_t max_bytes;
	uint32_t sync_interval_ms;
	uint64_t prealloc_bytes;
	bool overwrite;
	dmapipe_recorder_done_func done;
	void *user_data;
};

struct v01_recorder_stats {
	uint64_t frames_submitted;
	uint64_t frames_written;
	uint64_t frames_failed;
	uint64_t frames_refused;
	uint64_t bytes_written;
	uint64_t path_bytes[DMAPIPE_RECORD_PATH_COUNT];
	uint64_t path_frames[DMAPIPE_RECORD_PATH_COUNT];
	uint64_t bytes_copied;
	uint64_t format_changes;
	uint64_t barriers;
	uint64_t file_size;
	uint64_t preallocated;
	uint64_t in_flight_bytes;
	uint32_t in_flight_frames;
	uint32_t mode;
	uint32_t block_size;
	uint32_t mem_align;
	int32_t error;
	uint32_t reserved[7];
};

struct v01_server_options {
	uint32_t size;
	const char *path;
	uint32_t socket_mode;
	enum dmapipe_peer_policy peer_policy;
	uid_t allowed_uid;
	gid_t allowed_gid;
	uint32_t max_consumers;
	uint32_t lease_timeout_ms;
	uint32_t max_in_flight;
	uint32_t max_queue_depth;
	uint32_t fd_quota;
	const char *producer_name;
	const char *stream_name;
	uint32_t max_buffers;
	uint32_t handshake_timeout_ms;
	uint32_t busy_poll_us;
};

struct v01_client_options {
	uint32_t size;
	const char *path;
	enum dmapipe_policy policy;
	uint32_t queue_depth;
	uint32_t max_in_flight;
	const char *name;
	bool reconnect;
	uint32_t reconnect_min_ms;
	uint32_t reconnect_max_ms;
	uint32_t fd_quota;
	enum dmapipe_peer_policy peer_policy;
	uid_t allowed_uid;
	gid_t allowed_gid;
	bool map_buffers;
	bool dmabuf_only;
	uint32_t busy_poll_us;
};

/* what abidw said of 0.1's library (tests/abi/dmapipe-0.1.abi), on LP64 */
_Static_assert(sizeof(void *) != 8 || sizeof(struct v01_recorder_options) == 64, "0.1 layout");
_Static_assert(sizeof(struct v01_recorder_stats) == 200, "0.1 layout");
_Static_assert(sizeof(void *) != 8 || sizeof(struct v01_server_options) == 88, "0.1 layout");
_Static_assert(sizeof(void *) != 8 || sizeof(struct v01_client_options) == 80, "0.1 layout");

/* ---- the calls a 0.1 program makes --------------------------------------- */

void v01_recorder_options_init(struct v01_recorder_options *options);
void v01_recorder_get_stats(const struct dmapipe_recorder *recorder, struct v01_recorder_stats *stats);
void v01_server_options_init(struct v01_server_options *options);
void v01_client_options_init(struct v01_client_options *options);
__asm__(".symver v01_recorder_options_init, dmapipe_recorder_options_init@DMAPIPE_0.1");
__asm__(".symver v01_recorder_get_stats, dmapipe_recorder_get_stats@DMAPIPE_0.1");
__asm__(".symver v01_server_options_init, dmapipe_server_options_init@DMAPIPE_0.1");
__asm__(".symver v01_client_options_init, dmapipe_client_options_init@DMAPIPE_0.1");

/* ---- guards --------------------------------------------------------------- */

/* A 0.1 struct and what follows it in the caller's memory. */
#define GUARDED(type)                                   \
	struct {                                        \
		type s;                                 \
		unsigned char guard[GUARD_BYTES];       \
	}

static void guard_check(const char *what, const unsigned char *guard)
{
	for (size_t i = 0; i < GUARD_BYTES; i++) {
		if (guard[i] != GUARD_FILL) {
			fprintf(stderr, "%s: the library wrote byte %zu past the 0.1 struct\n",
				what, i);
			failures++;
			return;
		}
	}
}

/* ---- options -------------------------------------------------------------- */

static void test_options(void)
{
	GUARDED(struct v01_recorder_options) rec;
	GUARDED(struct v01_server_options) srv;
	GUARDED(struct v01_client_options) cli;
	struct dmapipe_recorder_options rec_now;
	struct dmapipe_server_options srv_now;
	struct dmapipe_client_options cli_now;

	memset(&rec, GUARD_FILL, sizeof(rec));
	v01_recorder_options_init(&rec.s);
	guard_check("dmapipe_recorder_options_init@DMAPIPE_0.1", rec.guard);
	dmapipe_recorder_options_init(&rec_now);
	check(rec.s.size == sizeof(rec.s));
	check(rec.s.mode == rec_now.mode);
	check(rec.s.max_frames == rec_now.max_frames);
	check(rec.s.max_bytes == rec_now.max_bytes);
	check(rec.s.sync_interval_ms == rec_now.sync_interval_ms);
	check(rec.s.prealloc_bytes == rec_now.prealloc_bytes);
	check(rec.s.overwrite == rec_now.overwrite);
	check(rec.s.done == rec_now.done);
	check(rec.s.user_data == rec_now.user_data);
	/* the defaults 0.1 documented */
	check(rec.s.mode == DMAPIPE_RECORD_AUTO);
	check(rec.s.max_frames == 8);
	check(rec.s.sync_interval_ms == 500);

	memset(&srv, GUARD_FILL, sizeof(srv));
	v01_server_options_init(&srv.s);
	guard_check("dmapipe_server_options_init@DMAPIPE_0.1", srv.guard);
	dmapipe_server_options_init(&srv_now);
	check(srv.s.size == sizeof(srv.s));
	check(srv.s.path == srv_now.path);
	check(srv.s.socket_mode == srv_now.socket_mode);
	check(srv.s.peer_policy == srv_now.peer_policy);
	check(srv.s.allowed_uid == srv_now.allowed_uid);
	check(srv.s.allowed_gid == srv_now.allowed_gid);
	check(srv.s.max_consumers == srv_now.max_consumers);
	check(srv.s.lease_timeout_ms == srv_now.lease_timeout_ms);
	check(srv.s.max_in_flight == srv_now.max_in_flight);
	check(srv.s.max_queue_depth == srv_now.max_queue_depth);
	check(srv.s.fd_quota == srv_now.fd_quota);
	check(srv.s.producer_name == srv_now.producer_name);
	check(srv.s.stream_name == srv_now.stream_name);
	check(srv.s.max_buffers == srv_now.max_buffers);
	check(srv.s.handshake_timeout_ms == srv_now.handshake_timeout_ms);
	check(srv.s.busy_poll_us == srv_now.busy_poll_us);
	check(srv.s.max_consumers == 32);
	check(srv.s.socket_mode == 0660);

	memset(&cli, GUARD_FILL, sizeof(cli));
	v01_client_options_init(&cli.s);
	guard_check("dmapipe_client_options_init@DMAPIPE_0.1", cli.guard);
	dmapipe_client_options_init(&cli_now);
	check(cli.s.size == sizeof(cli.s));
	check(cli.s.path == cli_now.path);
	check(cli.s.policy == cli_now.policy);
	check(cli.s.queue_depth == cli_now.queue_depth);
	check(cli.s.max_in_flight == cli_now.max_in_flight);
	check(cli.s.name == cli_now.name);
	check(cli.s.reconnect == cli_now.reconnect);
	check(cli.s.reconnect_min_ms == cli_now.reconnect_min_ms);
	check(cli.s.reconnect_max_ms == cli_now.reconnect_max_ms);
	check(cli.s.fd_quota == cli_now.fd_quota);
	check(cli.s.peer_policy == cli_now.peer_policy);
	check(cli.s.allowed_uid == cli_now.allowed_uid);
	check(cli.s.allowed_gid == cli_now.allowed_gid);
	check(cli.s.map_buffers == cli_now.map_buffers);
	check(cli.s.dmabuf_only == cli_now.dmabuf_only);
	check(cli.s.busy_poll_us == cli_now.busy_poll_us);
	check(cli.s.policy == DMAPIPE_POLICY_LATEST);
	check(cli.s.queue_depth == 4);
}

/* ---- layouts ------------------------------------------------------------- */

/*
 * Structs whose new fields came out of their reserved ones, so the size
 * stayed (tests/abi/dmapipe.suppr has abidiff skip them): every field 0.1
 * had is still where 0.1 had it, and the size is 0.1's. The offsets are
 * those of dmapipe-0.1.abi (in bits there), on x86-64.
 */
struct layout {
	const char *what;
	size_t now, then;
};

#define AT(type, field, bits) { #type "." #field, offsetof(struct type, field), (bits) / 8 }
#define SIZE(type, bits) { "sizeof " #type, sizeof(struct type), (bits) / 8 }

static const struct layout layouts[] = {
	SIZE(dmapipe_client_stats, 960),
	AT(dmapipe_client_stats, frames_received, 0),
	AT(dmapipe_client_stats, frames_released, 64),
	AT(dmapipe_client_stats, sequence_gaps, 128),
	AT(dmapipe_client_stats, reconnects, 192),
	AT(dmapipe_client_stats, buffers_added, 256),
	AT(dmapipe_client_stats, fds_received, 320),
	AT(dmapipe_client_stats, mem_kind, 384),
	SIZE(dmapipe_consumer_stats, 1280),
	AT(dmapipe_consumer_stats, id, 0),
	AT(dmapipe_consumer_stats, pid, 32),
	AT(dmapipe_consumer_stats, uid, 64),
	AT(dmapipe_consumer_stats, policy, 96),
	AT(dmapipe_consumer_stats, queue_depth, 128),
	AT(dmapipe_consumer_stats, leases_held, 160),
	AT(dmapipe_consumer_stats, queued, 192),
	AT(dmapipe_consumer_stats, state, 224),
	AT(dmapipe_consumer_stats, frames_sent, 256),
	AT(dmapipe_consumer_stats, frames_released, 320),
	AT(dmapipe_consumer_stats, frames_dropped, 384),
	AT(dmapipe_consumer_stats, oldest_lease_ns, 448),
	AT(dmapipe_consumer_stats, name, 512),
	SIZE(dmapipe_server_stats, 1408),
	AT(dmapipe_server_stats, frames_queued, 0),
	AT(dmapipe_server_stats, frames_dropped, 64),
	AT(dmapipe_server_stats, consumers_total, 128),
	AT(dmapipe_server_stats, consumers_refused, 192),
	AT(dmapipe_server_stats, lease_timeouts, 256),
	AT(dmapipe_server_stats, bytes_copied, 320),
	AT(dmapipe_server_stats, frames_copied, 384),
	AT(dmapipe_server_stats, consumers, 448),
	AT(dmapipe_server_stats, buffers, 480),
	AT(dmapipe_server_stats, buffers_free, 512),
	AT(dmapipe_server_stats, mem_kind, 544),
	AT(dmapipe_server_stats, format, 576),
	AT(dmapipe_server_stats, allocator, 768),
	SIZE(dmapipe_device, 2176),
	AT(dmapipe_device, type, 0),
	AT(dmapipe_device, error, 32),
	AT(dmapipe_device, error_op, 64),
	AT(dmapipe_device, name, 128),
	AT(dmapipe_device, path, 640),
	AT(dmapipe_device, v4l2, 1664),
	AT(dmapipe_device, drm, 1728),
	AT(dmapipe_device, udmabuf, 1792),
	AT(dmapipe_device, kmod, 1856),
};

static int test_layouts(void)
{
#if !defined(__x86_64__)
	printf("SKIP: 0.1's offsets here are x86-64's\n");
	return 77;
#else
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		if (layouts[i].now != layouts[i].then) {
			fprintf(stderr, "%s: %zu bytes, 0.1: %zu\n", layouts[i].what,
				layouts[i].now, layouts[i].then);
			failures++;
		}
	}
	return failures ? 1 : 0;
#endif
}

/* ---- stream --------------------------------------------------------------- */

/* 0.1's options, the size they carry included, are taken by today's _new() */
static void test_stream(void)
{
	struct v01_server_options srv_opts;
	struct v01_client_options cli_opts;
	struct dmapipe_server *server;
	struct dmapipe_client *client;
	char path[64];

	snprintf(path, sizeof(path), "@dmapipe-test-abi-%ld", (long)getpid());
	v01_server_options_init(&srv_opts);
	srv_opts.path = path;
	server = dmapipe_server_new((const struct dmapipe_server_options *)&srv_opts);
	if (!server) {
		fprintf(stderr, "dmapipe_server_new() with 0.1's options: %s\n", strerror(errno));
		failures++;
		return;
	}
	v01_client_options_init(&cli_opts);
	cli_opts.path = path;
	cli_opts.name = "test-abi-0.1";
	client = dmapipe_client_new((const struct dmapipe_client_options *)&cli_opts);
	if (!client) {
		fprintf(stderr, "dmapipe_client_new() with 0.1's options: %s\n", strerror(errno));
		failures++;
	}
	dmapipe_client_free(client);
	dmapipe_server_free(server);
}

/* ---- recorder ------------------------------------------------------------- */

#define FRAMES 3

static void on_done(struct dmapipe_recorder *rec, void *frame_data, int status, void *user_data)
{
	unsigned int *done = user_data;

	(void)rec;
	(void)frame_data;
	if (status == 0)
		(*done)++;
}

static int test_recorder(const char *dir)
{
	struct dmapipe_format fmt = { .fourcc = dmapipe_fourcc_from_string("XR24"),
				      .width = 64, .height = 32 };
	GUARDED(struct v01_recorder_stats) old;
	struct v01_recorder_options opts;
	struct dmapipe_recorder_stats now;
	struct dmapipe_recorder *rec;
	struct dmapipe_pool *pool;
	unsigned int done = 0;
	char path[4096];

	snprintf(path, sizeof(path), "%s/test-abi-0.1-%ld.dmrec", dir, (long)getpid());
	unlink(path);
	v01_recorder_options_init(&opts);
	opts.done = on_done;
	opts.user_data = &done;
	opts.prealloc_bytes = 0;
	rec = dmapipe_recorder_new(path, (const struct dmapipe_recorder_options *)&opts);
	if (!rec && errno == ENOTSUP) {
		printf("SKIP: this library has no recorder (built without io_uring)\n");
		return 77;
	}
	if (!rec) {
		fprintf(stderr, "dmapipe_recorder_new() with 0.1's options: %s\n", strerror(errno));
		return 1;
	}
	pool = dmapipe_pool_new(NULL, &fmt, 2, "test-abi-0.1");
	if (!pool) {
		fprintf(stderr, "dmapipe_pool_new(): %s\n", strerror(errno));
		dmapipe_recorder_free(rec);
		unlink(path);
		return 1;
	}
	for (uint64_t seq = 0; seq < FRAMES; seq++) {
		struct dmapipe_frame_meta meta;
		struct dmapipe_buffer *b;
		int ret;

		while (!(b = dmapipe_pool_acquire(pool)))
			check(dmapipe_recorder_dispatch(rec, 100) >= 0);
		check(dmapipe_buffer_draw_pattern(b, seq) == 0);
		dmapipe_frame_meta_init(&meta);
		meta.sequence = seq;
		while ((ret = dmapipe_recorder_submit(rec, b, &meta, NULL)) == -EAGAIN)
			check(dmapipe_recorder_dispatch(rec, 100) >= 0);
		check(ret == 0);
		dmapipe_buffer_unref(b);
	}
	check(dmapipe_recorder_finish(rec) == 0);
	check(done == FRAMES);

	memset(&old, GUARD_FILL, sizeof(old));
	v01_recorder_get_stats(rec, &old.s);
	guard_check("dmapipe_recorder_get_stats@DMAPIPE_0.1", old.guard);
	dmapipe_recorder_get_stats(rec, &now);
	check(old.s.frames_submitted == FRAMES);
	check(old.s.frames_written == FRAMES);
	check(old.s.frames_submitted == now.frames_submitted);
	check(old.s.frames_written == now.frames_written);
	check(old.s.frames_failed == now.frames_failed);
	check(old.s.frames_refused == now.frames_refused);
	check(old.s.bytes_written == now.bytes_written);
	check(old.s.bytes_written > 0);
	for (int i = 0; i < DMAPIPE_RECORD_PATH_COUNT; i++) {
		check(old.s.path_bytes[i] == now.path_bytes[i]);
		check(old.s.path_frames[i] == now.path_frames[i]);
	}
	check(old.s.bytes_copied == now.bytes_copied);
	check(old.s.format_changes == now.format_changes);
	check(old.s.barriers == now.barriers);
	check(old.s.file_size == now.file_size);
	check(old.s.file_size > 0);
	check(old.s.preallocated == now.preallocated);
	check(old.s.in_flight_bytes == now.in_flight_bytes);
	check(old.s.in_flight_frames == now.in_flight_frames);
	check(old.s.mode == now.mode);
	check(old.s.block_size == now.block_size);
	check(old.s.block_size > 0);
	check(old.s.mem_align == now.mem_align);
	check(old.s.error == now.error);
	check(old.s.error == 0);
	for (int i = 0; i < 7; i++)
		check(old.s.reserved[i] == 0);

	dmapipe_recorder_free(rec);
	dmapipe_pool_free(pool);
	unlink(path);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	int ret;

	if (argc == 2 && !strcmp(argv[1], "options")) {
		test_options();
		ret = failures ? 1 : 0;
	} else if (argc == 2 && !strcmp(argv[1], "layouts")) {
		ret = test_layouts();
	} else if (argc == 2 && !strcmp(argv[1], "stream")) {
		test_stream();
		ret = failures ? 1 : 0;
	} else if (argc == 3 && !strcmp(argv[1], "recorder")) {
		ret = test_recorder(argv[2]);
	} else {
		fprintf(stderr, "usage: %s options|layouts|stream|recorder DIR\n", argv[0]);
		return 2;
	}
	if (ret == 0)
		printf("ok %s\n", argv[1]);
	return ret;
}
