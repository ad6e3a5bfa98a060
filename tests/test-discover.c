/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device discovery (lib/devices/discover.c).
 *
 *   test-discover        everywhere: the listing works and every entry is
 *                        consistent (on a host without devices: empty lists,
 *                        no error); role classification of mem2mem nodes
 *                        from made-up queues (encoder, decoder, converter,
 *                        capture, output, none); bad input: unknown flags
 *                        (EINVAL), out-of-range index, NULL list.
 *   test-discover vm     in the VM lane, against what the lane loaded
 *                        ($DMAPIPE_VM_FEATURES): vivid's two capture nodes
 *                        (single- and multi-planar) with YUYV and a proved
 *                        export and import, vgem's render node, the system
 *                        heap, udmabuf, dmapipe.ko's ABI, dmapipe_vcap as a
 *                        capture device, vkms as a KMS device with its
 *                        connectors and planes (vgem's card is none); and
 *                        the odd cases: a vivid queue
 *                        owned by another file handle is listed as busy
 *                        with its formats, and an unprivileged process gets
 *                        EACCES entries instead of a failed listing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/videodev2.h>

#include "../kernel/uapi/dmapipe.h"
#include "private.h"
#include "devices/devices-private.h"
#include "testlib.h"

static void check_entry(const struct dmapipe_device *dev)
{
	check(dev);
	check_msg(dev->type >= DMAPIPE_DEVICE_V4L2 && dev->type <= DMAPIPE_DEVICE_KMS,
		  "type %u", dev->type);
	check_msg(strncmp(dev->path, "/dev/", 5) == 0, "%s", dev->path);
	check(dev->name[0]);
	check((dev->error == 0) == (dev->error_op == NULL));
	check(!!dev->v4l2 == (dev->type == DMAPIPE_DEVICE_V4L2));
	check(!!dev->drm == (dev->type == DMAPIPE_DEVICE_DRM));
	check(!!dev->udmabuf == (dev->type == DMAPIPE_DEVICE_UDMABUF));
	check(!!dev->kmod == (dev->type == DMAPIPE_DEVICE_DMAPIPE));
	check(!!dev->kms == (dev->type == DMAPIPE_DEVICE_KMS));
	if (dev->kms && !dev->error) {
		for (uint32_t i = 0; i < dev->kms->n_planes; i++) {
			const struct dmapipe_kms_plane *p = &dev->kms->planes[i];

			check(p->n_formats == 0 || p->formats);
			check(p->type <= DMAPIPE_KMS_PLANE_CURSOR);
		}
		check(dev->kms->n_connectors == 0 || dev->kms->connectors);
	}
	if (dev->v4l2) {
		check(dev->v4l2->n_queues <= DMAPIPE_V4L2_MAX_QUEUES);
		for (uint32_t q = 0; q < dev->v4l2->n_queues; q++) {
			const struct dmapipe_v4l2_queue *queue = &dev->v4l2->queues[q];

			check(queue->n_formats == 0 || queue->formats);
			check(!queue->dmabuf_import ||
			      (queue->buf_caps & V4L2_BUF_CAP_SUPPORTS_DMABUF));
		}
	}
}

static void test_listing(void)
{
	struct dmapipe_device_list *list = dmapipe_device_list_new(0);
	size_t n;

	check_msg(list, "listing failed: %s", strerror(errno));
	n = dmapipe_device_list_get_count(list);
	for (size_t i = 0; i < n; i++) {
		const struct dmapipe_device *dev = dmapipe_device_list_get(list, i);

		check_entry(dev);
		printf("# %-8s %-14s %s%s%s\n", dmapipe_device_type_to_string(dev->type),
		       dev->path, dev->v4l2 ? dmapipe_v4l2_role_to_string(dev->v4l2->role) : "",
		       dev->error ? " error: " : "", dev->error ? strerror(dev->error) : "");
	}
	check(dmapipe_device_list_get(list, n) == NULL);
	check(dmapipe_device_list_get(list, (size_t)-1) == NULL);
	/* in order: all V4L2, then DRM, heaps, udmabuf, dmapipe, KMS */
	for (size_t i = 1; i < n; i++)
		check(dmapipe_device_list_get(list, i - 1)->type <=
		      dmapipe_device_list_get(list, i)->type);
	if (n == 0)
		printf("# no devices on this machine: an empty list, as it should be\n");
	dmapipe_device_list_free(list);
	test_pass("listing");
}

static void test_bad_input(void)
{
	errno = 0;
	check(dmapipe_device_list_new(1u << 31) == NULL);
	check_int_eq(errno, EINVAL);
	check(dmapipe_device_list_get_count(NULL) == 0);
	check(dmapipe_device_list_get(NULL, 0) == NULL);
	check(dmapipe_device_list_find_v4l2(NULL, DMAPIPE_V4L2_CAPTURE, 0, false) == NULL);
	dmapipe_device_list_free(NULL);
	check(strcmp(dmapipe_device_type_to_string((enum dmapipe_device_type)99), "unknown") == 0);
	check(strcmp(dmapipe_device_type_to_string(DMAPIPE_DEVICE_KMS), "kms") == 0);
	check(strcmp(dmapipe_kms_plane_type_to_string(DMAPIPE_KMS_PLANE_CURSOR), "cursor") == 0);
	check(strcmp(dmapipe_kms_plane_type_to_string((enum dmapipe_kms_plane_type)7),
		     "unknown") == 0);
	check(strcmp(dmapipe_v4l2_role_to_string((enum dmapipe_v4l2_role)99), "other") == 0);
	check(strcmp(dmapipe_v4l2_buf_type_to_string(V4L2_BUF_TYPE_VBI_CAPTURE), "other") == 0);
	check(strcmp(dmapipe_v4l2_buf_type_to_string(V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE),
		     "video-output-mplane") == 0);
	test_pass("bad input");
}

static const struct dmapipe_v4l2_format raw[] = {
	{ .pixelformat = V4L2_PIX_FMT_NV12 },
	{ .pixelformat = V4L2_PIX_FMT_YUV420 },
};
static const struct dmapipe_v4l2_format coded[] = {
	{ .pixelformat = V4L2_PIX_FMT_H264, .flags = DMAPIPE_V4L2_FORMAT_COMPRESSED },
};
static const struct dmapipe_v4l2_format mixed[] = {
	{ .pixelformat = V4L2_PIX_FMT_NV12 },
	{ .pixelformat = V4L2_PIX_FMT_MJPEG, .flags = DMAPIPE_V4L2_FORMAT_COMPRESSED },
};

static struct dmapipe_v4l2_queue queue(uint32_t type, const struct dmapipe_v4l2_format *f,
				       uint32_t n)
{
	struct dmapipe_v4l2_queue q = { .type = type, .n_formats = n, .formats = f };

	return q;
}

static void test_classify(void)
{
	const uint32_t m2m = V4L2_CAP_VIDEO_M2M_MPLANE | V4L2_CAP_STREAMING;
	struct dmapipe_v4l2_queue q[2];

	/* stateful encoder: raw in on OUTPUT, coded out on CAPTURE */
	q[0] = queue(V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, raw, 2);
	q[1] = queue(V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, coded, 1);
	check_int_eq(dmapipe_v4l2_classify(m2m, q, 2), DMAPIPE_V4L2_ENCODER);
	/* the queues' order does not matter */
	q[0] = queue(V4L2_BUF_TYPE_VIDEO_CAPTURE, coded, 1);
	q[1] = queue(V4L2_BUF_TYPE_VIDEO_OUTPUT, raw, 2);
	check_int_eq(dmapipe_v4l2_classify(V4L2_CAP_VIDEO_M2M, q, 2), DMAPIPE_V4L2_ENCODER);
	/* decoder: the other way round */
	q[0] = queue(V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, coded, 1);
	q[1] = queue(V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, raw, 2);
	check_int_eq(dmapipe_v4l2_classify(m2m, q, 2), DMAPIPE_V4L2_DECODER);
	/* raw on both sides: a converter */
	q[0] = queue(V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, raw, 2);
	q[1] = queue(V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, raw, 1);
	check_int_eq(dmapipe_v4l2_classify(m2m, q, 2), DMAPIPE_V4L2_M2M);
	/* coded on both sides (a transcoder) or mixed lists: not called an encoder */
	q[0] = queue(V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, coded, 1);
	q[1] = queue(V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, coded, 1);
	check_int_eq(dmapipe_v4l2_classify(m2m, q, 2), DMAPIPE_V4L2_M2M);
	q[0] = queue(V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, mixed, 2);
	q[1] = queue(V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, coded, 1);
	check_int_eq(dmapipe_v4l2_classify(m2m, q, 2), DMAPIPE_V4L2_M2M);
	/* mem2mem caps whose formats could not be listed */
	q[0] = queue(V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, NULL, 0);
	q[1] = queue(V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, NULL, 0);
	check_int_eq(dmapipe_v4l2_classify(m2m, q, 2), DMAPIPE_V4L2_M2M);
	check_int_eq(dmapipe_v4l2_classify(m2m, q, 1), DMAPIPE_V4L2_OTHER);
	/* a capture device offering MJPEG stays a capture device */
	q[0] = queue(V4L2_BUF_TYPE_VIDEO_CAPTURE, mixed, 2);
	check_int_eq(dmapipe_v4l2_classify(V4L2_CAP_VIDEO_CAPTURE, q, 1), DMAPIPE_V4L2_CAPTURE);
	q[0] = queue(V4L2_BUF_TYPE_VIDEO_OUTPUT, raw, 2);
	check_int_eq(dmapipe_v4l2_classify(V4L2_CAP_VIDEO_OUTPUT, q, 1), DMAPIPE_V4L2_OUTPUT);
	check_int_eq(dmapipe_v4l2_classify(V4L2_CAP_META_CAPTURE, q, 0), DMAPIPE_V4L2_OTHER);
	test_pass("classify");
}

/* ---- VM lane ---------------------------------------------------------- */

static bool have_feature(const char *name)
{
	const char *features = getenv("DMAPIPE_VM_FEATURES");
	size_t len = strlen(name);

	for (const char *p = features; p && *p;) {
		size_t n = strcspn(p, " ");

		if (n == len && strncmp(p, name, len) == 0)
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

static const struct dmapipe_v4l2_format *find_format(const struct dmapipe_v4l2_queue *q,
						     uint32_t pixelformat)
{
	for (uint32_t i = 0; i < q->n_formats; i++)
		if (q->formats[i].pixelformat == pixelformat)
			return &q->formats[i];
	return NULL;
}

/* vivid's capture nodes, by card name ("vivid-000-vid-cap"), in order. */
static size_t vivid_captures(const struct dmapipe_device_list *list,
			     const struct dmapipe_device **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < dmapipe_device_list_get_count(list) && n < max; i++) {
		const struct dmapipe_device *dev = dmapipe_device_list_get(list, i);

		if (dev->type == DMAPIPE_DEVICE_V4L2 && strcmp(dev->v4l2->driver, "vivid") == 0 &&
		    dev->v4l2->role == DMAPIPE_V4L2_CAPTURE)
			out[n++] = dev;
	}
	return n;
}

static void vm_vivid(const struct dmapipe_device_list *list)
{
	const struct dmapipe_device *cap[8];
	size_t n = vivid_captures(list, cap, 8), outputs = 0;

	/* the lane's vivid: n_devs=2 node_types=0x101,0x101 multiplanar=1,2 */
	check_int_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		const struct dmapipe_v4l2_device *v = cap[i]->v4l2;
		const struct dmapipe_v4l2_queue *q = &v->queues[0];
		const struct dmapipe_v4l2_format *yuyv;

		check_msg(!cap[i]->error, "%s: %s", cap[i]->path, strerror(cap[i]->error));
		check_int_eq(v->n_queues, 1);
		check_int_eq(v->multiplanar, i == 1);
		check_int_eq(q->type, i == 1 ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE
					     : V4L2_BUF_TYPE_VIDEO_CAPTURE);
		yuyv = find_format(q, V4L2_PIX_FMT_YUYV);
		check_msg(yuyv, "%s has no YUYV", cap[i]->path);
		check(yuyv->fourcc == dmapipe_fourcc_from_string("YUYV"));
		check_int_eq(yuyv->n_objects, 1);
		check(!(yuyv->flags & DMAPIPE_V4L2_FORMAT_COMPRESSED));
		check(yuyv->sizes.type != 0 && yuyv->sizes.max_width >= yuyv->sizes.min_width);
		check(q->export_probed && q->dmabuf_export);
		check(q->dmabuf_import);
		check(strncmp(v->bus_info, "platform:vivid", 14) == 0);
		if (v->multiplanar) /* NV12M: one buffer per plane */
			check_int_eq(find_format(q, V4L2_PIX_FMT_NV12M)->n_objects, 2);
	}
	for (size_t i = 0; i < dmapipe_device_list_get_count(list); i++) {
		const struct dmapipe_device *dev = dmapipe_device_list_get(list, i);

		if (dev->type == DMAPIPE_DEVICE_V4L2 && strcmp(dev->v4l2->driver, "vivid") == 0 &&
		    dev->v4l2->role == DMAPIPE_V4L2_OUTPUT)
			outputs++;
	}
	check_int_eq(outputs, 2);
	check(dmapipe_device_list_find_v4l2(list, DMAPIPE_V4L2_CAPTURE, V4L2_PIX_FMT_YUYV, false));
	check(!dmapipe_device_list_find_v4l2(list, DMAPIPE_V4L2_CAPTURE, V4L2_PIX_FMT_YUYV, true));
	test_pass("vm: vivid capture and output nodes");
}

/* Another file handle owns a vivid queue: the node is listed as busy, with its formats. */
static void vm_vivid_busy(void)
{
	struct dmapipe_device_list *list = dmapipe_device_list_new(0);
	const struct dmapipe_device *cap[8], *dev;
	struct v4l2_requestbuffers req = { 0 };
	char path[128];
	int fd;

	check(list);
	check_int_eq(vivid_captures(list, cap, 8), 2);
	dmapipe_strlcpy(path, cap[0]->path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC);
	check(fd >= 0);
	req.count = 2;
	req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	req.memory = V4L2_MEMORY_MMAP;
	check_msg(ioctl(fd, VIDIOC_REQBUFS, &req) == 0, "REQBUFS: %s", strerror(errno));
	dmapipe_device_list_free(list);

	list = dmapipe_device_list_new(DMAPIPE_DISCOVER_PROBE_EXPORT);
	check(list);
	dev = NULL;
	for (size_t i = 0; i < dmapipe_device_list_get_count(list); i++)
		if (strcmp(dmapipe_device_list_get(list, i)->path, path) == 0)
			dev = dmapipe_device_list_get(list, i);
	check(dev);
	check_int_eq(dev->error, EBUSY);
	check_int_eq(dev->v4l2->queues[0].error, EBUSY);
	check(!dev->v4l2->queues[0].dmabuf_export && !dev->v4l2->queues[0].dmabuf_import);
	check(find_format(&dev->v4l2->queues[0], V4L2_PIX_FMT_YUYV));
	check_int_eq(dev->v4l2->role, DMAPIPE_V4L2_CAPTURE);
	dmapipe_device_list_free(list);

	/* our buffers were not touched: still ours to free */
	req.count = 0;
	check(ioctl(fd, VIDIOC_REQBUFS, &req) == 0);
	close(fd);
	test_pass("vm: a busy vivid node is listed as busy");
}

/* As nobody, device nodes (root, 0600 under devtmpfs) cannot be opened: entries say so. */
static void vm_unprivileged(void)
{
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		printf("# not root: the unprivileged case is this run itself\n");
		return;
	}
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		struct dmapipe_device_list *list;
		size_t denied = 0;

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		list = dmapipe_device_list_new(0);
		if (!list)
			_exit(4);
		for (size_t i = 0; i < dmapipe_device_list_get_count(list); i++) {
			const struct dmapipe_device *dev = dmapipe_device_list_get(list, i);

			check_entry(dev);
			if (dev->error == EACCES) {
				denied++;
				check(strcmp(dev->error_op, "open") == 0);
				/* the card name still comes from sysfs */
				if (dev->v4l2)
					check(dev->v4l2->card[0]);
			}
		}
		dmapipe_device_list_free(list);
		_exit(denied > 0 ? 0 : 5);
	}
	check(waitpid(pid, &status, 0) == pid);
	check_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
	test_pass("vm: unprivileged listing reports EACCES per device");
}

