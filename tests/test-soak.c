/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Soak: every attacker of issue #13 at once, for a minute and a half,
 * with honest consumers beside them.
 *
 * Two producer children run at 60 fps, each with honest consumers in
 * this process. The first gets every attacker but one, all together:
 * garbage, silent connections (also of another uid, when run as root),
 * consumers that hoard their leases or never read, idle monitors and
 * monitors that never read their STATS, and lingering sockets in every
 * way a producer may receive them. The second runs with room for only a
 * few more fds than it needs (RLIMIT_NOFILE), against floods of
 * connections, so that it keeps running out of fds (the spinning accept of
 * item 6). They are apart because a producer whose fd table is full
 * cannot take in the fds a peer sends: the kernel drops them in the
 * receiving thread, and a lingering socket among them stalls it (see
 * docs/PROTOCOL.md, Resources). Their pools are allocated up front, as
 * growing one needs fds.
 *
 * Checked against the clean phase of the same run: each honest consumer's
 * rate (within 20%) and longest gap in every 10 s of the attack;
 * afterwards each producer's fd count (exactly) and resident memory
 * (within a quarter or 2 MB), its connection counts, and the honest
 * consumers' rate again.
 *
 * DMAPIPE_SOAK_SECONDS sets the attack's length (default 90; 45 in a
 * build with AddressSanitizer, whose producers are several times slower).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peers.h"
#include "testlib.h"

#define NOBODY 65534
#define HONEST 4 /* 3 on the first producer, 1 on the second */
#define CLEAN_MS 5000
#define WINDOW_MS 10000

#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_SECONDS 45
#else
#define DEFAULT_SECONDS 90
#endif

static struct producer producers[2];
static struct meter honest[HONEST];

/* Runs every honest consumer for @ms; fails if one loses its stream. */
static void honest_run(unsigned int ms)
{
	uint64_t end = test_now_ms() + ms;

	while (test_now_ms() < end) {
		for (int i = 0; i < HONEST; i++) {
			meter_pump(&honest[i], 0);
			check_msg(dmapipe_client_get_state(honest[i].client) ==
				  DMAPIPE_CLIENT_STREAMING, "honest-%d lost its stream", i);
		}
		usleep(2000);
	}
	/* closes the measuring phase (its end, the gap up to it) */
	for (int i = 0; i < HONEST; i++)
		meter_run(&honest[i], 0);
}

static void honest_reset(void)
{
	for (int i = 0; i < HONEST; i++)
		meter_reset(&honest[i]);
}

struct attacker {
	const char *what;
	int producer;
	attacker_func fn;
	void *arg;
	uid_t uid;
	pid_t pid;
};

static unsigned int n_silent = 40, n_no_read = 100, n_monitors = 100, n_flood_mon = 8;
static struct hoard_config hoard = { .consumers = 24, .hold_ms = 1800 };
static struct linger_config linger = { .how = LINGER_HOW_COUNT, .linger_s = 2 };

static struct attacker attackers[] = {
	{ "garbage", 0, run_garbage, NULL, 0, 0 },
	{ "40 silent connections", 0, run_silent, &n_silent, 0, 0 },
	{ "40 silent connections of another uid", 0, run_silent, &n_silent, NOBODY, 0 },
	{ "24 hoarders", 0, run_hoard, &hoard, 0, 0 },
	{ "100 consumers that never read", 0, run_hello_no_read, &n_no_read, 0, 0 },
	{ "100 idle monitors", 0, run_idle_monitors, &n_monitors, 0, 0 },
	{ "8 monitors that never read", 0, run_stats_flood, &n_flood_mon, 0, 0 },
	{ "lingering sockets", 0, run_linger, &linger, 0, 0 },
	/* the producer out of fds */
	{ "40 silent connections, out of fds", 1, run_silent, &n_silent, 0, 0 },
	{ "100 idle monitors, out of fds", 1, run_idle_monitors, &n_monitors, 0, 0 },
	{ "100 consumers that never read, out of fds", 1, run_hello_no_read, &n_no_read, 0, 0 },
	{ "garbage, out of fds", 1, run_garbage, NULL, 0, 0 },
};

/* The producer's fd count once it came back to @want, waiting up to 20 s. */
static int settle_fds(pid_t pid, int want)
{
	uint64_t deadline = test_now_ms() + 20000;
	int n;

	while ((n = proc_fd_count(pid)) != want && test_now_ms() < deadline)
		usleep(100 * 1000);
	return n;
}

static void start_producers(void)
{
	for (int k = 0; k < 2; k++) {
		struct producer_config cfg;

		memset(&cfg, 0, sizeof(cfg));
		dmapipe_server_options_init(&cfg.opts);
		cfg.opts.producer_name = "soak";
		cfg.opts.max_consumers = 64;
		cfg.opts.lease_timeout_ms = 2000;
		cfg.opts.handshake_timeout_ms = 1000;
		cfg.fps = 60;
		cfg.buffers = 32;
		cfg.opts.max_buffers = 32;
		/* beyond what it holds at start: the floods run it out of fds */
		cfg.nofile = k == 1 ? 24 : 0;
		producer_start(&producers[k], &cfg);
	}
	for (int i = 0; i < HONEST; i++) {
		char name[16];

		snprintf(name, sizeof(name), "honest-%d", i);
		meter_start(&honest[i], producers[i < 3 ? 0 : 1].path, name);
	}
}

