/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "private.h"
#include "transport.h"

int dmapipe_socket_addr(const char *path, struct sockaddr_un *addr, socklen_t *len)
{
	size_t n;

	if (!*path || (path[0] == '@' && !path[1]))
		return -EINVAL;
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	n = strlen(path);
	if (n >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	memcpy(addr->sun_path, path, n);
	if (path[0] == '@') {
		/* abstract: leading NUL, length counts the name exactly */
		addr->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

int dmapipe_send_msg(int fd, const struct dmapipe_msg *msg)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * DMAPIPE_PROTO_MAX_FDS)];
		struct cmsghdr align;
	} control;
	uint8_t data[DMAPIPE_PROTO_MAX_MSG];
	int fds[DMAPIPE_PROTO_MAX_FDS];
	unsigned int n_fds = 0;
	struct iovec iov;
	struct msghdr mh;
	ssize_t sent;
	int len;

	len = dmapipe_proto_encode(msg, data, sizeof(data), fds, &n_fds);
	if (len < 0)
		return len;

	iov.iov_base = data;
	iov.iov_len = (size_t)len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (n_fds > 0) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n_fds);
	}

	do {
		sent = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (sent != len)
		return -EPROTO; /* cannot happen on SOCK_SEQPACKET */
	return 0;
}

static void close_fd_array(const int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		dmapipe_close(fds[i]);
}

int dmapipe_recv_msg(int fd, struct dmapipe_msg *msg, unsigned int *n_fds_out, const char **why)
{
	/* Room for exactly the most fds any message may carry: a peer that
	 * sends more makes the kernel set MSG_CTRUNC, which ends the
	 * connection below. */
	union {
		char buf[CMSG_SPACE(sizeof(int) * DMAPIPE_PROTO_MAX_FDS)];
		struct cmsghdr align;
	} control;
	uint8_t data[DMAPIPE_PROTO_MAX_MSG];
	int fds[DMAPIPE_PROTO_MAX_FDS];
	unsigned int n_fds = 0;
	bool bad_cmsg = false;
	struct cmsghdr *cmsg;
	struct iovec iov;
	struct msghdr mh;
	ssize_t got;
	int ret;

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

	/* Collect every fd that arrived, whatever else is wrong, so that none
	 * leaks into this process. */
	for (cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg)) {
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
			size_t bytes = cmsg->cmsg_len - CMSG_LEN(0);
			unsigned int n = (unsigned int)(bytes / sizeof(int));

			for (unsigned int i = 0; i < n; i++) {
				int rfd;

				memcpy(&rfd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
				if (n_fds < DMAPIPE_PROTO_MAX_FDS)
					fds[n_fds++] = rfd;
				else
					dmapipe_close(rfd);
			}
		} else {
			bad_cmsg = true;
		}
	}
	if (n_fds_out)
		*n_fds_out = n_fds;

	if (mh.msg_flags & MSG_CTRUNC) {
		close_fd_array(fds, n_fds);
		*why = "ancillary data truncated: peer sent more fds than any message carries";
		return -EPROTO;
	}
	if (bad_cmsg) {
		close_fd_array(fds, n_fds);
		*why = "unexpected ancillary data (only SCM_RIGHTS is allowed)";
		return -EPROTO;
	}
	if (mh.msg_flags & MSG_TRUNC) {
		close_fd_array(fds, n_fds);
		*why = "message larger than the protocol's largest message";
		return -EMSGSIZE;
	}
	if (got == 0 && n_fds == 0)
		return -ECONNRESET; /* orderly shutdown; SEQPACKET has no empty messages */

	ret = dmapipe_proto_decode(data, (size_t)got, fds, n_fds, msg, why);
	if (ret < 0) {
		close_fd_array(fds, n_fds);
		return ret;
	}
	return 0;
}

bool dmapipe_fd_is_sync_file(int fd)
{
	char path[32], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:sync_file") == 0;
}

void dmapipe_socket_drain(int fd)
{
	for (int i = 0; i < 256; i++) {
		struct dmapipe_msg msg;
		const char *why;
		int ret = dmapipe_recv_msg(fd, &msg, NULL, &why);

		if (ret == 0)
			dmapipe_msg_close_fds(&msg);
		else if (ret == -EAGAIN || ret == -ECONNRESET || ret == -EPIPE)
			return;
		/* undecodable messages were closed by recv_msg; keep draining */
	}
}

void dmapipe_msg_close_fds(struct dmapipe_msg *msg)
{
	switch (msg->type) {
	case DMAPIPE_MSG_ADD_BUFFER:
		for (uint32_t i = 0; i < msg->add_buffer.layout.n_objects; i++) {
			dmapipe_close(msg->add_buffer.layout.objects[i].fd);
			msg->add_buffer.layout.objects[i].fd = -1;
		}
		break;
	case DMAPIPE_MSG_FRAME:
		dmapipe_close(msg->frame.meta.acquire_fence);
		msg->frame.meta.acquire_fence = -1;
		break;
	case DMAPIPE_MSG_RELEASE:
		dmapipe_close(msg->release.release_fence);
		msg->release.release_fence = -1;
		break;
	default:
		break;
	}
}

int dmapipe_peer_check(int fd, enum dmapipe_peer_policy policy, uid_t uid, gid_t gid,
		       struct ucred *cred, const char **why)
{
	socklen_t len = sizeof(*cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) < 0) {
		*why = "cannot read peer credentials (SO_PEERCRED)";
		return -errno;
	}
	if (cred->uid == 0)
		return 0;
	switch (policy) {
	case DMAPIPE_PEER_ANY:
		return 0;
	case DMAPIPE_PEER_SAME_UID:
		if (cred->uid == geteuid())
			return 0;
		*why = "peer runs as another user (policy: same uid)";
		return -EACCES;
	case DMAPIPE_PEER_UID:
		if (cred->uid == uid)
			return 0;
		*why = "peer's uid is not the allowed uid";
		return -EACCES;
	case DMAPIPE_PEER_GID:
		if (cred->gid == gid)
			return 0;
		*why = "peer's gid is not the allowed gid";
		return -EACCES;
	}
	*why = "unknown peer policy";
	return -EINVAL;
}
