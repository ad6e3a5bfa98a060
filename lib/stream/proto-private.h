/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the wire codec's encoder (proto-encode.c) and decoder (proto.c)
 * must agree on beyond proto.h: the header size and which enum values
 * are valid on the wire. Both refuse the same values, so that nothing
 * the encoder writes is refused by the decoder and back.
 */
#ifndef DMAPIPE_PROTO_PRIVATE_H
#define DMAPIPE_PROTO_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

#define HDR_SIZE sizeof(struct dmapipe_wire_header)

static inline bool role_valid(uint32_t role)
{
	return role >= DMAPIPE_ROLE_PRODUCER && role <= DMAPIPE_ROLE_MONITOR;
}

/* 0 means "no policy": a monitor, a producer answering a monitor, or a
 * consumer still in its handshake (stats). */
static inline bool policy_valid(uint32_t policy)
{
	return policy <= DMAPIPE_POLICY_BLOCK;
}

static inline bool object_kind_valid(uint32_t kind)
{
	return kind == DMAPIPE_MEM_DMABUF || kind == DMAPIPE_MEM_MEMFD;
}

/* Stats report DMAPIPE_MEM_NONE while there are no buffers. */
static inline bool stats_kind_valid(uint32_t kind)
{
	return kind <= DMAPIPE_MEM_MEMFD;
}

#endif /* DMAPIPE_PROTO_PRIVATE_H */
