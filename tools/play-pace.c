/* SPDX-License-Identifier: MIT */
/*
 * dmapipe play's serving: frames read (play-read.c) go to the stream in
 * order, each when the recorded pace says (--speed), held back while a
 * block-policy consumer has no room, with the replay's own timestamps;
 * and the rate they are served at, told to the consumers.
 */
#include <string.h>

#include "play.h"

/* a frame this late behind the recorded pace restarts the clock rather than bursting */
#define LATE_NS 100000000ull

/* True if a block-policy consumer has no room: wait rather than make it drop. */
static bool blocked(struct play *p)
{
	struct dmapipe_consumer_stats cs[MAX_CONSUMER_STATS];
	int n = dmapipe_server_get_consumer_stats(p->server, cs, MAX_CONSUMER_STATS);

	for (int i = 0; i < n && i < MAX_CONSUMER_STATS; i++)
		if (cs[i].state == DMAPIPE_CONSUMER_STREAMING &&
		    cs[i].policy == DMAPIPE_POLICY_BLOCK && cs[i].queued >= cs[i].queue_depth)
			return true;
	return false;
}

/*
 * When frame @s is due (CLOCK_MONOTONIC), 0 for now: its recorded distance
 * from the frame that started the clock, divided by the speed. Called once
 * per frame, in order.
 */
static uint64_t pace(struct play *p, const struct slot *s)
{
	uint64_t ts = s->meta.timestamp_ns, due;

	if (p->speed == 0)
		return 0;
	if (!p->clock_set || ts < p->last_ts || s->index == 0) {
		/* the first frame, a loop, or timestamps that go back: now */
		p->clock_set = true;
		p->base_ns = now_ns();
		p->base_ts = ts;
		p->last_ts = ts;
		return 0;
	}
	p->last_ts = ts;
	due = p->base_ns + (uint64_t)((double)(ts - p->base_ts) / p->speed);
	if (due > now_ns() + 5000000000ull) {
		/* a gap of seconds in the recording: do not sit idle through it */
		p->base_ns -= due - now_ns();
		due = now_ns();
	}
	return due;
}

/* Serves ready frames that are due; *wake_ns is when the next one is due, or 0. */
int play_serve_ready(struct play *p, uint64_t *wake_ns)
{
	*wake_ns = 0;
	while (p->n_ready > 0) {
		struct slot *s = &p->slots[p->ready[p->ready_head]];
		struct dmapipe_frame_meta meta = s->meta;
		uint64_t now = now_ns();
		int ret;

		if (!s->timed) {
			s->due = pace(p, s);
			s->timed = true;
		}
		if (s->due > now) {
			*wake_ns = s->due;
			return 0;
		}
		if (blocked(p))
			return 0;
		if (s->due && now > s->due + LATE_NS) {
			/* behind (a slow disk, a blocking consumer): resynchronise, no burst */
			p->late++;
			p->base_ns += now - s->due;
		}
		if (p->hash_out) {
			uint32_t crc;

			if (frame_crc32(s->buffer, &crc) == 0)
				fprintf(p->hash_out, "%llu %08x\n",
					(unsigned long long)meta.sequence, crc);
			else
				fprintf(p->hash_out, "%llu -\n", (unsigned long long)meta.sequence);
		}
		if (s->index == 0 && p->loops > 0 && p->served > 0)
			meta.flags |= DMAPIPE_FRAME_DISCONTINUITY;
		/*
		 * The replay's timeline: when the frame is due (its recorded
		 * distance from the clock's start, at the replay speed), or now
		 * when it is served as fast as possible or late. The recorded
		 * capture time lies in the past (another run, maybe another
		 * boot): consumers would see the recording's age as latency and
		 * GStreamer would time every buffer before the pipeline started.
		 */
		if (!p->recorded_timestamps)
			meta.timestamp_ns = s->due && now <= s->due + LATE_NS ? s->due : now;
		meta.acquire_fence = -1;
		s->state = SLOT_SERVED;
		p->ready_head = (p->ready_head + 1) % MAX_SLOTS;
		p->n_ready--;
		ret = dmapipe_server_queue(p->server, dmapipe_buffer_ref(s->buffer), &meta);
		if (ret < 0) {
			tool_error(TOOL_ERR_INTERNAL, ret, "the stream refused a frame");
			return ret;
		}
		p->served++;
		/* a consumer that missed this frame for its constraints waits in vain */
		play_refuse_unmet(p);
	}
	return 0;
}

/*
 * Consumers get what the recording says of its frames (FORMAT_INFO) as it
 * is served: colorimetry, siting, fields and aspect ratio as recorded; the
 * rate at the recorded pace itself, at another factor that rate times the
 * factor, and unknown when frames go as fast as they can. A recording that
 * says nothing (older files) is served saying nothing, as before.
 */
void play_tell_format_info(struct play *p)
{
	struct dmapipe_format_info info, unknown;
	uint64_t num, den;

	if (dmapipe_recording_get_format_info(p->rec, &info) < 0)
		return;
	num = info.fps_num;
	den = info.fps_den;
	if (p->speed == 0) {
		num = 0;
		den = 1;
	} else if (num && p->speed != 1.0) {
		/* the factor in thousandths, as --speed takes it */
		num *= (uint64_t)(p->speed * 1000.0 + 0.5);
		den *= 1000;
		for (uint64_t a = num, b = den; ; ) {
			uint64_t t = a % b;

			if (!t) {
				num /= b;
				den /= b;
				break;
			}
			a = b;
			b = t;
		}
		if (num > UINT32_MAX || den > UINT32_MAX) {
			num = 0;
			den = 1;
		}
	}
	info.fps_num = (uint32_t)num;
	info.fps_den = (uint32_t)den;
	dmapipe_format_info_init(&unknown);
	unknown.par_num = 0;
	if (memcmp(&info, &unknown, sizeof(info)) == 0)
		return;
	dmapipe_server_set_format_info(p->server, &info);
}
