/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A consumer's import_device choosing the producer's allocator
 * (docs/PROTOCOL.md section 13, rule 7), in one process: names under
 * /dev/dri that are not DRM nodes are refused, other devices are the
 * consumer's to try, and a DRM node makes the next generation come from
 * the drm allocator, or, where none works here (no vgem: the host), gets
 * the consumer refused with the reason unless it copies. Both outcomes are
 * checked against what dmapipe_allocator_new("drm") says of this machine;
 * the VM lane runs it with vgem.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "dmapipe/dmapipe.h"
#include "testlib.h"

static char *dir;
static struct dmapipe_allocator *allocator;
static bool have_drm;

static const struct dmapipe_format fmt_nv12 = {
	.fourcc = 0x3231564e, /* NV12 */
	.width = 320,
	.height = 240,
	.modifier = DMAPIPE_MOD_LINEAR,
};

static struct dmapipe_server *server_new(const char *path, bool buffers)
{
	struct dmapipe_server_options o;
	struct dmapipe_server *s;

	dmapipe_server_options_init(&o);
	o.path = path;
	o.lease_timeout_ms = 0;
	o.producer_name = "test";
	s = dmapipe_server_new(&o);
	check_msg(s, "server on %s: %s", path, strerror(errno));
	if (buffers)
		check_int_eq(dmapipe_server_alloc_buffers(s, allocator, &fmt_nv12, 3), 0);
	return s;
}

static struct dmapipe_client *client_new(const char *path, const char *device, uint32_t flags)
{
	struct dmapipe_client_options o;
	struct dmapipe_constraints cons;
	struct dmapipe_client *c;

	dmapipe_constraints_init(&cons);
	cons.flags = flags;
	check(strlen(device) < sizeof(cons.import_device));
	strcpy(cons.import_device, device);
	dmapipe_client_options_init(&o);
	o.path = path;
	o.policy = DMAPIPE_POLICY_QUEUE;
	o.queue_depth = 4;
	o.map_buffers = true;
	o.name = device;
	o.constraints = &cons;
	c = dmapipe_client_new(&o);
	check_msg(c, "client on %s: %s", path, strerror(errno));
	return c;
}

static void server_allocator(struct dmapipe_server *s, char *name, size_t len)
{
	struct dmapipe_server_stats st;

	dmapipe_server_get_stats(s, &st);
	snprintf(name, len, "%s", st.allocator);
}

/* One frame through: drawn by the producer, checked by every client. */
static void frame_through(struct dmapipe_server *s, struct dmapipe_client **c, int n,
			  uint64_t seq)
{
	struct dmapipe_frame_meta meta;
	struct dmapipe_buffer *b = dmapipe_server_dequeue(s);

	check_msg(b, "dequeue: %s", strerror(errno));
	check_int_eq(dmapipe_buffer_draw_pattern(b, seq), 0);
	dmapipe_frame_meta_init(&meta);
	meta.sequence = seq;
	check(dmapipe_server_queue(s, b, &meta) >= 0);
	for (int i = 0; i < n; i++) {
		struct dmapipe_frame *f = NULL;

		for (int tries = 0; !f && tries < 200; tries++) {
			dmapipe_server_dispatch(s, 5);
			f = dmapipe_client_wait_frame(c[i], 5);
		}
		check_msg(f, "client %d got no frame %llu", i, (unsigned long long)seq);
		check_int_eq(f->meta.sequence, seq);
		check_int_eq(dmapipe_buffer_check_pattern(f->buffer, seq), 0);
		if (have_drm && i == 0)
			check_int_eq(dmapipe_buffer_get_mem_kind(f->buffer), DMAPIPE_MEM_DMABUF);
		check_int_eq(dmapipe_client_release_frame(c[i], f, -1), 0);
	}
	test_pump(s, c, n);
}

/* Names under /dev/dri that are not a node: refused, nothing changes. */
static void test_bad_names(void)
{
	static const char *const bad[] = {
		"/dev/dri/../sda", "/dev/dri/card", "/dev/dri/card01", "/dev/dri/renderD12345",
		"/dev/dri/by-path/pci-0000:00:02.0-card", "/dev/dri/card0/", "/dev/dri/card-1",
		"/dev/dri/renderD128/../../sda", "/dev/dri/", "/dev/dri/card 0",
	};
	char *path = test_path(dir, "bad");
	struct dmapipe_server *s = server_new(path, true);
	char before[16], after[16];

	server_allocator(s, before, sizeof(before));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dmapipe_client *c = client_new(path, bad[i], DMAPIPE_CONSTRAINT_ALLOW_COPY);
		const char *msg = NULL;

		test_pump(s, &c, 1);
		check_msg(dmapipe_client_get_error(c, &msg) == DMAPIPE_ERR_CONSTRAINTS,
			  "%s was not refused", bad[i]);
		check_msg(strstr(msg, "is not a DRM node name"), "%s: %s", bad[i], msg);
		dmapipe_client_free(c);
	}
	server_allocator(s, after, sizeof(after));
	check_msg(strcmp(before, after) == 0, "allocator %s became %s", before, after);
	dmapipe_server_free(s);
	free(path);
	test_pass("import_device under /dev/dri but not a node name: refused, even with "
		  "ALLOW_COPY, the pool unchanged");
}

