/* SPDX-License-Identifier: MIT */
/*
 * The floor under the handoff: two processes that do nothing but what
 * dmapipe's socket path did per frame, a 64-byte SOCK_SEQPACKET datagram
 * each way (the frame, then its release), at the same pacing. What
 * dmapipe costs above this is what the library adds; with rings, a paced
 * stream should cost about this (one wake-up each way), an unthrottled
 * one much less (no datagram at all).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct pp_msg {
	uint64_t sequence;
	uint64_t sent_ns;
	uint8_t pad[48];
};
_Static_assert(sizeof(struct pp_msg) == 64, "one 64-byte message each way");

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/*
 * The producer: a frame every 1/fps s (or at once), then waits for its
 * release. *@cpu_ns: its CPU time from the first frame to the last
 * release, the span and the clock (self_cpu_total_ns()) of serve's cpu_ns.
 */
static int producer(int fd, uint64_t frames, uint32_t fps, uint64_t *cpu_ns)
{
	uint64_t start = now_ns(), period = fps ? 1000000000u / fps : 0, cpu0 = 0;

	for (uint64_t i = 0; i < frames; i++) {
		struct pp_msg m = { .sequence = i };

		if (period)
			sleep_until(start + i * period);
		if (i == 0)
			cpu0 = self_cpu_total_ns();
		m.sent_ns = now_ns();
		if (send(fd, &m, sizeof(m), 0) != sizeof(m) || recv(fd, &m, sizeof(m), 0) != sizeof(m))
			return 1;
	}
	*cpu_ns = self_cpu_total_ns() - cpu0;
	return 0;
}

/*
 * The consumer: receives, notes the latency, sends the release. *@cpu_ns:
 * from the first frame received to the last release sent (dmapipe
 * consume's cpu_ns).
 */
static int consumer(int fd, uint64_t frames, double *lat_us, uint64_t *cpu_ns)
{
	uint64_t cpu0 = 0;

	for (uint64_t i = 0; i < frames; i++) {
		struct pp_msg m;

		if (recv(fd, &m, sizeof(m), 0) != sizeof(m))
			return 1;
		lat_us[i] = (double)(now_ns() - m.sent_ns) / 1e3;
		if (i == 0)
			cpu0 = self_cpu_total_ns();
		if (send(fd, &m, sizeof(m), 0) != sizeof(m))
			return 1;
	}
	*cpu_ns = self_cpu_total_ns() - cpu0;
	return 0;
}

static double percentile(const double *sorted, uint64_t n, double p)
{
	uint64_t k = (uint64_t)ceil(p * (double)n);

	return sorted[k == 0 ? 0 : (k > n ? n - 1 : k - 1)];
}

void run_pingpong(uint64_t frames, uint32_t fps, struct pp_result *r)
{
	struct child ch[2];
	double *lat;
	uint64_t *cpu; /* each process's streaming CPU time, after the latencies */
	size_t bytes = frames * sizeof(double) + 2 * sizeof(uint64_t);
	int sv[2];

	memset(r, 0, sizeof(*r));
	memset(ch, 0, sizeof(ch));
	r->ran = true;
	r->frames = frames;
	r->fps_target = fps;
	/* the consumer's latencies, shared with us across fork() */
	lat = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (lat == MAP_FAILED || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(r->error, sizeof(r->error), "set-up: %s", strerror(errno));
		if (lat != MAP_FAILED)
			munmap(lat, bytes);
		return;
	}
	cpu = (uint64_t *)(lat + frames);
	ch[0].pid = fork();
	if (ch[0].pid == 0)
		_exit(producer(sv[0], frames, fps, &cpu[0]));
	ch[1].pid = fork();
	if (ch[1].pid == 0)
		_exit(consumer(sv[1], frames, lat, &cpu[1]));
	close(sv[0]);
	close(sv[1]);
	r->ok = ch[0].pid > 0 && ch[1].pid > 0 &&
		wait_all(ch, 2, fps ? frames * 1000 / fps + 30000 : 600000) &&
		exited_ok(&ch[0]) && exited_ok(&ch[1]);
	if (!r->ok) {
		snprintf(r->error, sizeof(r->error), "a ping-pong process failed");
		munmap(lat, bytes);
		return;
	}
	/* streaming only, as dmapipe's runs are counted (wait4 would add start-up) */
	r->cpu_per_frame_us = (double)(cpu[0] + cpu[1]) / (double)frames / 1e3;
	sort_doubles(lat, (unsigned int)frames);
	r->lat_p50_us = percentile(lat, frames, 0.50);
	r->lat_p90_us = percentile(lat, frames, 0.90);
	r->lat_p99_us = percentile(lat, frames, 0.99);
	r->lat_max_us = lat[frames - 1];
	munmap(lat, bytes);
}