static void print_report(int k, const struct producer_report *r)
{
	printf("   producer %d: %llu refused, %llu lease timeouts, %llu revoked, %llu handshakes "
	       "dropped, %llu accept failures; %u consumers, %u handshakes, %u monitors now; "
	       "longest dispatch %.2f ms\n", k, (unsigned long long)r->stats.consumers_refused,
	       (unsigned long long)r->stats.lease_timeouts,
	       (unsigned long long)r->stats.leases_revoked,
	       (unsigned long long)r->stats.handshakes_dropped,
	       (unsigned long long)r->stats.accept_failures, r->stats.consumers,
	       r->stats.handshakes, r->stats.monitors, (double)r->max_dispatch_ns / 1e6);
}

int main(void)
{
	struct producer_report r;
	double base_fps[HONEST];
	uint64_t base_gap[HONEST], rss_clean[2];
	int fds_clean[2], seconds = DEFAULT_SECONDS;
	const char *env = getenv("DMAPIPE_SOAK_SECONDS");
	char result[320];

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (env && *env)
		seconds = atoi(env);
	check(seconds > 0 && seconds <= 150);
	start_producers();

	/* ---- clean */
	honest_run(1000);
	honest_reset();
	honest_run(CLEAN_MS);
	for (int i = 0; i < HONEST; i++) {
		base_fps[i] = meter_fps(&honest[i]);
		base_gap[i] = honest[i].max_gap_ns;
	}
	for (int k = 0; k < 2; k++) {
		producer_report(&producers[k], &r);
		fds_clean[k] = proc_fd_count(producers[k].pid);
		rss_clean[k] = proc_rss_kb(producers[k].pid);
		printf("clean: producer %d: %d fds, RSS %llu kB\n", k, fds_clean[k],
		       (unsigned long long)rss_clean[k]);
	}

	/* ---- every attacker at once, measured in windows */
	for (size_t a = 0; a < ARRAY_SIZE(attackers); a++) {
		if (attackers[a].uid && geteuid() != 0) {
			printf("   (not run: %s: needs root)\n", attackers[a].what);
			continue;
		}
		attackers[a].pid = attacker_spawn(attackers[a].fn, producers[attackers[a].producer].path,
						  attackers[a].arg, attackers[a].uid);
	}
	for (int t = 0; t < seconds * 1000; t += WINDOW_MS) {
		honest_reset();
		honest_run(MIN(WINDOW_MS, seconds * 1000 - t));
		for (int i = 0; i < HONEST; i++) {
			char what[64];

			snprintf(what, sizeof(what), "soak, %d s in, honest-%d", t / 1000, i);
			meter_compare(what, base_fps[i], base_gap[i], &honest[i], result,
				      sizeof(result));
			printf("ok %s: %s\n", what, result);
		}
		for (int k = 0; k < 2; k++)
			printf("   producer %d: %d fds, RSS %llu kB\n", k, proc_fd_count(producers[k].pid),
			       (unsigned long long)proc_rss_kb(producers[k].pid));
	}
	for (int k = 0; k < 2; k++) {
		producer_report(&producers[k], &r);
		print_report(k, &r);
		check(r.stats.monitors <= 8 && r.stats.handshakes <= 16);
		if (k == 1)
			check_msg(r.stats.accept_failures > 0, "producer 1 never ran out of fds");
	}
	for (size_t a = 0; a < ARRAY_SIZE(attackers); a++) {
		int status;

		if (!attackers[a].pid)
			continue;
		status = attacker_stop(attackers[a].pid);
		check_msg(WIFSIGNALED(status), "attacker '%s' ended on its own: %#x",
			  attackers[a].what, status);
	}

	/* ---- back to where they were: the timeouts let the rest go */
	for (int k = 0; k < 2; k++) {
		int fds = settle_fds(producers[k].pid, fds_clean[k]);

		check_msg(fds == fds_clean[k], "producer %d holds %d fds, %d before the attack", k,
			  fds, fds_clean[k]);
	}
	honest_reset();
	honest_run(CLEAN_MS);
	for (int k = 0; k < 2; k++) {
		uint64_t rss = proc_rss_kb(producers[k].pid);

		producer_report(&producers[k], &r);
		printf("after: producer %d: %d fds (clean %d), RSS %llu kB (clean %llu kB), "
		       "%u consumers, %u handshakes, %u monitors\n", k, proc_fd_count(producers[k].pid),
		       fds_clean[k], (unsigned long long)rss, (unsigned long long)rss_clean[k],
		       r.stats.consumers, r.stats.handshakes, r.stats.monitors);
		if (PEERS_MEASURES)
			check_msg(rss <= rss_clean[k] + MAX(rss_clean[k] / 4, 2048),
				  "producer %d's RSS is %llu kB, %llu kB before the attack", k,
				  (unsigned long long)rss, (unsigned long long)rss_clean[k]);
		check_int_eq(r.stats.consumers, k == 0 ? 3 : 1);
		check_int_eq(r.stats.handshakes, 0);
		check_int_eq(r.stats.monitors, 0);
	}
	for (int i = 0; i < HONEST; i++) {
		char what[64];

		snprintf(what, sizeof(what), "after the soak, honest-%d", i);
		meter_compare(what, base_fps[i], base_gap[i], &honest[i], result, sizeof(result));
		printf("ok %s: %s\n", what, result);
		meter_finish(&honest[i]);
	}
	for (int k = 0; k < 2; k++)
		producer_stop(&producers[k]);
	printf("soak of %d s passed\n", seconds);
	return 0;
}
