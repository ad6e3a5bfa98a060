/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
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

/*
 * The name a socket is bound to while it gets ready: beside @path (a link
 * can then give it @path: the same file system), and unique to the call
 * (the process, a count, the clock). -ENAMETOOLONG when it does not fit
 * in an address. `dmapipe list` (tools/cmd-list.c) skips such names.
 */
static int temporary_name(const char *path, char *name, size_t size)
{
	static unsigned int calls;
	const char *slash = strrchr(path, '/');
	int dir_len = slash ? (int)(slash - path + 1) : 0;
	int n;

	n = snprintf(name, size, "%.*s.dmapipe-%ld-%u-%llx.tmp", dir_len, path, (long)getpid(),
		     __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED),
		     (unsigned long long)(dmapipe_now_ns() & 0xffffffffu));
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/*
 * Binds @fd at @path itself, recovering a stale socket file there: for an
 * abstract name, and for a path too long for a temporary name beside it.
 * The name then exists a moment before the socket listens.
 */
static int bind_at(int fd, const char *path, const struct sockaddr_un *addr, socklen_t len)
{
	int ret;

	if (bind(fd, (const struct sockaddr *)addr, len) == 0)
		return 0;
	ret = -errno;
	if (ret == -EADDRINUSE && path[0] != '@') {
		ret = recover_stale_socket(path);
		if (ret == 0 && bind(fd, (const struct sockaddr *)addr, len) < 0)
			ret = -errno;
	}
	if (ret == -EADDRINUSE && path[0] == '@')
		log_error("abstract socket %s is in use by another producer", path);
	else if (ret < 0 && ret != -EADDRINUSE && ret != -EEXIST)
		log_error("cannot bind %s: %s", path, strerror(-ret));
	return ret;
}

/*
 * Gives the listening socket bound at @tmp the name @path too. link()
 * never replaces what is there; a socket file nobody answers on is
 * recovered first.
 */
static int link_to(const char *tmp, const char *path)
{
	int ret;

	if (link(tmp, path) == 0)
		return 0;
	ret = -errno;
	if (ret == -EEXIST) {
		ret = recover_stale_socket(path);
		if (ret == 0 && link(tmp, path) < 0) {
			ret = -errno;
			if (ret == -EEXIST) {
				/* another producer took the path meanwhile */
				log_error("%s: another producer is serving on this socket", path);
				ret = -EADDRINUSE;
			}
		}
	}
	if (ret < 0 && ret != -EADDRINUSE && ret != -EEXIST)
		log_error("cannot create %s: %s", path, strerror(-ret));
	return ret;
}

static void note_file(const char *path, struct dmapipe_socket_file *file)
{
	struct stat st;

	file->made = true;
	if (stat(path, &st) == 0) {
		file->dev = st.st_dev;
		file->ino = st.st_ino;
	}
}

/*
 * A socket file appears at its path only once it listens: bound under a
 * temporary name beside the path, given its mode, listening, and then
 * linked to the path. Bound at the path itself, it would be there for a
 * few system calls in which every connect is refused: a consumer that saw
 * the file would fail, and a second producer starting then would take it
 * for a crashed one's and remove it. (An abstract name has no such step:
 * it exists from bind().)
 */
