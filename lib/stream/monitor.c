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

static int recv_wait(int fd, struct dmapipe_msg *msg, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		const char *why = NULL;
		uint64_t now;
		int ret;

		ret = dmapipe_recv_msg(fd, msg, NULL, &why);
		if (ret != -EAGAIN)
			return ret;
		now = dmapipe_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		ret = poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000));
		if (ret < 0 && errno != EINTR)
			return -errno;
	}
}

DMAPIPE_EXPORT int dmapipe_query_stats(const char *path, struct dmapipe_server_stats *server,
				       struct dmapipe_consumer_stats *consumers, int max,
				       int timeout_ms)
{
	uint64_t deadline = dmapipe_now_ns() + (uint64_t)(timeout_ms < 0 ? 5000 : timeout_ms) * 1000000u;
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
	ret = dmapipe_send_msg(fd, msg);
	if (ret < 0)
		goto out;
	ret = recv_wait(fd, msg, deadline);
	if (ret < 0)
		goto out;
	if (msg->type != DMAPIPE_MSG_HELLO) {
		dmapipe_msg_close_fds(msg);
		ret = msg->type == DMAPIPE_MSG_ERROR ? -EACCES : -EPROTO;
		goto out;
	}
	memset(msg, 0, sizeof(*msg));
	msg->type = DMAPIPE_MSG_STATS_REQUEST;
	ret = dmapipe_send_msg(fd, msg);
	if (ret < 0)
		goto out;
	ret = recv_wait(fd, msg, deadline);
	if (ret < 0)
		goto out;
	if (msg->type != DMAPIPE_MSG_STATS) {
		dmapipe_msg_close_fds(msg);
		ret = -EPROTO;
		goto out;
	}
	if (server)
		*server = msg->stats.server;
	n = (int)msg->stats.n_consumers;
	if (consumers)
		memcpy(consumers, msg->stats.consumers, sizeof(*consumers) * (size_t)MIN(n, max));
	ret = n;
out:
	dmapipe_close(fd);
	free(msg);
	return ret;
}
