/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "private.h"
#include "socket.h"

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

/*
 * A new non-blocking, close-on-exec SOCK_SEQPACKET socket, and @path's
 * address in @addr: the fd, or a negative errno.
 */
static int socket_for(const char *path, struct sockaddr_un *addr, socklen_t *len)
{
	int fd, ret;

	ret = dmapipe_socket_addr(path, addr, len);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	return fd < 0 ? -errno : fd;
}

int dmapipe_socket_connect(const char *path)
{
	struct sockaddr_un addr;
	socklen_t len;
	int fd, ret;

	fd = socket_for(path, &addr, &len);
	if (fd < 0)
		return fd;
	if (connect(fd, (struct sockaddr *)&addr, len) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * A socket file at @path that nobody answers on is what a crashed producer
 * leaves behind. Only a socket file whose test connect is refused is
 * removed; anything else at that path is left alone.
 */
static int recover_stale_socket(const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("%s exists and is not a socket: not replacing it", path);
		return -EEXIST;
	}
	fd = dmapipe_socket_connect(path);
	/* a full backlog is a producer too busy to accept, not a dead one */
	if (fd >= 0 || fd == -EAGAIN) {
		dmapipe_close(fd);
		log_error("%s: another producer is serving on this socket", path);
		return -EADDRINUSE;
	}
	if (fd != -ECONNREFUSED) {
		log_error("%s: cannot tell whether the socket is stale: %s", path, strerror(-fd));
		return fd;
	}
	log_info("%s: removing stale socket left by a producer that is gone", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int dmapipe_socket_listen(const char *path, uint32_t mode, struct dmapipe_socket_file *file)
{
	struct sockaddr_un addr;
	socklen_t len;
	struct stat st;
	int fd, ret;

	memset(file, 0, sizeof(*file));
	fd = socket_for(path, &addr, &len);
	if (fd == -EINVAL || fd == -ENAMETOOLONG)
		log_error("bad socket path '%s': %s", path, strerror(-fd));
	if (fd < 0)
		return fd;

	if (bind(fd, (struct sockaddr *)&addr, len) < 0) {
		ret = -errno;
		if (ret == -EADDRINUSE && path[0] != '@') {
			ret = recover_stale_socket(path);
			if (ret == 0 && bind(fd, (struct sockaddr *)&addr, len) < 0)
				ret = -errno;
		}
		if (ret < 0) {
			if (ret == -EADDRINUSE && path[0] == '@')
				log_error("abstract socket %s is in use by another producer", path);
			else if (ret != -EADDRINUSE && ret != -EEXIST)
				log_error("cannot bind %s: %s", path, strerror(-ret));
			close(fd);
			return ret;
		}
	}
	if (path[0] != '@') {
		file->made = true;
		if (chmod(path, mode) < 0)
			log_warn("cannot set mode %o on %s: %s", mode, path, strerror(errno));
		if (stat(path, &st) == 0) {
			file->dev = st.st_dev;
			file->ino = st.st_ino;
		}
	}
	if (listen(fd, 64) < 0) {
		ret = -errno;
		close(fd);
		dmapipe_socket_unlink(path, file);
		return ret;
	}
	return fd;
}

void dmapipe_socket_unlink(const char *path, const struct dmapipe_socket_file *file)
{
	struct stat st;

	if (file->made && stat(path, &st) == 0 && st.st_dev == file->dev && st.st_ino == file->ino)
		unlink(path);
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
