/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Wire protocol v1: message layouts and a pure encoder/decoder.
 *
 * docs/PROTOCOL.md is the specification; this header must agree with it.
 * Every message is one SOCK_SEQPACKET datagram: an 8-byte header followed by
 * a fixed-size body. All integers are little-endian; every padding field is
 * zero on send and checked to be zero on receive. fds travel as SCM_RIGHTS
 * ancillary data of the same datagram.
 *
 * The codec does no I/O: bytes and fds in, structs out. It never closes an
 * fd; the caller owns the fds it passed in and those the decoder put into
 * a message.
 */
#ifndef DMAPIPE_PROTO_H
#define DMAPIPE_PROTO_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dmapipe/format.h"

#define DMAPIPE_PROTO_MAGIC 0x50504d44u /* "DMPP" little-endian */
#define DMAPIPE_PROTO_VERSION 1
/** The largest datagram the protocol defines; receive buffers use this. */
#define DMAPIPE_PROTO_MAX_MSG 4096
/** The most fds one message may carry (ADD_BUFFER: one per object). */
#define DMAPIPE_PROTO_MAX_FDS DMAPIPE_MAX_OBJECTS
#define DMAPIPE_PROTO_NAME_LEN 32
#define DMAPIPE_PROTO_ERROR_LEN 128
/** Consumer records in one STATS message. */
#define DMAPIPE_PROTO_MAX_STATS 32

enum dmapipe_msg_type {
	DMAPIPE_MSG_HELLO = 1,
	DMAPIPE_MSG_FORMAT = 2,
	DMAPIPE_MSG_ADD_BUFFER = 3,
	DMAPIPE_MSG_REMOVE_BUFFER = 4,
	DMAPIPE_MSG_FRAME = 5,
	DMAPIPE_MSG_RELEASE = 6,
	DMAPIPE_MSG_EOS = 7,
	DMAPIPE_MSG_ERROR = 8,
	DMAPIPE_MSG_STATS_REQUEST = 9,
	DMAPIPE_MSG_STATS = 10,
	DMAPIPE_MSG_RELEASES = 11, /* only with DMAPIPE_FEATURE_RELEASES */
	DMAPIPE_MSG_KEEPALIVE = 12, /* only with DMAPIPE_FEATURE_KEEPALIVE */
	DMAPIPE_MSG_FORMAT_INFO = 13, /* only with DMAPIPE_FEATURE_FORMAT_INFO */
	DMAPIPE_MSG_CONSTRAINTS = 14, /* only with DMAPIPE_FEATURE_CONSTRAINTS */
	DMAPIPE_MSG_RING = 15,     /* only with DMAPIPE_FEATURE_RINGS: a ring, or a wake-up */
};

enum dmapipe_role {
	DMAPIPE_ROLE_PRODUCER = 1,
	DMAPIPE_ROLE_CONSUMER = 2,
	DMAPIPE_ROLE_MONITOR = 3, /* stats only: never sent fds or frames */
};

/* Feature bits of HELLO. A peer uses a feature only if both sides set it. */
#define DMAPIPE_FEATURE_FENCES   (1u << 0) /* acquire/release sync_file fds */
#define DMAPIPE_FEATURE_MEMFD    (1u << 1) /* consumer accepts sealed memfds */
#define DMAPIPE_FEATURE_STATS    (1u << 2) /* STATS_REQUEST answered */
#define DMAPIPE_FEATURE_RELEASES (1u << 3) /* RELEASES: several leases returned at once */
#define DMAPIPE_FEATURE_KEEPALIVE (1u << 4) /* KEEPALIVE: held leases are still in use */
/* FORMAT_INFO after every FORMAT: rate, colorimetry, siting, fields, PAR */
#define DMAPIPE_FEATURE_FORMAT_INFO (1u << 5)
/* CONSTRAINTS: the consumer says what its buffers must satisfy */
#define DMAPIPE_FEATURE_CONSTRAINTS (1u << 6)
#define DMAPIPE_FEATURE_RINGS    (1u << 7) /* frames and releases in shared-memory rings */
#define DMAPIPE_FEATURES_ALL     (DMAPIPE_FEATURE_FENCES | DMAPIPE_FEATURE_MEMFD | \
				  DMAPIPE_FEATURE_STATS | DMAPIPE_FEATURE_RELEASES | \
				  DMAPIPE_FEATURE_KEEPALIVE | DMAPIPE_FEATURE_FORMAT_INFO | \
				  DMAPIPE_FEATURE_CONSTRAINTS | DMAPIPE_FEATURE_RINGS)

/* RING kinds: the first two carry the ring's memfd, WAKE carries nothing */
#define DMAPIPE_RING_MSG_FRAMES   1u /* producer -> consumer: the frames ring */
#define DMAPIPE_RING_MSG_RELEASES 2u /* consumer -> producer: the releases ring */
#define DMAPIPE_RING_MSG_WAKE     3u /* either way: the ring you sleep on has news */

