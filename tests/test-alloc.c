/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One allocator, named by argv[1] ("heap", "udmabuf", "drm", "memfd", "dmapipe"),
 * end to end: several formats and a caller-chosen multi-object layout,
 * what the fds really are (dma-buf allocators must yield dma-bufs), the
 * direct-I/O fd, mapping with CPU access bracketing, naming (checked in
 * /proc/self/fdinfo), a pool, a buffer that outlives its pool and its
 * allocator (the allocator's device stays open until it goes), and sharing
 * with a forked child over SCM_RIGHTS, which reads our pixels and writes
 * back. No fd may leak.
 *
 * Exits 77 with the precise reason when the allocator is absent here; the
 * VM lane (tests/vm) runs it where the kernel has the feature.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "private.h"
#include "testlib.h"

static const char *alloc_name;
static bool naming_works;

static void skip_absent(const char *name, int err)
{
	const char *heap = getenv("DMAPIPE_DMA_HEAP");
	char path[256] = "";
	struct stat st;

	if (strcmp(name, "heap") == 0)
		snprintf(path, sizeof(path), "/dev/dma_heap/%s", heap && *heap ? heap : "system");
	else if (strcmp(name, "udmabuf") == 0)
		snprintf(path, sizeof(path), "/dev/udmabuf");
	else if (strcmp(name, "dmapipe") == 0)
		snprintf(path, sizeof(path), "/dev/dmapipe");
	else if (strcmp(name, "drm") == 0)
		snprintf(path, sizeof(path), "/dev/dri");

	if (*path && stat(path, &st) < 0)
		test_skip("allocator %s unavailable: %s: %s", name, path, strerror(errno));
	if (strcmp(name, "drm") == 0)
		test_skip("allocator drm unavailable: no card node in /dev/dri can create, export "
			  "and map a dumb buffer (%s); is vgem loaded?", strerror(err));
	test_skip("allocator %s unavailable: %s%s%s", name, path, *path ? ": " : "",
		  strerror(err));
}

static uint8_t pixel(unsigned int plane, uint64_t x, uint32_t y, uint8_t seed)
{
	return (uint8_t)(x * 3 + y * 5 + plane * 101 + seed);
}

static void draw(struct dmapipe_buffer *buf, uint8_t seed)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(buf);

	check_int_eq(dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_WRITE), 0);
	for (unsigned int p = 0; p < l->n_planes; p++) {
		uint8_t *base = dmapipe_buffer_map_plane(buf, p);
		uint64_t row;
		uint32_t rows;

		check(base);
		check_int_eq(dmapipe_format_plane_geometry(l->format.fourcc, l->format.width,
							   l->format.height, p, &row, &rows), 0);
		for (uint32_t y = 0; y < rows; y++)
			for (uint64_t x = 0; x < row; x++)
				base[(uint64_t)y * l->planes[p].stride + x] = pixel(p, x, y, seed);
	}
	check_int_eq(dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_WRITE), 0);
}

static void verify(struct dmapipe_buffer *buf, uint8_t seed)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(buf);

	check_int_eq(dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_READ), 0);
	for (unsigned int p = 0; p < l->n_planes; p++) {
		const uint8_t *base = dmapipe_buffer_map_plane(buf, p);
		uint64_t row;
		uint32_t rows;

		check(base);
		dmapipe_format_plane_geometry(l->format.fourcc, l->format.width,
					      l->format.height, p, &row, &rows);
		for (uint32_t y = 0; y < rows; y++)
			for (uint64_t x = 0; x < row; x++) {
				uint8_t got = base[(uint64_t)y * l->planes[p].stride + x];

				check_msg(got == pixel(p, x, y, seed),
					  "plane %u (%" PRIu64 ", %u): %u != %u", p, x, y, got,
					  pixel(p, x, y, seed));
			}
	}
	check_int_eq(dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_READ), 0);
}

