/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The unix sockets of a stream, set up: addresses (a filesystem path or
 * "@name" in the abstract namespace), the producer's listening socket with
 * its permissions and the recovery of a socket file a crashed producer left
 * behind, the consumer's connect, and the peer credential policy. Moving
 * messages over a connected socket is transport.h's.
 */
#ifndef DMAPIPE_SOCKET_H
#define DMAPIPE_SOCKET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "dmapipe/stream.h"

/*
 * Fills @addr from @path (not NULL): a filesystem path, or "@name" for the
 * abstract namespace. Returns 0, -EINVAL (empty) or -ENAMETOOLONG.
 */
int dmapipe_socket_addr(const char *path, struct sockaddr_un *addr, socklen_t *len)
	__attribute__((nonnull));

/* The socket file a listening socket made, to remove exactly that one. */
struct dmapipe_socket_file {
	bool made; /* false for an abstract socket: nothing to remove */
	dev_t dev;
	ino_t ino;
};

/*
 * Listens on @path (SOCK_SEQPACKET, non-blocking, close-on-exec). A socket
 * file nobody answers on (a crashed producer's) is replaced; anything else
 * at the path is left alone. A filesystem socket gets @mode, and appears at
 * @path only once it listens (socket.c); *@file says which file it is. Returns the listening fd (the caller closes it),
 * or a negative errno, logged: -EADDRINUSE (a live producer is there),
 * -EEXIST (the path is not a socket), -EINVAL / -ENAMETOOLONG (bad path).
 */
int dmapipe_socket_listen(const char *path, uint32_t mode, struct dmapipe_socket_file *file);

/*
 * Removes the socket file at @path if it is still the one described by
 * @file: a producer that replaced ours keeps its socket.
 */
void dmapipe_socket_unlink(const char *path, const struct dmapipe_socket_file *file);

/*
 * Connects to the producer listening on @path. Returns a connected,
 * non-blocking, close-on-exec SOCK_SEQPACKET fd (the caller closes it), or
 * a negative errno: -ENOENT or -ECONNREFUSED (nobody listens), -EAGAIN (a
 * producer listens but its backlog is full), -EINVAL / -ENAMETOOLONG (bad
 * path), or another errno from socket() or connect().
 */
int dmapipe_socket_connect(const char *path);

/*
 * Reads the peer's credentials (SO_PEERCRED) of the connected socket @fd
 * into *@cred and checks them against @policy (@uid and @gid for the UID
 * and GID policies; DMAPIPE_PEER_SAME_UID compares with our effective uid).
 * Root (uid 0) is always allowed. Returns 0, or -EACCES (refused) or the
 * errno of getsockopt(), with *@why set to a static reason.
 */
int dmapipe_peer_check(int fd, enum dmapipe_peer_policy policy, uid_t uid, gid_t gid,
		       struct ucred *cred, const char **why);

#endif /* DMAPIPE_SOCKET_H */
