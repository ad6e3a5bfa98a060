/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Buffers and pools on sealed memfds (available everywhere): reference
 * counting, pool lifecycle including a pool freed while buffers are busy,
 * buffers that outlive both their pool and their allocator, the release
 * hooks and pool sources that keep buffer.c and pool.c free of allocators,
 * thread safety of unref, mapping, CPU access, counted pixel copies, and
 * dmapipe_buffer_new_from_fds() refusing bad fds and layouts -- closing
 * every fd it was given. fd and mapping counts prove nothing leaks (and
 * valgrind, in the valgrind setup, that nothing is used after it is freed).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "private.h"
#include "testlib.h"

static struct dmapipe_format format(const char *name, uint32_t w, uint32_t h)
{
	struct dmapipe_format f = { .fourcc = dmapipe_fourcc_from_string(name), .width = w,
				    .height = h, .modifier = DMAPIPE_MOD_LINEAR };

	check(f.fourcc);
	return f;
}

/* Mappings of our memfds, from /proc/self/maps. */
static int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	check(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/memfd:dmapipe"))
			n++;
	fclose(f);
	return n;
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int sealed_memfd(uint64_t size, int extra_seals)
{
	int fd = memfd_create("dmapipe-test-import", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	check(fd >= 0);
	check(ftruncate(fd, (off_t)size) == 0);
	check(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | extra_seals) == 0);
	return fd;
}

static void test_refcount(struct dmapipe_allocator *alloc)
{
	struct dmapipe_format f = format("NV12", 320, 240);
	int fds = test_count_fds(), maps = count_maps();
	struct dmapipe_frame_meta meta;
	struct dmapipe_buffer *buf;
	const struct dmapipe_layout *l;

	buf = dmapipe_allocator_alloc(alloc, &f);
	check(buf);
	check_int_eq(dmapipe_buffer_get_refcount(buf), 1);
	check_int_eq(dmapipe_buffer_get_index(buf), -1);
	check_int_eq(dmapipe_buffer_get_mem_kind(buf), DMAPIPE_MEM_MEMFD);
	l = dmapipe_buffer_get_layout(buf);
	check_int_eq(l->n_objects, 1);
	check_int_eq(l->objects[0].kind, DMAPIPE_MEM_MEMFD);
	check(l->objects[0].fd >= 0);
	check(fcntl(l->objects[0].fd, F_GETFD) & FD_CLOEXEC);
	/* the memfd is its own direct-I/O fd */
	check_int_eq(dmapipe_buffer_get_direct_io_fd(buf, 0), l->objects[0].fd);
	check_int_eq(dmapipe_buffer_get_direct_io_fd(buf, 1), -1);
	/* memfds cannot be named: not an error callers need to care about */
	check_int_eq(dmapipe_buffer_set_name(buf, "x"), -ENOTTY);
	check_int_eq(test_count_fds(), fds + 1);

	check(dmapipe_buffer_ref(buf) == buf);
	check_int_eq(dmapipe_buffer_get_refcount(buf), 2);
	dmapipe_buffer_unref(buf);
	check_int_eq(dmapipe_buffer_get_refcount(buf), 1);
	check(dmapipe_buffer_map_plane(buf, 1));
	check_int_eq(count_maps(), maps + 1);
	dmapipe_buffer_unref(buf);
	check_int_eq(test_count_fds(), fds);
	check_int_eq(count_maps(), maps);

	dmapipe_buffer_unref(NULL);
	check(dmapipe_buffer_ref(NULL) == NULL);

	dmapipe_frame_meta_init(&meta);
	check_int_eq(meta.acquire_fence, -1);
	check_int_eq(meta.sequence, 0);
	check_int_eq(meta.flags, 0);
	check_int_eq(meta.bytes_used[3], 0);
	test_pass("refcount");
}

static void test_pool(struct dmapipe_allocator *alloc)
{
	struct dmapipe_format f = format("XRGB8888", 64, 32);
	int fds = test_count_fds(), maps = count_maps();
	struct dmapipe_buffer *b[4], *x;
	struct dmapipe_pool *pool;

	pool = dmapipe_pool_new(alloc, &f, 3, "test-pool");
	check(pool);
	check_int_eq(dmapipe_pool_get_size(pool), 3);
	check_int_eq(dmapipe_pool_get_free(pool), 3);
	/* each buffer is mapped (and pre-faulted) at creation */
	check_int_eq(count_maps(), maps + 3);
	check_int_eq(test_count_fds(), fds + 3);
	for (unsigned int i = 0; i < 3; i++) {
		x = dmapipe_pool_get_buffer(pool, i);
		check(x);
		check_int_eq(dmapipe_buffer_get_index(x), i);
		check_int_eq(dmapipe_buffer_get_refcount(x), 0);
	}
	check(dmapipe_pool_get_buffer(pool, 3) == NULL);

	for (unsigned int i = 0; i < 3; i++) {
		b[i] = dmapipe_pool_acquire(pool);
		check(b[i]);
		check_int_eq(dmapipe_buffer_get_refcount(b[i]), 1);
		check_int_eq(dmapipe_pool_get_free(pool), 2 - i);
	}
	check(b[0] != b[1] && b[1] != b[2] && b[0] != b[2]);
	errno = 0;
	check(dmapipe_pool_acquire(pool) == NULL);
	check_int_eq(errno, EAGAIN);

	/* the last reference returns the buffer to the pool, not to the allocator */
	dmapipe_buffer_ref(b[1]);
	dmapipe_buffer_unref(b[1]);
	check_int_eq(dmapipe_pool_get_free(pool), 0);
	dmapipe_buffer_unref(b[1]);
	check_int_eq(dmapipe_pool_get_free(pool), 1);
	check_int_eq(dmapipe_buffer_get_refcount(b[1]), 0);
	check_int_eq(test_count_fds(), fds + 3);
	x = dmapipe_pool_acquire(pool);
	check(x == b[1]);
	dmapipe_buffer_unref(x);

	/* taking a free buffer by index takes it off the free list */
	x = dmapipe_pool_get_buffer(pool, (unsigned int)dmapipe_buffer_get_index(b[1]));
	x = dmapipe_buffer_ref(x);
	check(x == b[1]);
	check_int_eq(dmapipe_pool_get_free(pool), 0);
	check(dmapipe_pool_acquire(pool) == NULL);
	dmapipe_buffer_unref(x);
	check_int_eq(dmapipe_pool_get_free(pool), 1);

	/* an extra unref of a free buffer is reported and ignored */
	dmapipe_buffer_unref(b[1]);
	check_int_eq(dmapipe_pool_get_free(pool), 1);

	/* grow */
	check_int_eq(dmapipe_pool_grow(pool, 2), 0);
	check_int_eq(dmapipe_pool_get_size(pool), 5);
	check_int_eq(dmapipe_pool_get_free(pool), 3);
	check_int_eq(dmapipe_buffer_get_index(dmapipe_pool_get_buffer(pool, 4)), 4);
	check_int_eq(dmapipe_pool_grow(pool, 0), 0);
	check_int_eq(test_count_fds(), fds + 5);

	/*
	 * Free the pool while b[0] and b[2] are busy (b[2] twice): the 3 free
	 * buffers go now, the busy ones stay usable until their last unref.
	 */
	dmapipe_buffer_ref(b[2]);
	dmapipe_pool_free(pool);
	check_int_eq(test_count_fds(), fds + 2);
	check_int_eq(count_maps(), maps + 2);
	for (unsigned int i = 0; i < 3; i += 2) {
		uint8_t *p = dmapipe_buffer_map_plane(b[i], 0);

		check(p);
		check_int_eq(dmapipe_buffer_begin_cpu_access(b[i], DMAPIPE_ACCESS_RW), 0);
		memset(p, 0x5a, 64 * 4 * 32);
		check(p[64 * 4 * 32 - 1] == 0x5a);
		check_int_eq(dmapipe_buffer_end_cpu_access(b[i], DMAPIPE_ACCESS_RW), 0);
	}
	dmapipe_buffer_unref(b[0]);
	check_int_eq(test_count_fds(), fds + 1);
	dmapipe_buffer_unref(b[2]);
	check_int_eq(test_count_fds(), fds + 1);
	dmapipe_buffer_unref(b[2]);
	check_int_eq(test_count_fds(), fds);
	check_int_eq(count_maps(), maps);

	/* pools with nothing busy, with nothing at all, and NULL */
	pool = dmapipe_pool_new(alloc, &f, 2, NULL);
	check(pool);
	dmapipe_pool_free(pool);
	pool = dmapipe_pool_new(alloc, &f, 0, NULL);
	check(pool);
	check_int_eq(dmapipe_pool_get_size(pool), 0);
	check(dmapipe_pool_acquire(pool) == NULL && errno == EAGAIN);
	dmapipe_pool_free(pool);
	dmapipe_pool_free(NULL);
	check_int_eq(test_count_fds(), fds);

	/* a format that cannot be laid out */
	f.modifier = 0x0100000000000001ull;
	errno = 0;
	check(dmapipe_pool_new(alloc, &f, 2, NULL) == NULL);
	check_int_eq(errno, EINVAL);
	test_pass("pool");
}

/* A buffer drawn on, checked and released in another thread than the one that made it. */
static void *last_unref(void *data)
{
	struct dmapipe_buffer *buf = data;

	check_int_eq(dmapipe_buffer_draw_pattern(buf, 77), 0);
	check_int_eq(dmapipe_buffer_check_pattern(buf, 77), 0);
	dmapipe_buffer_unref(buf);
	return NULL;
}

/*
 * Buffers outlive the pool they came from and the allocator that made
 * them: each holds what it needs (its allocation's reference, the pool's
 * record of it), whichever thread drops the last reference.
 */
static void test_outlive(void)
{
	struct dmapipe_format f = format("NV12", 96, 64);
	int fds = test_count_fds(), maps = count_maps();
	struct dmapipe_buffer *acquired, *by_index, *extra;
	struct dmapipe_allocator *alloc;
	struct dmapipe_pool *pool;
	pthread_t thread;

	alloc = dmapipe_allocator_new("memfd");
	check(alloc);
	pool = dmapipe_pool_new(alloc, &f, 3, "outlive");
	check(pool);
	acquired = dmapipe_pool_acquire(pool);
	check(acquired);
	/* a free one taken by index: off the free list through the pool's revive hook */
	by_index = dmapipe_pool_get_buffer(pool, 0);
	if (by_index == acquired)
		by_index = dmapipe_pool_get_buffer(pool, 1);
	check(by_index && dmapipe_buffer_get_refcount(by_index) == 0);
	check(dmapipe_buffer_ref(by_index) == by_index);
	check_int_eq(dmapipe_pool_get_free(pool), 1);
	/* a standalone buffer from the same allocator, for comparison */
	extra = dmapipe_allocator_alloc(alloc, &f);
	check(extra);

	dmapipe_pool_free(pool);
	dmapipe_allocator_unref(alloc);
	check_int_eq(test_count_fds(), fds + 3);
	check_int_eq(count_maps(), maps + 2);

	/* still usable, and references still count */
	check_int_eq(dmapipe_buffer_draw_pattern(acquired, 5), 0);
	check_int_eq(dmapipe_buffer_check_pattern(acquired, 5), 0);
	check(dmapipe_buffer_ref(acquired) == acquired);
	dmapipe_buffer_unref(acquired);
	check_int_eq(dmapipe_buffer_get_refcount(acquired), 1);
	dmapipe_buffer_unref(acquired);
	check_int_eq(test_count_fds(), fds + 2);

	/* the last reference of a pool buffer, dropped in another thread */
	check(pthread_create(&thread, NULL, last_unref, by_index) == 0);
	check(pthread_join(thread, NULL) == 0);
	check_int_eq(test_count_fds(), fds + 1);
	check_int_eq(dmapipe_buffer_draw_pattern(extra, 6), 0);
	dmapipe_buffer_unref(extra);
	check_int_eq(test_count_fds(), fds);
	check_int_eq(count_maps(), maps);
	test_pass("outlive");
}

/* What each hook saw, in order: "r1" release of hook 1, "v2" revive of 2, "d1" destroy of 1. */
struct hook_log {
	char events[64];
	bool keep;
};

static void hook_note(struct hook_log *log, char what, int which)
{
	size_t n = strlen(log->events);

	check(n + 3 < sizeof(log->events));
	log->events[n] = what;
	log->events[n + 1] = (char)('0' + which);
	log->events[n + 2] = '\0';
}

static struct hook_log hook_events;

static bool hook1_release(struct dmapipe_buffer *buffer, void *data)
{
	check_int_eq(dmapipe_buffer_get_refcount(buffer), 0);
	check(data == &hook_events);
	hook_note(&hook_events, 'r', 1);
	return false;
}

static bool hook2_release(struct dmapipe_buffer *buffer, void *data)
{
	(void)buffer;
	hook_note(data, 'r', 2);
	return hook_events.keep;
}

static void hook2_revive(struct dmapipe_buffer *buffer, void *data)
{
	check_int_eq(dmapipe_buffer_get_refcount(buffer), 1);
	hook_note(data, 'v', 2);
}

static void hook1_destroy(void *data)
{
	hook_note(data, 'd', 1);
}

static void hook2_destroy(void *data)
{
	hook_note(data, 'd', 2);
}

static struct dmapipe_layout memfd_layout(const struct dmapipe_format *f)
{
	struct dmapipe_layout l;

	check_int_eq(dmapipe_layout_init(&l, f, 0), 0);
	l.objects[0].fd = sealed_memfd(l.objects[0].size, 0);
	l.objects[0].kind = DMAPIPE_MEM_MEMFD;
	return l;
}

/* The hooks alone, without pools or allocators: who is asked what, when. */
static void test_hooks(void)
{
	struct dmapipe_format f = format("R8", 64, 8);
	const struct dmapipe_buffer_hook h1 = { .release = hook1_release,
						.destroy = hook1_destroy,
						.data = &hook_events };
	const struct dmapipe_buffer_hook h2 = { .release = hook2_release,
						.revive = hook2_revive,
						.destroy = hook2_destroy,
						.data = &hook_events };
	const struct dmapipe_buffer_hook empty = { 0 };
	int fds = test_count_fds();
	struct dmapipe_layout l;
	struct dmapipe_buffer *buf;

	/* kept by the second hook: asked in order, the buffer stays alive */
	memset(&hook_events, 0, sizeof(hook_events));
	hook_events.keep = true;
	l = memfd_layout(&f);
	buf = dmapipe_buffer_new_internal(&l, NULL, &h1);
	check(buf);
	check_int_eq(dmapipe_buffer_add_hook(buf, &h2), 0);
	check_int_eq(dmapipe_buffer_add_hook(buf, &empty), -ENOSPC);
	dmapipe_buffer_unref(buf);
	check(strcmp(hook_events.events, "r1r2") == 0);
	check_int_eq(test_count_fds(), fds + 1);
	/* 0 -> 1 revives, 1 -> 2 does not */
	dmapipe_buffer_ref(buf);
	dmapipe_buffer_ref(buf);
	check(strcmp(hook_events.events, "r1r2v2") == 0);
	dmapipe_buffer_unref(buf);
	check(strcmp(hook_events.events, "r1r2v2") == 0);
	/* released by both: destroyed, the hooks' destroy in reverse order, fds closed */
	hook_events.keep = false;
	dmapipe_buffer_unref(buf);
	check_msg(strcmp(hook_events.events, "r1r2v2r1r2d2d1") == 0, "%s", hook_events.events);
	check_int_eq(test_count_fds(), fds);

	/* a buffer that cannot be made still gives its hook back */
	memset(&hook_events, 0, sizeof(hook_events));
	l = memfd_layout(&f);
	l.n_planes = 0;
	errno = 0;
	check(dmapipe_buffer_new_internal(&l, NULL, &h1) == NULL);
	check_int_eq(errno, EINVAL);
	check(strcmp(hook_events.events, "d1") == 0);
	check(dmapipe_buffer_new_internal(NULL, NULL, &h2) == NULL);
	check(strcmp(hook_events.events, "d1d2") == 0);
	check_int_eq(test_count_fds(), fds);

	/* an imported buffer has no hook: its last unref destroys it */
	memset(&hook_events, 0, sizeof(hook_events));
	l = memfd_layout(&f);
	buf = dmapipe_buffer_new_from_fds(&l);
	check(buf);
	check_int_eq(buf->n_hooks, 0);
	check_int_eq(dmapipe_buffer_add_hook(buf, &h2), 0);
	dmapipe_buffer_unref(buf);
	check(strcmp(hook_events.events, "r2d2") == 0);
	check_int_eq(test_count_fds(), fds);
	test_pass("hooks");
}

/* A pool source that makes memfd buffers and fails on request. */
struct source_state {
	struct dmapipe_allocator *alloc;
	unsigned int made, fail_at, released;
	int error;
};

static struct dmapipe_buffer *source_make(const struct dmapipe_format *format, void *data)
{
	struct source_state *st = data;

	if (++st->made == st->fail_at) {
		errno = st->error;
		return NULL;
	}
	return dmapipe_allocator_alloc(st->alloc, format);
}

static void source_release(void *data)
{
	struct source_state *st = data;

	st->released++;
}

/* The core pool with a registered source instead of an allocator. */
static void test_pool_source(struct dmapipe_allocator *alloc)
{
	struct dmapipe_format f = format("YUYV", 32, 16);
	struct source_state st = { .alloc = alloc, .error = EMFILE };
	struct dmapipe_pool_source source = { .make = source_make,
					      .release = source_release,
					      .data = &st };
	int fds = test_count_fds(), maps = count_maps();
	struct dmapipe_buffer *busy;
	struct dmapipe_pool *pool;

	pool = dmapipe_pool_new_from_source(&f, "src", &source);
	check(pool);
	check_int_eq(dmapipe_pool_get_size(pool), 0);
	check_int_eq(st.made, 0);
	check_int_eq(dmapipe_pool_grow(pool, 2), 0);
	check_int_eq(st.made, 2);
	check_int_eq(count_maps(), maps + 2);

	/* the source fails on the 2nd of 3 new buffers: none is added, none leaks */
	st.fail_at = 4;
	check_int_eq(dmapipe_pool_grow(pool, 3), -EMFILE);
	check_int_eq(dmapipe_pool_get_size(pool), 2);
	check_int_eq(dmapipe_pool_get_free(pool), 2);
	check_int_eq(test_count_fds(), fds + 2);
	check_int_eq(count_maps(), maps + 2);
	check_int_eq(dmapipe_pool_grow(pool, 1), 0);
	check_int_eq(dmapipe_pool_get_size(pool), 3);
	check_int_eq(dmapipe_buffer_get_index(dmapipe_pool_get_buffer(pool, 2)), 2);

	/* the source is released once, when the pool goes, busy buffers or not */
	busy = dmapipe_pool_acquire(pool);
	check(busy);
	dmapipe_pool_free(pool);
	check_int_eq(st.released, 1);
	check_int_eq(test_count_fds(), fds + 1);
	dmapipe_buffer_unref(busy);
	check_int_eq(test_count_fds(), fds);
	check_int_eq(count_maps(), maps);

	/* refused arguments still release the source's data */
	source.make = NULL;
	errno = 0;
	check(dmapipe_pool_new_from_source(&f, NULL, &source) == NULL);
	check_int_eq(errno, EINVAL);
	check_int_eq(st.released, 2);
	source.make = source_make;
	check(dmapipe_pool_new_from_source(NULL, NULL, &source) == NULL);
	check_int_eq(st.released, 3);
	test_pass("pool_source");
}

static void test_default_allocator(void)
{
	struct dmapipe_allocator *a;
	struct dmapipe_format f = format("NV12", 64, 64);
	struct dmapipe_pool *pool;
	int fds = test_count_fds();

	check(setenv("DMAPIPE_ALLOCATOR", "memfd", 1) == 0);
	a = dmapipe_allocator_new_default();
	check(a);
	check(strcmp(dmapipe_allocator_get_name(a), "memfd") == 0);
	check_int_eq(dmapipe_allocator_get_mem_kind(a), DMAPIPE_MEM_MEMFD);
	check(dmapipe_allocator_ref(a) == a);
	dmapipe_allocator_unref(a);
	dmapipe_allocator_unref(a);
	dmapipe_allocator_unref(NULL);

	/* the pool's own default allocator (environment chosen) */
	pool = dmapipe_pool_new(NULL, &f, 1, "x");
	check(pool);
	dmapipe_pool_free(pool);

	/* an explicit choice does not fall back */
	check(setenv("DMAPIPE_ALLOCATOR", "no-such-allocator", 1) == 0);
	errno = 0;
	check(dmapipe_allocator_new_default() == NULL);
	check_int_eq(errno, ENOENT);
	check(unsetenv("DMAPIPE_ALLOCATOR") == 0);

	/* whatever this machine has: consistent answers */
	a = dmapipe_allocator_new_default();
	check(a);
	printf("default allocator here: %s (%s)\n", dmapipe_allocator_get_name(a),
	       dmapipe_mem_kind_to_string(dmapipe_allocator_get_mem_kind(a)));
	dmapipe_allocator_unref(a);

	/* dmapipe.ko's allocator is known by name, present or not */
	a = dmapipe_allocator_new("dmapipe");
	check(a || errno != ENOENT);
	dmapipe_allocator_unref(a);
	check(dmapipe_allocator_new(NULL) == NULL);
	check_int_eq(test_count_fds(), fds);
	test_pass("default_allocator");
}

static void test_probe_all(void)
{
	struct dmapipe_allocator_info infos[8], one;
	int n = dmapipe_allocator_probe_all(infos, 8);
	bool memfd = false;

	check_int_eq(n, 5);
	check(strcmp(infos[0].name, "dmapipe") == 0);
	check(strcmp(infos[1].name, "heap") == 0);
	check(strcmp(infos[2].name, "udmabuf") == 0);
	check(strcmp(infos[3].name, "drm") == 0);
	check(strcmp(infos[4].name, "memfd") == 0);
	for (int i = 0; i < n; i++) {
		printf("allocator %-8s %-9s %s%s%s\n", infos[i].name,
		       infos[i].available ? "available" : "absent", infos[i].description,
		       infos[i].available ? "" : ": ",
		       infos[i].available ? "" : strerror(infos[i].error));
		check(infos[i].description && *infos[i].description);
		check(infos[i].available ? infos[i].error == 0 : infos[i].error > 0);
		check_int_eq(infos[i].kind, i == 4 ? DMAPIPE_MEM_MEMFD : DMAPIPE_MEM_DMABUF);
		if (i == 4)
			memfd = infos[i].available;
	}
	check(memfd);
	check_int_eq(dmapipe_allocator_probe_all(&one, 1), 5);
	check(strcmp(one.name, "dmapipe") == 0);
	check_int_eq(dmapipe_allocator_probe_all(NULL, 0), 5);
	test_pass("probe_all");
}

static void fill(struct dmapipe_buffer *buf, uint8_t seed)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(buf);

	check_int_eq(dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_WRITE), 0);
	for (unsigned int p = 0; p < l->n_planes; p++) {
		uint8_t *base = dmapipe_buffer_map_plane(buf, p);
		uint64_t size = dmapipe_layout_plane_size(l, p);

		check(base);
		for (uint64_t i = 0; i < size; i++)
			base[i] = (uint8_t)(i * 7 + p * 31 + seed);
	}
	check_int_eq(dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_WRITE), 0);
}

