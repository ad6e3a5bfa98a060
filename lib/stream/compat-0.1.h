/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stream.h's structs as 0.1 had them, frozen (docs/ABI.md): the callers
 * allocate them, so a program built against 0.1 passes exactly these
 * sizes, and the DMAPIPE_0.1 versions of the functions that fill them
 * (compat-0.1.c) write nothing past them. Never change these; a new field
 * goes at the end of the struct in stream.h, with a compat version of
 * each function that fills the struct.
 */
#ifndef DMAPIPE_STREAM_COMPAT_0_1_H
#define DMAPIPE_STREAM_COMPAT_0_1_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dmapipe/stream.h"

struct dmapipe_server_options_0_1 {
	uint32_t size;
	const char *path;
	uint32_t socket_mode;
	enum dmapipe_peer_policy peer_policy;
	uid_t allowed_uid;
	gid_t allowed_gid;
	uint32_t max_consumers;
	uint32_t lease_timeout_ms;
	uint32_t max_in_flight;
	uint32_t max_queue_depth;
	uint32_t fd_quota;
	const char *producer_name;
	const char *stream_name;
	uint32_t max_buffers;
	uint32_t handshake_timeout_ms;
	uint32_t busy_poll_us;
};

struct dmapipe_client_options_0_1 {
	uint32_t size;
	const char *path;
	enum dmapipe_policy policy;
	uint32_t queue_depth;
	uint32_t max_in_flight;
	const char *name;
	bool reconnect;
	uint32_t reconnect_min_ms;
	uint32_t reconnect_max_ms;
	uint32_t fd_quota;
	enum dmapipe_peer_policy peer_policy;
	uid_t allowed_uid;
	gid_t allowed_gid;
	bool map_buffers;
	bool dmabuf_only;
	uint32_t busy_poll_us;
};

/* the sizes 0.1's library had (abidw of it, tests/abi/), on LP64 */
_Static_assert(sizeof(void *) != 8 || sizeof(struct dmapipe_server_options_0_1) == 88,
	       "dmapipe_server_options as 0.1 had it");
_Static_assert(sizeof(void *) != 8 || sizeof(struct dmapipe_client_options_0_1) == 80,
	       "dmapipe_client_options as 0.1 had it");

/* The DMAPIPE_0.1 versions (compat-0.1.c): programs built against 0.1 call
 * them through the symbol version; nothing in the library does. */
void server_options_init_0_1(struct dmapipe_server_options_0_1 *options);
void client_options_init_0_1(struct dmapipe_client_options_0_1 *options);

#endif /* DMAPIPE_STREAM_COMPAT_0_1_H */
