/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "private.h"
#include "wait.h"

uint64_t dmapipe_deadline_after_ms(int timeout_ms)
{
	return timeout_ms < 0 ? UINT64_MAX : dmapipe_now_ns() + (uint64_t)timeout_ms * 1000000u;
}

int dmapipe_wait_until(int (*ready)(void *data), void *data,
		       int (*dispatch)(void *obj, int timeout_ms), void *obj, uint64_t deadline)
{
	for (;;) {
		int ret = ready(data);
		uint64_t now;

		if (ret != -EAGAIN)
			return ret;
		now = dmapipe_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		/* rounded up: rounded down, the last wait would end just before
		 * the deadline and the loop would spin on zero-length waits */
		ret = dispatch(obj, deadline == UINT64_MAX ? -1 :
			       (int)MIN((deadline - now + 999999) / 1000000, (uint64_t)INT32_MAX));
		if (ret < 0)
			return ret;
	}
}

struct pointer_wait {
	void *(*get)(void *obj);
	void *obj;
	void *result;
};

static int try_get(void *data)
{
	struct pointer_wait *w = data;

	w->result = w->get(w->obj);
	return w->result ? 0 : -errno;
}

void *dmapipe_wait_for(void *(*get)(void *obj), int (*dispatch)(void *obj, int timeout_ms),
		       void *obj, int timeout_ms)
{
	struct pointer_wait w = { .get = get, .obj = obj };
	int ret;

	ret = dmapipe_wait_until(try_get, &w, dispatch, obj, dmapipe_deadline_after_ms(timeout_ms));
	if (ret < 0)
		errno = -ret;
	return w.result;
}
