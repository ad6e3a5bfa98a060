/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * record.h's structs as 0.1 had them, frozen (docs/ABI.md): the callers
 * allocate them, so a program built against 0.1 passes exactly these
 * sizes, and the DMAPIPE_0.1 versions of the functions that fill them
 * (compat-0.1.c) write nothing past them. Never change these; a new field
 * goes at the end of the struct in record.h, with a compat version of
 * each function that fills the struct.
 */
#ifndef DMAPIPE_STORAGE_COMPAT_0_1_H
#define DMAPIPE_STORAGE_COMPAT_0_1_H

#include <stdbool.h>
#include <stdint.h>

#include "dmapipe/record.h"

struct dmapipe_recorder_options_0_1 {
	uint32_t size;
	enum dmapipe_record_mode mode;
	uint32_t max_frames;
	uint64_t max_bytes;
	uint32_t sync_interval_ms;
	uint64_t prealloc_bytes;
	bool overwrite;
	dmapipe_recorder_done_func done;
	void *user_data;
};

struct dmapipe_recorder_stats_0_1 {
	uint64_t frames_submitted;
	uint64_t frames_written;
	uint64_t frames_failed;
	uint64_t frames_refused;
	uint64_t bytes_written;
	uint64_t path_bytes[DMAPIPE_RECORD_PATH_COUNT];
	uint64_t path_frames[DMAPIPE_RECORD_PATH_COUNT];
	uint64_t bytes_copied;
	uint64_t format_changes;
	uint64_t barriers;
	uint64_t file_size;
	uint64_t preallocated;
	uint64_t in_flight_bytes;
	uint32_t in_flight_frames;
	uint32_t mode;
	uint32_t block_size;
	uint32_t mem_align;
	int32_t error;
	uint32_t reserved[7];
};

/* the sizes 0.1's library had (abidw of it, tests/abi/); LP64 for pointers */
_Static_assert(sizeof(void *) != 8 || sizeof(struct dmapipe_recorder_options_0_1) == 64,
	       "dmapipe_recorder_options as 0.1 had it");
_Static_assert(sizeof(struct dmapipe_recorder_stats_0_1) == 200,
	       "dmapipe_recorder_stats as 0.1 had it");

/* The DMAPIPE_0.1 versions (compat-0.1.c): programs built against 0.1 call
 * them through the symbol version; nothing in the library does. */
void recorder_options_init_0_1(struct dmapipe_recorder_options_0_1 *options);
void recorder_get_stats_0_1(const struct dmapipe_recorder *recorder,
			    struct dmapipe_recorder_stats_0_1 *stats);

#endif /* DMAPIPE_STORAGE_COMPAT_0_1_H */
