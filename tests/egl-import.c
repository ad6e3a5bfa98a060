/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A GPU consumer for the tests (docs/PROTOCOL.md section 13, rule 7): it
 * connects to a producer stating import_device = the vgem card node, so
 * the producer allocates from a DRM device; imports each buffer once into
 * EGL (EGL_EXT_image_dma_buf_import), samples every frame into a
 * framebuffer with GLES2, reads it back and checks it against the test
 * pattern (docs/PATTERN.md). The only pixel copy is the glReadPixels of the
 * check; the library's own copies must stay 0.
 *
 * The stream must be a single-plane 32-bit RGB format with alpha
 * (ARGB8888/ABGR8888): sampling keeps every byte of those, while an X byte
 * would read back as 0xff and not as the pattern's.
 *
 * EGL: GBM on the vgem card node, where Mesa (no vgem driver) loads
 * kms_swrast, i.e. llvmpipe; if that display cannot be had,
 * EGL_MESA_platform_surfaceless. Without vgem or EGL: exit 77 with the
 * reason.
 *
 * Usage: egl-import SOCKET [FRAMES]   (default 30 frames)
 * Prints one summary line; exits 0 only if every frame was imported and
 * matched, the producer's allocator is "drm" and no byte was copied.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES2/gl2.h>
#include <GLES2/gl2ext.h>
#include <gbm.h>

#include "dmapipe/dmapipe.h"
#include "testlib.h"

#define MAX_IDS 256
#define FOURCC(a, b, c, d) \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))

struct imported {
	struct dmapipe_buffer *buffer; /* a reference: the id may come back with another buffer */
	EGLImageKHR image;
	GLuint texture;
};

struct gpu {
	int drm_fd;
	struct gbm_device *gbm;
	EGLDisplay dpy;
	EGLContext ctx;
	const char *platform;
	PFNEGLCREATEIMAGEKHRPROC create_image;
	PFNEGLDESTROYIMAGEKHRPROC destroy_image;
	PFNGLEGLIMAGETARGETTEXTURE2DOESPROC target_texture;
	GLuint program, fbo, target;
	uint32_t width, height;
	struct imported ids[MAX_IDS];
	unsigned int images; /* eglCreateImageKHR calls */
};