/*
 * vkms as the lane builds it: one CRTC, a connected Virtual-1 with its
 * preferred 1024x768, the writeback connector (shown to us because
 * discovery asks for writeback connectors), a primary plane taking
 * XRGB8888 linear with an acquire-fence property, and foreign dma-bufs.
 */
static void vm_vkms(const struct dmapipe_device *dev)
{
	const struct dmapipe_kms_device *k = dev->kms;
	bool virtual_ok = false, writeback = false, primary = false;

	check_msg(!dev->error, "%s: %s", dev->path, strerror(dev->error));
	check(strncmp(dev->name, "card", 4) == 0);
	check(k->atomic && k->prime_import);
	check_int_eq(k->n_crtcs, 1);
	for (uint32_t i = 0; i < k->n_connectors; i++) {
		const struct dmapipe_kms_connector *c = &k->connectors[i];

		if (strcmp(c->name, "Virtual-1") == 0)
			virtual_ok = c->connected && c->width == 1024 && c->height == 768 &&
				     c->refresh == 60 && c->possible_crtcs == 1 && c->n_modes > 1;
		writeback |= c->writeback && c->type == 18 && strcmp(c->name, "Writeback-1") == 0;
	}
	for (uint32_t i = 0; i < k->n_planes; i++) {
		const struct dmapipe_kms_plane *p = &k->planes[i];

		if (p->type != DMAPIPE_KMS_PLANE_PRIMARY)
			continue;
		check(p->in_fence && p->possible_crtcs == 1);
		for (uint32_t f = 0; f < p->n_formats; f++)
			primary |= p->formats[f].fourcc == dmapipe_fourcc_from_string("XRGB8888") &&
				   p->formats[f].modifier == DMAPIPE_MOD_LINEAR;
	}
	check_msg(virtual_ok, "vkms: a connected Virtual-1 at 1024x768@60");
	check_msg(writeback, "vkms: a writeback connector");
	check_msg(primary, "vkms: a primary plane taking XRGB8888 linear");
	test_pass("vm: vkms listed as a KMS device with its connectors and planes");
}

