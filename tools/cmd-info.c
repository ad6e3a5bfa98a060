/* SPDX-License-Identifier: MIT */
/* dmapipe info: what this machine offers. */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <string.h>
#include <sys/utsname.h>
#include <linux/videodev2.h>

#include "dmapipe-tool.h"

#define MAX_ALLOCATORS 16
/* formats named per queue in the one-line table; -v lists them all */
#define TABLE_FORMATS 8

static const char *const info_usage =
	"Usage: dmapipe info [--json] [-v] [--probe-export]\n"
	"\n"
	"Shows the library version, every allocator with whether it works on this\n"
	"machine (and why not), whether its buffers are dma-bufs, the kernel\n"
	"interfaces present, and the devices: V4L2 video nodes (capture devices,\n"
	"encoders, decoders, outputs) with their formats and whether they export\n"
	"and import dma-bufs, DRM render nodes, dma-heaps, udmabuf, dmapipe.ko, and\n"
	"KMS devices (displays) with their connectors and the formats and modifiers\n"
	"each plane scans out (`dmapipe display` shows streams on them).\n"
	"A device that cannot be opened or is busy is listed with the reason.\n"
	"\n"
	"Options:\n"
	"  --json           machine-readable output: one JSON document (docs/JSON.md)\n"
	"  -v, --verbose    every format of every V4L2 queue, with its frame sizes;\n"
	"                   every modifier of every KMS plane's formats\n"
	"  --probe-export   prove dma-buf export of each V4L2 queue by allocating and\n"
	"                   exporting one buffer (otherwise read from its capabilities;\n"
	"                   nothing is allocated)\n"
	"  -h, --help       this text\n"
	"\n"
	"Exit status: 0 ok (a device that cannot be opened is listed, not a failure),\n"
	"1 the allocators or devices could not be listed, 2 bad command line.\n";

struct feature {
	const char *name;    /* JSON key */
	const char *pattern; /* glob */
	const char *what;
};

static const struct feature features[] = {
	{ "dma_heap", "/dev/dma_heap/*", "dma-heap allocator" },
	{ "udmabuf", "/dev/udmabuf", "memfd to dma-buf" },
	{ "dri", "/dev/dri/*", "DRM devices (PRIME export)" },
	{ "video", "/dev/video*", "V4L2 devices" },
	{ "dmapipe", "/dev/dmapipe", "dmapipe kernel module" },
};

static const char *const kmod_feature_names[] = { "alloc", "coherent", "page-mmap", "sync-range",
						  "file-io", "kernel-api" };

static const struct {
	uint32_t bit;
	const char *name;
} buf_cap_names[] = {
	{ V4L2_BUF_CAP_SUPPORTS_MMAP, "mmap" },
	{ V4L2_BUF_CAP_SUPPORTS_USERPTR, "userptr" },
	{ V4L2_BUF_CAP_SUPPORTS_DMABUF, "dmabuf" },
	{ V4L2_BUF_CAP_SUPPORTS_REQUESTS, "requests" },
	{ V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS, "orphaned-bufs" },
	{ V4L2_BUF_CAP_SUPPORTS_M2M_HOLD_CAPTURE_BUF, "m2m-hold-capture-buf" },
	{ V4L2_BUF_CAP_SUPPORTS_MMAP_CACHE_HINTS, "mmap-cache-hints" },
};

/* The characters of a V4L2 pixel format ("YUYV", "H264", "Y16"), "-BE" marked. */
static const char *v4l2_code_name(uint32_t code, char buf[16])
{
	bool be = code & (1u << 31);
	char c[5];
	int n = 4;

	code &= ~(1u << 31);
	for (int i = 0; i < 4; i++) {
		c[i] = (char)((code >> (8 * i)) & 0xff);
		if (c[i] < 0x20 || c[i] > 0x7e) {
			snprintf(buf, 16, "0x%08x", code | (be ? 1u << 31 : 0));
			return buf;
		}
	}
	while (n > 1 && c[n - 1] == ' ')
		n--;
	c[n] = '\0';
	snprintf(buf, 16, "%s%s", c, be ? "-BE" : "");
	return buf;
}

/* The name a format is shown with: its DRM name, else its V4L2 code. */
static const char *format_name(const struct dmapipe_v4l2_format *f, char buf[16])
{
	if (f->fourcc)
		return dmapipe_fourcc_to_string(f->fourcc, buf, 16);
	return v4l2_code_name(f->pixelformat, buf);
}