static void test_copy(struct dmapipe_allocator *alloc)
{
	struct dmapipe_format f = format("NV12", 322, 241);
	struct dmapipe_copy_stats before, after;
	struct dmapipe_buffer *src, *dst, *other;
	struct dmapipe_layout wide;
	uint64_t row, expect = 0;
	uint32_t rows;

	src = dmapipe_allocator_alloc(alloc, &f);
	check(src);
	/* a destination with other strides and both planes in separate objects */
	check_int_eq(dmapipe_layout_init(&wide, &f, 0), 0);
	wide.n_objects = 2;
	wide.planes[0].stride = 512;
	wide.planes[1].stride = 1024;
	wide.planes[1].object = 1;
	wide.planes[1].offset = 4096;
	wide.objects[0].size = 512 * 241;
	wide.objects[1].size = 4096 + 1024 * 121;
	dst = dmapipe_allocator_alloc_layout(alloc, &wide);
	check(dst);
	check_int_eq(dmapipe_buffer_get_layout(dst)->objects[0].size % 4096, 0);
	check_int_eq(dmapipe_buffer_get_layout(dst)->objects[1].size, 4096 + 126976);

	fill(src, 1);
	fill(dst, 99);
	dmapipe_get_copy_stats(&before);
	check_int_eq(dmapipe_buffer_copy_pixels(dst, src), 0);
	dmapipe_get_copy_stats(&after);
	for (unsigned int p = 0; p < 2; p++) {
		check_int_eq(dmapipe_format_plane_geometry(f.fourcc, 322, 241, p, &row, &rows), 0);
		expect += row * rows;
	}
	check_int_eq(expect, 322 * 241 + 322 * 121);
	check_int_eq(after.bytes - before.bytes, expect);
	check_int_eq(after.frames - before.frames, 1);

	/* every pixel byte arrived; the stride padding of dst is untouched */
	check_int_eq(dmapipe_buffer_begin_cpu_access(dst, DMAPIPE_ACCESS_READ), 0);
	for (unsigned int p = 0; p < 2; p++) {
		const struct dmapipe_layout *sl = dmapipe_buffer_get_layout(src);
		const uint8_t *s = dmapipe_buffer_map_plane(src, p);
		const uint8_t *d = dmapipe_buffer_map_plane(dst, p);

		dmapipe_format_plane_geometry(f.fourcc, 322, 241, p, &row, &rows);
		for (uint32_t y = 0; y < rows; y++) {
			const uint8_t *srow = s + (uint64_t)y * sl->planes[p].stride;
			const uint8_t *drow = d + (uint64_t)y * wide.planes[p].stride;
			uint64_t pad = (uint64_t)y * wide.planes[p].stride + row;

			check(memcmp(srow, drow, row) == 0);
			check(drow[row] == (uint8_t)(pad * 7 + p * 31 + 99));
		}
	}
	check_int_eq(dmapipe_buffer_end_cpu_access(dst, DMAPIPE_ACCESS_READ), 0);

	/* refusals copy and count nothing */
	dmapipe_set_strict(true);
	check_int_eq(dmapipe_buffer_copy_pixels(dst, src), -EPERM);
	dmapipe_set_strict(false);
	check_int_eq(dmapipe_buffer_copy_pixels(dst, dst), -EINVAL);
	check_int_eq(dmapipe_buffer_copy_pixels(NULL, src), -EINVAL);
	f.width = 320;
	other = dmapipe_allocator_alloc(alloc, &f);
	check(other);
	check_int_eq(dmapipe_buffer_copy_pixels(other, src), -EINVAL);
	dmapipe_get_copy_stats(&before);
	check_int_eq(before.bytes, after.bytes);

	dmapipe_buffer_unref(other);
	dmapipe_buffer_unref(dst);
	dmapipe_buffer_unref(src);
	test_pass("copy");
}

