/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The V4L2 plumbing of devices/ (v4l2-util.h): one place for each ioctl
 * sequence, so that the capture source, the encoder and discovery agree
 * on what a device says.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#if HAVE_LIBV4L2
#include <libv4l2.h>
#endif

#include "v4l2-util.h"

/* bounds against drivers that never end an enumeration */
#define MAX_FORMATS 256
#define MAX_DISCRETE_SIZES 4096

int dmapipe_v4l2_ioctl(const struct dmapipe_v4l2_node *node, unsigned long request, void *arg)
{
#if HAVE_LIBV4L2
	if (node->libv4l2) {
		int ret;

		do {
			ret = v4l2_ioctl(node->fd, request, arg);
		} while (ret < 0 && errno == EINTR);
		return ret < 0 ? -errno : 0;
	}
#endif
	return dmapipe_ioctl(node->fd, request, arg);
}

const char *dmapipe_v4l2_fcc(uint32_t code, char buf[16])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)((code >> (8 * i)) & 0xff);

		if (c < ' ' || c > '~') {
			snprintf(buf, 16, "0x%08x", code);
			return buf;
		}
		buf[i] = c;
	}
	buf[4] = '\0';
	return buf;
}

int dmapipe_v4l2_querycap(int fd, struct v4l2_capability *cap, uint32_t *caps)
{
	int ret;

	memset(cap, 0, sizeof(*cap));
	ret = dmapipe_ioctl(fd, VIDIOC_QUERYCAP, cap);
	if (ret < 0)
		return ret;
	*caps = cap->capabilities & V4L2_CAP_DEVICE_CAPS ? cap->device_caps : cap->capabilities;
	return 0;
}

bool dmapipe_v4l2_is_output_type(uint32_t type)
{
	return type == V4L2_BUF_TYPE_VIDEO_OUTPUT || type == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
}

/* ---- formats ------------------------------------------------------------ */

/* Format @index of queue @type: 0, -EINVAL past the last one, or -errno. */
static int enum_format(const struct dmapipe_v4l2_node *node, uint32_t type, uint32_t index,
		       struct v4l2_fmtdesc *desc)
{
	memset(desc, 0, sizeof(*desc));
	desc->index = index;
	desc->type = type;
	return dmapipe_v4l2_ioctl(node, VIDIOC_ENUM_FMT, desc);
}

bool dmapipe_v4l2_offers(const struct dmapipe_v4l2_node *node, uint32_t type,
			 uint32_t pixelformat)
{
	struct v4l2_fmtdesc d;

	for (uint32_t i = 0; i < MAX_FORMATS && enum_format(node, type, i, &d) == 0; i++)
		if (d.pixelformat == pixelformat)
			return true;
	return false;
}

