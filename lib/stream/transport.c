/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "private.h"
#include "transport.h"

/* Room for the control message of one datagram carrying the most fds. */
union send_control {
	char buf[CMSG_SPACE(sizeof(int) * DMAPIPE_PROTO_MAX_FDS)];
	struct cmsghdr align;
};

/*
 * Encodes @msg into @data and fills @mh (whose iov and control storage
 * are given) for sendmsg/sendmmsg. Returns the datagram's length or a
 * negative errno.
 */
static int prepare_send(const struct dmapipe_msg *msg, uint8_t *data, size_t size,
			struct iovec *iov, union send_control *control, struct msghdr *mh)
{
	int fds[DMAPIPE_PROTO_MAX_FDS];
	unsigned int n_fds = 0;
	int len;

	len = dmapipe_proto_encode(msg, data, size, fds, &n_fds);
	if (len < 0)
		return len;

	iov->iov_base = data;
	iov->iov_len = (size_t)len;
	memset(mh, 0, sizeof(*mh));
	mh->msg_iov = iov;
	mh->msg_iovlen = 1;
	if (n_fds > 0) {
		struct cmsghdr *cmsg;

		memset(control, 0, sizeof(*control));
		mh->msg_control = control->buf;
		mh->msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		cmsg = CMSG_FIRSTHDR(mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n_fds);
	}
	return len;
}

int dmapipe_send_msg(int fd, const struct dmapipe_msg *msg)
{
	union send_control control;
	uint8_t data[DMAPIPE_PROTO_MAX_MSG];
	struct iovec iov;
	struct msghdr mh;
	ssize_t sent;
	int len;

	len = prepare_send(msg, data, sizeof(data), &iov, &control, &mh);
	if (len < 0)
		return len;
	do {
		sent = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (sent != len)
		return -EPROTO; /* cannot happen on SOCK_SEQPACKET */
	return 0;
}

/* The most messages one dmapipe_send_msgs() call sends; more go in turns. */
#define SEND_BATCH 16
/* Bytes of each encoded datagram there: enough for every message but STATS. */
#define SEND_SLOT 256

int dmapipe_send_msgs(int fd, const struct dmapipe_msg *msgs, unsigned int n)
{
	union send_control control[SEND_BATCH];
	uint8_t data[SEND_BATCH][SEND_SLOT];
	struct mmsghdr hdr[SEND_BATCH];
	struct iovec iov[SEND_BATCH];
	unsigned int done = 0;

	if (n == 1) {
		int ret = dmapipe_send_msg(fd, msgs);

		return ret < 0 ? ret : 1;
	}
	while (done < n) {
		unsigned int k = MIN(n - done, (unsigned int)SEND_BATCH);
		int sent;

		for (unsigned int i = 0; i < k; i++) {
			const struct dmapipe_msg *m = &msgs[done + i];
			int len;

			/* STATS, too big for a slot, goes alone */
			if (m->type == DMAPIPE_MSG_STATS) {
				int ret;

				if (i > 0) {
					k = i;
					break;
				}
				ret = dmapipe_send_msg(fd, m);
				if (ret < 0)
					return done > 0 ? (int)done : ret;
				k = 0;
				done++;
				break;
			}
			len = prepare_send(m, data[i], sizeof(data[i]), &iov[i], &control[i],
					   &hdr[i].msg_hdr);
			if (len < 0)
				return done > 0 ? (int)done : len;
		}
		if (k == 0)
			continue;
		do {
			sent = sendmmsg(fd, hdr, k, MSG_DONTWAIT | MSG_NOSIGNAL);
		} while (sent < 0 && errno == EINTR);
		if (sent < 0) {
			int err = errno == EWOULDBLOCK ? -EAGAIN : -errno;

			return done > 0 ? (int)done : err;
		}
		done += (unsigned int)sent;
		if ((unsigned int)sent < k)
			break;
	}
	return (int)done;
}

/* Fds a peer sent that are refused: never closed in this thread (closer.c). */
static void drop_fd_array(const int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		dmapipe_close_deferred(fds[i]);
}

/*
 * Takes every fd that arrived with one datagram (whatever else is wrong
 * with it, so that none leaks into this process) into @fds, which has
 * room for DMAPIPE_RECV_MAX_FDS. Returns false if a control message other
 * than SCM_RIGHTS came along.
 */
static bool collect_fds(struct msghdr *mh, int *fds, unsigned int *n_fds)
{
	bool ok = true;

	*n_fds = 0;
	for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(mh); cmsg; cmsg = CMSG_NXTHDR(mh, cmsg)) {
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
			size_t bytes = cmsg->cmsg_len - CMSG_LEN(0);
			unsigned int n = (unsigned int)(bytes / sizeof(int));

			for (unsigned int i = 0; i < n; i++) {
				int rfd;

				memcpy(&rfd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
				/* the control space holds no more than this */
				if (*n_fds < DMAPIPE_RECV_MAX_FDS)
					fds[(*n_fds)++] = rfd;
				else
					dmapipe_close_deferred(rfd);
			}
		} else {
			ok = false;
		}
	}
	return ok;
}

