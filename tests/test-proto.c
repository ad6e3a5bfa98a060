/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the wire protocol codec (lib/stream/proto*.c): round trips of every
 * message type, the exact bytes of a few messages, and a catalogue of
 * malformed datagrams that the decoder must refuse without leaving an fd in
 * the decoded message.
 */
#include <errno.h>
#include <stddef.h>

#include "stream/proto.h"
#include "testlib.h"
#include "fuzz/msg-equal.h"

/* The codec never touches fds, so made-up numbers that no field value of
 * the samples collides with serve as "received fds". */
#define FAKE_FD(i) (0x3ead0000 + (int)(i))

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static unsigned int n_tried;

struct sample {
	const char *name;
	struct dmapipe_msg msg;
};

static void fill_name(char *dst, size_t size, char c, size_t len)
{
	memset(dst, 0, size);
	memset(dst, c, len);
}

static struct dmapipe_msg hello_msg(uint32_t role, uint32_t policy)
{
	struct dmapipe_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_HELLO;
	m.hello.version = DMAPIPE_PROTO_VERSION;
	m.hello.min_version = 1;
	m.hello.role = role;
	m.hello.features = DMAPIPE_FEATURES_ALL;
	m.hello.policy = policy;
	m.hello.queue_depth = 4;
	m.hello.max_in_flight = 2;
	m.hello.lease_timeout_ms = 5000;
	fill_name(m.hello.name, sizeof(m.hello.name), 'n', DMAPIPE_PROTO_NAME_LEN - 1);
	return m;
}

static struct dmapipe_msg add_buffer_msg(uint32_t n_objects, uint32_t n_planes)
{
	struct dmapipe_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_ADD_BUFFER;
	m.add_buffer.buffer_id = 7;
	m.add_buffer.layout.format = (struct dmapipe_format){
		.fourcc = 0x3231564e, .width = 1920, .height = 1080,
		.modifier = UINT64_C(0x0100000000000002),
	};
	m.add_buffer.layout.n_objects = n_objects;
	m.add_buffer.layout.n_planes = n_planes;
	for (uint32_t i = 0; i < DMAPIPE_MAX_OBJECTS; i++) {
		m.add_buffer.layout.objects[i].fd = i < n_objects ? FAKE_FD(i) : -1;
		if (i < n_objects) {
			m.add_buffer.layout.objects[i].kind =
				i % 2 ? DMAPIPE_MEM_MEMFD : DMAPIPE_MEM_DMABUF;
			m.add_buffer.layout.objects[i].size = UINT64_C(0x1000000000) + i;
		}
	}
	for (uint32_t i = 0; i < n_planes; i++) {
		m.add_buffer.layout.planes[i].object = i % n_objects;
		m.add_buffer.layout.planes[i].stride = 1920 + 64 * i;
		m.add_buffer.layout.planes[i].offset = UINT64_C(0xabcdef012345) * (i + 1);
	}
	return m;
}

static struct dmapipe_msg frame_msg(int fence)
{
	struct dmapipe_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_FRAME;
	m.frame.buffer_id = 0xfffffffe;
	m.frame.meta.sequence = UINT64_MAX - 1;
	m.frame.meta.timestamp_ns = UINT64_C(1234567890123456789);
	m.frame.meta.flags = DMAPIPE_FRAME_KEYFRAME | DMAPIPE_FRAME_DISCONTINUITY;
	for (unsigned int i = 0; i < DMAPIPE_MAX_PLANES; i++)
		m.frame.meta.bytes_used[i] = 1000u * (i + 1);
	m.frame.meta.acquire_fence = fence;
	return m;
}

static struct dmapipe_msg release_msg(int fence)
{
	struct dmapipe_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_RELEASE;
	m.release.buffer_id = 3;
	m.release.sequence = 99;
	m.release.release_fence = fence;
	return m;
}

static struct dmapipe_msg ring_msg(uint32_t kind, uint32_t capacity, int fd)
{
	struct dmapipe_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_RING;
	m.ring.kind = kind;
	m.ring.capacity = capacity;
	m.ring.fd = fd;
	return m;
}

static struct dmapipe_msg releases_msg(uint32_t n)
{
	struct dmapipe_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_RELEASES;
	m.releases.n_releases = n;
	for (uint32_t i = 0; i < n; i++) {
		m.releases.releases[i].buffer_id = 0xffffffff - i;
		m.releases.releases[i].sequence = UINT64_MAX - 7 * i;
	}
	return m;
}

/* Every field set to a value other than its default, for round trips. */
static struct dmapipe_msg format_info_msg(void)
{
	struct dmapipe_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_FORMAT_INFO;
	m.format_info = (struct dmapipe_format_info){
		.fps_num = 30000, .fps_den = 1001, .par_num = 10, .par_den = 11,
		.matrix = DMAPIPE_MATRIX_BT2020, .transfer = DMAPIPE_TRANSFER_ARIB_STD_B67,
		.primaries = DMAPIPE_PRIMARIES_SMPTEEG432, .range = DMAPIPE_RANGE_LIMITED,
		.chroma_site = DMAPIPE_CHROMA_SITE_DV, .interlace = DMAPIPE_INTERLACE_INTERLEAVED,
		.field_order = DMAPIPE_FIELD_ORDER_BOTTOM_FIRST,
	};
	return m;
}

/* Every count at its maximum, every field used. */
static struct dmapipe_msg constraints_msg(void)
{
	struct dmapipe_msg m;
	struct dmapipe_constraints *c = &m.constraints;

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_CONSTRAINTS;
	c->flags = DMAPIPE_CONSTRAINT_ALLOW_COPY;
	c->min_buffers = DMAPIPE_CONSTRAINTS_MAX_BUFFERS;
	for (unsigned int i = 0; i < DMAPIPE_MAX_PLANES; i++) {
		c->stride_align[i] = 16u << i;
		c->offset_align[i] = 4096u >> i;
	}
	c->n_formats = DMAPIPE_CONSTRAINTS_MAX_FORMATS;
	for (unsigned int i = 0; i < DMAPIPE_CONSTRAINTS_MAX_FORMATS; i++)
		c->formats[i] = 0x3231564e + i;
	c->n_modifiers = DMAPIPE_CONSTRAINTS_MAX_MODIFIERS;
	for (unsigned int i = 0; i < DMAPIPE_CONSTRAINTS_MAX_MODIFIERS; i++)
		c->modifiers[i] = UINT64_C(0x0100000000000001) + i;
	fill_name(c->import_device, sizeof(c->import_device), 'd', sizeof(c->import_device) - 1);
	return m;
}

static struct dmapipe_msg stats_msg(uint32_t n)
{
	struct dmapipe_msg m;
	struct dmapipe_server_stats *s = &m.stats.server;

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_STATS;
	s->frames_queued = 1;
	s->frames_dropped = 2;
	s->consumers_total = 3;
	s->consumers_refused = 4;
	s->lease_timeouts = 5;
	s->bytes_copied = 6;
	s->frames_copied = 7;
	s->consumers = n;
	s->buffers = 8;
	s->buffers_free = 9;
	s->mem_kind = DMAPIPE_MEM_MEMFD;
	s->format = (struct dmapipe_format){ .fourcc = 0x34325258, .width = 64, .height = 48 };
	fill_name(s->allocator, sizeof(s->allocator), 'a', sizeof(s->allocator) - 1);
	m.stats.n_consumers = n;
	for (uint32_t i = 0; i < n; i++) {
		struct dmapipe_consumer_stats *c = &m.stats.consumers[i];

		c->id = i;
		c->pid = -(int32_t)i - 1;
		c->uid = 1000 + i;
		c->policy = i % 4; /* 0: still in its handshake */
		c->queue_depth = i;
		c->leases_held = 2;
		c->queued = 1;
		c->state = i % 3;
		c->frames_sent = UINT64_MAX - i;
		c->frames_released = i * 10;
		c->frames_dropped = i * 100;
		c->oldest_lease_ns = i * 1000;
		fill_name(c->name, sizeof(c->name), (char)('A' + i % 26), sizeof(c->name) - 1);
	}
	return m;
}

