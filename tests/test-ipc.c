/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Streaming between real processes: fan-out to 8 verifying consumers, a
 * stalled consumer that must not slow the producer, kill -9 of a consumer,
 * a producer restart its consumer re-joins, fd leaks, peers of the wrong
 * uid, and the end of a stream with a consumer that keeps its last frame. Every child reports through its exit status and a pipe.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "private.h"
#include "testlib.h"

static char *dir;

static const struct dmapipe_format fmt = {
	.fourcc = 0x3231564e, /* NV12 */
	.width = 640,
	.height = 480,
	.modifier = DMAPIPE_MOD_LINEAR,
};

struct consumer_report {
	uint64_t received;
	uint64_t verified;
	uint64_t failed;
	uint64_t gaps;
	uint64_t reconnects;
	uint64_t max_sequence;
	uint64_t held_at_eos; /* hold_last: the frame it still held when EOS came */
	int fds_before;
	int fds_after;
	int error;
	int state;
	uint32_t mem_kind;
};

static char *path_for(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- producer ------------------------------------------------------------ */

struct producer_params {
	const char *path;
	unsigned int buffers;
	unsigned int frames;     /* 0: until killed */
	unsigned int fps;
	unsigned int wait_consumers;
	uint32_t lease_timeout_ms;
	uint64_t first_sequence;
	bool draw;
	enum dmapipe_peer_policy peer_policy;
	uint32_t socket_mode;
	unsigned int drain_timeout_ms; /* default 3000 */
};

struct producer_report {
	uint64_t produced;
	uint64_t skipped;   /* no buffer was free: the producer would have slowed */
	uint64_t elapsed_ms;
	uint64_t dropped;
	uint64_t bytes_copied;
	uint32_t max_buffers_used;
	int drained;            /* what dmapipe_server_drain() returned */
	uint64_t drain_ms;
	uint64_t lease_timeouts;
};

static int run_producer(const struct producer_params *p, struct producer_report *r)
{
	struct dmapipe_server_options o;
	struct dmapipe_server_stats st;
	struct dmapipe_server *s;
	uint64_t period_ns, next, t0;

	memset(r, 0, sizeof(*r));
	dmapipe_server_options_init(&o);
	o.path = p->path;
	o.lease_timeout_ms = p->lease_timeout_ms;
	o.peer_policy = p->peer_policy;
	if (p->socket_mode)
		o.socket_mode = p->socket_mode;
	o.producer_name = "test-ipc";
	s = dmapipe_server_new(&o);
	if (!s)
		return 10;
	if (dmapipe_server_alloc_buffers(s, NULL, &fmt, p->buffers) < 0)
		return 11;
	/* wait for the consumers so every one of them sees frame 1 */
	if (dmapipe_server_wait_consumers(s, p->wait_consumers, 20000) < 0)
		return 12;

	period_ns = p->fps ? 1000000000ull / p->fps : 0;
	t0 = dmapipe_now_ns();
	next = t0;
	for (uint64_t i = 0; !p->frames || i < p->frames; i++) {
		struct dmapipe_frame_meta meta;
		struct dmapipe_buffer *b;
		uint64_t seq = p->first_sequence + i;

		/* dispatch until the frame is due, never longer */
		for (;;) {
			uint64_t now = dmapipe_now_ns();
			int wait = now >= next ? 0 : (int)((next - now) / 1000000);

			dmapipe_server_dispatch(s, wait);
			if (dmapipe_now_ns() >= next)
				break;
		}
		next += period_ns;
		b = dmapipe_server_dequeue(s);
		if (!b) {
			r->skipped++;
			continue;
		}
		if (p->draw && dmapipe_buffer_draw_pattern(b, seq) < 0)
			return 13;
		dmapipe_frame_meta_init(&meta);
		meta.sequence = seq;
		meta.timestamp_ns = dmapipe_now_ns();
		if (dmapipe_server_queue(s, b, &meta) < 0)
			return 14;
		r->produced++;
		dmapipe_server_get_stats(s, &st);
		r->max_buffers_used = MAX(r->max_buffers_used, st.buffers - st.buffers_free);
	}
	r->elapsed_ms = (dmapipe_now_ns() - t0) / 1000000;
	dmapipe_server_get_stats(s, &st);
	r->bytes_copied = st.bytes_copied;
	/* what is queued reaches the consumers, then EOS, then the leases come back */
	t0 = dmapipe_now_ns();
	r->drained = dmapipe_server_drain(s, p->drain_timeout_ms ? (int)p->drain_timeout_ms : 3000);
	r->drain_ms = (dmapipe_now_ns() - t0) / 1000000;
	dmapipe_server_get_stats(s, &st);
	r->dropped = st.frames_dropped;
	r->lease_timeouts = st.lease_timeouts;
	dmapipe_server_free(s);
	return 0;
}

/* ---- consumer ------------------------------------------------------------ */

struct consumer_params {
	const char *path;
	enum dmapipe_policy policy;
	uint32_t depth;
	bool verify_full;
	bool reconnect;
	unsigned int stall_after;   /* take this many frames, then stall */
	unsigned int stall_ms;
	uint64_t stop_at_sequence;  /* exit once a frame >= this arrived (0: at EOS) */
	unsigned int timeout_ms;
	/* keep the newest frame until the next one or EOS, as a GStreamer sink
	 * keeps its last sample, and then keep it this much longer */
	bool hold_last;
	unsigned int hold_after_eos_ms;
};

static int run_consumer(const struct consumer_params *p, struct consumer_report *r)
{
	struct dmapipe_client_options o;
	struct dmapipe_client_stats cst;
	struct dmapipe_frame *held[4], *last = NULL;
	struct dmapipe_client *c;
	unsigned int n_held = 0;
	uint64_t start = test_now_ms();

	memset(r, 0, sizeof(*r));
	r->fds_before = test_count_fds();
	dmapipe_client_options_init(&o);
	o.path = p->path;
	o.policy = p->policy;
	o.queue_depth = p->depth;
	o.reconnect = p->reconnect;
	o.reconnect_min_ms = 20;
	o.reconnect_max_ms = 200;
	o.map_buffers = true;
	o.name = "ipc-consumer";
	c = dmapipe_client_new(&o);
	if (!c) {
		r->error = errno;
		return 20;
	}
	for (;;) {
		struct dmapipe_frame *f = dmapipe_client_wait_frame(c, 200);
		uint64_t seq;

		if (!f) {
			if (errno == ETIMEDOUT || errno == EAGAIN) {
				if (test_now_ms() - start > p->timeout_ms) {
					r->error = ETIMEDOUT;
					break;
				}
				continue;
			}
			r->error = errno;
			break;
		}
		r->received++;
		r->max_sequence = MAX(r->max_sequence, f->meta.sequence);
		if (p->verify_full) {
			if (dmapipe_buffer_check_pattern(f->buffer, f->meta.sequence) == 0)
				r->verified++;
			else
				r->failed++;
		}
		if (p->stall_after && r->received <= p->stall_after) {
			held[n_held++] = f;
			if (r->received == p->stall_after) {
				/* hold the leases and do not even read the socket */
				sleep_ms(p->stall_ms);
				for (unsigned int i = 0; i < n_held; i++)
					dmapipe_client_release_frame(c, held[i], -1);
				n_held = 0;
				break;
			}
			continue;
		}
		if (p->hold_last) {
			if (last)
				dmapipe_client_release_frame(c, last, -1);
			last = f;
			continue;
		}
		seq = f->meta.sequence;
		dmapipe_client_release_frame(c, f, -1);
		if (p->stop_at_sequence && seq >= p->stop_at_sequence)
			break;
	}
	if (last) {
		if (r->error == EPIPE)
			r->held_at_eos = last->meta.sequence;
		sleep_ms(p->hold_after_eos_ms);
		dmapipe_client_release_frame(c, last, -1);
	}
	dmapipe_client_get_stats(c, &cst);
	r->gaps = cst.sequence_gaps;
	r->reconnects = cst.reconnects;
	r->mem_kind = cst.mem_kind;
	r->state = dmapipe_client_get_state(c);
	dmapipe_client_free(c);
	r->fds_after = test_count_fds();
	return 0;
}

/* ---- process plumbing ------------------------------------------------------ */

struct child {
	pid_t pid;
	int pipe;
};

/*
 * Forks a child that runs @run(@params, report) and writes the report
 * (@size bytes) to a pipe the parent reads in reap().
 */
static struct child spawn(int (*run)(const void *params, void *report), const void *params,
			  size_t size)
{
	struct child ch;
	int fds[2];

	check(pipe(fds) == 0);
	ch.pid = fork();
	check(ch.pid >= 0);
	if (ch.pid == 0) {
		union {
			struct consumer_report c;
			struct producer_report p;
		} r;
		int ret;

		close(fds[0]);
		check(size <= sizeof(r));
		ret = run(params, &r);
		if (write(fds[1], &r, size) != (ssize_t)size)
			_exit(99);
		_exit(ret);
	}
	close(fds[1]);
	ch.pipe = fds[0];
	return ch;
}

static int consumer_main(const void *params, void *report)
{
	return run_consumer(params, report);
}

static int producer_main(const void *params, void *report)
{
	return run_producer(params, report);
}

static struct child spawn_consumer(const struct consumer_params *p)
{
	return spawn(consumer_main, p, sizeof(struct consumer_report));
}

static struct child spawn_producer(const struct producer_params *p)
{
	return spawn(producer_main, p, sizeof(struct producer_report));
}

/* Waits for a child and reads its report; returns its exit status. */
static int reap(struct child ch, void *report, size_t size, unsigned int timeout_s)
{
	uint64_t start = test_now_ms();
	int status = 0;
	ssize_t n;

	for (;;) {
		pid_t w = waitpid(ch.pid, &status, WNOHANG);

		if (w == ch.pid)
			break;
		if (test_now_ms() - start > timeout_s * 1000ull) {
			kill(ch.pid, SIGKILL);
			waitpid(ch.pid, &status, 0);
			fprintf(stderr, "child %d did not finish within %u s\n", (int)ch.pid, timeout_s);
			close(ch.pipe);
			return -1;
		}
		sleep_ms(10);
	}
	n = read(ch.pipe, report, size);
	close(ch.pipe);
	if (!WIFEXITED(status)) {
		fprintf(stderr, "child %d died of signal %d\n", (int)ch.pid, WTERMSIG(status));
		return -1;
	}
	if (n != (ssize_t)size)
		return WEXITSTATUS(status) ? WEXITSTATUS(status) : -1;
	return WEXITSTATUS(status);
}

static void wait_for_socket(const char *path)
{
	for (int i = 0; i < 500 && access(path, F_OK) < 0; i++)
		sleep_ms(10);
	check_msg(access(path, F_OK) == 0, "producer never created %s", path);
}

/* ---- scenarios --------------------------------------------------------------- */

static void test_fanout(void)
{
	char *path = path_for("fanout");
	struct producer_params pp = {
		.path = path, .buffers = 6, .frames = 150, .fps = 100, .wait_consumers = 8,
		.lease_timeout_ms = 10000, .first_sequence = 1, .draw = true,
	};
	struct consumer_params cp = {
		.path = path, .policy = DMAPIPE_POLICY_QUEUE, .depth = 4, .verify_full = true,
		.timeout_ms = 60000,
	};
	struct child prod, cons[8];
	struct producer_report pr;
	uint64_t total = 0;

	prod = spawn_producer(&pp);
	wait_for_socket(path);
	for (int i = 0; i < 8; i++)
		cons[i] = spawn_consumer(&cp);
	check_int_eq(reap(prod, &pr, sizeof(pr), 120), 0);
	for (int i = 0; i < 8; i++) {
		struct consumer_report r;

		check_int_eq(reap(cons[i], &r, sizeof(r), 60), 0);
		check_msg(r.failed == 0, "consumer %d: %llu frames failed verification", i,
			  (unsigned long long)r.failed);
		/* queue:4 may drop under load (a VM under TCG is slow): what must
		 * hold is that every frame that arrived verifies */
		check_msg(r.received >= 30, "consumer %d received only %llu of 150", i,
			  (unsigned long long)r.received);
		check_int_eq(r.verified, r.received);
		check_int_eq(r.error, EPIPE); /* ended by EOS */
		if (test_require_dmabuf())
			check_msg(r.mem_kind == DMAPIPE_MEM_DMABUF, "consumer %d got %s", i,
				  dmapipe_mem_kind_to_string(r.mem_kind));
		check_msg(r.fds_after == r.fds_before, "consumer %d leaked fds: %d -> %d", i,
			  r.fds_before, r.fds_after);
		total += r.received;
	}
	check_int_eq(pr.produced, 150);
	check_int_eq(pr.bytes_copied, 0);
	printf("fan-out: 150 frames to 8 consumers, %llu frames verified in all, %llu dropped by policy\n",
	       (unsigned long long)total, (unsigned long long)pr.dropped);
	free(path);
	test_pass("1 producer, 8 consumers: every received frame verified, EOS, no fd leaks");
}

static void test_stalled_consumer(void)
{
	char *path = path_for("stall");
	const unsigned int fps = 50, seconds = 12;
	struct producer_params pp = {
		.path = path, .buffers = 4, .frames = fps * seconds, .fps = fps,
		.wait_consumers = 2, .lease_timeout_ms = 30000, .first_sequence = 1, .draw = false,
	};
	struct consumer_params healthy = {
		.path = path, .policy = DMAPIPE_POLICY_LATEST, .depth = 1, .timeout_ms = 60000,
	};
	struct consumer_params stalled = {
		.path = path, .policy = DMAPIPE_POLICY_LATEST, .depth = 1, .stall_after = 2,
		.stall_ms = 10000, .timeout_ms = 60000,
	};
	struct consumer_report hr, sr;
	struct producer_report pr;
	struct child prod, h, s;
	double rate;

	prod = spawn_producer(&pp);
	wait_for_socket(path);
	h = spawn_consumer(&healthy);
	s = spawn_consumer(&stalled);
	check_int_eq(reap(prod, &pr, sizeof(pr), 120), 0);
	check_int_eq(reap(h, &hr, sizeof(hr), 60), 0);
	check_int_eq(reap(s, &sr, sizeof(sr), 60), 0);
	rate = (double)pr.produced * 1000.0 / (double)pr.elapsed_ms;
	printf("stall: producer %llu frames in %llu ms (%.1f fps, target %u), %llu skipped, "
	       "peak %u buffers in use; healthy consumer got %llu\n",
	       (unsigned long long)pr.produced, (unsigned long long)pr.elapsed_ms, rate, fps,
	       (unsigned long long)pr.skipped, pr.max_buffers_used,
	       (unsigned long long)hr.received);
	check_int_eq(pr.skipped, 0);
	check_int_eq(pr.produced, fps * seconds);
	/* the deadline schedule allows no slack to accumulate: within 5 % */
	check_msg(rate >= fps * 0.95, "producer slowed to %.1f fps", rate);
	check_msg(hr.received >= pr.produced * 8 / 10, "healthy consumer got %llu of %llu",
		  (unsigned long long)hr.received, (unsigned long long)pr.produced);
	check_int_eq(sr.received, 2);
	free(path);
	test_pass("a consumer stalled for 10 s neither slows the producer nor starves the other consumer");
}

/*
 * The end of a stream with a consumer that keeps its newest frame until it
 * sees EOS (a GStreamer sink's last sample). EOS must go out while that
 * lease is held: a producer that waited for the lease first would wait
 * until the lease timeout ended the consumer with an ERROR. Then a
 * consumer that keeps its frame past the drain's time limit: counted, not
 * an error of the stream.
 */
static void test_drain(void)
{
	char *path = path_for("drain");
	struct producer_params pp = {
		.path = path, .buffers = 4, .frames = 20, .fps = 50, .wait_consumers = 1,
		.lease_timeout_ms = 3000, .first_sequence = 1, .draw = true,
		.drain_timeout_ms = 10000,
	};
	struct consumer_params cp = {
		.path = path, .policy = DMAPIPE_POLICY_BLOCK, .depth = 4, .verify_full = true,
		.timeout_ms = 30000, .hold_last = true,
	};
	struct consumer_report cr;
	struct producer_report pr;
	struct child prod, cons;

	prod = spawn_producer(&pp);
	wait_for_socket(path);
	cons = spawn_consumer(&cp);
	check_int_eq(reap(prod, &pr, sizeof(pr), 60), 0);
	check_int_eq(reap(cons, &cr, sizeof(cr), 60), 0);
	printf("drain: %llu frames, the consumer held frame %llu at EOS; drain returned %d "
	       "after %llu ms\n", (unsigned long long)cr.received,
	       (unsigned long long)cr.held_at_eos, pr.drained, (unsigned long long)pr.drain_ms);
	check_int_eq(cr.error, EPIPE); /* EOS, not a lease-timeout ERROR */
	check_int_eq(cr.received, 20);
	check_int_eq(cr.verified, 20);
	check_int_eq(cr.held_at_eos, 20);
	check_int_eq(pr.lease_timeouts, 0);
	check_int_eq(pr.dropped, 0);
	check_int_eq(pr.drained, 0);
	/* well before the 3 s lease timeout a wrong order would have waited for */
	check_msg(pr.drain_ms < 2000, "drain took %llu ms", (unsigned long long)pr.drain_ms);

	/* kept 1.5 s past EOS, the drain's 300 ms end first: one lease counted */
	pp.drain_timeout_ms = 300;
	cp.hold_after_eos_ms = 1500;
	prod = spawn_producer(&pp);
	wait_for_socket(path);
	cons = spawn_consumer(&cp);
	check_int_eq(reap(prod, &pr, sizeof(pr), 60), 0);
	check_int_eq(reap(cons, &cr, sizeof(cr), 60), 0);
	check_int_eq(cr.error, EPIPE);
	check_int_eq(cr.held_at_eos, 20);
	check_int_eq(pr.drained, 1);
	check_int_eq(pr.lease_timeouts, 0);
	check_msg(pr.drain_ms >= 300 && pr.drain_ms < 1500, "drain took %llu ms",
		  (unsigned long long)pr.drain_ms);
	free(path);
	test_pass("drain: EOS while a consumer keeps its last frame; a lease kept past the time limit is counted");
}

static void test_kill_consumer(void)
{
	char *path = path_for("kill");
	struct dmapipe_server_options o;
	struct dmapipe_server_stats st;
	struct dmapipe_consumer_stats cs;
	struct consumer_params cp = {
		.path = path, .policy = DMAPIPE_POLICY_QUEUE, .depth = 2, .stall_after = 2,
		.stall_ms = 60000, .timeout_ms = 60000,
	};
	struct dmapipe_server *s;
	struct child ch;
	uint64_t seq = 0, start;
	int status;

	dmapipe_server_options_init(&o);
	o.path = path;
	o.lease_timeout_ms = 0; /* only the death of the process may return the leases */
	s = dmapipe_server_new(&o);
	check(s);
	check_int_eq(dmapipe_server_alloc_buffers(s, NULL, &fmt, 4), 0);
	ch = spawn_consumer(&cp);
	for (start = test_now_ms(); test_now_ms() - start < 10000;) {
		dmapipe_server_dispatch(s, 10);
		if (dmapipe_server_get_consumer_stats(s, &cs, 1) == 1 && cs.leases_held == 2)
			break;
		dmapipe_server_get_stats(s, &st);
		if (st.consumers == 1 && st.buffers_free > 0) {
			struct dmapipe_buffer *b = dmapipe_server_dequeue(s);
			struct dmapipe_frame_meta m;

			if (b) {
				dmapipe_frame_meta_init(&m);
				m.sequence = ++seq;
				dmapipe_server_queue(s, b, &m);
			}
		}
	}
	check_int_eq(dmapipe_server_get_consumer_stats(s, &cs, 1), 1);
	check_int_eq(cs.leases_held, 2);
	dmapipe_server_get_stats(s, &st);
	check(st.buffers_free < st.buffers);

	kill(ch.pid, SIGKILL);
	waitpid(ch.pid, &status, 0);
	close(ch.pipe);
	for (start = test_now_ms(); test_now_ms() - start < 5000;) {
		dmapipe_server_dispatch(s, 10);
		dmapipe_server_get_stats(s, &st);
		if (st.consumers == 0)
			break;
	}
	check_int_eq(st.consumers, 0);
	check_int_eq(st.buffers_free, st.buffers);
	dmapipe_server_free(s);
	free(path);
	test_pass("kill -9 of a consumer holding 2 leases: both buffers back in the pool");
}

static void test_producer_restart(void)
{
	char *path = path_for("restart");
	struct producer_params p1 = {
		.path = path, .buffers = 4, .frames = 0, .fps = 100, .lease_timeout_ms = 5000,
		.first_sequence = 1, .draw = true,
	};
	struct producer_params p2 = p1;
	struct consumer_params cp = {
		.path = path, .policy = DMAPIPE_POLICY_LATEST, .depth = 1, .verify_full = true,
		.reconnect = true, .stop_at_sequence = 1000010, .timeout_ms = 30000,
	};
	struct consumer_report r;
	struct producer_report pr;
	struct child prod, cons;
	int status;

	prod = spawn_producer(&p1);
	wait_for_socket(path);
	cons = spawn_consumer(&cp);
	sleep_ms(500);
	/* crash: the socket file stays behind */
	kill(prod.pid, SIGKILL);
	waitpid(prod.pid, &status, 0);
	close(prod.pipe);
	check_msg(access(path, F_OK) == 0, "a killed producer leaves its socket file");
	sleep_ms(300);

	p2.first_sequence = 1000000;
	p2.frames = 400;
	prod = spawn_producer(&p2);
	check_int_eq(reap(cons, &r, sizeof(r), 60), 0);
	/* the second producer finishes its 400 frames on its own */
	check_int_eq(reap(prod, &pr, sizeof(pr), 60), 0);
	printf("restart: consumer got %llu frames, %llu reconnects, last sequence %llu\n",
	       (unsigned long long)r.received, (unsigned long long)r.reconnects,
	       (unsigned long long)r.max_sequence);
	check(r.reconnects >= 1);
	check(r.max_sequence >= 1000010);
	check_int_eq(r.failed, 0);
	check_int_eq(r.verified, r.received);
	check_msg(r.fds_after == r.fds_before, "consumer leaked fds across reconnects: %d -> %d",
		  r.fds_before, r.fds_after);
	free(path);
	test_pass("producer killed and restarted: stale socket recovered, consumer re-joined");
}

static void test_wrong_uid(void)
{
	char *path;
	struct producer_params pp;
	struct child prod;
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		printf("SKIP sub-test wrong-uid: needs root to run peers as two other uids\n");
		return;
	}
	check(chmod(dir, 0777) == 0);
	path = path_for("uid");
	memset(&pp, 0, sizeof(pp));
	pp.path = path;
	pp.buffers = 2;
	pp.fps = 50;
	pp.first_sequence = 1;
	pp.lease_timeout_ms = 5000;
	pp.socket_mode = 0666;

	/* the producer runs as uid 4242 with the default same-uid policy */
	prod.pid = fork();
	check(prod.pid >= 0);
	if (prod.pid == 0) {
		struct producer_report r;

		if (setresgid(4242, 4242, 4242) < 0 || setresuid(4242, 4242, 4242) < 0)
			_exit(30);
		_exit(run_producer(&pp, &r));
	}
	prod.pipe = -1;
	wait_for_socket(path);

	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		struct dmapipe_client_options o;
		struct dmapipe_client *c;
		const char *msg = NULL;

		if (setresgid(4343, 4343, 4343) < 0 || setresuid(4343, 4343, 4343) < 0)
			_exit(30);
		/* 1: the consumer's own policy refuses a producer of another uid */
		dmapipe_client_options_init(&o);
		o.path = path;
		c = dmapipe_client_new(&o);
		if (c || errno != EACCES)
			_exit(31);
		/* 2: with the consumer's check off, the producer refuses us */
		o.peer_policy = DMAPIPE_PEER_ANY;
		c = dmapipe_client_new(&o);
		if (!c)
			_exit(32);
		if (dmapipe_client_wait_frame(c, 3000) || errno != EPROTO) {
			fprintf(stderr, "wrong-uid: wait_frame: %s, state %d\n", strerror(errno),
				dmapipe_client_get_state(c));
			_exit(33);
		}
		if (dmapipe_client_get_error(c, &msg) != DMAPIPE_ERR_PERMISSION)
			_exit(34);
		fprintf(stderr, "refused as expected: %s\n", msg);
		dmapipe_client_free(c);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	kill(prod.pid, SIGKILL);
	waitpid(prod.pid, NULL, 0);
	check_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "wrong-uid consumer: status %d",
		  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	unlink(path);
	free(path);
	test_pass("peers of another uid refused in both directions with a permission error");
}

static const struct {
	const char *name;
	void (*run)(void);
} scenarios[] = {
	{ "fanout", test_fanout },
	{ "kill", test_kill_consumer },
	{ "restart", test_producer_restart },
	{ "uid", test_wrong_uid },
	{ "stall", test_stalled_consumer },
	{ "drain", test_drain },
};

/* test-ipc [SCENARIO...]: all scenarios, or the ones named */
int main(int argc, char **argv)
{
	int fds_start;

	signal(SIGPIPE, SIG_IGN);
	dir = test_make_dir("ipc");
	fds_start = test_count_fds();

	for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++) {
		bool run = argc < 2;

		for (int a = 1; a < argc; a++)
			run |= strcmp(argv[a], scenarios[i].name) == 0;
		if (run)
			scenarios[i].run();
	}
	for (int a = 1; a < argc; a++) {
		bool known = false;

		for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++)
			known |= strcmp(argv[a], scenarios[i].name) == 0;
		check_msg(known, "unknown scenario '%s'", argv[a]);
	}

	check_msg(test_count_fds() == fds_start, "fd leak in the test process: %d -> %d",
		  fds_start, test_count_fds());
	test_rmdir_all(dir);
	free(dir);
	return 0;
}
