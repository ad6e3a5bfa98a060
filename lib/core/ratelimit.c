/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Rate-limited logging: a peer that fails on purpose, over and over, must
 * not be able to flood the log (or the CPU that writes it). Each call site
 * of log_*_ratelimited() keeps its own budget of lines per interval; past
 * it, lines are counted instead of written, and the count is written as
 * "... N similar messages suppressed" with the first line of the next
 * interval.
 */
#include <pthread.h>

#include "private.h"

/* one lock for every site: taken only on the error paths that log */
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

bool dmapipe_ratelimit_allow(struct dmapipe_ratelimit *rl, enum dmapipe_log_priority priority,
			     const char *site)
{
	unsigned int suppressed = 0;
	uint64_t now;
	bool allow;

	/* a line that would not be written does not use up the budget */
	if (priority > dmapipe_log_get_priority())
		return false;
	now = dmapipe_now_ns();
	pthread_mutex_lock(&ratelimit_lock);
	if (rl->begin_ns == 0 || now - rl->begin_ns >= rl->interval_ns) {
		suppressed = rl->suppressed;
		rl->begin_ns = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	allow = rl->printed < rl->burst;
	if (allow)
		rl->printed++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&ratelimit_lock);
	if (suppressed > 0)
		dmapipe_log_internal(priority, "... %u similar messages suppressed (%s)", suppressed,
				     site);
	return allow;
}
