/* SPDX-License-Identifier: MIT */
/*
 * The handoff: one `dmapipe serve` and N `dmapipe consume` processes.
 *
 * What "handoff" means here: the producer queues frames that were drawn
 * once at start (serve --predrawn) as fast as the consumers take them, and
 * the consumers never touch the pixels (consume --verify none). The CPU
 * time of all those processes during streaming, divided by the frames, is
 * the per-frame price of moving a frame from one process to the others.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/*
 * The library defaults (a consumer holds at most 2 frames, queue of 4, a
 * pool of 4 that grows when the consumers hold them all); deeper
 * pipelining, which lets the processes batch their wake-ups: the consumers
 * may hold 16 frames each with a queue of 32, and the pool is allocated
 * whole from the start (32 buffers, serve's default --max-buffers): a pool
 * that starts at 4 and grows only when it runs dry leaves the producer
 * waiting for free buffers, and the deeper queues gain nothing; and the
 * defaults without busy polling.
 */
const struct handoff_setting handoff_settings[N_SETTINGS] = {
	[SET_DEFAULTS] = { "defaults", 2, 4, 4, false },
	[SET_DEEP] = { "pipelined", 16, 32, 32, false },
	[SET_NO_POLL] = { "no-busy-poll", 2, 4, 4, true },
};
const struct handoff_setting handoff_paced = { "paced", 2, 4, 4, false };

uint64_t frame_buffer_bytes(const struct dmapipe_format *format)
{
	struct dmapipe_layout layout;

	/* stride alignment 0: what the allocators use (dmapipe_alloc_layout_init) */
	if (dmapipe_layout_init(&layout, format, 0) < 0)
		return 0;
	return layout.objects[0].size;
}

/* `dmapipe CMD --socket SOCK`, as both the producer and the consumers start */
static void tool_args(struct args *a, const struct bench *b, const char *cmd, const char *sock)
{
	args_init(a, b->tool);
	args_add(a, cmd, "--socket", sock, NULL);
}

/* Ends @a as every process of a run ends its options, and starts it. */
static pid_t tool_spawn(struct args *a, bool no_poll, const char *out, const char *err)
{
	args_add(a, "--quiet", "--json", NULL);
	if (no_poll)
		args_add(a, "--busy-poll", "0", NULL);
	return spawn(a->v, out, err);
}

