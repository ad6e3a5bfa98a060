/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Streaming in one process: a server and clients driven by alternating
 * dispatch calls, so each policy and lifecycle rule can be stepped through
 * deterministically. Uses the default allocator, or DMAPIPE_ALLOCATOR; with
 * DMAPIPE_TEST_REQUIRE_DMABUF=1 (the VM lane) the buffers must be dma-bufs.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "private.h"
#include "stream/proto.h"
#include "stream/ring.h"
#include "stream/socket.h"
#include "testlib.h"

static char *dir;
static struct dmapipe_allocator *allocator;

static const struct dmapipe_format fmt_nv12 = {
	.fourcc = 0x3231564e, /* NV12 */
	.width = 320,
	.height = 240,
	.modifier = DMAPIPE_MOD_LINEAR,
};

static struct dmapipe_server *server_new(const char *path, uint32_t lease_ms, unsigned int count)
{
	struct dmapipe_server_options o;
	struct dmapipe_server *s;

	dmapipe_server_options_init(&o);
	o.path = path;
	o.lease_timeout_ms = lease_ms;
	o.producer_name = "test";
	s = dmapipe_server_new(&o);
	check_msg(s, "server on %s: %s", path, strerror(errno));
	check_int_eq(dmapipe_server_alloc_buffers(s, allocator, &fmt_nv12, count), 0);
	return s;
}

static struct dmapipe_client *client_new(const char *path, enum dmapipe_policy policy,
					 uint32_t depth, uint32_t in_flight)
{
	struct dmapipe_client_options o;
	struct dmapipe_client *c;

	dmapipe_client_options_init(&o);
	o.path = path;
	o.policy = policy;
	o.queue_depth = depth;
	o.max_in_flight = in_flight;
	o.map_buffers = true;
	o.name = "test-client";
	c = dmapipe_client_new(&o);
	check_msg(c, "client on %s: %s", path, strerror(errno));
	return c;
}

/* Runs both sides until nothing happens for a few rounds. */
/* The reserved space of a stats struct is zero, wherever the struct came from. */
#define check_reserved_zero(st)                                                  \
	do {                                                                     \
		for (size_t i_ = 0; i_ < ARRAY_SIZE((st).reserved); i_++)        \
			check_int_eq((st).reserved[i_], 0);                      \
	} while (0)

static void produce(struct dmapipe_server *s, uint64_t seq)
{
	struct dmapipe_frame_meta meta;
	struct dmapipe_buffer *b = dmapipe_server_dequeue(s);

	check_msg(b, "dequeue frame %llu: %s", (unsigned long long)seq, strerror(errno));
	check_int_eq(dmapipe_buffer_draw_pattern(b, seq), 0);
	dmapipe_frame_meta_init(&meta);
	meta.sequence = seq;
	meta.timestamp_ns = dmapipe_now_ns();
	check(dmapipe_server_queue(s, b, &meta) >= 0);
}

static void test_basic(void)
{
	char *path = test_path(dir, "basic");
	struct dmapipe_server *s = server_new(path, 5000, 4);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_QUEUE, 4, 2);
	struct dmapipe_server_stats st;
	struct dmapipe_client_stats cst;
	struct dmapipe_consumer_stats cs[4];
	int fds_before = -1;

	test_pump(s, &c, 1);
	check_int_eq(dmapipe_client_get_state(c), DMAPIPE_CLIENT_STREAMING);
	check(dmapipe_client_get_format(c));
	check_int_eq(dmapipe_client_get_format(c)->fourcc, fmt_nv12.fourcc);

	for (uint64_t seq = 1; seq <= 50; seq++) {
		struct dmapipe_frame *f;

		produce(s, seq);
		f = dmapipe_client_wait_frame(c, 2000);
		if (seq == 2)
			fds_before = test_count_fds();
		check_msg(f, "frame %llu: %s", (unsigned long long)seq, strerror(errno));
		check_int_eq(f->meta.sequence, seq);
		check_int_eq(dmapipe_buffer_check_pattern(f->buffer, seq), 0);
		check(f->received_ns >= f->meta.timestamp_ns);
		check_int_eq(dmapipe_client_release_frame(c, f, -1), 0);
		dmapipe_server_dispatch(s, 0);
	}
	/* steady state: no fd is opened per frame */
	check_int_eq(test_count_fds(), fds_before);

	test_pump(s, &c, 1);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.frames_queued, 50);
	check_int_eq(st.frames_dropped, 0);
	check_int_eq(st.consumers, 1);
	check_int_eq(st.bytes_copied, 0);
	check_int_eq(st.buffers_free, st.buffers);
	if (test_require_dmabuf())
		check_msg(st.mem_kind == DMAPIPE_MEM_DMABUF, "allocator %s gave %s", st.allocator,
			  dmapipe_mem_kind_to_string(st.mem_kind));
	check_int_eq(dmapipe_server_get_consumer_stats(s, cs, 4), 1);
	check_int_eq(cs[0].frames_sent, 50);
	check_int_eq(cs[0].frames_released, 50);
	check_int_eq(cs[0].leases_held, 0);
	check(strcmp(cs[0].name, "test-client") == 0);
	check_int_eq(cs[0].pid, getpid());
	check_int_eq(cs[0].state, DMAPIPE_CONSUMER_STREAMING);
	check_reserved_zero(cs[0]);
	check_reserved_zero(st);

	dmapipe_client_get_stats(c, &cst);
	check_reserved_zero(cst);
	check_int_eq(cst.frames_received, 50);
	check_int_eq(cst.ring_frames, dmapipe_rings_enabled() ? 50 : 0);
	check_int_eq(cst.sequence_gaps, 0);
	check_int_eq(cst.mem_kind, st.mem_kind);

	/* EOS reaches the client, which drains and then reports EPIPE */
	produce(s, 51);
	dmapipe_server_end_of_stream(s);
	test_pump(s, &c, 1);
	{
		struct dmapipe_frame *f = dmapipe_client_acquire_frame(c);

		check(f && f->meta.sequence == 51);
		dmapipe_client_release_frame(c, f, -1);
		check(!dmapipe_client_acquire_frame(c) && errno == EPIPE);
		check_int_eq(dmapipe_client_get_state(c), DMAPIPE_CLIENT_EOS);
	}
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	check_msg(access(path, F_OK) < 0, "socket file removed by server_free");
	free(path);
	test_pass("basic: 50 frames verified, leases returned, no fd per frame, EOS");
}

/*
 * The next frame of @c. On the socket (DMAPIPE_RINGS=0) the producer reads
 * the releases that make room for it only when it runs, so it runs first;
 * with rings it takes them from its ring when it queues a frame.
 */
static struct dmapipe_frame *next_frame(struct dmapipe_server *s, struct dmapipe_client *c,
					bool rings)
{
	struct dmapipe_frame *f = dmapipe_client_acquire_frame(c);

	if (!f && !rings) {
		test_pump(s, &c, 1);
		f = dmapipe_client_acquire_frame(c);
	}
	return f ? f : dmapipe_client_wait_frame(c, 2000);
}

/*
 * With rings (unless DMAPIPE_RINGS=0): a consumer that never sleeps gets
 * every frame through its ring without one wake-up, releases come back
 * through the other ring, and a frame with a fence, which must take the
 * socket, arrives in its place between ring frames.
 */
static void test_rings(void)
{
	char *path = test_path(dir, "rings");
	struct dmapipe_server *s = server_new(path, 5000, 6);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_QUEUE, 4, 4);
	bool rings = dmapipe_rings_enabled();
	struct dmapipe_consumer_stats cs;
	struct dmapipe_client_stats cst;
	struct test_fence fence;
	const char *why = NULL;
	uint64_t seq;

	test_pump(s, &c, 1);
	for (seq = 1; seq <= 1000; seq++) {
		struct dmapipe_frame *f;

		produce(s, seq);
		f = next_frame(s, c, rings);
		check_msg(f, "frame %llu: %s", (unsigned long long)seq, strerror(errno));
		check_int_eq(f->meta.sequence, seq);
		check_int_eq(dmapipe_client_release_frame(c, f, -1), 0);
	}
	test_pump(s, &c, 1);
	dmapipe_client_get_stats(c, &cst);
	check_int_eq(cst.frames_received, 1000);
	check_int_eq(cst.ring_frames, rings ? 1000 : 0);
	if (rings)
		check_msg(cst.ring_wakeups == 0, "%llu wake-ups for a consumer that never slept",
			  (unsigned long long)cst.ring_wakeups);
	check_int_eq(dmapipe_server_get_consumer_stats(s, &cs, 1), 1);
	check_int_eq(cs.frames_sent, 1000);
	check_int_eq(cs.frames_released, 1000);
	check_int_eq(cs.leases_held, 0);

	if (test_fence_new(&fence, &why) < 0) {
		printf("   (fenced frame between ring frames not run: %s)\n", why);
	} else {
		struct dmapipe_frame_meta meta;
		struct dmapipe_buffer *b;

		check_int_eq(test_fence_signal(&fence), 0);
		for (seq = 1001; seq <= 1003; seq++) {
			b = dmapipe_server_dequeue(s);
			check(b);
			dmapipe_frame_meta_init(&meta);
			meta.sequence = seq;
			if (seq == 1002)
				meta.acquire_fence = fcntl(fence.fd, F_DUPFD_CLOEXEC, 3);
			check(dmapipe_server_queue(s, b, &meta) == 1);
			dmapipe_close(meta.acquire_fence);
		}
		/*
		 * The producer grants 2 in flight: 1003 waits for the release
		 * of 1001, which it collects when it is dispatched (a release
		 * in the ring wakes nobody), so this loop pumps it.
		 */
		for (seq = 1001; seq <= 1003; seq++) {
			struct dmapipe_frame *f = next_frame(s, c, false);

			check_msg(f, "frame %llu: %s", (unsigned long long)seq, strerror(errno));
			check_int_eq(f->meta.sequence, seq);
			check(!(f->meta.flags & DMAPIPE_FRAME_DISCONTINUITY));
			check((f->meta.acquire_fence >= 0) == (seq == 1002));
			check_int_eq(dmapipe_client_release_frame(c, f, -1), 0);
		}
		dmapipe_client_get_stats(c, &cst);
		check_int_eq(cst.ring_frames, rings ? 1002 : 0);
		test_fence_finish(&fence);
	}
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_server_get_consumer_stats(s, &cs, 1), 1);
	check_int_eq(cs.leases_held, 0);
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
	test_pass(rings ? "rings: 1000 frames through the ring, no wake-up, fenced frame in order"
			: "rings off: 1000 frames on the socket");
}

/*
 * A producer in a busy loop (queue when it can, dispatch with timeout 0,
 * never a wait) while its consumer streams through the rings: its
 * dispatch looks at the sockets only now and then (issue #17, item 1),
 * and what comes there must still be handled within the loop: a new
 * consumer's handshake, and a consumer that stops releasing cut off at
 * its lease timeout while the first one goes on.
 */
static void test_busy_dispatch(void)
{
	char *path = test_path(dir, "busy");
	struct dmapipe_server *s = server_new(path, 100, 8);
	struct dmapipe_client *c[3];
	struct dmapipe_frame *held[2] = { NULL, NULL };
	struct dmapipe_server_stats st;
	uint64_t t0, deadline, received[2] = { 0, 0 }, seq = 0;
	unsigned int n_held = 0;

	c[0] = client_new(path, DMAPIPE_POLICY_QUEUE, 4, 2);
	test_pump(s, c, 1);
	check_int_eq(dmapipe_client_get_state(c[0]), DMAPIPE_CLIENT_STREAMING);
	/* connected while the loop runs: a handshake, then frames */
	c[1] = client_new(path, DMAPIPE_POLICY_QUEUE, 4, 2);
	/* takes two frames and keeps them past the lease timeout */
	c[2] = client_new(path, DMAPIPE_POLICY_LATEST, 1, 2);
	t0 = dmapipe_now_ns();
	deadline = t0 + 3000 * 1000000ull;
	for (;;) {
		struct dmapipe_buffer *b = dmapipe_server_dequeue(s);
		struct dmapipe_frame *f;

		if (b) {
			struct dmapipe_frame_meta meta;

			dmapipe_frame_meta_init(&meta);
			meta.sequence = ++seq;
			check(dmapipe_server_queue(s, b, &meta) >= 0);
		}
		check(dmapipe_server_dispatch(s, 0) >= 0);
		for (int i = 0; i < 2; i++) {
			dmapipe_client_dispatch(c[i], 0);
			while ((f = dmapipe_client_acquire_frame(c[i]))) {
				received[i]++;
				check_int_eq(dmapipe_client_release_frame(c[i], f, -1), 0);
			}
		}
		dmapipe_client_dispatch(c[2], 0);
		if (n_held < 2 && (f = dmapipe_client_acquire_frame(c[2])))
			held[n_held++] = f;
		dmapipe_server_get_stats(s, &st);
		if (st.lease_timeouts > 0 && received[1] > 0 &&
		    dmapipe_client_get_state(c[2]) == DMAPIPE_CLIENT_ERROR)
			break;
		check_msg(dmapipe_now_ns() < deadline,
			  "after 3 s of busy dispatch: %llu frames to the new consumer, "
			  "%llu lease timeouts", (unsigned long long)received[1],
			  (unsigned long long)st.lease_timeouts);
	}
	check_msg(dmapipe_now_ns() - t0 >= 100 * 1000000ull, "lease timed out before 100 ms");
	check_int_eq(n_held, 2);
	check_int_eq(st.lease_timeouts, 1);
	check_int_eq(st.consumers, 2);
	check_int_eq(dmapipe_client_get_error(c[2], NULL), DMAPIPE_ERR_LEASE_TIMEOUT);
	check_int_eq(dmapipe_client_get_state(c[0]), DMAPIPE_CLIENT_STREAMING);
	check(received[0] > 0);
	for (unsigned int i = 0; i < n_held; i++)
		check_int_eq(dmapipe_client_release_frame(c[2], held[i], -1), 0);
	for (int i = 0; i < 3; i++)
		dmapipe_client_free(c[i]);
	dmapipe_server_free(s);
	free(path);
	test_pass("busy dispatch(0): a new consumer streams, a lease hog is cut off at 100 ms");
}

