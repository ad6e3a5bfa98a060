/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Field-by-field equality of two decoded protocol messages, shared by
 * test-proto and the fuzz target. Compares what the wire carries: fields
 * the encoder never sends (format.reserved, meta.reserved) are ignored, and
 * strings compare up to their terminator.
 */
#ifndef DMAPIPE_TESTS_MSG_EQUAL_H
#define DMAPIPE_TESTS_MSG_EQUAL_H

#include <stdbool.h>
#include <string.h>

#include "stream/proto.h"

static inline bool msg_equal_str(const char *a, const char *b, size_t size)
{
	return strncmp(a, b, size) == 0;
}

static inline bool msg_equal_format(const struct dmapipe_format *a, const struct dmapipe_format *b)
{
	return a->fourcc == b->fourcc && a->width == b->width && a->height == b->height &&
	       a->modifier == b->modifier;
}

static inline bool msg_equal_layout(const struct dmapipe_layout *a, const struct dmapipe_layout *b)
{
	if (!msg_equal_format(&a->format, &b->format) || a->n_objects != b->n_objects ||
	    a->n_planes != b->n_planes)
		return false;
	if (a->n_objects > DMAPIPE_MAX_OBJECTS || a->n_planes > DMAPIPE_MAX_PLANES)
		return false;
	for (unsigned int i = 0; i < a->n_objects; i++)
		if (a->objects[i].fd != b->objects[i].fd || a->objects[i].kind != b->objects[i].kind ||
		    a->objects[i].size != b->objects[i].size)
			return false;
	for (unsigned int i = 0; i < a->n_planes; i++)
		if (a->planes[i].object != b->planes[i].object ||
		    a->planes[i].stride != b->planes[i].stride ||
		    a->planes[i].offset != b->planes[i].offset)
			return false;
	return true;
}

static inline bool msg_equal_meta(const struct dmapipe_frame_meta *a,
				  const struct dmapipe_frame_meta *b)
{
	return a->sequence == b->sequence && a->timestamp_ns == b->timestamp_ns &&
	       a->flags == b->flags && a->acquire_fence == b->acquire_fence &&
	       memcmp(a->bytes_used, b->bytes_used, sizeof(a->bytes_used)) == 0;
}

static inline bool msg_equal_server_stats(const struct dmapipe_server_stats *a,
					  const struct dmapipe_server_stats *b)
{
	return a->frames_queued == b->frames_queued && a->frames_dropped == b->frames_dropped &&
	       a->consumers_total == b->consumers_total &&
	       a->consumers_refused == b->consumers_refused &&
	       a->lease_timeouts == b->lease_timeouts && a->bytes_copied == b->bytes_copied &&
	       a->frames_copied == b->frames_copied && a->consumers == b->consumers &&
	       a->buffers == b->buffers && a->buffers_free == b->buffers_free &&
	       a->mem_kind == b->mem_kind && msg_equal_format(&a->format, &b->format) &&
	       msg_equal_str(a->allocator, b->allocator, sizeof(a->allocator));
}

static inline bool msg_equal_consumer_stats(const struct dmapipe_consumer_stats *a,
					    const struct dmapipe_consumer_stats *b)
{
	return a->id == b->id && a->pid == b->pid && a->uid == b->uid && a->policy == b->policy &&
	       a->queue_depth == b->queue_depth && a->leases_held == b->leases_held &&
	       a->queued == b->queued && a->state == b->state &&
	       a->frames_sent == b->frames_sent && a->frames_released == b->frames_released &&
	       a->frames_dropped == b->frames_dropped &&
	       a->oldest_lease_ns == b->oldest_lease_ns &&
	       msg_equal_str(a->name, b->name, sizeof(a->name));
}

