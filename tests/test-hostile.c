/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hostile peers, both ways.
 *
 * Part 1: a producer (dmapipe_server in a child process, drawing the test
 * pattern into every frame) is attacked from raw sockets: malformed and
 * out-of-place messages, fds where none belong, fd floods that truncate the
 * ancillary data, releases of leases never held, silent and greedy peers.
 * After every attack the attacker must have received ERROR with the
 * expected code (or, where stated, just lost its connection), the producer
 * must still run, and a well-behaved dmapipe_client connected for the
 * whole test must keep receiving frames whose pattern verifies.
 *
 * Part 2: a consumer (dmapipe_client) is fed hostile things by a fake
 * producer on a raw socket: unsealed memfds, pipes, layouts outside their
 * memory, reused or unknown buffer ids, fences that are not sync_files,
 * fd floods. The client must refuse each with the expected error code,
 * tell the producer why, and leak no fd.
 *
 * Every scenario prints one "ok" line naming what was tried and the error
 * that came back. docs/PROTOCOL.md sections 7 and 8 are the contract.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "private.h"
#include "stream/socket.h"
#include "stream/transport.h"
#include "peers.h"
#include "stream/ring.h"
#include "testlib.h"

#define NOBODY 65534
#define LEASE_TIMEOUT_MS 2000
#define HANDSHAKE_TIMEOUT_MS 500
#define MAX_CONSUMERS 6
/* every consumer's 2 leases within the lease budget, plus the producer's 2 */
#define SERVER_BUFFERS (MAX_CONSUMERS * 2 + 2)
#define WAIT_MS 5000

static const struct dmapipe_format fmt = {
	.fourcc = 0x3231564e, /* NV12 */
	.width = 64,
	.height = 48,
	.modifier = DMAPIPE_MOD_LINEAR,
};

static char server_path[64];
static pid_t server_pid = -1;
static int server_ctl = -1;        /* closing it tells the server child to stop */
static struct dmapipe_client *good; /* the well-behaved consumer */
static bool in_child; /* a forked attacker: 'good' is the parent's, not pumped here */
static uint64_t good_frames;
static int base_fds;
static unsigned int n_scenarios;

/* ---- small helpers -------------------------------------------------------- */

static int open_devnull(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	check(fd >= 0);
	return fd;
}

/* @n fds that are not dma-bufs, memfds or fences. Caller closes them. */
static int *open_junk_fds(unsigned int n)
{
	int *fds = calloc(n, sizeof(int));

	check(fds);
	for (unsigned int i = 0; i < n; i++)
		fds[i] = open_devnull();
	return fds;
}

static void close_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

static void scenario_ok(const char *side, const char *what, const char *result)
{
	n_scenarios++;
	printf("ok %u %s: %s -> %s\n", n_scenarios, side, what, result);
	fflush(stdout);
}

/* ---- what the library logs in this process --------------------------------- */

#define CAPTURE_MAX 4096

static struct {
	char *lines[CAPTURE_MAX];
	unsigned int n;
} captured;

__attribute__((format(printf, 2, 0)))
static void capture_log(enum dmapipe_log_priority priority, const char *format, va_list args,
			void *data)
{
	char line[512];

	(void)priority;
	(void)data;
	vsnprintf(line, sizeof(line), format, args);
	if (captured.n < CAPTURE_MAX)
		captured.lines[captured.n++] = strdup(line);
}

/* Library log lines from now on are kept (at @priority and above), not printed. */
static void capture_start(enum dmapipe_log_priority priority)
{
	captured.n = 0;
	dmapipe_log_set_priority(priority);
	dmapipe_log_set_handler(capture_log, NULL);
}

static void capture_stop(void)
{
	dmapipe_log_set_handler(NULL, NULL);
	dmapipe_log_set_priority(DMAPIPE_LOG_WARNING);
	for (unsigned int i = 0; i < captured.n; i++)
		free(captured.lines[i]);
	captured.n = 0;
}

/* Captured lines that contain @text. */
static unsigned int captured_count(const char *text)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < captured.n; i++)
		n += strstr(captured.lines[i], text) != NULL;
	return n;
}

/* ---- the producer under attack (child process) ------------------------------ */

static void server_child(int ctl, int ready)
{
	struct dmapipe_server_options o;
	struct dmapipe_server_stats st;
	struct dmapipe_server *s;
	uint64_t sequence = 0;
	int fds_ready, fds_end, rc = 0;

	dmapipe_server_options_init(&o);
	o.path = server_path;
	o.producer_name = "hostile";
	o.max_consumers = MAX_CONSUMERS;
	o.lease_timeout_ms = LEASE_TIMEOUT_MS;
	o.handshake_timeout_ms = HANDSHAKE_TIMEOUT_MS;
	o.max_in_flight = 2;
	o.max_buffers = SERVER_BUFFERS; /* no growth: the fd count stays fixed */
	o.fd_quota = 1;                 /* one unsignalled release fence per consumer */
	s = dmapipe_server_new(&o);
	if (!s) {
		fprintf(stderr, "server: %s\n", strerror(errno));
		_exit(2);
	}
	if (dmapipe_server_alloc_buffers(s, NULL, &fmt, SERVER_BUFFERS) < 0) {
		fprintf(stderr, "server: cannot allocate buffers\n");
		_exit(3);
	}
	if (write(ready, "r", 1) != 1)
		_exit(4);
	close(ready);
	fds_ready = test_count_fds();

	for (;;) {
		struct pollfd pfd = { .fd = ctl, .events = POLLIN };
		struct dmapipe_buffer *b;

		if (poll(&pfd, 1, 0) > 0)
			break;
		b = dmapipe_server_dequeue(s);
		if (b) {
			struct dmapipe_frame_meta meta;

			if (dmapipe_buffer_draw_pattern(b, sequence) < 0) {
				fprintf(stderr, "server: cannot draw frame %llu\n",
					(unsigned long long)sequence);
				_exit(5);
			}
			dmapipe_frame_meta_init(&meta);
			meta.sequence = sequence++;
			meta.timestamp_ns = dmapipe_now_ns();
			if (dmapipe_server_queue(s, b, &meta) < 0) {
				fprintf(stderr, "server: queue failed\n");
				_exit(6);
			}
		}
		if (dmapipe_server_dispatch(s, 2) < 0) {
			fprintf(stderr, "server: dispatch failed\n");
			_exit(7);
		}
	}
	/* let the last disconnects be noticed */
	for (int i = 0; i < 40; i++)
		dmapipe_server_dispatch(s, 5);

	dmapipe_server_get_stats(s, &st);
	fprintf(stderr, "server: %llu frames, %llu connections, %llu refused, %llu lease timeouts\n",
		(unsigned long long)st.frames_queued, (unsigned long long)st.consumers_total,
		(unsigned long long)st.consumers_refused, (unsigned long long)st.lease_timeouts);
	fds_end = test_count_fds();
	if (fds_end != fds_ready) {
		fprintf(stderr, "server: %d fds open after the attacks, %d before\n", fds_end,
			fds_ready);
		rc = 1;
	}
	if (st.consumers != 0) {
		fprintf(stderr, "server: %u consumers still connected\n", st.consumers);
		rc = 1;
	}
	dmapipe_server_free(s);
	_exit(rc);
}

static void server_start(void)
{
	int ctl[2], ready[2];
	char c;

	check(pipe2(ctl, O_CLOEXEC) == 0 && pipe2(ready, O_CLOEXEC) == 0);
	server_pid = fork();
	check(server_pid >= 0);
	if (server_pid == 0) {
		close(ctl[1]);
		close(ready[0]);
		server_child(ctl[0], ready[1]);
	}
	close(ctl[0]);
	close(ready[1]);
	server_ctl = ctl[1];
	if (read(ready[0], &c, 1) != 1) {
		int status = 0;

		waitpid(server_pid, &status, 0);
		check_msg(0, "the server child did not start (status %#x)", status);
	}
	close(ready[0]);
}

static void server_check_alive(void)
{
	int status;

	check_msg(waitpid(server_pid, &status, WNOHANG) == 0,
		  "the producer died (status %#x)", status);
}

static void server_stop(void)
{
	int status;

	close(server_ctl);
	check(waitpid(server_pid, &status, 0) == server_pid);
	check_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "producer child ended with status %#x", status);
}

/* ---- the well-behaved consumer ----------------------------------------------- */

/* Takes, verifies and releases every frame the good client has. */
static void good_pump(int timeout_ms)
{
	struct dmapipe_frame *f;
	const char *msg = NULL;

	if (!good || in_child)
		return;
	dmapipe_client_dispatch(good, timeout_ms);
	while ((f = dmapipe_client_acquire_frame(good))) {
		int ret = dmapipe_buffer_check_pattern(f->buffer, f->meta.sequence);

		check_msg(ret == 0, "good client: frame %llu does not verify: %d",
			  (unsigned long long)f->meta.sequence, ret);
		good_frames++;
		check_int_eq(dmapipe_client_release_frame(good, f, -1), 0);
	}
	/* CONNECTING only until the producer's HELLO arrives (no reconnect is set) */
	check_msg(dmapipe_client_get_state(good) == DMAPIPE_CLIENT_STREAMING ||
		  (dmapipe_client_get_state(good) == DMAPIPE_CLIENT_CONNECTING && good_frames == 0),
		  "good client lost its stream: state %d, error %s (%s)",
		  dmapipe_client_get_state(good),
		  dmapipe_error_code_to_string(dmapipe_client_get_error(good, &msg)), msg);
}

static void good_expect_frames(unsigned int n)
{
	uint64_t target = good_frames + n, deadline = test_now_ms() + WAIT_MS;

	while (good_frames < target) {
		check_msg(test_now_ms() < deadline, "good client: no frames for %d ms", WAIT_MS);
		good_pump(10);
	}
}

/* Waits @ms while keeping the good client served. */
static void idle_ms(unsigned int ms)
{
	uint64_t end = test_now_ms() + ms;

	while (test_now_ms() < end)
		good_pump(5);
}

/* After each attack: the producer lives, the good client still streams
 * verified frames, and the attack left no fd in this process. */
static void after_attack(void)
{
	server_check_alive();
	good_expect_frames(3);
	check_int_eq(test_count_fds(), base_fds);
}

/* ---- attackers ---------------------------------------------------------- */

static int attacker_connect_type(int type)
{
	struct sockaddr_un addr;
	socklen_t len;
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	check(fd >= 0);
	check_int_eq(dmapipe_socket_addr(server_path, &addr, &len), 0);
	if (connect(fd, (struct sockaddr *)&addr, len) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

static int attacker_connect(void)
{
	int fd = attacker_connect_type(SOCK_SEQPACKET);

	check_msg(fd >= 0, "connect: %s", strerror(-fd));
	return fd;
}

/*
 * Receives the next message that is not one of the stream's (FORMAT,
 * ADD_BUFFER, REMOVE_BUFFER) unless @want is one of them; fds are closed.
 * Returns 0 with *m set, -ECONNRESET when the peer closed, -ETIMEDOUT, or
 * the transport's error.
 */
static int attacker_next(int fd, uint32_t want, struct dmapipe_msg *m, unsigned int timeout_ms)
{
	uint64_t deadline = test_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		const char *why = NULL;
		int ret;

		ret = dmapipe_recv_msg(fd, m, NULL, &why);
		if (ret == 0) {
			if (m->type == want || m->type == DMAPIPE_MSG_ERROR)
				return 0;
			dmapipe_msg_close_fds(m);
			continue;
		}
		if (ret != -EAGAIN)
			return ret == -EPIPE ? -ECONNRESET : ret;
		if (test_now_ms() >= deadline)
			return -ETIMEDOUT;
		good_pump(0);
		poll(&pfd, 1, 5);
	}
}

/* A consumer (or monitor) that completed its handshake. */
static int attacker_handshake(uint32_t role)
{
	struct dmapipe_msg m = peer_hello(role, DMAPIPE_PROTO_VERSION, 1);
	int fd = attacker_connect();

	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	check_int_eq(attacker_next(fd, DMAPIPE_MSG_HELLO, &m, WAIT_MS), 0);
	check_msg(m.type == DMAPIPE_MSG_HELLO, "handshake answered with %s",
		  dmapipe_msg_type_to_string(m.type));
	check_int_eq(m.hello.role, DMAPIPE_ROLE_PRODUCER);
	return fd;
}

/* Waits for a frame and returns its lease (the fence, if any, closed). */
static struct dmapipe_msg_frame attacker_frame(int fd)
{
	struct dmapipe_msg m;

	check_int_eq(attacker_next(fd, DMAPIPE_MSG_FRAME, &m, WAIT_MS), 0);
	check_msg(m.type == DMAPIPE_MSG_FRAME, "wanted a FRAME, got %s",
		  dmapipe_msg_type_to_string(m.type));
	dmapipe_close(m.frame.meta.acquire_fence);
	m.frame.meta.acquire_fence = -1;
	return m.frame;
}

enum expect {
	EXPECT_ERROR,          /* ERROR with the code, then the connection closes */
	EXPECT_ERROR_OR_CLOSE, /* that, or the connection just closes */
};

/*
 * Reads until the producer closes the connection, checks how it ended,
 * closes @fd and describes the outcome in @result.
 */
static void attacker_verdict(int fd, enum expect how, enum dmapipe_error_code want,
			     const char *what, char *result, size_t size)
{
	char message[DMAPIPE_PROTO_ERROR_LEN] = "";
	bool got_error = false;
	uint32_t code = 0;
	int ret;

	for (;;) {
		struct dmapipe_msg m;

		ret = attacker_next(fd, DMAPIPE_MSG_ERROR, &m, WAIT_MS);
		if (ret < 0)
			break;
		if (!got_error) {
			got_error = true;
			code = m.error.code;
			memcpy(message, m.error.message, sizeof(message));
		}
	}
	close(fd);
	check_msg(ret == -ECONNRESET, "%s: the producer did not close the connection: %s", what,
		  strerror(-ret));
	if (how == EXPECT_ERROR || got_error) {
		check_msg(got_error, "%s: closed without an ERROR", what);
		check_msg(code == want, "%s: ERROR %s (%s), expected %s", what,
			  dmapipe_error_code_to_string(code), message,
			  dmapipe_error_code_to_string(want));
		snprintf(result, size, "ERROR %s \"%s\"", dmapipe_error_code_to_string(code),
			 message);
	} else {
		snprintf(result, size, "connection closed");
	}
}

static void attacker_expect(int fd, enum expect how, enum dmapipe_error_code want,
			    const char *what)
{
	char result[256];

	attacker_verdict(fd, how, want, what, result, sizeof(result));
	after_attack();
	scenario_ok("producer", what, result);
}

/* ---- attacks on the producer ------------------------------------------------ */

static void attack_garbage(void)
{
	uint8_t junk[100];
	uint32_t x = 0x12345678;
	int fd = attacker_connect();

	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1103515245u + 12345u;
		junk[i] = (uint8_t)(x >> 16);
	}
	check_int_eq(peer_send(fd, junk, sizeof(junk), NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "100 bytes of garbage instead of HELLO");
}

static void attack_empty_datagram(void)
{
	int fd = attacker_connect();

	check_int_eq(peer_send(fd, "", 0, NULL, 0), 0);
	/* SEQPACKET cannot tell an empty datagram from a hangup: closing is right */
	attacker_expect(fd, EXPECT_ERROR_OR_CLOSE, DMAPIPE_ERR_PROTOCOL, "an empty datagram");
}

static void attack_truncated_hello(void)
{
	struct dmapipe_msg m = peer_hello(DMAPIPE_ROLE_CONSUMER, 1, 1);
	uint8_t buf[DMAPIPE_PROTO_MAX_MSG];
	int fd;

	peer_encode(&m, buf);
	fd = attacker_connect();
	check_int_eq(peer_send(fd, buf, 40, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "HELLO cut to 40 bytes");

	buf[4] = 40; /* header agrees with the cut: the size check per type must catch it */
	fd = attacker_connect();
	check_int_eq(peer_send(fd, buf, 40, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "HELLO cut to 40 bytes, header patched");
}

static void attack_bad_magic(void)
{
	struct dmapipe_msg m = peer_hello(DMAPIPE_ROLE_CONSUMER, 1, 1);
	uint8_t buf[DMAPIPE_PROTO_MAX_MSG];
	int len = peer_encode(&m, buf);
	int fd = attacker_connect();

	memcpy(buf + 8, "GST\0", 4);
	check_int_eq(peer_send(fd, buf, (size_t)len, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "HELLO with a wrong magic");
}

static void attack_versions(void)
{
	struct dmapipe_msg m = peer_hello(DMAPIPE_ROLE_CONSUMER, 3, 2);
	int fd = attacker_connect();

	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_VERSION, "HELLO speaking versions 2..3 only");

	/* and the forward-compatible case: a newer peer that still speaks 1 */
	m = peer_hello(DMAPIPE_ROLE_CONSUMER, 7, 1);
	fd = attacker_connect();
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	check_int_eq(attacker_next(fd, DMAPIPE_MSG_HELLO, &m, WAIT_MS), 0);
	check_msg(m.type == DMAPIPE_MSG_HELLO, "a 1..7 peer got %s", dmapipe_msg_type_to_string(m.type));
	check_int_eq(m.hello.version, 1);
	close(fd);
	after_attack();
	scenario_ok("producer", "HELLO speaking versions 1..7", "accepted with version 1");
}

static void attack_roles(void)
{
	struct dmapipe_msg m = peer_hello(DMAPIPE_ROLE_PRODUCER, 1, 1);
	uint8_t buf[DMAPIPE_PROTO_MAX_MSG];
	int len, fd = attacker_connect();

	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "HELLO with role producer");

	m = peer_hello(DMAPIPE_ROLE_CONSUMER, 1, 1);
	len = peer_encode(&m, buf);
	buf[16] = 9; /* role */
	fd = attacker_connect();
	check_int_eq(peer_send(fd, buf, (size_t)len, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "HELLO with role 9");

	len = peer_encode(&m, buf);
	buf[24] = 0; /* consumer without a policy */
	fd = attacker_connect();
	check_int_eq(peer_send(fd, buf, (size_t)len, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "consumer HELLO with policy 0");
}

static void attack_before_hello(void)
{
	struct dmapipe_msg m;
	int fd = attacker_connect();

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_STATS_REQUEST;
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "STATS_REQUEST before HELLO");
}

static void attack_second_hello(void)
{
	struct dmapipe_msg m = peer_hello(DMAPIPE_ROLE_CONSUMER, 1, 1);
	int fd = attacker_handshake(DMAPIPE_ROLE_CONSUMER);

	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "a second HELLO");
}

static void attack_unknown_type(void)
{
	uint8_t buf[16] = { 0x42, 0, 0, 0, 16, 0, 0, 0 };
	int fd = attacker_handshake(DMAPIPE_ROLE_CONSUMER);

	check_int_eq(peer_send(fd, buf, sizeof(buf), NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "message type 0x42");
}

static void attack_oversized(void)
{
	static uint8_t big[DMAPIPE_PROTO_MAX_MSG + 904];
	int fd = attacker_handshake(DMAPIPE_ROLE_CONSUMER);

	big[0] = DMAPIPE_MSG_STATS_REQUEST;
	big[4] = (uint8_t)sizeof(big);
	big[5] = (uint8_t)(sizeof(big) >> 8);
	check_int_eq(peer_send(fd, big, sizeof(big), NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "a 5000-byte datagram (MSG_TRUNC)");
}

/* A consumer that tries to give the producer a buffer. */
static void attack_consumer_add_buffer(void)
{
	struct dmapipe_msg m;
	int fd = attacker_handshake(DMAPIPE_ROLE_CONSUMER);
	int mfd = memfd_create("attacker", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	check(mfd >= 0 && ftruncate(mfd, 8192) == 0);
	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_ADD_BUFFER;
	m.add_buffer.buffer_id = 0;
	check_int_eq(dmapipe_layout_init(&m.add_buffer.layout, &fmt, 0), 0);
	m.add_buffer.layout.objects[0].fd = mfd;
	m.add_buffer.layout.objects[0].kind = DMAPIPE_MEM_MEMFD;
	check_int_eq(peer_send_msg(fd, &m, &mfd, 1), 0);
	close(mfd);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "consumer sends ADD_BUFFER with a memfd");
}

static void attack_fd_without_fence_flag(void)
{
	struct dmapipe_msg_frame f;
	struct dmapipe_msg m;
	int fd = attacker_handshake(DMAPIPE_ROLE_CONSUMER);
	int junk = open_devnull();

	f = attacker_frame(fd);
	m = peer_release(f.buffer_id, f.meta.sequence, -1);
	check_int_eq(peer_send_msg(fd, &m, &junk, 1), 0);
	close(junk);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL,
			"RELEASE with an fd attached but no HAS_FENCE");
}

static void attack_fence_not_sync_file(void)
{
	struct dmapipe_msg_frame f;
	struct dmapipe_msg m;
	int fd = attacker_handshake(DMAPIPE_ROLE_CONSUMER);
	int junk = open_devnull();

	f = attacker_frame(fd);
	m = peer_release(f.buffer_id, f.meta.sequence, junk);
	check_int_eq(peer_send_msg(fd, &m, &junk, 1), 0);
	close(junk);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_BAD_FD,
			"RELEASE whose fence is /dev/null, not a sync_file");
}

static void attack_five_fds(void)
{
	struct dmapipe_msg_frame f;
	struct dmapipe_msg m;
	int fd = attacker_handshake(DMAPIPE_ROLE_CONSUMER);
	int *junk = open_junk_fds(5);

	f = attacker_frame(fd);
	m = peer_release(f.buffer_id, f.meta.sequence, junk[0]);
	check_int_eq(peer_send_msg(fd, &m, junk, 5), 0);
	close_fds(junk, 5);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL,
			"RELEASE with 5 fds (more than any message carries: MSG_CTRUNC)");
}

static void attack_253_fds(void)
{
	struct dmapipe_msg m = peer_hello(DMAPIPE_ROLE_CONSUMER, 1, 1);
	int fd = attacker_connect();
	int *junk = open_junk_fds(253);

	check_int_eq(peer_send_msg(fd, &m, junk, 253), 0);
	close_fds(junk, 253);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "HELLO with 253 fds attached (MSG_CTRUNC)");
}