/* The "name:" line of /proc/self/fdinfo/@fd, or "" if there is none. */
static void fdinfo_name(int fd, char *name, size_t len)
{
	char path[64], line[256];
	FILE *f;

	*name = '\0';
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	check(f);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "name:", 5) == 0) {
			const char *v = line + 5;

			v += strspn(v, " \t");
			dmapipe_strlcpy(name, v, len);
			name[strcspn(name, "\n")] = '\0';
		}
	}
	fclose(f);
}

static void check_name(struct dmapipe_buffer *buf, const char *want)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(buf);
	char got[64];

	for (unsigned int i = 0; i < l->n_objects; i++) {
		fdinfo_name(l->objects[i].fd, got, sizeof(got));
		check_msg(strcmp(got, want) == 0, "object %u named \"%s\", not \"%s\"", i, got,
			  want);
	}
}

/* What the fds are, checked from the fds themselves. */
static void check_objects(struct dmapipe_allocator *alloc, struct dmapipe_buffer *buf)
{
	enum dmapipe_mem_kind want = dmapipe_allocator_get_mem_kind(alloc);
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(buf);

	check_int_eq(dmapipe_buffer_get_mem_kind(buf), want);
	for (unsigned int i = 0; i < l->n_objects; i++) {
		const struct dmapipe_object *o = &l->objects[i];
		enum dmapipe_mem_kind kind;
		const char *why = NULL;
		uint64_t size;
		int dio = dmapipe_buffer_get_direct_io_fd(buf, i);

		check_msg(dmapipe_fd_identify(o->fd, &kind, &size, &why) == 0, "%s",
			  why ? why : "?");
		check_int_eq(kind, want);
		check_int_eq(o->kind, want);
		check(size >= o->size);
		check_int_eq(o->size % (uint64_t)sysconf(_SC_PAGESIZE), 0);
		check(fcntl(o->fd, F_GETFD) & FD_CLOEXEC);
		check_int_eq(dmapipe_fd_is_dmabuf(o->fd), want == DMAPIPE_MEM_DMABUF);

		if (strcmp(alloc_name, "memfd") == 0) {
			check_int_eq(dio, o->fd);
		} else if (strcmp(alloc_name, "udmabuf") == 0) {
			check(dio >= 0 && dio != o->fd);
			check_int_eq(dmapipe_fd_identify(dio, &kind, &size, NULL), 0);
			check_int_eq(kind, DMAPIPE_MEM_MEMFD);
			check(size >= o->size);
			check(fcntl(dio, F_GETFD) & FD_CLOEXEC);
		} else if (strcmp(alloc_name, "dmapipe") == 0) {
			/* struct-page mappings: the dma-buf (a duplicate) is its own */
			check(dio >= 0 && dio != o->fd);
			check_int_eq(dmapipe_fd_identify(dio, &kind, &size, NULL), 0);
			check_int_eq(kind, DMAPIPE_MEM_DMABUF);
			check(size >= o->size);
			check(fcntl(dio, F_GETFD) & FD_CLOEXEC);
		} else {
			check_int_eq(dio, -1);
		}
	}
}

/* Bytes written through the mapping are the bytes of the direct-I/O fd. */
static void check_direct_io(struct dmapipe_buffer *buf, uint8_t seed)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(buf);
	int dio = dmapipe_buffer_get_direct_io_fd(buf, l->planes[0].object);
	uint8_t row[64];
	uint64_t n, bytes;
	uint32_t rows;

	if (dio < 0)
		return;
	dmapipe_format_plane_geometry(l->format.fourcc, l->format.width, l->format.height, 0,
				      &bytes, &rows);
	n = MIN(bytes, sizeof(row));
	if (dmapipe_fd_is_dmabuf(dio)) {
		/* a dma-buf has no read(): its mapping is what feeds direct I/O */
		long page = sysconf(_SC_PAGESIZE);
		off_t start = (off_t)(l->planes[0].offset & ~(uint64_t)(page - 1));
		size_t len = (size_t)(l->planes[0].offset - (uint64_t)start) + n;
		uint8_t *p = mmap(NULL, len, PROT_READ, MAP_SHARED, dio, start);

		check(p != MAP_FAILED);
		memcpy(row, p + (l->planes[0].offset - (uint64_t)start), n);
		munmap(p, len);
	} else {
		check_int_eq(pread(dio, row, n, (off_t)l->planes[0].offset), (ssize_t)n);
	}
	for (uint64_t x = 0; x < n; x++)
		check(row[x] == pixel(0, x, 0, seed));
}