static bool has_ext(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

static EGLDisplay platform_display(EGLenum platform, void *native)
{
	PFNEGLGETPLATFORMDISPLAYEXTPROC get =
		(PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
	EGLDisplay dpy;
	EGLint major, minor;

	if (!get)
		return EGL_NO_DISPLAY;
	dpy = get(platform, native, NULL);
	if (dpy != EGL_NO_DISPLAY && !eglInitialize(dpy, &major, &minor))
		return EGL_NO_DISPLAY;
	return dpy;
}

static GLuint shader(GLenum type, const char *src)
{
	GLuint s = glCreateShader(type);
	GLint ok = 0;

	glShaderSource(s, 1, &src, NULL);
	glCompileShader(s);
	glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
	if (!ok) {
		char log[512];

		glGetShaderInfoLog(s, sizeof(log), NULL, log);
		fprintf(stderr, "egl-import: shader: %s\n", log);
		exit(1);
	}
	return s;
}

/* A display, a GLES2 context made current without a surface, and the sampling program. */
static void gpu_init(struct gpu *g)
{
	static const char *vs =
		"attribute vec2 pos;\n"
		"varying vec2 tc;\n"
		"void main() { tc = pos * 0.5 + 0.5; gl_Position = vec4(pos, 0.0, 1.0); }\n";
	static const char *fs =
		"precision mediump float;\n"
		"uniform sampler2D tex;\n"
		"varying vec2 tc;\n"
		"void main() { gl_FragColor = texture2D(tex, tc); }\n";
	static const EGLint config_attrs[] = { EGL_RENDERABLE_TYPE, EGL_OPENGL_ES2_BIT, EGL_NONE };
	static const EGLint ctx_attrs[] = { EGL_CONTEXT_CLIENT_VERSION, 2, EGL_NONE };
	const char *client_exts = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
	const char *exts;
	EGLConfig config = NULL;
	EGLint n = 0;
	GLint ok = 0;

	g->dpy = EGL_NO_DISPLAY;
	g->gbm = gbm_create_device(g->drm_fd);
	if (g->gbm && (has_ext(client_exts, "EGL_KHR_platform_gbm") ||
		       has_ext(client_exts, "EGL_MESA_platform_gbm"))) {
		g->dpy = platform_display(EGL_PLATFORM_GBM_KHR, g->gbm);
		g->platform = "gbm";
	}
	if (g->dpy == EGL_NO_DISPLAY && has_ext(client_exts, "EGL_MESA_platform_surfaceless")) {
		g->dpy = platform_display(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY);
		g->platform = "surfaceless";
	}
	if (g->dpy == EGL_NO_DISPLAY)
		test_skip("no EGL display on GBM (vgem) nor surfaceless (EGL error %#x)",
			  eglGetError());
	exts = eglQueryString(g->dpy, EGL_EXTENSIONS);
	if (!has_ext(exts, "EGL_EXT_image_dma_buf_import"))
		test_skip("EGL (%s) has no EGL_EXT_image_dma_buf_import", g->platform);
	if (!has_ext(exts, "EGL_KHR_surfaceless_context"))
		test_skip("EGL (%s) has no EGL_KHR_surfaceless_context", g->platform);
	if (!eglBindAPI(EGL_OPENGL_ES_API) ||
	    !eglChooseConfig(g->dpy, config_attrs, &config, 1, &n) || n < 1)
		test_skip("no GLES2 EGL config (%s)", g->platform);
	g->ctx = eglCreateContext(g->dpy, config, EGL_NO_CONTEXT, ctx_attrs);
	if (g->ctx == EGL_NO_CONTEXT ||
	    !eglMakeCurrent(g->dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, g->ctx))
		test_skip("no current GLES2 context (%s, EGL error %#x)", g->platform, eglGetError());
	if (!has_ext((const char *)glGetString(GL_EXTENSIONS), "GL_OES_EGL_image"))
		test_skip("GLES has no GL_OES_EGL_image");
	g->create_image = (PFNEGLCREATEIMAGEKHRPROC)eglGetProcAddress("eglCreateImageKHR");
	g->destroy_image = (PFNEGLDESTROYIMAGEKHRPROC)eglGetProcAddress("eglDestroyImageKHR");
	g->target_texture = (PFNGLEGLIMAGETARGETTEXTURE2DOESPROC)
		eglGetProcAddress("glEGLImageTargetTexture2DOES");
	if (!g->create_image || !g->destroy_image || !g->target_texture)
		test_skip("EGL image entry points missing");

	g->program = glCreateProgram();
	glAttachShader(g->program, shader(GL_VERTEX_SHADER, vs));
	glAttachShader(g->program, shader(GL_FRAGMENT_SHADER, fs));
	glBindAttribLocation(g->program, 0, "pos");
	glLinkProgram(g->program);
	glGetProgramiv(g->program, GL_LINK_STATUS, &ok);
	if (!ok) {
		fprintf(stderr, "egl-import: the program does not link\n");
		exit(1);
	}
	glUseProgram(g->program);
	glUniform1i(glGetUniformLocation(g->program, "tex"), 0);
}

/* The framebuffer frames are sampled into, made at the first frame's size. */
static void target_init(struct gpu *g, uint32_t width, uint32_t height)
{
	static const GLfloat quad[] = { -1, -1, 1, -1, -1, 1, 1, 1 };

	g->width = width;
	g->height = height;
	glGenTextures(1, &g->target);
	glBindTexture(GL_TEXTURE_2D, g->target);
	glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, (GLsizei)width, (GLsizei)height, 0, GL_RGBA,
		     GL_UNSIGNED_BYTE, NULL);
	glGenFramebuffers(1, &g->fbo);
	glBindFramebuffer(GL_FRAMEBUFFER, g->fbo);
	glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, g->target, 0);
	if (glCheckFramebufferStatus(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE) {
		fprintf(stderr, "egl-import: the framebuffer is not complete\n");
		exit(1);
	}
	/* texel centres land on pixel centres: NEAREST sampling reads each texel once */
	glViewport(0, 0, (GLsizei)width, (GLsizei)height);
	glDisable(GL_BLEND);
	glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 0, quad);
	glEnableVertexAttribArray(0);
}

