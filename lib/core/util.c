/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers and the process-wide copy accounting.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "private.h"

uint64_t dmapipe_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

void dmapipe_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len;

	if (size == 0)
		return;
	len = strnlen(src, size - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void dmapipe_close(int fd)
{
	int saved = errno;

	/* Never retry close() on EINTR: on Linux the fd is gone either way. */
	if (fd >= 0)
		close(fd);
	errno = saved;
}

/*
 * Zero-copy is a contract, so copies are counted where they happen. Relaxed
 * atomics: the two counters are statistics, read as a (nearly) consistent
 * pair by dmapipe_get_copy_stats().
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

uint64_t dmapipe_page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (uint64_t)ps : 4096;
}

int dmapipe_options_copy(void *dst, size_t dst_size, const void *src, size_t min_size)
{
	const unsigned char *bytes = src;
	uint32_t size;

	if (!src || min_size < sizeof(size) || dst_size < min_size)
		return -EINVAL;
	memcpy(&size, src, sizeof(size));
	if (size < min_size)
		return -EINVAL;
	/* a newer caller's fields are all zero unless it asked for something
	 * this library cannot do: then refusing beats ignoring */
	for (size_t i = dst_size; i < size; i++)
		if (bytes[i])
			return -E2BIG;
	memcpy(dst, src, MIN((size_t)size, dst_size));
	size = (uint32_t)dst_size;
	memcpy(dst, &size, sizeof(size));
	return 0;
}
