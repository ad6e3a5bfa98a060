/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared-memory rings beside the socket (docs/PROTOCOL.md, section 14):
 * a sealed memfd holding a header, one index and one sleeping flag of its
 * writer, and fixed-size slots. Each ring has exactly one writer, which
 * created it and seals it against writes by anyone else
 * (F_SEAL_FUTURE_WRITE); the reader maps it read-only and validates every
 * index and every slot as it validates a datagram.
 *
 * Frames go producer -> consumer in a FRAMES ring, releases consumer ->
 * producer in a RELEASES ring. Nothing here does socket I/O; the codec of
 * a slot is pure and fuzzed (tests/fuzz/fuzz-ring.c).
 */
#ifndef DMAPIPE_RING_H
#define DMAPIPE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define DMAPIPE_RING_MAGIC 0x47524d44u /* "DMRG" */
#define DMAPIPE_RING_VERSION 1
/* slots in a ring, at most (a power of two; the in-flight cap) */
#define DMAPIPE_RING_MAX_SLOTS 256
/* the header: three cache lines (constants, the writer's index, its sleeping flag) */
#define DMAPIPE_RING_HEADER 192

enum dmapipe_ring_kind {
	DMAPIPE_RING_FRAMES = 1,   /* written by the producer */
	DMAPIPE_RING_RELEASES = 2, /* written by a consumer */
};

/* The ring's memory, in the host's byte order: both ends share one machine. */
struct dmapipe_ring_wire_header {
	/* line 0: written once by the creator, before sealing */
	uint32_t magic;
	uint16_t version;
	uint16_t kind;      /* enum dmapipe_ring_kind */
	uint32_t slot_size; /* 64 (frames) or 16 (releases) */
	uint32_t capacity;  /* slots, a power of two in 2..DMAPIPE_RING_MAX_SLOTS */
	uint8_t pad0[48];
	/* line 1: slots written so far, published with release ordering */
	uint64_t head;
	uint8_t pad1[56];
	/* line 2: nonzero while the writer sleeps and wants a WAKE for the peer's ring */
	uint32_t sleeping;
	uint8_t pad2[60];
};
_Static_assert(sizeof(struct dmapipe_ring_wire_header) == DMAPIPE_RING_HEADER, "ring header size");
_Static_assert(offsetof(struct dmapipe_ring_wire_header, head) == 64, "head on its own line");
_Static_assert(offsetof(struct dmapipe_ring_wire_header, sleeping) == 128, "flag on its own line");

/* A FRAME without a fence: one cache line */
struct dmapipe_ring_wire_frame {
	uint32_t buffer_id;
	uint32_t frame_flags; /* enum dmapipe_frame_flags; unknown bits passed on */
	uint64_t sequence;
	uint64_t timestamp_ns;
	/* socket messages the producer had sent on this connection before
	 * this slot: the consumer takes the slot only after as many */
	uint64_t socket_msgs;
	uint64_t bytes_used[DMAPIPE_MAX_PLANES];
};
_Static_assert(sizeof(struct dmapipe_ring_wire_frame) == 64, "ring frame slot size");

/* A release without a fence */
struct dmapipe_ring_wire_release {
	uint32_t buffer_id;
	uint32_t pad0; /* 0 */
	uint64_t sequence;
};
_Static_assert(sizeof(struct dmapipe_ring_wire_release) == 16, "ring release slot size");

/* One end of a ring: the writer's (created) or the reader's (mapped). */
struct dmapipe_ring {
	uint8_t *map;      /* NULL: no ring */
	size_t map_size;
	int fd;            /* the writer's until it was sent (then -1); the reader's: -1 */
	bool writer;
	uint32_t kind;
	uint32_t capacity; /* our own copy: the shared header is never read again */
	uint32_t slot_size;
	uint64_t index;    /* writer: slots written (head); reader: slots consumed (tail) */
};

/*
 * Whether this process offers rings: yes unless DMAPIPE_RINGS=0 is in the
 * environment (read when a server or client is made).
 */
bool dmapipe_rings_enabled(void);

/* The slot size of @kind, 0 for an unknown kind. */
uint32_t dmapipe_ring_slot_size(uint32_t kind);

/* Bytes of a ring of @kind with @capacity slots (page-rounded), 0 if invalid. */
size_t dmapipe_ring_bytes(uint32_t kind, uint32_t capacity);

/* The smallest valid capacity holding @slots (a power of two, at least 2). */
uint32_t dmapipe_ring_capacity_for(uint32_t slots);