/*
 * The checks of one received datagram of @got bytes (section 8 of
 * docs/PROTOCOL.md, steps 2, 3 and 5), then its decoding.
 */
static int finish_recv(struct msghdr *mh, const uint8_t *data, size_t got,
		       struct dmapipe_msg *msg, unsigned int *n_fds_out, const char **why)
{
	int fds[DMAPIPE_RECV_MAX_FDS];
	unsigned int n_fds;
	bool good_cmsg;
	int ret;

	good_cmsg = collect_fds(mh, fds, &n_fds);
	if (n_fds_out)
		*n_fds_out = n_fds;

	if (mh->msg_flags & MSG_CTRUNC) {
		drop_fd_array(fds, n_fds);
		*why = "ancillary data truncated: peer sent more fds than any message carries";
		return -EPROTO;
	}
	if (n_fds > DMAPIPE_PROTO_MAX_FDS) {
		drop_fd_array(fds, n_fds);
		*why = "peer sent more fds than any message carries";
		return -EPROTO;
	}
	if (!good_cmsg) {
		drop_fd_array(fds, n_fds);
		*why = "unexpected ancillary data (only SCM_RIGHTS is allowed)";
		return -EPROTO;
	}
	if (mh->msg_flags & MSG_TRUNC) {
		drop_fd_array(fds, n_fds);
		*why = "message larger than the protocol's largest message";
		return -EMSGSIZE;
	}
	if (got == 0 && n_fds == 0)
		return -ECONNRESET; /* orderly shutdown; SEQPACKET has no empty messages */

	ret = dmapipe_proto_decode(data, got, fds, n_fds, msg, why);
	if (ret < 0) {
		drop_fd_array(fds, n_fds);
		return ret;
	}
	return 0;
}