static const char *frame_size_type(uint32_t type)
{
	switch (type) {
	case V4L2_FRMSIZE_TYPE_DISCRETE:
		return "discrete";
	case V4L2_FRMSIZE_TYPE_CONTINUOUS:
		return "continuous";
	case V4L2_FRMSIZE_TYPE_STEPWISE:
		return "stepwise";
	}
	return NULL;
}

/* "640x480-1920x1080 step 2x2", "6 sizes 320x180-3840x2160", "" */
static void format_sizes(const struct dmapipe_frame_sizes *s, char *buf, size_t len)
{
	switch (s->type) {
	case V4L2_FRMSIZE_TYPE_DISCRETE:
		snprintf(buf, len, "%u size%s %ux%u-%ux%u", s->n_discrete,
			 s->n_discrete == 1 ? "" : "s", s->min_width, s->min_height,
			 s->max_width, s->max_height);
		break;
	case V4L2_FRMSIZE_TYPE_CONTINUOUS:
	case V4L2_FRMSIZE_TYPE_STEPWISE:
		snprintf(buf, len, "%ux%u-%ux%u step %ux%u", s->min_width, s->min_height,
			 s->max_width, s->max_height, s->step_width, s->step_height);
		break;
	default:
		snprintf(buf, len, "sizes not enumerated");
	}
}

/* Every queue of the device exports (imports) dma-bufs. */
static bool v4l2_all(const struct dmapipe_v4l2_device *v, bool import)
{
	if (v->n_queues == 0)
		return false;
	for (uint32_t i = 0; i < v->n_queues; i++)
		if (!(import ? v->queues[i].dmabuf_import : v->queues[i].dmabuf_export))
			return false;
	return true;
}

static const char *error_text(const struct dmapipe_device *dev, char *buf, size_t len)
{
	if (!dev->error)
		return NULL;
	if (dev->error == EBUSY)
		snprintf(buf, len, "busy (%s: %s)", dev->error_op, strerror(dev->error));
	else
		snprintf(buf, len, "%s: %s", dev->error_op, strerror(dev->error));
	return buf;
}

static const struct dmapipe_device *find_type(const struct dmapipe_device_list *list,
					      enum dmapipe_device_type type)
{
	for (size_t i = 0; i < dmapipe_device_list_get_count(list); i++) {
		const struct dmapipe_device *dev = dmapipe_device_list_get(list, i);

		if (dev->type == type)
			return dev;
	}
	return NULL;
}

/* "linear", "implicit" (no IN_FORMATS), or the modifier in hex */
static const char *modifier_name(uint64_t modifier, char buf[24])
{
	if (modifier == DMAPIPE_MOD_LINEAR)
		return "linear";
	if (modifier == DMAPIPE_MOD_INVALID)
		return "implicit";
	snprintf(buf, 24, "0x%016llx", (unsigned long long)modifier);
	return buf;
}

/* A plane's formats come as (format, modifier) pairs: the index of the first of @fourcc. */
static bool first_of_format(const struct dmapipe_kms_plane *p, uint32_t i)
{
	for (uint32_t k = 0; k < i; k++)
		if (p->formats[k].fourcc == p->formats[i].fourcc)
			return false;
	return true;
}

/* ---- JSON --------------------------------------------------------------- */

static void json_sizes(struct json *j, const struct dmapipe_frame_sizes *s)
{
	json_begin_object(j, "sizes");
	json_string(j, "type", frame_size_type(s->type));
	if (s->type == V4L2_FRMSIZE_TYPE_DISCRETE)
		json_u64(j, "count", s->n_discrete);
	if (s->type) {
		json_u64(j, "min_width", s->min_width);
		json_u64(j, "min_height", s->min_height);
		json_u64(j, "max_width", s->max_width);
		json_u64(j, "max_height", s->max_height);
	}
	if (s->type == V4L2_FRMSIZE_TYPE_STEPWISE || s->type == V4L2_FRMSIZE_TYPE_CONTINUOUS) {
		json_u64(j, "step_width", s->step_width);
		json_u64(j, "step_height", s->step_height);
	}
	json_end_object(j);
}

static void json_hex(struct json *j, const char *key, uint32_t value)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "0x%08x", value);
	json_string(j, key, buf);
}