/** Leases one RELEASES message returns, at most. */
#define DMAPIPE_PROTO_MAX_RELEASES 64

/* FRAME / RELEASE flags (wire) */
#define DMAPIPE_WIRE_HAS_FENCE (1u << 0)

/* ---- wire layouts (little-endian) ----------------------------------- */

struct dmapipe_wire_header {
	uint32_t type;
	uint32_t size; /* of the whole datagram, header included */
};
static_assert(sizeof(struct dmapipe_wire_header) == 8, "wire header size");

struct dmapipe_wire_hello {
	uint32_t magic;
	uint16_t version;       /* DMAPIPE_PROTO_VERSION */
	uint16_t min_version;   /* oldest version the sender speaks */
	uint32_t role;
	uint32_t features;
	uint32_t policy;        /* consumer: requested (1..3); producer: granted; monitor: 0 */
	uint32_t queue_depth;
	uint32_t max_in_flight;
	uint32_t lease_timeout_ms; /* producer: the timeout that applies */
	uint32_t pad0;
	uint32_t pad1;
	char name[DMAPIPE_PROTO_NAME_LEN]; /* NUL-terminated */
};
static_assert(sizeof(struct dmapipe_wire_hello) == 72, "HELLO size");

struct dmapipe_wire_format {
	uint32_t fourcc;
	uint32_t width;
	uint32_t height;
	uint32_t pad0;
	uint64_t modifier;
};
static_assert(sizeof(struct dmapipe_wire_format) == 24, "FORMAT size");

/* FORMAT_INFO: struct dmapipe_format_info, field for field */
struct dmapipe_wire_format_info {
	uint32_t fps_num;
	uint32_t fps_den;
	uint32_t par_num;
	uint32_t par_den;
	uint32_t matrix;
	uint32_t transfer;
	uint32_t primaries;
	uint32_t range;
	uint32_t chroma_site;
	uint32_t interlace;
	uint32_t field_order;
	uint32_t pad0;
};
static_assert(sizeof(struct dmapipe_wire_format_info) == 48, "FORMAT_INFO size");

/* CONSTRAINTS: struct dmapipe_constraints without its reserved fields */
struct dmapipe_wire_constraints {
	uint32_t flags;
	uint32_t min_buffers;
	uint32_t n_formats;
	uint32_t n_modifiers;
	uint32_t stride_align[DMAPIPE_MAX_PLANES];
	uint32_t offset_align[DMAPIPE_MAX_PLANES];
	uint32_t formats[DMAPIPE_CONSTRAINTS_MAX_FORMATS];
	uint64_t modifiers[DMAPIPE_CONSTRAINTS_MAX_MODIFIERS];
	char import_device[DMAPIPE_CONSTRAINTS_DEVICE_LEN]; /* NUL-terminated */
};
static_assert(sizeof(struct dmapipe_wire_constraints) == 208, "CONSTRAINTS size");

struct dmapipe_wire_object {
	uint64_t size;
	uint32_t kind; /* enum dmapipe_mem_kind */
	uint32_t pad0;
};
static_assert(sizeof(struct dmapipe_wire_object) == 16, "object size");

struct dmapipe_wire_plane {
	uint32_t object;
	uint32_t stride;
	uint64_t offset;
};
static_assert(sizeof(struct dmapipe_wire_plane) == 16, "plane size");

struct dmapipe_wire_add_buffer {
	uint32_t buffer_id;
	uint32_t n_objects; /* == number of fds attached */
	uint32_t n_planes;
	uint32_t pad0;
	struct dmapipe_wire_format format;
	struct dmapipe_wire_object objects[DMAPIPE_MAX_OBJECTS];
	struct dmapipe_wire_plane planes[DMAPIPE_MAX_PLANES];
};
static_assert(sizeof(struct dmapipe_wire_add_buffer) == 168, "ADD_BUFFER size");

struct dmapipe_wire_buffer_id {
	uint32_t buffer_id;
	uint32_t pad0;
};
static_assert(sizeof(struct dmapipe_wire_buffer_id) == 8, "REMOVE_BUFFER size");

struct dmapipe_wire_frame {
	uint32_t buffer_id;
	uint32_t flags;     /* DMAPIPE_WIRE_HAS_FENCE: one fd attached */
	uint64_t sequence;
	uint64_t timestamp_ns;
	uint32_t frame_flags; /* enum dmapipe_frame_flags */
	uint32_t pad0;
	uint64_t bytes_used[DMAPIPE_MAX_PLANES];
};
static_assert(sizeof(struct dmapipe_wire_frame) == 64, "FRAME size");

