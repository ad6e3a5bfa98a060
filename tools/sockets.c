/* SPDX-License-Identifier: MIT */
/*
 * The sockets of the commands: what a user's --socket names (a bare name
 * is a stream in the default directory), why a connection failed said in
 * words (no such socket, not a socket, nobody listening, permission), the
 * consumer's wait for its producer, and a producer's socket with the mode
 * and group the user asked for. Part of tool_common.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmapipe-tool.h"

/* The system service's directory (data/systemd/dmapipe-serve@.service.in). */
#define SERVICE_DIR "/run/dmapipe"

const char *opt_socket(const char *cmd, const char *s)
{
	/* a command names a few sockets at most; static, so nothing to free */
	static char paths[4][108];
	static unsigned int next;
	char *buf = paths[next++ % 4];
	int ret = dmapipe_socket_default_path(s, buf, sizeof(paths[0]));

	if (ret == -ENAMETOOLONG)
		usage_error(cmd, "socket '%s' is too long: a unix socket's path holds at most "
			    "107 bytes", s ? s : "default");
	if (ret < 0)
		usage_error(cmd, "bad socket name '%s': a path, @NAME (abstract) or a NAME in "
			    "the default directory", s ? s : "");
	return buf;
}

/* What is at @path, for a person: "a regular file", "a directory". */
static const char *file_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	if (S_ISLNK(mode))
		return "a symbolic link";
	return "not a socket";
}

enum tool_error socket_diagnose(const char *path, int err, char *buf, size_t len)
{
	struct stat st;
	char service[PATH_MAX];
	const char *base = strrchr(path, '/');

	if (err < 0)
		err = -err;
	switch (err) {
	case ENOENT:
		if (path[0] == '@') {
			snprintf(buf, len, "no producer is listening on the abstract socket");
			return TOOL_ERR_NO_PRODUCER;
		}
		snprintf(buf, len, "no such socket");
		/* a stream of the system service is not in this user's directory */
		if (base && snprintf(service, sizeof(service), SERVICE_DIR "%s", base) > 0 &&
		    strcmp(service, path) != 0 && stat(service, &st) == 0 && S_ISSOCK(st.st_mode))
			snprintf(buf, len, "no such socket (%s is the dmapipe-serve@ service's: "
				 "--socket %s)", service, service);
		return TOOL_ERR_NO_SOCKET;
	case ENOTDIR:
		snprintf(buf, len, "no such socket (a part of the path is not a directory)");
		return TOOL_ERR_NO_SOCKET;
	case ECONNREFUSED:
		if (path[0] != '@' && lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			snprintf(buf, len, "not a socket: %s", file_kind(st.st_mode));
			return TOOL_ERR_NOT_SOCKET;
		}
		snprintf(buf, len, "no producer is listening (a stale socket left by a producer "
			 "that is gone?)");
		return TOOL_ERR_NO_PRODUCER;
	case EACCES:
	case EPERM:
		snprintf(buf, len, "permission denied (the socket's mode and group decide who "
			 "may open it: --socket-mode and --socket-group of the producer; then its "
			 "--peer policy)");
		return TOOL_ERR_PERMISSION;
	case EAGAIN:
		snprintf(buf, len, "the producer accepts no more connections now (its backlog is "
			 "full)");
		return TOOL_ERR_BUSY;
	case ENAMETOOLONG:
		snprintf(buf, len, "the path is too long for a unix socket (107 bytes at most)");
		return TOOL_ERR_UNSUPPORTED;
	}
	snprintf(buf, len, "%s", strerror(err));
	return tool_error_from_errno(err);
}

/* Whether waiting can help: nobody there yet, or a producer about to replace a stale socket. */
static bool worth_waiting(const char *path, int err)
{
	struct stat st;

	if (err == ENOENT || err == EAGAIN)
		return true;
	return err == ECONNREFUSED && (path[0] == '@' ||
				       (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)));
}