static void json_v4l2(struct json *j, const struct dmapipe_device *dev)
{
	const struct dmapipe_v4l2_device *v = dev->v4l2;
	char buf[16];

	/* unknown when the node could not even be asked */
	json_string(j, "role", v->driver[0] ? dmapipe_v4l2_role_to_string(v->role) : NULL);
	json_string(j, "driver", v->driver);
	json_string(j, "card", v->card);
	json_string(j, "bus_info", v->bus_info);
	json_hex(j, "capabilities", v->capabilities);
	json_hex(j, "device_caps", v->device_caps);
	json_bool(j, "multiplanar", v->multiplanar);
	json_bool(j, "dmabuf_export", v4l2_all(v, false));
	json_bool(j, "dmabuf_import", v4l2_all(v, true));
	json_begin_array(j, "queues");
	for (uint32_t q = 0; q < v->n_queues; q++) {
		const struct dmapipe_v4l2_queue *queue = &v->queues[q];

		json_begin_object(j, NULL);
		json_string(j, "type", dmapipe_v4l2_buf_type_to_string(queue->type));
		json_string(j, "error", queue->error ? strerror(queue->error) : NULL);
		json_bool(j, "busy", queue->error == EBUSY);
		json_begin_array(j, "buf_caps");
		for (size_t k = 0; k < sizeof(buf_cap_names) / sizeof(buf_cap_names[0]); k++)
			if (queue->buf_caps & buf_cap_names[k].bit)
				json_string(j, NULL, buf_cap_names[k].name);
		json_end_array(j);
		json_bool(j, "dmabuf_export", queue->dmabuf_export);
		json_bool(j, "export_probed", queue->export_probed);
		json_bool(j, "dmabuf_import", queue->dmabuf_import);
		json_begin_array(j, "formats");
		for (uint32_t f = 0; f < queue->n_formats; f++) {
			const struct dmapipe_v4l2_format *fmt = &queue->formats[f];

			json_begin_object(j, NULL);
			json_string(j, "name", format_name(fmt, buf));
			json_string(j, "v4l2", v4l2_code_name(fmt->pixelformat, buf));
			json_string(j, "drm", fmt->fourcc ?
				    dmapipe_fourcc_to_string(fmt->fourcc, buf, sizeof(buf)) : NULL);
			if (fmt->fourcc)
				json_u64(j, "objects", fmt->n_objects);
			json_string(j, "description", fmt->description);
			json_bool(j, "compressed", fmt->flags & DMAPIPE_V4L2_FORMAT_COMPRESSED);
			json_bool(j, "emulated", fmt->flags & DMAPIPE_V4L2_FORMAT_EMULATED);
			json_sizes(j, &fmt->sizes);
			json_end_object(j);
		}
		json_end_array(j);
		json_end_object(j);
	}
	json_end_array(j);
}

static void json_kmod(struct json *j, const struct dmapipe_kmod_device *k)
{
	json_u64(j, "abi_version", k->abi_version);
	json_u64(j, "page_size", k->page_size);
	json_begin_array(j, "features");
	for (size_t i = 0; i < sizeof(kmod_feature_names) / sizeof(kmod_feature_names[0]); i++)
		if (k->features & (1ull << i))
			json_string(j, NULL, kmod_feature_names[i]);
	json_end_array(j);
	json_u64(j, "buffers", k->buffers);
	json_u64(j, "bytes_in_use", k->bytes_in_use);
	json_u64(j, "max_buffers", k->max_buffers);
	json_u64(j, "max_buffer_bytes", k->max_buffer_bytes);
	json_u64(j, "max_total_bytes", k->max_total_bytes);
}

