/* SPDX-License-Identifier: MIT */
/*
 * The helpers every dmapipe subcommand shares: errors and the library's
 * messages, option parsing, signals. Built into the tool_common library
 * with json.c, sockets.c, measure.c (time and samples), child.c (child
 * processes) and frame-crc.c, so that dmapipe-bench (bench/) uses the
 * same ones; the tool's main() is in main.c.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmapipe-tool.h"
#include "pipeline.h"

/* ---- errors and library messages ------------------------------------------ */

struct tool_state tool;

static const char *const error_names[TOOL_ERR_COUNT] = {
	[TOOL_OK] = "ok",
	[TOOL_ERR_USAGE] = "usage",
	[TOOL_ERR_NO_SOCKET] = "no-socket",
	[TOOL_ERR_NOT_SOCKET] = "not-a-socket",
	[TOOL_ERR_NO_PRODUCER] = "no-producer",
	[TOOL_ERR_PERMISSION] = "permission",
	[TOOL_ERR_TIMEOUT] = "timeout",
	[TOOL_ERR_DISCONNECTED] = "disconnected",
	[TOOL_ERR_PRODUCER] = "producer-error",
	[TOOL_ERR_NOT_FOUND] = "not-found",
	[TOOL_ERR_EXISTS] = "exists",
	[TOOL_ERR_BUSY] = "busy",
	[TOOL_ERR_UNSUPPORTED] = "unsupported",
	[TOOL_ERR_DEVICE] = "device",
	[TOOL_ERR_IO] = "io",
	[TOOL_ERR_DISK_FULL] = "disk-full",
	[TOOL_ERR_DAMAGED] = "damaged",
	[TOOL_ERR_VERIFY] = "verify-failed",
	[TOOL_ERR_STRICT] = "strict",
	[TOOL_ERR_NO_MEMORY] = "no-memory",
	[TOOL_ERR_NOT_INSTALLED] = "not-installed",
	[TOOL_ERR_INTERNAL] = "internal",
};

const char *tool_error_name(enum tool_error code)
{
	return code < TOOL_ERR_COUNT ? error_names[code] : "internal";
}

enum tool_error tool_error_from_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return TOOL_ERR_INTERNAL;
	case ENOENT:
		return TOOL_ERR_NOT_FOUND;
	case EACCES:
	case EPERM:
	case EROFS:
		return TOOL_ERR_PERMISSION;
	case ETIMEDOUT:
		return TOOL_ERR_TIMEOUT;
	case ECONNRESET:
	case EPIPE:
		return TOOL_ERR_DISCONNECTED;
	case ECONNREFUSED:
		return TOOL_ERR_NO_PRODUCER;
	case ENOTSOCK:
		return TOOL_ERR_NOT_SOCKET;
	case EEXIST:
		return TOOL_ERR_EXISTS;
	case EBUSY:
	case EADDRINUSE:
		return TOOL_ERR_BUSY;
	case EINVAL:
	case ENOTSUP:
	case ENOTTY:
	case ENOSYS:
	case EISDIR:
	case ENOTDIR:
	case ENAMETOOLONG:
	case EBADMSG:
		return err == EBADMSG || err == -EBADMSG ? TOOL_ERR_DAMAGED : TOOL_ERR_UNSUPPORTED;
	case ENODEV:
	case ENXIO:
		return TOOL_ERR_DEVICE;
	case EIO:
	case EFAULT:
		return TOOL_ERR_IO;
	case ENOSPC:
	case EDQUOT:
		return TOOL_ERR_DISK_FULL;
	case ENOMEM:
		return TOOL_ERR_NO_MEMORY;
	case EPROTO:
		return TOOL_ERR_PRODUCER;
	}
	return TOOL_ERR_INTERNAL;
}

const char *tool_result(bool interrupted)
{
	switch (tool.error) {
	case TOOL_OK:
		return interrupted ? "interrupted" : "ok";
	case TOOL_ERR_VERIFY:
	case TOOL_ERR_DAMAGED:
	case TOOL_ERR_STRICT:
		return "failed";
	case TOOL_ERR_DISK_FULL:
		return "disk-full";
	default:
		return "error";
	}
}

int tool_exit_status(void)
{
	switch (tool.error) {
	case TOOL_OK:
		return 0;
	case TOOL_ERR_USAGE:
		return EXIT_USAGE;
	case TOOL_ERR_DISK_FULL:
		return EXIT_DISK_FULL;
	default:
		return 1;
	}
}

/*
 * Library messages held back (see tool_start()): a few, each with when it
 * came, behind a lock because a library thread (PipeWire's) may log.
 */
