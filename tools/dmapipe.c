/* SPDX-License-Identifier: MIT */
/*
 * The helpers every dmapipe subcommand shares: option parsing, signals,
 * time and samples, child processes. Built into the tool_common library
 * with json.c, so that dmapipe-bench (bench/) uses the same ones; the
 * tool's main() is in main.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dmapipe-tool.h"

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

/* ---- time and measurement ---------------------------------------------- */

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

uint64_t timeval_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000ull + (uint64_t)tv->tv_usec * 1000ull;
}

void self_cpu_ns(uint64_t *user_ns, uint64_t *sys_ns)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user_ns = timeval_ns(&ru.ru_utime);
	*sys_ns = timeval_ns(&ru.ru_stime);
}

uint64_t self_cpu_total_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void samples_add(struct samples *s, uint64_t value)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return; /* percentiles of what fitted */
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = value;
	s->sorted = false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t samples_percentile(struct samples *s, double pct)
{
	size_t rank;

	if (s->n == 0)
		return 0;
	if (!s->sorted) {
		qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
		s->sorted = true;
	}
	/* nearest rank: the smallest value with at least pct% at or below it */
	rank = (size_t)((pct / 100.0) * (double)s->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1];
}

uint64_t samples_max(struct samples *s)
{
	return samples_percentile(s, 100.0);
}

void samples_free(struct samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- child processes ---------------------------------------------------- */

const char *self_exe(void)
{
	static char path[PATH_MAX];
	ssize_t n;

	if (path[0])
		return path;
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0)
		strcpy(path, "/proc/self/exe");
	else
		path[n] = '\0';
	return path;
}

int exec_helper(const char *cmd, const char *name, const char *env_var,
		const char *built_rel, const char *libexecdir, const char *hint, char **argv)
{
	const char *env = getenv(env_var);
	char built[PATH_MAX], installed[PATH_MAX], *slash;
	const char *candidates[2];
	unsigned int n = 0;

	if (env && *env) {
		/* an explicit choice is not second-guessed by the other places */
		candidates[n++] = env;
	} else {
		snprintf(built, sizeof(built), "%s", self_exe());
		slash = strrchr(built, '/');
		if (slash && (size_t)(slash - built) + strlen(built_rel) + 2 <= sizeof(built)) {
			sprintf(slash, "/%s", built_rel);
			candidates[n++] = built;
		}
		snprintf(installed, sizeof(installed), "%s/%s", libexecdir, name);
		candidates[n++] = installed;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (access(candidates[i], X_OK) != 0)
			continue;
		if (setenv("DMAPIPE_TOOL", self_exe(), 1) < 0) {
			tool_error(TOOL_OK, errno, "cannot set DMAPIPE_TOOL");
			return 1;
		}
		/* argv[0] was the subcommand; the options follow unchanged */
		argv[0] = (char *)candidates[i];
		/* the helper writes the output and the document from here on */
		fflush(stdout);
		fflush(stderr);
		execv(candidates[i], argv);
		tool_error(TOOL_OK, errno, "cannot run %s", candidates[i]);
		return 1;
	}
	(void)cmd;
	tool_error(TOOL_ERR_NOT_INSTALLED, 0, "%s not found (%s%s%s%s); %s", name,
		   env && *env ? "" : "looked for ", env && *env ? env_var : candidates[0],
		   env && *env ? "=" : (n > 1 ? " and " : ""),
		   env && *env ? env : (n > 1 ? candidates[1] : ""), hint);
	return 1;
}

static int redirect(int target, const char *path)
{
	int fd;

	if (!path)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (dup2(fd, target) < 0)
		return -1;
	close(fd);
	return 0;
}

