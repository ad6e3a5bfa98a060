/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dmapipe play and its consumers' constraints (docs/PROTOCOL.md section
 * 13, "An application that reallocates"), end to end: a recording of the
 * test pattern played at its recorded pace to a block-policy consumer that
 * checks every frame, while others join:
 * - one holding 6 frames (min_buffers): play makes a new generation of
 *   buffers, which the first consumer gets too, every recorded frame in
 *   order and its content right;
 * - one asking rows aligned to 4096 bytes, no copy allowed: refused at
 *   once (long before app_reallocates_ms) with "the recording fixes each
 *   frame's layout";
 * - the same with ALLOW_COPY: served (it copies);
 * - one importing into a DRM node: play's next generation comes from the
 *   drm allocator where one works (vgem in the lane), else play keeps its
 *   buffers and says why;
 * - a hostile one flipping its min_buffers seven times a second: play
 *   reallocates at most once per second of the run (the server's bound on
 *   the constraints callback), and the first consumer still loses nothing.
 *
 * Usage: test-play-constraints PATH-TO-dmapipe
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dmapipe/dmapipe.h"
#include "testlib.h"

#define FRAMES 400
#define FPS "100"

static const char *dmapipe_exe;
static char *dir;
/* the recorded sequence numbers (a busy machine's recording has gaps) */
static uint64_t recorded[FRAMES];
static uint64_t n_recorded;

struct peer {
	const char *name;
	struct dmapipe_client *client;
	uint64_t frames, gaps, bad_content, dmabuf_frames;
	uint32_t max_id;
	uint64_t connected_ms, ended_ms;
	bool ended;
};