static unsigned int make_samples(struct sample *out)
{
	unsigned int n = 0;
	struct dmapipe_msg m;

	out[n++] = (struct sample){ "HELLO consumer", hello_msg(DMAPIPE_ROLE_CONSUMER,
								 DMAPIPE_POLICY_QUEUE) };
	out[n++] = (struct sample){ "HELLO producer", hello_msg(DMAPIPE_ROLE_PRODUCER,
								 DMAPIPE_POLICY_BLOCK) };
	m = hello_msg(DMAPIPE_ROLE_MONITOR, 0);
	m.hello.version = 0xffff; /* a future peer: passed through */
	m.hello.features = 0xffffffff; /* unknown bits: passed through */
	m.hello.name[0] = '\0';
	out[n++] = (struct sample){ "HELLO monitor v65535 empty name", m };

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_FORMAT;
	m.format = (struct dmapipe_format){ 0x3231564e, 3840, 2160, 0, UINT64_MAX };
	out[n++] = (struct sample){ "FORMAT", m };

	out[n++] = (struct sample){ "FORMAT_INFO every field set", format_info_msg() };
	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_FORMAT_INFO;
	dmapipe_format_info_init(&m.format_info);
	out[n++] = (struct sample){ "FORMAT_INFO nothing known", m };

	out[n++] = (struct sample){ "CONSTRAINTS every field at its maximum", constraints_msg() };
	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_CONSTRAINTS;
	out[n++] = (struct sample){ "CONSTRAINTS asking nothing", m };
	m.constraints.stride_align[0] = 64;
	strcpy(m.constraints.import_device, "cpu");
	out[n++] = (struct sample){ "CONSTRAINTS stride 64, cpu", m };

	out[n++] = (struct sample){ "ADD_BUFFER 1x1", add_buffer_msg(1, 1) };
	out[n++] = (struct sample){ "ADD_BUFFER 1 object 2 planes", add_buffer_msg(1, 2) };
	out[n++] = (struct sample){ "ADD_BUFFER 4x4", add_buffer_msg(4, 4) };

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_REMOVE_BUFFER;
	m.remove_buffer_id = 0xdeadbeef;
	out[n++] = (struct sample){ "REMOVE_BUFFER", m };

	out[n++] = (struct sample){ "FRAME", frame_msg(-1) };
	out[n++] = (struct sample){ "FRAME with fence", frame_msg(FAKE_FD(0)) };
	out[n++] = (struct sample){ "RELEASE", release_msg(-1) };
	out[n++] = (struct sample){ "RELEASE with fence", release_msg(FAKE_FD(0)) };
	out[n++] = (struct sample){ "RELEASES 1 entry", releases_msg(1) };
	out[n++] = (struct sample){ "RELEASES 3 entries", releases_msg(3) };
	out[n++] = (struct sample){ "RELEASES 64 entries", releases_msg(DMAPIPE_PROTO_MAX_RELEASES) };

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_EOS;
	m.eos_last_sequence = UINT64_C(0x0102030405060708);
	out[n++] = (struct sample){ "EOS", m };

	out[n++] = (struct sample){ "RING frames", ring_msg(DMAPIPE_RING_MSG_FRAMES, 256, FAKE_FD(0)) };
	out[n++] = (struct sample){ "RING releases", ring_msg(DMAPIPE_RING_MSG_RELEASES, 2, FAKE_FD(0)) };
	out[n++] = (struct sample){ "RING wake", ring_msg(DMAPIPE_RING_MSG_WAKE, 0, -1) };

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_ERROR;
	m.error.code = DMAPIPE_ERR_LEASE_TIMEOUT;
	fill_name(m.error.message, sizeof(m.error.message), 'e', DMAPIPE_PROTO_ERROR_LEN - 1);
	out[n++] = (struct sample){ "ERROR max message", m };
	m.error.code = 0xfffffff0; /* unknown codes are allowed */
	strcpy(m.error.message, "x");
	out[n++] = (struct sample){ "ERROR unknown code", m };

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_STATS_REQUEST;
	out[n++] = (struct sample){ "STATS_REQUEST", m };
	m.type = DMAPIPE_MSG_KEEPALIVE;
	out[n++] = (struct sample){ "KEEPALIVE", m };

	out[n++] = (struct sample){ "STATS 0 records", stats_msg(0) };
	out[n++] = (struct sample){ "STATS 1 record", stats_msg(1) };
	out[n++] = (struct sample){ "STATS 32 records", stats_msg(DMAPIPE_PROTO_MAX_STATS) };
	return n;
}

#define MAX_SAMPLES 32

/* Encodes @m, checking the result; returns the datagram's size. */
static int encode_ok(const struct dmapipe_msg *m, unsigned char *buf, int *fds, unsigned int *n_fds)
{
	int len = dmapipe_proto_encode(m, buf, DMAPIPE_PROTO_MAX_MSG, fds, n_fds);

	check_msg(len > 0, "encode %s: %d", dmapipe_msg_type_to_string(m->type), len);
	check(*n_fds <= DMAPIPE_PROTO_MAX_FDS);
	return len;
}

/* Decodes and requires failure with @want (or any error when want == 0),
 * the message cleared (so no fd left in it) and a reason. */
static void expect_fail(const char *what, const void *data, size_t len, const int *fds,
			unsigned int n_fds, int want)
{
	struct dmapipe_msg m;
	const char *why = NULL;
	int ret;

	memset(&m, 0xa5, sizeof(m));
	ret = dmapipe_proto_decode(data, len, fds, n_fds, &m, &why);
	n_tried++;
	check_msg(ret < 0, "%s: decoded a malformed message", what);
	if (want)
		check_msg(ret == want, "%s: got %d, want %d (%s)", what, ret, want, why ? why : "?");
	else
		check_msg(ret == -EPROTO || ret == -EBADMSG, "%s: unexpected %d", what, ret);
	check_msg(why && *why, "%s: no reason given", what);
	check_msg(!msg_mentions_fd(&m, fds, n_fds), "%s: an fd was left in the message", what);
	/* proto.h: a refused message is cleared, whatever it held before */
	for (size_t i = 0; i < sizeof(m); i++)
		check_msg(((const unsigned char *)&m)[i] == 0, "%s: byte %zu of the refused message "
			  "is not cleared", what, i);
}

static void print_refusal(const char *what, const void *data, size_t len, const int *fds,
			  unsigned int n_fds)
{
	struct dmapipe_msg m;
	const char *why = NULL;
	int ret = dmapipe_proto_decode(data, len, fds, n_fds, &m, &why);

	printf("  %-44s -> %d (%s)\n", what, ret, why ? why : "-");
}

static void put32(unsigned char *p, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[off + i] = (unsigned char)(v >> (8 * i));
}

static void put16(unsigned char *p, size_t off, uint16_t v)
{
	p[off] = (unsigned char)v;
	p[off + 1] = (unsigned char)(v >> 8);
}

/* ---- round trips ---------------------------------------------------------- */

