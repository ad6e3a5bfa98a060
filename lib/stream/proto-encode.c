/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Wire protocol v1 codec, its encoder: a struct dmapipe_msg into one
 * datagram and the fds that go with it. Pure like the decoder (proto.c):
 * no I/O, no allocation, no logging, never closes an fd. Apart from the
 * decoder because it trusts its caller and only refuses what the decoder
 * would refuse (proto-private.h); the decoder trusts no one.
 *
 * Wire structs are assembled in locals and memcpy'd to the caller's
 * buffer, so it needs no alignment.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "proto.h"
#include "proto-private.h"
#include "private.h"

/* ---- host to wire ----------------------------------------------------- */

/* Copies a possibly unterminated string of at most @size bytes into a wire
 * array: truncated to size-1 characters, NUL-terminated, rest zeroed. */
static void put_string(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	memset(dst + n, 0, size - n);
}

static bool hello_valid(const struct dmapipe_msg_hello *h)
{
	if (!role_valid(h->role) || !policy_valid(h->policy))
		return false;
	if (h->role == DMAPIPE_ROLE_CONSUMER && h->policy == 0)
		return false;
	return h->min_version >= 1 && h->min_version <= h->version;
}

static void put_format(struct dmapipe_wire_format *w, const struct dmapipe_format *f)
{
	w->fourcc = htole32(f->fourcc);
	w->width = htole32(f->width);
	w->height = htole32(f->height);
	w->pad0 = 0;
	w->modifier = htole64(f->modifier);
}

static void put_format_info(struct dmapipe_wire_format_info *w,
			    const struct dmapipe_format_info *i)
{
	w->fps_num = htole32(i->fps_num);
	w->fps_den = htole32(i->fps_den);
	w->par_num = htole32(i->par_num);
	w->par_den = htole32(i->par_den);
	w->matrix = htole32(i->matrix);
	w->transfer = htole32(i->transfer);
	w->primaries = htole32(i->primaries);
	w->range = htole32(i->range);
	w->chroma_site = htole32(i->chroma_site);
	w->interlace = htole32(i->interlace);
	w->field_order = htole32(i->field_order);
	w->pad0 = 0;
}

static void put_constraints(struct dmapipe_wire_constraints *w,
			    const struct dmapipe_constraints *c)
{
	w->flags = htole32(c->flags);
	w->min_buffers = htole32(c->min_buffers);
	w->n_formats = htole32(c->n_formats);
	w->n_modifiers = htole32(c->n_modifiers);
	for (unsigned int i = 0; i < DMAPIPE_MAX_PLANES; i++) {
		w->stride_align[i] = htole32(c->stride_align[i]);
		w->offset_align[i] = htole32(c->offset_align[i]);
	}
	for (unsigned int i = 0; i < DMAPIPE_CONSTRAINTS_MAX_FORMATS; i++)
		w->formats[i] = htole32(c->formats[i]);
	for (unsigned int i = 0; i < DMAPIPE_CONSTRAINTS_MAX_MODIFIERS; i++)
		w->modifiers[i] = htole64(c->modifiers[i]);
	memcpy(w->import_device, c->import_device, sizeof(w->import_device));
}

/* ---- messages --------------------------------------------------------- */

static int encode_hello(const struct dmapipe_msg_hello *h, struct dmapipe_wire_hello *w)
{
	if (!hello_valid(h))
		return -EINVAL;
	w->magic = htole32(DMAPIPE_PROTO_MAGIC);
	w->version = htole16(h->version);
	w->min_version = htole16(h->min_version);
	w->role = htole32(h->role);
	w->features = htole32(h->features);
	w->policy = htole32(h->policy);
	w->queue_depth = htole32(h->queue_depth);
	w->max_in_flight = htole32(h->max_in_flight);
	w->lease_timeout_ms = htole32(h->lease_timeout_ms);
	put_string(w->name, h->name, sizeof(w->name));
	return 0;
}