static void test_latest_policy(void)
{
	char *path = test_path(dir, "latest");
	struct dmapipe_server *s = server_new(path, 0, 4);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_LATEST, 1, 1);
	struct dmapipe_consumer_stats cs;
	struct dmapipe_frame *f, *g;

	test_pump(s, &c, 1);
	/* the client takes nothing: the producer must never run dry */
	for (uint64_t seq = 1; seq <= 40; seq++) {
		produce(s, seq);
		test_pump(s, &c, 1);
	}
	check_int_eq(dmapipe_server_get_consumer_stats(s, &cs, 1), 1);
	/* one frame in flight (the first), one pending (the newest), 38 dropped */
	check_int_eq(cs.leases_held, 1);
	check_int_eq(cs.queued, 1);
	check_int_eq(cs.frames_dropped, 38);
	f = dmapipe_client_acquire_frame(c);
	check(f && f->meta.sequence == 1);
	check_int_eq(dmapipe_buffer_check_pattern(f->buffer, 1), 0);
	dmapipe_client_release_frame(c, f, -1);
	test_pump(s, &c, 1);
	g = dmapipe_client_acquire_frame(c);
	check(g && g->meta.sequence == 40);
	/* drops are visible as a sequence gap, not as a discontinuity */
	check(!(g->meta.flags & DMAPIPE_FRAME_DISCONTINUITY));
	check_int_eq(dmapipe_buffer_check_pattern(g->buffer, 40), 0);
	dmapipe_client_release_frame(c, g, -1);
	{
		struct dmapipe_client_stats cst;

		dmapipe_client_get_stats(c, &cst);
		check_int_eq(cst.sequence_gaps, 38);
	}
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
	test_pass("latest: a consumer that takes nothing never blocks the producer; drops counted on both sides");
}

static void test_queue_policy(void)
{
	char *path = test_path(dir, "queue");
	struct dmapipe_server *s = server_new(path, 0, 4);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_QUEUE, 3, 1);
	struct dmapipe_consumer_stats cs;
	uint64_t expect[] = { 1, 8, 9, 10 };

	test_pump(s, &c, 1);
	for (uint64_t seq = 1; seq <= 10; seq++) {
		produce(s, seq);
		test_pump(s, &c, 1);
	}
	dmapipe_server_get_consumer_stats(s, &cs, 1);
	check_int_eq(cs.queued, 3);
	check_int_eq(cs.frames_dropped, 6);
	for (unsigned int i = 0; i < ARRAY_SIZE(expect); i++) {
		struct dmapipe_frame *f;

		test_pump(s, &c, 1);
		f = dmapipe_client_acquire_frame(c);
		check_msg(f, "frame %u", i);
		check_int_eq(f->meta.sequence, expect[i]);
		check_int_eq(dmapipe_buffer_check_pattern(f->buffer, expect[i]), 0);
		dmapipe_client_release_frame(c, f, -1);
	}
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
	test_pass("queue:3: oldest unsent frames dropped, order kept");
}

static void test_block_policy(void)
{
	char *path = test_path(dir, "block");
	struct dmapipe_server *s = server_new(path, 0, 8);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_BLOCK, 2, 1);
	struct dmapipe_consumer_stats cs;
	struct dmapipe_frame *f;
	uint64_t seq = 0;

	test_pump(s, &c, 1);
	/* 1 in flight + 2 queued, then the producer must wait */
	for (int i = 0; i < 3; i++) {
		produce(s, ++seq);
		test_pump(s, &c, 1);
	}
	check(!dmapipe_server_dequeue(s) && errno == EAGAIN);
	dmapipe_server_get_consumer_stats(s, &cs, 1);
	check_int_eq(cs.frames_dropped, 0);
	/* the consumer takes one: room again */
	f = dmapipe_client_acquire_frame(c);
	check(f && f->meta.sequence == 1);
	dmapipe_client_release_frame(c, f, -1);
	test_pump(s, &c, 1);
	produce(s, ++seq);
	for (uint64_t want = 2; want <= seq; want++) {
		test_pump(s, &c, 1);
		f = dmapipe_client_acquire_frame(c);
		check_msg(f, "frame %llu", (unsigned long long)want);
		check_int_eq(f->meta.sequence, want);
		dmapipe_client_release_frame(c, f, -1);
	}
	dmapipe_server_get_consumer_stats(s, &cs, 1);
	check_int_eq(cs.frames_dropped, 0);
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
	test_pass("block:2: producer gets EAGAIN instead of dropping, resumes after release");
}

/*
 * KEEPALIVE: a consumer holding frames for four lease timeouts (a recorder
 * whose writes wait for a stalled disk) is not cut off while it says it
 * is alive, gets the grant it asked for, and is cut off once it stops.
 */
static void test_keepalive(void)
{
	char *path = test_path(dir, "keepalive");
	struct dmapipe_server *s = server_new(path, 100, 6);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_QUEUE, 2, 3);
	struct dmapipe_server_stats st;
	struct dmapipe_frame *f[2];
	uint32_t granted = 0, depth = 0, timeout = 0;
	const char *msg = NULL;
	uint64_t t0, sent = 0;

	check_int_eq(dmapipe_client_get_grant(c, &granted, &depth, &timeout), -ENOTCONN);
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_client_get_grant(c, &granted, &depth, &timeout), 0);
	/* the server's default limit is 2 in flight: the grant says so */
	check_int_eq(granted, 2);
	check_int_eq(depth, 2);
	check_int_eq(timeout, 100);
	/* nothing held: nothing to say */
	check_int_eq(dmapipe_client_keep_leases(c), 0);
	produce(s, 1);
	produce(s, 2);
	f[0] = dmapipe_client_wait_frame(c, 2000);
	f[1] = dmapipe_client_wait_frame(c, 2000);
	check(f[0] && f[1]);
	t0 = test_now_ms();
	while (test_now_ms() - t0 < 400) {
		int ret = dmapipe_client_keep_leases(c);

		check_msg(ret >= 0, "keep_leases: %s", strerror(-ret));
		sent += ret > 0;
		dmapipe_server_dispatch(s, 25);
		dmapipe_client_dispatch(c, 0);
		check_int_eq(dmapipe_client_get_state(c), DMAPIPE_CLIENT_STREAMING);
	}
	check(sent >= 10);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.lease_timeouts, 0);
	check_int_eq(st.consumers, 1);
	/* one released, one held without a word: that lease times out as before */
	check_int_eq(dmapipe_client_release_frame(c, f[0], -1), 0);
	t0 = test_now_ms();
	while (test_now_ms() - t0 < 400 && dmapipe_client_get_state(c) == DMAPIPE_CLIENT_STREAMING) {
		dmapipe_server_dispatch(s, 10);
		dmapipe_client_dispatch(c, 0);
	}
	check_int_eq(dmapipe_client_get_error(c, &msg), DMAPIPE_ERR_LEASE_TIMEOUT);
	check_int_eq(dmapipe_client_keep_leases(c), -ENOTCONN);
	check_int_eq(dmapipe_client_release_frame(c, f[1], -1), 0);
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
	test_pass("keepalive: frames held for 4 lease timeouts while alive, timed out once silent");
}

static void test_lease_timeout(void)
{
	char *path = test_path(dir, "lease");
	struct dmapipe_server *s = server_new(path, 100, 4);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_LATEST, 1, 2);
	struct dmapipe_server_stats st;
	struct dmapipe_frame *f;
	const char *msg = NULL;
	uint64_t t0;

	test_pump(s, &c, 1);
	produce(s, 1);
	f = dmapipe_client_wait_frame(c, 2000);
	check(f);
	/* hold it past the 100 ms lease */
	t0 = test_now_ms();
	while (test_now_ms() - t0 < 400 && dmapipe_client_get_state(c) == DMAPIPE_CLIENT_STREAMING) {
		dmapipe_server_dispatch(s, 10);
		dmapipe_client_dispatch(c, 0);
	}
	check_int_eq(dmapipe_client_get_state(c), DMAPIPE_CLIENT_ERROR);
	check_int_eq(dmapipe_client_get_error(c, &msg), DMAPIPE_ERR_LEASE_TIMEOUT);
	check(msg && strstr(msg, "lease"));
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.lease_timeouts, 1);
	check_int_eq(st.consumers, 0);
	/* the buffer went back to the pool although the client still maps it */
	check_int_eq(st.buffers_free, st.buffers);
	/* the frame the application holds stays valid; releasing it is local */
	check_int_eq(dmapipe_buffer_check_pattern(f->buffer, 1), 0);
	check_int_eq(dmapipe_client_release_frame(c, f, -1), 0);
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
	test_pass("lease timeout: ERROR lease-timeout to the holder, buffer back in the pool");
}

/*
 * The lease timer alone cuts a holder off. The server keeps a bound under
 * its leases' deadlines instead of walking them per frame; here the bound
 * is an earlier lease, already released, when the server goes to sleep in
 * long dispatches. Its timer fires at that stale deadline, finds nothing
 * due, and must be armed again for the held frame's: each dispatch has to
 * return with the timer's event, a few times at most, and the holder is
 * cut off no sooner than its lease.
 */
static void test_lease_timer(void)
{
	char *path = test_path(dir, "lease-timer");
	struct dmapipe_server *s = server_new(path, 100, 4);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_QUEUE, 2, 2);
	struct dmapipe_server_stats st;
	struct dmapipe_frame *f;
	const char *msg = NULL;
	uint64_t held_ms;
	int dispatches = 0;

	test_pump(s, &c, 1);
	produce(s, 1);
	f = dmapipe_client_wait_frame(c, 2000);
	check(f);
	check_int_eq(dmapipe_client_release_frame(c, f, -1), 0);
	/* the second lease falls due 30 ms after the first, released one */
	usleep(30000);
	produce(s, 2);
	f = dmapipe_client_wait_frame(c, 2000);
	check(f);
	held_ms = test_now_ms();
	while (dmapipe_client_get_state(c) == DMAPIPE_CLIENT_STREAMING) {
		/* 10 s: returning with nothing handled means no timer was armed */
		int ret = dmapipe_server_dispatch(s, 10000);

		check_msg(ret > 0, "dispatch %d returned %d: no timer woke it", dispatches, ret);
		check_msg(++dispatches <= 8, "the lease timer fired %d times for two leases",
			  dispatches);
		dmapipe_client_dispatch(c, 0);
	}
	held_ms = test_now_ms() - held_ms;
	check_msg(held_ms >= 100, "cut off after %llu ms, before its 100 ms lease",
		  (unsigned long long)held_ms);
	check_int_eq(dmapipe_client_get_error(c, &msg), DMAPIPE_ERR_LEASE_TIMEOUT);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.lease_timeouts, 1);
	check_int_eq(st.buffers_free, st.buffers);
	check_int_eq(dmapipe_client_release_frame(c, f, -1), 0);
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
	test_pass("lease timer: armed again past a released lease's deadline, holder cut off");
}

/*
 * dmapipe_server_dispatch_until(), the paced producer's wait. Tried: no
 * event before a deadline 50 ms away (one call, returning 0 at the
 * deadline, never before it); a deadline already past (no wait); a
 * consumer connecting while the deadline is 10 s away (it returns with
 * the event, long before); no server (-EINVAL); and the paced loop the
 * tool runs on it, with a consumer taking and releasing each frame: every
 * frame's wait ends no earlier than its deadline, releases that nothing
 * waits for do not end a wait, and each buffer comes back.
 */
static void test_dispatch_until(void)
{
	char *path = test_path(dir, "dispatch-until");
	struct dmapipe_server *s = server_new(path, 0, 4);
	struct dmapipe_client *c;
	struct dmapipe_server_stats st;
	uint64_t deadline, now, t0;
	int ret, calls = 0;

	check_int_eq(dmapipe_server_dispatch_until(NULL, 0), -EINVAL);

	deadline = dmapipe_now_ns() + 50000000;
	ret = dmapipe_server_dispatch_until(s, deadline);
	now = dmapipe_now_ns();
	check_int_eq(ret, 0);
	check_msg(now >= deadline, "returned %llu ns before its deadline",
		  (unsigned long long)(deadline - now));
	/* a loaded machine may wake it late, never seconds late */
	check_msg(now - deadline < 2000000000ull, "returned %llu ms after its deadline",
		  (unsigned long long)((now - deadline) / 1000000));

	t0 = dmapipe_now_ns();
	check_int_eq(dmapipe_server_dispatch_until(s, t0 - 1000000), 0);
	check_int_eq(dmapipe_server_dispatch_until(s, 0), 0);
	check_msg(dmapipe_now_ns() - t0 < 2000000000ull, "a past deadline waited");

	c = client_new(path, DMAPIPE_POLICY_QUEUE, 2, 2);
	deadline = dmapipe_now_ns() + 10000000000ull;
	do {
		ret = dmapipe_server_dispatch_until(s, deadline);
		check(ret >= 0);
		dmapipe_client_dispatch(c, 0);
		calls++;
	} while (dmapipe_client_get_state(c) != DMAPIPE_CLIENT_STREAMING &&
		 dmapipe_now_ns() < deadline);
	check_msg(dmapipe_now_ns() < deadline - 5000000000ull,
		  "a connection did not end the wait (%d calls)", calls);
	check_int_eq(dmapipe_server_wait_consumers(s, 1, 1000), 0);

	/* the paced loop: a frame every 20 ms, the consumer's release made
	 * while the producer has buffers to spare */
	t0 = dmapipe_now_ns();
	for (uint64_t seq = 1; seq <= 10; seq++) {
		struct dmapipe_frame *f;

		deadline = t0 + seq * 20000000;
		calls = 0;
		while ((now = dmapipe_now_ns()) < deadline) {
			check(dmapipe_server_dispatch_until(s, deadline) >= 0);
			calls++;
		}
		check_msg(calls >= 1 && calls <= 3, "frame %llu: %d calls to reach its deadline",
			  (unsigned long long)seq, calls);
		produce(s, seq);
		f = dmapipe_client_wait_frame(c, 2000);
		check_msg(f, "frame %llu not received", (unsigned long long)seq);
		check_int_eq(f->meta.sequence, seq);
		check_int_eq(dmapipe_client_release_frame(c, f, -1), 0);
	}
	dmapipe_server_dispatch(s, 0);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.frames_queued, 10);
	check_int_eq(st.buffers_free, st.buffers);
	/* with rings, no release asked to wake it: it waited for none */
	if (dmapipe_rings_enabled())
		check_int_eq(st.ring_wakeups, 0);
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
	test_pass("dispatch until: waits to its deadline or the first event, never past");
}

