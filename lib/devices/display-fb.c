/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The display's imports: each distinct buffer's dma-bufs imported once
 * with PRIME and given one framebuffer, kept for as long as the buffer
 * keeps coming (a stream reuses a handful of buffers for every frame).
 *
 * PRIME gives the same GEM handle for the same dma-buf, however many fds
 * or buffers name it (two planes in one object, a producer that wraps one
 * object twice), and one GEM_CLOSE ends it for all of them: so handles
 * are counted here and closed when their last framebuffer goes.
 *
 * Buffers are remembered by pointer, which the display does not own
 * while no frame of the buffer is held; the objects' inode numbers tell a
 * reused pointer from the buffer it was made for.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "display-private.h"

static int gem_get(struct dmapipe_display *d, int dmabuf, uint32_t *handle)
{
	struct display_gem *free_slot = NULL;
	uint32_t h;

	if (drmPrimeFDToHandle(d->fd, dmabuf, &h) < 0)
		return -errno;
	for (size_t i = 0; i < DISPLAY_MAX_GEMS; i++) {
		struct display_gem *g = &d->gems[i];

		if (g->refs && g->handle == h) {
			g->refs++;
			*handle = h;
			return 0;
		}
		if (!g->refs && !free_slot)
			free_slot = g;
	}
	if (!free_slot) {
		/* cannot happen: each framebuffer holds at most DMAPIPE_MAX_OBJECTS */
		drmCloseBufferHandle(d->fd, h);
		return -ENOSPC;
	}
	free_slot->handle = h;
	free_slot->refs = 1;
	d->stats.imports++;
	*handle = h;
	return 0;
}

static void gem_put(struct dmapipe_display *d, uint32_t handle)
{
	for (size_t i = 0; i < DISPLAY_MAX_GEMS; i++) {
		struct display_gem *g = &d->gems[i];

		if (g->refs && g->handle == handle) {
			if (--g->refs == 0)
				drmCloseBufferHandle(d->fd, handle);
			return;
		}
	}
}

static void fb_release(struct dmapipe_display *d, struct display_fb *fb)
{
	if (!fb->fb_id)
		return;
	drmModeRmFB(d->fd, fb->fb_id);
	for (uint32_t i = 0; i < fb->n_objects; i++)
		gem_put(d, fb->handles[i]);
	memset(fb, 0, sizeof(*fb));
}

void display_fb_clear(struct dmapipe_display *d)
{
	for (size_t i = 0; i < DISPLAY_MAX_FBS; i++)
		fb_release(d, &d->fbs[i]);
}

static int inodes(const struct dmapipe_layout *l, uint64_t ino[DMAPIPE_MAX_OBJECTS])
{
	memset(ino, 0, sizeof(uint64_t) * DMAPIPE_MAX_OBJECTS);
	for (uint32_t i = 0; i < l->n_objects; i++) {
		struct stat st;

		if (fstat(l->objects[i].fd, &st) < 0)
			return -errno;
		ino[i] = st.st_ino;
	}
	return 0;
}

/* A free slot, or the least recently shown one nobody uses now, emptied. */
static struct display_fb *take_slot(struct dmapipe_display *d)
{
	struct display_fb *lru = NULL;

	for (size_t i = 0; i < DISPLAY_MAX_FBS; i++) {
		struct display_fb *fb = &d->fbs[i];

		if (!fb->fb_id)
			return fb;
		if (!fb->busy && (!lru || fb->last_use < lru->last_use))
			lru = fb;
	}
	if (lru) {
		fb_release(d, lru);
		d->stats.evictions++;
	}
	return lru;
}

