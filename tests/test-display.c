/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The display consumer (lib/devices/display*.c) against vkms, in the VM
 * lane (tests/vm: vkms built from linux-source for each kernel).
 *
 *   test-display args   everywhere: options the display refuses (a mode
 *                       or rectangle with one side, a writeback interval
 *                       without its callback, newer options it does not
 *                       know), a node that is no DRM device, a missing
 *                       node, no KMS device at all (the host), NULLs
 *   test-display vkms   in the lane, on vkms with vgem's buffers:
 *     import-once       four buffers shown in turn: four PRIME imports and
 *                       four framebuffers for 24 frames, every frame handed
 *                       back once, after the next one's flip, nothing copied
 *     shared            two buffers around one dma-buf: one GEM handle
 *                       (PRIME gives the same one), two framebuffers, closed
 *                       once
 *     latest            three frames given before any flip: the second is
 *                       replaced by the third and handed back unshown
 *     refusals          a memfd, a tiled modifier, a format no plane takes,
 *                       ARGB8888 (shown where a plane takes it, refused
 *                       where not: 6.1's vkms), a rectangle the plane cannot
 *                       scale to: each refused with its reason, nothing taken
 *     fences            an acquire fence (vgem's) holds the flip back until
 *                       it signals; with release fences a frame comes back
 *                       at the next commit with a sync_file that signals
 *                       once the next frame is on screen
 *     writeback         on vkms's writeback connector as the output: the
 *                       composed screen equals each frame pixel for pixel,
 *                       read while the display still holds the frame; beside
 *                       Virtual-1, refused with the reason (no clones)
 *     open-errors       an unknown connector, a mode it lacks, vgem's card
 *                       (no display), another process's DRM master
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if HAVE_LIBDRM
#include <xf86drm.h>
#endif

#include "private.h"
#include "testlib.h"

#define MAX_TAGS 64
#define FLIP_TIMEOUT_MS 5000

/* What the callbacks saw. */
struct rec {
	unsigned int done[MAX_TAGS];    /* per tag */
	int status[MAX_TAGS];
	bool shown_tag[MAX_TAGS];
	unsigned int shown, cancelled, fences, writebacks, wb_bad;
	int last_fence;
	bool wb_held_ok;
	struct dmapipe_buffer *buf[MAX_TAGS]; /* the caller's lease, dropped at done */
};

static int tag_of(void *frame_data)
{
	return (int)(uintptr_t)frame_data;
}

static void on_done(struct dmapipe_display *d, void *frame_data, int status, int release_fence,
		    void *user_data)
{
	struct rec *r = user_data;
	int tag = tag_of(frame_data);

	(void)d;
	check(tag > 0 && tag < MAX_TAGS);
	r->done[tag]++;
	r->status[tag] = status;
	r->cancelled += status == -ECANCELED;
	if (release_fence >= 0) {
		check(dmapipe_fd_is_sync_file(release_fence));
		r->fences++;
		dmapipe_close(r->last_fence);
		r->last_fence = release_fence;
	}
	dmapipe_buffer_unref(r->buf[tag]);
	r->buf[tag] = NULL;
}

static void on_shown(struct dmapipe_display *d, void *frame_data, uint64_t flip_ns,
		     uint64_t vblank, void *user_data)
{
	struct rec *r = user_data;

	(void)d;
	(void)vblank;
	check(flip_ns > 0 && flip_ns <= dmapipe_now_ns());
	r->shown_tag[tag_of(frame_data)] = true;
	r->shown++;
}

static uint32_t rgb(const uint8_t *plane, uint32_t stride, uint32_t x, uint32_t y)
{
	const uint8_t *p = plane + (uint64_t)y * stride + (uint64_t)x * 4;

	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static void on_writeback(struct dmapipe_display *d, void *frame_data,
			 struct dmapipe_buffer *composed, void *user_data)
{
	struct rec *r = user_data;
	int tag = tag_of(frame_data);
	struct dmapipe_buffer *frame = r->buf[tag];
	const struct dmapipe_layout *lc = dmapipe_buffer_get_layout(composed);
	const struct dmapipe_layout *lf;
	struct dmapipe_display_info info;
	uint8_t *pf, *pc;

	dmapipe_display_get_info(d, &info);
	/* the frame is still the display's: its lease has not come back */
	r->wb_held_ok = frame && r->done[tag] == 0;
	check(frame);
	lf = dmapipe_buffer_get_layout(frame);
	check_int_eq(lc->format.width, info.mode_width);
	check_int_eq(lc->format.height, info.mode_height);
	check_int_eq(lc->format.fourcc, dmapipe_fourcc_from_string("XRGB8888"));
	pf = dmapipe_buffer_map_plane(frame, 0);
	pc = dmapipe_buffer_map_plane(composed, 0);
	check(pf && pc);
	check_int_eq(dmapipe_buffer_begin_cpu_access(composed, DMAPIPE_ACCESS_READ), 0);
	check_int_eq(dmapipe_buffer_begin_cpu_access(frame, DMAPIPE_ACCESS_READ), 0);
	for (uint32_t y = 0; y < lc->format.height; y++)
		for (uint32_t x = 0; x < lc->format.width; x++)
			r->wb_bad += rgb(pc, lc->planes[0].stride, x, y) !=
				     rgb(pf, lf->planes[0].stride, x, y);
	dmapipe_buffer_end_cpu_access(frame, DMAPIPE_ACCESS_READ);
	dmapipe_buffer_end_cpu_access(composed, DMAPIPE_ACCESS_READ);
	r->writebacks++;
}

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	r->last_fence = -1;
}

static void rec_finish(struct rec *r)
{
	dmapipe_close(r->last_fence);
	for (int i = 0; i < MAX_TAGS; i++)
		check_msg(!r->buf[i], "frame %d was never handed back", i);
}

static void options(struct dmapipe_display_options *o, struct rec *r, const char *device)
{
	dmapipe_display_options_init(o);
	o->device = device;
	o->done = on_done;
	o->shown = on_shown;
	o->user_data = r;
}

/* Shows @buffer as frame @tag; the caller's lease (a reference) goes to the record. */
static int show(struct dmapipe_display *d, struct rec *r, struct dmapipe_buffer *buffer,
		int tag, int acquire_fence)
{
	struct dmapipe_frame_meta meta;
	int ret;

	dmapipe_frame_meta_init(&meta);
	meta.sequence = (uint64_t)tag;
	meta.acquire_fence = acquire_fence;
	check(!r->buf[tag]);
	r->buf[tag] = dmapipe_buffer_ref(buffer);
	ret = dmapipe_display_show(d, buffer, &meta, (void *)(uintptr_t)tag);
	if (ret < 0) {
		/* nothing was taken: the lease is still the caller's */
		dmapipe_buffer_unref(r->buf[tag]);
		r->buf[tag] = NULL;
	}
	return ret;
}

/* Dispatches until @n frames were shown in all. */
static void wait_shown(struct dmapipe_display *d, struct rec *r, unsigned int n)
{
	uint64_t end = test_now_ms() + FLIP_TIMEOUT_MS;

	while (r->shown < n) {
		check_msg(test_now_ms() < end, "%u frames shown, waited for %u", r->shown, n);
		check(dmapipe_display_dispatch(d, 100) >= 0);
	}
}

static struct dmapipe_allocator *vgem_allocator(void)
{
	struct dmapipe_allocator *a = dmapipe_allocator_new("drm");

	check_msg(a, "the drm allocator (vgem): %s", strerror(errno));
	return a;
}

static struct dmapipe_buffer *alloc_frame(struct dmapipe_allocator *a, const char *fourcc,
					  uint32_t w, uint32_t h)
{
	struct dmapipe_format f = { .fourcc = dmapipe_fourcc_from_string(fourcc),
				    .width = w, .height = h, .modifier = DMAPIPE_MOD_LINEAR };
	struct dmapipe_buffer *b = dmapipe_allocator_alloc(a, &f);

	check_msg(b, "allocating %s %ux%u: %s", fourcc, w, h, strerror(errno));
	return b;
}

/* The vkms card from discovery, and whether a non-cursor plane takes ARGB8888. */
static const char *vkms_card(bool *argb)
{
	static char path[128];
	struct dmapipe_device_list *list = dmapipe_device_list_new(0);

	path[0] = '\0';
	*argb = false;
	for (size_t i = 0; i < dmapipe_device_list_get_count(list); i++) {
		const struct dmapipe_device *dev = dmapipe_device_list_get(list, i);

		if (dev->type != DMAPIPE_DEVICE_KMS || strcmp(dev->kms->driver, "vkms") != 0)
			continue;
		snprintf(path, sizeof(path), "%s", dev->path);
		for (uint32_t p = 0; p < dev->kms->n_planes; p++)
			for (uint32_t f = 0; f < dev->kms->planes[p].n_formats; f++)
				*argb |= dev->kms->planes[p].type != DMAPIPE_KMS_PLANE_CURSOR &&
					 dev->kms->planes[p].formats[f].fourcc ==
						 dmapipe_fourcc_from_string("ARGB8888");
	}
	dmapipe_device_list_free(list);
	check_msg(path[0], "no vkms KMS device although the lane loaded vkms");
	return path;
}

/* ---- args: everywhere ------------------------------------------------------ */

static void expect_new_fails(const struct dmapipe_display_options *o, int err)
{
	errno = 0;
	check(dmapipe_display_new(o) == NULL);
	check_msg(errno == err, "errno %d (%s), expected %d (%s)", errno, strerror(errno), err,
		  strerror(err));
}

static void test_args(void)
{
	struct dmapipe_display_options o;
	struct dmapipe_display_info info;
	struct dmapipe_display_stats stats;
	struct {
		struct dmapipe_display_options o;
		uint64_t newer;
	} big;
	struct rec r;

	rec_init(&r);
	options(&o, &r, NULL);
	o.mode_width = 640;
	expect_new_fails(&o, EINVAL);
	options(&o, &r, NULL);
	o.width = 320;
	expect_new_fails(&o, EINVAL);
	options(&o, &r, NULL);
	o.writeback_interval = 1;
	o.writeback = NULL;
	expect_new_fails(&o, EINVAL);
	/* a newer caller asking for something this library lacks */
	memset(&big, 0, sizeof(big));
	options(&big.o, &r, NULL);
	big.o.size = sizeof(big);
	big.newer = 1;
	expect_new_fails(&big.o, E2BIG);
	expect_new_fails(NULL, EINVAL);

	options(&o, &r, "/dev/null");
	expect_new_fails(&o, ENODEV);
	options(&o, &r, "/dev/dri/no-such-card");
	expect_new_fails(&o, ENOENT);
	if (access("/dev/dri", F_OK) != 0) {
		options(&o, &r, NULL);
		expect_new_fails(&o, ENODEV);
		printf("# no /dev/dri: no KMS device, ENODEV\n");
	}

	dmapipe_display_free(NULL);
	check_int_eq(dmapipe_display_get_fd(NULL), -1);
	check_int_eq(dmapipe_display_show(NULL, NULL, NULL, NULL), -EINVAL);
	check_int_eq(dmapipe_display_dispatch(NULL, 0), -EINVAL);
	memset(&info, 0x55, sizeof(info));
	dmapipe_display_get_info(NULL, &info);
	memset(&stats, 0x55, sizeof(stats));
	dmapipe_display_get_stats(NULL, &stats);
	rec_finish(&r);
	test_pass("args");
}

/* ---- vkms ------------------------------------------------------------------- */

#if HAVE_LIBDRM

static void test_import_once(const char *card)
{
	struct dmapipe_allocator *a = vgem_allocator();
	struct dmapipe_buffer *bufs[4];
	struct dmapipe_display_options o;
	struct dmapipe_display_stats st;
	struct dmapipe_display_info info;
	struct dmapipe_copy_stats c0, c1;
	struct dmapipe_display *d;
	struct rec r;

	rec_init(&r);
	for (int i = 0; i < 4; i++)
		bufs[i] = alloc_frame(a, "XRGB8888", 1024, 768);
	options(&o, &r, card);
	d = dmapipe_display_new(&o);
	check_msg(d, "display on %s: %s", card, strerror(errno));
	dmapipe_display_get_info(d, &info);
	check(strcmp(info.driver, "vkms") == 0 && strcmp(info.connector, "Virtual-1") == 0);
	check_int_eq(info.mode_width, 1024);
	check_int_eq(info.mode_height, 768);
	check(dmapipe_display_get_fd(d) >= 0);
	dmapipe_get_copy_stats(&c0);
	for (int i = 1; i <= 24; i++) {
		check_int_eq(show(d, &r, bufs[i % 4], i, -1), 0);
		wait_shown(d, &r, (unsigned int)i);
		/* the frame before this one went back when this one flipped */
		if (i > 1)
			check_int_eq(r.done[i - 1], 1);
		check_int_eq(r.done[i], 0);
	}
	dmapipe_display_get_info(d, &info);
	check(info.plane_type == DMAPIPE_KMS_PLANE_PRIMARY && !info.scaled);
	check(info.x == 0 && info.y == 0 && info.width == 1024 && info.height == 768);
	dmapipe_display_get_stats(d, &st);
	check_int_eq(st.frames_in, 24);
	check_int_eq(st.frames_shown, 24);
	check_int_eq(st.commits, 24);
	check_int_eq(st.imports, 4);
	check_int_eq(st.framebuffers, 4);
	check_int_eq(st.evictions, 0);
	check_int_eq(st.cached, 4);
	check_int_eq(st.frames_dropped, 0);
	check(st.latency_max_ns > 0 && st.latency_sum_ns >= st.latency_max_ns);
	dmapipe_display_free(d);
	for (int i = 1; i <= 24; i++) {
		check_int_eq(r.done[i], 1);
		check_int_eq(r.status[i], 0);
		check(r.shown_tag[i]);
	}
	dmapipe_get_copy_stats(&c1);
	check_int_eq(c1.bytes, c0.bytes);
	for (int i = 0; i < 4; i++) {
		check_int_eq(dmapipe_buffer_get_refcount(bufs[i]), 1);
		dmapipe_buffer_unref(bufs[i]);
	}
	dmapipe_allocator_unref(a);
	rec_finish(&r);
	test_pass("import-once: 24 frames of 4 buffers, 4 imports, 4 framebuffers, 0 copied");
}

static void test_shared(const char *card)
{
	struct dmapipe_allocator *a = vgem_allocator();
	struct dmapipe_buffer *one = alloc_frame(a, "XRGB8888", 1024, 768), *two;
	struct dmapipe_layout l = *dmapipe_buffer_get_layout(one);
	struct dmapipe_display_options o;
	struct dmapipe_display_stats st;
	struct dmapipe_display *d;
	struct rec r;

	rec_init(&r);
	l.objects[0].fd = fcntl(l.objects[0].fd, F_DUPFD_CLOEXEC, 3);
	check(l.objects[0].fd >= 0);
	two = dmapipe_buffer_new_from_fds(&l);
	check(two);
	options(&o, &r, card);
	d = dmapipe_display_new(&o);
	check(d);
	check_int_eq(show(d, &r, one, 1, -1), 0);
	wait_shown(d, &r, 1);
	check_int_eq(show(d, &r, two, 2, -1), 0);
	wait_shown(d, &r, 2);
	check_int_eq(show(d, &r, one, 3, -1), 0);
	wait_shown(d, &r, 3);
	dmapipe_display_get_stats(d, &st);
	check_int_eq(st.imports, 1);
	check_int_eq(st.framebuffers, 2);
	dmapipe_display_free(d);
	/* the handle was closed once: a new display imports the same dma-buf again */
	rec_init(&r);
	d = dmapipe_display_new(&o);
	check(d);
	check_int_eq(show(d, &r, two, 4, -1), 0);
	wait_shown(d, &r, 1);
	dmapipe_display_free(d);
	check_int_eq(r.done[4], 1);
	dmapipe_buffer_unref(one);
	dmapipe_buffer_unref(two);
	dmapipe_allocator_unref(a);
	rec_finish(&r);
	test_pass("shared: one dma-buf in two buffers, one import, two framebuffers");
}

static void test_latest(const char *card)
{
	struct dmapipe_allocator *a = vgem_allocator();
	struct dmapipe_buffer *b[3];
	struct dmapipe_display_options o;
	struct dmapipe_display_stats st;
	struct dmapipe_display *d;
	struct rec r;

	rec_init(&r);
	for (int i = 0; i < 3; i++)
		b[i] = alloc_frame(a, "XRGB8888", 1024, 768);
	options(&o, &r, card);
	d = dmapipe_display_new(&o);
	check(d);
	/* a first frame on screen, so that the next ones are page flips */
	check_int_eq(show(d, &r, b[0], 1, -1), 0);
	wait_shown(d, &r, 1);
	check_int_eq(show(d, &r, b[1], 2, -1), 0);
	check_int_eq(show(d, &r, b[2], 3, -1), 0);
	check_int_eq(show(d, &r, b[0], 4, -1), 0);
	/* 3 waited for 2's flip and 4 replaced it: handed back at once, unshown */
	check_int_eq(r.done[3], 1);
	check_int_eq(r.status[3], -ECANCELED);
	wait_shown(d, &r, 3);
	check(r.shown_tag[2] && !r.shown_tag[3] && r.shown_tag[4]);
	dmapipe_display_get_stats(d, &st);
	check_int_eq(st.frames_dropped, 1);
	check_int_eq(st.frames_in, 4);
	dmapipe_display_free(d);
	for (int i = 0; i < 3; i++)
		dmapipe_buffer_unref(b[i]);
	dmapipe_allocator_unref(a);
	rec_finish(&r);
	test_pass("latest: a frame waiting for a flip is replaced by a newer one, handed back");
}

static void expect_refused(struct dmapipe_display *d, struct rec *r, struct dmapipe_buffer *b,
			   int err, const char *reason)
{
	struct dmapipe_display_info info;
	unsigned int refs = dmapipe_buffer_get_refcount(b);

	check_int_eq(show(d, r, b, 1, -1), err);
	dmapipe_display_get_info(d, &info);
	check_msg(strstr(info.error, reason), "'%s' lacks '%s'", info.error, reason);
	printf("# refused: %s\n", info.error);
	check_int_eq(dmapipe_buffer_get_refcount(b), refs);
	check_int_eq(r->done[1], 0);
}

static void test_refusals(const char *card, bool argb)
{
	struct dmapipe_allocator *a = vgem_allocator(), *m = dmapipe_allocator_new("memfd");
	struct dmapipe_buffer *memfd = alloc_frame(m, "XRGB8888", 1024, 768);
	struct dmapipe_buffer *nv12 = alloc_frame(a, "NV12", 1024, 768);
	struct dmapipe_buffer *argb8888 = alloc_frame(a, "ARGB8888", 1024, 768);
	struct dmapipe_buffer *plain = alloc_frame(a, "XRGB8888", 1024, 768), *tiled;
	struct dmapipe_layout l = *dmapipe_buffer_get_layout(plain);
	struct dmapipe_display_options o;
	struct dmapipe_display *d;
	struct rec r;

	/* I915_FORMAT_MOD_X_TILED: a layout vkms cannot scan out */
	l.format.modifier = UINT64_C(0x0100000000000001);
	l.objects[0].fd = fcntl(l.objects[0].fd, F_DUPFD_CLOEXEC, 3);
	tiled = dmapipe_buffer_new_from_fds(&l);
	check_msg(tiled, "a tiled buffer: %s", strerror(errno));

	rec_init(&r);
	options(&o, &r, card);
	d = dmapipe_display_new(&o);
	check(d);
	expect_refused(d, &r, memfd, -EXDEV, "dma-bufs only");
	expect_refused(d, &r, tiled, -ENOTSUP, "modifier");
	expect_refused(d, &r, nv12, -ENOTSUP, "its planes take");
	if (argb) {
		check_int_eq(show(d, &r, argb8888, 1, -1), 0);
		wait_shown(d, &r, 1);
		printf("# ARGB8888 shown: a plane takes it\n");
	} else {
		expect_refused(d, &r, argb8888, -ENOTSUP, "scans out ARGB8888");
	}
	dmapipe_display_free(d);

	/* vkms scales nothing: a rectangle of another size is refused */
	rec_init(&r);
	options(&o, &r, card);
	o.x = 0;
	o.y = 0;
	o.width = 512;
	o.height = 384;
	d = dmapipe_display_new(&o);
	check(d);
	expect_refused(d, &r, plain, -EINVAL, "refused a 1024x768 frame at 0,0 512x384");
	dmapipe_display_free(d);

	dmapipe_buffer_unref(memfd);
	dmapipe_buffer_unref(nv12);
	dmapipe_buffer_unref(argb8888);
	dmapipe_buffer_unref(plain);
	dmapipe_buffer_unref(tiled);
	dmapipe_allocator_unref(m);
	dmapipe_allocator_unref(a);
	rec_finish(&r);
	test_pass("refusals: memfd, tiled modifier, NV12, ARGB8888 as the planes say, scaling");
}

static void test_fences(const char *card)
{
	struct dmapipe_allocator *a = vgem_allocator();
	struct dmapipe_buffer *b[2] = { alloc_frame(a, "XRGB8888", 1024, 768),
					alloc_frame(a, "XRGB8888", 1024, 768) };
	struct dmapipe_display_options o;
	struct dmapipe_display_stats st;
	struct dmapipe_display *d;
	struct test_fence fence;
	struct pollfd pfd;
	const char *why;
	uint64_t end;
	struct rec r;

	check_msg(test_fence_new(&fence, &why) == 0, "a fence: %s", why);
	rec_init(&r);
	options(&o, &r, card);
	d = dmapipe_display_new(&o);
	check(d);
	check_int_eq(show(d, &r, b[0], 1, -1), 0);
	wait_shown(d, &r, 1);
	check_int_eq(show(d, &r, b[1], 2, fence.fd), 0);
	/* the plane waits for the fence: no flip while it is unsignalled */
	end = test_now_ms() + 400;
	while (test_now_ms() < end)
		check(dmapipe_display_dispatch(d, 50) >= 0);
	check_int_eq(r.shown, 1);
	check_int_eq(r.done[1], 0);
	check_int_eq(test_fence_signal(&fence), 0);
	wait_shown(d, &r, 2);
	check_int_eq(r.done[1], 1);
	dmapipe_display_get_stats(d, &st);
	check_int_eq(st.in_fences, 1);
	dmapipe_display_free(d);
	test_fence_finish(&fence);
	test_pass("fences: an acquire fence holds the flip back until it signals");

	/* release fences: a frame comes back with the next commit */
	rec_init(&r);
	options(&o, &r, card);
	o.release_fences = true;
	d = dmapipe_display_new(&o);
	check(d);
	check_int_eq(show(d, &r, b[0], 1, -1), 0);
	wait_shown(d, &r, 1);
	check_int_eq(show(d, &r, b[1], 2, -1), 0);
	check_int_eq(r.done[1], 1);
	check_int_eq(r.fences, 1);
	pfd = (struct pollfd){ .fd = r.last_fence, .events = POLLIN };
	wait_shown(d, &r, 2);
	check_int_eq(poll(&pfd, 1, FLIP_TIMEOUT_MS), 1);
	dmapipe_display_get_stats(d, &st);
	check_int_eq(st.release_fences, 1);
	dmapipe_display_free(d);
	check_int_eq(r.done[2], 1);
	dmapipe_buffer_unref(b[0]);
	dmapipe_buffer_unref(b[1]);
	dmapipe_allocator_unref(a);
	rec_finish(&r);
	test_pass("fences: release fences come back at the next commit and signal on its flip");
}

/*
 * Shows frames 1, 2, ... in turn from the three buffers @b, each drawn
 * once its lease came back (as a producer would), each waited for on
 * screen: @min frames, and more (up to the tags there are) until
 * @writebacks compositions came.
 */
static void show_rotating(struct dmapipe_display *d, struct rec *r, struct dmapipe_buffer **b,
			  int min, unsigned int writebacks)
{
	for (int i = 1; i <= min || (r->writebacks < writebacks && i < MAX_TAGS); i++) {
		uint64_t end = test_now_ms() + FLIP_TIMEOUT_MS;

		while (i > 3 && !r->done[i - 3]) {
			check_msg(test_now_ms() < end, "frame %d was not handed back", i - 3);
			check(dmapipe_display_dispatch(d, 100) >= 0);
		}
		check_int_eq(dmapipe_buffer_draw_pattern(b[i % 3], (uint64_t)i), 0);
		check_int_eq(show(d, r, b[i % 3], i, -1), 0);
		wait_shown(d, r, (unsigned int)i);
	}
}

/* The writeback connector as the output, composing at most every second frame. */
static void writeback_options(struct dmapipe_display_options *o, struct rec *r, const char *card)
{
	options(o, r, card);
	o->connector = "Writeback-1";
	o->mode_width = 1024;
	o->mode_height = 768;
	o->writeback_interval = 2;
	o->writeback = on_writeback;
}

static void test_writeback(const char *card)
{
	struct dmapipe_allocator *a = vgem_allocator();
	struct dmapipe_buffer *b[3];
	struct dmapipe_display_options o;
	struct dmapipe_display_stats st;
	struct dmapipe_display_info info;
	struct dmapipe_display *d;
	struct rec r;

	for (int i = 0; i < 3; i++)
		b[i] = alloc_frame(a, "XRGB8888", 1024, 768);
	rec_init(&r);
	writeback_options(&o, &r, card);
	d = dmapipe_display_new(&o);
	check_msg(d, "display on Writeback-1: %s", strerror(errno));
	dmapipe_display_get_info(d, &info);
	check(info.writeback && info.writeback_id == info.connector_id);
	/* a job at most every second frame, and 250 ms after the one before: until two came */
	show_rotating(d, &r, b, 8, 2);
	dmapipe_display_get_stats(d, &st);
	dmapipe_display_free(d);
	check_msg(r.writebacks >= 2, "%u writebacks", r.writebacks);
	check_int_eq(st.writebacks_lost, 0);
	check(r.wb_held_ok);
	check_int_eq(r.wb_bad, 0);
	printf("# %u frames composed by the writeback connector, equal to the frames\n",
	       r.writebacks);
	rec_finish(&r);

	/*
	 * A job past its deadline (1 ms: no vblank and composition come that
	 * soon) is given up: its frame goes back without a callback, no job is
	 * made again, and every frame is still shown and handed back.
	 */
	rec_init(&r);
	writeback_options(&o, &r, card);
	o.writeback_deadline_ms = 1;
	d = dmapipe_display_new(&o);
	check(d);
	show_rotating(d, &r, b, 8, 0);
	dmapipe_display_get_stats(d, &st);
	dmapipe_display_free(d);
	check_int_eq(st.writebacks_lost, 1);
	check_int_eq(st.writebacks, 0);
	check_int_eq(r.writebacks, 0);
	check_int_eq(st.frames_shown, 8);
	for (int i = 1; i <= 8; i++)
		check_msg(r.done[i] == 1 && r.status[i] == 0, "frame %d: done %u, status %d", i,
			  r.done[i], r.status[i]);
	rec_finish(&r);

	/* beside Virtual-1: vkms has no clone encoders, and says so */
	rec_init(&r);
	options(&o, &r, card);
	o.writeback_interval = 2;
	o.writeback = on_writeback;
	d = dmapipe_display_new(&o);
	check(d);
	check_int_eq(show(d, &r, b[0], 1, -1), -EINVAL);
	dmapipe_display_get_info(d, &info);
	check_msg(strstr(info.error, "writeback connector beside Virtual-1"), "%s", info.error);
	dmapipe_display_free(d);
	for (int i = 0; i < 3; i++)
		dmapipe_buffer_unref(b[i]);
	dmapipe_allocator_unref(a);
	rec_finish(&r);
	test_pass("writeback: the composed screen equals every composed frame; a late job is given "
		  "up and frames go on; no clones beside Virtual-1");
}

static void test_open_errors(const char *card)
{
	struct dmapipe_display_options o;
	struct dmapipe_display *d;
	char vgem[64] = "";
	struct rec r;
	int fd;

	rec_init(&r);
	options(&o, &r, card);
	o.connector = "HDMI-A-9";
	expect_new_fails(&o, ENOENT);
	options(&o, &r, card);
	o.mode_width = 123;
	o.mode_height = 45;
	expect_new_fails(&o, EINVAL);
	/* vgem's card: a DRM device with no display */
	fd = test_open_vgem(vgem, sizeof(vgem));
	check_msg(fd >= 0, "vgem's card node");
	close(fd);
	options(&o, &r, vgem);
	expect_new_fails(&o, ENODEV);
	/* another file of the device is master: ours cannot be */
	fd = open(card, O_RDWR | O_CLOEXEC);
	check(fd >= 0);
	check(drmIsMaster(fd));
	options(&o, &r, card);
	expect_new_fails(&o, EBUSY);
	close(fd);
	d = dmapipe_display_new(&o);
	check_msg(d, "after the other master left: %s", strerror(errno));
	dmapipe_display_free(d);
	rec_finish(&r);
	test_pass("open errors: unknown connector, missing mode, vgem's card, another master");
}

#endif /* HAVE_LIBDRM */

int main(int argc, char **argv)
{

	if (argc == 2 && strcmp(argv[1], "args") == 0) {
		test_args();
		return 0;
	}
	if (argc != 2 || strcmp(argv[1], "vkms") != 0) {
		fprintf(stderr, "usage: test-display args|vkms\n");
		return 2;
	}
#if HAVE_LIBDRM
	if (!getenv("DMAPIPE_VM"))
		test_skip("'vkms' needs the VM lane's vkms; run through tests/vm/lane");
	{
		bool argb;
		const char *card = vkms_card(&argb);

		printf("# vkms at %s; ARGB8888 on a plane: %s\n", card, argb ? "yes" : "no");
		test_import_once(card);
		test_shared(card);
		test_latest(card);
		test_refusals(card, argb);
		test_fences(card);
		test_writeback(card);
		test_open_errors(card);
	}
	return 0;
#else
	test_skip("built without libdrm: no display");
#endif
}