static void test_format_change(void)
{
	char *path = test_path(dir, "format");
	struct dmapipe_server *s = server_new(path, 0, 3);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_QUEUE, 2, 2);
	struct dmapipe_format big = fmt_nv12;
	struct dmapipe_frame *old, *f;

	test_pump(s, &c, 1);
	produce(s, 1);
	old = dmapipe_client_wait_frame(c, 2000);
	check(old);
	big.fourcc = 0x34325258; /* XRGB8888 */
	big.width = 64;
	big.height = 48;
	check_int_eq(dmapipe_server_alloc_buffers(s, allocator, &big, 2), 0);
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_client_get_format(c)->fourcc, big.fourcc);
	produce(s, 2);
	f = dmapipe_client_wait_frame(c, 2000);
	check(f);
	check_int_eq(dmapipe_buffer_get_layout(f->buffer)->format.width, 64);
	check_int_eq(dmapipe_buffer_check_pattern(f->buffer, 2), 0);
	/* the frame of the old format is still intact */
	check_int_eq(dmapipe_buffer_check_pattern(old->buffer, 1), 0);
	dmapipe_client_release_frame(c, old, -1);
	dmapipe_client_release_frame(c, f, -1);
	test_pump(s, &c, 1);
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
	test_pass("format change: new FORMAT and buffers, frames of the old format stay valid");
}

/*
 * A consumer of protocol version 1 without FEATURE_FORMAT_INFO, speaking
 * raw messages: the types the producer sends it until its first frame, in
 * order, into @types (0-terminated). The fds that came are closed.
 */
static void old_peer_types(const char *path, struct dmapipe_server *s, uint32_t *types,
			   unsigned int max)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned char buf[DMAPIPE_PROTO_MAX_MSG];
	struct dmapipe_msg m;
	unsigned int n = 0, n_fds;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int len;

	check(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	check_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_HELLO;
	m.hello = (struct dmapipe_msg_hello){ .version = 1, .min_version = 1,
		.role = DMAPIPE_ROLE_CONSUMER, .policy = DMAPIPE_POLICY_QUEUE,
		/* what a peer from before FORMAT_INFO sends */
		.features = DMAPIPE_FEATURE_FENCES | DMAPIPE_FEATURE_MEMFD |
			    DMAPIPE_FEATURE_STATS | DMAPIPE_FEATURE_RELEASES,
		.queue_depth = 4, .max_in_flight = 2, .name = "old-peer" };
	len = dmapipe_proto_encode(&m, buf, sizeof(buf), NULL, &n_fds);
	check(len > 0);
	check_int_eq(send(fd, buf, (size_t)len, 0), len);
	while (n + 1 < max) {
		union {
			char b[CMSG_SPACE(sizeof(int) * DMAPIPE_PROTO_MAX_FDS)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		ssize_t got = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

		if (got < 0 && errno == EAGAIN) {
			dmapipe_server_dispatch(s, 5);
			continue;
		}
		check(got >= 8);
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			int *p = (int *)CMSG_DATA(cm);

			for (size_t k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++)
				close(p[k]);
		}
		types[n] = (uint32_t)buf[0] | (uint32_t)buf[1] << 8;
		if (types[n++] == DMAPIPE_MSG_FRAME)
			break;
		if (n == 1 && types[0] == DMAPIPE_MSG_HELLO)
			produce(s, 1);
	}
	types[n] = 0;
	close(fd);
}

/*
 * FORMAT_INFO: a consumer that agreed gets the rate, colorimetry and the
 * rest after FORMAT and again when they change; one from before the
 * feature gets exactly what it got before.
 */
static void test_format_info(void)
{
	char *path = test_path(dir, "info");
	struct dmapipe_server *s = server_new(path, 0, 3);
	struct dmapipe_client *c;
	struct dmapipe_format_info info, bad;
	const struct dmapipe_format_info *got;
	uint32_t types[16];
	unsigned int i;

	/* a producer that says nothing: consumers know nothing */
	c = client_new(path, DMAPIPE_POLICY_QUEUE, 2, 2);
	test_pump(s, &c, 1);
	check(dmapipe_client_get_format(c) != NULL);
	check(dmapipe_client_get_format_info(c) == NULL);

	dmapipe_format_info_init(&info);
	info.fps_num = 30000;
	info.fps_den = 1001;
	info.matrix = DMAPIPE_MATRIX_BT709;
	info.transfer = DMAPIPE_TRANSFER_BT709;
	info.primaries = DMAPIPE_PRIMARIES_BT709;
	info.range = DMAPIPE_RANGE_LIMITED;
	info.chroma_site = DMAPIPE_CHROMA_SITE_MPEG2;
	info.interlace = DMAPIPE_INTERLACE_PROGRESSIVE;
	check_int_eq(dmapipe_server_set_format_info(s, &info), 0);
	test_pump(s, &c, 1);
	got = dmapipe_client_get_format_info(c);
	check(got && memcmp(got, &info, sizeof(info)) == 0);

	/* a change reaches the connected consumer */
	info.interlace = DMAPIPE_INTERLACE_INTERLEAVED;
	info.field_order = DMAPIPE_FIELD_ORDER_TOP_FIRST;
	info.par_num = 10;
	info.par_den = 11;
	check_int_eq(dmapipe_server_set_format_info(s, &info), 0);
	test_pump(s, &c, 1);
	got = dmapipe_client_get_format_info(c);
	check(got && got->field_order == DMAPIPE_FIELD_ORDER_TOP_FIRST && got->par_num == 10);

	/* refused, and the stream keeps what it had */
	bad = info;
	bad.fps_den = 0;
	check_int_eq(dmapipe_server_set_format_info(s, &bad), -EINVAL);
	bad = info;
	bad.transfer = 200;
	check_int_eq(dmapipe_server_set_format_info(s, &bad), -EINVAL);
	test_pump(s, &c, 1);
	check(memcmp(dmapipe_client_get_format_info(c), &info, sizeof(info)) == 0);
	dmapipe_client_free(c);

	/* a consumer joining later gets it right after FORMAT */
	c = client_new(path, DMAPIPE_POLICY_QUEUE, 2, 2);
	test_pump(s, &c, 1);
	got = dmapipe_client_get_format_info(c);
	check(got && got->fps_num == 30000 && got->fps_den == 1001);
	/* and after a format change, FORMAT_INFO follows FORMAT again */
	check_int_eq(dmapipe_server_alloc_buffers(s, allocator, &fmt_nv12, 2), 0);
	test_pump(s, &c, 1);
	check(dmapipe_client_get_format_info(c) != NULL);
	dmapipe_client_free(c);

	/* an older consumer: HELLO, FORMAT, ADD_BUFFERs, FRAME, and no FORMAT_INFO */
	old_peer_types(path, s, types, ARRAY_SIZE(types));
	check_int_eq(types[0], DMAPIPE_MSG_HELLO);
	check_int_eq(types[1], DMAPIPE_MSG_FORMAT);
	for (i = 2; types[i] == DMAPIPE_MSG_ADD_BUFFER; i++)
		;
	check_msg(i == 4 && types[i] == DMAPIPE_MSG_FRAME, "message %u is type %u", i, types[i]);
	test_pump(s, NULL, 0);
	dmapipe_server_free(s);
	free(path);
	test_pass("FORMAT_INFO: rate, colorimetry, fields and PAR reach consumers that agreed, "
		  "older ones get FORMAT alone");
}

static struct dmapipe_client *constrained_client(const char *path,
						 const struct dmapipe_constraints *cons)
{
	struct dmapipe_client_options o;
	struct dmapipe_client *c;

	dmapipe_client_options_init(&o);
	o.path = path;
	o.policy = DMAPIPE_POLICY_QUEUE;
	o.queue_depth = 4;
	o.max_in_flight = 2;
	o.map_buffers = true;
	o.name = "constrained";
	o.constraints = cons;
	c = dmapipe_client_new(&o);
	check_msg(c, "client on %s: %s", path, strerror(errno));
	return c;
}

/* True if a client with @cons is refused at once (EINVAL). */
static bool constrained_client_fails(const char *path, const struct dmapipe_constraints *cons)
{
	struct dmapipe_client_options o;
	struct dmapipe_client *c;

	dmapipe_client_options_init(&o);
	o.path = path;
	o.constraints = cons;
	c = dmapipe_client_new(&o);
	if (c) {
		dmapipe_client_free(c);
		return false;
	}
	return errno == EINVAL;
}

/* A server of one application buffer (as a V4L2 source in export mode has), in *@app. */
static struct dmapipe_server *server_app(const char *path, struct dmapipe_buffer **app)
{
	struct dmapipe_server_options o;
	struct dmapipe_server *s;

	dmapipe_server_options_init(&o);
	o.path = path;
	o.lease_timeout_ms = 0;
	s = dmapipe_server_new(&o);
	check(s);
	*app = dmapipe_allocator_alloc(allocator, &fmt_nv12);
	check(*app);
	check(dmapipe_server_add_buffer(s, *app) >= 0);
	return s;
}

/* Every buffer @c has now satisfies @cons. */
static void check_buffers_satisfy(struct dmapipe_client *c, const struct dmapipe_constraints *cons)
{
	struct dmapipe_buffer *bufs[16];
	uint32_t ids[16];
	int n = dmapipe_client_get_buffers(c, ids, bufs, 16);
	char why[128];

	check(n > 0 && n <= 16);
	for (int i = 0; i < n; i++)
		check_msg(dmapipe_layout_satisfies(dmapipe_buffer_get_layout(bufs[i]), cons, why,
						   sizeof(why)) == 0, "buffer %u: %s", ids[i], why);
}

/*
 * Consumer A streams; consumer B joins asking for 256-byte aligned rows
 * (the pool has 320-byte rows): the producer makes a new generation, and A
 * gets every frame, one of them held across the change, without a gap.
 */
static void test_constraints_generation(void)
{
	char *path = test_path(dir, "gen");
	struct dmapipe_server *s = server_new(path, 0, 3);
	struct dmapipe_client *cl[2] = { client_new(path, DMAPIPE_POLICY_QUEUE, 4, 2), NULL };
	struct dmapipe_constraints cons;
	struct dmapipe_server_stats st;
	struct dmapipe_frame *held = NULL, *f;
	uint64_t next_a = 1, b_frames = 0;
	char why[128];

	dmapipe_constraints_init(&cons);
	cons.stride_align[0] = 256;
	cons.stride_align[1] = 256;
	cons.offset_align[1] = 4096;
	cons.min_buffers = 2;
	test_pump(s, cl, 1);
	check_int_eq(dmapipe_server_wait_consumers(s, 1, 1000), 0);
	for (uint64_t seq = 1; seq <= 30; seq++) {
		if (seq == 10) {
			cl[1] = constrained_client(path, &cons);
			/* B's HELLO, then its CONSTRAINTS: only then does it count */
			test_pump(s, cl, 2);
			check(dmapipe_client_takes_constraints(cl[1]));
			check_int_eq(dmapipe_server_wait_consumers(s, 2, 0), 0);
		}
		produce(s, seq);
		test_pump(s, cl, 2);
		while ((f = dmapipe_client_acquire_frame(cl[0]))) {
			check_msg(f->meta.sequence == next_a, "A: frame %llu after %llu: a gap",
				  (unsigned long long)f->meta.sequence, (unsigned long long)next_a - 1);
			next_a++;
			check_int_eq(dmapipe_buffer_check_pattern(f->buffer, f->meta.sequence), 0);
			/* frame 8 stays held across the new generation */
			if (f->meta.sequence == 8)
				held = f;
			else
				dmapipe_client_release_frame(cl[0], f, -1);
		}
		if (held && seq == 20) {
			dmapipe_client_release_frame(cl[0], held, -1);
			held = NULL;
		}
		while (cl[1] && (f = dmapipe_client_acquire_frame(cl[1]))) {
			check_msg(dmapipe_layout_satisfies(dmapipe_buffer_get_layout(f->buffer),
							   &cons, why, sizeof(why)) == 0,
				  "B got frame %llu in a buffer that does not suit it: %s",
				  (unsigned long long)f->meta.sequence, why);
			check_int_eq(dmapipe_buffer_check_pattern(f->buffer, f->meta.sequence), 0);
			b_frames++;
			dmapipe_client_release_frame(cl[1], f, -1);
		}
	}
	test_pump(s, cl, 2);
	check_int_eq(next_a, 31);
	check_msg(b_frames == 21, "B got %llu frames of 21", (unsigned long long)b_frames);
	/* the old generation is gone from both once nobody held it */
	check_buffers_satisfy(cl[0], &cons);
	check_buffers_satisfy(cl[1], &cons);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.frames_dropped, 0);
	check_int_eq(st.bytes_copied, 0);
	check_int_eq(dmapipe_client_get_state(cl[1]), DMAPIPE_CLIENT_STREAMING);
	dmapipe_client_free(cl[1]);
	dmapipe_client_free(cl[0]);
	dmapipe_server_free(s);
	free(path);
	test_pass("constraints: B joins with 256-byte rows, a new buffer generation, A sees "
		  "30 frames without a gap, 0 dropped");
}

