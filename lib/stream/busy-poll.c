/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Adaptive busy polling in front of epoll_wait().
 *
 * Going to sleep and being woken costs more than the handoff itself: on a
 * virtual machine, a wake-up across CPUs is an inter-processor interrupt
 * and the idle CPU's halt, several microseconds each way, and with frames
 * arriving every few microseconds that is most of the CPU time spent per
 * frame. So when messages have lately come back sooner than a bound, a
 * wait first polls the epoll set for a while (yielding the CPU to anything
 * else runnable between polls, so polling never starves the peer it waits
 * for) and sleeps only if nothing came.
 *
 * How long it polls adapts, much as halt polling does in KVM: a wait that
 * slept and still ended soon (within REACH times the bound) doubles the
 * window, from a quarter of the bound up to the bound; a wait that slept
 * longer halves it, down to not polling at all. A stream at 60 frames/s
 * thus stops polling after its first frames and pays nothing; an
 * unthrottled one polls, and finds its next message there.
 *
 * A poll that finds nothing is the worst case: the whole window burnt,
 * then the sleep and the wake-up anyway. A stream with a message every
 * 110 us (9,000 frames/s) slept within REACH times a 30 us bound after
 * every such poll, so its window stayed open, and a consumer paid 35 us of
 * CPU per frame against 5 us with polling off. So a poll that finds
 * nothing makes the next wait sleep at once, the next failure the next 2,
 * then 4, up to BACKOFF_MAX waits; a poll that finds something polls at
 * every wait again. A stream that comes in time for the window is polled
 * as before; one that does not is probed once in BACKOFF_MAX + 1 waits.
 * dmapipesrc keeps the same rule for the spin before its own poll()
 * (plugins/gstdmapipespin.c), where this wait cannot serve.
 * A poll that gave the CPU away for most of its window (its yields let
 * other tasks run: eight consumers on two cores) cost little and is not
 * held against polling: backing off there made each frame a wake-up for
 * each consumer, and eight consumers cost 5 times as much CPU.
 *
 * With shared-memory rings (ring.h), polling reads the rings too: a
 * frame or a release there ends the wait without any system call of the
 * writer's, and a sleep raises the sleeping flags first.
 *
 * REACH: a wait that slept includes the wake-up, the very cost polling
 * saves, which on a virtual machine is tens of microseconds. Measured
 * against the bound alone, a fast stream whose window once fell to zero
 * would look slow from then on and never be polled again.
 */
#include <errno.h>
#include <stdbool.h>
#include <sched.h>
#include <sys/epoll.h>
#include <time.h>

#include "config.h"
#include "private.h"
#include "busy-poll.h"

#define REACH 4
#define BACKOFF_MAX 64
/*
 * A sched_yield() that took this long gave the CPU to another task; one
 * with nothing else to run returns in a fraction of it.
 */
#define YIELD_AWAY_NS 5000
/*
 * With rings, how long a poll looks at the rings alone before it makes
 * its system calls (epoll_wait, sched_yield): a writer on the other core
 * publishes within this in a busy stream, and the reader then finds the
 * entry without entering the kernel at all.
 */
#define RING_SPIN_NS 2000
/*
 * Polls of the rings between two clock reads in that spin: a clock read
 * costs more than a look at a ring, and the spin's end need not be exact.
 */
#define RING_SPIN_POLLS 16

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

void dmapipe_busy_poll_init(struct dmapipe_busy_poll *bp, uint32_t max_us)
{
	bp->max_ns = (uint64_t)max_us * 1000;
	bp->window_ns = 0;
	bp->skip = 0;
	bp->backoff = 0;
	bp->ring_ready = NULL;
	bp->ring_sleep = NULL;
	bp->ring_data = NULL;
	bp->ring_spin = false;
}

static bool ring_ready(const struct dmapipe_busy_poll *bp)
{
	return bp->ring_ready && bp->ring_ready(bp->ring_data);
}

/* Polls the rings alone for RING_SPIN_NS (or until @limit); true if one has news. */
static bool ring_spin(const struct dmapipe_busy_poll *bp, uint64_t limit)
{
	uint64_t end;

	if (!bp->ring_ready)
		return false;
	if (!bp->ring_spin)
		return ring_ready(bp);
	end = MIN(dmapipe_now_ns() + RING_SPIN_NS, limit);
	do {
		for (unsigned int i = 0; i < RING_SPIN_POLLS; i++) {
			if (ring_ready(bp))
				return true;
			cpu_relax();
		}
	} while (dmapipe_now_ns() < end);
	return false;
}

/*
 * epoll_wait() with a timeout in nanoseconds. A paced producer sleeps
 * until its next frame is due in this one call, where a timeout in
 * milliseconds would wake it up to a millisecond late, and a timerfd beside
 * the epoll set cost two more system calls per frame and a wake-up path
 * through poll() (docs/BENCHMARKS.md). Kernels before 5.11, and seccomp
 * filters that refuse epoll_pwait2(), get epoll_wait() with the timeout
 * rounded up to the millisecond.
 */