static int encode_add_buffer(const struct dmapipe_msg_add_buffer *a,
			     struct dmapipe_wire_add_buffer *w, int *fds,
			     unsigned int *n_fds)
{
	const struct dmapipe_layout *l = &a->layout;

	if (l->n_objects < 1 || l->n_objects > DMAPIPE_MAX_OBJECTS ||
	    l->n_planes < 1 || l->n_planes > DMAPIPE_MAX_PLANES)
		return -EINVAL;
	for (uint32_t i = 0; i < l->n_objects; i++)
		if (l->objects[i].fd < 0 || !object_kind_valid(l->objects[i].kind))
			return -EINVAL;
	for (uint32_t i = 0; i < l->n_planes; i++)
		if (l->planes[i].object >= l->n_objects)
			return -EINVAL;
	if (!fds)
		return -EINVAL;

	w->buffer_id = htole32(a->buffer_id);
	w->n_objects = htole32(l->n_objects);
	w->n_planes = htole32(l->n_planes);
	put_format(&w->format, &l->format);
	for (uint32_t i = 0; i < l->n_objects; i++) {
		w->objects[i].size = htole64(l->objects[i].size);
		w->objects[i].kind = htole32(l->objects[i].kind);
		fds[i] = l->objects[i].fd;
	}
	for (uint32_t i = 0; i < l->n_planes; i++) {
		w->planes[i].object = htole32(l->planes[i].object);
		w->planes[i].stride = htole32(l->planes[i].stride);
		w->planes[i].offset = htole64(l->planes[i].offset);
	}
	*n_fds = l->n_objects;
	return 0;
}

static int encode_frame(const struct dmapipe_msg_frame *f, struct dmapipe_wire_frame *w,
			int *fds, unsigned int *n_fds)
{
	w->buffer_id = htole32(f->buffer_id);
	w->sequence = htole64(f->meta.sequence);
	w->timestamp_ns = htole64(f->meta.timestamp_ns);
	w->frame_flags = htole32(f->meta.flags);
	for (unsigned int i = 0; i < DMAPIPE_MAX_PLANES; i++)
		w->bytes_used[i] = htole64(f->meta.bytes_used[i]);
	if (f->meta.acquire_fence >= 0) {
		if (!fds)
			return -EINVAL;
		w->flags = htole32(DMAPIPE_WIRE_HAS_FENCE);
		fds[0] = f->meta.acquire_fence;
		*n_fds = 1;
	}
	return 0;
}

static int encode_release(const struct dmapipe_msg_release *r, struct dmapipe_wire_release *w,
			  int *fds, unsigned int *n_fds)
{
	w->buffer_id = htole32(r->buffer_id);
	w->sequence = htole64(r->sequence);
	if (r->release_fence >= 0) {
		if (!fds)
			return -EINVAL;
		w->flags = htole32(DMAPIPE_WIRE_HAS_FENCE);
		fds[0] = r->release_fence;
		*n_fds = 1;
	}
	return 0;
}

static int encode_ring(const struct dmapipe_msg_ring *r, struct dmapipe_wire_ring *w,
		       int *fds, unsigned int *n_fds)
{
	bool wake = r->kind == DMAPIPE_RING_MSG_WAKE;

	if (r->kind < DMAPIPE_RING_MSG_FRAMES || r->kind > DMAPIPE_RING_MSG_WAKE ||
	    wake != (r->capacity == 0) || wake != (r->fd < 0))
		return -EINVAL;
	w->kind = htole32(r->kind);
	w->capacity = htole32(r->capacity);
	if (!wake) {
		if (!fds)
			return -EINVAL;
		fds[0] = r->fd;
		*n_fds = 1;
	}
	return 0;
}