int dmapipe_socket_listen(const char *path, uint32_t mode, struct dmapipe_socket_file *file)
{
	struct sockaddr_un addr, tmp_addr;
	socklen_t len, tmp_len;
	char tmp[sizeof(addr.sun_path)];
	bool staged;
	int fd, ret;

	memset(file, 0, sizeof(*file));
	fd = socket_for(path, &addr, &len);
	if (fd == -EINVAL || fd == -ENAMETOOLONG)
		log_error("bad socket path '%s': %s", path, strerror(-fd));
	if (fd < 0)
		return fd;

	staged = path[0] != '@' && temporary_name(path, tmp, sizeof(tmp)) == 0 &&
		 dmapipe_socket_addr(tmp, &tmp_addr, &tmp_len) == 0;
	if (staged) {
		if (bind(fd, (struct sockaddr *)&tmp_addr, tmp_len) < 0) {
			ret = -errno;
			/* the directory's fault, said of the path the user gave */
			log_error("cannot bind %s: %s", path, strerror(-ret));
			close(fd);
			return ret;
		}
		/* the inode is ours under both names: the temporary one goes as
		 * dmapipe_socket_unlink() removes any, only if it is still ours */
		note_file(tmp, file);
		if (chmod(tmp, mode) < 0)
			log_warn("cannot set mode %o on %s: %s", mode, path, strerror(errno));
		ret = listen(fd, 64) < 0 ? -errno : link_to(tmp, path);
		dmapipe_socket_unlink(tmp, file);
		if (ret < 0) {
			memset(file, 0, sizeof(*file));
			close(fd);
			return ret;
		}
		return fd;
	}

	ret = bind_at(fd, path, &addr, len);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	if (path[0] != '@') {
		note_file(path, file);
		if (chmod(path, mode) < 0)
			log_warn("cannot set mode %o on %s: %s", mode, path, strerror(errno));
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

/* ---- the default directory: where a stream named by a bare name lives ---- */

#define DEFAULT_NAME "default"

DMAPIPE_EXPORT int dmapipe_socket_default_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	const char *svc = getenv("RUNTIME_DIRECTORY");
	int n;

	if (!buf || !len)
		return -EINVAL;
	if (xdg && xdg[0] == '/') {
		n = snprintf(buf, len, "%s/dmapipe", xdg);
	} else if (svc && svc[0] == '/') {
		/* systemd's RuntimeDirectory=: the first, when it names several */
		n = snprintf(buf, len, "%.*s", (int)strcspn(svc, ":"), svc);
	} else if (geteuid() == 0) {
		n = snprintf(buf, len, "/run/dmapipe");
	} else {
		n = snprintf(buf, len, "/tmp/dmapipe-%u", (unsigned int)geteuid());
	}
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* A bare name, not a path ("/...", "./x") nor an abstract socket ("@x"). */
static bool is_bare_name(const char *name)
{
	return !strchr(name, '/') && name[0] != '@';
}

DMAPIPE_EXPORT int dmapipe_socket_default_path(const char *name, char *buf, size_t len)
{
	struct sockaddr_un addr;
	char dir[sizeof(addr.sun_path)];
	int ret, n;

	if (!buf || !len)
		return -EINVAL;
	if (!name || !*name)
		name = DEFAULT_NAME;
	if (!is_bare_name(name)) {
		if (strlen(name) >= len)
			return -ENAMETOOLONG;
		memcpy(buf, name, strlen(name) + 1);
		return 0;
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return -EINVAL;
	ret = dmapipe_socket_default_dir(dir, sizeof(dir));
	if (ret < 0)
		return ret;
	n = snprintf(buf, len, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	return 0;
}

DMAPIPE_EXPORT int dmapipe_socket_prepare_dir(const char *path, uint32_t dir_mode)
{
	struct sockaddr_un addr;
	char dir[sizeof(addr.sun_path)];
	size_t n;
	struct stat st;
	mode_t mode = (mode_t)(dir_mode & 0777) | S_IRWXU;
	int ret;

	if (!path)
		return -EINVAL;
	ret = dmapipe_socket_default_dir(dir, sizeof(dir));
	if (ret < 0)
		return ret;
	n = strlen(dir);
	/* only the default directory: a directory the user named is theirs */
	if (strncmp(path, dir, n) != 0 || path[n] != '/' || strchr(path + n + 1, '/'))
		return 0;
	if (mkdir(dir, mode) == 0) {
		/* the umask may have taken bits the caller asked for */
		if (chmod(dir, mode) < 0)
			return -errno;
		log_info("created %s (mode %o) for the stream sockets", dir, (unsigned int)mode);
		return 0;
	}
	if (errno != EEXIST) {
		ret = -errno;
		log_error("cannot create %s: %s", dir, strerror(errno));
		return ret;
	}
	if (lstat(dir, &st) < 0)
		return -errno;
	/* /tmp is everybody's: a directory another user made there could swap our sockets */
	if (!S_ISDIR(st.st_mode)) {
		log_error("%s exists and is not a directory: not using it", dir);
		return -EPERM;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		log_error("%s belongs to uid %u, not to this user (uid %u) or root: not using it",
			  dir, (unsigned int)st.st_uid, (unsigned int)geteuid());
		return -EPERM;
	}
	if ((st.st_mode & mode) != mode && st.st_uid == geteuid() &&
	    chmod(dir, (st.st_mode & 07777) | mode) < 0)
		log_warn("cannot give %s the mode %o: %s", dir, (unsigned int)mode, strerror(errno));
	return 0;
}
