/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared-memory rings beside the socket (ring.h, docs/PROTOCOL.md
 * section 14). The reader trusts nothing in the ring: it keeps its own
 * copy of the constants it checked at mapping time, its own tail, and
 * validates the writer's head on every read and each slot after copying
 * it out of shared memory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "private.h"
#include "core/memfd-seals.h"
#include "ring.h"

#define RING_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)

bool dmapipe_rings_enabled(void)
{
	const char *v = getenv("DMAPIPE_RINGS");

	return !v || strcmp(v, "0") != 0;
}

uint32_t dmapipe_ring_slot_size(uint32_t kind)
{
	switch (kind) {
	case DMAPIPE_RING_FRAMES:
		return sizeof(struct dmapipe_ring_wire_frame);
	case DMAPIPE_RING_RELEASES:
		return sizeof(struct dmapipe_ring_wire_release);
	}
	return 0;
}

static bool capacity_valid(uint32_t capacity)
{
	return capacity >= 2 && capacity <= DMAPIPE_RING_MAX_SLOTS && !(capacity & (capacity - 1));
}

size_t dmapipe_ring_bytes(uint32_t kind, uint32_t capacity)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t bytes;

	if (!dmapipe_ring_slot_size(kind) || !capacity_valid(capacity))
		return 0;
	bytes = DMAPIPE_RING_HEADER + (size_t)capacity * dmapipe_ring_slot_size(kind);
	return (bytes + page - 1) / page * page;
}

uint32_t dmapipe_ring_capacity_for(uint32_t slots)
{
	uint32_t c = 2;

	while (c < slots && c < DMAPIPE_RING_MAX_SLOTS)
		c *= 2;
	return c;
}

static struct dmapipe_ring_wire_header *header(const struct dmapipe_ring *ring)
{
	return (struct dmapipe_ring_wire_header *)ring->map;
}

int dmapipe_ring_create(struct dmapipe_ring *ring, uint32_t kind, uint32_t capacity)
{
	size_t bytes = dmapipe_ring_bytes(kind, capacity);
	struct dmapipe_ring_wire_header *h;
	void *map;
	int fd, ret;

	memset(ring, 0, sizeof(*ring));
	ring->fd = -1;
	if (!bytes)
		return -EINVAL;
	fd = memfd_create_sealable("dmapipe-ring");
	if (fd < 0)
		return fd;
	if (ftruncate(fd, (off_t)bytes) < 0)
		goto fail;
	map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		goto fail;
	h = map;
	h->magic = DMAPIPE_RING_MAGIC;
	h->version = DMAPIPE_RING_VERSION;
	h->kind = (uint16_t)kind;
	h->slot_size = dmapipe_ring_slot_size(kind);
	h->capacity = capacity;
	/* our mapping stays writable; no other can be made from now on */
	if (fcntl(fd, F_ADD_SEALS, RING_SEALS) < 0) {
		ret = -errno;
		munmap(map, bytes);
		close(fd);
		return ret;
	}
	ring->map = map;
	ring->map_size = bytes;
	ring->fd = fd;
	ring->writer = true;
	ring->kind = kind;
	ring->capacity = capacity;
	ring->slot_size = h->slot_size;
	return 0;

fail:
	ret = -errno;
	close(fd);
	return ret;
}

int dmapipe_ring_map(struct dmapipe_ring *ring, int fd, uint32_t kind, uint32_t capacity,
		     const char **why)
{
	size_t bytes = dmapipe_ring_bytes(kind, capacity);
	enum dmapipe_mem_kind mem;
	struct dmapipe_ring_wire_header h;
	uint64_t size;
	void *map;
	int seals;

	memset(ring, 0, sizeof(*ring));
	ring->fd = -1;
	if (!bytes) {
		*why = "ring of an unknown kind or an invalid capacity";
		return -EPROTO;
	}
	/* identified before anything else: it may be a socket, a FUSE file... */
	if (dmapipe_fd_identify(fd, &mem, &size, why) < 0)
		return -EBADFD; /* *why says what it is, or what seal it lacks */
	if (mem != DMAPIPE_MEM_MEMFD) {
		*why = "ring fd is not a memfd";
		return -EBADFD;
	}
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & RING_SEALS) != RING_SEALS) {
		*why = "ring memfd is not sealed against resizing and other writers";
		return -EBADFD;
	}
	if (size != bytes) {
		*why = "ring memfd size does not match its capacity";
		return -EBADFD;
	}
	map = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		*why = "cannot map the ring";
		return -errno;
	}
	memcpy(&h, map, sizeof(h));
	if (h.magic != DMAPIPE_RING_MAGIC || h.version != DMAPIPE_RING_VERSION ||
	    h.kind != kind || h.slot_size != dmapipe_ring_slot_size(kind) ||
	    h.capacity != capacity) {
		munmap(map, bytes);
		*why = "ring header does not match the ring announced";
		return -EPROTO;
	}
	ring->map = map;
	ring->map_size = bytes;
	ring->kind = kind;
	ring->capacity = capacity;
	ring->slot_size = dmapipe_ring_slot_size(kind);
	/* a ring is mapped when it is new: whatever its head says, we read from 0 */
	ring->index = 0;
	return 0;
}