static int encode_releases(const struct dmapipe_msg_releases *r, unsigned char *body,
			   size_t room)
{
	struct dmapipe_wire_releases w = { 0 };
	size_t need;

	if (r->n_releases == 0 || r->n_releases > DMAPIPE_PROTO_MAX_RELEASES)
		return -EINVAL;
	need = sizeof(w) + r->n_releases * sizeof(struct dmapipe_wire_release_entry);
	if (need > room)
		return -ENOSPC;
	w.n_releases = htole32(r->n_releases);
	memcpy(body, &w, sizeof(w));
	body += sizeof(w);
	for (uint32_t i = 0; i < r->n_releases; i++) {
		struct dmapipe_wire_release_entry e = { 0 };

		e.buffer_id = htole32(r->releases[i].buffer_id);
		e.sequence = htole64(r->releases[i].sequence);
		memcpy(body, &e, sizeof(e));
		body += sizeof(e);
	}
	return (int)need;
}

static void encode_stats_server(const struct dmapipe_server_stats *s, uint32_t n_records,
				struct dmapipe_wire_stats_server *w)
{
	w->frames_queued = htole64(s->frames_queued);
	w->frames_dropped = htole64(s->frames_dropped);
	w->consumers_total = htole64(s->consumers_total);
	w->consumers_refused = htole64(s->consumers_refused);
	w->lease_timeouts = htole64(s->lease_timeouts);
	w->bytes_copied = htole64(s->bytes_copied);
	w->frames_copied = htole64(s->frames_copied);
	w->consumers = htole32(s->consumers);
	w->buffers = htole32(s->buffers);
	w->buffers_free = htole32(s->buffers_free);
	w->mem_kind = htole32(s->mem_kind);
	put_format(&w->format, &s->format);
	put_string(w->allocator, s->allocator, sizeof(w->allocator));
	w->n_records = htole32(n_records);
}

static void encode_stats_consumer(const struct dmapipe_consumer_stats *c,
				  struct dmapipe_wire_stats_consumer *w)
{
	w->id = htole32(c->id);
	w->pid = (int32_t)htole32((uint32_t)c->pid);
	w->uid = htole32(c->uid);
	w->policy = htole32(c->policy);
	w->queue_depth = htole32(c->queue_depth);
	w->leases_held = htole32(c->leases_held);
	w->queued = htole32(c->queued);
	w->state = htole32(c->state);
	w->frames_sent = htole64(c->frames_sent);
	w->frames_released = htole64(c->frames_released);
	w->frames_dropped = htole64(c->frames_dropped);
	w->oldest_lease_ns = htole64(c->oldest_lease_ns);
	put_string(w->name, c->name, sizeof(w->name));
}

static int encode_stats(const struct dmapipe_msg_stats *s, unsigned char *body, size_t room)
{
	struct dmapipe_wire_stats_server ws = { 0 };
	size_t need;

	if (s->n_consumers > DMAPIPE_PROTO_MAX_STATS || !stats_kind_valid(s->server.mem_kind))
		return -EINVAL;
	for (uint32_t i = 0; i < s->n_consumers; i++)
		if (!policy_valid(s->consumers[i].policy))
			return -EINVAL;
	need = sizeof(ws) + s->n_consumers * sizeof(struct dmapipe_wire_stats_consumer);
	if (need > room)
		return -ENOSPC;

	encode_stats_server(&s->server, s->n_consumers, &ws);
	memcpy(body, &ws, sizeof(ws));
	body += sizeof(ws);
	for (uint32_t i = 0; i < s->n_consumers; i++) {
		struct dmapipe_wire_stats_consumer wc = { 0 };

		encode_stats_consumer(&s->consumers[i], &wc);
		memcpy(body, &wc, sizeof(wc));
		body += sizeof(wc);
	}
	return (int)need;
}

