/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shared-memory rings (lib/stream/ring.c): what a reader accepts
 * before it maps a ring, that the ring is the writer's alone once sealed,
 * the index checks (forward only, never past the capacity), and the slot
 * codec.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "private.h"
#include "stream/ring.h"
#include "testlib.h"

/* Writes the writer's head as a hostile writer would: any value. */
static void scribble_head(struct dmapipe_ring *w, uint64_t head)
{
	__atomic_store_n(&((struct dmapipe_ring_wire_header *)w->map)->head, head, __ATOMIC_RELEASE);
}

static void test_create_and_map(void)
{
	struct dmapipe_ring w, r;
	const char *why = NULL;
	void *rw;

	check_int_eq(dmapipe_ring_create(&w, DMAPIPE_RING_FRAMES, 8), 0);
	check(w.fd >= 0 && w.map && w.writer && w.capacity == 8 && w.slot_size == 64);
	check_int_eq(dmapipe_ring_map(&r, w.fd, DMAPIPE_RING_FRAMES, 8, &why), 0);
	check(!r.writer && r.fd == -1 && r.index == 0);
	/* sealed F_SEAL_FUTURE_WRITE: nobody but the creator's mapping writes */
	rw = mmap(NULL, r.map_size, PROT_READ | PROT_WRITE, MAP_SHARED, w.fd, 0);
	check(rw == MAP_FAILED && errno == EPERM);
	check(write(w.fd, "x", 1) < 0 && errno == EPERM);
	check(mprotect(r.map, r.map_size, PROT_READ | PROT_WRITE) < 0);
	check(ftruncate(w.fd, 0) < 0);
	dmapipe_ring_finish(&r);
	dmapipe_ring_finish(&w);
	check(w.fd == -1 && !w.map);
	dmapipe_ring_finish(&w); /* twice is harmless */

	check_int_eq(dmapipe_ring_create(&w, DMAPIPE_RING_FRAMES, 3), -EINVAL);
	check_int_eq(dmapipe_ring_create(&w, DMAPIPE_RING_FRAMES, 512), -EINVAL);
	check_int_eq(dmapipe_ring_create(&w, 7, 8), -EINVAL);
	check_int_eq(dmapipe_ring_capacity_for(1), 2);
	check_int_eq(dmapipe_ring_capacity_for(5), 8);
	check_int_eq(dmapipe_ring_capacity_for(1000), DMAPIPE_RING_MAX_SLOTS);
	test_pass("create, seal, map read-only");
}

