/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * V4L2 capture sources (lib/devices/capture*.c, device-watch.c) on real drivers.
 *
 *   test-v4l2-source args      bad input: a missing node, /dev/null, a
 *                              regular file, vivid's output node, a format
 *                              the device does not offer, bad options
 *   test-v4l2-source vivid     vivid's single-planar (YUYV, NV12) and
 *                              multi-planar (NV12M, two objects) devices in
 *                              export and import mode, attached to a server:
 *                              a consumer process hashes every frame it
 *                              receives and the producer hashes the same
 *                              buffer through the device-side mapping while
 *                              the consumer still holds it; 0 bytes copied
 *   test-v4l2-source fallback  import asked with an allocator V4L2 cannot
 *                              import from: export instead, with the log line
 *   test-v4l2-source hotplug   vivid unbound while streaming to a consumer:
 *                              -ENODEV, no fd left behind (device node or
 *                              dma-buf) once the consumer let go; bound again:
 *                              found by the watch, served again
 *   test-v4l2-source import-swap  vivid in import mode, attached: a consumer
 *                              importing into vgem's node makes the source
 *                              replace each buffer by one of the drm
 *                              allocator as it comes back, at the same
 *                              V4L2 index, without STREAMOFF; a first
 *                              consumer gets every frame meanwhile; one
 *                              asking a stride the device does not give is
 *                              refused with the reason
 *   test-v4l2-source vcap      dmapipe_vcap in export and import mode, every
 *                              frame verified bit for bit against the
 *                              pattern; the drop control: gaps counted and
 *                              flagged exactly as the rule says
 *
 * Needs the drivers (the VM lane loads them): exits 77 without them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/videodev2.h>

#include "config.h"

#include "../kernel/uapi/dmapipe.h"
#include "private.h"
#include "testlib.h"

#define VIVID_DRIVER "/sys/bus/platform/drivers/vivid"

/* ---- helpers ------------------------------------------------------------------- */

static char log_text[16384];
static size_t log_len;

static void capture_log(enum dmapipe_log_priority prio, const char *fmt, va_list ap, void *data)
{
	char line[1024];
	int n;

	(void)data;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "[lib %d] %s\n", (int)prio, line);
	if (n > 0 && log_len + (size_t)n + 2 < sizeof(log_text)) {
		memcpy(log_text + log_len, line, (size_t)n);
		log_len += (size_t)n;
		log_text[log_len++] = '\n';
		log_text[log_len] = '\0';
	}
}

static void log_reset(void)
{
	log_len = 0;
	log_text[0] = '\0';
}

/* The /dev node whose sysfs name is @name, or false. */
static bool find_node(const char *name, char *node, size_t len)
{
	DIR *d = opendir("/sys/class/video4linux");
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		char path[512], buf[64] = "";
		FILE *f;

		if (strncmp(e->d_name, "video", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/class/video4linux/%s/name", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
		if (strcmp(buf, name) == 0) {
			snprintf(node, len, "/dev/%s", e->d_name);
			found = true;
		}
	}
	closedir(d);
	return found;
}

static void node_or_skip(const char *name, char *node, size_t len, const char *why)
{
	if (!find_node(name, node, len))
		test_skip("no %s node (%s)", name, why);
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

/* Open fds of this process that are V4L2 nodes or dma-bufs. */
static void count_device_fds(int *video, int *dmabufs)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	*video = *dmabufs = 0;
	check(d);
	while ((e = readdir(d))) {
		char path[300], target[256];
		ssize_t n;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		if (fd == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, "/dev/video", 10) == 0)
			(*video)++;
		if (dmapipe_fd_is_dmabuf(fd))
			(*dmabufs)++;
	}
	closedir(d);
}

/* FNV-1a over the pixel rows of every plane (not the stride padding) */
static uint64_t hash_frame(struct dmapipe_buffer *b)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(b);
	uint64_t h = 0xcbf29ce484222325ull;

	check(dmapipe_buffer_begin_cpu_access(b, DMAPIPE_ACCESS_READ) == 0);
	for (unsigned int p = 0; p < l->n_planes; p++) {
		uint8_t *base = dmapipe_buffer_map_plane(b, p);
		uint64_t row_bytes;
		uint32_t rows;

		check_msg(base, "map plane %u: %s", p, strerror(errno));
		check(dmapipe_format_plane_geometry(l->format.fourcc, l->format.width,
						    l->format.height, p, &row_bytes, &rows) == 0);
		for (uint32_t y = 0; y < rows; y++) {
			const uint8_t *row = base + (uint64_t)y * l->planes[p].stride;

			for (uint64_t x = 0; x < row_bytes; x++) {
				h ^= row[x];
				h *= 0x100000001b3ull;
			}
		}
	}
	dmapipe_buffer_end_cpu_access(b, DMAPIPE_ACCESS_READ);
	return h;
}

