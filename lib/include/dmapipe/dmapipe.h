/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libdmapipe: dma-buf zero-copy frame pipelines.
 *
 * Conventions used by every header in this directory:
 *  - functions returning int return 0 (or a non-negative count) on success
 *    and a negative errno on failure;
 *  - functions returning a pointer return NULL and set errno on failure;
 *  - "takes ownership of fd" means the library closes it, also on failure;
 *    "returns a new fd" means the caller closes it;
 *  - _free()/_unref() accept NULL;
 *  - the library never prints: it calls the log handler (see below).
 */
#ifndef DMAPIPE_DMAPIPE_H
#define DMAPIPE_DMAPIPE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <dmapipe/format.h>
#include <dmapipe/buffer.h>
#include <dmapipe/alloc.h>
#include <dmapipe/stream.h>
#include <dmapipe/pattern.h>
#include <dmapipe/record.h>
#include <dmapipe/v4l2.h>
#include <dmapipe/encoder.h>
#include <dmapipe/device.h>
#include <dmapipe/display.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMAPIPE_VERSION_MAJOR 0
#define DMAPIPE_VERSION_MINOR 1
#define DMAPIPE_VERSION_MICRO 0

/**
 * The library's version string ("0.1.0"): static, never freed. Since 0.1.
 */
const char *dmapipe_version(void);

enum dmapipe_log_priority {
	DMAPIPE_LOG_ERROR = 1,
	DMAPIPE_LOG_WARNING = 2,
	DMAPIPE_LOG_INFO = 3,
	DMAPIPE_LOG_DEBUG = 4,
};

typedef void (*dmapipe_log_func)(enum dmapipe_log_priority priority,
				 const char *fmt, va_list args, void *user_data);

/**
 * Replaces the process-wide log handler. The default handler prints messages
 * up to DMAPIPE_LOG_WARNING (or the level named by the environment variable
 * DMAPIPE_DEBUG=error|warning|info|debug) to stderr. Passing NULL restores
 * the default handler. @func may be called from any thread that calls into
 * the library, also concurrently; @user_data is passed to it unchanged and
 * stays the caller's (the library never frees it). Since 0.1.
 */
void dmapipe_log_set_handler(dmapipe_log_func func, void *user_data);

/**
 * Messages above @priority are not passed to the handler; values out of
 * range are clamped to DMAPIPE_LOG_ERROR..DMAPIPE_LOG_DEBUG. Since 0.1.
 */
void dmapipe_log_set_priority(enum dmapipe_log_priority priority);

/** Returns the current maximum priority passed to the handler. Since 0.1. */
enum dmapipe_log_priority dmapipe_log_get_priority(void);

/**
 * Process-wide count of CPU copies of pixel data made by the library (bytes
 * and frames), since the process started. Zero-copy is a contract: every path
 * that copies pixels adds to these counters, and a strict stream refuses to
 * take such a path at all. Since 0.1.
 */
struct dmapipe_copy_stats {
	uint64_t bytes;
	uint64_t frames;
};

/**
 * Fills the caller's @stats with the copy counters as they are now (any
 * thread; the two are read one after the other, not as one snapshot).
 * @stats NULL: does nothing. Since 0.1.
 */
void dmapipe_get_copy_stats(struct dmapipe_copy_stats *stats);

/**
 * Strict mode, process-wide: every library path that would copy pixel data
 * fails with -EPERM (and logs why) instead of copying. Off by default; the
 * environment variable DMAPIPE_STRICT=1 (or yes, true) turns it on at
 * start-up, and this call overrides it from then on. Since 0.1.
 */
void dmapipe_set_strict(bool strict);

/**
 * Whether strict mode is on: the last dmapipe_set_strict(), else what
 * DMAPIPE_STRICT said when first asked. Since 0.1.
 */
bool dmapipe_get_strict(void);

#ifdef __cplusplus
}
#endif

#endif /* DMAPIPE_DMAPIPE_H */
