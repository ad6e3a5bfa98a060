/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Copy accounting and strict mode: zero-copy is a contract, so every CPU
 * copy of pixel data anywhere in the library asks dmapipe_copy_allowed()
 * first and is counted by dmapipe_count_copy() where it happens.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "private.h"

/*
 * Relaxed atomics: the two counters are statistics, read as a (nearly)
 * consistent pair by dmapipe_get_copy_stats().
 */
static _Atomic uint64_t copy_bytes;
static _Atomic uint64_t copy_frames;

/*
 * Strict mode: set from $DMAPIPE_STRICT once, before anyone can ask, and by
 * dmapipe_set_strict() afterwards. -1: not read from the environment yet.
 */
static _Atomic int strict_mode = -1;

static bool strict_from_env(void)
{
	const char *env = getenv("DMAPIPE_STRICT");

	return env && (strcmp(env, "1") == 0 || strcasecmp(env, "yes") == 0 ||
		       strcasecmp(env, "true") == 0);
}

DMAPIPE_EXPORT void dmapipe_set_strict(bool strict)
{
	atomic_store(&strict_mode, strict ? 1 : 0);
}

DMAPIPE_EXPORT bool dmapipe_get_strict(void)
{
	int mode = atomic_load(&strict_mode);

	if (mode < 0) {
		int expected = -1;

		/* the first caller reads the environment; a racing set_strict wins */
		atomic_compare_exchange_strong(&strict_mode, &expected, strict_from_env() ? 1 : 0);
		mode = atomic_load(&strict_mode);
	}
	return mode == 1;
}

int dmapipe_copy_allowed(const char *what)
{
	if (!dmapipe_get_strict())
		return 0;
	log_error("strict mode: refusing to copy pixels (%s)", what);
	return -EPERM;
}

/* One call is one frame (or one plane set) copied: @bytes of pixel data. */
void dmapipe_count_copy(uint64_t bytes)
{
	atomic_fetch_add_explicit(&copy_bytes, bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&copy_frames, 1, memory_order_relaxed);
}

DMAPIPE_EXPORT void dmapipe_get_copy_stats(struct dmapipe_copy_stats *stats)
{
	if (!stats)
		return;
	stats->frames = atomic_load_explicit(&copy_frames, memory_order_relaxed);
	stats->bytes = atomic_load_explicit(&copy_bytes, memory_order_relaxed);
}