static struct dmapipe_v4l2_source *open_source(const char *node, uint32_t fourcc,
					       uint32_t v4l2_fmt, enum dmapipe_v4l2_io io,
					       bool direct_io)
{
	struct dmapipe_v4l2_options o;
	struct dmapipe_v4l2_source *s;

	dmapipe_v4l2_options_init(&o);
	o.device = node;
	o.fourcc = fourcc;
	o.v4l2_pixelformat = v4l2_fmt;
	o.width = 640;
	o.height = 360;
	/* <= 10 fps: an emulated guest must keep up with vivid (see test-v4l2-expbuf.c) */
	o.fps_num = 10;
	o.fps_den = 1;
	o.io = io;
	o.direct_io = direct_io;
	s = dmapipe_v4l2_source_new(&o);
	check_msg(s, "open %s: %s", node, strerror(errno));
	return s;
}

/* ---- a consumer in another process ----------------------------------------------- */

struct report {
	uint32_t buffer_id;
	uint32_t flags;
	uint64_t sequence;
	uint64_t hash;
};

/*
 * Receives @frames frames; for each, tells the producer what it saw and
 * holds the frame until the producer acknowledged (so the device cannot
 * capture into it meanwhile). Exits 0 when all matched.
 */
static int consumer(const char *path, unsigned int frames, int report_fd, int ack_fd)
{
	struct dmapipe_client_options o;
	struct dmapipe_client *c;
	unsigned int got = 0, distinct = 0, restarts = 0;
	uint64_t last_hash = 0;

	dmapipe_client_options_init(&o);
	o.path = path;
	o.policy = DMAPIPE_POLICY_QUEUE;
	o.queue_depth = 4;
	o.map_buffers = true;
	o.dmabuf_only = true;
	o.name = "v4l2-test";
	c = dmapipe_client_new(&o);
	if (!c) {
		fprintf(stderr, "consumer: connect: %s\n", strerror(errno));
		return 2;
	}
	while (got < frames) {
		struct dmapipe_frame *f = dmapipe_client_wait_frame(c, 20000);
		struct report r;
		char ack;

		if (!f) {
			fprintf(stderr, "consumer: after %u frames: %s\n", got, strerror(errno));
			return 3;
		}
		if (dmapipe_buffer_get_mem_kind(f->buffer) != DMAPIPE_MEM_DMABUF)
			return 4;
		r.buffer_id = f->buffer_id;
		r.sequence = f->meta.sequence;
		r.flags = f->meta.flags;
		r.hash = hash_frame(f->buffer);
		if (f->meta.flags & DMAPIPE_FRAME_DISCONTINUITY)
			restarts++;
		if (write(report_fd, &r, sizeof(r)) != sizeof(r) || read(ack_fd, &ack, 1) != 1)
			return 5;
		if (ack != 'y') {
			fprintf(stderr, "consumer: frame %llu: the producer saw other bytes\n",
				(unsigned long long)r.sequence);
			return 6;
		}
		if (r.hash != last_hash)
			distinct++;
		last_hash = r.hash;
		got++;
		dmapipe_client_release_frame(c, f, -1);
	}
	dmapipe_client_free(c);
	printf("consumer: %u frames equal on both sides, %u distinct, %u discontinuities\n",
	       got, distinct, restarts);
	return distinct >= 2 ? 0 : 7;
}

struct producer {
	struct dmapipe_server *server;
	struct dmapipe_v4l2_source *source;
	char *dir, *path;
	int report_fd, ack_fd;
	pid_t pid;
	unsigned int verified;
};

static void producer_start(struct producer *p, unsigned int frames, const char *tag)
{
	struct dmapipe_server_options so;
	int rep[2], ack[2];

	memset(p, 0, sizeof(*p));
	p->dir = test_make_dir(tag);
	check(asprintf(&p->path, "%s/sock", p->dir) > 0);
	dmapipe_server_options_init(&so);
	so.path = p->path;
	so.lease_timeout_ms = 20000;
	so.producer_name = "v4l2test";
	p->server = dmapipe_server_new(&so);
	check(p->server);
	check(pipe2(rep, O_CLOEXEC) == 0 && pipe2(ack, O_CLOEXEC) == 0);
	p->pid = fork();
	check(p->pid >= 0);
	if (p->pid == 0) {
		close(rep[0]);
		close(ack[1]);
		_exit(consumer(p->path, frames, rep[1], ack[0]));
	}
	close(rep[1]);
	close(ack[0]);
	p->report_fd = rep[0];
	p->ack_fd = ack[1];
	for (uint64_t t0 = test_now_ms();;) {
		struct dmapipe_server_stats st;

		dmapipe_server_dispatch(p->server, 20);
		dmapipe_server_get_stats(p->server, &st);
		if (st.consumers == 1)
			break;
		check_msg(test_now_ms() - t0 < 20000, "consumer never connected");
	}
}