static void vm_checks(void)
{
	size_t heaps = 0, drm_vgem = 0, udmabuf = 0, vcap = 0, vkms = 0;
	const struct dmapipe_device *kmod = NULL;
	struct dmapipe_device_list *list;

	if (!getenv("DMAPIPE_VM"))
		test_skip("'vm' checks what the VM lane loaded; run through tests/vm/lane");
	list = dmapipe_device_list_new(DMAPIPE_DISCOVER_PROBE_EXPORT);
	check_msg(list, "listing failed: %s", strerror(errno));
	for (size_t i = 0; i < dmapipe_device_list_get_count(list); i++) {
		const struct dmapipe_device *dev = dmapipe_device_list_get(list, i);

		check_entry(dev);
		switch (dev->type) {
		case DMAPIPE_DEVICE_DMA_HEAP:
			heaps += strcmp(dev->name, "system") == 0 &&
				 strcmp(dev->path, "/dev/dma_heap/system") == 0;
			break;
		case DMAPIPE_DEVICE_DRM:
			if (strcmp(dev->drm->driver, "vgem") == 0) {
				drm_vgem++;
				check(strncmp(dev->name, "renderD", 7) == 0);
				check(dev->drm->prime_export && dev->drm->prime_import);
#if HAVE_LIBDRM
				check_msg(dev->drm->dumb_buffers, "vgem dumb buffers: %s",
					  strerror(dev->drm->dumb_error));
#else
				check_int_eq(dev->drm->dumb_error, ENOTSUP); /* not built */
#endif
			}
			break;
		case DMAPIPE_DEVICE_UDMABUF:
			udmabuf++;
			check(!dev->error && strcmp(dev->path, "/dev/udmabuf") == 0);
			check(dev->udmabuf->size_limit_mb > 0);
			break;
		case DMAPIPE_DEVICE_DMAPIPE:
			kmod = dev;
			break;
		case DMAPIPE_DEVICE_KMS:
			/* vgem's card has no connectors: it is no KMS device */
			check(strcmp(dev->kms->driver, "vgem") != 0);
			if (strcmp(dev->kms->driver, "vkms") == 0) {
				vkms++;
				vm_vkms(dev);
			}
			break;
		case DMAPIPE_DEVICE_V4L2:
			if (strcmp(dev->v4l2->driver, "dmapipe_vcap") == 0) {
				vcap++;
				check_int_eq(dev->v4l2->role, DMAPIPE_V4L2_CAPTURE);
				check(find_format(&dev->v4l2->queues[0], V4L2_PIX_FMT_YUYV));
				check(dev->v4l2->queues[0].dmabuf_export &&
				      dev->v4l2->queues[0].dmabuf_import);
			}
			break;
		}
	}
	check_int_eq(heaps, have_feature("dmaheap"));
	check_int_eq(drm_vgem, have_feature("vgem"));
	check_int_eq(udmabuf, have_feature("udmabuf"));
	check_int_eq(vcap > 0, have_feature("dmapipe_vcap"));
	check_int_eq(kmod != NULL, have_feature("dmapipe"));
	check_int_eq(vkms, have_feature("vkms"));
	if (kmod) {
		check(!kmod->error);
		check_int_eq(kmod->kmod->abi_version, DMAPIPE_ABI_VERSION);
		check(kmod->kmod->features & DMAPIPE_FEATURE_ALLOC);
		check(kmod->kmod->page_size >= 4096);
	}
	printf("# heap %zu, vgem %zu, udmabuf %zu, dmapipe %d, dmapipe_vcap %zu, vkms %zu\n",
	       heaps, drm_vgem, udmabuf, kmod != NULL, vcap, vkms);
	test_pass("vm: vgem, heaps, udmabuf, dmapipe.ko, dmapipe_vcap, vkms as loaded");
	if (have_feature("vivid"))
		vm_vivid(list);
	dmapipe_device_list_free(list);
	if (have_feature("vivid")) {
		vm_vivid_busy();
		vm_unprivileged(); /* vivid's nodes are the ones nobody cannot open */
	}
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "vm") == 0) {
		vm_checks();
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "usage: test-discover [vm]\n");
		return 2;
	}
	test_bad_input();
	test_classify();
	test_listing();
	return 0;
}