void run_dmapipe(struct bench *b, unsigned int consumers, bool paced,
		 const struct handoff_setting *s, struct dp_result *r)
{
	const struct bench_opts *o = &b->o;
	struct child ch[MAX_PROCS];
	char sock[600], fourcc_s[16], outs[MAX_PROCS][600], errs[MAX_PROCS][600];
	char *texts[MAX_PROCS] = { NULL };
	uint64_t frames = paced ? o->latency_frames : o->frames, timeout_ms;
	unsigned int i, n = 1 + consumers;
	struct args a;

	memset(r, 0, sizeof(*r));
	memset(ch, 0, sizeof(ch));
	r->ran = true;
	r->consumers = consumers;
	r->paced = paced;
	r->fps_target = paced ? o->latency_fps : 0;
	r->setting = s->name;
	r->in_flight = s->in_flight;
	r->depth = s->depth;
	r->buffers = s->buffers;
	r->no_poll = s->no_poll;

	snprintf(sock, sizeof(sock), "%s/bench.sock", b->dir);
	unlink(sock);
	tool_args(&a, b, "serve", sock);
	args_add(&a, "--size", NULL);
	args_addf(&a, "%ux%u", o->format.width, o->format.height);
	args_add(&a, "--format", dmapipe_fourcc_to_string(o->format.fourcc, fourcc_s,
							  sizeof(fourcc_s)), "--fps", NULL);
	args_addf(&a, "%u", r->fps_target);
	args_add(&a, "--frames", NULL);
	args_addf(&a, "%llu", (unsigned long long)frames);
	args_add(&a, "--wait-consumers", NULL);
	args_addf(&a, "%u", consumers);
	args_add(&a, "--max-consumers", NULL);
	args_addf(&a, "%u", consumers > 32 ? consumers : 32);
	args_add(&a, "--max-in-flight", NULL);
	args_addf(&a, "%u", s->in_flight);
	/* --max-buffers stays at its default, 32: at least --buffers */
	args_add(&a, "--buffers", NULL);
	args_addf(&a, "%u", s->buffers);
	args_add(&a, "--predrawn", "--name", "bench", NULL);
	if (o->allocator)
		args_add(&a, "--allocator", o->allocator, NULL);
	snprintf(outs[0], sizeof(outs[0]), "%s/serve.json", b->dir);
	snprintf(errs[0], sizeof(errs[0]), "%s/serve.log", b->dir);
	ch[0].pid = tool_spawn(&a, s->no_poll, outs[0], errs[0]);

	for (i = 1; i < n; i++) {
		tool_args(&a, b, "consume", sock);
		args_add(&a, "--verify", "none", "--policy", NULL);
		/* unthrottled: nothing dropped, the producer waits for the slowest;
		 * paced: what a live consumer would ask for */
		args_addf(&a, "%s:%u", paced ? "queue" : "block", s->depth);
		args_add(&a, "--in-flight", NULL);
		args_addf(&a, "%u", s->in_flight);
		args_add(&a, "--name", NULL);
		args_addf(&a, "bench-%u", i);
		args_add(&a, "--timeout", "30000", NULL);
		snprintf(outs[i], sizeof(outs[i]), "%s/consume-%u.json", b->dir, i);
		snprintf(errs[i], sizeof(errs[i]), "%s/consume-%u.log", b->dir, i);
		ch[i].pid = tool_spawn(&a, s->no_poll, outs[i], errs[i]);
	}

	timeout_ms = paced ? frames * 1000 / (o->latency_fps ? o->latency_fps : 1) + 60000 :
			     600000;
	r->ok = wait_all(ch, n, timeout_ms);
	if (!r->ok)
		snprintf(r->error, sizeof(r->error), "timed out after %llu s: killed",
			 (unsigned long long)(timeout_ms / 1000));

	r->delivered_min = UINT64_MAX;
	r->fps_consumer_min = INFINITY;
	for (i = 0; i < n; i++) {
		uint64_t v = 0;
		double d;

		texts[i] = read_file(outs[i]);
		if (!exited_ok(&ch[i]) && r->ok) {
			char st[64];

			r->ok = false;
			snprintf(r->error, sizeof(r->error), "%s %u: %.40s (see %.160s)",
				 i ? "consumer" : "producer", i,
				 describe_status(ch[i].status, st, sizeof(st)), errs[i]);
		}
		r->cpu_whole_ns += ru_cpu_ns(&ch[i].ru);
		if (!texts[i])
			continue;
		json_lookup_u64(texts[i], "cpu_ns", &v);
		r->cpu_stream_ns += v;
		if (i == 0)
			r->cpu_producer_ns = v;
		else
			r->cpu_consumers_ns += v;
		v = 0;
		json_lookup_u64(texts[i], "bytes_copied", &v);
		r->bytes_copied += v;
		if (i == 0) {
			json_lookup_u64(texts[i], "frames_queued", &r->frames);
			v = 0;
			json_lookup_u64(texts[i], "buffers", &v);
			r->pool_buffers = (unsigned int)v;
			r->pool_bytes = v * frame_buffer_bytes(&o->format);
			if (json_lookup_double(texts[i], "fps", &d) == 0)
				r->fps_producer = d;
			continue;
		}
		v = 0;
		json_lookup_u64(texts[i], "frames_received", &v);
		if (v < r->delivered_min)
			r->delivered_min = v;
		v = 0;
		json_lookup_u64(texts[i], "frames_dropped", &v);
		r->dropped += v;
		if (json_lookup_double(texts[i], "fps", &d) == 0 && d < r->fps_consumer_min)
			r->fps_consumer_min = d;
		if (json_lookup_double(texts[i], "latency_p50_us", &d) == 0)
			r->lat_p50_us = fmax(r->lat_p50_us, d);
		if (json_lookup_double(texts[i], "latency_p90_us", &d) == 0)
			r->lat_p90_us = fmax(r->lat_p90_us, d);
		if (json_lookup_double(texts[i], "latency_p99_us", &d) == 0)
			r->lat_p99_us = fmax(r->lat_p99_us, d);
		if (json_lookup_double(texts[i], "latency_max_us", &d) == 0)
			r->lat_max_us = fmax(r->lat_max_us, d);
	}
	if (r->delivered_min == UINT64_MAX)
		r->delivered_min = 0;
	if (!isfinite(r->fps_consumer_min))
		r->fps_consumer_min = 0;
	if (r->frames) {
		r->cpu_per_frame_us = (double)r->cpu_stream_ns / (double)r->frames / 1e3;
		r->cpu_whole_per_frame_us = (double)r->cpu_whole_ns / (double)r->frames / 1e3;
	}
	if (b->copy.median_ms > 0)
		r->ratio_memcpy = r->cpu_per_frame_us / (b->copy.median_ms * 1e3);
	if (r->ok && r->frames == 0) {
		r->ok = false;
		snprintf(r->error, sizeof(r->error), "no frames were queued");
	}
	for (i = 0; i < n; i++)
		free(texts[i]);
}