/* Answers one report: the producer's own view of the buffer the consumer holds. */
static void answer_report(struct producer *p)
{
	struct dmapipe_buffer *b;
	struct report r;
	uint64_t h;
	char ok;

	check(read(p->report_fd, &r, sizeof(r)) == sizeof(r));
	/* a fresh server numbers the source's buffers in order */
	b = dmapipe_v4l2_source_get_buffer(p->source, r.buffer_id);
	check_msg(b, "consumer names buffer %u", r.buffer_id);
	h = hash_frame(b);
	ok = h == r.hash ? 'y' : 'n';
	if (h != r.hash)
		fprintf(stderr, "frame %llu in buffer %u: consumer %016llx, producer %016llx\n",
			(unsigned long long)r.sequence, r.buffer_id, (unsigned long long)r.hash,
			(unsigned long long)h);
	check(write(p->ack_fd, &ok, 1) == 1);
	p->verified++;
}

/*
 * Runs until the consumer reported @until frames in total (or the device
 * went away: returns -ENODEV).
 */
static int producer_run(struct producer *p, unsigned int until)
{
	while (p->verified < until) {
		struct pollfd pfd[3] = {
			{ .fd = dmapipe_server_get_fd(p->server), .events = POLLIN },
			{ .fd = p->report_fd, .events = POLLIN },
			{ .fd = p->source ? dmapipe_v4l2_source_get_fd(p->source) : -1,
			  .events = POLLIN },
		};
		int ret;

		check_msg(poll(pfd, 3, 20000) > 0, "no progress after %u frames", p->verified);
		if (pfd[0].revents)
			check(dmapipe_server_dispatch(p->server, 0) >= 0);
		if (pfd[1].revents)
			answer_report(p);
		if (p->source && pfd[2].revents) {
			ret = dmapipe_v4l2_source_dispatch(p->source, 0);
			if (ret == -ENODEV)
				return ret;
			check_msg(ret >= 0, "dispatch: %s", strerror(-ret));
		}
	}
	return 0;
}

static void producer_finish(struct producer *p)
{
	int status;

	for (uint64_t t0 = test_now_ms(); waitpid(p->pid, &status, WNOHANG) == 0;) {
		struct pollfd pfd = { .fd = p->report_fd, .events = POLLIN };

		dmapipe_server_dispatch(p->server, 10);
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN))
			answer_report(p);
		if (test_now_ms() - t0 > 30000) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
			break;
		}
	}
	check_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "consumer failed: status %d",
		  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	dmapipe_v4l2_source_free(p->source);
	dmapipe_server_free(p->server);
	close(p->report_fd);
	close(p->ack_fd);
	test_rmdir_all(p->dir);
	free(p->path);
	free(p->dir);
}

/* ---- args -------------------------------------------------------------------------- */

static void expect_refused(const char *node, uint32_t fourcc, int err, const char *what)
{
	struct dmapipe_v4l2_options o;

	dmapipe_v4l2_options_init(&o);
	o.device = node;
	o.fourcc = fourcc;
	log_reset();
	errno = 0;
	check_msg(!dmapipe_v4l2_source_new(&o), "%s was accepted", what);
	check_msg(errno == err, "%s: errno %d (%s), want %d", what, errno, strerror(errno), err);
	check_msg(log_len > 0, "%s: refused without a log line", what);
	printf("refused %s: %s", what, log_text);
}

