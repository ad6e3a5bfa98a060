/* SPDX-License-Identifier: MIT */
/*
 * The longest turn of a capture loop: from the moment its poll() returns
 * to the moment it polls again, i.e. the time the loop spends away from
 * the device (docs/REALTIME.md). The dequeue latency itself is the
 * library's (dmapipe_v4l2_source_get_timing()).
 */
#ifndef DMAPIPE_TOOL_LOOP_TIMING_H
#define DMAPIPE_TOOL_LOOP_TIMING_H

#include <stdint.h>

#include "dmapipe-tool.h"

struct loop_timing {
	uint64_t turn_start;
	uint64_t turns;
	uint64_t max_turn_ns;
};

/* After poll() returned. */
static inline void loop_timing_begin(struct loop_timing *t)
{
	t->turn_start = now_ns();
}

/* Before the next poll(). */
static inline void loop_timing_end(struct loop_timing *t)
{
	uint64_t d;

	if (!t->turn_start)
		return;
	d = now_ns() - t->turn_start;
	t->turns++;
	if (d > t->max_turn_ns)
		t->max_turn_ns = d;
	t->turn_start = 0;
}

#endif /* DMAPIPE_TOOL_LOOP_TIMING_H */