/*
 * Creates the ring this process writes: a memfd of dmapipe_ring_bytes(),
 * mapped read-write, its header written, then sealed with F_SEAL_SHRINK,
 * F_SEAL_GROW, F_SEAL_FUTURE_WRITE and F_SEAL_SEAL, so that our mapping
 * is the only writable one there ever is. @ring owns the fd and the
 * mapping (dmapipe_ring_finish()). Returns 0 or a negative errno (-EINVAL
 * for a bad kind or capacity).
 */
int dmapipe_ring_create(struct dmapipe_ring *ring, uint32_t kind, uint32_t capacity);

/*
 * Maps the ring a peer sent as @fd, read-only, for reading: @fd must be a
 * memfd carrying all four seals above and exactly dmapipe_ring_bytes()
 * long; its header must say @kind, @capacity, the slot size and version 1.
 * Checked before anything is mapped (the header after). Does not take
 * @fd: the caller closes it (with the closer when this failed: it may be
 * anything). Returns 0; -EBADFD (not a memfd, seals missing, wrong size:
 * ERROR bad-fd) or -EPROTO (header, kind or capacity wrong: ERROR
 * protocol) with *@why set; or another negative errno.
 */
int dmapipe_ring_map(struct dmapipe_ring *ring, int fd, uint32_t kind, uint32_t capacity,
		     const char **why);

/* Unmaps and closes what @ring holds and zeroes it (fd -1). A zeroed ring (map NULL) owns nothing. */
void dmapipe_ring_finish(struct dmapipe_ring *ring);

/* ---- the writer ---- */

/* The slot the next write goes to (index ring->index + @ahead). */
void *dmapipe_ring_next_slot(struct dmapipe_ring *ring, uint32_t ahead);

/*
 * Makes @n slots written since the last publish visible: head += @n with
 * release ordering. The caller guarantees the reader has consumed what
 * those slots held (the in-flight limit does: see PROTOCOL.md).
 */
void dmapipe_ring_publish(struct dmapipe_ring *ring, uint32_t n);

/*
 * Sets our own sleeping flag (the writer's ring), then a full fence: the
 * peer's publish that follows either is seen by our re-check or sees the flag.
 */
void dmapipe_ring_set_sleeping(struct dmapipe_ring *ring, bool sleeping);

/*
 * Whether the writer of @peer (a ring we read) sleeps and wants a WAKE,
 * after a full fence that orders our publish before this load.
 */
bool dmapipe_ring_peer_sleeping(const struct dmapipe_ring *peer);

/* ---- the reader ---- */

/*
 * Slots published and not consumed yet, validated: the writer's head may
 * only move forward, by at most the capacity past what we consumed.
 * Returns their number (0..capacity), or -EPROTO with *@why set for an
 * index that went backwards or past the end (the peer is cut off).
 */
int dmapipe_ring_available(const struct dmapipe_ring *ring, const char **why);

/*
 * Copies slot @ahead past the consumed ones into @out (slot_size bytes):
 * once copied, what the writer does to the slot no longer matters, so the
 * copy is what gets validated and used.
 */
void dmapipe_ring_copy_slot(const struct dmapipe_ring *ring, uint32_t ahead, void *out);

/* Marks @n slots consumed (the reader's own tail; never shared). */
void dmapipe_ring_consume(struct dmapipe_ring *ring, uint32_t n);

/* ---- slot codec (pure) ---- */

/* Encodes @f (its fence must be -1) and @socket_msgs into the slot @out. */
void dmapipe_ring_encode_frame(void *out, const struct dmapipe_msg_frame *f, uint64_t socket_msgs);

/*
 * Decodes a copied frame slot into @f (acquire_fence -1). A frame slot
 * has no padding and no wire flags; the consumer's checks of a FRAME
 * (buffer id, in-flight, bytes_used) apply to @f as to a datagram's.
 * Always succeeds: returns 0.
 */
int dmapipe_ring_decode_frame(const void *slot, struct dmapipe_msg_frame *f, uint64_t *socket_msgs);

/* Encodes a release of (@buffer_id, @sequence) into the slot @out. */
void dmapipe_ring_encode_release(void *out, uint32_t buffer_id, uint64_t sequence);

/*
 * Decodes a copied release slot. Returns 0, or -EPROTO with *@why set for
 * nonzero padding. The lease it names is checked as a RELEASE's is.
 */
int dmapipe_ring_decode_release(const void *slot, uint32_t *buffer_id, uint64_t *sequence,
				const char **why);

#endif /* DMAPIPE_RING_H */
