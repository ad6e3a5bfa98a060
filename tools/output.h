/* SPDX-License-Identifier: MIT */
/*
 * Files the user names for a command's output (-o, a sidecar), written so
 * that nothing that is not the command's own is ever destroyed. One set of
 * rules for record, export and encode:
 *
 *   "-"                      stdout, written in place: never renamed or
 *                            removed.
 *   a new name, or an        the new content goes to a temporary file next
 *   existing regular file    to it, NAME.partial-XXXXXX, which takes the
 *                            name by rename() only once it holds something
 *                            (output_publish()); an existing file is
 *                            replaced only with OUTPUT_FORCE.
 *   a symbolic link          followed: the file it names is replaced as
 *                            above, the link stays.
 *   a character device or    written into (/dev/null, a terminal, a pipe
 *   a FIFO                   someone reads): never renamed over or removed.
 *   anything else            refused: a block device (writing into it would
 *                            overwrite a disk), a directory, a socket.
 *
 * A failed run removes its own temporary file and nothing else.
 */
#ifndef DMAPIPE_TOOL_OUTPUT_H
#define DMAPIPE_TOOL_OUTPUT_H

#include <pthread.h>
#include <stdbool.h>

enum output_flags {
	/* an existing regular file may be replaced (--force) */
	OUTPUT_FORCE = 1u << 0,
	/*
	 * the writer needs a regular file it can write at any offset (a
	 * recording): devices and FIFOs are refused, stdout must be a
	 * regular file not open for appending
	 */
	OUTPUT_SEEKABLE = 1u << 1,
};

enum output_kind {
	OUTPUT_CLOSED,
	OUTPUT_STDOUT,  /* "-" */
	OUTPUT_INTO,    /* a character device or a FIFO, written in place */
	OUTPUT_REPLACE, /* a temporary file that takes the name */
};

struct output {
	const char *cmd;  /* for messages: "dmapipe CMD: ..." */
	const char *name; /* as the user gave it (not copied) */
	char *target;     /* OUTPUT_REPLACE: the name the file takes, links resolved */
	char *temp;       /* OUTPUT_REPLACE: the temporary file while it has that name */
	int fd;           /* -1 once closed; stdout is never closed here */
	enum output_kind kind;
	unsigned int flags;
	bool published;   /* the content has its name (always, but for OUTPUT_REPLACE) */
	/* output_publish_start(): the thread renaming it, and what it returned */
	pthread_t publisher;
	bool publishing;  /* started (never reset: o->published is the thread's until joined) */
	bool joined;
	int publish_ret;
};

/*
 * Opens @name for @cmd's output with enum output_flags @flags, as the rules
 * above say. Returns 0 with o->fd open for writing, or -errno after printing
 * why to stderr (-EEXIST: an existing file without OUTPUT_FORCE).
 */
int output_open(struct output *o, const char *cmd, const char *name, unsigned int flags);

/*
 * output_publish() in a thread of its own, for a loop that must not wait
 * for the file system (a rename waits for its journal, which waits for a
 * stalled disk: docs/REALTIME.md). Only the first call starts it; read
 * o->published only after output_publish_wait(). 0, or -errno if the
 * thread could not start (then it was published here, synchronously).
 */
int output_publish_start(struct output *o);

/* Waits for output_publish_start()'s rename: its result, or 0 if none ran. */
int output_publish_wait(struct output *o);

/*
 * Gives the content its name: the temporary file is renamed over the
 * target (a no-op but for OUTPUT_REPLACE, and after the first call). The
 * target is checked again first: without OUTPUT_FORCE a file that appeared
 * meanwhile is not replaced; with it, only a regular file is. Returns 0 or
 * -errno after printing why. o->fd stays open.
 */
int output_publish(struct output *o);

/*
 * Ends the output. With @ok: flushes it to the disk (a regular file), gives
 * it its name if it has none yet, closes it; returns 0 or -errno after
 * printing why. Without @ok: closes it and removes the temporary file if it
 * never got its name (what was published stays: it holds what the run
 * wrote); returns 0. Idempotent.
 */
int output_close(struct output *o, bool ok);

#endif /* DMAPIPE_TOOL_OUTPUT_H */