static void test_round_trips(void)
{
	struct sample samples[MAX_SAMPLES];
	unsigned int n = make_samples(samples);

	for (unsigned int s = 0; s < n; s++) {
		const struct dmapipe_msg *in = &samples[s].msg;
		unsigned char buf[DMAPIPE_PROTO_MAX_MSG], buf2[DMAPIPE_PROTO_MAX_MSG];
		int fds[DMAPIPE_PROTO_MAX_FDS], fds2[DMAPIPE_PROTO_MAX_FDS];
		unsigned int n_fds, n_fds2;
		struct dmapipe_msg out;
		const char *why = NULL;
		int len, len2, ret;

		len = encode_ok(in, buf, fds, &n_fds);
		memset(&out, 0xa5, sizeof(out));
		ret = dmapipe_proto_decode(buf, (size_t)len, fds, n_fds, &out, &why);
		check_msg(ret == 0, "%s: decode %d (%s)", samples[s].name, ret, why);
		check_msg(msg_equal(in, &out), "%s: decoded message differs", samples[s].name);

		/* canonical: encoding the decoded message gives the same bytes */
		len2 = encode_ok(&out, buf2, fds2, &n_fds2);
		check_int_eq(len2, len);
		check(memcmp(buf, buf2, (size_t)len) == 0);
		check_int_eq(n_fds2, n_fds);
		check(memcmp(fds, fds2, n_fds * sizeof(int)) == 0);

		/* every buffer shorter than the datagram is refused */
		for (int sz = 0; sz < len; sz++) {
			ret = dmapipe_proto_encode(in, buf2, (size_t)sz, fds2, &n_fds2);
			check_msg(ret == -ENOSPC, "%s: encode into %d bytes gave %d",
				  samples[s].name, sz, ret);
			check_int_eq(n_fds2, 0);
		}
		printf("  round trip %-32s %4d bytes, %u fds\n", samples[s].name, len, n_fds);
	}
	test_pass("round trips of every message type");
}

static void test_fd_placement(void)
{
	unsigned char buf[DMAPIPE_PROTO_MAX_MSG];
	int fds[DMAPIPE_PROTO_MAX_FDS], rfds[DMAPIPE_PROTO_MAX_FDS] = { 11, 12, 13, 14 };
	unsigned int n_fds;
	struct dmapipe_msg in = add_buffer_msg(3, 2), out;
	int len;

	len = encode_ok(&in, buf, fds, &n_fds);
	check_int_eq(n_fds, 3);
	for (int i = 0; i < 3; i++)
		check_int_eq(fds[i], FAKE_FD(i));
	/* the decoder hands out the fds it was given, in order */
	check_int_eq(dmapipe_proto_decode(buf, (size_t)len, rfds, 3, &out, NULL), 0);
	check_int_eq(out.add_buffer.layout.objects[0].fd, 11);
	check_int_eq(out.add_buffer.layout.objects[2].fd, 13);
	check_int_eq(out.add_buffer.layout.objects[3].fd, -1);

	in = frame_msg(-1);
	len = encode_ok(&in, buf, fds, &n_fds);
	check_int_eq(n_fds, 0);
	check_int_eq(dmapipe_proto_decode(buf, (size_t)len, NULL, 0, &out, NULL), 0);
	check_int_eq(out.frame.meta.acquire_fence, -1);

	in = release_msg(-1);
	len = encode_ok(&in, buf, fds, &n_fds);
	check_int_eq(dmapipe_proto_decode(buf, (size_t)len, NULL, 0, &out, NULL), 0);
	check_int_eq(out.release.release_fence, -1);

	/* fd 0 is a valid fence */
	in = release_msg(0);
	len = encode_ok(&in, buf, fds, &n_fds);
	check_int_eq(n_fds, 1);
	check_int_eq(fds[0], 0);
	test_pass("fds: attached in order, -1 where absent");
}

/* The exact bytes: little-endian, zero padding, header first. */
static void test_golden_bytes(void)
{
	static const unsigned char want_release[] = {
		6, 0, 0, 0, 24, 0, 0, 0,          /* type RELEASE, size 24 */
		3, 0, 0, 0, 1, 0, 0, 0,           /* buffer 3, HAS_FENCE */
		99, 0, 0, 0, 0, 0, 0, 0,          /* sequence 99 */
	};
	static const unsigned char want_releases[] = {
		11, 0, 0, 0, 48, 0, 0, 0,         /* type RELEASES, size 48 */
		2, 0, 0, 0, 0, 0, 0, 0,           /* 2 entries, pad0 */
		3, 0, 0, 0, 0, 0, 0, 0,           /* buffer 3, pad0 */
		99, 0, 0, 0, 0, 0, 0, 0,          /* sequence 99 */
		4, 3, 2, 1, 0, 0, 0, 0,           /* buffer 0x01020304, pad0 */
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
	};
	static const unsigned char want_keepalive[] = {
		12, 0, 0, 0, 8, 0, 0, 0,          /* type KEEPALIVE, size 8 */
	};
	static const unsigned char want_format_info[] = {
		13, 0, 0, 0, 56, 0, 0, 0,         /* type FORMAT_INFO, size 56 */
		0x30, 0x75, 0, 0, 0xe9, 3, 0, 0,  /* 30000/1001 fps */
		10, 0, 0, 0, 11, 0, 0, 0,         /* pixel aspect 10/11 */
		6, 0, 0, 0, 9, 0, 0, 0,           /* BT.2020 matrix, HLG */
		8, 0, 0, 0, 2, 0, 0, 0,           /* P3-D65 primaries, limited range */
		4, 0, 0, 0, 2, 0, 0, 0,           /* DV siting, interleaved */
		2, 0, 0, 0, 0, 0, 0, 0,           /* bottom field first, pad0 */
	};
	static const unsigned char want_hello_head[] = {
		1, 0, 0, 0, 80, 0, 0, 0,          /* type HELLO, size 80 */
		'D', 'M', 'P', 'P', 1, 0, 1, 0,   /* magic, version 1, min 1 */
		2, 0, 0, 0, 0xff, 0, 0, 0,        /* consumer, features 0..7 */
		2, 0, 0, 0, 4, 0, 0, 0,           /* queue, depth 4 */
		2, 0, 0, 0, 0x88, 0x13, 0, 0,     /* in flight 2, 5000 ms */
		0, 0, 0, 0, 0, 0, 0, 0,           /* pad0, pad1 */
	};
	unsigned char buf[DMAPIPE_PROTO_MAX_MSG];
	int fds[DMAPIPE_PROTO_MAX_FDS];
	unsigned int n_fds;
	struct dmapipe_msg m = release_msg(FAKE_FD(0));
	int len;

	len = encode_ok(&m, buf, fds, &n_fds);
	check_int_eq(len, sizeof(want_release));
	check(memcmp(buf, want_release, sizeof(want_release)) == 0);

	m = hello_msg(DMAPIPE_ROLE_CONSUMER, DMAPIPE_POLICY_QUEUE);
	len = encode_ok(&m, buf, fds, &n_fds);
	check_int_eq(len, 80);
	check(memcmp(buf, want_hello_head, sizeof(want_hello_head)) == 0);
	check(buf[48 + 30] == 'n' && buf[48 + 31] == '\0');

	/* KEEPALIVE: a header and nothing else */
	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_KEEPALIVE;
	len = encode_ok(&m, buf, fds, &n_fds);
	check_int_eq(len, 8);
	check(memcmp(buf, want_keepalive, sizeof(want_keepalive)) == 0);

	m = stats_msg(DMAPIPE_PROTO_MAX_STATS);
	len = encode_ok(&m, buf, fds, &n_fds);
	check_int_eq(len, 8 + 120 + 32 * 96);

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_RELEASES;
	m.releases.n_releases = 2;
	m.releases.releases[0].buffer_id = 3;
	m.releases.releases[0].sequence = 99;
	m.releases.releases[1].buffer_id = 0x01020304;
	m.releases.releases[1].sequence = UINT64_C(0x1122334455667788);
	len = encode_ok(&m, buf, fds, &n_fds);
	check_int_eq(n_fds, 0);
	check_int_eq(len, sizeof(want_releases));
	check(memcmp(buf, want_releases, sizeof(want_releases)) == 0);
	m = releases_msg(DMAPIPE_PROTO_MAX_RELEASES);
	len = encode_ok(&m, buf, fds, &n_fds);
	check_int_eq(len, 8 + 8 + 64 * 16);

	m = format_info_msg();
	len = encode_ok(&m, buf, fds, &n_fds);
	check_int_eq(len, sizeof(want_format_info));
	check(memcmp(buf, want_format_info, sizeof(want_format_info)) == 0);
	test_pass("golden bytes (RELEASE, HELLO, STATS size, RELEASES, FORMAT_INFO)");
}