#define HELD_MAX 4
#define HELD_FRESH_NS 2000000000ull /* older ones explain no failure reported now */

static struct {
	pthread_mutex_t lock;
	unsigned int n;
	char text[HELD_MAX][400];
	uint64_t when[HELD_MAX];
} held = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* "dmapipe CMD: LEVEL: TEXT\n" in one write, TEXT escaped. */
static void print_line(const char *level, const char *text)
{
	char esc[1024];

	fprintf(stderr, "dmapipe%s%s: %s: %s\n", tool.cmd ? " " : "", tool.cmd ? tool.cmd : "",
		level, text_escape(text, esc, sizeof(esc)));
}

/* Prints and drops the held messages older than @older_than (0: all) */
static void flush_held(uint64_t older_than)
{
	unsigned int keep = 0;

	pthread_mutex_lock(&held.lock);
	for (unsigned int i = 0; i < held.n; i++) {
		if (older_than && held.when[i] >= older_than) {
			if (keep != i) {
				memcpy(held.text[keep], held.text[i], sizeof(held.text[0]));
				held.when[keep] = held.when[i];
			}
			keep++;
			continue;
		}
		print_line("warning", held.text[i]);
	}
	held.n = keep;
	pthread_mutex_unlock(&held.lock);
}

bool tool_log_held(void)
{
	bool any;

	pthread_mutex_lock(&held.lock);
	any = held.n > 0;
	pthread_mutex_unlock(&held.lock);
	return any;
}

void tool_log_discard(void)
{
	pthread_mutex_lock(&held.lock);
	held.n = 0;
	pthread_mutex_unlock(&held.lock);
}

void tool_log_flush(void)
{
	flush_held(0);
	fflush(stderr);
}

__attribute__((format(printf, 2, 0)))
static void log_handler(enum dmapipe_log_priority priority, const char *fmt, va_list args,
			void *data)
{
	char text[400];
	size_t len;

	(void)data;
	vsnprintf(text, sizeof(text), fmt, args);
	len = strlen(text);
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	if (priority > DMAPIPE_LOG_WARNING) {
		print_line(priority == DMAPIPE_LOG_INFO ? "info" : "debug", text);
		return;
	}
	pthread_mutex_lock(&held.lock);
	if (held.n == HELD_MAX) {
		/* the oldest goes out to make room: it explains nothing any more */
		print_line("warning", held.text[0]);
		memmove(held.text[0], held.text[1], sizeof(held.text[0]) * (HELD_MAX - 1));
		memmove(held.when, held.when + 1, sizeof(held.when[0]) * (HELD_MAX - 1));
		held.n--;
	}
	memcpy(held.text[held.n], text, len + 1);
	held.when[held.n] = now_ns();
	held.n++;
	pthread_mutex_unlock(&held.lock);
}

void tool_start(const char *cmd, int argc, char **argv)
{
	tool.cmd = cmd;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			tool.json = true;
	dmapipe_log_set_handler(log_handler, NULL);
}

/* Records the first failure; the text is what follows "error: ". */
static void note_error(enum tool_error code, const char *text)
{
	if (tool.error != TOOL_OK)
		return;
	tool.error = code != TOOL_OK ? code : TOOL_ERR_INTERNAL;
	snprintf(tool.message, sizeof(tool.message), "%s", text);
}

void tool_error(enum tool_error code, int err, const char *fmt, ...)
{
	char text[sizeof(tool.message)];
	va_list ap;
	size_t n;
	bool reason = false;

	if (err < 0)
		err = -err;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* what the library said long ago is not why this failed */
	flush_held(now_ns() > HELD_FRESH_NS ? now_ns() - HELD_FRESH_NS : 0);
	pthread_mutex_lock(&held.lock);
	for (unsigned int i = 0; i < held.n; i++) {
		n = strlen(text);
		snprintf(text + n, sizeof(text) - n, "%s%s", reason ? "; " : ": ", held.text[i]);
		reason = true;
	}
	held.n = 0;
	pthread_mutex_unlock(&held.lock);
	n = strlen(text);
	if (!reason && err)
		snprintf(text + n, sizeof(text) - n, ": %s", strerror(err));
	print_line("error", text);
	fflush(stderr);
	note_error(code != TOOL_OK ? code : tool_error_from_errno(err), text);
}