static void attack_releases(void)
{
	struct dmapipe_msg_frame f;
	struct dmapipe_msg m;
	int fd;

	fd = attacker_handshake(DMAPIPE_ROLE_CONSUMER);
	m = peer_release(200, 0, -1);
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "RELEASE of buffer 200, never sent");

	fd = attacker_handshake(DMAPIPE_ROLE_CONSUMER);
	f = attacker_frame(fd);
	m = peer_release(f.buffer_id, f.meta.sequence, -1);
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "the same RELEASE twice");

	fd = attacker_handshake(DMAPIPE_ROLE_CONSUMER);
	f = attacker_frame(fd);
	m = peer_release(f.buffer_id, f.meta.sequence + 1000, -1);
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "RELEASE naming the wrong sequence");

	fd = attacker_handshake(DMAPIPE_ROLE_MONITOR);
	m = peer_release(0, 0, -1);
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "a monitor sends RELEASE");
}

/* A consumer HELLO with @features; returns the fd and the features granted. */
static int attacker_handshake_features(uint32_t role, uint32_t features, uint32_t *granted)
{
	struct dmapipe_msg m = peer_hello(role, DMAPIPE_PROTO_VERSION, 1);
	int fd = attacker_connect();

	m.hello.features = features;
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	check_int_eq(attacker_next(fd, DMAPIPE_MSG_HELLO, &m, WAIT_MS), 0);
	check_int_eq(m.type, DMAPIPE_MSG_HELLO);
	*granted = m.hello.features;
	return fd;
}

static struct dmapipe_msg releases_of(const struct dmapipe_msg_frame *f, unsigned int n)
{
	struct dmapipe_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_RELEASES;
	m.releases.n_releases = n;
	for (unsigned int i = 0; i < n; i++) {
		m.releases.releases[i].buffer_id = f[i].buffer_id;
		m.releases.releases[i].sequence = f[i].meta.sequence;
	}
	return m;
}

/*
 * RELEASES (several leases in one message, FEATURE_RELEASES): accepted
 * when agreed and well-formed; refused without the feature, from a
 * monitor, malformed, with an fd, or naming a lease not held (never sent,
 * twice in one message, wrong sequence). A consumer without the bit (an
 * older peer) still streams with RELEASE.
 */
static void attack_batched_releases(void)
{
	const uint32_t no_batch = PEER_FEATURES & ~DMAPIPE_FEATURE_RELEASES;
	struct dmapipe_msg_frame f[2];
	struct dmapipe_msg m;
	uint8_t buf[DMAPIPE_PROTO_MAX_MSG];
	uint32_t granted;
	int fd, len, junk;

	/* agreed and valid: both leases return, and frames keep coming */
	fd = attacker_handshake_features(DMAPIPE_ROLE_CONSUMER, PEER_FEATURES, &granted);
	check(granted & DMAPIPE_FEATURE_RELEASES);
	f[0] = attacker_frame(fd);
	f[1] = attacker_frame(fd);
	m = releases_of(f, 2);
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	f[0] = attacker_frame(fd);
	f[1] = attacker_frame(fd);
	m = releases_of(f, 2);
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	(void)attacker_frame(fd);
	close(fd);
	after_attack();
	scenario_ok("producer", "RELEASES of both leases, twice (feature agreed)",
		    "accepted: new frames followed each");

	/* an older consumer: no bit, plain RELEASE keeps working */
	fd = attacker_handshake_features(DMAPIPE_ROLE_CONSUMER, no_batch, &granted);
	check(!(granted & DMAPIPE_FEATURE_RELEASES));
	for (int i = 0; i < 3; i++) {
		f[0] = attacker_frame(fd);
		m = peer_release(f[0].buffer_id, f[0].meta.sequence, -1);
		check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	}
	close(fd);
	after_attack();
	scenario_ok("producer", "a consumer without FEATURE_RELEASES (older peer)",
		    "not granted the bit; streams with RELEASE");

	/* ... but it may not send RELEASES */
	fd = attacker_handshake_features(DMAPIPE_ROLE_CONSUMER, no_batch, &granted);
	f[0] = attacker_frame(fd);
	f[1] = attacker_frame(fd);
	m = releases_of(f, 2);
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "RELEASES without FEATURE_RELEASES");

	fd = attacker_handshake_features(DMAPIPE_ROLE_CONSUMER, PEER_FEATURES, &granted);
	f[0] = attacker_frame(fd);
	f[1] = f[0];
	m = releases_of(f, 2);
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "RELEASES naming one lease twice");

	fd = attacker_handshake_features(DMAPIPE_ROLE_CONSUMER, PEER_FEATURES, &granted);
	f[0] = attacker_frame(fd);
	f[1].buffer_id = 200;
	f[1].meta.sequence = 0;
	m = releases_of(f, 2);
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL,
			"RELEASES of a held lease and of buffer 200, never sent");

	fd = attacker_handshake_features(DMAPIPE_ROLE_CONSUMER, PEER_FEATURES, &granted);
	f[0] = attacker_frame(fd);
	f[1] = attacker_frame(fd);
	f[1].meta.sequence += 1000;
	m = releases_of(f, 2);
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL,
			"RELEASES whose second entry names the wrong sequence");

	fd = attacker_handshake_features(DMAPIPE_ROLE_CONSUMER, PEER_FEATURES, &granted);
	f[0] = attacker_frame(fd);
	f[1] = attacker_frame(fd);
	m = releases_of(f, 2);
	len = peer_encode(&m, buf);
	buf[8] = 3; /* n_releases 3 with 2 entries */
	check_int_eq(peer_send(fd, buf, (size_t)len, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL,
			"RELEASES claiming 3 entries with 2 in the datagram");

	fd = attacker_handshake_features(DMAPIPE_ROLE_CONSUMER, PEER_FEATURES, &granted);
	f[0] = attacker_frame(fd);
	f[1] = attacker_frame(fd);
	m = releases_of(f, 2);
	junk = open_devnull();
	check_int_eq(peer_send_msg(fd, &m, &junk, 1), 0);
	close(junk);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "RELEASES with an fd attached");

	fd = attacker_handshake_features(DMAPIPE_ROLE_MONITOR, PEER_FEATURES, &granted);
	f[0].buffer_id = 0;
	f[0].meta.sequence = 0;
	m = releases_of(f, 1);
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "a monitor sends RELEASES");
}

static void attack_other_socket_types(void)
{
	struct sockaddr_un addr;
	socklen_t len;
	char result[96];
	int fd, r;

	fd = attacker_connect_type(SOCK_STREAM);
	if (fd >= 0)
		close(fd);
	check_msg(fd < 0, "a SOCK_STREAM connect to the producer succeeded");
	snprintf(result, sizeof(result), "connect refused: %s", strerror(-fd));
	after_attack();
	scenario_ok("producer", "SOCK_STREAM socket", result);

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	check(fd >= 0);
	check_int_eq(dmapipe_socket_addr(server_path, &addr, &len), 0);
	r = (int)sendto(fd, "x", 1, 0, (struct sockaddr *)&addr, len);
	check_msg(r < 0, "a SOCK_DGRAM datagram reached the producer");
	snprintf(result, sizeof(result), "sendto refused: %s", strerror(errno));
	close(fd);
	after_attack();
	scenario_ok("producer", "SOCK_DGRAM datagram", result);
}

static void attack_silent(void)
{
	int fd = attacker_connect();
	uint64_t t0 = test_now_ms();
	char what[96];

	/* says nothing: the handshake timeout must free the slot */
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL, "connects and never sends HELLO");
	snprintf(what, sizeof(what), "(dropped after %llu ms, timeout %d ms)",
		 (unsigned long long)(test_now_ms() - t0), HANDSHAKE_TIMEOUT_MS);
	printf("   %s\n", what);
}

/* announces CONSTRAINTS in its HELLO and never sends them */
static void attack_no_constraints(void)
{
	struct dmapipe_msg m = peer_hello(DMAPIPE_ROLE_CONSUMER, DMAPIPE_PROTO_VERSION, 1);
	int fd = attacker_connect();
	uint64_t t0 = test_now_ms();
	char what[112];

	m.hello.features |= DMAPIPE_FEATURE_CONSTRAINTS;
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL,
			"HELLO announcing CONSTRAINTS, then none");
	snprintf(what, sizeof(what), "(dropped after %llu ms, timeout %d ms)",
		 (unsigned long long)(test_now_ms() - t0), HANDSHAKE_TIMEOUT_MS);
	printf("   %s\n", what);
}

/*
 * CONSTRAINTS again and again, each asking another alignment: every one
 * could make the producer allocate a new generation of its pool. The
 * ninth within a second ends the connection.
 */
static void attack_constraints_flood(void)
{
	struct dmapipe_msg m = peer_hello(DMAPIPE_ROLE_CONSUMER, DMAPIPE_PROTO_VERSION, 1);
	int fd = attacker_connect();

	m.hello.features |= DMAPIPE_FEATURE_CONSTRAINTS;
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	check_int_eq(attacker_next(fd, DMAPIPE_MSG_HELLO, &m, WAIT_MS), 0);
	for (int i = 0; i < 9; i++) {
		memset(&m, 0, sizeof(m));
		m.type = DMAPIPE_MSG_CONSTRAINTS;
		dmapipe_constraints_init(&m.constraints);
		m.constraints.stride_align[0] = i % 2 ? 128 : 256;
		check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	}
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_PROTOCOL,
			"CONSTRAINTS 9 times in a second, each another alignment");
}

static void attack_lease_hog(void)
{
	int fd = attacker_handshake(DMAPIPE_ROLE_CONSUMER);

	/* takes frames and never releases them; attacker_expect reads on */
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_LEASE_TIMEOUT,
			"holds its frames past the lease timeout");
}

static void attack_too_many(void)
{
	const char *what = "one consumer above max_consumers";
	int fds[MAX_CONSUMERS - 1];
	struct dmapipe_msg m;
	char result[256];
	int fd;

	/* the good client is one; fill the rest */
	for (int i = 0; i < MAX_CONSUMERS - 1; i++)
		fds[i] = attacker_handshake(DMAPIPE_ROLE_CONSUMER);
	/* consumers are counted at their HELLO, not at connect */
	fd = attacker_connect();
	m = peer_hello(DMAPIPE_ROLE_CONSUMER, 1, 1);
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	/* the others stay connected until the verdict: the producer handles
	 * hangups before new connections */
	attacker_verdict(fd, EXPECT_ERROR, DMAPIPE_ERR_TOO_MANY, what, result, sizeof(result));
	for (int i = 0; i < MAX_CONSUMERS - 1; i++)
		close(fds[i]);
	after_attack();
	scenario_ok("producer", what, result);
}

/* A peer running as another uid; the producer's policy is "same uid". */
static void attack_foreign_uid(void)
{
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		printf("   (not run: a peer with another uid needs root)\n");
		return;
	}
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		struct dmapipe_msg m = peer_hello(DMAPIPE_ROLE_CONSUMER, 1, 1);
		int fd, ret;

		/* the parent's client is not ours to touch: this child only
		 * uses a raw socket. attacker_next() pumps 'good': a copy of it
		 * pumped here would read the parent's frames ring and write
		 * releases into its releases ring beside the parent, which
		 * (unlike stealing datagrams) breaks both. 'good' stays set, so
		 * valgrind's leak check at the child's exit still finds it. */
		in_child = true;
		if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(TEST_SKIP);
		fd = attacker_connect(); /* abstract socket: no file permissions apply */
		(void)peer_send_msg(fd, &m, NULL, 0);
		for (;;) {
			ret = attacker_next(fd, DMAPIPE_MSG_ERROR, &m, WAIT_MS);
			if (ret < 0)
				_exit(2);
			if (m.type == DMAPIPE_MSG_ERROR)
				_exit(m.error.code == DMAPIPE_ERR_PERMISSION ? 0 :
				      m.error.code < 100 ? 10 + (int)m.error.code : 3);
		}
	}
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		check(r >= 0);
		if (r == pid)
			break;
		good_pump(5);
	}
	check_msg(WIFEXITED(status), "foreign-uid attacker died: %#x", status);
	if (WEXITSTATUS(status) == TEST_SKIP) {
		printf("   (not run: cannot switch to uid %d here)\n", NOBODY);
		return;
	}
	check_msg(WEXITSTATUS(status) == 0, "foreign-uid attacker: exit %d (2: no ERROR, 10 + N: "
		  "ERROR code N instead of permission)", WEXITSTATUS(status));
	after_attack();
	scenario_ok("producer", "a peer running as uid 65534", "ERROR permission");
}

/* sw_sync (debugfs) gives fences that signal only when told to. */
struct sw_sync_create_fence_data {
	uint32_t value;
	char name[32];
	int32_t fence;
};
#define SW_SYNC_IOC_CREATE_FENCE _IOWR('W', 0, struct sw_sync_create_fence_data)

static void attack_fence_quota(void)
{
	struct dmapipe_msg_frame f[2];
	int timeline, fence[2], fd;

	timeline = open("/sys/kernel/debug/sync/sw_sync", O_RDWR | O_CLOEXEC);
	if (timeline < 0) {
		printf("   (not run: unsignalled release fences need sw_sync in debugfs: %s)\n",
		       strerror(errno));
		return;
	}
	for (int i = 0; i < 2; i++) {
		struct sw_sync_create_fence_data d = { .value = 1 };

		strcpy(d.name, "hostile");
		check(ioctl(timeline, SW_SYNC_IOC_CREATE_FENCE, &d) == 0);
		fence[i] = d.fence;
	}
	fd = attacker_handshake(DMAPIPE_ROLE_CONSUMER);
	f[0] = attacker_frame(fd);
	f[1] = attacker_frame(fd);
	for (int i = 0; i < 2; i++) {
		struct dmapipe_msg m = peer_release(f[i].buffer_id, f[i].meta.sequence, fence[i]);

		(void)peer_send_msg(fd, &m, &fence[i], 1);
		close(fence[i]);
	}
	attacker_expect(fd, EXPECT_ERROR, DMAPIPE_ERR_FD_QUOTA,
			"two unsignalled release fences, quota 1");
	close(timeline);
}