/* The encoder terminates strings that fill their array and zeroes the rest. */
static void test_encoder_strings(void)
{
	unsigned char buf[DMAPIPE_PROTO_MAX_MSG];
	int fds[DMAPIPE_PROTO_MAX_FDS];
	unsigned int n_fds;
	struct dmapipe_msg m = hello_msg(DMAPIPE_ROLE_CONSUMER, DMAPIPE_POLICY_LATEST), out;
	int len;

	memset(m.hello.name, 'x', sizeof(m.hello.name)); /* no terminator */
	len = encode_ok(&m, buf, fds, &n_fds);
	check(buf[8 + 40 + 31] == '\0' && buf[8 + 40 + 30] == 'x');
	check_int_eq(dmapipe_proto_decode(buf, (size_t)len, NULL, 0, &out, NULL), 0);
	check_int_eq(strlen(out.hello.name), 31);

	memset(&m, 0, sizeof(m));
	m.type = DMAPIPE_MSG_ERROR;
	strcpy(m.error.message, "short");
	memset(m.error.message + 6, 'G', 20); /* garbage after the terminator */
	len = encode_ok(&m, buf, fds, &n_fds);
	for (int i = 8 + 8 + 5; i < len; i++)
		check(buf[i] == 0);
	test_pass("encoder terminates strings and zeroes what follows");
}

static void expect_encode_einval(const char *what, const struct dmapipe_msg *m)
{
	unsigned char buf[DMAPIPE_PROTO_MAX_MSG];
	int fds[DMAPIPE_PROTO_MAX_FDS];
	unsigned int n_fds = 77;
	int ret = dmapipe_proto_encode(m, buf, sizeof(buf), fds, &n_fds);

	n_tried++;
	check_msg(ret == -EINVAL, "encode %s: got %d", what, ret);
	check_int_eq(n_fds, 0);
	printf("  encoder refuses %-40s -> %d\n", what, ret);
}

static void test_encoder_validation(void)
{
	struct dmapipe_msg m;

	m = hello_msg(0, DMAPIPE_POLICY_LATEST);
	expect_encode_einval("HELLO role 0", &m);
	m = hello_msg(4, DMAPIPE_POLICY_LATEST);
	expect_encode_einval("HELLO role 4", &m);
	m = hello_msg(DMAPIPE_ROLE_CONSUMER, 0);
	expect_encode_einval("HELLO consumer without policy", &m);
	m = hello_msg(DMAPIPE_ROLE_CONSUMER, 4);
	expect_encode_einval("HELLO policy 4", &m);
	m = hello_msg(DMAPIPE_ROLE_CONSUMER, 1);
	m.hello.min_version = 2;
	expect_encode_einval("HELLO min_version > version", &m);
	m.hello.min_version = 0;
	expect_encode_einval("HELLO min_version 0", &m);

	m = add_buffer_msg(1, 1);
	m.add_buffer.layout.n_objects = 0;
	expect_encode_einval("ADD_BUFFER 0 objects", &m);
	m = add_buffer_msg(4, 4);
	m.add_buffer.layout.n_objects = 5;
	expect_encode_einval("ADD_BUFFER 5 objects", &m);
	m = add_buffer_msg(1, 1);
	m.add_buffer.layout.n_planes = 0;
	expect_encode_einval("ADD_BUFFER 0 planes", &m);
	m = add_buffer_msg(4, 4);
	m.add_buffer.layout.n_planes = 5;
	expect_encode_einval("ADD_BUFFER 5 planes", &m);
	m = add_buffer_msg(2, 2);
	m.add_buffer.layout.planes[1].object = 2;
	expect_encode_einval("ADD_BUFFER plane in missing object", &m);
	m = add_buffer_msg(2, 2);
	m.add_buffer.layout.objects[1].fd = -1;
	expect_encode_einval("ADD_BUFFER object without fd", &m);
	m = add_buffer_msg(2, 2);
	m.add_buffer.layout.objects[0].kind = DMAPIPE_MEM_NONE;
	expect_encode_einval("ADD_BUFFER object kind NONE", &m);
	m = add_buffer_msg(2, 2);
	m.add_buffer.layout.objects[0].kind = 3;
	expect_encode_einval("ADD_BUFFER object kind 3", &m);

	m = stats_msg(1);
	m.stats.n_consumers = DMAPIPE_PROTO_MAX_STATS + 1;
	expect_encode_einval("STATS 33 records", &m);
	m = stats_msg(1);
	m.stats.server.mem_kind = 9;
	expect_encode_einval("STATS unknown memory kind", &m);
	m = stats_msg(1);
	m.stats.consumers[0].policy = 9;
	expect_encode_einval("STATS unknown consumer policy", &m);

	{
		unsigned char buf[256];
		unsigned int n = 9;

		/* fds may be NULL only for a message that carries none */
		m = frame_msg(-1);
		check_int_eq(dmapipe_proto_encode(&m, buf, sizeof(buf), NULL, &n), 72);
		check_int_eq(n, 0);
		m = frame_msg(FAKE_FD(0));
		check_int_eq(dmapipe_proto_encode(&m, buf, sizeof(buf), NULL, &n), -EINVAL);
		m = release_msg(FAKE_FD(0));
		check_int_eq(dmapipe_proto_encode(&m, buf, sizeof(buf), NULL, &n), -EINVAL);
		m = add_buffer_msg(1, 1);
		check_int_eq(dmapipe_proto_encode(&m, buf, sizeof(buf), NULL, &n), -EINVAL);
		check_int_eq(n, 0);
		check_int_eq(dmapipe_proto_encode(&m, buf, sizeof(buf), NULL, NULL), -EINVAL);
		check_int_eq(dmapipe_proto_encode(NULL, buf, sizeof(buf), NULL, &n), -EINVAL);
		check_int_eq(dmapipe_proto_encode(&m, NULL, sizeof(buf), NULL, &n), -EINVAL);
		n_tried += 7;
		printf("  encoder refuses NULL fds for fd-carrying messages, NULL msg/buf/n_fds\n");
	}

	memset(&m, 0, sizeof(m));
	m.type = 0;
	expect_encode_einval("type 0", &m);
	m.type = (enum dmapipe_msg_type)15;
	expect_encode_einval("type 15", &m);
	m = format_info_msg();
	m.format_info.fps_den = 0;
	expect_encode_einval("FORMAT_INFO rate N/0", &m);
	m = constraints_msg();
	m.constraints.stride_align[2] = 48;
	expect_encode_einval("CONSTRAINTS stride alignment 48", &m);
	m = constraints_msg();
	m.constraints.n_formats = 9;
	expect_encode_einval("CONSTRAINTS 9 formats", &m);
	m = constraints_msg();
	m.constraints.reserved[7] = 1;
	expect_encode_einval("CONSTRAINTS reserved set", &m);
	m = format_info_msg();
	m.format_info.matrix = DMAPIPE_MATRIX_BT2020 + 1;
	expect_encode_einval("FORMAT_INFO unknown matrix", &m);
	m = format_info_msg();
	m.format_info.reserved[4] = 1;
	expect_encode_einval("FORMAT_INFO reserved set", &m);
	m = releases_msg(0);
	expect_encode_einval("RELEASES with no entry", &m);
	m = releases_msg(DMAPIPE_PROTO_MAX_RELEASES);
	m.releases.n_releases = DMAPIPE_PROTO_MAX_RELEASES + 1;
	expect_encode_einval("RELEASES with 65 entries", &m);
	test_pass("encoder refuses messages that break the protocol");
}

