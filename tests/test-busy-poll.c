/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dmapipe_busy_poll_wait(): the window the adaptive busy poll keeps, and
 * that it answers as epoll_wait() does.
 *
 * Deterministic on a loaded machine and under valgrind: "a message came
 * soon" is an eventfd that is readable before the call, and the bounds are
 * large (tens of milliseconds) next to what a call on a ready fd costs.
 * Times are only ever asserted as lower bounds, which a slow machine
 * cannot break.
 *
 * A wait grows its window only when its sleep, not its poll, found the
 * message, and a poll that found nothing makes the next waits sleep at
 * once (1, 2, 4 ... up to 64 of them). To have the sleep find a message that was readable all along,
 * this program brings its own epoll_wait() and epoll_pwait2() (below),
 * which the library, linked in statically, calls instead of libc's: they
 * count polls and sleeps, and while hide_polls is set they answer every
 * poll "nothing yet". A sleep's timeout is noted in milliseconds, rounded
 * up, as the library's nanoseconds would be without epoll_pwait2().
 * Its sched_yield() stands for another task running for yield_away_us
 * while that is set, and otherwise returns at once, as with nothing else
 * to run: a real yield on a loaded machine would hand the CPU to the load.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "private.h"
#include "stream/busy-poll.h"
#include "testlib.h"

#define COOKIE_READY 0xb05e11u
#define COOKIE_IDLE 0x1d1eu

static unsigned int polls;  /* epoll_wait() calls with timeout 0 */
static unsigned int sleeps; /* epoll_wait() calls with another timeout */
static int last_timeout;
static bool hide_polls;
/* what a hidden poll costs, spinning: it keeps the rest of the loop (the
 * clock reads around a yield) a small part of the poll's time */
static uint64_t hidden_poll_ns;
static unsigned int yield_away_us;

int sched_yield(void)
{
	if (yield_away_us) {
		struct timespec ts = { .tv_nsec = (long)yield_away_us * 1000 };

		nanosleep(&ts, NULL);
	}
	return 0;
}

int epoll_wait(int epfd, struct epoll_event *events, int max_events, int timeout)
{
	if (timeout == 0) {
		polls++;
		if (hide_polls) {
			uint64_t t = dmapipe_now_ns();

			while (dmapipe_now_ns() - t < hidden_poll_ns)
				;
			return 0;
		}
	} else {
		sleeps++;
	}
	last_timeout = timeout;
	return epoll_pwait(epfd, events, max_events, timeout, NULL);
}

#if HAVE_EPOLL_PWAIT2
/* epoll_pwait2() calls, and what it answers while pwait2_errno is set:
 * a kernel before 5.11 (ENOSYS), a seccomp filter that refuses it (EPERM) */
static unsigned int pwait2_calls;
static int pwait2_errno;

/* the library's sleeps with a timeout, where libc has epoll_pwait2() */
int epoll_pwait2(int epfd, struct epoll_event *events, int max_events,
		 const struct timespec *timeout, const sigset_t *sigmask)
{
	int64_t ns = timeout ? (int64_t)timeout->tv_sec * 1000000000 + timeout->tv_nsec : -1;

	check(sigmask == NULL);
	pwait2_calls++;
	if (pwait2_errno) {
		errno = pwait2_errno;
		return -1;
	}
	return epoll_wait(epfd, events, max_events, ns < 0 ? -1 : (int)((ns + 999999) / 1000000));
}
#endif

/* the library's timeouts are in nanoseconds, the tests' in milliseconds */
static int wait_ms(struct dmapipe_busy_poll *bp, int epfd, struct epoll_event *events,
		   int max_events, int timeout_ms)
{
	return dmapipe_busy_poll_wait(bp, epfd, events, max_events,
				      dmapipe_timeout_ns_of_ms(timeout_ms));
}

struct set {
	int epfd;
	int ready; /* eventfd the tests make readable */
	int idle;  /* eventfd that never is: the answer must name the other one */
};

static void set_open(struct set *s)
{
	struct epoll_event ev = { .events = EPOLLIN };

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	check(s->epfd >= 0);
	s->ready = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->idle = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	check(s->ready >= 0 && s->idle >= 0);
	ev.data.u64 = COOKIE_IDLE;
	check(epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->idle, &ev) == 0);
	ev.data.u64 = COOKIE_READY;
	check(epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->ready, &ev) == 0);
}