static void test_format(struct dmapipe_allocator *alloc, const char *fourcc, uint32_t w,
			uint32_t h, uint8_t seed)
{
	struct dmapipe_format f = { .fourcc = dmapipe_fourcc_from_string(fourcc), .width = w,
				    .height = h };
	struct dmapipe_buffer *buf;
	char name[32];
	int ret;

	check(f.fourcc);
	buf = dmapipe_allocator_alloc(alloc, &f);
	check_msg(buf, "%s %ux%u: %s", fourcc, w, h, strerror(errno));
	check_int_eq(dmapipe_buffer_get_refcount(buf), 1);
	check_objects(alloc, buf);
	draw(buf, seed);
	verify(buf, seed);
	check_direct_io(buf, seed);

	snprintf(name, sizeof(name), "dmapipe-test:%s", fourcc);
	ret = dmapipe_buffer_set_name(buf, name);
	if (dmapipe_allocator_get_mem_kind(alloc) == DMAPIPE_MEM_DMABUF) {
		check_msg(ret == 0 || ret == -ENOTTY, "set_name: %s", strerror(-ret));
		if (ret == 0) {
			naming_works = true;
			check_name(buf, name);
		}
	} else {
		check_int_eq(ret, -ENOTTY);
	}
	dmapipe_buffer_unref(buf);
	printf("ok %s %s %ux%u\n", alloc_name, fourcc, w, h);
}

static struct dmapipe_buffer *alloc_two_objects(struct dmapipe_allocator *alloc)
{
	struct dmapipe_format f = { .fourcc = dmapipe_fourcc_from_string("NV12"), .width = 640,
				    .height = 360 };
	const struct dmapipe_layout *got;
	struct dmapipe_layout l;
	struct dmapipe_buffer *buf;

	/* an encoder-like layout: 1024-byte luma rows, chroma in its own object */
	check_int_eq(dmapipe_layout_init(&l, &f, 0), 0);
	l.n_objects = 2;
	l.planes[0].stride = 1024;
	l.objects[0].size = 1024 * 360;
	l.planes[1].object = 1;
	l.planes[1].stride = 768;
	l.planes[1].offset = 4096;
	l.objects[1].size = 4096 + 768 * 180 + 1; /* rounded up to pages */
	buf = dmapipe_allocator_alloc_layout(alloc, &l);
	check_msg(buf, "%s", strerror(errno));
	got = dmapipe_buffer_get_layout(buf);
	check_int_eq(got->n_objects, 2);
	check_int_eq(got->planes[0].stride, 1024);
	check_int_eq(got->planes[1].stride, 768);
	check_int_eq(got->planes[1].offset, 4096);
	check_int_eq(got->planes[1].object, 1);
	check(got->objects[1].size >= 4096 + 768 * 180 + 1);
	check(got->objects[0].fd != got->objects[1].fd);
	return buf;
}

static void test_layout(struct dmapipe_allocator *alloc)
{
	struct dmapipe_buffer *buf = alloc_two_objects(alloc);
	struct dmapipe_layout l = *dmapipe_buffer_get_layout(buf);

	check_objects(alloc, buf);
	draw(buf, 42);
	verify(buf, 42);
	dmapipe_buffer_unref(buf);

	/* refused layouts allocate nothing */
	l.planes[1].stride = 10;
	errno = 0;
	check(dmapipe_allocator_alloc_layout(alloc, &l) == NULL);
	check_int_eq(errno, EINVAL);
	test_pass("layout");
}

