/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Wire protocol v1 codec. Pure: no I/O, no allocation, no logging, never
 * closes an fd. docs/PROTOCOL.md is the specification.
 *
 * Wire structs are assembled in locals and memcpy'd to and from the
 * caller's buffer, so neither side needs to be aligned.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "private.h"

#define HDR_SIZE sizeof(struct dmapipe_wire_header)

/* ---- helpers ---------------------------------------------------------- */

static bool role_valid(uint32_t role)
{
	return role >= DMAPIPE_ROLE_PRODUCER && role <= DMAPIPE_ROLE_MONITOR;
}

/* 0 means "no policy": a monitor, a producer answering a monitor, or a
 * consumer still in its handshake (stats). */
static bool policy_valid(uint32_t policy)
{
	return policy <= DMAPIPE_POLICY_BLOCK;
}

static bool object_kind_valid(uint32_t kind)
{
	return kind == DMAPIPE_MEM_DMABUF || kind == DMAPIPE_MEM_MEMFD;
}

/* Stats report DMAPIPE_MEM_NONE while there are no buffers. */
static bool stats_kind_valid(uint32_t kind)
{
	return kind <= DMAPIPE_MEM_MEMFD;
}

/* Copies a possibly unterminated string of at most @size bytes into a wire
 * array: truncated to size-1 characters, NUL-terminated, rest zeroed. */
static void put_string(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	memset(dst + n, 0, size - n);
}

/* True if @src holds a NUL within @size bytes; then copies it into @dst
 * with everything after the terminator zeroed, so decoded messages are
 * canonical whatever the sender left there. */
static bool get_string(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size);

	if (n == size)
		return false;
	memcpy(dst, src, n);
	memset(dst + n, 0, size - n);
	return true;
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

