/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pools: a fixed set of buffers that are allocated, mapped and pre-faulted
 * once and then reused, because allocating or first-touching a 4K frame
 * costs milliseconds. Where the buffers come from is registered by whoever
 * makes the pool (struct dmapipe_pool_source); dmapipe_pool_new(), which
 * takes an allocator, is in alloc/pool-alloc.c.
 *
 * A pool buffer is free when nobody holds a reference: the pool's hook on
 * each buffer (struct member) keeps it on the free list when
 * dmapipe_buffer_unref() drops its last reference. dmapipe_pool_free()
 * destroys the free buffers and detaches the busy ones (member->pool =
 * NULL), which are then destroyed by their last unref; the member lives as
 * long as its buffer, so a buffer may outlive its pool.
 *
 * One process-wide lock guards pool membership (free lists, member->pool,
 * member->free), so a reference can be dropped in any thread, even while
 * another thread frees the pool. It is held only for list operations, never
 * for allocation, mapping or destruction.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

/*
 * The pool's hold on one of its buffers, the data of its hook. It lives as
 * long as the buffer (the hook's destroy frees it), which may be longer
 * than the pool.
 */
struct member {
	struct dmapipe_buffer *buffer;
	struct dmapipe_pool *pool; /* NULL until added and once the pool is freed */
	bool free;                 /* on the pool's free list */
};

struct dmapipe_pool {
	struct dmapipe_pool_source source;   /* owns source.data */
	struct dmapipe_format format;
	char *name;                          /* NULL: buffers are not named */
	struct member **members;             /* by index; each buffer owned by the pool while free */
	unsigned int n_buffers;
	unsigned int capacity;               /* of members[] and free_stack[] */
	unsigned int *free_stack;            /* indices; the last one freed is reused first */
	unsigned int n_free;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

/* The buffer's last reference went: back on the free list, unless the pool is gone. */
static bool member_release(struct dmapipe_buffer *buffer, void *data)
{
	struct member *m = data;
	struct dmapipe_pool *pool;

	pthread_mutex_lock(&pool_lock);
	pool = m->pool;
	if (!pool) {
		pthread_mutex_unlock(&pool_lock);
		return false;
	}
	/* someone took a new reference between the count reaching 0 and here */
	if (__atomic_load_n(&buffer->refcount, __ATOMIC_ACQUIRE) == 0 && !m->free) {
		m->free = true;
		pool->free_stack[pool->n_free++] = (unsigned int)buffer->index;
	}
	pthread_mutex_unlock(&pool_lock);
	return true;
}

/* A free buffer was taken by index (0 -> 1): off the free list. */
static void member_revive(struct dmapipe_buffer *buffer, void *data)
{
	struct member *m = data;
	struct dmapipe_pool *pool;

	pthread_mutex_lock(&pool_lock);
	pool = m->pool;
	if (pool && m->free) {
		for (unsigned int i = 0; i < pool->n_free; i++) {
			if (pool->free_stack[i] != (unsigned int)buffer->index)
				continue;
			memmove(&pool->free_stack[i], &pool->free_stack[i + 1],
				(pool->n_free - i - 1) * sizeof(pool->free_stack[0]));
			pool->n_free--;
			break;
		}
		m->free = false;
	}
	pthread_mutex_unlock(&pool_lock);
}

/* Makes room for @total buffers. Called with pool_lock held. */
static int reserve(struct dmapipe_pool *pool, unsigned int total)
{
	struct member **members;
	unsigned int *stack;

	if (total <= pool->capacity)
		return 0;
	members = reallocarray(pool->members, total, sizeof(*members));
	if (!members)
		return -ENOMEM;
	pool->members = members;
	stack = reallocarray(pool->free_stack, total, sizeof(*stack));
	if (!stack)
		return -ENOMEM; /* capacity unchanged: members[] is merely larger */
	pool->free_stack = stack;
	pool->capacity = total;
	return 0;
}

/*
 * A new buffer with the pool's hook on it, mapped and named, not yet in the
 * pool (member->pool is NULL, so its last unref destroys it).
 */
static struct member *make_member(struct dmapipe_pool *pool, unsigned int index)
{
	struct dmapipe_buffer_hook hook = {
		.release = member_release,
		.revive = member_revive,
		.destroy = free,
	};
	struct dmapipe_buffer *buffer;
	struct member *m;
	char label[64];
	int ret;

	buffer = pool->source.make(&pool->format, pool->source.data);
	if (!buffer)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m) {
		dmapipe_buffer_unref(buffer);
		errno = ENOMEM;
		return NULL;
	}
	m->buffer = buffer;
	hook.data = m;
	ret = dmapipe_buffer_add_hook(buffer, &hook);
	if (ret < 0) {
		free(m);
		dmapipe_buffer_unref(buffer);
		errno = -ret;
		return NULL;
	}
	ret = dmapipe_buffer_map_all(buffer);
	if (ret < 0) {
		dmapipe_buffer_unref(buffer);
		errno = -ret;
		return NULL;
	}
	if (pool->name) {
		snprintf(label, sizeof(label), "%s:%u", pool->name, index);
		ret = dmapipe_buffer_set_name(buffer, label);
		if (ret < 0 && ret != -ENOTTY)
			log_debug("naming buffer \"%s\" failed: %s", label, strerror(-ret));
	}
	return m;
}

