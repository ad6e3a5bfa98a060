/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for what a ring reader trusts nothing of: the
 * writer's head and every slot (lib/stream/ring.c, docs/PROTOCOL.md
 * section 14.4).
 *
 * Input: 8 bytes of head, 8 of the reader's tail, 1 byte choosing the
 * kind (bit 0) and the capacity (2 << (bits 1..3) % 8), then the slot
 * bytes (missing ones are zero). The ring is ordinary memory here: what
 * is checked is arithmetic and decoding, which is all a hostile writer
 * controls.
 *
 * Checks: available() is in 0..capacity exactly when head - tail (modulo
 * 2^64) is, and -EPROTO with a reason otherwise; each available slot
 * decodes; a frame slot re-encodes to the same bytes; a release slot is
 * refused exactly when its padding is not zero, and re-encodes otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-assert.h"
#include "private.h"
#include "stream/ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static _Alignas(64) uint8_t mem[DMAPIPE_RING_HEADER + DMAPIPE_RING_MAX_SLOTS * 64];
	struct dmapipe_ring_wire_header *h = (struct dmapipe_ring_wire_header *)mem;
	struct dmapipe_ring ring;
	uint64_t head, tail;
	const char *why = NULL;
	size_t slots_bytes;
	int n;

	if (size < 17)
		return 0;
	memcpy(&head, data, 8);
	memcpy(&tail, data + 8, 8);
	memset(&ring, 0, sizeof(ring));
	ring.fd = -1;
	ring.kind = (data[16] & 1) ? DMAPIPE_RING_RELEASES : DMAPIPE_RING_FRAMES;
	ring.capacity = 2u << ((data[16] >> 1) % 8);
	ring.slot_size = dmapipe_ring_slot_size(ring.kind);
	ring.index = tail;
	ring.map = mem;
	ring.map_size = sizeof(mem);
	memset(mem, 0, sizeof(mem));
	h->head = head;
	slots_bytes = (size_t)ring.capacity * ring.slot_size;
	memcpy(mem + DMAPIPE_RING_HEADER, data + 17, MIN(size - 17, slots_bytes));

	n = dmapipe_ring_available(&ring, &why);
	if (head - tail > ring.capacity) {
		fuzz_assert(n == -EPROTO && why && why[0]);
		return 0;
	}
	fuzz_assert(n == (int)(head - tail));
	for (int i = 0; i < n; i++) {
		uint8_t slot[64], again[64];

		dmapipe_ring_copy_slot(&ring, (uint32_t)i, slot);
		if (ring.kind == DMAPIPE_RING_FRAMES) {
			struct dmapipe_msg_frame f;
			uint64_t socket_msgs;

			fuzz_assert(dmapipe_ring_decode_frame(slot, &f, &socket_msgs) == 0);
			fuzz_assert(f.meta.acquire_fence == -1);
			dmapipe_ring_encode_frame(again, &f, socket_msgs);
			fuzz_assert(memcmp(slot, again, 64) == 0);
		} else {
			const struct dmapipe_ring_wire_release *w = (const void *)slot;
			uint32_t id;
			uint64_t sequence;
			int ret = dmapipe_ring_decode_release(slot, &id, &sequence, &why);

			fuzz_assert((ret == -EPROTO) == (w->pad0 != 0));
			if (ret == 0) {
				dmapipe_ring_encode_release(again, id, sequence);
				fuzz_assert(memcmp(slot, again, 16) == 0);
			}
		}
	}
	dmapipe_ring_consume(&ring, (uint32_t)n);
	fuzz_assert(ring.index == head);
	return 0;
}