/* ---- malformed input -------------------------------------------------------- */

static void test_truncated_and_oversized(void)
{
	struct sample samples[MAX_SAMPLES];
	unsigned int n = make_samples(samples);
	unsigned int tried = n_tried;

	for (unsigned int s = 0; s < n; s++) {
		unsigned char buf[DMAPIPE_PROTO_MAX_MSG + 16], cut[DMAPIPE_PROTO_MAX_MSG + 16];
		int fds[DMAPIPE_PROTO_MAX_FDS];
		unsigned int n_fds;
		int len = encode_ok(&samples[s].msg, buf, fds, &n_fds);

		for (int l = 0; l < len; l++) {
			/* as cut off: the header no longer matches */
			memcpy(cut, buf, (size_t)l);
			expect_fail(samples[s].name, cut, (size_t)l, fds, n_fds, -EPROTO);
			/* header patched to agree: the per-type size check must catch it */
			if (l >= 8) {
				put32(cut, 4, (uint32_t)l);
				expect_fail(samples[s].name, cut, (size_t)l, fds, n_fds, -EPROTO);
			}
		}
		/* one byte too many, with and without a matching header */
		memcpy(cut, buf, (size_t)len);
		cut[len] = 0;
		expect_fail(samples[s].name, cut, (size_t)len + 1, fds, n_fds, -EPROTO);
		put32(cut, 4, (uint32_t)len + 1);
		expect_fail(samples[s].name, cut, (size_t)len + 1, fds, n_fds, -EPROTO);
		/* 8 more bytes: for STATS, not a whole record */
		memset(cut + len, 0, 8);
		put32(cut, 4, (uint32_t)len + 8);
		expect_fail(samples[s].name, cut, (size_t)len + 8, fds, n_fds, -EPROTO);
	}
	{
		static unsigned char big[DMAPIPE_PROTO_MAX_MSG + 1];

		put32(big, 0, DMAPIPE_MSG_STATS);
		put32(big, 4, sizeof(big));
		expect_fail("larger than DMAPIPE_PROTO_MAX_MSG", big, sizeof(big), NULL, 0, -EPROTO);
		print_refusal("larger than DMAPIPE_PROTO_MAX_MSG", big, sizeof(big), NULL, 0);
	}
	printf("  truncated to every length and oversized: %u datagrams refused\n",
	       n_tried - tried);
	test_pass("truncated and oversized datagrams");
}

static void test_unknown_types(void)
{
	static const uint32_t types[] = { 0, 15, 16, 0x100, 0x80000001, 0xffffffff };
	unsigned char buf[64];

	for (unsigned int i = 0; i < ARRAY_LEN(types); i++) {
		char what[64];

		memset(buf, 0, sizeof(buf));
		put32(buf, 0, types[i]);
		for (uint32_t len = 8; len <= sizeof(buf); len += 8) {
			put32(buf, 4, len);
			snprintf(what, sizeof(what), "unknown type %#x, %u bytes", types[i], len);
			expect_fail(what, buf, len, NULL, 0, -EPROTO);
		}
		print_refusal(what, buf, sizeof(buf), NULL, 0);
	}
	test_pass("unknown message types");
}

/* Applies @mutate to the encoded sample and expects the decoder to refuse
 * it with @want. */
struct mutation {
	const char *what;
	struct dmapipe_msg msg;
	size_t off;          /* byte offset in the datagram to change */
	unsigned int width;  /* 1, 2 or 4 bytes */
	uint32_t value;
	int fd_delta;        /* fds attached relative to what the encoder listed */
	int want;
};

#define HDR 8
#define RING_OFF(f) (HDR + offsetof(struct dmapipe_wire_ring, f))
#define HELLO_OFF(f) (HDR + offsetof(struct dmapipe_wire_hello, f))
#define ADD_OFF(f) (HDR + offsetof(struct dmapipe_wire_add_buffer, f))
#define FRAME_OFF(f) (HDR + offsetof(struct dmapipe_wire_frame, f))
#define RELEASE_OFF(f) (HDR + offsetof(struct dmapipe_wire_release, f))
#define ERROR_OFF(f) (HDR + offsetof(struct dmapipe_wire_error, f))
#define INFO_OFF(f) (HDR + offsetof(struct dmapipe_wire_format_info, f))
#define CONS_OFF(f) (HDR + offsetof(struct dmapipe_wire_constraints, f))
#define RELEASES_OFF(f) (HDR + offsetof(struct dmapipe_wire_releases, f))
#define ENTRY_OFF(i, f) (HDR + sizeof(struct dmapipe_wire_releases) +                    \
			 (i) * sizeof(struct dmapipe_wire_release_entry) +              \
			 offsetof(struct dmapipe_wire_release_entry, f))
#define STATS_OFF(f) (HDR + offsetof(struct dmapipe_wire_stats_server, f))
#define RECORD_OFF(i, f) (HDR + sizeof(struct dmapipe_wire_stats_server) +                \
			  (i) * sizeof(struct dmapipe_wire_stats_consumer) +            \
			  offsetof(struct dmapipe_wire_stats_consumer, f))

static void run_mutation(const struct mutation *mu)
{
	unsigned char buf[DMAPIPE_PROTO_MAX_MSG];
	int fds[DMAPIPE_PROTO_MAX_FDS + 2];
	unsigned int n_fds;
	int len = encode_ok(&mu->msg, buf, fds, &n_fds);
	int n;

	check((size_t)mu->off + mu->width <= (size_t)len);
	if (mu->width == 1)
		buf[mu->off] = (unsigned char)mu->value;
	else if (mu->width == 2)
		put16(buf, mu->off, (uint16_t)mu->value);
	else
		put32(buf, mu->off, mu->value);
	n = (int)n_fds + mu->fd_delta;
	check(n >= 0 && n <= DMAPIPE_PROTO_MAX_FDS + 2);
	for (int i = 0; i < n; i++)
		fds[i] = FAKE_FD(i);
	expect_fail(mu->what, buf, (size_t)len, fds, (unsigned int)n, mu->want);
	print_refusal(mu->what, buf, (size_t)len, fds, (unsigned int)n);
}