/* Copies between a buffer and ordinary memory: counted, strides honoured, strict refuses. */
static void test_copy_memory(struct dmapipe_allocator *alloc)
{
	struct dmapipe_format f = format("NV12", 66, 33);
	struct dmapipe_copy_stats before, after;
	const uint32_t strides[2] = { 80, 96 };
	uint8_t *mem = calloc(1, 80 * 33 + 96 * 17), *out = calloc(1, 80 * 33 + 96 * 17);
	uint8_t *planes[2] = { mem, mem + 80 * 33 }, *outp[2] = { out, out + 80 * 33 };
	const uint32_t bad_strides[2] = { 65, 96 };
	struct dmapipe_buffer *buf;
	uint64_t row;
	uint32_t rows;

	check(mem && out);
	for (unsigned int i = 0; i < 80 * 33 + 96 * 17; i++)
		mem[i] = (uint8_t)(i * 13 + 5);
	buf = dmapipe_allocator_alloc(alloc, &f);
	check(buf);

	dmapipe_get_copy_stats(&before);
	check_int_eq(dmapipe_buffer_copy_from_memory(buf, planes, strides), 0);
	dmapipe_get_copy_stats(&after);
	check_int_eq(after.bytes - before.bytes, 66 * 33 + 66 * 17);
	check_int_eq(after.frames - before.frames, 1);
	check_int_eq(dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_READ), 0);
	for (unsigned int p = 0; p < 2; p++) {
		const uint8_t *b = dmapipe_buffer_map_plane(buf, p);
		uint32_t stride = dmapipe_buffer_get_layout(buf)->planes[p].stride;

		dmapipe_format_plane_geometry(f.fourcc, 66, 33, p, &row, &rows);
		for (uint32_t y = 0; y < rows; y++)
			check(memcmp(b + (uint64_t)y * stride, planes[p] + (uint64_t)y * strides[p],
				     row) == 0);
	}
	check_int_eq(dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_READ), 0);

	/* and back: the rows arrive, the padding of the memory is not written */
	memset(out, 0xee, 80 * 33 + 96 * 17);
	check_int_eq(dmapipe_buffer_copy_to_memory(buf, outp, strides), 0);
	for (unsigned int p = 0; p < 2; p++) {
		dmapipe_format_plane_geometry(f.fourcc, 66, 33, p, &row, &rows);
		for (uint32_t y = 0; y < rows; y++) {
			check(memcmp(outp[p] + (uint64_t)y * strides[p],
				     planes[p] + (uint64_t)y * strides[p], row) == 0);
			check(outp[p][(uint64_t)y * strides[p] + row] == 0xee);
		}
	}
	dmapipe_get_copy_stats(&after);
	check_int_eq(after.frames - before.frames, 2);

	/* refusals copy and count nothing */
	dmapipe_set_strict(true);
	check_int_eq(dmapipe_buffer_copy_from_memory(buf, planes, strides), -EPERM);
	check_int_eq(dmapipe_buffer_copy_to_memory(buf, outp, strides), -EPERM);
	dmapipe_set_strict(false);
	check_int_eq(dmapipe_buffer_copy_from_memory(buf, planes, bad_strides), -EINVAL);
	check_int_eq(dmapipe_buffer_copy_from_memory(NULL, planes, strides), -EINVAL);
	check_int_eq(dmapipe_buffer_copy_to_memory(buf, NULL, strides), -EINVAL);
	dmapipe_get_copy_stats(&before);
	check_int_eq(before.bytes, after.bytes);

	dmapipe_buffer_unref(buf);
	free(mem);
	free(out);
	test_pass("copy_memory");
}

