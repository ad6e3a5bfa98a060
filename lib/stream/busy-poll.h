/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The adaptive busy poll in front of the server's and the client's
 * epoll_wait() (busy-poll.c).
 */
#ifndef DMAPIPE_BUSY_POLL_H
#define DMAPIPE_BUSY_POLL_H

#include <stdbool.h>
#include <stdint.h>

/* busy-poll.c: epoll_wait() that polls first while messages come back fast */
struct epoll_event;
struct dmapipe_busy_poll {
	uint64_t max_ns;    /* the bound; 0: never poll */
	uint64_t window_ns; /* how long the next wait polls */
	/* after polls that found nothing: waits left that sleep at once, and
	 * how many the next such poll makes skip (0: the last poll found) */
	uint32_t skip;
	uint32_t backoff;
	/*
	 * Shared-memory rings read beside the epoll set (ring.h), NULL
	 * without: @ring_ready says whether one has news (the wait then
	 * returns 0 at once, the caller reads it); @ring_sleep sets or
	 * clears the sleeping flags around a sleep, so that writers send a
	 * wake-up to the socket only then.
	 */
	bool (*ring_ready)(void *data);
	void (*ring_sleep)(void *data, bool sleeping);
	void *ring_data;
	/* poll the rings alone for a moment before each system call: for a
	 * reader whose next entry is usually about to come (a consumer) */
	bool ring_spin;
};
void dmapipe_busy_poll_init(struct dmapipe_busy_poll *bp, uint32_t max_us);
/*
 * epoll_wait() with the same arguments and results (-1 and errno on
 * error), but a timeout in nanoseconds (-1: forever, 0: do not wait),
 * kept to the nanosecond where the kernel has epoll_pwait2() (5.11)
 */
int dmapipe_busy_poll_wait(struct dmapipe_busy_poll *bp, int epfd, struct epoll_event *events,
			   int max_events, int64_t timeout_ns);

/* A timeout of the public calls (milliseconds, -1: forever) as the wait takes it. */
static inline int64_t dmapipe_timeout_ns_of_ms(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000;
}

#endif /* DMAPIPE_BUSY_POLL_H */