/* The texture of @f's buffer, imported the first time it is seen; 0 on failure. */
static GLuint import(struct gpu *g, const struct dmapipe_frame *f)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(f->buffer);
	struct imported *im = &g->ids[f->buffer_id % MAX_IDS];
	EGLint attrs[] = {
		EGL_WIDTH, (EGLint)l->format.width,
		EGL_HEIGHT, (EGLint)l->format.height,
		EGL_LINUX_DRM_FOURCC_EXT, (EGLint)l->format.fourcc,
		EGL_DMA_BUF_PLANE0_FD_EXT, l->objects[l->planes[0].object].fd,
		EGL_DMA_BUF_PLANE0_OFFSET_EXT, (EGLint)l->planes[0].offset,
		EGL_DMA_BUF_PLANE0_PITCH_EXT, (EGLint)l->planes[0].stride,
		EGL_NONE,
	};

	if (im->buffer == f->buffer)
		return im->texture;
	if (im->buffer) {
		glDeleteTextures(1, &im->texture);
		g->destroy_image(g->dpy, im->image);
		dmapipe_buffer_unref(im->buffer);
		im->buffer = NULL;
	}
	im->image = g->create_image(g->dpy, EGL_NO_CONTEXT, EGL_LINUX_DMA_BUF_EXT, NULL, attrs);
	if (im->image == EGL_NO_IMAGE_KHR) {
		fprintf(stderr, "egl-import: buffer %u: eglCreateImageKHR failed (EGL error %#x)\n",
			f->buffer_id, eglGetError());
		return 0;
	}
	g->images++;
	glGenTextures(1, &im->texture);
	glBindTexture(GL_TEXTURE_2D, im->texture);
	g->target_texture(GL_TEXTURE_2D, (GLeglImageOES)im->image);
	glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
	glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
	glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
	glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
	if (glGetError() != GL_NO_ERROR) {
		fprintf(stderr, "egl-import: buffer %u: the image is no texture\n", f->buffer_id);
		return 0;
	}
	im->buffer = dmapipe_buffer_ref(f->buffer);
	return im->texture;
}

/*
 * Samples @f into the framebuffer, reads it back in the buffer's byte
 * order and checks the pattern. 0, or -1 (said why).
 */