static void json_kms(struct json *j, const struct dmapipe_kms_device *k)
{
	char name[16], mod[24];

	json_string(j, "driver", k->driver);
	json_string(j, "description", k->description);
	json_bool(j, "atomic", k->atomic);
	json_bool(j, "modifiers", k->modifiers);
	json_bool(j, "prime_import", k->prime_import);
	json_u64(j, "crtcs", k->n_crtcs);
	json_begin_array(j, "connectors");
	for (uint32_t i = 0; i < k->n_connectors; i++) {
		const struct dmapipe_kms_connector *c = &k->connectors[i];

		json_begin_object(j, NULL);
		json_string(j, "name", c->name);
		json_u64(j, "id", c->id);
		json_bool(j, "connected", c->connected);
		json_bool(j, "writeback", c->writeback);
		json_u64(j, "possible_crtcs", c->possible_crtcs);
		json_u64(j, "modes", c->n_modes);
		if (c->width) {
			json_begin_object(j, "preferred_mode");
			json_u64(j, "width", c->width);
			json_u64(j, "height", c->height);
			json_u64(j, "refresh", c->refresh);
			json_end_object(j);
		} else {
			json_null(j, "preferred_mode");
		}
		json_end_object(j);
	}
	json_end_array(j);
	json_begin_array(j, "planes");
	for (uint32_t i = 0; i < k->n_planes; i++) {
		const struct dmapipe_kms_plane *p = &k->planes[i];

		json_begin_object(j, NULL);
		json_u64(j, "id", p->id);
		json_string(j, "type", dmapipe_kms_plane_type_to_string(p->type));
		json_u64(j, "possible_crtcs", p->possible_crtcs);
		json_bool(j, "in_fence", p->in_fence);
		json_begin_array(j, "formats");
		for (uint32_t f = 0; f < p->n_formats; f++) {
			if (!first_of_format(p, f))
				continue;
			json_begin_object(j, NULL);
			json_string(j, "name", dmapipe_fourcc_to_string(p->formats[f].fourcc, name,
									 sizeof(name)));
			json_begin_array(j, "modifiers");
			for (uint32_t m = f; m < p->n_formats; m++)
				if (p->formats[m].fourcc == p->formats[f].fourcc)
					json_string(j, NULL, modifier_name(p->formats[m].modifier,
									   mod));
			json_end_array(j);
			json_end_object(j);
		}
		json_end_array(j);
		json_end_object(j);
	}
	json_end_array(j);
}

static void json_device(struct json *j, const char *key, const struct dmapipe_device *dev)
{
	char err[128];

	json_begin_object(j, key);
	json_string(j, "name", dev->name);
	json_string(j, "path", dev->path);
	json_string(j, "error", error_text(dev, err, sizeof(err)));
	json_bool(j, "busy", dev->error == EBUSY);
	switch (dev->type) {
	case DMAPIPE_DEVICE_V4L2:
		json_v4l2(j, dev);
		break;
	case DMAPIPE_DEVICE_DRM:
		json_string(j, "driver", dev->drm->driver);
		json_string(j, "description", dev->drm->description);
		json_string(j, "card", dev->drm->card[0] ? dev->drm->card : NULL);
		json_bool(j, "prime_import", dev->drm->prime_import);
		json_bool(j, "prime_export", dev->drm->prime_export);
		json_bool(j, "dumb_buffers", dev->drm->dumb_buffers);
		json_string(j, "dumb_error", dev->drm->dumb_error ?
			    strerror(dev->drm->dumb_error) : NULL);
		break;
	case DMAPIPE_DEVICE_UDMABUF:
		if (dev->udmabuf->size_limit_mb >= 0)
			json_i64(j, "size_limit_mb", dev->udmabuf->size_limit_mb);
		else
			json_null(j, "size_limit_mb");
		if (dev->udmabuf->list_limit >= 0)
			json_i64(j, "list_limit", dev->udmabuf->list_limit);
		else
			json_null(j, "list_limit");
		break;
	case DMAPIPE_DEVICE_DMAPIPE:
		if (!dev->error)
			json_kmod(j, dev->kmod);
		break;
	case DMAPIPE_DEVICE_KMS:
		json_kms(j, dev->kms);
		break;
	case DMAPIPE_DEVICE_DMA_HEAP:
		break;
	}
	json_end_object(j);
}

/* "devices": every type as an array, udmabuf and dmapipe as an object or null. */
static void json_devices(struct json *j, const struct dmapipe_device_list *list)
{
	static const struct {
		enum dmapipe_device_type type;
		const char *key;
		bool single;
	} groups[] = {
		{ DMAPIPE_DEVICE_V4L2, "v4l2", false },
		{ DMAPIPE_DEVICE_DRM, "drm", false },
		{ DMAPIPE_DEVICE_DMA_HEAP, "dma_heaps", false },
		{ DMAPIPE_DEVICE_UDMABUF, "udmabuf", true },
		{ DMAPIPE_DEVICE_DMAPIPE, "dmapipe", true },
		{ DMAPIPE_DEVICE_KMS, "kms", false },
	};
	size_t n = dmapipe_device_list_get_count(list);

	json_begin_object(j, "devices");
	json_string(j, "discovery", dmapipe_device_have_udev() ? "libudev" : "sysfs");
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		bool found = false;

		if (!groups[g].single)
			json_begin_array(j, groups[g].key);
		for (size_t i = 0; i < n; i++) {
			const struct dmapipe_device *dev = dmapipe_device_list_get(list, i);

			if (dev->type != groups[g].type || (groups[g].single && found))
				continue;
			found = true;
			json_device(j, groups[g].single ? groups[g].key : NULL, dev);
		}
		if (!groups[g].single)
			json_end_array(j);
		else if (!found)
			json_null(j, groups[g].key);
	}
	json_end_object(j);
}