static inline bool msg_equal(const struct dmapipe_msg *a, const struct dmapipe_msg *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case DMAPIPE_MSG_HELLO:
		return a->hello.version == b->hello.version &&
		       a->hello.min_version == b->hello.min_version &&
		       a->hello.role == b->hello.role && a->hello.features == b->hello.features &&
		       a->hello.policy == b->hello.policy &&
		       a->hello.queue_depth == b->hello.queue_depth &&
		       a->hello.max_in_flight == b->hello.max_in_flight &&
		       a->hello.lease_timeout_ms == b->hello.lease_timeout_ms &&
		       msg_equal_str(a->hello.name, b->hello.name, sizeof(a->hello.name));
	case DMAPIPE_MSG_FORMAT:
		return msg_equal_format(&a->format, &b->format);
	case DMAPIPE_MSG_ADD_BUFFER:
		return a->add_buffer.buffer_id == b->add_buffer.buffer_id &&
		       msg_equal_layout(&a->add_buffer.layout, &b->add_buffer.layout);
	case DMAPIPE_MSG_REMOVE_BUFFER:
		return a->remove_buffer_id == b->remove_buffer_id;
	case DMAPIPE_MSG_FRAME:
		return a->frame.buffer_id == b->frame.buffer_id &&
		       msg_equal_meta(&a->frame.meta, &b->frame.meta);
	case DMAPIPE_MSG_RELEASE:
		return a->release.buffer_id == b->release.buffer_id &&
		       a->release.sequence == b->release.sequence &&
		       a->release.release_fence == b->release.release_fence;
	case DMAPIPE_MSG_EOS:
		return a->eos_last_sequence == b->eos_last_sequence;
	case DMAPIPE_MSG_RING:
		return a->ring.kind == b->ring.kind && a->ring.capacity == b->ring.capacity &&
		       a->ring.fd == b->ring.fd;
	case DMAPIPE_MSG_ERROR:
		return a->error.code == b->error.code &&
		       msg_equal_str(a->error.message, b->error.message, sizeof(a->error.message));
	case DMAPIPE_MSG_STATS_REQUEST:
	case DMAPIPE_MSG_KEEPALIVE:
		return true;
	case DMAPIPE_MSG_CONSTRAINTS:
		return memcmp(&a->constraints, &b->constraints, sizeof(a->constraints)) == 0;
	case DMAPIPE_MSG_FORMAT_INFO:
		return memcmp(&a->format_info, &b->format_info, sizeof(a->format_info)) == 0;
	case DMAPIPE_MSG_STATS:
		if (!msg_equal_server_stats(&a->stats.server, &b->stats.server) ||
		    a->stats.n_consumers != b->stats.n_consumers ||
		    a->stats.n_consumers > DMAPIPE_PROTO_MAX_STATS)
			return false;
		for (unsigned int i = 0; i < a->stats.n_consumers; i++)
			if (!msg_equal_consumer_stats(&a->stats.consumers[i], &b->stats.consumers[i]))
				return false;
		return true;
	case DMAPIPE_MSG_RELEASES:
		if (a->releases.n_releases != b->releases.n_releases ||
		    a->releases.n_releases > DMAPIPE_PROTO_MAX_RELEASES)
			return false;
		for (unsigned int i = 0; i < a->releases.n_releases; i++)
			if (a->releases.releases[i].buffer_id != b->releases.releases[i].buffer_id ||
			    a->releases.releases[i].sequence != b->releases.releases[i].sequence)
				return false;
		return true;
	}
	return false;
}

/*
 * True if any int-aligned word of @msg equals one of @fds: after a failed
 * decode no fd may be referenced from the message.
 */
static inline bool msg_mentions_fd(const struct dmapipe_msg *msg, const int *fds, unsigned int n)
{
	const unsigned char *p = (const unsigned char *)msg;

	for (size_t off = 0; off + sizeof(int) <= sizeof(*msg); off += sizeof(int)) {
		int v;

		memcpy(&v, p + off, sizeof(v));
		for (unsigned int i = 0; i < n; i++)
			if (v == fds[i])
				return true;
	}
	return false;
}

#endif /* DMAPIPE_TESTS_MSG_EQUAL_H */
