/* SPDX-License-Identifier: MIT */
/* The writer thread of writer.h: a byte ring, one thread writing it out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "writer.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Writes @len bytes at @p; the lock is not held. 0 or errno. */
static int write_all(struct writer *w, const uint8_t *p, size_t len, uint64_t *took)
{
	uint64_t t0 = mono_ns();

	while (len) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return EIO;
		p += n;
		len -= (size_t)n;
	}
	*took = mono_ns() - t0;
	return 0;
}

static void *writer_main(void *data)
{
	struct writer *w = data;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		size_t len;
		uint64_t took = 0;
		int err;

		while (!w->used && !w->stop)
			pthread_cond_wait(&w->wake, &w->lock);
		if (!w->used)
			break;
		/* the contiguous part; the rest comes round next turn */
		len = w->head + w->used <= w->size ? w->used : w->size - w->head;
		pthread_mutex_unlock(&w->lock);
		err = w->error ? 0 : write_all(w, w->ring + w->head, len, &took);
		pthread_mutex_lock(&w->lock);
		if (err && !w->error)
			w->error = err;
		if (!err && !w->error) {
			w->stats.bytes_written += len;
			w->stats.writes++;
			if (took > w->stats.write_ns_max)
				w->stats.write_ns_max = took;
			w->samples[w->n_samples++ % WRITER_SAMPLES] =
				(uint32_t)(took / 1000 > UINT32_MAX ? UINT32_MAX : took / 1000);
		}
		w->head = (w->head + len) % w->size;
		w->used -= len;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int writer_start(struct writer *w, int fd, size_t capacity)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->size = capacity ? capacity : 1;
	w->ring = malloc(w->size);
	if (!w->ring)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	ret = pthread_create(&w->thread, NULL, writer_main, w);
	if (ret) {
		free(w->ring);
		w->ring = NULL;
		return -ret;
	}
	w->started = true;
	return 0;
}

int writer_put(struct writer *w, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t first;
	int ret = 0;

	pthread_mutex_lock(&w->lock);
	if (w->error) {
		ret = -w->error;
	} else if (len > w->size - w->used) {
		w->stats.packets_dropped++;
		ret = -EAGAIN;
	} else {
		first = w->size - w->tail < len ? w->size - w->tail : len;
		memcpy(w->ring + w->tail, p, first);
		memcpy(w->ring, p + first, len - first);
		w->tail = (w->tail + len) % w->size;
		w->used += len;
		if (w->used > w->stats.max_queued)
			w->stats.max_queued = w->used;
		w->stats.packets_queued++;
		pthread_cond_signal(&w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	return ret;
}

int writer_error(struct writer *w)
{
	int err;

	pthread_mutex_lock(&w->lock);
	err = w->error;
	pthread_mutex_unlock(&w->lock);
	return err;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* p50 and p99 of @n samples (microseconds) into @stats */
static void percentiles(const uint32_t *samples, unsigned int n, struct writer_stats *stats)
{
	uint32_t *sorted = n ? malloc(n * sizeof(*sorted)) : NULL;

	if (!sorted)
		return;
	memcpy(sorted, samples, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u32);
	stats->write_ns_p50 = (uint64_t)sorted[n / 2] * 1000;
	stats->write_ns_p99 = (uint64_t)sorted[(n * 99) / 100] * 1000;
	free(sorted);
}

void writer_get_stats(struct writer *w, struct writer_stats *stats)
{
	uint32_t samples[WRITER_SAMPLES];
	unsigned int n;

	pthread_mutex_lock(&w->lock);
	*stats = w->stats;
	n = w->n_samples < WRITER_SAMPLES ? w->n_samples : WRITER_SAMPLES;
	memcpy(samples, w->samples, n * sizeof(*samples));
	pthread_mutex_unlock(&w->lock);
	percentiles(samples, n, stats);
}

int writer_finish(struct writer *w, struct writer_stats *stats)
{
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
		w->started = false;
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->wake);
		free(w->ring);
		w->ring = NULL;
	}
	if (stats) {
		/* the thread is gone: nothing to lock */
		*stats = w->stats;
		percentiles(w->samples, w->n_samples < WRITER_SAMPLES ? w->n_samples : WRITER_SAMPLES,
			    stats);
	}
	return w->error ? -w->error : 0;
}