static pid_t spawn(char *const argv[], const char *out, const char *err)
{
	pid_t pid = fork();

	check(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int status;

	check(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void wait_socket(const char *path)
{
	for (int i = 0; i < 500 && access(path, F_OK) != 0; i++)
		usleep(10000);
	check_msg(access(path, F_OK) == 0, "no socket %s", path);
}

/* The recording: FRAMES frames of 320x240 NV12 test pattern at FPS. */
static char *make_recording(void)
{
	char *sock = test_path(dir, "rec.sock"), *file = test_path(dir, "pattern.rec");
	char *log1 = test_path(dir, "serve.log"), *log2 = test_path(dir, "record.log");
	char *serve[] = { (char *)dmapipe_exe, "serve", "--socket", sock, "--size", "320x240",
			  "--fps", FPS, "--frames", "400", "--wait-consumers", "1", "-q", NULL };
	char *record[] = { (char *)dmapipe_exe, "record", sock, "-o", file, "--timeout", "30000",
			   "--policy", "queue:16", NULL };
	pid_t s = spawn(serve, "/dev/null", log1), r;
	struct dmapipe_recording_info info;
	struct dmapipe_recording *rec;

	wait_socket(sock);
	r = spawn(record, "/dev/null", log2);
	check_msg(wait_exit(r) == 0, "record failed (%s)", log2);
	check_msg(wait_exit(s) == 0, "serve failed (%s)", log1);
	rec = dmapipe_recording_open(file, 0);
	check_msg(rec, "%s: %s", file, strerror(errno));
	dmapipe_recording_get_info(rec, &info);
	/* a loaded machine drops some: the recorded pace keeps the run's length */
	check_msg(info.frames >= FRAMES / 4 && info.frames <= FRAMES, "%llu frames recorded",
		  (unsigned long long)info.frames);
	for (n_recorded = 0; n_recorded < info.frames; n_recorded++) {
		struct dmapipe_recorded_frame f;

		check_int_eq(dmapipe_recording_get_frame(rec, n_recorded, &f), 0);
		recorded[n_recorded] = f.meta.sequence;
	}
	dmapipe_recording_close(rec);
	free(sock);
	free(log1);
	free(log2);
	return file;
}

static void peer_connect(struct peer *p, const char *path, const struct dmapipe_constraints *cons,
			 enum dmapipe_policy policy)
{
	struct dmapipe_client_options o;

	dmapipe_client_options_init(&o);
	o.path = path;
	o.policy = policy;
	o.queue_depth = 4;
	o.map_buffers = true;
	o.name = p->name;
	o.constraints = cons;
	p->client = dmapipe_client_new(&o);
	check_msg(p->client, "%s: %s", p->name, strerror(errno));
	p->connected_ms = test_now_ms();
}

/* Takes @p's frames, checking each; notes the end of its stream. */
static void peer_pump(struct peer *p)
{
	struct dmapipe_frame *f;
	enum dmapipe_client_state st;

	if (!p->client || p->ended)
		return;
	dmapipe_client_dispatch(p->client, 0);
	while ((f = dmapipe_client_acquire_frame(p->client))) {
		uint64_t seq = f->meta.sequence;

		/* the first consumer gets them all: in the recording's order */
		if (p->frames >= n_recorded || seq != recorded[p->frames])
			p->gaps++;
		p->frames++;
		if (dmapipe_buffer_check_pattern(f->buffer, seq) != 0)
			p->bad_content++;
		if (dmapipe_buffer_get_mem_kind(f->buffer) == DMAPIPE_MEM_DMABUF)
			p->dmabuf_frames++;
		if (f->buffer_id > p->max_id)
			p->max_id = f->buffer_id;
		check_int_eq(dmapipe_client_release_frame(p->client, f, -1), 0);
	}
	st = dmapipe_client_get_state(p->client);
	if (st == DMAPIPE_CLIENT_EOS || st == DMAPIPE_CLIENT_ERROR ||
	    st == DMAPIPE_CLIENT_DISCONNECTED) {
		p->ended = true;
		p->ended_ms = test_now_ms();
	}
}

/* A number after "key": in play's JSON summary. */
static double json_number(const char *json, const char *key)
{
	char pattern[64];
	const char *at;

	snprintf(pattern, sizeof(pattern), "\"%s\":", key);
	at = strstr(json, pattern);
	check_msg(at, "no %s in play's summary", key);
	return strtod(at + strlen(pattern), NULL);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 65536);

	check(f && text);
	fread(text, 1, 65535, f);
	fclose(f);
	return text;
}

int main(int argc, char **argv)
{
	struct peer a = { .name = "first" }, b = { .name = "holds-6" },
		    c = { .name = "align-4096" }, d = { .name = "align-4096-copy" },
		    e = { .name = "flipper" }, g = { .name = "gpu" };
	struct peer *all[] = { &a, &b, &c, &d, &e, &g };
	struct dmapipe_constraints cons;
	struct dmapipe_allocator *drm;
	char *file, *sock, *out, *err, *json;
	const char *msg = NULL;
	uint64_t last_flip = 0, flips = 0;
	bool have_drm;
	pid_t play;
	int status;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH-TO-dmapipe\n", argv[0]);
		return 2;
	}
	dmapipe_exe = argv[1];
	signal(SIGPIPE, SIG_IGN);
	drm = dmapipe_allocator_new("drm");
	have_drm = drm != NULL;
	dmapipe_allocator_unref(drm);
	dir = test_make_dir("play-constraints");
	file = make_recording();
	sock = test_path(dir, "play.sock");
	out = test_path(dir, "play.json");
	err = test_path(dir, "play.log");
	{
		char *args[] = { (char *)dmapipe_exe, "play", file, "--socket", sock,
				 "--allocator", "memfd", "--wait-consumers", "1", "--json", NULL };

		play = spawn(args, out, err);
	}
	wait_socket(sock);
	peer_connect(&a, sock, NULL, DMAPIPE_POLICY_BLOCK);

	while (!a.ended) {
		peer_pump(&a);
		if (a.frames >= n_recorded / 10 && !b.client) {
			dmapipe_constraints_init(&cons);
			cons.min_buffers = 6;
			peer_connect(&b, sock, &cons, DMAPIPE_POLICY_QUEUE);
			dmapipe_constraints_init(&cons);
			cons.stride_align[0] = 4096;
			peer_connect(&c, sock, &cons, DMAPIPE_POLICY_QUEUE);
			cons.flags = DMAPIPE_CONSTRAINT_ALLOW_COPY;
			peer_connect(&d, sock, &cons, DMAPIPE_POLICY_QUEUE);
		}
		if (a.frames >= n_recorded / 5 && !g.client) {
			dmapipe_constraints_init(&cons);
			strcpy(cons.import_device, "/dev/dri/renderD128");
			peer_connect(&g, sock, &cons, DMAPIPE_POLICY_QUEUE);
		}
		if (a.frames >= n_recorded * 3 / 10 && !e.client) {
			dmapipe_constraints_init(&cons);
			peer_connect(&e, sock, &cons, DMAPIPE_POLICY_QUEUE);
		}
		/* seven changes a second, under the eight the server allows */
		if (e.client && !e.ended && a.frames < n_recorded * 7 / 8 && test_now_ms() >= last_flip + 143 &&
		    dmapipe_client_takes_constraints(e.client)) {
			dmapipe_constraints_init(&cons);
			cons.min_buffers = (flips++ % 2) ? 0 : 12;
			check_int_eq(dmapipe_client_set_constraints(e.client, &cons), 0);
			last_flip = test_now_ms();
		}
		for (size_t i = 1; i < sizeof(all) / sizeof(all[0]); i++)
			peer_pump(all[i]);
		usleep(1000);
	}
	status = wait_exit(play);
	json = read_text(out);
	check_msg(status == 0, "play exited %d (%s): %s", status, err, json);

	/* the first consumer: every frame, in order, right, also in the new buffers */
	check_msg(a.frames == n_recorded && a.gaps == 0 && a.bad_content == 0,
		  "first: %llu frames of %llu, %llu out of order, %llu bad",
		  (unsigned long long)a.frames, (unsigned long long)n_recorded,
		  (unsigned long long)a.gaps, (unsigned long long)a.bad_content);
	check_msg(a.max_id >= 8, "first: buffer ids up to %u only: no new generation reached it",
		  a.max_id);
	check_int_eq(dmapipe_client_get_error(a.client, NULL), DMAPIPE_ERR_NONE);
	test_pass("a first consumer gets every frame, in order, content right, across new "
		  "buffer generations");

	check_msg(b.frames > 0 && b.bad_content == 0, "holds-6: %llu frames, %llu bad",
		  (unsigned long long)b.frames, (unsigned long long)b.bad_content);
	check_int_eq(dmapipe_client_get_error(b.client, NULL), DMAPIPE_ERR_NONE);
	test_pass("a consumer holding 6 frames is served from a larger generation");

	check_int_eq(dmapipe_client_get_error(c.client, &msg), DMAPIPE_ERR_CONSTRAINTS);
	check_msg(msg && strstr(msg, "not a multiple of 4096") &&
		  strstr(msg, "the recording fixes each frame's layout"), "align-4096: %s", msg);
	check_int_eq(c.frames, 0);
	check_msg(c.ended_ms - c.connected_ms < 2000, "align-4096 refused after %llu ms",
		  (unsigned long long)(c.ended_ms - c.connected_ms));
	test_pass("a consumer asking a stride the recording does not have is refused at once, "
		  "with the reason");

	check_int_eq(dmapipe_client_get_error(d.client, NULL), DMAPIPE_ERR_NONE);
	check_msg(d.frames > 0 && d.bad_content == 0, "align-4096-copy: %llu frames",
		  (unsigned long long)d.frames);
	test_pass("the same consumer allowing a copy is served");

	check_int_eq(dmapipe_client_get_error(g.client, NULL), DMAPIPE_ERR_NONE);
	check_msg(g.frames > 0 && g.bad_content == 0, "gpu: %llu frames",
		  (unsigned long long)g.frames);
	if (have_drm) {
		check_msg(strstr(json, "\"allocator\": \"drm\""), "no drm generation: %s", json);
		check_msg(g.dmabuf_frames > 0, "gpu: no frame in a dma-buf");
		test_pass("a consumer importing into a DRM node gets buffers of the drm allocator");
	} else {
		check_msg(strstr(json, "\"allocator\": \"memfd\""), "allocator changed: %s", json);
		test_pass("no drm allocator here: play keeps its buffers for a DRM importer");
	}

	check_msg(flips >= 10, "only %llu flips", (unsigned long long)flips);
	check_msg(json_number(json, "buffer_generations") >= 2 &&
		  json_number(json, "buffer_generations") <= json_number(json, "elapsed_s") + 2,
		  "%g generations in %g s", json_number(json, "buffer_generations"),
		  json_number(json, "elapsed_s"));
	check_int_eq(json_number(json, "frames_served"), n_recorded);
	test_pass("a consumer flipping its constraints: at most one new generation a second");

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		dmapipe_client_free(all[i]->client);
	free(json);
	free(out);
	free(err);
	free(sock);
	free(file);
	test_rmdir_all(dir);
	free(dir);
	return 0;
}