int dmapipe_recv_msg(int fd, struct dmapipe_msg *msg, unsigned int *n_fds_out, const char **why)
{
	/* Room for every fd the kernel may attach (transport.h says why);
	 * more than a message carries ends the connection in finish_recv(). */
	union {
		char buf[CMSG_SPACE(sizeof(int) * DMAPIPE_RECV_MAX_FDS)];
		struct cmsghdr align;
	} control;
	uint8_t data[DMAPIPE_PROTO_MAX_MSG];
	struct iovec iov;
	struct msghdr mh;
	ssize_t got;

	if (n_fds_out)
		*n_fds_out = 0;
	iov.iov_base = data;
	iov.iov_len = sizeof(data);
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof(control.buf);

	do {
		got = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (got < 0 && errno == EINTR);
	if (got < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return finish_recv(&mh, data, (size_t)got, msg, n_fds_out, why);
}

int dmapipe_recv_batch_fill(int fd, struct dmapipe_recv_batch *batch)
{
	int got;

	if (batch->next < batch->n)
		dmapipe_recv_batch_discard(batch); /* a caller bug: never leak the fds */
	batch->n = batch->next = 0;
	for (unsigned int i = 0; i < DMAPIPE_RECV_BATCH; i++) {
		struct msghdr *mh = &batch->hdr[i].msg_hdr;

		batch->iov[i].iov_base = batch->data[i];
		batch->iov[i].iov_len = sizeof(batch->data[i]);
		memset(mh, 0, sizeof(*mh));
		mh->msg_iov = &batch->iov[i];
		mh->msg_iovlen = 1;
		/* the same room per datagram as dmapipe_recv_msg() */
		mh->msg_control = batch->control[i].buf;
		mh->msg_controllen = sizeof(batch->control[i].buf);
		batch->hdr[i].msg_len = 0;
	}
	do {
		got = recvmmsg(fd, batch->hdr, DMAPIPE_RECV_BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC,
			       NULL);
	} while (got < 0 && errno == EINTR);
	if (got < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	batch->n = (unsigned int)got;
	batch->received_ns = dmapipe_now_ns();
	return got;
}

int dmapipe_recv_batch_next(struct dmapipe_recv_batch *batch, struct dmapipe_msg *msg,
			    const char **why)
{
	unsigned int i;

	if (batch->next >= batch->n)
		return -EAGAIN;
	i = batch->next++;
	return finish_recv(&batch->hdr[i].msg_hdr, batch->data[i], batch->hdr[i].msg_len, msg,
			   NULL, why);
}

int dmapipe_recv_burst(int fd, struct dmapipe_recv_batch *batch,
		       bool (*handle)(void *data, struct dmapipe_msg *msg), void *data,
		       const char **why)
{
	int got = dmapipe_recv_batch_fill(fd, batch);

	*why = NULL;
	if (got < 0)
		return got;
	for (;;) {
		struct dmapipe_msg msg;
		int ret = dmapipe_recv_batch_next(batch, &msg, why);

		if (ret == -EAGAIN)
			return got;
		if (ret < 0)
			return ret;
		if (!handle(data, &msg)) {
			dmapipe_recv_batch_discard(batch);
			return -ECANCELED;
		}
	}
}

void dmapipe_recv_batch_discard(struct dmapipe_recv_batch *batch)
{
	for (unsigned int i = batch->next; i < batch->n; i++) {
		int fds[DMAPIPE_RECV_MAX_FDS];
		unsigned int n_fds;

		collect_fds(&batch->hdr[i].msg_hdr, fds, &n_fds);
		drop_fd_array(fds, n_fds);
	}
	batch->n = batch->next = 0;
}

void dmapipe_socket_drain(int fd)
{
	for (int i = 0; i < 256; i++) {
		struct dmapipe_msg msg;
		const char *why;
		int ret = dmapipe_recv_msg(fd, &msg, NULL, &why);

		if (ret == 0)
			dmapipe_msg_drop_fds(&msg);
		else if (ret == -EAGAIN || ret == -ECONNRESET || ret == -EPIPE)
			return;
		/* undecodable messages were closed by recv_msg; keep draining */
	}
}

static void msg_fds_apply(struct dmapipe_msg *msg, void (*close_fd)(int fd))
{
	switch (msg->type) {
	case DMAPIPE_MSG_ADD_BUFFER:
		for (uint32_t i = 0; i < msg->add_buffer.layout.n_objects; i++) {
			close_fd(msg->add_buffer.layout.objects[i].fd);
			msg->add_buffer.layout.objects[i].fd = -1;
		}
		break;
	case DMAPIPE_MSG_FRAME:
		close_fd(msg->frame.meta.acquire_fence);
		msg->frame.meta.acquire_fence = -1;
		break;
	case DMAPIPE_MSG_RELEASE:
		close_fd(msg->release.release_fence);
		msg->release.release_fence = -1;
		break;
	case DMAPIPE_MSG_RING:
		close_fd(msg->ring.fd);
		msg->ring.fd = -1;
		break;
	default:
		break;
	}
}

void dmapipe_msg_close_fds(struct dmapipe_msg *msg)
{
	msg_fds_apply(msg, dmapipe_close);
}

void dmapipe_msg_drop_fds(struct dmapipe_msg *msg)
{
	msg_fds_apply(msg, dmapipe_close_deferred);
}
