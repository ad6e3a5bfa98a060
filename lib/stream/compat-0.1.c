/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The DMAPIPE_0.1 versions of stream.h's functions whose struct grew since
 * 0.1 (docs/ABI.md). A program built against 0.1 is bound to these: each
 * fills the 0.1 layout (compat-0.1.h) from the current function, so the
 * library writes no byte past the caller's struct. Programs built now get
 * the default DMAPIPE_0.2 versions in server.c and client.c.
 */
#include <stddef.h>
#include <string.h>

#include "private.h"
#include "compat-0.1.h"

/* The fields 0.1 had are where 0.1 had them, so a 0.1 struct is a prefix
 * of today's: the options' size protocol and the copies below need that. */
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, path);
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, socket_mode);
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, peer_policy);
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, allowed_uid);
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, allowed_gid);
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, max_consumers);
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, lease_timeout_ms);
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, max_in_flight);
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, max_queue_depth);
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, fd_quota);
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, producer_name);
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, stream_name);
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, max_buffers);
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, handshake_timeout_ms);
DMAPIPE_SAME_OFFSET(dmapipe_server_options, dmapipe_server_options_0_1, busy_poll_us);
_Static_assert(sizeof(struct dmapipe_server_options) >= sizeof(struct dmapipe_server_options_0_1),
	       "dmapipe_server_options shrank since 0.1");

DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, path);
DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, policy);
DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, queue_depth);
DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, max_in_flight);
DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, name);
DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, reconnect);
DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, reconnect_min_ms);
DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, reconnect_max_ms);
DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, fd_quota);
DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, peer_policy);
DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, allowed_uid);
DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, allowed_gid);
DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, map_buffers);
DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, dmabuf_only);
DMAPIPE_SAME_OFFSET(dmapipe_client_options, dmapipe_client_options_0_1, busy_poll_us);
_Static_assert(sizeof(struct dmapipe_client_options) >= sizeof(struct dmapipe_client_options_0_1),
	       "dmapipe_client_options shrank since 0.1");

/* dmapipe_server_options_init@DMAPIPE_0.1: today's defaults, 0.1's size */
DMAPIPE_EXPORT void server_options_init_0_1(struct dmapipe_server_options_0_1 *options)
{
	struct dmapipe_server_options now;

	dmapipe_server_options_init(&now);
	memcpy(options, &now, sizeof(*options));
	options->size = sizeof(*options);
}
DMAPIPE_SYMVER(server_options_init_0_1, "dmapipe_server_options_init@DMAPIPE_0.1");

/* dmapipe_client_options_init@DMAPIPE_0.1: today's defaults, 0.1's size */
DMAPIPE_EXPORT void client_options_init_0_1(struct dmapipe_client_options_0_1 *options)
{
	struct dmapipe_client_options now;

	dmapipe_client_options_init(&now);
	memcpy(options, &now, sizeof(*options));
	options->size = sizeof(*options);
}
DMAPIPE_SYMVER(client_options_init_0_1, "dmapipe_client_options_init@DMAPIPE_0.1");