/*
 * @f names a buffer @c has now under its id: not one a REMOVE_BUFFER took
 * away, nor an id's older buffer. True if it is of the generation @cons
 * describes.
 */
static bool check_frame_buffer_current(struct dmapipe_client *c, const struct dmapipe_frame *f,
				       const struct dmapipe_constraints *cons)
{
	struct dmapipe_buffer *bufs[16];
	uint32_t ids[16];
	int n = dmapipe_client_get_buffers(c, ids, bufs, 16);
	char why[128];
	int i;

	check(n > 0 && n <= 16);
	for (i = 0; i < n && ids[i] != f->buffer_id; i++)
		;
	check_msg(i < n, "frame %llu names buffer %u, which the consumer does not have",
		  (unsigned long long)f->meta.sequence, f->buffer_id);
	check_msg(bufs[i] == f->buffer, "frame %llu: buffer %u is not the one its id names now",
		  (unsigned long long)f->meta.sequence, f->buffer_id);
	return dmapipe_layout_satisfies(dmapipe_buffer_get_layout(f->buffer), cons, why,
					sizeof(why)) == 0;
}

/*
 * Rings and a new buffer generation: consumer A streams through its ring
 * and reads nothing while B joins asking for 256-byte rows. A's ring then
 * holds a frame of an old buffer written before the ADD_BUFFERs and frames
 * of new buffers written after them and after the REMOVE_BUFFERs of the
 * idle old ones; each slot's socket_msgs makes A read the socket up to
 * there first. A gets every frame in order, each in a buffer it has under
 * that id at the time, never an old one after a new one.
 */
/*
 * An application loop that polls the client's fd and says when it sleeps
 * (dmapipe_client_before_poll()): a frame that comes while it sleeps
 * wakes the fd; frames that come while it is awake cost no wake-up.
 */
static void test_poll_sleep(void)
{
	char *path = test_path(dir, "poll-sleep");
	struct dmapipe_server *s = server_new(path, 0, 6);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_QUEUE, 4, 2);
	struct dmapipe_client_stats st;
	struct dmapipe_frame *f;
	struct pollfd pfd;
	uint64_t wakes;

	if (!dmapipe_rings_enabled()) {
		printf("   (poll sleep not run: DMAPIPE_RINGS=0, no rings)\n");
		goto out;
	}
	pfd.fd = dmapipe_client_get_fd(c);
	pfd.events = POLLIN;
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_server_wait_consumers(s, 1, 1000), 0);
	dmapipe_client_get_stats(c, &st);
	check(st.ring_frames == 0);

	/* asleep: nothing ready, then a frame wakes the fd */
	check(!dmapipe_client_before_poll(c));
	produce(s, 1);
	check_int_eq(poll(&pfd, 1, 2000), 1);
	dmapipe_client_after_poll(c);
	check_int_eq(dmapipe_client_dispatch(c, 0) >= 0, 1);
	f = dmapipe_client_acquire_frame(c);
	check_msg(f && f->meta.sequence == 1, "the frame that woke the fd");
	dmapipe_client_release_frame(c, f, -1);
	/* the ring is read before the socket: the WAKE is still there to read */
	test_pump(s, &c, 1);
	dmapipe_client_get_stats(c, &st);
	check_int_eq(st.ring_wakeups, 1);
	wakes = st.ring_wakeups;

	/* awake: 20 frames through the ring, no wake-up; before_poll sees each */
	for (uint64_t seq = 2; seq <= 21; seq++) {
		produce(s, seq);
		check_msg(dmapipe_client_before_poll(c), "frame %llu not seen before the poll",
			  (unsigned long long)seq);
		f = dmapipe_client_acquire_frame(c);
		check_msg(f && f->meta.sequence == seq, "frame %llu", (unsigned long long)seq);
		dmapipe_client_release_frame(c, f, -1);
		dmapipe_server_dispatch(s, 0);
	}
	test_pump(s, &c, 1);
	dmapipe_client_get_stats(c, &st);
	check_int_eq(st.ring_wakeups, wakes);
	check_int_eq(st.ring_frames, 21);
	test_pass("poll sleep: a frame wakes a sleeping loop; an awake one gets 20 without a wake-up");
out:
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
}

struct late_frame {
	struct dmapipe_server *server;
	uint64_t seq;
	bool eos; /* and the end of the stream right after it */
};

/* Queues one frame 50 ms from now, while the client's thread sleeps in its wait. */
static void *produce_late(void *data)
{
	struct late_frame *l = data;

	usleep(50000);
	produce(l->server, l->seq);
	if (l->eos)
		dmapipe_server_end_of_stream(l->server);
	return NULL;
}

/*
 * A consumer woken by the WAKE of a ring frame hands the frame over before
 * it reads the socket: after the wait, the frame is there and the WAKE is
 * still unread; the next dispatch reads it. A round where the frame came
 * before the consumer slept (no WAKE was needed) is tried again, up to 20
 * times; at least one round must have slept.
 */
static void test_ring_before_socket(void)
{
	char *path = test_path(dir, "ring-first");
	struct dmapipe_server *s = server_new(path, 0, 6);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_QUEUE, 4, 2);
	struct dmapipe_client_stats st;
	struct late_frame l = { .server = s };
	unsigned int slept = 0;

	if (!dmapipe_rings_enabled()) {
		printf("   (ring before socket not run: DMAPIPE_RINGS=0, no rings)\n");
		goto out;
	}
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_server_wait_consumers(s, 1, 1000), 0);
	for (int round = 0; round < 20 && slept == 0; round++) {
		struct dmapipe_frame *f;
		uint64_t wakes;
		pthread_t th;

		dmapipe_client_get_stats(c, &st);
		wakes = st.ring_wakeups;
		l.seq = (uint64_t)round + 1;
		check(pthread_create(&th, NULL, produce_late, &l) == 0);
		f = dmapipe_client_wait_frame(c, 5000);
		pthread_join(th, NULL);
		check_msg(f && f->meta.sequence == l.seq, "round %d: frame %llu", round,
			  (unsigned long long)l.seq);
		/* the WAKE, if one was sent, is still in the socket */
		dmapipe_client_get_stats(c, &st);
		check_msg(st.ring_wakeups == wakes,
			  "round %d: the WAKE was read before the frame went out", round);
		dmapipe_client_release_frame(c, f, -1);
		dmapipe_client_dispatch(c, 0);
		dmapipe_client_get_stats(c, &st);
		slept += st.ring_wakeups == wakes + 1;
		dmapipe_server_dispatch(s, 0);
	}
	check_msg(slept > 0, "no round slept before its frame came");
	test_pass("ring before socket: a woken consumer gets its frame, the WAKE is read after");
out:
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
}

/*
 * The same wake-up with the EOS right behind the frame: the socket read
 * that the frame deferred finds the EOS, and the wait that reads it ends
 * there. It used to sleep on after that read, to its timeout (here 20 s)
 * or to the producer's close, so that every stream's consumer saw its
 * end late and paid its connection's teardown inside the stream. Each
 * round is a new stream; a round whose frame came before the consumer
 * slept (no WAKE deferred) is tried again, up to 10 times.
 */
static void test_deferred_eos(void)
{
	unsigned int slept = 0;

	if (!dmapipe_rings_enabled()) {
		printf("   (deferred EOS not run: DMAPIPE_RINGS=0, no rings)\n");
		return;
	}
	for (int round = 0; round < 10 && slept == 0; round++) {
		char *path = test_path(dir, "deferred-eos");
		struct dmapipe_server *s = server_new(path, 0, 6);
		struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_QUEUE, 4, 2);
		struct late_frame l = { .server = s, .seq = 1, .eos = true };
		struct dmapipe_client_stats st;
		struct dmapipe_frame *f;
		uint64_t wakes, t0, waited;
		pthread_t th;

		test_pump(s, &c, 1);
		check_int_eq(dmapipe_server_wait_consumers(s, 1, 1000), 0);
		dmapipe_client_get_stats(c, &st);
		wakes = st.ring_wakeups;
		check(pthread_create(&th, NULL, produce_late, &l) == 0);
		f = dmapipe_client_wait_frame(c, 5000);
		pthread_join(th, NULL);
		check_msg(f && f->meta.sequence == 1, "round %d: no frame", round);
		dmapipe_client_release_frame(c, f, -1);
		t0 = dmapipe_now_ns();
		f = dmapipe_client_wait_frame(c, 20000);
		waited = dmapipe_now_ns() - t0;
		check_msg(!f && errno == EPIPE, "round %d: after the last frame: %s", round,
			  f ? "a frame" : strerror(errno));
		dmapipe_client_get_stats(c, &st);
		if (st.ring_wakeups == wakes + 1) {
			slept++;
			check_msg(waited < 10000000000ull,
				  "round %d: the wait that read the EOS slept on to its timeout "
				  "(%.1f s)", round, (double)waited / 1e9);
		}
		dmapipe_client_free(c);
		dmapipe_server_free(s);
		free(path);
	}
	check_msg(slept > 0, "no round slept before its frame came");
	test_pass("deferred EOS: the wait that reads it ends at once, not at its timeout");
}

/* Takes and releases every frame the client has, without dispatching the server. */
static unsigned int take_all(struct dmapipe_client *c)
{
	struct dmapipe_frame *f;
	unsigned int n = 0;

	dmapipe_client_dispatch(c, 0);
	while ((f = dmapipe_client_acquire_frame(c))) {
		dmapipe_client_release_frame(c, f, -1);
		n++;
	}
	return n;
}

/* Whether the server's fd is readable within @ms. */
static bool server_fd_readable(struct dmapipe_server *s, int ms)
{
	struct pollfd pfd = { .fd = dmapipe_server_get_fd(s), .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

/* Dequeues every buffer the pool gives (it grows up to its limit); how many. */
static unsigned int dequeue_all(struct dmapipe_server *s, struct dmapipe_buffer **held,
				unsigned int max)
{
	unsigned int n = 0;

	while (n < max && (held[n] = dmapipe_server_dequeue(s)))
		n++;
	return n;
}

static void unref_all(struct dmapipe_buffer **held, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		dmapipe_buffer_unref(held[i]);
}

/*
 * A producer's loop that polls the server's fd and says when it sleeps
 * (dmapipe_server_before_poll()): releases it does not wait for stay in
 * the rings without waking it; a release wakes it when frames wait for
 * that consumer's room, or when the pool has no free buffer. Tried: a
 * loop that does not say (every release wakes it), a sleeping one with
 * free buffers (no wake-up), one with frames pending behind the in-flight
 * limit, one with every buffer held, and a release already in the ring
 * before the sleep (before_poll says so instead of sleeping).
 */
static void test_server_poll_sleep(void)
{
	char *path = test_path(dir, "server-poll-sleep");
	struct dmapipe_server *s = server_new(path, 0, 6);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_BLOCK, 4, 2);
	struct dmapipe_server_stats st;
	/* the pool grows while every buffer is leased, up to max_buffers (32) */
	struct dmapipe_buffer *held[40];
	unsigned int n_held = 0;
	uint64_t seq = 0;

	if (!dmapipe_rings_enabled()) {
		printf("   (server poll sleep not run: DMAPIPE_RINGS=0, no rings)\n");
		goto out;
	}
	dmapipe_server_get_fd(s);
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_server_wait_consumers(s, 1, 1000), 0);

	/* a loop that never said when it sleeps: every release wakes its fd */
	produce(s, ++seq);
	test_pump(s, &c, 1);
	check(!server_fd_readable(s, 0));
	check_int_eq(take_all(c), 1);
	check_msg(server_fd_readable(s, 2000), "a release did not wake a loop that may sleep");
	dmapipe_server_dispatch(s, 0);
	check(!server_fd_readable(s, 0));
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.ring_wakeups, 1);

	/* asleep with free buffers: the release waits in the ring, no wake-up */
	produce(s, ++seq);
	check(!dmapipe_server_before_poll(s));
	check_int_eq(take_all(c), 1);
	check_msg(!server_fd_readable(s, 100), "a release woke a producer that waits for none");
	dmapipe_server_after_poll(s);
	dmapipe_server_dispatch(s, 0);
	check(!server_fd_readable(s, 0));
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.ring_wakeups, 1);

	/* frames pending behind the in-flight limit of 2: a release wakes */
	for (int i = 0; i < 4; i++)
		produce(s, ++seq);
	check(!dmapipe_server_before_poll(s));
	check_int_eq(take_all(c), 2);
	check_msg(server_fd_readable(s, 2000), "no wake-up for frames waiting for room");
	dmapipe_server_after_poll(s);
	dmapipe_server_dispatch(s, 0);
	test_pump(s, &c, 1);
	check_int_eq(take_all(c), 2);
	dmapipe_server_dispatch(s, 0);

	/* every buffer held (the client's frame, the rest by us, the pool grown
	 * to its limit; a block consumer's lease is not revoked): a release wakes */
	produce(s, ++seq);
	test_pump(s, &c, 1);
	n_held = dequeue_all(s, held, ARRAY_SIZE(held));
	check_msg(n_held > 0 && n_held < ARRAY_SIZE(held), "held %u buffers", n_held);
	check(!dmapipe_server_before_poll(s));
	check_int_eq(take_all(c), 1);
	check_msg(server_fd_readable(s, 2000), "no wake-up with no free buffer");
	dmapipe_server_after_poll(s);
	dmapipe_server_dispatch(s, 0);

	/* the same release, made before the sleep: before_poll says so */
	unref_all(held, n_held);
	produce(s, ++seq);
	test_pump(s, &c, 1);
	n_held = dequeue_all(s, held, ARRAY_SIZE(held));
	check_int_eq(take_all(c), 1);
	check_msg(dmapipe_server_before_poll(s), "a release in the ring, and none free: not seen");
	dmapipe_server_dispatch(s, 0);
	unref_all(held, n_held);
	test_pass("server poll sleep: releases wake a sleeping producer only when it waits for one");
