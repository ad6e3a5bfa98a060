/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Socket I/O for the wire protocol: one message per SOCK_SEQPACKET
 * datagram, fds as SCM_RIGHTS, and the receive-side hardening every
 * connection gets (MSG_CMSG_CLOEXEC, MSG_CTRUNC). Setting sockets up
 * (listen, connect, peer credentials) is socket.h's.
 */
#ifndef DMAPIPE_TRANSPORT_H
#define DMAPIPE_TRANSPORT_H

#include <sys/socket.h>

#include "proto.h"

/*
 * Encodes and sends @msg without blocking (MSG_DONTWAIT | MSG_NOSIGNAL).
 * The fds named in @msg are duplicated into the peer by the kernel; the
 * caller keeps its own. Returns 0, -EAGAIN when the socket is full, or
 * another negative errno (-EPIPE, -ECONNRESET: the peer is gone).
 */
int dmapipe_send_msg(int fd, const struct dmapipe_msg *msg);

/*
 * The most fds the kernel attaches to one datagram (SCM_MAX_FD). A
 * receiver makes room for all of them, many more than any message
 * carries: fds that do not fit are dropped by the kernel inside recvmsg(),
 * in the receiving thread, where the last close of a file a peer sent may
 * wait for as long as the peer likes. Received, they go to the closer
 * (dmapipe_close_deferred()), and a datagram with more fds than the
 * protocol allows ends the connection all the same.
 */
#define DMAPIPE_RECV_MAX_FDS 253

/*
 * Receives and decodes one message without blocking. Returns 0 with @msg
 * owning every received fd; -EAGAIN when nothing is queued; -ECONNRESET
 * when the peer closed; -EPROTO / -EBADMSG / -EMSGSIZE for a message that
 * must end the connection, with *why set (every fd that arrived with it
 * was handed to the closer). *@n_fds (if not NULL) gets the number of fds
 * received.
 */
int dmapipe_recv_msg(int fd, struct dmapipe_msg *msg, unsigned int *n_fds, const char **why);

/*
 * Sends up to @n messages with one sendmmsg() call, without blocking: a
 * burst of FRAMEs or RELEASEs costs one system call instead of one each.
 * The datagrams are the same as @n dmapipe_send_msg() calls would send, in
 * order. Returns how many were sent (the first ones; the rest were not),
 * or a negative errno if the first could not be sent (-EAGAIN when the
 * socket is full).
 */
int dmapipe_send_msgs(int fd, const struct dmapipe_msg *msgs, unsigned int n);

/* Datagrams one recvmmsg() call may take; a wake-up rarely finds more. */
#define DMAPIPE_RECV_BATCH 16

/*
 * Room for a burst of received datagrams (about 66 KiB: allocate it, it
 * does not belong on a stack). Datagrams are received together and
 * decoded one by one with every check of dmapipe_recv_msg() applied to
 * each.
 */
struct dmapipe_recv_batch {
	struct mmsghdr hdr[DMAPIPE_RECV_BATCH];
	struct iovec iov[DMAPIPE_RECV_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(int) * DMAPIPE_RECV_MAX_FDS)];
		struct cmsghdr align;
	} control[DMAPIPE_RECV_BATCH];
	uint8_t data[DMAPIPE_RECV_BATCH][DMAPIPE_PROTO_MAX_MSG];
	unsigned int n;    /* datagrams received */
	unsigned int next; /* the next one to decode */
	uint64_t received_ns; /* CLOCK_MONOTONIC of the fill: they arrived together */
};

/*
 * Receives whatever is queued on @fd, up to DMAPIPE_RECV_BATCH datagrams,
 * with one recvmmsg(MSG_DONTWAIT | MSG_CMSG_CLOEXEC). Must only be called
 * once every datagram of the previous fill was taken by
 * dmapipe_recv_batch_next() or dropped by dmapipe_recv_batch_discard():
 * they are no longer on the socket, so epoll will not report them again.
 * Returns the number received, -EAGAIN when nothing is queued, or
 * another negative errno.
 */
int dmapipe_recv_batch_fill(int fd, struct dmapipe_recv_batch *batch);

/*
 * Decodes the next datagram of the batch, exactly as dmapipe_recv_msg()
 * decodes one (same return values and fd ownership: on failure every fd
 * that came with that datagram went to the closer); -EAGAIN once the
 * batch is used up.
 */
int dmapipe_recv_batch_next(struct dmapipe_recv_batch *batch, struct dmapipe_msg *msg,
			    const char **why);

/*
 * Hands every fd of the datagrams not decoded yet to the closer and
 * empties the batch, for a connection that ends in the middle of a burst.
 */
void dmapipe_recv_batch_discard(struct dmapipe_recv_batch *batch);

/*
 * One burst: fills @batch from @fd and hands each decoded message to
 * @handle(@data, msg), which owns the message's fds from then on and
 * returns false once it ended the connection (the rest of the burst is
 * then discarded). Returns how many datagrams the burst had (fewer than
 * DMAPIPE_RECV_BATCH: the socket is empty now), -EAGAIN when nothing was
 * queued, -ECANCELED when @handle ended the connection, or the negative
 * errno of a receive or decode failure, with *@why set for the latter
 * (the caller ends the connection and discards the batch).
 */
int dmapipe_recv_burst(int fd, struct dmapipe_recv_batch *batch,
		       bool (*handle)(void *data, struct dmapipe_msg *msg), void *data,
		       const char **why);

/*
 * Reads and discards whatever the peer already sent (its fds to the
 * closer), so that closing @fd does not turn into ECONNRESET on the
 * peer's side before it has read our last message (an ERROR, typically).
 * What is still queued after that (a peer that keeps sending) stays on
 * the socket: close such a socket with dmapipe_close_deferred().
 */
void dmapipe_socket_drain(int fd);

/* Closes every fd @msg owns now: for our own fds (a queued copy of a message we send). */
void dmapipe_msg_close_fds(struct dmapipe_msg *msg);

/*
 * Hands every fd @msg owns to the closer: for a received message that is
 * refused, whose fds were never identified (dmapipe_close_deferred()).
 */
void dmapipe_msg_drop_fds(struct dmapipe_msg *msg);

#endif /* DMAPIPE_TRANSPORT_H */
