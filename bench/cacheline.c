/* SPDX-License-Identifier: MIT */
/*
 * The hardware's floor under a shared-memory handoff: one cache line
 * bounced between two cores. With rings (docs/PROTOCOL.md section 14) a
 * frame and its release are each an entry one process writes and the
 * other reads, so no handoff can cost less than moving the lines those
 * entries live in; what dmapipe costs per frame above one transfer is
 * what its code and system calls add.
 *
 * Two processes, each pinned to its own allowed CPU, share one
 * MAP_SHARED page, as a producer and a consumer share a ring: the first
 * stores an odd number into one 64-byte aligned word (C11 atomics), the
 * second spins on loads until it sees it and stores the next even number,
 * which the first spins for. Each round trip moves the line there and
 * back. The first times CL_TRIPS round trips per run, CL_RUNS runs; the
 * median run is what the report shows, the others give the spread (the
 * machine is shared, and a run in which either process lost its CPU is
 * slow, never fast).
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define CL_WARMUP 2000u
#define CL_TRIPS 20000u
#define PINNED 1u
#define FAILED 2u

/* processes share the word through a page, so it must not need a lock */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic_uint is lock-free");

struct cl_shared {
	_Alignas(64) atomic_uint line; /* the bounced cache line, alone in it */
	/* before the runs, each process says whether it could be pinned
	 * (PINNED or FAILED), so that neither spins for a peer that left */
	_Alignas(64) atomic_uint ready_a;
	atomic_uint ready_b;
	_Alignas(64) double rtt_ns[CL_RUNS];
};
_Static_assert(sizeof(struct cl_shared) <= 4096, "one page");

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* Says @mine (pinned or not) and waits for @peer's word: true if both are pinned. */
static bool both_pinned(atomic_uint *mine, atomic_uint *peer, bool pinned)
{
	unsigned int v;

	atomic_store_explicit(mine, pinned ? PINNED : FAILED, memory_order_release);
	while ((v = atomic_load_explicit(peer, memory_order_acquire)) == 0)
		;
	return pinned && v == PINNED;
}

/* Spins until the line holds @v; the wait is the transfer being measured. */
static inline void wait_for(atomic_uint *line, unsigned int v)
{
	while (atomic_load_explicit(line, memory_order_acquire) != v)
		;
}

/* The first process: sends the odd numbers and times the round trips. */
static int pinger(struct cl_shared *s, int cpu)
{
	unsigned int v = 0;

	if (!both_pinned(&s->ready_a, &s->ready_b, pin(cpu) == 0))
		return 1;
	for (unsigned int i = 0; i < CL_WARMUP; i++) {
		atomic_store_explicit(&s->line, ++v, memory_order_release);
		wait_for(&s->line, ++v);
	}
	for (unsigned int run = 0; run < CL_RUNS; run++) {
		uint64_t t0 = now_ns();

		for (unsigned int i = 0; i < CL_TRIPS; i++) {
			atomic_store_explicit(&s->line, ++v, memory_order_release);
			wait_for(&s->line, ++v);
		}
		s->rtt_ns[run] = (double)(now_ns() - t0) / CL_TRIPS;
	}
	return 0;
}

/* The second process: answers every odd number with the next one. */
static int ponger(struct cl_shared *s, int cpu)
{
	unsigned int v = 0;

	if (!both_pinned(&s->ready_b, &s->ready_a, pin(cpu) == 0))
		return 1;
	for (unsigned int i = 0; i < CL_WARMUP + CL_RUNS * CL_TRIPS; i++) {
		wait_for(&s->line, ++v);
		atomic_store_explicit(&s->line, ++v, memory_order_release);
	}
	return 0;
}

/* The first two CPUs this process may run on into @cpus; false if fewer. */
static bool two_cpus(int cpus[2], int *allowed)
{
	cpu_set_t set;
	int n = 0;

	*allowed = 0;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return false;
	*allowed = CPU_COUNT(&set);
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	return n == 2;
}

