/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one loop behind every blocking call of the stream layer
 * (dmapipe_server_dequeue_wait(), _wait_consumers(), _drain(),
 * dmapipe_client_wait_frame(), dmapipe_query_stats()): ask whether what
 * the caller waits for is there, and while it is not, dispatch for the
 * time left.
 */
#ifndef DMAPIPE_WAIT_H
#define DMAPIPE_WAIT_H

#include <stdint.h>

/* The CLOCK_MONOTONIC time @timeout_ms from now; UINT64_MAX (never) if negative. */
uint64_t dmapipe_deadline_after_ms(int timeout_ms);

/*
 * Calls @ready(@data); while it returns -EAGAIN, calls @dispatch(@obj,
 * ms) with the milliseconds left until @deadline (rounded up, -1 for
 * UINT64_MAX) and asks @ready again. Returns what @ready returned when it
 * was not -EAGAIN, -ETIMEDOUT once @deadline passed and @ready still said
 * -EAGAIN, or the negative errno @dispatch returned (which ends the wait).
 */
int dmapipe_wait_until(int (*ready)(void *data), void *data,
		       int (*dispatch)(void *obj, int timeout_ms), void *obj, uint64_t deadline);

/*
 * The same for a call that returns a pointer, or NULL with errno EAGAIN
 * for "not yet": calls @get(@obj), dispatching up to @timeout_ms (-1: no
 * limit) while it says EAGAIN. Returns what @get returned, or NULL with
 * errno: @get's other errnos, ETIMEDOUT, or @dispatch's failure.
 */
void *dmapipe_wait_for(void *(*get)(void *obj), int (*dispatch)(void *obj, int timeout_ms),
		       void *obj, int timeout_ms);

#endif /* DMAPIPE_WAIT_H */