static int make_fb(struct dmapipe_display *d, struct display_fb *fb,
		   const struct dmapipe_layout *l)
{
	uint32_t handles[4] = { 0 }, pitches[4] = { 0 }, offsets[4] = { 0 };
	uint64_t modifiers[4] = { 0 };
	uint64_t mod = l->format.modifier;
	bool with_mod = d->info.modifiers && mod != DMAPIPE_MOD_INVALID;
	char fourcc[16];
	int ret;

	dmapipe_fourcc_to_string(l->format.fourcc, fourcc, sizeof(fourcc));
	if (!d->info.modifiers && mod != DMAPIPE_MOD_LINEAR && mod != DMAPIPE_MOD_INVALID) {
		display_error(d, "%s (%s) takes no framebuffer modifiers: a %s buffer with "
			      "modifier 0x%016llx cannot be scanned out", d->info.device,
			      d->info.driver, fourcc, (unsigned long long)mod);
		return -ENOTSUP;
	}
	for (uint32_t i = 0; i < l->n_objects; i++) {
		ret = gem_get(d, l->objects[i].fd, &fb->handles[i]);
		if (ret < 0) {
			display_error(d, "%s (%s) cannot import object %u of the buffer "
				      "(PRIME): %s", d->info.device, d->info.driver, i,
				      strerror(-ret));
			while (i-- > 0)
				gem_put(d, fb->handles[i]);
			return -EXDEV;
		}
		fb->n_objects = i + 1;
	}
	for (uint32_t p = 0; p < l->n_planes && p < 4; p++) {
		if (l->planes[p].offset > UINT32_MAX) {
			ret = -EINVAL;
			display_error(d, "plane %u's offset does not fit a framebuffer", p);
			goto fail;
		}
		handles[p] = fb->handles[l->planes[p].object];
		pitches[p] = l->planes[p].stride;
		offsets[p] = (uint32_t)l->planes[p].offset;
		modifiers[p] = mod;
	}
	if (drmModeAddFB2WithModifiers(d->fd, l->format.width, l->format.height,
				       l->format.fourcc, handles, pitches, offsets,
				       with_mod ? modifiers : NULL, &fb->fb_id,
				       with_mod ? DRM_MODE_FB_MODIFIERS : 0) < 0) {
		ret = -errno;
		fb->fb_id = 0;
		display_error(d, "%s (%s) refused a framebuffer of the buffer (%s %ux%u, "
			      "stride %u): %s", d->info.device, d->info.driver, fourcc,
			      l->format.width, l->format.height, pitches[0], strerror(-ret));
		ret = ret == -ENOMEM ? ret : -EINVAL;
		goto fail;
	}
	d->stats.framebuffers++;
	return 0;
fail:
	for (uint32_t i = 0; i < fb->n_objects; i++)
		gem_put(d, fb->handles[i]);
	fb->n_objects = 0;
	return ret;
}

struct display_fb *display_fb_get(struct dmapipe_display *d, struct dmapipe_buffer *buffer,
				  int *err)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(buffer);
	uint64_t ino[DMAPIPE_MAX_OBJECTS];
	struct display_fb *fb;
	int ret;

	ret = inodes(l, ino);
	if (ret < 0) {
		display_error(d, "the buffer's objects: %s", strerror(-ret));
		*err = ret;
		return NULL;
	}
	for (size_t i = 0; i < DISPLAY_MAX_FBS; i++) {
		fb = &d->fbs[i];
		if (!fb->fb_id || fb->key != buffer)
			continue;
		if (memcmp(fb->ino, ino, sizeof(ino)) == 0)
			return fb;
		/* the pointer is another buffer's now: the old one is gone */
		if (!fb->busy)
			fb_release(d, fb);
	}
	fb = take_slot(d);
	if (!fb) {
		display_error(d, "every one of the %u framebuffers holds a frame", DISPLAY_MAX_FBS);
		*err = -ENOSPC;
		return NULL;
	}
	ret = make_fb(d, fb, l);
	if (ret < 0) {
		memset(fb, 0, sizeof(*fb));
		*err = ret;
		return NULL;
	}
	fb->key = buffer;
	memcpy(fb->ino, ino, sizeof(ino));
	return fb;
}