static void test_map_access(struct dmapipe_allocator *alloc)
{
	struct dmapipe_format f = format("YUV420", 100, 50);
	const struct dmapipe_layout *l;
	struct dmapipe_buffer *buf;
	uint8_t *p0;

	buf = dmapipe_allocator_alloc(alloc, &f);
	check(buf);
	l = dmapipe_buffer_get_layout(buf);
	p0 = dmapipe_buffer_map_plane(buf, 0);
	check(p0);
	for (unsigned int p = 0; p < 3; p++)
		check(dmapipe_buffer_map_plane(buf, p) == p0 + l->planes[p].offset);
	/* mapped once: the same address every time */
	check(dmapipe_buffer_map_plane(buf, 0) == p0);
	errno = 0;
	check(dmapipe_buffer_map_plane(buf, 3) == NULL && errno == EINVAL);
	check(dmapipe_buffer_map_plane(NULL, 0) == NULL);
	check_int_eq(dmapipe_buffer_begin_cpu_access(buf, (enum dmapipe_access)0), -EINVAL);
	check_int_eq(dmapipe_buffer_begin_cpu_access(buf, (enum dmapipe_access)4), -EINVAL);
	check_int_eq(dmapipe_buffer_end_cpu_access(buf, (enum dmapipe_access)7), -EINVAL);
	check_int_eq(dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_READ), 0);
	check_int_eq(dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_READ), 0);
	check_int_eq(dmapipe_buffer_map_all(buf), 0);
	dmapipe_buffer_unref(buf);
	test_pass("map_access");
}