static void test_mutations(void)
{
	const struct dmapipe_msg hc = hello_msg(DMAPIPE_ROLE_CONSUMER, DMAPIPE_POLICY_LATEST);
	const struct dmapipe_msg a1 = add_buffer_msg(1, 1), a2 = add_buffer_msg(2, 2);
	const struct dmapipe_msg a4 = add_buffer_msg(4, 4);
	const struct dmapipe_msg fr = frame_msg(-1), frf = frame_msg(FAKE_FD(0));
	const struct dmapipe_msg rl = release_msg(-1), rlf = release_msg(FAKE_FD(0));
	const struct dmapipe_msg st = stats_msg(2);
	const struct dmapipe_msg rs = releases_msg(3);
	const struct dmapipe_msg rg = ring_msg(DMAPIPE_RING_MSG_FRAMES, 4, FAKE_FD(0));
	const struct dmapipe_msg wk = ring_msg(DMAPIPE_RING_MSG_WAKE, 0, -1);
	const struct dmapipe_msg fi = format_info_msg();
	const struct dmapipe_msg cs = constraints_msg();
	struct dmapipe_msg cs3 = constraints_msg();

	cs3.constraints.n_formats = 3;
	memset(&cs3.constraints.formats[3], 0, 5 * sizeof(uint32_t));
	cs3.constraints.n_modifiers = 1;
	memset(&cs3.constraints.modifiers[1], 0, 7 * sizeof(uint64_t));
	memset(cs3.constraints.import_device + 3, 0, sizeof(cs3.constraints.import_device) - 3);
	struct dmapipe_msg fmt, rm, eos, err, sreq;
	unsigned int i;

	memset(&fmt, 0, sizeof(fmt));
	fmt.type = DMAPIPE_MSG_FORMAT;
	memset(&rm, 0, sizeof(rm));
	rm.type = DMAPIPE_MSG_REMOVE_BUFFER;
	memset(&eos, 0, sizeof(eos));
	eos.type = DMAPIPE_MSG_EOS;
	memset(&err, 0, sizeof(err));
	err.type = DMAPIPE_MSG_ERROR;
	memset(err.error.message, 'e', DMAPIPE_PROTO_ERROR_LEN - 1);
	memset(&sreq, 0, sizeof(sreq));
	sreq.type = DMAPIPE_MSG_STATS_REQUEST;

	const struct mutation list[] = {
		/* header */
		{ "header size one less", hc, 4, 4, 79, 0, -EPROTO },
		{ "header size one more", hc, 4, 4, 81, 0, -EPROTO },
		{ "header size huge", hc, 4, 4, 0xffffffff, 0, -EPROTO },
		{ "header type changed to FRAME", hc, 0, 4, DMAPIPE_MSG_FRAME, 0, -EPROTO },
		/* HELLO */
		{ "HELLO wrong magic", hc, HELLO_OFF(magic), 1, 'X', 0, -EPROTO },
		{ "HELLO byte-swapped magic", hc, HELLO_OFF(magic), 4, 0x444d5050, 0, -EPROTO },
		{ "HELLO min_version > version", hc, HELLO_OFF(min_version), 2, 2, 0, -EPROTO },
		{ "HELLO min_version 0", hc, HELLO_OFF(min_version), 2, 0, 0, -EPROTO },
		{ "HELLO version 0", hc, HELLO_OFF(version), 2, 0, 0, -EPROTO },
		{ "HELLO role 0", hc, HELLO_OFF(role), 4, 0, 0, -EPROTO },
		{ "HELLO role 4", hc, HELLO_OFF(role), 4, 4, 0, -EPROTO },
		{ "HELLO policy 4", hc, HELLO_OFF(policy), 4, 4, 0, -EPROTO },
		{ "HELLO consumer with policy 0", hc, HELLO_OFF(policy), 4, 0, 0, -EPROTO },
		{ "HELLO pad0 nonzero", hc, HELLO_OFF(pad0), 1, 1, 0, -EPROTO },
		{ "HELLO pad1 nonzero", hc, HELLO_OFF(pad1) + 3, 1, 0x80, 0, -EPROTO },
		{ "HELLO name unterminated", hc, HELLO_OFF(name) + 31, 1, 'z', 0, -EPROTO },
		{ "HELLO with an fd", hc, 0, 1, DMAPIPE_MSG_HELLO, 1, -EBADMSG },
		/* FORMAT */
		{ "FORMAT pad nonzero", fmt, HDR + 12, 1, 1, 0, -EPROTO },
		{ "FORMAT with an fd", fmt, 0, 1, DMAPIPE_MSG_FORMAT, 1, -EBADMSG },
		/* FORMAT_INFO: every enum bounded, denominators at least 1 */
		{ "FORMAT_INFO pad nonzero", fi, INFO_OFF(pad0), 1, 1, 0, -EPROTO },
		{ "FORMAT_INFO fps 30000/0", fi, INFO_OFF(fps_den), 4, 0, 0, -EPROTO },
		{ "FORMAT_INFO PAR 10/0", fi, INFO_OFF(par_den), 4, 0, 0, -EPROTO },
		{ "FORMAT_INFO matrix 7", fi, INFO_OFF(matrix), 4, 7, 0, -EPROTO },
		{ "FORMAT_INFO matrix 0x80000000", fi, INFO_OFF(matrix), 4, 0x80000000, 0, -EPROTO },
		{ "FORMAT_INFO transfer 10", fi, INFO_OFF(transfer), 4, 10, 0, -EPROTO },
		{ "FORMAT_INFO primaries 9", fi, INFO_OFF(primaries), 4, 9, 0, -EPROTO },
		{ "FORMAT_INFO range 3", fi, INFO_OFF(range), 4, 3, 0, -EPROTO },
		{ "FORMAT_INFO chroma site 5", fi, INFO_OFF(chroma_site), 4, 5, 0, -EPROTO },
		{ "FORMAT_INFO interlace 5", fi, INFO_OFF(interlace), 4, 5, 0, -EPROTO },
		{ "FORMAT_INFO field order 3", fi, INFO_OFF(field_order), 4, 3, 0, -EPROTO },
		{ "FORMAT_INFO field order, progressive", fi, INFO_OFF(interlace), 4, 1, 0, -EPROTO },
		{ "FORMAT_INFO size 52", fi, 4, 4, 52, 0, -EPROTO },
		{ "FORMAT_INFO with an fd", fi, 0, 1, DMAPIPE_MSG_FORMAT_INFO, 1, -EBADMSG },
		/* CONSTRAINTS: bounded counts, powers of two, terminated, zero slots */
		{ "CONSTRAINTS unknown flag", cs, CONS_OFF(flags), 4, 2, 0, -EPROTO },
		{ "CONSTRAINTS min_buffers 33", cs, CONS_OFF(min_buffers), 4, 33, 0, -EPROTO },
		{ "CONSTRAINTS min_buffers ~0", cs, CONS_OFF(min_buffers), 4, 0xffffffff, 0, -EPROTO },
		{ "CONSTRAINTS 9 formats", cs, CONS_OFF(n_formats), 4, 9, 0, -EPROTO },
		{ "CONSTRAINTS 0x80000001 formats", cs, CONS_OFF(n_formats), 4, 0x80000001, 0, -EPROTO },
		{ "CONSTRAINTS 9 modifiers", cs, CONS_OFF(n_modifiers), 4, 9, 0, -EPROTO },
		{ "CONSTRAINTS stride align 3", cs, CONS_OFF(stride_align[1]), 4, 3, 0, -EPROTO },
		{ "CONSTRAINTS stride align 8192", cs, CONS_OFF(stride_align[0]), 4, 8192, 0, -EPROTO },
		{ "CONSTRAINTS offset align 0x80000000", cs, CONS_OFF(offset_align[3]), 4, 0x80000000, 0, -EPROTO },
		{ "CONSTRAINTS format 0 listed", cs, CONS_OFF(formats[7]), 4, 0, 0, -EPROTO },
		{ "CONSTRAINTS unused format slot set", cs3, CONS_OFF(formats[5]), 1, 1, 0, -EPROTO },
		{ "CONSTRAINTS unused modifier slot set", cs3, CONS_OFF(modifiers[7]) + 7, 1, 1, 0, -EPROTO },
		{ "CONSTRAINTS device unterminated", cs, CONS_OFF(import_device) + 63, 1, 'x', 0, -EPROTO },
		{ "CONSTRAINTS bytes after the device", cs3, CONS_OFF(import_device) + 40, 1, 'x', 0, -EPROTO },
		{ "CONSTRAINTS size 200", cs, 4, 4, 200, 0, -EPROTO },
		{ "CONSTRAINTS with an fd", cs, 0, 1, DMAPIPE_MSG_CONSTRAINTS, 1, -EBADMSG },
		/* ADD_BUFFER */
		{ "ADD_BUFFER 0 objects", a1, ADD_OFF(n_objects), 4, 0, 0, -EPROTO },
		{ "ADD_BUFFER 5 objects", a4, ADD_OFF(n_objects), 4, 5, 0, -EPROTO },
		{ "ADD_BUFFER 0x80000001 objects", a1, ADD_OFF(n_objects), 4, 0x80000001, 0, -EPROTO },
		{ "ADD_BUFFER 0 planes", a1, ADD_OFF(n_planes), 4, 0, 0, -EPROTO },
		{ "ADD_BUFFER 5 planes", a4, ADD_OFF(n_planes), 4, 5, 0, -EPROTO },
		{ "ADD_BUFFER plane -> missing object", a2, ADD_OFF(planes[1].object), 4, 2, 0, -EPROTO },
		{ "ADD_BUFFER plane -> object 4", a4, ADD_OFF(planes[3].object), 4, 4, 0, -EPROTO },
		{ "ADD_BUFFER plane -> object ~0", a1, ADD_OFF(planes[0].object), 4, 0xffffffff, 0, -EPROTO },
		{ "ADD_BUFFER pad0 nonzero", a1, ADD_OFF(pad0), 1, 1, 0, -EPROTO },
		{ "ADD_BUFFER format pad nonzero", a1, ADD_OFF(format.pad0), 1, 1, 0, -EPROTO },
		{ "ADD_BUFFER object pad nonzero", a2, ADD_OFF(objects[1].pad0), 1, 1, 0, -EPROTO },
		{ "ADD_BUFFER object kind NONE", a1, ADD_OFF(objects[0].kind), 4, 0, 0, -EPROTO },
		{ "ADD_BUFFER object kind 3", a2, ADD_OFF(objects[1].kind), 4, 3, 0, -EPROTO },
		{ "ADD_BUFFER unused object slot set", a1, ADD_OFF(objects[2].size), 1, 1, 0, -EPROTO },
		{ "ADD_BUFFER unused plane slot set", a2, ADD_OFF(planes[3].stride), 1, 1, 0, -EPROTO },
		{ "ADD_BUFFER 1 fd missing", a2, 0, 1, DMAPIPE_MSG_ADD_BUFFER, -1, -EBADMSG },
		{ "ADD_BUFFER no fd at all", a1, 0, 1, DMAPIPE_MSG_ADD_BUFFER, -1, -EBADMSG },
		{ "ADD_BUFFER 1 fd too many", a2, 0, 1, DMAPIPE_MSG_ADD_BUFFER, 1, -EBADMSG },
		{ "ADD_BUFFER 4 objects + 2 extra fds", a4, 0, 1, DMAPIPE_MSG_ADD_BUFFER, 2, -EBADMSG },
		{ "ADD_BUFFER n_objects 2 but 4 fds", a4, ADD_OFF(n_objects), 4, 2, 0, -EPROTO },
		/* REMOVE_BUFFER */
		{ "REMOVE_BUFFER pad nonzero", rm, HDR + 4, 1, 1, 0, -EPROTO },
		{ "REMOVE_BUFFER with an fd", rm, 0, 1, DMAPIPE_MSG_REMOVE_BUFFER, 1, -EBADMSG },
		/* FRAME */
		{ "FRAME pad nonzero", fr, FRAME_OFF(pad0), 1, 1, 0, -EPROTO },
		{ "FRAME unknown wire flag", fr, FRAME_OFF(flags), 4, 2, 0, -EPROTO },
		{ "FRAME fd without HAS_FENCE", fr, 0, 1, DMAPIPE_MSG_FRAME, 1, -EBADMSG },
		{ "FRAME HAS_FENCE without fd", frf, 0, 1, DMAPIPE_MSG_FRAME, -1, -EBADMSG },
		{ "FRAME HAS_FENCE with 2 fds", frf, 0, 1, DMAPIPE_MSG_FRAME, 1, -EBADMSG },
		/* RELEASE */
		{ "RELEASE unknown wire flag", rl, RELEASE_OFF(flags), 4, 0x80000000, 0, -EPROTO },
		{ "RELEASE fd without HAS_FENCE", rl, 0, 1, DMAPIPE_MSG_RELEASE, 1, -EBADMSG },
		{ "RELEASE 6 fds without HAS_FENCE", rl, 0, 1, DMAPIPE_MSG_RELEASE, 6, -EBADMSG },
		{ "RELEASE HAS_FENCE without fd", rlf, 0, 1, DMAPIPE_MSG_RELEASE, -1, -EBADMSG },
		/* RELEASES */
		{ "RELEASES count 0", rs, RELEASES_OFF(n_releases), 4, 0, 0, -EPROTO },
		{ "RELEASES count 65", rs, RELEASES_OFF(n_releases), 4, 65, 0, -EPROTO },
		{ "RELEASES count 4 with 3 entries", rs, RELEASES_OFF(n_releases), 4, 4, 0, -EPROTO },
		{ "RELEASES count 2 with 3 entries", rs, RELEASES_OFF(n_releases), 4, 2, 0, -EPROTO },
		{ "RELEASES count 0x80000001", rs, RELEASES_OFF(n_releases), 4, 0x80000001, 0, -EPROTO },
		{ "RELEASES pad nonzero", rs, RELEASES_OFF(pad0), 1, 1, 0, -EPROTO },
		{ "RELEASES entry HAS_FENCE in pad", rs, ENTRY_OFF(2, pad0), 4, 1, 0, -EPROTO },
		{ "RELEASES entry pad high bit", rs, ENTRY_OFF(0, pad0) + 3, 1, 0x80, 0, -EPROTO },
		{ "RELEASES with an fd", rs, 0, 1, DMAPIPE_MSG_RELEASES, 1, -EBADMSG },
		/* RING */
		{ "RING kind 0", rg, RING_OFF(kind), 4, 0, 0, -EPROTO },
		{ "RING kind 4", rg, RING_OFF(kind), 4, 4, 0, -EPROTO },
		{ "RING pad0 nonzero", rg, RING_OFF(pad0), 1, 1, 0, -EPROTO },
		{ "RING pad1 nonzero", wk, RING_OFF(pad1) + 3, 1, 0x80, 0, -EPROTO },
		{ "RING ring without its fd", rg, 0, 1, DMAPIPE_MSG_RING, -1, -EBADMSG },
		{ "RING ring with 2 fds", rg, 0, 1, DMAPIPE_MSG_RING, 1, -EBADMSG },
		{ "RING wake with an fd", wk, 0, 1, DMAPIPE_MSG_RING, 1, -EBADMSG },
		{ "RING wake with a capacity", wk, RING_OFF(capacity), 4, 2, 0, -EPROTO },
		{ "RING ring with capacity 0", rg, RING_OFF(capacity), 4, 0, 0, -EPROTO },
		/* EOS, ERROR, STATS_REQUEST */
		{ "EOS with an fd", eos, 0, 1, DMAPIPE_MSG_EOS, 1, -EBADMSG },
		{ "ERROR pad nonzero", err, ERROR_OFF(pad0), 1, 1, 0, -EPROTO },
		{ "ERROR message unterminated", err, ERROR_OFF(message) + 127, 1, 'm', 0, -EPROTO },
		{ "ERROR with an fd", err, 0, 1, DMAPIPE_MSG_ERROR, 1, -EBADMSG },
		{ "STATS_REQUEST with an fd", sreq, 0, 1, DMAPIPE_MSG_STATS_REQUEST, 1, -EBADMSG },
		/* STATS */
		{ "STATS n_records 33", st, STATS_OFF(n_records), 4, 33, 0, -EPROTO },
		{ "STATS n_records 0x80000002", st, STATS_OFF(n_records), 4, 0x80000002, 0, -EPROTO },
		{ "STATS n_records 3 with 2 records", st, STATS_OFF(n_records), 4, 3, 0, -EPROTO },
		{ "STATS n_records 1 with 2 records", st, STATS_OFF(n_records), 4, 1, 0, -EPROTO },
		{ "STATS pad nonzero", st, STATS_OFF(pad0), 1, 1, 0, -EPROTO },
		{ "STATS format pad nonzero", st, STATS_OFF(format.pad0), 1, 1, 0, -EPROTO },
		{ "STATS memory kind 3", st, STATS_OFF(mem_kind), 4, 3, 0, -EPROTO },
		{ "STATS allocator unterminated", st, STATS_OFF(allocator) + 15, 1, 'q', 0, -EPROTO },
		{ "STATS record policy 4", st, RECORD_OFF(1, policy), 4, 4, 0, -EPROTO },
		{ "STATS record name unterminated", st, RECORD_OFF(1, name) + 31, 1, 'q', 0, -EPROTO },
		{ "STATS with an fd", st, 0, 1, DMAPIPE_MSG_STATS, 1, -EBADMSG },
	};

	for (i = 0; i < ARRAY_LEN(list); i++)
		run_mutation(&list[i]);
	test_pass("malformed fields: padding, counts, enums, strings, fd counts");
}