static int epoll_wait_ns(int epfd, struct epoll_event *events, int max_events, int64_t timeout_ns)
{
#if HAVE_EPOLL_PWAIT2
	static bool missing;

	if (timeout_ns >= 0 && !__atomic_load_n(&missing, __ATOMIC_RELAXED)) {
		struct timespec ts = {
			.tv_sec = (time_t)(timeout_ns / 1000000000),
			.tv_nsec = (long)(timeout_ns % 1000000000),
		};
		int n = epoll_pwait2(epfd, events, max_events, &ts, NULL);

		if (n >= 0 || (errno != ENOSYS && errno != EPERM))
			return n;
		__atomic_store_n(&missing, true, __ATOMIC_RELAXED);
	}
#endif
	if (timeout_ns < 0)
		return epoll_wait(epfd, events, max_events, -1);
	return epoll_wait(epfd, events, max_events,
			  (int)MIN((timeout_ns + 999999) / 1000000, (int64_t)INT32_MAX));
}

/*
 * The sleep itself. With rings, the flag goes up first and the rings are
 * read once more: a writer either saw the flag (and sends a wake-up to
 * the socket) or published before our second look.
 */
static int sleep_wait(struct dmapipe_busy_poll *bp, int epfd, struct epoll_event *events,
		      int max_events, int64_t timeout_ns)
{
	int n, err;

	if (!bp->ring_sleep)
		return epoll_wait_ns(epfd, events, max_events, timeout_ns);
	bp->ring_sleep(bp->ring_data, true);
	if (ring_ready(bp)) {
		bp->ring_sleep(bp->ring_data, false);
		return 0;
	}
	n = epoll_wait_ns(epfd, events, max_events, timeout_ns);
	err = errno;
	bp->ring_sleep(bp->ring_data, false);
	errno = err;
	return n;
}

int dmapipe_busy_poll_wait(struct dmapipe_busy_poll *bp, int epfd, struct epoll_event *events,
			   int max_events, int64_t timeout_ns)
{
	uint64_t t0, waited, yielded = 0, before, after;
	int n;

	if (ring_ready(bp))
		return 0;
	if (timeout_ns == 0)
		return epoll_wait(epfd, events, max_events, 0);
	if (bp->max_ns == 0)
		return sleep_wait(bp, epfd, events, max_events, timeout_ns);

	t0 = dmapipe_now_ns();
	if (bp->window_ns > 0 && bp->skip > 0) {
		bp->skip--; /* polls lately found nothing: sleep at once */
	} else if (bp->window_ns > 0) {
		/* never past the caller's timeout */
		bool whole = timeout_ns > 0 && (uint64_t)timeout_ns <= bp->window_ns;
		uint64_t limit = whole ? (uint64_t)timeout_ns : bp->window_ns;

		do {
			if (ring_spin(bp, t0 + limit)) {
				bp->backoff = 0;
				return 0; /* an entry in a ring: the caller reads it */
			}
			n = epoll_wait(epfd, events, max_events, 0);
			if (n != 0) {
				bp->backoff = 0;
				return n; /* a message (or an error) while polling */
			}
			before = dmapipe_now_ns();
			sched_yield();
			after = dmapipe_now_ns();
			if (after - before >= YIELD_AWAY_NS)
				yielded += after - before;
		} while (after - t0 < limit);
		if (whole)
			return 0; /* the timeout passed while polling: nothing learnt */
		/*
		 * The window passed with nothing. If other tasks had the CPU
		 * for most of it (our yields gave it to them), it cost us
		 * little; if we spun through it, skip the next polls.
		 */
		if (yielded < (after - t0) / 2) {
			bp->backoff = bp->backoff ? MIN(bp->backoff * 2, BACKOFF_MAX) : 1;
			bp->skip = bp->backoff;
		}
		if (timeout_ns > 0) {
			/* what is left of the caller's timeout (the window was shorter) */
			uint64_t spent = dmapipe_now_ns() - t0;

			timeout_ns = spent < (uint64_t)timeout_ns ? timeout_ns - (int64_t)spent : 0;
		}
	}
	n = sleep_wait(bp, epfd, events, max_events, timeout_ns);
	if (n < 0)
		return n;
	waited = dmapipe_now_ns() - t0;
	if (n > 0 && waited <= REACH * bp->max_ns) {
		/* it came soon after all: poll longer next time */
		bp->window_ns = bp->window_ns ? bp->window_ns * 2 : bp->max_ns / 4;
		if (bp->window_ns > bp->max_ns)
			bp->window_ns = bp->max_ns;
	} else if (waited > REACH * bp->max_ns) {
		bp->window_ns /= 2;
		if (bp->window_ns < 1000)
			bp->window_ns = 0;
	}
	return n;
}