static void cmd_args(void)
{
	struct dmapipe_v4l2_options o;
	char node[300], file[] = "/tmp/v4l2-args-XXXXXX";
	int fd;

	/* without any device: these need none */
	expect_refused("/dev/video-does-not-exist", 0, ENOENT, "a missing node");
	expect_refused("/dev/null", 0, ENOTTY, "/dev/null");
	fd = mkstemp(file);
	check(fd >= 0);
	close(fd);
	expect_refused(file, 0, ENOTTY, "a regular file");
	unlink(file);
	dmapipe_v4l2_options_init(&o);
	o.device = NULL;
	check(!dmapipe_v4l2_source_new(&o) && errno == EINVAL);
	o.device = "/dev/null";
	o.io = (enum dmapipe_v4l2_io)7;
	check(!dmapipe_v4l2_source_new(&o) && errno == EINVAL);
	o.io = DMAPIPE_V4L2_IO_AUTO;
	o.fourcc = 0x12345678; /* no such format */
	check(!dmapipe_v4l2_source_new(&o) && errno == EINVAL);
	o.fourcc = 0;
	o.buffers = 1000;
	check(!dmapipe_v4l2_source_new(&o) && errno == EINVAL);
	{
		/* an older caller's smaller struct: the fields it has are read
		 * (the node: ENOENT), the ones it lacks keep their defaults
		 * (buffers 1000 would be EINVAL) */
		struct {
			struct dmapipe_v4l2_options o;
			uint64_t newer; /* a field of some later version */
		} big;

		dmapipe_v4l2_options_init(&o);
		o.device = "/dev/video-does-not-exist";
		o.buffers = 1000;
		o.size = offsetof(struct dmapipe_v4l2_options, buffers);
		check(!dmapipe_v4l2_source_new(&o) && errno == ENOENT);
		o.size = offsetof(struct dmapipe_v4l2_options, device); /* no node: EINVAL */
		check(!dmapipe_v4l2_source_new(&o) && errno == EINVAL);
		o.size = 2; /* not even the size field */
		check(!dmapipe_v4l2_source_new(&o) && errno == EINVAL);
		/* a newer caller's larger struct: taken while what this
		 * library does not know is zero, refused when it asks for more */
		memset(&big, 0, sizeof(big));
		dmapipe_v4l2_options_init(&big.o);
		big.o.size = sizeof(big);
		big.o.device = "/dev/video-does-not-exist";
		check(!dmapipe_v4l2_source_new(&big.o) && errno == ENOENT);
		big.newer = 1;
		check(!dmapipe_v4l2_source_new(&big.o) && errno == E2BIG);
	}

	node_or_skip("vivid-000-vid-out", node, sizeof(node), "modprobe vivid");
	expect_refused(node, 0, ENODEV, "vivid's output node");
	node_or_skip("vivid-000-vid-cap", node, sizeof(node), "modprobe vivid");
	{
		/* a format the device does not list */
		static const char *const candidates[] = { "P010", "NV42", "R16", "XBGR8888", "YUV444" };
		struct dmapipe_v4l2_source *s = open_source(node, 0, 0, DMAPIPE_V4L2_IO_EXPORT,
							    false);
		int dev = dmapipe_v4l2_source_get_fd(s);
		uint32_t missing = 0;

		for (size_t i = 0; i < ARRAY_SIZE(candidates) && !missing; i++) {
			uint32_t fourcc = dmapipe_fourcc_from_string(candidates[i]);
			uint32_t v4l2 = dmapipe_fourcc_to_v4l2(fourcc, false);
			bool offered = false;

			for (uint32_t k = 0; k < 256; k++) {
				struct v4l2_fmtdesc d = { .index = k, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };

				if (ioctl(dev, VIDIOC_ENUM_FMT, &d) < 0)
					break;
				offered |= d.pixelformat == v4l2;
			}
			if (!offered)
				missing = fourcc;
		}
		dmapipe_v4l2_source_free(s);
		check_msg(missing, "vivid offers every candidate format");
		expect_refused(node, missing, EINVAL, "a format vivid does not offer");
		check(strstr(log_text, "it offers"));
	}
	test_pass("args: missing node, /dev/null, a file, an output node, an absent format, bad options");
}

/* ---- vivid ------------------------------------------------------------------------- */

static void stream_case(const char *name, uint32_t fourcc, uint32_t v4l2_fmt,
			enum dmapipe_v4l2_io io, bool direct_io, enum dmapipe_v4l2_io want_io,
			unsigned int want_objects)
{
	struct dmapipe_copy_stats c0, c1;
	struct dmapipe_v4l2_stats st;
	struct dmapipe_v4l2_info info;
	struct producer p;
	char node[300];
	const unsigned int frames = 20;

	node_or_skip(name, node, sizeof(node), "modprobe vivid");
	dmapipe_get_copy_stats(&c0);
	producer_start(&p, frames, "v4l2-vivid");
	p.source = open_source(node, fourcc, v4l2_fmt, io, direct_io);
	dmapipe_v4l2_source_get_info(p.source, &info);
	printf("%s %s: %s, %u buffers, %s mode (%s), %s API%s\n", name, node,
	       dmapipe_v4l2_source_get_layout(p.source)->n_objects > 1 ? "one object per plane" :
	       "one object", info.buffers, dmapipe_v4l2_io_to_string(info.io), info.io_note,
	       info.multiplanar ? "multi-planar" : "single-planar", info.libv4l2 ? ", libv4l2" : "");
	check_int_eq(info.io, want_io);
	check_int_eq(dmapipe_v4l2_source_get_layout(p.source)->n_objects, want_objects);
	check(strcmp(info.driver, "vivid") == 0);
	if (direct_io) {
		struct dmapipe_buffer *b = dmapipe_v4l2_source_get_buffer(p.source, 0);

		check_msg(dmapipe_buffer_get_direct_io_fd(b, 0) >= 0,
			  "import for direct I/O gave no struct-page backed fd");
	}
	check(dmapipe_v4l2_source_attach(p.source, p.server) == 0);
	check(dmapipe_v4l2_source_start(p.source) == 0);
	check(producer_run(&p, frames) == 0);
	dmapipe_v4l2_source_get_stats(p.source, &st);
	check(st.frames >= frames);
	check(info.timestamps_monotonic || dmapipe_v4l2_source_get_layout(p.source));
	producer_finish(&p);
	dmapipe_get_copy_stats(&c1);
	check_int_eq(c1.bytes - c0.bytes, 0);
	printf("%s: %llu frames captured, %llu lost, %llu requeued, 0 bytes copied\n", name,
	       (unsigned long long)st.frames, (unsigned long long)st.dropped,
	       (unsigned long long)st.requeued);
}