static void check_server_stats(void)
{
	struct dmapipe_server_stats st;
	struct dmapipe_consumer_stats cs[4];
	int n = dmapipe_query_stats(server_path, &st, cs, 4, WAIT_MS);

	check_msg(n >= 0, "stats: %s", strerror(-n));
	printf("   producer stats: %llu frames, %llu connections, %llu refused, %llu lease timeouts, "
	       "%d consumer(s) now\n",
	       (unsigned long long)st.frames_queued, (unsigned long long)st.consumers_total,
	       (unsigned long long)st.consumers_refused, (unsigned long long)st.lease_timeouts, n);
	check_int_eq(n, 1);
	check(strcmp(cs[0].name, "good") == 0);
	check(st.consumers_refused > 0);
	check(st.lease_timeouts >= 1);
}

static void run_producer_attacks(void)
{
	struct dmapipe_client_options o;

	server_start();
	dmapipe_client_options_init(&o);
	o.path = server_path;
	o.name = "good";
	o.map_buffers = true;
	o.max_in_flight = 2;
	good = dmapipe_client_new(&o);
	check_msg(good, "good client: %s", strerror(errno));
	good_expect_frames(5);
	base_fds = test_count_fds();

	attack_garbage();
	attack_empty_datagram();
	attack_truncated_hello();
	attack_bad_magic();
	attack_versions();
	attack_roles();
	attack_before_hello();
	attack_second_hello();
	attack_unknown_type();
	attack_oversized();
	attack_consumer_add_buffer();
	attack_fd_without_fence_flag();
	attack_fence_not_sync_file();
	attack_five_fds();
	attack_253_fds();
	attack_releases();
	attack_batched_releases();
	attack_other_socket_types();
	attack_silent();
	attack_no_constraints();
	attack_constraints_flood();
	attack_lease_hog();
	attack_too_many();
	attack_foreign_uid();
	attack_fence_quota();

	idle_ms(100);
	check_server_stats();
	printf("   good client: %llu frames verified during the attacks\n",
	       (unsigned long long)good_frames);
	dmapipe_client_free(good);
	good = NULL;
	server_stop();
}

/* ---- a hostile producer against the client ---------------------------------- */

struct fake {
	char path[64];
	int listen_fd;
	int conn;
	struct dmapipe_client *client;
	int fds_before;
};

static unsigned int n_fakes;

static int fake_recv(struct fake *f, struct dmapipe_msg *m, unsigned int timeout_ms)
{
	uint64_t deadline = test_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = f->conn, .events = POLLIN };
		const char *why = NULL;
		int ret = dmapipe_recv_msg(f->conn, m, NULL, &why);

		if (ret != -EAGAIN)
			return ret;
		if (test_now_ms() >= deadline)
			return -ETIMEDOUT;
		/* the client only acts in dispatch */
		dmapipe_client_dispatch(f->client, 0);
		poll(&pfd, 1, 5);
	}
}

static int fake_listen(const char *path)
{
	struct sockaddr_un addr;
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	check(fd >= 0);
	check_int_eq(dmapipe_socket_addr(path, &addr, &len), 0);
	check_msg(bind(fd, (struct sockaddr *)&addr, len) == 0, "bind %s: %s", path + 1,
		  strerror(errno));
	check(listen(fd, 4) == 0);
	return fd;
}

/* max_mapped_bytes of the next fake_start()'s client (0: its default) */
static uint64_t fake_max_mapped;
/* whether the next fake_start()'s client reconnects */
static bool fake_reconnect;

static void fake_start(struct fake *f, uint32_t fd_quota)
{
	struct dmapipe_client_options o;
	struct dmapipe_msg m;

	f->fds_before = test_count_fds();
	snprintf(f->path, sizeof(f->path), "@dmapipe-hostile-fake-%d-%u", (int)getpid(), n_fakes++);
	f->listen_fd = fake_listen(f->path);

	dmapipe_client_options_init(&o);
	o.path = f->path;
	o.name = "victim";
	o.map_buffers = true;
	o.max_in_flight = 2;
	o.fd_quota = fd_quota;
	o.max_mapped_bytes = fake_max_mapped;
	o.reconnect = fake_reconnect;
	o.reconnect_min_ms = 1;
	f->client = dmapipe_client_new(&o);
	check_msg(f->client, "client: %s", strerror(errno));
	f->conn = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	check(f->conn >= 0);
	check_int_eq(fake_recv(f, &m, WAIT_MS), 0);
	check_int_eq(m.type, DMAPIPE_MSG_HELLO);
	check_int_eq(m.hello.role, DMAPIPE_ROLE_CONSUMER);
}

static void fake_send(struct fake *f, const struct dmapipe_msg *m)
{
	check_int_eq(dmapipe_send_msg(f->conn, m), 0);
}

static void fake_hello_version(struct fake *f, uint16_t version, uint16_t min_version)
{
	struct dmapipe_msg m = peer_hello(DMAPIPE_ROLE_PRODUCER, version, min_version);

	m.hello.lease_timeout_ms = 5000;
	fake_send(f, &m);
}

/* Producer HELLO and FORMAT. */
static void fake_hello(struct fake *f)
{
	struct dmapipe_msg m;

	fake_hello_version(f, 1, 1);
	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_FORMAT;
	m.format = fmt;
	fake_send(f, &m);
}

