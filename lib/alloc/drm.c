/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DRM PRIME: dumb buffers exported as dma-bufs.
 *
 * DRM_IOCTL_MODE_CREATE_DUMB is not DRM_RENDER_ALLOW in the kernel's ioctl
 * table, so render nodes refuse it (-EACCES) on every driver: only primary
 * ("card") nodes are candidates. vgem has no KMS but implements dumb_create
 * and PRIME export on its card node, and it is the one we want first: a
 * software GEM provider whose buffers are ordinary pages. Then any other
 * card node whose driver can create, export and mmap a dumb buffer (checked
 * by doing it once at open; DRM_CAP_DUMB_BUFFER cannot be used because
 * drivers without KMS, vgem included, answer -EOPNOTSUPP to it).
 *
 * Opening a card node nobody holds can make us DRM master; we drop it at
 * once so a compositor started later is not locked out.
 *
 * Each object is one dumb buffer of 1024 x (size / 4096) pixels at 32 bpp,
 * exported with DRM_CLOEXEC | DRM_RDWR; the GEM handle is closed right
 * after the export, the dma-buf keeps the object alive.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "private.h"
#include "alloc-private.h"

#if HAVE_LIBDRM

#include <xf86drm.h>

#define DUMB_ROW_BYTES 4096u /* 1024 pixels at 32 bpp */

struct drm_state {
	char path[64];
	char driver[32];
};

static int export_dumb(int dev, uint64_t size, int *dmabuf)
{
	struct drm_mode_create_dumb create = { 0 };
	struct drm_gem_close gem_close = { 0 };
	uint64_t rows = (size + DUMB_ROW_BYTES - 1) / DUMB_ROW_BYTES;
	int ret, fd = -1;

	if (rows == 0 || rows > UINT32_MAX)
		return -EOVERFLOW;
	create.width = DUMB_ROW_BYTES / 4;
	create.height = (uint32_t)rows;
	create.bpp = 32;
	if (drmIoctl(dev, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0)
		return -errno;

	if (create.size < size) {
		ret = -ENOMEM; /* a driver rounding down would be a driver bug */
		goto close_handle;
	}
	ret = drmPrimeHandleToFD(dev, create.handle, DRM_CLOEXEC | DRM_RDWR, &fd);
	if (ret < 0) {
		ret = -errno;
		fd = -1;
	}

close_handle:
	gem_close.handle = create.handle;
	drmIoctl(dev, DRM_IOCTL_GEM_CLOSE, &gem_close);
	if (ret < 0)
		return ret;
	*dmabuf = fd;
	return 0;
}

/* Creates, exports and maps one page: the whole path this allocator needs. */
int dmapipe_drm_probe_dumb(int dev)
{
	long ps = sysconf(_SC_PAGESIZE);
	size_t len = ps > 0 ? (size_t)ps : 4096;
	void *map;
	int fd, ret;

	ret = export_dumb(dev, len, &fd);
	if (ret < 0)
		return ret;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		ret = -errno;
	} else {
		munmap(map, len);
		ret = 0;
	}
	close(fd);
	return ret;
}

static int open_node(const char *path, bool want_vgem, struct drm_state *state)
{
	drmVersionPtr version;
	bool is_vgem;
	int fd, ret;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	version = drmGetVersion(fd);
	if (!version) {
		close(fd);
		return -ENODEV;
	}
	is_vgem = version->name && strcmp(version->name, "vgem") == 0;
	dmapipe_strlcpy(state->driver, version->name ? version->name : "?",
			sizeof(state->driver));
	drmFreeVersion(version);
	if (is_vgem != want_vgem) {
		close(fd);
		return -ENODEV;
	}
	if (drmIsMaster(fd))
		drmDropMaster(fd);

	ret = dmapipe_drm_probe_dumb(fd);
	if (ret < 0) {
		log_debug("drm: %s (%s) cannot export mappable dumb buffers: %s", path,
			  state->driver, strerror(-ret));
		close(fd);
		return ret;
	}
	dmapipe_strlcpy(state->path, path, sizeof(state->path));
	return fd;
}

static int card_number(const char *name)
{
	char *end;
	long n;

	if (strncmp(name, "card", 4) != 0 || name[4] < '0' || name[4] > '9')
		return -1;
	n = strtol(name + 4, &end, 10);
	if (*end || n < 0 || n > 1023)
		return -1;
	return (int)n;
}

static int compare_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int drm_open(struct dmapipe_allocator *allocator)
{
	struct drm_state *state;
	int cards[64], n_cards = 0, err = -ENODEV;
	struct dirent *entry;
	DIR *dir;

	dir = opendir(DRI_DIR);
	if (!dir) {
		err = errno;
		log_debug("drm: %s: %s", DRI_DIR, strerror(err));
		return err == ENOENT ? -ENODEV : -err;
	}
	while ((entry = readdir(dir)) && n_cards < (int)ARRAY_SIZE(cards)) {
		int n = card_number(entry->d_name);

		if (n >= 0)
			cards[n_cards++] = n;
	}
	closedir(dir);
	if (n_cards == 0) {
		log_debug("drm: no card node in %s", DRI_DIR);
		return -ENODEV;
	}
	qsort(cards, (size_t)n_cards, sizeof(cards[0]), compare_int);

	state = calloc(1, sizeof(*state));
	if (!state)
		return -ENOMEM;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n_cards; i++) {
			char path[64];
			int fd;

			snprintf(path, sizeof(path), DRI_DIR "/card%d", cards[i]);
			fd = open_node(path, pass == 0, state);
			if (fd >= 0) {
				allocator->fd = fd;
				allocator->priv = state;
				log_debug("drm: using %s (%s)", state->path, state->driver);
				return 0;
			}
			/* remember a real failure over "not the driver we look for" */
			if (fd != -ENODEV || err == -ENODEV)
				err = fd;
		}
	}
	free(state);
	return err;
}

static int drm_alloc(struct dmapipe_allocator *allocator, uint64_t size, int *direct_io_fd,
		     void **priv)
{
	int fd, ret;

	*direct_io_fd = -1;
	*priv = NULL;
	ret = export_dumb(allocator->fd, size, &fd);
	if (ret < 0) {
		log_debug("drm: dumb buffer of %llu bytes failed: %s", (unsigned long long)size,
			  strerror(-ret));
		return ret;
	}
	return fd;
}

#define DRM_DESCRIPTION "DRM PRIME dumb buffers (vgem first, then any card node)"

#else /* !HAVE_LIBDRM */

static int drm_open(struct dmapipe_allocator *allocator)
{
	(void)allocator;
	log_debug("drm: dmapipe was built without libdrm");
	return -ENOTSUP;
}

static int drm_alloc(struct dmapipe_allocator *allocator, uint64_t size, int *direct_io_fd,
		     void **priv)
{
	(void)allocator;
	(void)size;
	*direct_io_fd = -1;
	*priv = NULL;
	return -ENOTSUP;
}

#define DRM_DESCRIPTION "DRM PRIME dumb buffers (not built: needs libdrm)"

#endif /* HAVE_LIBDRM */

static void drm_close(struct dmapipe_allocator *allocator)
{
	free(allocator->priv); /* struct drm_state, or NULL */
	allocator->priv = NULL;
}

const struct dmapipe_allocator_ops dmapipe_alloc_drm_ops = {
	.name = "drm",
	.description = DRM_DESCRIPTION,
	.kind = DMAPIPE_MEM_DMABUF,
	.open = drm_open,
	.close = drm_close,
	.alloc = drm_alloc,
};