out:
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
}

/*
 * One frame out; the loop falls asleep wanting no release, and the
 * consumer takes and releases the frame: the release waits in the ring
 * and the fd stays quiet.
 */
static void release_while_asleep(struct dmapipe_server *s, struct dmapipe_client **c,
				 uint64_t seq)
{
	produce(s, seq);
	test_pump(s, c, 1);
	check(!dmapipe_server_before_poll(s));
	check_int_eq(take_all(*c), 1);
	check_msg(!server_fd_readable(s, 100), "a release woke a loop that wants none");
}

/* Releases the server has taken from its one consumer so far. */
static uint64_t released_by_server(struct dmapipe_server *s)
{
	struct dmapipe_consumer_stats cs[2];

	check_int_eq(dmapipe_server_get_consumer_stats(s, cs, 2), 1);
	return cs[0].frames_released;
}

/*
 * The loop sleeps (before_poll) while another thread of the application
 * queues and dequeues, as dmapipesink's dispatch thread does while its
 * streaming thread renders (the calls serialised by the application's
 * lock; here one thread plays both). Tried: frames queued during the sleep
 * that wait for the consumer's room (a release must wake the loop, though
 * none was wanted when it fell asleep); the pool's last buffer dequeued
 * during the sleep (likewise); dmapipe_server_set_release_wakeups() turned
 * on during a sleep (every release wakes), a release already in the ring
 * then (taken by that call), turned off again (a release sleeps in the
 * ring and the next frame takes it, with no dispatch).
 */
static void test_server_sleep_other_thread(void)
{
	char *path = test_path(dir, "server-sleep-thread");
	struct dmapipe_server *s = server_new(path, 0, 6);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_BLOCK, 4, 2);
	struct dmapipe_buffer *held[40];
	unsigned int n_held = 0;
	uint64_t seq = 0, released;

	if (!dmapipe_rings_enabled()) {
		printf("   (server sleep with another thread not run: DMAPIPE_RINGS=0, no rings)\n");
		goto out;
	}
	dmapipe_server_get_fd(s);
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_server_wait_consumers(s, 1, 1000), 0);

	/* asleep with nothing wanted; then 4 frames, 2 wait for room */
	check(!dmapipe_server_before_poll(s));
	for (int i = 0; i < 4; i++)
		produce(s, ++seq);
	check_int_eq(take_all(c), 2);
	check_msg(server_fd_readable(s, 2000),
		  "frames queued during the sleep wait for room, and a release did not wake");
	dmapipe_server_after_poll(s);
	dmapipe_server_dispatch(s, 0);
	test_pump(s, &c, 1);
	check_int_eq(take_all(c), 2);
	dmapipe_server_dispatch(s, 0);
	check(!server_fd_readable(s, 0));

	/* asleep with free buffers; then every buffer taken, one frame out */
	produce(s, ++seq);
	test_pump(s, &c, 1);
	check(!dmapipe_server_before_poll(s));
	n_held = dequeue_all(s, held, ARRAY_SIZE(held));
	check_msg(n_held > 0 && n_held < ARRAY_SIZE(held), "held %u buffers", n_held);
	check_int_eq(take_all(c), 1);
	check_msg(server_fd_readable(s, 2000),
		  "the pool's last buffer went during the sleep, and a release did not wake");
	dmapipe_server_after_poll(s);
	dmapipe_server_dispatch(s, 0);
	unref_all(held, n_held);

	/* every release wanted, from the middle of a sleep */
	produce(s, ++seq);
	test_pump(s, &c, 1);
	check(!dmapipe_server_before_poll(s));
	dmapipe_server_set_release_wakeups(s, true);
	check_int_eq(take_all(c), 1);
	check_msg(server_fd_readable(s, 2000), "set_release_wakeups(true) during a sleep: no wake-up");
	dmapipe_server_after_poll(s);
	dmapipe_server_dispatch(s, 0);

	/* a release made while the flag was down is taken by the call that raises it */
	dmapipe_server_set_release_wakeups(s, false);
	release_while_asleep(s, &c, ++seq);
	released = released_by_server(s);
	dmapipe_server_set_release_wakeups(s, true);
	check_msg(released_by_server(s) == released + 1,
		  "set_release_wakeups(true) left a release in the ring");
	dmapipe_server_after_poll(s);
	dmapipe_server_dispatch(s, 0);

	/* off again: the next release waits for the next frame, whose dequeue takes it */
	dmapipe_server_set_release_wakeups(s, false);
	release_while_asleep(s, &c, ++seq);
	released = released_by_server(s);
	produce(s, ++seq);
	check_msg(released_by_server(s) == released + 1,
		  "the next frame's dequeue did not take the ring's release");
	dmapipe_server_after_poll(s);
	test_pump(s, &c, 1);
	check_int_eq(take_all(c), 1);
	dmapipe_server_dispatch(s, 0);
	test_pass("server sleep, another thread: frames waiting for room and the pool's last buffer "
		  "raise the flags; release wake-ups on and off");
out:
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
}

static void test_rings_generation(void)
{
	char *path = test_path(dir, "rings-gen");
	struct dmapipe_server *s = server_new(path, 0, 6);
	struct dmapipe_client *cl[2] = { client_new(path, DMAPIPE_POLICY_QUEUE, 4, 3), NULL };
	bool rings = dmapipe_rings_enabled();
	struct dmapipe_constraints cons;
	struct dmapipe_client_stats cst;
	struct dmapipe_server_stats st;
	struct dmapipe_frame *f;
	uint64_t next_a = 1, seq = 0, b_frames = 0, new_gen_frames = 0;
	bool seen_new = false;

	dmapipe_constraints_init(&cons);
	cons.stride_align[0] = 256;
	cons.stride_align[1] = 256;
	cons.min_buffers = 2;
	test_pump(s, cl, 1);
	check_int_eq(dmapipe_server_wait_consumers(s, 1, 1000), 0);

	/* frames 1..5 through A's ring, taken at once */
	while (seq < 5) {
		produce(s, ++seq);
		test_pump(s, cl, 1);
		while ((f = dmapipe_client_acquire_frame(cl[0]))) {
			check_int_eq(f->meta.sequence, next_a);
			check(!check_frame_buffer_current(cl[0], f, &cons));
			next_a++;
			dmapipe_client_release_frame(cl[0], f, -1);
		}
	}
	check_int_eq(next_a, 6);

	/* frame 6 (an old buffer) waits in A's ring while B joins: A is not dispatched */
	produce(s, ++seq);
	cl[1] = constrained_client(path, &cons);
	test_pump(s, &cl[1], 1);
	check(dmapipe_client_takes_constraints(cl[1]));
	check_int_eq(dmapipe_server_wait_consumers(s, 2, 0), 0);
	/* frames 7 and 8 are in new buffers, written after A's ADD_BUFFERs */
	produce(s, ++seq);
	produce(s, ++seq);
	test_pump(s, &cl[1], 1);

	for (;;) {
		test_pump(s, cl, 2);
		while ((f = dmapipe_client_acquire_frame(cl[0]))) {
			bool is_new;

			check_msg(f->meta.sequence == next_a, "A: frame %llu after %llu: a gap",
				  (unsigned long long)f->meta.sequence, (unsigned long long)next_a - 1);
			check_int_eq(dmapipe_buffer_check_pattern(f->buffer, f->meta.sequence), 0);
			is_new = check_frame_buffer_current(cl[0], f, &cons);
			check_msg(is_new || !seen_new, "A: frame %llu in an old buffer after a new one",
				  (unsigned long long)f->meta.sequence);
			check_msg(is_new == (f->meta.sequence >= 7),
				  "A: frame %llu in a buffer of the %s generation",
				  (unsigned long long)f->meta.sequence, is_new ? "new" : "old");
			seen_new |= is_new;
			new_gen_frames += is_new;
			next_a++;
			dmapipe_client_release_frame(cl[0], f, -1);
		}
		while ((f = dmapipe_client_acquire_frame(cl[1]))) {
			check(check_frame_buffer_current(cl[1], f, &cons));
			check_int_eq(dmapipe_buffer_check_pattern(f->buffer, f->meta.sequence), 0);
			b_frames++;
			dmapipe_client_release_frame(cl[1], f, -1);
		}
		if (seq == 40)
			break;
		produce(s, ++seq);
	}
	test_pump(s, cl, 2);
	check_msg(next_a == seq + 1, "A got %llu frames of %llu", (unsigned long long)next_a - 1,
		  (unsigned long long)seq);
	check_int_eq(new_gen_frames, seq - 6);
	check_msg(b_frames > 0, "B got no frame");
	/* the old generation left A once it released frame 6 */
	check_buffers_satisfy(cl[0], &cons);
	dmapipe_client_get_stats(cl[0], &cst);
	check_int_eq(cst.frames_received, seq);
	check_int_eq(cst.ring_frames, rings ? seq : 0);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.frames_dropped, 0);
	check_int_eq(dmapipe_client_get_state(cl[0]), DMAPIPE_CLIENT_STREAMING);
	check_int_eq(dmapipe_client_get_state(cl[1]), DMAPIPE_CLIENT_STREAMING);
	dmapipe_client_free(cl[1]);
	dmapipe_client_free(cl[0]);
	dmapipe_server_free(s);
	free(path);
	test_pass(rings ? "rings: A's ring carries an old buffer's frame and new buffers' frames "
			  "around the ADD/REMOVE_BUFFERs, in order, none of a removed buffer"
			: "rings off: the same new generation on the socket, no gap");
}

/* Refusals: what a new generation cannot fix, and the device's own buffers. */
/*
 * A producer whose pool grew past 64 buffers (a recorder's deep buffer
 * grows it so) streams to a consumer with the default options: the
 * automatic fd quota covers every buffer. A quota the consumer set itself
 * still holds: 64 ends the same connection with fd-quota.
 */
static void test_fd_quota_auto(void)
{
	char *path = test_path(dir, "fd-quota");
	struct dmapipe_server_options o;
	struct dmapipe_client_options co;
	struct dmapipe_server *s;
	struct dmapipe_client *c;
	const char *msg = NULL;
	int fds_before = test_count_fds();

	dmapipe_server_options_init(&o);
	o.path = path;
	o.max_buffers = 100;
	s = dmapipe_server_new(&o);
	check(s);
	check_int_eq(dmapipe_server_alloc_buffers(s, allocator, &fmt_nv12, 100), 0);

	c = client_new(path, DMAPIPE_POLICY_QUEUE, 4, 2);
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_client_get_state(c), DMAPIPE_CLIENT_STREAMING);
	for (uint64_t seq = 1; seq <= 5; seq++) {
		struct dmapipe_frame *f;

		produce(s, seq);
		f = next_frame(s, c, dmapipe_rings_enabled());
		check_msg(f, "frame %llu: %s", (unsigned long long)seq, strerror(errno));
		check_int_eq(dmapipe_buffer_check_pattern(f->buffer, seq), 0);
		check_int_eq(dmapipe_client_release_frame(c, f, -1), 0);
	}
	check_int_eq(dmapipe_client_get_buffers(c, NULL, NULL, 0), 100);
	dmapipe_client_free(c);

	dmapipe_client_options_init(&co);
	co.path = path;
	co.fd_quota = 64;
	c = dmapipe_client_new(&co);
	check(c);
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_client_get_error(c, &msg), DMAPIPE_ERR_FD_QUOTA);
	check_msg(strstr(msg, "fd quota"), "%s", msg);
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	check_int_eq(test_count_fds(), fds_before);
	free(path);
	test_pass("fd quota: a pool of 100 buffers streams with the default quota, and a quota "
		  "of 64 set by the consumer ends it with fd-quota");
}

static void test_constraints_refused(void)
{
	char *path = test_path(dir, "refuse");
	struct dmapipe_server *s = server_new(path, 0, 3);
	struct dmapipe_constraints cons;
	struct dmapipe_client *c;
	struct dmapipe_buffer *app;
	struct dmapipe_frame *f;
	const char *msg = NULL;
	char why[128];

	/* a format the stream does not have */
	dmapipe_constraints_init(&cons);
	cons.n_formats = 1;
	cons.formats[0] = dmapipe_fourcc_from_string("YUYV");
	c = constrained_client(path, &cons);
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_client_get_state(c), DMAPIPE_CLIENT_ERROR);
	check_int_eq(dmapipe_client_get_error(c, &msg), DMAPIPE_ERR_CONSTRAINTS);
	check_msg(strstr(msg, "format NV12 is not among"), "%s", msg);
	dmapipe_client_free(c);

	/* more buffers than the producer may have */
	dmapipe_constraints_init(&cons);
	cons.min_buffers = 32;
	c = constrained_client(path, &cons);
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_client_get_error(c, &msg), DMAPIPE_ERR_CONSTRAINTS);
	check_msg(strstr(msg, "need 34 buffers"), "%s", msg);
	dmapipe_client_free(c);

	/* constraints that are not valid cannot be stated at all */
	cons.min_buffers = 33;
	check(constrained_client_fails(path, &cons));
	dmapipe_server_free(s);

	/* application buffers (a device's own): refused, unless it copies itself */
	free(path);
	path = test_path(dir, "refuse-app");
	s = server_app(path, &app);
	dmapipe_constraints_init(&cons);
	cons.stride_align[0] = 512;
	c = constrained_client(path, &cons);
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_client_get_error(c, &msg), DMAPIPE_ERR_CONSTRAINTS);
	check_msg(strstr(msg, "plane 0 stride 320 is not a multiple of 512") &&
		  strstr(msg, "application"), "%s", msg);
	dmapipe_client_free(c);
	cons.flags = DMAPIPE_CONSTRAINT_ALLOW_COPY;
	c = constrained_client(path, &cons);
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_client_get_state(c), DMAPIPE_CLIENT_STREAMING);
	check_int_eq(dmapipe_server_queue(s, dmapipe_buffer_ref(app), NULL), 1);
	f = dmapipe_client_wait_frame(c, 2000);
	check(f);
	/* the consumer sees it must copy: the buffer does not satisfy it */
	check_int_eq(dmapipe_layout_satisfies(dmapipe_buffer_get_layout(f->buffer), &cons, why,
					      sizeof(why)), -EINVAL);
	dmapipe_client_release_frame(c, f, -1);
	test_pump(s, &c, 1);
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	dmapipe_buffer_unref(app);
	free(path);
	test_pass("constraints refused with the reason: format, buffer count, a device's own "
		  "buffers; kept for a consumer that copies");
}

