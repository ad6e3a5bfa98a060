/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The names of the consumer policies and of the peer policies, as
 * command lines and configuration files write them ("queue:4", "uid:1000"),
 * read and printed in one place.
 */
#include "config.h"

#include <string.h>

#include "private.h"

/* The deepest queue a policy string may ask for (the server caps it lower). */
#define MAX_DEPTH 64
/* "queue" and "block" without a depth */
#define DEFAULT_DEPTH 4

/* A whole decimal number up to @max: digits only, no sign, no space. */
static bool parse_number(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

DMAPIPE_EXPORT int dmapipe_policy_from_string(const char *string, enum dmapipe_policy *policy,
					      uint32_t *queue_depth)
{
	const char *colon;
	enum dmapipe_policy p;
	uint32_t depth = DEFAULT_DEPTH;
	size_t len;

	if (!string)
		return -EINVAL;
	colon = strchr(string, ':');
	len = colon ? (size_t)(colon - string) : strlen(string);
	if (len == 6 && strncmp(string, "latest", 6) == 0 && !colon) {
		*policy = DMAPIPE_POLICY_LATEST;
		return 0;
	}
	if (len == 5 && strncmp(string, "queue", 5) == 0)
		p = DMAPIPE_POLICY_QUEUE;
	else if (len == 5 && strncmp(string, "block", 5) == 0)
		p = DMAPIPE_POLICY_BLOCK;
	else
		return -EINVAL;
	if (colon && (!parse_number(colon + 1, MAX_DEPTH, &depth) || depth == 0))
		return -ERANGE;
	*policy = p;
	*queue_depth = depth;
	return 0;
}

DMAPIPE_EXPORT const char *dmapipe_policy_to_string(enum dmapipe_policy policy)
{
	switch (policy) {
	case DMAPIPE_POLICY_LATEST:
		return "latest";
	case DMAPIPE_POLICY_QUEUE:
		return "queue";
	case DMAPIPE_POLICY_BLOCK:
		return "block";
	}
	return "unknown";
}

DMAPIPE_EXPORT int dmapipe_peer_policy_from_string(const char *string,
						   enum dmapipe_peer_policy *policy,
						   uid_t *uid, gid_t *gid)
{
	uint32_t id;

	if (!string)
		return -EINVAL;
	if (strcmp(string, "same-uid") == 0) {
		*policy = DMAPIPE_PEER_SAME_UID;
	} else if (strcmp(string, "any") == 0) {
		*policy = DMAPIPE_PEER_ANY;
	} else if (strncmp(string, "uid:", 4) == 0 && parse_number(string + 4, UINT32_MAX, &id)) {
		*policy = DMAPIPE_PEER_UID;
		*uid = (uid_t)id;
	} else if (strncmp(string, "gid:", 4) == 0 && parse_number(string + 4, UINT32_MAX, &id)) {
		*policy = DMAPIPE_PEER_GID;
		*gid = (gid_t)id;
	} else {
		return -EINVAL;
	}
	return 0;
}