static int sealed_memfd(uint64_t size)
{
	int fd = memfd_create("fake-producer", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	check(fd >= 0);
	check(ftruncate(fd, (off_t)size) == 0);
	check(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
	return fd;
}

/* A valid single-object NV12 buffer message backed by @fd (not closed). */
static struct dmapipe_msg add_buffer_msg(uint32_t id, int fd, uint32_t kind)
{
	struct dmapipe_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_ADD_BUFFER;
	m.add_buffer.buffer_id = id;
	check_int_eq(dmapipe_layout_init(&m.add_buffer.layout, &fmt, 0), 0);
	m.add_buffer.layout.objects[0].fd = fd;
	m.add_buffer.layout.objects[0].kind = kind;
	return m;
}

static uint64_t buffer_size(void)
{
	struct dmapipe_layout l;

	check_int_eq(dmapipe_layout_init(&l, &fmt, 0), 0);
	return l.objects[0].size;
}

/* Sends a good buffer with id @id. */
static void fake_add_good_buffer(struct fake *f, uint32_t id)
{
	int fd = sealed_memfd(buffer_size());
	struct dmapipe_msg m = add_buffer_msg(id, fd, DMAPIPE_MEM_MEMFD);

	fake_send(f, &m);
	close(fd);
}

static struct dmapipe_msg frame_msg(uint32_t id, uint64_t sequence, int fence)
{
	struct dmapipe_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_FRAME;
	m.frame.buffer_id = id;
	m.frame.meta.sequence = sequence;
	m.frame.meta.acquire_fence = fence;
	return m;
}

/*
 * The client must end up in the ERROR state with @want, have sent us an
 * ERROR with the same code, and, once freed, hold no fd of this session.
 */
static void fake_expect(struct fake *f, enum dmapipe_error_code want, const char *what)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;
	enum dmapipe_client_state state;
	enum dmapipe_error_code code;
	const char *message = NULL;
	struct dmapipe_msg m;
	char result[256];
	int ret;

	while ((state = dmapipe_client_get_state(f->client)) == DMAPIPE_CLIENT_STREAMING ||
	       state == DMAPIPE_CLIENT_CONNECTING || state == DMAPIPE_CLIENT_EOS) {
		check_msg(test_now_ms() < deadline, "%s: the client accepted it", what);
		dmapipe_client_dispatch(f->client, 10);
	}
	code = dmapipe_client_get_error(f->client, &message);
	check_msg(state == DMAPIPE_CLIENT_ERROR, "%s: client state %d, expected error", what, state);
	check_msg(code == want, "%s: client reported %s (%s), expected %s", what,
		  dmapipe_error_code_to_string(code), message, dmapipe_error_code_to_string(want));
	snprintf(result, sizeof(result), "%s \"%s\"", dmapipe_error_code_to_string(code), message);

	/* it told the producer too, then hung up */
	do {
		ret = fake_recv(f, &m, WAIT_MS);
		if (ret == 0 && m.type != DMAPIPE_MSG_ERROR)
			dmapipe_msg_close_fds(&m);
	} while (ret == 0 && m.type != DMAPIPE_MSG_ERROR);
	check_msg(ret == 0, "%s: no ERROR reached the producer: %s", what, strerror(-ret));
	check_int_eq(m.error.code, want);
	check_int_eq(fake_recv(f, &m, WAIT_MS), -ECONNRESET);

	dmapipe_client_free(f->client);
	close(f->conn);
	close(f->listen_fd);
	check_msg(test_count_fds() == f->fds_before, "%s: %d fds before, %d after", what,
		  f->fds_before, test_count_fds());
	scenario_ok("consumer", what, result);
}

/* The harness itself: a correct fake producer streams one frame. */
static void fake_sanity(void)
{
	struct dmapipe_frame *fr;
	struct dmapipe_msg m;
	struct fake f;

	fake_start(&f, 64);
	fake_hello(&f);
	fake_add_good_buffer(&f, 3);
	m = frame_msg(3, 77, -1);
	fake_send(&f, &m);
	fr = dmapipe_client_wait_frame(f.client, WAIT_MS);
	check_msg(fr, "fake producer: no frame: %s", strerror(errno));
	check_int_eq(fr->buffer_id, 3);
	check_int_eq(fr->meta.sequence, 77);
	check_int_eq(dmapipe_client_release_frame(f.client, fr, -1), 0);
	check_int_eq(fake_recv(&f, &m, WAIT_MS), 0);
	check_int_eq(m.type, DMAPIPE_MSG_RELEASE);
	check_int_eq(m.release.buffer_id, 3);
	check_int_eq(m.release.sequence, 77);
	dmapipe_client_free(f.client);
	close(f.conn);
	close(f.listen_fd);
	check_int_eq(test_count_fds(), f.fds_before);
	scenario_ok("consumer", "a correct fake producer (harness check)", "frame 77 received and released");
}

/*
 * Release coalescing against producers with and without FEATURE_RELEASES:
 * two frames taken and handed back at once reach a new producer as one
 * RELEASES and an older one as two RELEASEs, in order. A release held
 * back while another frame waits makes the client's fd readable and goes
 * out with the next dispatch.
 */
static void fake_release_batching(bool producer_batches)
{
	struct dmapipe_frame *fr[2];
	struct dmapipe_msg m;
	struct pollfd pfd;
	struct fake f;

	fake_start(&f, 64);
	m = peer_hello(DMAPIPE_ROLE_PRODUCER, 1, 1);
	m.hello.lease_timeout_ms = 5000;
	if (!producer_batches)
		m.hello.features &= ~DMAPIPE_FEATURE_RELEASES;
	fake_send(&f, &m);
	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_FORMAT;
	m.format = fmt;
	fake_send(&f, &m);
	fake_add_good_buffer(&f, 0);
	fake_add_good_buffer(&f, 1);

	for (unsigned int round = 0; round < 2; round++) {
		m = frame_msg(0, 10 * round, -1);
		fake_send(&f, &m);
		m = frame_msg(1, 10 * round + 1, -1);
		fake_send(&f, &m);
		for (uint64_t deadline = test_now_ms() + WAIT_MS;;) {
			struct dmapipe_client_stats st;

			dmapipe_client_get_stats(f.client, &st);
			if (st.frames_received == 2 * (round + 1))
				break;
			check_msg(test_now_ms() < deadline, "round %u: frames not received", round);
			check(dmapipe_client_dispatch(f.client, 10) >= 0);
		}
		/* taken and handed back at once, as a fast consumer does */
		fr[0] = dmapipe_client_acquire_frame(f.client);
		check_msg(fr[0], "first frame: %s", strerror(errno));
		check_int_eq(dmapipe_client_release_frame(f.client, fr[0], -1), 0);
		/*
		 * Held back only if the frame was handed on within 0.1 ms. A
		 * machine that slow (valgrind) sends it at once instead, which
		 * is checked here; the batching below then cannot be.
		 */
		if (dmapipe_recv_msg(f.conn, &m, NULL, &(const char *){ NULL }) == 0) {
			check_int_eq(m.type, DMAPIPE_MSG_RELEASE);
			check_int_eq(m.release.buffer_id, 0);
			check_int_eq(m.release.sequence, 10 * round);
			fr[1] = dmapipe_client_acquire_frame(f.client);
			check_msg(fr[1], "second frame: %s", strerror(errno));
			check_int_eq(dmapipe_client_release_frame(f.client, fr[1], -1), 0);
			check_int_eq(fake_recv(&f, &m, WAIT_MS), 0);
			check_int_eq(m.type, DMAPIPE_MSG_RELEASE);
			check_int_eq(m.release.buffer_id, 1);
			check_int_eq(m.release.sequence, 10 * round + 1);
			printf("# round %u: the release was not held (slow machine)\n", round);
			continue;
		}
		/* held back: the other frame waits to be acquired */
		pfd = (struct pollfd){ .fd = dmapipe_client_get_fd(f.client), .events = POLLIN };
		check_int_eq(poll(&pfd, 1, 0), 1);
		if (round == 1) {
			/* a dispatch sends it on its own */
			check_int_eq(fake_recv(&f, &m, WAIT_MS), 0);
			check_int_eq(m.type, DMAPIPE_MSG_RELEASE);
			check_int_eq(m.release.buffer_id, 0);
			check_int_eq(m.release.sequence, 10);
		}
		fr[1] = dmapipe_client_acquire_frame(f.client);
		check_msg(fr[1], "second frame: %s", strerror(errno));
		check_int_eq(dmapipe_client_release_frame(f.client, fr[1], -1), 0);
		check_int_eq(fake_recv(&f, &m, WAIT_MS), 0);
		if (round == 0 && producer_batches) {
			check_int_eq(m.type, DMAPIPE_MSG_RELEASES);
			check_int_eq(m.releases.n_releases, 2);
			check_int_eq(m.releases.releases[0].buffer_id, 0);
			check_int_eq(m.releases.releases[0].sequence, 0);
			check_int_eq(m.releases.releases[1].buffer_id, 1);
			check_int_eq(m.releases.releases[1].sequence, 1);
			continue;
		}
		if (round == 0) {
			check_int_eq(m.type, DMAPIPE_MSG_RELEASE);
			check_int_eq(m.release.buffer_id, 0);
			check_int_eq(m.release.sequence, 0);
			check_int_eq(fake_recv(&f, &m, WAIT_MS), 0);
		}
		check_int_eq(m.type, DMAPIPE_MSG_RELEASE);
		check_int_eq(m.release.buffer_id, 1);
		check_int_eq(m.release.sequence, 10 * round + 1);
	}
	check_int_eq(dmapipe_client_get_state(f.client), DMAPIPE_CLIENT_STREAMING);
	dmapipe_client_free(f.client);
	close(f.conn);
	close(f.listen_fd);
	check_int_eq(test_count_fds(), f.fds_before);
	scenario_ok("consumer", producer_batches ?
		    "two frames released at once, producer with FEATURE_RELEASES" :
		    "two frames released at once, older producer without FEATURE_RELEASES",
		    producer_batches ? "one RELEASES of both; a held release goes with dispatch" :
		    "two RELEASEs in order; a held release goes with dispatch");
}

static void fake_bad_fds(void)
{
	struct dmapipe_msg m;
	struct fake f;
	int fd, p[2];

	/* memfd without F_SEAL_SHRINK: could be truncated under the mapping */
	fake_start(&f, 64);
	fake_hello(&f);
	fd = memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	check(fd >= 0 && ftruncate(fd, (off_t)buffer_size()) == 0);
	m = add_buffer_msg(0, fd, DMAPIPE_MEM_MEMFD);
	fake_send(&f, &m);
	close(fd);
	fake_expect(&f, DMAPIPE_ERR_BAD_FD, "ADD_BUFFER with an unsealed memfd");

	/* a pipe claimed to be a dma-buf */
	fake_start(&f, 64);
	fake_hello(&f);
	check(pipe2(p, O_CLOEXEC) == 0);
	m = add_buffer_msg(0, p[0], DMAPIPE_MEM_DMABUF);
	fake_send(&f, &m);
	close(p[0]);
	close(p[1]);
	fake_expect(&f, DMAPIPE_ERR_BAD_FD, "ADD_BUFFER with a pipe declared as dma-buf");

	/* an object smaller than it claims */
	fake_start(&f, 64);
	fake_hello(&f);
	fd = sealed_memfd(4096);
	m = add_buffer_msg(0, fd, DMAPIPE_MEM_MEMFD);
	fake_send(&f, &m);
	close(fd);
	fake_expect(&f, DMAPIPE_ERR_BAD_FD, "ADD_BUFFER declaring 8 KiB for a 4 KiB memfd");
}

static void fake_bad_layouts(void)
{
	struct dmapipe_msg m;
	struct fake f;
	int fd;

	fake_start(&f, 64);
	fake_hello(&f);
	fd = sealed_memfd(buffer_size());
	m = add_buffer_msg(0, fd, DMAPIPE_MEM_MEMFD);
	m.add_buffer.layout.planes[1].offset = buffer_size() - 64; /* chroma runs past the end */
	fake_send(&f, &m);
	close(fd);
	fake_expect(&f, DMAPIPE_ERR_BAD_LAYOUT, "plane 1 starting 64 bytes before the object's end");

	fake_start(&f, 64);
	fake_hello(&f);
	fd = sealed_memfd(buffer_size());
	m = add_buffer_msg(0, fd, DMAPIPE_MEM_MEMFD);
	m.add_buffer.layout.planes[0].stride = 0xfffffff0u;
	fake_send(&f, &m);
	close(fd);
	fake_expect(&f, DMAPIPE_ERR_BAD_LAYOUT, "stride 0xfffffff0");

	fake_start(&f, 64);
	fake_hello(&f);
	fd = sealed_memfd(buffer_size());
	m = add_buffer_msg(0, fd, DMAPIPE_MEM_MEMFD);
	m.add_buffer.layout.planes[1].offset = UINT64_MAX - 100;
	fake_send(&f, &m);
	close(fd);
	fake_expect(&f, DMAPIPE_ERR_BAD_LAYOUT, "plane offset near 2^64");

	fake_start(&f, 64);
	fake_hello(&f);
	fd = sealed_memfd(buffer_size());
	m = add_buffer_msg(0, fd, DMAPIPE_MEM_MEMFD);
	m.add_buffer.layout.format.width = 4096; /* not the FORMAT sent */
	fake_send(&f, &m);
	close(fd);
	fake_expect(&f, DMAPIPE_ERR_BAD_LAYOUT, "ADD_BUFFER whose format differs from FORMAT");
}

static void fake_bad_ids(void)
{
	struct dmapipe_msg m;
	struct fake f;

	fake_start(&f, 64);
	fake_hello(&f);
	fake_add_good_buffer(&f, 1);
	fake_add_good_buffer(&f, 1);
	fake_expect(&f, DMAPIPE_ERR_PROTOCOL, "buffer id 1 added twice");

	fake_start(&f, 64);
	fake_hello(&f);
	fake_add_good_buffer(&f, 0);
	m = frame_msg(9, 0, -1);
	fake_send(&f, &m);
	fake_expect(&f, DMAPIPE_ERR_PROTOCOL, "FRAME for buffer 9, never added");

	fake_start(&f, 64);
	fake_hello(&f);
	fake_add_good_buffer(&f, 0);
	m = frame_msg(0, 0, -1);
	fake_send(&f, &m);
	m = frame_msg(0, 1, -1);
	fake_send(&f, &m);
	fake_expect(&f, DMAPIPE_ERR_PROTOCOL, "FRAME for a buffer the consumer has not released");

	fake_start(&f, 64);
	fake_hello(&f);
	for (uint32_t i = 0; i < 3; i++)
		fake_add_good_buffer(&f, i);
	for (uint32_t i = 0; i < 3; i++) {
		m = frame_msg(i, i, -1);
		fake_send(&f, &m);
	}
	fake_expect(&f, DMAPIPE_ERR_PROTOCOL, "3 frames in flight when 2 were granted");

	fake_start(&f, 64);
	fake_hello(&f);
	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_REMOVE_BUFFER;
	m.remove_buffer_id = 5;
	fake_send(&f, &m);
	fake_expect(&f, DMAPIPE_ERR_PROTOCOL, "REMOVE_BUFFER of an unknown id");

	fake_start(&f, 64);
	fake_hello(&f);
	fake_add_good_buffer(&f, 0);
	m = frame_msg(0, 0, -1);
	m.frame.meta.bytes_used[0] = buffer_size() * 2;
	fake_send(&f, &m);
	fake_expect(&f, DMAPIPE_ERR_PROTOCOL, "FRAME with bytes_used larger than its plane");
}

static void fake_bad_fence(void)
{
	struct dmapipe_msg m;
	struct fake f;
	int p[2];

	fake_start(&f, 64);
	fake_hello(&f);
	fake_add_good_buffer(&f, 0);
	check(pipe2(p, O_CLOEXEC) == 0);
	m = frame_msg(0, 0, p[0]);
	fake_send(&f, &m);
	close(p[0]);
	close(p[1]);
	fake_expect(&f, DMAPIPE_ERR_BAD_FD, "FRAME whose acquire fence is a pipe");
}

static void fake_fd_quota(void)
{
	struct fake f;

	fake_start(&f, 2);
	fake_hello(&f);
	fake_add_good_buffer(&f, 0);
	fake_add_good_buffer(&f, 1);
	fake_add_good_buffer(&f, 2);
	fake_expect(&f, DMAPIPE_ERR_FD_QUOTA, "a third buffer past an fd quota of 2");
}

static void fake_floods_and_garbage(void)
{
	struct dmapipe_msg m;
	uint8_t buf[DMAPIPE_PROTO_MAX_MSG];
	struct fake f;
	int *junk, len;

	fake_start(&f, 64);
	fake_hello(&f);
	junk = open_junk_fds(253);
	m = frame_msg(0, 0, -1);
	len = peer_encode(&m, buf);
	check_int_eq(peer_send(f.conn, buf, (size_t)len, junk, 253), 0);
	close_fds(junk, 253);
	fake_expect(&f, DMAPIPE_ERR_PROTOCOL, "FRAME with 253 fds attached (MSG_CTRUNC)");

	fake_start(&f, 64);
	fake_hello(&f);
	memset(buf, 0xff, 64);
	check_int_eq(peer_send(f.conn, buf, 64, NULL, 0), 0);
	fake_expect(&f, DMAPIPE_ERR_PROTOCOL, "64 bytes of 0xff");

	fake_start(&f, 64);
	fake_hello_version(&f, 3, 2);
	fake_expect(&f, DMAPIPE_ERR_VERSION, "producer HELLO speaking versions 2..3");

	fake_start(&f, 64);
	m = frame_msg(0, 0, -1);
	fake_send(&f, &m);
	fake_expect(&f, DMAPIPE_ERR_PROTOCOL, "FRAME before the producer's HELLO");

	fake_start(&f, 64);
	m = peer_hello(DMAPIPE_ROLE_CONSUMER, 1, 1);
	fake_send(&f, &m);
	fake_expect(&f, DMAPIPE_ERR_PROTOCOL, "answer HELLO with role consumer");
}

/* A producer running as another uid squats on the socket. */
static void fake_foreign_uid(void)
{
	struct dmapipe_client_options o;
	struct dmapipe_client *c;
	char path[64];
	int ready[2], status, fds_before = test_count_fds();
	pid_t pid;
	char ch;

	if (geteuid() != 0) {
		printf("   (not run: a producer with another uid needs root)\n");
		return;
	}
	snprintf(path, sizeof(path), "@dmapipe-hostile-squat-%d", (int)getpid());
	check(pipe2(ready, O_CLOEXEC) == 0);
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(TEST_SKIP);
		fake_listen(path); /* SO_PEERCRED reports who called listen() */
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (read(ready[0], &ch, 1) != 1) {
		close(ready[0]);
		waitpid(pid, &status, 0);
		check_msg(WIFEXITED(status) && WEXITSTATUS(status) == TEST_SKIP,
			  "squatter failed: %#x", status);
		printf("   (not run: cannot switch to uid %d here)\n", NOBODY);
		return;
	}
	close(ready[0]);

	dmapipe_client_options_init(&o);
	o.path = path;
	c = dmapipe_client_new(&o);
	check_msg(!c, "the client accepted a producer running as uid %d", NOBODY);
	check_msg(errno == EACCES, "client: %s, expected EACCES", strerror(errno));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	check_int_eq(test_count_fds(), fds_before);
	scenario_ok("consumer", "a producer running as uid 65534 (policy: same uid)",
		    "dmapipe_client_new fails with EACCES");
}

/* A producer newer than this library: an error code it does not know, reported by number. */
static void fake_unknown_error(void)
{
	struct dmapipe_msg m;
	const char *message = NULL;
	struct fake f;
	char result[160];

	fake_start(&f, 64);
	fake_hello(&f);
	capture_start(DMAPIPE_LOG_ERROR);
	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_ERROR;
	m.error.code = 99;
	strcpy(m.error.message, "a reason this library has no name for");
	fake_send(&f, &m);
	for (uint64_t deadline = test_now_ms() + WAIT_MS;
	     dmapipe_client_get_state(f.client) == DMAPIPE_CLIENT_STREAMING ||
	     dmapipe_client_get_state(f.client) == DMAPIPE_CLIENT_CONNECTING;)
		check_msg(test_now_ms() < deadline && dmapipe_client_dispatch(f.client, 10) >= 0,
			  "the client ignored ERROR 99");
	check_int_eq(dmapipe_client_get_state(f.client), DMAPIPE_CLIENT_ERROR);
	check_int_eq(dmapipe_client_get_error(f.client, &message), 99);
	check_int_eq(captured_count("unknown error 99: a reason this library has no name for"), 1);
	capture_stop();
	/* the text belongs to the client */
	snprintf(result, sizeof(result), "state error, code 99, logged as \"unknown error 99: %s\"",
		 message);
	dmapipe_client_free(f.client);
	close(f.conn);
	close(f.listen_fd);
	check_int_eq(test_count_fds(), f.fds_before);
	scenario_ok("consumer", "ERROR with code 99 (a newer producer's)", result);
}

/* A producer that goes on after EOS (PROTOCOL.md: no FRAME follows an EOS). */
static void fake_frame_after_eos(void)
{
	struct dmapipe_msg m;
	struct fake f;

	fake_start(&f, 64);
	fake_hello(&f);
	fake_add_good_buffer(&f, 0);
	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_EOS;
	m.eos_last_sequence = 41;
	fake_send(&f, &m);
	m = frame_msg(0, 42, -1);
	fake_send(&f, &m);
	fake_expect(&f, DMAPIPE_ERR_PROTOCOL, "FRAME after EOS");
}

/* Takes the next frame, which must be @sequence on buffer @id. */
static struct dmapipe_frame *fake_take(struct fake *f, uint32_t id, uint64_t sequence)
{
	struct dmapipe_frame *fr = dmapipe_client_wait_frame(f->client, WAIT_MS);

	check_msg(fr, "frame %llu: %s", (unsigned long long)sequence, strerror(errno));
	check_int_eq(fr->buffer_id, id);
	check_int_eq(fr->meta.sequence, sequence);
	return fr;
}

/* Releases @fr, whose RELEASE must reach the producer. */
static void fake_give_back(struct fake *f, struct dmapipe_frame *fr)
{
	uint32_t id = fr->buffer_id;
	uint64_t sequence = fr->meta.sequence;
	struct dmapipe_msg m;

	check_int_eq(dmapipe_client_release_frame(f->client, fr, -1), 0);
	check_int_eq(fake_recv(f, &m, WAIT_MS), 0);
	check_int_eq(m.type, DMAPIPE_MSG_RELEASE);
	check_int_eq(m.release.buffer_id, id);
	check_int_eq(m.release.sequence, sequence);
}

/*
 * The consumer counts the frames of its connection in flight and the
 * buffer ids they hold (issue #17, item 3), and every way a frame leaves
 * must keep both right: a release frees its room and its id; a frame
 * still held keeps its id even when its buffer is removed and added
 * again; frames of a lost connection the application still holds count
 * no more, and their late release takes nothing from the new count.
 * Each step ends in a frame that must be refused if a count went wrong
 * either way.
 */
static void fake_in_flight_count(void)
{
	struct dmapipe_frame *fr[2], *old[2];
	struct dmapipe_msg m;
	struct fake f;
	int ret;

	fake_start(&f, 64);
	fake_hello(&f);
	for (uint32_t i = 0; i < 3; i++)
		fake_add_good_buffer(&f, i);
	/* rounds of two frames, the limit, each given back before the next */
	for (uint64_t seq = 0; seq < 6; seq += 2) {
		for (uint64_t k = 0; k < 2; k++) {
			m = frame_msg((uint32_t)((seq + k) % 3), seq + k, -1);
			fake_send(&f, &m);
		}
		for (uint64_t k = 0; k < 2; k++)
			fr[k] = fake_take(&f, (uint32_t)((seq + k) % 3), seq + k);
		fake_give_back(&f, fr[1]);
		fake_give_back(&f, fr[0]);
	}
	/* buffer 0 stays held while it is removed and added again */
	m = frame_msg(0, 6, -1);
	fake_send(&f, &m);
	fr[0] = fake_take(&f, 0, 6);
	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_REMOVE_BUFFER;
	m.remove_buffer_id = 0;
	fake_send(&f, &m);
	fake_add_good_buffer(&f, 0);
	m = frame_msg(1, 7, -1);
	fake_send(&f, &m);
	fake_give_back(&f, fake_take(&f, 1, 7));
	check_int_eq(dmapipe_client_get_state(f.client), DMAPIPE_CLIENT_STREAMING);
	m = frame_msg(0, 8, -1);
	fake_send(&f, &m);
	fake_expect(&f, DMAPIPE_ERR_PROTOCOL,
		    "FRAME for a held buffer that was removed and added again meanwhile");
	/* fake_expect() freed the client, and the frame it held with it */

	/* a lost connection: the held frames of the old one count no more */
	fake_reconnect = true;
	fake_start(&f, 64);
	fake_reconnect = false;
	fake_hello(&f);
	for (uint32_t i = 0; i < 2; i++)
		fake_add_good_buffer(&f, i);
	for (uint32_t i = 0; i < 2; i++) {
		m = frame_msg(i, i, -1);
		fake_send(&f, &m);
	}
	for (uint32_t i = 0; i < 2; i++)
		old[i] = fake_take(&f, i, i);
	close(f.conn);
	f.conn = -1;
	{
		uint64_t deadline = test_now_ms() + WAIT_MS;
		struct pollfd pfd = { .fd = f.listen_fd, .events = POLLIN };

		while (poll(&pfd, 1, 0) == 0) {
			check_msg(test_now_ms() < deadline, "the client did not reconnect");
			dmapipe_client_dispatch(f.client, 5);
		}
	}
	f.conn = accept4(f.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	check(f.conn >= 0);
	check_int_eq(fake_recv(&f, &m, WAIT_MS), 0);
	check_int_eq(m.type, DMAPIPE_MSG_HELLO);
	fake_hello(&f);
	for (uint32_t i = 0; i < 2; i++)
		fake_add_good_buffer(&f, i);
	/* the same ids and the whole limit again, with the old frames held */
	for (uint32_t i = 0; i < 2; i++) {
		m = frame_msg(i, 10 + i, -1);
		fake_send(&f, &m);
	}
	for (uint32_t i = 0; i < 2; i++)
		fr[i] = fake_take(&f, i, 10 + i);
	/* released now, the old frames go nowhere and free no room */
	for (uint32_t i = 0; i < 2; i++)
		check_int_eq(dmapipe_client_release_frame(f.client, old[i], -1), 0);
	fake_give_back(&f, fr[0]);
	m = frame_msg(0, 12, -1);
	fake_send(&f, &m);
	fr[0] = fake_take(&f, 0, 12);
	check_int_eq(dmapipe_client_get_state(f.client), DMAPIPE_CLIENT_STREAMING);
	fake_add_good_buffer(&f, 2);
	m = frame_msg(2, 13, -1);
	fake_send(&f, &m);
	/* with reconnect on, the client refuses it with an ERROR and connects again */
	do {
		ret = fake_recv(&f, &m, WAIT_MS);
		if (ret == 0 && m.type != DMAPIPE_MSG_ERROR)
			dmapipe_msg_close_fds(&m);
	} while (ret == 0 && m.type != DMAPIPE_MSG_ERROR);
	check_msg(ret == 0, "a third frame in flight after a reconnect: no ERROR: %s",
		  strerror(-ret));
	check_int_eq(m.error.code, DMAPIPE_ERR_PROTOCOL);
	check_msg(strstr(m.error.message, "in-flight limit"), "ERROR \"%s\"", m.error.message);
	for (uint32_t i = 0; i < 2; i++)
		check_int_eq(dmapipe_client_release_frame(f.client, fr[i], -1), 0);
	dmapipe_client_free(f.client);
	close(f.conn);
	close(f.listen_fd);
	check_int_eq(test_count_fds(), f.fds_before);
	scenario_ok("consumer", "3 frames in flight after a reconnect, the old connection's released",
		    m.error.message);
}

/*
 * Issue #13, item 8: a consumer that maps buffers pre-faults them, which
 * commits a memfd's memory in the consumer: a producer could make it pay
 * for a sparse memfd of any size. max_mapped_bytes bounds it.
 */
static void fake_mapped_bytes(void)
{
	uint64_t size = buffer_size();
	struct dmapipe_msg m;
	struct fake f;
	int fd;

	/* a sealed memfd of 8 GiB, sparse: it costs its sender nothing; its
	 * chroma plane at the far end makes a consumer map all of it */
	fake_start(&f, 64);
	fake_hello(&f);
	fd = memfd_create("sparse", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	check(fd >= 0 && ftruncate(fd, 8ll << 30) == 0);
	check(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
	m = add_buffer_msg(0, fd, DMAPIPE_MEM_MEMFD);
	m.add_buffer.layout.objects[0].size = 8ull << 30;
	m.add_buffer.layout.planes[1].offset = (8ull << 30) - 4096;
	fake_send(&f, &m);
	close(fd);
	fake_expect(&f, DMAPIPE_ERR_FD_QUOTA, "a sparse sealed memfd of 8 GiB (default limit 4 GiB)");

	/* the limit counts every buffer mapped on the connection */
	fake_max_mapped = 3 * size;
	fake_start(&f, 64);
	fake_max_mapped = 0;
	fake_hello(&f);
	for (uint32_t i = 0; i < 4; i++)
		fake_add_good_buffer(&f, i);
	fake_expect(&f, DMAPIPE_ERR_FD_QUOTA, "a 4th buffer past max_mapped_bytes of 3 buffers");
}

static void run_consumer_attacks(void)
{
	fake_sanity();
	fake_release_batching(true);
	fake_release_batching(false);
	fake_bad_fds();
	fake_bad_layouts();
	fake_bad_ids();
	fake_bad_fence();
	fake_fd_quota();
	fake_floods_and_garbage();
	fake_foreign_uid();
	fake_unknown_error();
	fake_frame_after_eos();
	fake_mapped_bytes();
	fake_in_flight_count();
}

/* ---- the producer in this process (under the sanitizers' eyes) ------------ */

static unsigned int n_local;

/* A server in this process on a fresh abstract socket, with @buffers of fmt. */
static struct dmapipe_server *local_server(struct dmapipe_server_options *o, unsigned int buffers)
{
	static char path[64];
	struct dmapipe_server *s;

	snprintf(path, sizeof(path), "@dmapipe-hostile-local-%d-%u", (int)getpid(), n_local++);
	o->path = path;
	s = dmapipe_server_new(o);
	check_msg(s, "local server: %s", strerror(errno));
	if (buffers)
		check_int_eq(dmapipe_server_alloc_buffers(s, NULL, &fmt, buffers), 0);
	return s;
}

/* A raw connection to @s that said @hello; dispatches @s until it is answered (*@reply). */
static int local_hello(struct dmapipe_server *s, const char *path, const struct dmapipe_msg *hello,
		       struct dmapipe_msg *reply)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;
	int fd = peer_connect(path, SOCK_SEQPACKET, true);

	check(fd >= 0);
	check_int_eq(peer_send_msg(fd, hello, NULL, 0), 0);
	for (;;) {
		const char *why = NULL;
		int ret;

		check(dmapipe_server_dispatch(s, 2) >= 0);
		ret = dmapipe_recv_msg(fd, reply, NULL, &why);
		if (ret == 0 && (reply->type == DMAPIPE_MSG_HELLO || reply->type == DMAPIPE_MSG_ERROR))
			return fd;
		if (ret == 0)
			dmapipe_msg_close_fds(reply);
		else
			check_msg(ret == -EAGAIN, "handshake: %s", strerror(-ret));
		check_msg(test_now_ms() < deadline, "no answer to HELLO");
	}
}

/* A raw connection to @s that said HELLO as @role, answered (*@reply). */
static int local_handshake(struct dmapipe_server *s, const char *path, uint32_t role,
			   struct dmapipe_msg *reply)
{
	struct dmapipe_msg m = peer_hello(role, DMAPIPE_PROTO_VERSION, 1);

	return local_hello(s, path, &m, reply);
}

/* Bytes waiting to be read on @fd (SIOCINQ: every queued datagram, for SEQPACKET). */
static int queued_bytes(int fd)
{
	int n = 0;

	check(ioctl(fd, SIOCINQ, &n) == 0);
	return n;
}

/*
 * Issue #13, item 1: a consumer stopped reading while control messages
 * were queued for it, then went away; the end of the stream flushes it,
 * the flush finds the connection gone and closes it in the middle of the
 * loop that sends EOS to every consumer, which then used it. Two such
 * consumers, so that the loop goes on past a closed one. In this process,
 * so that the sanitizer build sees the server's memory.
 */
static void attack_eos_after_queued_control(void)
{
	struct dmapipe_server_options o;
	struct dmapipe_server_stats st;
	struct dmapipe_server *s;
	struct dmapipe_msg m;
	int fds[2], before[2], rounds = 0;
	char result[96];

	dmapipe_server_options_init(&o);
	o.max_buffers = 8;
	s = local_server(&o, 8);
	for (int i = 0; i < 2; i++) {
		fds[i] = local_handshake(s, o.path, DMAPIPE_ROLE_CONSUMER, &m);
		check_int_eq(m.type, DMAPIPE_MSG_HELLO);
	}
	/* Each new set of buffers is broadcast (REMOVE_BUFFER, FORMAT,
	 * ADD_BUFFER): once a socket stops taking them, the rest wait in the
	 * producer, as control messages are never dropped. */
	for (;;) {
		for (int i = 0; i < 2; i++)
			before[i] = queued_bytes(fds[i]);
		check_int_eq(dmapipe_server_alloc_buffers(s, NULL, &fmt, 8), 0);
		rounds++;
		if (queued_bytes(fds[0]) == before[0] && queued_bytes(fds[1]) == before[1])
			break;
		check_msg(rounds < 200, "the consumers' sockets never filled up");
	}
	check_int_eq(dmapipe_server_get_consumer_stats(s, NULL, 0), 2);
	/* gone, and the producer has not noticed yet (no dispatch) */
	close(fds[0]);
	close(fds[1]);
	check_int_eq(dmapipe_server_end_of_stream(s), 0);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.consumers, 0);
	check_int_eq(dmapipe_server_dispatch(s, 0) >= 0, 1);
	dmapipe_server_free(s);
	snprintf(result, sizeof(result), "both closed in the EOS loop (sockets full after %d "
		 "rounds of buffers), no use after free", rounds);
	scenario_ok("producer", "EOS to consumers that hung up with control messages queued", result);
}

/* Waits for the next FRAME on a raw consumer socket of the local server @s. */
static struct dmapipe_msg_frame local_frame(struct dmapipe_server *s, int fd)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;

	for (;;) {
		struct dmapipe_msg m;
		const char *why = NULL;
		int ret = dmapipe_recv_msg(fd, &m, NULL, &why);

		if (ret == 0 && m.type == DMAPIPE_MSG_FRAME)
			return m.frame;
		if (ret == 0) {
			check_msg(m.type != DMAPIPE_MSG_ERROR, "ERROR %u: %s", m.error.code,
				  m.error.message);
			dmapipe_msg_close_fds(&m);
			continue;
		}
		check_msg(ret == -EAGAIN, "waiting for a frame: %s", strerror(-ret));
		check_msg(test_now_ms() < deadline, "no frame");
		check(dmapipe_server_dispatch(s, 5) >= 0);
	}
}

struct stall {
	int fds[2];
	struct dmapipe_msg_frame held[2];
	unsigned int calls;
	uint64_t sleep_ms;
};

/*
 * The application's idle callback takes longer than the lease timeout
 * (a device that was slow to take its buffer back), and meanwhile both
 * consumers hand their other frame back. The server is inside dispatch,
 * past the epoll_wait() that would have reported those releases.
 */
static void slow_idle(struct dmapipe_server *server, struct dmapipe_buffer *buffer, void *data)
{
	struct stall *st = data;

	(void)server;
	(void)buffer;
	if (st->calls++ > 0)
		return;
	for (int i = 0; i < 2; i++) {
		struct dmapipe_msg m = peer_release(st->held[i].buffer_id, st->held[i].meta.sequence, -1);

		check_int_eq(peer_send_msg(st->fds[i], &m, NULL, 0), 0);
	}
	usleep((useconds_t)st->sleep_ms * 1000);
}

/*
 * Issue #13, item 2, the second half: once a stall passes the lease
 * timeout, consumers that released during it were cut off, because the
 * deadlines were checked before their releases were read.
 */
static void attack_release_during_stall(void)
{
	struct dmapipe_server_options o;
	struct dmapipe_server_stats stats;
	struct dmapipe_allocator *alloc;
	struct dmapipe_buffer *b[2];
	struct dmapipe_server *s;
	struct dmapipe_frame_meta meta;
	struct dmapipe_msg_frame first[2];
	struct stall st = { .sleep_ms = 400 };
	char result[128];

	dmapipe_server_options_init(&o);
	o.lease_timeout_ms = 200;
	s = local_server(&o, 0);
	alloc = dmapipe_allocator_new_default();
	check(alloc);
	for (int i = 0; i < 2; i++) {
		b[i] = dmapipe_allocator_alloc(alloc, &fmt);
		check(b[i]);
		check(dmapipe_server_add_buffer(s, b[i]) >= 0);
	}
	dmapipe_server_set_idle_callback(s, slow_idle, &st);
	for (int i = 0; i < 2; i++) {
		struct dmapipe_msg m;

		st.fds[i] = local_handshake(s, o.path, DMAPIPE_ROLE_CONSUMER, &m);
		check_int_eq(m.type, DMAPIPE_MSG_HELLO);
	}
	for (int k = 0; k < 2; k++) {
		dmapipe_frame_meta_init(&meta);
		meta.sequence = (uint64_t)k;
		check_int_eq(dmapipe_server_queue(s, dmapipe_buffer_ref(b[k]), &meta), 2);
	}
	for (int i = 0; i < 2; i++) {
		first[i] = local_frame(s, st.fds[i]);
		st.held[i] = local_frame(s, st.fds[i]);
	}
	/* both hand frame 0 back: buffer 0 goes idle, and the callback stalls */
	for (int i = 0; i < 2; i++) {
		struct dmapipe_msg m = peer_release(first[i].buffer_id, first[i].meta.sequence, -1);

		check_int_eq(peer_send_msg(st.fds[i], &m, NULL, 0), 0);
	}
	while (st.calls == 0)
		check(dmapipe_server_dispatch(s, 5) >= 0);
	for (int i = 0; i < 10; i++)
		check(dmapipe_server_dispatch(s, 5) >= 0);
	dmapipe_server_get_stats(s, &stats);
	check_msg(stats.lease_timeouts == 0 && stats.consumers == 2,
		  "%llu lease timeouts, %u consumers left: releases made during the stall were "
		  "not counted", (unsigned long long)stats.lease_timeouts, stats.consumers);
	snprintf(result, sizeof(result), "both kept: their releases were read before the "
		 "deadline (stall %llu ms, lease timeout %u ms)", (unsigned long long)st.sleep_ms,
		 o.lease_timeout_ms);
	for (int i = 0; i < 2; i++)
		close(st.fds[i]);
	dmapipe_server_free(s);
	for (int i = 0; i < 2; i++)
		dmapipe_buffer_unref(b[i]);
	dmapipe_allocator_unref(alloc);
	scenario_ok("producer", "two consumers release while the producer stalls past the lease "
		    "timeout", result);
}

/*
 * Rate-limited logging: a budget of lines per interval per call site,
 * the rest counted and reported when the next interval starts.
 */
static void check_ratelimit(void)
{
	struct dmapipe_ratelimit rl = { .interval_ns = 100 * 1000000ull, .burst = 3 };
	unsigned int allowed = 0;
	char result[128];

	capture_start(DMAPIPE_LOG_WARNING);
	for (int i = 0; i < 50; i++)
		allowed += dmapipe_ratelimit_allow(&rl, DMAPIPE_LOG_WARNING, "test");
	check_int_eq(allowed, 3);
	/* a line the priority filters out uses no budget and is not counted */
	check(!dmapipe_ratelimit_allow(&rl, DMAPIPE_LOG_DEBUG, "test"));
	usleep(120 * 1000);
	check(dmapipe_ratelimit_allow(&rl, DMAPIPE_LOG_WARNING, "test"));
	check_int_eq(captured_count("... 47 similar messages suppressed (test)"), 1);
	capture_stop();
	snprintf(result, sizeof(result), "3 of 50 lines in 100 ms written, then \"... 47 similar "
		 "messages suppressed\"");
	scenario_ok("library", "a log site that fires 50 times with a budget of 3", result);
}

/* 100 peers that each send garbage: the producer writes a few lines, not 100. */
static void attack_log_flood(void)
{
	struct dmapipe_server_options o;
	struct dmapipe_server *s;
	unsigned int lines;
	char result[128];

	dmapipe_server_options_init(&o);
	s = local_server(&o, 4);
	capture_start(DMAPIPE_LOG_WARNING);
	for (int i = 0; i < 100; i++) {
		struct sockaddr_un addr;
		socklen_t len;
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

		check(fd >= 0);
		check_int_eq(dmapipe_socket_addr(o.path, &addr, &len), 0);
		check_int_eq(connect(fd, (struct sockaddr *)&addr, len), 0);
		check_int_eq(peer_send(fd, "garbage!", 8, NULL, 0), 0);
		for (int k = 0; k < 3; k++)
			check(dmapipe_server_dispatch(s, 1) >= 0);
		close(fd);
	}
	for (int k = 0; k < 10; k++)
		check(dmapipe_server_dispatch(s, 1) >= 0);
	lines = captured_count("consumer ");
	capture_stop();
	dmapipe_server_free(s);
	check_msg(lines > 0 && lines <= DMAPIPE_RATELIMIT_BURST, "%u lines for 100 garbage peers",
		  lines);
	snprintf(result, sizeof(result), "%u log lines (budget %u per %u ms)", lines,
		 DMAPIPE_RATELIMIT_BURST, DMAPIPE_RATELIMIT_INTERVAL_MS);
	scenario_ok("producer", "100 peers sending garbage, one after the other", result);
}

/* Dispatches @s for @ms. */
static void local_dispatch(struct dmapipe_server *s, unsigned int ms)
{
	uint64_t end = test_now_ms() + ms;

	while (test_now_ms() < end)
		check(dmapipe_server_dispatch(s, 2) >= 0);
}

/* What a raw connection received from a local server. */
struct seen {
	unsigned int stats, frames;
	struct dmapipe_msg_frame last; /* the last FRAME (its fence closed) */
	uint32_t error;                /* the code of an ERROR, 0 if none came */
	char message[DMAPIPE_PROTO_ERROR_LEN];
};

/*
 * Reads what the producer sends on a raw connection, dispatching @s,
 * until it ends the connection or @ms pass.
 */
static void local_read(struct dmapipe_server *s, int fd, unsigned int ms, struct seen *seen)
{
	uint64_t end = test_now_ms() + ms;

	memset(seen, 0, sizeof(*seen));
	while (test_now_ms() < end) {
		struct dmapipe_msg m;
		const char *why = NULL;
		int ret = dmapipe_recv_msg(fd, &m, NULL, &why);

		if (ret == -EAGAIN) {
			check(dmapipe_server_dispatch(s, 2) >= 0);
			continue;
		}
		if (ret < 0)
			break;
		if (m.type == DMAPIPE_MSG_STATS)
			seen->stats++;
		if (m.type == DMAPIPE_MSG_FRAME) {
			seen->frames++;
			seen->last = m.frame;
		}
		if (m.type == DMAPIPE_MSG_ERROR) {
			seen->error = m.error.code;
			dmapipe_strlcpy(seen->message, m.error.message, sizeof(seen->message));
		}
		dmapipe_msg_close_fds(&m);
	}
}

/* local_read(): the number of STATS replies, and the ERROR's code (0: none) and text. */
static unsigned int local_drain(struct dmapipe_server *s, int fd, unsigned int ms, uint32_t *error,
				char *message, size_t size)
{
	struct seen seen;

	local_read(s, fd, ms, &seen);
	*error = seen.error;
	if (message)
		dmapipe_strlcpy(message, seen.message, size);
	return seen.stats;
}

/*
 * Issue #13, item 4: connections that have not said HELLO yet (or were
 * refused) counted against max_consumers, so silent ones locked honest
 * consumers out. They have their own limit now, and the oldest goes.
 */
static void attack_handshake_slots(void)
{
	struct dmapipe_server_options o;
	struct dmapipe_server_stats st;
	struct dmapipe_server *s;
	struct dmapipe_msg m;
	char message[DMAPIPE_PROTO_ERROR_LEN], result[320];
	int silent[6], fd;
	uint32_t code;

	dmapipe_server_options_init(&o);
	o.max_consumers = 1;
	o.max_handshakes = 4;
	o.handshake_timeout_ms = 60000;
	s = local_server(&o, 4);
	for (int i = 0; i < 6; i++) {
		silent[i] = peer_connect(o.path, SOCK_SEQPACKET, true);
		check(silent[i] >= 0);
		local_dispatch(s, 5);
	}
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.handshakes, 4);
	check_int_eq(st.handshakes_dropped, 2);
	/* the oldest two were dropped, with the reason */
	check_int_eq(local_drain(s, silent[0], 200, &code, message, sizeof(message)), 0);
	check_int_eq(code, DMAPIPE_ERR_TOO_MANY);
	check(strstr(message, "handshake"));
	/* silent ones do not take the only consumer slot */
	fd = local_handshake(s, o.path, DMAPIPE_ROLE_CONSUMER, &m);
	check_msg(m.type == DMAPIPE_MSG_HELLO, "a consumer behind 4 silent connections got ERROR %u: %s",
		  m.error.code, m.error.message);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.consumers, 1);
	close(fd);
	for (int i = 0; i < 6; i++)
		close(silent[i]);
	local_dispatch(s, 20);

	/* A HELLO that came before a flood of silent connections is answered,
	 * not pushed out: all of them arrive before the producer looks. */
	fd = peer_connect(o.path, SOCK_SEQPACKET, true);
	check(fd >= 0);
	m = peer_hello(DMAPIPE_ROLE_CONSUMER, DMAPIPE_PROTO_VERSION, 1);
	check_int_eq(peer_send_msg(fd, &m, NULL, 0), 0);
	for (int i = 0; i < 6; i++)
		silent[i] = peer_connect(o.path, SOCK_SEQPACKET, true);
	local_dispatch(s, 20);
	check_int_eq(local_drain(s, fd, 50, &code, NULL, 0), 0);
	check_msg(code == 0, "the consumer that said HELLO first was dropped (ERROR %u)", code);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.consumers, 1);
	snprintf(result, sizeof(result), "4 kept, the 2 oldest dropped (\"%s\"); a consumer still "
		 "gets the only consumer slot, even one whose HELLO came just before 6 more", message);
	close(fd);
	for (int i = 0; i < 6; i++)
		close(silent[i]);
	dmapipe_server_free(s);
	scenario_ok("producer", "6 silent connections, max_handshakes 4, max_consumers 1", result);
}