/* What the constraints callback was told. */
struct told_log {
	unsigned int calls;
	uint64_t last_ns;
	struct dmapipe_constraints last;
};

static void on_constraints(struct dmapipe_server *server, const struct dmapipe_constraints *merged,
			   void *data)
{
	struct told_log *log = data;
	struct dmapipe_constraints now;

	/* the callback sees what the getter gives */
	check_int_eq(dmapipe_server_get_constraints(server, &now) >= 0, 1);
	check(memcmp(&now, merged, sizeof(now)) == 0);
	log->calls++;
	log->last_ns = dmapipe_now_ns();
	log->last = *merged;
}

/* The application's buffers of one generation: NV12 320x240 with rows of @stride. */
static void app_generation(struct dmapipe_server *s, struct dmapipe_buffer **bufs, unsigned int n,
			   uint32_t stride)
{
	struct dmapipe_layout layout;

	check_int_eq(dmapipe_layout_init(&layout, &fmt_nv12, stride), 0);
	for (unsigned int i = 0; i < n; i++) {
		bufs[i] = dmapipe_allocator_alloc_layout(allocator, &layout);
		check_msg(bufs[i], "alloc: %s", strerror(errno));
		check(dmapipe_server_add_buffer(s, bufs[i]) >= 0);
	}
}

/* A server of application buffers under app_reallocates_ms = @wait_ms, telling @told. */
static struct dmapipe_server *server_reallocating(const char *path, uint32_t wait_ms,
						 struct told_log *told)
{
	struct dmapipe_server_options o;
	struct dmapipe_server *s;

	dmapipe_server_options_init(&o);
	o.path = path;
	o.lease_timeout_ms = 0;
	o.app_reallocates_ms = wait_ms;
	s = dmapipe_server_new(&o);
	check_msg(s, "server on %s: %s", path, strerror(errno));
	dmapipe_server_set_constraints_callback(s, on_constraints, told);
	return s;
}

/* Dispatches @s until the callback was called @calls times, 3 s at most. */
static void wait_told(struct dmapipe_server *s, const struct told_log *told, unsigned int calls)
{
	uint64_t start = dmapipe_now_ns();

	while (told->calls < calls && dmapipe_now_ns() - start < 3000000000ull)
		dmapipe_server_dispatch(s, 100);
	check_int_eq(told->calls, calls);
}

/*
 * Frame @seq in @b, then every consumer in @cl takes what came: A (cl[0])
 * must get it (its sequence is *@next_a), the others count theirs in
 * @got, each checked against @cons[i] when given.
 */
static void app_frame(struct dmapipe_server *s, struct dmapipe_buffer *b, uint64_t seq,
		      struct dmapipe_client **cl, int n, uint64_t *next_a, uint64_t *got,
		      const struct dmapipe_constraints **cons)
{
	struct dmapipe_frame_meta meta;
	struct dmapipe_frame *f;
	char why[128];

	check_int_eq(dmapipe_buffer_draw_pattern(b, seq), 0);
	dmapipe_frame_meta_init(&meta);
	meta.sequence = seq;
	check_msg(dmapipe_server_queue(s, dmapipe_buffer_ref(b), &meta) >= 1, "frame %llu",
		  (unsigned long long)seq);
	test_pump(s, cl, n);
	for (int i = 0; i < n; i++) {
		while (cl[i] && (f = dmapipe_client_acquire_frame(cl[i]))) {
			check_int_eq(dmapipe_buffer_check_pattern(f->buffer, f->meta.sequence), 0);
			if (i == 0) {
				check_msg(f->meta.sequence == *next_a, "A: frame %llu after %llu",
					  (unsigned long long)f->meta.sequence,
					  (unsigned long long)*next_a - 1);
				(*next_a)++;
			} else {
				got[i]++;
			}
			if (cons && cons[i])
				check_msg(dmapipe_layout_satisfies(dmapipe_buffer_get_layout(f->buffer),
								   cons[i], why, sizeof(why)) == 0,
					  "consumer %d got frame %llu in a buffer not for it: %s", i,
					  (unsigned long long)f->meta.sequence, why);
			dmapipe_client_release_frame(cl[i], f, -1);
		}
	}
	test_pump(s, cl, n);
}

/*
 * app_reallocates_ms (docs/PROTOCOL.md section 13, rule 5): the
 * application's buffers have rows of 320 bytes; B joins asking 512. It is
 * not refused: the callback tells the merged constraints, B gets no frame
 * until the application's new buffers (rows of 512) carry them, then
 * every one; A, there all along, never misses a frame. C asks 1024 and
 * the application does not follow: C is refused after the bound with
 * the reason, A and B unharmed.
 */
static void test_constraints_app_reallocates(void)
{
	char *path = test_path(dir, "app-realloc");
	struct dmapipe_buffer *old[2], *cur[2];
	struct dmapipe_constraints cons_b, cons_c, merged;
	const struct dmapipe_constraints *want[3] = { NULL, &cons_b, &cons_c };
	struct dmapipe_server_stats st;
	struct told_log told = { 0 };
	struct dmapipe_client *cl[3] = { NULL, NULL, NULL };
	uint64_t next_a = 1, got[3] = { 0 }, seq = 0, start;
	const char *msg = NULL;
	struct dmapipe_server *s = server_reallocating(path, 1000, &told);

	app_generation(s, old, 2, 64);
	check_int_eq(dmapipe_layout_satisfies(dmapipe_buffer_get_layout(old[0]),
					      &(struct dmapipe_constraints){ 0 }, NULL, 0), 0);
	cl[0] = client_new(path, DMAPIPE_POLICY_QUEUE, 4, 2);
	test_pump(s, cl, 1);
	check_int_eq(dmapipe_server_get_constraints(s, &merged), 0);
	check_int_eq(merged.stride_align[0], 0);
	for (; seq < 5; seq++)
		app_frame(s, old[seq % 2], seq + 1, cl, 1, &next_a, got, want);
	check_int_eq(told.calls, 0);

	dmapipe_constraints_init(&cons_b);
	cons_b.stride_align[0] = 512;
	cons_b.stride_align[1] = 512;
	cons_b.min_buffers = 2;
	cl[1] = constrained_client(path, &cons_b);
	test_pump(s, cl, 2);
	check_int_eq(dmapipe_client_get_state(cl[1]), DMAPIPE_CLIENT_STREAMING);
	check_int_eq(told.calls, 1);
	check_int_eq(told.last.stride_align[0], 512);
	check_int_eq(told.last.min_buffers, 2);
	check_int_eq(dmapipe_server_get_constraints(s, &merged), 1);
	check(memcmp(&merged, &told.last, sizeof(merged)) == 0);
	/* the old buffers go on for A; B gets none of them */
	for (; seq < 10; seq++)
		app_frame(s, old[seq % 2], seq + 1, cl, 2, &next_a, got, want);
	check_int_eq(got[1], 0);

	/* the application reallocates: rows of 512; the old buffers leave */
	app_generation(s, cur, 2, 512);
	for (int i = 0; i < 2; i++) {
		check_int_eq(dmapipe_server_remove_buffer(s, old[i]), 0);
		dmapipe_buffer_unref(old[i]);
	}
	for (; seq < 20; seq++)
		app_frame(s, cur[seq % 2], seq + 1, cl, 2, &next_a, got, want);
	check_int_eq(got[1], 10);
	check_int_eq(next_a, seq + 1);

	/* C asks more than the application will make */
	dmapipe_constraints_init(&cons_c);
	cons_c.stride_align[0] = 1024;
	cl[2] = constrained_client(path, &cons_c);
	test_pump(s, cl, 3);
	check_int_eq(dmapipe_client_get_state(cl[2]), DMAPIPE_CLIENT_STREAMING);
	start = dmapipe_now_ns();
	while (dmapipe_client_get_state(cl[2]) == DMAPIPE_CLIENT_STREAMING &&
	       dmapipe_now_ns() - start < 3000000000ull) {
		app_frame(s, cur[seq % 2], seq + 1, cl, 3, &next_a, got, want);
		seq++;
		usleep(20000);
	}
	check_msg(dmapipe_now_ns() - start >= 1000000000ull, "C refused before the bound");
	check_int_eq(dmapipe_client_get_error(cl[2], &msg), DMAPIPE_ERR_CONSTRAINTS);
	check_msg(strstr(msg, "plane 0 stride 512 is not a multiple of 1024") &&
		  strstr(msg, "within 1000 ms"), "%s", msg);
	check_int_eq(got[2], 0);
	check_int_eq(next_a, seq + 1);
	check_int_eq(got[1], seq - 10);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.consumers_refused, 1);
	check_int_eq(st.frames_dropped, 0);
	check_int_eq(dmapipe_client_get_state(cl[1]), DMAPIPE_CLIENT_STREAMING);
	for (int i = 2; i >= 0; i--)
		dmapipe_client_free(cl[i]);
	test_pump(s, NULL, 0);
	dmapipe_server_free(s);
	for (int i = 0; i < 2; i++)
		dmapipe_buffer_unref(cur[i]);
	free(path);
	test_pass("app_reallocates: B (512-byte rows) waits for the application's new buffers "
		  "and gets every frame in them, A none lost, C (1024) refused after 1 s");
}

/*
 * A consumer that flips its constraints as often as it may (8 times in
 * a second) makes the callback fire at most once a second: the application reallocates at most that
 * often, and is told the last state once the second is over.
 */
static void test_constraints_flipping(void)
{
	char *path = test_path(dir, "flip");
	struct told_log told = { 0 };
	struct dmapipe_server *s = server_reallocating(path, 5000, &told);
	struct dmapipe_buffer *bufs[2];
	struct dmapipe_constraints cons;
	struct dmapipe_client *c;
	uint64_t start, first_ns;

	app_generation(s, bufs, 2, 64);
	dmapipe_constraints_init(&cons);
	cons.stride_align[0] = 128;
	c = constrained_client(path, &cons);
	test_pump(s, &c, 1);
	check_int_eq(told.calls, 1);
	first_ns = told.last_ns;
	start = dmapipe_now_ns();
	/* 7 changes after the first: the most a consumer may send in a second (8) */
	for (unsigned int i = 0; i < 7; i++) {
		cons.stride_align[0] = i % 2 ? 128 : 256;
		check_int_eq(dmapipe_client_set_constraints(c, &cons), 0);
		test_pump(s, &c, 1);
	}
	if (dmapipe_now_ns() - start < 900000000ull)
		check_int_eq(told.calls, 1);
	/* the last state (256) is told once the second since the first is over */
	wait_told(s, &told, 2);
	check_int_eq(told.last.stride_align[0], 256);
	/* CONSTRAINTS_TELL_NS */
	check_msg(told.last_ns - first_ns >= 1000000000ull, "told again after %llu ns",
		  (unsigned long long)(told.last_ns - first_ns));
	/* nothing changed since: nothing more to tell */
	test_pump(s, &c, 1);
	dmapipe_server_dispatch(s, 200);
	check_int_eq(told.calls, 2);
	/* it leaves: the merged constraints ask nothing again */
	dmapipe_client_free(c);
	wait_told(s, &told, 3);
	check_int_eq(told.last.stride_align[0], 0);
	dmapipe_server_free(s);
	for (int i = 0; i < 2; i++)
		dmapipe_buffer_unref(bufs[i]);
	free(path);
	test_pass("constraints flipped 7 times: the application is told twice, a second apart, "
		  "the last state; once more when the consumer leaves");
}

/*
 * dmapipe_client_get_buffers(): the buffers are there before any frame,
 * the frames name the same objects, and a format change replaces them.
 */
static void test_client_buffers(void)
{
	char *path = test_path(dir, "buffers");
	struct dmapipe_server *s = server_new(path, 0, 3);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_LATEST, 0, 2);
	struct dmapipe_buffer *bufs[8];
	struct dmapipe_format small = fmt_nv12;
	uint32_t ids[8], first_ids[3];
	struct dmapipe_frame *f;
	int n;

	check_int_eq(dmapipe_client_get_buffers(c, ids, bufs, 8), 0);
	test_pump(s, &c, 1);
	n = dmapipe_client_get_buffers(c, ids, bufs, 8);
	check_int_eq(n, 3);
	for (int i = 0; i < n; i++) {
		check(bufs[i]);
		check(i == 0 || ids[i] > ids[i - 1]);
		check_int_eq(dmapipe_buffer_get_layout(bufs[i])->format.width, fmt_nv12.width);
		first_ids[i] = ids[i];
	}
	/* fewer slots than buffers: the count is still the whole set */
	check_int_eq(dmapipe_client_get_buffers(c, ids, NULL, 1), 3);
	check_int_eq(ids[0], first_ids[0]);

	produce(s, 1);
	f = dmapipe_client_wait_frame(c, 2000);
	check(f);
	n = dmapipe_client_get_buffers(c, ids, bufs, 8);
	for (int i = 0; i < n; i++)
		if (ids[i] == f->buffer_id)
			check(bufs[i] == f->buffer);
	dmapipe_client_release_frame(c, f, -1);
	test_pump(s, &c, 1);

	small.width = 64;
	small.height = 48;
	check_int_eq(dmapipe_server_alloc_buffers(s, allocator, &small, 2), 0);
	test_pump(s, &c, 1);
	n = dmapipe_client_get_buffers(c, ids, bufs, 8);
	check_int_eq(n, 2);
	for (int i = 0; i < n; i++)
		check_int_eq(dmapipe_buffer_get_layout(bufs[i])->format.width, 64);
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
	test_pass("client buffers: listed before the first frame, replaced on a format change");
}