/*
 * Unthrottled runs are short and the machine is noisy: run them
 * b->o.repeat times and keep the run with the median CPU per frame, with
 * the spread of all runs. Any failed run fails the result.
 */
void run_dmapipe_repeated(struct bench *b, unsigned int consumers,
			  const struct handoff_setting *s, struct dp_result *out)
{
	struct dp_result *runs = calloc(b->o.repeat, sizeof(*runs));
	double cpu_min = INFINITY, cpu_max = 0, fps_min = INFINITY, fps_max = 0;
	unsigned int i, k, n = 0;
	uint64_t copied = 0;

	if (!runs) {
		memset(out, 0, sizeof(*out));
		snprintf(out->error, sizeof(out->error), "out of memory");
		out->ran = true;
		return;
	}
	for (i = 0; i < b->o.repeat && !stop_requested; i++) {
		run_dmapipe(b, consumers, false, s, &runs[n]);
		copied += runs[n].bytes_copied;
		if (!runs[n].ok) {
			*out = runs[n];
			out->bytes_copied = copied;
			free(runs);
			return;
		}
		cpu_min = fmin(cpu_min, runs[n].cpu_per_frame_us);
		cpu_max = fmax(cpu_max, runs[n].cpu_per_frame_us);
		fps_min = fmin(fps_min, runs[n].fps_consumer_min);
		fps_max = fmax(fps_max, runs[n].fps_consumer_min);
		n++;
	}
	if (n == 0) {
		memset(out, 0, sizeof(*out));
		out->ran = true;
		snprintf(out->error, sizeof(out->error), "interrupted");
		free(runs);
		return;
	}
	/* the median by CPU per frame */
	for (i = 1; i < n; i++) {
		struct dp_result x = runs[i];

		for (k = i; k > 0 && runs[k - 1].cpu_per_frame_us > x.cpu_per_frame_us; k--)
			runs[k] = runs[k - 1];
		runs[k] = x;
	}
	*out = runs[n / 2];
	out->runs = n;
	out->bytes_copied = copied;
	out->cpu_min_us = cpu_min;
	out->cpu_max_us = cpu_max;
	out->fps_min = fps_min;
	out->fps_max = fps_max;
	free(runs);
}

/* @a / @b, or NAN when there is nothing to divide by */
static double ratio_of(double a, double b)
{
	return b > 0 ? a / b : NAN;
}

/* The median of @v[0..@n) and its range, leaving @v as it was */
static struct pair_ratio pair_ratio(const double *v, unsigned int n)
{
	double sorted[MAX_PAIRS], median;

	memcpy(sorted, v, n * sizeof(*v));
	median = median_of(sorted, n); /* sorts */
	return (struct pair_ratio){ median, sorted[0], sorted[n - 1] };
}

/*
 * A small VM's speed moves 2-3x within a minute, so a paced run measured
 * minutes away from its ping-pong baseline compares two machines. The two
 * run back to back instead, in pairs, the ping-pong first in even pairs and
 * dmapipe first in odd ones so that a drift over the pairs favours neither
 * side, and the ratios are taken pair by pair. b->lat[i] and b->pp_lat[i]
 * keep the runs of the pair whose CPU ratio is the median (the upper of the
 * middle two for an even count), so that the tables show real runs. Any
 * failed run fails the result and is the one kept.
 */