static void test_import(void)
{
	struct dmapipe_format f = format("NV12", 64, 48);
	int fds = test_count_fds(), maps = count_maps();
	struct dmapipe_layout l, bad;
	struct dmapipe_buffer *buf;
	int p[2], a, size;
	uint8_t *y;

	check_int_eq(dmapipe_layout_init(&l, &f, 0), 0);
	size = (int)l.objects[0].size;

	/* a good one; kind and size come from the fd, not from the sender */
	l.objects[0].fd = sealed_memfd((uint64_t)size, 0);
	l.objects[0].kind = DMAPIPE_MEM_DMABUF; /* a lie */
	l.objects[0].size = 0;                  /* "whatever it is" */
	buf = dmapipe_buffer_new_from_fds(&l);
	check(buf);
	check_int_eq(dmapipe_buffer_get_mem_kind(buf), DMAPIPE_MEM_MEMFD);
	check_int_eq(dmapipe_buffer_get_layout(buf)->objects[0].size, size);
	check_int_eq(dmapipe_buffer_get_direct_io_fd(buf, 0), l.objects[0].fd);
	/* only what the frame covers is mapped */
	y = dmapipe_buffer_map_plane(buf, 0);
	check(y);
	check_int_eq(buf->map_size[0], 64 * 48 * 3 / 2);
	check_int_eq(dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_WRITE), 0);
	y[0] = 0xab;
	check_int_eq(dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_WRITE), 0);
	{
		uint8_t c = 0;

		check(pread(l.objects[0].fd, &c, 1, 0) == 1 && c == 0xab);
	}
	dmapipe_buffer_unref(buf);
	check(!fd_is_open(l.objects[0].fd));

	/* a sparse, huge sender memfd costs us only the frame */
	l.objects[0].fd = sealed_memfd(UINT64_C(1) << 40, 0);
	l.objects[0].size = UINT64_C(1) << 40;
	buf = dmapipe_buffer_new_from_fds(&l);
	check(buf);
	check(dmapipe_buffer_map_plane(buf, 1));
	check_int_eq(buf->map_size[0], 64 * 48 * 3 / 2);
	dmapipe_buffer_unref(buf);
	l.objects[0].size = 0;

	/* refusals: NULL with errno, and every fd closed */
	dmapipe_log_set_priority(DMAPIPE_LOG_ERROR); /* the refusals are logged as warnings */
	check(pipe2(p, O_CLOEXEC) == 0);
	bad = l;
	bad.objects[0].fd = p[0];
	errno = 0;
	check(dmapipe_buffer_new_from_fds(&bad) == NULL);
	check_int_eq(errno, EBADFD);
	check(!fd_is_open(p[0]));
	close(p[1]);

	bad = l;
	bad.objects[0].fd = memfd_create("unsealed", MFD_CLOEXEC);
	check(ftruncate(bad.objects[0].fd, size) == 0);
	check(dmapipe_buffer_new_from_fds(&bad) == NULL);
	check_int_eq(errno, EPERM);
	check(!fd_is_open(bad.objects[0].fd));

	/* claims more than the object has */
	bad = l;
	bad.objects[0].fd = sealed_memfd(4096, 0);
	bad.objects[0].size = (uint64_t)size;
	check(dmapipe_buffer_new_from_fds(&bad) == NULL);
	check_int_eq(errno, EBADFD);
	check(!fd_is_open(bad.objects[0].fd));

	/* object too small for the planes */
	bad = l;
	bad.objects[0].fd = sealed_memfd(64 * 48, 0);
	bad.objects[0].size = 0;
	check(dmapipe_buffer_new_from_fds(&bad) == NULL);
	check_int_eq(errno, EINVAL);
	check(!fd_is_open(bad.objects[0].fd));

	/* stride too small */
	bad = l;
	bad.objects[0].fd = sealed_memfd((uint64_t)size, 0);
	bad.planes[1].stride = 10;
	check(dmapipe_buffer_new_from_fds(&bad) == NULL);
	check_int_eq(errno, EINVAL);
	check(!fd_is_open(bad.objects[0].fd));

	/* second object bad: the good first one is closed too */
	bad = l;
	a = sealed_memfd(64 * 48, 0);
	check(pipe2(p, O_CLOEXEC) == 0);
	bad.n_objects = 2;
	bad.objects[0].fd = a;
	bad.objects[1].fd = p[1];
	bad.planes[1].object = 1;
	bad.planes[1].offset = 0;
	check(dmapipe_buffer_new_from_fds(&bad) == NULL);
	check_int_eq(errno, EBADFD);
	check(!fd_is_open(a) && !fd_is_open(p[1]));
	close(p[0]);

	/* the same fd for two objects: refused, closed once */
	bad.objects[0].fd = a = sealed_memfd((uint64_t)size, 0);
	bad.objects[1].fd = a;
	check(dmapipe_buffer_new_from_fds(&bad) == NULL);
	check_int_eq(errno, EINVAL);
	check(!fd_is_open(a));

	/* counts out of range; only objects[0..n) are owned */
	bad = l;
	bad.objects[0].fd = sealed_memfd((uint64_t)size, 0);
	bad.n_planes = 0;
	check(dmapipe_buffer_new_from_fds(&bad) == NULL);
	check_int_eq(errno, EINVAL);
	check(!fd_is_open(bad.objects[0].fd));
	check(dmapipe_buffer_new_from_fds(NULL) == NULL);
	check_int_eq(errno, EINVAL);

	/* a write-sealed memfd: imported, mapped read-only, writes refused */
	bad = l;
	bad.objects[0].fd = sealed_memfd((uint64_t)size, F_SEAL_WRITE);
	buf = dmapipe_buffer_new_from_fds(&bad);
	check(buf);
	y = dmapipe_buffer_map_plane(buf, 0);
	check(y);
	check_int_eq(dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_READ), 0);
	check(y[0] == 0);
	check_int_eq(dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_READ), 0);
	check_int_eq(dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_WRITE), -EACCES);
	check_int_eq(dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_RW), -EACCES);
	{
		struct dmapipe_allocator *alloc = dmapipe_allocator_new("memfd");
		struct dmapipe_buffer *src = dmapipe_allocator_alloc(alloc, &f);

		check(src);
		check_int_eq(dmapipe_buffer_copy_pixels(buf, src), -EACCES);
		check_int_eq(dmapipe_buffer_copy_pixels(src, buf), 0);
		dmapipe_buffer_unref(src);
		dmapipe_allocator_unref(alloc);
	}
	dmapipe_buffer_unref(buf);
	dmapipe_log_set_priority(DMAPIPE_LOG_WARNING);

	check_int_eq(test_count_fds(), fds);
	check_int_eq(count_maps(), maps);
	test_pass("import");
}

