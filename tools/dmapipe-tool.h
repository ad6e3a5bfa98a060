/* SPDX-License-Identifier: MIT */
/*
 * Shared parts of the dmapipe command: subcommand entry points, option
 * parsing helpers (dmapipe.c), the JSON writer (json.c), child processes
 * and small measurement helpers. dmapipe.c and json.c are the tool_common
 * library, which dmapipe-bench (bench/) links too.
 *
 * Exit status of every subcommand: 0 success, 1 failure at run time
 * (including failed verification), 2 bad command line.
 */
#ifndef DMAPIPE_TOOL_H
#define DMAPIPE_TOOL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <dmapipe/dmapipe.h>

#define EXIT_USAGE 2

/* ---- subcommands ------------------------------------------------------ */

int cmd_serve(int argc, char **argv);
int cmd_consume(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_play(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_pipewire(int argc, char **argv);
int cmd_rtsp(int argc, char **argv);
int cmd_srt(int argc, char **argv);
int cmd_display(int argc, char **argv);

/* ---- command line ------------------------------------------------------ */

/*
 * Prints "dmapipe CMD: message" and a hint to run --help to stderr and
 * exits with status 2.
 */
__attribute__((noreturn, format(printf, 2, 3)))
void usage_error(const char *cmd, const char *fmt, ...);

/*
 * Reports the getopt_long() error for the option just parsed (unknown
 * option, missing value) and exits 2. Call on '?' or ':' (the optstring
 * must start with ':').
 */
__attribute__((noreturn))
void usage_getopt_error(const char *cmd, int c, char **argv);

/* Exits 2 if arguments are left after the options. */
void usage_no_operands(const char *cmd, int argc, char **argv);

/*
 * Strict number parsers: decimal digits only (no sign, no spaces, no
 * suffix), range-checked. Return 0 or -EINVAL / -ERANGE.
 */
int parse_u64(const char *s, uint64_t *out);
int parse_u32(const char *s, uint32_t *out);

/* The parsers below print the problem and exit 2 on bad input. */
uint64_t opt_u64(const char *cmd, const char *opt, const char *s);
uint32_t opt_u32(const char *cmd, const char *opt, const char *s, uint32_t min, uint32_t max);
/*
 * A frame rate option: N, N/M or N.NNN into *@num / *@den (reduced), from
 * 0 (only if @allow_zero) to @max fps; exits with a usage error otherwise.
 */
void opt_fps(const char *cmd, const char *opt, const char *s, bool allow_zero, uint32_t max,
	     uint32_t *num, uint32_t *den);
/* "WxH" (also "4k", "1080p", "720p") */
void opt_size(const char *cmd, const char *s, uint32_t *width, uint32_t *height);
/* A supported fourcc name ("NV12", "XRGB8888", "XR24") */
uint32_t opt_format(const char *cmd, const char *s);
/* "latest", "queue:N", "block:N" */
void opt_policy(const char *cmd, const char *s, enum dmapipe_policy *policy, uint32_t *depth);
/* "same-uid", "any", "uid:N", "gid:N" */
void opt_peer(const char *cmd, const char *s, enum dmapipe_peer_policy *policy,
	      uid_t *uid, gid_t *gid);

/*
 * An ERROR code's name for messages: dmapipe_error_code_to_string()'s,
 * or "unknown error N" in @buf for a code this library does not know (a
 * newer peer's, docs/PROTOCOL.md section 7).
 */
const char *error_code_name(enum dmapipe_error_code code, char *buf, size_t len);

/* How consume and record --check check a frame against the test pattern. */
enum verify_mode {
	VERIFY_NONE,
	VERIFY_STAMP, /* the stamp names the frame (docs/PATTERN.md) */
	VERIFY_FULL,  /* every pixel */
	VERIFY_AUTO,  /* every pixel of frames flagged DMAPIPE_FRAME_PATTERN, no other */
};
/* "none", "stamp", "full", "auto", by enum verify_mode */
extern const char *const verify_names[4];
/* "auto", "full", "stamp" or "none" */
enum verify_mode opt_verify(const char *cmd, const char *s);
/* The check a frame with @frame_flags gets under @mode: NONE, STAMP or FULL. */
static inline enum verify_mode verify_frame_mode(enum verify_mode mode, uint32_t frame_flags)
{
	if (mode != VERIFY_AUTO)
		return mode;
	return frame_flags & DMAPIPE_FRAME_PATTERN ? VERIFY_FULL : VERIFY_NONE;
}

/* ---- signals ------------------------------------------------------------ */

/* Set by SIGINT / SIGTERM once install_stop_signals() was called. */
extern volatile sig_atomic_t stop_requested;
/* Installs handlers for SIGINT and SIGTERM that set stop_requested
 * (without SA_RESTART, so sleeps and polls return early). Ignores SIGPIPE. */
void install_stop_signals(void);

/*
 * dmapipe_client_new(@opts) for the socket opts->path, retried every 20 ms
 * while nobody listens there yet (ENOENT, ECONNREFUSED), for up to
 * @timeout_ms (0: until stopped). NULL after printing "dmapipe CMD: cannot
 * connect to PATH: reason".
 */
struct dmapipe_client *connect_client_wait(const char *cmd,
					   const struct dmapipe_client_options *opts,
					   uint32_t timeout_ms);

/* ---- time and measurement ---------------------------------------------- */

uint64_t now_ns(void); /* CLOCK_MONOTONIC */
void sleep_ms(unsigned int ms);
uint64_t timeval_ns(const struct timeval *tv);
/* user and system CPU of this process so far (getrusage) */
void self_cpu_ns(uint64_t *user_ns, uint64_t *sys_ns);
/* all CPU of this process so far, nanosecond-precise (CLOCK_PROCESS_CPUTIME_ID) */
uint64_t self_cpu_total_ns(void);

/* A growable list of nanosecond samples with percentiles. */
struct samples {
	uint64_t *v;
	size_t n, cap;
	bool sorted;
};
void samples_add(struct samples *s, uint64_t value);
/* @pct in [0, 100]: nearest-rank percentile; 0 when empty. */
uint64_t samples_percentile(struct samples *s, double pct);
uint64_t samples_max(struct samples *s);
void samples_free(struct samples *s);

/* ---- child processes ---------------------------------------------------- */

/* The path of this program (/proc/self/exe resolved), for re-executing it. */
const char *self_exe(void);

/*
 * Replaces this process with the helper program @name (dmapipe-bench,
 * dmapipe-net), found in this order: $@env_var (exactly that, or nothing),
 * <dir of this program>/@built_rel (where the build tree has it),
 * @libexecdir/@name (where meson installs it). argv[0] becomes the
 * helper's path, the other arguments pass unchanged, and DMAPIPE_TOOL is
 * set to this program. Returns only on failure: 1, after printing
 * "dmapipe CMD: ..." with @hint (how to get the helper built).
 */
int exec_helper(const char *cmd, const char *name, const char *env_var,
		const char *built_rel, const char *libexecdir, const char *hint, char **argv);

/*
 * Starts argv[0] (searched in PATH) with stdout and stderr redirected to
 * the given files (NULL: inherit; "/dev/null" works). Returns the pid or -1
 * with a message printed.
 */
pid_t spawn(char *const argv[], const char *stdout_path, const char *stderr_path);

/*
 * Waits up to @timeout_ms (-1: forever) for @pid. Returns 1 with *status
 * and *usage filled when it ended, 0 on timeout (the child still runs).
 */
int wait_child(pid_t pid, int timeout_ms, int *status, struct rusage *usage);

/* SIGTERM, then SIGKILL after @grace_ms; reaps the child. */
void kill_child(pid_t pid, int grace_ms, int *status, struct rusage *usage);

/* Describes a wait status: "exit 0", "exit 1", "killed by SIGKILL". */
const char *describe_status(int status, char *buf, size_t len);

/* A fresh private directory under ${TMPDIR:-/tmp}; malloc'ed path or NULL. */
char *make_private_dir(const char *tag);
/* Removes the files in @dir (one level) and @dir itself. */
void remove_private_dir(const char *dir);

/* Reads a whole file into a malloc'ed, NUL-terminated string, or NULL. */
char *read_file(const char *path);

/*
 * CRC-32 (the zlib/IEEE one, as Python's zlib.crc32) of a frame's visible
 * bytes: each plane's rows without stride padding, planes in layout order
 * -- exactly a raw export's frame. Reads the mapping (no copy); for
 * comparing frames whose content is not the test pattern. 0 or -errno.
 */
int frame_crc32(struct dmapipe_buffer *buffer, uint32_t *crc);
/* The same over frame memory laid out as @layout (planes at @planes). */
int layout_crc32(const struct dmapipe_layout *layout, uint8_t *const planes[], uint32_t *crc);

/* ---- JSON (json.c) --------------------------------------------------------- */

/*
 * A streaming JSON writer: objects and arrays nest, keys are ignored inside
 * arrays and at the top level. Strings are escaped (quotes, backslash,
 * control characters as \uXXXX) and invalid UTF-8 becomes U+FFFD, so the
 * output always parses. Non-finite doubles are written as null.
 */
#define JSON_MAX_DEPTH 16

struct json {
	FILE *out;
	bool compact; /* one line per document (JSON Lines), set after json_init() */
	int depth;
	bool first[JSON_MAX_DEPTH];
	bool in_array[JSON_MAX_DEPTH];
};

void json_init(struct json *j, FILE *out);
void json_begin_object(struct json *j, const char *key);
void json_end_object(struct json *j);
void json_begin_array(struct json *j, const char *key);
void json_end_array(struct json *j);
void json_string(struct json *j, const char *key, const char *value); /* NULL: null */
void json_u64(struct json *j, const char *key, uint64_t value);
void json_i64(struct json *j, const char *key, int64_t value);
void json_double(struct json *j, const char *key, double value);
void json_bool(struct json *j, const char *key, bool value);
void json_null(struct json *j, const char *key);
/* Ends the document with a newline and flushes. */
void json_finish(struct json *j);

/* Writes @s as a JSON string literal (with quotes). */
void json_write_escaped(FILE *out, const char *s);

/*
 * Looks up "key": value in JSON text this program wrote (keys of interest
 * are unique in those documents). Return 0 or -ENOENT.
 */
int json_lookup_u64(const char *text, const char *key, uint64_t *value);
int json_lookup_double(const char *text, const char *key, double *value);
/* Copies the string value (unescaped for the simple escapes) into @buf. */
int json_lookup_string(const char *text, const char *key, char *buf, size_t len);

#endif /* DMAPIPE_TOOL_H */
