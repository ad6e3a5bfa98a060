/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The closer: closes fds that another process sent us, off the thread
 * that received them.
 *
 * The last close() of a file runs its release, and some releases wait: a
 * TCP socket with SO_LINGER and unsent data waits up to its linger time,
 * a file on FUSE waits for the daemon's answer to its flush, and a unix
 * socket with fds still queued on it releases those files, which may wait
 * in turn. A peer that sends such an fd and closes its own copy leaves us
 * holding the last reference, so closing it where we refused it would
 * stall an event loop for as long as the peer likes. Every fd received
 * from a peer that is dropped before it was identified as a dma-buf, a
 * sealed memfd or a sync_file, and every connection socket that may still
 * hold a peer's unread fds, is handed to dmapipe_close_deferred() instead.
 *
 * The queue is unbounded (a refused fd must never be closed inline), and
 * is served by up to CLOSER_MAX_THREADS detached threads started on
 * demand, so one close that waits does not hold up the others for long.
 * Before closing, a thread turns a socket's linger off: the close then
 * returns at once and the connection winds down in the kernel.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "private.h"

#define CLOSER_MAX_THREADS 4

static pthread_once_t closer_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t closer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t closer_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t closer_done = PTHREAD_COND_INITIALIZER;

/* a ring of fds waiting; grows, never shrinks */
static int *queue;
static size_t queue_cap, queue_head, queue_len;
static unsigned int n_threads, n_idle, n_closing;
static bool warned;

static void reset_after_fork(void)
{
	/*
	 * Only the forking thread exists in the child, holding the lock
	 * (lock_for_fork): the closer threads are gone, and so are any
	 * waiters the condition variables knew. The fds still queued were
	 * inherited; the child's own first thread closes them.
	 */
	pthread_cond_init(&closer_work, NULL);
	pthread_cond_init(&closer_done, NULL);
	n_threads = n_idle = n_closing = 0;
	pthread_mutex_unlock(&closer_lock);
}

static void lock_for_fork(void)
{
	pthread_mutex_lock(&closer_lock);
}

static void unlock_after_fork(void)
{
	pthread_mutex_unlock(&closer_lock);
}

static void closer_init(void)
{
	pthread_atfork(lock_for_fork, unlock_after_fork, reset_after_fork);
}

static void close_now(int fd)
{
	/* no lingering: whatever the socket still has to send goes in the
	 * background (ENOTSOCK for anything else, which is fine) */
	struct linger off = { .l_onoff = 0, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &off, sizeof(off));
	dmapipe_close(fd);
}

static void *closer_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&closer_lock);
	for (;;) {
		int fd;

		while (queue_len == 0) {
			n_idle++;
			pthread_cond_wait(&closer_work, &closer_lock);
			n_idle--;
		}
		fd = queue[queue_head];
		queue_head = (queue_head + 1) % queue_cap;
		queue_len--;
		n_closing++;
		pthread_mutex_unlock(&closer_lock);

		close_now(fd);

		pthread_mutex_lock(&closer_lock);
		n_closing--;
		if (queue_len == 0 && n_closing == 0)
			pthread_cond_broadcast(&closer_done);
	}
	return NULL;
}

/* Called with the lock held: room for one more fd. */
static bool queue_reserve(void)
{
	size_t cap;
	int *q;

	if (queue_len < queue_cap)
		return true;
	cap = queue_cap ? queue_cap * 2 : 64;
	q = malloc(cap * sizeof(*q));
	if (!q)
		return false;
	for (size_t i = 0; i < queue_len; i++)
		q[i] = queue[(queue_head + i) % queue_cap];
	free(queue);
	queue = q;
	queue_cap = cap;
	queue_head = 0;
	return true;
}

/*
 * Called with the lock held: a thread that is free to take the next fd,
 * started if none is. The thread blocks every signal, so that a
 * program's handlers keep running (and interrupting waits) in its own
 * threads. False if no thread could be started at all.
 */
static bool ensure_thread(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t thread;
	int ret;

	if (n_idle >= queue_len || n_threads >= CLOSER_MAX_THREADS)
		return n_threads > 0;
	if (pthread_attr_init(&attr) != 0)
		return n_threads > 0;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	/* a capture thread that closes may run SCHED_FIFO: closing must not compete with it */
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_OTHER);
	pthread_attr_setschedparam(&attr, &(struct sched_param){ .sched_priority = 0 });
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&thread, &attr, closer_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (ret == 0)
		n_threads++;
	return n_threads > 0;
}

void dmapipe_close_deferred(int fd)
{
	bool inline_close = false;

	if (fd < 0)
		return;
	pthread_once(&closer_once, closer_init);
	pthread_mutex_lock(&closer_lock);
	if (queue_reserve()) {
		queue[(queue_head + queue_len) % queue_cap] = fd;
		queue_len++;
		if (ensure_thread()) {
			pthread_cond_signal(&closer_work);
		} else {
			/* take it back: without a thread it would never be closed */
			queue_len--;
			inline_close = true;
		}
	} else {
		inline_close = true;
	}
	if (inline_close && !warned) {
		warned = true;
		log_warn("closer: cannot close fds off this thread (no memory or no thread): "
			 "closing them here, which may wait");
	}
	pthread_mutex_unlock(&closer_lock);
	if (inline_close)
		close_now(fd);
}

int dmapipe_closer_wait_idle(int timeout_ms)
{
	uint64_t deadline = dmapipe_now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
	int ret = 0;

	pthread_once(&closer_once, closer_init);
	pthread_mutex_lock(&closer_lock);
	/* a forked child inherits the queue but not the threads */
	if (queue_len > 0 && n_threads == 0 && ensure_thread())
		pthread_cond_signal(&closer_work);
	while ((queue_len > 0 || n_closing > 0) && ret == 0) {
		struct timespec ts;
		uint64_t now = dmapipe_now_ns();

		if (timeout_ms >= 0 && now >= deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		if (timeout_ms < 0) {
			pthread_cond_wait(&closer_done, &closer_lock);
			continue;
		}
		/* the condvar runs on CLOCK_REALTIME: wait in short steps */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&closer_done, &closer_lock, &ts);
	}
	pthread_mutex_unlock(&closer_lock);
	return ret;
}