/* More fds than any message can carry, as a hostile sender would attach. */
static void test_many_fds(void)
{
	struct sample samples[MAX_SAMPLES];
	unsigned int n = make_samples(samples);
	static int fds[253];

	for (unsigned int i = 0; i < ARRAY_LEN(fds); i++)
		fds[i] = FAKE_FD(i);
	for (unsigned int s = 0; s < n; s++) {
		unsigned char buf[DMAPIPE_PROTO_MAX_MSG];
		int efds[DMAPIPE_PROTO_MAX_FDS];
		unsigned int n_fds;
		int len = encode_ok(&samples[s].msg, buf, efds, &n_fds);

		expect_fail(samples[s].name, buf, (size_t)len, fds, ARRAY_LEN(fds), -EBADMSG);
		/* and a negative "fd" where one is expected */
		if (n_fds) {
			int bad[DMAPIPE_PROTO_MAX_FDS];

			for (unsigned int i = 0; i < n_fds; i++)
				bad[i] = FAKE_FD(i);
			bad[n_fds - 1] = -1;
			expect_fail(samples[s].name, buf, (size_t)len, bad, n_fds, -EBADMSG);
		}
	}
	printf("  every message with 253 fds attached -> -EBADMSG\n");
	test_pass("253 fds and negative fds");
}

