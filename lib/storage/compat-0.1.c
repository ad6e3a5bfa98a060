/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The DMAPIPE_0.1 versions of record.h's functions whose struct grew since
 * 0.1 (docs/ABI.md). A program built against 0.1 is bound to these: each
 * fills the 0.1 layout (compat-0.1.h) from the current function, so the
 * library writes no byte past the caller's struct. Programs built now get
 * the default DMAPIPE_0.2 versions in recorder.c.
 */
#include <stddef.h>
#include <string.h>

#include "private.h"
#include "compat-0.1.h"

/* The fields 0.1 had are where 0.1 had them, so a 0.1 struct is a prefix
 * of today's: the options' size protocol and the copies below need that. */
DMAPIPE_SAME_OFFSET(dmapipe_recorder_options, dmapipe_recorder_options_0_1, mode);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_options, dmapipe_recorder_options_0_1, max_frames);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_options, dmapipe_recorder_options_0_1, max_bytes);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_options, dmapipe_recorder_options_0_1, sync_interval_ms);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_options, dmapipe_recorder_options_0_1, prealloc_bytes);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_options, dmapipe_recorder_options_0_1, overwrite);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_options, dmapipe_recorder_options_0_1, done);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_options, dmapipe_recorder_options_0_1, user_data);
_Static_assert(sizeof(struct dmapipe_recorder_options) >= sizeof(struct dmapipe_recorder_options_0_1),
	       "dmapipe_recorder_options shrank since 0.1");

DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, frames_written);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, frames_failed);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, frames_refused);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, bytes_written);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, path_bytes);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, path_frames);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, bytes_copied);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, format_changes);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, barriers);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, file_size);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, preallocated);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, in_flight_bytes);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, in_flight_frames);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, mode);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, block_size);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, mem_align);
DMAPIPE_SAME_OFFSET(dmapipe_recorder_stats, dmapipe_recorder_stats_0_1, error);

/* dmapipe_recorder_options_init@DMAPIPE_0.1: today's defaults, 0.1's size */
DMAPIPE_EXPORT void recorder_options_init_0_1(struct dmapipe_recorder_options_0_1 *options)
{
	struct dmapipe_recorder_options now;

	if (!options)
		return;
	dmapipe_recorder_options_init(&now);
	memcpy(options, &now, sizeof(*options));
	options->size = sizeof(*options);
}
DMAPIPE_SYMVER(recorder_options_init_0_1, "dmapipe_recorder_options_init@DMAPIPE_0.1");

/* dmapipe_recorder_get_stats@DMAPIPE_0.1: the counters 0.1 had, its
 * reserved fields zero as 0.1 left them */
DMAPIPE_EXPORT void recorder_get_stats_0_1(const struct dmapipe_recorder *recorder,
					   struct dmapipe_recorder_stats_0_1 *stats)
{
	struct dmapipe_recorder_stats now;

	if (!recorder || !stats)
		return;
	dmapipe_recorder_get_stats(recorder, &now);
	memset(stats, 0, sizeof(*stats));
	memcpy(stats, &now, offsetof(struct dmapipe_recorder_stats_0_1, reserved));
}
DMAPIPE_SYMVER(recorder_get_stats_0_1, "dmapipe_recorder_get_stats@DMAPIPE_0.1");