static void test_pool(struct dmapipe_allocator *alloc)
{
	struct dmapipe_format f = { .fourcc = dmapipe_fourcc_from_string("NV12"), .width = 320,
				    .height = 240 };
	int fds = test_count_fds();
	struct dmapipe_buffer *busy;
	struct dmapipe_pool *pool;

	pool = dmapipe_pool_new(alloc, &f, 3, "dmapipe-test");
	check_msg(pool, "%s", strerror(errno));
	for (unsigned int i = 0; i < 3; i++) {
		struct dmapipe_buffer *b = dmapipe_pool_get_buffer(pool, i);
		char want[32];

		check_objects(alloc, b);
		snprintf(want, sizeof(want), "dmapipe-test:%u", i);
		if (naming_works)
			check_name(b, want);
	}
	busy = dmapipe_pool_acquire(pool);
	check(busy);
	draw(busy, 9);
	dmapipe_pool_free(pool);
	verify(busy, 9);
	dmapipe_buffer_unref(busy);
	check_int_eq(test_count_fds(), fds);
	test_pass("pool");
}

/*
 * A buffer outlives the pool it came from and the last reference the
 * application had on the allocator: the buffer holds the allocator, whose
 * device fd (if it has one) stays open until the buffer goes.
 */
static void test_outlive(void)
{
	struct dmapipe_format f = { .fourcc = dmapipe_fourcc_from_string("NV12"), .width = 256,
				    .height = 128 };
	int fds = test_count_fds(), device_fds, busy_fds;
	struct dmapipe_allocator *alloc;
	struct dmapipe_buffer *busy;
	struct dmapipe_pool *pool;

	alloc = dmapipe_allocator_new(alloc_name);
	check_msg(alloc, "%s", strerror(errno));
	device_fds = test_count_fds() - fds;
	check(device_fds == 0 || device_fds == 1);
	pool = dmapipe_pool_new(alloc, &f, 2, "dmapipe-outlive");
	check_msg(pool, "%s", strerror(errno));
	busy = dmapipe_pool_acquire(pool);
	check(busy);
	dmapipe_pool_free(pool);
	busy_fds = test_count_fds();
	check(busy_fds > fds + device_fds);
	dmapipe_allocator_unref(alloc);
	/* the device is still open: the buffer holds its allocator */
	check_int_eq(test_count_fds(), busy_fds);
	draw(busy, 17);
	verify(busy, 17);
	dmapipe_buffer_unref(busy);
	check_int_eq(test_count_fds(), fds);
	test_pass("outlive");
}

/* ---- sharing with another process ----------------------------------- */

static void send_buffer(int sock, const struct dmapipe_layout *l)
{
	char control[CMSG_SPACE(sizeof(int) * DMAPIPE_MAX_OBJECTS)] = { 0 };
	struct iovec iov = { .iov_base = (void *)l, .iov_len = sizeof(*l) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = CMSG_SPACE(sizeof(int) * l->n_objects) };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	int fds[DMAPIPE_MAX_OBJECTS];

	for (unsigned int i = 0; i < l->n_objects; i++)
		fds[i] = l->objects[i].fd;
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int) * l->n_objects);
	memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * l->n_objects);
	check(sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof(*l));
}

static struct dmapipe_buffer *recv_buffer(int sock)
{
	char control[CMSG_SPACE(sizeof(int) * DMAPIPE_MAX_OBJECTS)];
	struct dmapipe_layout l;
	struct iovec iov = { .iov_base = &l, .iov_len = sizeof(l) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof(control) };
	struct cmsghdr *cmsg;
	unsigned int n = 0;

	check(recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) == (ssize_t)sizeof(l));
	check(!(msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)));
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		n = (unsigned int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		check(n == l.n_objects);
		for (unsigned int i = 0; i < n; i++)
			memcpy(&l.objects[i].fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
	}
	check(n == l.n_objects);
	/* the receiver learns kind and size from the fds themselves */
	for (unsigned int i = 0; i < n; i++) {
		l.objects[i].kind = DMAPIPE_MEM_NONE;
		l.objects[i].size = 0;
	}
	return dmapipe_buffer_new_from_fds(&l);
}