/* References dropped from several threads while the pool owner works. */
struct stress {
	struct dmapipe_pool *pool;
	struct dmapipe_buffer *held[64];
	unsigned int n_held;
	pthread_mutex_t lock;
	int stop;
};

static void *stress_unref(void *data)
{
	struct stress *s = data;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct dmapipe_buffer *buf = NULL;

		pthread_mutex_lock(&s->lock);
		if (s->n_held)
			buf = s->held[--s->n_held];
		pthread_mutex_unlock(&s->lock);
		if (buf) {
			dmapipe_buffer_ref(buf);
			dmapipe_buffer_unref(buf);
			dmapipe_buffer_unref(buf);
		}
	}
	return NULL;
}

static void test_threads(struct dmapipe_allocator *alloc)
{
	struct dmapipe_format f = format("R8", 64, 64);
	int fds = test_count_fds(), maps = count_maps();
	struct stress s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_t threads[3];
	unsigned int acquired = 0;

	s.pool = dmapipe_pool_new(alloc, &f, 8, NULL);
	check(s.pool);
	for (int i = 0; i < 3; i++)
		check(pthread_create(&threads[i], NULL, stress_unref, &s) == 0);
	/* bounded in work and in time: slow machines (TCG guests) do less */
	for (uint64_t end = test_now_ms() + 2000; acquired < 50000 && test_now_ms() < end;) {
		struct dmapipe_buffer *buf = dmapipe_pool_acquire(s.pool);

		if (!buf) {
			sched_yield();
			continue;
		}
		acquired++;
		check_int_eq(dmapipe_buffer_get_refcount(buf), 1);
		pthread_mutex_lock(&s.lock);
		if (s.n_held < ARRAY_SIZE(s.held))
			s.held[s.n_held++] = buf;
		else
			dmapipe_buffer_unref(buf);
		pthread_mutex_unlock(&s.lock);
	}
	/* free the pool while other threads still drop references */
	dmapipe_pool_free(s.pool);
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++)
		pthread_join(threads[i], NULL);
	while (s.n_held)
		dmapipe_buffer_unref(s.held[--s.n_held]);
	check_msg(acquired > 100, "only %u acquired", acquired);
	check_int_eq(test_count_fds(), fds);
	check_int_eq(count_maps(), maps);
	test_pass("threads");
}

int main(void)
{
	int fds = test_count_fds();
	struct dmapipe_allocator *alloc;

	alloc = dmapipe_allocator_new("memfd");
	check(alloc);
	check(strcmp(dmapipe_allocator_get_name(alloc), "memfd") == 0);
	check_int_eq(dmapipe_allocator_get_mem_kind(alloc), DMAPIPE_MEM_MEMFD);

	test_refcount(alloc);
	test_pool(alloc);
	test_map_access(alloc);
	test_copy(alloc);
	test_copy_memory(alloc);
	test_import();
	test_threads(alloc);
	test_outlive();
	test_hooks();
	test_pool_source(alloc);
	test_default_allocator();
	test_probe_all();

	dmapipe_allocator_unref(alloc);
	check_int_eq(test_count_fds(), fds);
	return 0;
}