struct dmapipe_client *connect_client_wait(const char *cmd,
					   const struct dmapipe_client_options *opts,
					   uint32_t timeout_ms, bool quiet)
{
	uint64_t start = now_ns();
	uint64_t deadline = timeout_ms ? start + (uint64_t)timeout_ms * 1000000ull : UINT64_MAX;
	bool said = false;
	char why[256];
	enum tool_error code;

	for (;;) {
		struct dmapipe_client *client = dmapipe_client_new(opts);
		int err = errno;

		if (client) {
			/* what the library said about the attempts before is history */
			tool_log_flush();
			if (said && !quiet)
				fprintf(stderr, "%s: connected to %s\n", cmd, opts->path);
			return client;
		}
		if (stop_requested)
			return NULL;
		if (!worth_waiting(opts->path, err)) {
			/* the library said why the producer and we refused each other */
			if ((err == EACCES || err == EPERM) && tool_log_held()) {
				tool_error(TOOL_ERR_PERMISSION, 0, "cannot connect to %s", opts->path);
				return NULL;
			}
			code = socket_diagnose(opts->path, err, why, sizeof(why));
			tool_error(code, 0, "cannot connect to %s: %s", opts->path, why);
			return NULL;
		}
		if (now_ns() >= deadline) {
			code = socket_diagnose(opts->path, err, why, sizeof(why));
			tool_error(code, 0, "no producer on %s after %.1f s: %s", opts->path,
				   (double)(now_ns() - start) / 1e9, why);
			return NULL;
		}
		if (!said && !quiet)
			fprintf(stderr, "%s: waiting for a producer on %s\n", cmd, opts->path);
		said = true;
		/* the failed attempts' messages are expected while waiting */
		tool_log_discard();
		sleep_ms(20);
	}
}

const char *stream_name_of(const struct dmapipe_server_options *o)
{
	const char *base;

	if (o->stream_name)
		return o->stream_name;
	/* what the library names a stream it was given no name for */
	base = strrchr(o->path, '/');
	base = base ? base + 1 : o->path;
	return *base == '@' ? base + 1 : base;
}

void report_stream_error(struct dmapipe_client *client, const char *socket)
{
	const char *msg = NULL;
	enum dmapipe_error_code code = dmapipe_client_get_error(client, &msg);
	char name[32];

	/* the library logged the same ERROR: one line says it, with the code's name */
	tool_log_discard();
	tool_error(TOOL_ERR_PRODUCER, 0, "the stream from %s ended: producer error %s: %s",
		   socket, error_code_name(code, name, sizeof(name)),
		   msg && *msg ? msg : "no reason given");
}

void opt_socket_mode(const char *cmd, const char *s, struct socket_access *a)
{
	char *end;
	unsigned long mode;

	errno = 0;
	mode = strtoul(s, &end, 8);
	if (!*s || *end || errno || mode > 0777)
		usage_error(cmd, "bad --socket-mode '%s': an octal mode such as 0660 or 0666", s);
	if ((mode & 0600) != 0600)
		usage_error(cmd, "--socket-mode %s would lock the producer's own user out: "
			    "keep 0600 in it", s);
	a->mode = (uint32_t)mode;
	a->set_mode = true;
}

void opt_socket_group(const char *cmd, const char *s, struct socket_access *a)
{
	struct group *g = getgrnam(s);
	uint32_t gid;

	if (g) {
		a->gid = g->gr_gid;
	} else if (parse_u32(s, &gid) == 0) {
		a->gid = (gid_t)gid;
	} else {
		usage_error(cmd, "bad --socket-group '%s': no such group (a name or a number)", s);
	}
	a->set_group = true;
}

struct dmapipe_server *open_server(const char *cmd, struct dmapipe_server_options *o,
				   const struct socket_access *a)
{
	struct dmapipe_server *server;
	uint32_t mode = a && a->set_mode ? a->mode : o->socket_mode;
	uint32_t dir_mode = 0700;
	int ret, err;

	if (a && (a->set_mode || a->set_group)) {
		if (o->path[0] == '@')
			usage_error(cmd, "--socket-mode and --socket-group are for a socket file; "
				    "@%s is abstract: anyone may open it, --peer decides who is served",
				    o->path + 1);
		/* the directory lets in whom the socket's mode lets in, no more */
		if (mode & 0060)
			dir_mode |= 0050;
		if (mode & 0006)
			dir_mode |= 0005;
		o->socket_mode = mode;
	}
	ret = dmapipe_socket_prepare_dir(o->path, dir_mode);
	if (ret < 0) {
		tool_error(TOOL_OK, ret, "cannot serve on %s", o->path);
		return NULL;
	}
	server = dmapipe_server_new(o);
	if (!server) {
		err = errno;
		tool_error(err == EEXIST ? TOOL_ERR_NOT_SOCKET : TOOL_OK, err, "cannot serve on %s",
			   o->path);
		return NULL;
	}
	if (a && a->set_group && chown(o->path, (uid_t)-1, a->gid) < 0) {
		err = errno;
		tool_error(TOOL_ERR_PERMISSION, err, "cannot give %s the group %u%s", o->path,
			   (unsigned int)a->gid, err == EPERM ?
			   " (a user can only give a file a group it belongs to)" : "");
		dmapipe_server_free(server);
		return NULL;
	}
	return server;
}