static void set_close(struct set *s)
{
	close(s->epfd);
	close(s->ready);
	close(s->idle);
}

static void post(const struct set *s)
{
	uint64_t one = 1;

	check(write(s->ready, &one, sizeof(one)) == sizeof(one));
}

static void drain(const struct set *s)
{
	uint64_t v;

	check(read(s->ready, &v, sizeof(v)) == sizeof(v));
	check(v >= 1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void reset_counts(void)
{
	polls = 0;
	sleeps = 0;
	last_timeout = -2;
}

/* one wait on a readable set: 1, the ready fd's own data, then drained */
static void wait_ready(struct dmapipe_busy_poll *bp, const struct set *s, int timeout_ms)
{
	struct epoll_event ev[4];
	int n;

	post(s);
	n = wait_ms(bp, s->epfd, ev, 4, timeout_ms);
	check_int_eq(n, 1);
	check_int_eq(ev[0].data.u64, COOKIE_READY);
	check(ev[0].events & EPOLLIN);
	drain(s);
}

/* one wait on an empty set that must time out, and take its whole timeout */
static void wait_timeout(struct dmapipe_busy_poll *bp, const struct set *s, int timeout_ms)
{
	struct epoll_event ev[4];
	uint64_t t0 = now_ns();
	int n;

	n = wait_ms(bp, s->epfd, ev, 4, timeout_ms);
	check_int_eq(n, 0);
	check_msg(now_ns() - t0 >= (uint64_t)timeout_ms * 1000000,
		  "returned after %llu us, before its %d ms timeout",
		  (unsigned long long)((now_ns() - t0) / 1000), timeout_ms);
}

/*
 * The window opens after a wait whose sleep ended soon, then doubles up to
 * the bound and stays there; a message found while polling leaves it as
 * it is. The bound is 50 ms, so each "soon" wait (a poll of at most 50 ms,
 * then a sleep on a readable fd) has 150 ms of margin before REACH * 50 ms.
 */
static void test_grow(void)
{
	struct dmapipe_busy_poll bp;
	const uint64_t max = 50000000;
	struct set s;

	set_open(&s);
	dmapipe_busy_poll_init(&bp, 50000);
	check_int_eq(bp.max_ns, max);
	check_int_eq(bp.window_ns, 0); /* a new stream does not poll */

	/* window 0: no poll at all, one sleep that finds the message at once */
	reset_counts();
	wait_ready(&bp, &s, -1);
	check_int_eq(polls, 0);
	check_int_eq(sleeps, 1);
	check_int_eq(last_timeout, -1);
	check_int_eq(bp.window_ns, max / 4);

	/* the poll finds it: nothing learned, the window stays */
	reset_counts();
	wait_ready(&bp, &s, -1);
	check_int_eq(polls, 1);
	check_int_eq(sleeps, 0);
	check_int_eq(bp.window_ns, max / 4);

	/* polls see nothing, the sleep after them finds it: doubles, to the bound */
	hide_polls = true;
	reset_counts();
	wait_ready(&bp, &s, -1);
	check(polls >= 1);
	check_int_eq(sleeps, 1);
	check_int_eq(bp.window_ns, max / 2);

	bp.skip = 0; /* that poll found nothing: the backoff is test_backoff()'s */
	wait_ready(&bp, &s, 1000);
	check_int_eq(bp.window_ns, max);

	/* and no further */
	bp.skip = 0;
	wait_ready(&bp, &s, -1);
	check_int_eq(bp.window_ns, max);
	hide_polls = false;
	bp.skip = 0; /* the backoff is test_backoff()'s */

	/*
	 * A timeout shorter than the window is spent polling, with no sleep
	 * after it, and says nothing about how fast messages come: the window
	 * stays.
	 */
	reset_counts();
	wait_timeout(&bp, &s, 1);
	check(polls >= 1);
	check_int_eq(sleeps, 0);
	check_int_eq(bp.window_ns, max);

	set_close(&s);
	test_pass("grow");
}

/*
 * A wait that slept past REACH * bound (100 ms against 4 * 20 ms) halves
 * the window; under 1 us it closes, and a closed window stays closed.
 */
static void test_shrink(void)
{
	struct dmapipe_busy_poll bp;
	uint64_t want;
	unsigned int steps = 0;
	struct set s;

	set_open(&s);
	dmapipe_busy_poll_init(&bp, 20000);
	/* opened fully by hand: how it grows is test_grow()'s */
	bp.window_ns = bp.max_ns;

	do {
		want = bp.window_ns / 2;
		if (want < 1000)
			want = 0;
		bp.skip = 0; /* each poll finds nothing: the backoff is test_backoff()'s */
		reset_counts();
		wait_timeout(&bp, &s, 100);
		check(polls >= 1); /* the window was open: it polled first */
		check_int_eq(sleeps, 1);
		check_msg(last_timeout >= 1 && last_timeout <= 100,
			  "slept with timeout %d after polling", last_timeout);
		check_int_eq(bp.window_ns, want);
		steps++;
	} while (bp.window_ns > 0);
	/* 20 ms halves 14 times to 1220 ns, and the next halving (610) closes it */
	check_int_eq(steps, 15);

	reset_counts();
	wait_timeout(&bp, &s, 100);
	check_int_eq(polls, 0);
	check_int_eq(sleeps, 1);
	check_int_eq(last_timeout, 100);
	check_int_eq(bp.window_ns, 0);

	/* and a fast message opens it again, at a quarter of the bound */
	wait_ready(&bp, &s, 100);
	check_int_eq(bp.window_ns, bp.max_ns / 4);

	set_close(&s);
	test_pass("shrink");
}

/*
 * A poll that finds nothing makes the next wait sleep at once, the next
 * such poll the next 2, then 4, up to 64; a poll that finds the message
 * ends the backoff. Tried with every poll hidden (each fails after its
 * window, 50 ms here), with the CPU given away during such polls, then
 * with polls that see the ready fd.
 */
static void test_backoff(void)
{
	static const unsigned int skips[] = { 1, 2, 4, 8, 16, 32, 64, 64 };
	struct dmapipe_busy_poll bp;
	struct set s;

	set_open(&s);
	/*
	 * On a loaded machine the load preempts the polls: time that lands
	 * between the clock reads around a yield counts as given away, which
	 * it is. Each hidden poll spins 10 us, so that little of it lands
	 * there, and the window is 50 ms, more than a preemption lasts.
	 */
	dmapipe_busy_poll_init(&bp, 50000);
	hidden_poll_ns = 10000;
	bp.window_ns = bp.max_ns;

	hide_polls = true;
	for (unsigned int i = 0; i < ARRAY_SIZE(skips); i++) {
		/* this wait polls, finds nothing, and sleeps */
		reset_counts();
		wait_ready(&bp, &s, -1);
		check(polls >= 1);
		check_int_eq(sleeps, 1);
		check_int_eq(bp.backoff, skips[i]);
		check_int_eq(bp.skip, skips[i]);
		/* the next skips[i] waits sleep at once (the first few only:
		 * the count is what matters, not every sleep) */
		for (unsigned int k = 0; k < skips[i]; k++) {
			reset_counts();
			wait_ready(&bp, &s, -1);
			check_int_eq(polls, 0);
			check_int_eq(sleeps, 1);
		}
		check_int_eq(bp.skip, 0);
	}
	/* the window itself is left to REACH: each sleep found its message */
	check_int_eq(bp.window_ns, bp.max_ns);

	/*
	 * A poll whose yields gave the CPU away for most of its window (here
	 * 200 us each, as if another task ran) cost little: no backoff, the
	 * next wait polls again. Tried twice, from no backoff.
	 */
	bp.skip = 0;
	bp.backoff = 0;
	yield_away_us = 200;
	for (int i = 0; i < 2; i++) {
		reset_counts();
		wait_ready(&bp, &s, -1);
		check(polls >= 1);
		check_int_eq(sleeps, 1);
		check_int_eq(bp.backoff, 0);
		check_int_eq(bp.skip, 0);
	}
	yield_away_us = 0;

	/* a poll that finds the message: polling at every wait again */
	bp.backoff = 64;
	hide_polls = false;
	hidden_poll_ns = 0;
	reset_counts();
	wait_ready(&bp, &s, -1);
	check_int_eq(polls, 1);
	check_int_eq(sleeps, 0);
	check_int_eq(bp.backoff, 0);
	check_int_eq(bp.skip, 0);
	reset_counts();
	wait_ready(&bp, &s, -1);
	check_int_eq(polls, 1);
	check_int_eq(sleeps, 0);

	set_close(&s);
	test_pass("backoff");
}

/* busy_poll_us = 0: exactly epoll_wait(), never a poll, never a window */
static void test_off(void)
{
	struct dmapipe_busy_poll bp;
	struct set s;

	set_open(&s);
	dmapipe_busy_poll_init(&bp, 0);
	check_int_eq(bp.max_ns, 0);
	check_int_eq(bp.window_ns, 0);

	for (int i = 0; i < 3; i++) {
		reset_counts();
		wait_ready(&bp, &s, -1);
		check_int_eq(polls, 0);
		check_int_eq(sleeps, 1);
		check_int_eq(last_timeout, -1);
		check_int_eq(bp.window_ns, 0);
	}

	/* a timeout passes through unchanged and is kept in full */
	reset_counts();
	wait_timeout(&bp, &s, 20);
	check_int_eq(polls, 0);
	check_int_eq(sleeps, 1);
	check_int_eq(last_timeout, 20);

	/* timeout 0 is one poll */
	reset_counts();
	wait_ready(&bp, &s, 0);
	check_int_eq(polls, 1);
	check_int_eq(sleeps, 0);
	check_int_eq(bp.window_ns, 0);

	set_close(&s);
	test_pass("off");
}

/*
 * timeout_ms = 0 is the caller's own poll: one epoll_wait(0), whatever the
 * window, which it neither uses nor changes.
 */
static void test_no_wait(void)
{
	struct dmapipe_busy_poll bp;
	struct epoll_event ev[4];
	struct set s;

	set_open(&s);
	dmapipe_busy_poll_init(&bp, 20000);
	bp.window_ns = bp.max_ns / 2;

	reset_counts();
	check_int_eq(wait_ms(&bp, s.epfd, ev, 4, 0), 0);
	check_int_eq(polls, 1);
	check_int_eq(sleeps, 0);
	check_int_eq(bp.window_ns, bp.max_ns / 2);

	reset_counts();
	wait_ready(&bp, &s, 0);
	check_int_eq(polls, 1);
	check_int_eq(sleeps, 0);
	check_int_eq(bp.window_ns, bp.max_ns / 2);

	/* with the window closed too */
	bp.window_ns = 0;
	reset_counts();
	check_int_eq(wait_ms(&bp, s.epfd, ev, 4, 0), 0);
	check_int_eq(polls, 1);
	check_int_eq(bp.window_ns, 0);

	set_close(&s);
	test_pass("no-wait");
}

struct writer {
	const struct set *set;
	unsigned int delay_us;
};

static void *writer_run(void *data)
{
	const struct writer *w = data;
	struct timespec ts = { .tv_nsec = (long)w->delay_us * 1000 };

	nanosleep(&ts, NULL);
	post(w->set);
	return NULL;
}

/*
 * A message that another thread sends while the wait polls (a 2 ms delay
 * against a 50 ms window) is returned as epoll_wait() would return it.
 * Whether the poll or the sleep caught it depends on the scheduler, so
 * neither that nor the time is asserted.
 */
static void test_other_thread(void)
{
	struct dmapipe_busy_poll bp;
	struct epoll_event ev[4];
	struct set s;
	struct writer w = { .set = &s, .delay_us = 2000 };
	pthread_t thread;
	int n;

	set_open(&s);
	dmapipe_busy_poll_init(&bp, 50000);
	bp.window_ns = bp.max_ns;

	for (int i = 0; i < 3; i++) {
		reset_counts();
		check(pthread_create(&thread, NULL, writer_run, &w) == 0);
		n = wait_ms(&bp, s.epfd, ev, 4, 5000);
		check(pthread_join(thread, NULL) == 0);
		check_int_eq(n, 1);
		check_int_eq(ev[0].data.u64, COOKIE_READY);
		check(ev[0].events & EPOLLIN);
		check(polls >= 1);
		drain(&s);
	}

	set_close(&s);
	test_pass("other-thread");
}

/*
 * Polling counts against the caller's timeout but never shortens it: with
 * the window shorter than the timeout, and longer than it (then only the
 * timeout is polled, and nothing sleeps after it), and closed.
 */
static void test_timeout_kept(void)
{
	struct dmapipe_busy_poll bp;
	struct set s;

	set_open(&s);
	dmapipe_busy_poll_init(&bp, 20000);

	bp.window_ns = bp.max_ns; /* 20 ms of polling inside 30 ms */
	wait_timeout(&bp, &s, 30);
	bp.skip = 0; /* that poll found nothing: the backoff is test_backoff()'s */
	bp.window_ns = bp.max_ns; /* a 5 ms timeout inside a 20 ms window */
	reset_counts();
	wait_timeout(&bp, &s, 5);
	check_int_eq(sleeps, 0);
	bp.window_ns = 0;
	wait_timeout(&bp, &s, 15);

	set_close(&s);
	test_pass("timeout-kept");
}

/*
 * Errors are epoll_wait()'s: -1 and errno, from the poll or from the sleep,
 * and an error teaches the window nothing. Tried: fd -1, a closed fd, and
 * an fd that is not an epoll instance (EINVAL).
 */
static void expect_error(struct dmapipe_busy_poll *bp, int epfd, int timeout_ms, int err)
{
	struct epoll_event ev[4];
	uint64_t window = bp->window_ns;

	errno = 0;
	check_int_eq(wait_ms(bp, epfd, ev, 4, timeout_ms), -1);
	check_int_eq(errno, err);
	check_int_eq(bp->window_ns, window);
}

static void test_errors(void)
{
	struct dmapipe_busy_poll bp, off;
	int closed, not_epoll;

	not_epoll = eventfd(0, EFD_CLOEXEC);
	check(not_epoll >= 0);
	closed = eventfd(0, EFD_CLOEXEC); /* nothing opens an fd after it */
	check(closed >= 0);
	close(closed);

	dmapipe_busy_poll_init(&bp, 20000);
	dmapipe_busy_poll_init(&off, 0);
	for (int open = 0; open < 2; open++) {
		bp.window_ns = open ? bp.max_ns / 2 : 0;
		reset_counts();
		expect_error(&bp, -1, 100, EBADF);
		/* an open window fails on its first poll, a closed one in its sleep */
		check_int_eq(polls, open ? 1 : 0);
		check_int_eq(sleeps, open ? 0 : 1);
		expect_error(&bp, closed, -1, EBADF);
		expect_error(&bp, not_epoll, 100, EINVAL);
		expect_error(&bp, -1, 0, EBADF);
	}
	expect_error(&off, -1, 100, EBADF);
	expect_error(&off, not_epoll, 0, EINVAL);
	check_int_eq(off.window_ns, 0);

	close(not_epoll);
	test_pass("errors");
}

/*
 * Without epoll_pwait2() (ENOSYS): the wait falls back to epoll_wait() with
 * the timeout rounded up to the millisecond, keeps it in full, and never
 * asks the kernel again. Run last: the library remembers for the process.
 */
static void test_no_pwait2(void)
{
#if HAVE_EPOLL_PWAIT2
	struct dmapipe_busy_poll bp;
	struct epoll_event ev[4];
	struct set s;
	uint64_t t0;

	set_open(&s);
	dmapipe_busy_poll_init(&bp, 0);
	reset_counts();
	pwait2_calls = 0;
	pwait2_errno = ENOSYS;
	t0 = now_ns();
	/* 20.5 ms: rounded up, never down */
	check_int_eq(dmapipe_busy_poll_wait(&bp, s.epfd, ev, 4, 20500000), 0);
	check_msg(now_ns() - t0 >= 20500000, "returned after %llu us, before its 20.5 ms",
		  (unsigned long long)((now_ns() - t0) / 1000));
	check_int_eq(pwait2_calls, 1);
	check_int_eq(sleeps, 1);
	check_int_eq(last_timeout, 21);
	reset_counts();
	wait_ready(&bp, &s, 1000);
	wait_timeout(&bp, &s, 10);
	check_int_eq(pwait2_calls, 1);
	check_int_eq(sleeps, 2);
	pwait2_errno = 0;
	set_close(&s);
	test_pass("no-pwait2");
#else
	printf("   (no-pwait2 not run: this libc has no epoll_pwait2())\n");
#endif
}

int main(void)
{
	int fds = test_count_fds();

	test_grow();
	test_shrink();
	test_backoff();
	test_off();
	test_no_wait();
	test_other_thread();
	test_timeout_kept();
	test_errors();
	test_no_pwait2();
	check_int_eq(test_count_fds(), fds);
	return 0;
}
