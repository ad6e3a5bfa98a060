/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the wire protocol decoder.
 *
 * Input: byte 0 is the number of fds that "arrived" with the datagram
 * (taken modulo 7, so 0..6), the rest is the datagram. The fds are real
 * (/dev/null, opened once); the codec must never close them.
 *
 * Checks: the decoder never crashes or reads out of bounds; a refusal
 * carries a reason, the documented error and no fd in the message; an
 * accepted message references each fd exactly once, encodes again, and
 * the re-encoded datagram decodes to an equal message and re-encodes to
 * the same bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "stream/proto.h"
#include "fuzz-assert.h"
#include "msg-equal.h"

#define FUZZ_MAX_FDS 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static int fake_fds[FUZZ_MAX_FDS];

static void open_fake_fds(void)
{
	static int opened;

	if (opened)
		return;
	for (int i = 0; i < FUZZ_MAX_FDS; i++) {
		fake_fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		fuzz_assert(fake_fds[i] >= 0);
	}
	opened = 1;
}

/* Each of fds[0..n) is referenced exactly once by @msg's fd fields, and
 * nothing else is. */
static void check_fd_references(const struct dmapipe_msg *msg, const int *fds, unsigned int n)
{
	int refs[DMAPIPE_PROTO_MAX_FDS + 1];
	unsigned int n_refs = 0;

	switch (msg->type) {
	case DMAPIPE_MSG_ADD_BUFFER:
		for (unsigned int i = 0; i < DMAPIPE_MAX_OBJECTS; i++) {
			int fd = msg->add_buffer.layout.objects[i].fd;

			if (i < msg->add_buffer.layout.n_objects)
				refs[n_refs++] = fd;
			else
				fuzz_assert(fd == -1);
		}
		break;
	case DMAPIPE_MSG_FRAME:
		if (msg->frame.meta.acquire_fence != -1)
			refs[n_refs++] = msg->frame.meta.acquire_fence;
		break;
	case DMAPIPE_MSG_RELEASE:
		if (msg->release.release_fence != -1)
			refs[n_refs++] = msg->release.release_fence;
		break;
	case DMAPIPE_MSG_RING:
		if (msg->ring.fd != -1)
			refs[n_refs++] = msg->ring.fd;
		break;
	default:
		break;
	}
	fuzz_assert(n_refs == n);
	for (unsigned int i = 0; i < n; i++)
		fuzz_assert(refs[i] == fds[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dmapipe_msg msg, msg2;
	static uint8_t buf[DMAPIPE_PROTO_MAX_MSG], buf2[DMAPIPE_PROTO_MAX_MSG];
	int fds[DMAPIPE_PROTO_MAX_FDS], fds2[DMAPIPE_PROTO_MAX_FDS];
	unsigned int n_fds, n_fds2, n_in;
	const char *why = NULL;
	int ret, len, len2;

	if (size < 1)
		return 0;
	open_fake_fds();
	n_in = data[0] % (FUZZ_MAX_FDS + 1);

	memset(&msg, 0xa5, sizeof(msg));
	ret = dmapipe_proto_decode(data + 1, size - 1, fake_fds, n_in, &msg, &why);
	if (ret < 0) {
		fuzz_assert(ret == -EPROTO || ret == -EBADMSG);
		fuzz_assert(why != NULL && why[0] != '\0');
		fuzz_assert(!msg_mentions_fd(&msg, fake_fds, n_in));
		return 0;
	}
	fuzz_assert(ret == 0);
	check_fd_references(&msg, fake_fds, n_in);

	/* everything the decoder accepts, the encoder accepts */
	len = dmapipe_proto_encode(&msg, buf, sizeof(buf), fds, &n_fds);
	fuzz_assert(len >= 8 && (size_t)len == size - 1);
	fuzz_assert(n_fds == n_in);
	fuzz_assert(memcmp(fds, fake_fds, n_fds * sizeof(int)) == 0);

	memset(&msg2, 0x5a, sizeof(msg2));
	ret = dmapipe_proto_decode(buf, (size_t)len, fds, n_fds, &msg2, &why);
	fuzz_assert(ret == 0);
	fuzz_assert(msg_equal(&msg, &msg2));

	len2 = dmapipe_proto_encode(&msg2, buf2, sizeof(buf2), fds2, &n_fds2);
	fuzz_assert(len2 == len && n_fds2 == n_fds);
	fuzz_assert(memcmp(buf, buf2, (size_t)len) == 0);
	return 0;
}