/* A decoded message is canonical: bytes after a string's terminator and
 * the caller's previous contents never leak through. */
static void test_decoder_canonical(void)
{
	struct dmapipe_msg in = hello_msg(DMAPIPE_ROLE_CONSUMER, DMAPIPE_POLICY_LATEST), out;
	unsigned char buf[DMAPIPE_PROTO_MAX_MSG];
	int fds[DMAPIPE_PROTO_MAX_FDS];
	unsigned int n_fds;
	int len;

	strcpy(in.hello.name, "cam");
	len = encode_ok(&in, buf, fds, &n_fds);
	memset(buf + HELLO_OFF(name) + 4, 'J', 20); /* junk after the NUL */
	memset(&out, 0x5a, sizeof(out));
	check_int_eq(dmapipe_proto_decode(buf, (size_t)len, NULL, 0, &out, NULL), 0);
	check(strcmp(out.hello.name, "cam") == 0);
	for (size_t i = 3; i < sizeof(out.hello.name); i++)
		check(out.hello.name[i] == 0);

	/* format.reserved and meta.reserved come out zero */
	in = add_buffer_msg(1, 1);
	in.add_buffer.layout.format.reserved = 0x1234;
	len = encode_ok(&in, buf, fds, &n_fds);
	memset(&out, 0x5a, sizeof(out));
	check_int_eq(dmapipe_proto_decode(buf, (size_t)len, fds, n_fds, &out, NULL), 0);
	check_int_eq(out.add_buffer.layout.format.reserved, 0);
	for (unsigned int i = 1; i < DMAPIPE_MAX_OBJECTS; i++)
		check_int_eq(out.add_buffer.layout.objects[i].fd, -1);
	test_pass("decoded messages are canonical");
}

static void test_type_names(void)
{
	check(strcmp(dmapipe_msg_type_to_string(DMAPIPE_MSG_HELLO), "HELLO") == 0);
	check(strcmp(dmapipe_msg_type_to_string(DMAPIPE_MSG_ADD_BUFFER), "ADD_BUFFER") == 0);
	check(strcmp(dmapipe_msg_type_to_string(DMAPIPE_MSG_STATS_REQUEST), "STATS_REQUEST") == 0);
	check(strcmp(dmapipe_msg_type_to_string(DMAPIPE_MSG_STATS), "STATS") == 0);
	check(strcmp(dmapipe_msg_type_to_string(0), "UNKNOWN") == 0);
	check(strcmp(dmapipe_msg_type_to_string(DMAPIPE_MSG_RELEASES), "RELEASES") == 0);
	check(strcmp(dmapipe_msg_type_to_string(DMAPIPE_MSG_KEEPALIVE), "KEEPALIVE") == 0);
	check(strcmp(dmapipe_msg_type_to_string(DMAPIPE_MSG_FORMAT_INFO), "FORMAT_INFO") == 0);
	check(strcmp(dmapipe_msg_type_to_string(DMAPIPE_MSG_CONSTRAINTS), "CONSTRAINTS") == 0);
	check(strcmp(dmapipe_msg_type_to_string(DMAPIPE_MSG_RING), "RING") == 0);
	check(strcmp(dmapipe_msg_type_to_string(16), "UNKNOWN") == 0);
	check(strcmp(dmapipe_msg_type_to_string(0xffffffff), "UNKNOWN") == 0);
	test_pass("message type names");
}

/* Every reason code has its own name, as docs/PROTOCOL.md section 7 lists them. */
static void test_error_names(void)
{
	static const char *const names[] = {
		"none", "protocol", "version", "permission", "bad-fd", "bad-layout",
		"fd-quota", "lease-timeout", "too-many-consumers", "shutdown", "strict",
		"internal", "lease-revoked", "constraints-unmet",
	};
	char buf[DMAPIPE_ERROR_NAME_LEN];

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		check_msg(strcmp(dmapipe_error_code_to_string(i), names[i]) == 0, "code %u: %s", i,
			  dmapipe_error_code_to_string(i));
		check(strcmp(dmapipe_error_code_name(i, buf, sizeof(buf)), names[i]) == 0);
	}
	check(strcmp(dmapipe_error_code_to_string(sizeof(names) / sizeof(names[0])), "unknown") == 0);
	check(strcmp(dmapipe_error_code_to_string(0x7fffffff), "unknown") == 0);
	/* a newer peer's code is reported with its number (PROTOCOL.md section 7) */
	check(strcmp(dmapipe_error_code_name(99, buf, sizeof(buf)), "unknown error 99") == 0);
	check(strcmp(dmapipe_error_code_name(0xffffffff, buf, sizeof(buf)),
		     "unknown error 4294967295") == 0);
	test_pass("error code names");
}

int main(void)
{
	test_round_trips();
	test_fd_placement();
	test_golden_bytes();
	test_encoder_strings();
	test_encoder_validation();
	test_truncated_and_oversized();
	test_unknown_types();
	test_mutations();
	test_many_fds();
	test_decoder_canonical();
	test_type_names();
	test_error_names();
	printf("%u malformed inputs refused\n", n_tried);
	return 0;
}