/* ---- text --------------------------------------------------------------- */

/* "YUYV UYVY NV12 (+12 more)" of one queue into @buf. */
static void format_list(const struct dmapipe_v4l2_queue *q, char *buf, size_t len)
{
	size_t used = 0;
	char name[16];

	buf[0] = '\0';
	for (uint32_t f = 0; f < q->n_formats && f < TABLE_FORMATS; f++) {
		int n = snprintf(buf + used, len - used, "%s%s", f ? " " : "",
				 format_name(&q->formats[f], name));

		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
	if (q->n_formats > TABLE_FORMATS)
		snprintf(buf + used, len - used, " (+%u more)", q->n_formats - TABLE_FORMATS);
	else if (q->n_formats == 0)
		snprintf(buf, len, "no formats");
}

static void text_v4l2(const struct dmapipe_device *dev, bool verbose)
{
	const struct dmapipe_v4l2_device *v = dev->v4l2;
	bool exp = v4l2_all(v, false), imp = v4l2_all(v, true);
	char err[128], formats[2][192], name[16], name2[16], sizes[64];

	printf("  %-13s %-8s %-14s %-26s ", dev->path,
	       dev->error && !v->driver[0] ? "?" : dmapipe_v4l2_role_to_string(v->role),
	       v->driver[0] ? v->driver : "?", v->card);
	if (dev->error && !v->driver[0]) {
		printf("%s\n", error_text(dev, err, sizeof(err)));
		return;
	}
	printf("%-14s ", dev->error == EBUSY ? "busy" :
	       exp && imp ? "export+import" : exp ? "export" : imp ? "import" : "no dma-buf");
	for (uint32_t q = 0; q < v->n_queues && q < 2; q++)
		format_list(&v->queues[q], formats[q], sizeof(formats[q]));
	if (v->n_queues == 2)
		printf("%s -> %s\n", formats[0], formats[1]);
	else if (v->n_queues == 1)
		printf("%s\n", formats[0]);
	else
		printf("no video queue\n");
	if (!verbose)
		return;

	printf("      %s, bus %s, caps 0x%08x, device caps 0x%08x%s\n", v->card, v->bus_info,
	       v->capabilities, v->device_caps, v->multiplanar ? ", multi-planar" : "");
	for (uint32_t q = 0; q < v->n_queues; q++) {
		const struct dmapipe_v4l2_queue *queue = &v->queues[q];

		printf("      %s queue: memory", dmapipe_v4l2_buf_type_to_string(queue->type));
		for (size_t k = 0; k < sizeof(buf_cap_names) / sizeof(buf_cap_names[0]); k++)
			if (queue->buf_caps & buf_cap_names[k].bit)
				printf(" %s", buf_cap_names[k].name);
		printf("; dma-buf export %s%s, import %s",
		       queue->dmabuf_export ? "yes" : "no",
		       queue->export_probed ? " (proved)" : "",
		       queue->dmabuf_import ? "yes" : "no");
		if (queue->error)
			printf("; %s", queue->error == EBUSY ? "busy" : strerror(queue->error));
		printf("\n");
		for (uint32_t f = 0; f < queue->n_formats; f++) {
			const struct dmapipe_v4l2_format *fmt = &queue->formats[f];

			format_sizes(&fmt->sizes, sizes, sizeof(sizes));
			printf("        %-9s V4L2 %-8s %-32s %s%s%s\n", format_name(fmt, name),
			       v4l2_code_name(fmt->pixelformat, name2), fmt->description, sizes,
			       fmt->flags & DMAPIPE_V4L2_FORMAT_COMPRESSED ? ", compressed" : "",
			       fmt->flags & DMAPIPE_V4L2_FORMAT_EMULATED ? ", emulated" : "");
		}
	}
}

static void text_kmod(const struct dmapipe_device *dev)
{
	const struct dmapipe_kmod_device *k = dev->kmod;
	char err[128];

	if (dev->error) {
		printf("\ndmapipe.ko: %s %s\n", dev->path, error_text(dev, err, sizeof(err)));
		return;
	}
	printf("\ndmapipe.ko: %s, ABI %u, features:", dev->path, k->abi_version);
	for (size_t i = 0; i < sizeof(kmod_feature_names) / sizeof(kmod_feature_names[0]); i++)
		if (k->features & (1ull << i))
			printf(" %s", kmod_feature_names[i]);
	printf("\n  %u buffers, %llu bytes in use; limits (0: none): %u buffers, "
	       "%llu MiB each, %llu MiB in all\n", k->buffers,
	       (unsigned long long)k->bytes_in_use, k->max_buffers,
	       (unsigned long long)(k->max_buffer_bytes >> 20),
	       (unsigned long long)(k->max_total_bytes >> 20));
}

/* "XRGB8888 ARGB8888 RGB565" of a plane, each with its modifiers with -v. */
static void text_plane_formats(const struct dmapipe_kms_plane *p, bool verbose)
{
	bool all_linear = true;
	char name[16], mod[24];

	for (uint32_t f = 0; f < p->n_formats; f++) {
		all_linear &= p->formats[f].modifier == DMAPIPE_MOD_LINEAR ||
			      p->formats[f].modifier == DMAPIPE_MOD_INVALID;
		if (!first_of_format(p, f))
			continue;
		printf(" %s", dmapipe_fourcc_to_string(p->formats[f].fourcc, name, sizeof(name)));
		if (!verbose)
			continue;
		printf(" (");
		for (uint32_t m = f, k = 0; m < p->n_formats; m++)
			if (p->formats[m].fourcc == p->formats[f].fourcc)
				printf("%s%s", k++ ? ", " : "",
				       modifier_name(p->formats[m].modifier, mod));
		printf(")");
	}
	if (!verbose && p->n_formats)
		printf(all_linear ? ", linear" : ", with modifiers (-v lists them)");
	if (!p->n_formats)
		printf(" no formats");
	printf("\n");
}

static void text_kms(const struct dmapipe_device *dev, bool verbose)
{
	const struct dmapipe_kms_device *k = dev->kms;
	char err[128];

	if (dev->error && !k->driver[0]) {
		printf("  %-20s %s\n", dev->path, error_text(dev, err, sizeof(err)));
		return;
	}
	printf("  %-20s %-10s %s%s%s; %u CRTC%s%s%s\n", dev->path, k->driver,
	       k->atomic ? "atomic" : "legacy only", k->modifiers ? ", modifiers" : "",
	       k->prime_import ? ", imports dma-bufs" : ", no dma-buf import", k->n_crtcs,
	       k->n_crtcs == 1 ? "" : "s", dev->error ? "; " : "",
	       dev->error ? error_text(dev, err, sizeof(err)) : "");
	for (uint32_t i = 0; i < k->n_connectors; i++) {
		const struct dmapipe_kms_connector *c = &k->connectors[i];

		printf("    connector %-14s %s", c->name, c->writeback ? "writeback" :
		       c->connected ? "connected" : "disconnected");
		if (c->width)
			printf("%*s%ux%u@%u%s", c->connected ? 5 : 2, "", c->width, c->height,
			       c->refresh, c->n_modes > 1 ? " (preferred)" : "");
		if (c->n_modes > 1)
			printf(", %u modes", c->n_modes);
		printf("\n");
	}
	for (uint32_t i = 0; i < k->n_planes; i++) {
		const struct dmapipe_kms_plane *p = &k->planes[i];

		printf("    plane %-4u %-8s CRTCs 0x%x%s:", p->id,
		       dmapipe_kms_plane_type_to_string(p->type), p->possible_crtcs,
		       p->in_fence ? ", fences" : "");
		text_plane_formats(p, verbose);
	}
}

static void text_devices(const struct dmapipe_device_list *list, bool verbose)
{
	size_t n = dmapipe_device_list_get_count(list);
	const struct dmapipe_device *udmabuf = find_type(list, DMAPIPE_DEVICE_UDMABUF);
	const struct dmapipe_device *kmod = find_type(list, DMAPIPE_DEVICE_DMAPIPE);
	size_t counts[DMAPIPE_DEVICE_KMS + 1] = { 0 };
	char err[128];

	for (size_t i = 0; i < n; i++) {
		const struct dmapipe_device *dev = dmapipe_device_list_get(list, i);

		if (dev->type <= DMAPIPE_DEVICE_KMS)
			counts[dev->type]++;
	}

	printf("\nV4L2 devices (%s):%s\n", dmapipe_device_have_udev() ? "libudev" : "sysfs",
	       counts[DMAPIPE_DEVICE_V4L2] ? "" : " none");
	if (counts[DMAPIPE_DEVICE_V4L2])
		printf("  %-13s %-8s %-14s %-26s %-14s %s\n", "NODE", "ROLE", "DRIVER", "CARD",
		       "DMA-BUF", "FORMATS (in -> out for mem2mem)");
	for (size_t i = 0; i < n; i++) {
		const struct dmapipe_device *dev = dmapipe_device_list_get(list, i);

		if (dev->type == DMAPIPE_DEVICE_V4L2)
			text_v4l2(dev, verbose);
	}

	printf("\nDRM render nodes:%s\n", counts[DMAPIPE_DEVICE_DRM] ? "" : " none");
	for (size_t i = 0; i < n; i++) {
		const struct dmapipe_device *dev = dmapipe_device_list_get(list, i);
		const struct dmapipe_drm_device *d = dev->drm;

		if (dev->type != DMAPIPE_DEVICE_DRM)
			continue;
		if (dev->error) {
			printf("  %-20s %s\n", dev->path, error_text(dev, err, sizeof(err)));
			continue;
		}
		printf("  %-20s %-10s PRIME %s; dumb buffers on %s: %s\n", dev->path, d->driver,
		       d->prime_import && d->prime_export ? "import+export" :
		       d->prime_export ? "export" : d->prime_import ? "import" : "no",
		       d->card[0] ? d->card : "(no primary node)",
		       d->dumb_buffers ? "yes" : strerror(d->dumb_error));
	}

	printf("\ndma-heaps:%s\n", counts[DMAPIPE_DEVICE_DMA_HEAP] ? "" : " none");
	for (size_t i = 0; i < n; i++) {
		const struct dmapipe_device *dev = dmapipe_device_list_get(list, i);

		if (dev->type == DMAPIPE_DEVICE_DMA_HEAP)
			printf("  %-20s %s\n", dev->path, dev->name);
	}

	printf("\nudmabuf: ");
	if (!udmabuf) {
		printf("absent\n");
	} else {
		printf("%s", udmabuf->path);
		if (udmabuf->udmabuf->size_limit_mb >= 0)
			printf(", size limit %lld MiB",
			       (long long)udmabuf->udmabuf->size_limit_mb);
		if (udmabuf->udmabuf->list_limit >= 0)
			printf(", list limit %lld", (long long)udmabuf->udmabuf->list_limit);
		if (udmabuf->error)
			printf(" (%s)", error_text(udmabuf, err, sizeof(err)));
		printf("\n");
	}
	if (kmod)
		text_kmod(kmod);
	else
		printf("\ndmapipe.ko: not loaded\n");

	printf("\nKMS devices (displays):%s\n", counts[DMAPIPE_DEVICE_KMS] ? "" : " none");
	for (size_t i = 0; i < n; i++) {
		const struct dmapipe_device *dev = dmapipe_device_list_get(list, i);

		if (dev->type == DMAPIPE_DEVICE_KMS)
			text_kms(dev, verbose);
	}
}

int cmd_info(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "probe-export", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dmapipe_allocator_info infos[MAX_ALLOCATORS];
	struct dmapipe_allocator *def;
	struct dmapipe_device_list *devices;
	uint32_t discover_flags = 0;
	bool verbose = false;
	const char *def_name = NULL;
	struct utsname uts;
	bool json = false;
	struct json j;
	int c, n, i;
	size_t f, k;

	while ((c = getopt_long(argc, argv, ":hv", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'p':
			discover_flags |= DMAPIPE_DISCOVER_PROBE_EXPORT;
			break;
		case 'h':
			fputs(info_usage, stdout);
			return 0;
		default:
			usage_getopt_error("info", c, argv);
		}
	}
	usage_no_operands("info", argc, argv);

	/* the fallback warning of the default allocator is what this command reports */
	dmapipe_log_set_priority(DMAPIPE_LOG_ERROR);
	n = dmapipe_allocator_probe_all(infos, MAX_ALLOCATORS);
	if (n < 0) {
		tool_error(TOOL_OK, n, "probing allocators failed");
		return 1;
	}
	if (n > MAX_ALLOCATORS)
		n = MAX_ALLOCATORS;
	def = dmapipe_allocator_new_default();
	if (def)
		def_name = dmapipe_allocator_get_name(def);
	if (uname(&uts) < 0)
		memset(&uts, 0, sizeof(uts));
	/* one device's failure stays in its entry; only the listing itself can fail */
	devices = dmapipe_device_list_new(discover_flags);
	if (!devices) {
		tool_error(TOOL_OK, errno, "listing devices failed");
		dmapipe_allocator_unref(def);
		return 1;
	}

	if (json) {
		json_begin_document(&j, false);
		json_string(&j, "version", dmapipe_version());
		json_string(&j, "kernel", uts.release);
		json_string(&j, "machine", uts.machine);
		json_string(&j, "default_allocator", def_name);
		json_begin_array(&j, "allocators");
		for (i = 0; i < n; i++) {
			json_begin_object(&j, NULL);
			json_string(&j, "name", infos[i].name);
			json_string(&j, "description", infos[i].description);
			json_bool(&j, "available", infos[i].available);
			json_string(&j, "reason", infos[i].available ? NULL :
				    strerror(infos[i].error));
			json_string(&j, "memory", dmapipe_mem_kind_to_string(infos[i].kind));
			json_bool(&j, "dmabuf", infos[i].kind == DMAPIPE_MEM_DMABUF);
			json_end_object(&j);
		}
		json_end_array(&j);
		json_begin_object(&j, "kernel_features");
	} else {
		printf("libdmapipe %s\n", dmapipe_version());
		printf("kernel %s %s\n\n", uts.release, uts.machine);
		printf("allocators (probe order):\n");
		for (i = 0; i < n; i++) {
			printf("  %-8s %-13s %-22s %s%s%s\n", infos[i].name,
			       infos[i].available ? "available" : "unavailable",
			       dmapipe_mem_kind_to_string(infos[i].kind),
			       infos[i].description ? infos[i].description : "",
			       infos[i].available ? "" : ": ",
			       infos[i].available ? "" : strerror(infos[i].error));
		}
		if (def)
			printf("default: %s, %s\n", def_name,
			       dmapipe_mem_kind_to_string(dmapipe_allocator_get_mem_kind(def)));
		else
			printf("default: none works here\n");
		if (def && dmapipe_allocator_get_mem_kind(def) != DMAPIPE_MEM_DMABUF)
			printf("note: no dma-buf provider on this machine; frames are shared as "
			       "sealed memfds (zero-copy between processes, but devices cannot "
			       "DMA from them)\n");
		printf("\nkernel features:\n");
	}

	for (f = 0; f < sizeof(features) / sizeof(features[0]); f++) {
		glob_t g;
		int r = glob(features[f].pattern, 0, NULL, &g);

		if (r != 0)
			g.gl_pathc = 0;
		if (json) {
			json_begin_array(&j, features[f].name);
			for (k = 0; k < g.gl_pathc; k++)
				json_string(&j, NULL, g.gl_pathv[k]);
			json_end_array(&j);
		} else {
			printf("  %-32s ", features[f].what);
			if (g.gl_pathc == 0)
				printf("absent (%s)", features[f].pattern);
			for (k = 0; k < g.gl_pathc; k++)
				printf("%s%s", k ? " " : "", g.gl_pathv[k]);
			printf("\n");
		}
		if (r == 0)
			globfree(&g);
	}
	if (json) {
		const struct dmapipe_device *kmod =
			find_type(devices, DMAPIPE_DEVICE_DMAPIPE);

		json_end_object(&j);
		/* kept from before the devices object: dmapipe.ko's GET_INFO or null */
		if (kmod && !kmod->error) {
			json_begin_object(&j, "dmapipe_module");
			json_kmod(&j, kmod->kmod);
			json_end_object(&j);
		} else {
			json_null(&j, "dmapipe_module");
		}
		json_devices(&j, devices);
		json_finish(&j);
	} else {
		text_devices(devices, verbose);
	}
	dmapipe_device_list_free(devices);
	dmapipe_allocator_unref(def);
	return 0;
}