void dmapipe_ring_finish(struct dmapipe_ring *ring)
{
	/* a zeroed struct (calloc) has fd 0 and no map: it owns nothing */
	if (ring->map) {
		munmap(ring->map, ring->map_size);
		if (ring->writer)
			dmapipe_close(ring->fd);
	}
	memset(ring, 0, sizeof(*ring));
	ring->fd = -1;
}

static uint8_t *slot_at(const struct dmapipe_ring *ring, uint64_t index)
{
	return ring->map + DMAPIPE_RING_HEADER + (index & (ring->capacity - 1)) * ring->slot_size;
}

void *dmapipe_ring_next_slot(struct dmapipe_ring *ring, uint32_t ahead)
{
	return slot_at(ring, ring->index + ahead);
}

void dmapipe_ring_publish(struct dmapipe_ring *ring, uint32_t n)
{
	ring->index += n;
	__atomic_store_n(&header(ring)->head, ring->index, __ATOMIC_RELEASE);
}

void dmapipe_ring_set_sleeping(struct dmapipe_ring *ring, bool sleeping)
{
	__atomic_store_n(&header(ring)->sleeping, sleeping ? 1u : 0u, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool dmapipe_ring_peer_sleeping(const struct dmapipe_ring *peer)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&header(peer)->sleeping, __ATOMIC_RELAXED) != 0;
}

int dmapipe_ring_available(const struct dmapipe_ring *ring, const char **why)
{
	uint64_t head = __atomic_load_n(&header(ring)->head, __ATOMIC_ACQUIRE);
	uint64_t ahead = head - ring->index;

	/* modulo 2^64: a head behind the tail is a huge distance */
	if ((int64_t)ahead < 0) {
		*why = "ring index went backwards";
		return -EPROTO;
	}
	if (ahead > ring->capacity) {
		*why = "ring index past the end: more slots than the ring holds";
		return -EPROTO;
	}
	return (int)ahead;
}

void dmapipe_ring_copy_slot(const struct dmapipe_ring *ring, uint32_t ahead, void *out)
{
	memcpy(out, slot_at(ring, ring->index + ahead), ring->slot_size);
}

void dmapipe_ring_consume(struct dmapipe_ring *ring, uint32_t n)
{
	ring->index += n;
}

void dmapipe_ring_encode_frame(void *out, const struct dmapipe_msg_frame *f, uint64_t socket_msgs)
{
	struct dmapipe_ring_wire_frame w;

	w.buffer_id = f->buffer_id;
	w.frame_flags = f->meta.flags;
	w.sequence = f->meta.sequence;
	w.timestamp_ns = f->meta.timestamp_ns;
	w.socket_msgs = socket_msgs;
	for (unsigned int i = 0; i < DMAPIPE_MAX_PLANES; i++)
		w.bytes_used[i] = f->meta.bytes_used[i];
	memcpy(out, &w, sizeof(w));
}

int dmapipe_ring_decode_frame(const void *slot, struct dmapipe_msg_frame *f, uint64_t *socket_msgs)
{
	struct dmapipe_ring_wire_frame w;

	memcpy(&w, slot, sizeof(w));
	memset(f, 0, sizeof(*f));
	f->buffer_id = w.buffer_id;
	f->meta.flags = w.frame_flags;
	f->meta.sequence = w.sequence;
	f->meta.timestamp_ns = w.timestamp_ns;
	for (unsigned int i = 0; i < DMAPIPE_MAX_PLANES; i++)
		f->meta.bytes_used[i] = w.bytes_used[i];
	f->meta.acquire_fence = -1;
	*socket_msgs = w.socket_msgs;
	return 0;
}

void dmapipe_ring_encode_release(void *out, uint32_t buffer_id, uint64_t sequence)
{
	struct dmapipe_ring_wire_release w = { .buffer_id = buffer_id, .sequence = sequence };

	memcpy(out, &w, sizeof(w));
}

int dmapipe_ring_decode_release(const void *slot, uint32_t *buffer_id, uint64_t *sequence,
				const char **why)
{
	struct dmapipe_ring_wire_release w;

	memcpy(&w, slot, sizeof(w));
	if (w.pad0) {
		*why = "ring release slot: nonzero padding";
		return -EPROTO;
	}
	*buffer_id = w.buffer_id;
	*sequence = w.sequence;
	return 0;
}
