/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pools: a fixed set of buffers that are allocated, mapped and pre-faulted
 * once and then reused, because allocating or first-touching a 4K frame
 * costs milliseconds.
 *
 * A pool buffer is free when nobody holds a reference: dmapipe_buffer_unref()
 * puts it back on the free list at refcount 0 (dmapipe_pool_return_buffer).
 * dmapipe_pool_free() destroys the free buffers and detaches the busy ones
 * (buffer->pool = NULL), which are then destroyed by their last unref.
 *
 * One process-wide lock guards pool membership (free lists, buffer->pool),
 * so a reference can be dropped in any thread, even while another thread
 * frees the pool. It is held only for list operations, never for
 * allocation, mapping or destruction.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "core-private.h"

struct dmapipe_pool {
	struct dmapipe_allocator *allocator; /* reference */
	struct dmapipe_format format;
	char *name;                          /* NULL: buffers are not named */
	struct dmapipe_buffer **buffers;     /* by index; each owned by the pool while free */
	unsigned int n_buffers;
	unsigned int capacity;               /* of buffers[] and free_stack[] */
	unsigned int *free_stack;            /* indices; the last one freed is reused first */
	unsigned int n_free;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

bool dmapipe_pool_return_buffer(struct dmapipe_buffer *buffer)
{
	struct dmapipe_pool *pool;

	pthread_mutex_lock(&pool_lock);
	pool = buffer->pool;
	if (!pool) {
		pthread_mutex_unlock(&pool_lock);
		return false;
	}
	/* someone took a new reference between the count reaching 0 and here */
	if (__atomic_load_n(&buffer->refcount, __ATOMIC_ACQUIRE) == 0 && !buffer->in_free_list) {
		buffer->in_free_list = true;
		pool->free_stack[pool->n_free++] = (unsigned int)buffer->index;
	}
	pthread_mutex_unlock(&pool_lock);
	return true;
}

void dmapipe_pool_revive_buffer(struct dmapipe_buffer *buffer)
{
	struct dmapipe_pool *pool;

	pthread_mutex_lock(&pool_lock);
	pool = buffer->pool;
	if (pool && buffer->in_free_list) {
		for (unsigned int i = 0; i < pool->n_free; i++) {
			if (pool->free_stack[i] != (unsigned int)buffer->index)
				continue;
			memmove(&pool->free_stack[i], &pool->free_stack[i + 1],
				(pool->n_free - i - 1) * sizeof(pool->free_stack[0]));
			pool->n_free--;
			break;
		}
		buffer->in_free_list = false;
	}
	pthread_mutex_unlock(&pool_lock);
}

/* Makes room for @total buffers. Called with pool_lock held. */
static int reserve(struct dmapipe_pool *pool, unsigned int total)
{
	struct dmapipe_buffer **buffers;
	unsigned int *stack;

	if (total <= pool->capacity)
		return 0;
	buffers = reallocarray(pool->buffers, total, sizeof(*buffers));
	if (!buffers)
		return -ENOMEM;
	pool->buffers = buffers;
	stack = reallocarray(pool->free_stack, total, sizeof(*stack));
	if (!stack)
		return -ENOMEM; /* capacity unchanged: buffers[] is merely larger */
	pool->free_stack = stack;
	pool->capacity = total;
	return 0;
}

static struct dmapipe_buffer *make_buffer(struct dmapipe_pool *pool, unsigned int index)
{
	struct dmapipe_buffer *buffer;
	char label[64];
	int ret;

	buffer = dmapipe_allocator_alloc(pool->allocator, &pool->format);
	if (!buffer)
		return NULL;
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
	return buffer;
}

DMAPIPE_EXPORT int dmapipe_pool_grow(struct dmapipe_pool *pool, unsigned int n)
{
	struct dmapipe_buffer **fresh;
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
		fresh[i] = make_buffer(pool, first + i);
		if (!fresh[i]) {
			ret = -errno;
			while (i-- > 0)
				dmapipe_buffer_unref(fresh[i]);
			free(fresh);
			return ret;
		}
	}

	pthread_mutex_lock(&pool_lock);
	for (i = 0; i < n; i++) {
		struct dmapipe_buffer *buffer = fresh[i];

		buffer->pool = pool;
		buffer->index = (int)(first + i);
		buffer->in_free_list = true;
		__atomic_store_n(&buffer->refcount, 0, __ATOMIC_RELEASE);
		pool->buffers[first + i] = buffer;
		pool->free_stack[pool->n_free++] = first + i;
	}
	pool->n_buffers = total;
	pthread_mutex_unlock(&pool_lock);
	free(fresh);
	return 0;
}

DMAPIPE_EXPORT struct dmapipe_pool *dmapipe_pool_new(struct dmapipe_allocator *allocator,
						     const struct dmapipe_format *format,
						     unsigned int count, const char *name)
{
	struct dmapipe_layout layout;
	struct dmapipe_pool *pool;
	int ret;

	if (!format) {
		errno = EINVAL;
		return NULL;
	}
	ret = dmapipe_layout_init(&layout, format, 0);
	if (ret < 0) {
		char fourcc[16];

		log_error("pool: cannot lay out %s %ux%u modifier 0x%llx: %s",
			  dmapipe_fourcc_to_string(format->fourcc, fourcc, sizeof(fourcc)),
			  format->width, format->height, (unsigned long long)format->modifier,
			  strerror(-ret));
		errno = -ret;
		return NULL;
	}

	pool = calloc(1, sizeof(*pool));
	if (!pool) {
		errno = ENOMEM;
		return NULL;
	}
	pool->format = *format;
	if (name) {
		pool->name = strdup(name);
		if (!pool->name) {
			free(pool);
			errno = ENOMEM;
			return NULL;
		}
	}
	pool->allocator = allocator ? dmapipe_allocator_ref(allocator) :
				      dmapipe_allocator_new_default();
	if (!pool->allocator) {
		ret = -errno;
		goto fail;
	}

	ret = dmapipe_pool_grow(pool, count);
	if (ret < 0)
		goto fail;
	return pool;

fail:
	dmapipe_pool_free(pool);
	errno = -ret;
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
		struct dmapipe_buffer *buffer = pool->buffers[i];

		buffer->pool = NULL;
		if (buffer->in_free_list) {
			buffer->in_free_list = false;
			if (doomed)
				doomed[n_doomed++] = buffer;
			else
				dmapipe_buffer_destroy(buffer); /* no memory: under the lock */
		}
		/* busy buffers are destroyed by their last unref */
	}
	pool->n_free = 0;
	pthread_mutex_unlock(&pool_lock);

	for (unsigned int i = 0; i < n_doomed; i++)
		dmapipe_buffer_destroy(doomed[i]);
	free(doomed);
	dmapipe_allocator_unref(pool->allocator);
	free(pool->buffers);
	free(pool->free_stack);
	free(pool->name);
	free(pool);
}

DMAPIPE_EXPORT struct dmapipe_buffer *dmapipe_pool_acquire(struct dmapipe_pool *pool)
{
	struct dmapipe_buffer *buffer;

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
	buffer = pool->buffers[pool->free_stack[--pool->n_free]];
	buffer->in_free_list = false;
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
		buffer = pool->buffers[index];
	pthread_mutex_unlock(&pool_lock);
	if (!buffer)
		errno = EINVAL;
	return buffer;
}
