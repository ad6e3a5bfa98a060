/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Names of the wire protocol's message types and error codes, for logs and
 * for dmapipe_error_code_to_string(). Apart from the codec because they
 * are for people, not peers: nothing here decides what a datagram means.
 */
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "private.h"

const char *dmapipe_msg_type_to_string(uint32_t type)
{
	static const char *const names[] = {
		[DMAPIPE_MSG_HELLO] = "HELLO",
		[DMAPIPE_MSG_FORMAT] = "FORMAT",
		[DMAPIPE_MSG_ADD_BUFFER] = "ADD_BUFFER",
		[DMAPIPE_MSG_REMOVE_BUFFER] = "REMOVE_BUFFER",
		[DMAPIPE_MSG_FRAME] = "FRAME",
		[DMAPIPE_MSG_RELEASE] = "RELEASE",
		[DMAPIPE_MSG_EOS] = "EOS",
		[DMAPIPE_MSG_ERROR] = "ERROR",
		[DMAPIPE_MSG_STATS_REQUEST] = "STATS_REQUEST",
		[DMAPIPE_MSG_STATS] = "STATS",
		[DMAPIPE_MSG_RELEASES] = "RELEASES",
		[DMAPIPE_MSG_KEEPALIVE] = "KEEPALIVE",
		[DMAPIPE_MSG_FORMAT_INFO] = "FORMAT_INFO",
		[DMAPIPE_MSG_CONSTRAINTS] = "CONSTRAINTS",
		[DMAPIPE_MSG_RING] = "RING",
	};

	if (type < ARRAY_SIZE(names) && names[type])
		return names[type];
	return "UNKNOWN";
}

/* The reason codes are wire values (ERROR's code): their names live with the codec. */
DMAPIPE_EXPORT const char *dmapipe_error_code_to_string(enum dmapipe_error_code code)
{
	switch (code) {
	case DMAPIPE_ERR_NONE: return "none";
	case DMAPIPE_ERR_PROTOCOL: return "protocol";
	case DMAPIPE_ERR_VERSION: return "version";
	case DMAPIPE_ERR_PERMISSION: return "permission";
	case DMAPIPE_ERR_BAD_FD: return "bad-fd";
	case DMAPIPE_ERR_BAD_LAYOUT: return "bad-layout";
	case DMAPIPE_ERR_FD_QUOTA: return "fd-quota";
	case DMAPIPE_ERR_LEASE_TIMEOUT: return "lease-timeout";
	case DMAPIPE_ERR_TOO_MANY: return "too-many-consumers";
	case DMAPIPE_ERR_SHUTDOWN: return "shutdown";
	case DMAPIPE_ERR_STRICT: return "strict";
	case DMAPIPE_ERR_INTERNAL: return "internal";
	case DMAPIPE_ERR_LEASE_REVOKED: return "lease-revoked";
	case DMAPIPE_ERR_CONSTRAINTS: return "constraints-unmet";
	}
	return "unknown";
}

const char *dmapipe_error_code_name(uint32_t code, char *buf, size_t size)
{
	const char *name = dmapipe_error_code_to_string((enum dmapipe_error_code)code);

	if (strcmp(name, "unknown") != 0)
		return name;
	snprintf(buf, size, "unknown error %u", code);
	return buf;
}