void run_cacheline(struct cl_result *r)
{
	struct cl_shared *s;
	struct child ch[2];
	double sorted[CL_RUNS];
	bool forked;
	int allowed;

	memset(r, 0, sizeof(*r));
	memset(ch, 0, sizeof(ch));
	r->ran = true;
	r->runs = CL_RUNS;
	r->trips = CL_TRIPS;
	if (!two_cpus(r->cpus, &allowed)) {
		r->skipped = true;
		snprintf(r->error, sizeof(r->error), "only %d CPU%s allowed to this process",
			 allowed, allowed == 1 ? " is" : "s are");
		return;
	}
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED) {
		snprintf(r->error, sizeof(r->error), "set-up: %s", strerror(errno));
		return;
	}
	atomic_init(&s->line, 0);
	atomic_init(&s->ready_a, 0);
	atomic_init(&s->ready_b, 0);
	ch[0].pid = fork();
	if (ch[0].pid == 0)
		_exit(pinger(s, r->cpus[0]));
	if (ch[0].pid > 0) {
		ch[1].pid = fork();
		if (ch[1].pid == 0)
			_exit(ponger(s, r->cpus[1]));
	}
	/* a run takes milliseconds, so minutes means a process lost its
	 * peer; without a peer at all, the one started is killed at once */
	forked = ch[0].pid > 0 && ch[1].pid > 0;
	r->ok = wait_all(ch, 2, forked ? 120000 : 0) && forked && exited_ok(&ch[0]) &&
		exited_ok(&ch[1]);
	if (!r->ok) {
		snprintf(r->error, sizeof(r->error),
			 "a cache-line process failed (pinned to CPU %d or %d?)", r->cpus[0],
			 r->cpus[1]);
		munmap(s, sizeof(*s));
		return;
	}
	memcpy(sorted, s->rtt_ns, sizeof(sorted));
	r->rtt_ns = median_of(sorted, CL_RUNS);
	r->rtt_min_ns = sorted[0];
	r->rtt_max_ns = sorted[CL_RUNS - 1];
	r->one_way_ns = r->rtt_ns / 2;
	munmap(s, sizeof(*s));
}

double cacheline_ratio(const struct bench *b, const struct dp_result *r)
{
	if (!b->cacheline.ok || !r->ok || b->cacheline.one_way_ns <= 0)
		return NAN;
	return r->cpu_per_frame_us * 1e3 / b->cacheline.one_way_ns;
}

void cacheline_markdown(const struct bench *b, FILE *f)
{
	const struct cl_result *c = &b->cacheline;
	const struct bench_opts *o = &b->o;

	if (!c->ran)
		return;
	if (!c->ok) {
		fprintf(f, "The shared-memory floor, one cache line between two cores, was %s: %s.\n\n",
			c->skipped ? "not measured" : "NOT measured (FAILED)", c->error);
		return;
	}
	fprintf(f, "The floor of the shared-memory path, in the same run: two processes pinned to\n"
		"CPUs %d and %d bounce one 64-byte cache line of a shared page, each spinning on\n"
		"a C11 atomic load until the other's store arrives (`bench/cacheline.c`); the\n"
		"median of %u runs of %u round trips. A frame and its release through the rings\n"
		"move at least one line each way, so a round trip is the least any handoff costs.\n\n",
		c->cpus[0], c->cpus[1], c->runs, c->trips);
	fprintf(f, "| baseline | round trip | one way (one transfer) | round trip range |\n"
		"|---|---|---|---|\n");
	fprintf(f, "| one cache line, CPU %d <-> CPU %d | %.0f ns | %.0f ns | %.0f to %.0f ns |\n\n",
		c->cpus[0], c->cpus[1], c->rtt_ns, c->one_way_ns, c->rtt_min_ns, c->rtt_max_ns);
	fprintf(f, "The handoff's CPU per frame (producer and consumers together, table above) in\n"
		"transfers of that line:\n\n"
		"| consumers | in flight / queue | CPU per frame | handoff CPU per frame / one cache-line "
		"transfer |\n|---|---|---|---|\n");
	for (unsigned int i = 0; i < o->n_consumers; i++) {
		const struct dp_result *rs[3] = { &b->thr[i], &b->deep[i], &b->nopoll[i] };

		for (unsigned int k = 0; k < 3; k++) {
			const struct dp_result *r = rs[k];

			if (r->ran && r->ok)
				fprintf(f, "| %u | %u / %u%s | %.2f us | **%.1fx** |\n", r->consumers,
					r->in_flight, r->depth, r->no_poll ? ", no busy polling" : "",
					r->cpu_per_frame_us, cacheline_ratio(b, r));
		}
	}
	fprintf(f, "\n");
}

void cacheline_json(const struct bench *b, struct json *j)
{
	const struct cl_result *c = &b->cacheline;

	json_begin_object(j, "cacheline");
	json_bool(j, "ran", c->ran);
	json_bool(j, "ok", c->ok);
	json_bool(j, "skipped", c->skipped);
	json_string(j, "error", c->ok ? NULL : c->error);
	if (c->ok) {
		json_u64(j, "cpu_a", (uint64_t)c->cpus[0]);
		json_u64(j, "cpu_b", (uint64_t)c->cpus[1]);
		json_u64(j, "runs", c->runs);
		json_u64(j, "round_trips_per_run", c->trips);
		json_double(j, "round_trip_ns", c->rtt_ns);
		json_double(j, "round_trip_min_ns", c->rtt_min_ns);
		json_double(j, "round_trip_max_ns", c->rtt_max_ns);
		json_double(j, "one_way_ns", c->one_way_ns);
	}
	json_end_object(j);
}