static void child(int sock, enum dmapipe_mem_kind kind)
{
	struct dmapipe_buffer *buf = recv_buffer(sock);
	uint8_t *p;
	char ok = 'k';

	check_msg(buf, "child import: %s", strerror(errno));
	check_int_eq(dmapipe_buffer_get_mem_kind(buf), kind);
	verify(buf, 77);
	p = dmapipe_buffer_map_plane(buf, 0);
	check(p);
	check_int_eq(dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_WRITE), 0);
	memcpy(p, "KID!", 4);
	check_int_eq(dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_WRITE), 0);
	dmapipe_buffer_unref(buf);
	check(write(sock, &ok, 1) == 1);
	close(sock);
}

static void test_share(struct dmapipe_allocator *alloc)
{
	int fds = test_count_fds(), sv[2], status;
	struct dmapipe_buffer *buf = alloc_two_objects(alloc);
	uint8_t *p;
	pid_t pid;
	char ok = 0;

	draw(buf, 77);
	check(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		enum dmapipe_mem_kind kind = dmapipe_allocator_get_mem_kind(alloc);

		/* the child works only with what it receives; drop what fork copied */
		close(sv[0]);
		dmapipe_buffer_unref(buf);
		dmapipe_allocator_unref(alloc);
		child(sv[1], kind);
		_exit(0);
	}
	close(sv[1]);
	send_buffer(sv[0], dmapipe_buffer_get_layout(buf));
	check(read(sv[0], &ok, 1) == 1 && ok == 'k');
	check(waitpid(pid, &status, 0) == pid);
	check_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
	close(sv[0]);

	/* the child's write is in our memory: the same pages, no copy */
	p = dmapipe_buffer_map_plane(buf, 0);
	check_int_eq(dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_READ), 0);
	check(memcmp(p, "KID!", 4) == 0);
	check(p[4] == pixel(0, 4, 0, 77));
	check_int_eq(dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_READ), 0);
	dmapipe_buffer_unref(buf);
	check_int_eq(test_count_fds(), fds);
	test_pass("share");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *fourcc;
		uint32_t w, h;
	} formats[] = {
		{ "NV12", 1920, 1080 }, { "YUV420", 641, 479 }, { "XRGB8888", 1280, 720 },
		{ "YUYV", 640, 480 },	{ "P010", 1280, 720 },	{ "RGB565", 33, 17 },
		{ "R8", 1, 1 },		{ "NV16", 2, 2 },	{ "UYVY", 3, 1 },
		{ "ABGR8888", 3840, 2160 },
	};
	struct dmapipe_allocator *alloc;
	struct dmapipe_copy_stats copies;
	int fds = test_count_fds();

	if (argc != 2) {
		fprintf(stderr, "usage: %s heap|udmabuf|drm|memfd|dmapipe\n", argv[0]);
		return 1;
	}
	alloc_name = argv[1];
	alloc = dmapipe_allocator_new(alloc_name);
	if (!alloc) {
		int err = errno;

		check_msg(err != ENOENT, "\"%s\" is not an allocator name", alloc_name);
		skip_absent(alloc_name, err);
	}
	check(strcmp(dmapipe_allocator_get_name(alloc), alloc_name) == 0);
	printf("allocator %s: %s\n", alloc_name,
	       dmapipe_mem_kind_to_string(dmapipe_allocator_get_mem_kind(alloc)));
	if (strcmp(alloc_name, "memfd") != 0)
		check_int_eq(dmapipe_allocator_get_mem_kind(alloc), DMAPIPE_MEM_DMABUF);

	for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
		test_format(alloc, formats[i].fourcc, formats[i].w, formats[i].h, (uint8_t)i);
	if (dmapipe_allocator_get_mem_kind(alloc) == DMAPIPE_MEM_DMABUF)
		printf("dma-buf naming: %s\n", naming_works ? "works" : "not supported here");
	test_layout(alloc);
	test_pool(alloc);
	test_outlive();
	test_share(alloc);

	/* nothing here copies pixels */
	dmapipe_get_copy_stats(&copies);
	check_int_eq(copies.bytes, 0);

	dmapipe_allocator_unref(alloc);
	check_int_eq(test_count_fds(), fds);
	return 0;
}