/* "cpu" and devices outside /dev/dri: the consumer's to try; the pool stays. */
static void test_other_devices(void)
{
	char *path = test_path(dir, "other");
	struct dmapipe_server *s = server_new(path, true);
	struct dmapipe_client *c[3] = {
		client_new(path, "cpu", 0), client_new(path, "/dev/sda", 0),
		client_new(path, "/dev/../dev/dri/card0", 0),
	};
	char before[16], after[16];

	server_allocator(s, before, sizeof(before));
	test_pump(s, c, 3);
	for (int i = 0; i < 3; i++)
		check_int_eq(dmapipe_client_get_state(c[i]), DMAPIPE_CLIENT_STREAMING);
	frame_through(s, c, 3, 1);
	server_allocator(s, after, sizeof(after));
	check_msg(strcmp(before, after) == 0, "allocator %s became %s", before, after);
	for (int i = 0; i < 3; i++)
		dmapipe_client_free(c[i]);
	dmapipe_server_free(s);
	free(path);
	test_pass("import_device cpu, /dev/sda, a path not spelled /dev/dri/: streamed, "
		  "the pool unchanged");
}

/*
 * A DRM node: a generation from the drm allocator that a "cpu" consumer
 * streaming since before keeps up with, or a refusal with the reason
 * where there is no drm allocator (and a copy for one that allows it).
 */
static void test_drm_node(bool buffers_first)
{
	char *path = test_path(dir, buffers_first ? "drm" : "drm-late");
	struct dmapipe_server *s = server_new(path, buffers_first);
	struct dmapipe_client *c[2] = { client_new(path, "/dev/dri/card99", 0),
					client_new(path, "cpu", 0) };
	struct dmapipe_server_stats st;
	const char *msg = NULL;
	char name[16];

	test_pump(s, c, 2);
	if (!buffers_first) {
		check_int_eq(dmapipe_server_alloc_buffers(s, allocator, &fmt_nv12, 3), 0);
		test_pump(s, c, 2);
	}
	server_allocator(s, name, sizeof(name));
	if (have_drm) {
		check_msg(strcmp(name, "drm") == 0, "allocator %s, not drm", name);
		check_int_eq(dmapipe_client_get_state(c[0]), DMAPIPE_CLIENT_STREAMING);
		for (uint64_t seq = 1; seq <= 4; seq++)
			frame_through(s, c, 2, seq);
		dmapipe_server_get_stats(s, &st);
		check_int_eq(st.bytes_copied, 0);
		check_int_eq(st.consumers_refused, 0);
	} else {
		check_int_eq(dmapipe_client_get_error(c[0], &msg), DMAPIPE_ERR_CONSTRAINTS);
		check_msg(strstr(msg, "cannot allocate buffers of a DRM device"), "%s", msg);
		check_msg(strcmp(name, "drm") != 0, "allocator drm without a drm allocator");
		dmapipe_client_free(c[0]);
		/* one that copies keeps getting the buffers there are */
		c[0] = client_new(path, "/dev/dri/renderD128", DMAPIPE_CONSTRAINT_ALLOW_COPY);
		test_pump(s, c, 2);
		check_int_eq(dmapipe_client_get_state(c[0]), DMAPIPE_CLIENT_STREAMING);
		frame_through(s, c, 2, 1);
	}
	check_int_eq(dmapipe_client_get_state(c[1]), DMAPIPE_CLIENT_STREAMING);
	for (int i = 0; i < 2; i++)
		dmapipe_client_free(c[i]);
	dmapipe_server_free(s);
	free(path);
	if (have_drm)
		test_pass(buffers_first ? "a DRM node: a new generation from drm, both consumers "
					  "verified, 0 bytes copied" :
					  "a DRM node before any buffer: the pool made from drm");
	else
		test_pass(buffers_first ? "a DRM node, no drm allocator: refused with the reason, "
					  "streamed with ALLOW_COPY" :
					  "a DRM node before any buffer, no drm allocator: refused "
					  "when the buffers came");
}

int main(void)
{
	struct dmapipe_allocator *drm;
	int fds_start;

	allocator = dmapipe_allocator_new_default();
	check_msg(allocator, "no allocator at all: %s", strerror(errno));
	if (strcmp(dmapipe_allocator_get_name(allocator), "drm") == 0)
		test_skip("the default allocator is drm already: nothing to choose");
	drm = dmapipe_allocator_new("drm");
	have_drm = drm != NULL;
	dmapipe_allocator_unref(drm);
	printf("allocator: %s; drm allocator %s\n", dmapipe_allocator_get_name(allocator),
	       have_drm ? "available" : "unavailable");
	dir = test_make_dir("import-device");
	fds_start = test_count_fds();

	test_bad_names();
	test_other_devices();
	test_drm_node(true);
	test_drm_node(false);

	check_msg(test_count_fds() == fds_start, "fd leak: %d open at start, %d at end", fds_start,
		  test_count_fds());
	dmapipe_allocator_unref(allocator);
	test_rmdir_all(dir);
	free(dir);
	return 0;
}
