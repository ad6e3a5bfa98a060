/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Between buffer.c and pool.c only.
 */
#ifndef DMAPIPE_CORE_PRIVATE_H
#define DMAPIPE_CORE_PRIVATE_H

#include "private.h"

/* ---- pools (pool.c) ------------------------------------------------- */

/*
 * Called by dmapipe_buffer_unref() when the count reaches 0: puts @buffer
 * back on its pool's free list and returns true, or returns false when the
 * buffer has no (live) pool and must be destroyed by the caller.
 */
bool dmapipe_pool_return_buffer(struct dmapipe_buffer *buffer);
/* Called by dmapipe_buffer_ref() on 0 -> 1: takes it off the free list. */
void dmapipe_pool_revive_buffer(struct dmapipe_buffer *buffer);

#endif /* DMAPIPE_CORE_PRIVATE_H */