/* Names a producer's socket had while it got ready, left in @path: how many. */
static unsigned int staging_names_in(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	unsigned int n = 0;

	check(d);
	while ((e = readdir(d)))
		if (strncmp(e->d_name, ".dmapipe-", 9) == 0)
			n++;
	closedir(d);
	return n;
}

static void test_socket_paths(void)
{
	char *path = test_path(dir, "stale");
	struct dmapipe_server_options o;
	struct dmapipe_server *s, *s2;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	/* a socket file nobody listens on: what a crashed producer leaves */
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	check(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	close(fd);
	s = server_new(path, 0, 2);
	test_pass("stale socket file recovered after a test connect");

	/* a live producer is never displaced */
	dmapipe_server_options_init(&o);
	o.path = path;
	s2 = dmapipe_server_new(&o);
	check(!s2 && errno == EADDRINUSE);
	dmapipe_server_free(s);
	free(path);
	test_pass("live producer on the path: EADDRINUSE");

	/* something that is not a socket is never removed */
	path = test_path(dir, "regular-file");
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	check(fd >= 0);
	close(fd);
	o.path = path;
	s2 = dmapipe_server_new(&o);
	check(!s2 && errno == EEXIST);
	check(access(path, F_OK) == 0);
	free(path);
	check_int_eq(staging_names_in(dir), 0);
	test_pass("regular file on the path: EEXIST, file kept; no temporary name left by the refusals");

	/*
	 * A directory too long for the temporary name beside the socket
	 * (".dmapipe-PID-N-CLOCK.tmp", 18 bytes at least; an address holds 107):
	 * the socket is bound at its path itself, as before, and served.
	 */
	if (strlen(dir) + 2 < 95) {
		char deep[108], p[108];
		struct dmapipe_client *c;

		snprintf(deep, sizeof(deep), "%s/%0*d", dir, (int)(95 - strlen(dir) - 1), 0);
		check_int_eq(strlen(deep), 95);
		snprintf(p, sizeof(p), "%s/s", deep);
		check(mkdir(deep, 0700) == 0);
		s = server_new(p, 0, 2);
		c = client_new(p, DMAPIPE_POLICY_LATEST, 1, 1);
		test_pump(s, &c, 1);
		check(dmapipe_client_get_state(c) == DMAPIPE_CLIENT_STREAMING);
		dmapipe_client_free(c);
		dmapipe_server_free(s);
		check(access(p, F_OK) != 0);
		check_int_eq(staging_names_in(deep), 0);
		check(rmdir(deep) == 0);
	}
	test_pass("a path too long for a temporary name beside it: bound in place, served, removed");

	/* socket mode */
	path = test_path(dir, "mode");
	o.path = path;
	o.socket_mode = 0600;
	s = dmapipe_server_new(&o);
	check(s);
	{
		struct stat st;

		check(stat(path, &st) == 0);
		check_int_eq(st.st_mode & 0777, 0600);
	}
	dmapipe_server_free(s);
	free(path);

	/* abstract namespace */
	{
		char name[64];
		struct dmapipe_client *c;

		snprintf(name, sizeof(name), "@dmapipe-test-%d", (int)getpid());
		s = server_new(name, 0, 2);
		c = client_new(name, DMAPIPE_POLICY_LATEST, 1, 1);
		test_pump(s, &c, 1);
		produce(s, 7);
		{
			struct dmapipe_frame *f = dmapipe_client_wait_frame(c, 2000);

			check(f && f->meta.sequence == 7);
			check_int_eq(dmapipe_buffer_check_pattern(f->buffer, 7), 0);
			dmapipe_client_release_frame(c, f, -1);
		}
		dmapipe_client_free(c);
		dmapipe_server_free(s);
	}
	test_pass("socket mode applied; abstract socket works");

	/* a client with no producer: a clear errno, no reconnect */
	{
		struct dmapipe_client_options co;

		dmapipe_client_options_init(&co);
		path = test_path(dir, "nobody");
		co.path = path;
		check(!dmapipe_client_new(&co) && errno == ENOENT);
		free(path);
	}
	test_pass("no producer: ENOENT");
}

/*
 * The socket file appears only once its producer listens, so a consumer
 * that connects as soon as the path exists is never refused (nor would a
 * second producer starting then take the file for a crashed one's). A
 * child starts a producer ROUNDS times while this process tries to connect
 * in a loop from the moment it lets the child go; bound at its path
 * before listen(), the file was there for a few system calls in which
 * every connect was refused.
 */
static void test_socket_appears_listening(void)
{
	enum { ROUNDS = 200 };
	char *path = test_path(dir, "appears");
	unsigned int refused = 0, early = 0;

	for (int r = 0; r < ROUNDS; r++) {
		int go[2], done[2], status;
		uint64_t t0;
		pid_t pid;
		char b = 0;

		check(pipe(go) == 0 && pipe(done) == 0);
		pid = fork();
		check(pid >= 0);
		if (pid == 0) {
			struct dmapipe_server_options o;
			struct dmapipe_server *srv;

			close(go[1]);
			close(done[1]);
			if (read(go[0], &b, 1) != 1)
				_exit(2);
			dmapipe_server_options_init(&o);
			o.path = path;
			srv = dmapipe_server_new(&o);
			if (!srv)
				_exit(1);
			/* listening until the parent has looked */
			if (read(done[0], &b, 1) < 0)
				_exit(2);
			dmapipe_server_free(srv);
			_exit(0);
		}
		close(go[0]);
		close(done[0]);
		t0 = test_now_ms();
		check(write(go[1], "g", 1) == 1);
		for (;;) {
			int fd = dmapipe_socket_connect(path);

			if (fd >= 0) {
				close(fd);
				break;
			}
			if (fd == -ECONNREFUSED) {
				refused++;
				break;
			}
			check_msg(fd == -ENOENT, "connect: %s", strerror(-fd));
			if (test_now_ms() - t0 > 10000) {
				early++;
				break;
			}
		}
		check(write(done[1], "d", 1) == 1);
		close(go[1]);
		close(done[1]);
		check(waitpid(pid, &status, 0) == pid);
		check_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "producer %d: status %d", r,
			  status);
	}
	check_msg(early == 0, "the socket did not appear in 10 s (%u rounds)", early);
	check_msg(refused == 0, "%u of %d connects to a socket file that had just appeared were refused",
		  refused, ROUNDS);
	check_msg(access(path, F_OK) != 0, "the last producer left its socket file");
	free(path);
	test_pass("a socket file appears only once it listens: 200 producers started, every first connect taken");
}

struct idle_log {
	struct dmapipe_buffer *last;
	unsigned int calls;
};

static void on_idle(struct dmapipe_server *server, struct dmapipe_buffer *b, void *data)
{
	struct idle_log *log = data;

	(void)server;
	log->last = b;
	log->calls++;
}

/* Buffers the application owns (a capture device's, say): registered once,
 * requeued when the idle callback says no consumer holds them. */
static void test_app_buffers(void)
{
	char *path = test_path(dir, "app");
	struct dmapipe_server_options o;
	struct dmapipe_buffer *bufs[3];
	struct dmapipe_frame_meta meta;
	struct idle_log log = { 0 };
	struct dmapipe_server *s;
	struct dmapipe_client *c;
	struct dmapipe_frame *f;

	dmapipe_server_options_init(&o);
	o.path = path;
	o.lease_timeout_ms = 0;
	s = dmapipe_server_new(&o);
	check(s);
	dmapipe_server_set_idle_callback(s, on_idle, &log);
	for (int i = 0; i < 3; i++) {
		bufs[i] = dmapipe_allocator_alloc(allocator, &fmt_nv12);
		check(bufs[i]);
		check_int_eq(dmapipe_server_add_buffer(s, bufs[i]), i);
		check_int_eq(dmapipe_buffer_draw_pattern(bufs[i], 100 + i), 0);
	}
	check_int_eq(dmapipe_server_add_buffer(s, bufs[0]), -EEXIST);

	/* nobody connected: idle at once */
	dmapipe_frame_meta_init(&meta);
	meta.sequence = 100;
	check_int_eq(dmapipe_server_queue(s, dmapipe_buffer_ref(bufs[0]), &meta), 0);
	check_int_eq(log.calls, 1);
	check(log.last == bufs[0]);

	c = client_new(path, DMAPIPE_POLICY_QUEUE, 2, 2);
	test_pump(s, &c, 1);
	meta.sequence = 101;
	check_int_eq(dmapipe_server_queue(s, dmapipe_buffer_ref(bufs[1]), &meta), 1);
	/* still held: queueing it again is refused */
	check_int_eq(dmapipe_server_queue(s, dmapipe_buffer_ref(bufs[1]), &meta), -EBUSY);
	check_int_eq(log.calls, 1);
	f = dmapipe_client_wait_frame(c, 2000);
	check(f && f->meta.sequence == 101);
	check_int_eq(dmapipe_buffer_check_pattern(f->buffer, 101), 0);
	dmapipe_client_release_frame(c, f, -1);
	test_pump(s, &c, 1);
	check_int_eq(log.calls, 2);
	check(log.last == bufs[1]);

	/*
	 * With rings, a release waits in the ring (nobody sleeps for it) and
	 * the next queue takes it, with no dispatch in between: an
	 * application that queues its own buffers never dequeues.
	 */
	if (dmapipe_rings_enabled()) {
		meta.sequence = 103;
		check_int_eq(dmapipe_server_queue(s, dmapipe_buffer_ref(bufs[1]), &meta), 1);
		f = dmapipe_client_wait_frame(c, 2000);
		check(f && f->meta.sequence == 103);
		dmapipe_client_release_frame(c, f, -1);
		dmapipe_client_dispatch(c, 0);
		check_int_eq(log.calls, 2);
		meta.sequence = 104;
		check_int_eq(dmapipe_server_queue(s, dmapipe_buffer_ref(bufs[0]), &meta), 1);
		check_msg(log.calls == 3 && log.last == bufs[1],
			  "the queue did not take the release waiting in the ring");
		f = dmapipe_client_wait_frame(c, 2000);
		check(f && f->meta.sequence == 104);
		dmapipe_client_release_frame(c, f, -1);
		test_pump(s, &c, 1);
		check_int_eq(log.calls, 4);
		check(log.last == bufs[0]);
	}

	/* a disconnect makes held buffers idle too */
	log.calls = 0;
	meta.sequence = 102;
	check_int_eq(dmapipe_server_queue(s, dmapipe_buffer_ref(bufs[2]), &meta), 1);
	test_pump(s, &c, 1);
	dmapipe_client_free(c);
	test_pump(s, NULL, 0);
	check_int_eq(log.calls, 1);
	check(log.last == bufs[2]);

	check_int_eq(dmapipe_server_remove_buffer(s, bufs[2]), 0);
	check_int_eq(dmapipe_server_remove_buffer(s, bufs[2]), -ENOENT);
	dmapipe_server_free(s);
	/* the server gave its references back: ours are the only ones left */
	for (int i = 0; i < 3; i++) {
		check_int_eq(dmapipe_buffer_get_refcount(bufs[i]), 1);
		dmapipe_buffer_unref(bufs[i]);
	}
	free(path);
	test_pass("application buffers: idle callback after release (with rings, at the next queue), "
		  "disconnect, or no consumer; EBUSY while held");
}

/* Application buffers of a new format: accepted once every buffer of the
 * old one was removed; a connected consumer gets the new FORMAT first and
 * keeps a frame of the old format it still holds. */
static void test_app_buffers_new_format(void)
{
	char *path = test_path(dir, "app-format");
	const struct dmapipe_format small = { .fourcc = fmt_nv12.fourcc, .width = 64,
					      .height = 32, .modifier = DMAPIPE_MOD_LINEAR };
	struct dmapipe_server_options o;
	struct dmapipe_buffer *old, *new;
	struct dmapipe_frame_meta meta;
	struct dmapipe_frame *held, *f;
	struct dmapipe_server *s;
	struct dmapipe_client *c;

	dmapipe_server_options_init(&o);
	o.path = path;
	o.lease_timeout_ms = 0;
	s = dmapipe_server_new(&o);
	check(s);
	old = dmapipe_allocator_alloc(allocator, &fmt_nv12);
	new = dmapipe_allocator_alloc(allocator, &small);
	check(old && new);
	check_int_eq(dmapipe_buffer_draw_pattern(old, 1), 0);
	check_int_eq(dmapipe_buffer_draw_pattern(new, 2), 0);
	check(dmapipe_server_add_buffer(s, old) >= 0);
	/* another format while a buffer of the first is registered */
	check_int_eq(dmapipe_server_add_buffer(s, new), -EINVAL);

	c = client_new(path, DMAPIPE_POLICY_QUEUE, 2, 2);
	test_pump(s, &c, 1);
	dmapipe_frame_meta_init(&meta);
	meta.sequence = 1;
	check_int_eq(dmapipe_server_queue(s, dmapipe_buffer_ref(old), &meta), 1);
	held = dmapipe_client_wait_frame(c, 2000);
	check(held && held->meta.sequence == 1);

	check_int_eq(dmapipe_server_remove_buffer(s, old), 0);
	check(dmapipe_server_add_buffer(s, new) >= 0);
	meta.sequence = 2;
	check_int_eq(dmapipe_server_queue(s, dmapipe_buffer_ref(new), &meta), 1);
	f = dmapipe_client_wait_frame(c, 2000);
	check(f && f->meta.sequence == 2);
	check_int_eq(dmapipe_client_get_format(c)->width, 64);
	check_int_eq(dmapipe_buffer_check_pattern(f->buffer, 2), 0);
	/* the frame of the old format is still intact */
	check_int_eq(dmapipe_buffer_check_pattern(held->buffer, 1), 0);
	dmapipe_client_release_frame(c, held, -1);
	dmapipe_client_release_frame(c, f, -1);
	test_pump(s, &c, 1);

	dmapipe_client_free(c);
	dmapipe_server_free(s);
	check_int_eq(dmapipe_buffer_get_refcount(old), 1);
	check_int_eq(dmapipe_buffer_get_refcount(new), 1);
	dmapipe_buffer_unref(old);
	dmapipe_buffer_unref(new);
	free(path);
	test_pass("application buffers: a new format once the old buffers are removed");
}