static void cmd_vivid(void)
{
	uint32_t nv12 = dmapipe_fourcc_from_string("NV12");

	stream_case("vivid-000-vid-cap", dmapipe_fourcc_from_string("YUYV"), 0,
		    DMAPIPE_V4L2_IO_AUTO, false, DMAPIPE_V4L2_IO_EXPORT, 1);
	stream_case("vivid-000-vid-cap", nv12, 0, DMAPIPE_V4L2_IO_IMPORT, false,
		    DMAPIPE_V4L2_IO_IMPORT, 1);
	stream_case("vivid-001-vid-cap", 0, V4L2_PIX_FMT_NV12M, DMAPIPE_V4L2_IO_EXPORT, false,
		    DMAPIPE_V4L2_IO_EXPORT, 2);
	stream_case("vivid-001-vid-cap", 0, V4L2_PIX_FMT_NV12M, DMAPIPE_V4L2_IO_AUTO, true,
		    DMAPIPE_V4L2_IO_IMPORT, 2);
	stream_case("vivid-001-vid-cap", nv12, 0, DMAPIPE_V4L2_IO_EXPORT, false,
		    DMAPIPE_V4L2_IO_EXPORT, 1);
	test_pass("vivid: single- and multi-planar, export and import, every frame equal on "
		  "both sides, 0 bytes copied");
}

/* ---- import mode following the consumers' imports ------------------------------------ */

struct swap_peer {
	struct dmapipe_client *client;
	uint64_t frames, drm_frames;
};

/*
 * True if @b's memory was exported by a DRM driver: the dma-buf's fdinfo
 * names the exporting module, "drm" for every GEM PRIME export (vgem's).
 */
static bool from_drm(struct dmapipe_buffer *b)
{
	char path[64], line[128];
	bool drm = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", dmapipe_buffer_get_layout(b)->objects[0].fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!drm && fgets(line, sizeof(line), f))
		drm = strncmp(line, "exp_name:\tdrm\n", 14) == 0;
	fclose(f);
	return drm;
}

static struct dmapipe_client *swap_client(const char *path, const char *name,
					  const struct dmapipe_constraints *cons)
{
	struct dmapipe_client_options o;
	struct dmapipe_client *c;

	dmapipe_client_options_init(&o);
	o.path = path;
	o.policy = DMAPIPE_POLICY_QUEUE;
	o.queue_depth = 4;
	o.map_buffers = true;
	o.name = name;
	o.constraints = cons;
	c = dmapipe_client_new(&o);
	check_msg(c, "client %s: %s", name, strerror(errno));
	return c;
}

static void swap_pump(struct swap_peer *p)
{
	struct dmapipe_frame *f;

	if (!p->client)
		return;
	dmapipe_client_dispatch(p->client, 0);
	while ((f = dmapipe_client_acquire_frame(p->client))) {
		p->frames++;
		if (from_drm(f->buffer))
			p->drm_frames++;
		check_int_eq(dmapipe_client_release_frame(p->client, f, -1), 0);
	}
}