struct dmapipe_wire_release {
	uint32_t buffer_id;
	uint32_t flags;     /* DMAPIPE_WIRE_HAS_FENCE: one fd attached */
	uint64_t sequence;  /* of the frame being released */
};
static_assert(sizeof(struct dmapipe_wire_release) == 16, "RELEASE size");

/* RELEASES: this fixed part, then n_releases entries */
struct dmapipe_wire_releases {
	uint32_t n_releases; /* 1..DMAPIPE_PROTO_MAX_RELEASES */
	uint32_t pad0;
};
static_assert(sizeof(struct dmapipe_wire_releases) == 8, "RELEASES fixed part size");

struct dmapipe_wire_release_entry {
	uint32_t buffer_id;
	uint32_t pad0;      /* no flags: a fenced release travels as RELEASE */
	uint64_t sequence;
};
static_assert(sizeof(struct dmapipe_wire_release_entry) == 16, "RELEASES entry size");
static_assert(sizeof(struct dmapipe_wire_header) + sizeof(struct dmapipe_wire_releases) +
	      DMAPIPE_PROTO_MAX_RELEASES * sizeof(struct dmapipe_wire_release_entry) <=
	      DMAPIPE_PROTO_MAX_MSG, "RELEASES fits the largest message");

struct dmapipe_wire_ring {
	uint32_t kind;     /* DMAPIPE_RING_MSG_* */
	uint32_t capacity; /* slots (FRAMES, RELEASES); 0 for WAKE */
	uint32_t pad0;
	uint32_t pad1;
};
static_assert(sizeof(struct dmapipe_wire_ring) == 16, "RING size");

struct dmapipe_wire_eos {
	uint64_t last_sequence;
};
static_assert(sizeof(struct dmapipe_wire_eos) == 8, "EOS size");

struct dmapipe_wire_error {
	uint32_t code; /* enum dmapipe_error_code */
	uint32_t pad0;
	char message[DMAPIPE_PROTO_ERROR_LEN]; /* NUL-terminated */
};
static_assert(sizeof(struct dmapipe_wire_error) == 136, "ERROR size");

struct dmapipe_wire_stats_server {
	uint64_t frames_queued;
	uint64_t frames_dropped;
	uint64_t consumers_total;
	uint64_t consumers_refused;
	uint64_t lease_timeouts;
	uint64_t bytes_copied;
	uint64_t frames_copied;
	uint32_t consumers;
	uint32_t buffers;
	uint32_t buffers_free;
	uint32_t mem_kind;
	struct dmapipe_wire_format format;
	char allocator[16];
	uint32_t n_records; /* consumer records that follow, <= DMAPIPE_PROTO_MAX_STATS */
	uint32_t pad0;
};
static_assert(sizeof(struct dmapipe_wire_stats_server) == 120, "STATS header size");

struct dmapipe_wire_stats_consumer {
	uint32_t id;
	int32_t pid;
	uint32_t uid;
	uint32_t policy;
	uint32_t queue_depth;
	uint32_t leases_held;
	uint32_t queued;
	uint32_t state;
	uint64_t frames_sent;
	uint64_t frames_released;
	uint64_t frames_dropped;
	uint64_t oldest_lease_ns;
	char name[DMAPIPE_PROTO_NAME_LEN];
};
static_assert(sizeof(struct dmapipe_wire_stats_consumer) == 96, "STATS record size");

static_assert(sizeof(struct dmapipe_wire_header) + sizeof(struct dmapipe_wire_stats_server) +
	      DMAPIPE_PROTO_MAX_STATS * sizeof(struct dmapipe_wire_stats_consumer) <=
	      DMAPIPE_PROTO_MAX_MSG, "STATS fits the largest message");

/* ---- decoded messages (host order) ---------------------------------- */

#include "dmapipe/stream.h"

struct dmapipe_msg_hello {
	uint16_t version;
	uint16_t min_version;
	uint32_t role;
	uint32_t features;
	uint32_t policy;
	uint32_t queue_depth;
	uint32_t max_in_flight;
	uint32_t lease_timeout_ms;
	char name[DMAPIPE_PROTO_NAME_LEN];
};

struct dmapipe_msg_add_buffer {
	uint32_t buffer_id;
	/* objects[i].fd are the received fds (or those to send) */
	struct dmapipe_layout layout;
};

struct dmapipe_msg_frame {
	uint32_t buffer_id;
	struct dmapipe_frame_meta meta; /* meta.acquire_fence: the fd or -1 */
};

struct dmapipe_msg_release {
	uint32_t buffer_id;
	uint64_t sequence;
	int release_fence; /* -1 if none */
};

struct dmapipe_msg_releases {
	uint32_t n_releases;
	struct {
		uint32_t buffer_id;
		uint64_t sequence;
	} releases[DMAPIPE_PROTO_MAX_RELEASES];
};