int dmapipe_proto_encode(const struct dmapipe_msg *msg, void *buf, size_t size,
			 int *fds, unsigned int *n_fds)
{
	/* Large enough for every fixed-size body (STATS is written in place). */
	union {
		struct dmapipe_wire_hello hello;
		struct dmapipe_wire_format format;
		struct dmapipe_wire_add_buffer add_buffer;
		struct dmapipe_wire_buffer_id buffer_id;
		struct dmapipe_wire_frame frame;
		struct dmapipe_wire_release release;
		struct dmapipe_wire_eos eos;
		struct dmapipe_wire_error error;
		struct dmapipe_wire_format_info format_info;
		struct dmapipe_wire_constraints constraints;
		struct dmapipe_wire_ring ring;
	} body;
	struct dmapipe_wire_header hdr;
	unsigned char *out = buf;
	size_t body_size = 0;
	int ret = 0;

	if (!n_fds)
		return -EINVAL;
	*n_fds = 0;
	if (!msg || !buf)
		return -EINVAL;
	if (size < HDR_SIZE)
		return -ENOSPC;
	memset(&body, 0, sizeof(body));

	switch (msg->type) {
	case DMAPIPE_MSG_HELLO:
		ret = encode_hello(&msg->hello, &body.hello);
		body_size = sizeof(body.hello);
		break;
	case DMAPIPE_MSG_FORMAT:
		put_format(&body.format, &msg->format);
		body_size = sizeof(body.format);
		break;
	case DMAPIPE_MSG_ADD_BUFFER:
		ret = encode_add_buffer(&msg->add_buffer, &body.add_buffer, fds, n_fds);
		body_size = sizeof(body.add_buffer);
		break;
	case DMAPIPE_MSG_REMOVE_BUFFER:
		body.buffer_id.buffer_id = htole32(msg->remove_buffer_id);
		body_size = sizeof(body.buffer_id);
		break;
	case DMAPIPE_MSG_FRAME:
		ret = encode_frame(&msg->frame, &body.frame, fds, n_fds);
		body_size = sizeof(body.frame);
		break;
	case DMAPIPE_MSG_RELEASE:
		ret = encode_release(&msg->release, &body.release, fds, n_fds);
		body_size = sizeof(body.release);
		break;
	case DMAPIPE_MSG_EOS:
		body.eos.last_sequence = htole64(msg->eos_last_sequence);
		body_size = sizeof(body.eos);
		break;
	case DMAPIPE_MSG_ERROR:
		body.error.code = htole32(msg->error.code);
		put_string(body.error.message, msg->error.message, sizeof(body.error.message));
		body_size = sizeof(body.error);
		break;
	case DMAPIPE_MSG_STATS_REQUEST:
	case DMAPIPE_MSG_KEEPALIVE:
		break;
	case DMAPIPE_MSG_RING:
		ret = encode_ring(&msg->ring, &body.ring, fds, n_fds);
		body_size = sizeof(body.ring);
		break;
	case DMAPIPE_MSG_STATS:
		ret = encode_stats(&msg->stats, out + HDR_SIZE, size - HDR_SIZE);
		if (ret >= 0) {
			body_size = (size_t)ret;
			ret = 0;
		}
		break;
	case DMAPIPE_MSG_FORMAT_INFO:
		if (dmapipe_format_info_check(&msg->format_info, NULL) < 0)
			return -EINVAL;
		put_format_info(&body.format_info, &msg->format_info);
		body_size = sizeof(body.format_info);
		break;
	case DMAPIPE_MSG_CONSTRAINTS:
		if (dmapipe_constraints_check(&msg->constraints, NULL) < 0)
			return -EINVAL;
		put_constraints(&body.constraints, &msg->constraints);
		body_size = sizeof(body.constraints);
		break;
	case DMAPIPE_MSG_RELEASES:
		ret = encode_releases(&msg->releases, out + HDR_SIZE, size - HDR_SIZE);
		if (ret >= 0) {
			body_size = (size_t)ret;
			ret = 0;
		}
		break;
	default:
		return -EINVAL;
	}
	if (ret < 0)
		goto fail;
	if (HDR_SIZE + body_size > size) {
		ret = -ENOSPC;
		goto fail;
	}

	hdr.type = htole32((uint32_t)msg->type);
	hdr.size = htole32((uint32_t)(HDR_SIZE + body_size));
	memcpy(out, &hdr, sizeof(hdr));
	/* the variable-size bodies were written in place */
	if (msg->type != DMAPIPE_MSG_STATS && msg->type != DMAPIPE_MSG_RELEASES)
		memcpy(out + HDR_SIZE, &body, body_size);
	return (int)(HDR_SIZE + body_size);

fail:
	*n_fds = 0;
	return ret;
}