/* A memfd of @size with @seals, the way a hostile peer would make its ring. */
static int fake_ring(size_t size, int seals, bool with_header)
{
	int fd = memfd_create("fake-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	check(fd >= 0);
	check(ftruncate(fd, (off_t)size) == 0);
	if (with_header) {
		struct dmapipe_ring_wire_header h = { .magic = DMAPIPE_RING_MAGIC,
			.version = 1, .kind = DMAPIPE_RING_RELEASES, .slot_size = 16,
			.capacity = 4 };

		check(pwrite(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h));
	}
	if (seals)
		check(fcntl(fd, F_ADD_SEALS, seals) == 0);
	return fd;
}

static void test_refused_before_mapping(void)
{
	int all = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;
	size_t bytes = dmapipe_ring_bytes(DMAPIPE_RING_RELEASES, 4);
	struct dmapipe_ring r, w;
	const char *why;
	int fd, p[2];

	/* the same ring a correct writer would make is accepted */
	fd = fake_ring(bytes, all, true);
	check_int_eq(dmapipe_ring_map(&r, fd, DMAPIPE_RING_RELEASES, 4, &why), 0);
	dmapipe_ring_finish(&r);
	close(fd);

	fd = fake_ring(bytes, 0, true);
	check_int_eq(dmapipe_ring_map(&r, fd, DMAPIPE_RING_RELEASES, 4, &why), -EBADFD);
	check(r.map == NULL);
	close(fd);
	/* sealed against shrinking only: a second writer could still map it */
	fd = fake_ring(bytes, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, true);
	check_int_eq(dmapipe_ring_map(&r, fd, DMAPIPE_RING_RELEASES, 4, &why), -EBADFD);
	close(fd);
	/* truncated: smaller than the capacity announced */
	fd = fake_ring(4096 > bytes ? 192 : bytes / 2, all, true);
	check_int_eq(dmapipe_ring_map(&r, fd, DMAPIPE_RING_RELEASES, 4, &why), -EBADFD);
	close(fd);
	fd = fake_ring(bytes * 4, all, true);
	check_int_eq(dmapipe_ring_map(&r, fd, DMAPIPE_RING_RELEASES, 4, &why), -EBADFD);
	close(fd);
	/* not a memfd at all */
	check(pipe2(p, O_CLOEXEC) == 0);
	check_int_eq(dmapipe_ring_map(&r, p[0], DMAPIPE_RING_RELEASES, 4, &why), -EBADFD);
	close(p[0]);
	close(p[1]);
	/* a header that says something else than the RING message */
	fd = fake_ring(bytes, all, false);
	check_int_eq(dmapipe_ring_map(&r, fd, DMAPIPE_RING_RELEASES, 4, &why), -EPROTO);
	close(fd);
	check_int_eq(dmapipe_ring_create(&w, DMAPIPE_RING_RELEASES, 8), 0);
	check_int_eq(dmapipe_ring_map(&r, w.fd, DMAPIPE_RING_FRAMES, 8, &why), -EPROTO);
	check_int_eq(dmapipe_ring_map(&r, w.fd, DMAPIPE_RING_RELEASES, 16, &why), -EPROTO);
	check_int_eq(dmapipe_ring_map(&r, w.fd, DMAPIPE_RING_RELEASES, 256, &why), -EBADFD);
	check_int_eq(dmapipe_ring_map(&r, w.fd, DMAPIPE_RING_RELEASES, 5, &why), -EPROTO);
	dmapipe_ring_finish(&w);
	test_pass("unsealed, truncated, non-memfd and mismatched rings refused before use");
}

static void test_indices(void)
{
	struct dmapipe_ring w, r;
	const char *why = NULL;
	uint8_t slot[16];
	uint32_t id;
	uint64_t seq;

	check_int_eq(dmapipe_ring_create(&w, DMAPIPE_RING_RELEASES, 4), 0);
	check_int_eq(dmapipe_ring_map(&r, w.fd, DMAPIPE_RING_RELEASES, 4, &why), 0);
	check_int_eq(dmapipe_ring_available(&r, &why), 0);
	/* around the ring several times: slots reused modulo the capacity */
	for (uint64_t n = 0; n < 10; n++) {
		for (uint32_t k = 0; k < 3; k++)
			dmapipe_ring_encode_release(dmapipe_ring_next_slot(&w, k), (uint32_t)(n + k),
						    n * 100 + k);
		dmapipe_ring_publish(&w, 3);
		check_int_eq(dmapipe_ring_available(&r, &why), 3);
		for (uint32_t k = 0; k < 3; k++) {
			dmapipe_ring_copy_slot(&r, k, slot);
			check_int_eq(dmapipe_ring_decode_release(slot, &id, &seq, &why), 0);
			check(id == n + k && seq == n * 100 + k);
		}
		dmapipe_ring_consume(&r, 3);
		check_int_eq(dmapipe_ring_available(&r, &why), 0);
	}
	/* a full ring is fine, one more slot is not */
	scribble_head(&w, r.index + 4);
	check_int_eq(dmapipe_ring_available(&r, &why), 4);
	scribble_head(&w, r.index + 5);
	check_int_eq(dmapipe_ring_available(&r, &why), -EPROTO);
	check(strstr(why, "past the end"));
	scribble_head(&w, r.index - 1);
	check_int_eq(dmapipe_ring_available(&r, &why), -EPROTO);
	check(strstr(why, "backwards"));
	scribble_head(&w, UINT64_MAX);
	check_int_eq(dmapipe_ring_available(&r, &why), -EPROTO);
	scribble_head(&w, r.index + (UINT64_C(1) << 63));
	check_int_eq(dmapipe_ring_available(&r, &why), -EPROTO);
	/* the reader's tail wraps like the head: 2^64 slots later it still works */
	r.index = UINT64_MAX - 1;
	scribble_head(&w, 1); /* three slots past UINT64_MAX - 1, modulo 2^64 */
	check_int_eq(dmapipe_ring_available(&r, &why), 3);
	dmapipe_ring_finish(&r);
	dmapipe_ring_finish(&w);
	test_pass("indices: forward only, never past the capacity, modulo 2^64");
}

static void test_slots(void)
{
	struct dmapipe_msg_frame f = { .buffer_id = 7 }, g;
	struct dmapipe_ring_wire_release rel = { .buffer_id = 1, .pad0 = 1, .sequence = 2 };
	uint8_t slot[64];
	const char *why = NULL;
	uint64_t socket_msgs;
	uint32_t id;
	uint64_t seq;

	dmapipe_frame_meta_init(&f.meta);
	f.meta.sequence = 0x0102030405060708;
	f.meta.timestamp_ns = 99;
	f.meta.flags = DMAPIPE_FRAME_KEYFRAME | 0x80000000u; /* unknown bits pass */
	f.meta.bytes_used[0] = 1;
	f.meta.bytes_used[3] = UINT64_MAX;
	dmapipe_ring_encode_frame(slot, &f, 42);
	check_int_eq(dmapipe_ring_decode_frame(slot, &g, &socket_msgs), 0);
	check(g.buffer_id == 7 && g.meta.sequence == f.meta.sequence && g.meta.timestamp_ns == 99 &&
	      g.meta.flags == f.meta.flags && g.meta.bytes_used[0] == 1 &&
	      g.meta.bytes_used[3] == UINT64_MAX && g.meta.acquire_fence == -1 && socket_msgs == 42);
	check_int_eq(dmapipe_ring_decode_release(&rel, &id, &seq, &why), -EPROTO);
	rel.pad0 = 0;
	check_int_eq(dmapipe_ring_decode_release(&rel, &id, &seq, &why), 0);
	check(id == 1 && seq == 2);
	test_pass("slot codec");
}

static void test_sleeping(void)
{
	struct dmapipe_ring w, r;
	const char *why;

	check_int_eq(dmapipe_ring_create(&w, DMAPIPE_RING_RELEASES, 2), 0);
	check_int_eq(dmapipe_ring_map(&r, w.fd, DMAPIPE_RING_RELEASES, 2, &why), 0);
	check(!dmapipe_ring_peer_sleeping(&r));
	dmapipe_ring_set_sleeping(&w, true);
	check(dmapipe_ring_peer_sleeping(&r));
	dmapipe_ring_set_sleeping(&w, false);
	check(!dmapipe_ring_peer_sleeping(&r));
	dmapipe_ring_finish(&r);
	dmapipe_ring_finish(&w);
	test_pass("sleeping flag");
}

int main(void)
{
	test_create_and_map();
	test_refused_before_mapping();
	test_indices();
	test_slots();
	test_sleeping();
	return 0;
}