struct stats_thread {
	struct dmapipe_server *server;
	volatile int stop;
};

static void *serve_thread(void *arg)
{
	struct stats_thread *t = arg;

	while (!t->stop)
		dmapipe_server_dispatch(t->server, 10);
	return NULL;
}

static void test_query_stats(void)
{
	char *path = test_path(dir, "stats");
	struct dmapipe_server *s = server_new(path, 0, 2);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_QUEUE, 2, 1);
	struct dmapipe_consumer_stats cs[4];
	struct dmapipe_server_stats st;
	struct stats_thread t = { .server = s };
	pthread_t th;
	int n;

	test_pump(s, &c, 1);
	produce(s, 1);
	test_pump(s, &c, 1);
	/* the server is only touched by the thread from here on */
	check(pthread_create(&th, NULL, serve_thread, &t) == 0);
	memset(&st, 0xa5, sizeof(st));
	memset(cs, 0xa5, sizeof(cs));
	n = dmapipe_query_stats(path, &st, cs, 4, 2000);
	t.stop = 1;
	pthread_join(th, NULL);
	check_msg(n == 1, "query_stats: %d", n);
	check_int_eq(st.frames_queued, 1);
	check_int_eq(st.consumers, 1);
	check_int_eq(cs[0].frames_sent, 1);
	check_int_eq(cs[0].policy, DMAPIPE_POLICY_QUEUE);
	check_int_eq(cs[0].state, DMAPIPE_CONSUMER_STREAMING);
	check(strcmp(cs[0].name, "test-client") == 0);
	/* the wire carries no reserved field: what arrives has them zero */
	check_reserved_zero(st);
	check_reserved_zero(cs[0]);
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
	test_pass("stats over a monitor connection");
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * dmapipe_server_wait_consumers(): a consumer counts once its handshake
 * is done; the time limit holds; a signal ends the wait with -EINTR (where
 * dispatch would go on waiting).
 */
static void test_wait_consumers(void)
{
	char *path = test_path(dir, "wait");
	struct dmapipe_server *s = server_new(path, 5000, 2);
	struct sigaction sa, old;
	struct itimerval it = { .it_value = { .tv_usec = 100000 } };
	struct dmapipe_client *c;
	uint64_t t0;

	t0 = test_now_ms();
	check_int_eq(dmapipe_server_wait_consumers(s, 1, 150), -ETIMEDOUT);
	check_msg(test_now_ms() - t0 >= 150 && test_now_ms() - t0 < 2000, "waited %llu ms",
		  (unsigned long long)(test_now_ms() - t0));
	check_int_eq(dmapipe_server_wait_consumers(s, 0, 0), 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	check(sigaction(SIGALRM, &sa, &old) == 0);
	check(setitimer(ITIMER_REAL, &it, NULL) == 0);
	t0 = test_now_ms();
	check_int_eq(dmapipe_server_wait_consumers(s, 1, 5000), -EINTR);
	check_msg(test_now_ms() - t0 < 2000, "a signal ended the wait after %llu ms",
		  (unsigned long long)(test_now_ms() - t0));
	check(sigaction(SIGALRM, &old, NULL) == 0);

	/* the client's HELLO is already sent: the server's side completes it */
	c = client_new(path, DMAPIPE_POLICY_QUEUE, 2, 2);
	check_int_eq(dmapipe_server_wait_consumers(s, 1, 2000), 0);
	check_int_eq(dmapipe_server_wait_consumers(s, 2, 50), -ETIMEDOUT);
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
	test_pass("wait_consumers: counts streaming consumers, time limit, -EINTR on a signal");
}

/*
 * No FRAME follows an EOS: frames a consumer could not be sent yet (it
 * holds its one frame in flight) are dropped and counted when the stream
 * ends; dmapipe_server_drain() with no time left ends it at once and
 * counts the lease still held.
 */
static void test_eos_drops_unsent(void)
{
	char *path = test_path(dir, "eos-unsent");
	struct dmapipe_server *s = server_new(path, 5000, 4);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_QUEUE, 4, 1);
	struct dmapipe_consumer_stats cs[2];
	struct dmapipe_server_stats st;
	struct dmapipe_frame *f;

	test_pump(s, &c, 1);
	for (uint64_t seq = 1; seq <= 3; seq++)
		produce(s, seq);
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_server_get_consumer_stats(s, cs, 2), 1);
	check_int_eq(cs[0].leases_held, 1);
	check_int_eq(cs[0].queued, 2);

	check_int_eq(dmapipe_server_drain(s, 0), 1);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.frames_dropped, 2);
	check_int_eq(dmapipe_server_get_consumer_stats(s, cs, 2), 1);
	check_int_eq(cs[0].queued, 0);
	check_int_eq(cs[0].frames_dropped, 2);
	check(dmapipe_server_queue(s, dmapipe_server_dequeue(s), NULL) == -EPIPE);

	f = dmapipe_client_wait_frame(c, 2000);
	check(f && f->meta.sequence == 1);
	check_int_eq(dmapipe_client_release_frame(c, f, -1), 0);
	/* the release frees the in-flight slot: still nothing may follow the EOS */
	test_pump(s, &c, 1);
	check(!dmapipe_client_acquire_frame(c) && errno == EPIPE);
	check_int_eq(dmapipe_client_get_state(c), DMAPIPE_CLIENT_EOS);
	check_int_eq(dmapipe_server_drain(s, 1000), 0);
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
	test_pass("EOS: unsent frames dropped and counted, no FRAME after EOS; drain(0) counts held leases");
}

/*
 * Options structs from other headers: a program built against older ones
 * passes a shorter struct (its size says so) and gets the defaults for the
 * rest, never the bytes past its end (0xff here: a junk stream_name would
 * crash, a junk peer policy refuse everyone); a newer program's longer
 * struct works when what it adds is unset, and is refused with E2BIG when
 * it asks for something this library does not know.
 */
static void test_options_size(void)
{
	char *path = test_path(dir, "opts");
	struct {
		struct dmapipe_server_options o;
		uint8_t newer[64];
	} so;
	struct {
		struct dmapipe_client_options o;
		uint8_t newer[64];
	} co;
	struct dmapipe_server *s;
	struct dmapipe_client *c;

	memset(&so, 0xff, sizeof(so));
	dmapipe_server_options_init(&so.o);
	so.o.path = path;
	so.o.size = offsetof(struct dmapipe_server_options, producer_name);
	memset(&so.o.producer_name, 0xff, sizeof(so) - offsetof(struct dmapipe_server_options,
								  producer_name));
	s = dmapipe_server_new(&so.o);
	check_msg(s, "a server from a struct cut before producer_name: %s", strerror(errno));
	check_int_eq(dmapipe_server_alloc_buffers(s, allocator, &fmt_nv12, 2), 0);

	memset(&co, 0xff, sizeof(co));
	dmapipe_client_options_init(&co.o);
	co.o.path = path;
	co.o.policy = DMAPIPE_POLICY_QUEUE;
	co.o.size = offsetof(struct dmapipe_client_options, name);
	memset(&co.o.name, 0xff, sizeof(co) - offsetof(struct dmapipe_client_options, name));
	c = dmapipe_client_new(&co.o);
	check_msg(c, "a client from a struct cut before name: %s", strerror(errno));
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_client_get_state(c), DMAPIPE_CLIENT_STREAMING);
	produce(s, 1);
	{
		struct dmapipe_frame *f = dmapipe_client_wait_frame(c, 2000);

		check(f);
		check_int_eq(f->meta.sequence, 1);
		check_int_eq(dmapipe_client_release_frame(c, f, -1), 0);
	}
	dmapipe_client_free(c);

	/* newer headers: zero tail accepted, anything set in it refused */
	dmapipe_client_options_init(&co.o);
	co.o.path = path;
	memset(co.newer, 0, sizeof(co.newer));
	co.o.size = sizeof(co);
	c = dmapipe_client_new(&co.o);
	check_msg(c, "a client from a longer struct: %s", strerror(errno));
	dmapipe_client_free(c);
	co.newer[7] = 1;
	check(dmapipe_client_new(&co.o) == NULL && errno == E2BIG);
	co.o.size = 2;
	check(dmapipe_client_new(&co.o) == NULL && errno == EINVAL);
	dmapipe_server_free(s);

	dmapipe_server_options_init(&so.o);
	so.o.path = path;
	memset(so.newer, 0, sizeof(so.newer));
	so.o.size = sizeof(so);
	s = dmapipe_server_new(&so.o);
	check_msg(s, "a server from a longer struct: %s", strerror(errno));
	dmapipe_server_free(s);
	so.newer[63] = 0x80;
	check(dmapipe_server_new(&so.o) == NULL && errno == E2BIG);
	free(path);
	test_pass("options from shorter and longer structs");
}

/*
 * dmapipe_server_drain_step() for programs with their own event loop: it
 * never waits, sends EOS only once every queued frame went out, and counts
 * down to 0 as the consumer takes its frames and gives them back.
 */
static void test_drain_step(void)
{
	char *path = test_path(dir, "drain-step");
	struct dmapipe_server *s = server_new(path, 5000, 4);
	struct dmapipe_client *c = client_new(path, DMAPIPE_POLICY_QUEUE, 4, 1);
	struct dmapipe_server_stats st;
	struct dmapipe_frame *f;
	uint64_t t;
	int n, left;

	test_pump(s, &c, 1);
	for (uint64_t seq = 1; seq <= 3; seq++)
		produce(s, seq);
	test_pump(s, &c, 1);
	/* one frame leased, two queued behind the in-flight limit of 1 */
	t = dmapipe_now_ns();
	left = dmapipe_server_drain_step(s);
	check_int_eq(left, 3);
	check_msg(dmapipe_now_ns() - t < 1000000000ull, "drain_step waited");
	for (uint64_t seq = 1; seq <= 3; seq++) {
		f = dmapipe_client_wait_frame(c, 2000);
		check_msg(f, "frame %llu after drain_step: %s", (unsigned long long)seq,
			  strerror(errno));
		check_int_eq(f->meta.sequence, seq);
		/* no EOS before the consumer has its last frame */
		check(dmapipe_client_get_state(c) == DMAPIPE_CLIENT_STREAMING);
		check_int_eq(dmapipe_client_release_frame(c, f, -1), 0);
		test_pump(s, &c, 1);
		n = dmapipe_server_drain_step(s);
		check_msg(n < left || n == 0, "drain_step did not count down: %d after %d", n, left);
		left = n;
	}
	test_pump(s, &c, 1);
	check_int_eq(dmapipe_server_drain_step(s), 0);
	check(!dmapipe_client_acquire_frame(c) && errno == EPIPE);
	check_int_eq(dmapipe_client_get_state(c), DMAPIPE_CLIENT_EOS);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.frames_dropped, 0);
	dmapipe_client_free(c);
	dmapipe_server_free(s);
	free(path);
	test_pass("drain_step: never waits, EOS after the last queued frame, counts down to 0");
}

int main(void)
{
	int fds_start;

	allocator = dmapipe_allocator_new_default();
	check_msg(allocator, "no allocator at all: %s", strerror(errno));
	printf("allocator: %s (%s)\n", dmapipe_allocator_get_name(allocator),
	       dmapipe_mem_kind_to_string(dmapipe_allocator_get_mem_kind(allocator)));
	if (test_require_dmabuf() && dmapipe_allocator_get_mem_kind(allocator) != DMAPIPE_MEM_DMABUF) {
		fprintf(stderr, "DMAPIPE_TEST_REQUIRE_DMABUF=1 but the allocator is not a dma-buf one\n");
		return 1;
	}
	dir = test_make_dir("stream");
	fds_start = test_count_fds();

	test_basic();
	test_rings();
	test_busy_dispatch();
	test_latest_policy();
	test_queue_policy();
	test_block_policy();
	test_lease_timeout();
	test_lease_timer();
	test_dispatch_until();
	test_keepalive();
	test_format_change();
	test_format_info();
	test_constraints_generation();
	test_poll_sleep();
	test_ring_before_socket();
	test_deferred_eos();
	test_server_poll_sleep();
	test_server_sleep_other_thread();
	test_rings_generation();
	test_constraints_refused();
	test_fd_quota_auto();
	test_constraints_app_reallocates();
	test_constraints_flipping();
	test_app_buffers();
	test_app_buffers_new_format();
	test_socket_paths();
	test_socket_appears_listening();
	test_query_stats();
	test_wait_consumers();
	test_eos_drops_unsent();
	test_options_size();
	test_drain_step();
	test_client_buffers();

	check_msg(test_count_fds() == fds_start, "fd leak: %d open at start, %d at end", fds_start,
		  test_count_fds());
	test_pass("no fd leaked over all sub-tests");
	dmapipe_allocator_unref(allocator);
	test_rmdir_all(dir);
	free(dir);
	return 0;
}