/* Peers the uid policy refuses wait in the handshake slots, not in the consumers'. */
static void attack_refused_slots(void)
{
	struct dmapipe_server_options o;
	struct dmapipe_server_stats st;
	struct dmapipe_server *s;
	struct dmapipe_msg m;
	unsigned int n = 5;
	char result[160];
	pid_t squatter;
	int fd, status;

	if (geteuid() != 0) {
		printf("   (not run: peers of another uid need root)\n");
		return;
	}
	dmapipe_server_options_init(&o);
	o.max_consumers = 1;
	o.handshake_timeout_ms = 60000;
	s = local_server(&o, 4);
	squatter = attacker_spawn(run_silent, o.path, &n, NOBODY);
	for (uint64_t deadline = test_now_ms() + WAIT_MS;;) {
		local_dispatch(s, 10);
		dmapipe_server_get_stats(s, &st);
		if (st.handshakes == n)
			break;
		check_msg(test_now_ms() < deadline, "the squatter's %u connections did not come (%u)",
			  n, st.handshakes);
	}
	fd = local_handshake(s, o.path, DMAPIPE_ROLE_CONSUMER, &m);
	status = attacker_stop(squatter);
	check_msg(WIFSIGNALED(status), "the squatter ended on its own: %#x", status);
	check_msg(m.type == DMAPIPE_MSG_HELLO, "a consumer behind 5 refused peers got ERROR %u: %s",
		  m.error.code, m.error.message);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.consumers, 1);
	check(st.consumers_refused >= n);
	snprintf(result, sizeof(result), "%u refused (uid %d) in handshake slots; the consumer got "
		 "the only consumer slot", n, NOBODY);
	close(fd);
	dmapipe_server_free(s);
	scenario_ok("producer", "5 silent peers of another uid, max_consumers 1", result);
}

/*
 * Issue #13, item 5: monitors had no limit and every unread STATS reply
 * stayed queued in the producer. Now: max_monitors, at most one reply
 * waiting, and a monitor that does not read its reply (or asks nothing)
 * within the handshake timeout is dropped.
 */
