/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Wire protocol v1 codec, its decoder: every datagram a peer sends is
 * checked here (sizes, padding, enums, strings, fd counts) before any
 * field is used. Pure: no I/O, no allocation, no logging, never closes an
 * fd. docs/PROTOCOL.md is the specification; fuzz-proto fuzzes this file.
 * The encoder is proto-encode.c, the names of types and error codes
 * proto-names.c.
 *
 * Wire structs are assembled in locals and memcpy'd to and from the
 * caller's buffer, so neither side needs to be aligned.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "proto.h"
#include "proto-private.h"
#include "private.h"

/* ---- wire to host ----------------------------------------------------- */

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

#define MEMBER_SIZE(m) sizeof(((struct dmapipe_msg *)0)->m)

/*
 * The size of the member of struct dmapipe_msg's union that @type
 * decodes into: only that much is cleared for a message, not the whole
 * union, which is as large as a STATS reply (5 KB: 83 cache lines, for
 * every FRAME or WAKE received).
 */
static size_t member_size_of(uint32_t type)
{
	switch (type) {
	case DMAPIPE_MSG_HELLO:
		return MEMBER_SIZE(hello);
	case DMAPIPE_MSG_FORMAT:
		return MEMBER_SIZE(format);
	case DMAPIPE_MSG_ADD_BUFFER:
		return MEMBER_SIZE(add_buffer);
	case DMAPIPE_MSG_REMOVE_BUFFER:
		return MEMBER_SIZE(remove_buffer_id);
	case DMAPIPE_MSG_FRAME:
		return MEMBER_SIZE(frame);
	case DMAPIPE_MSG_RELEASE:
		return MEMBER_SIZE(release);
	case DMAPIPE_MSG_RELEASES:
		return MEMBER_SIZE(releases);
	case DMAPIPE_MSG_RING:
		return MEMBER_SIZE(ring);
	case DMAPIPE_MSG_EOS:
		return MEMBER_SIZE(eos_last_sequence);
	case DMAPIPE_MSG_ERROR:
		return MEMBER_SIZE(error);
	case DMAPIPE_MSG_STATS:
		return MEMBER_SIZE(stats);
	case DMAPIPE_MSG_FORMAT_INFO:
		return MEMBER_SIZE(format_info);
	case DMAPIPE_MSG_CONSTRAINTS:
		return MEMBER_SIZE(constraints);
	default: /* STATS_REQUEST, KEEPALIVE: no body */
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
	/* every member of the union starts where .frame does */
	memset((char *)msg + offsetof(struct dmapipe_msg, frame), 0, member_size_of(type));
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
	/*
	 * Whatever fails below, msg names no fd: type 0 has no fd fields.
	 * decode_body() clears the member it fills; a failure clears it all.
	 */
	msg->type = 0;

	ret = -EPROTO;
	if (!data || len < HDR_SIZE) {
		*why = "datagram shorter than the message header";
		goto fail;
	}
	if (len > DMAPIPE_PROTO_MAX_MSG) {
		*why = "datagram larger than the protocol maximum";
		goto fail;
	}
	memcpy(&hdr, p, sizeof(hdr));
	if (le32toh(hdr.size) != len) {
		*why = "header size does not match the datagram size";
		goto fail;
	}

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