static int verify(struct gpu *g, const struct dmapipe_frame *f, uint8_t *rgba, uint8_t *mem)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(f->buffer);
	struct dmapipe_layout packed;
	uint8_t *planes[DMAPIPE_MAX_PLANES] = { mem };
	unsigned int bad_plane = 0;
	uint64_t bad_offset = 0, px = (uint64_t)g->width * g->height;
	bool abgr = l->format.fourcc == FOURCC('A', 'B', '2', '4');
	GLuint tex = import(g, f);

	if (!tex)
		return -1;
	glBindTexture(GL_TEXTURE_2D, tex);
	glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
	glReadPixels(0, 0, (GLsizei)g->width, (GLsizei)g->height, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
	if (glGetError() != GL_NO_ERROR) {
		fprintf(stderr, "egl-import: frame %llu: GL error\n",
			(unsigned long long)f->meta.sequence);
		return -1;
	}
	/* ARGB8888 is B, G, R, A in memory; ABGR8888 is R, G, B, A as GL reads it */
	for (uint64_t i = 0; i < px; i++) {
		mem[4 * i + 0] = rgba[4 * i + (abgr ? 0 : 2)];
		mem[4 * i + 1] = rgba[4 * i + 1];
		mem[4 * i + 2] = rgba[4 * i + (abgr ? 2 : 0)];
		mem[4 * i + 3] = rgba[4 * i + 3];
	}
	if (dmapipe_layout_init(&packed, &l->format, 1) < 0 ||
	    dmapipe_pattern_check(&packed, planes, f->meta.sequence, &bad_plane, &bad_offset) < 0) {
		fprintf(stderr, "egl-import: frame %llu (buffer %u): differs from the pattern at "
			"byte %llu\n", (unsigned long long)f->meta.sequence, f->buffer_id,
			(unsigned long long)bad_offset);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct dmapipe_client_options o;
	struct dmapipe_constraints cons;
	struct dmapipe_server_stats st;
	struct dmapipe_copy_stats copies;
	struct dmapipe_client *client;
	struct gpu g = { .drm_fd = -1 };
	unsigned long want = argc > 2 ? strtoul(argv[2], NULL, 10) : 30;
	unsigned long frames = 0, verified = 0, failed = 0;
	uint8_t *rgba = NULL, *mem = NULL;
	char card[64];
	int ret;

	if (argc < 2 || want == 0) {
		fprintf(stderr, "usage: egl-import SOCKET [FRAMES]\n");
		return 2;
	}
	g.drm_fd = test_open_vgem(card, sizeof(card));
	if (g.drm_fd < 0)
		test_skip("no vgem card node in /dev/dri (modprobe vgem)");
	gpu_init(&g);

	dmapipe_constraints_init(&cons);
	cons.n_formats = 2;
	cons.formats[0] = FOURCC('A', 'R', '2', '4');
	cons.formats[1] = FOURCC('A', 'B', '2', '4');
	strcpy(cons.import_device, card);
	dmapipe_client_options_init(&o);
	o.path = argv[1];
	o.policy = DMAPIPE_POLICY_QUEUE;
	o.name = "egl-import";
	o.constraints = &cons;
	client = dmapipe_client_new(&o);
	if (!client) {
		fprintf(stderr, "egl-import: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while (frames < want) {
		struct dmapipe_frame *f = dmapipe_client_wait_frame(client, 5000);
		const char *why = NULL;

		if (!f) {
			if (dmapipe_client_get_error(client, &why) != DMAPIPE_ERR_NONE)
				fprintf(stderr, "egl-import: the producer refused: %s\n", why);
			else
				fprintf(stderr, "egl-import: no frame in 5 s after %lu\n", frames);
			failed++;
			break;
		}
		frames++;
		if (!rgba) {
			const struct dmapipe_format *fmt = &dmapipe_buffer_get_layout(f->buffer)->format;

			target_init(&g, fmt->width, fmt->height);
			rgba = malloc((size_t)fmt->width * fmt->height * 4);
			mem = malloc((size_t)fmt->width * fmt->height * 4);
			if (!rgba || !mem)
				return 1;
		}
		if (dmapipe_buffer_get_mem_kind(f->buffer) != DMAPIPE_MEM_DMABUF) {
			fprintf(stderr, "egl-import: frame %llu is not in a dma-buf\n",
				(unsigned long long)f->meta.sequence);
			failed++;
		} else if (verify(&g, f, rgba, mem) == 0) {
			verified++;
		} else {
			failed++;
		}
		dmapipe_client_release_frame(client, f, -1);
	}

	ret = dmapipe_query_stats(argv[1], &st, NULL, 0, 5000);
	dmapipe_get_copy_stats(&copies);
	printf("egl-import: %s, platform %s, renderer %s: %lu frames, %u buffers imported, "
	       "%lu verified, %lu failed; producer allocator %s, bytes copied %llu here and "
	       "%llu by the producer\n", card, g.platform, (const char *)glGetString(GL_RENDERER),
	       frames, g.images, verified, failed, ret >= 0 ? st.allocator : "?",
	       (unsigned long long)copies.bytes,
	       (unsigned long long)(ret >= 0 ? st.bytes_copied : 0));
	if (ret < 0)
		fprintf(stderr, "egl-import: the producer's stats: %s\n", strerror(-ret));

	for (unsigned int i = 0; i < MAX_IDS; i++) {
		if (!g.ids[i].buffer)
			continue;
		glDeleteTextures(1, &g.ids[i].texture);
		g.destroy_image(g.dpy, g.ids[i].image);
		dmapipe_buffer_unref(g.ids[i].buffer);
	}
	dmapipe_client_free(client);
	free(rgba);
	free(mem);
	eglMakeCurrent(g.dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
	eglDestroyContext(g.dpy, g.ctx);
	eglTerminate(g.dpy);
	if (g.gbm)
		gbm_device_destroy(g.gbm);
	close(g.drm_fd);

	if (failed || verified != want || ret < 0 || strcmp(st.allocator, "drm") != 0 ||
	    copies.bytes != 0 || st.bytes_copied != 0)
		return 1;
	return 0;
}
