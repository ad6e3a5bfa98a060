/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Writes the seed corpus of fuzz-proto into the directory given as argv[1]:
 * one valid datagram of every message type (with its fd count as the first
 * byte, see fuzz-proto.c) and a few near misses. Run once; the output is
 * kept in tests/fuzz/corpus/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/proto.h"
#include "stream/ring.h"

static const char *out_dir;

static void write_seed(const char *name, uint8_t n_fds, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, name);
	f = fopen(path, "wb");
	if (!f || fputc(n_fds, f) == EOF || fwrite(data, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "gen-corpus: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* Encodes @m and writes it; @edit, if not NULL, changes the datagram first
 * (for near misses) and @fd_delta changes the attached fd count. */
static void seed(const char *name, const struct dmapipe_msg *m,
		 void (*edit)(uint8_t *buf, int *len), int fd_delta)
{
	uint8_t buf[DMAPIPE_PROTO_MAX_MSG + 64];
	int fds[DMAPIPE_PROTO_MAX_FDS];
	unsigned int n_fds;
	int len = dmapipe_proto_encode(m, buf, DMAPIPE_PROTO_MAX_MSG, fds, &n_fds);

	if (len < 0) {
		fprintf(stderr, "gen-corpus: %s: encode failed: %d\n", name, len);
		exit(1);
	}
	if (edit)
		edit(buf, &len);
	write_seed(name, (uint8_t)((int)n_fds + fd_delta), buf, (size_t)len);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void cut_in_half(uint8_t *buf, int *len)
{
	*len /= 2;
	le32(buf + 4, (uint32_t)*len);
}

static void bad_magic(uint8_t *buf, int *len)
{
	buf[8] ^= 0x20;
}

static void min_above_version(uint8_t *buf, int *len)
{
	buf[14] = 2; /* min_version */
}

static void unknown_wire_flag(uint8_t *buf, int *len)
{
	buf[8 + 4] |= 2; /* FRAME/RELEASE flags: only HAS_FENCE is defined */
}

static void plane_missing_object(uint8_t *buf, int *len)
{
	le32(buf + 8 + 104, 3); /* planes[0].object */
}

static void stats_one_record_too_many(uint8_t *buf, int *len)
{
	le32(buf + 8 + 112, 2); /* n_records */
}

static void format_info_den_zero(uint8_t *buf, int *len)
{
	le32(buf + 8 + 4, 0); /* fps_den */
}

static void format_info_matrix_unknown(uint8_t *buf, int *len)
{
	le32(buf + 8 + 16, 0x7f); /* matrix */
}

static void constraints_align_3(uint8_t *buf, int *len)
{
	le32(buf + 8 + 16, 3); /* stride_align[0] */
}

static void constraints_device_unterminated(uint8_t *buf, int *len)
{
	memset(buf + 8 + 144, 'd', DMAPIPE_CONSTRAINTS_DEVICE_LEN);
}

static void constraints_formats_9(uint8_t *buf, int *len)
{
	le32(buf + 8 + 8, 9); /* n_formats */
}

static void releases_count_too_big(uint8_t *buf, int *len)
{
	le32(buf + 8, 3); /* n_releases: one more than the entries that follow */
}

static void releases_count_zero(uint8_t *buf, int *len)
{
	le32(buf + 8, 0);
	*len = 16;
	le32(buf + 4, 16);
}

static void releases_entry_padding(uint8_t *buf, int *len)
{
	buf[16 + 16 + 4] = 1; /* the second entry's pad0, where RELEASE has flags */
}

static void unterminated_error(uint8_t *buf, int *len)
{
	memset(buf + 16, 'u', DMAPIPE_PROTO_ERROR_LEN);
}

static void unterminated_name(uint8_t *buf, int *len)
{
	memset(buf + 48, 'n', DMAPIPE_PROTO_NAME_LEN); /* HELLO name */
}

static void zero_msg(struct dmapipe_msg *m, enum dmapipe_msg_type type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
}

/* fuzz-ring's input: head, tail, kind and capacity, then the slots */
static void ring_seed(const char *name, uint64_t head, uint64_t tail, uint8_t shape,
		      const void *slots, size_t len)
{
	uint8_t buf[17 + 4 * 64];

	memcpy(buf, &head, 8);
	memcpy(buf + 8, &tail, 8);
	buf[16] = shape;
	memcpy(buf + 17, slots, len);
	write_seed(name, buf[0], buf + 1, 16 + len);
}

static int ring_seeds(void)
{
	struct dmapipe_ring_wire_frame frames[2] = {
		{ .buffer_id = 1, .frame_flags = 1, .sequence = 7, .timestamp_ns = 5, .socket_msgs = 4 },
		{ .buffer_id = 2, .sequence = 8, .socket_msgs = 5, .bytes_used = { 1, 2, 3, 4 } },
	};
	struct dmapipe_ring_wire_release releases[3] = {
		{ .buffer_id = 1, .sequence = 7 },
		{ .buffer_id = 2, .pad0 = 1, .sequence = 8 },
		{ .buffer_id = 3, .sequence = 9 },
	};

	/* shape: bit 0 releases, bits 1..3 the capacity 2 << n */
	ring_seed("frames-2-of-2", 2, 0, 0, frames, sizeof(frames));
	ring_seed("frames-wrapped", UINT64_C(1), UINT64_MAX, 0, frames, sizeof(frames));
	ring_seed("frames-past-end", 3, 0, 0, frames, sizeof(frames));
	ring_seed("frames-backwards", 0, 1, 0, frames, sizeof(frames));
	ring_seed("releases-3-of-4", 3, 0, 1 | 2, releases, sizeof(releases));
	ring_seed("releases-past-end", 100, 0, 1 | 2, releases, sizeof(releases));
	ring_seed("releases-256", UINT64_C(1) << 40, (UINT64_C(1) << 40) - 256, 1 | 14,
		  releases, sizeof(releases));
	return 0;
}

int main(int argc, char **argv)
{
	struct dmapipe_msg m;
	struct dmapipe_layout *l;

	if (argc == 3 && strcmp(argv[1], "--ring") == 0) {
		out_dir = argv[2];
		return ring_seeds();
	}
	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTPUT-DIR | --ring RING-OUTPUT-DIR\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];

	zero_msg(&m, DMAPIPE_MSG_HELLO);
	m.hello.version = 1;
	m.hello.min_version = 1;
	m.hello.role = DMAPIPE_ROLE_CONSUMER;
	m.hello.features = DMAPIPE_FEATURES_ALL;
	m.hello.policy = DMAPIPE_POLICY_QUEUE;
	m.hello.queue_depth = 4;
	m.hello.max_in_flight = 2;
	strcpy(m.hello.name, "gst-consumer");
	seed("hello-consumer", &m, NULL, 0);
	seed("hello-bad-magic", &m, bad_magic, 0);
	seed("hello-min-above-version", &m, min_above_version, 0);
	seed("hello-truncated", &m, cut_in_half, 0);
	seed("hello-name-unterminated", &m, unterminated_name, 0);
	m.hello.role = DMAPIPE_ROLE_PRODUCER;
	m.hello.policy = DMAPIPE_POLICY_LATEST;
	m.hello.lease_timeout_ms = 5000;
	strcpy(m.hello.name, "camera0");
	seed("hello-producer", &m, NULL, 0);
	/* a grant as large as the slots: a recorder's seconds of frames */
	m.hello.max_in_flight = 256;
	seed("hello-producer-in-flight-256", &m, NULL, 0);
	m.hello.max_in_flight = 2;
	m.hello.role = DMAPIPE_ROLE_MONITOR;
	m.hello.policy = 0;
	m.hello.version = 3;
	memset(m.hello.name, 'm', DMAPIPE_PROTO_NAME_LEN - 1);
	seed("hello-monitor-v3", &m, NULL, 0);

	zero_msg(&m, DMAPIPE_MSG_FORMAT);
	m.format = (struct dmapipe_format){ 0x3231564e, 1920, 1080, 0, 0 };
	seed("format-nv12", &m, NULL, 0);

	zero_msg(&m, DMAPIPE_MSG_FORMAT_INFO);
	m.format_info = (struct dmapipe_format_info){
		.fps_num = 30000, .fps_den = 1001, .par_num = 1, .par_den = 1,
		.matrix = DMAPIPE_MATRIX_BT709, .transfer = DMAPIPE_TRANSFER_BT709,
		.primaries = DMAPIPE_PRIMARIES_BT709, .range = DMAPIPE_RANGE_LIMITED,
		.chroma_site = DMAPIPE_CHROMA_SITE_MPEG2, .interlace = DMAPIPE_INTERLACE_PROGRESSIVE,
	};
	seed("format-info-ntsc-bt709", &m, NULL, 0);
	seed("format-info-unexpected-fd", &m, NULL, 1);
	seed("format-info-rate-den-zero", &m, format_info_den_zero, 0);
	seed("format-info-matrix-unknown", &m, format_info_matrix_unknown, 0);
	m.format_info.interlace = DMAPIPE_INTERLACE_INTERLEAVED;
	m.format_info.field_order = DMAPIPE_FIELD_ORDER_TOP_FIRST;
	seed("format-info-interlaced-tff", &m, NULL, 0);
	dmapipe_format_info_init(&m.format_info);
	seed("format-info-unknown", &m, NULL, 0);

	zero_msg(&m, DMAPIPE_MSG_CONSTRAINTS);
	seed("constraints-none", &m, NULL, 0);
	m.constraints.stride_align[0] = 64;
	m.constraints.stride_align[1] = 64;
	m.constraints.min_buffers = 4;
	m.constraints.n_formats = 1;
	m.constraints.formats[0] = 0x3231564e;
	strcpy(m.constraints.import_device, "/dev/video1");
	seed("constraints-encoder", &m, NULL, 0);
	seed("constraints-unexpected-fd", &m, NULL, 1);
	seed("constraints-align-not-power", &m, constraints_align_3, 0);
	seed("constraints-device-unterminated", &m, constraints_device_unterminated, 0);
	seed("constraints-formats-too-many", &m, constraints_formats_9, 0);
	m.constraints.flags = DMAPIPE_CONSTRAINT_ALLOW_COPY;
	m.constraints.n_modifiers = 2;
	m.constraints.modifiers[0] = 0;
	m.constraints.modifiers[1] = UINT64_C(0x0100000000000001);
	seed("constraints-copy-modifiers", &m, NULL, 0);

	zero_msg(&m, DMAPIPE_MSG_ADD_BUFFER);
	m.add_buffer.buffer_id = 1;
	l = &m.add_buffer.layout;
	l->format = (struct dmapipe_format){ 0x3231564e, 1920, 1080, 0, 0 };
	l->n_objects = 1;
	l->n_planes = 2;
	l->objects[0] = (struct dmapipe_object){ .fd = 3, .kind = DMAPIPE_MEM_DMABUF,
						 .size = 3112960 };
	l->planes[0] = (struct dmapipe_plane){ 0, 1920, 0 };
	l->planes[1] = (struct dmapipe_plane){ 0, 1920, 2073600 };
	for (int i = 1; i < DMAPIPE_MAX_OBJECTS; i++)
		l->objects[i].fd = -1;
	seed("add-buffer-nv12", &m, NULL, 0);
	seed("add-buffer-fd-missing", &m, NULL, -1);
	seed("add-buffer-fd-extra", &m, NULL, 1);
	seed("add-buffer-plane-missing-object", &m, plane_missing_object, 0);
	l->n_objects = 4;
	l->n_planes = 4;
	for (int i = 0; i < 4; i++) {
		l->objects[i] = (struct dmapipe_object){ .fd = 3 + i, .size = 4096 << i,
			.kind = i % 2 ? DMAPIPE_MEM_MEMFD : DMAPIPE_MEM_DMABUF };
		l->planes[i] = (struct dmapipe_plane){ (uint32_t)(3 - i), 64, 64u * i };
	}
	seed("add-buffer-4x4", &m, NULL, 0);

	zero_msg(&m, DMAPIPE_MSG_REMOVE_BUFFER);
	m.remove_buffer_id = 1;
	seed("remove-buffer", &m, NULL, 0);

	zero_msg(&m, DMAPIPE_MSG_FRAME);
	m.frame.buffer_id = 1;
	m.frame.meta.sequence = 42;
	m.frame.meta.timestamp_ns = 1000000000;
	m.frame.meta.flags = DMAPIPE_FRAME_KEYFRAME;
	m.frame.meta.acquire_fence = -1;
	seed("frame", &m, NULL, 0);
	seed("frame-unexpected-fd", &m, NULL, 1);
	m.frame.meta.acquire_fence = 5;
	m.frame.meta.bytes_used[0] = 2073600;
	m.frame.meta.bytes_used[1] = 1036800;
	seed("frame-fence", &m, NULL, 0);
	seed("frame-fence-missing", &m, NULL, -1);

	zero_msg(&m, DMAPIPE_MSG_RELEASE);
	m.release.buffer_id = 1;
	m.release.sequence = 42;
	m.release.release_fence = -1;
	seed("release", &m, NULL, 0);
	m.release.release_fence = 4;
	seed("release-fence", &m, NULL, 0);
	seed("release-unknown-flag", &m, unknown_wire_flag, 0);

	zero_msg(&m, DMAPIPE_MSG_EOS);
	m.eos_last_sequence = 42;
	seed("eos", &m, NULL, 0);

	zero_msg(&m, DMAPIPE_MSG_ERROR);
	m.error.code = DMAPIPE_ERR_VERSION;
	strcpy(m.error.message, "protocol version 1..1 does not overlap 2..3");
	seed("error-version", &m, NULL, 0);
	seed("error-unterminated", &m, unterminated_error, 0);
	/* the producer's safety net under the lease budget (PROTOCOL.md, Resources) */
	m.error.code = DMAPIPE_ERR_LEASE_REVOKED;
	strcpy(m.error.message, "the producer needs a buffer and this consumer held the oldest");
	seed("error-lease-revoked", &m, NULL, 0);
	/* a code from a newer peer: decoded as it is, reported by number */
	m.error.code = 99;
	strcpy(m.error.message, "a reason from the future");
	seed("error-unknown-code", &m, NULL, 0);

	zero_msg(&m, DMAPIPE_MSG_STATS_REQUEST);
	seed("stats-request", &m, NULL, 0);

	zero_msg(&m, DMAPIPE_MSG_KEEPALIVE);
	seed("keepalive", &m, NULL, 0);
	seed("keepalive-unexpected-fd", &m, NULL, 1);

	zero_msg(&m, DMAPIPE_MSG_STATS);
	m.stats.server.frames_queued = 1000;
	m.stats.server.consumers = 1;
	m.stats.server.buffers = 4;
	m.stats.server.mem_kind = DMAPIPE_MEM_DMABUF;
	strcpy(m.stats.server.allocator, "heap");
	m.stats.n_consumers = 1;
	m.stats.consumers[0].id = 1;
	m.stats.consumers[0].pid = 1234;
	m.stats.consumers[0].policy = DMAPIPE_POLICY_LATEST;
	m.stats.consumers[0].state = 1;
	strcpy(m.stats.consumers[0].name, "viewer");
	seed("stats-1", &m, NULL, 0);
	seed("stats-records-mismatch", &m, stats_one_record_too_many, 0);
	m.stats.n_consumers = 3;
	m.stats.consumers[2].policy = DMAPIPE_POLICY_BLOCK;
	seed("stats-3", &m, NULL, 0);
	m.stats.n_consumers = DMAPIPE_PROTO_MAX_STATS;
	for (int i = 0; i < DMAPIPE_PROTO_MAX_STATS; i++) {
		m.stats.consumers[i].id = (uint32_t)i;
		m.stats.consumers[i].policy = DMAPIPE_POLICY_QUEUE;
		memset(m.stats.consumers[i].name, 'c', sizeof(m.stats.consumers[i].name) - 1);
	}
	seed("stats-32", &m, NULL, 0);

	zero_msg(&m, DMAPIPE_MSG_RELEASES);
	m.releases.n_releases = 2;
	m.releases.releases[0].buffer_id = 3;
	m.releases.releases[0].sequence = 41;
	m.releases.releases[1].buffer_id = 0;
	m.releases.releases[1].sequence = 42;
	seed("releases-2", &m, NULL, 0);
	seed("releases-count-mismatch", &m, releases_count_too_big, 0);
	seed("releases-count-zero", &m, releases_count_zero, 0);
	seed("releases-entry-padding", &m, releases_entry_padding, 0);
	seed("releases-unexpected-fd", &m, NULL, 1);
	m.releases.n_releases = DMAPIPE_PROTO_MAX_RELEASES;
	for (int i = 0; i < DMAPIPE_PROTO_MAX_RELEASES; i++) {
		m.releases.releases[i].buffer_id = (uint32_t)i;
		m.releases.releases[i].sequence = 1000 + (uint64_t)i;
	}
	seed("releases-64", &m, NULL, 0);

	zero_msg(&m, DMAPIPE_MSG_RING);
	m.ring.kind = DMAPIPE_RING_MSG_FRAMES;
	m.ring.capacity = 2;
	seed("ring-frames", &m, NULL, 0);
	seed("ring-frames-no-fd", &m, NULL, -1);
	m.ring.kind = DMAPIPE_RING_MSG_RELEASES;
	m.ring.capacity = 256;
	seed("ring-releases", &m, NULL, 0);
	zero_msg(&m, DMAPIPE_MSG_RING);
	m.ring.kind = DMAPIPE_RING_MSG_WAKE;
	m.ring.fd = -1;
	seed("ring-wake", &m, NULL, 0);
	seed("ring-wake-with-fd", &m, NULL, 1);

	/* one byte over the largest datagram the protocol allows */
	{
		static uint8_t big[DMAPIPE_PROTO_MAX_MSG + 1];

		le32(big, DMAPIPE_MSG_STATS);
		le32(big + 4, sizeof(big));
		write_seed("oversized", 0, big, sizeof(big));
	}
	return 0;
}