pid_t spawn(char *const argv[], const char *stdout_path, const char *stderr_path)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		tool_error(TOOL_OK, errno, "cannot start %s", argv[0]);
		return -1;
	}
	if (pid == 0) {
		if (redirect(STDOUT_FILENO, stdout_path) < 0)
			_exit(127);
		/* one file for both: share the file offset */
		if (stdout_path && stderr_path && strcmp(stdout_path, stderr_path) == 0) {
			if (dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
				_exit(127);
		} else if (redirect(STDERR_FILENO, stderr_path) < 0) {
			_exit(127);
		}
		execvp(argv[0], argv);
		tool_error(TOOL_OK, errno, "cannot run %s", argv[0]);
		_exit(127);
	}
	return pid;
}

int wait_child(pid_t pid, int timeout_ms, int *status, struct rusage *usage)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX :
			    now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct rusage ru;
	int st = 0;

	for (;;) {
		pid_t r = wait4(pid, &st, timeout_ms < 0 ? 0 : WNOHANG, &ru);

		if (r == pid) {
			if (status)
				*status = st;
			if (usage)
				*usage = ru;
			return 1;
		}
		if (r < 0 && errno != EINTR) {
			/* not our child (any more): report it as gone */
			if (status)
				*status = 0x7f00; /* exit 127 */
			if (usage)
				memset(usage, 0, sizeof(*usage));
			return 1;
		}
		if (now_ns() >= deadline)
			return 0;
		if (r == 0)
			sleep_ms(5);
	}
}

void kill_child(pid_t pid, int grace_ms, int *status, struct rusage *usage)
{
	kill(pid, SIGTERM);
	if (wait_child(pid, grace_ms, status, usage))
		return;
	kill(pid, SIGKILL);
	wait_child(pid, -1, status, usage);
}

const char *error_code_name(enum dmapipe_error_code code, char *buf, size_t len)
{
	const char *name = dmapipe_error_code_to_string(code);

	if (strcmp(name, "unknown") != 0)
		return name;
	snprintf(buf, len, "unknown error %u", (unsigned int)code);
	return buf;
}

const char *describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by %s", strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status 0x%x", (unsigned int)status);
	return buf;
}

char *make_private_dir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/dmapipe-%s-XXXXXX", base, tag) < 0)
		return NULL;
	if (!mkdtemp(path)) {
		tool_error(TOOL_OK, errno, "cannot create a directory in %s", base);
		free(path);
		return NULL;
	}
	return path;
}

void remove_private_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d) {
		while ((e = readdir(d))) {
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		}
		closedir(d);
	}
	rmdir(dir);
}

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t len)
{
	static uint32_t table[256];

	if (!table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

int layout_crc32(const struct dmapipe_layout *layout, uint8_t *const planes[], uint32_t *crc)
{
	struct dmapipe_layout packed;
	uint32_t c = 0;

	if (layout->format.modifier != DMAPIPE_MOD_LINEAR ||
	    dmapipe_layout_init(&packed, &layout->format, 1) < 0 ||
	    packed.n_planes != layout->n_planes)
		return -ENOTSUP;
	for (unsigned int p = 0; p < layout->n_planes; p++) {
		uint64_t row = packed.planes[p].stride;
		uint64_t rows = dmapipe_layout_plane_size(&packed, p) / row;

		for (uint64_t y = 0; y < rows; y++)
			c = crc_update(c, planes[p] + y * layout->planes[p].stride, (size_t)row);
	}
	*crc = c;
	return 0;
}

int frame_crc32(struct dmapipe_buffer *buffer, uint32_t *crc)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(buffer);
	uint8_t *planes[DMAPIPE_MAX_PLANES] = { NULL };
	int ret;

	for (unsigned int p = 0; p < l->n_planes; p++) {
		planes[p] = dmapipe_buffer_map_plane(buffer, p);
		if (!planes[p])
			return -errno;
	}
	ret = dmapipe_buffer_begin_cpu_access(buffer, DMAPIPE_ACCESS_READ);
	if (ret < 0)
		return ret;
	ret = layout_crc32(l, planes, crc);
	dmapipe_buffer_end_cpu_access(buffer, DMAPIPE_ACCESS_READ);
	return ret;
}

char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *b = realloc(buf, cap + 65536);

			if (!b) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = b;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}
