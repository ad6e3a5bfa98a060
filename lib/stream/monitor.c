/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A monitor connection: asks a producer for its statistics, with no
 * frames and no fds (docs/PROTOCOL.md, role monitor).
 */
#include "config.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "socket.h"
#include "transport.h"
#include "wait.h"

_Static_assert(sizeof(struct dmapipe_stream_info) == 80, "struct dmapipe_stream_info is ABI");

struct reply_wait {
	int fd;
	struct dmapipe_msg *msg;
};

static int try_recv(void *data)
{
	struct reply_wait *w = data;
	const char *why = NULL;

	return dmapipe_recv_msg(w->fd, w->msg, NULL, &why);
}

static int poll_fd(void *fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = *(int *)fd, .events = POLLIN };

	return poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR ? -errno : 0;
}

/*
 * Sends @msg on @fd and waits until @deadline for the answer, which
 * replaces @msg. Returns 0 if the answer is of type @answer; @refused for
 * an ERROR and -EPROTO for anything else (their fds closed); or a negative
 * errno from sending, receiving or the wait (-ETIMEDOUT).
 */
static int request(int fd, struct dmapipe_msg *msg, enum dmapipe_msg_type answer, int refused,
		   uint64_t deadline)
{
	struct reply_wait w = { .fd = fd, .msg = msg };
	int ret = dmapipe_send_msg(fd, msg);

	if (ret == 0)
		ret = dmapipe_wait_until(try_recv, &w, poll_fd, &fd, deadline);
	if (ret == 0 && msg->type != answer) {
		dmapipe_msg_drop_fds(msg);
		ret = msg->type == DMAPIPE_MSG_ERROR ? refused : -EPROTO;
	}
	return ret;
}

DMAPIPE_EXPORT int dmapipe_query_stats(const char *path, struct dmapipe_server_stats *server,
				       struct dmapipe_consumer_stats *consumers, int max,
				       int timeout_ms)
{
	return dmapipe_query_stream(path, NULL, server, consumers, max, timeout_ms);
}

DMAPIPE_EXPORT int dmapipe_query_stream(const char *path, struct dmapipe_stream_info *info,
					struct dmapipe_server_stats *server,
					struct dmapipe_consumer_stats *consumers, int max,
					int timeout_ms)
{
	uint64_t deadline = dmapipe_deadline_after_ms(timeout_ms < 0 ? 5000 : timeout_ms);
	struct dmapipe_msg *msg;
	int fd, ret, n;

	if (!path)
		return -EINVAL;
	msg = calloc(1, sizeof(*msg));
	if (!msg)
		return -ENOMEM;
	fd = dmapipe_socket_connect(path);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	msg->type = DMAPIPE_MSG_HELLO;
	msg->hello.version = DMAPIPE_PROTO_VERSION;
	msg->hello.min_version = DMAPIPE_PROTO_VERSION;
	msg->hello.role = DMAPIPE_ROLE_MONITOR;
	msg->hello.features = DMAPIPE_FEATURE_STATS;
	dmapipe_strlcpy(msg->hello.name, "stats", sizeof(msg->hello.name));
	/* a producer that refuses the monitor answers its HELLO with ERROR */
	ret = request(fd, msg, DMAPIPE_MSG_HELLO, -EACCES, deadline);
	if (ret < 0)
		goto out;
	if (info) {
		struct ucred cred = { .pid = 0 };
		socklen_t len = sizeof(cred);

		memset(info, 0, sizeof(*info));
		dmapipe_strlcpy(info->name, msg->hello.name, sizeof(info->name));
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
			info->pid = cred.pid;
			info->uid = cred.uid;
			info->gid = cred.gid;
		}
	}
	memset(msg, 0, sizeof(*msg));
	msg->type = DMAPIPE_MSG_STATS_REQUEST;
	ret = request(fd, msg, DMAPIPE_MSG_STATS, -EPROTO, deadline);
	if (ret < 0)
		goto out;
	if (server)
		*server = msg->stats.server;
	n = (int)msg->stats.n_consumers;
	if (consumers)
		memcpy(consumers, msg->stats.consumers, sizeof(*consumers) * (size_t)MIN(n, max));
	ret = n;
out:
	/* a producer that sent fds to a monitor left them queued on it */
	dmapipe_close_deferred(fd);
	free(msg);
	return ret;
}