static void cmd_import_swap(void)
{
	char node[300], vgem[64], *dir, *path;
	struct swap_peer first = { 0 }, gpu = { 0 };
	struct dmapipe_server_options so;
	struct dmapipe_server_stats st;
	struct dmapipe_constraints cons;
	struct dmapipe_v4l2_source *s;
	struct dmapipe_v4l2_info info;
	struct dmapipe_client *wide = NULL;
	struct dmapipe_server *server;
	const char *msg = NULL;
	unsigned int n_bufs;
	uint64_t published = 0, at_join = 0;
	int fd;

	node_or_skip("vivid-000-vid-cap", node, sizeof(node), "modprobe vivid");
	fd = test_open_vgem(vgem, sizeof(vgem));
	if (fd < 0)
		test_skip("no vgem node (modprobe vgem)");
	close(fd);
	s = open_source(node, dmapipe_fourcc_from_string("NV12"), 0, DMAPIPE_V4L2_IO_IMPORT, false);
	dmapipe_v4l2_source_get_info(s, &info);
	check_int_eq(info.io, DMAPIPE_V4L2_IO_IMPORT);
	check_msg(strcmp(info.allocator, "drm") != 0, "import already from drm");
	n_bufs = dmapipe_v4l2_source_get_buffer_count(s);
	dir = test_make_dir("v4l2-swap");
	path = test_path(dir, "s");
	dmapipe_server_options_init(&so);
	so.path = path;
	so.producer_name = "test";
	server = dmapipe_server_new(&so);
	check_msg(server, "server: %s", strerror(errno));
	check_int_eq(dmapipe_v4l2_source_attach(s, server), 0);
	check_int_eq(dmapipe_v4l2_source_start(s), 0);
	first.client = swap_client(path, "first", NULL);

	for (uint64_t t0 = test_now_ms(); test_now_ms() - t0 < 20000 && published < 60; ) {
		struct pollfd pfd[2] = {
			{ .fd = dmapipe_server_get_fd(server), .events = POLLIN },
			{ .fd = dmapipe_v4l2_source_get_fd(s), .events = POLLIN },
		};
		int ret;

		poll(pfd, 2, 10);
		dmapipe_server_dispatch(server, 0);
		ret = dmapipe_v4l2_source_dispatch(s, 0);
		check_msg(ret >= 0, "dispatch: %s", strerror(-ret));
		published += (uint64_t)ret;
		if (published >= 5 && !gpu.client) {
			dmapipe_constraints_init(&cons);
			snprintf(cons.import_device, sizeof(cons.import_device), "%s", vgem);
			gpu.client = swap_client(path, "gpu", &cons);
			dmapipe_constraints_init(&cons);
			cons.stride_align[0] = 4096;
			wide = swap_client(path, "wide", &cons);
			at_join = first.frames;
		}
		swap_pump(&first);
		swap_pump(&gpu);
		if (gpu.client)
			dmapipe_client_dispatch(wide, 0);
	}
	dmapipe_v4l2_source_get_info(s, &info);
	check_msg(strcmp(info.allocator, "drm") == 0, "the source's allocator is %s, not drm",
		  info.allocator);
	/* the last frames at least came in the drm allocator's memory, to both consumers */
	check_msg(gpu.drm_frames >= n_bufs && first.drm_frames >= n_bufs,
		  "gpu: %llu of %llu frames from drm, first: %llu of %llu",
		  (unsigned long long)gpu.drm_frames, (unsigned long long)gpu.frames,
		  (unsigned long long)first.drm_frames, (unsigned long long)first.frames);
	dmapipe_server_get_stats(server, &st);
	/* the frames before its handshake finished are not its */
	check_msg(first.frames + 3 >= published && st.frames_dropped == 0,
		  "first: %llu of %llu frames, %llu dropped", (unsigned long long)first.frames,
		  (unsigned long long)published, (unsigned long long)st.frames_dropped);
	check_msg(first.frames > at_join, "first got nothing after the change");
	check_int_eq(dmapipe_client_get_error(first.client, NULL), DMAPIPE_ERR_NONE);
	check_int_eq(dmapipe_client_get_error(gpu.client, NULL), DMAPIPE_ERR_NONE);
	check_msg(first.drm_frames < first.frames, "first: every frame from drm");
	test_pass("import mode: vivid's buffers replaced by vgem's at their V4L2 indices while "
		  "streaming, a first consumer served throughout");

	check_int_eq(dmapipe_client_get_error(wide, &msg), DMAPIPE_ERR_CONSTRAINTS);
	check_msg(msg && strstr(msg, "not a multiple of 4096") && strstr(msg, "cannot be replaced"),
		  "wide: %s", msg);
	test_pass("import mode: a stride the device does not give is refused with the reason");

	dmapipe_client_free(wide);
	dmapipe_client_free(gpu.client);
	dmapipe_client_free(first.client);
	dmapipe_v4l2_source_stop(s);
	dmapipe_v4l2_source_detach(s);
	dmapipe_server_free(server);
	dmapipe_v4l2_source_free(s);
	test_rmdir_all(dir);
	free(path);
	free(dir);
}

/* ---- fallback ---------------------------------------------------------------------- */

static void cmd_fallback(void)
{
	struct dmapipe_v4l2_options o;
	struct dmapipe_v4l2_source *s;
	struct dmapipe_v4l2_info info;
	char node[300];

	node_or_skip("vivid-000-vid-cap", node, sizeof(node), "modprobe vivid");
	dmapipe_v4l2_options_init(&o);
	o.device = node;
	o.io = DMAPIPE_V4L2_IO_IMPORT;
	o.allocator = dmapipe_allocator_new("memfd");
	check(o.allocator);
	log_reset();
	s = dmapipe_v4l2_source_new(&o);
	check_msg(s, "import with a memfd allocator did not fall back: %s", strerror(errno));
	dmapipe_v4l2_source_get_info(s, &info);
	check_int_eq(info.io, DMAPIPE_V4L2_IO_EXPORT);
	check(strstr(info.io_note, "fell back"));
	check(strstr(info.io_note, "memfd"));
	check_msg(strstr(log_text, "falling back to exporting"), "no fallback log line");
	printf("fallback: %s\n", info.io_note);
	dmapipe_v4l2_source_free(s);
	dmapipe_allocator_unref(o.allocator);
	test_pass("fallback: import impossible, export used and logged");
}