DMAPIPE_EXPORT int dmapipe_pool_grow(struct dmapipe_pool *pool, unsigned int n)
{
	struct member **fresh;
	unsigned int first, total, i;
	int ret;

	if (!pool)
		return -EINVAL;
	if (n == 0)
		return 0;

	pthread_mutex_lock(&pool_lock);
	first = pool->n_buffers;
	ret = __builtin_add_overflow(first, n, &total) || total > INT32_MAX ? -EOVERFLOW :
									       reserve(pool, total);
	pthread_mutex_unlock(&pool_lock);
	if (ret < 0)
		return ret;

	fresh = calloc(n, sizeof(*fresh));
	if (!fresh)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		fresh[i] = make_member(pool, first + i);
		if (!fresh[i]) {
			ret = -errno;
			while (i-- > 0)
				dmapipe_buffer_unref(fresh[i]->buffer);
			free(fresh);
			return ret;
		}
	}

	pthread_mutex_lock(&pool_lock);
	for (i = 0; i < n; i++) {
		struct member *m = fresh[i];

		m->pool = pool;
		m->free = true;
		m->buffer->index = (int)(first + i);
		__atomic_store_n(&m->buffer->refcount, 0, __ATOMIC_RELEASE);
		pool->members[first + i] = m;
		pool->free_stack[pool->n_free++] = first + i;
	}
	pool->n_buffers = total;
	pthread_mutex_unlock(&pool_lock);
	free(fresh);
	return 0;
}

struct dmapipe_pool *dmapipe_pool_new_from_source(const struct dmapipe_format *format,
						  const char *name,
						  const struct dmapipe_pool_source *source)
{
	struct dmapipe_pool *pool = NULL;
	int err = EINVAL;

	if (!format || !source || !source->make)
		goto fail;
	err = ENOMEM;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		goto fail;
	if (name) {
		pool->name = strdup(name);
		if (!pool->name)
			goto fail;
	}
	pool->source = *source;
	pool->format = *format;
	return pool;

fail:
	free(pool);
	if (source && source->release)
		source->release(source->data);
	errno = err;
	return NULL;
}

DMAPIPE_EXPORT void dmapipe_pool_free(struct dmapipe_pool *pool)
{
	struct dmapipe_buffer **doomed = NULL;
	unsigned int n_doomed = 0;

	if (!pool)
		return;

	pthread_mutex_lock(&pool_lock);
	if (pool->n_free)
		doomed = calloc(pool->n_free, sizeof(*doomed));
	for (unsigned int i = 0; i < pool->n_buffers; i++) {
		struct member *m = pool->members[i];

		m->pool = NULL;
		if (m->free) {
			m->free = false;
			if (doomed)
				doomed[n_doomed++] = m->buffer;
			else
				dmapipe_buffer_destroy(m->buffer); /* no memory: under the lock */
		}
		/* busy buffers are destroyed by their last unref */
	}
	pool->n_free = 0;
	pthread_mutex_unlock(&pool_lock);

	for (unsigned int i = 0; i < n_doomed; i++)
		dmapipe_buffer_destroy(doomed[i]);
	free(doomed);
	if (pool->source.release)
		pool->source.release(pool->source.data);
	free(pool->members);
	free(pool->free_stack);
	free(pool->name);
	free(pool);
}

DMAPIPE_EXPORT struct dmapipe_buffer *dmapipe_pool_acquire(struct dmapipe_pool *pool)
{
	struct dmapipe_buffer *buffer;
	struct member *m;

	if (!pool) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&pool_lock);
	if (pool->n_free == 0) {
		pthread_mutex_unlock(&pool_lock);
		errno = EAGAIN;
		return NULL;
	}
	m = pool->members[pool->free_stack[--pool->n_free]];
	m->free = false;
	buffer = m->buffer;
	__atomic_store_n(&buffer->refcount, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&pool_lock);
	return buffer;
}

DMAPIPE_EXPORT unsigned int dmapipe_pool_get_size(const struct dmapipe_pool *pool)
{
	unsigned int n;

	if (!pool)
		return 0;
	pthread_mutex_lock(&pool_lock);
	n = pool->n_buffers;
	pthread_mutex_unlock(&pool_lock);
	return n;
}

DMAPIPE_EXPORT unsigned int dmapipe_pool_get_free(const struct dmapipe_pool *pool)
{
	unsigned int n;

	if (!pool)
		return 0;
	pthread_mutex_lock(&pool_lock);
	n = pool->n_free;
	pthread_mutex_unlock(&pool_lock);
	return n;
}

DMAPIPE_EXPORT struct dmapipe_buffer *dmapipe_pool_get_buffer(struct dmapipe_pool *pool,
							      unsigned int index)
{
	struct dmapipe_buffer *buffer = NULL;

	if (!pool) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&pool_lock);
	if (index < pool->n_buffers)
		buffer = pool->members[index]->buffer;
	pthread_mutex_unlock(&pool_lock);
	if (!buffer)
		errno = EINVAL;
	return buffer;
}
