/* SPDX-License-Identifier: MIT */
/*
 * A writer thread with a bounded queue: what a capture loop hands bytes to
 * so that it never waits for a file (docs/REALTIME.md). The loop copies a
 * packet into the queue or, when the queue is full, drops it and counts
 * it; the thread does the blocking write()s. Meant for encoded bitstreams
 * (small packets: the copy costs little), not for raw frames, which go to
 * the recorder's io_uring without a copy.
 */
#ifndef DMAPIPE_TOOL_WRITER_H
#define DMAPIPE_TOOL_WRITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct writer_stats {
	uint64_t bytes_written;
	uint64_t packets_queued, packets_dropped; /* dropped: the queue had no room */
	uint64_t max_queued;                      /* bytes, the high-water mark */
	uint64_t writes;
	uint64_t write_ns_max;                    /* the longest write() */
	uint64_t write_ns_p50, write_ns_p99;      /* over the last WRITER_SAMPLES writes */
};

#define WRITER_SAMPLES 4096

struct writer {
	int fd;                 /* not owned */
	uint8_t *ring;
	size_t size, head, tail; /* head: next byte to write; tail: next free byte */
	size_t used;
	bool stop, started;
	int error;              /* errno of the first failed write, 0 */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct writer_stats stats;
	uint32_t samples[WRITER_SAMPLES]; /* write() durations in microseconds */
	unsigned int n_samples;
};

/*
 * Starts a writer of @fd (the caller keeps the fd open until
 * writer_finish()) with a queue of @capacity bytes. 0 or -errno.
 */
int writer_start(struct writer *w, int fd, size_t capacity);
/*
 * Queues @len bytes (copied): 0; -EAGAIN when they do not fit (nothing
 * queued, counted as a dropped packet); -errno of an earlier failed write
 * (the writer stopped writing). Never blocks on the file.
 */
int writer_put(struct writer *w, const void *data, size_t len);
/* The first write error (errno), or 0. */
int writer_error(struct writer *w);
/*
 * Writes what is queued, stops the thread and fills @stats (may be NULL).
 * 0, or -errno of the first failed write. Idempotent.
 */
int writer_finish(struct writer *w, struct writer_stats *stats);
/* The statistics so far (a consistent copy). */
void writer_get_stats(struct writer *w, struct writer_stats *stats);

#endif /* DMAPIPE_TOOL_WRITER_H */