/* ---- hotplug ----------------------------------------------------------------------- */

static void cmd_hotplug(void)
{
	struct dmapipe_v4l2_info info;
	struct dmapipe_v4l2_watch *watch;
	struct producer p;
	char node[300], again[300];
	int video, dmabufs, fds0, ret;
	const unsigned int before = 8, after = 8;

	node_or_skip("vivid-000-vid-cap", node, sizeof(node), "modprobe vivid");
	if (access(VIVID_DRIVER "/unbind", W_OK) != 0)
		test_skip("cannot unbind vivid (%s): needs root", strerror(errno));

	producer_start(&p, before + after, "v4l2-hotplug");
	fds0 = test_count_fds();
	p.source = open_source(node, dmapipe_fourcc_from_string("YUYV"), 0,
			       DMAPIPE_V4L2_IO_EXPORT, false);
	dmapipe_v4l2_source_get_info(p.source, &info);
	watch = dmapipe_v4l2_watch_new(&info);
	check(watch);
	fds0 += dmapipe_v4l2_watch_get_fd(watch) >= 0 ? 1 : 0;
	check(dmapipe_v4l2_source_attach(p.source, p.server) == 0);
	check(dmapipe_v4l2_source_start(p.source) == 0);
	check(producer_run(&p, before) == 0);

	/* unplug: the platform device goes away with the node open and streaming */
	check_msg(write_text(VIVID_DRIVER "/unbind", "vivid.0") == 0, "unbind: %s",
		  strerror(errno));
	ret = producer_run(&p, before + after);
	check_msg(ret == -ENODEV, "the source did not report the device gone");
	dmapipe_v4l2_source_detach(p.source);
	dmapipe_v4l2_source_free(p.source);
	p.source = NULL;
	count_device_fds(&video, &dmabufs);
	check_int_eq(video, 0);
	/* the consumer may still hold a frame: those dma-bufs stay until released */
	for (uint64_t t0 = test_now_ms(); dmabufs > 0 && test_now_ms() - t0 < 10000;) {
		struct pollfd pfd = { .fd = p.report_fd, .events = POLLIN };

		dmapipe_server_dispatch(p.server, 20);
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN))
			answer_report(&p);
		count_device_fds(&video, &dmabufs);
	}
	check_int_eq(dmabufs, 0);
	check_int_eq(test_count_fds(), fds0);
	printf("hotplug: device gone, no V4L2 or dma-buf fd left, %d fds as before\n", fds0);

	check_int_eq(dmapipe_v4l2_watch_find(watch, again, sizeof(again)), 0);
	check_msg(write_text(VIVID_DRIVER "/bind", "vivid.0") == 0, "bind: %s", strerror(errno));
	ret = 0;
	for (uint64_t t0 = test_now_ms(); ret == 0 && test_now_ms() - t0 < 10000;) {
		struct pollfd pfd = { .fd = dmapipe_v4l2_watch_get_fd(watch), .events = POLLIN };

		poll(&pfd, pfd.fd >= 0 ? 1 : 0, 200);
		ret = dmapipe_v4l2_watch_find(watch, again, sizeof(again));
	}
	check_msg(ret == 1, "the device did not come back");
	printf("hotplug: back as %s (was %s)\n", again, node);
	p.source = open_source(again, dmapipe_fourcc_from_string("YUYV"), 0,
			       DMAPIPE_V4L2_IO_EXPORT, false);
	check(dmapipe_v4l2_source_attach(p.source, p.server) == 0);
	check(dmapipe_v4l2_source_start(p.source) == 0);
	check(producer_run(&p, before + after) == 0);
	dmapipe_v4l2_watch_free(watch);
	producer_finish(&p);
	test_pass("hotplug: unbind seen, nothing leaked, the device found again and served");
}

/* ---- vcap --------------------------------------------------------------------------- */

