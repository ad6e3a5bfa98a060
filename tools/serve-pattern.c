/* SPDX-License-Identifier: MIT */
/*
 * dmapipe serve without --device: the test pattern, drawn into buffers
 * from an allocator and queued at the asked rate (the library's wait to a
 * deadline keeps the pace). Separate from serve-device.c, whose frames
 * come when a device has them: the two loops share only what serve.h
 * declares.
 */
#include <errno.h>
#include <stdlib.h>

#include "serve.h"

static int open_allocator(struct serve *s, struct dmapipe_allocator **out)
{
	struct dmapipe_allocator *alloc;
	const char *env = getenv("DMAPIPE_ALLOCATOR");

	if (s->allocator) {
		alloc = dmapipe_allocator_new(s->allocator);
		if (!alloc && errno == ENOENT)
			usage_error("serve", "unknown allocator '%s' (heap, udmabuf, drm, memfd, dmapipe)",
				    s->allocator);
		if (!alloc) {
			tool_error(TOOL_ERR_UNSUPPORTED, errno, "allocator %s is not available here",
				   s->allocator);
			return -1;
		}
		s->alloc_note = "chosen with --allocator";
	} else {
		enum dmapipe_log_priority prio = dmapipe_log_get_priority();

		/* the fallback warning is what announce_allocator() says */
		dmapipe_log_set_priority(DMAPIPE_LOG_ERROR);
		alloc = dmapipe_allocator_new_default();
		dmapipe_log_set_priority(prio);
		if (!alloc) {
			tool_error(TOOL_OK, errno, "no allocator works here");
			return -1;
		}
		s->alloc_note = env && *env ? "chosen with DMAPIPE_ALLOCATOR" :
			"no dma-buf provider on this machine";
	}
	s->alloc_name = dmapipe_allocator_get_name(alloc);
	s->mem_kind = dmapipe_allocator_get_mem_kind(alloc);
	*out = alloc;
	return 0;
}

static void announce_allocator(const struct serve *s)
{
	if (s->mem_kind == DMAPIPE_MEM_DMABUF)
		fprintf(stderr, "serve: allocator: %s (dma-buf)\n", s->alloc_name);
	else
		fprintf(stderr, "serve: allocator: %s (NOT a dma-buf: %s)\n", s->alloc_name,
			s->alloc_note);
}

/* Draws every buffer of the pool once, for --predrawn. */
static int predraw(struct serve *s)
{
	struct dmapipe_buffer *held[32];
	unsigned int n = 0, i;
	int ret = 0;

	while (n < s->buffers && n < 32) {
		held[n] = dmapipe_server_dequeue(s->server);
		if (!held[n])
			break;
		ret = dmapipe_buffer_draw_pattern(held[n], n);
		n++;
		if (ret < 0)
			break;
	}
	for (i = 0; i < n; i++)
		dmapipe_buffer_unref(held[i]);
	return ret;
}

/*
 * Handles server events until the absolute CLOCK_MONOTONIC @deadline. The
 * library sleeps in its own epoll set until the deadline or an event, so a
 * frame period costs one wake-up plus one per event. The deadline is never
 * early, and late by at most the timer slack (50 us; none with --realtime).
 */