void dmapipe_v4l2_describe_formats(const struct dmapipe_v4l2_node *node, uint32_t type, char *buf,
				   size_t len)
{
	struct v4l2_fmtdesc d;
	size_t used = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < MAX_FORMATS && enum_format(node, type, i, &d) == 0; i++) {
		uint32_t fourcc = dmapipe_fourcc_from_v4l2(d.pixelformat, NULL);
		char v[16], drm[16];
		int n;

		if (fourcc)
			n = snprintf(buf + used, len - used, "%s%s (%s)", used ? ", " : "",
				     dmapipe_fourcc_to_string(fourcc, drm, sizeof(drm)),
				     dmapipe_v4l2_fcc(d.pixelformat, v));
		else
			n = snprintf(buf + used, len - used, "%s%s (no DRM equivalent)",
				     used ? ", " : "", dmapipe_v4l2_fcc(d.pixelformat, v));
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

void dmapipe_v4l2_frame_sizes(const struct dmapipe_v4l2_node *node, uint32_t pixelformat,
			      struct dmapipe_frame_sizes *sizes)
{
	struct v4l2_frmsizeenum fs;
	uint64_t min_area = UINT64_MAX, max_area = 0;

	memset(sizes, 0, sizeof(*sizes));
	memset(&fs, 0, sizeof(fs));
	fs.pixel_format = pixelformat;
	if (dmapipe_v4l2_ioctl(node, VIDIOC_ENUM_FRAMESIZES, &fs) < 0)
		return;
	if (fs.type == V4L2_FRMSIZE_TYPE_CONTINUOUS || fs.type == V4L2_FRMSIZE_TYPE_STEPWISE) {
		sizes->type = fs.type;
		sizes->min_width = fs.stepwise.min_width;
		sizes->min_height = fs.stepwise.min_height;
		sizes->max_width = fs.stepwise.max_width;
		sizes->max_height = fs.stepwise.max_height;
		sizes->step_width = fs.stepwise.step_width;
		sizes->step_height = fs.stepwise.step_height;
		return;
	}
	if (fs.type != V4L2_FRMSIZE_TYPE_DISCRETE)
		return;
	sizes->type = V4L2_FRMSIZE_TYPE_DISCRETE;
	for (uint32_t i = 0; i < MAX_DISCRETE_SIZES; i++) {
		uint64_t area;

		memset(&fs, 0, sizeof(fs));
		fs.index = i;
		fs.pixel_format = pixelformat;
		if (dmapipe_v4l2_ioctl(node, VIDIOC_ENUM_FRAMESIZES, &fs) < 0 ||
		    fs.type != V4L2_FRMSIZE_TYPE_DISCRETE)
			break;
		sizes->n_discrete++;
		area = (uint64_t)fs.discrete.width * fs.discrete.height;
		if (area < min_area) {
			min_area = area;
			sizes->min_width = fs.discrete.width;
			sizes->min_height = fs.discrete.height;
		}
		if (area >= max_area) {
			max_area = area;
			sizes->max_width = fs.discrete.width;
			sizes->max_height = fs.discrete.height;
		}
	}
}

int dmapipe_v4l2_formats_new(const struct dmapipe_v4l2_node *node, uint32_t type,
			     struct dmapipe_v4l2_format **out)
{
	struct dmapipe_v4l2_format *formats = NULL;
	uint32_t n = 0, cap = 0;
	int ret = 0;

	for (uint32_t i = 0; i < MAX_FORMATS; i++) {
		struct v4l2_fmtdesc desc;
		struct dmapipe_v4l2_format *f;
		unsigned int n_objects = 0;

		ret = enum_format(node, type, i, &desc);
		if (ret == -EINVAL) {
			ret = 0; /* the end of the list */
			break;
		}
		if (ret < 0)
			break;
		if (n == cap) {
			uint32_t ncap = cap ? cap * 2 : 8;
			struct dmapipe_v4l2_format *v = realloc(formats, ncap * sizeof(*v));

			if (!v) {
				ret = -ENOMEM;
				break;
			}
			formats = v;
			cap = ncap;
		}
		f = &formats[n++];
		memset(f, 0, sizeof(*f));
		f->pixelformat = desc.pixelformat;
		if (desc.flags & V4L2_FMT_FLAG_COMPRESSED)
			f->flags |= DMAPIPE_V4L2_FORMAT_COMPRESSED;
		if (desc.flags & V4L2_FMT_FLAG_EMULATED)
			f->flags |= DMAPIPE_V4L2_FORMAT_EMULATED;
		f->fourcc = dmapipe_fourcc_from_v4l2(desc.pixelformat, &n_objects);
		f->n_objects = f->fourcc ? n_objects : 0;
		dmapipe_strlcpy(f->description, (const char *)desc.description,
				MIN(sizeof(f->description), sizeof(desc.description)));
		dmapipe_v4l2_frame_sizes(node, desc.pixelformat, &f->sizes);
	}
	if (ret < 0 && n == 0) {
		free(formats);
		return ret;
	}
	*out = formats;
	return (int)n;
}

/* ---- struct v4l2_format ------------------------------------------------- */

void dmapipe_v4l2_format_read(const struct v4l2_format *fmt, struct dmapipe_v4l2_pix *pix)
{
	if (V4L2_TYPE_IS_MULTIPLANAR(fmt->type)) {
		const struct v4l2_pix_format_mplane *mp = &fmt->fmt.pix_mp;

		pix->pixelformat = mp->pixelformat;
		pix->width = mp->width;
		pix->height = mp->height;
		pix->field = mp->field;
		pix->bytesperline = mp->plane_fmt[0].bytesperline;
		pix->sizeimage = mp->plane_fmt[0].sizeimage;
		pix->num_planes = mp->num_planes;
	} else {
		const struct v4l2_pix_format *sp = &fmt->fmt.pix;

		pix->pixelformat = sp->pixelformat;
		pix->width = sp->width;
		pix->height = sp->height;
		pix->field = sp->field;
		pix->bytesperline = sp->bytesperline;
		pix->sizeimage = sp->sizeimage;
		pix->num_planes = 1;
	}
}

static uint32_t matrix_of(uint32_t enc)
{
	switch (enc) {
	case V4L2_YCBCR_ENC_601:
	case V4L2_YCBCR_ENC_XV601:
		return DMAPIPE_MATRIX_BT601;
	case V4L2_YCBCR_ENC_709:
	case V4L2_YCBCR_ENC_XV709:
		return DMAPIPE_MATRIX_BT709;
	case V4L2_YCBCR_ENC_BT2020:
		return DMAPIPE_MATRIX_BT2020;
	case V4L2_YCBCR_ENC_SMPTE240M:
		return DMAPIPE_MATRIX_SMPTE240M;
	}
	return DMAPIPE_MATRIX_UNKNOWN;
}

static uint32_t transfer_of(uint32_t xfer)
{
	switch (xfer) {
	case V4L2_XFER_FUNC_709:
		return DMAPIPE_TRANSFER_BT709;
	case V4L2_XFER_FUNC_SRGB:
		return DMAPIPE_TRANSFER_SRGB;
	case V4L2_XFER_FUNC_SMPTE240M:
		return DMAPIPE_TRANSFER_SMPTE240M;
	case V4L2_XFER_FUNC_NONE:
		return DMAPIPE_TRANSFER_LINEAR;
	case V4L2_XFER_FUNC_SMPTE2084:
		return DMAPIPE_TRANSFER_SMPTE2084;
	}
	return DMAPIPE_TRANSFER_UNKNOWN;
}

static uint32_t primaries_of(uint32_t colorspace)
{
	switch (colorspace) {
	case V4L2_COLORSPACE_REC709:
	case V4L2_COLORSPACE_SRGB:
	case V4L2_COLORSPACE_JPEG:
	case V4L2_COLORSPACE_OPRGB:
		return DMAPIPE_PRIMARIES_BT709;
	case V4L2_COLORSPACE_SMPTE170M:
		return DMAPIPE_PRIMARIES_SMPTE170M;
	case V4L2_COLORSPACE_470_SYSTEM_M:
		return DMAPIPE_PRIMARIES_BT470M;
	case V4L2_COLORSPACE_470_SYSTEM_BG:
		return DMAPIPE_PRIMARIES_BT470BG;
	case V4L2_COLORSPACE_SMPTE240M:
		return DMAPIPE_PRIMARIES_SMPTE240M;
	case V4L2_COLORSPACE_BT2020:
		return DMAPIPE_PRIMARIES_BT2020;
	case V4L2_COLORSPACE_DCI_P3:
		return DMAPIPE_PRIMARIES_SMPTERP431;
	}
	return DMAPIPE_PRIMARIES_UNKNOWN;
}

void dmapipe_v4l2_format_info_read(const struct v4l2_format *fmt,
				   struct dmapipe_format_info *info)
{
	uint32_t colorspace, enc, quant, xfer, field, fourcc;
	bool rgb;

	if (V4L2_TYPE_IS_MULTIPLANAR(fmt->type)) {
		const struct v4l2_pix_format_mplane *mp = &fmt->fmt.pix_mp;

		colorspace = mp->colorspace;
		enc = mp->ycbcr_enc;
		quant = mp->quantization;
		xfer = mp->xfer_func;
		field = mp->field;
		fourcc = dmapipe_fourcc_from_v4l2(mp->pixelformat, NULL);
	} else {
		const struct v4l2_pix_format *sp = &fmt->fmt.pix;

		colorspace = sp->colorspace;
		enc = sp->ycbcr_enc;
		quant = sp->quantization;
		xfer = sp->xfer_func;
		field = sp->field;
		fourcc = dmapipe_fourcc_from_v4l2(sp->pixelformat, NULL);
	}
	/* RGB formats carry no Y'CbCr matrix; their default range is full */
	rgb = dmapipe_format_is_rgb(fourcc);
	dmapipe_format_info_init(info);
	if (colorspace != V4L2_COLORSPACE_DEFAULT) {
		if (enc == V4L2_YCBCR_ENC_DEFAULT)
			enc = V4L2_MAP_YCBCR_ENC_DEFAULT(colorspace);
		if (xfer == V4L2_XFER_FUNC_DEFAULT)
			xfer = V4L2_MAP_XFER_FUNC_DEFAULT(colorspace);
		if (quant == V4L2_QUANTIZATION_DEFAULT)
			quant = V4L2_MAP_QUANTIZATION_DEFAULT(rgb, colorspace, enc);
		info->primaries = primaries_of(colorspace);
		info->transfer = transfer_of(xfer);
		info->matrix = rgb ? DMAPIPE_MATRIX_RGB : matrix_of(enc);
	}
	if (quant == V4L2_QUANTIZATION_FULL_RANGE)
		info->range = DMAPIPE_RANGE_FULL;
	else if (quant == V4L2_QUANTIZATION_LIM_RANGE)
		info->range = DMAPIPE_RANGE_LIMITED;
	switch (field) {
	case V4L2_FIELD_NONE:
		info->interlace = DMAPIPE_INTERLACE_PROGRESSIVE;
		break;
	case V4L2_FIELD_INTERLACED_TB:
		info->interlace = DMAPIPE_INTERLACE_INTERLEAVED;
		info->field_order = DMAPIPE_FIELD_ORDER_TOP_FIRST;
		break;
	case V4L2_FIELD_INTERLACED_BT:
		info->interlace = DMAPIPE_INTERLACE_INTERLEAVED;
		info->field_order = DMAPIPE_FIELD_ORDER_BOTTOM_FIRST;
		break;
	case V4L2_FIELD_INTERLACED:
		info->interlace = DMAPIPE_INTERLACE_INTERLEAVED;
		break;
	case V4L2_FIELD_ALTERNATE:
		info->interlace = DMAPIPE_INTERLACE_ALTERNATE;
		break;
	}
}

void dmapipe_v4l2_format_write(struct v4l2_format *fmt, uint32_t pixelformat, uint32_t width,
			       uint32_t height, const uint32_t *bytesperline, unsigned int n)
{
	if (V4L2_TYPE_IS_MULTIPLANAR(fmt->type)) {
		struct v4l2_pix_format_mplane *mp = &fmt->fmt.pix_mp;
		unsigned int n_objects = 0;

		mp->pixelformat = pixelformat;
		mp->width = width;
		mp->height = height;
		mp->field = V4L2_FIELD_NONE;
		if (dmapipe_fourcc_from_v4l2(pixelformat, &n_objects) && n_objects)
			mp->num_planes = (uint8_t)n_objects;
		/* planes past the format's own are not the driver's to read */
		if (mp->num_planes && n > mp->num_planes)
			n = mp->num_planes;
		for (unsigned int p = 0; p < VIDEO_MAX_PLANES; p++) {
			mp->plane_fmt[p].bytesperline = bytesperline && p < n ? bytesperline[p] : 0;
			mp->plane_fmt[p].sizeimage = 0;
		}
	} else {
		struct v4l2_pix_format *sp = &fmt->fmt.pix;

		sp->pixelformat = pixelformat;
		sp->width = width;
		sp->height = height;
		sp->field = V4L2_FIELD_NONE;
		sp->bytesperline = bytesperline && n ? bytesperline[0] : 0;
		sp->sizeimage = 0;
	}
}

void dmapipe_v4l2_format_set_colorimetry(struct v4l2_format *fmt, uint32_t colorspace,
					 uint32_t xfer_func, uint32_t ycbcr_enc,
					 uint32_t quantization)
{
	if (V4L2_TYPE_IS_MULTIPLANAR(fmt->type)) {
		fmt->fmt.pix_mp.colorspace = colorspace;
		fmt->fmt.pix_mp.xfer_func = (uint8_t)xfer_func;
		fmt->fmt.pix_mp.ycbcr_enc = (uint8_t)ycbcr_enc;
		fmt->fmt.pix_mp.quantization = (uint8_t)quantization;
	} else {
		fmt->fmt.pix.colorspace = colorspace;
		fmt->fmt.pix.xfer_func = xfer_func;
		fmt->fmt.pix.ycbcr_enc = ycbcr_enc;
		fmt->fmt.pix.quantization = quantization;
	}
}

int dmapipe_v4l2_layout_from_format(const struct v4l2_format *fmt, struct dmapipe_layout *l,
				    char *why, size_t len)
{
	bool mp = V4L2_TYPE_IS_MULTIPLANAR(fmt->type);
	struct dmapipe_v4l2_pix pix;
	unsigned int n_objects = 1, n;
	uint64_t rb0, rb, offset = 0;
	uint32_t rows;
	char v[16];

	dmapipe_v4l2_format_read(fmt, &pix);
	memset(l, 0, sizeof(*l));
	l->format.fourcc = dmapipe_fourcc_from_v4l2(pix.pixelformat, &n_objects);
	if (!l->format.fourcc) {
		if (why)
			snprintf(why, len, "pixel format %s has no DRM equivalent dmapipe knows",
				 dmapipe_v4l2_fcc(pix.pixelformat, v));
		return -ENOTSUP;
	}
	l->format.width = pix.width;
	l->format.height = pix.height;
	l->format.modifier = DMAPIPE_MOD_LINEAR;
	n = dmapipe_format_plane_count(l->format.fourcc);
	if (n == 0 || n > DMAPIPE_MAX_PLANES) {
		if (why)
			snprintf(why, len, "pixel format %s has no plane geometry dmapipe knows",
				 dmapipe_v4l2_fcc(pix.pixelformat, v));
		return -ENOTSUP;
	}
	l->n_planes = n;
	for (unsigned int i = 0; i < DMAPIPE_MAX_OBJECTS; i++)
		l->objects[i].fd = -1;

	if (mp && pix.num_planes > 1) {
		if (pix.num_planes != n) {
			if (why)
				snprintf(why, len, "%u V4L2 planes for a %u-plane format",
					 pix.num_planes, n);
			return -EPROTO;
		}
		l->n_objects = n;
		for (unsigned int p = 0; p < n; p++) {
			l->planes[p].object = p;
			l->planes[p].stride = fmt->fmt.pix_mp.plane_fmt[p].bytesperline;
			l->objects[p].size = fmt->fmt.pix_mp.plane_fmt[p].sizeimage;
		}
		return 0;
	}

	l->n_objects = 1;
	l->objects[0].size = pix.sizeimage;
	if (dmapipe_format_plane_geometry(l->format.fourcc, pix.width, pix.height, 0, &rb0,
					  &rows) < 0 || !rb0) {
		if (why)
			snprintf(why, len, "no geometry for %ux%u", pix.width, pix.height);
		return -ENOTSUP;
	}
	/* V4L2's convention: the planes follow each other in the buffer, each
	 * chroma stride derived from bytesperline */
	for (unsigned int p = 0; p < n; p++) {
		if (dmapipe_format_plane_geometry(l->format.fourcc, pix.width, pix.height, p, &rb,
						  &rows) < 0) {
			if (why)
				snprintf(why, len, "no geometry for plane %u", p);
			return -ENOTSUP;
		}
		if ((uint64_t)pix.bytesperline * rb % rb0) {
			if (why)
				snprintf(why, len, "bytesperline %u gives plane %u no whole stride",
					 pix.bytesperline, p);
			return -EPROTO;
		}
		l->planes[p].object = 0;
		l->planes[p].stride = (uint32_t)((uint64_t)pix.bytesperline * rb / rb0);
		l->planes[p].offset = offset;
		offset += (uint64_t)l->planes[p].stride * rows;
	}
	if (offset > pix.sizeimage) {
		if (why)
			snprintf(why, len, "the driver's sizeimage %u is smaller than the %llu bytes "
				 "its bytesperline %u implies", pix.sizeimage,
				 (unsigned long long)offset, pix.bytesperline);
		return -EPROTO;
	}
	return 0;
}

/* ---- buffers ------------------------------------------------------------ */

int dmapipe_v4l2_queue_caps(const struct dmapipe_v4l2_node *node, uint32_t type, uint32_t *caps)
{
	struct v4l2_requestbuffers req;
	int ret;

	memset(&req, 0, sizeof(req));
	req.type = type;
	req.memory = V4L2_MEMORY_MMAP;
	ret = dmapipe_v4l2_ioctl(node, VIDIOC_REQBUFS, &req);
	*caps = ret == 0 ? req.capabilities : 0;
	return ret;
}

int dmapipe_v4l2_request(const struct dmapipe_v4l2_node *node, uint32_t type, uint32_t memory,
			 uint32_t count)
{
	struct v4l2_requestbuffers req;
	int ret;

	memset(&req, 0, sizeof(req));
	req.type = type;
	req.memory = memory;
	req.count = count;
	ret = dmapipe_v4l2_ioctl(node, VIDIOC_REQBUFS, &req);
	if (ret < 0 || count == 0)
		return ret;
	return req.count ? (int)MIN(req.count, (uint32_t)INT32_MAX) : -ENOMEM;
}

int dmapipe_v4l2_create_buffer(const struct dmapipe_v4l2_node *node, uint32_t type,
			       uint32_t memory)
{
	struct v4l2_create_buffers cb;
	int ret;

	memset(&cb, 0, sizeof(cb));
	cb.count = 1;
	cb.memory = memory;
	cb.format.type = type;
	ret = dmapipe_v4l2_ioctl(node, VIDIOC_G_FMT, &cb.format);
	if (ret == 0)
		ret = dmapipe_v4l2_ioctl(node, VIDIOC_CREATE_BUFS, &cb);
	if (ret < 0)
		return ret;
	if (cb.count < 1 || cb.index > INT32_MAX)
		return -EPROTO;
	return (int)cb.index;
}

void dmapipe_v4l2_buffer_init(struct v4l2_buffer *b, struct v4l2_plane *planes, uint32_t type,
			      uint32_t memory, uint32_t index, unsigned int n_planes)
{
	memset(b, 0, sizeof(*b));
	memset(planes, 0, sizeof(*planes) * VIDEO_MAX_PLANES);
	b->type = type;
	b->memory = memory;
	b->index = index;
	if (V4L2_TYPE_IS_MULTIPLANAR(type)) {
		b->m.planes = planes;
		b->length = MIN(n_planes, VIDEO_MAX_PLANES);
	}
}

int dmapipe_v4l2_export(const struct dmapipe_v4l2_node *node, uint32_t type, uint32_t index,
			uint32_t plane, uint32_t flags)
{
	struct v4l2_exportbuffer exp;
	int ret;

	memset(&exp, 0, sizeof(exp));
	exp.type = type;
	exp.index = index;
	exp.plane = plane;
	exp.flags = flags;
	ret = dmapipe_v4l2_ioctl(node, VIDIOC_EXPBUF, &exp);
	return ret < 0 ? ret : exp.fd;
}

int dmapipe_v4l2_map_buffer(const struct dmapipe_v4l2_node *node, uint32_t type, uint32_t index,
			    unsigned int n_planes, int prot, void **maps, size_t *lens)
{
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	bool mp = V4L2_TYPE_IS_MULTIPLANAR(type);
	struct v4l2_buffer b;
	int ret;

	dmapipe_v4l2_buffer_init(&b, planes, type, V4L2_MEMORY_MMAP, index, VIDEO_MAX_PLANES);
	ret = dmapipe_v4l2_ioctl(node, VIDIOC_QUERYBUF, &b);
	if (ret < 0)
		return ret;
	for (unsigned int p = 0; p < n_planes && p < VIDEO_MAX_PLANES; p++) {
		size_t len = mp ? planes[p].length : b.length;
		off_t off = mp ? (off_t)planes[p].m.mem_offset : (off_t)b.m.offset;
		void *m;

#if HAVE_LIBV4L2
		if (node->libv4l2)
			m = v4l2_mmap(NULL, len, prot, MAP_SHARED, node->fd, off);
		else
#endif
			m = mmap(NULL, len, prot, MAP_SHARED, node->fd, off);
		if (m == MAP_FAILED)
			return -errno;
		maps[p] = m;
		lens[p] = len;
	}
	return 0;
}

int dmapipe_v4l2_stream(const struct dmapipe_v4l2_node *node, uint32_t type, bool on)
{
	return dmapipe_v4l2_ioctl(node, on ? VIDIOC_STREAMON : VIDIOC_STREAMOFF, &type);
}