void tool_warn(const char *fmt, ...)
{
	char text[sizeof(tool.message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	flush_held(0);
	print_line("warning", text);
}

/* With --json: the document of a command that wrote none (a failure, mostly). */
static void failure_document(void)
{
	struct json j;

	json_begin_document(&j, stop_requested != 0);
	json_end_object(&j);
	json_finish(&j);
}

int tool_finish(int status)
{
	tool_log_flush();
	if (status != 0 && tool.error == TOOL_OK) {
		/* a path that forgot to say why: still one line, and the document */
		print_line("error", "failed");
		note_error(status == EXIT_USAGE ? TOOL_ERR_USAGE : TOOL_ERR_INTERNAL, "failed");
	}
	if (tool.json && !tool.document)
		failure_document();
	return tool.error != TOOL_OK ? tool_exit_status() : status;
}

/* ---- command line ------------------------------------------------------ */

void usage_error(const char *cmd, const char *fmt, ...)
{
	char text[sizeof(tool.message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (cmd)
		tool.cmd = cmd;
	tool_log_flush();
	print_line("error", text);
	fprintf(stderr, "Try 'dmapipe%s%s --help' for more information.\n",
		cmd ? " " : "", cmd ? cmd : "");
	note_error(TOOL_ERR_USAGE, text);
	exit(tool_finish(EXIT_USAGE));
}

void usage_getopt_error(const char *cmd, int c, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";

	if (c == ':')
		usage_error(cmd, "option '%s' needs a value", arg);
	if (strncmp(arg, "--", 2) != 0 && optopt > ' ' && optopt < 127)
		usage_error(cmd, "unknown option '-%c'", optopt);
	usage_error(cmd, "unknown option '%s'", arg);
}

void usage_no_operands(const char *cmd, int argc, char **argv)
{
	if (optind < argc)
		usage_error(cmd, "unexpected argument '%s'", argv[optind]);
}

int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned int d;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		d = (unsigned int)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;
	int ret = parse_u64(s, &v);

	if (ret < 0)
		return ret;
	if (v > UINT32_MAX)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

uint64_t opt_u64(const char *cmd, const char *opt, const char *s)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0)
		usage_error(cmd, "%s wants a non-negative whole number, not '%s'", opt, s);
	return v;
}

uint32_t opt_u32(const char *cmd, const char *opt, const char *s, uint32_t min, uint32_t max)
{
	uint32_t v;

	if (parse_u32(s, &v) < 0 || v < min || v > max)
		usage_error(cmd, "%s wants a whole number from %u to %u, not '%s'",
			    opt, min, max, s);
	return v;
}

uint32_t opt_buffer_duration(const char *cmd, const char *s)
{
	uint32_t ms;
	int ret = pipeline_parse_duration(s, &ms);

	if (ret == -ERANGE)
		usage_error(cmd, "--buffer: at most 60 s, got '%s'", s);
	if (ret < 0)
		usage_error(cmd, "--buffer wants a duration such as 2s or 500ms, got '%s'", s);
	return ms;
}

void opt_fps(const char *cmd, const char *opt, const char *s, bool allow_zero, uint32_t max,
	     uint32_t *num, uint32_t *den)
{
	if (dmapipe_fraction_parse(s, num, den) < 0 || (*num == 0 && !allow_zero) ||
	    (uint64_t)*num > (uint64_t)max * *den)
		usage_error(cmd, "%s wants a rate from %u to %u frames per second as N, N/M or "
			    "N.NNN (30000/1001 for NTSC), not '%s'", opt, allow_zero ? 0 : 1, max, s);
}

void opt_size(const char *cmd, const char *s, uint32_t *width, uint32_t *height)
{
	static const struct {
		const char *name;
		uint32_t w, h;
	} named[] = {
		{ "8k", 7680, 4320 }, { "4k", 3840, 2160 }, { "2160p", 3840, 2160 },
		{ "1440p", 2560, 1440 }, { "1080p", 1920, 1080 }, { "720p", 1280, 720 },
		{ "vga", 640, 480 },
	};
	char buf[32];
	char *x;
	size_t i;

	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strcasecmp(s, named[i].name) == 0) {
			*width = named[i].w;
			*height = named[i].h;
			return;
		}
	}
	if (strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	x = strchr(buf, 'x');
	if (!x)
		goto bad;
	*x = '\0';
	if (parse_u32(buf, width) < 0 || parse_u32(x + 1, height) < 0)
		goto bad;
	if (*width == 0 || *height == 0 || *width > 16384 || *height > 16384)
		usage_error(cmd, "size '%s' out of range (1x1 to 16384x16384)", s);
	return;
bad:
	usage_error(cmd, "bad size '%s': expected WIDTHxHEIGHT such as 3840x2160, or 4k, 1080p, 720p", s);
}

uint32_t opt_format(const char *cmd, const char *s)
{
	char why[256];
	uint32_t fourcc;
	int ret = dmapipe_fourcc_from_name(s, &fourcc, why, sizeof(why));

	if (ret == -ENOENT)
		usage_error(cmd, "%s (dmapipe formats lists them)", why);
	if (ret < 0)
		usage_error(cmd, "%s", why);
	if (!dmapipe_fourcc_is_supported(fourcc))
		usage_error(cmd, "format '%s' has no layout dmapipe knows (dmapipe formats lists "
			    "those it does)", s);
	return fourcc;
}

void check_size(const char *cmd, uint32_t fourcc, uint32_t width, uint32_t height)
{
	const struct dmapipe_format_desc *d = dmapipe_format_desc_find(fourcc);
	uint32_t wm, hm;

	if (!d || (width % d->width_multiple == 0 && height % d->height_multiple == 0))
		return;
	wm = d->width_multiple;
	hm = d->height_multiple;
	usage_error(cmd, "%s cannot be %ux%u: its chroma has %s, so the width must be a "
		    "multiple of %u and the height of %u (%ux%u or %ux%u would do)", d->name,
		    width, height, d->vsub == 2 ? "half the columns and rows" : "half the columns",
		    wm, hm, width >= wm ? width / wm * wm : wm, height >= hm ? height / hm * hm : hm,
		    (width + wm - 1) / wm * wm, (height + hm - 1) / hm * hm);
}

void opt_policy(const char *cmd, const char *s, enum dmapipe_policy *policy, uint32_t *depth)
{
	int ret = dmapipe_policy_from_string(s, policy, depth);

	if (ret == -ERANGE)
		usage_error(cmd, "bad queue depth in '%s': expected 1 to 64", s);
	if (ret < 0)
		usage_error(cmd, "bad policy '%s': expected latest, queue:N or block:N", s);
}

const char *const verify_names[4] = { "none", "stamp", "full", "auto" };

enum verify_mode opt_verify(const char *cmd, const char *s)
{
	for (unsigned int i = 0; i < sizeof(verify_names) / sizeof(verify_names[0]); i++)
		if (strcmp(s, verify_names[i]) == 0)
			return (enum verify_mode)i;
	usage_error(cmd, "bad --verify '%s': expected auto, full, stamp or none", s);
}

void opt_peer(const char *cmd, const char *s, enum dmapipe_peer_policy *policy,
	      uid_t *uid, gid_t *gid)
{
	if (dmapipe_peer_policy_from_string(s, policy, uid, gid) < 0)
		usage_error(cmd, "bad peer policy '%s': expected same-uid, any, uid:N or gid:N", s);
}

int frame_memory_reserve(uint8_t **mem, size_t *size, uint64_t need)
{
	void *p = NULL;

	if (need <= *size)
		return 0;
	free(*mem);
	*mem = NULL;
	*size = 0;
	if (need > SIZE_MAX || posix_memalign(&p, 4096, (size_t)need))
		return -ENOMEM;
	*mem = p;
	*size = (size_t)need;
	return 0;
}

struct dmapipe_recording *open_recording(const char *path, unsigned int flags, const char *hint)
{
	struct dmapipe_recording *rc = dmapipe_recording_open(path, flags);
	int err = errno;

	if (rc)
		return rc;
	if (err != EBADMSG)
		tool_error(TOOL_OK, err, "cannot read %s", path);
	else if (tool_log_held()) /* the library said what is wrong with it */
		tool_error(TOOL_ERR_UNSUPPORTED, 0, "cannot read %s%s%s", path, hint ? " " : "",
			   hint ? hint : "");
	else
		tool_error(TOOL_ERR_UNSUPPORTED, 0, "%s is not a usable dmapipe recording%s%s",
			   path, hint ? " " : "", hint ? hint : "");
	return NULL;
}

const char *recording_damage(const struct dmapipe_recording_info *info)
{
	if (info->damage & DMAPIPE_RECORDING_TRUNCATED)
		return "truncated";
	if (info->damage & DMAPIPE_RECORDING_INDEX_DAMAGED)
		return "index-damaged";
	if (info->damage & DMAPIPE_RECORDING_SUPERBLOCK_DAMAGED)
		return "superblock-damaged";
	if (info->frames < info->frames_expected)
		return "frames-missing";
	return NULL;
}

const char *error_code_name(enum dmapipe_error_code code, char *buf, size_t len)
{
	const char *name = dmapipe_error_code_to_string(code);

	if (strcmp(name, "unknown") != 0)
		return name;
	snprintf(buf, len, "unknown error %u", (unsigned int)code);
	return buf;
}

/* ---- signals ------------------------------------------------------------ */

volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

void install_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