struct dmapipe_msg_ring {
	uint32_t kind;
	uint32_t capacity;
	int fd; /* the ring's memfd (FRAMES, RELEASES), -1 for WAKE */
};

struct dmapipe_msg_error {
	uint32_t code;
	char message[DMAPIPE_PROTO_ERROR_LEN];
};

struct dmapipe_msg_stats {
	struct dmapipe_server_stats server;
	uint32_t n_consumers;
	struct dmapipe_consumer_stats consumers[DMAPIPE_PROTO_MAX_STATS];
};

struct dmapipe_msg {
	enum dmapipe_msg_type type;
	union {
		struct dmapipe_msg_hello hello;
		struct dmapipe_format format;
		struct dmapipe_msg_add_buffer add_buffer;
		uint32_t remove_buffer_id;
		struct dmapipe_msg_frame frame;
		struct dmapipe_msg_release release;
		struct dmapipe_msg_releases releases;
		struct dmapipe_msg_ring ring;
		uint64_t eos_last_sequence;
		struct dmapipe_msg_error error;
		struct dmapipe_msg_stats stats; /* STATS; STATS_REQUEST has no body */
		struct dmapipe_format_info format_info;
		struct dmapipe_constraints constraints;
	};
};

/*
 * @msg becomes a RING WAKE. Only the ring member is written: the union is
 * as large as a STATS reply (5 KB), and a WAKE goes with every frame to a
 * consumer that sleeps.
 */
static inline void dmapipe_msg_init_wake(struct dmapipe_msg *msg)
{
	msg->type = DMAPIPE_MSG_RING;
	memset(&msg->ring, 0, sizeof(msg->ring));
	msg->ring.kind = DMAPIPE_RING_MSG_WAKE;
	msg->ring.fd = -1;
}

/**
 * Encodes @msg into @buf (DMAPIPE_PROTO_MAX_MSG bytes suffice for every
 * message) and lists the fds to attach, in order, in @fds (at most
 * DMAPIPE_PROTO_MAX_FDS) with their count in *@n_fds. The fds are not
 * duplicated: they stay owned by @msg's owner. @fds may be NULL for a
 * message that carries none. Strings are truncated to fit and terminated;
 * padding and unused slots are written as zero. Returns the datagram's
 * size or a negative errno (-EINVAL for a message that violates the
 * protocol, -ENOSPC if @size is too small), with *@n_fds = 0 on failure.
 */
int dmapipe_proto_encode(const struct dmapipe_msg *msg, void *buf, size_t size,
			 int *fds, unsigned int *n_fds);

/**
 * Decodes one datagram of @len bytes that arrived with @n_fds fds. On
 * success returns 0, and every fd is referenced exactly once from @msg
 * (ADD_BUFFER objects, FRAME acquire_fence, RELEASE release_fence,
 * RING fd); the
 * caller then owns them through @msg. On failure returns -EPROTO (or
 * -EBADMSG for a bad fd count) with *why (if not NULL) set to a static
 * description; @msg is cleared (type 0), so no fd is referenced from it,
 * and the caller must close all @n_fds. The decoder checks: size matches
 * the type exactly (STATS: its records), magic, 1 <= min_version <=
 * version, known role/policy/memory kind, padding and unused object/plane
 * slots zero, no unknown wire flags, counts in 1..4, planes in existing
 * objects, strings terminated (bytes after the terminator come out zero),
 * the fd count matches what the message declares, RELEASES counts in
 * 1..DMAPIPE_PROTO_MAX_RELEASES with the size to match, FORMAT_INFO as
 * dmapipe_format_info_check() says, CONSTRAINTS as dmapipe_constraints_check()
 * says. Unknown feature bits,
 * frame flags and error codes pass through. It does NOT check fds
 * themselves (kinds, sizes) nor the layout's bounds: see
 * dmapipe_layout_check().
 */
int dmapipe_proto_decode(const void *data, size_t len, const int *fds, unsigned int n_fds,
			 struct dmapipe_msg *msg, const char **why);

/** A name for @type ("ADD_BUFFER"), for logs. */
const char *dmapipe_msg_type_to_string(uint32_t type);

/*
 * A name for an ERROR @code, for logs: dmapipe_error_code_to_string()'s,
 * or "unknown error N" written into @buf (of @size bytes) for a code this
 * library does not know, so that a newer peer's code is still reported
 * (docs/PROTOCOL.md, section 7). Returns the name or @buf.
 */
const char *dmapipe_error_code_name(uint32_t code, char *buf, size_t size);

/* Room for any dmapipe_error_code_name(). */
#define DMAPIPE_ERROR_NAME_LEN 32

#endif /* DMAPIPE_PROTO_H */