void run_paced_pairs(struct bench *b, unsigned int i)
{
	const struct bench_opts *o = &b->o;
	struct paced_pairs *p = &b->paced[i];
	struct dp_result dp[MAX_PAIRS];
	struct pp_result pp[MAX_PAIRS];
	unsigned int order[MAX_PAIRS], k, m;
	uint64_t copied = 0;

	memset(p, 0, sizeof(*p));
	p->ran = true;
	p->consumers = o->consumers[i];
	for (k = 0; k < o->latency_pairs && !stop_requested; k++) {
		bool dmapipe_first = k % 2;

		if (!dmapipe_first)
			run_pingpong(o->latency_frames, o->latency_fps, &pp[k]);
		run_dmapipe(b, p->consumers, true, &handoff_paced, &dp[k]);
		if (dmapipe_first)
			run_pingpong(o->latency_frames, o->latency_fps, &pp[k]);
		/* like the unthrottled runs: every run's copies count, not the kept one's */
		copied += dp[k].bytes_copied;
		if (!dp[k].ok || !pp[k].ok) {
			bench_log("    pair %u FAILED: %s", k + 1,
				  dp[k].ok ? pp[k].error : dp[k].error);
			b->lat[i] = dp[k];
			b->lat[i].bytes_copied = copied;
			b->pp_lat[i] = pp[k];
			return;
		}
		p->cpu[k] = ratio_of(dp[k].cpu_per_frame_us, pp[k].cpu_per_frame_us);
		p->p50[k] = ratio_of(dp[k].lat_p50_us, pp[k].lat_p50_us);
		p->p99[k] = ratio_of(dp[k].lat_p99_us, pp[k].lat_p99_us);
		bench_log("    pair %u, %s first: CPU per frame %.2f us (ping-pong %.2f, %.2fx), "
			  "latency p50 %.1f us (%.1f, %.2fx), p99 %.1f us (%.1f, %.2fx)", k + 1,
			  dmapipe_first ? "dmapipe" : "ping-pong", dp[k].cpu_per_frame_us,
			  pp[k].cpu_per_frame_us, p->cpu[k], dp[k].lat_p50_us, pp[k].lat_p50_us,
			  p->p50[k], dp[k].lat_p99_us, pp[k].lat_p99_us, p->p99[k]);
		p->n++;
	}
	if (p->n == 0) {
		memset(&b->lat[i], 0, sizeof(b->lat[i]));
		b->lat[i].ran = true;
		b->lat[i].consumers = p->consumers;
		snprintf(b->lat[i].error, sizeof(b->lat[i].error), "interrupted");
		return;
	}
	p->cpu_ratio = pair_ratio(p->cpu, p->n);
	p->p50_ratio = pair_ratio(p->p50, p->n);
	p->p99_ratio = pair_ratio(p->p99, p->n);
	/* the pairs in the order of their CPU ratio */
	for (k = 0; k < p->n; k++) {
		for (m = k; m > 0 && p->cpu[order[m - 1]] > p->cpu[k]; m--)
			order[m] = order[m - 1];
		order[m] = k;
	}
	p->rep = order[p->n / 2];
	p->ok = true;
	b->lat[i] = dp[p->rep];
	b->lat[i].bytes_copied = copied;
	b->pp_lat[i] = pp[p->rep];
}

void producer_extra_all(struct bench *b)
{
	const struct bench_opts *o = &b->o;
	unsigned int lo = 0, hi = 0, i, k;

	for (i = 1; i < o->n_consumers; i++) {
		if (o->consumers[i] < o->consumers[lo])
			lo = i;
		if (o->consumers[i] > o->consumers[hi])
			hi = i;
	}
	for (k = 0; k < N_SETTINGS; k++) {
		const struct dp_result *set = handoff_runs(b, k);
		const struct dp_result *rl = &set[lo], *rh = &set[hi];
		struct producer_extra *e = &b->extra[k];

		memset(e, 0, sizeof(*e));
		e->setting = handoff_settings[k].name;
		e->lo = o->consumers[lo];
		e->hi = o->consumers[hi];
		e->ring_write_ns = b->cacheline.ok ? 2 * b->cacheline.one_way_ns : NAN;
		if (e->hi == e->lo) {
			snprintf(e->why, sizeof(e->why), "needs two consumer counts (--consumers)");
			continue;
		}
		if (!rl->ok || !rh->ok || !rl->frames || !rh->frames) {
			snprintf(e->why, sizeof(e->why), "a run failed or did not run");
			continue;
		}
		e->lo_ns = (double)rl->cpu_producer_ns / (double)rl->frames;
		e->hi_ns = (double)rh->cpu_producer_ns / (double)rh->frames;
		e->per_consumer_ns = (e->hi_ns - e->lo_ns) / (double)(e->hi - e->lo);
		e->ok = true;
	}
}