static void attack_monitors(void)
{
	struct dmapipe_server_options o;
	struct dmapipe_server_stats st;
	struct dmapipe_server *s;
	struct dmapipe_msg m, req;
	char message[DMAPIPE_PROTO_ERROR_LEN], result[320];
	unsigned int replies, queued;
	int mon[3];
	uint32_t code;

	dmapipe_server_options_init(&o);
	o.max_monitors = 2;
	o.handshake_timeout_ms = 400;
	s = local_server(&o, 4);
	for (int i = 0; i < 3; i++)
		mon[i] = local_handshake(s, o.path, DMAPIPE_ROLE_MONITOR, &m);
	check_int_eq(m.type, DMAPIPE_MSG_ERROR);
	check_int_eq(m.error.code, DMAPIPE_ERR_TOO_MANY);
	close(mon[2]);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.monitors, 2);

	/* monitor 0 asks 2000 times and does not read: one reply waits, no more */
	memset(&req, 0, sizeof(req));
	req.type = DMAPIPE_MSG_STATS_REQUEST;
	for (int i = 0; i < 2000; i++) {
		if (peer_send_msg(mon[0], &req, NULL, 0) < 0)
			break;
		if (i % 50 == 0)
			check(dmapipe_server_dispatch(s, 0) >= 0);
	}
	local_dispatch(s, 20);
	/* monitor 1 asks once and reads its reply in time */
	check_int_eq(peer_send_msg(mon[1], &req, NULL, 0), 0);
	check_int_eq(local_drain(s, mon[1], 100, &code, NULL, 0), 1);
	check_int_eq(code, 0);
	/* what the kernel holds for it now: STATS without consumer records, 128 bytes each */
	queued = (unsigned int)queued_bytes(mon[0]) / 128;
	replies = local_drain(s, mon[0], 100, &code, NULL, 0);
	check_msg(code == 0 && replies >= queued && replies <= queued + 1 && queued < 2000,
		  "2000 requests: %u replies in its socket, %u read in all, error %u", queued,
		  replies, code);
	/* now monitor 0 asks once more and does not read: dropped at the timeout */
	check_int_eq(peer_send_msg(mon[0], &req, NULL, 0), 0);
	check_int_eq(local_drain(s, mon[0], 100, &code, NULL, 0), 1);
	check_int_eq(code, 0);
	check_int_eq(peer_send_msg(mon[0], &req, NULL, 0), 0);
	local_dispatch(s, 600);
	local_drain(s, mon[0], 100, &code, message, sizeof(message));
	check_msg(code == DMAPIPE_ERR_PROTOCOL && strstr(message, "did not read"),
		  "an unread reply: ERROR %u %s", code, message);
	snprintf(result, sizeof(result), "third refused (too-many-consumers); 2000 unread requests: "
		 "%u replies in its socket, %u waiting in the producer; then \"%s\"", queued,
		 replies - queued, message);
	/* monitor 1 says nothing more: dropped as idle */
	local_drain(s, mon[1], 1000, &code, message, sizeof(message));
	check_msg(code == DMAPIPE_ERR_PROTOCOL && strstr(message, "idle"), "an idle monitor: ERROR %u %s",
		  code, message);
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.monitors, 0);
	close(mon[0]);
	close(mon[1]);
	dmapipe_server_free(s);
	scenario_ok("producer", "3 monitors (max 2), one asking 2000 times without reading", result);
	printf("   an idle monitor: \"%s\"\n", message);
}

/* A raw consumer asking for @in_flight with @policy: its fd and the producer's answer. */
static int local_consumer(struct dmapipe_server *s, const char *path, uint32_t policy,
			  uint32_t in_flight, struct dmapipe_msg *reply)
{
	struct dmapipe_msg m = peer_hello(DMAPIPE_ROLE_CONSUMER, DMAPIPE_PROTO_VERSION, 1);

	m.hello.policy = policy;
	m.hello.queue_depth = 2;
	m.hello.max_in_flight = in_flight;
	return local_hello(s, path, &m, reply);
}

/*
 * Issue #13, item 3: the lease budget. The in-flight limits the producer
 * grants (block consumers aside) add up to at most max_buffers less the 2
 * it keeps for itself; a newcomer gets what is left or is refused.
 */
static void attack_lease_budget(void)
{
	struct dmapipe_server_options o;
	struct dmapipe_server *s;
	struct dmapipe_msg m;
	char result[320];
	int fd[5];

	dmapipe_server_options_init(&o);
	o.max_buffers = 8;
	o.max_in_flight = 64;
	s = local_server(&o, 4);
	fd[0] = local_consumer(s, o.path, DMAPIPE_POLICY_LATEST, 4, &m);
	check_int_eq(m.type, DMAPIPE_MSG_HELLO);
	check_int_eq(m.hello.max_in_flight, 4);
	fd[1] = local_consumer(s, o.path, DMAPIPE_POLICY_QUEUE, 4, &m);
	check_int_eq(m.type, DMAPIPE_MSG_HELLO);
	check_int_eq(m.hello.max_in_flight, 2); /* what was left of 6 */
	fd[2] = local_consumer(s, o.path, DMAPIPE_POLICY_LATEST, 1, &m);
	check_int_eq(m.type, DMAPIPE_MSG_ERROR);
	check_int_eq(m.error.code, DMAPIPE_ERR_TOO_MANY);
	check_msg(strstr(m.error.message, "budget"), "refusal: %s", m.error.message);
	snprintf(result, sizeof(result), "granted 4, then 2 (of 6), then refused: \"%s\"",
		 m.error.message);
	/* a block consumer asked to be waited for: not counted */
	fd[3] = local_consumer(s, o.path, DMAPIPE_POLICY_BLOCK, 4, &m);
	check_int_eq(m.type, DMAPIPE_MSG_HELLO);
	check_int_eq(m.hello.max_in_flight, 4);
	/* one leaves: its leases are free for the next */
	close(fd[0]);
	local_dispatch(s, 20);
	fd[4] = local_consumer(s, o.path, DMAPIPE_POLICY_LATEST, 8, &m);
	check_int_eq(m.type, DMAPIPE_MSG_HELLO);
	check_int_eq(m.hello.max_in_flight, 4);
	for (int i = 1; i < 5; i++)
		close(fd[i]);
	dmapipe_server_free(s);

	/* no small cap of its own: a consumer may hold what the budget allows */
	dmapipe_server_options_init(&o);
	o.max_buffers = 200;
	o.max_in_flight = 256;
	s = local_server(&o, 4);
	fd[0] = local_consumer(s, o.path, DMAPIPE_POLICY_LATEST, 150, &m);
	check_int_eq(m.type, DMAPIPE_MSG_HELLO);
	check_int_eq(m.hello.max_in_flight, 150);
	close(fd[0]);
	dmapipe_server_free(s);
	scenario_ok("producer", "consumers asking 4, 4, 1 in flight of max_buffers 8", result);
	printf("   a block consumer was granted 4 beside them; with max_buffers 200, one asking 150 got 150\n");
}

/* local_read(): how many FRAMEs came, and the last one; no ERROR may come. */
static unsigned int local_frames(struct dmapipe_server *s, int fd, unsigned int ms,
				 struct dmapipe_msg_frame *last)
{
	struct seen seen;

	local_read(s, fd, ms, &seen);
	check_msg(seen.error == 0, "ERROR %u: %s", seen.error, seen.message);
	if (last && seen.frames)
		*last = seen.last;
	return seen.frames;
}

/* Queues one frame of the local server's pool (the test pattern). */
static void local_queue(struct dmapipe_server *s, uint64_t sequence)
{
	struct dmapipe_buffer *b = dmapipe_server_dequeue(s);
	struct dmapipe_frame_meta meta;

	check_msg(b, "dequeue: %s", strerror(errno));
	dmapipe_frame_meta_init(&meta);
	meta.sequence = sequence;
	check(dmapipe_server_queue(s, b, &meta) >= 0);
}

/*
 * A release behind a fence that has not signalled still pins its buffer:
 * it counts against the consumer's in-flight limit (it had a budget of
 * 16 of its own).
 */
static void attack_fenced_in_flight(void)
{
	struct dmapipe_server_options o;
	struct dmapipe_msg_frame f[2];
	struct dmapipe_server *s;
	struct test_fence fence;
	struct dmapipe_msg m;
	const char *why = NULL;
	unsigned int after;
	int fd;

	if (test_fence_new(&fence, &why) < 0) {
		printf("   (not run: a fence that does not signal by itself needs %s)\n", why);
		return;
	}
	dmapipe_server_options_init(&o);
	s = local_server(&o, 8);
	fd = local_consumer(s, o.path, DMAPIPE_POLICY_QUEUE, 2, &m);
	check_int_eq(m.hello.max_in_flight, 2);
	for (uint64_t i = 0; i < 2; i++)
		local_queue(s, i);
	check_int_eq(local_frames(s, fd, 50, &f[1]), 2);
	f[0] = f[1];
	f[0].meta.sequence = 0;
	f[0].buffer_id = f[1].buffer_id == 0 ? 1 : 0;
	/* frame 0 back behind a fence that has not signalled */
	m = peer_release(f[0].buffer_id, 0, fence.fd);
	check_int_eq(peer_send_msg(fd, &m, &fence.fd, 1), 0);
	local_queue(s, 2);
	after = local_frames(s, fd, 200, NULL);
	check_msg(after == 0, "%u frames beyond 1 lease + 1 fenced release of 2 in flight", after);
	check_int_eq(test_fence_signal(&fence), 0);
	check_int_eq(local_frames(s, fd, 200, NULL), 1);
	test_fence_finish(&fence);
	close(fd);
	dmapipe_server_free(s);
	scenario_ok("producer", "a release behind an unsignalled fence, 2 in flight",
		    "no third frame until the fence signalled");
}

/*
 * The safety net under the budget: when the pool cannot grow, the
 * consumer holding the oldest lease is cut off (lease-revoked), never a
 * block one. Here the application holds more than the 2 buffers kept
 * for it, which the budget cannot foresee.
 */
static void attack_revoke_oldest(void)
{
	struct dmapipe_server_options o;
	struct dmapipe_server_stats st;
	struct dmapipe_buffer *held[3];
	struct dmapipe_server *s;
	struct dmapipe_msg m;
	char message[DMAPIPE_PROTO_ERROR_LEN], result[320];
	uint32_t code;
	int hoarder, honest;

	dmapipe_server_options_init(&o);
	o.max_buffers = 4;
	s = local_server(&o, 4);
	hoarder = local_consumer(s, o.path, DMAPIPE_POLICY_LATEST, 2, &m);
	check_int_eq(m.hello.max_in_flight, 2);
	local_queue(s, 0);
	local_queue(s, 1);
	check_int_eq(local_frames(s, hoarder, 50, NULL), 2); /* held, never released */
	usleep(20 * 1000);
	honest = local_consumer(s, o.path, DMAPIPE_POLICY_LATEST, 1, &m);
	check_msg(m.type == DMAPIPE_MSG_ERROR && m.error.code == DMAPIPE_ERR_TOO_MANY,
		  "the budget of 2 was spent, yet a consumer was granted %u", m.hello.max_in_flight);
	close(honest);
	/* the application takes the other 2 buffers and one more */
	held[0] = dmapipe_server_dequeue(s);
	held[1] = dmapipe_server_dequeue(s);
	check(held[0] && held[1]);
	held[2] = dmapipe_server_dequeue(s);
	check_msg(held[2], "no buffer for the producer: %s", strerror(errno));
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.leases_revoked, 1);
	local_drain(s, hoarder, 100, &code, message, sizeof(message));
	check_int_eq(code, DMAPIPE_ERR_LEASE_REVOKED);
	snprintf(result, sizeof(result), "ERROR %s \"%s\"", dmapipe_error_code_to_string(code),
		 message);
	close(hoarder);
	for (int i = 0; i < 3; i++)
		dmapipe_buffer_unref(held[i]);

	/* a block consumer is waited for instead */
	hoarder = local_consumer(s, o.path, DMAPIPE_POLICY_BLOCK, 2, &m);
	local_queue(s, 2);
	local_queue(s, 3);
	check_int_eq(local_frames(s, hoarder, 50, NULL), 2);
	held[0] = dmapipe_server_dequeue(s);
	held[1] = dmapipe_server_dequeue(s);
	check(held[0] && held[1]);
	held[2] = dmapipe_server_dequeue(s);
	check_msg(!held[2] && errno == EAGAIN, "a block consumer's leases were taken");
	dmapipe_server_get_stats(s, &st);
	check_int_eq(st.leases_revoked, 1);
	check_int_eq(st.consumers, 1);
	dmapipe_buffer_unref(held[0]);
	dmapipe_buffer_unref(held[1]);
	close(hoarder);
	dmapipe_server_free(s);
	scenario_ok("producer", "the application holds 3 buffers of 4, a consumer the other 2 leases",
		    result);
}

/* pool_budget_bytes: the pool grows within it, and a format that cannot fit is refused. */
static void attack_pool_budget(void)
{
	struct dmapipe_server_options o;
	struct dmapipe_layout l;
	struct dmapipe_server *s;
	struct dmapipe_msg m;
	uint64_t bytes;
	char result[200];
	int fd;

	check_int_eq(dmapipe_layout_init(&l, &fmt, 0), 0);
	bytes = l.objects[0].size;
	dmapipe_server_options_init(&o);
	o.pool_budget_bytes = bytes * 2;
	s = local_server(&o, 0);
	capture_start(DMAPIPE_LOG_ERROR);
	check_int_eq(dmapipe_server_alloc_buffers(s, NULL, &fmt, 1), -ENOSPC);
	check_int_eq(captured_count("over the pool budget"), 1);
	capture_stop();
	dmapipe_server_free(s);

	o.pool_budget_bytes = bytes * 5;
	o.max_in_flight = 8;
	s = local_server(&o, 4);
	fd = local_consumer(s, o.path, DMAPIPE_POLICY_LATEST, 8, &m);
	check_int_eq(m.type, DMAPIPE_MSG_HELLO);
	check_int_eq(m.hello.max_in_flight, 3); /* 5 buffers fit, 2 kept for the producer */
	close(fd);
	dmapipe_server_free(s);
	snprintf(result, sizeof(result), "2 buffers' worth: alloc -ENOSPC; 5 buffers' worth: a "
		 "consumer asking 8 gets 3");
	scenario_ok("producer", "pool_budget_bytes of 2, then 5 buffers of the format", result);
}

/* ---- rings (FEATURE_RINGS, docs/PROTOCOL.md section 14) ------------------- */

/*
 * A raw consumer that announces rings: handshake with @s, then the
 * producer's frames ring, mapped into @fr as an honest consumer would.
 */
static int ring_peer(struct dmapipe_server *s, const char *path, uint32_t policy,
		     uint32_t in_flight, struct dmapipe_ring *fr)
{
	struct dmapipe_msg m = peer_hello(DMAPIPE_ROLE_CONSUMER, DMAPIPE_PROTO_VERSION, 1);
	uint64_t deadline = test_now_ms() + WAIT_MS;
	const char *why = NULL;
	int fd;

	m.hello.features = PEER_FEATURES | DMAPIPE_FEATURE_RINGS;
	m.hello.policy = policy;
	m.hello.queue_depth = 2;
	m.hello.max_in_flight = in_flight;
	fd = local_hello(s, path, &m, &m);
	check_int_eq(m.type, DMAPIPE_MSG_HELLO);
	check_msg(m.hello.features & DMAPIPE_FEATURE_RINGS, "the producer did not agree rings");
	for (;;) {
		int ret = dmapipe_recv_msg(fd, &m, NULL, &why);

		if (ret == 0 && m.type == DMAPIPE_MSG_RING)
			break;
		if (ret == 0)
			dmapipe_msg_close_fds(&m);
		else
			check_msg(ret == -EAGAIN, "waiting for the frames ring: %s", strerror(-ret));
		check_msg(test_now_ms() < deadline, "no frames ring");
		check(dmapipe_server_dispatch(s, 2) >= 0);
	}
	check_int_eq(m.ring.kind, DMAPIPE_RING_MSG_FRAMES);
	check(m.ring.capacity >= in_flight);
	check_int_eq(dmapipe_ring_map(fr, m.ring.fd, DMAPIPE_RING_FRAMES, m.ring.capacity, &why), 0);
	close(m.ring.fd);
	return fd;
}

static void ring_peer_send(int fd, uint32_t kind, uint32_t capacity, int ring_fd)
{
	struct dmapipe_msg m = { .type = DMAPIPE_MSG_RING };

	m.ring.kind = kind;
	m.ring.capacity = capacity;
	m.ring.fd = ring_fd;
	check_int_eq(peer_send_msg(fd, &m, ring_fd >= 0 ? &ring_fd : NULL, ring_fd >= 0), 0);
}

/* Frames the producer wrote into @fr since the last call (up to @max), after dispatching @s. */
static unsigned int ring_peer_frames(struct dmapipe_server *s, struct dmapipe_ring *fr,
				     struct dmapipe_msg_frame *out, unsigned int max)
{
	const char *why = NULL;
	unsigned int got = 0;
	int n;

	check(dmapipe_server_dispatch(s, 0) >= 0);
	n = dmapipe_ring_available(fr, &why);
	check_msg(n >= 0, "the producer broke its own ring: %s", why);
	for (int i = 0; i < n && got < max; i++, got++) {
		struct dmapipe_ring_wire_frame slot;
		uint64_t socket_msgs;

		dmapipe_ring_copy_slot(fr, 0, &slot);
		dmapipe_ring_decode_frame(&slot, &out[got], &socket_msgs);
		dmapipe_ring_consume(fr, 1);
	}
	return got;
}

/* Dispatches @s until @fd gets an ERROR; checks its code. Returns the message. */
static const char *local_expect_error(struct dmapipe_server *s, int fd,
				      enum dmapipe_error_code want, const char *what)
{
	static char message[DMAPIPE_PROTO_ERROR_LEN + 40];
	uint64_t deadline = test_now_ms() + WAIT_MS;

	for (;;) {
		struct dmapipe_msg m;
		const char *why = NULL;
		int ret;

		check(dmapipe_server_dispatch(s, 2) >= 0);
		ret = dmapipe_recv_msg(fd, &m, NULL, &why);
		if (ret == 0 && m.type == DMAPIPE_MSG_ERROR) {
			check_msg(m.error.code == want, "%s: %s (%s), expected %s", what,
				  dmapipe_error_code_to_string(m.error.code), m.error.message,
				  dmapipe_error_code_to_string(want));
			snprintf(message, sizeof(message), "%s \"%s\"",
				 dmapipe_error_code_to_string(m.error.code), m.error.message);
			return message;
		}
		if (ret == 0)
			dmapipe_msg_close_fds(&m);
		else
			check_msg(ret == -EAGAIN, "%s: connection ended without ERROR: %s", what,
				  strerror(-ret));
		check_msg(test_now_ms() < deadline, "%s: accepted", what);
	}
}