static bool get_format(struct dmapipe_format *f, const struct dmapipe_wire_format *w)
{
	if (w->pad0)
		return false;
	f->fourcc = le32toh(w->fourcc);
	f->width = le32toh(w->width);
	f->height = le32toh(w->height);
	f->reserved = 0;
	f->modifier = le64toh(w->modifier);
	return true;
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

static void get_format_info(struct dmapipe_format_info *i, const struct dmapipe_wire_format_info *w)
{
	memset(i, 0, sizeof(*i));
	i->fps_num = le32toh(w->fps_num);
	i->fps_den = le32toh(w->fps_den);
	i->par_num = le32toh(w->par_num);
	i->par_den = le32toh(w->par_den);
	i->matrix = le32toh(w->matrix);
	i->transfer = le32toh(w->transfer);
	i->primaries = le32toh(w->primaries);
	i->range = le32toh(w->range);
	i->chroma_site = le32toh(w->chroma_site);
	i->interlace = le32toh(w->interlace);
	i->field_order = le32toh(w->field_order);
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

/* Raw: the caller checks the result with dmapipe_constraints_check(). */
static void get_constraints(struct dmapipe_constraints *c, const struct dmapipe_wire_constraints *w)
{
	memset(c, 0, sizeof(*c));
	c->flags = le32toh(w->flags);
	c->min_buffers = le32toh(w->min_buffers);
	c->n_formats = le32toh(w->n_formats);
	c->n_modifiers = le32toh(w->n_modifiers);
	for (unsigned int i = 0; i < DMAPIPE_MAX_PLANES; i++) {
		c->stride_align[i] = le32toh(w->stride_align[i]);
		c->offset_align[i] = le32toh(w->offset_align[i]);
	}
	for (unsigned int i = 0; i < DMAPIPE_CONSTRAINTS_MAX_FORMATS; i++)
		c->formats[i] = le32toh(w->formats[i]);
	for (unsigned int i = 0; i < DMAPIPE_CONSTRAINTS_MAX_MODIFIERS; i++)
		c->modifiers[i] = le64toh(w->modifiers[i]);
	memcpy(c->import_device, w->import_device, sizeof(c->import_device));
}

static bool is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* ---- encoder ---------------------------------------------------------- */

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

static int decode_ring(const unsigned char *p, struct dmapipe_msg_ring *r,
		       unsigned int *want_fds, const char **why)
{
	struct dmapipe_wire_ring w;

	memcpy(&w, p, sizeof(w));
	if (w.pad0 || w.pad1) {
		*why = "RING: nonzero padding";
		return -EPROTO;
	}
	r->kind = le32toh(w.kind);
	r->capacity = le32toh(w.capacity);
	r->fd = -1;
	if (r->kind < DMAPIPE_RING_MSG_FRAMES || r->kind > DMAPIPE_RING_MSG_WAKE) {
		*why = "RING: unknown kind";
		return -EPROTO;
	}
	if ((r->kind == DMAPIPE_RING_MSG_WAKE) != (r->capacity == 0)) {
		*why = "RING: a wake-up has no capacity, a ring has one";
		return -EPROTO;
	}
	*want_fds = r->kind == DMAPIPE_RING_MSG_WAKE ? 0 : 1;
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

/* ---- decoder ---------------------------------------------------------- */

#define FAIL(err, reason)			\
	do {					\
		*why = (reason);		\
		return (err);			\
	} while (0)

static int decode_hello(const unsigned char *p, struct dmapipe_msg_hello *h, const char **why)
{
	struct dmapipe_wire_hello w;

	memcpy(&w, p, sizeof(w));
	if (le32toh(w.magic) != DMAPIPE_PROTO_MAGIC)
		FAIL(-EPROTO, "HELLO: bad magic (not a dmapipe peer)");
	if (w.pad0 || w.pad1)
		FAIL(-EPROTO, "HELLO: nonzero padding");
	h->version = le16toh(w.version);
	h->min_version = le16toh(w.min_version);
	h->role = le32toh(w.role);
	h->features = le32toh(w.features);
	h->policy = le32toh(w.policy);
	h->queue_depth = le32toh(w.queue_depth);
	h->max_in_flight = le32toh(w.max_in_flight);
	h->lease_timeout_ms = le32toh(w.lease_timeout_ms);
	if (h->min_version == 0)
		FAIL(-EPROTO, "HELLO: min_version 0 (versions start at 1)");
	if (h->min_version > h->version)
		FAIL(-EPROTO, "HELLO: min_version above version");
	if (!role_valid(h->role))
		FAIL(-EPROTO, "HELLO: unknown role");
	if (!policy_valid(h->policy))
		FAIL(-EPROTO, "HELLO: unknown policy");
	if (h->role == DMAPIPE_ROLE_CONSUMER && h->policy == 0)
		FAIL(-EPROTO, "HELLO: consumer without a policy");
	if (!get_string(h->name, w.name, sizeof(w.name)))
		FAIL(-EPROTO, "HELLO: name not NUL-terminated");
	return 0;
}

static int decode_add_buffer(const unsigned char *p, struct dmapipe_msg_add_buffer *a,
			     const char **why)
{
	struct dmapipe_wire_add_buffer w;
	struct dmapipe_layout *l = &a->layout;
	uint32_t n_objects, n_planes;

	memcpy(&w, p, sizeof(w));
	n_objects = le32toh(w.n_objects);
	n_planes = le32toh(w.n_planes);
	if (w.pad0)
		FAIL(-EPROTO, "ADD_BUFFER: nonzero padding");
	if (n_objects < 1 || n_objects > DMAPIPE_MAX_OBJECTS)
		FAIL(-EPROTO, "ADD_BUFFER: n_objects not in 1..4");
	if (n_planes < 1 || n_planes > DMAPIPE_MAX_PLANES)
		FAIL(-EPROTO, "ADD_BUFFER: n_planes not in 1..4");
	if (!get_format(&l->format, &w.format))
		FAIL(-EPROTO, "ADD_BUFFER: nonzero padding in format");

	a->buffer_id = le32toh(w.buffer_id);
	l->n_objects = n_objects;
	l->n_planes = n_planes;
	for (uint32_t i = 0; i < DMAPIPE_MAX_OBJECTS; i++) {
		const struct dmapipe_wire_object *o = &w.objects[i];

		l->objects[i].fd = -1;
		if (i >= n_objects) {
			if (!is_zero(o, sizeof(*o)))
				FAIL(-EPROTO, "ADD_BUFFER: unused object slot not zero");
			continue;
		}
		if (o->pad0)
			FAIL(-EPROTO, "ADD_BUFFER: nonzero padding in object");
		l->objects[i].kind = le32toh(o->kind);
		l->objects[i].size = le64toh(o->size);
		if (!object_kind_valid(l->objects[i].kind))
			FAIL(-EPROTO, "ADD_BUFFER: unknown memory kind");
	}
	for (uint32_t i = 0; i < DMAPIPE_MAX_PLANES; i++) {
		const struct dmapipe_wire_plane *pl = &w.planes[i];

		if (i >= n_planes) {
			if (!is_zero(pl, sizeof(*pl)))
				FAIL(-EPROTO, "ADD_BUFFER: unused plane slot not zero");
			continue;
		}
		l->planes[i].object = le32toh(pl->object);
		l->planes[i].stride = le32toh(pl->stride);
		l->planes[i].offset = le64toh(pl->offset);
		if (l->planes[i].object >= n_objects)
			FAIL(-EPROTO, "ADD_BUFFER: plane refers to a missing object");
	}
	return 0;
}

static int decode_frame(const unsigned char *p, struct dmapipe_msg_frame *f,
			unsigned int *want_fds, const char **why)
{
	struct dmapipe_wire_frame w;
	uint32_t flags;

	memcpy(&w, p, sizeof(w));
	flags = le32toh(w.flags);
	if (flags & ~DMAPIPE_WIRE_HAS_FENCE)
		FAIL(-EPROTO, "FRAME: unknown wire flags");
	if (w.pad0)
		FAIL(-EPROTO, "FRAME: nonzero padding");
	f->buffer_id = le32toh(w.buffer_id);
	f->meta.sequence = le64toh(w.sequence);
	f->meta.timestamp_ns = le64toh(w.timestamp_ns);
	/* Unknown frame flags are informational and passed on. */
	f->meta.flags = le32toh(w.frame_flags);
	f->meta.reserved = 0;
	for (unsigned int i = 0; i < DMAPIPE_MAX_PLANES; i++)
		f->meta.bytes_used[i] = le64toh(w.bytes_used[i]);
	f->meta.acquire_fence = -1;
	*want_fds = (flags & DMAPIPE_WIRE_HAS_FENCE) ? 1 : 0;
	return 0;
}

static int decode_release(const unsigned char *p, struct dmapipe_msg_release *r,
			  unsigned int *want_fds, const char **why)
{
	struct dmapipe_wire_release w;
	uint32_t flags;

	memcpy(&w, p, sizeof(w));
	flags = le32toh(w.flags);
	if (flags & ~DMAPIPE_WIRE_HAS_FENCE)
		FAIL(-EPROTO, "RELEASE: unknown wire flags");
	r->buffer_id = le32toh(w.buffer_id);
	r->sequence = le64toh(w.sequence);
	r->release_fence = -1;
	*want_fds = (flags & DMAPIPE_WIRE_HAS_FENCE) ? 1 : 0;
	return 0;
}

static int decode_releases(const unsigned char *p, size_t body_len,
			   struct dmapipe_msg_releases *r, const char **why)
{
	struct dmapipe_wire_releases w;
	uint32_t n;

	if (body_len < sizeof(w))
		FAIL(-EPROTO, "RELEASES: shorter than its fixed part");
	memcpy(&w, p, sizeof(w));
	n = le32toh(w.n_releases);
	if (n == 0 || n > DMAPIPE_PROTO_MAX_RELEASES)
		FAIL(-EPROTO, "RELEASES: count outside 1..64");
	if (body_len != sizeof(w) + n * sizeof(struct dmapipe_wire_release_entry))
		FAIL(-EPROTO, "RELEASES: size does not match n_releases");
	if (w.pad0)
		FAIL(-EPROTO, "RELEASES: nonzero padding");
	p += sizeof(w);
	r->n_releases = n;
	for (uint32_t i = 0; i < n; i++) {
		struct dmapipe_wire_release_entry e;

		memcpy(&e, p, sizeof(e));
		p += sizeof(e);
		if (e.pad0)
			FAIL(-EPROTO, "RELEASES: nonzero padding in an entry");
		r->releases[i].buffer_id = le32toh(e.buffer_id);
		r->releases[i].sequence = le64toh(e.sequence);
	}
	return 0;
}

static int decode_format_info(const unsigned char *p, struct dmapipe_format_info *i,
			      const char **why)
{
	struct dmapipe_wire_format_info w;

	memcpy(&w, p, sizeof(w));
	if (w.pad0)
		FAIL(-EPROTO, "FORMAT_INFO: nonzero padding");
	get_format_info(i, &w);
	/* no unknown values pass: a newer enum value comes with a newer feature bit */
	if (dmapipe_format_info_check(i, NULL) < 0)
		FAIL(-EPROTO, "FORMAT_INFO: a value outside the protocol");
	return 0;
}

static int decode_constraints(const unsigned char *p, struct dmapipe_constraints *c,
			      const char **why)
{
	struct dmapipe_wire_constraints w;
	const char *bad;

	memcpy(&w, p, sizeof(w));
	get_constraints(c, &w);
	if (dmapipe_constraints_check(c, &bad) < 0) {
		/* the reason is static, and worth passing on to the consumer */
		*why = bad;
		return -EPROTO;
	}
	return 0;
}

static int decode_error(const unsigned char *p, struct dmapipe_msg_error *e, const char **why)
{
	struct dmapipe_wire_error w;

	memcpy(&w, p, sizeof(w));
	if (w.pad0)
		FAIL(-EPROTO, "ERROR: nonzero padding");
	/* Unknown codes are allowed: a newer peer may know more reasons. */
	e->code = le32toh(w.code);
	if (!get_string(e->message, w.message, sizeof(w.message)))
		FAIL(-EPROTO, "ERROR: message not NUL-terminated");
	return 0;
}

static int decode_stats(const unsigned char *p, size_t body_len, struct dmapipe_msg_stats *s,
			const char **why)
{
	struct dmapipe_wire_stats_server w;
	struct dmapipe_server_stats *ss = &s->server;
	uint32_t n;

	if (body_len < sizeof(w))
		FAIL(-EPROTO, "STATS: shorter than its fixed part");
	memcpy(&w, p, sizeof(w));
	n = le32toh(w.n_records);
	if (n > DMAPIPE_PROTO_MAX_STATS)
		FAIL(-EPROTO, "STATS: too many consumer records");
	if (body_len != sizeof(w) + n * sizeof(struct dmapipe_wire_stats_consumer))
		FAIL(-EPROTO, "STATS: size does not match n_records");
	if (w.pad0)
		FAIL(-EPROTO, "STATS: nonzero padding");
	if (!get_format(&ss->format, &w.format))
		FAIL(-EPROTO, "STATS: nonzero padding in format");
	ss->frames_queued = le64toh(w.frames_queued);
	ss->frames_dropped = le64toh(w.frames_dropped);
	ss->consumers_total = le64toh(w.consumers_total);
	ss->consumers_refused = le64toh(w.consumers_refused);
	ss->lease_timeouts = le64toh(w.lease_timeouts);
	ss->bytes_copied = le64toh(w.bytes_copied);
	ss->frames_copied = le64toh(w.frames_copied);
	ss->consumers = le32toh(w.consumers);
	ss->buffers = le32toh(w.buffers);
	ss->buffers_free = le32toh(w.buffers_free);
	ss->mem_kind = le32toh(w.mem_kind);
	if (!stats_kind_valid(ss->mem_kind))
		FAIL(-EPROTO, "STATS: unknown memory kind");
	if (!get_string(ss->allocator, w.allocator, sizeof(w.allocator)))
		FAIL(-EPROTO, "STATS: allocator name not NUL-terminated");

	p += sizeof(w);
	s->n_consumers = n;
	for (uint32_t i = 0; i < n; i++) {
		struct dmapipe_wire_stats_consumer wc;
		struct dmapipe_consumer_stats *c = &s->consumers[i];

		memcpy(&wc, p, sizeof(wc));
		p += sizeof(wc);
		c->id = le32toh(wc.id);
		c->pid = (int32_t)le32toh((uint32_t)wc.pid);
		c->uid = le32toh(wc.uid);
		c->policy = le32toh(wc.policy);
		c->queue_depth = le32toh(wc.queue_depth);
		c->leases_held = le32toh(wc.leases_held);
		c->queued = le32toh(wc.queued);
		c->state = le32toh(wc.state);
		c->frames_sent = le64toh(wc.frames_sent);
		c->frames_released = le64toh(wc.frames_released);
		c->frames_dropped = le64toh(wc.frames_dropped);
		c->oldest_lease_ns = le64toh(wc.oldest_lease_ns);
		if (!policy_valid(c->policy))
			FAIL(-EPROTO, "STATS: unknown policy in a consumer record");
		if (!get_string(c->name, wc.name, sizeof(wc.name)))
			FAIL(-EPROTO, "STATS: consumer name not NUL-terminated");
	}
	return 0;
}

/* The exact body size of each fixed-size type; 0 for an unknown type. */
static size_t body_size_of(uint32_t type, bool *known)
{
	*known = true;
	switch (type) {
	case DMAPIPE_MSG_HELLO:
		return sizeof(struct dmapipe_wire_hello);
	case DMAPIPE_MSG_FORMAT:
		return sizeof(struct dmapipe_wire_format);
	case DMAPIPE_MSG_ADD_BUFFER:
		return sizeof(struct dmapipe_wire_add_buffer);
	case DMAPIPE_MSG_REMOVE_BUFFER:
		return sizeof(struct dmapipe_wire_buffer_id);
	case DMAPIPE_MSG_FRAME:
		return sizeof(struct dmapipe_wire_frame);
	case DMAPIPE_MSG_RELEASE:
		return sizeof(struct dmapipe_wire_release);
	case DMAPIPE_MSG_EOS:
		return sizeof(struct dmapipe_wire_eos);
	case DMAPIPE_MSG_ERROR:
		return sizeof(struct dmapipe_wire_error);
	case DMAPIPE_MSG_FORMAT_INFO:
		return sizeof(struct dmapipe_wire_format_info);
	case DMAPIPE_MSG_CONSTRAINTS:
		return sizeof(struct dmapipe_wire_constraints);
	case DMAPIPE_MSG_RING:
		return sizeof(struct dmapipe_wire_ring);
	case DMAPIPE_MSG_STATS_REQUEST:
	case DMAPIPE_MSG_KEEPALIVE:
	case DMAPIPE_MSG_STATS: /* variable: checked by decode_stats() */
	case DMAPIPE_MSG_RELEASES: /* variable: checked by decode_releases() */
		return 0;
	default:
		*known = false;
		return 0;
	}
}

static int decode_body(const unsigned char *p, size_t body_len, uint32_t type,
		       struct dmapipe_msg *msg, unsigned int *want_fds, const char **why)
{
	struct dmapipe_wire_buffer_id wb;
	struct dmapipe_wire_eos we;
	struct dmapipe_wire_format wf;
	bool known;
	size_t expect = body_size_of(type, &known);

	if (!known)
		FAIL(-EPROTO, "unknown message type");
	if (type != DMAPIPE_MSG_STATS && type != DMAPIPE_MSG_RELEASES && body_len != expect)
		FAIL(-EPROTO, "message size does not match its type");

	*want_fds = 0;
	msg->type = (enum dmapipe_msg_type)type;
	switch (type) {
	case DMAPIPE_MSG_HELLO:
		return decode_hello(p, &msg->hello, why);
	case DMAPIPE_MSG_FORMAT:
		memcpy(&wf, p, sizeof(wf));
		if (!get_format(&msg->format, &wf))
			FAIL(-EPROTO, "FORMAT: nonzero padding");
		return 0;
	case DMAPIPE_MSG_ADD_BUFFER: {
		int ret = decode_add_buffer(p, &msg->add_buffer, why);

		*want_fds = msg->add_buffer.layout.n_objects;
		return ret;
	}
	case DMAPIPE_MSG_REMOVE_BUFFER:
		memcpy(&wb, p, sizeof(wb));
		if (wb.pad0)
			FAIL(-EPROTO, "REMOVE_BUFFER: nonzero padding");
		msg->remove_buffer_id = le32toh(wb.buffer_id);
		return 0;
	case DMAPIPE_MSG_FRAME:
		return decode_frame(p, &msg->frame, want_fds, why);
	case DMAPIPE_MSG_RELEASE:
		return decode_release(p, &msg->release, want_fds, why);
	case DMAPIPE_MSG_EOS:
		memcpy(&we, p, sizeof(we));
		msg->eos_last_sequence = le64toh(we.last_sequence);
		return 0;
	case DMAPIPE_MSG_ERROR:
		return decode_error(p, &msg->error, why);
	case DMAPIPE_MSG_RING:
		return decode_ring(p, &msg->ring, want_fds, why);
	case DMAPIPE_MSG_STATS_REQUEST:
	case DMAPIPE_MSG_KEEPALIVE:
		return 0;
	case DMAPIPE_MSG_STATS:
		return decode_stats(p, body_len, &msg->stats, why);
	case DMAPIPE_MSG_RELEASES:
		return decode_releases(p, body_len, &msg->releases, why);
	case DMAPIPE_MSG_FORMAT_INFO:
		return decode_format_info(p, &msg->format_info, why);
	case DMAPIPE_MSG_CONSTRAINTS:
		return decode_constraints(p, &msg->constraints, why);
	}
	FAIL(-EPROTO, "unknown message type");
}

int dmapipe_proto_decode(const void *data, size_t len, const int *fds, unsigned int n_fds,
			 struct dmapipe_msg *msg, const char **why)
{
	const unsigned char *p = data;
	struct dmapipe_wire_header hdr;
	const char *dummy;
	unsigned int want_fds = 0;
	int ret;

	if (!why)
		why = &dummy;
	*why = NULL;
	/* Whatever fails below, msg names no fd: type 0 has no fd fields. */
	memset(msg, 0, sizeof(*msg));

	if (!data || len < HDR_SIZE)
		FAIL(-EPROTO, "datagram shorter than the message header");
	if (len > DMAPIPE_PROTO_MAX_MSG)
		FAIL(-EPROTO, "datagram larger than the protocol maximum");
	memcpy(&hdr, p, sizeof(hdr));
	if (le32toh(hdr.size) != len)
		FAIL(-EPROTO, "header size does not match the datagram size");

	ret = decode_body(p + HDR_SIZE, len - HDR_SIZE, le32toh(hdr.type), msg, &want_fds, why);
	if (ret < 0)
		goto fail;

	if (n_fds != want_fds) {
		*why = n_fds > want_fds ? "more fds attached than the message declares"
					: "fewer fds attached than the message declares";
		ret = -EBADMSG;
		goto fail;
	}
	for (unsigned int i = 0; i < n_fds; i++) {
		if (!fds || fds[i] < 0) {
			*why = "negative fd passed to the decoder";
			ret = -EBADMSG;
			goto fail;
		}
	}

	/* Only now, with everything checked, does msg take the fds. */
	switch (msg->type) {
	case DMAPIPE_MSG_ADD_BUFFER:
		for (unsigned int i = 0; i < n_fds; i++)
			msg->add_buffer.layout.objects[i].fd = fds[i];
		break;
	case DMAPIPE_MSG_FRAME:
		if (n_fds)
			msg->frame.meta.acquire_fence = fds[0];
		break;
	case DMAPIPE_MSG_RELEASE:
		if (n_fds)
			msg->release.release_fence = fds[0];
		break;
	case DMAPIPE_MSG_RING:
		if (n_fds)
			msg->ring.fd = fds[0];
		break;
	default:
		break;
	}
	return 0;

fail:
	memset(msg, 0, sizeof(*msg));
	return ret;
}

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