static int wait_until(struct serve *s, uint64_t deadline)
{
	while (!stop_requested && now_ns() < deadline) {
		int ret = dmapipe_server_dispatch_until(s->server, deadline);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The pattern's frames are progressive, square-pixelled, at the pace they are served. */
static void set_format_info(struct serve *s)
{
	struct dmapipe_format_info info;

	dmapipe_format_info_init(&info);
	info.fps_num = s->fps_num;
	info.fps_den = s->fps_den;
	info.interlace = DMAPIPE_INTERLACE_PROGRESSIVE;
	dmapipe_server_set_format_info(s->server, &info);
}

static int run(struct serve *s)
{
	uint64_t period = s->fps_num ? 1000000000ull * s->fps_den / s->fps_num : 0;
	uint64_t base;
	struct dmapipe_server_stats st;
	uint64_t seq;
	int ret;

	if (!serve_wait_for_consumers(s) || !serve_apply_realtime(s))
		return 0;

	serve_start_clock(s);
	base = s->start_ns;

	for (seq = 0; !stop_requested && (s->frames == 0 || seq < s->frames); seq++) {
		struct dmapipe_frame_meta meta;
		struct dmapipe_buffer *buf;
		uint64_t now;

		if (period) {
			uint64_t deadline = base + seq * period;

			now = now_ns();
			if (now > deadline + period) {
				/* fell behind (a stall, a slow draw): resynchronise
				 * instead of bursting to catch up */
				s->late++;
				base = now - seq * period;
				deadline = now;
			}
			ret = wait_until(s, deadline);
			if (ret < 0)
				goto server_failed;
			if (stop_requested)
				break;
		}

		for (;;) {
			buf = dmapipe_server_dequeue(s->server);
			if (buf)
				break;
			if (errno != EAGAIN) {
				ret = -errno;
				goto server_failed;
			}
			s->stalls++;
			ret = dmapipe_server_dispatch(s->server, 10);
			if (ret < 0)
				goto server_failed;
			if (stop_requested)
				break;
		}
		if (!buf)
			break;

		if (!s->predrawn) {
			ret = dmapipe_buffer_draw_pattern(buf, seq);
			if (ret < 0) {
				dmapipe_buffer_unref(buf);
				serve_failed(s, "drawing failed", TOOL_OK, ret, "drawing frame %llu",
					     (unsigned long long)seq);
				break;
			}
		}
		dmapipe_frame_meta_init(&meta);
		meta.sequence = seq;
		meta.timestamp_ns = now_ns();
		/* consumers verify by default what says it is the pattern of its sequence */
		if (!s->predrawn)
			meta.flags |= DMAPIPE_FRAME_PATTERN;
		ret = dmapipe_server_queue(s->server, buf, &meta);
		if (ret < 0)
			goto server_failed;
		s->queued++;
		s->status_frames++;

		/* paced: wait_until() handles events while it waits */
		if (!period) {
			ret = dmapipe_server_dispatch(s->server, 0);
			if (ret < 0)
				goto server_failed;
		}

		/* the frame's timestamp is the clock read the tick would make */
		if (meta.timestamp_ns >= s->status_next && serve_status_tick(s, true) && s->strict) {
			dmapipe_server_get_stats(s->server, &st);
			if (st.bytes_copied > 0)
				break;
		}
	}

	serve_stop_clock(s);
	return 0;

server_failed:
	serve_server_failed(s, ret);
	return 0;
}

/* Serves the test pattern from an allocator's buffers; returns the exit status. */
int serve_pattern(struct serve *s)
{
	struct dmapipe_allocator *alloc = NULL;
	int ret;

	if (open_allocator(s, &alloc) < 0)
		return 1;
	announce_allocator(s);

	s->opts.path = s->socket;
	s->server = open_server("serve", &s->opts, &s->access);
	if (!s->server) {
		dmapipe_allocator_unref(alloc);
		return 1;
	}
	ret = dmapipe_server_alloc_buffers(s->server, alloc, &s->format, s->buffers);
	dmapipe_allocator_unref(alloc);
	if (ret < 0) {
		/* ENOSPC here is a pool budget or a heap, not a disk: not exit 3 */
		tool_error(ret == -ENOSPC ? TOOL_ERR_NO_MEMORY : TOOL_OK, ret,
			   "cannot allocate %u buffers", s->buffers);
		dmapipe_server_free(s->server);
		return 1;
	}
	set_format_info(s);
	if (s->predrawn && predraw(s) < 0) {
		tool_error(TOOL_ERR_INTERNAL, 0, "cannot draw the buffers");
		dmapipe_server_free(s->server);
		return 1;
	}
	if (!s->quiet) {
		char fourcc[16];

		fprintf(stderr, "serve: %s %ux%u, %u buffers, ",
			dmapipe_fourcc_to_string(s->format.fourcc, fourcc, sizeof(fourcc)),
			s->format.width, s->format.height, s->buffers);
		if (s->fps_den > 1)
			fprintf(stderr, "%u/%u fps", s->fps_num, s->fps_den);
		else if (s->fps_num)
			fprintf(stderr, "%u fps", s->fps_num);
		else
			fprintf(stderr, "as fast as possible");
		fprintf(stderr, " on %s\n", s->socket);
	}

	run(s);
	serve_end_stream(s);
	serve_print_summary(s);
	dmapipe_server_free(s->server);
	return s->failed ? 1 : 0;
}