/* A memfd of @size with @seals and a releases ring header of @capacity. */
static int hostile_ring_memfd(size_t size, int seals, uint32_t capacity)
{
	struct dmapipe_ring_wire_header h = { .magic = DMAPIPE_RING_MAGIC, .version = 1,
		.kind = DMAPIPE_RING_RELEASES, .slot_size = 16, .capacity = capacity };
	int fd = memfd_create("hostile-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	check(fd >= 0);
	check(ftruncate(fd, (off_t)size) == 0);
	check(pwrite(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h));
	if (seals)
		check(fcntl(fd, F_ADD_SEALS, seals) == 0);
	return fd;
}

/* The consumer's releases ring is refused before the producer maps it. */
static void attack_ring_bad_fds(void)
{
	const int all = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;
	size_t bytes = dmapipe_ring_bytes(DMAPIPE_RING_RELEASES, 2);
	struct {
		const char *what;
		int kind; /* 0 pipe, 1 memfd */
		size_t size;
		int seals;
		uint32_t header_capacity;
		enum dmapipe_error_code want;
	} cases[] = {
		{ "releases ring: a pipe", 0, 0, 0, 2, DMAPIPE_ERR_BAD_FD },
		{ "releases ring: an unsealed memfd", 1, bytes, 0, 2, DMAPIPE_ERR_BAD_FD },
		{ "releases ring: a memfd writable by others (no F_SEAL_FUTURE_WRITE)", 1, bytes,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, 2, DMAPIPE_ERR_BAD_FD },
		{ "releases ring: truncated", 1, 4096 > bytes ? 128 : bytes / 2, all, 2,
		  DMAPIPE_ERR_BAD_FD },
		{ "releases ring: larger than announced", 1, bytes * 16, all, 2, DMAPIPE_ERR_BAD_FD },
		{ "releases ring: header says another capacity", 1, bytes, all, 4,
		  DMAPIPE_ERR_PROTOCOL },
	};
	struct dmapipe_server_options o;
	struct dmapipe_server *s;

	dmapipe_server_options_init(&o);
	s = local_server(&o, 4);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct dmapipe_ring fr;
		int fd = ring_peer(s, o.path, DMAPIPE_POLICY_LATEST, 2, &fr);
		int p[2] = { -1, -1 }, rfd;

		if (cases[i].kind == 0) {
			check(pipe2(p, O_CLOEXEC) == 0);
			rfd = p[0];
		} else {
			rfd = hostile_ring_memfd(cases[i].size, cases[i].seals,
						 cases[i].header_capacity);
		}
		ring_peer_send(fd, DMAPIPE_RING_MSG_RELEASES, 2, rfd);
		scenario_ok("producer", cases[i].what,
			    local_expect_error(s, fd, cases[i].want, cases[i].what));
		close(rfd);
		if (p[1] >= 0)
			close(p[1]);
		close(fd);
		dmapipe_ring_finish(&fr);
	}
	dmapipe_server_free(s);
}

enum ring_scribble {
	SCRIBBLE_PAST_END,
	SCRIBBLE_BACKWARDS,
	SCRIBBLE_PADDING,
	SCRIBBLE_NOT_HELD,
	SCRIBBLE_TWICE,
	SCRIBBLE_MORE_THAN_LEASES,
	SCRIBBLE_SECOND_RING,
	SCRIBBLE_FRAMES_RING,
};

/*
 * A consumer with a valid releases ring that then breaks the rules in
 * it: cut off with ERROR protocol, while an honest consumer of the same
 * producer (the library's client, with rings) keeps getting every frame.
 */
static void attack_ring_scribble(enum ring_scribble how, const char *what)
{
	struct dmapipe_server_options o;
	struct dmapipe_client_options co;
	struct dmapipe_msg_frame f[4];
	struct dmapipe_ring fr, rr;
	struct dmapipe_server *s;
	struct dmapipe_client *honest;
	struct dmapipe_ring_wire_header *h;
	const char *result;
	int fd;

	dmapipe_server_options_init(&o);
	o.max_in_flight = 2;
	s = local_server(&o, 8);
	dmapipe_client_options_init(&co);
	co.path = o.path;
	co.policy = DMAPIPE_POLICY_QUEUE;
	co.max_in_flight = 2;
	honest = dmapipe_client_new(&co);
	check(honest);
	fd = ring_peer(s, o.path, DMAPIPE_POLICY_LATEST, 2, &fr);
	check_int_eq(dmapipe_ring_create(&rr, DMAPIPE_RING_RELEASES, fr.capacity), 0);
	ring_peer_send(fd, DMAPIPE_RING_MSG_RELEASES, rr.capacity, rr.fd);
	for (int i = 0; i < 20; i++) {
		check(dmapipe_server_dispatch(s, 1) >= 0);
		dmapipe_client_dispatch(honest, 1);
	}
	local_queue(s, 1);
	local_queue(s, 2);
	check_int_eq(ring_peer_frames(s, &fr, f, 4), 2);
	h = (struct dmapipe_ring_wire_header *)rr.map;

	switch (how) {
	case SCRIBBLE_PAST_END:
		__atomic_store_n(&h->head, (uint64_t)rr.capacity + 1, __ATOMIC_RELEASE);
		break;
	case SCRIBBLE_BACKWARDS:
		dmapipe_ring_encode_release(dmapipe_ring_next_slot(&rr, 0), f[0].buffer_id,
					    f[0].meta.sequence);
		dmapipe_ring_publish(&rr, 1);
		check(dmapipe_server_dispatch(s, 2) >= 0);
		__atomic_store_n(&h->head, UINT64_MAX, __ATOMIC_RELEASE);
		break;
	case SCRIBBLE_PADDING: {
		struct dmapipe_ring_wire_release *slot = dmapipe_ring_next_slot(&rr, 0);

		dmapipe_ring_encode_release(slot, f[0].buffer_id, f[0].meta.sequence);
		slot->pad0 = 1;
		dmapipe_ring_publish(&rr, 1);
		break;
	}
	case SCRIBBLE_NOT_HELD:
		dmapipe_ring_encode_release(dmapipe_ring_next_slot(&rr, 0), f[0].buffer_id,
					    f[0].meta.sequence + 100);
		dmapipe_ring_publish(&rr, 1);
		break;
	case SCRIBBLE_TWICE:
		dmapipe_ring_encode_release(dmapipe_ring_next_slot(&rr, 0), f[0].buffer_id,
					    f[0].meta.sequence);
		dmapipe_ring_encode_release(dmapipe_ring_next_slot(&rr, 1), f[0].buffer_id,
					    f[0].meta.sequence);
		dmapipe_ring_publish(&rr, 2);
		break;
	case SCRIBBLE_MORE_THAN_LEASES:
		for (uint32_t k = 0; k < 2; k++)
			dmapipe_ring_encode_release(dmapipe_ring_next_slot(&rr, k), f[k].buffer_id,
						    f[k].meta.sequence);
		dmapipe_ring_encode_release(dmapipe_ring_next_slot(&rr, 2), f[0].buffer_id, 999);
		dmapipe_ring_publish(&rr, 3);
		break;
	case SCRIBBLE_SECOND_RING:
		ring_peer_send(fd, DMAPIPE_RING_MSG_RELEASES, rr.capacity, rr.fd);
		break;
	case SCRIBBLE_FRAMES_RING:
		ring_peer_send(fd, DMAPIPE_RING_MSG_FRAMES, rr.capacity, rr.fd);
		break;
	}
	/* the producer collects releases at its next dequeue */
	local_queue(s, 3);
	result = local_expect_error(s, fd, DMAPIPE_ERR_PROTOCOL, what);
	/* the honest consumer goes on */
	for (uint64_t seq = 4; seq < 24; seq++) {
		struct dmapipe_frame *fr2;

		local_queue(s, seq);
		for (int i = 0; i < 1000 && !(fr2 = dmapipe_client_acquire_frame(honest)); i++) {
			check(dmapipe_server_dispatch(s, 1) >= 0);
			dmapipe_client_dispatch(honest, 1);
		}
		check_msg(fr2, "%s: the honest consumer starves", what);
		check_int_eq(dmapipe_client_release_frame(honest, fr2, -1), 0);
	}
	scenario_ok("producer", what, result);
	close(fd);
	dmapipe_ring_finish(&rr);
	dmapipe_ring_finish(&fr);
	dmapipe_client_free(honest);
	dmapipe_server_free(s);
}

/*
 * A consumer that never reads its frames ring, then one that sleeps
 * (flag up) and never reads its socket, where the wake-ups go: the
 * producer never waits for either; the first one's policy drops what it
 * cannot take and its lease timeout ends it; the second gets frames as
 * long as it releases them, through its ring, whatever its socket holds.
 */
static void attack_ring_never_reads(void)
{
	struct dmapipe_server_options o;
	struct dmapipe_consumer_stats cs[2];
	struct dmapipe_msg_frame f[4];
	struct dmapipe_ring fr, rr;
	struct dmapipe_server *s;
	uint64_t t0, longest = 0;
	char result[200];
	int fd;

	dmapipe_server_options_init(&o);
	o.lease_timeout_ms = 300;
	s = local_server(&o, 8);
	fd = ring_peer(s, o.path, DMAPIPE_POLICY_LATEST, 2, &fr);
	for (uint64_t seq = 0; seq < 50; seq++) {
		t0 = test_now_ms();
		local_queue(s, seq);
		longest = MAX(longest, test_now_ms() - t0);
	}
	check_int_eq(dmapipe_server_get_consumer_stats(s, cs, 2), 1);
	check_int_eq(cs[0].frames_sent, 2);
	check_int_eq(cs[0].leases_held, 2);
	check(cs[0].frames_dropped >= 47);
	snprintf(result, sizeof(result), "%llu frames sent, %llu dropped by its policy, longest "
		 "queue %llu ms; then %s", (unsigned long long)cs[0].frames_sent,
		 (unsigned long long)cs[0].frames_dropped, (unsigned long long)longest,
		 local_expect_error(s, fd, DMAPIPE_ERR_LEASE_TIMEOUT, "never reads its ring"));
	scenario_ok("producer", "a consumer that never reads its frames ring", result);
	close(fd);
	dmapipe_ring_finish(&fr);

	o.lease_timeout_ms = 5000;
	fd = ring_peer(s, o.path, DMAPIPE_POLICY_LATEST, 2, &fr);
	check_int_eq(dmapipe_ring_create(&rr, DMAPIPE_RING_RELEASES, fr.capacity), 0);
	ring_peer_send(fd, DMAPIPE_RING_MSG_RELEASES, rr.capacity, rr.fd);
	dmapipe_ring_set_sleeping(&rr, true);
	longest = 0;
	for (uint64_t seq = 100; seq < 5100; seq++) {
		unsigned int n;

		t0 = test_now_ms();
		local_queue(s, seq);
		longest = MAX(longest, test_now_ms() - t0);
		n = ring_peer_frames(s, &fr, f, 4);
		check_msg(n == 1, "frame %llu: %u in the ring", (unsigned long long)seq, n);
		dmapipe_ring_encode_release(dmapipe_ring_next_slot(&rr, 0), f[0].buffer_id,
					    f[0].meta.sequence);
		dmapipe_ring_publish(&rr, 1);
	}
	check(queued_bytes(fd) > 0);
	check_int_eq(dmapipe_server_get_consumer_stats(s, cs, 2), 1);
	check_int_eq(cs[0].frames_sent, 5000);
	check_int_eq(cs[0].state, DMAPIPE_CONSUMER_STREAMING);
	snprintf(result, sizeof(result), "5000 frames through its ring, %d bytes of wake-ups "
		 "unread on its socket, longest queue %llu ms", queued_bytes(fd),
		 (unsigned long long)longest);
	scenario_ok("producer", "a consumer asleep on its ring that never reads its socket", result);
	close(fd);
	dmapipe_ring_finish(&rr);
	dmapipe_ring_finish(&fr);
	dmapipe_server_free(s);
}

/* ---- rings against the consumer: a fake producer's frames ring ---- */

enum fake_ring_how {
	FAKE_RING_PIPE,
	FAKE_RING_UNSEALED,
	FAKE_RING_PAST_END,
	FAKE_RING_UNKNOWN_ID,
	FAKE_RING_ORDER,
	FAKE_RING_NOT_AGREED,
};

static void fake_ring(enum fake_ring_how how, enum dmapipe_error_code want, const char *what)
{
	struct dmapipe_ring fr = { .map = NULL };
	struct dmapipe_msg m;
	struct fake f;
	int rfd = -1, p[2] = { -1, -1 };

	fake_start(&f, 64);
	m = peer_hello(DMAPIPE_ROLE_PRODUCER, 1, 1);
	m.hello.lease_timeout_ms = 5000;
	if (how != FAKE_RING_NOT_AGREED)
		m.hello.features |= DMAPIPE_FEATURE_RINGS;
	fake_send(&f, &m);
	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_FORMAT;
	m.format = fmt;
	fake_send(&f, &m);
	fake_add_good_buffer(&f, 0);

	switch (how) {
	case FAKE_RING_PIPE:
		check(pipe2(p, O_CLOEXEC) == 0);
		rfd = p[0];
		break;
	case FAKE_RING_UNSEALED:
		rfd = memfd_create("fake-ring", MFD_CLOEXEC);
		check(rfd >= 0 && ftruncate(rfd, 4096) == 0);
		break;
	default:
		check_int_eq(dmapipe_ring_create(&fr, DMAPIPE_RING_FRAMES, 2), 0);
		rfd = fr.fd;
		break;
	}
	m.type = DMAPIPE_MSG_RING;
	m.ring.kind = DMAPIPE_RING_MSG_FRAMES;
	m.ring.capacity = 2;
	m.ring.fd = rfd;
	fake_send(&f, &m);
	if (fr.map) {
		struct dmapipe_msg_frame fm = { .buffer_id = 0 };
		struct dmapipe_ring_wire_header *h = (struct dmapipe_ring_wire_header *)fr.map;

		dmapipe_frame_meta_init(&fm.meta);
		switch (how) {
		case FAKE_RING_PAST_END:
			__atomic_store_n(&h->head, 3, __ATOMIC_RELEASE);
			break;
		case FAKE_RING_UNKNOWN_ID:
			fm.buffer_id = 9;
			dmapipe_ring_encode_frame(dmapipe_ring_next_slot(&fr, 0), &fm, 4);
			dmapipe_ring_publish(&fr, 1);
			break;
		case FAKE_RING_ORDER:
			/* after HELLO, FORMAT, ADD_BUFFER and RING: 4; then one claiming 3 */
			dmapipe_ring_encode_frame(dmapipe_ring_next_slot(&fr, 0), &fm, 4);
			fm.meta.sequence = 1;
			dmapipe_ring_encode_frame(dmapipe_ring_next_slot(&fr, 1), &fm, 3);
			dmapipe_ring_publish(&fr, 2);
			break;
		default:
			break;
		}
		m.ring.kind = DMAPIPE_RING_MSG_WAKE;
		m.ring.capacity = 0;
		m.ring.fd = -1;
		fake_send(&f, &m);
	}
	/* our copies go before fake_expect() counts what the client left open */
	dmapipe_ring_finish(&fr);
	if (how == FAKE_RING_PIPE || how == FAKE_RING_UNSEALED)
		close(rfd);
	if (p[1] >= 0)
		close(p[1]);
	fake_expect(&f, want, what);
}

static void attack_rings(void)
{
	/* a frames ring without the feature is refused whether rings are on or off */
	fake_ring(FAKE_RING_NOT_AGREED, DMAPIPE_ERR_PROTOCOL, "a frames ring without the feature");
	/* DMAPIPE_RINGS=0: no peer of ours agrees a ring, there is none to attack */
	if (!dmapipe_rings_enabled()) {
		printf("   (ring attacks not run: DMAPIPE_RINGS=0)\n");
		return;
	}
	attack_ring_bad_fds();
	attack_ring_scribble(SCRIBBLE_PAST_END, "releases ring index past the end");
	attack_ring_scribble(SCRIBBLE_BACKWARDS, "releases ring index going backwards");
	attack_ring_scribble(SCRIBBLE_PADDING, "releases ring slot with nonzero padding");
	attack_ring_scribble(SCRIBBLE_NOT_HELD, "releases ring slot naming a lease not held");
	attack_ring_scribble(SCRIBBLE_TWICE, "releases ring: the same lease twice");
	attack_ring_scribble(SCRIBBLE_MORE_THAN_LEASES, "releases ring: more releases than leases");
	attack_ring_scribble(SCRIBBLE_SECOND_RING, "a second releases ring");
	attack_ring_scribble(SCRIBBLE_FRAMES_RING, "a consumer sends a frames ring");
	attack_ring_never_reads();
	fake_ring(FAKE_RING_PIPE, DMAPIPE_ERR_BAD_FD, "frames ring: a pipe");
	fake_ring(FAKE_RING_UNSEALED, DMAPIPE_ERR_BAD_FD, "frames ring: an unsealed memfd");
	fake_ring(FAKE_RING_PAST_END, DMAPIPE_ERR_PROTOCOL, "frames ring index past the end");
	fake_ring(FAKE_RING_UNKNOWN_ID, DMAPIPE_ERR_PROTOCOL, "frames ring slot naming no buffer");
	fake_ring(FAKE_RING_ORDER, DMAPIPE_ERR_PROTOCOL, "frames ring slots out of socket order");
}

static void run_local_attacks(void)
{
	int fds = test_count_fds();

	attack_eos_after_queued_control();
	attack_release_during_stall();
	check_ratelimit();
	attack_log_flood();
	attack_handshake_slots();
	attack_refused_slots();
	attack_monitors();
	attack_lease_budget();
	attack_fenced_in_flight();
	attack_revoke_oldest();
	attack_pool_budget();
	/* last: its refusals spend the log rate limit check_ratelimit() counts on */
	attack_rings();
	check_int_eq(test_count_fds(), fds);
}

/* ---- under load: an honest consumer's rate while each attack runs ---------- */