static void vcap_case(const char *node, enum dmapipe_v4l2_io io, uint32_t drop_rate,
		      unsigned int frames)
{
	struct dmapipe_v4l2_options o;
	struct dmapipe_v4l2_source *s;
	struct dmapipe_v4l2_info info;
	struct dmapipe_v4l2_stats st;
	struct v4l2_control ctrl;
	uint64_t expected_lost = 0, first = 0, last = 0;
	unsigned int got = 0, flagged = 0;

	dmapipe_v4l2_options_init(&o);
	o.device = node;
	o.fourcc = dmapipe_fourcc_from_string("NV12");
	o.width = 320;
	o.height = 240;
	o.fps_num = 30;
	o.fps_den = 1;
	o.io = io;
	s = dmapipe_v4l2_source_new(&o);
	check_msg(s, "open %s: %s", node, strerror(errno));
	dmapipe_v4l2_source_get_info(s, &info);
	check_int_eq(info.io, io);
	check(strcmp(info.driver, "dmapipe_vcap") == 0);
	memset(&ctrl, 0, sizeof(ctrl));
	ctrl.id = DMAPIPE_VCAP_CID_DROP_RATE;
	ctrl.value = (int32_t)drop_rate;
	check(ioctl(dmapipe_v4l2_source_get_fd(s), VIDIOC_S_CTRL, &ctrl) == 0);
	check(dmapipe_v4l2_source_start(s) == 0);
	while (got < frames) {
		struct pollfd pfd = { .fd = dmapipe_v4l2_source_get_fd(s), .events = POLLIN };
		struct dmapipe_frame_meta meta;
		struct dmapipe_buffer *b;
		int ret;

		check(poll(&pfd, 1, 5000) == 1);
		ret = dmapipe_v4l2_source_dequeue(s, &b, &meta);
		if (ret == -EAGAIN)
			continue;
		check_msg(ret == 0, "dequeue: %s", strerror(-ret));
		check_msg(dmapipe_buffer_check_pattern(b, meta.sequence) == 0,
			  "frame %llu differs from the pattern", (unsigned long long)meta.sequence);
		check(meta.timestamp_ns > 0);
		if (got == 0)
			first = meta.sequence;
		else if (meta.sequence > last + 1)
			check_msg(meta.flags & DMAPIPE_FRAME_DISCONTINUITY, "gap not flagged");
		if (meta.flags & DMAPIPE_FRAME_DISCONTINUITY)
			flagged++;
		last = meta.sequence;
		got++;
		check(dmapipe_v4l2_source_queue(s, b) == 0);
	}
	dmapipe_v4l2_source_get_stats(s, &st);
	/* frames the rule drops between the first and last received one */
	for (uint64_t q = first; q <= last; q++)
		if ((q + 1) * drop_rate / 100 != q * drop_rate / 100)
			expected_lost++;
	printf("vcap %s, drop rate %u: %u frames verified (sequence %llu..%llu), %llu lost, "
	       "rule says at least %llu, %u flagged\n", dmapipe_v4l2_io_to_string(io), drop_rate,
	       got, (unsigned long long)first, (unsigned long long)last,
	       (unsigned long long)st.dropped, (unsigned long long)expected_lost, flagged);
	/* the emulated machine may lose frames of its own (docs/VCAP.md) */
	check_int_eq(st.dropped, last - first + 1 - got);
	check(st.dropped >= expected_lost);
	if (drop_rate)
		check(flagged > 0 && st.dropped > 0);
	ctrl.value = 0;
	check(ioctl(dmapipe_v4l2_source_get_fd(s), VIDIOC_S_CTRL, &ctrl) == 0);
	dmapipe_v4l2_source_free(s);
}

static void cmd_vcap(void)
{
	struct dmapipe_copy_stats c0, c1;
	char node[300];

	node_or_skip("dmapipe-vcap-0", node, sizeof(node), "insmod dmapipe_vcap.ko");
	dmapipe_get_copy_stats(&c0);
	vcap_case(node, DMAPIPE_V4L2_IO_EXPORT, 0, 30);
	vcap_case(node, DMAPIPE_V4L2_IO_IMPORT, 0, 30);
	vcap_case(node, DMAPIPE_V4L2_IO_EXPORT, 25, 40);
	dmapipe_get_copy_stats(&c1);
	check_int_eq(c1.bytes - c0.bytes, 0);
	test_pass("vcap: export and import verified bit for bit, drops counted and flagged");
}

int main(int argc, char **argv)
{
	dmapipe_log_set_handler(capture_log, NULL);
	dmapipe_log_set_priority(DMAPIPE_LOG_INFO);
	if (argc < 2) {
		fprintf(stderr, "usage: %s args|vivid|fallback|hotplug|import-swap|vcap...\n", argv[0]);
		return 2;
	}
#if !HAVE_LIBV4L2
	test_skip("dmapipe was built without libv4l2");
#endif
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "args") == 0)
			cmd_args();
		else if (strcmp(argv[i], "vivid") == 0)
			cmd_vivid();
		else if (strcmp(argv[i], "fallback") == 0)
			cmd_fallback();
		else if (strcmp(argv[i], "hotplug") == 0)
			cmd_hotplug();
		else if (strcmp(argv[i], "import-swap") == 0)
			cmd_import_swap();
		else if (strcmp(argv[i], "vcap") == 0)
			cmd_vcap();
		else {
			fprintf(stderr, "unknown command %s\n", argv[i]);
			return 2;
		}
	}
	return 0;
}