/* How long each phase (clean, attacked) of a load case measures. */
#define PHASE_MS 3000

static struct producer_config load_config(void)
{
	struct producer_config c;

	memset(&c, 0, sizeof(c));
	dmapipe_server_options_init(&c.opts);
	c.opts.producer_name = "load";
	c.fps = 60;
	c.buffers = 4;
	return c;
}

/* The clean phase: the honest consumer's rate and longest gap, the producer's longest dispatch. */
struct clean {
	double fps;
	uint64_t max_gap_ns;
	uint64_t max_dispatch_ns;
};

static void measure_clean(struct producer *p, struct meter *m, struct clean *c)
{
	struct producer_report r;

	meter_run(m, 500); /* settle */
	producer_report(p, &r);
	meter_reset(m);
	meter_run(m, PHASE_MS);
	producer_report(p, &r);
	c->fps = meter_fps(m);
	c->max_gap_ns = m->max_gap_ns;
	c->max_dispatch_ns = r.max_dispatch_ns;
}

static unsigned int count_lines(const char *path, const char *text)
{
	char line[1024];
	unsigned int n = 0;
	FILE *f = fopen(path, "re");

	check(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

/*
 * Issue #13, item 6: with its fds used up, the producer spun on accept()
 * (95% of a core, 750,000 log lines in 2 s). Here it runs with room for
 * a few connections only, and 40 connections (more as it drops them) try
 * to stay open: it must back off, keep its CPU time near the clean
 * phase's, write a line or two, and keep the honest consumer's rate.
 */
static void load_emfile(void)
{
	struct producer_config cfg = load_config();
	struct producer_report r;
	struct producer p;
	struct clean clean;
	struct meter m;
	uint64_t cpu0, cpu_clean, cpu_flood, t0, wall;
	unsigned int n = 40, lines;
	char log_path[256], result[320], *dir = test_make_dir("hostile-emfile");
	pid_t attacker;

	snprintf(log_path, sizeof(log_path), "%s/producer.log", dir);
	cfg.opts.handshake_timeout_ms = 60000; /* idle connections stay: the fds stay used */
	cfg.nofile = 6;                         /* fds beyond those at start */
	cfg.log_path = log_path;
	producer_start(&p, &cfg);
	meter_start(&m, p.path, "honest");
	cpu0 = proc_cpu_ns(p.pid);
	t0 = test_now_ms();
	measure_clean(&p, &m, &clean);
	cpu_clean = proc_cpu_ns(p.pid) - cpu0;

	attacker = attacker_spawn(run_silent, p.path, &n, 0);
	cpu0 = proc_cpu_ns(p.pid);
	t0 = test_now_ms();
	meter_reset(&m);
	meter_run(&m, PHASE_MS);
	cpu_flood = proc_cpu_ns(p.pid) - cpu0;
	wall = (test_now_ms() - t0) * 1000000u;
	producer_report(&p, &r);
	attacker_stop(attacker);
	meter_compare("fds used up", clean.fps, clean.max_gap_ns, &m, result, sizeof(result));
	meter_finish(&m);
	producer_stop(&p);
	lines = count_lines(log_path, "accept on");
	test_rmdir_all(dir);
	free(dir);

	check_msg(r.stats.accept_failures > 0, "accept() never failed: the attack did not use the fds up");
	check_msg(cpu_flood <= cpu_clean + wall / 4,
		  "the producer used %.0f ms of CPU in %.0f ms of flood (%.0f ms when clean)",
		  (double)cpu_flood / 1e6, (double)wall / 1e6, (double)cpu_clean / 1e6);
	check_msg(lines >= 1 && lines <= PHASE_MS / 5000 + 2, "%u log lines about accept", lines);
	printf("   producer CPU %.0f ms in %.0f ms of flood (clean %.0f ms), %llu accept failures, "
	       "%u log line(s)\n", (double)cpu_flood / 1e6, (double)wall / 1e6,
	       (double)cpu_clean / 1e6, (unsigned long long)r.stats.accept_failures, lines);
	scenario_ok("load", "40 connections against a producer out of fds (RLIMIT_NOFILE)", result);
}

/*
 * One attack against a producer child: the honest consumer's clean phase,
 * then the same with the attackers running. Returns the attacked phase's
 * producer report; *@check_extra (if set) runs while they still run.
 */
struct load_case {
	const char *what;
	attacker_func fn;
	void *arg;
	uid_t uid;
	void (*during)(struct producer *p, void *data); /* after the attacked phase, attackers on */
	void *data;
};

static void run_load_case(const struct load_case *lc, const struct producer_config *cfg,
			  struct producer_report *report, struct clean *clean_out)
{
	struct producer_report r;
	struct producer p;
	struct clean clean;
	struct meter m;
	char result[320];
	pid_t attacker;
	int status;

	producer_start(&p, cfg);
	meter_start(&m, p.path, "honest");
	measure_clean(&p, &m, &clean);
	attacker = attacker_spawn(lc->fn, p.path, lc->arg, lc->uid);
	meter_reset(&m);
	meter_run(&m, PHASE_MS);
	producer_report(&p, &r);
	if (lc->during)
		lc->during(&p, lc->data);
	status = attacker_stop(attacker);
	check_msg(WIFSIGNALED(status), "%s: the attacker ended on its own (%#x)", lc->what, status);
	meter_compare(lc->what, clean.fps, clean.max_gap_ns, &m, result, sizeof(result));
	meter_finish(&m);
	producer_stop(&p);
	if (report)
		*report = r;
	if (clean_out)
		*clean_out = clean;
	scenario_ok("load", lc->what, result);
}

/* While the squatters stay: a new consumer of the producer's uid gets in. */
static void new_consumer_joins(struct producer *p, void *data)
{
	struct meter late;

	(void)data;
	meter_start(&late, p->path, "late");
	meter_run(&late, 300);
	check_msg(late.frames > 0, "the late consumer got no frames");
	meter_finish(&late);
}

/*
 * Issue #13, item 4: 40 silent connections of a uid the peer policy
 * refuses took consumer slots: the honest consumer fell to 37 fps and a
 * new one of the producer's own uid got too-many-consumers.
 */
static void load_refused_squatters(void)
{
	struct producer_config cfg = load_config();
	struct producer_report r;
	unsigned int n = 40;
	struct load_case lc = {
		.what = "40 silent connections of another uid (refused by the peer policy)",
		.fn = run_silent, .arg = &n, .uid = NOBODY, .during = new_consumer_joins,
	};

	if (geteuid() != 0) {
		printf("   (not run: peers of another uid need root)\n");
		return;
	}
	cfg.opts.handshake_timeout_ms = 60000;
	run_load_case(&lc, &cfg, &r, NULL);
	printf("   producer: %u handshakes now, %llu dropped, %llu refused\n", r.stats.handshakes,
	       (unsigned long long)r.stats.handshakes_dropped,
	       (unsigned long long)r.stats.consumers_refused);
	check(r.stats.handshakes <= cfg.opts.max_handshakes);
	check(r.stats.consumers_refused > 0);
}

struct rss_probe {
	uint64_t rss_kb;
};

static void probe_rss(struct producer *p, void *data)
{
	((struct rss_probe *)data)->rss_kb = proc_rss_kb(p->pid);
}

/*
 * Issue #13, item 5: 200 idle monitors were all accepted and every unread
 * STATS reply stayed queued (RSS 46 -> 67 MB). Now at most 8, one reply
 * waiting each: 200 idle monitors and 8 that ask without reading.
 */
static void run_monitor_mix(const char *path, void *arg)
{
	static unsigned int idle = 200, flood = 8;
	pid_t a, b;

	(void)arg;
	a = attacker_spawn(run_idle_monitors, path, &idle, 0);
	b = attacker_spawn(run_stats_flood, path, &flood, 0);
	for (;;) {
		int status;
		pid_t done = wait(&status);

		if (done == a || done == b)
			_exit(3);
	}
	(void)b;
}

static void load_monitors(void)
{
	struct producer_config cfg = load_config();
	struct producer_report r;
	struct rss_probe rss = { 0 };
	struct load_case lc = {
		.what = "200 idle monitors and 8 that ask for STATS without reading",
		.fn = run_monitor_mix, .during = probe_rss, .data = &rss,
	};
	struct producer p;
	uint64_t rss_clean;

	/* the clean RSS of a producer with this config, for the comparison */
	producer_start(&p, &cfg);
	usleep(500 * 1000);
	rss_clean = proc_rss_kb(p.pid);
	producer_stop(&p);
	cfg.opts.handshake_timeout_ms = 1000;
	run_load_case(&lc, &cfg, &r, NULL);
	printf("   producer: %u monitors now (max %u), RSS %llu kB under attack, %llu kB clean\n",
	       r.stats.monitors, cfg.opts.max_monitors, (unsigned long long)rss.rss_kb,
	       (unsigned long long)rss_clean);
	check(r.stats.monitors <= cfg.opts.max_monitors);
	if (PEERS_MEASURES)
		check_msg(rss.rss_kb <= rss_clean + rss_clean / 8 + 1024, "RSS %llu kB, %llu kB clean",
			  (unsigned long long)rss.rss_kb, (unsigned long long)rss_clean);
}

/*
 * Issue #13, item 3: 24 consumers that each hold their leases just under
 * the lease timeout pinned buffers until the pool could not grow: the
 * honest consumer fell to 10-16 fps with gaps of 4-5 s.
 */
static void load_hoarders(void)
{
	struct producer_config cfg = load_config();
	struct producer_report r;
	struct hoard_config hc = { .consumers = 24, .hold_ms = 1800 };
	struct load_case lc = {
		.what = "24 consumers holding their leases just under the lease timeout",
		.fn = run_hoard, .arg = &hc,
	};

	cfg.opts.lease_timeout_ms = 2000;
	run_load_case(&lc, &cfg, &r, NULL);
	printf("   producer: %u consumers now, %llu refused, %llu lease timeouts, %llu revoked, "
	       "%u buffers\n", r.stats.consumers, (unsigned long long)r.stats.consumers_refused,
	       (unsigned long long)r.stats.lease_timeouts, (unsigned long long)r.stats.leases_revoked,
	       r.stats.buffers);
	check(r.stats.consumers_refused > 0); /* the budget said no to some */
}

/* 200 connections that say HELLO and never read, let in by max_consumers (item 3). */
static void load_hello_no_read(void)
{
	struct producer_config cfg = load_config();
	struct producer_report r;
	unsigned int n = 200;
	struct load_case lc = {
		.what = "200 consumers that say HELLO and never read (max_consumers 250)",
		.fn = run_hello_no_read, .arg = &n,
	};

	cfg.opts.max_consumers = 250;
	cfg.opts.max_handshakes = 250;
	cfg.opts.lease_timeout_ms = 2000;
	run_load_case(&lc, &cfg, &r, NULL);
	printf("   producer: %u consumers now, %llu refused, %llu lease timeouts, %u buffers\n",
	       r.stats.consumers, (unsigned long long)r.stats.consumers_refused,
	       (unsigned long long)r.stats.lease_timeouts, r.stats.buffers);
}

/* Seconds a lingering socket's close waits in the linger cases. */
#define LINGER_S 2

/*
 * The reference for the linger cases, measured here and now: how long
 * the last close() of a lingering TCP socket waits in the closing thread.
 * 0 if it does not wait on this machine (the cases then cannot show
 * anything, and say so).
 */
static uint64_t linger_reference_ns(void)
{
	struct linger_sock ls;
	uint64_t t0, ns;

	check_int_eq(peer_linger_socket(&ls, LINGER_S), 0);
	t0 = dmapipe_now_ns();
	close(ls.sock);
	ns = dmapipe_now_ns() - t0;
	ls.sock = -1;
	peer_linger_finish(&ls);
	printf("   reference: the last close of a lingering socket waited %.0f ms here\n",
	       (double)ns / 1e6);
	return ns >= LINGER_S * 1000000000ull / 2 ? ns : 0;
}

/*
 * Issue #13, item 2: a peer hands the producer a TCP socket that lingers
 * on unsent data (as a release fence, as a 5th fd, queued on a unix
 * socket it sends, in datagrams the producer never reads) and closes its
 * own copy; the producer's close() of it waited seconds in its loop and
 * the honest consumer went from 60 to under 10 fps. Each in turn, while
 * the honest consumer is measured; then the one with the unread
 * datagrams again, all of them queued while the producer is stopped, so
 * that the last reference is surely the connection socket's; and one from
 * a peer the uid policy refuses.
 */
static void load_producer_linger(uint64_t ref_ns)
{
	struct producer_config cfg = load_config();
	struct linger_config lcfg = { .how = LINGER_HOW_COUNT, .linger_s = LINGER_S };
	struct producer_report r;
	struct producer p;
	struct clean clean;
	struct meter m;
	char result[320];
	pid_t attacker;

	producer_start(&p, &cfg);
	meter_start(&m, p.path, "honest");
	measure_clean(&p, &m, &clean);
	attacker = attacker_spawn(run_linger, p.path, &lcfg, 0);
	meter_reset(&m);
	meter_run(&m, PHASE_MS);
	producer_report(&p, &r);
	attacker_stop(attacker);
	meter_compare("lingering sockets", clean.fps, clean.max_gap_ns, &m, result, sizeof(result));
	check_msg(r.max_dispatch_ns < ref_ns / 4, "a dispatch took %.0f ms (a lingering close: %.0f ms)",
		  (double)r.max_dispatch_ns / 1e6, (double)ref_ns / 1e6);
	printf("   longest dispatch %.2f ms under attack (clean %.2f ms)\n",
	       (double)r.max_dispatch_ns / 1e6, (double)clean.max_dispatch_ns / 1e6);
	scenario_ok("load", "lingering TCP sockets as a fence, a 5th fd, nested, unread", result);

	/* the unread case, deterministic: everything queued before the producer reads */
	lcfg.how = LINGER_UNREAD;
	lcfg.once = true;
	kill(p.pid, SIGSTOP);
	attacker = attacker_spawn(run_linger, p.path, &lcfg, 0);
	usleep(500 * 1000);
	kill(p.pid, SIGCONT);
	meter_run(&m, 1000);
	producer_report(&p, &r);
	check_msg(r.max_dispatch_ns < ref_ns / 4,
		  "closing a connection with unread fds took %.0f ms in dispatch", (double)r.max_dispatch_ns / 1e6);
	attacker_stop(attacker);
	snprintf(result, sizeof(result), "longest dispatch %.2f ms (a lingering close: %.0f ms)",
		 (double)r.max_dispatch_ns / 1e6, (double)ref_ns / 1e6);
	scenario_ok("load", "a lingering socket left unread on a connection the producer closes", result);

	/* a peer the peer policy refuses: its HELLO and fds are read before it is refused */
	if (geteuid() == 0) {
		lcfg.how = LINGER_FIFTH_FD;
		lcfg.once = false;
		meter_reset(&m);
		attacker = attacker_spawn(run_linger, p.path, &lcfg, NOBODY);
		meter_run(&m, 1500);
		producer_report(&p, &r);
		attacker_stop(attacker);
		check_msg(r.max_dispatch_ns < ref_ns / 4, "a refused peer's fds: a dispatch took %.0f ms",
			  (double)r.max_dispatch_ns / 1e6);
		meter_compare("lingering sockets from a refused uid", clean.fps, clean.max_gap_ns, &m,
			      result, sizeof(result));
		scenario_ok("load", "lingering sockets from a peer of another uid", result);
	} else {
		printf("   (not run: a peer of another uid needs root)\n");
	}
	meter_finish(&m);
	producer_stop(&p);
}

/*
 * The consumer's side of item 2: `dmapipe consume` waited 3.1 s on a
 * lingering socket sent as a buffer object. The client's dispatch that
 * refuses it must not wait.
 */
static void load_client_linger(uint64_t ref_ns)
{
	struct linger_sock ls;
	struct dmapipe_msg m;
	uint64_t longest = 0;
	char result[160];
	struct fake f;

	fake_start(&f, 64);
	fake_hello(&f);
	check_int_eq(peer_linger_socket(&ls, LINGER_S), 0);
	m = add_buffer_msg(0, ls.sock, DMAPIPE_MEM_DMABUF);
	fake_send(&f, &m);
	close(ls.sock);
	ls.sock = -1;
	for (uint64_t deadline = test_now_ms() + WAIT_MS;
	     dmapipe_client_get_state(f.client) != DMAPIPE_CLIENT_ERROR;) {
		struct pollfd pfd = { .fd = dmapipe_client_get_fd(f.client), .events = POLLIN };
		uint64_t t0;

		check_msg(test_now_ms() < deadline, "the client did not refuse the socket");
		poll(&pfd, 1, 10);
		t0 = dmapipe_now_ns();
		check(dmapipe_client_dispatch(f.client, 0) >= 0);
		longest = MAX(longest, dmapipe_now_ns() - t0);
	}
	peer_linger_finish(&ls);
	check_msg(longest < ref_ns / 4, "the client's dispatch took %.0f ms", (double)longest / 1e6);
	snprintf(result, sizeof(result), "refused in a dispatch of %.2f ms (a lingering close: %.0f ms)",
		 (double)longest / 1e6, (double)ref_ns / 1e6);
	fake_expect(&f, DMAPIPE_ERR_BAD_FD, "a lingering TCP socket as a buffer object");
	scenario_ok("load", "a lingering TCP socket as a consumer's buffer object", result);
}

static void run_load_attacks(void)
{
	uint64_t ref_ns = linger_reference_ns();

	if (ref_ns) {
		load_producer_linger(ref_ns);
		load_client_linger(ref_ns);
	} else {
		printf("   (not run: the linger cases; a lingering socket's close does not wait here)\n");
	}
	load_emfile();
	load_refused_squatters();
	load_monitors();
	load_hoarders();
	load_hello_no_read();
}

int main(int argc, char **argv)
{
	int fds_start;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(server_path, sizeof(server_path), "@dmapipe-hostile-%d", (int)getpid());
	fds_start = test_count_fds();

	if (argc > 1 && strcmp(argv[1], "load") == 0) {
		run_load_attacks();
	} else {
		run_producer_attacks();
		run_consumer_attacks();
		run_local_attacks();
	}

	check_int_eq(test_count_fds(), fds_start);
	printf("%u hostile scenarios handled\n", n_scenarios);
	return 0;
}
